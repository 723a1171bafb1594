#!/usr/bin/python3
"""A misbehaving P4P portal, written for the tests (Python stdlib and the
harness's p4pxml).

It serves our v1 interfaces (/p4p/v1/pidmap, costs, guidance, capability:
the documents of docs/examples) and the legacy Yale text interfaces
(/pid/map, /pdistance: the captures in tests/data/yale-portal), and can fail in
every way the tracker's portal client must survive.  Modes:

  healthy   documents with Cache-Control max-age, ETag (If-None-Match -> 304),
            X-P4P-Version (legacy: X-P4P-PIDMap); a Bearer token when --token
  refuse    accept the connection and close it without a word
  hang      accept, read the request, never answer
  slow      the whole answer, one byte every 0.5 s
  garbage   200 with bytes that are no document
  hostile   200 with a billion-laughs XML document (a DTD with entities)
  huge      200 with an endless body
  401, 500  that status with a P4P <error> body
  flapping  healthy and 500 in turn, per request
("down" is a port nobody listens on: do not start the portal.)

Control endpoints, answered in every mode (so a test can drive failures
while a client keeps fetching):
  POST|GET /_mode?m=MODE      switch mode
  POST|GET /_max_age?s=N      max-age of the documents
  POST|GET /_version?v=V      data version (goes into bodies, ETags, headers)
  GET /_count?path=P          requests seen on P (number, text/plain)
  GET /_last?path=P           body of the last request on P
  GET /_header?path=P&name=H  header H of the last request on P ("" if none)

CLI: fake_portal.py [--host 127.0.0.1] [--port 0] [--mode healthy]
     [--max-age 300] [--token T] [--version fake-1] [--tls CERT KEY]
     [--exit-on-eof]
prints "PORT <n>" on stdout once listening; stops on SIGTERM or SIGINT.
As a module: FakePortal(...).start() / .url / .set_mode() / .stop().
"""
import argparse
import hashlib
import os
import re
import signal
import socket
import ssl
import sys
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import p4pxml

MODES = ("healthy", "refuse", "hang", "slow", "garbage", "hostile", "huge",
         "401", "500", "flapping")

HERE = os.path.dirname(os.path.abspath(__file__))
YALE_DIR = os.path.join(HERE, "..", "data", "yale-portal")
EXAMPLES_DIR = os.path.join(HERE, "..", "..", "docs", "examples")


def _example(kind):
    """docs/examples/KIND.xml (the documents of docs/PROTOCOL.md)."""
    with open(os.path.join(EXAMPLES_DIR, kind + ".xml"), "rb") as f:
        return f.read()


def _example_default():
    """The <default> matrix of docs/examples/guidance.xml."""
    q = lambda tag: "{%s}%s" % (p4pxml.NS, tag)
    d = ET.fromstring(_example("guidance")).find(q("default"))
    return (d.find(q("pids")).text.split(),
            {(e.get("from"), e.get("to")): e.get("value") for e in d.findall(q("entry"))})


# The examples of docs/PROTOCOL.md, served with the portal's data version;
# guidance is built: the example's default matrix and SWARM_MATRIX for
# every info-hash a guidance POST names.
EXAMPLES = {k: _example(k) for k in ("pidmap", "costs", "capability")}
ROOT_VERSION = re.compile(rb'(<(?:pidmap|costs)\b[^>]*\sversion=")[^"]*(")')
DEFAULT_MATRIX = _example_default()
SWARM_MATRIX = (["0.i.example", "2.i.example"],
                {("0.i.example", "2.i.example"): 1, ("2.i.example", "0.i.example"): 1})

HOSTILE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
]>
<pidmap xmlns="urn:opentracker-p4p:p4p:1" version="&lol3;&xxe;"/>
"""

GARBAGE = b"\x00\xff\xfe<<<this is not a document>>>\r\n\x1b[31m\x7f"

V1_PATHS = {"/p4p/v1/" + k: k for k in ("pidmap", "costs", "guidance",
                                       "capability")}
LEGACY_PATHS = {"/pid/map": "01-get-pid-map.curl.txt",
                "/pdistance": "06-get-pdistance.curl.txt"}


def _capture_body(name):
    """Body of a Yale capture (after the headers' blank line), CRLF kept."""
    with open(os.path.join(YALE_DIR, name), "rb") as f:
        data = f.read()
    return data.split(b"\r\n\r\n", 1)[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # clients hanging up mid-answer is what the tests provoke: stay quiet
        pass


class FakePortal:
    """The fake portal in this process, on its own threads."""

    def __init__(self, host="127.0.0.1", port=0, mode="healthy", max_age=300,
                 token="", version="fake-1", tls=None):
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        self.mode = mode
        self.max_age = max_age
        self.token = token
        self.version = version
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.flap = 0
        self.counts = {}
        self.last_body = {}
        self.last_headers = {}
        self.legacy = {p: _capture_body(n) for p, n in LEGACY_PATHS.items()}
        # kind -> document text ({v}: the version) served instead of V1_DOCS
        self.documents = {}
        portal = self

        class Handler(_Handler):
            pass
        Handler.portal = portal
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        _Server.address_family = family
        self.httpd = _Server((host, port), Handler)
        self.port = self.httpd.server_address[1]
        self.host = host
        self.scheme = "http"
        if tls:
            # the handshake happens at the first read, in the connection's
            # own thread, so a client that never speaks TLS blocks nobody
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.httpd.socket = ctx.wrap_socket(
                self.httpd.socket, server_side=True,
                do_handshake_on_connect=False)
            self.scheme = "https"
        self.thread = None

    @property
    def url(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (self.scheme, h, self.port)

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stops serving; safe to call again (or without start())."""
        with self.lock:
            if self.stopping.is_set():
                return
            self.stopping.set()  # releases hanging and slow handlers
        if self.thread:
            self.httpd.shutdown()
        self.httpd.server_close()

    def set_mode(self, mode):
        if mode not in MODES:
            raise ValueError("unknown mode %r" % mode)
        with self.lock:
            self.mode = mode

    def serve(self, kind, text=None):
        """Answers `kind` (pidmap, costs, guidance, capability) with text
        from now on ({v} becomes the version); None: the usual document."""
        with self.lock:
            if text is None:
                self.documents.pop(kind, None)
            else:
                self.documents[kind] = text

    def count(self, path):
        with self.lock:
            return self.counts.get(path, 0)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    portal = None  # set per server

    def log_message(self, fmt, *args):  # quiet: tests read their own output
        pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_HEAD(self):
        self._send(405, b"", "text/plain")

    # -- plumbing ------------------------------------------------------
    def _send(self, status, body, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(n, 16 << 20)) if n > 0 else b""

    def _control(self, path, q):
        p = self.portal
        arg = lambda k: (q.get(k) or [""])[0]
        if path == "/_mode":
            if arg("m") not in MODES:
                return self._send(400, b"unknown mode\n", "text/plain")
            p.set_mode(arg("m"))
        elif path == "/_max_age":
            p.max_age = int(arg("s"))
        elif path == "/_version":
            p.version = arg("v")
        elif path == "/_count":
            return self._send(200, b"%d" % p.count(arg("path")), "text/plain")
        elif path == "/_last":
            with p.lock:
                body = p.last_body.get(arg("path"), b"")
            return self._send(200, body, "application/octet-stream")
        elif path == "/_header":
            with p.lock:
                h = p.last_headers.get(arg("path"), {}).get(arg("name").lower(), "")
            return self._send(200, h.encode(), "text/plain")
        else:
            return self._send(404, b"no such control\n", "text/plain")
        self._send(200, b"ok\n", "text/plain")

    def _handle(self, method):
        p = self.portal
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        body = self._read_body()
        if url.path.startswith("/_"):
            return self._control(url.path, q)
        with p.lock:
            p.counts[url.path] = p.counts.get(url.path, 0) + 1
            p.last_body[url.path] = body
            p.last_headers[url.path] = {k.lower(): v for k, v in self.headers.items()}
            mode = p.mode
            if mode == "flapping":
                p.flap += 1
                mode = "healthy" if p.flap % 2 == 1 else "500"
        getattr(self, "_mode_" + mode)(method, url.path, body)

    def _error(self, status, text, headers=()):
        self._send(status, p4pxml.error(status, text), p4pxml.CT, headers)

    # -- modes ---------------------------------------------------------
    def _document(self, method, path, body):
        """(status, body, content-type, headers) of the healthy answer."""
        p = self.portal
        v = p.version
        if path in LEGACY_PATHS:
            if method != "GET":
                return 406, b"", "text/plain", []
            return 200, p.legacy[path], "text/plain", [
                ("Cache-Control", "max-age=%d" % p.max_age),
                ("X-P4P-PIDMap", v)]
        kind = V1_PATHS.get(path)
        if kind is None:
            return None
        if kind in p.documents:
            data = p.documents[kind].replace("{v}", v).encode()
        elif kind == "guidance":
            swarms = []
            if method == "POST":
                # one matrix for every info-hash the posted <stats> names
                text = body.decode("utf-8", "replace")
                swarms = [(part[:40],) + SWARM_MATRIX for part in text.split('info-hash="')[1:]]
            data = p4pxml.guidance(DEFAULT_MATRIX, swarms, version=v)
        else:
            version = escape(v, {'"': "&quot;"}).encode()
            data = ROOT_VERSION.sub(lambda m: m.group(1) + version + m.group(2), EXAMPLES[kind])
        etag = '"%s-%s"' % (kind, hashlib.sha1(data).hexdigest()[:12])
        cache = "no-store" if method == "POST" else "max-age=%d" % p.max_age
        return 200, data, p4pxml.CT, [
            ("Cache-Control", cache), ("ETag", etag), ("X-P4P-Version", v)]

    def _mode_healthy(self, method, path, body):
        p = self.portal
        if p.token and path not in LEGACY_PATHS and \
                self.headers.get("Authorization") != "Bearer " + p.token:
            return self._error(401, "no or unknown token", [
                ("WWW-Authenticate", 'Bearer realm="p4p"')])
        d = self._document(method, path, body)
        if d is None:
            return self._error(404, "no such path")
        status, data, ctype, headers = d
        etag = dict(headers).get("ETag")
        if method == "GET" and etag and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send(status, data, ctype, headers)

    def _mode_refuse(self, method, path, body):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _mode_hang(self, method, path, body):
        # never answer; let go only when the portal stops (or after 10 min)
        self.portal.stopping.wait(600)
        self.close_connection = True

    def _mode_slow(self, method, path, body):
        d = self._document(method, path, body) or (
            404, b"", "text/plain", [])
        status, data, ctype, headers = d
        head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
            status, self.responses.get(status, ("",))[0], ctype, len(data))
        head += "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
        self.close_connection = True
        for b in head.encode() + data:
            if self.portal.stopping.wait(0.5):
                return
            try:
                self.wfile.write(bytes([b]))
                self.wfile.flush()
            except OSError:
                return

    def _mode_garbage(self, method, path, body):
        self._send(200, GARBAGE, p4pxml.CT,
                   [("Cache-Control", "max-age=%d" % self.portal.max_age)])

    def _mode_hostile(self, method, path, body):
        self._send(200, HOSTILE, p4pxml.CT)

    def _mode_huge(self, method, path, body):
        self.send_response(200)
        self.send_header("Content-Type", p4pxml.CT)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b"<" * 65536
        for _ in range(1 << 14):  # 1 GiB at most, unless the client hangs up
            if self.portal.stopping.is_set():
                return
            try:
                self.wfile.write(chunk)
            except OSError:
                return

    def _mode_401(self, method, path, body):
        self._error(401, "no or unknown token", [
            ("WWW-Authenticate", 'Bearer realm="p4p", error="invalid_token"')])

    def _mode_500(self, method, path, body):
        self._error(500, "portal failure (fake)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", default="healthy", choices=MODES)
    ap.add_argument("--max-age", type=int, default=300)
    ap.add_argument("--token", default="")
    ap.add_argument("--version", default="fake-1")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                    help="serve HTTPS with this PEM certificate and key")
    ap.add_argument("--exit-on-eof", action="store_true",
                    help="stop when stdin reaches EOF (the parent test died)")
    a = ap.parse_args(argv)
    portal = FakePortal(a.host, a.port, a.mode, a.max_age, a.token, a.version,
                        a.tls)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    if a.exit_on_eof:
        def watch_stdin():
            # os.read, not sys.stdin: a daemon thread blocked in a buffered
            # read holds its lock, and the interpreter then aborts at exit
            while os.read(0, 4096):
                pass
            done.set()
        threading.Thread(target=watch_stdin, daemon=True).start()
    portal.start()
    sys.stdout.write("PORT %d\n" % portal.port)
    sys.stdout.flush()
    while not done.wait(0.2):
        pass
    portal.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
