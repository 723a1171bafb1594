#!/usr/bin/python3
"""make test: a small scenario must show the direction of the paper's result.

Abilene, 2 swarms x 300 leechers, 64 MB, seeds 1 to 4 (fixed, so the check
is deterministic), every peer including the 1 Gb/s seed with the stock 4+1
upload slots (--slot-kbps 0).  With the default one-slot-per-10-Mb/s seed, a
64 MB swarm gets about half its data straight from the seed, whose
neighbours are spread over the whole network in every mode, and the busiest
link is the seed's; docs/EVALUATION.md shows that case too.  P4P against native must:
  - for every seed, lower the utilization of the most loaded backbone link
    over a common horizon, i.e. max_e bytes_e / (c_e * T) with the same T for
    both runs, by at least 10% (equivalently: the busiest link carries 10%
    fewer bytes; observed 27-32%);
  - for every seed, lower bytes x hops by at least 10% (observed ~25%);
  - keep the mean completion time, averaged over the four seeds, no worse
    than native's + 10%.  One seed alone varies by about +-12% either way
    in this small scenario (the 4-slot seed makes the start a matter of
    luck), so the average of four (sd ~6%) is what is compared; observed
    -1%.
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
    ct_n = ct_p = 0.0
    for seed in (1, 2, 3, 4):
        n, p = run(sim, provider, work, "native", seed), run(sim, provider, work, "p4p", seed)
        link = p["busiest_link_bytes"] / n["busiest_link_bytes"]
        hops = p["byte_hops"] / n["byte_hops"]
        ct = p["completion_mean_s"] / n["completion_mean_s"]
        ct_n += n["completion_mean_s"]
        ct_p += p["completion_mean_s"]
        good = link <= 1 - TOLERANCE and hops <= 1 - TOLERANCE and \
            n["completed"] == n["leechers"] and p["completed"] == p["leechers"]
        print("  seed %d: busiest-link load P4P/native %.2f, bytes x hops %.2f, mean completion %.2f "
              "(%.0f s vs %.0f s): %s" % (seed, link, hops, ct, p["completion_mean_s"], n["completion_mean_s"],
                                          "ok" if good else "FAIL"))
        ok = ok and good
    ratio = ct_p / ct_n
    print("  mean completion over the seeds, P4P/native %.3f (limit %.2f): %s" % (
        ratio, 1 + TOLERANCE, "ok" if ratio <= 1 + TOLERANCE else "FAIL"))
    ok = ok and ratio <= 1 + TOLERANCE
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
