"""Large /stats replies arrive whole: status line, headers and a body that
parses, every time.

Upstream renders these views in its stats worker and sends them as an
io_batch (header buffer + body buffers) through libowfat's iob_send, which
frees each buffer once sent.  libowfat 0.34 sent batches of 8 KiB and more
with MSG_ZEROCOPY, so the kernel still read those buffers after they were
freed: the header's first 16 bytes went out as malloc's free-list words
(patches/libowfat/0001).  Every view here is made larger than 8 KiB on
purpose, and asserted so, so that the tests take that path: top100 from
stock and fork (the fix is in the libowfat both link), prometheus and
p4p_dump from the fork.  The clients are real HTTP/1.1 clients: Python's
http.client, urllib, and curl when it is installed."""
import http.client
import os
import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from btclient import UdpTracker
from conftest import free_port

ZEROCOPY_THRESHOLD = 8 * 1024   # libowfat 0.34's MSG_ZEROCOPY cut-off (io/iob_send.c)
REPEAT = 25                     # requests per view and client; one bad reply fails
PIDS = 40                       # pid-N holds 127.0.N.0/24
PROVIDERS = 8                   # each adds ~800 bytes of prometheus lines
TORRENTS = 200                  # > 100, so each top100 list is full

# Torrent k has 1 + k%3 leechers and 1 + k%2 seeds; slot j of a torrent
# announces from 127.0.(j+1).10, so slots 0..4 land in pid-1..pid-5.
def plan():
    """[(info_hash, [(slot, left)])]: who announces what."""
    out = []
    for k in range(TORRENTS):
        leechers, seeds = 1 + k % 3, 1 + k % 2
        out.append((bytes([k % 256, k // 256]) + bytes.fromhex("5a" * 18),
                    [(j, 1) for j in range(leechers)] + [(leechers + j, 0) for j in range(seeds)]))
    return out


def populate(tracker):
    """Announces the plan over UDP, one client per source address; returns
    {hash: (peers, seeds, leechers)} and announces per slot."""
    clients = {}
    counts, per_slot = {}, {}
    try:
        for info_hash, peers in plan():
            for slot, left in peers:
                if slot not in clients:
                    clients[slot] = UdpTracker("127.0.0.1", tracker.port, f"127.0.{slot + 1}.10")
                clients[slot].announce(info_hash, 6881, numwant=0, left=left)
                per_slot[slot] = per_slot.get(slot, 0) + 1
            seeds = sum(1 for _, left in peers if left == 0)
            counts[info_hash.hex().upper()] = (len(peers), seeds, len(peers) - seeds)
    finally:
        for c in clients.values():
            c.close()
    return counts, per_slot


def big_p4p_files(workdir):
    """A PID map of PIDS PIDs and a full default matrix: the dump shows
    every PID, range and matrix row (about 23 KiB)."""
    names = [f"pid-{i}" for i in range(1, PIDS + 1)]
    with open(os.path.join(workdir, "pidmap.xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<pidmap xmlns="urn:opentracker-p4p:p4p:1" version="big-1">\n')
        for i, name in enumerate(names, 1):
            f.write(f'  <pid name="{name}" asid="64512" loc="big:pop-{i}">'
                    f'<prefix>127.0.{i}.0/24</prefix></pid>\n')
        f.write('</pidmap>\n')
    with open(os.path.join(workdir, "guidance.xml"), "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<guidance xmlns="urn:opentracker-p4p:p4p:1" version="big-1">\n  <default>\n'
                f'    <pids>{" ".join(names)}</pids>\n')
        for a in names:
            for b in names:
                f.write(f'    <entry from="{a}" to="{b}" value="{1 / PIDS}"/>\n')
        f.write('  </default>\n</guidance>\n')
    for name in ("pidmap.xml", "guidance.xml"):
        os.chmod(os.path.join(workdir, name), 0o644)
    # providers on a closed port: they fail and back off, and each one
    # adds its lines to the prometheus view
    closed = free_port()
    return ["p4p.enable yes", f"p4p.pidmap {workdir}/pidmap.xml", f"p4p.guidance {workdir}/guidance.xml"] + \
        [f"p4p.provider prov{i} http://127.0.0.1:{closed}" for i in range(PROVIDERS)]


# --- clients: each returns (status line, {lowercased header: value}, body) ---

def get_http_client(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()   # raises BadStatusLine on a garbled status line
        body = r.read()
        return f"HTTP/{r.version // 10}.{r.version % 10} {r.status} {r.reason}", \
            {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def get_urllib(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
        body = r.read()
        return f"HTTP/{r.version // 10}.{r.version % 10} {r.status} {r.reason}", \
            {k.lower(): v for k, v in r.getheaders()}, body


def get_curl(port, path):
    p = subprocess.run(["curl", "-sS", "--http1.1", "-i", f"http://127.0.0.1:{port}{path}"],
                       capture_output=True, timeout=20)
    # curl fails on a reply without a status line ("Received HTTP/0.9 when not allowed")
    assert p.returncode == 0, p.stderr
    head, sep, body = p.stdout.partition(b"\r\n\r\n")
    assert sep, p.stdout[:200]
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}, body


CLIENTS = {"http.client": get_http_client, "urllib": get_urllib, "curl": get_curl}


@pytest.fixture(params=sorted(CLIENTS))
def client(request):
    if request.param == "curl" and not shutil.which("curl"):
        pytest.skip("curl is not installed")
    return CLIENTS[request.param]


def fetch_all(client, tracker, mode):
    """REPEAT replies of /stats?mode=MODE, each checked for a well-formed
    status line and headers; returns the bodies."""
    bodies = []
    for _ in range(REPEAT):
        status, headers, body = client(tracker.port, f"/stats?mode={mode}")
        assert status == "HTTP/1.1 200 OK", (status, headers)
        assert headers.get("content-type") == "text/plain", headers
        assert int(headers["content-length"]) == len(body), headers
        assert len(body) + len("HTTP/1.1 200 OK\r\n") > ZEROCOPY_THRESHOLD  # the path that broke
        bodies.append(body)
    return bodies


# --- the views -------------------------------------------------------------------

def check_top100(body, counts):
    """Three lists, '\\t<count>\\t<HEX>' lines, each full (100 torrents have
    every kind of peer), counts as announced and in descending order."""
    text = body.decode("ascii")
    sections = {}
    current = None
    for line in text.splitlines():
        if line.startswith("Top 100 torrents by "):
            current = line[len("Top 100 torrents by "):].rstrip(":")
            sections[current] = []
            continue
        _, n, h = line.split("\t")
        sections[current].append((int(n), h))
    assert list(sections) == ["peers", "seeds", "leechers"], text[:200]
    for column, name in enumerate(("peers", "seeds", "leechers")):
        rows = sections[name]
        assert len(rows) == 100, (name, len(rows))
        assert [n for n, _ in rows] == sorted((n for n, _ in rows), reverse=True), name
        for n, h in rows:
            assert counts[h][column] == n, (name, h, n)
        # the top 100 hold the largest counts there are
        assert min(n for n, _ in rows) == sorted((c[column] for c in counts.values()), reverse=True)[99]


@pytest.mark.parametrize("binary", ["opentracker-stock", "opentracker-p4p"])
def test_top100_arrives_whole(start_tracker, client, binary):
    t = start_tracker(binary=binary)
    counts, _ = populate(t)
    for body in fetch_all(client, t, "top100"):
        check_top100(body, counts)


def test_prometheus_arrives_whole_and_parses(start_tracker, workdir, client):
    t = start_tracker(big_p4p_files(workdir))
    _, per_slot = populate(t)
    for body in fetch_all(client, t, "prometheus"):
        samples = [s for fam in text_string_to_metric_families(body.decode()) for s in fam.samples]
        by = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples}
        assert by[("opentracker_p4p_pidmap_pids", ())] == PIDS
        # every announce came from a mapped address
        assert by[("opentracker_p4p_announces_total", (("pid", "yes"),))] == sum(per_slot.values())
        assert by[("opentracker_p4p_announces_total", (("pid", "no"),))] == 0
        assert sorted(s.labels["provider"] for s in samples if s.name == "opentracker_p4p_provider_info") == \
            sorted(f"prov{i}" for i in range(PROVIDERS))


def test_p4p_dump_arrives_whole(start_tracker, workdir, client):
    t = start_tracker(big_p4p_files(workdir))
    _, per_slot = populate(t)
    for body in fetch_all(client, t, "p4p_dump"):
        d = body.decode("ascii").splitlines()
        assert d[0] == "p4p dump" and d[-1] == "end", (d[:2], d[-2:])
        assert "pidmap version: big-1" in d and f"pidmap pids: {PIDS}" in d
        for i in range(1, PIDS + 1):
            assert f"prefix 127.0.{i}.0/24 pid pid-{i}" in d
            line = next(l for l in d if l.startswith(f"pid {i} pid-{i} "))
            assert f" announces {per_slot.get(i - 1, 0)} " in line, line
        assert sum(1 for l in d if l.startswith("row ")) == PIDS
