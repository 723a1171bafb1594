r"""p4p-itracker against a real running daemon on 127.0.0.1.

The test provider (hand-checked answers below):

    NEWYORK --10-- CHICAGO --30-- LOSANGELES      (IGP weights = prices)
        \__________________100______________/

  Routes follow the IGP: NEWYORK->LOSANGELES goes via CHICAGO (10 + 30 = 40
  < 100), so the direct link carries nothing.  The costliest off-peak route
  is 40, so normalized costs (x 100 / 40) are:
      NY-CHI 25, CHI-LA 75, NY-LA 100, same PoP 0.
  CHICAGO-LOSANGELES is avoided 18-22h with factor 5 (price 150):
      CHI-LA 375, NY-LA (10 + 150) x 2.5 = 400, NY-CHI still 25.
  PIDs: 1.i.test = NEWYORK, 2.i.test and 3.i.test = CHICAGO,
        4.i.test = LOSANGELES.
"""
import http.client
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import BUILD as BUILD_DIR
from conftest import ITracker
from p4pxml import CT, lookup_request
from p4pxml import capability_request as alloc_doc
from p4pxml import stats as stats_doc

BINARY = os.path.join(BUILD_DIR, "p4p-itracker")
NS = "{urn:opentracker-p4p:p4p:1}"
POP_NAMES = ["NEWYORK", "CHICAGO", "LOSANGELES"]

FULL_TOKEN = secrets.token_hex(16)
INFO_TOKEN = secrets.token_hex(16)

PROVIDER = f"""
provider testnet
asid 64500
version test-1
pop NEWYORK loc 40.71,-74.01
pop CHICAGO loc 41.88,-87.63
pop LOSANGELES loc 34.05,-118.24
link NEWYORK CHICAGO capacity 1000000 weight 10
link CHICAGO LOSANGELES capacity 1000000 weight 30
link NEWYORK LOSANGELES capacity 1000000 weight 100
pid 1.i.test pop NEWYORK prefix 10.1.0.0/16 prefix 2001:db8:1::/48
pid 2.i.test pop CHICAGO prefix 10.2.0.0/17
pid 3.i.test pop CHICAGO prefix 10.2.128.0/17
pid 4.i.test pop LOSANGELES prefix 10.3.0.0/16
server 4.i.test cache 10.3.0.10 6881 capacity 1000
server 4.i.test seed 10.3.0.11 6882 capacity 2000
server 1.i.test cache 10.1.0.10 6881 capacity 1000
client full token {FULL_TOKEN} allow all
client infoonly token {INFO_TOKEN} allow info
avoid-link CHICAGO LOSANGELES hours 18-22 factor 5
max-body 4096
connection-timeout 2
max-optimized-swarms {{cap}}
first-solve-wait-ms 20000
{{extra}}
"""


class Daemon(ITracker):
    """The test provider's daemon, its file in tmp_path, its clock pinned
    to `hour`; request() sends FULL_TOKEN unless told otherwise."""

    def __init__(self, tmp_path, cap=100, hour=12, extra="", name="p.conf",
                 host="127.0.0.1", provider=None):
        self.conf = tmp_path / name
        self.conf.write_text((provider or PROVIDER).format(cap=cap, extra=extra))
        super().__init__(self.conf, tmp_path, host=host,
                         args=["-H", str(hour)], token=FULL_TOKEN)


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    d.stop()
    assert d.proc.returncode == 0


def parse(data):
    root = ET.fromstring(data)
    return root


def error_text(data):
    root = ET.fromstring(data)
    assert root.tag == NS + "error"
    return root.text or ""


def matrix(elem):
    """<pids> + <entry> children -> {from: {to: value}}, rows normalized."""
    pids = elem.find(NS + "pids").text.split()
    m = {p: {q: 0.0 for q in pids} for p in pids}
    for e in elem.findall(NS + "entry"):
        m[e.get("from")][e.get("to")] = float(e.get("value"))
    return m


def normalized(m):
    out = {}
    for p, row in m.items():
        s = sum(row.values())
        out[p] = {q: (v / s if s else 0.0) for q, v in row.items()}
    return out


def h(n):
    return ("%02x" % n) * 20


def assert_no_topology(data):
    text = data.decode()
    for name in POP_NAMES:
        assert name not in text


# --- info -----------------------------------------------------------------

def test_pidmap_lists_opaque_pids_with_freshness_headers(daemon):
    r, data = daemon.request("GET", "pidmap")
    assert r.status == 200
    assert r.getheader("Content-Type") == CT
    assert r.getheader("Cache-Control") == "max-age=300"
    etag = r.getheader("ETag")
    assert etag and "test-1" in etag
    root = parse(data)
    pids = {p.get("name"): p for p in root.findall(NS + "pid")}
    assert sorted(pids) == ["1.i.test", "2.i.test", "3.i.test", "4.i.test"]
    assert pids["1.i.test"].get("asid") == "64500"
    assert pids["1.i.test"].get("loc") == "40.71,-74.01"
    prefixes = [p.text for p in pids["1.i.test"].findall(NS + "prefix")]
    assert prefixes == ["10.1.0.0/16", "2001:db8:1::/48"]
    assert_no_topology(data)
    # a client holding the current version gets 304 and no body
    r, data = daemon.request("GET", "pidmap", headers={"If-None-Match": etag})
    assert r.status == 304 and data == b""


def test_lookup_maps_addresses_by_longest_prefix(daemon):
    body = lookup_request(["10.2.200.1", "2001:db8:1::5", "192.0.2.1"])
    r, data = daemon.request("POST", "lookup", body, token=INFO_TOKEN)
    assert r.status == 200
    res = parse(data).findall(NS + "result")
    assert [x.get("pid") for x in res] == ["3.i.test", "1.i.test", None]
    assert res[0].get("asid") == "64500"
    assert res[0].get("loc") == "41.88,-87.63"


# --- policy ---------------------------------------------------------------

def costs_of(data):
    return matrix(parse(data))


def test_costs_are_normalized_route_costs(daemon):
    r, data = daemon.request("GET", "costs")
    assert r.status == 200
    assert r.getheader("ETag").endswith('-h12"')
    c = costs_of(data)
    assert c["1.i.test"]["2.i.test"] == pytest.approx(25)
    assert c["2.i.test"]["4.i.test"] == pytest.approx(75)
    assert c["1.i.test"]["4.i.test"] == pytest.approx(100)
    assert c["4.i.test"]["1.i.test"] == pytest.approx(100)
    assert c["2.i.test"]["3.i.test"] == pytest.approx(0)  # same PoP
    assert_no_topology(data)


def test_avoided_link_raises_only_pairs_routed_over_it(daemon):
    r, data = daemon.request("GET", "costs?hour=19")
    assert r.status == 200
    c = costs_of(data)
    assert c["2.i.test"]["4.i.test"] == pytest.approx(375)
    assert c["1.i.test"]["4.i.test"] == pytest.approx(400)
    assert c["1.i.test"]["2.i.test"] == pytest.approx(25)
    # 22h is outside 18-22
    c = costs_of(daemon.request("GET", "costs?hour=22")[1])
    assert c["1.i.test"]["4.i.test"] == pytest.approx(100)
    r, data = daemon.request("GET", "costs?hour=24")
    assert r.status == 400


def test_injected_clock_applies_avoidance_by_default(tmp_path):
    d = Daemon(tmp_path, hour=19)
    try:
        r, data = d.request("GET", "costs")
        assert r.status == 200
        assert costs_of(data)["1.i.test"]["4.i.test"] == pytest.approx(400)
    finally:
        d.stop()


# --- guidance -------------------------------------------------------------

def test_guidance_gives_demand_pids_a_row(daemon):
    # seeds in NEWYORK (1.i.test), leechers in LOSANGELES (4.i.test).
    # u_NY = 1000, d_LA = 1000: T_opt = t_NY,LA = 1000.  The paper's row
    # w_LA,j = t_LA,j / sum_j t_LA,j is 0/0: empty exactly for the peers
    # that need sources.  Ours (docs/OPTIMIZER.md) counts both directions:
    # row LA = {NY: 1} (all of NY's upload goes to LA), row NY = {LA: 1}
    # (NY has no download to fill locally).  CHICAGO has no peers: the
    # fallback weighs the PoPs with peers by their peers, NY 5 : LA 10.
    body = stats_doc({h(1): [("1.i.test", 5, 0, 1000, 0),
                             ("4.i.test", 0, 10, 0, 1000)]})
    r, data = daemon.request("POST", "guidance", body)
    assert r.status == 200, data
    assert r.getheader("X-P4P-Optimized-Swarms") == "1"
    root = parse(data)
    assert root.find(NS + "default") is not None
    sw = root.findall(NS + "swarm")
    assert [s.get("info-hash") for s in sw] == [h(1)]
    w = normalized(matrix(sw[0]))
    assert w["4.i.test"]["1.i.test"] == pytest.approx(1)
    assert w["1.i.test"]["4.i.test"] == pytest.approx(1)
    assert w["2.i.test"]["1.i.test"] == pytest.approx(1 / 3)
    assert w["2.i.test"]["4.i.test"] == pytest.approx(2 / 3)
    for row in w.values():
        assert sum(row.values()) == pytest.approx(1)
        assert all(v >= 0 for v in row.values())
    assert_no_topology(data)


def test_guidance_splits_a_pop_over_its_pids_by_peers(daemon):
    # seeds in NEWYORK, 30 leechers in 2.i.test and 10 in 3.i.test, both
    # CHICAGO: the NY row gives CHICAGO everything, split 3:1.
    body = stats_doc({h(2): [("1.i.test", 4, 0, 2000, 0),
                             ("2.i.test", 0, 30, 0, 1500),
                             ("3.i.test", 0, 10, 0, 500)]})
    r, data = daemon.request("POST", "guidance", body)
    assert r.status == 200, data
    w = normalized(matrix(parse(data).find(NS + "swarm")))
    assert w["1.i.test"]["2.i.test"] == pytest.approx(0.75)
    assert w["1.i.test"]["3.i.test"] == pytest.approx(0.25)
    # and the GET interface publishes the same optimized swarm
    r, data = daemon.request("GET", "guidance")
    assert r.status == 200
    hashes = [s.get("info-hash") for s in parse(data).findall(NS + "swarm")]
    assert h(2) in hashes


def test_unknown_rates_use_access_classes(daemon):
    # no rates, no classes in the file: the paper's mix, mean up 1179.2,
    # mean down 3006.8 kbit/s; every peer uploads, leechers download.
    # NY: 2 seeders, u~ = 2358.4, d~ = 0.  LA: 1 leecher, u~ = 1179.2,
    # d~ = 3006.8, so t_LA,LA = min = 1179.2 stays inside LA and the
    # residual demand 1827.6 comes from NY (supply 2358.4 suffices).
    # Row LA (w_ij ∝ n_j x share of j's capacity planned for i):
    #   NY: 2 peers x 1827.6 / 2358.4 = 1.54986
    #   LA: 1 peer x (1179.2 / 1179.2 + 1179.2 / 3006.8) = 1.39218
    # Row NY: LA only.
    body = stats_doc({h(3): [("1.i.test", 2, 0, None, None),
                             ("4.i.test", 0, 1, None, None)]})
    r, data = daemon.request("POST", "guidance", body)
    assert r.status == 200, data
    w = normalized(matrix(parse(data).find(NS + "swarm")))
    ny, la = 2 * 1827.6 / 2358.4, 1 + 1179.2 / 3006.8
    assert w["4.i.test"]["1.i.test"] == pytest.approx(ny / (ny + la))
    assert w["4.i.test"]["4.i.test"] == pytest.approx(la / (ny + la))
    assert w["1.i.test"]["4.i.test"] == pytest.approx(1)


def test_only_the_heaviest_swarms_are_optimized(tmp_path):
    d = Daemon(tmp_path, cap=2)
    try:
        # demands 100, 300, 200 kbit/s: the cap of 2 keeps h(11) and h(12)
        body = stats_doc({
            h(10): [("1.i.test", 1, 0, 500, 0), ("4.i.test", 0, 1, 0, 100)],
            h(11): [("1.i.test", 1, 0, 500, 0), ("4.i.test", 0, 1, 0, 300)],
            h(12): [("1.i.test", 1, 0, 500, 0), ("4.i.test", 0, 1, 0, 200)],
        })
        r, data = d.request("POST", "guidance", body)
        assert r.status == 200, data
        assert r.getheader("X-P4P-Optimized-Swarms") == "2"
        # the third swarm still gets a probability row for every PID
        sw = {s.get("info-hash"): normalized(matrix(s))
              for s in parse(data).findall(NS + "swarm")}
        assert sorted(sw) == sorted([h(10), h(11), h(12)])
        for row in sw[h(10)].values():
            assert sum(row.values()) == pytest.approx(1)
        r, data = d.request("GET", "guidance")
        got = sorted(s.get("info-hash")
                     for s in parse(data).findall(NS + "swarm"))
        assert got == sorted([h(11), h(12)])
    finally:
        d.stop()


def test_full_swarm_table_refuses_new_swarms_only(tmp_path):
    d = Daemon(tmp_path, extra="max-tracked-swarms 2")
    try:
        two = {h(20): [("1.i.test", 1, 1, None, None)],
               h(21): [("4.i.test", 1, 1, None, None)]}
        assert d.request("POST", "guidance", stats_doc(two))[0].status == 200
        r, data = d.request("POST", "guidance",
                            stats_doc({h(22): [("1.i.test", 1, 1, None,
                                                None)]}))
        assert r.status == 503 and "full" in error_text(data)
        # swarms already tracked still get answers
        r, data = d.request("POST", "guidance",
                            stats_doc({h(21): [("4.i.test", 2, 2, None,
                                                None)]}))
        assert r.status == 200
    finally:
        d.stop()


# --- capability -----------------------------------------------------------

def test_capability_lists_servers(daemon):
    r, data = daemon.request("GET", "capability")
    assert r.status == 200
    servers = parse(data).findall(NS + "server")
    assert [(s.get("pid"), s.get("kind"), s.get("addr"), s.get("port"))
            for s in servers] == [("4.i.test", "cache", "10.3.0.10", "6881"),
                                  ("4.i.test", "seed", "10.3.0.11", "6882"),
                                  ("1.i.test", "cache", "10.1.0.10", "6881")]


def test_allocation_balances_load_and_is_stable(daemon):
    def alloc(ih, pid, count):
        r, data = daemon.request("POST", "capability",
                                 alloc_doc(ih, pid, count))
        return r.status, [s.get("addr")
                          for s in parse(data).findall(NS + "server")]
    # both LA servers idle: the lower index wins the tie
    assert alloc(h(1), "4.i.test", 1) == (200, ["10.3.0.10"])
    # 10.3.0.10 has 1 swarm per 1000 kbit/s, 10.3.0.11 has none
    assert alloc(h(2), "4.i.test", 1) == (200, ["10.3.0.11"])
    # asking again keeps the swarm's server
    assert alloc(h(1), "4.i.test", 1) == (200, ["10.3.0.10"])
    # any PID, more than exist: all three, the swarm's own first
    st, addrs = alloc(h(1), "", 5)
    assert st == 200 and addrs[0] == "10.3.0.10" and len(addrs) == 3
    r, data = daemon.request("POST", "capability",
                             alloc_doc(h(3), "2.i.test", 1))
    assert r.status == 404 and "2.i.test" in error_text(data)
    r, data = daemon.request("POST", "capability",
                             alloc_doc(h(3), "9.i.test", 1))
    assert r.status == 400 and "9.i.test" in error_text(data)


# --- access control -------------------------------------------------------

def test_missing_token_is_401_with_bearer_challenge(daemon):
    r, data = daemon.request("GET", "pidmap", token=None)
    assert r.status == 401
    assert r.getheader("WWW-Authenticate").startswith("Bearer")
    assert "token" in error_text(data)


def test_bad_token_is_401(daemon):
    for tok in [FULL_TOKEN[:-1] + ("0" if FULL_TOKEN[-1] != "0" else "1"),
                FULL_TOKEN + "x", "", "x" * 500]:
        r, data = daemon.request("GET", "pidmap", token=tok)
        assert r.status == 401
        assert "invalid_token" in r.getheader("WWW-Authenticate")


def test_client_is_confined_to_its_interfaces(daemon):
    assert daemon.request("GET", "pidmap", token=INFO_TOKEN)[0].status == 200
    for method, path, body in [("GET", "costs", None),
                               ("GET", "guidance", None),
                               ("GET", "capability", None),
                               ("POST", "capability",
                                alloc_doc(h(1), "", 1))]:
        r, data = daemon.request(method, path, body, token=INFO_TOKEN)
        assert r.status == 403, path
        assert "interface" in error_text(data)


# --- bad input ------------------------------------------------------------

@pytest.mark.parametrize("body, words", [
    (b"<stats", "request"),
    (b"not xml at all", "request"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
     b'<stats xmlns="urn:opentracker-p4p:p4p:1"/>', "request"),
    (b'<?xml version="1.0"?><pidmap xmlns="urn:opentracker-p4p:p4p:1"/>',
     "request"),
])
def test_malformed_xml_is_400(daemon, body, words):
    r, data = daemon.request("POST", "guidance", body)
    assert r.status == 400
    assert words in error_text(data)


def test_unknown_pid_is_named(daemon):
    body = stats_doc({h(5): [("7.i.elsewhere", 1, 1, None, None)]})
    r, data = daemon.request("POST", "guidance", body)
    assert r.status == 400
    assert "7.i.elsewhere" in error_text(data)


def test_absurd_and_negative_counts_are_400(daemon):
    for s, l in [(10**12, 1), (1, 10**8)]:
        body = stats_doc({h(6): [("1.i.test", s, l, None, None)]})
        r, data = daemon.request("POST", "guidance", body)
        assert r.status == 400
        assert "absurd" in error_text(data)
    body = stats_doc({h(6): [("1.i.test", -1, 3, None, None)]})
    r, data = daemon.request("POST", "guidance", body)
    assert r.status == 400
    body = stats_doc({h(6): [("1.i.test", 1, 3, 5e12, 0)]})
    r, data = daemon.request("POST", "guidance", body)
    assert r.status == 400


def test_oversized_body_is_413(daemon):
    big = b"<stats>" + b" " * 5000 + b"</stats>"
    r, data = daemon.request("POST", "guidance", big)
    assert r.status == 413
    assert "max-body" in error_text(data)


def test_oversized_chunked_body_is_413(daemon):
    c = daemon.conn()
    c.request("POST", "/p4p/v1/guidance",
              body=iter([b"<stats>", b" " * 3000, b" " * 3000, b"</stats>"]),
              headers={"Authorization": "Bearer " + FULL_TOKEN,
                       "Content-Type": CT},
              encode_chunked=True)
    r = c.getresponse()
    data = r.read()
    c.close()
    assert r.status == 413
    assert "max-body" in error_text(data)


def test_wrong_content_type_method_and_path(daemon):
    r, _ = daemon.request("POST", "guidance", b"{}",
                          content_type="application/json")
    assert r.status == 415
    r, data = daemon.request("DELETE", "pidmap")
    assert r.status == 405
    assert "GET" in r.getheader("Allow")
    r, data = daemon.request("POST", "costs", b"<x/>")
    assert r.status == 405
    r, data = daemon.request("GET", "secret-topology")
    assert r.status == 404
    assert "/p4p/v1/" in error_text(data)


def test_slow_client_is_dropped_and_others_are_served(daemon):
    slow = socket.create_connection(("127.0.0.1", daemon.port), timeout=60)
    slow.sendall(b"GET /p4p/v1/pidmap HTTP/1.1\r\nHost: x\r\n")  # never ends
    # another client is served meanwhile
    r, _ = daemon.request("GET", "pidmap")
    assert r.status == 200
    # the server closes the stalled connection (connection-timeout 2 s);
    # recv() returns b"" (or the socket is reset) instead of hanging
    try:
        got = slow.recv(4096)
    except ConnectionResetError:
        got = b""
    slow.close()
    assert got == b"" or got.startswith(b"HTTP/1.1 4")
    assert daemon.request("GET", "pidmap")[0].status == 200


def test_hostile_inputs_leave_daemon_serving(daemon):
    for body in [b"\x00" * 100, b"<" * 4000, b"<a>" * 1000,
                 "<stats>\u00e9\u4e2d</stats>".encode()]:
        r, _ = daemon.request("POST", "lookup", body)
        assert r.status in (400, 413)
    assert daemon.proc.poll() is None
    assert daemon.request("GET", "pidmap")[0].status == 200


# --- configuration, TLS, shutdown -----------------------------------------

def test_bad_config_names_file_and_line_and_refuses_to_start(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("asid 1\npop A\npid x pop B prefix 10.0.0.0/8\n")
    p = subprocess.run([BINARY, "-f", str(conf), "-p", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "%s:3:" % conf in p.stderr
    assert "listening" not in p.stdout


def test_https_with_self_signed_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=120)
    d = Daemon(tmp_path, extra="tls %s %s" % (cert, key))
    try:
        assert d.scheme == "https"
        d.tls_context = ssl.create_default_context(cafile=str(cert))
        r, data = d.request("GET", "pidmap")
        assert r.status == 200
        assert len(parse(data).findall(NS + "pid")) == 4
        # plain HTTP to the TLS port gets no P4P answer
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        with pytest.raises((http.client.HTTPException, OSError)):
            c.request("GET", "/p4p/v1/pidmap")
            c.getresponse().read()
        c.close()
    finally:
        d.stop()


def test_listens_on_ipv6_loopback(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 on this machine")
    d = Daemon(tmp_path, host="::1")
    try:
        r, data = d.request("GET", "pidmap")
        assert r.status == 200
    finally:
        d.stop()


def test_sigterm_stops_cleanly(tmp_path):
    d = Daemon(tmp_path)
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=30) == 0
    out = d.output()
    assert "stopping" in out
    d.stop()
