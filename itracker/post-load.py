#!/usr/bin/python3
"""Post N random swarms to a fresh p4p-itracker and report the solve.

    itracker/post-load.py deploy/providers/attmpls.conf 500 [BUILD_DIR]

Starts the daemon on 127.0.0.1 (any free port, -v), posts one <stats>
document with N swarms (Pareto-sized, peers over random PIDs, rates left
to the access classes; fixed seed), prints the answer's size and wall time
and the daemon's solve lines, then stops it.  The provider file's max-body
is raised for the run (a 500-swarm document is ~400 kB).  A measurement,
not a test."""
import http.client
import os
import random
import re
import subprocess
import sys
import tempfile
import time

conf, n = sys.argv[1], int(sys.argv[2])
build = sys.argv[3] if len(sys.argv) > 3 else "build"
text = open(conf).read()
tokens = re.findall(r"^client \S+ token (\S+) allow (?:all|.*guidance)",
                    text, re.M)
pids = re.findall(r"^pid (\S+)", text, re.M)
with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
    f.write(re.sub(r"^max-body .*$", "", text, flags=re.M))
    f.write("\nmax-body 16777216\n")
p = subprocess.Popen([os.path.join(build, "p4p-itracker"), "-f", f.name,
                      "-l", "127.0.0.1", "-p", "0", "-v"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
try:
    port = int(re.search(r":(\d+)/p4p", p.stdout.readline()).group(1))
    rnd = random.Random(7)
    out = ['<?xml version="1.0"?><stats xmlns="urn:opentracker-p4p:p4p:1">']
    for _ in range(n):
        out.append('<swarm info-hash="%040x">' % rnd.getrandbits(160))
        size = int(rnd.paretovariate(1.2) * 20)
        k = min(len(pids), 3 + rnd.randrange(max(1, len(pids) - 3)))
        for pid in rnd.sample(pids, k):
            out.append('<pid name="%s" seeders="%d" leechers="%d"/>'
                       % (pid, rnd.randrange(size // 4 + 2),
                          rnd.randrange(size + 1)))
        out.append("</swarm>")
    out.append("</stats>")
    body = "\n".join(out).encode()
    headers = {"Content-Type": "application/p4p+xml"}
    if tokens:
        headers["Authorization"] = "Bearer " + tokens[0]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t = time.time()
    c.request("POST", "/p4p/v1/guidance", body, headers)
    r = c.getresponse()
    data = r.read()
    print("POST %d swarms (%d bytes): status %d, optimized %s, answer %d "
          "bytes, wall %.3f s" % (n, len(body), r.status,
                                  r.getheader("X-P4P-Optimized-Swarms"),
                                  len(data), time.time() - t))
finally:
    p.terminate()
    p.wait()
    sys.stdout.write(p.stderr.read())
    os.unlink(f.name)
