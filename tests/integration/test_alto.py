r"""p4p-itracker's ALTO server (RFC 7285, RFC 8895) on 127.0.0.1.

The RFC's example requests are sent to a daemon started with
tests/data/alto/rfc7285-example.conf, and the answers compared with the
RFC's responses (tests/data/alto/) as JSON values.  That provider file:

    PoP a (PID1) --1-- PoP b (PID2)        IGP weights; prices = weights
        \
         2-- PoP c (PID3: 0.0.0.0/0, ::/0)

  routingcost (sum of IGP weights over the route):
      PID1: PID1 0, PID2 1, PID3 2      (= the RFC's 11.3.2.7 exactly)
      PID2: PID1 1, PID2 0, PID3 3      (b -> a -> c)
      PID3: PID1 2, PID2 3, PID3 0
  ordinal over all nine cells: values {0, 1, 2, 3} -> ranks 1..4.
  p-distance = 100 x routing / 3 (the costliest route, b-c, is 3).

What "equivalent" means per example (docs/ALTO.md, "Conformance"):
  vtag tags are content hashes here, arbitrary hex in the RFC: they are
  compared for consistency (a cost map's dependent vtag is the network
  map's vtag), not for equality.  The RFC's cost values in 11.2.3.7 and the
  endpoint ranks in 11.5.1.7 do not follow from its own network map (11.3.2.7
  gives other costs for the same pairs); there the structure must match and
  the values must be the hand-checked ones above.
"""
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time

import pytest

BUILD_DIR = os.environ.get("BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
BINARY = os.path.join(BUILD_DIR, "p4p-itracker")
DATA = os.path.join(os.path.dirname(__file__), "..", "data", "alto")
RFC_CONF = os.path.join(DATA, "rfc7285-example.conf")

INFO_TOKEN = secrets.token_hex(16)
POLICY_TOKEN = secrets.token_hex(16)
FULL_TOKEN = secrets.token_hex(16)


def rfc(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


class Daemon:
    def __init__(self, conf, hour=12, step=None):
        args = [BINARY, "-f", str(conf), "-l", "127.0.0.1", "-p", "0", "-H", str(hour)]
        if step:
            args += ["-S", str(step)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/p4p/v1/ \(ALTO: /directory\)", line)
        if not m:
            self.proc.kill()
            raise AssertionError("no listening line: %r %r" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))

    def request(self, method, path, body=None, token=None, content_type=None, headers=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if content_type:
            h["Content-Type"] = content_type
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def get_json(self, path, token=None, accept=None):
        r, data = self.request("GET", path, token=token, headers={"Accept": accept} if accept else None)
        assert r.status == 200, (r.status, data)
        return r, json.loads(data)

    def post_json(self, path, body, content_type, token=None):
        r, data = self.request("POST", path, body=body, token=token, content_type=content_type)
        return r, json.loads(data) if data else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def rfcd():
    d = Daemon(RFC_CONF)
    yield d
    d.stop()
    assert d.proc.returncode == 0


def conf_with(tmp_path, extra, name="p.conf"):
    with open(RFC_CONF) as f:
        text = f.read()
    p = tmp_path / name
    p.write_text(text + "\n" + extra + "\n")
    return p


@pytest.fixture
def secured(tmp_path):
    d = Daemon(conf_with(tmp_path, f"client i token {INFO_TOKEN} allow info\n"
                                   f"client p token {POLICY_TOKEN} allow policy\n"
                                   f"client f token {FULL_TOKEN} allow all\nmax-body 4096"))
    yield d
    d.stop()


def without_tags(doc):
    """doc with every vtag's tag blanked (and the tags found, for checks)."""
    tags = []
    doc = json.loads(json.dumps(doc))
    meta = doc.get("meta", {})
    for vt in [meta.get("vtag")] + list(meta.get("dependent-vtags", [])):
        if vt:
            tags.append(vt["tag"])
            vt["tag"] = "-"
    return doc, tags


NM = "application/alto-networkmap+json"
CM = "application/alto-costmap+json"


# ---- 9.2.3: the directory ---------------------------------------------------

def test_rfc_directory(rfcd):
    r, ird = rfcd.get_json("/directory", accept="application/alto-directory+json,application/alto-error+json")
    assert r.getheader("Content-Type") == "application/alto-directory+json"
    want = rfc("rfc7285-9.2.3-ird.json")
    delegated = rfc("rfc7285-9.2.4-delegated-ird.json")
    assert ird["meta"]["default-alto-network-map"] == want["meta"]["default-alto-network-map"]
    types = ird["meta"]["cost-types"]
    # the RFC's routingcost types under the RFC's names (descriptions aside)
    for name in ("num-routing", "ord-routing"):
        got = {k: v for k, v in types[name].items() if k != "description"}
        assert got == {k: v for k, v in want["meta"]["cost-types"][name].items() if k != "description"}
    # every RFC resource we offer has the RFC's id, media type, accepts,
    # cost types and uses; hopcount maps and the delegation are not offered
    offered = {**want["resources"], **delegated["resources"]}
    ours = ird["resources"]
    for rid in ("my-default-network-map", "numerical-routing-cost-map", "endpoint-property", "endpoint-cost",
                "filtered-network-map", "filtered-cost-map", "ordinal-routing-cost-map"):
        w, o = offered[rid], ours[rid]
        assert o["media-type"] == w["media-type"], rid
        assert o.get("accepts") == w.get("accepts"), rid
        assert o.get("uses") == w.get("uses"), rid
        wt = [want["meta"]["cost-types"][n] for n in w.get("capabilities", {}).get("cost-type-names", [])
              if "hopcount" not in want["meta"]["cost-types"][n]["cost-metric"]]
        ot = [types[n] for n in o.get("capabilities", {}).get("cost-type-names", [])]
        for t in wt:
            assert any(t["cost-metric"] == x["cost-metric"] and t["cost-mode"] == x["cost-mode"] for x in ot), (rid, t)
        if w.get("capabilities", {}).get("cost-constraints"):
            assert o["capabilities"]["cost-constraints"] is True
    assert ours["endpoint-property"]["capabilities"]["prop-types"] == ["my-default-network-map.pid"]
    for rid in ("numerical-hopcount-cost-map", "ordinal-hopcount-cost-map", "custom-maps-resources"):
        assert rid not in ours
    # ours: p-distance, guidance (priv:), the update stream
    assert types["num-pdistance"]["cost-metric"] == "priv:p4p-pdistance"
    assert types["num-guidance"]["cost-metric"] == "priv:p4p-guidance"
    up = ours["update-stream"]
    assert up["media-type"] == "text/event-stream"
    assert up["accepts"] == "application/alto-updatestreamparams+json"
    assert set(up["uses"]) == {"my-default-network-map", "numerical-routing-cost-map", "ordinal-routing-cost-map",
                               "p4p-pdistance-cost-map", "p4p-guidance"}
    assert up["capabilities"]["incremental-change-media-types"]["p4p-pdistance-cost-map"] == "application/merge-patch+json"
    # every URI resolves on this server and answers its media type
    for rid, e in ours.items():
        if "accepts" not in e and e["media-type"] != "text/event-stream":
            r, _ = rfcd.request("GET", e["uri"])
            assert r.status == 200 and r.getheader("Content-Type") == e["media-type"], rid


# ---- 11.2.1.7, 11.3.1.7: network maps ---------------------------------------

def test_rfc_network_map(rfcd):
    r, nm = rfcd.get_json("/alto/networkmap", accept="application/alto-networkmap+json,application/alto-error+json")
    assert r.getheader("Content-Type") == NM
    got, tags = without_tags(nm)
    want, _ = without_tags(rfc("rfc7285-11.2.1.7-networkmap.json"))
    assert got == want
    assert re.fullmatch(r"[0-9a-f]{16}", tags[0])


def test_rfc_filtered_network_map(rfcd):
    _, full = rfcd.get_json("/alto/networkmap")
    r, nm = rfcd.post_json("/alto/networkmap/filtered", rfc("rfc7285-11.3.1.7-request.json"), "application/alto-networkmapfilter+json")
    assert r.status == 200 and r.getheader("Content-Type") == NM
    got, tags = without_tags(nm)
    want, _ = without_tags(rfc("rfc7285-11.3.1.7-response.json"))
    assert got == want
    assert tags[0] == full["meta"]["vtag"]["tag"]  # 11.3.1.6: the full map's tag
    # unknown PIDs are dropped, repeats count once, address types filter
    r, nm = rfcd.post_json("/alto/networkmap/filtered", {"pids": ["PID3", "NOPE", "PID3"], "address-types": ["ipv6", "mac"]},
                           "application/alto-networkmapfilter+json")
    assert nm["network-map"] == {"PID3": {"ipv6": ["::/0"]}}
    r, nm = rfcd.post_json("/alto/networkmap/filtered", {"pids": []}, "application/alto-networkmapfilter+json")
    assert nm == full


# ---- 11.2.3.7, 11.3.2.7: cost maps -----------------------------------------

ROUTING = {"PID1": {"PID1": 0, "PID2": 1, "PID3": 2},
           "PID2": {"PID1": 1, "PID2": 0, "PID3": 3},
           "PID3": {"PID1": 2, "PID2": 3, "PID3": 0}}


def test_rfc_cost_map(rfcd):
    _, nm = rfcd.get_json("/alto/networkmap")
    r, cm = rfcd.get_json("/alto/costmap/num/routingcost", accept="application/alto-costmap+json,application/alto-error+json")
    assert r.getheader("Content-Type") == CM
    want = rfc("rfc7285-11.2.3.7-costmap.json")
    got_meta, tags = without_tags(cm)
    want_meta, _ = without_tags(want)
    assert got_meta["meta"] == want_meta["meta"]
    assert tags == [nm["meta"]["vtag"]["tag"]]  # the vtag of the map it uses
    # every pair the RFC lists is there; the values are this network's
    for src, row in want["cost-map"].items():
        assert set(row) <= set(cm["cost-map"][src])
    assert cm["cost-map"] == ROUTING
    _, om = rfcd.get_json("/alto/costmap/ord/routingcost")
    assert om["meta"]["cost-type"] == {"cost-mode": "ordinal", "cost-metric": "routingcost"}
    assert om["cost-map"] == {s: {d: v + 1 for d, v in row.items()} for s, row in ROUTING.items()}
    _, pm = rfcd.get_json("/alto/costmap/num/pdistance")
    assert pm["meta"]["cost-type"]["cost-metric"] == "priv:p4p-pdistance"
    for s, row in ROUTING.items():
        for d, v in row.items():
            assert abs(pm["cost-map"][s][d] - 100.0 * v / 3) < 1e-9


def test_rfc_filtered_cost_map(rfcd):
    r, cm = rfcd.post_json("/alto/costmap/filtered", rfc("rfc7285-11.3.2.7-request.json"), "application/alto-costmapfilter+json")
    assert r.status == 200 and r.getheader("Content-Type") == CM
    got, _ = without_tags(cm)
    want, _ = without_tags(rfc("rfc7285-11.3.2.7-response.json"))
    assert got == want  # the values too: this network was made to match
    # constraints (AND) and ordinal ranks over the entries returned
    body = {"cost-type": {"cost-mode": "numerical", "cost-metric": "routingcost"}, "constraints": ["ge 1", "lt 3"]}
    _, cm = rfcd.post_json("/alto/costmap/filtered", body, "application/alto-costmapfilter+json")
    assert cm["cost-map"] == {"PID1": {"PID2": 1, "PID3": 2}, "PID2": {"PID1": 1}, "PID3": {"PID1": 2}}
    body = {"cost-type": {"cost-mode": "ordinal", "cost-metric": "routingcost"}, "pids": {"srcs": ["PID2"], "dsts": []}}
    _, cm = rfcd.post_json("/alto/costmap/filtered", body, "application/alto-costmapfilter+json")
    assert cm["cost-map"] == {"PID2": {"PID1": 2, "PID2": 1, "PID3": 3}}
    # a cost type the IRD does not list for this resource
    body = {"cost-type": {"cost-mode": "numerical", "cost-metric": "hopcount"}}
    r, err = rfcd.post_json("/alto/costmap/filtered", body, "application/alto-costmapfilter+json")
    assert r.status == 400 and r.getheader("Content-Type") == "application/alto-error+json"
    assert err["meta"]["code"] == "E_INVALID_FIELD_VALUE"
    assert err["meta"]["field"] == "cost-type/cost-metric" and err["meta"]["value"] == "hopcount"


# ---- 11.4.1.7, 11.5.1.7: endpoint services ----------------------------------

def test_rfc_endpoint_property(rfcd):
    req = rfc("rfc7285-11.4.1.7-request.json")
    r, err = rfcd.post_json("/alto/endpointprop/lookup", req, "application/alto-endpointpropparams+json")
    # we do not define the RFC's private example property
    assert r.status == 400
    assert err["meta"]["code"] == "E_INVALID_FIELD_VALUE"
    assert err["meta"]["field"] == "properties" and err["meta"]["value"] == "priv:ietf-example-prop"
    req["properties"] = ["my-default-network-map.pid"]
    r, got = rfcd.post_json("/alto/endpointprop/lookup", req, "application/alto-endpointpropparams+json")
    assert r.status == 200 and r.getheader("Content-Type") == "application/alto-endpointprop+json"
    want = rfc("rfc7285-11.4.1.7-response.json")
    del want["endpoint-properties"]["ipv4:192.0.2.34"]["priv:ietf-example-prop"]
    g, tags = without_tags(got)
    w, _ = without_tags(want)
    assert g == w
    _, nm = rfcd.get_json("/alto/networkmap")
    assert tags == [nm["meta"]["vtag"]["tag"]]


def test_rfc_endpoint_cost(rfcd):
    r, got = rfcd.post_json("/alto/endpointcost/lookup", rfc("rfc7285-11.5.1.7-request.json"), "application/alto-endpointcostparams+json")
    assert r.status == 200 and r.getheader("Content-Type") == "application/alto-endpointcost+json"
    want = rfc("rfc7285-11.5.1.7-response.json")
    assert got["meta"] == want["meta"]
    src = "ipv4:192.0.2.2"
    assert set(got["endpoint-cost-map"]) == {src}
    assert set(got["endpoint-cost-map"][src]) == set(want["endpoint-cost-map"][src])
    # PID-level costs (11.5.1.5): 192.0.2.89 and 198.51.100.34 are both in
    # PID1 of the RFC's map (cost 0, rank 1); 203.0.113.45 is PID3 (cost 2)
    assert got["endpoint-cost-map"][src] == {"ipv4:192.0.2.89": 1, "ipv4:198.51.100.34": 1, "ipv4:203.0.113.45": 2}
    # an empty source list stands for the asking address (127.0.0.1: PID3)
    body = {"cost-type": {"cost-mode": "numerical", "cost-metric": "routingcost"}, "endpoints": {"dsts": ["ipv4:192.0.2.1", "ipv6:2001:db8::1"]}}
    _, got = rfcd.post_json("/alto/endpointcost/lookup", body, "application/alto-endpointcostparams+json")
    assert got["endpoint-cost-map"] == {"ipv4:127.0.0.1": {"ipv4:192.0.2.1": 2, "ipv6:2001:db8::1": 0}}


# ---- HTTP: caching, methods, media types, sizes, errors ---------------------

def test_etag_and_not_modified(rfcd):
    for path in ("/directory", "/alto/networkmap", "/alto/costmap/num/routingcost"):
        r, data = rfcd.request("GET", path)
        etag = r.getheader("ETag")
        assert r.status == 200 and re.fullmatch(r'"[0-9a-f]{16}"', etag)
        assert r.getheader("Cache-Control") == "max-age=300"
        r, again = rfcd.request("GET", path, headers={"If-None-Match": etag})
        assert r.status == 304 and again == b""
        r, again = rfcd.request("GET", path, headers={"If-None-Match": '"0000000000000000"'})
        assert r.status == 200 and again == data


def test_methods_media_types_and_paths(rfcd):
    r, data = rfcd.request("POST", "/alto/networkmap", body="{}", content_type="application/alto-networkmapfilter+json")
    assert r.status == 405 and r.getheader("Allow") == "GET, HEAD"
    r, _ = rfcd.request("GET", "/alto/costmap/filtered")
    assert r.status == 405 and r.getheader("Allow") == "POST"
    r, _ = rfcd.request("DELETE", "/alto/guidance")
    assert r.status == 405 and r.getheader("Allow") == "GET, HEAD, POST"
    r, data = rfcd.request("POST", "/alto/networkmap/filtered", body='{"pids": []}', content_type="application/json")
    assert r.status == 415 and b"application/alto-networkmapfilter+json" in data
    r, data = rfcd.request("POST", "/alto/costmap/filtered", body='{}', content_type="application/alto-networkmapfilter+json")
    assert r.status == 415
    r, data = rfcd.request("GET", "/alto/networkmap", headers={"Accept": "text/html"})
    assert r.status == 406
    r, _ = rfcd.request("GET", "/alto/networkmap", headers={"Accept": "application/*"})
    assert r.status == 200
    r, data = rfcd.request("GET", "/alto/nothing")
    assert r.status == 404 and b"/directory" in data


def test_bad_requests_get_rfc_error_bodies(rfcd):
    ct = "application/alto-costmapfilter+json"
    r, data = rfcd.request("POST", "/alto/costmap/filtered", body='{"cost-type": ', content_type=ct)
    err = json.loads(data)
    assert r.status == 400 and r.getheader("Content-Type") == "application/alto-error+json"
    assert err["meta"]["code"] == "E_SYNTAX"
    assert "line 1 column" in err["meta"]["syntax-error"]
    deep = "[" * 40 + "]" * 40
    r, data = rfcd.request("POST", "/alto/costmap/filtered", body=deep, content_type=ct)
    assert r.status == 400 and json.loads(data)["meta"]["syntax-error"] == "request: nested deeper than 32 levels"
    deep = "[" * 3000  # well past jansson's own limit too, and under max-body
    r, data = rfcd.request("POST", "/alto/costmap/filtered", body=deep, content_type=ct)
    assert r.status == 400 and "maximum parsing depth" in json.loads(data)["meta"]["syntax-error"]
    r, data = rfcd.request("POST", "/alto/costmap/filtered", body='{"pids": {}}', content_type=ct)
    assert json.loads(data)["meta"] == {"code": "E_MISSING_FIELD", "field": "cost-type", "priv:p4p-reason": "request: cost-type: missing"}
    r, data = rfcd.request("POST", "/alto/costmap/filtered", body='{"cost-type": {"cost-mode": "foo", "cost-metric": "routingcost"}}', content_type=ct)
    m = json.loads(data)["meta"]
    assert (m["code"], m["field"], m["value"]) == ("E_INVALID_FIELD_VALUE", "cost-type/cost-mode", "foo")
    r, data = rfcd.request("POST", "/alto/costmap/filtered", body='{"cost-type": {"cost-mode": 7, "cost-metric": "routingcost"}}', content_type=ct)
    assert json.loads(data)["meta"]["code"] == "E_INVALID_FIELD_TYPE"
    r, data = rfcd.request("POST", "/alto/costmap/filtered", body=b'{"a": "\xff"}', content_type=ct)
    assert r.status == 400 and json.loads(data)["meta"]["code"] == "E_SYNTAX"
    # the daemon is still well after all this
    r, _ = rfcd.request("GET", "/alto/networkmap")
    assert r.status == 200


def test_huge_bodies_are_refused(secured):
    ct = "application/alto-costmapfilter+json"
    r, data = secured.request("POST", "/alto/costmap/filtered", body="x" * 5000, token=FULL_TOKEN, content_type=ct)
    assert r.status == 413
    # chunked, no Content-Length: cut while it arrives
    s = socket.create_connection(("127.0.0.1", secured.port), timeout=10)
    s.sendall(("POST /alto/costmap/filtered HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n"
               "Transfer-Encoding: chunked\r\n\r\n" % (FULL_TOKEN, ct)).encode())
    for _ in range(5):
        s.sendall(b"400\r\n" + b"[" * 1024 + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    s.close()
    assert answer.startswith(b"HTTP/1.1 413")


def test_access_control(secured):
    # the directory shows each client what it may use
    r, data = secured.request("GET", "/directory")
    assert r.status == 401 and r.getheader("WWW-Authenticate") == 'Bearer realm="p4p"'
    r, data = secured.request("GET", "/directory", token="nope" * 8)
    assert r.status == 401 and 'error="invalid_token"' in r.getheader("WWW-Authenticate")
    _, ird = secured.get_json("/directory", token=INFO_TOKEN)
    assert set(ird["resources"]) == {"my-default-network-map", "filtered-network-map", "endpoint-property", "update-stream"}
    assert ird["resources"]["update-stream"]["uses"] == ["my-default-network-map"]
    _, ird = secured.get_json("/directory", token=POLICY_TOKEN)
    assert "default-alto-network-map" not in ird["meta"]
    assert set(ird["resources"]) == {"numerical-routing-cost-map", "ordinal-routing-cost-map", "p4p-pdistance-cost-map",
                                     "filtered-cost-map", "endpoint-cost", "update-stream"}
    _, ird = secured.get_json("/directory", token=FULL_TOKEN)
    assert "p4p-guidance" in ird["resources"] and "p4p-guidance-stats" in ird["resources"]
    # network map and endpoint property: info; cost maps and ECS: policy;
    # guidance: guidance
    for path, ok in (("/alto/networkmap", INFO_TOKEN), ("/alto/costmap/num/routingcost", POLICY_TOKEN), ("/alto/guidance", FULL_TOKEN)):
        for token in (INFO_TOKEN, POLICY_TOKEN, FULL_TOKEN):
            r, _ = secured.request("GET", path, token=token)
            assert r.status == (200 if token in (ok, FULL_TOKEN) else 403), (path, token)
    r, _ = secured.request("POST", "/alto/endpointcost/lookup", token=INFO_TOKEN, content_type="application/alto-endpointcostparams+json",
                           body=rfc("rfc7285-11.5.1.7-request.json"))
    assert r.status == 403
    r, _ = secured.request("POST", "/alto/endpointprop/lookup", token=INFO_TOKEN, content_type="application/alto-endpointpropparams+json",
                           body={"properties": ["my-default-network-map.pid"], "endpoints": ["ipv4:192.0.2.1"]})
    assert r.status == 200


# ---- guidance as an ALTO resource -------------------------------------------

def test_guidance_resource(rfcd):
    _, nm = rfcd.get_json("/alto/networkmap")
    r, g = rfcd.get_json("/alto/guidance")
    assert r.getheader("Content-Type") == CM
    assert g["meta"]["cost-type"] == {"cost-mode": "numerical", "cost-metric": "priv:p4p-guidance"}
    assert g["meta"]["dependent-vtags"] == [nm["meta"]["vtag"]]
    assert g["meta"]["vtag"] == {"resource-id": "p4p-guidance", "tag": "solve-0-h12"}
    for src, row in g["cost-map"].items():  # default rows: probabilities
        assert abs(sum(row.values()) - 1) < 1e-9
    assert g["priv:p4p-swarms"] == {}
    # seeds only in PID1 (PoP a), leechers only in PID3 (PoP c): the row of
    # PID3 goes all to PID1 (docs/ITRACKER.md, weight rows, item 4)
    h = "01" * 20
    body = {"cost-type": {"cost-mode": "numerical", "cost-metric": "priv:p4p-guidance"},
            "priv:p4p-stats": [{"info-hash": h, "pids": {"PID1": {"seeders": 5, "leechers": 0, "up-kbps": 1000, "down-kbps": 0},
                                                         "PID3": {"seeders": 0, "leechers": 10, "up-kbps": 0, "down-kbps": 1000}}}]}
    r, g = rfcd.post_json("/alto/guidance", body, "application/alto-costmapfilter+json")
    assert r.status == 200 and r.getheader("X-P4P-Optimized-Swarms") == "1"
    assert g["priv:p4p-swarms"][h]["PID3"] == {"PID1": 1}
    _, again = rfcd.get_json("/alto/guidance")
    assert h in again["priv:p4p-swarms"] and again["meta"]["vtag"]["tag"] != "solve-0-h12"
    # unknown PIDs and absurd counts: the solver's reasons, as ALTO errors
    body["priv:p4p-stats"][0]["pids"] = {"PIDX": {"seeders": 1, "leechers": 1}}
    r, err = rfcd.post_json("/alto/guidance", body, "application/alto-costmapfilter+json")
    assert r.status == 400 and err["meta"]["code"] == "E_INVALID_FIELD_VALUE"
    assert "unknown PID 'PIDX'" in err["meta"]["priv:p4p-reason"]
    body["priv:p4p-stats"][0]["pids"] = {"PID1": {"seeders": "many", "leechers": 1}}
    r, err = rfcd.post_json("/alto/guidance", body, "application/alto-costmapfilter+json")
    assert r.status == 400 and err["meta"]["code"] == "E_INVALID_FIELD_TYPE"


# ---- RFC 8895 update streams -------------------------------------------------

class Stream:
    """A client side of an update stream: events as (event, data) pairs."""

    def __init__(self, port, body, token=None):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        h = {"Content-Type": "application/alto-updatestreamparams+json", "Accept": "text/event-stream"}
        if token:
            h["Authorization"] = "Bearer " + token
        self.c.request("POST", "/alto/updates", body=json.dumps(body), headers=h)
        self.r = self.c.getresponse()

    def next(self):
        event, data = None, []
        while True:
            line = self.r.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line.startswith(":"):
                continue
            if line == "":
                if data:
                    return event, json.loads("\n".join(data))
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "event":
                event = v
            elif k == "data":
                data.append(v)

    def close(self):
        self.c.close()


def merge(target, patch):
    """RFC 7396 applied by the test itself."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def test_update_stream(tmp_path):
    # the a-b link costs 5 times more from 13h; the test clock starts at 12h
    # and advances one hour every 3 s
    d = Daemon(conf_with(tmp_path, "avoid-link a b hours 13-14 factor 5\nconnection-timeout 2"), hour=12, step=3)
    try:
        s = Stream(d.port, {"add": {"nm": {"resource-id": "my-default-network-map"},
                                    "pd": {"resource-id": "p4p-pdistance-cost-map"},
                                    "g": {"resource-id": "p4p-guidance", "incremental-changes": False}}})
        assert s.r.status == 200 and s.r.getheader("Content-Type") == "text/event-stream"
        ev, ctl = s.next()
        assert ev == "application/alto-updatestreamcontrol+json"
        control = ctl["control-uri"]
        assert re.fullmatch(r"http://127\.0\.0\.1:%d/alto/updates/streams/[0-9a-f]{32}" % d.port, control)
        held = {}
        for _ in range(3):
            ev, doc = s.next()
            media, sub = ev.split(",")
            held[sub] = doc
            assert media == {"nm": NM, "pd": CM, "g": CM}[sub]
        _, nm = d.get_json("/alto/networkmap")
        assert held["nm"] == nm
        before = held["pd"]["cost-map"]["PID1"]["PID2"]
        assert abs(before - 100 / 3) < 1e-9
        # the hour turns: a merge patch of the p-distances (a-b x 5 gives
        # PID1-PID2 5/3 of the off-peak maximum of 3: 166.67)
        ev, patch = s.next()
        assert ev == "application/merge-patch+json,pd"
        held["pd"] = merge(held["pd"], patch)
        assert "meta" not in patch  # the network map did not change
        _, now = d.get_json("/alto/costmap/num/pdistance")
        assert held["pd"] == now
        assert abs(now["cost-map"]["PID1"]["PID2"] - 500 / 3) < 1e-9
        # a new solve: guidance, whole (incremental-changes false)
        body = {"cost-type": {"cost-mode": "numerical", "cost-metric": "priv:p4p-guidance"},
                "priv:p4p-stats": [{"info-hash": "02" * 20, "pids": {"PID1": {"seeders": 5, "leechers": 0, "up-kbps": 1000},
                                                                     "PID2": {"seeders": 0, "leechers": 10, "down-kbps": 1000}}}]}
        r, _ = d.post_json("/alto/guidance", body, "application/alto-costmapfilter+json")
        assert r.status == 200
        seen = None
        for _ in range(6):
            ev, doc = s.next()
            if ev == CM + ",g" and "02" * 20 in doc["priv:p4p-swarms"]:
                seen = doc
                break
        assert seen is not None
        # stream control: stop two substreams; removing the last ends it
        r, _ = d.request("POST", control.split(str(d.port), 1)[1], body={"remove": ["pd", "g"]},
                         content_type="application/alto-updatestreamparams+json")
        assert r.status == 204
        while True:
            ev, doc = s.next()
            if ev == "application/alto-updatestreamcontrol+json":
                break
        assert sorted(doc["stopped"]) == ["g", "pd"]
        r, _ = d.request("POST", control.split(str(d.port), 1)[1], body={"remove": ["nm"]},
                         content_type="application/alto-updatestreamparams+json")
        assert r.status == 204
        deadline = time.time() + 10
        while s.next() is not None and time.time() < deadline:
            pass
        assert time.time() < deadline
        s.close()
        r, _ = d.request("POST", "/alto/updates/streams/" + "0" * 32, body={"remove": ["nm"]},
                         content_type="application/alto-updatestreamparams+json")
        assert r.status == 404
    finally:
        d.stop()
    assert d.proc.returncode == 0


def test_update_stream_refusals(tmp_path):
    d = Daemon(conf_with(tmp_path, f"alto-max-streams 1\nclient i token {INFO_TOKEN} allow info"))
    try:
        ct = "application/alto-updatestreamparams+json"
        r, data = d.request("POST", "/alto/updates", body={"add": {"x": {"resource-id": "filtered-cost-map"}}}, token=INFO_TOKEN, content_type=ct)
        assert r.status == 400 and json.loads(data)["meta"]["field"] == "add/x/resource-id"
        r, data = d.request("POST", "/alto/updates", body={"add": {"x": {"resource-id": "numerical-routing-cost-map"}}}, token=INFO_TOKEN,
                            content_type=ct)
        assert r.status == 403
        s = Stream(d.port, {"add": {"n": {"resource-id": "my-default-network-map"}}}, token=INFO_TOKEN)
        assert s.r.status == 200
        assert s.next()[0] == "application/alto-updatestreamcontrol+json"
        r, data = d.request("POST", "/alto/updates", body={"add": {"n": {"resource-id": "my-default-network-map"}}}, token=INFO_TOKEN,
                            content_type=ct)
        assert r.status == 503  # alto-max-streams
        s.close()
    finally:
        d.stop()
    # SIGTERM with a stream open still stops at once and cleanly
    assert d.proc.returncode == 0
