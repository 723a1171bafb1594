"""A minimal BitTorrent tracker client for the tests: HTTP (BEP 3/23/7/48)
and UDP (BEP 15) announce and scrape, each from a chosen source address so
that one test process can act as many peers on loopback."""
import socket
import struct
import urllib.parse


def bdecode(data):
    """Decodes one bencoded value; returns it (bytes keys stay bytes)."""
    def walk(i):
        c = data[i:i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1:end]), end + 1
        if c == b"l":
            out, i = [], i + 1
            while data[i:i + 1] != b"e":
                v, i = walk(i)
                out.append(v)
            return out, i + 1
        if c == b"d":
            out, i = {}, i + 1
            while data[i:i + 1] != b"e":
                k, i = walk(i)
                v, i = walk(i)
                out[k] = v
            return out, i + 1
        colon = data.index(b":", i)
        n = int(data[i:colon])
        return data[colon + 1:colon + 1 + n], colon + 1 + n
    value, end = walk(0)
    assert end == len(data), "trailing bytes after bencoded value"
    return value


def compact_peers(blob, size):
    """Splits a compact peer string into (address text, port) tuples."""
    family = socket.AF_INET if size == 6 else socket.AF_INET6
    alen = size - 2
    return [(socket.inet_ntop(family, blob[i:i + alen]),
             struct.unpack("!H", blob[i + alen:i + size])[0])
            for i in range(0, len(blob), size)]


def http_get(host, port, path, source=None, timeout=5):
    """One HTTP/1.0 GET from `source`; returns (status, headers, body)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: tracker\r\n\r\n".encode())
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head, body


def http_announce(host, port, info_hash, source, peer_port, numwant=50,
                  left=1, event=None, peer_id=None):
    q = {"info_hash": info_hash, "peer_id": peer_id or (b"-TS0001-" + source.encode()[-12:].rjust(12, b"0")),
         "port": str(peer_port), "uploaded": "0", "downloaded": "0",
         "left": str(left), "compact": "1", "numwant": str(numwant)}
    if event:
        q["event"] = event
    path = "/announce?" + urllib.parse.urlencode(q)
    status, _, body = http_get(host, port, path, source)
    assert status == 200, body
    reply = bdecode(body)
    peers = compact_peers(reply.get(b"peers", b""), 6) + \
        compact_peers(reply.get(b"peers6", b""), 18)
    return reply, peers


def http_scrape(host, port, info_hashes, source=None):
    path = "/scrape?" + "&".join("info_hash=" + urllib.parse.quote(h) for h in info_hashes)
    status, _, body = http_get(host, port, path, source)
    assert status == 200
    return bdecode(body)


class UdpTracker:
    """BEP 15 client bound to one source address."""

    def __init__(self, host, port, source, timeout=3):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.addr = (host, port)
        self.tid = 1
        self.cid = None
        self.family = family

    def close(self):
        self.sock.close()

    def _ask(self, packet):
        self.sock.sendto(packet, self.addr)
        data, _ = self.sock.recvfrom(65536)
        return data

    def connect(self):
        self.tid += 1
        data = self._ask(struct.pack("!QII", 0x41727101980, 0, self.tid))
        action, tid, self.cid = struct.unpack("!IIQ", data[:16])
        assert action == 0 and tid == self.tid
        return self.cid

    def announce(self, info_hash, peer_port, numwant=50, left=1, event=0, peer_id=None):
        if self.cid is None:
            self.connect()
        self.tid += 1
        pid = peer_id or b"-TS0001-" + struct.pack("!I", self.tid) + b"\0" * 8
        packet = struct.pack("!QII20s20sQQQIIIiH", self.cid, 1, self.tid, info_hash, pid,
                             0, left, 0, event, 0, 0, numwant, peer_port)
        data = self._ask(packet)
        action, tid, interval, leechers, seeders = struct.unpack("!IIIII", data[:20])
        assert action == 1 and tid == self.tid, data
        size = 6 if self.family == socket.AF_INET else 18
        return {"interval": interval, "leechers": leechers, "seeders": seeders}, \
            compact_peers(data[20:], size)

    def scrape(self, info_hashes):
        if self.cid is None:
            self.connect()
        self.tid += 1
        data = self._ask(struct.pack("!QII", self.cid, 2, self.tid) + b"".join(info_hashes))
        action, tid = struct.unpack("!II", data[:8])
        assert action == 2 and tid == self.tid
        return [struct.unpack("!III", data[8 + 12 * i:20 + 12 * i]) for i in range(len(info_hashes))]
