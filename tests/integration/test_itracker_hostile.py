"""p4p-itracker under hostile clients: slow connections (slowloris), too many
connections, and one client trying to fill the shared tables
(docs/ITRACKER.md, "Hostile clients").

No timing is asserted as a benchmark: a test waits with a timeout far longer
than a loaded machine needs and far shorter than the attack lasts, so an
implementation that locks clients out fails it.  The latency figures are
bench/itracker_slowloris.py's."""
import os
import re
import resource
import socket
import subprocess
import time

import pytest

from conftest import wait_for
from slow_clients import SlowClients
from test_itracker import (BINARY, CT, FULL_TOKEN, PROVIDER, Daemon,
                           error_text, stats_doc)

OTHER_TOKEN = "other-client-token-" + FULL_TOKEN[:16]
OTHER = "client other token %s allow all" % OTHER_TOKEN
# the test provider without client lines: every interface open, quotas by
# address
OPEN_PROVIDER = "\n".join(line for line in PROVIDER.splitlines()
                          if not line.startswith("client "))


@pytest.fixture(autouse=True)
def enough_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def start(tmp_path):
    """start(**kw) factory; each must exit 0 on SIGTERM (a
    sanitizer build exits otherwise on any error or leak)."""
    started = []

    def run(**kw):
        d = Daemon(tmp_path, name="p%d.conf" % len(started), **kw)
        started.append(d)
        return d
    yield run
    for d in started:
        d.stop()
    assert [d.proc.returncode for d in started] == [0] * len(started)


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def ih(n):
    return "%040x" % n


def swarms(first, n, pid="1.i.test"):
    return stats_doc({ih(i): [(pid, 1, 1, None, None)]
                      for i in range(first, first + n)})


def alloc_doc(n):
    return ('<?xml version="1.0"?><capability-request xmlns="urn:opentracker'
            '-p4p:p4p:1" info-hash="%s" count="1"/>' % ih(n)).encode()


def closed_by_server(sock, timeout):
    """True when the server is done with sock within timeout seconds: EOF,
    a reset, or an answer (the requests sent here never complete, so any
    answer is a refusal).  False when it is still open then."""
    sock.settimeout(timeout)
    try:
        sock.recv(4096)
    except socket.timeout:
        return False
    except OSError:
        pass
    return True


# --- slow connections ----------------------------------------------------

def test_authorized_client_is_answered_while_500_slow_connections_are_open(start):
    # deadline far beyond the test: the slow connections stay open, each
    # sending a byte a second, so MHD's idle timeout (2 s here) never ends
    # them; 4 per address, 125 addresses, so the per-IP limit is not what
    # saves the client
    d = start(extra="request-deadline 600")
    slow = SlowClients("127.0.0.1", d.port, 500, per_addr=4, reconnect=False)
    try:
        slow.open_all()
        slow.start()
        assert slow.open_count() == 500
        # the server itself holds all of them (not just the kernel backlog)
        assert wait_for(lambda: open_fds(d.proc.pid) >= 500, timeout=30)
        for _ in range(5):
            r, _ = d.request("GET", "pidmap", timeout=10)
            assert r.status == 200
            r, _ = d.request("POST", "guidance", swarms(1, 1), timeout=10)
            assert r.status == 200
        # ... while the attack was still on: none of them was closed
        assert slow.server_closes == 0 and slow.open_count() == 500
    finally:
        slow.stop()


def drip_until_closed(sock, first, byte, every, timeout):
    """Send `first`, then `byte` every `every` seconds; the seconds until
    the server closed the connection, or None if it is still open after
    timeout."""
    t0 = time.monotonic()
    sock.sendall(first)
    while time.monotonic() - t0 < timeout:
        if closed_by_server(sock, every):
            return time.monotonic() - t0
        try:
            sock.sendall(byte)
        except OSError:
            return time.monotonic() - t0
    return None


def test_slow_request_headers_are_closed_at_the_deadline(start):
    # one byte every 0.5 s beats connection-timeout 2 s forever; the
    # request deadline (2 s) does not care
    d = start(extra="request-deadline 2")
    s = socket.create_connection(("127.0.0.1", d.port))
    lived = drip_until_closed(
        s, b"GET /p4p/v1/pidmap HTTP/1.1\r\nHost: x\r\n", b"X", 0.5, 30)
    s.close()
    assert lived is not None, "slow connection still open after 30 s"
    assert lived >= 1.5  # not before its deadline
    assert d.request("GET", "pidmap")[0].status == 200


def test_slow_request_body_is_closed_at_the_deadline(start):
    d = start(extra="request-deadline 2")
    s = socket.create_connection(("127.0.0.1", d.port))
    head = ("POST /p4p/v1/lookup HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer %s\r\nContent-Type: %s\r\n"
            "Content-Length: 3000\r\n\r\n<" % (FULL_TOKEN, CT)).encode()
    lived = drip_until_closed(s, head, b" ", 0.5, 30)
    s.close()
    assert lived is not None, "slow upload still open after 30 s"
    assert lived >= 1.5
    assert d.request("GET", "pidmap")[0].status == 200


def test_keepalive_connection_gets_a_new_deadline_per_request(start):
    # three requests over one connection, 1.2 s apart: each arrives within
    # its own 3 s deadline although the connection lives longer than that
    d = start(extra="request-deadline 3")
    c = d.conn()
    for _ in range(3):
        c.request("GET", "/p4p/v1/pidmap",
                  headers={"Authorization": "Bearer " + FULL_TOKEN})
        r = c.getresponse()
        r.read()
        assert r.status == 200
        time.sleep(1.2)
    c.close()


def test_beyond_max_connections_the_longest_waiting_are_closed(start):
    d = start(extra="max-connections 20\nrequest-deadline 600\n"
                    "connection-timeout 600\nmax-connections-per-ip 100")
    socks = []

    def slow_conn():
        s = socket.create_connection(("127.0.0.1", d.port))
        s.sendall(b"GET /p4p/v1/pidmap HTTP/1.1\r\n")  # and nothing more
        socks.append(s)
    try:
        for _ in range(20):
            slow_conn()
        time.sleep(0.5)
        assert not any(closed_by_server(s, 0.01) for s in socks)
        # each newcomer above 20 closes the one waiting longest
        for i in range(20, 30):
            slow_conn()
            assert closed_by_server(socks[i - 20], 10)
        assert not any(closed_by_server(s, 0.01) for s in socks[10:])
        # a client is served: it takes the slot of the oldest waiting one
        r, _ = d.request("GET", "pidmap", timeout=10)
        assert r.status == 200
        assert closed_by_server(socks[10], 10)
        assert not any(closed_by_server(s, 0.01) for s in socks[11:])
    finally:
        for s in socks:
            s.close()


def test_connections_per_address_are_limited(start):
    d = start(extra="max-connections-per-ip 3\n"
                    "request-deadline 600")
    socks = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(b"GET /p4p/v1/pidmap HTTP/1.1\r\n")
            socks.append(s)
        time.sleep(0.5)
        assert not any(closed_by_server(s, 0.1) for s in socks)
        fourth = socket.create_connection(("127.0.0.1", d.port))
        assert closed_by_server(fourth, 10)
        fourth.close()
        # another address is not affected
        r, _ = d.request("GET", "pidmap", source="127.0.9.1")
        assert r.status == 200
    finally:
        for s in socks:
            s.close()


def upload_in_progress(d):
    """A lookup whose 3000-byte body stops after 100 bytes: with max-body-total
    = max-body (4096) it holds all of it.  The socket, to close."""
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(("POST /p4p/v1/lookup HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\nContent-Type: %s\r\n"
               "Content-Length: 3000\r\n\r\n" % (FULL_TOKEN, CT)).encode()
              + b" " * 100)
    return s


def test_bodies_in_flight_are_capped_in_total(start):
    d = start(extra="max-body-total 4096\nrequest-deadline 600")
    s = upload_in_progress(d)

    def refused():
        r, data = d.request("POST", "lookup", b"<x/>", timeout=10)
        return r if r.status == 503 else None
    r = wait_for(refused, timeout=20, step=0.2)
    assert r is not None and r.getheader("Retry-After") == "1"
    s.close()
    # the bytes come back when that request ends
    r = wait_for(lambda: d.request("POST", "lookup", b"<x/>")[0].status
                 == 400, timeout=20, step=0.2)
    assert r


# --- tables: per-client quotas and expiry ---------------------------------

def test_one_client_cannot_fill_the_swarm_table(start):
    d = start(extra="%s\nmax-tracked-swarms 100\n"
                    "max-swarms-per-client 30" % OTHER)
    for first in (0, 10, 20):
        assert d.request("POST", "guidance", swarms(first, 10))[0].status == 200
    # the flood stops at the quota...
    r, data = d.request("POST", "guidance", swarms(30, 1))
    assert r.status == 429
    assert "client full" in error_text(data) and "30" in error_text(data)
    # ... its own swarms are still refreshed ...
    assert d.request("POST", "guidance", swarms(5, 10))[0].status == 200
    # ... and another client is served
    r, _ = d.request("POST", "guidance", swarms(100, 10), token=OTHER_TOKEN)
    assert r.status == 200
    # a swarm moves to whoever reported it last: the other client now
    # holds swarms 0-4, so the first client has room for five more
    r, _ = d.request("POST", "guidance", swarms(0, 5), token=OTHER_TOKEN)
    assert r.status == 200
    assert d.request("POST", "guidance", swarms(40, 5))[0].status == 200
    assert d.request("POST", "guidance", swarms(45, 1))[0].status == 429


def test_swarm_quota_comes_back_when_swarms_expire(start):
    d = start(extra="max-swarms-per-client 10\nswarm-expiry 1")
    assert d.request("POST", "guidance", swarms(0, 10))[0].status == 200
    assert d.request("POST", "guidance", swarms(10, 1))[0].status == 429
    time.sleep(2.5)
    assert d.request("POST", "guidance", swarms(10, 10))[0].status == 200


def test_one_client_cannot_fill_the_allocation_table(start):
    d = start(extra="%s\nmax-allocations 8\n"
                    "max-allocations-per-client 5" % OTHER)
    for n in range(5):
        assert d.request("POST", "capability", alloc_doc(n))[0].status == 200
    r, data = d.request("POST", "capability", alloc_doc(5))
    assert r.status == 429 and "client full" in error_text(data)
    # asking again for a swarm it holds is not a new allocation
    assert d.request("POST", "capability", alloc_doc(0))[0].status == 200
    for n in range(100, 103):
        r, _ = d.request("POST", "capability", alloc_doc(n),
                         token=OTHER_TOKEN)
        assert r.status == 200
    # the table itself (8) is full now: 503, not a quota answer
    r, data = d.request("POST", "capability", alloc_doc(103),
                        token=OTHER_TOKEN)
    assert r.status == 503 and "full" in error_text(data)


def test_allocations_expire_and_free_the_quota(start):
    d = start(extra="max-allocations-per-client 2\n"
                    "allocation-expiry 1")
    assert d.request("POST", "capability", alloc_doc(0))[0].status == 200
    assert d.request("POST", "capability", alloc_doc(1))[0].status == 200
    assert d.request("POST", "capability", alloc_doc(2))[0].status == 429
    time.sleep(2.5)
    assert d.request("POST", "capability", alloc_doc(2))[0].status == 200


def test_open_access_quotas_go_by_address(start):
    d = start(provider=OPEN_PROVIDER,
              extra="max-swarms-per-client 10\nmax-allocations-per-client 2")
    a, b = "127.0.11.1", "127.0.11.2"
    assert d.request("POST", "guidance", swarms(0, 10), token=None,
                     source=a)[0].status == 200
    r, data = d.request("POST", "guidance", swarms(10, 1), token=None,
                        source=a)
    assert r.status == 429 and "address 127.0.11.1" in error_text(data)
    assert d.request("POST", "guidance", swarms(20, 10), token=None,
                     source=b)[0].status == 200
    for n in (0, 1):
        assert d.request("POST", "capability", alloc_doc(n), token=None,
                         source=a)[0].status == 200
    assert d.request("POST", "capability", alloc_doc(2), token=None,
                     source=a)[0].status == 429
    assert d.request("POST", "capability", alloc_doc(2), token=None,
                     source=b)[0].status == 200


# --- configuration --------------------------------------------------------

@pytest.mark.parametrize("line, words", [
    ("request-deadline 0", "request-deadline: 0 is outside [1, 3600]"),
    ("max-connections-per-ip x",
     "max-connections-per-ip: 'x' is not a non-negative integer"),
    ("max-swarms-per-client", "usage: max-swarms-per-client N"),
    ("allocation-expiry 1 2", "usage: allocation-expiry N"),
])
def test_bad_limit_names_file_and_line(tmp_path, line, words):
    conf = tmp_path / "bad.conf"
    text = OPEN_PROVIDER.format(cap=1, extra="")
    conf.write_text(text + "\n" + line + "\n")
    lineno = text.count("\n") + 2
    p = subprocess.run([BINARY, "-f", str(conf), "-p", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "listening" not in p.stdout
    assert "%s:%d: %s" % (conf, lineno, words) in p.stderr


def test_shared_statement_errors_keep_their_line_numbers(tmp_path):
    # the limit statements are taken out before the shared parser runs;
    # its errors must still point at the right line
    conf = tmp_path / "bad.conf"
    conf.write_text("request-deadline 5\nmax-connections 100\nasid 1\n"
                    "pop A\npid x pop B prefix 10.0.0.0/8\n")
    p = subprocess.run([BINARY, "-f", str(conf), "-p", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "%s:5:" % conf in p.stderr


def test_total_body_cap_below_the_request_cap_is_refused(tmp_path):
    conf = tmp_path / "p.conf"
    conf.write_text(OPEN_PROVIDER.format(cap=1, extra="max-body-total 2048"))
    p = subprocess.run([BINARY, "-f", str(conf), "-p", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert re.search(r"max-body-total \(2048\) must be at least max-body "
                     r"\(4096\)", p.stderr)
