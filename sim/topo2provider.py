#!/usr/bin/python3
"""Convert a Topology Zoo GraphML file or a Rocketfuel weights file into the
project's provider format (docs/ITRACKER.md), so p4psim and p4p-itracker can
use it.  See docs/SIMULATOR.md.

  topo2provider.py zoo AttMpls.graphml --name attmpls --asid 7018 > attmpls.conf
  topo2provider.py rocketfuel data/rocketfuel/1239/weights.intra --name sprint --asid 1239 \
      --cities data/rocketfuel/1239/cities.txt --masses-out sprint-masses.txt > sprint.conf

Topology Zoo: every link gets --capacity kbit/s per direction (default 10 Gb/s,
as in the paper); IGP weight = the great-circle propagation delay in
microseconds (at least 1), or 1 per hop when a PoP has no coordinates.

Rocketfuel (weights.intra: "ROUTER ROUTER WEIGHT" lines, a router named by its
city and a number, e.g. "Chicago,+IL4104"; a PoP-level file whose names carry
no number works too):
  - routers are grouped into PoPs by city; a router with no link to a router
    of its own city belongs to the city most of its links go to (ties: the
    city of its lightest link).  This folds single-router satellites
    ("Denver,+Colorado5511", only linked to Cheyenne) into their hub and
    undoes names that contradict the links ("New+York,+NY4028", every link
    to Dallas);
  - with --cities, only the listed cities are kept (with their names and
    coordinates); routers elsewhere are dropped with their links;
  - a PoP-level link joins two PoPs with at least one router-level link;
    IGP weight = 10 x the smallest router-level weight (Rocketfuel's weights
    have halves), capacity: Rocketfuel has none, so --parallel-big or more
    router-level links between the two PoPs make a --capacity link (10 Gb/s,
    OC-192), fewer a --capacity-small one (2.4 Gb/s, OC-48);
  - --masses-out writes each PoP's router count, a size for the gravity
    background (p4psim --masses).
Each PoP gets one opaque PID "<k>.i.<name>" with the prefix 10.<k>.0.0/16
(10.<k/256>.<k%256>.0/24 when there are more than 256 PoPs).  Parallel links
and self loops are dropped; names are made unique and free of spaces.
"""
import argparse
import collections
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


def rocketfuel_city(router):
    return re.sub(r"\d+$", "", router) or router


def read_rocketfuel(path, cities_path=None, big=3, cap_big=10e6, cap_small=2.4e6):
    """PoPs, links (a, b, weight, capacity) and router counts from weights.intra."""
    adj = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            v = line.split()
            if len(v) < 3 or line.startswith("#"):
                continue
            adj[v[0]].append((v[1], float(v[2])))
            adj[v[1]]
    home = {}
    for r, links in adj.items():
        own = rocketfuel_city(r)
        if not links or any(rocketfuel_city(b) == own for b, _ in links):
            home[r] = own
            continue
        count = collections.Counter(rocketfuel_city(b) for b, _ in links)
        most = max(count.values())
        cands = [c for c in count if count[c] == most]
        cands.sort(key=lambda c: (min(w for b, w in links if rocketfuel_city(b) == c), c))
        home[r] = cands[0]
    keep = None
    if cities_path:
        keep = {}
        with open(cities_path) as f:
            for line in f:
                v = line.split("#")[0].split()
                if v:
                    keep[v[0]] = (v[1], (float(v[2]), float(v[3])))
    names = sorted(set(home.values()) if keep is None else [c for c in keep if c in set(home.values())])
    used, pops, ids = set(), [], {}
    for c in names:
        name, loc = keep[c] if keep else (c, None)
        ids[c] = len(pops)
        pops.append((clean(name, used), loc))
    routers = collections.Counter(ids[home[r]] for r in adj if home[r] in ids)
    pair = {}
    for a, links in adj.items():
        for b, w in links:
            A, B = home[a], home[b]
            if A == B or A not in ids or B not in ids:
                continue
            key = (min(ids[A], ids[B]), max(ids[A], ids[B]))
            pair.setdefault(key, {})[tuple(sorted((a, b)))] = w
    links = []
    for (x, y), routes in sorted(pair.items()):
        wmin = min(routes.values())
        links.append((x, y, max(1, int(round(10 * wmin))), cap_big if len(routes) >= big else cap_small))
    return pops, links, routers


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("format", choices=["zoo", "rocketfuel"])
    ap.add_argument("path")
    ap.add_argument("--name", required=True, help="provider name (also in PID names)")
    ap.add_argument("--asid", type=int, required=True)
    ap.add_argument("--capacity", type=float, default=10e6, help="kbit/s per direction (10 Gb/s)")
    ap.add_argument("--capacity-small", type=float, default=2.4e6,
                    help="rocketfuel: kbit/s of a link with few router-level links (2.4 Gb/s)")
    ap.add_argument("--parallel-big", type=int, default=3,
                    help="rocketfuel: router-level links that make a --capacity link (3)")
    ap.add_argument("--cities", help="rocketfuel: the cities to keep, with names and coordinates")
    ap.add_argument("--masses-out", help="rocketfuel: write router counts per PoP here")
    a = ap.parse_args()
    routers = None
    if a.format == "zoo":
        pops, raw = read_zoo(a.path)
        raw = [(s_, t, w, a.capacity) for s_, t, w in raw]
    else:
        pops, raw, routers = read_rocketfuel(a.path, a.cities, a.parallel_big, a.capacity, a.capacity_small)
    if len(pops) > 65536:
        sys.exit("too many PoPs")
    seen, out_links = set(), []
    for s_, t, w, cap in raw:
        key = (min(s_, t), max(s_, t))
        if s_ == t or key in seen:
            continue
        seen.add(key)
        if w is None:
            ls, lt = pops[s_][1], pops[t][1]
            w = max(1, int(round(km(ls, lt) / 200.0 * 1000))) if ls and lt else 1
        out_links.append((s_, t, w, cap))
    print("# Converted by sim/topo2provider.py from %s (%s)." % (a.path, a.format))
    if a.format == "rocketfuel":
        print("# Capacities are inferred, not measured: Rocketfuel has none (see the converter's help).")
    print("# Capacities and background traffic are kbit/s per direction; prefixes are made up.")
    print("provider %s\nasid %d\nversion %s-1\n" % (a.name, a.asid, a.name))
    for name, loc in pops:
        print("pop %s%s" % (name, " loc %.5f,%.5f" % loc if loc else ""))
    print()
    for s_, t, w, cap in out_links:
        print("link %s %s capacity %.0f weight %d" % (pops[s_][0], pops[t][0], cap, w))
    print()
    for k, (name, _) in enumerate(pops):
        prefix = "10.%d.0.0/16" % k if len(pops) <= 256 else "10.%d.%d.0/24" % (k // 256, k % 256)
        print("pid %d.i.%s pop %s prefix %s" % (k, a.name, name, prefix))
    if a.masses_out and routers is not None:
        with open(a.masses_out, "w") as f:
            f.write("# Gravity masses: routers per PoP in %s (sim/topo2provider.py)\n" % a.path)
            for k, (name, _) in enumerate(pops):
                f.write("%s %d\n" % (name, routers[k]))


if __name__ == "__main__":
    main()
