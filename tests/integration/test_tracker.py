"""opentracker-p4p end to end: the real binary on loopback, peers announcing
from distinct 127.x addresses.  The bundled example PID map puts 127.0.N.0/24
in pid-(a,b,c,d) for N = 1..4 and ::1 in pid-a; its default guidance gives a
peer 0.7 of its guided picks from its own PID and 0.1 from each other one,
and swarm 0123...4567 has its own, more local matrix (0.9 / 0.0333)."""
import math
import os
import shutil
import time

import pytest

from btclient import UdpTracker, http_announce, http_get, http_scrape
from conftest import TOP, p4p_stats, run_tracker_expecting_failure, wait_for

EXAMPLE = os.path.join(TOP, "deploy", "example")
PER_PID = 30
LOCAL_SWARM = bytes.fromhex("0123456789abcdef0123456789abcdef01234567")
OTHER_SWARM = bytes.fromhex("aa" * 20)


def p4p_config(workdir, random_fraction=0.2, enable="yes"):
    for name in ("pidmap.xml", "guidance.xml"):
        shutil.copy(os.path.join(EXAMPLE, name), workdir)
        os.chmod(os.path.join(workdir, name), 0o644)
    return [f"p4p.enable {enable}",
            f"p4p.random_fraction {random_fraction}",
            f"p4p.pidmap {workdir}/pidmap.xml",
            f"p4p.guidance {workdir}/guidance.xml"]


def populate(tracker, info_hash, pids=(1, 2, 3, 4), per_pid=PER_PID):
    """PER_PID leechers in each PID, each from its own address."""
    for n in pids:
        for i in range(per_pid):
            http_announce("127.0.0.1", tracker.port, info_hash, f"127.0.{n}.{10 + i}", 6881, numwant=0)


def pid_of(address):
    return int(address.split(".")[2]) if address.startswith("127.0.") else 0




def expected_same_pid_share(w_own, n_each=PER_PID, pids=4, numwant=40, eps=0.2):
    """Expected share of same-PID peers in one answer under the documented
    semantics: R = round(eps N) uniform picks among the peers the G = N - R
    guided picks left, which put G * w_own in the own PID (capacity is ample
    here, so no water-filling)."""
    r = math.floor(eps * numwant + 0.5)
    g = numwant - r
    own_guided = g * w_own
    others = n_each * pids
    own_random = r * (n_each - own_guided) / (others - g)
    return (own_guided + own_random) / numwant


def assert_share(hits, total, p):
    """Observed share within 5 binomial standard deviations of p."""
    sigma = math.sqrt(total * p * (1 - p))
    assert abs(hits - total * p) <= 5 * sigma, (hits, total, p)


@pytest.mark.parametrize("info_hash,w_own,kind", [(OTHER_SWARM, 0.7, "default"), (LOCAL_SWARM, 0.9, "guided")])
def test_http_answers_follow_guidance(start_tracker, workdir, info_hash, w_own, kind):
    t = start_tracker(p4p_config(workdir))
    populate(t, info_hash)
    same = total = 0
    for _ in range(100):
        reply, peers = http_announce("127.0.0.1", t.port, info_hash, "127.0.1.200", 6881, numwant=40)
        assert len(peers) == 40
        assert len(set(peers)) == 40
        assert ("127.0.1.200", 6881) not in peers
        same += sum(1 for a, _ in peers if pid_of(a) == 1)
        total += len(peers)
        assert reply[b"incomplete"] == 4 * PER_PID + 1
    assert_share(same, total, expected_same_pid_share(w_own))
    s = p4p_stats(t)
    assert int(s["selections " + kind]) >= 100
    assert int(s["peers random"]) == 100 * 8


def test_udp_answers_follow_guidance(start_tracker, workdir):
    t = start_tracker(p4p_config(workdir))
    populate(t, OTHER_SWARM)
    c = UdpTracker("127.0.0.1", t.port, "127.0.2.201")
    same = total = 0
    try:
        for _ in range(100):
            info, peers = c.announce(OTHER_SWARM, 6881, numwant=40)
            assert info["leechers"] == 4 * PER_PID + 1
            assert len(peers) == 40 and len(set(peers)) == 40
            assert ("127.0.2.201", 6881) not in peers
            same += sum(1 for a, _ in peers if pid_of(a) == 2)
            total += len(peers)
    finally:
        c.close()
    assert_share(same, total, expected_same_pid_share(0.7))


def test_requester_without_pid_gets_stock_selection(start_tracker, workdir):
    t = start_tracker(p4p_config(workdir))
    populate(t, OTHER_SWARM)
    before = int(p4p_stats(t)["selections stock"])
    counts = [0] * 10
    for _ in range(60):
        _, peers = http_announce("127.0.0.1", t.port, OTHER_SWARM, "127.0.9.9", 6881, numwant=40)
        assert len(peers) == 40
        for a, _ in peers:
            counts[pid_of(a)] += 1
    s = p4p_stats(t)
    assert int(s["selections stock"]) - before == 60
    assert int(s["announces without pid"]) >= 60
    # Stock's stride walk over the address-sorted list covers the four equal
    # PIDs about evenly (it is not an iid sample, so no binomial bound), while
    # guidance would have given this requester's... nothing: it has no PID.
    for n in (1, 2, 3, 4):
        assert 0.15 <= counts[n] / sum(counts[1:5]) <= 0.35, counts


def test_small_swarm_returns_everybody_as_stock(start_tracker, workdir):
    t = start_tracker(p4p_config(workdir))
    populate(t, OTHER_SWARM, per_pid=3)
    _, peers = http_announce("127.0.0.1", t.port, OTHER_SWARM, "127.0.1.200", 6881, numwant=50)
    # stock returns every peer, the requester included, when numwant covers the swarm
    assert len(peers) == 13 and ("127.0.1.200", 6881) in peers


def test_ipv6_requester_is_guided(start_tracker, workdir):
    t = start_tracker(p4p_config(workdir))
    # v6 peers: only ::1 is on loopback, so vary the port: all in pid-a
    for port in range(7000, 7060):
        http_announce("::1", t.port, OTHER_SWARM, "::1", port, numwant=0)
    _, peers = http_announce("::1", t.port, OTHER_SWARM, "::1", 9999, numwant=20)
    assert len(peers) == 20 and all(a == "::1" for a, _ in peers)
    assert ("::1", 9999) not in peers
    assert int(p4p_stats(t)["announces with pid"]) >= 61


def swarm_population(tracker):
    populate(tracker, OTHER_SWARM, per_pid=5)
    http_announce("127.0.0.1", tracker.port, OTHER_SWARM, "127.0.1.100", 6881, left=0, event="completed")
    http_announce("127.0.0.1", tracker.port, LOCAL_SWARM, "127.0.2.100", 6881, left=0)


def test_scrape_is_unchanged_from_stock(start_tracker, workdir):
    fork = start_tracker(p4p_config(workdir))
    stock = start_tracker([], binary="opentracker-stock")
    answers = []
    for t in (fork, stock):
        swarm_population(t)
        http = http_scrape("127.0.0.1", t.port, [OTHER_SWARM, LOCAL_SWARM])
        c = UdpTracker("127.0.0.1", t.port, "127.0.3.250")
        try:
            udp = c.scrape([OTHER_SWARM, LOCAL_SWARM])
        finally:
            c.close()
        answers.append((http, udp))
    assert answers[0] == answers[1]
    http, udp = answers[0]
    assert http[b"files"][OTHER_SWARM] == {b"complete": 1, b"downloaded": 1, b"incomplete": 20}
    assert udp[0] == (1, 1, 20)


def test_disabled_p4p_answers_like_stock(start_tracker, workdir):
    fork = start_tracker(p4p_config(workdir, enable="no"))
    stock = start_tracker([], binary="opentracker-stock")
    shapes = []
    for t in (fork, stock):
        swarm_population(t)
        reply, peers = http_announce("127.0.0.1", t.port, OTHER_SWARM, "127.0.1.200", 6881, numwant=8)
        shapes.append((sorted(k for k in reply if k not in (b"interval", b"min interval")), reply[b"complete"],
                       reply[b"incomplete"], reply[b"downloaded"], len(peers)))
    assert shapes[0] == shapes[1]
    s = p4p_stats(fork)
    assert s["p4p enabled"] == "no"
    assert s["selections guided"] == s["selections default"] == "0"


def test_bad_config_value_names_file_and_line(workdir):
    code, out, config = run_tracker_expecting_failure("opentracker-p4p", ["p4p.enable yes", "p4p.random_fraction 1.5"], workdir)
    assert code not in (0, None)
    assert f"{config}:3:" in out and "random_fraction" in out


def test_unknown_p4p_key_refuses_to_start(workdir):
    code, out, config = run_tracker_expecting_failure("opentracker-p4p", ["p4p.enabel yes"], workdir)
    assert code not in (0, None)
    assert f"{config}:2:" in out and "p4p.enabel" in out


def test_broken_pidmap_refuses_to_start_with_line(workdir):
    broken = os.path.join(workdir, "broken-pidmap.xml")
    with open(os.path.join(EXAMPLE, "pidmap.xml")) as f:
        text = f.read()
    with open(broken, "w") as f:
        f.write(text.replace("127.0.2.0/24", "127.0.2.0/33"))
    code, out, _ = run_tracker_expecting_failure("opentracker-p4p", ["p4p.enable yes", f"p4p.pidmap {broken}"], workdir)
    assert code not in (0, None)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "127.0.2.0/24" in l)
    assert f"{broken}:{line}:" in out




def test_sighup_reload_swaps_data_and_bad_reload_keeps_it(start_tracker, workdir):
    t = start_tracker(p4p_config(workdir))
    populate(t, OTHER_SWARM, pids=(1, 2), per_pid=30)
    assert p4p_stats(t)["guidance version"] == "example-1"
    guidance = os.path.join(workdir, "guidance.xml")
    with open(guidance) as f:
        text = f.read()
    # a good new version: pid-a now sends everything guided to pid-b
    new = text.replace('version="example-1"', 'version="example-2"')
    new = new.replace('<entry from="pid-a" to="pid-a" value="0.7"/>', '<entry from="pid-a" to="pid-a" value="0"/>')
    new = new.replace('<entry from="pid-a" to="pid-c" value="0.1"/>', '<entry from="pid-a" to="pid-c" value="0"/>')
    new = new.replace('<entry from="pid-a" to="pid-d" value="0.1"/>', '<entry from="pid-a" to="pid-d" value="0"/>')
    with open(guidance, "w") as f:
        f.write(new)
    t.sighup()
    assert wait_for(lambda: p4p_stats(t)["guidance version"] == "example-2")
    _, peers = http_announce("127.0.0.1", t.port, OTHER_SWARM, "127.0.1.200", 6881, numwant=20)
    # 16 guided picks all from pid-b, 4 random ones anywhere
    assert sum(1 for a, _ in peers if pid_of(a) == 2) >= 16
    # a broken file: the old data stays, the error is visible
    with open(guidance, "w") as f:
        f.write(new[: len(new) // 2])
    failed = int(p4p_stats(t)["reloads failed"])
    t.sighup()
    assert wait_for(lambda: int(p4p_stats(t)["reloads failed"]) == failed + 1)
    s = p4p_stats(t)
    assert s["guidance version"] == "example-2"
    assert guidance in s["last reload error"]
    _, peers = http_announce("127.0.0.1", t.port, OTHER_SWARM, "127.0.1.200", 6881, numwant=20)
    assert sum(1 for a, _ in peers if pid_of(a) == 2) >= 16


def test_swarm_without_guidance_gets_stock_selection(start_tracker, workdir):
    """A PID map but no guidance file: every requester has a PID, no swarm
    has guidance, so every selection is stock's."""
    config = [line for line in p4p_config(workdir) if not line.startswith("p4p.guidance")]
    t = start_tracker(config)
    populate(t, OTHER_SWARM)
    for _ in range(20):
        _, peers = http_announce("127.0.0.1", t.port, OTHER_SWARM, "127.0.1.200", 6881, numwant=40)
        assert len(peers) == 40
    s = p4p_stats(t)
    assert int(s["selections stock"]) == 20
    assert s["selections guided"] == s["selections default"] == "0"
    assert int(s["announces with pid"]) >= 20 + 4 * PER_PID
