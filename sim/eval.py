#!/usr/bin/python3
"""make eval: rerun the P4P paper's BitTorrent experiment with p4psim.

Runs every scenario (in --jobs parallel processes, biggest first), prints
progress, then writes <work>/summary.json, the gnuplot PNGs under
<docs>/eval/ and <docs>/EVALUATION.md.  Every number in the report comes
from the runs of this invocation; seeds are fixed, so a rerun reproduces it.
"""
import argparse
import concurrent.futures as cf
import json
import os
import statistics
import subprocess
import sys
import time

TOPOLOGIES = {
    # name: (provider file, link watched over time, label)
    "abilene": ("deploy/providers/abilene.conf", "ATLA-IPLS", "Abilene (11 PoPs, 14 links)"),
    "attmpls": ("deploy/providers/attmpls.conf", None, "AT&T MPLS (Topology Zoo AttMpls, 25 PoPs)"),
}
MODES = ["native", "p4p", "localized"]
SIZES = [100, 200, 300, 400, 500, 600, 700]
SEEDS = [1, 2]
EPS_SWEEP = [0.0, 0.05, 0.1, 0.2, 0.4, 0.7]
DEFAULT_EPS = 0.2
VARIANT = "_seed4slots"
PAPER = {"completion": 0.45, "abilene_util": 0.50, "attmpls_util": 0.70}


def run_name(topo, mode, n, seed, eps, variant=""):
    e = "" if mode == "native" else "_eps%g" % eps
    return "%s_%s%s_n%d_s%d%s" % (topo, mode, e, n, seed, variant)


def plan(sizes, seeds):
    big = max(sizes)
    runs = []
    for topo in TOPOLOGIES:
        for mode in MODES:
            for n in sizes:
                for seed in seeds:
                    runs.append((topo, mode, n, seed, DEFAULT_EPS))
    for eps in EPS_SWEEP:
        if eps == DEFAULT_EPS:
            continue
        for seed in seeds:
            runs.append(("abilene", "p4p", big, seed, eps))
    # the seed with the stock 4+1 upload slots: how much of the picture is
    # the 1 Gb/s seed's own traffic
    for mode in MODES:
        for seed in seeds:
            runs.append(("abilene", mode, big, seed, DEFAULT_EPS, VARIANT))
    # biggest first keeps both workers busy to the end
    runs.sort(key=lambda r: (-r[2], r))
    return runs


def build_cmd(sim, work, r, extra):
    topo, mode, n, seed, eps = r[:5]
    provider, watch, _ = TOPOLOGIES[topo]
    out = os.path.join(work, "runs", run_name(*r))
    cmd = [sim, "--provider", provider, "--mode", mode, "--peers", str(n), "--seed", str(seed),
           "--eps", str(eps), "--out", out, "--quiet", "--watch", watch or "none"]
    cmd += extra
    if r[5:] == (VARIANT,):
        cmd += ["--slot-kbps", "0"]
    return cmd, out


def run_one(sim, work, r, extra):
    name = run_name(*r)
    cmd, out = build_cmd(sim, work, r, extra)
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), p.stderr.strip()))
    with open(out + ".json") as f:
        d = json.load(f)
    d["wall_s"] = time.time() - t0
    d["cmd"] = " ".join(cmd)
    return name, d


def mean_over_seeds(results, topo, mode, n, eps, seeds, key, variant=""):
    vals = [results[run_name(topo, mode, n, s, eps, variant)].get(key) for s in seeds
            if run_name(topo, mode, n, s, eps, variant) in results]
    vals = [v for v in vals if v is not None]
    return statistics.mean(vals) if vals else None


def read_cols(path, cols):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            v = line.split()
            rows.append([float(v[c]) for c in cols])
    return rows


def gnuplot(script, work):
    path = os.path.join(work, "plot.gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", path], check=True)


def pct(new, old):
    if new is None or old in (None, 0):
        return "n/a"
    return "%+.0f%%" % (100.0 * (new - old) / old)


def fmt(v, spec="%.1f"):
    return "n/a" if v is None else spec % v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default="build/eval")
    ap.add_argument("--docs", default="docs")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="peers per swarm, comma separated")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--file-mb", type=float, default=None, help="smaller file for a smoke run")
    ap.add_argument("--report-only", action="store_true", help="redo summary, plots and report from the runs in --work")
    a = ap.parse_args()
    os.makedirs(os.path.join(a.work, "runs"), exist_ok=True)
    os.makedirs(os.path.join(a.docs, "eval"), exist_ok=True)
    sizes = sorted(int(x) for x in a.sizes.split(","))
    seeds = [int(x) for x in a.seeds.split(",")]
    runs = plan(sizes, seeds)
    extra = ["--file-mb", str(a.file_mb)] if a.file_mb else []
    results = {}
    t0 = time.time()
    if a.report_only:
        try:
            with open(os.path.join(a.work, "summary.json")) as f:
                meta = json.load(f)["_meta"]
        except (OSError, KeyError, ValueError):
            meta = {"wall_s": float("nan"), "jobs": a.jobs}
        for r in runs:
            name = run_name(*r)
            if not os.path.exists(os.path.join(a.work, "runs", name + ".json")):
                print("eval: %s missing, left out of the report" % name, file=sys.stderr)
                continue
            with open(os.path.join(a.work, "runs", name + ".json")) as f:
                results[name] = json.load(f)
            results[name]["cmd"] = " ".join(build_cmd(a.sim, a.work, r, extra)[0])
        wall = meta["wall_s"]
        a.jobs = meta["jobs"]
    print("p4psim evaluation: %d runs on %d workers" % (len(runs), a.jobs), flush=True)
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = {ex.submit(run_one, a.sim, a.work, r, extra): r for r in runs if not a.report_only}
        for k, fu in enumerate(cf.as_completed(futs), 1):
            name, d = fu.result()
            results[name] = d
            print("[%3d/%d %5.0fs] %-36s mean %7.1f s  peak max-link util %.4f  intra-PID %4.1f%%  (%.1f s)" % (
                k, len(runs), time.time() - t0, name, d["completion_mean_s"], d["peak_max_link_util"],
                100 * d["intra_pid_share"], d["wall_s"]), flush=True)
    if not a.report_only:
        wall = time.time() - t0

    # --- summary.json: scenario -> metric -> value ---------------------------
    keys = ["completion_mean_s", "completion_p10_s", "completion_p50_s", "completion_p90_s", "completion_max_s",
            "peak_max_link_util", "mean_max_link_util", "peak_watch_util", "mean_watch_util", "total_bytes",
            "backbone_bytes", "byte_hops", "hops_per_byte", "intra_pid_share", "intra_pop_share",
            "busiest_link_bytes", "completed", "leechers", "end_time_s", "selected_same_pid_share",
            "selected_random_share", "optimizer_solves", "seed_upload_share", "seed_peak_connections"]
    summary = {}
    for name, d in sorted(results.items()):
        summary[name] = {k: d.get(k) for k in keys}
        summary[name]["busiest_link"] = d.get("busiest_link")
    groups = sorted({(r[0], r[1], r[2], r[4], (r[5:] or ("",))[0]) for r in runs})
    for topo, mode, n, eps, var in groups:
        g = "%s/%s/eps%g/n%d%s/mean_over_seeds" % (topo, mode, 1.0 if mode == "native" else eps, n, var)
        summary[g] = {k: mean_over_seeds(results, topo, mode, n, eps, seeds, k, var) for k in keys}
    summary["_meta"] = {"runs": len(runs), "seeds": seeds, "wall_s": round(wall, 1), "jobs": a.jobs}
    with open(os.path.join(a.work, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)

    def M(topo, mode, n, key, eps=DEFAULT_EPS, variant=""):
        return mean_over_seeds(results, topo, mode, n, eps, seeds, key, variant)

    big = max(sizes)
    # --- plots ---------------------------------------------------------------
    colors = {"native": "#d62728", "p4p": "#1f77b4", "localized": "#2ca02c"}
    for topo, (_, watch, label) in TOPOLOGIES.items():
        dat = os.path.join(a.work, "%s_completion.dat" % topo)
        with open(dat, "w") as f:
            for n in sizes:
                f.write("%d %s\n" % (n, " ".join(fmt(M(topo, m, n, "completion_mean_s"), "%.2f") for m in MODES)))
        gnuplot("""set terminal pngcairo size 800,500 font ',10'
set output '%s'
set title 'Mean completion time, %s, mean of %d seeds'
set xlabel 'peers per swarm'; set ylabel 'completion time (s)'; set key top left; set grid
set yrange [0:*]
plot '%s' u 1:2 w lp lw 2 lc rgb '%s' t 'native', '' u 1:3 w lp lw 2 lc rgb '%s' t 'P4P (eps 0.2)', '' u 1:4 w lp lw 2 lc rgb '%s' t 'localized (eps 0.2)'
""" % (os.path.join(a.docs, "eval", "%s_completion.png" % topo), label, len(seeds), dat,
            colors["native"], colors["p4p"], colors["localized"]), a.work)
        ct = [os.path.join(a.work, "runs", run_name(topo, m, big, 1, DEFAULT_EPS) + ".ct") for m in MODES]
        gnuplot("""set terminal pngcairo size 800,500 font ',10'
set output '%s'
set title 'Completion time CDF, %s, %d peers per swarm, seed 1'
set xlabel 'completion time (s)'; set ylabel 'fraction of leechers done'; set key bottom right; set grid
set yrange [0:1]
plot '%s' u 1:2 w l lw 2 lc rgb '%s' t 'native', '%s' u 1:2 w l lw 2 lc rgb '%s' t 'P4P', '%s' u 1:2 w l lw 2 lc rgb '%s' t 'localized'
""" % (os.path.join(a.docs, "eval", "%s_cdf_%d.png" % (topo, big)), label, big, ct[0], colors["native"], ct[1],
            colors["p4p"], ct[2], colors["localized"]), a.work)
        ts = [os.path.join(a.work, "runs", run_name(topo, m, big, 1, DEFAULT_EPS) + ".ts") for m in MODES]
        col = 3 if watch else 2
        what = "link %s (busier direction)" % watch if watch else "the most loaded backbone link"
        gnuplot("""set terminal pngcairo size 800,500 font ',10'
set output '%s'
set title "Utilization of %s\\n%s, %d peers per swarm, 10 s averages, seed 1"
set xlabel 'time (s)'; set ylabel 'utilization (%%)'; set key top right; set grid
set yrange [0:*]
plot '%s' u 1:($%d*100) w l lw 2 lc rgb '%s' t 'native', '%s' u 1:($%d*100) w l lw 2 lc rgb '%s' t 'P4P', '%s' u 1:($%d*100) w l lw 2 lc rgb '%s' t 'localized'
""" % (os.path.join(a.docs, "eval", "%s_util_%d.png" % (topo, big)), what, label, big, ts[0], col, colors["native"],
            ts[1], col, colors["p4p"], ts[2], col, colors["localized"]), a.work)
        if watch:
            gnuplot("""set terminal pngcairo size 800,500 font ',10'
set output '%s'
set title "Utilization of the most loaded backbone link\\n%s, %d peers per swarm, 10 s averages, seed 1"
set xlabel 'time (s)'; set ylabel 'utilization (%%)'; set key top right; set grid
set yrange [0:*]
plot '%s' u 1:($2*100) w l lw 2 lc rgb '%s' t 'native', '%s' u 1:($2*100) w l lw 2 lc rgb '%s' t 'P4P', '%s' u 1:($2*100) w l lw 2 lc rgb '%s' t 'localized'
""" % (os.path.join(a.docs, "eval", "%s_maxutil_%d.png" % (topo, big)), label, big, ts[0], colors["native"], ts[1],
                colors["p4p"], ts[2], colors["localized"]), a.work)
    sweep = sorted(set(EPS_SWEEP) | {DEFAULT_EPS})
    dat = os.path.join(a.work, "eps_sweep.dat")
    with open(dat, "w") as f:
        for e in sweep:
            f.write("%g %s %s %s\n" % (e, fmt(M("abilene", "p4p", big, "completion_mean_s", e), "%.2f"),
                                       fmt(M("abilene", "p4p", big, "peak_max_link_util", e), "%.6f"),
                                       fmt(M("abilene", "p4p", big, "backbone_bytes", e), "%.0f")))
        f.write("1 %s %s %s\n" % (fmt(M("abilene", "native", big, "completion_mean_s"), "%.2f"),
                                  fmt(M("abilene", "native", big, "peak_max_link_util"), "%.6f"),
                                  fmt(M("abilene", "native", big, "backbone_bytes"), "%.0f")))
    gnuplot("""set terminal pngcairo size 800,500 font ',10'
set output '%s'
set title 'Random fraction sweep, P4P on Abilene, %d peers per swarm (eps 1 = native)'
set xlabel 'random fraction eps'; set ylabel 'mean completion time (s)'; set y2label 'backbone traffic (GB)'
set ytics nomirror; set y2tics; set key bottom right; set grid
set yrange [0:*]; set y2range [0:*]
plot '%s' u 1:2 w lp lw 2 t 'completion time', '' u 1:($4/1e9) axes x1y2 w lp lw 2 t 'backbone traffic'
""" % (os.path.join(a.docs, "eval", "eps_sweep.png"), big, dat), a.work)

    write_report(a, results, runs, seeds, sizes, big, sweep, wall, M)
    print("wrote %s/summary.json, %s/EVALUATION.md and %s/eval/*.png in %.0f s" % (a.work, a.docs, a.docs, wall))


def write_report(a, results, runs, seeds, sizes, big, sweep, wall, M):
    L = []
    w = L.append
    w("# Evaluation: the paper's BitTorrent experiment, rerun through our code")
    w("")
    w("Generated by `make eval` (sim/eval.py); every number below comes from the %d runs of that command "
      "(%d seeds per point, %.0f s wall time on %d workers). Rerunning it gives the same numbers: a seed fixes "
      "every run. Machine-readable results: `build/eval/summary.json`; the simulator and its "
      "simplifications: [SIMULATOR.md](SIMULATOR.md)." % (len(runs), len(seeds), wall, a.jobs))
    w("")
    w("## Setup")
    w("")
    w("- **Simulator**: `build/p4psim`, flow-level and event-driven. Each transfer's rate is its max-min fair share "
      "of the sender's uplink, the receiver's downlink and every backbone link on the IGP route, capped by a 64 KiB "
      "TCP window over the RTT (20 ms last mile + twice the propagation delay of the route, from great-circle "
      "link lengths). Rates are re-solved only when the flow set changes.")
    w("- **BitTorrent**: 256 KB blocks moved in groups of 4 (1 MB requests), local rarest first (partly received "
      "units first), 4 regular unchokes by tit-for-tat rechoked every 10 s, one optimistic unchoke rotated every "
      "30 s (the 1 Gb/s seed gets one upload slot per 10 Mb/s of uplink), numwant 50, at most 80 connections, "
      "re-announce every 30 min or after 60 s when below 20 connections, leechers leave when done.")
    w("- **Network**: the provider files `deploy/providers/abilene.conf` (11 PoPs, 14 links, standard OSPF "
      "weights, 15 PIDs) and `deploy/providers/attmpls.conf` (25 PoPs, 56 links, 27 PIDs), every link 10 Gb/s, "
      "no background traffic. Read through `p4p/provider.h`; routes from `p4p/topology.h`.")
    w("- **Peers**: two swarms, each with one 1 Gb/s seed and N leechers (N = %s) arriving in the first 10 s, "
      "each at a uniformly random PoP (then a random PID of it), access links from the Bharambe mix "
      "(20%% 784/128 kb/s, 40%% 1.5/0.384 Mb/s, 25%% 3/1 Mb/s, 15%% 10/5 Mb/s), file 256 MB." %
      ", ".join(str(n) for n in sizes))
    w("- **Selection (our code)**: every peer list is `p4p_select_guided()` (`p4p/select.h`) over the swarm kept in "
      "PID layout with `p4p/peerlist.h`, exactly as the tracker stores it.")
    w("  - *native* = stock random selection: `p4p_select_guided` with random fraction 1.0 (uniform over the swarm, "
      "never the requester, no duplicates);")
    w("  - *P4P* = per-swarm guidance rows from the optimizer plus the tracker's default random fraction 0.2;")
    w("  - *localized* = a guidance row with weight only on the requester's own PID, random fraction 0.2.")
    w("- **Optimizer (our code)**: every 30 simulated seconds (and at t = 0) the simulator gives "
      "`prov_optimizer_solve()` (`p4p/optimize.h`, the iTracker's fast solver, warm-started) each swarm's per-PoP "
      "ũ (uplinks of all registered peers, seeds included) and d̃ (downlinks of leechers), takes the PoP weight "
      "rows of `prov_weights_from_plan` and expands them to PID rows as the iTracker does (PID q of PoP Q gets "
      "w[P][Q] × q's share of the swarm's peers in Q).")
    w("")

    def row(topo, mode, n, eps=DEFAULT_EPS):
        return {k: M(topo, mode, n, k, eps) for k in
                ["completion_mean_s", "completion_p90_s", "peak_max_link_util", "mean_max_link_util",
                 "peak_watch_util", "backbone_bytes", "byte_hops", "hops_per_byte", "intra_pid_share",
                 "intra_pop_share", "total_bytes", "seed_upload_share", "seed_peak_connections", "busiest_link_bytes"]}

    w("## Headline (N = %d leechers per swarm, mean of %d seeds)" % (big, len(seeds)))
    w("")
    w("| topology | selection | mean completion (s) | p90 (s) | peak util of most loaded link | peak util ATLA–IPLS "
      "| backbone traffic (GB) | bytes × hops (GB) | hops per byte | traffic inside a PID | data served by the seeds |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    head = {}
    for topo in TOPOLOGIES:
        base = row(topo, "native", big)
        for mode in MODES:
            r = row(topo, mode, big)
            head[(topo, mode)] = r
            ch = "" if mode == "native" else " (%s)"
            w("| %s | %s | %s%s | %s%s | %s%s | %s%s | %s%s | %s%s | %s | %s | %s |" % (
                topo, mode,
                fmt(r["completion_mean_s"]), ch % pct(r["completion_mean_s"], base["completion_mean_s"]) if ch else "",
                fmt(r["completion_p90_s"]), ch % pct(r["completion_p90_s"], base["completion_p90_s"]) if ch else "",
                fmt(r["peak_max_link_util"] and 100 * r["peak_max_link_util"], "%.2f%%"),
                ch % pct(r["peak_max_link_util"], base["peak_max_link_util"]) if ch else "",
                fmt(r["peak_watch_util"] and 100 * r["peak_watch_util"], "%.2f%%") if topo == "abilene" else "–",
                (ch % pct(r["peak_watch_util"], base["peak_watch_util"]) if ch else "") if topo == "abilene" else "",
                fmt(r["backbone_bytes"] and r["backbone_bytes"] / 1e9),
                ch % pct(r["backbone_bytes"], base["backbone_bytes"]) if ch else "",
                fmt(r["byte_hops"] and r["byte_hops"] / 1e9),
                ch % pct(r["byte_hops"], base["byte_hops"]) if ch else "",
                fmt(r["hops_per_byte"], "%.2f"), fmt(r["intra_pid_share"] and 100 * r["intra_pid_share"], "%.1f%%"),
                fmt(r["seed_upload_share"] and 100 * r["seed_upload_share"], "%.1f%%")))
    w("")
    w("Percentages in brackets are changes against native on the same topology and seeds. Utilization is of one "
      "direction of a 10 Gb/s link, averaged over 10 s; \"peak\" is the highest 10 s average of the run.")
    w("")
    w("## Side by side with the paper (§3.2, Figures 4 and 5)")
    w("")
    w("| claim in the paper | paper | this evaluation (N = %d) |" % big)
    w("|---|---|---|")
    for topo, key in (("abilene", "abilene_util"), ("attmpls", "attmpls_util")):
        n_, p_ = head[(topo, "native")], head[(topo, "p4p")]
        w("| P4P completion time vs native, %s | about −45%% | %s |" % (topo, pct(p_["completion_mean_s"], n_["completion_mean_s"])))
        w("| P4P bottleneck-link utilization vs native, %s | about −%d%% | %s (peak of the most loaded link); "
          "%s (its mean while leechers download) |" % (
              topo, 100 * PAPER[key], pct(p_["peak_max_link_util"], n_["peak_max_link_util"]),
              pct(p_["mean_max_link_util"], n_["mean_max_link_util"])))
    n_, p_ = head[("abilene", "native")], head[("abilene", "p4p")]
    w("| ATLA–IPLS utilization, Abilene | lower and shorter with P4P | peak %s, see the plot |" %
      pct(p_["peak_watch_util"], n_["peak_watch_util"]))
    w("| backbone traffic (bytes × hops), Abilene / AT&T | (streaming test: −66%% link load) | %s / %s |" % (
        pct(p_["byte_hops"], n_["byte_hops"]),
        pct(head[("attmpls", "p4p")]["byte_hops"], head[("attmpls", "native")]["byte_hops"])))
    w("")
    w("## Completion time against swarm size (mean of %d seeds, seconds)" % len(seeds))
    w("")
    for topo in TOPOLOGIES:
        w("**%s**" % TOPOLOGIES[topo][2])
        w("")
        w("| N | native | P4P | localized | P4P peak link util vs native | P4P backbone bytes vs native |")
        w("|---|---|---|---|---|---|")
        for n in sizes:
            cm = {m: M(topo, m, n, "completion_mean_s") for m in MODES}
            w("| %d | %s | %s (%s) | %s (%s) | %s | %s |" % (
                n, fmt(cm["native"]), fmt(cm["p4p"]), pct(cm["p4p"], cm["native"]), fmt(cm["localized"]),
                pct(cm["localized"], cm["native"]),
                pct(M(topo, "p4p", n, "peak_max_link_util"), M(topo, "native", n, "peak_max_link_util")),
                pct(M(topo, "p4p", n, "backbone_bytes"), M(topo, "native", n, "backbone_bytes"))))
        w("")
        w("![completion time, %s](eval/%s_completion.png)" % (topo, topo))
        w("![CDF at %d peers, %s](eval/%s_cdf_%d.png)" % (big, topo, topo, big))
        w("![link utilization over time, %s](eval/%s_util_%d.png)" % (topo, topo, big))
        if TOPOLOGIES[topo][1]:
            w("![most loaded link over time, %s](eval/%s_maxutil_%d.png)" % (topo, topo, big))
        w("")
    w("## Random fraction sweep (P4P, Abilene, N = %d, mean of %d seeds)" % (big, len(seeds)))
    w("")
    w("| random fraction | mean completion (s) | peak util of most loaded link | backbone traffic (GB) | hops per byte | traffic inside a PID |")
    w("|---|---|---|---|---|---|")
    for e in sweep:
        w("| %g | %s | %s | %s | %s | %s |" % (
            e, fmt(M("abilene", "p4p", big, "completion_mean_s", e)),
            fmt(M("abilene", "p4p", big, "peak_max_link_util", e) and 100 * M("abilene", "p4p", big, "peak_max_link_util", e), "%.2f%%"),
            fmt(M("abilene", "p4p", big, "backbone_bytes", e) and M("abilene", "p4p", big, "backbone_bytes", e) / 1e9),
            fmt(M("abilene", "p4p", big, "hops_per_byte", e), "%.2f"),
            fmt(M("abilene", "p4p", big, "intra_pid_share", e) and 100 * M("abilene", "p4p", big, "intra_pid_share", e), "%.1f%%")))
    nb = row("abilene", "native", big)
    w("| 1 (native) | %s | %s | %s | %s | %s |" % (
        fmt(nb["completion_mean_s"]), fmt(100 * nb["peak_max_link_util"], "%.2f%%"), fmt(nb["backbone_bytes"] / 1e9),
        fmt(nb["hops_per_byte"], "%.2f"), fmt(100 * nb["intra_pid_share"], "%.1f%%")))
    w("")
    w("![random fraction sweep](eval/eps_sweep.png)")
    w("")
    w("## The seed's share: the same at N = %d with the seed on 4+1 upload slots (Abilene)" % big)
    w("")
    w("By default the 1 Gb/s seed opens one upload slot per 10 Mb/s of uplink (100 slots), as high-capacity "
      "clients do, and then serves a large part of each swarm directly, to neighbours spread over the whole "
      "network in every mode. With the stock 4 regular + 1 optimistic slots for the seed too:")
    w("")
    w("| selection | mean completion (s) | peak util of most loaded link | busiest link carried (GB) | backbone traffic (GB) | traffic inside a PID | data served by the seeds |")
    w("|---|---|---|---|---|---|---|")
    for mode in MODES:
        v = {k: M("abilene", mode, big, k, DEFAULT_EPS, VARIANT) for k in
             ["completion_mean_s", "peak_max_link_util", "busiest_link_bytes", "backbone_bytes", "intra_pid_share",
              "seed_upload_share"]}
        b = {k: M("abilene", "native", big, k, DEFAULT_EPS, VARIANT) for k in v}
        ch = (lambda k: "" if mode == "native" else " (%s)" % pct(v[k], b[k]))
        w("| %s | %s%s | %s%s | %s%s | %s%s | %s | %s |" % (
            mode, fmt(v["completion_mean_s"]), ch("completion_mean_s"),
            fmt(v["peak_max_link_util"] and 100 * v["peak_max_link_util"], "%.2f%%"), ch("peak_max_link_util"),
            fmt(v["busiest_link_bytes"] and v["busiest_link_bytes"] / 1e9), ch("busiest_link_bytes"),
            fmt(v["backbone_bytes"] and v["backbone_bytes"] / 1e9), ch("backbone_bytes"),
            fmt(v["intra_pid_share"] and 100 * v["intra_pid_share"], "%.1f%%"),
            fmt(v["seed_upload_share"] and 100 * v["seed_upload_share"], "%.1f%%")))
    w("")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eval_findings.md")
    if os.path.exists(notes):
        with open(notes) as f:
            text = f.read()
        # the findings text quotes numbers through {placeholders}
        vals = {}
        for topo in TOPOLOGIES:
            for mode in MODES:
                for k, v in head[(topo, mode)].items():
                    vals["%s_%s_%s" % (topo, mode, k)] = v
            for k in ["completion_mean_s", "peak_max_link_util", "mean_max_link_util", "backbone_bytes", "byte_hops",
                      "peak_watch_util", "busiest_link_bytes", "completion_p90_s"]:
                vals["%s_p4p_vs_native_%s" % (topo, k)] = pct(head[(topo, "p4p")][k], head[(topo, "native")][k])
                vals["%s_localized_vs_native_%s" % (topo, k)] = pct(head[(topo, "localized")][k], head[(topo, "native")][k])
        for k in list(vals):
            if vals[k] is None:
                vals[k] = vals[k + "_pct"] = "n/a"
            elif isinstance(vals[k], (int, float)) and not isinstance(vals[k], bool):
                vals[k + "_pct"] = "%.1f%%" % (100 * vals[k])
                vals[k] = "%.1f" % vals[k]
        for k in ["completion_mean_s", "peak_max_link_util", "busiest_link_bytes", "backbone_bytes"]:
            for mode in ("p4p", "localized"):
                vals["seed4_%s_vs_native_%s" % (mode, k)] = pct(M("abilene", mode, big, k, DEFAULT_EPS, VARIANT),
                                                                M("abilene", "native", big, k, DEFAULT_EPS, VARIANT))
        for e in sweep:
            for k in ["completion_mean_s", "peak_max_link_util", "backbone_bytes", "intra_pid_share"]:
                v = M("abilene", "p4p", big, k, e)
                vals["eps%s_%s" % (("%g" % e).replace(".", "p"), k)] = "n/a" if v is None else ("%.1f%%" % (100 * v) if "share" in k or "util" in k else "%.1f" % (v / 1e9 if "bytes" in k else v))
        vals["small_n"] = min(sizes)
        vals["big_n"] = big
        vals["small_abilene_p4p_vs_native_peak"] = pct(M("abilene", "p4p", min(sizes), "peak_max_link_util"),
                                                       M("abilene", "native", min(sizes), "peak_max_link_util"))
        vals["small_abilene_p4p_vs_native_completion"] = pct(M("abilene", "p4p", min(sizes), "completion_mean_s"),
                                                             M("abilene", "native", min(sizes), "completion_mean_s"))
        try:
            w(text.format(**vals))
        except (KeyError, IndexError, ValueError) as e:
            w(text)
            print("eval: findings placeholder problem: %r" % (e,), file=sys.stderr)
    w("## Reproduce")
    w("")
    w("```")
    w("make eval                 # everything above, ~%d runs on 2 workers" % len(runs))
    w("build/p4psim --provider deploy/providers/abilene.conf --mode p4p --peers 700 --seed 1 --out /tmp/run")
    w("```")
    w("")
    w("One run: `%s`." % results[run_name("abilene", "p4p", big, 1, DEFAULT_EPS)]["cmd"])
    w("")
    with open(os.path.join(a.docs, "EVALUATION.md"), "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
