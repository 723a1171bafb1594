#!/usr/bin/python3
"""Convert a Topology Zoo GraphML file or a Rocketfuel weights file into the
project's provider format (docs/ITRACKER.md), so p4psim and p4p-itracker can
use it.  See docs/SIMULATOR.md.

  topo2provider.py zoo AttMpls.graphml --name attmpls --asid 7018 > attmpls.conf
  topo2provider.py rocketfuel 1239/weights.intra --name sprint --asid 1239 > sprint.conf

Every link gets --capacity kbit/s per direction (default 10 Gb/s, as in the
paper).  IGP weights: Rocketfuel's inferred weights as given; for Topology
Zoo (which has none), the great-circle propagation delay in microseconds
(at least 1), or 1 per hop when a PoP has no coordinates.  Each PoP gets one
opaque PID "<k>.i.<name>" with the prefix 10.<k>.0.0/16 (10.<k/256>.<k%256>.0/24
when there are more than 256 PoPs).  Parallel links and self
loops are dropped; names are made unique and free of spaces.
"""
import argparse
import math
import re
import sys
import xml.etree.ElementTree as ET

GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def clean(name, used):
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", name.strip()) or "pop"
    out, k = base, 2
    while out in used:
        out = "%s_%d" % (base, k)
        k += 1
    used.add(out)
    return out


def km(a, b):
    (la1, lo1), (la2, lo2) = a, b
    p1, p2 = math.radians(la1), math.radians(la2)
    dp, dl = p2 - p1, math.radians(lo2 - lo1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def read_zoo(path):
    root = ET.parse(path).getroot()
    keys = {k.get("id"): k.get("attr.name") for k in root.iter(GRAPHML + "key")}
    graph = root.find(GRAPHML + "graph")
    pops, ids, used = [], {}, set()
    for node in graph.iter(GRAPHML + "node"):
        attrs = {keys.get(d.get("key")): (d.text or "") for d in node.iter(GRAPHML + "data")}
        label = attrs.get("label") or node.get("id")
        loc = None
        try:
            loc = (float(attrs["Latitude"]), float(attrs["Longitude"]))
        except (KeyError, ValueError):
            pass
        ids[node.get("id")] = len(pops)
        pops.append((clean(label, used), loc))
    links = []
    for e in graph.iter(GRAPHML + "edge"):
        links.append((ids[e.get("source")], ids[e.get("target")], None))
    return pops, links


def read_rocketfuel(path):
    pops, ids, used, links = [], {}, set(), []
    with open(path) as f:
        for line in f:
            v = line.split()
            if len(v) < 3 or line.startswith("#"):
                continue
            for name in v[:2]:
                if name not in ids:
                    ids[name] = len(pops)
                    pops.append((clean(name, used), None))
            links.append((ids[v[0]], ids[v[1]], max(1, int(round(float(v[2]))))))
    return pops, links


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("format", choices=["zoo", "rocketfuel"])
    ap.add_argument("path")
    ap.add_argument("--name", required=True, help="provider name (also in PID names)")
    ap.add_argument("--asid", type=int, required=True)
    ap.add_argument("--capacity", type=float, default=10e6, help="kbit/s per direction (10 Gb/s)")
    a = ap.parse_args()
    pops, links = read_zoo(a.path) if a.format == "zoo" else read_rocketfuel(a.path)
    if len(pops) > 65536:
        sys.exit("too many PoPs")
    seen, out_links = set(), []
    for s, t, w in links:
        key = (min(s, t), max(s, t))
        if s == t or key in seen:
            continue
        seen.add(key)
        if w is None:
            ls, lt = pops[s][1], pops[t][1]
            w = max(1, int(round(km(ls, lt) / 200.0 * 1000))) if ls and lt else 1
        out_links.append((s, t, w))
    print("# Converted by sim/topo2provider.py from %s (%s)." % (a.path.split("/")[-1], a.format))
    print("# Capacities and background traffic are kbit/s per direction; prefixes are made up.")
    print("provider %s\nasid %d\nversion %s-1\n" % (a.name, a.asid, a.name))
    for name, loc in pops:
        print("pop %s%s" % (name, " loc %.5f,%.5f" % loc if loc else ""))
    print()
    for s, t, w in out_links:
        print("link %s %s capacity %.0f weight %d" % (pops[s][0], pops[t][0], a.capacity, w))
    print()
    for k, (name, _) in enumerate(pops):
        prefix = "10.%d.0.0/16" % k if len(pops) <= 256 else "10.%d.%d.0/24" % (k // 256, k % 256)
        print("pid %d.i.%s pop %s prefix %s" % (k, a.name, name, prefix))


if __name__ == "__main__":
    main()
