"""The ALTO paths under the same protections as /p4p/v1/ (docs/ITRACKER.md,
"Hostile clients"; docs/ALTO.md, "The server"): a guidance POST with
statistics counts against the same client's swarm quota as an XML one,
whichever protocol came first; ALTO requests have the same request deadline
and share max-body-total with ours; an update stream is exempt from
response-deadline (it is an answer that lasts), not from the rest.

Same rule for timing as test_itracker_hostile.py: waits far longer than a
loaded machine needs, never a measured figure."""
import http.client
import json
import socket
import time

from conftest import wait_for
from test_itracker import FULL_TOKEN
from test_itracker_hostile import (OPEN_PROVIDER, OTHER, OTHER_TOKEN,  # noqa: F401 (fixtures)
                                   drip_until_closed, enough_descriptors, ih,
                                   start, swarms, upload_in_progress)

CMF = "application/alto-costmapfilter+json"
GUIDANCE = {"cost-mode": "numerical", "cost-metric": "priv:p4p-guidance"}


def alto_stats(first, n, pid="1.i.test"):
    return json.dumps({"cost-type": GUIDANCE, "priv:p4p-stats": [
        {"info-hash": ih(i), "pids": {pid: {"seeders": 1, "leechers": 1}}}
        for i in range(first, first + n)]})


def alto(d, method, path, body=None, token=FULL_TOKEN, content_type=CMF,
         source=None, timeout=30):
    h = {}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        h["Content-Type"] = content_type
    c = d.conn(timeout, source)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def test_alto_and_xml_guidance_posts_share_one_swarm_quota(start):
    d = start(extra="%s\nmax-swarms-per-client 10" % OTHER)
    # XML first, then ALTO: the ALTO post is over the same client's quota
    assert d.request("POST", "guidance", swarms(0, 10))[0].status == 200
    r, data = alto(d, "POST", "/alto/guidance", alto_stats(10, 1))
    assert r.status == 429, (r.status, data)
    assert r.getheader("Content-Type").startswith("text/plain")
    assert b"client full" in data and b"max-swarms-per-client" in data
    # the swarms it holds are refreshed over ALTO as over XML
    r, data = alto(d, "POST", "/alto/guidance", alto_stats(5, 5))
    assert r.status == 200, (r.status, data)
    assert "priv:p4p-swarms" in json.loads(data)
    # ALTO first, then XML, for another client
    r, _ = alto(d, "POST", "/alto/guidance", alto_stats(100, 10),
                token=OTHER_TOKEN)
    assert r.status == 200
    r, _ = d.request("POST", "guidance", swarms(110, 1), token=OTHER_TOKEN)
    assert r.status == 429


def test_open_access_alto_posts_count_by_address(start):
    d = start(provider=OPEN_PROVIDER, extra="max-swarms-per-client 10")
    a, b = "127.0.12.1", "127.0.12.2"
    r, _ = alto(d, "POST", "/alto/guidance", alto_stats(0, 10), token=None,
                source=a)
    assert r.status == 200
    r, data = d.request("POST", "guidance", swarms(10, 1), token=None,
                        source=a)
    assert r.status == 429 and b"address 127.0.12.1" in data
    r, data = alto(d, "POST", "/alto/guidance", alto_stats(10, 1),
                   token=None, source=a)
    assert r.status == 429 and b"address 127.0.12.1" in data
    r, _ = alto(d, "POST", "/alto/guidance", alto_stats(10, 10), token=None,
                source=b)
    assert r.status == 200


def test_slow_alto_requests_are_closed_at_the_deadline(start):
    d = start(extra="request-deadline 2")
    s = socket.create_connection(("127.0.0.1", d.port))
    lived = drip_until_closed(s, b"GET /directory HTTP/1.1\r\nHost: x\r\n",
                              b"X", 0.5, 30)
    s.close()
    assert lived is not None, "slow ALTO headers still open after 30 s"
    assert lived >= 1.5
    s = socket.create_connection(("127.0.0.1", d.port))
    head = ("POST /alto/guidance HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer %s\r\nContent-Type: %s\r\n"
            "Content-Length: 3000\r\n\r\n{" % (FULL_TOKEN, CMF)).encode()
    lived = drip_until_closed(s, head, b" ", 0.5, 30)
    s.close()
    assert lived is not None, "slow ALTO upload still open after 30 s"
    assert lived >= 1.5
    assert alto(d, "GET", "/directory")[0].status == 200


def test_alto_bodies_count_in_the_total(start):
    # an XML upload in progress holds all of max-body-total
    d = start(extra="max-body-total 4096\nrequest-deadline 600")
    s = upload_in_progress(d)

    def refused():
        r, _ = alto(d, "POST", "/alto/guidance", alto_stats(0, 1), timeout=10)
        return r if r.status == 503 else None
    r = wait_for(refused, timeout=20, step=0.2)
    assert r is not None and r.getheader("Retry-After") == "1"
    s.close()
    assert wait_for(lambda: alto(d, "POST", "/alto/guidance",
                                 alto_stats(0, 1))[0].status == 200,
                    timeout=20, step=0.2)


def test_update_stream_outlives_the_response_deadline(start):
    # keep-alive comments every second (half of connection-timeout 2); an
    # ordinary answer must be taken within 1 s, a stream lasts
    d = start(extra="response-deadline 1")
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    c.request("POST", "/alto/updates",
              body=json.dumps({"add": {"m": {"resource-id":
                                             "default-network-map"}}}),
              headers={"Authorization": "Bearer " + FULL_TOKEN,
                       "Content-Type":
                       "application/alto-updatestreamparams+json"})
    r = c.getresponse()
    assert r.status == 200
    events, keepalives = 0, 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        line = r.readline()
        assert line, "stream closed after %.1f s" % (time.monotonic() - t0)
        events += line.startswith(b"event:")
        keepalives += line.startswith(b": keep-alive")
    assert events == 2  # control-uri, the map
    assert keepalives >= 3
    c.close()
    # the stream's end gives the slot back; the guard still serves others
    assert alto(d, "GET", "/directory")[0].status == 200
