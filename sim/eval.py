#!/usr/bin/python3
"""make eval: the P4P paper's experiments rerun with p4psim, on loaded and
heterogeneous networks, against native, native-with-the-seed-found and
localized selection.

Runs every scenario (in --jobs parallel processes, biggest first), then
writes <work>/summary.json, the gnuplot PNGs under <docs>/eval/ and
<docs>/EVALUATION.md.  Every number in the report comes from the runs of
this invocation; seeds are fixed, so a rerun reproduces it.
"""
import argparse
import concurrent.futures as cf
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = [1, 2, 3, 4]
BIG = 700
WARMUP_S = 300          # peaks are taken after this (the seeds' first fan-out is before it)
DOWN_AT, STALE = 600, 600
EPS = 0.2
GRAVITY_PEAK = 0.75
EXTERNAL = 0.1

TOPO = {
    # name: (provider, masses, watched link, label)
    "abilene": ("deploy/providers/abilene.conf", "data/populations/abilene.txt", "ATLA-IPLS",
                "Abilene (11 PoPs, 14 links, OSPF weights)"),
    "attmpls": ("deploy/providers/attmpls.conf", "data/populations/attmpls.txt", None,
                "AT&T (Topology Zoo AttMpls, 25 PoPs, 56 links)"),
    "sprint": ("deploy/providers/sprint.conf", "data/populations/sprint.txt", None,
               "Sprint AS 1239 (Rocketfuel, 21 PoPs, 44 links: 25 x 10 Gb/s, 19 x 2.4 Gb/s)"),
}
MODES = {
    # mode label: p4psim arguments
    "native": ["--mode", "native"],
    "native+seed": ["--mode", "native", "--seed-found"],
    "localized": ["--mode", "localized"],
    "p4p": ["--mode", "p4p"],
    "p4p-down": ["--mode", "p4p", "--itracker-down", str(DOWN_AT), "--max-staleness", str(STALE)],
    "p4p-local-start": ["--mode", "p4p", "--local-start"],
}
MAIN_MODES = ["native", "native+seed", "localized", "p4p", "p4p-down"]
OLD_MODEL = ["--no-seed-announce", "--announce-s", "1800", "--turnover", "0"]
SCEN = {
    # scenario: (label, topologies, extra arguments)
    "paper": ("the paper's setup: every link 10 Gb/s (Sprint: its own capacities), no background, every peer "
              "inside the provider", ["abilene", "attmpls"], []),
    "loaded": ("loaded links: gravity background, busiest link at %d%%; 10%% of the leechers outside the provider"
               % (100 * GRAVITY_PEAK), ["abilene", "attmpls", "sprint"], "LOADED"),
}
STREAM_ARGS = ["--swarms", "1", "--peers", "53", "--stream-kbps", "1000", "--access", "10000/10000", "--seed-kbps",
               "10000", "--max-time", "900", "--block-kb", "64", "--unit-blocks", "1", "--numwant", "10",
               "--max-conns", "15"]
SIZES = [100, 300, 500]
EPS_SWEEP = [0.0, 0.1, 0.4, 0.7]
COLORS = {"native": "#d62728", "native+seed": "#ff9896", "localized": "#2ca02c", "p4p": "#1f77b4",
          "p4p-down": "#9467bd", "p4p-local-start": "#17becf", "native (old model)": "#8c564b",
          "p4p (old model)": "#e377c2"}


def topo_args(topo, loaded):
    prov, masses, watch, _ = TOPO[topo]
    a = ["--provider", prov, "--watch", watch or "none"]
    if loaded:
        a += ["--gravity", str(GRAVITY_PEAK), "--masses", masses, "--external", str(EXTERNAL)]
    return a


class Run:
    def __init__(self, key, args, weight):
        self.key, self.args, self.weight = key, args, weight


def plan(seeds, file_mb):
    runs = []
    fm = ["--file-mb", str(file_mb)] if file_mb else []

    def add(key, args, n=BIG):
        runs.append(Run(key, args + ["--peers", str(n)] + fm, n))

    for s in seeds:
        for scen, (_, topos, _x) in SCEN.items():
            loaded = scen == "loaded"
            for topo in topos:
                for m in MAIN_MODES:
                    add((scen, topo, m, s), topo_args(topo, loaded) + MODES[m] + ["--seed", str(s), "--eps", str(EPS)])
        add(("loaded", "abilene", "p4p-local-start", s),
            topo_args("abilene", True) + MODES["p4p-local-start"] + ["--seed", str(s), "--eps", str(EPS)])
        for m in ("native", "p4p"):  # the model the first evaluation used
            add(("oldmodel", "abilene", m, s), topo_args("abilene", False) + MODES[m] + OLD_MODEL +
                ["--seed", str(s), "--eps", str(EPS)])
        for m in ("native", "localized", "p4p"):
            runs.append(Run(("stream", "abilene", m, s), topo_args("abilene", False) + MODES[m] + STREAM_ARGS +
                            ["--seed", str(s), "--eps", str(EPS)], 1))
    for s in seeds[:2]:
        for n in SIZES:
            for m in ("native", "localized", "p4p"):
                add(("sizes%d" % n, "abilene", m, s),
                    topo_args("abilene", True) + MODES[m] + ["--seed", str(s), "--eps", str(EPS)], n)
        for e in EPS_SWEEP:
            add(("eps%g" % e, "abilene", "p4p", s), topo_args("abilene", True) + MODES["p4p"] +
                ["--seed", str(s), "--eps", str(e)])
    runs.sort(key=lambda r: -r.weight)  # biggest first keeps both workers busy to the end
    return runs


def name_of(key):
    return "%s_%s_%s_s%d" % key


def run_one(sim, work, r):
    out = os.path.join(work, "runs", name_of(r.key))
    cmd = [sim] + r.args + ["--out", out, "--quiet"]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), p.stderr.strip()))
    return r.key, time.time() - t0, " ".join(cmd)


# --- reading one run -----------------------------------------------------------

def read_table(path):
    names, rows = None, []
    with open(path) as f:
        for line in f:
            if line.startswith("# time_s") and names is None:
                names = line[2:].split()
                continue
            if line.startswith("#") or not line.strip():
                continue
            rows.append([float(x) for x in line.split()])
    return names, rows


def load_run(work, key):
    base = os.path.join(work, "runs", name_of(key))
    with open(base + ".json") as f:
        d = json.load(f)
    _, ts = read_table(base + ".ts")
    names, links = read_table(base + ".links")
    d["_ts"] = ts
    d["_links"] = (names[1:], links)
    return d


def p2p_link_bytes(d, t_end):
    """Bytes the swarms put on each link during [0, t_end] (background taken out)."""
    names, rows = d["_links"]
    cap, bg = d["link_capacity_kbps"], d["link_background_kbps"]
    out = {n: 0.0 for n in names}
    last = 0.0
    for row in rows:
        t = row[0]
        if t > t_end + 1e-9:
            break
        dt = t - last
        last = t
        for n, u in zip(names, row[1:]):
            out[n] += max(0.0, u * cap[n] - bg[n]) * dt * 1000 / 8
    return out


def metrics(d, t_common):
    ts = d["_ts"]
    after = [r for r in ts if r[0] > WARMUP_S] or ts
    span = [r for r in ts if r[0] <= t_common] or ts
    lb = p2p_link_bytes(d, t_common)
    busiest = max(lb, key=lambda n: lb[n])
    cap = d["link_capacity_kbps"]
    bg = d["link_background_kbps"]
    return {
        "completion_mean_s": d["completion_mean_s"],
        "completion_p90_s": d["completion_p90_s"],
        "peak_mlu": max(r[1] for r in after),
        "mean_mlu": statistics.mean(r[1] for r in span),
        "peak_watch": max(r[2] for r in after),
        "busiest_link": busiest,
        "busiest_link_gb": lb[busiest] / 1e9,
        "busiest_link_cap_gbps": cap[busiest] / 1e6,
        "busiest_link_bg": bg[busiest] / cap[busiest],
        "backbone_gb": d["backbone_bytes"] / 1e9,
        "byte_hops_gb": d["byte_hops"] / 1e9,
        "intra_pid": d["intra_pid_share"],
        "intra_pop": d["intra_pop_share"],
        "external_gb": d["external_bytes"] / 1e9,
        "seed_share": d["seed_upload_share"],
        "seed_conns": d["seed_peak_connections"],
        "end_s": d["end_time_s"],
        "stream_on_time": d.get("stream_on_time_share"),
        "random_share": d.get("selected_random_share"),
        "guided_same_pop": d.get("guided_same_pop_share"),
        "peak_watch_util": max(r[2] for r in after),
        "stream_kbps": d.get("stream_received_kbps_per_peer"),
    }


# --- statistics over seeds -----------------------------------------------------

def mean_sd(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None, None
    return statistics.mean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def paired_change(new, old):
    """Per-seed relative change new/old - 1: mean and sd, None when undefined."""
    ch = [n / o - 1 for n, o in zip(new, old) if n is not None and o not in (None, 0)]
    return mean_sd(ch)


def fmt_ms(m, s, spec="%.1f", scale=1.0):
    if m is None:
        return "n/a"
    return (spec + " ± " + spec) % (m * scale, s * scale)


def fmt_ch(m, s):
    if m is None:
        return "n/a"
    return "%+.0f%% ± %.0f" % (100 * m, 100 * s)


def verdict(ch_mean, ch_sd, nseeds, lower_is_better=True, floor=0.01):
    """'better' / 'worse' / 'same' for a paired change: the mean must exceed
    both 1 % and twice its standard error."""
    if ch_mean is None:
        return "n/a"
    se = ch_sd / math.sqrt(max(1, nseeds))
    if abs(ch_mean) < max(floor, 2 * se):
        return "same"
    good = ch_mean < 0 if lower_is_better else ch_mean > 0
    return "better" if good else "worse"


def gnuplot(script, work):
    path = os.path.join(work, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", path], check=True)


PNG = "set terminal pngcairo size 820,480 font ',10'\n"


# --- main ------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default="build/eval")
    ap.add_argument("--docs", default="docs")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--file-mb", type=float, default=None, help="smaller file for a smoke run")
    ap.add_argument("--report-only", action="store_true", help="redo summary, plots and report from --work")
    a = ap.parse_args()
    os.makedirs(os.path.join(a.work, "runs"), exist_ok=True)
    os.makedirs(os.path.join(a.docs, "eval"), exist_ok=True)
    seeds = [int(x) for x in a.seeds.split(",")]
    runs = plan(seeds, a.file_mb)
    cmds = {}
    t0 = time.time()
    meta_path = os.path.join(a.work, "meta.json")
    if a.report_only:
        with open(meta_path) as f:
            meta = json.load(f)
    else:
        print("p4psim evaluation: %d runs on %d workers" % (len(runs), a.jobs), flush=True)
        with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
            futs = [ex.submit(run_one, a.sim, a.work, r) for r in runs]
            for k, fu in enumerate(cf.as_completed(futs), 1):
                key, wall, cmd = fu.result()
                cmds[name_of(key)] = cmd
                print("[%3d/%d %5.0fs] %-40s (%.1f s)" % (k, len(runs), time.time() - t0, name_of(key), wall),
                      flush=True)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        meta = {"runs": len(runs), "jobs": a.jobs, "wall_s": round(time.time() - t0, 1),
                "user_s": round(ru.ru_utime, 1), "sys_s": round(ru.ru_stime, 1), "cmds": cmds}
        with open(meta_path, "w") as f:
            json.dump(meta, f)
    raw = {r.key: load_run(a.work, r.key) for r in runs}
    report(a, seeds, runs, raw, meta)
    print("wrote %s/summary.json, %s/EVALUATION.md and %s/eval/*.png (runs: %.0f s wall, %.0f s user CPU)" % (
        a.work, a.docs, a.docs, meta["wall_s"], meta["user_s"]))


def report(a, seeds, runs, raw, meta):
    ns = len(seeds)
    groups = {}
    for (scen, topo, mode, s) in raw:
        groups.setdefault((scen, topo), set()).add(mode)
    # a common span per (scenario, topology, seed): until the first of the compared runs ends
    common = {}
    for (scen, topo, mode, s), d in raw.items():
        k = (scen, topo, s)
        common[k] = min(common.get(k, float("inf")), d["end_time_s"])
    M = {key: metrics(d, common[(key[0], key[1], key[3])]) for key, d in raw.items()}

    def vals(scen, topo, mode, k):
        return [M[(scen, topo, mode, s)][k] for s in seeds if (scen, topo, mode, s) in M]

    def ms(scen, topo, mode, k):
        return mean_sd(vals(scen, topo, mode, k))

    def ch(scen, topo, mode, base, k):
        return paired_change(vals(scen, topo, mode, k), vals(scen, topo, base, k))

    summary = {name_of(k): {x: y for x, y in v.items()} for k, v in M.items()}
    summary["_meta"] = {x: y for x, y in meta.items() if x != "cmds"}
    summary["_meta"]["seeds"] = seeds
    with open(os.path.join(a.work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)

    plots = make_plots(a, seeds, raw, M, groups)
    L = []
    w = L.append
    w("# Evaluation: P4P against native and localized selection, on loaded and heterogeneous networks")
    w("")
    w("Generated by `make eval` (`sim/eval.py`): %d runs of `build/p4psim`, %d seeds (%s) per point, %.0f s wall "
      "time and %.0f s user CPU on %d workers. Every number below comes from these runs; a rerun gives the same "
      "numbers. `±` is the standard deviation over the seeds; changes are per-seed paired changes against the "
      "baseline named in the column. Machine-readable: `build/eval/summary.json`. The model and its "
      "simplifications: [SIMULATOR.md](SIMULATOR.md); the optimizer and the weight rule: "
      "[OPTIMIZER.md](OPTIMIZER.md)." % (meta["runs"], ns, ", ".join(map(str, seeds)), meta["wall_s"],
                                          meta["user_s"], meta["jobs"]))
    w("")
    closing = closing_note(seeds, ch, ms, vals)
    w("## In short")
    w("")
    L.extend(closing)
    w("")
    w("## Setup")
    w("")
    w("- **Swarms** as in the paper (§3.2): two swarms, each one 1 Gb/s seed and N = %d leechers arriving in the "
      "first 10 s at uniformly random PoPs (then a random PID of the PoP), Bharambe access mix (20%% 784/128 kb/s, "
      "40%% 1.5/0.384, 25%% 3/1, 15%% 10/5 Mb/s), a 256 MB file in 256 KB blocks, leechers leave when done." % BIG)
    w("- **Clients** (what changed since the first evaluation, docs/SIMULATOR.md): every peer re-announces every "
      "300 s (and after 60 s while below 20 connections); seeds announce too and connect out to the leechers "
      "returned; a leecher near its connection limit drops its 4 % least useful connections at each announce "
      "(libtorrent's `peer_turnover` default), so later announces, and later guidance, reach it; tit-for-tat with "
      "4 regular + 1 optimistic unchoke, the 1 Gb/s seed one slot per 10 Mb/s.")
    w("- **Selection**: the tracker's own module through `p4p/p4p.h`, as upstream's patched code calls it: the "
      "PID map and guidance published as messages (`p4p_embed_publish()`, the loader's path), swarms kept as "
      "upstream keeps them (in the module's PID layout while it has a PID map), answers from `p4p_select_peers()` (numwant 50, random fraction ε = %g), and upstream's "
      "stock stride walk when the module declines (requester in no PID, no P4P data):" % EPS)
    w("  - *native*: no P4P data, stock opentracker: every answer is upstream's stride walk (each peer with "
      "probability 50 / n, but one answer is a dense sample of a window of about half the list, in the list's "
      "order: addresses, hash buckets above 512 peers, or PID groups while the module arranges the list);")
    w("  - *native+seed*: native, and every leecher announce also connects the leecher to its swarm's 1 Gb/s "
      "seed (a seed accepting whoever the tracker names; PEX would do the same): the upper bound of seed-finding "
      "for native;")
    w("  - *localized*: guidance that puts every guided pick inside the requester's **own PoP** (its PIDs "
      "weighted by the swarm's registered peers, equally while none has any), ε = %g random, refreshed every "
      "30 s with the re-solves (not per announce). No optimizer is needed, only the PID map and peer counts;" % EPS)
    w("  - *p4p*: the swarm's rows from the optimizer, fed every 30 s from the peers' state (below), the "
      "iTracker's default matrix (normalized p-distances, exp(−cost/25)) before the first solve that sees the "
      "swarm's leechers (the tracker's behaviour for a swarm it has not reported yet);")
    w("  - *p4p-down*: p4p, but the iTracker stops answering at t = %d s; the tracker keeps the last guidance "
      "for `max_staleness` = %d s (compressed from the default 7200 s so the fallback happens within the run), "
      "then drops the provider's data and runs stock selection;" % (DOWN_AT, STALE))
    w("  - *p4p-local-start* (one extra row, loaded Abilene): p4p with the localized row instead of the default "
      "matrix until the first solve.")
    w("- **What the optimizer is fed** (issue 16 item 2): per swarm and PoP, over joined peers inside the provider: "
      "ũ = uplinks of the peers that have data (seeds, finished peers that stay, leechers with at least one "
      "unit), each capped at what its unchoke slots can deliver ((slots + 1) × the swarm's mean leecher "
      "downlink: the 1 Gb/s seed counts ~0.3 Gb/s); d̃ = downlinks of the leechers (the stream rate when "
      "streaming); n = peers. The optimizer applies the paper's residual u = max(ũ − d̃, 0), d = max(d̃ − ũ, 0) "
      "per PoP (a PoP's peers serve each other first, only the imbalance needs the backbone), takes the **fair "
      "plan** (proportional split of supply over demand unless that lifts the MLU more than 2 points above the "
      "optimum) and turns it into rows with w_ij ∝ n_j (t_ji/ũ_j + t_ij/d̃_j), w_ii ∝ n_i (L_i/ũ_i + L_i/d̃_i) "
      "(OPTIMIZER.md): no PoP becomes a hub and the rows do not depend on LP tie-breaking.")
    w("- **Networks**: `deploy/providers/abilene.conf` and `attmpls.conf` (10 Gb/s links, as in the paper) and "
      "`deploy/providers/sprint.conf`, converted by `sim/topo2provider.py` from the Rocketfuel weights file "
      "`data/rocketfuel/1239/weights.intra` (Sprint, AS 1239; provenance in `data/rocketfuel/README.md`): "
      "real inferred IGP weights, capacities 10 or 2.4 Gb/s inferred from the number of router-level links "
      "between two PoPs (Rocketfuel has no capacities).")
    w("- **Background** (loaded scenario): a gravity matrix, PoP i sends j traffic ∝ m_i m_j (m = metro "
      "population for Abilene and AT&T, `data/populations/`; routers per PoP for Sprint), routed on the IGP "
      "routes and scaled so the busiest link runs at %d%%. It is written into the topology as b_e, so the "
      "optimizer sees it exactly as a provider file's `background` and the simulated links have only c_e − b_e "
      "for the swarms. Resulting link loads:" % (100 * GRAVITY_PEAK))
    for topo in SCEN["loaded"][1]:
        d = raw[("loaded", topo, "native", seeds[0])]
        u = sorted(d["link_background_kbps"][n] / d["link_capacity_kbps"][n] for n in d["link_capacity_kbps"])
        w("  - %s: %d of %d directed links above 40%%, %d above 60%%, median %.0f%%, busiest %.0f%%." % (
            TOPO[topo][3], sum(x > 0.4 for x in u), len(u), sum(x > 0.6 for x in u), 100 * statistics.median(u),
            100 * u[-1]))
    w("  The loaded scenario also puts %d%% of the leechers outside the provider (in no PID, entering at the "
      "best connected PoP), so inter-domain traffic can be measured." % (100 * EXTERNAL))
    w("- **Metrics**: completion time (mean, p90); MLU = utilization of the most loaded directed link, "
      "background included, 10-s averages, *peak after a %d-s warm-up* and *mean over the common span* (from 0 "
      "until the first of the compared runs of that seed ends); *busiest link*: the link carrying the most swarm "
      "bytes over the common span, with those bytes; backbone bytes and bytes × hops; share of traffic inside a "
      "PID; inter-domain bytes (between the provider's peers and the outside ones)." % WARMUP_S)
    w("")
    w("## The seed-finding confound (issue 16 item 1)")
    w("")
    w("The first evaluation's −20 % completion came from leechers finding the seed. Same setup (paper, Abilene), "
      "old client model (seeds never announce, 30-min re-announces, no turnover) against the current one:")
    w("")
    w("| client model | native completion (s) | p4p completion (s) | p4p vs native | first seeds' peak connections, native / p4p |")
    w("|---|---|---|---|---|")
    for label, scen in (("old: seeds never announce", "oldmodel"), ("current", "paper")):
        w("| %s | %s | %s | %s | %s / %s |" % (
            label, fmt_ms(*ms(scen, "abilene", "native", "completion_mean_s"), spec="%.0f"),
            fmt_ms(*ms(scen, "abilene", "p4p", "completion_mean_s"), spec="%.0f"),
            fmt_ch(*ch(scen, "abilene", "p4p", "native", "completion_mean_s")),
            fmt_ms(*ms(scen, "abilene", "native", "seed_conns"), spec="%.0f"),
            fmt_ms(*ms(scen, "abilene", "p4p", "seed_conns"), spec="%.0f")))
    w("")
    w("With the old model, native's seed is found only by leechers whose lists happen to contain it; once seeds "
      "keep being found (they announce, and connect out) native completes as fast as native+seed (table below) "
      "and P4P's completion gain disappears. The old weight rule is gone, so the old-model p4p row uses the new "
      "rule; its gain there is what remains of the seed effect with rows that no longer point at the seed's PoP.")
    w("")
    w("![first seeds' connections](eval/%s)" % plots["seedconns"])
    w("")
    for scen in ("paper", "loaded"):
        label, topos, _ = SCEN[scen]
        w("## Scenario: %s" % label)
        w("")
        for topo in topos:
            modes = [m for m in MAIN_MODES + ["p4p-local-start"] if m in groups[(scen, topo)]]
            w("### %s" % TOPO[topo][3])
            w("")
            w("| selection | mean completion (s) | p90 (s) | peak MLU after warm-up | mean MLU | busiest link: swarm GB (link) | backbone GB | bytes × hops (GB) | inside a PID | inter-domain GB |")
            w("|---|---|---|---|---|---|---|---|---|---|")
            for m in modes:
                def cell(k, spec="%.1f", scale=1.0, pct=True):
                    mm, sd = ms(scen, topo, m, k)
                    txt = fmt_ms(mm, sd, spec, scale)
                    if m != "native" and pct:
                        txt += " (%s)" % fmt_ch(*ch(scen, topo, m, "native", k))
                    return txt
                links = sorted({M[(scen, topo, m, s)]["busiest_link"] for s in seeds})
                w("| %s | %s | %s | %s | %s | %s (%s) | %s | %s | %s | %s |" % (
                    m, cell("completion_mean_s", "%.0f"), cell("completion_p90_s", "%.0f"),
                    cell("peak_mlu", "%.1f%%", 100), cell("mean_mlu", "%.1f%%", 100),
                    cell("busiest_link_gb", "%.1f"), ", ".join(links), cell("backbone_gb", "%.0f"),
                    cell("byte_hops_gb", "%.0f"), cell("intra_pid", "%.1f%%", 100, False),
                    cell("external_gb", "%.1f", 1.0, scen == "loaded")))
            w("")
            w("P4P against localized (paired per seed): completion %s, peak MLU %s, busiest-link swarm bytes %s, "
              "bytes × hops %s%s." % (
                  fmt_ch(*ch(scen, topo, "p4p", "localized", "completion_mean_s")),
                  fmt_ch(*ch(scen, topo, "p4p", "localized", "peak_mlu")),
                  fmt_ch(*ch(scen, topo, "p4p", "localized", "busiest_link_gb")),
                  fmt_ch(*ch(scen, topo, "p4p", "localized", "byte_hops_gb")),
                  (", inter-domain bytes %s" % fmt_ch(*ch(scen, topo, "p4p", "localized", "external_gb")))
                  if scen == "loaded" else ""))
            w("")
            for p in plots["scen"].get((scen, topo), []):
                w("![%s](eval/%s)" % (p, p))
            w("")
    w("### Swarm size and random fraction (loaded Abilene, seeds %s)" % ", ".join(map(str, seeds[:2])))
    w("")
    w("| N | native (s) | localized (s) | p4p (s) | p4p vs native: completion, bytes × hops | p4p vs localized: bytes × hops |")
    w("|---|---|---|---|---|---|")
    for n in SIZES + [BIG]:
        scen = "sizes%d" % n if n != BIG else "loaded"
        sd2 = seeds[:2]

        def v2(m, k):
            return [M[(scen, "abilene", m, s)][k] for s in sd2]
        w("| %d | %s | %s | %s | %s, %s | %s |" % (
            n, fmt_ms(*mean_sd(v2("native", "completion_mean_s")), spec="%.0f"),
            fmt_ms(*mean_sd(v2("localized", "completion_mean_s")), spec="%.0f"),
            fmt_ms(*mean_sd(v2("p4p", "completion_mean_s")), spec="%.0f"),
            fmt_ch(*paired_change(v2("p4p", "completion_mean_s"), v2("native", "completion_mean_s"))),
            fmt_ch(*paired_change(v2("p4p", "byte_hops_gb"), v2("native", "byte_hops_gb"))),
            fmt_ch(*paired_change(v2("p4p", "byte_hops_gb"), v2("localized", "byte_hops_gb")))))
    w("")
    w("| ε (p4p) | mean completion (s) | peak MLU | busiest-link swarm GB | bytes × hops (GB) | inside a PID |")
    w("|---|---|---|---|---|---|")
    for e in EPS_SWEEP[:2] + [EPS] + EPS_SWEEP[2:]:
        scen = "eps%g" % e if e != EPS else "loaded"
        def v2(k):
            return mean_sd([M[(scen, "abilene", "p4p", s)][k] for s in seeds[:2]])
        w("| %g | %s | %s | %s | %s | %s |" % (e, fmt_ms(*v2("completion_mean_s"), spec="%.0f"),
                                                fmt_ms(*v2("peak_mlu"), spec="%.1f%%", scale=100),
                                                fmt_ms(*v2("busiest_link_gb")), fmt_ms(*v2("byte_hops_gb"), spec="%.0f"),
                                                fmt_ms(*v2("intra_pid"), spec="%.1f%%", scale=100)))
    w("")
    w("![completion against swarm size](eval/%s)" % plots["sizes"])
    w("")
    w("## The streaming experiment (paper §3.2, Figure 6)")
    w("")
    w("A Liveswarms-like swarm on Abilene with OSPF weights: one source and 53 viewers at random PoPs, all joining "
      "at t ≈ 0, 900 s. The source makes a 1 Mb/s stream in 64 KB units; a viewer fetches, rarest first, the "
      "units born in the last 30 s it does not have (nothing older: those are late), numwant 10 and at most 15 "
      "connections (with 53 peers a list of 50 is the whole swarm and no selection could matter). Access "
      "links 10 Mb/s both ways (PlanetLab-like), same for the source. A unit is *on time* when it arrives "
      "within 30 s of its birth. *Average link load* = swarm bytes per backbone link, both directions, over "
      "the 900 s, averaged over Abilene's 14 links (the paper's Figure 6 quantity).")
    w("")
    w("| selection | on time | received per viewer (kb/s) | average link load (Mb/s) | bytes × hops (GB) | inside the PoP |")
    w("|---|---|---|---|---|---|")
    for m in ("native", "localized", "p4p"):
        ll = [stream_link_load(raw[("stream", "abilene", m, s)]) for s in seeds]
        def v(k, spec, scale=1.0):
            return fmt_ms(*ms("stream", "abilene", m, k), spec=spec, scale=scale)
        txt = fmt_ms(*mean_sd(ll), spec="%.1f")
        if m != "native":
            txt += " (%s)" % fmt_ch(*paired_change(ll, [stream_link_load(raw[("stream", "abilene", "native", s)])
                                                       for s in seeds]))
        w("| %s | %s | %s | %s | %s | %s |" % (m, v("stream_on_time", "%.1f%%", 100), v("stream_kbps", "%.0f"), txt,
                                              v("byte_hops_gb", "%.1f"), v("intra_pop", "%.0f%%", 100)))
    w("")
    w("![per-link traffic, streaming](eval/%s)" % plots["stream"])
    w("")
    def stream_ch(m):
        ll = [stream_link_load(raw[("stream", "abilene", m, s)]) for s in seeds]
        base = [stream_link_load(raw[("stream", "abilene", "native", s)]) for s in seeds]
        return fmt_ch(*paired_change(ll, base))
    L.extend(differences(seeds, ch, ms, stream_ch))
    w("")
    w("## Reproduce")
    w("")
    w("```")
    w("make eval        # all of the above: %d runs, ~%.0f s on 2 idle cores (%.0f s CPU)" % (
        meta["runs"], meta["user_s"] / 2, meta["user_s"]))
    w("build/p4psim --provider deploy/providers/sprint.conf --mode p4p --peers 700 --seed 1 \\")
    w("    --gravity %g --masses data/populations/sprint.txt --external %g --watch none --out /tmp/run" % (
        GRAVITY_PEAK, EXTERNAL))
    w("```")
    w("")
    with open(os.path.join(a.docs, "EVALUATION.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def stream_link_load(d):
    """Average swarm load of a backbone link (both directions summed), Mb/s, over the run."""
    lb = d["link_bytes"]
    return sum(lb.values()) * 8 / d["end_time_s"] / 1e6 / (len(lb) / 2)


def closing_note(seeds, ch, ms, vals):
    ns = len(seeds)
    out = []
    rows = []
    for scen, topos in (("paper", SCEN["paper"][1]), ("loaded", SCEN["loaded"][1])):
        for topo in topos:
            r = {}
            for k, low in (("completion_mean_s", True), ("peak_mlu", True), ("busiest_link_gb", True),
                           ("byte_hops_gb", True), ("external_gb", True)):
                if scen == "paper" and k == "external_gb":
                    continue
                r[k] = (ch(scen, topo, "p4p", "localized", k), ch(scen, topo, "p4p", "native", k),
                        ch(scen, topo, "localized", "native", k), ch(scen, topo, "native+seed", "native", k),
                        verdict(*ch(scen, topo, "p4p", "localized", k), ns, low))
            rows.append((scen, topo, r))
    out.append("| scenario | topology | metric | P4P vs native | localized vs native | P4P vs localized | verdict (P4P against localized) |")
    out.append("|---|---|---|---|---|---|---|")
    names = {"completion_mean_s": "mean completion", "peak_mlu": "peak MLU (with background)",
             "busiest_link_gb": "swarm bytes on the busiest link", "byte_hops_gb": "bytes × hops",
             "external_gb": "inter-domain bytes"}
    better, worse = [], []
    for scen, topo, r in rows:
        for k, (pl, pn, ln, sn, v) in r.items():
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (scen, topo, names[k], fmt_ch(*pn), fmt_ch(*ln),
                                                             fmt_ch(*pl), v))
            item = "%s/%s %s %s" % (scen, topo, names[k], fmt_ch(*pl))
            (better if v == "better" else worse if v == "worse" else []).append(item)
    out.append("")
    out.append("Verdict: the paired change must exceed 1 %% and twice its standard error over the %d seeds." % ns)
    out.append("")
    cm = [ch(scen, topo, "p4p", "native", "completion_mean_s")[0] for scen, topo, _ in rows]
    sf = [ch(scen, topo, "native+seed", "native", "completion_mean_s")[0] for scen, topo, _ in rows]
    bh = [ch(scen, topo, "p4p", "native", "byte_hops_gb")[0] for scen, topo, _ in rows]
    bl = [ch(scen, topo, "localized", "native", "byte_hops_gb")[0] for scen, topo, _ in rows]
    lt = SCEN["loaded"][1]
    ep = [ch("loaded", t, "p4p", "native", "external_gb")[0] for t in lt]
    el = [ch("loaded", t, "localized", "native", "external_gb")[0] for t in lt]
    if max(abs(x) for x in cm + sf) < 0.05:
        out.append("- **Completion time is not P4P's gain here.** Once seeds keep being found, P4P changes mean "
                   "completion by %+.0f%% to %+.0f%% against native, and giving native every announcer a "
                   "connection to the seed changes it by %+.0f%% to %+.0f%%. Every swarm is limited by its "
                   "upload capacity, which no peer selection adds to, and the backbone (even at %d%% background) "
                   "never limits a transfer." % (100 * min(cm), 100 * max(cm), 100 * min(sf), 100 * max(sf),
                                                 100 * GRAVITY_PEAK))
    else:
        out.append("- **Completion time:** P4P changes it by %+.0f%% to %+.0f%% against native; native with the "
                   "seed always found by %+.0f%% to %+.0f%%." % (100 * min(cm), 100 * max(cm), 100 * min(sf),
                                                                100 * max(sf)))
    out.append("- **The network gain is locality's, and P4P delivers most of it.** Bytes × hops fall by %.0f%% "
               "to %.0f%% with P4P and by %.0f%% to %.0f%% with localized selection; inter-domain bytes (loaded "
               "scenario) by %.0f%% to %.0f%% with P4P and %.0f%% to %.0f%% with localized." % (
                   -100 * max(bh), -100 * min(bh), -100 * max(bl), -100 * min(bl),
                   -100 * max(ep), -100 * min(ep), -100 * max(el), -100 * min(el)))
    rs = []
    for scen, topo, _ in rows:
        rs.append("%s/%s %.0f%% vs %.0f%%" % (scen, topo, 100 * ms(scen, topo, "localized", "guided_same_pop")[0],
                                              100 * ms(scen, topo, "p4p", "guided_same_pop")[0]))
    if better:
        out.append("- **Where P4P beats localized:** " + "; ".join(better) + ". Where a PoP holds fewer of the "
                   "swarm's peers than an answer's 40 guided picks (AT&T's 25 and Sprint's 21 PoPs, and every "
                   "PoP late in a run as leechers leave), localized selection has nowhere else to put them: the "
                   "tracker's water-filling turns them into random picks, uniform over the network and the "
                   "outside world. P4P's rows also name the supply PoPs, so the rest goes there. Share of the "
                   "module's picks inside the requester's own PoP, localized vs P4P: " + ", ".join(rs) + " (a "
                   "localized answer puts at least 80 % there when the PoP has room for its guided picks; what is "
                   "missing went to random peers). A localized row that falls back to nearby PoPs would close "
                   "this gap without an optimizer.")
    else:
        out.append("- **P4P beats localized nowhere** by the verdict rule above.")
    lsm = ch("loaded", "abilene", "p4p-local-start", "localized", "byte_hops_gb")
    if worse:
        out.append("- **Where P4P is worse than localized:** " + "; ".join(worse) + ". On Abilene (PoPs large "
                   "enough for localized rows) the cause is the first half minute: until the first solve that "
                   "sees a new swarm, P4P answers with the iTracker's default matrix, only mildly local "
                   "(exp(−cost/25) over p-distances on a 0–100 scale), and a flash crowd fills its connection "
                   "tables in those seconds; 4 %% turnover per 300 s undoes that only slowly. With localized rows "
                   "until the first solve (p4p-local-start, loaded Abilene) P4P's bytes × hops against localized "
                   "go from %s to %s. Peak MLU in the paper setup is a few %% of 10 Gb/s, where one seed's "
                   "fan-out moves it by a fifth." % (fmt_ch(*ch("loaded", "abilene", "p4p", "localized", "byte_hops_gb")),
                                               fmt_ch(*lsm)))
    dn = [ch(scen, topo, "p4p-down", "p4p", "byte_hops_gb")[0] for scen, topo, _ in rows]
    dc = [ch(scen, topo, "p4p-down", "p4p", "completion_mean_s")[0] for scen, topo, _ in rows]
    out.append("- **iTracker down** at %d s, stock selection from %d s: bytes × hops %+.0f%% to %+.0f%% against "
               "p4p, completion %+.0f%% to %+.0f%%. The connections made under guidance stay, so locality fades "
               "slowly; nothing else changes." % (DOWN_AT, DOWN_AT + STALE, 100 * min(dn), 100 * max(dn),
                                                  100 * min(dc), 100 * max(dc)))
    out.append("- **Which gain is P4P's own:** none that localized selection with a better fallback would not "
               "also get in these scenarios. The backbone never binds, so the optimizer's objective (min MLU with "
               "b_e) never has to choose between plans that differ for the network; its rows add a few percent of "
               "picks towards supply PoPs, which helps where PoPs are small (above) and nowhere else.")
    return out


def differences(seeds, ch, ms, stream_ch):
    o = []
    w = o.append
    c_ab = ch("paper", "abilene", "p4p", "native", "completion_mean_s")
    c_at = ch("paper", "attmpls", "p4p", "native", "completion_mean_s")
    u_ab = ch("paper", "abilene", "p4p", "native", "peak_mlu")
    u_at = ch("paper", "attmpls", "p4p", "native", "peak_mlu")
    b_ab = ch("paper", "abilene", "p4p", "native", "busiest_link_gb")
    b_at = ch("paper", "attmpls", "p4p", "native", "busiest_link_gb")
    w("## Differences from the paper, point by point")
    w("")
    w("| paper (§3.2) | here | why |")
    w("|---|---|---|")
    w("| completion −45%% (Abilene and AT&T) | %s (Abilene), %s (AT&T) | access links and the swarms' upload "
      "capacity limit every transfer; the backbone never does (MLU of a few %% without background); once seeds "
      "keep being found, peer selection cannot add upload capacity. The paper does not describe its simulator "
      "(seed slots, announces, TCP), so its gain cannot be traced; the first version of this evaluation got "
      "−20%% from a seed that native could not find (above). |" % (fmt_ch(*c_ab), fmt_ch(*c_at)))
    w("| bottleneck utilization −50%% (Abilene), −70%% (AT&T) | peak MLU %s / %s, busiest-link swarm bytes %s / "
      "%s | the same locality effect; the paper does not define its utilization metric; we take the peak after "
      "warm-up (the seeds' first fan-out, t < %d s, is excluded) and the bytes over a common span, so a faster "
      "run does not look lighter or heavier. |" % (fmt_ch(*u_ab), fmt_ch(*u_at), fmt_ch(*b_ab), fmt_ch(*b_at),
                                                  WARMUP_S))
    w("| ATLA–IPLS lower and shorter with P4P | see the ATLA–IPLS plots | the link carries a few %% at most: its "
      "peak after warm-up changes by %s with P4P and %s with localized selection (paper setup, Abilene). |" % (
          fmt_ch(*ch("paper", "abilene", "p4p", "native", "peak_watch_util")),
          fmt_ch(*ch("paper", "abilene", "localized", "native", "peak_watch_util"))))
    w("| robust to heterogeneous capacities | Sprint, 2.4/10 Gb/s, loaded: swarm bytes on the busiest link %s "
      "(P4P) and %s (localized), peak MLU %s and %s | capacities are inferred (Rocketfuel has none); the "
      "background dominates the peak; P4P is as robust as localized selection, neither more nor less. |" % (
          fmt_ch(*ch("loaded", "sprint", "p4p", "native", "busiest_link_gb")),
          fmt_ch(*ch("loaded", "sprint", "localized", "native", "busiest_link_gb")),
          fmt_ch(*ch("loaded", "sprint", "p4p", "native", "peak_mlu")),
          fmt_ch(*ch("loaded", "sprint", "localized", "native", "peak_mlu"))))
    w("| streaming: average link load 1.1 → 0.37 Gb/s (−66 %%), same throughput | average link load %s with "
      "P4P, %s with localized; on-time share unchanged (table above) | our 53 viewers move a 1 Mb/s stream, "
      "so loads are Mb/s, not Gb/s (the paper gives no stream rate); the relative change is the comparable "
      "number. With demand capped at the stream rate every PoP whose viewers hold data is a supply PoP, "
      "T_opt ≈ 0 and P4P's rows are nearly own-PoP rows; with ~5 viewers per PoP, fewer than the 8 guided "
      "picks, localized selection's rest turns random while P4P's rows name a few other PoPs (the effect of "
      "the closing note), hence the small difference. |" % (
          stream_ch("p4p"), stream_ch("localized")))
    w("| optimizer: w_ij = t_ij / Σ_j t_ij | rows from the fair plan, counting peers | the paper's rows are "
      "empty for demand PoPs and, fed with ũ − d̃, point every row at the seed's PoP (issue 16); OPTIMIZER.md. |")
    w("")
    w("We did not tune any parameter to the paper's numbers; every model choice is argued in SIMULATOR.md.")
    return o


def make_plots(a, seeds, raw, M, groups):
    d_eval = os.path.join(a.docs, "eval")
    # drop plots of an earlier report
    for f in os.listdir(d_eval):
        if f.endswith(".png"):
            os.remove(os.path.join(d_eval, f))
    out = {"scen": {}}
    s1 = seeds[0]
    for (scen, topo), modes in sorted(groups.items()):
        if scen not in SCEN:
            continue
        lst = out["scen"].setdefault((scen, topo), [])
        modes = [m for m in MAIN_MODES if m in modes]
        base = os.path.join(a.work, "runs")
        fn = "%s_%s_mlu.png" % (scen, topo)
        series = ", ".join("'%s' u 1:($2*100) w l lw 2 lc rgb '%s' t '%s'" % (
            os.path.join(base, name_of((scen, topo, m, s1)) + ".ts"), COLORS[m], m) for m in modes)
        gnuplot(PNG + "set output '%s'\nset title \"MLU over time (background included), %s, %s, seed %d\"\n"
                "set xlabel 'time (s)'; set ylabel 'utilization of the most loaded link (%%)'; set grid\n"
                "set key top right\nplot %s\n" % (os.path.join(d_eval, fn), scen, topo, s1, series), a.work)
        lst.append(fn)
        if TOPO[topo][2]:
            fn = "%s_%s_%s.png" % (scen, topo, TOPO[topo][2].replace("-", "_").lower())
            series = ", ".join("'%s' u 1:($3*100) w l lw 2 lc rgb '%s' t '%s'" % (
                os.path.join(base, name_of((scen, topo, m, s1)) + ".ts"), COLORS[m], m) for m in modes)
            gnuplot(PNG + "set output '%s'\nset title \"Utilization of %s (busier direction), %s, seed %d\"\n"
                    "set xlabel 'time (s)'; set ylabel 'utilization (%%)'; set grid\nset key top right\n"
                    "plot %s\n" % (os.path.join(d_eval, fn), TOPO[topo][2], scen, s1, series), a.work)
            lst.append(fn)
        fn = "%s_%s_cdf.png" % (scen, topo)
        series = ", ".join("'%s' u 1:2 w l lw 2 lc rgb '%s' t '%s'" % (
            os.path.join(base, name_of((scen, topo, m, s1)) + ".ct"), COLORS[m], m) for m in modes)
        gnuplot(PNG + "set output '%s'\nset title 'Completion time CDF, %s, %s, seed %d'\nset xlabel 'completion "
                "time (s)'; set ylabel 'fraction of leechers done'; set grid; set key bottom right\n"
                "set yrange [0:1]\nplot %s\n" % (os.path.join(d_eval, fn), scen, topo, s1, series), a.work)
        lst.append(fn)
    # first seeds' connections, old against current model
    fn = "seed_connections.png"
    base = os.path.join(a.work, "runs")
    spec = [(("oldmodel", "abilene", "native", s1), "native (old model)"), (("oldmodel", "abilene", "p4p", s1),
             "p4p (old model)"), (("paper", "abilene", "native", s1), "native"), (("paper", "abilene", "p4p", s1), "p4p"),
            (("paper", "abilene", "native+seed", s1), "native+seed")]
    series = ", ".join("'%s' u 1:5 w l lw 2 lc rgb '%s' t '%s'" % (os.path.join(base, name_of(k) + ".ts"), COLORS[t], t)
                       for k, t in spec)
    gnuplot(PNG + "set output '%s'\nset title \"Connections of the two 1-Gb/s seeds, Abilene, paper setup, seed %d\"\n"
            "set xlabel 'time (s)'; set ylabel 'connections (both seeds)'; set grid; set key top right\n"
            "set xrange [0:3000]\nplot %s\n" % (os.path.join(d_eval, fn), s1, series), a.work)
    out["seedconns"] = fn
    # completion against N
    dat = os.path.join(a.work, "sizes.dat")
    with open(dat, "w") as f:
        for n in SIZES + [BIG]:
            scen = "sizes%d" % n if n != BIG else "loaded"
            row = [n]
            for m in ("native", "localized", "p4p"):
                row.append(statistics.mean(M[(scen, "abilene", m, s)]["completion_mean_s"] for s in seeds[:2]))
            f.write(" ".join("%g" % x for x in row) + "\n")
    fn = "sizes_completion.png"
    gnuplot(PNG + "set output '%s'\nset title 'Mean completion time, loaded Abilene, mean of %d seeds'\n"
            "set xlabel 'leechers per swarm'; set ylabel 'completion time (s)'; set grid; set key top left\n"
            "set yrange [0:*]\nplot '%s' u 1:2 w lp lw 2 lc rgb '%s' t 'native', '' u 1:3 w lp lw 2 lc rgb '%s' "
            "t 'localized', '' u 1:4 w lp lw 2 lc rgb '%s' t 'p4p'\n" % (
                os.path.join(d_eval, fn), len(seeds[:2]), dat, COLORS["native"], COLORS["localized"],
                COLORS["p4p"]), a.work)
    out["sizes"] = fn
    # streaming: per-link traffic (both directions), native / localized / p4p, seed 1
    dat = os.path.join(a.work, "stream_links.dat")
    runs = {m: raw[("stream", "abilene", m, s1)] for m in ("native", "localized", "p4p")}
    names = sorted({n.replace("->", "-") if n.split("->")[0] < n.split("->")[1] else
                    "-".join(reversed(n.split("->"))) for n in runs["native"]["link_bytes"]})
    with open(dat, "w") as f:
        for n in names:
            x, y = n.split("-")
            vals = []
            for m in ("native", "localized", "p4p"):
                lb = runs[m]["link_bytes"]
                vals.append((lb.get("%s->%s" % (x, y), 0) + lb.get("%s->%s" % (y, x), 0)) * 8 / 900 / 1e6)
            f.write("%s %s\n" % (n, " ".join("%.3f" % v for v in vals)))
    fn = "stream_links.png"
    gnuplot(PNG + "set output '%s'\nset title 'Streaming on Abilene: average load of each backbone link (both "
            "directions), seed %d'\nset style data histograms; set style histogram cluster gap 1\n"
            "set style fill solid 0.8 border -1; set boxwidth 0.9\nset xtics rotate by -45 font ',8'\n"
            "set ylabel 'Mb/s'; set grid ytics\nplot '%s' u 2:xtic(1) lc rgb '%s' t 'native', '' u 3 lc rgb '%s' "
            "t 'localized', '' u 4 lc rgb '%s' t 'p4p'\n" % (os.path.join(d_eval, fn), s1, dat, COLORS["native"],
                                                            COLORS["localized"], COLORS["p4p"]), a.work)
    out["stream"] = fn
    return out


if __name__ == "__main__":
    main()
