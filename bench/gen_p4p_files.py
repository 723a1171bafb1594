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

NS = "urn:opentracker-p4p:p4p:1"
REGIONS = 16
OWN_AS, NEIGHBOUR_AS = 64512, 64513


def pid_name(r):
    return "%d.%s.bench" % (r, "i" if r < 12 else "e")


def pidmap_xml():
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<pidmap xmlns="%s" version="bench-1">' % NS]
    for r in range(REGIONS):
        asid = OWN_AS if r < 12 else NEIGHBOUR_AS
        lines.append('  <pid name="%s" asid="%d" loc="ring:%d">' % (pid_name(r), asid, r))
        lines.append("    <prefix>127.%d.0.0/12</prefix>" % (16 * r))
        v6 = ipaddress.IPv6Network((int(ipaddress.IPv6Address("fd00:1::")) | (r << 60), 68))
        lines.append("    <prefix>%s</prefix>" % v6)
        lines.append("  </pid>")
    lines.append("</pidmap>")
    return "\n".join(lines) + "\n"


def ring_weights():
    w = []
    for i in range(REGIONS):
        row = []
        for j in range(REGIONS):
            d = min((i - j) % REGIONS, (j - i) % REGIONS)
            row.append(1.0 / (1 + d) ** 2)
        w.append(row)
    return w


def matrix_xml(weights, indent):
    pad = " " * indent
    out = [pad + "<pids>%s</pids>" % " ".join(pid_name(r) for r in range(REGIONS))]
    for i, row in enumerate(weights):
        for j, v in enumerate(row):
            if v > 0:
                out.append(pad + '<entry from="%s" to="%s" value="%.6g"/>' % (pid_name(i), pid_name(j), v))
    return out


def guidance_xml(swarm_hashes, seed, version):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<guidance xmlns="%s" version="%s">' % (NS, version), "  <default>"]
    lines += matrix_xml(ring_weights(), 4)
    lines.append("  </default>")
    rng = random.Random(seed)
    for h in swarm_hashes:
        # each heavy swarm keeps its own PID mostly local, the rest spread at random
        w = [[(4.0 if i == j else rng.uniform(0.05, 1.0)) for j in range(REGIONS)] for i in range(REGIONS)]
        lines.append('  <swarm info-hash="%s">' % h.lower())
        lines += matrix_xml(w, 4)
        lines.append("  </swarm>")
    lines.append("</guidance>")
    return "\n".join(lines) + "\n"


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
        with open(os.path.join(a.out, name), "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
