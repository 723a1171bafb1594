"""SIGHUP reloads the real p4p-itracker's provider file on loopback: a good
file takes effect for new requests (credentials, PIDs, the version in every
answer, guidance over the new topology, the ALTO map) without dropping the
listening socket or a kept-alive connection; settings only a restart can
change are reported and kept; a broken file is reported with its file and
line and changes nothing."""
import json
import os
import signal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import TOP, ITracker, wait_for

EXAMPLE = os.path.join(TOP, "deploy", "example", "abilene-loopback.conf")
TOKEN = "b751559216bc30cc2f069749861be9cf"     # apptracker: allow all (both files)
LOOKUP = "d32e5fbe750886edccf9bd48c4e34198"    # lookup-only: gone from the second file
NEWCOMER = "7a1c0e9d4b3f2a8e6d5c4b3a29180f7e"  # only in the second file
MONITOR = "3c9e1b7f55a04d2e8b6a0f1d2c3e4f5a"   # prometheus: allow metrics
NEW_PID = "15.i.abilene"


def first_file():
    return open(EXAMPLE).read()


def second_file():
    """version 2; lookup-only replaced by newcomer; a 16th PID in Atlanta;
    a connection limit that needs a restart"""
    text = first_file().replace("version abilene-loopback-1", "version abilene-loopback-2")
    text = text.replace(f"client lookup-only token {LOOKUP} allow info", f"client newcomer token {NEWCOMER} allow info")
    assert "abilene-loopback-2" in text and NEWCOMER in text
    return text + f"\npid {NEW_PID} pop ATLA prefix 127.12.0.0/16\nmax-connections 999\n"


@pytest.fixture
def started(workdir):
    conf = os.path.join(workdir, "provider.conf")
    with open(conf, "w") as f:
        f.write(first_file())
    it = ITracker(conf, workdir, token=TOKEN)
    yield it, conf
    assert it.stop() == 0


def get(it, path, token=TOKEN, conn=None):
    """GET any path (conn: on that kept-alive connection); (status, headers, body)"""
    c = conn or it.conn(timeout=10)
    try:
        c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        if conn is None:
            c.close()


def version(it, conn=None):
    status, headers, body = get(it, "/p4p/v1/pidmap", conn=conn)
    assert status == 200, body
    return headers["X-P4P-Version"]


def reloads(it):
    status, _, body = get(it, "/metrics", MONITOR)
    assert status == 200, body
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            if s.name == "p4p_itracker_reloads_total":
                out[s.labels["result"]] = s.value
    return out


def stats_doc(info_hash):
    return (f'<stats xmlns="urn:opentracker-p4p:p4p:1"><swarm info-hash="{info_hash}">'
            f'<pid name="{NEW_PID}" seeders="5" leechers="0"/>'
            f'<pid name="11.i.abilene" seeders="0" leechers="20"/></swarm></stats>').encode()


def test_sighup_applies_a_good_file_and_keeps_the_old_on_a_bad_one(started):
    it, conf = started
    port, pid = it.port, it.proc.pid
    kept = it.conn(timeout=10)  # a kept-alive connection across the reload
    assert version(it, kept) == "abilene-loopback-1"
    assert get(it, "/p4p/v1/pidmap", LOOKUP)[0] == 200
    assert get(it, "/p4p/v1/pidmap", NEWCOMER)[0] == 401
    assert NEW_PID.encode() not in get(it, "/p4p/v1/pidmap")[2]
    r, body = it.request("POST", "guidance", stats_doc("%040x" % 1))
    assert r.status == 400 and NEW_PID.encode() in body  # unknown PID so far
    assert reloads(it) == {"ok": 0, "failed": 0}

    with open(conf, "w") as f:
        f.write(second_file())
    os.kill(pid, signal.SIGHUP)
    assert wait_for(lambda: "reloaded " + conf in it.output(), timeout=20), it.output()
    # the same process on the same socket, and the same connection
    assert it.proc.poll() is None and it.port == port
    assert version(it, kept) == "abilene-loopback-2"
    assert get(it, "/p4p/v1/pidmap", NEWCOMER)[0] == 200
    assert get(it, "/p4p/v1/pidmap", LOOKUP)[0] == 401
    status, headers, body = get(it, "/p4p/v1/pidmap")
    assert NEW_PID.encode() in body and headers["ETag"] == '"map-abilene-loopback-2"'
    status, _, body = get(it, "/p4p/v1/costs?hour=3")
    assert status == 200 and NEW_PID.encode() in body and b"abilene-loopback-2" in body
    # the solver works on the new topology: statistics in the new PID are taken
    r, body = it.request("POST", "guidance", stats_doc("%040x" % 2))
    assert r.status == 200 and NEW_PID.encode() in body, body
    # ALTO serves the new map too
    status, _, body = get(it, "/alto/networkmap")
    assert status == 200 and NEW_PID in json.loads(body)["network-map"]
    # a setting only a restart changes is said to be kept, not silently ignored
    assert conf + ": reload: max-connections: needs a restart, kept 1024" in it.output()
    assert reloads(it) == {"ok": 1, "failed": 0}

    # a broken file: named with its line, and nothing changes
    broken = second_file().replace("version abilene-loopback-2", "version abilene-loopback-3")
    lines = broken.splitlines()
    lines.append("pid 16.i.abilene pop NOWHERE prefix 127.13.0.0/16")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    before = it.output()
    os.kill(pid, signal.SIGHUP)
    assert wait_for(lambda: "reload failed" in it.output(), timeout=20), it.output()
    said = it.output()[len(before):]
    assert f"{conf}:{len(lines)}:" in said and "NOWHERE" in said, said
    assert "still serving version abilene-loopback-2" in said
    assert it.proc.poll() is None
    assert version(it, kept) == "abilene-loopback-2"
    assert get(it, "/p4p/v1/pidmap", NEWCOMER)[0] == 200
    assert get(it, "/p4p/v1/pidmap", LOOKUP)[0] == 401
    assert NEW_PID.encode() in get(it, "/p4p/v1/pidmap")[2]
    r, body = it.request("POST", "guidance", stats_doc("%040x" % 3))
    assert r.status == 200, body
    assert reloads(it) == {"ok": 1, "failed": 1}

    # TLS cannot be switched on by a reload (the files it names are read at
    # start): said, and the daemon keeps answering plain HTTP
    with open(conf, "w") as f:
        f.write(second_file() + f"tls {conf}.cert.pem {conf}.key.pem\n")
    os.kill(pid, signal.SIGHUP)
    assert wait_for(lambda: it.output().count("reloaded " + conf) == 2, timeout=20), it.output()
    assert conf + ": reload: tls certificate: needs a restart, kept none" in it.output()
    assert it.proc.poll() is None and version(it, kept) == "abilene-loopback-2"
    assert reloads(it) == {"ok": 2, "failed": 1}
    kept.close()
