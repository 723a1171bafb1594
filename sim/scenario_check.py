#!/usr/bin/python3
"""make test: a small scenario must show the direction of the paper's result.

Abilene, 2 swarms x 300 leechers, 64 MB, seeds 1 and 2 (fixed, so the check
is deterministic), every peer including the 1 Gb/s seed with the stock 4+1
upload slots (--slot-kbps 0).  With the default one-slot-per-10-Mb/s seed, a
64 MB swarm gets about half its data straight from the seed, whose
neighbours are spread over the whole network in every mode, and the busiest
link is the seed's; docs/EVALUATION.md shows that case too.  For each seed, P4P against native must:
  - lower the utilization of the most loaded backbone link over a common
    horizon, i.e. max_e bytes_e / (c_e * T) with the same T for both runs,
    by at least 10% (equivalently: the busiest link carries 10% fewer bytes);
  - lower bytes x hops by at least 10%;
  - keep the mean completion time within 10% of native's (no worse than
    native + 10%).
The observed margins are far larger (docs/EVALUATION.md); 10% leaves room
for model changes without letting the direction flip unnoticed.
"""
import json
import os
import subprocess
import sys

TOLERANCE = 0.10


def run(sim, provider, work, mode, seed):
    out = os.path.join(work, "%s_s%d" % (mode, seed))
    subprocess.run([sim, "--provider", provider, "--mode", mode, "--peers", "300", "--file-mb", "64", "--seed",
                    str(seed), "--slot-kbps", "0", "--out", out, "--quiet"], check=True, stdout=subprocess.DEVNULL)
    with open(out + ".json") as f:
        return json.load(f)


def main():
    sim, provider, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    ok = True
    for seed in (1, 2):
        n, p = run(sim, provider, work, "native", seed), run(sim, provider, work, "p4p", seed)
        link = p["busiest_link_bytes"] / n["busiest_link_bytes"]
        hops = p["byte_hops"] / n["byte_hops"]
        ct = p["completion_mean_s"] / n["completion_mean_s"]
        good = link <= 1 - TOLERANCE and hops <= 1 - TOLERANCE and ct <= 1 + TOLERANCE and \
            n["completed"] == n["leechers"] and p["completed"] == p["leechers"]
        print("  seed %d: busiest-link load P4P/native %.2f, bytes x hops %.2f, mean completion %.2f "
              "(%.0f s vs %.0f s): %s" % (seed, link, hops, ct, p["completion_mean_s"], n["completion_mean_s"],
                                          "ok" if good else "FAIL"))
        ok = ok and good
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
