#!/usr/bin/python3
"""make bench: the P4P fork against stock opentracker, one change at a time.

Runs inside a private network namespace (created here, deleted on exit) so
the host is untouched: 127.0.0.0/8 is local there as everywhere, and
fd00:1::/64 is routed to lo (AnyIP) for the IPv6 peers.

Trackers (opentracker/upstream.mk), all built with the same flags:
  stock               upstream as released
  stock-batch         upstream + the optional UDP batching patch
  fork                upstream + patches/ (the fork), P4P off or on
  fork-batch          the fork + the optional UDP batching patch
Variants measured (each ratio below isolates one change):
  stock, stock-batch, fork-off (p4p.enable no), fork-default (P4P, default
  matrix), fork-swarms (the same process after a SIGHUP to per-swarm
  guidance), fork-off-batch, fork-default-batch.

For every shape and round the tracker processes run back to back in a fixed
order, each fresh: warm-up IPv4 (UDP announce of every peer, event=started)
+ timed UDP IPv4, warm-up IPv6 + timed UDP IPv6, memory snapshot, timed HTTP
IPv4, HTTP IPv6 (batching processes: UDP only; it does not touch HTTP).
Ratios are taken within a round (a variant / its baseline in the same
round), the median over rounds is reported with its range, and beside it
the spread of stock's own runs over the rounds (A/A noise).

Shapes: "SxP" (S swarms of P peers); "SxP:w2" the same with upstream's
listen.udp.workers 2, tracker and generator on both cores, UDP only, rates
also per core (per tracker CPU-second); "SxP:big" (opt-in, --big) IPv4 UDP
only, one round, for scale.  The in-process probe (p4p-selbench scale)
measures heap and announce cost at 10M peers in every run.

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
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "harness"))
from procs import Tracker, p4p_stats, wait_for  # noqa: E402
NETNS_ENV = "P4P_BENCH_IN_NETNS"

SHAPES = "1000x300,20x5000,1x100000,20x5000:w2"
BIG_SHAPE = "1000x10000:big"
PHASES = [("udp", 4), ("udp", 6), ("http", 4), ("http", 6)]
# Cores: the tracker has core 0.  With 4 cores or more every generator has a
# core of its own (HTTP: one process per core left, at most 3); on 2 cores
# the second HTTP generator shares the tracker's core at normal priority
# (the tracker, at nice -10, keeps ~90% of it when it wants it).  The
# multi-worker shape's tracker gets cores 0 and 1, its generator the rest
# (on 2 cores: both, shared).
NCPU = os.cpu_count() or 2
TRACKER_CORE, LOADGEN_CORE = "0", "1"
ALL_CORES = "0-%d" % (NCPU - 1)
if NCPU >= 4:
    HTTP_GENERATORS = [(str(c), True) for c in range(1, min(NCPU, 4))]
    MW_TRACKER_CORES, MW_LOADGEN_CORES = "0,1", "2-%d" % (NCPU - 1)
else:
    HTTP_GENERATORS = [(LOADGEN_CORE, True), (TRACKER_CORE, False)]
    MW_TRACKER_CORES, MW_LOADGEN_CORES = ALL_CORES, ALL_CORES

VARIANTS = ["stock", "fork-off", "fork-default", "fork-swarms", "stock-batch", "fork-off-batch", "fork-default-batch"]
VARIANT_TEXT = {
    "stock": "stock opentracker (upstream as released)",
    "fork-off": "fork, P4P disabled (p4p.enable no)",
    "fork-default": "fork, P4P, default matrix for every swarm",
    "fork-swarms": "fork, P4P, default matrix + per-swarm guidance for the heaviest swarms (after a SIGHUP reload)",
    "stock-batch": "stock + the optional UDP batching patch",
    "fork-off-batch": "fork + batching, P4P disabled",
    "fork-default-batch": "fork + batching, P4P, default matrix",
}
# (variant, baseline, column head): each ratio isolates one change
RATIOS = [
    ("fork-off", "stock", "fork P4P off / stock"),
    ("fork-default", "fork-off", "P4P on / P4P off"),
    ("fork-default", "stock", "P4P default / stock"),
    ("fork-swarms", "stock", "P4P per-swarm / stock"),
    ("stock-batch", "stock", "stock+batch / stock"),
    ("fork-off-batch", "stock-batch", "fork off+batch / stock+batch"),
    ("fork-default-batch", "stock-batch", "P4P+batch / stock+batch"),
]
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


# --- shapes ------------------------------------------------------------------

def parse_shape(text):
    """'SxP', 'SxP:w2' or 'SxP:big' -> dict."""
    dims, _, kind = text.partition(":")
    swarms, peers = (int(x) for x in dims.split("x"))
    shape = {"name": dims, "swarms": swarms, "peers": peers, "workers": 0, "big": False, "phases": PHASES}
    if kind.startswith("w"):
        shape["workers"] = int(kind[1:])
        shape["name"] = "%s w%d" % (dims, shape["workers"])
        shape["phases"] = [("udp", 4), ("udp", 6)]
    elif kind == "big":
        shape["big"] = True
        shape["name"] = "%s (%.0fM)" % (dims, swarms * peers / 1e6)
        shape["phases"] = [("udp", 4)]
    elif kind:
        raise ValueError("shape %s: unknown kind %s" % (text, kind))
    return shape


def processes_for(shape):
    """Tracker processes of one round: (name, binary key, config kind,
    variants measured in turn, phases)."""
    udp = [p for p in shape["phases"] if p[0] == "udp"]
    if shape["big"]:
        return [("stock", "stock", None, ["stock"], udp), ("fork-off", "fork", "off", ["fork-off"], udp),
                ("fork-p4p", "fork", "p4p", ["fork-default"], udp)]
    procs = [("stock", "stock", None, ["stock"], shape["phases"]),
             ("fork-off", "fork", "off", ["fork-off"], shape["phases"])]
    if shape["workers"]:
        procs.append(("fork-p4p", "fork", "p4p", ["fork-default"], shape["phases"]))
    else:
        procs.append(("fork-p4p", "fork", "p4p", ["fork-default", "fork-swarms"], shape["phases"]))
    procs.append(("stock-batch", "stock-batch", None, ["stock-batch"], udp))
    if not shape["workers"]:
        procs.append(("fork-off-batch", "fork-batch", "off", ["fork-off-batch"], udp))
    procs.append(("fork-p4p-batch", "fork-batch", "p4p", ["fork-default-batch"], udp))
    return procs


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

def start_tracker(binary, port, workdir, config=None, cores=TRACKER_CORE):
    """One tracker process, pinned to cores, unprivileged (as nobody when we
    are root: like an operator would run it), on its own port.  Never root,
    so -d only changes its directory (as root it would chroot there, away
    from the P4P files it reads later).  The config file comes first:
    listen.udp.workers must be known before -P binds."""
    prefix = PRIORITY + ["taskset", "-c", cores]
    if os.geteuid() == 0:
        prefix += ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    args = (["-f", config] if config else []) + ["-p", str(port), "-P", str(port), "-d", workdir]
    return Tracker(binary, (), workdir, port=port, listen=(), listen_by="config", args=args, prefix=prefix,
                   own_session=True)


def loadgen_cmd(build, args, pid, cores, boost=True):
    return (PRIORITY if boost else []) + ["taskset", "-c", cores, os.path.join(build, "p4p-loadgen"),
                                          "--watch-pid", str(pid)] + args


def loadgen(build, args, pid, cores=LOADGEN_CORE, timeout=300):
    out = subprocess.run(loadgen_cmd(build, args, pid, cores), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=timeout, start_new_session=True)
    if out.returncode:
        raise RuntimeError("p4p-loadgen %s: %s" % (" ".join(args), out.stderr.strip()))
    return json.loads(out.stdout)


def loadgen_http(build, args, seed, pid, timeout=300):
    """HTTP: several generators at once (HTTP_GENERATORS: their cores and
    whether they run boosted), so that the tracker rather than one
    generator is the bottleneck; their answers add up."""
    procs = [subprocess.Popen(loadgen_cmd(build, args + ["--seed", str(seed + 500 * i)], pid, cores, boost=boost),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
             for i, (cores, boost) in enumerate(HTTP_GENERATORS)]
    outs = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate()
        if p.returncode:
            raise RuntimeError("p4p-loadgen: %s" % e.strip())
        outs.append(json.loads(o))
    return combine(outs)


def combine(outs):
    """One phase result from several generators run side by side."""
    a = outs[0]
    t = dict(a["timed"])
    ts = [o["timed"] for o in outs]
    t["announces"] = sum(x["announces"] for x in ts)
    t["announces_per_s"] = sum(x["announces_per_s"] for x in ts)
    for k in ("errors", "lost"):
        t[k] = sum(x[k] for x in ts)
    t["same_region_share"] = (sum(x["same_region_share"] * x["announces"] for x in ts) / t["announces"]
                              if t["announces"] else 0)
    # the tracker's CPU over the (nearly identical) windows: the largest
    t["tracker_cpu_s"] = max(x["tracker_cpu_s"] for x in ts)
    t["generator_cpu_s"] = sum(x.get("generator_cpu_s", 0) for x in ts)
    t["seconds"] = max(x["seconds"] for x in ts)
    t["generator_rates"] = [x["announces_per_s"] for x in ts]
    return {"timed": t, "warmup": a.get("warmup"), "generators": len(outs)}


# --- one run ------------------------------------------------------------------

def write_configs(workdir, p4pdir, swarm_hashes, workers):
    """P4P files and config files for the trackers; returns {kind: path or
    None}.  The P4P process starts on the default matrix (guidance.xml) and
    is then switched to per-swarm guidance by replacing that file and
    sending SIGHUP."""
    gen = [sys.executable, os.path.join(HERE, "gen_p4p_files.py"), "--out", p4pdir]
    if swarm_hashes:
        gen += ["--swarm-hash"] + swarm_hashes
    subprocess.run(gen, check=True)
    shutil.copyfile(os.path.join(p4pdir, "guidance-default.xml"), os.path.join(p4pdir, "guidance.xml"))
    for name in os.listdir(p4pdir):
        os.chmod(os.path.join(p4pdir, name), 0o644)
    os.chmod(p4pdir, 0o755)
    common = ["listen.udp.workers %d" % workers] if workers else []
    bodies = {
        "stock": common,
        "off": common + ["p4p.enable no"],
        "p4p": common + ["p4p.enable yes", "p4p.random_fraction 0.2",
                         "p4p.pidmap %s/pidmap.xml" % p4pdir, "p4p.guidance %s/guidance.xml" % p4pdir],
    }
    confs = {}
    for kind, lines in bodies.items():
        if not lines:
            confs[kind] = None
            continue
        path = os.path.join(workdir, "%s.conf" % kind)
        with open(path, "w") as f:
            f.write("# written by bench/run_bench.py\n" + "\n".join(lines) + "\n")
        os.chmod(path, 0o644)
        confs[kind] = path
    return confs


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


def run_process(a, binary, config, shape, variants, phases, rnd, port, workdir, p4pdir):
    """One tracker process measured as one or more variants in turn; returns
    one result per variant.  Only the first variant warms up (the others
    reuse the full swarms and the saved UDP connection ids)."""
    swarms, peers = shape["swarms"], shape["peers"]
    common = ["--swarms", str(swarms), "--peers", str(peers), "--port", str(port),
              "--numwant", str(a.numwant), "--seeders", str(a.seeders), "--zipf", str(a.zipf)]
    multicore = bool(shape["workers"])
    tr = start_tracker(binary, port, workdir, config, MW_TRACKER_CORES if multicore else TRACKER_CORE)
    timeout = 300 + swarms * peers / 20000  # the warm-up of a big shape takes long
    results = []
    try:
        idle_rss, idle_anon = tr.status_kb("VmRSS"), tr.status_kb("RssAnon")
        for k, variant in enumerate(variants):
            if k:
                switch_guidance(tr, p4pdir)
            result = {"shape": shape["name"], "swarms": swarms, "peers_per_swarm": peers, "variant": variant,
                      "round": rnd, "binary": os.path.basename(binary), "phases": {}, "workers": shape["workers"],
                      "families": len({f for _, f in phases}),
                      "rss_idle_kb": idle_rss, "anon_idle_kb": idle_anon, "warm": k == 0}
            for proto, fam in phases:
                label = "%s/%s/r%d" % (variant, shape["name"], rnd)
                args = common + ["--proto", proto, "--family", str(fam), "--duration", str(a.duration), "--label", label]
                try:
                    if proto == "udp":
                        args += ["--window", str(a.udp_window * (2 if multicore else 1)),
                                 "--connids", os.path.join(workdir, "connids%d" % fam), "--seed", str(1000 * rnd + 7)]
                        if k == 0:
                            args.append("--warmup")
                        r = loadgen(a.build, args, tr.proc.pid, MW_LOADGEN_CORES if multicore else LOADGEN_CORE, timeout)
                    else:
                        args += ["--window", str(a.http_window)]
                        r = loadgen_http(a.build, args, 1000 * rnd + 7, tr.proc.pid, timeout)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    rc = tr.proc.poll()
                    if rc is not None:  # say how the tracker ended: a signal number helps
                        raise RuntimeError("%s (tracker %s)" % (e, "killed by signal %d" % -rc if rc < 0 else
                                                                "exit status %d" % rc))
                    raise RuntimeError(str(e))
                result["phases"]["%s%d" % (proto, fam)] = r
                last_udp = [p for p in phases if p[0] == "udp"][-1]
                if (proto, fam) == last_udp:  # every family warmed up: the swarms are full
                    result["rss_full_kb"] = tr.status_kb("VmRSS")
                    result["anon_full_kb"] = tr.status_kb("RssAnon")
                if not tr.alive():
                    raise RuntimeError("tracker died during %s%d" % (proto, fam))
            result["rss_peak_kb"] = tr.status_kb("VmHWM")
            if config and "p4p" in os.path.basename(binary):
                result["p4p_stats"] = fetch_p4p_stats(port)
            results.append(result)
    finally:
        tr.stop()
    return results


# --- aggregation --------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    return (max(xs) - min(xs)) / statistics.median(xs) if len(xs) >= 2 and statistics.median(xs) > 0 else None


def aggregate(runs, shapes):
    """Per shape x phase: per variant medians; per ratio (variant /
    baseline, within a round) median, range and the rounds it has; the
    spread of stock's own rates."""
    table = []
    for shape in shapes:
        sname = shape["name"]
        for proto, fam in shape["phases"]:
            key = "%s%d" % (proto, fam)
            row = {"shape": sname, "proto": proto, "family": fam, "workers": shape["workers"], "variants": {}, "ratios": []}
            by = {(r["variant"], r["round"]): r for r in runs if r["shape"] == sname}
            rounds = sorted({r["round"] for r in runs if r["shape"] == sname})

            def timed(v, rnd):
                r = by.get((v, rnd))
                return r["phases"][key]["timed"] if r and key in r["phases"] else None

            for v in VARIANTS:
                rates, cpu_eff, busy, gen, p50, p99, local, errs, lost = [], [], [], [], [], [], [], 0, 0
                for rnd in rounds:
                    t = timed(v, rnd)
                    if not t:
                        continue
                    w = by[(v, rnd)]["phases"][key].get("warmup")
                    rates.append(t["announces_per_s"])
                    if t["tracker_cpu_s"] > 0:
                        cpu_eff.append(t["announces"] / t["tracker_cpu_s"])
                        busy.append(t["tracker_cpu_s"] / t["seconds"])
                    if t.get("generator_cpu_s"):
                        gen.append(t["generator_cpu_s"] / t["seconds"])
                    p50.append(t["latency_us"]["p50"])
                    p99.append(t["latency_us"]["p99"])
                    local.append(t["same_region_share"])
                    errs += t["errors"] + (w["errors"] if w else 0)
                    lost += t["lost"] + (w["lost"] if w else 0)
                if rates:
                    row["variants"][v] = {
                        "announces_per_s": med(rates), "announces_per_s_all": rates, "spread": spread(rates),
                        "announces_per_tracker_cpu_s": med(cpu_eff), "tracker_busy": med(busy), "generator_busy": med(gen),
                        "latency_p50_us": med(p50), "latency_p99_us": med(p99),
                        "same_region_share": med(local), "errors": errs, "lost": lost}
            for v, base, head in RATIOS:
                ratios, cpu_ratios = [], []
                for rnd in rounds:
                    t, b = timed(v, rnd), timed(base, rnd)
                    if t and b and b["announces_per_s"] > 0:
                        ratios.append(t["announces_per_s"] / b["announces_per_s"])
                        if t["tracker_cpu_s"] > 0 and b["tracker_cpu_s"] > 0:
                            cpu_ratios.append((t["announces"] / t["tracker_cpu_s"]) / (b["announces"] / b["tracker_cpu_s"]))
                row["ratios"].append({"variant": v, "baseline": base, "head": head, "ratio": med(ratios),
                                      "min": min(ratios) if ratios else None, "max": max(ratios) if ratios else None,
                                      "n": len(ratios), "cpu_ratio": med(cpu_ratios)})
            st = row["variants"].get("stock")
            row["stock_spread"] = st["spread"] if st else None
            table.append(row)
    mem = []
    for shape in shapes:
        sname = shape["name"]
        row = {"shape": sname, "variants": {}}
        for v in VARIANTS:
            rs = [r for r in runs if r["shape"] == sname and r["variant"] == v and "anon_full_kb" in r]
            if not rs:
                continue
            npeers = rs[0]["families"] * rs[0]["swarms"] * rs[0]["peers_per_swarm"]
            anon_idle = med([r["anon_idle_kb"] for r in rs])
            anon_full = med([r["anon_full_kb"] for r in rs])
            per_peer = [(r["anon_full_kb"] - r["anon_idle_kb"]) * 1024.0 / npeers for r in rs]
            row["variants"][v] = {"rss_idle_kb": med([r["rss_idle_kb"] for r in rs]), "rss_full_kb": med([r["rss_full_kb"] for r in rs]),
                                  "rss_peak_kb": med([r["rss_peak_kb"] for r in rs]),
                                  "anon_idle_kb": anon_idle, "anon_full_kb": anon_full,
                                  "bytes_per_peer": med(per_peer), "bytes_per_peer_all": per_peer, "peers": npeers}
        st = row["variants"].get("stock")
        for v, m in row["variants"].items():
            if st:
                m["peak_ratio"] = m["rss_peak_kb"] / st["rss_peak_kb"]
                m["idle_ratio"] = m["rss_idle_kb"] / st["rss_idle_kb"]
                m["per_peer_ratio"] = m["bytes_per_peer"] / st["bytes_per_peer"] if st["bytes_per_peer"] > 0 else None
        mem.append(row)
    return table, mem


def targets(table, mem, selbench, heap=None):
    """The issue's targets, each checked on the median ratio."""
    out = []
    for row in table:
        for r in row["ratios"]:
            if r["ratio"] is None or r["variant"] not in ("fork-default", "fork-swarms") or r["baseline"] != "stock":
                continue
            want = 1.0 if row["proto"] == "http" else 0.95
            out.append({"what": "%s %s IPv%d %s / stock" % (row["shape"], row["proto"].upper(), row["family"], r["variant"]),
                        "ratio": r["ratio"], "target": ">= %.2f" % want, "met": r["ratio"] >= want})
    for row in mem:
        for v, m in row["variants"].items():
            if v in ("fork-default", "fork-swarms") and m.get("per_peer_ratio") is not None:
                out.append({"what": "%s heap bytes per peer %s / stock" % (row["shape"], v), "ratio": m["per_peer_ratio"],
                            "target": "<= 1.10", "met": m["per_peer_ratio"] <= 1.10})
    for r in (heap or {}).get("rows", []):
        out.append({"what": "%s heap bytes per peer after %d reloads, in process, P4P / stock" % (r["shape"], heap["reloads"]),
                    "ratio": r["ratio_after"], "target": "<= 1.10", "met": r["ratio_after"] <= 1.10})
    for r in selbench.get("ns_per_call", []):
        x = r.get("fork-p4p-default_ratio")
        if x is not None:
            out.append({"what": "selector per call, %d peers, P4P default / stock" % r["swarm_size"], "ratio": x,
                        "target": "<= 1.20", "met": x <= 1.20})
    return out
# --- extra programs -------------------------------------------------------------

def run_prog(prog, args, timeout):
    out = subprocess.run(PRIORITY + ["taskset", "-c", TRACKER_CORE, prog] + args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=timeout, start_new_session=True)
    if out.returncode:
        why = "killed by signal %d" % -out.returncode if out.returncode < 0 else "exit %d" % out.returncode
        raise RuntimeError("%s: %s %s" % (os.path.basename(prog), why, out.stderr.strip()[-300:]))
    return out.stdout


def run_selbench(build, repeats=5):
    """Selector cost per call against swarm size (bench/selbench.c):
    p4p-selbench-stock and p4p-selbench alternately; per size and mode the
    median ns per call, the ratio to stock taken within each repeat (median,
    range) and stock's own spread."""
    progs = [os.path.join(build, "p4p-selbench-stock"), os.path.join(build, "p4p-selbench")]
    if not all(os.access(x, os.X_OK) for x in progs):
        return {"present": False}
    ns = {}  # (mode, size) -> [ns per repeat]
    try:
        for _ in range(repeats):
            for prog in progs:
                for line in run_prog(prog, ["bench"], 120).splitlines():
                    f = line.split()
                    if len(f) == 4:
                        ns.setdefault((f[1], int(f[2])), []).append(float(f[3]))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return {"present": True, "error": str(e)}
    rows = []
    for size in sorted({k[1] for k in ns}):
        row = {"swarm_size": size}
        stock = ns.get(("stock", size), [])
        row["stock"] = med(stock)
        row["stock_spread"] = spread(stock)
        for mode in ("fork-p4p-off", "fork-p4p-default"):
            xs = ns.get((mode, size), [])
            if not xs:
                continue
            row[mode] = med(xs)
            ratios = [x / s for x, s in zip(xs, stock) if s > 0]
            row[mode + "_ratio"] = med(ratios)
            row[mode + "_range"] = [min(ratios), max(ratios)] if ratios else None
        rows.append(row)
    return {"present": True, "repeats": repeats, "ns_per_call": rows}


def run_scale(build, shapes=((100, 10000), (1000, 10000))):
    """In process, no network (p4p-selbench scale): heap per peer and ns per
    announce with SWARMS x PEERS IPv4 peers in the tracker, stock against
    the fork with P4P off and on; and the memory of issue 15.4 (a 1024-PID
    map with 20,000 one-peer swarms; 1000 per-swarm 1x1 matrices)."""
    stock, fork = os.path.join(build, "p4p-selbench-stock"), os.path.join(build, "p4p-selbench")
    if not (os.access(stock, os.X_OK) and os.access(fork, os.X_OK)):
        return {"present": False}
    res = {"present": True, "scale": [], "pidmap": []}
    t0 = time.time()
    try:
        for sw, pe in shapes:
            for prog, extra in ((stock, []), (fork, ["off"]), (fork, [])):
                line = run_prog(prog, ["scale", str(sw), str(pe)] + extra, 600).split()
                kv = dict(zip(line[3::2], line[4::2]))
                res["scale"].append({"mode": line[1], "shape": line[2], **{k: float(v) for k, v in kv.items()}})
        for prog, args in ((stock, ["mem-pidmap"]), (fork, ["mem-pidmap"]), (fork, ["mem-guidance"])):
            res["pidmap"].append(run_prog(prog, args, 120).strip())
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        res["error"] = str(e)
    res["seconds"] = round(time.time() - t0, 1)
    return res


def run_callgrind(build, sizes=(300, 10000, 100000), calls=20000):
    """Instruction counts per announce (valgrind callgrind, only the timed
    calls: --toggle-collect=timed_calls), and branch mispredictions from its
    branch simulator: deterministic, unlike times on a shared machine."""
    if not shutil.which("valgrind"):
        return {"present": False, "why": "valgrind is not installed"}
    progs = [("stock", os.path.join(build, "p4p-selbench-stock"), None),
             ("fork-p4p-off", os.path.join(build, "p4p-selbench"), "off"),
             ("fork-p4p-default", os.path.join(build, "p4p-selbench"), "default")]
    if not all(os.access(x[1], os.X_OK) for x in progs):
        return {"present": False, "why": "p4p-selbench not built"}
    rows, t0 = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            row = {"swarm_size": size}
            for mode, prog, sel in progs:
                f = os.path.join(tmp, "cg.%s.%d" % (mode, size))
                env = dict(os.environ, SELBENCH_CALLS=str(calls))
                if sel:
                    env["SELBENCH_MODE"] = sel
                out = subprocess.run(["valgrind", "--tool=callgrind", "--branch-sim=yes", "--toggle-collect=timed_calls",
                                      "--callgrind-out-file=" + f, prog, "run", str(size)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
                if out.returncode:
                    return {"present": True, "error": "%s %d: %s" % (mode, size, out.stderr.strip()[-300:])}
                events, totals = None, None
                with open(f) as fh:
                    for line in fh:
                        if line.startswith("events:"):
                            events = line.split()[1:]
                        elif line.startswith("summary:"):
                            totals = [int(x) for x in line.split()[1:]]
                c = dict(zip(events, totals))
                row[mode] = {"ir": c["Ir"] / calls, "mispredicts": (c.get("Bcm", 0) + c.get("Bim", 0)) / calls}
            rows.append(row)
    return {"present": True, "calls": calls, "rows": rows, "seconds": round(time.time() - t0, 1)}


def massif_peak(path):
    """The peak snapshot of a massif file: heap, extra (malloc's own
    overhead) and the top-level allocation sites."""
    snaps, cur = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("snapshot="):
                cur = {"sites": []}
                snaps.append(cur)
            elif cur is not None and line.startswith("mem_heap_B="):
                cur["heap"] = int(line.split("=")[1])
            elif cur is not None and line.startswith("mem_heap_extra_B="):
                cur["extra"] = int(line.split("=")[1])
            elif cur is not None and line.startswith("heap_tree="):
                cur["tree"] = line.split("=")[1]
            elif cur is not None and line.startswith(" n") and ":" in line:
                head, _, what = line.strip().partition(" ")
                nbytes, _, rest = what.partition(" ")
                cur["sites"].append((int(nbytes.rstrip(":")), rest))
    peak = max((x for x in snaps if x.get("tree") in ("peak", "detailed")), key=lambda x: x.get("heap", 0), default=None)
    return peak


def run_heap(build, shapes=((1000, 300), (20, 5000), (1, 100000)), reloads=4, massif_shape=(1000, 300)):
    """Heap per peer with every swarm full and after `reloads` reloads that
    change the map (p4p-selbench reload: in process, every list rearranged,
    old snapshots freed), stock against the fork with P4P; and the same
    under valgrind's heap profiler (massif) for one shape: peak heap, malloc's
    own overhead and where it is allocated."""
    stock, fork = os.path.join(build, "p4p-selbench-stock"), os.path.join(build, "p4p-selbench")
    if not (os.access(stock, os.X_OK) and os.access(fork, os.X_OK)):
        return {"present": False}
    res, t0 = {"present": True, "reloads": reloads, "rows": [], "massif": []}, time.time()
    try:
        for sw, pe in shapes:
            row = {"shape": "%dx%d" % (sw, pe)}
            for key, prog in (("stock", stock), ("fork", fork)):
                f = run_prog(prog, ["reload", str(sw), str(pe), str(reloads)], 600).split()
                kv = dict(zip(f[3::2], f[4::2]))
                row[key] = {"full": float(kv["heap_bytes_per_peer_full"]), "after": float(kv["heap_bytes_per_peer_after"])}
            row["ratio_after"] = row["fork"]["after"] / row["stock"]["after"]
            res["rows"].append(row)
        if shutil.which("valgrind"):
            with tempfile.TemporaryDirectory() as tmp:
                for key, prog in (("stock", stock), ("fork", fork)):
                    f = os.path.join(tmp, "massif." + key)
                    subprocess.run(["valgrind", "--tool=massif", "--massif-out-file=" + f, "--threshold=1", prog, "reload",
                                    str(massif_shape[0]), str(massif_shape[1]), str(reloads)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=900, check=True)
                    peak = massif_peak(f)
                    if peak:
                        res["massif"].append({"variant": key, "heap": peak.get("heap", 0), "extra": peak.get("extra", 0),
                                              "sites": peak["sites"][:8]})
            res["massif_shape"] = "%dx%d" % massif_shape
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
        res["error"] = str(e)
    res["seconds"] = round(time.time() - t0, 1)
    return res


def run_idle(build, out):
    """Idle memory of a fresh tracker (no peers): stock, the fork with P4P
    off, and with P4P on from local files; VmRSS, its anonymous and
    file-backed parts, and the mappings that hold the most."""
    res = {"present": True, "rows": []}
    d = os.path.join(out, "idle")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    p4pdir = os.path.join(d, "p4p")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_p4p_files.py"), "--out", p4pdir], check=True,
                   stdout=subprocess.DEVNULL)
    for name in os.listdir(p4pdir):
        os.chmod(os.path.join(p4pdir, name), 0o644)
    os.chmod(p4pdir, 0o755)
    shutil.copyfile(os.path.join(p4pdir, "guidance-default.xml"), os.path.join(p4pdir, "guidance.xml"))
    os.chmod(os.path.join(p4pdir, "guidance.xml"), 0o644)
    confs = {"fork P4P off": ["p4p.enable no"],
             "fork P4P on (local files)": ["p4p.enable yes", "p4p.pidmap %s/pidmap.xml" % p4pdir,
                                           "p4p.guidance %s/guidance.xml" % p4pdir]}
    port = 6900
    for name, binary, lines in (("stock", "opentracker-stock", None),
                                ("fork P4P off", "opentracker-p4p", confs["fork P4P off"]),
                                ("fork P4P on (local files)", "opentracker-p4p", confs["fork P4P on (local files)"])):
        path = os.path.join(build, binary)
        if not os.access(path, os.X_OK):
            continue
        port += 1
        conf = None
        if lines:
            conf = os.path.join(d, "idle-%d.conf" % port)
            with open(conf, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.chmod(conf, 0o644)
        try:
            tr = start_tracker(path, port, os.path.join(d, "w%d" % port), conf)
        except RuntimeError as e:
            res["rows"].append({"variant": name, "error": str(e)})
            continue
        try:
            time.sleep(0.5)
            row = {"variant": name, "rss_kb": tr.status_kb("VmRSS"), "anon_kb": tr.status_kb("RssAnon"),
                   "file_kb": tr.status_kb("RssFile")}
            maps = {}
            with open("/proc/%d/smaps" % tr.proc.pid) as f:
                cur = None
                for line in f:
                    head = line.split()
                    if head and "-" in head[0] and len(head) >= 5 and all(c in "0123456789abcdef-" for c in head[0]):
                        cur = os.path.basename(head[5]) if len(head) > 5 else "[anon]"
                    elif head and head[0] == "Rss:" and cur is not None:
                        maps[cur] = maps.get(cur, 0) + int(head[1])
            row["libraries"] = len([m for m in maps if ".so" in m])
            row["top"] = sorted(maps.items(), key=lambda kv: -kv[1])[:6]
            res["rows"].append(row)
        finally:
            tr.stop()
    return res


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


def fmt_ratio(r):
    if not r or r.get("ratio") is None:
        return "-"
    if r["n"] == 1:
        return "%.3f" % r["ratio"]
    return "%.3f (%.3f-%.3f)" % (r["ratio"], r["min"], r["max"])


def fmt_spread(x):
    return "-" if x is None else "%.3f" % x


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


def ratio_table(L, rows, heads, cpu=False):
    L.append("| shape | proto | IP | stock ann/s | stock spread | " + " | ".join(heads) + " |")
    L.append("|---|---|---|---:|---:|" + "---:|" * len(heads))
    for row in rows:
        st = row["variants"].get("stock", {})
        cells = []
        for h in heads:
            r = next((x for x in row["ratios"] if x["head"] == h), None)
            if cpu:
                cells.append("-" if not r or r.get("cpu_ratio") is None else "%.3f" % r["cpu_ratio"])
            else:
                cells.append(fmt_ratio(r))
        base = st.get("announces_per_tracker_cpu_s") if cpu else st.get("announces_per_s")
        L.append("| %s | %s | v%d | %s | %s | %s |" % (row["shape"], row["proto"].upper(), row["family"], fmt_rate(base),
                                                      fmt_spread(st.get("spread")), " | ".join(cells)))
    L.append("")


def write_doc(path, s):
    a = s["params"]
    L = []
    L.append("# Benchmarks: the P4P fork against stock opentracker\n")
    L.append("Generated by `make bench` (bench/run_bench.py) on %s in %.0f s; do not edit by hand: the "
             "hand-written part lives in `bench/notes.md` and is copied in at the end.\n" % (s["finished"], s["seconds"]))
    if s["budget_hit"]:
        L.append("**The machine was too slow (busy) for the time budget: rounds completed per shape: %s.**\n" %
                 ", ".join("%s: %d" % kv for kv in s["rounds_done"].items()))
    for f in s["failures"]:
        L.append("**Failed run: %s %s round %d: %s**\n" % (f["shape"], f["process"], f["round"], f["error"]))
    for name in s.get("missing", []):
        L.append("**Not built: %s; its variants are missing below.**\n" % name)
    L.append("## Method\n")
    L.append("- Trackers (`opentracker/upstream.mk`, upstream %s, the same compiler flags and features for all): "
             "`opentracker-stock` (upstream as released), `opentracker-stock-batch` (upstream + "
             "`patches/optional/udp-batched-datagrams.patch`), `opentracker-p4p` (upstream + the fork's series "
             "`patches/*.patch` + libp4p) and `opentracker-p4p-batch` (the fork + the batching patch)." %
             s["machine"].get("opentracker", "?"))
    L.append("- Variants: " + "; ".join("`%s` %s" % (v, VARIANT_TEXT[v]) for v in VARIANTS) + ".")
    L.append("- Each ratio isolates one change: the fork's patches with P4P off (fork P4P off / stock), P4P itself "
             "(P4P on / P4P off, same binary, same flags), P4P against stock, the batching patch on stock "
             "(stock+batch / stock), and P4P with batching against stock with batching. A ratio is taken within a "
             "round (the variant and its baseline measured minutes apart); tables give the median over rounds and "
             "(min-max), and beside it stock's own spread over the rounds, (max - min) / median: differences "
             "smaller than that are noise.")
    L.append("- Each tracker process is fresh, runs as user nobody, pinned to core %s (the multi-worker shape: both "
             "cores), at nice -10 in an autogroup of its own. Everything runs in a private network namespace "
             "(loopback only); IPv6 peers live in fd00:1::/64, routed to lo." % TRACKER_CORE)
    L.append("- Workload (after the aquatic load test): swarms x peers per swarm as in each table; every peer has "
             "its own address (127.0.0.0/8 or fd00:1::/64), %d%% seeders, numwant %d, requests pick a swarm with "
             "probability ~ 1/(rank+1)^%.1f and then one of its peers uniformly; one scrape per 100 announces. "
             "A warm-up announces every peer once (event=started) over UDP, IPv4 then IPv6, so swarms are full "
             "(both families) before the timed runs." % (round(100 * a["seeders"]), a["numwant"], a["zipf"]))
    gens = ", ".join("core %s%s" % (c, " at nice -10" if boost else " (the tracker's) at normal priority")
                     for c, boost in s.get("http_generators", HTTP_GENERATORS))
    L.append("- Load generator `p4p-loadgen`. UDP: one process on core %s, closed loop with %d requests in flight "
             "(multi-worker shape: tracker on cores %s, generator on %s, %d in flight), BEP 15 connect once per peer "
             "in the warm-up. HTTP: one connection per request from the peer's own address, closed by the tracker (as "
             "clients do); to make the tracker the bottleneck, **%d generator processes** run at once, %d connections "
             "each (%s); their answers add up. The tracker's CPU share and the generators' load are in the "
             "\"tracker busy\" and \"generators busy\" columns below. Timed runs last %.1f s; lost = no answer within "
             "1 s." % (LOADGEN_CORE, a["udp_window"], s.get("mw_cores", [MW_TRACKER_CORES, MW_LOADGEN_CORES])[0],
                       s.get("mw_cores", [MW_TRACKER_CORES, MW_LOADGEN_CORES])[1], 2 * a["udp_window"],
                       len(s.get("http_generators", HTTP_GENERATORS)), a["http_window"], gens, a["duration"]))
    L.append("- Order: %d rounds, each going over all shapes; per shape and round the processes run in the order "
             "stock, fork P4P off, fork P4P, stock+batch, fork P4P off+batch, fork P4P+batch (batching processes: "
             "UDP phases only). The P4P process is measured on the default matrix, then its guidance file is "
             "replaced by the per-swarm one and it is sent SIGHUP (a live reload); once `/stats?mode=p4p` shows "
             "the new guidance it is measured again (same swarms, no second warm-up)." % a["rounds"])
    L.append("- P4P files: `bench/gen_p4p_files.py`: 16 PIDs (12 own AS, 4 neighbour) partitioning 127.0.0.0/8 and "
             "fd00:1::/64, a default ring-distance matrix, and per-swarm matrices for the %s most popular swarms "
             "(`p4p.random_fraction 0.2`).\n" % a["heavy_swarms_desc"])
    m = s["machine"]
    L.append("## Machine\n")
    L.append("%s, %s cores, %s GB RAM, Linux %s, %s. Load average at start: %s, at the end: %s (other engineers' "
             "builds and tests share the machine; stock's spread says how much that moved the numbers).\n" %
             (m.get("cpu", "?"), m.get("cores"), m.get("mem_gb"), m["kernel"], m["cc"],
              " ".join(m["loadavg_at_start"]), " ".join(s["loadavg_at_end"])))

    single = [r for r in s["throughput"] if not r["workers"]]
    multi = [r for r in s["throughput"] if r["workers"]]
    p4p_heads = ["fork P4P off / stock", "P4P on / P4P off", "P4P default / stock", "P4P per-swarm / stock"]
    batch_heads = ["stock+batch / stock", "fork off+batch / stock+batch", "P4P+batch / stock+batch"]
    L.append("## P4P's own cost: announces per second, ratios\n")
    L.append("Median over rounds of the per-round ratio (min-max); no batching anywhere in this table.\n")
    ratio_table(L, single, p4p_heads)
    L.append("The same on announces per CPU-second of the tracker (what the tracker itself spends per announce; "
             "the better measure wherever the tracker is not saturated, see \"tracker busy\" below):\n")
    ratio_table(L, single, p4p_heads, cpu=True)
    http = [r for r in single if r["proto"] == "http"]
    if http:
        busy = [v["tracker_busy"] for r in http for v in r["variants"].values() if v.get("tracker_busy") is not None]
        gbusy = [v["generator_busy"] for r in http for v in r["variants"].values() if v.get("generator_busy") is not None]
        if busy:
            L.append("**HTTP and the bottleneck.** Over the HTTP runs the tracker was busy %.2f-%.2f of a core (median %.2f) "
                     "while the generators used %s cores: %s\n" % (
                         min(busy), max(busy), med(busy), "%.2f-%.2f" % (min(gbusy), max(gbusy)) if gbusy else "?",
                         "the tracker was the bottleneck (busy >= 0.9), so the HTTP rates above compare trackers."
                         if med(busy) >= 0.9 else
                         "the tracker was **not** saturated: a connection per announce costs the client side (connect, "
                         "close, kernel) more than the tracker, and %d cores cannot give the generators more. The HTTP "
                         "rates above are then bounded by the generators, and the per-CPU-second table is the "
                         "comparison of the trackers' own cost; a machine with 4 or more cores gives each generator a "
                         "core of its own (run_bench.py does so by itself)." % NCPU))
    L.append("## The optional UDP batching patch\n")
    L.append("Batching alone (on stock), and P4P with batching against stock with batching:\n")
    ratio_table(L, [r for r in single if r["proto"] == "udp"], batch_heads)
    if multi:
        L.append("## Several UDP workers (`listen.udp.workers`)\n")
        L.append("Tracker with upstream's UDP worker threads (blocking receive, no main loop), tracker and generator "
                 "free on both cores; \"per core\" = announces per CPU-second of the tracker, the rate one core "
                 "gives.\n")
        ratio_table(L, multi, ["fork P4P off / stock", "P4P on / P4P off", "P4P default / stock", "stock+batch / stock",
                               "P4P+batch / stock+batch"])
        L.append("| shape | IP | variant | ann/s | tracker cores busy | ann per core-s |")
        L.append("|---|---|---|---:|---:|---:|")
        for row in multi:
            for v in VARIANTS:
                x = row["variants"].get(v)
                if x:
                    L.append("| %s | v%d | %s | %s | %s | %s |" % (row["shape"], row["family"], v, fmt_rate(x["announces_per_s"]),
                                                               "-" if x["tracker_busy"] is None else "%.2f" % x["tracker_busy"],
                                                               fmt_rate(x["announces_per_tracker_cpu_s"])))
        L.append("")
    L.append("## Targets\n")
    miss = [t for t in s["targets"] if not t["met"]]
    L.append("%d of %d checks met (P4P / stock: HTTP >= 1.00, UDP >= 0.95; heap per peer <= 1.10 x stock; selector "
             "per call <= 1.20 x stock), each on the median ratio." % (len(s["targets"]) - len(miss), len(s["targets"])))
    for t in miss:
        L.append("- missed: %s: %.3f (target %s)" % (t["what"], t["ratio"], t["target"]))
    L.append("")
    L.append("## Tracker CPU, latency, locality\n")
    L.append("Medians over rounds. Tracker busy = CPU seconds of the tracker per second of the run (1.00 = one core); "
             "generators busy = the same for the load generators together (their load); same-PID share = the returned "
             "peers in the requester's own PID (1/16 = 0.0625 for random selection).\n")
    L.append("| shape | phase | variant | ann/s | tracker busy | generators busy | ann per tracker CPU-s | p50 µs | p99 µs | same-PID share | errors | lost |")
    L.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in s["throughput"]:
        for vname in VARIANTS:
            v = row["variants"].get(vname)
            if not v:
                continue
            L.append("| %s | %s v%d | %s | %s | %s | %s | %s | %s | %s | %.3f | %d | %d |" % (
                row["shape"], row["proto"].upper(), row["family"], vname, fmt_rate(v["announces_per_s"]),
                "-" if v["tracker_busy"] is None else "%.2f" % v["tracker_busy"],
                "-" if v.get("generator_busy") is None else "%.2f" % v["generator_busy"],
                fmt_rate(v["announces_per_tracker_cpu_s"]), v["latency_p50_us"], v["latency_p99_us"],
                v["same_region_share"] or 0, v["errors"], v["lost"]))
    L.append("")
    L.append("## Selection paths in the fork\n")
    L.append("From the fork's `/stats?mode=p4p` after each measurement (cumulative over the process, warm-up "
             "included; round 1).\n")
    L.append("| shape | variant | guided | default | stock | guidance version |")
    L.append("|---|---|---:|---:|---:|---|")
    for st in s["p4p_stats"]:
        L.append("| %s | %s | %s | %s | %s | %s |" % (st["shape"], st["variant"], st.get("selections guided", "-"),
                                                    st.get("selections default", "-"), st.get("selections stock", "-"),
                                                    st.get("guidance version", "-")))
    L.append("")
    L.append("## Memory\n")
    L.append("Tracker memory: RssAnon (its own heap and stacks) idle after start and with all swarms full, bytes per "
             "peer = (full - idle) / peers (median over rounds), VmRSS idle (which also counts the mapped pages of "
             "the shared libraries: libxml2, libcurl and theirs for the fork) and peak RSS (VmHWM). fork-swarms is "
             "measured after a live reload (SIGHUP).\n")
    L.append("| shape | variant | peers | heap idle MiB | heap full MiB | bytes/peer | per peer / stock | RSS idle MiB | idle / stock | peak RSS MiB | peak / stock |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in s["memory"]:
        for vname in VARIANTS:
            mm = row["variants"].get(vname)
            if mm:
                L.append("| %s | %s | %d | %.1f | %.1f | %.1f | %s | %.1f | %.2f | %.1f | %.3f |" % (
                    row["shape"], vname, mm["peers"], mm["anon_idle_kb"] / 1024, mm["anon_full_kb"] / 1024,
                    mm["bytes_per_peer"], "-" if mm.get("per_peer_ratio") is None else "%.3f" % mm["per_peer_ratio"],
                    mm["rss_idle_kb"] / 1024, mm.get("idle_ratio", 1), mm["rss_peak_kb"] / 1024, mm.get("peak_ratio", 1)))
    L.append("")
    x = s.get("heap", {})
    L.append("### Heap per peer after reloads, and where it goes\n")
    if not x.get("present"):
        L.append("Not measured: `build/p4p-selbench` was not built.\n")
    else:
        if x.get("error"):
            L.append("p4p-selbench reload failed: %s\n" % x["error"])
        L.append("`p4p-selbench reload SWARMS PEERS %d` (in process, IPv4, 16 PIDs, default matrix): heap in use "
                 "(malloc's own count, every arena) per peer with every swarm full, and after %d reloads that each "
                 "change the map (every list arranged anew on its next announce, the replaced snapshots freed).\n"
                 % (x["reloads"], x["reloads"]))
        L.append("| shape | stock B/peer | fork B/peer full | fork B/peer after reloads | after / stock |")
        L.append("|---|---:|---:|---:|---:|")
        for r in x.get("rows", []):
            L.append("| %s | %.2f | %.2f | %.2f | %.3f |" % (r["shape"], r["stock"]["after"], r["fork"]["full"],
                                                          r["fork"]["after"], r["ratio_after"]))
        L.append("")
        if x.get("massif"):
            L.append("valgrind massif on `reload %s %d`, peak snapshot: heap (useful bytes), malloc's overhead on top, "
                     "and the top-level allocation sites:\n" % (x.get("massif_shape", "?").replace("x", " "), x["reloads"]))
            L.append("```")
            for m in x["massif"]:
                L.append("%s: heap %s B, malloc overhead %s B" % (m["variant"], fmt_rate(m["heap"]), fmt_rate(m["extra"])))
                for nbytes, where in m["sites"]:
                    L.append("  %12s B  %s" % (fmt_rate(nbytes), where[:110]))
            L.append("```\n")
    x = s.get("idle", {})
    if x.get("rows"):
        L.append("### Idle memory\n")
        L.append("A fresh tracker, no peers (VmRSS = anonymous + file-backed; file-backed pages are the mapped "
                 "libraries', shared with other processes using them):\n")
        L.append("| tracker | VmRSS MiB | RssAnon MiB | RssFile MiB | shared libraries | most resident |")
        L.append("|---|---:|---:|---:|---:|---|")
        for r in x["rows"]:
            if r.get("error"):
                L.append("| %s | - | - | - | - | %s |" % (r["variant"], r["error"][:80]))
                continue
            L.append("| %s | %.1f | %.1f | %.1f | %d | %s |" % (
                r["variant"], r["rss_kb"] / 1024, r["anon_kb"] / 1024, r["file_kb"] / 1024, r["libraries"],
                ", ".join("%s %d kB" % (n, kb) for n, kb in r["top"][:4])))
        L.append("")
    x = s.get("scale", {})
    L.append("## Scale: 1M and 10M peers, in process\n")
    if not x.get("present"):
        L.append("Not measured: `build/p4p-selbench` was not built.\n")
    else:
        if x.get("error"):
            L.append("p4p-selbench scale failed: %s\n" % x["error"])
        L.append("`p4p-selbench scale SWARMS PEERS` (bench/selbench.c, %.0f s in all): the tracker's own announce code "
                 "in one process, no network: SWARMS x PEERS IPv4 peers announced (heap in use by malloc, every "
                 "arena, per peer; insert cost per peer), then 200,000 re-announces of random members, numwant 50 "
                 "(ns each). 16 PIDs with the default matrix for the fork with P4P.\n" % x.get("seconds", 0))
        L.append("| shape | peers | variant | heap MiB | heap bytes/peer | per peer / stock | insert ns/peer | ns/announce | / stock |")
        L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
        for e in x.get("scale", []):
            st = next((y for y in x["scale"] if y["shape"] == e["shape"] and y["mode"] == "stock"), None)
            L.append("| %s | %s | %s | %.1f | %.1f | %s | %.0f | %.0f | %s |" % (
                e["shape"], fmt_rate(e["peers"]), e["mode"], e["heap_mb"], e["heap_bytes_per_peer"],
                "%.3f" % (e["heap_bytes_per_peer"] / st["heap_bytes_per_peer"]) if st else "-",
                e["insert_ns_per_peer"], e["ns_per_announce"],
                "%.3f" % (e["ns_per_announce"] / st["ns_per_announce"]) if st else "-"))
        L.append("")
        if x.get("pidmap"):
            L.append("Memory against the size of the PID map (issue 15.4; `p4p-selbench mem-pidmap`, `mem-guidance`): "
                     "20,000 swarms of one peer each, the peer of swarm t in PID t mod 1024 of a 1024-PID map; and "
                     "1000 per-swarm 1x1 guidance matrices on that map.\n")
            L.append("```\n%s\n```\n" % "\n".join(x["pidmap"]))
    L.append("## Selector cost per call against swarm size\n")
    x = s["selbench"]
    if not x.get("present"):
        L.append("Not measured: `build/p4p-selbench` (bench/selbench.c) was not built.\n")
    elif x.get("error"):
        L.append("p4p-selbench failed: %s\n" % x["error"])
    else:
        L.append("`p4p-selbench` (bench/selbench.c) times upstream's announce logic in process, no network: "
                 "add_peer_to_torrent_and_return_peers() for a re-announcing member of an IPv4 swarm, numwant 50, "
                 "16 PIDs. ns per call, median of %d alternating runs; the ratio to stock is taken within each run "
                 "(median, min-max); stock's spread beside it.\n" % x["repeats"])
        L.append("| swarm size | stock ns | stock spread | fork P4P off ns | / stock | fork P4P default ns | / stock |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|")
        for r in x["ns_per_call"]:
            def cell(mode):
                if mode not in r:
                    return "- | -"
                rg = r.get(mode + "_range")
                return "%.0f | %.2f (%.2f-%.2f)" % (r[mode], r[mode + "_ratio"], rg[0], rg[1]) if rg else "%.0f | -" % r[mode]
            L.append("| %d | %.0f | %s | %s | %s |" % (r["swarm_size"], r["stock"] or 0, fmt_spread(r.get("stock_spread")),
                                                     cell("fork-p4p-off"), cell("fork-p4p-default")))
        L.append("")
    x = s.get("callgrind", {})
    L.append("Instructions and branch mispredictions per call (valgrind callgrind with its branch simulator, only the "
             "timed calls counted, %s calls per size): deterministic, unlike the times above on a shared machine.\n"
             % fmt_rate(x.get("calls")))
    if not x.get("present"):
        L.append("Not measured: %s.\n" % x.get("why", "skipped"))
    elif x.get("error"):
        L.append("callgrind failed: %s\n" % x["error"])
    else:
        L.append("| swarm size | stock Ir | mispredicts | fork P4P off Ir | / stock | fork P4P default Ir | / stock | mispredicts |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in x["rows"]:
            st, off, on = r["stock"], r["fork-p4p-off"], r["fork-p4p-default"]
            L.append("| %d | %s | %.1f | %s | %.3f | %s | %.3f | %.1f |" % (
                r["swarm_size"], fmt_rate(st["ir"]), st["mispredicts"], fmt_rate(off["ir"]), off["ir"] / st["ir"],
                fmt_rate(on["ir"]), on["ir"] / st["ir"], on["mispredicts"]))
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
    L.append("## Closing note: every ratio\n")
    L.append("Median of the per-round ratios (rounds, min-max), and stock's own spread in the same shape and phase "
             "((max - min) / median of stock's rates over the rounds): a difference smaller than the spread is noise. "
             "Load average during the run: %s at the start, %s at the end.\n" % (
                 " ".join(s["machine"]["loadavg_at_start"]), " ".join(s["loadavg_at_end"])))
    for row in s["throughput"]:
        cells = []
        for r in row["ratios"]:
            if r["ratio"] is None:
                continue
            cells.append("%s %.3f (%d, %.3f-%.3f)" % (r["head"], r["ratio"], r["n"], r["min"], r["max"]))
        if cells:
            L.append("- %s %s IPv%d, stock spread %s: %s" % (row["shape"], row["proto"].upper(), row["family"],
                                                            fmt_spread(row.get("stock_spread")), "; ".join(cells)))
    L.append("")
    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            L.append(f.read())
    with open(path, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")


def report_only(a, out):
    """Aggregate an earlier run again (after a change to the report code)."""
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(out, "runs.jsonl")) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    shapes = [parse_shape(x) for x in summary["params"]["shapes"]]
    table, mem = aggregate(runs, shapes)
    summary.update(throughput=table, memory=mem, targets=targets(table, mem, summary.get("selbench", {}), summary.get("heap")))
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
    ap.add_argument("--shapes", default=SHAPES, help="comma-separated SxP, SxP:wN (N UDP workers), SxP:big")
    ap.add_argument("--big", action="store_true",
                    help="add the %s shape (10M IPv4 peers over the network, one round; ~15 min)" % BIG_SHAPE)
    ap.add_argument("--budget", type=float, default=900,
                    help="seconds after which no further round starts")
    ap.add_argument("--no-extras", action="store_true", help="skip the in-process selector and scale probes and the optimizer")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite summary.json and the document from OUT/runs.jsonl and OUT/summary.json")
    ap.add_argument("--quick", action="store_true", help="small shapes, one round: checks the harness")
    ap.add_argument("--no-netns", action="store_true", help="run in the current namespace (IPv6 needs fd00:1::/64 on lo)")
    a = ap.parse_args()
    if a.quick:
        a.rounds, a.duration, a.shapes = 1, 0.5, "100x300,4x2500,4x2500:w2"
    if a.big:
        a.shapes += "," + BIG_SHAPE
    if not a.no_netns and not os.environ.get(NETNS_ENV):
        return run_in_netns([os.path.abspath(__file__)] + sys.argv[1:])

    t_start = time.time()
    a.build = build = os.path.abspath(a.build)
    out = os.path.abspath(a.out)
    if a.report_only:
        return report_only(a, out)
    shapes = [parse_shape(x) for x in a.shapes.split(",") if x]
    binaries = {"stock": "opentracker-stock", "stock-batch": "opentracker-stock-batch", "fork": "opentracker-p4p",
                "fork-batch": "opentracker-p4p-batch"}
    missing = [b for b in binaries.values() if not os.access(os.path.join(build, b), os.X_OK)]
    if "opentracker-stock" in missing:
        log("no opentracker-stock")
        return 1
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
    paths = {}
    for key, name in binaries.items():
        if name not in missing:
            paths[key] = os.path.join(bindir, name)
            shutil.copy2(os.path.join(build, name), paths[key])

    runs, failures, prepared = [], [], []
    port = 7000
    for shape in shapes:
        swarms = shape["swarms"]
        heavy = max(1, min(10, swarms // 4))
        hashes = subprocess.run([os.path.join(build, "p4p-loadgen"), "--swarms", str(swarms), "--list-swarms", str(heavy)],
                                stdout=subprocess.PIPE, text=True, check=True).stdout.split()
        sdir = os.path.join(out, shape["name"].replace(" ", "-").replace("(", "").replace(")", ""))
        os.makedirs(sdir)
        os.chmod(sdir, 0o755)
        p4pdir = os.path.join(sdir, "p4p")
        prepared.append((shape, heavy, sdir, p4pdir, write_configs(sdir, p4pdir, hashes, shape["workers"])))
    # Rounds go over all shapes before the next round starts, so that a slow
    # (busy) machine that hits the time budget still has every shape measured.
    rounds_done, budget_hit = {}, False
    with open(os.path.join(out, "runs.jsonl"), "w") as raw:
        for rnd in range(1, a.rounds + 1):
            for shape, heavy, sdir, p4pdir, confs in prepared:
                elapsed = time.time() - t_start
                if rnd > 1 and (elapsed > a.budget or shape["big"]):
                    if not shape["big"]:
                        budget_hit = True
                        log("time budget of %d s used up (%.0f s): skipping round %d of %s" % (a.budget, elapsed, rnd, shape["name"]))
                    continue
                for name, key, conf, variants, phases in processes_for(shape):
                    if key not in paths:
                        continue
                    port += 1
                    config = confs["stock" if conf is None else conf]
                    wd = os.path.join(sdir, "%s-r%d" % (name, rnd))
                    t0 = time.time()
                    try:
                        results = run_process(a, paths[key], config, shape, variants, phases, rnd, port, wd, p4pdir)
                    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as e:
                        # one broken tracker run must not cost the whole report
                        log("%s %s r%d failed: %s" % (shape["name"], name, rnd, e))
                        failures.append({"shape": shape["name"], "process": name, "round": rnd, "error": str(e)})
                        continue
                    for r in results:
                        r["heavy_swarms"] = heavy
                        runs.append(r)
                        raw.write(json.dumps(r) + "\n")
                        raw.flush()
                        ph = r["phases"]
                        log("%-16s %-19s r%d: UDP4 %8.0f/s%s" % (shape["name"], r["variant"], rnd, ph["udp4"]["timed"]["announces_per_s"],
                                                            " HTTP4 %7.0f/s" % ph["http4"]["timed"]["announces_per_s"] if "http4" in ph else ""))
                    log("  (%s: %.1f s)" % (name, time.time() - t0))
                rounds_done[shape["name"]] = rnd

    selbench, scale, optbench = {"present": False}, {"present": False}, {"present": False}
    callgrind, heap, idle = {"present": False}, {"present": False}, {"present": False}
    if not a.no_extras:
        log("selector benchmark")
        selbench = run_selbench(build)
        log("selector instruction counts (callgrind)")
        callgrind = run_callgrind(build)
        log("heap per peer after reloads (and massif)")
        heap = run_heap(build)
        log("idle memory")
        idle = run_idle(build, out)
        log("scale probe (1M, 10M peers in process)")
        scale = run_scale(build)
        optbench = run_optbench(build, out)
    table, mem = aggregate(runs, shapes)
    summary = {
        "finished": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.time() - t_start, 1),
        "rounds_done": rounds_done,
        "budget_hit": budget_hit,
        "failures": failures,
        "missing": missing,
        "loadavg_at_end": open("/proc/loadavg").read().split()[:3],
        "machine": machine,
        "params": {"rounds": a.rounds, "duration": a.duration, "udp_window": a.udp_window,
                   "http_window": a.http_window, "numwant": a.numwant, "seeders": a.seeders, "zipf": a.zipf,
                   "shapes": [x for x in a.shapes.split(",") if x],
                   "heavy_swarms_desc": "min(10, swarms/4) (at least 1)"},
        "throughput": table,
        "memory": mem,
        "targets": targets(table, mem, selbench, heap),
        "p4p_stats": [dict(r["p4p_stats"], shape=r["shape"], variant=r["variant"]) for r in runs
                      if r.get("p4p_stats") and r["round"] == 1],
        "http_generators": HTTP_GENERATORS,
        "mw_cores": [MW_TRACKER_CORES, MW_LOADGEN_CORES],
        "selbench": selbench,
        "callgrind": callgrind,
        "heap": heap,
        "idle": idle,
        "scale": scale,
        "optbench": optbench,
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    if a.doc:
        write_doc(os.path.join(TOP, a.doc) if not os.path.isabs(a.doc) else a.doc, summary)
    log("done in %.0f s: %s/summary.json%s" % (time.time() - t_start, out, ", " + a.doc if a.doc else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
