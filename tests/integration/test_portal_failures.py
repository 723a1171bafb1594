"""The tracker keeps answering, at full speed, whatever its portal does.

A misbehaving fake portal (fake_portal.py) goes through every failure the
portal client must survive while a client keeps announcing over HTTP and UDP;
no announce may fail or slow down.  Then the portal goes away for longer than
max_staleness and the tracker falls back to stock selection, as documented
(docs/TRACKER.md, "When portals fail")."""
import statistics
import threading
import time

import pytest

from btclient import UdpTracker, http_announce, http_get
from conftest import p4p_stats, wait_for
from fake_portal import FakePortal

SWARM = bytes.fromhex("c3" * 20)
FAILURES = ("refuse", "hang", "slow", "garbage", "hostile", "huge", "401", "500", "flapping")






class Announcer(threading.Thread):
    """Announces without pause, alternating HTTP and UDP, timing each."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop_flag = port, threading.Event()
        self.latencies, self.failures = [], []

    def run(self):
        udp = UdpTracker("127.0.0.1", self.port, "127.0.5.250")
        n = 0
        try:
            while not self.stop_flag.is_set():
                n += 1
                t0 = time.perf_counter()
                try:
                    if n % 2:
                        _, peers = http_announce("127.0.0.1", self.port, SWARM, "127.0.5.251", 6881, numwant=20)
                    else:
                        _, peers = udp.announce(SWARM, 6882, numwant=20)
                    if len(peers) != 20:
                        self.failures.append("short answer: %d peers" % len(peers))
                except Exception as e:  # any failed announce is the finding
                    self.failures.append(repr(e))
                self.latencies.append(time.perf_counter() - t0)
                time.sleep(0.002)
        finally:
            udp.close()


def test_announces_never_wait_for_a_failing_portal(start_tracker):
    portal = FakePortal(mode="healthy", max_age=1).start()
    try:
        t = start_tracker(["p4p.enable yes", "p4p.report_interval 1",
                           f"p4p.provider fake {portal.url}",
                           "p4p.provider.fake.refresh 1", "p4p.provider.fake.max_staleness 4",
                           "p4p.provider.fake.timeout_ms 800", "p4p.provider.fake.max_body 65536"])
        assert wait_for(lambda: p4p_stats(t).get("provider fake state") == "in use"), p4p_stats(t)
        for i in range(40):
            http_announce("127.0.0.1", t.port, SWARM, f"127.0.5.{10 + i}", 6881, numwant=0)
        client = Announcer(t.port)
        client.start()
        seen_errors = {}
        try:
            for mode in FAILURES:
                before = int(p4p_stats(t)["provider fake failures"])
                portal.set_mode(mode)
                # every failure is noticed (the portal polls each second)
                assert wait_for(lambda: int(p4p_stats(t)["provider fake failures"]) > before, timeout=6), mode
                seen_errors[mode] = p4p_stats(t)["provider fake last error"]
                assert p4p_stats(t)["provider fake state"] == "in use", mode  # last good data still served
                # back to health before max_staleness runs out (that case comes last)
                portal.set_mode("healthy")
                assert wait_for(lambda: int(p4p_stats(t)["provider fake backoff seconds"]) == 0, timeout=8), mode
        finally:
            portal.set_mode("refuse")  # closes kept-alive connections at their next request
            portal.stop()
        # down for longer than max_staleness: its data is dropped, stock selection
        with_pid = int(p4p_stats(t)["announces with pid"])
        assert wait_for(lambda: p4p_stats(t)["provider fake state"].startswith("no data"), timeout=12), "\n".join(f"{k}: {v}" for k, v in p4p_stats(t).items())
        without_before = int(p4p_stats(t)["announces without pid"])
        time.sleep(1)
        client.stop_flag.set()
        client.join(5)
        s = p4p_stats(t)
        assert int(s["announces without pid"]) > without_before
        assert s["p4p data loaded"] == "no"  # the only source is gone: an empty snapshot
        assert int(s["announces with pid"]) >= with_pid
    finally:
        portal.stop() if portal.thread and portal.thread.is_alive() else None

    assert not client.failures, client.failures[:5]
    lat = sorted(client.latencies)
    p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
    print(f"\nannounces: {len(lat)}, p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms")
    # Not a speed check (bench/portal_latency.py measures that): an announce
    # that waited on the portal would last at least one fetch timeout (800 ms,
    # the hang and slow modes hold every fetch that long), so none may.
    assert lat[-1] < 0.8, (p50, p99, lat[-1])
    for mode, text in seen_errors.items():
        assert text != "-", (mode, text)


def test_legacy_yale_portal_is_a_source(start_tracker):
    """A Yale-protocol portal (the captures in tests/data/yale-portal): its
    PID map (13 PIDs, overlapping prefixes) and p-distances become a map and
    default weights."""
    portal = FakePortal(mode="healthy", max_age=60).start()
    try:
        t = start_tracker(["p4p.enable yes", f"p4p.provider yale {portal.url} legacy"])
        # the PID map and /pdistance are separate fetches: the default
        # matrix may join one snapshot after the map
        assert wait_for(lambda: p4p_stats(t).get("provider yale state") == "in use"
                        and p4p_stats(t).get("guidance default matrix") == "yes"), p4p_stats(t)
        s = p4p_stats(t)
        assert s["pidmap pids"] == "13"
        assert portal.count("/pid/map") >= 1 and portal.count("/pdistance") >= 1
        assert portal.count("/p4p/v1/guidance") == 0  # legacy portals have no guidance interface
    finally:
        portal.stop()
