"""A full scrape larger than one io_batch, read slowly, arrives whole and
leaves the tracker running (patches/0010-http-batch-split-after-realloc.patch).

The full scrape worker hands its reply over in 1 MiB chunks; what the
client has not read yet piles up in the connection's last io_batch, and
past OT_BATCH_LIMIT (16 MiB) upstream opens a new batch.  It initialised
the old pointer after realloc (use after free; the full batch when realloc
did not move) and then filled an uninitialised slot, and the tracker died
in iob_send.  Here the client asks and reads nothing until the tracker
holds the whole reply (about 35 MB for 500000 torrents; the sockets hold
at most a few MiB of it), then reads it all.  Fork only: stock stays
upstream as released (opentracker/upstream.mk)."""
import os
import socket
import subprocess
import time

from btclient import bdecode, http_get
from conftest import BUILD

TORRENTS = 500000
BATCH_LIMIT = 16 << 20     # upstream's OT_BATCH_LIMIT (ot_http.c)
RCVBUF = 256 << 10         # small window: the reply waits in the tracker


def rss_bytes(tracker):
    """The running tracker's resident memory (fails once it has died)."""
    with open(f"/proc/{tracker.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    tracker.proc.wait(5)
    raise AssertionError("the tracker died: " + tracker.output()[-3000:])


def dechunk(body):
    """The payload of a chunked body; fails on broken framing."""
    out, i = bytearray(), 0
    while True:
        j = body.index(b"\r\n", i)
        n = int(body[i:j], 16)
        i = j + 2
        if n == 0:
            assert body[i:] == b"\r\n", body[i:i + 20]
            return bytes(out)
        out += body[i:i + n]
        i += n
        assert body[i:i + 2] == b"\r\n", ("chunk framing broken at", i)
        i += 2


def test_full_scrape_beyond_one_batch_read_slowly(start_tracker):
    t = start_tracker()
    subprocess.run([os.path.join(BUILD, "p4p-loadgen"), "--port", str(t.port), "--swarms", str(TORRENTS),
                    "--peers", "1", "--warmup", "--duration", "0", "--scrape-every", "0"],
                   check=True, capture_output=True, timeout=300)
    _, _, torr = http_get("127.0.0.1", t.port, "/stats?mode=torr")
    torrents = int(torr.split(b"\n")[0])
    assert torrents > TORRENTS * 0.95, torr   # a lost datagram or two is fine

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    s.connect(("127.0.0.1", t.port))
    try:
        before = rss_bytes(t)
        s.sendall(b"GET /scrape HTTP/1.1\r\nHost: tracker\r\n\r\n")
        # the worker is done and the main loop holds what the sockets could
        # not take once the tracker's memory has grown and then stays put
        deadline = time.time() + 120
        last, still = rss_bytes(t), 0
        while still < 10 or last - before < (8 << 20):
            assert time.time() < deadline, "the tracker never finished the reply"
            time.sleep(0.1)
            now = rss_bytes(t)
            still = still + 1 if now == last else 0
            last = now
        s.settimeout(60)
        chunks = []
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Transfer-Encoding: chunked" in head, head
    payload = dechunk(body)
    # more than one batch stayed in the tracker: all of it but what the
    # tracker's send buffer and our receive buffer could take
    sockets = int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[2]) + 2 * RCVBUF
    assert len(raw) - sockets > BATCH_LIMIT + (1 << 20), (len(raw), sockets)
    assert len(bdecode(payload)[b"files"]) == torrents
    assert t.proc.poll() is None, t.output()
    status, _, _ = http_get("127.0.0.1", t.port, "/stats?mode=torr")
    assert status == 200
