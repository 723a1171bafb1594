#!/usr/bin/python3
"""Post N random swarms to a fresh p4p-itracker and report the solve.

    itracker/post-load.py deploy/providers/attmpls.conf 500 [BUILD_DIR]

Starts the daemon on 127.0.0.1 (any free port, -v), posts one <stats>
document with N swarms (Pareto-sized, peers over random PIDs, rates left
to the access classes; fixed seed), prints the answer's size and wall time
and the daemon's solve lines, then stops it.  The provider file's max-body
is raised for the run (a 500-swarm document is ~400 kB).  A measurement,
not a test."""
import os
import random
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "harness"))
from p4pxml import stats  # noqa: E402
from procs import ITracker, readable_dir  # noqa: E402

conf, n = sys.argv[1], int(sys.argv[2])
build = sys.argv[3] if len(sys.argv) > 3 else "build"
text = open(conf).read()
tokens = re.findall(r"^client \S+ token (\S+) allow (?:all|.*guidance)",
                    text, re.M)
pids = re.findall(r"^pid (\S+)", text, re.M)
workdir = readable_dir()
raised = os.path.join(workdir, "provider.conf")
with open(raised, "w") as f:
    f.write(re.sub(r"^max-body .*$", "", text, flags=re.M))
    f.write("\nmax-body 16777216\n")
it = ITracker(raised, workdir, args=["-v"], token=tokens[0] if tokens else None,
              binary=os.path.join(build, "p4p-itracker"))
try:
    rnd = random.Random(7)
    swarms = []
    for _ in range(n):
        h = "%040x" % rnd.getrandbits(160)
        size = int(rnd.paretovariate(1.2) * 20)
        k = min(len(pids), 3 + rnd.randrange(max(1, len(pids) - 3)))
        swarms.append((h, [(pid, rnd.randrange(size // 4 + 2), rnd.randrange(size + 1), None, None)
                           for pid in rnd.sample(pids, k)]))
    body = stats(swarms)
    t = time.time()
    r, data = it.request("POST", "guidance", body, timeout=120)
    print("POST %d swarms (%d bytes): status %d, optimized %s, answer %d "
          "bytes, wall %.3f s" % (n, len(body), r.status,
                                  r.getheader("X-P4P-Optimized-Swarms"),
                                  len(data), time.time() - t))
finally:
    it.stop()
    sys.stdout.write(it.output())
    shutil.rmtree(workdir)
