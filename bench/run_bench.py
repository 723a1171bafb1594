#!/usr/bin/python3
"""make bench: the P4P fork against stock opentracker, side by side.

Runs inside a private network namespace (created here, deleted on exit) so
the host is untouched: 127.0.0.0/8 is local there as everywhere, and
fd00:1::/64 is routed to lo (AnyIP) for the IPv6 peers.  The tracker is
pinned to core 0 and p4p-loadgen to core 1.

For every swarm shape and every round, the variants run back to back in a
fixed order (stock, fork P4P off, fork default matrix, fork per-swarm
guidance: A B C D A B C D ...), each in a fresh tracker:
  warm-up IPv4 (UDP announce of every peer, event=started) + timed UDP IPv4,
  warm-up IPv6 + timed UDP IPv6, memory snapshot, timed HTTP IPv4, HTTP IPv6.
Ratios are taken within a round (fork / the stock run just before it), and
the median over rounds is reported with its range.  The stock runs of the
rounds among themselves show the noise (A/A).

Writes OUT/summary.json, OUT/runs.jsonl (every raw loadgen result) and the
document DOC (docs/BENCHMARKS.md).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "harness"))
from procs import Tracker, p4p_stats, wait_for  # noqa: E402
NETNS_ENV = "P4P_BENCH_IN_NETNS"

SHAPES = [(1000, 300), (20, 5000), (1, 100000)]
VARIANTS = ["stock", "fork-off", "fork-default", "fork-swarms"]
VARIANT_TEXT = {
    "stock": "stock opentracker",
    "fork-off": "fork, P4P disabled",
    "fork-default": "fork, P4P, default matrix for every swarm",
    "fork-swarms": "fork, P4P, default matrix + per-swarm guidance for the heaviest swarms",
}
PHASES = [("udp", 4), ("udp", 6), ("http", 4), ("http", 6)]
TRACKER_CORE, LOADGEN_CORE = "0", "1"
# On a shared machine (other builds running) the tracker and the generator
# get a larger CPU share: about 90% against a competitor on the same core.
# With autogroup scheduling (Debian's default) nice only counts inside a
# session, so each measured process gets a session of its own whose
# autogroup is set to nice -10.  Only root may raise priority.
if os.geteuid() == 0:
    PRIORITY = ["sh", "-c", 'echo -10 > /proc/$$/autogroup 2>/dev/null; exec "$@"', "sh", "nice", "-n", "-10"]
else:
    PRIORITY = []


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# --- namespace --------------------------------------------------------------

def run_in_netns(argv):
    """Re-run this script inside a fresh network namespace; delete it after."""
    ns = "p4pbench%d" % os.getpid()
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        log("cannot create a network namespace (%s); need root and iproute2" % e)
        return 1
    rc = 1
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", ns, "-6", "route", "add", "local", "fd00:1::/64", "dev", "lo"], check=True)
        env = dict(os.environ, **{NETNS_ENV: ns})
        child = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable] + argv, env=env)
        try:
            rc = child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            rc = child.wait()
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    return rc


# --- tracker ----------------------------------------------------------------

def start_tracker(binary, port, workdir, config_lines=()):
    """One tracker process, pinned, unprivileged (as nobody when we are root:
    like an operator would run it), on its own port.  Never root, so -d only
    changes its directory (as root it would chroot there, away from the P4P
    files it reads later)."""
    prefix = PRIORITY + ["taskset", "-c", TRACKER_CORE]
    if os.geteuid() == 0:
        prefix += ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    return Tracker(binary, config_lines, workdir, port=port, listen=(), listen_by="argv", args=["-d", workdir],
                   prefix=prefix, own_session=True)


def loadgen(build, args, pid):
    cmd = PRIORITY + ["taskset", "-c", LOADGEN_CORE, os.path.join(build, "p4p-loadgen"), "--watch-pid", str(pid)] + args
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300,
                         start_new_session=True)
    if out.returncode:
        raise RuntimeError("p4p-loadgen %s: %s" % (" ".join(args), out.stderr.strip()))
    return json.loads(out.stdout)


# --- one run ------------------------------------------------------------------

def write_configs(p4pdir, swarm_hashes):
    """P4P files for the fork; returns {process: config lines}.
    The P4P process starts on the default matrix (guidance.xml) and is then
    switched to per-swarm guidance by replacing that file and sending SIGHUP."""
    gen = [sys.executable, os.path.join(HERE, "gen_p4p_files.py"), "--out", p4pdir]
    if swarm_hashes:
        gen += ["--swarm-hash"] + swarm_hashes
    subprocess.run(gen, check=True)
    shutil.copyfile(os.path.join(p4pdir, "guidance-default.xml"), os.path.join(p4pdir, "guidance.xml"))
    for name in os.listdir(p4pdir):
        os.chmod(os.path.join(p4pdir, name), 0o644)
    os.chmod(p4pdir, 0o755)
    return {
        "fork-off": ["p4p.enable no"],
        "fork-p4p": ["p4p.enable yes", "p4p.random_fraction 0.2",
                     "p4p.pidmap %s/pidmap.xml" % p4pdir, "p4p.guidance %s/guidance.xml" % p4pdir],
    }


def fetch_p4p_stats(port):
    """The fork's /stats?mode=p4p, {} when it does not answer."""
    try:
        return p4p_stats(port)
    except (OSError, RuntimeError, ValueError):
        return {}


def switch_guidance(tr, p4pdir):
    """Swap in per-swarm guidance and wait until the tracker serves it."""
    tmp = os.path.join(p4pdir, "guidance.xml.tmp")
    shutil.copyfile(os.path.join(p4pdir, "guidance-swarms.xml"), tmp)
    os.chmod(tmp, 0o644)
    os.rename(tmp, os.path.join(p4pdir, "guidance.xml"))
    tr.sighup()
    if not wait_for(lambda: fetch_p4p_stats(tr.port).get("guidance version") == "per-swarm"):
        raise RuntimeError("the fork did not load the per-swarm guidance after SIGHUP")


def run_process(a, binary, config, shape, variants, rnd, port, workdir, p4pdir):
    """One tracker process measured as one or more variants in turn; returns
    one result per variant.  Only the first variant warms up (the others
    reuse the full swarms and the saved UDP connection ids)."""
    swarms, peers = shape
    common = ["--swarms", str(swarms), "--peers", str(peers), "--port", str(port),
              "--numwant", str(a.numwant), "--seeders", str(a.seeders), "--zipf", str(a.zipf),
              "--seed", str(1000 * rnd + 7)]
    tr = start_tracker(binary, port, workdir, config)
    results = []
    try:
        idle_rss, idle_anon = tr.status_kb("VmRSS"), tr.status_kb("RssAnon")
        for k, variant in enumerate(variants):
            if k:
                switch_guidance(tr, p4pdir)
            result = {"shape": "%dx%d" % shape, "swarms": swarms, "peers_per_swarm": peers, "variant": variant,
                      "round": rnd, "binary": os.path.basename(binary), "phases": {},
                      "rss_idle_kb": idle_rss, "anon_idle_kb": idle_anon, "warm": k == 0}
            for proto, fam in PHASES:
                args = common + ["--proto", proto, "--family", str(fam), "--duration", str(a.duration),
                                 "--window", str(a.udp_window if proto == "udp" else a.http_window),
                                 "--label", "%s/%s/r%d" % (variant, result["shape"], rnd)]
                if proto == "udp":
                    args += ["--connids", os.path.join(workdir, "connids%d" % fam)]
                    if k == 0:
                        args.append("--warmup")
                try:
                    r = loadgen(a.build, args, tr.proc.pid)
                except RuntimeError as e:
                    rc = tr.proc.poll()
                    if rc is not None:  # say how the tracker ended: a signal number helps
                        raise RuntimeError("%s (tracker %s)" % (e, "killed by signal %d" % -rc if rc < 0 else
                                                                "exit status %d" % rc))
                    raise
                result["phases"]["%s%d" % (proto, fam)] = r
                if proto == "udp" and fam == 6:  # both families warmed up: the swarms are full
                    result["rss_full_kb"] = tr.status_kb("VmRSS")
                    result["anon_full_kb"] = tr.status_kb("RssAnon")
                if not tr.alive():
                    raise RuntimeError("tracker died during %s%d" % (proto, fam))
            result["rss_peak_kb"] = tr.status_kb("VmHWM")
            if config:
                result["p4p_stats"] = fetch_p4p_stats(port)
            results.append(result)
    finally:
        tr.stop()
    return results


# --- aggregation --------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else None


def aggregate(runs, shapes, variants):
    """Per shape x phase x variant: medians, and ratios against stock taken
    within each round."""
    table = []
    for shape in shapes:
        sname = "%dx%d" % shape
        for proto, fam in PHASES:
            key = "%s%d" % (proto, fam)
            row = {"shape": sname, "proto": proto, "family": fam, "variants": {}}
            by = {(r["variant"], r["round"]): r for r in runs if r["shape"] == sname}
            rounds = sorted({r["round"] for r in runs if r["shape"] == sname})
            for v in variants:
                rates, ratios, cpu_eff, busy, p50, p99, local, errs, lost = [], [], [], [], [], [], [], 0, 0
                for rnd in rounds:
                    r = by.get((v, rnd))
                    s = by.get(("stock", rnd))
                    if not r or key not in r["phases"]:
                        continue
                    t = r["phases"][key]["timed"]
                    rates.append(t["announces_per_s"])
                    if t["tracker_cpu_s"] > 0:
                        cpu_eff.append(t["announces"] / t["tracker_cpu_s"])
                        busy.append(t["tracker_cpu_s"] / t["seconds"])
                    p50.append(t["latency_us"]["p50"])
                    p99.append(t["latency_us"]["p99"])
                    local.append(t["same_region_share"])
                    w = r["phases"][key]["warmup"]
                    errs += t["errors"] + (w["errors"] if w else 0)
                    lost += t["lost"] + (w["lost"] if w else 0)
                    if s and key in s["phases"] and s["phases"][key]["timed"]["announces_per_s"] > 0:
                        ratios.append(t["announces_per_s"] / s["phases"][key]["timed"]["announces_per_s"])
                row["variants"][v] = {
                    "announces_per_s": med(rates), "announces_per_s_all": rates,
                    "ratio": med(ratios), "ratio_min": min(ratios) if ratios else None,
                    "ratio_max": max(ratios) if ratios else None, "ratios": ratios,
                    "announces_per_tracker_cpu_s": med(cpu_eff), "tracker_busy": med(busy),
                    "latency_p50_us": med(p50), "latency_p99_us": med(p99),
                    "same_region_share": med(local), "errors": errs, "lost": lost}
            table.append(row)
    mem = []
    for shape in shapes:
        sname = "%dx%d" % shape
        row = {"shape": sname, "variants": {}}
        for v in variants:
            rs = [r for r in runs if r["shape"] == sname and r["variant"] == v]
            if not rs:
                continue
            npeers = 2 * rs[0]["swarms"] * rs[0]["peers_per_swarm"]  # both families
            peak = med([r["rss_peak_kb"] for r in rs])
            idle = med([r["rss_idle_kb"] for r in rs])
            full = med([r["rss_full_kb"] for r in rs])
            anon_idle = med([r["anon_idle_kb"] for r in rs])
            anon_full = med([r["anon_full_kb"] for r in rs])
            row["variants"][v] = {"rss_idle_kb": idle, "rss_full_kb": full, "rss_peak_kb": peak,
                                  "anon_idle_kb": anon_idle, "anon_full_kb": anon_full,
                                  "bytes_per_peer": (anon_full - anon_idle) * 1024.0 / npeers,
                                  "anon_full_bytes_per_peer": anon_full * 1024.0 / npeers, "peers": npeers}
        st = row["variants"].get("stock")
        for v, m in row["variants"].items():
            if st:
                m["peak_ratio"] = m["rss_peak_kb"] / st["rss_peak_kb"]
                m["anon_ratio"] = m["anon_full_kb"] / st["anon_full_kb"]
                m["per_peer_ratio"] = m["bytes_per_peer"] / st["bytes_per_peer"] if st["bytes_per_peer"] > 0 else None
        mem.append(row)
    return table, mem


def stock_noise(runs, shapes):
    """A/A: spread of the stock runs across rounds, (max - min) / median."""
    out = []
    for shape in shapes:
        sname = "%dx%d" % shape
        for proto, fam in PHASES:
            key = "%s%d" % (proto, fam)
            xs = [r["phases"][key]["timed"]["announces_per_s"] for r in runs
                  if r["shape"] == sname and r["variant"] == "stock" and key in r["phases"]]
            if len(xs) >= 2:
                out.append({"shape": sname, "phase": key, "spread": (max(xs) - min(xs)) / statistics.median(xs)})
    return out


# --- extra programs -------------------------------------------------------------

def run_selbench(build, repeats=3):
    """Selector cost per call against swarm size (bench/selbench.c, the lead's):
    p4p-selbench-stock and p4p-selbench alternately, median ns per call."""
    progs = [os.path.join(build, "p4p-selbench-stock"), os.path.join(build, "p4p-selbench")]
    if not all(os.access(x, os.X_OK) for x in progs):
        return {"present": False}
    ns = {}
    text = []
    for _ in range(repeats):
        for prog in progs:
            try:
                out = subprocess.run(PRIORITY + ["taskset", "-c", TRACKER_CORE, prog, "bench"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, timeout=60, start_new_session=True)
            except subprocess.TimeoutExpired:
                return {"present": True, "error": "%s timed out" % prog}
            if out.returncode:
                why = "killed by signal %d" % -out.returncode if out.returncode < 0 else "exit %d" % out.returncode
                return {"present": True, "error": "%s: %s %s" % (os.path.basename(prog), why, out.stderr.strip()[-300:])}
            for line in out.stdout.splitlines():
                f = line.split()
                if len(f) == 4:
                    ns.setdefault((f[1], int(f[2])), []).append(float(f[3]))
            text.append(out.stdout)
    rows = []
    for size in sorted({k[1] for k in ns}):
        row = {"swarm_size": size}
        for mode in sorted({k[0] for k in ns}):
            if (mode, size) in ns:
                row[mode] = med(ns[(mode, size)])
        if row.get("stock"):
            for mode in list(row):
                if mode not in ("swarm_size", "stock"):
                    row[mode + "_ratio"] = row[mode] / row["stock"]
        rows.append(row)
    return {"present": True, "repeats": repeats, "ns_per_call": rows}


def optbench_data_dir():
    """The Abilene/AttMpls CSVs p4p-optbench reads: P4P_OPTBENCH_DATA, or the
    first candidate directory that has them."""
    cands = [os.environ.get("P4P_OPTBENCH_DATA", ""), os.path.join(TOP, "data"), os.path.join(TOP, "sim", "data"),
             os.path.join(TOP, "tests", "data"), os.path.join(TOP, "tests", "data", "topologies"),
             os.path.join(os.path.dirname(TOP), "shared", "data")]
    for d in cands:
        if d and os.path.exists(os.path.join(d, "abilene11_links.csv")):
            return d
    return None


def run_optbench(build, out_dir, timeout=120):
    """Optimizer solve time against topology and number of swarms
    (bench/optbench.c, the optimizer engineer's)."""
    prog = os.path.join(build, "p4p-optbench")
    if not os.access(prog, os.X_OK):
        return {"present": False}
    data = optbench_data_dir()
    if not data:
        return {"present": True, "error": "no directory with abilene11_links.csv (set P4P_OPTBENCH_DATA)"}
    jpath = os.path.join(out_dir, "optbench.json")
    t0 = time.time()
    try:
        out = subprocess.run(PRIORITY + ["taskset", "-c", TRACKER_CORE, prog, data, "--json", jpath], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        return {"present": True, "error": "timed out after %ds" % timeout}
    res = {"present": True, "data": data, "seconds": round(time.time() - t0, 1), "text": out.stdout}
    if out.returncode:
        res["error"] = out.stderr.strip()[-500:]
    try:
        with open(jpath) as f:
            res["json"] = json.load(f)
    except (OSError, ValueError):
        pass
    return res


# --- report ---------------------------------------------------------------------

def fmt_rate(x):
    return "-" if x is None else "{:,.0f}".format(x)


def fmt_ratio(v):
    if not v or v.get("ratio") is None:
        return "-"
    return "%.3f (%.3f-%.3f)" % (v["ratio"], v["ratio_min"], v["ratio_max"])


def machine_info():
    info = {"kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cores"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            info["mem_gb"] = round(int(f.readline().split()[1]) / 1048576, 1)
    except OSError:
        pass
    cc = subprocess.run(["cc", "--version"], stdout=subprocess.PIPE, text=True)
    info["cc"] = cc.stdout.splitlines()[0] if cc.stdout else "?"
    with open("/proc/loadavg") as f:
        info["loadavg_at_start"] = f.read().split()[:3]
    try:
        with open(os.path.join(TOP, "opentracker", "PIN")) as f:
            for line in f:
                if line.startswith("version="):
                    info["opentracker"] = line.strip().split("=", 1)[1]
    except OSError:
        pass
    return info


def targets(table, mem, variants):
    out = []
    for row in table:
        for v in variants:
            if v in ("stock", "fork-off"):
                continue
            r = row["variants"].get(v, {}).get("ratio")
            if r is not None:
                out.append({"what": "%s %s IPv%d %s" % (row["shape"], row["proto"].upper(), row["family"], v),
                            "ratio": r, "target": ">= 0.95", "met": r >= 0.95})
    for row in mem:
        for v in variants:
            m = row["variants"].get(v)
            if v != "stock" and m and m.get("per_peer_ratio") is not None:
                out.append({"what": "%s heap bytes per peer %s" % (row["shape"], v), "ratio": m["per_peer_ratio"],
                            "target": "<= 1.15", "met": m["per_peer_ratio"] <= 1.15})
    return out


def write_doc(path, s):
    a = s["params"]
    L = []
    L.append("# Benchmarks: the P4P fork against stock opentracker\n")
    L.append("Generated by `make bench` (bench/run_bench.py) on %s; do not edit by hand: the "
             "hand-written part lives in `bench/notes.md` and is copied in at the end.\n" % s["finished"])
    if s["budget_hit"]:
        L.append("**The machine was too slow (busy) for the time budget: rounds completed per shape: %s.**\n" %
                 ", ".join("%s: %d" % kv for kv in s["rounds_done"].items()))
    for f in s["failures"]:
        L.append("**Failed run: %s %s round %d: %s**\n" % (f["shape"], f["process"], f["round"], f["error"]))
    if s["aa_only"]:
        L.append("**The fork did not build when this was run: every \"fork\" column is stock opentracker again, "
                 "so the ratios below are an A/A measurement of the noise, not a comparison.**\n")
    L.append("## Method\n")
    L.append("- Trackers: `build/opentracker-stock` (upstream %s, no patches) and `build/opentracker-p4p` "
             "(same tarball + `patches/` + libp4p), same compiler flags and features "
             "(`opentracker/upstream.mk`). Each run starts a fresh tracker as user nobody, pinned to core %s; "
             "the load generator `build/p4p-loadgen` is pinned to core %s; both run at nice -10, each in a session (autogroup) of its own, so that other work on the machine disturbs them less. Everything runs in a private network "
             "namespace (loopback only); IPv6 peers live in fd00:1::/64, routed to lo." %
             (s["machine"].get("opentracker", "?"), TRACKER_CORE, LOADGEN_CORE))
    L.append("- Workload (after the aquatic load test): swarms x peers per swarm as in each table; every peer has "
             "its own address (127.0.0.0/8 or fd00:1::/64), %d%% seeders, numwant %d, requests pick a swarm with "
             "probability ~ 1/(rank+1)^%.1f (a heavy head) and then one of its peers uniformly; one scrape per "
             "100 announces. A warm-up announces every peer once (event=started) over UDP, IPv4 then IPv6, so "
             "swarms are full (both families) before the timed runs." % (round(100 * a["seeders"]), a["numwant"], a["zipf"]))
    L.append("- Timed runs: %.1f s each, closed loop with %d UDP requests or %d HTTP connections in flight; UDP "
             "does BEP 15 connect once per peer (warm-up) and then announce/scrape; HTTP opens one connection per "
             "request from the peer's address and reads until the tracker closes it. Lost = no answer within 1 s." %
             (a["duration"], a["udp_window"], a["http_window"]))
    L.append("- Order: %d rounds, each going over all shapes; per shape and round: stock -> fork with P4P off -> "
             "fork with P4P, each a fresh tracker. The P4P tracker is measured on the default matrix, then its guidance file is replaced by the "
             "per-swarm one and it is sent SIGHUP; once `/stats?mode=p4p` shows the new guidance it is measured "
             "again (same swarms, no second warm-up). A ratio is fork / stock within the same round; tables give "
             "the median over rounds and (min-max)." % a["rounds"])
    L.append("- P4P files: `bench/gen_p4p_files.py`: 16 PIDs (12 own AS, 4 neighbour) partitioning 127.0.0.0/8 and "
             "fd00:1::/64, a default ring-distance matrix, and per-swarm matrices for the %s most popular swarms "
             "(`p4p.random_fraction 0.2`).\n" % a["heavy_swarms_desc"])
    m = s["machine"]
    L.append("## Machine\n")
    L.append("%s, %s cores, %s GB RAM, Linux %s, %s. Load average at start: %s, at the end: %s. Other engineers were compiling "
             "on the same machine during development; the stock-vs-stock spread below says how much that "
             "moved the numbers.\n" % (m.get("cpu", "?"), m.get("cores"), m.get("mem_gb"), m["kernel"], m["cc"],
                                       " ".join(m["loadavg_at_start"]), " ".join(s["loadavg_at_end"])))
    L.append("## Announces per second, and ratio fork / stock\n")
    heads = {"fork-off": "P4P off", "fork-default": "P4P default matrix", "fork-swarms": "P4P per-swarm"}
    others = s["variants"][1:]
    L.append("| shape | proto | IP | stock ann/s | " + " | ".join(heads.get(v, v) for v in others) + " |")
    L.append("|---|---|---|---:|" + "---:|" * len(others))
    for row in s["throughput"]:
        v = row["variants"]
        L.append("| %s | %s | v%d | %s | %s |" % (
            row["shape"], row["proto"].upper(), row["family"], fmt_rate(v.get("stock", {}).get("announces_per_s")),
            " | ".join(fmt_ratio(v.get(o)) for o in others)))
    L.append("")
    L.append("The same ratios on announces per CPU-second of the tracker (what the tracker itself costs; "
             "this is the better measure where the tracker is not saturated, see \"tracker busy\" below):\n")
    L.append("| shape | proto | IP | stock ann/CPU-s | " + " | ".join(heads.get(v, v) for v in others) + " |")
    L.append("|---|---|---|---:|" + "---:|" * len(others))
    for row in s["throughput"]:
        v = row["variants"]
        base = v.get("stock", {}).get("announces_per_tracker_cpu_s")
        cells = []
        for o in others:
            x = v.get(o, {}).get("announces_per_tracker_cpu_s")
            cells.append("%.3f" % (x / base) if x and base else "-")
        L.append("| %s | %s | v%d | %s | %s |" % (row["shape"], row["proto"].upper(), row["family"], fmt_rate(base),
                                                 " | ".join(cells)))
    L.append("")
    L.append("## Targets\n")
    miss = [t for t in s["targets"] if not t["met"]]
    L.append("%d of %d checks met (UDP and HTTP announces/s >= 0.95 x stock with P4P on; tracker heap per peer <= 1.15 x stock)." %
             (len(s["targets"]) - len(miss), len(s["targets"])))
    for t in miss:
        L.append("- missed: %s: %.3f (target %s)" % (t["what"], t["ratio"], t["target"]))
    L.append("")
    L.append("## Tracker CPU, latency, locality\n")
    L.append("Announces per CPU-second of the tracker process (robust against an idle tracker), median "
             "latency / p99 in µs, and the share of returned peers in the requester's own PID "
             "(1/16 = 0.0625 for random selection).\n")
    L.append("| shape | phase | variant | ann/s | tracker busy | ann per tracker CPU-s | p50 µs | p99 µs | same-PID share | errors | lost |")
    L.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in s["throughput"]:
        for vname in s["variants"]:
            v = row["variants"].get(vname)
            if not v or v["announces_per_s"] is None:
                continue
            L.append("| %s | %s v%d | %s | %s | %s | %s | %s | %s | %.3f | %d | %d |" % (
                row["shape"], row["proto"].upper(), row["family"], vname, fmt_rate(v["announces_per_s"]),
                "-" if v["tracker_busy"] is None else "%.0f%%" % (100 * v["tracker_busy"]),
                fmt_rate(v["announces_per_tracker_cpu_s"]), v["latency_p50_us"], v["latency_p99_us"],
                v["same_region_share"] or 0, v["errors"], v["lost"]))
    L.append("")
    L.append("## Selection paths in the fork\n")
    L.append("From the fork's `/stats?mode=p4p` after each measurement (cumulative over the process, warm-up "
             "included; round 1): how many selections were guided by per-swarm guidance, by the default matrix, "
             "or fell back to stock selection.\n")
    L.append("| shape | variant | guided | default | stock | guidance version |")
    L.append("|---|---|---:|---:|---:|---|")
    for st in s["p4p_stats"]:
        L.append("| %s | %s | %s | %s | %s | %s |" % (st["shape"], st["variant"], st.get("selections guided", "-"),
                                                    st.get("selections default", "-"), st.get("selections stock", "-"),
                                                    st.get("guidance version", "-")))
    L.append("")
    L.append("## Memory\n")
    L.append("Tracker memory: RssAnon (its own heap and stacks) idle after start and with all swarms full (both "
             "families warmed up), bytes per peer = (full - idle) / peers, and peak RSS (VmHWM, which also counts "
             "the pages of shared libraries the process touched: libxml2 and its ICU dependency for the fork). "
             "The memory target is checked on heap bytes per peer, what grows with the swarms; the fixed difference "
             "(idle heap) is shown beside it.\n")
    L.append("| shape | variant | peers | heap idle MiB | heap full MiB | heap / stock | bytes/peer | per peer / stock | peak RSS MiB | peak / stock |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in s["memory"]:
        for vname in s["variants"]:
            mm = row["variants"].get(vname)
            if mm:
                L.append("| %s | %s | %d | %.1f | %.1f | %.3f | %.1f | %s | %.1f | %.3f |" % (
                    row["shape"], vname, mm["peers"], mm["anon_idle_kb"] / 1024, mm["anon_full_kb"] / 1024,
                    mm.get("anon_ratio", 1), mm["bytes_per_peer"],
                    "-" if mm.get("per_peer_ratio") is None else "%.3f" % mm["per_peer_ratio"],
                    mm["rss_peak_kb"] / 1024, mm.get("peak_ratio", 1)))
    L.append("")
    L.append("## Noise (A/A)\n")
    L.append("Spread of stock's own announces/s over the rounds, (max - min) / median:\n")
    L.append("| shape | phase | spread |")
    L.append("|---|---|---:|")
    for n in s["stock_noise"]:
        L.append("| %s | %s | %.3f |" % (n["shape"], n["phase"], n["spread"]))
    L.append("")
    L.append("## Selector cost per call against swarm size\n")
    x = s["selbench"]
    if not x.get("present"):
        L.append("Not measured: `build/p4p-selbench` (bench/selbench.c) was not built.\n")
    elif x.get("error"):
        L.append("p4p-selbench failed: %s\n" % x["error"])
    else:
        L.append("`p4p-selbench` (bench/selbench.c) times upstream's announce logic in process, no network: "
                 "add_peer_to_torrent_and_return_peers() for a re-announcing member of an IPv4 swarm, numwant 50, "
                 "16 PIDs. ns per call, median of %d alternating runs; ratio to stock in brackets.\n" % x["repeats"])
        modes = [m for m in ("stock", "fork-p4p-off", "fork-p4p-default") if any(m in r for r in x["ns_per_call"])]
        L.append("| swarm size | " + " | ".join(modes) + " |")
        L.append("|---:|" + "---:|" * len(modes))
        for r in x["ns_per_call"]:
            cells = []
            for m in modes:
                if m not in r:
                    cells.append("-")
                elif m == "stock":
                    cells.append("%.0f" % r[m])
                else:
                    cells.append("%.0f (%.2f)" % (r[m], r.get(m + "_ratio", 0)))
            L.append("| %d | %s |" % (r["swarm_size"], " | ".join(cells)))
        L.append("")
    L.append("## Optimizer solve time against topology and number of swarms\n")
    x = s["optbench"]
    if not x.get("present"):
        L.append("Not measured: `build/p4p-optbench` was not built.\n")
    else:
        if x.get("error"):
            L.append("p4p-optbench failed: %s\n" % x["error"])
        if x.get("text"):
            L.append("`p4p-optbench %s` (bench/optbench.c): fast solver against the exact LP (GLPK), seconds and "
                     "maximum link utilization; %.1f s in all.\n" % (os.path.relpath(x["data"], TOP) if x.get("data") else "", x["seconds"]))
            L.append("```\n%s```\n" % x["text"])
    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            L.append(f.read())
    with open(path, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")


def report_only(a, out, variants):
    """Aggregate an earlier run again (after a change to the report code)."""
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(out, "runs.jsonl")) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    shapes = [tuple(int(x) for x in sh.split("x")) for sh in summary["params"]["shapes"]]
    table, mem = aggregate(runs, shapes, variants)
    summary.update(throughput=table, memory=mem, stock_noise=stock_noise(runs, shapes),
                   targets=targets(table, mem, variants))
    summary.setdefault("failures", [])
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    if a.doc:
        write_doc(os.path.join(TOP, a.doc) if not os.path.isabs(a.doc) else a.doc, summary)
    return 0


# --- main ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description="fork against stock opentracker")
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default="build/bench")
    ap.add_argument("--doc", default="docs/BENCHMARKS.md")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--udp-window", type=int, default=64)
    ap.add_argument("--http-window", type=int, default=32)
    ap.add_argument("--numwant", type=int, default=50)
    ap.add_argument("--seeders", type=float, default=0.25)
    ap.add_argument("--zipf", type=float, default=1.0)
    ap.add_argument("--shapes", default=",".join("%dx%d" % s for s in SHAPES))
    ap.add_argument("--budget", type=float, default=480,
                    help="seconds after which no further round starts (make bench must end within 10 min)")
    ap.add_argument("--compare", default="",
                    help="instead of the P4P scenarios, compare build/opentracker-NAME for each NAME of this "
                         "comma-separated list against stock (names with p4p run with P4P on, default matrix)")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite summary.json and the document from OUT/runs.jsonl and OUT/summary.json")
    ap.add_argument("--quick", action="store_true", help="small shapes, one round: checks the harness")
    ap.add_argument("--no-netns", action="store_true", help="run in the current namespace (IPv6 needs fd00:1::/64 on lo)")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.duration, a.shapes = 1, 0.5, "100x300,4x2500,1x10000"
    if not a.no_netns and not os.environ.get(NETNS_ENV):
        return run_in_netns([os.path.abspath(__file__)] + sys.argv[1:])

    t_start = time.time()
    build, out = os.path.abspath(a.build), os.path.abspath(a.out)
    shapes = [tuple(int(x) for x in s.split("x")) for s in a.shapes.split(",")]
    variants = VARIANTS
    # tracker processes per round: the P4P one is measured on the default
    # matrix, then switched to per-swarm guidance (SIGHUP) without a new warm-up
    processes = [("stock", ["stock"]), ("fork-off", ["fork-off"]), ("fork-p4p", ["fork-default", "fork-swarms"])]
    stock = os.path.join(build, "opentracker-stock")
    fork = os.path.join(build, "opentracker-p4p")
    aa_only = not os.access(fork, os.X_OK)
    if aa_only:
        log("no %s: the fork variants run stock again (A/A)" % fork)
        fork = stock
        processes = [(v, [v]) for v in VARIANTS]
    binaries = {"stock": stock, "fork-off": fork, "fork-p4p": fork}
    if a.compare:
        names = [n for n in a.compare.split(",") if n and n != "stock"]
        variants = ["stock"] + names
        processes = [(v, [v]) for v in variants]
        for n in names:
            binaries[n] = os.path.join(build, "opentracker-" + n)
            if not os.access(binaries[n], os.X_OK):
                log("no %s" % binaries[n])
                return 1
    if a.report_only:
        return report_only(a, out, variants)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    os.chmod(out, 0o755)
    machine = machine_info()
    # Run private copies: another engineer's build may replace build/'s
    # binaries while the benchmark runs.
    bindir = os.path.join(out, "bin")
    os.makedirs(bindir)
    os.chmod(bindir, 0o755)
    for name, path in list(binaries.items()) + [("stock", stock)]:
        copy = os.path.join(bindir, os.path.basename(path))
        if not os.path.exists(copy):
            shutil.copy2(path, copy)
        binaries[name] = copy
    stock = binaries["stock"]

    runs = []
    port = 7000
    prepared = []
    for shape in shapes:
        swarms = shape[0]
        heavy = max(1, min(10, swarms // 4))
        hashes = subprocess.run([os.path.join(build, "p4p-loadgen"), "--swarms", str(swarms),
                                 "--list-swarms", str(heavy)], stdout=subprocess.PIPE, text=True,
                                check=True).stdout.split()
        sdir = os.path.join(out, "%dx%d" % shape)
        os.makedirs(sdir)
        os.chmod(sdir, 0o755)
        p4pdir = os.path.join(sdir, "p4p")
        prepared.append((shape, heavy, sdir, p4pdir, write_configs(p4pdir, hashes)))
    # Rounds go over all shapes before the next round starts, so that a slow
    # (busy) machine that hits the time budget still has every shape measured.
    rounds_done = {}
    budget_hit = False
    failures = []
    with open(os.path.join(out, "runs.jsonl"), "w") as raw:
        for rnd in range(1, a.rounds + 1):
            for shape, heavy, sdir, p4pdir, confs in prepared:
                elapsed = time.time() - t_start
                if rnd > 1 and elapsed > a.budget:
                    budget_hit = True
                    log("time budget of %d s used up (%.0f s): skipping round %d of %dx%d" % (a.budget, elapsed, rnd, *shape))
                    continue
                for proc in processes:
                    port += 1
                    binary = binaries.get(proc[0], stock)
                    if a.compare:
                        config = confs["fork-p4p"] if "p4p" in proc[0] else None
                    else:
                        config = None if (proc[0] == "stock" or aa_only) else confs[proc[0]]
                    wd = os.path.join(sdir, "%s-r%d" % (proc[0], rnd))
                    t0 = time.time()
                    try:
                        results = run_process(a, binary, config, shape, proc[1], rnd, port, wd, p4pdir)
                    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as e:
                        # one broken tracker run must not cost the whole report
                        log("%dx%d %s r%d failed: %s" % (shape[0], shape[1], proc[0], rnd, e))
                        failures.append({"shape": "%dx%d" % shape, "process": proc[0], "round": rnd, "error": str(e)})
                        continue
                    for r in results:
                        r["heavy_swarms"] = heavy
                        runs.append(r)
                        raw.write(json.dumps(r) + "\n")
                        raw.flush()
                        log("%-9s %-12s r%d: UDP4 %8.0f/s HTTP4 %7.0f/s" % (
                            "%dx%d" % shape, r["variant"], rnd, r["phases"]["udp4"]["timed"]["announces_per_s"],
                            r["phases"]["http4"]["timed"]["announces_per_s"]))
                    log("  (%s: %.1f s)" % (proc[0], time.time() - t0))
                rounds_done["%dx%d" % shape] = rnd

    log("selector and optimizer benchmarks")
    selbench = run_selbench(build)
    optbench = run_optbench(build, out)
    table, mem = aggregate(runs, shapes, variants)
    summary = {
        "finished": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.time() - t_start, 1),
        "aa_only": aa_only,
        "rounds_done": rounds_done,
        "budget_hit": budget_hit,
        "failures": failures,
        "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
        "machine": machine,
        "variants": variants,
        "params": {"rounds": a.rounds, "duration": a.duration, "udp_window": a.udp_window,
                   "http_window": a.http_window, "numwant": a.numwant, "seeders": a.seeders, "zipf": a.zipf,
                   "shapes": ["%dx%d" % s for s in shapes],
                   "heavy_swarms_desc": "min(10, swarms/4) (at least 1)"},
        "throughput": table,
        "memory": mem,
        "stock_noise": stock_noise(runs, shapes),
        "targets": targets(table, mem, variants),
        "p4p_stats": [dict(r["p4p_stats"], shape=r["shape"], variant=r["variant"]) for r in runs
                      if r.get("p4p_stats") and r["round"] == 1],
        "selbench": {k: v for k, v in selbench.items()},
        "optbench": {k: v for k, v in optbench.items()},
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    if a.doc:
        write_doc(os.path.join(TOP, a.doc) if not os.path.isabs(a.doc) else a.doc, summary)
    log("done in %.0f s: %s/summary.json%s" % (time.time() - t_start, out, ", " + a.doc if a.doc else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
