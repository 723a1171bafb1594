#!/usr/bin/python3
"""Announce latency of opentracker-p4p while its portal is healthy, hanging,
or absent: the portal client must add nothing to the announce path.

  bench/portal_latency.py [BUILD_DIR] [--announces N]

Starts the tracker on loopback with one provider (the test suite's fake
portal, tests/harness/fake_portal.py), lets 200 peers join one swarm,
then times N announces (half HTTP, half UDP, numwant 50) one after another
from one client and prints p50/p99/max per case."""
import argparse
import os
import statistics
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "harness"))
from btclient import UdpTracker, http_announce  # noqa: E402
from fake_portal import FakePortal  # noqa: E402
from procs import Tracker, free_port, readable_dir  # noqa: E402

SWARM = bytes.fromhex("b7" * 20)


def run_case(build, url, announces):
    workdir = readable_dir()
    t = Tracker(os.path.join(build, "opentracker-p4p"),
                ["p4p.enable yes", "p4p.report_interval 1", f"p4p.provider p {url}",
                 "p4p.provider.p.refresh 1", "p4p.provider.p.timeout_ms 2000"], workdir)
    try:
        time.sleep(1.5)  # let the portal client start its first fetches
        for i in range(200):
            http_announce("127.0.0.1", t.port, SWARM, f"127.0.6.{i + 1}", 6881, numwant=0)
        udp = UdpTracker("127.0.0.1", t.port, "127.0.7.1")
        lat = []
        for n in range(announces):
            t0 = time.perf_counter()
            if n % 2:
                http_announce("127.0.0.1", t.port, SWARM, "127.0.7.2", 6881, numwant=50)
            else:
                udp.announce(SWARM, 6881, numwant=50)
            lat.append(time.perf_counter() - t0)
        udp.close()
        return sorted(lat)
    finally:
        t.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(TOP, "build"))
    ap.add_argument("--announces", type=int, default=4000)
    a = ap.parse_args()
    rows = []
    for case in ("healthy", "hang", "none"):
        portal = None
        if case == "none":
            url = f"http://127.0.0.1:{free_port()}"  # nobody listens
        else:
            portal = FakePortal(mode=case, max_age=1).start()
            url = portal.url
        try:
            lat = run_case(a.build, url, a.announces)
        finally:
            if portal:
                portal.stop()
        p99 = lat[int(0.99 * (len(lat) - 1))]
        rows.append((case, len(lat), statistics.median(lat) * 1e3, p99 * 1e3, lat[-1] * 1e3))
    print("| portal | announces | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print("| %s | %d | %.3f | %.3f | %.3f |" % r)


if __name__ == "__main__":
    main()
