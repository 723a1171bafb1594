"""The tracker fed by ALTO alone: `p4p.provider abilene URL alto` against the
real p4p-itracker's ALTO server on loopback (deploy/example/
abilene-loopback.conf: 127.1.0.0/16 is PID 0.i.abilene, 127.9.0.0/16 is
11.i.abilene).  The PID map comes from the network map, default weights
from the p-distance cost map, per-swarm guidance from the priv:p4p-guidance
resource (POSTed statistics), and announces from 127.x are steered by it;
when the server goes away its data expires and selection falls back to
stock, as with the other sources."""
import http.client
import json
import os
import signal

import pytest

from btclient import http_announce
from conftest import TOP, ITracker, p4p_stats, wait_for
from test_connected import ATLA, SWARM, TOKEN, assert_near, expected_share, same_pid_share


@pytest.fixture
def itracker(workdir):
    it = ITracker(os.path.join(TOP, "deploy", "example", "abilene-loopback.conf"), workdir, token=TOKEN)
    yield it.port, it.proc
    it.stop()


def alto(port, *extra):
    return ["p4p.enable yes", "p4p.random_fraction 0.2", "p4p.report_interval 1",
            f"p4p.provider abilene http://127.0.0.1:{port}/directory alto",
            f"p4p.provider.abilene.token {TOKEN}", "p4p.provider.abilene.refresh 2"] + list(extra)


def alto_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
    r = c.getresponse()
    doc = json.loads(r.read())
    c.close()
    return doc


def alto_row(port, swarm, pid):
    """The ALTO guidance resource's row of pid for swarm, normalized."""
    row = alto_get(port, "/alto/guidance")["priv:p4p-swarms"].get(swarm.hex(), {}).get(pid)
    if not row:
        return None
    total = sum(row.values())
    return {k: v / total for k, v in row.items()}


def test_fed_by_alto_alone(start_tracker, itracker):
    port, _ = itracker
    t = start_tracker(alto(port, "p4p.capability_peers 0"))
    assert wait_for(lambda: p4p_stats(t).get("provider abilene state") == "in use"), p4p_stats(t)
    s = p4p_stats(t)
    nm = alto_get(port, "/alto/networkmap")
    assert s["provider abilene url"] == f"http://127.0.0.1:{port}/directory (alto)"
    assert s["pidmap version"] == nm["meta"]["vtag"]["tag"]
    # the 15 PIDs of the network map, and its completing PID (left without
    # prefixes: /0 is dropped)
    assert int(s["pidmap pids"]) == len(nm["network-map"]) == 16
    assert wait_for(lambda: p4p_stats(t)["guidance default matrix"] == "yes"), p4p_stats(t)
    assert wait_for(lambda: p4p_stats(t)["provider abilene costs age seconds"] != "-1")
    assert p4p_stats(t)["provider abilene capability age seconds"] == "-1"  # ALTO has none

    # Atlanta: 40 seeders and 40 leechers; Sunnyvale: 40 seeders.
    for i in range(40):
        http_announce("127.0.0.1", t.port, SWARM, f"127.1.0.{10 + i}", 6881, numwant=0, left=0)
        http_announce("127.0.0.1", t.port, SWARM, f"127.1.1.{10 + i}", 6881, numwant=0)
        http_announce("127.0.0.1", t.port, SWARM, f"127.9.0.{10 + i}", 6881, numwant=0, left=0)
    # the swarm's statistics reach the server as a priv:p4p-stats POST, and
    # its guidance rows come back through the ALTO resource
    row = wait_for(lambda: alto_row(port, SWARM, ATLA))
    assert row and row.get(ATLA, 0) > 0.6, row
    assert wait_for(lambda: int(p4p_stats(t)["provider abilene swarms under per-swarm guidance"]) >= 1)
    requester = "127.1.1.10"
    before = int(p4p_stats(t)["selections guided"])
    assert wait_for(lambda: http_announce("127.0.0.1", t.port, SWARM, requester, 6881, numwant=40)
                    and int(p4p_stats(t)["selections guided"]) > before)
    same, total = same_pid_share(t, requester)
    assert_near(same, total, expected_share(row[ATLA], own_others=79, n_others=119))
    assert int(p4p_stats(t)["announces with pid"]) > 0
    assert p4p_stats(t)["provider abilene last error"] == "-", p4p_stats(t)


def test_server_gone_falls_back_to_stock(start_tracker, itracker):
    port, proc = itracker
    t = start_tracker(alto(port, "p4p.provider.abilene.max_staleness 3", "p4p.provider.abilene.backoff_max 1"))
    assert wait_for(lambda: p4p_stats(t).get("provider abilene state") == "in use"), p4p_stats(t)
    proc.send_signal(signal.SIGTERM)
    proc.wait(5)
    # announces never wait on it, and its data expires after max_staleness
    for i in range(20):
        http_announce("127.0.0.1", t.port, SWARM, f"127.1.0.{10 + i}", 6881, numwant=5)
    assert wait_for(lambda: p4p_stats(t)["provider abilene state"].startswith("no data"), timeout=15), p4p_stats(t)
    s = p4p_stats(t)
    assert int(s["provider abilene failures"]) > 0 and s["provider abilene last error"] != "-"
    stock = int(s["selections stock"])
    http_announce("127.0.0.1", t.port, SWARM, "127.1.0.200", 6881, numwant=5)
    assert int(p4p_stats(t)["selections stock"]) >= stock or p4p_stats(t)["p4p data loaded"] == "no"


def test_bad_alto_config_is_refused(workdir):
    from conftest import run_tracker_expecting_failure
    rc, out, conf = run_tracker_expecting_failure("opentracker-p4p", ["p4p.enable yes", "p4p.provider a http://127.0.0.1:1/directory alot"],
                                                  workdir)
    assert rc != 0 and f"{conf}:3: unknown provider protocol 'alot' (only 'legacy' or 'alto' may follow the URL)" in out


def test_update_stream_feeds_the_tracker(start_tracker, workdir):
    """RFC 8895: the tracker subscribes to the network map and cost map; when
    the server's policy hour turns (test clock: -H 12 -S 3, ATLA-HSTN avoided
    from 13h), the new p-distances arrive as a merge patch on the stream,
    without a poll (refresh is 300 s, max-age 300 s)."""
    conf = os.path.join(workdir, "abilene-hours.conf")
    with open(os.path.join(TOP, "deploy", "example", "abilene-loopback.conf")) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text + "\navoid-link ATLA HSTN hours 13-14 factor 5\n")
    it = ITracker(conf, workdir, args=["-H", "12", "-S", "3"], token=TOKEN)
    port, proc = it.port, it.proc
    try:
        t = start_tracker(["p4p.enable yes", f"p4p.provider abilene http://127.0.0.1:{port}/directory alto",
                           f"p4p.provider.abilene.token {TOKEN}", "p4p.provider.abilene.refresh 300"])
        live = wait_for(lambda: (s := p4p_stats(t))["provider abilene update stream"].startswith("live") and s)
        assert live, p4p_stats(t)
        assert live["provider abilene state"] == "in use"
        events = lambda: int(p4p_stats(t)["provider abilene update stream"].split("(")[1].split()[0])
        assert events() == 2  # the network map and the cost map, whole
        fetches = int(p4p_stats(t)["provider abilene fetches"])
        assert wait_for(lambda: events() >= 3, timeout=10), p4p_stats(t)  # the patch at 13h
        s = p4p_stats(t)
        assert int(s["provider abilene fetches"]) <= fetches + 2  # guidance polls at most, no cost poll
        assert int(s["provider abilene costs age seconds"]) <= 6
        assert s["provider abilene last error"] == "-", s
        # the server goes: the stream ends, polls resume (and fail), the
        # data is kept until max_staleness
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
        assert wait_for(lambda: p4p_stats(t)["provider abilene update stream"].startswith("off"), timeout=30), p4p_stats(t)
        assert "update stream: ended" in p4p_stats(t)["provider abilene last error"] or int(p4p_stats(t)["provider abilene failures"]) > 0
        assert p4p_stats(t)["provider abilene state"] == "in use"
    finally:
        it.stop()

