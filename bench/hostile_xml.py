#!/usr/bin/python3
"""CPU cost of one hostile XML document, in the iTracker and in the tracker.

The document (issue 15.1): 1 MiB of IBM037 (EBCDIC) XML whose root tag
carries ~149k attributes.  libxml2 checks each attribute of a tag against all
earlier ones, so such a tag costs ~10^10 steps; the parser's attribute cap
counts ASCII '<' and '=' and so must never see bytes it would decode into
other characters.

  iTracker: one POST /p4p/v1/lookup with the document as body;
  tracker:  a portal that answers /p4p/v1/pidmap with it, one fetch.

Reports the CPU seconds (user + system, from /proc/PID/stat) each daemon
spent on it.  Not part of `make test` (a figure, not an assertion):

  bench/hostile_xml.py [--build build] [--only itracker|tracker]
"""
import argparse
import http.client
import http.server
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

NS = "urn:opentracker-p4p:p4p:1"
TOKEN = "0123456789abcdef0123456789abcdef"
TICK = os.sysconf("SC_CLK_TCK")


def hostile_document(root, size=1 << 20, encoding="cp037"):
    """`size` bytes of `encoding`: one <root> tag with 3-letter attributes
    (' Abc=""', 7 bytes each: 149,796 of them in 1 MiB)."""
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    head = '<?xml version="1.0" encoding="IBM037"?>\n<%s xmlns="%s"' % (root, NS)
    tail = "/>\n"
    n = (size - len(head) - len(tail)) // 7
    attrs = []
    for i in range(n):
        a, r = divmod(i, 62 * 62)
        attrs.append(' %s%s%s=""' % (alnum[a % 52], alnum[r // 62], alnum[r % 62]))
    doc = head + "".join(attrs) + tail
    return doc.encode(encoding), n


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


PROVIDER = """provider hostile
asid 64500
version h-1
pop A loc 40.71,-74.01
pid 1.i.h pop A prefix 10.1.0.0/16
client full token %s allow all
max-body 4194304
connection-timeout 600
""" % TOKEN


def itracker(build):
    doc, n = hostile_document("lookup-request")
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "p.conf")
        with open(conf, "w") as f:
            f.write(PROVIDER)
        p = subprocess.Popen([os.path.join(build, "p4p-itracker"), "-f", conf,
                              "-l", "127.0.0.1", "-p", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            m = re.search(r":(\d+)/p4p/v1/", p.stdout.readline())
            port = int(m.group(1))
            c0 = cpu_seconds(p.pid)
            t0 = time.monotonic()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
            c.request("POST", "/p4p/v1/lookup", body=doc, headers={
                "Authorization": "Bearer " + TOKEN,
                "Content-Type": "application/p4p+xml"})
            r = c.getresponse()
            body = r.read()
            c.close()
            wall = time.monotonic() - t0
            cpu = cpu_seconds(p.pid) - c0
        finally:
            p.terminate()
            p.wait(30)
    reason = re.sub(rb"\s+", b" ", body)[-160:].decode("utf-8", "replace")
    print("itracker: %d bytes, %d attributes: HTTP %d after %.2f s wall, %.2f CPU s; %s"
          % (len(doc), n, r.status, wall, cpu, reason))
    return cpu


class Portal(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    doc = b""
    served = 0

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path.startswith("/p4p/v1/pidmap"):
            type(self).served += 1
            body, status = self.doc, 200
        else:
            body, status = b"", 404
        self.send_response(status)
        self.send_header("Content-Type", "application/p4p+xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600")
        self.end_headers()
        self.wfile.write(body)


def stats(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/stats?mode=p4p")
    text = c.getresponse().read().decode()
    c.close()
    return dict(l.split(": ", 1) for l in text.splitlines() if ": " in l)


def tracker(build):
    doc, n = hostile_document("pidmap")
    Portal.doc = doc
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = free_port()
    d = tempfile.mkdtemp(prefix="otp4p-")
    os.chmod(d, 0o755)
    conf = os.path.join(d, "t.conf")
    with open(conf, "w") as f:
        f.write("listen.tcp_udp 127.0.0.1:%d\np4p.enable yes\n" % port)
        f.write("p4p.provider hostile http://127.0.0.1:%d\n" % srv.server_address[1])
        f.write("p4p.provider.hostile.interfaces info\n")
        f.write("p4p.provider.hostile.timeout_ms 600000\n")
        f.write("p4p.provider.hostile.refresh 3600\n")
    os.chmod(conf, 0o644)
    p = subprocess.Popen([os.path.join(build, "opentracker-p4p"), "-f", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        # the fetch starts with the tracker: count its CPU from exec (the
        # startup's share is a few milliseconds)
        c0 = 0
        t0 = time.monotonic()
        while True:
            s = stats(port)
            if int(s.get("provider hostile fetches", "0")) >= 1:
                break
            time.sleep(0.1)
        wall = time.monotonic() - t0
        cpu = cpu_seconds(p.pid) - c0
    finally:
        p.terminate()
        p.wait(30)
        srv.shutdown()
    print("tracker: %d bytes, %d attributes, %d fetch(es): %.2f s wall, %.2f CPU s; last error: %s"
          % (len(doc), n, Portal.served, wall, cpu, s.get("provider hostile last error")))
    return cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", choices=("itracker", "tracker"))
    a = ap.parse_args()
    if a.only != "tracker":
        itracker(a.build)
    if a.only != "itracker":
        tracker(a.build)


if __name__ == "__main__":
    sys.exit(main())
