#!/usr/bin/python3
"""Write the PID map and guidance files the benchmark's fork runs load.

The PIDs mirror the load generator's address plan (bench/lg_workload.h):
region r of the peers is 127.(16r).0.0/12 for IPv4 and fd00:1:0:0:r000::/68
for IPv6, so the 16 PIDs partition 127.0.0.0/8 and fd00:1::/64 and every
benchmark peer has a PID.  Regions 0-11 belong to the benchmark provider's
own AS, 12-15 to a neighbour, so selection sees internal and external PIDs.

Guidance (P4P XML v1, docs/PROTOCOL.md): the default matrix weighs PID j from
PID i by 1/(1+d)^2 with d the distance on a ring of the 16 PIDs (a stand-in
for p-distances); per-swarm matrices for the most popular swarms use their
own, seeded, weights, so every heavy swarm takes the per-swarm path.

  gen_p4p_files.py --out DIR [--swarm-hash HEX...]   (hashes: p4p-loadgen --list-swarms N)
writes DIR/pidmap.xml, DIR/guidance-default.xml, DIR/guidance-swarms.xml.
"""
import argparse
import ipaddress
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "harness"))
import p4pxml  # noqa: E402

REGIONS = 16
OWN_AS, NEIGHBOUR_AS = 64512, 64513
PIDS = ["%d.%s.bench" % (r, "i" if r < 12 else "e") for r in range(REGIONS)]


def pidmap_xml():
    pids = []
    for r in range(REGIONS):
        v6 = ipaddress.IPv6Network((int(ipaddress.IPv6Address("fd00:1::")) | (r << 60), 68))
        pids.append((PIDS[r], OWN_AS if r < 12 else NEIGHBOUR_AS, ["127.%d.0.0/12" % (16 * r), str(v6)],
                     "ring:%d" % r))
    return p4pxml.pidmap(pids, version="bench-1")


def ring_weights():
    return [[1.0 / (1 + min((i - j) % REGIONS, (j - i) % REGIONS)) ** 2 for j in range(REGIONS)]
            for i in range(REGIONS)]


def six_digits(rows):
    """Weights to 6 significant digits: the files stay small."""
    return [[float("%.6g" % v) for v in row] for row in rows]


def guidance_xml(swarm_hashes, seed, version):
    rng = random.Random(seed)
    swarms = []
    for h in swarm_hashes:
        # each heavy swarm keeps its own PID mostly local, the rest spread at random
        w = [[(4.0 if i == j else rng.uniform(0.05, 1.0)) for j in range(REGIONS)] for i in range(REGIONS)]
        swarms.append((h.lower(), PIDS, six_digits(w)))
    return p4pxml.guidance((PIDS, six_digits(ring_weights())), swarms, version=version)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--swarm-hash", nargs="+", action="extend", default=[])
    ap.add_argument("--seed", type=int, default=4)
    a = ap.parse_args()
    for h in a.swarm_hash:
        if len(h) != 40 or any(c not in "0123456789abcdefABCDEF" for c in h):
            ap.error("not an info hash: %r" % h)
    os.makedirs(a.out, exist_ok=True)
    files = {"pidmap.xml": pidmap_xml(),
             "guidance-default.xml": guidance_xml([], a.seed, "default-matrix"),
             "guidance-swarms.xml": guidance_xml(a.swarm_hash, a.seed, "per-swarm")}
    for name, text in files.items():
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(text)


if __name__ == "__main__":
    main()
