"""BEP 15 connection ids (patches/0006-udp-rotating-connection-ids.patch): an id
works for `listen.udp.connid_lifetime` seconds from the address it was given
to, then is refused; trackers that share `listen.udp.connid_secret_file`
accept each other's ids, others do not.  The real binary over UDP on
loopback, clients bound to distinct 127.x addresses.

The tracker's clock (g_now_seconds) is time() read every 5 s, so an id's age as
the tracker sees it is its real age give or take 6 s (5 s of staleness at issue
or at check, plus time()'s truncation to whole seconds)."""
import os
import socket
import struct
import time

import pytest

from conftest import free_port, run_tracker_expecting_failure

SWARM = bytes.fromhex("c0" * 20)
MAGIC = 0x41727101980
CLOCK_SLACK = 6
LIFETIME = 10  # the smallest the tracker takes


class Udp:
    """Raw BEP 15 requests from one (source address, port); answers as
    (action, payload) so that error answers can be seen."""

    def __init__(self, tracker, source, host="127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.settimeout(3)
        self.sock.bind((source, 0))
        self.addr = (host, tracker.port)
        self.tid = 0

    def ask(self, cid, action, body=b""):
        self.tid += 1
        self.sock.sendto(struct.pack("!QII", cid, action, self.tid) + body, self.addr)
        data, _ = self.sock.recvfrom(2048)
        got, tid = struct.unpack("!II", data[:8])
        assert tid == self.tid
        return got, data[8:]

    def connect(self):
        action, payload = self.ask(MAGIC, 0)
        assert action == 0
        return struct.unpack("!Q", payload[:8])[0]

    def accepted(self, cid):
        """True if a scrape with cid is answered, False if it gets the
        tracker's 'Connection ID missmatch.' error."""
        action, payload = self.ask(cid, 2, SWARM)
        if action == 3:
            assert payload.rstrip(b"\0") == b"Connection ID missmatch."
            return False
        assert action == 2 and len(payload) == 12
        return True

    def announce(self, cid, port):
        body = struct.pack("!20s20sQQQIIIiH", SWARM, b"-TS0001-" + bytes(12), 0, 1, 0, 2, 0, 0, 50, port)
        return self.ask(cid, 1, body)[0]

    def close(self):
        self.sock.close()


def secret_file(workdir, name="connid.secret", mode=0o600, text="00112233445566778899aabbccddeeff\n"):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def test_fresh_id_works_and_is_refused_once_its_lifetime_is_over(start_tracker):
    t = start_tracker([f"listen.udp.connid_lifetime {LIFETIME}"])
    c = Udp(t, "127.0.5.1")
    sent = time.time()
    cid = c.connect()
    issued = time.time()
    assert c.accepted(cid)
    assert c.announce(cid, 6881) == 1

    # Ask every 0.25 s until the id is refused: that must happen after
    # lifetime - slack and by lifetime + slack (+1 s for the 5 s clock's
    # drift and the polling).
    refused_at = None
    while time.time() - sent < LIFETIME + CLOCK_SLACK + 2:
        if not c.accepted(cid):
            refused_at = time.time()
            break
        time.sleep(0.25)
    assert refused_at is not None, "id still accepted %.1f s after it was issued" % (time.time() - sent)
    assert refused_at - issued > LIFETIME - CLOCK_SLACK
    assert refused_at - sent <= LIFETIME + CLOCK_SLACK + 1
    assert c.announce(cid, 6881) == 3
    assert not c.accepted(cid)  # and stays refused

    # a fresh one works, and it is a different id
    fresh = c.connect()
    assert fresh != cid
    assert c.accepted(fresh)
    assert c.announce(fresh, 6881) == 1
    c.close()


def test_id_is_bound_to_the_address_not_the_port(start_tracker):
    t = start_tracker()
    a = Udp(t, "127.0.5.2")
    cid = a.connect()
    assert a.accepted(cid)

    other_address = Udp(t, "127.0.5.3")
    assert not other_address.accepted(cid)
    assert other_address.announce(cid, 6881) == 3

    # Same address, another socket (port): accepted, as NATs remap ports
    # between a client's connect and its announces.
    other_port = Udp(t, "127.0.5.2")
    assert other_port.sock.getsockname()[1] != a.sock.getsockname()[1]
    assert other_port.accepted(cid)

    # IPv6 ids (the two-block MAC) work from their address, and neither
    # family's id works from the other
    v6 = Udp(t, "::1", host="::1")
    cid6 = v6.connect()
    assert v6.accepted(cid6)
    assert not v6.accepted(cid)
    assert not a.accepted(cid6)
    for c in (a, other_address, other_port, v6):
        c.close()


def test_altered_ids_are_refused(start_tracker):
    """The MAC covers the issue time: moving an id's time forward (to make
    it live longer) or back, or changing its MAC, makes it invalid."""
    t = start_tracker()
    c = Udp(t, "127.0.5.4")
    cid = c.connect()
    issued, mac = cid >> 32, cid & 0xFFFFFFFF
    assert abs(issued - time.time()) < CLOCK_SLACK  # first half: the tracker's clock
    for forged in ((issued + 1) << 32 | mac, (issued - 1) << 32 | mac,
                   issued << 32 | (mac ^ 1), ((issued + 3600) << 32) | mac):
        assert not c.accepted(forged)
    assert not c.accepted(0) and not c.accepted(MAGIC)
    assert c.accepted(cid)
    c.close()


def test_trackers_sharing_the_secret_accept_each_others_ids(start_tracker, workdir):
    secret = secret_file(workdir)
    a = start_tracker([f"listen.udp.connid_secret_file {secret}"])
    b = start_tracker([f"listen.udp.connid_secret_file {secret}"])
    alone1 = start_tracker()
    alone2 = start_tracker()

    to_a, to_b = Udp(a, "127.0.5.5"), Udp(b, "127.0.5.5")
    cid = to_a.connect()
    assert to_b.accepted(cid)
    assert to_a.accepted(to_b.connect())
    assert not Udp(b, "127.0.5.6").accepted(cid)  # still bound to the address

    # without the file each process has its own random secret
    to_1, to_2 = Udp(alone1, "127.0.5.5"), Udp(alone2, "127.0.5.5")
    assert not to_1.accepted(cid)
    assert not to_2.accepted(to_1.connect())
    assert not to_a.accepted(to_1.connect())


def test_ids_work_across_sockets_and_udp_worker_threads(start_tracker, workdir):
    """With listen.udp.workers, a second socket is served by worker threads;
    they check ids with the same keys (set before any of them starts)."""
    worker_port = free_port()
    t = start_tracker([f"listen.udp.connid_secret_file {secret_file(workdir)}",
                       "listen.udp.workers 2", f"listen.udp 127.0.0.1:{worker_port}"])
    main = Udp(t, "127.0.5.7")
    worker = Udp(t, "127.0.5.7")
    worker.addr = ("127.0.0.1", worker_port)
    cid = main.connect()
    assert worker.accepted(cid)
    assert worker.announce(cid, 6881) == 1
    assert main.accepted(worker.connect())
    stranger = Udp(t, "127.0.5.8")
    stranger.addr = worker.addr
    assert not stranger.accepted(cid)


@pytest.mark.parametrize("lines, line, reason", [
    (["listen.udp.connid_lifetime 9"], 2, "seconds from 10 to 3600"),
    (["listen.udp.connid_lifetime 3601"], 2, "seconds from 10 to 3600"),
    (["listen.udp.connid_lifetime 2m"], 2, "seconds from 10 to 3600"),
    (["listen.udp.connid_lifetime 99999999999999999999"], 2, "seconds from 10 to 3600"),
    (["listen.udp.connid_secret_file {dir}/nonexistent"], 2, "cannot open"),
    (["listen.udp.connid_secret_file {dir}/world-readable"], 2, "only its owner may read"),
    (["listen.udp.connid_secret_file {dir}/short"], 2, "32 hex digits"),
    (["listen.udp.connid_secret_file {dir}/long"], 2, "32 hex digits"),
    (["listen.udp.connid_secret_file {dir}"], 2, "regular file"),
    (["listen.udp.connid_lifetme 60"], 2, "unknown key"),
    # workers already serve a socket with the random keys: too late to change them
    (["listen.udp.workers 1", "listen.udp 127.0.0.1:{port}", "listen.udp.connid_secret_file {dir}/good"],
     4, "must come before"),
])
def test_bad_connid_config_stops_the_tracker_with_file_and_line(workdir, lines, line, reason):
    secret_file(workdir, "world-readable", mode=0o644)
    secret_file(workdir, "short", text="00112233445566778899aabbccddeef\n")
    secret_file(workdir, "long", text="00112233445566778899aabbccddeeff00\n")
    secret_file(workdir, "good")
    lines = [l.format(dir=workdir, port=free_port()) for l in lines]
    code, out, config = run_tracker_expecting_failure("opentracker-p4p", lines, workdir)
    assert code not in (0, None)
    assert f"{config}:{line}: " in out and reason in out, out
