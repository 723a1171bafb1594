"""The tracker connected to the real p4p-itracker on loopback: the Abilene
example provider (deploy/example/abilene-loopback.conf) puts 127.1.0.0/16 in
PID 0.i.abilene (Atlanta) and 127.9.0.0/16 in 11.i.abilene (Sunnyvale).  The
tracker reports its heaviest swarms every second, the iTracker optimizes them,
and the per-swarm guidance it answers shapes the returned peers."""
import math
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from btclient import http_announce, http_get
from conftest import TOP, ITracker, p4p_stats, wait_for

NS = {"p": "urn:opentracker-p4p:p4p:1"}
TOKEN = "b751559216bc30cc2f069749861be9cf"
SWARM = bytes.fromhex("5a" * 20)
ATLA, SNVA = "0.i.abilene", "11.i.abilene"


@pytest.fixture
def itracker(workdir):
    it = ITracker(os.path.join(TOP, "deploy", "example", "abilene-loopback.conf"), workdir, token=TOKEN)
    yield it
    it.stop()


def connected(it, *extra):
    return ["p4p.enable yes", "p4p.random_fraction 0.2", "p4p.report_interval 1",
            f"p4p.provider abilene {it.url}",
            f"p4p.provider.abilene.token {TOKEN}", "p4p.provider.abilene.refresh 2"] + list(extra)


def portal_row(it, swarm, pid):
    """The iTracker's current row of `pid` for `swarm` (normalized), or None."""
    r, data = it.request("GET", "guidance", timeout=5)
    assert r.status == 200, data
    doc = ET.fromstring(data)
    for sw in doc.findall("p:swarm", NS):
        if sw.get("info-hash") == swarm.hex():
            row = {e.get("to"): float(e.get("value")) for e in sw.findall("p:entry", NS) if e.get("from") == pid}
            total = sum(row.values())
            return {k: v / total for k, v in row.items()} if total else None
    return None


def same_pid_share(tracker, requester, rounds=60, numwant=40):
    same = total = 0
    for _ in range(rounds):
        _, peers = http_announce("127.0.0.1", tracker.port, SWARM, requester, 6881, numwant=numwant)
        assert (requester, 6881) not in peers and len(set(peers)) == len(peers) == numwant
        same += sum(1 for a, _ in peers if a.startswith("127.1."))
        total += len(peers)
    return same, total


def expected_share(w_own, own_others, n_others, numwant=40, eps=0.2):
    r = math.floor(eps * numwant + 0.5)
    g = numwant - r
    guided_own = g * w_own
    return (guided_own + r * (own_others - guided_own) / (n_others - g)) / numwant


def assert_near(hits, total, p):
    sigma = math.sqrt(total * p * (1 - p))
    assert abs(hits - total * p) <= 5 * sigma, (hits, total, p)


def test_guidance_follows_the_swarm(start_tracker, itracker):
    t = start_tracker(connected(itracker, "p4p.capability_peers 0"))
    assert wait_for(lambda: p4p_stats(t).get("provider abilene state") == "in use"), p4p_stats(t)
    # Atlanta: 40 seeders and 40 leechers; Sunnyvale: 40 seeders.
    for i in range(40):
        http_announce("127.0.0.1", t.port, SWARM, f"127.1.0.{10 + i}", 6881, numwant=0, left=0)
        http_announce("127.0.0.1", t.port, SWARM, f"127.1.1.{10 + i}", 6881, numwant=0)
        http_announce("127.0.0.1", t.port, SWARM, f"127.9.0.{10 + i}", 6881, numwant=0, left=0)
    requester = "127.1.1.10"

    # The swarm's statistics reach the portal, which answers a matrix for it,
    # and the tracker then serves guided (per-swarm) selections.
    row1 = wait_for(lambda: portal_row(itracker, SWARM, ATLA))
    assert row1 and row1.get(ATLA, 0) > 0.6, row1
    before = int(p4p_stats(t)["selections guided"])
    assert wait_for(lambda: http_announce("127.0.0.1", t.port, SWARM, requester, 6881, numwant=40)
                    and int(p4p_stats(t)["selections guided"]) > before)
    same, total = same_pid_share(t, requester)
    assert_near(same, total, expected_share(row1[ATLA], own_others=79, n_others=119))
    assert int(p4p_stats(t)["provider abilene swarms under per-swarm guidance"]) >= 1

    # Atlanta's seeders leave: its peers now need Sunnyvale's upload, and the
    # new guidance sends them there.
    for i in range(40):
        http_announce("127.0.0.1", t.port, SWARM, f"127.1.0.{10 + i}", 6881, numwant=0, left=0, event="stopped")
    row2 = wait_for(lambda: (r := portal_row(itracker, SWARM, ATLA)) and r.get(ATLA, 1) < row1[ATLA] - 0.15 and r)
    assert row2, "the portal's guidance did not follow the swarm"
    time.sleep(3)  # a report and a guidance round of the tracker
    same2, total2 = same_pid_share(t, requester)
    assert_near(same2, total2, expected_share(row2[ATLA], own_others=39, n_others=79))
    assert same2 / total2 < same / total - 0.1


def test_provider_servers_go_to_its_own_peers_only(start_tracker, itracker):
    t = start_tracker(connected(itracker, "p4p.capability_peers 2"))
    assert wait_for(lambda: p4p_stats(t).get("provider abilene servers") not in (None, "0"))
    for i in range(30):
        http_announce("127.0.0.1", t.port, SWARM, f"127.1.2.{10 + i}", 6881, numwant=0)
        http_announce("127.0.0.1", t.port, SWARM, f"127.0.9.{10 + i}", 6881, numwant=0)  # no PID
    servers = {("127.1.255.10", 6881), ("127.2.255.10", 6881), ("127.7.100.10", 6881)}
    for _ in range(20):
        _, peers = http_announce("127.0.0.1", t.port, SWARM, "127.1.3.1", 6881, numwant=20)
        offered = servers & set(peers)
        assert 1 <= len(offered) <= 2
        assert ("127.1.255.10", 6881) in offered  # its own PID's cache first
        _, peers = http_announce("127.0.0.1", t.port, SWARM, "127.0.9.200", 6881, numwant=20)
        assert not servers & set(peers)  # a peer outside the provider never gets them
    assert int(p4p_stats(t)["peers provider servers"]) >= 20


def test_https_portal_with_its_own_ca(start_tracker, workdir):
    """An iTracker serving HTTPS with a self-signed certificate: trusted
    through p4p.provider.NAME.ca_file, refused (and said why) without it."""
    cert, key = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=120)
    os.chmod(cert, 0o644)
    conf = os.path.join(workdir, "provider-tls.conf")
    with open(os.path.join(TOP, "deploy", "example", "abilene-loopback.conf")) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text + f"\ntls {cert} {key}\n")
    it = ITracker(conf, workdir, token=TOKEN)
    try:
        base = [f"p4p.enable yes", f"p4p.provider abilene {it.url}", f"p4p.provider.abilene.token {TOKEN}"]
        trusted = start_tracker(base + [f"p4p.provider.abilene.ca_file {cert}"])
        assert wait_for(lambda: p4p_stats(trusted).get("provider abilene state") == "in use"), p4p_stats(trusted)
        untrusted = start_tracker(base + ["p4p.provider.abilene.backoff_max 1"])
        assert wait_for(lambda: int(p4p_stats(untrusted)["provider abilene failures"]) > 0)
        s = p4p_stats(untrusted)
        assert s["provider abilene state"].startswith("no data")
        assert "certificate" in s["provider abilene last error"].lower() or "ssl" in s["provider abilene last error"].lower()
    finally:
        it.stop()
