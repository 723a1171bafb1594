#!/usr/bin/python3
"""Latency of an authorized iTracker client while slowloris connections are
open (docs/ITRACKER.md, "Hostile clients").

  bench/itracker_slowloris.py [--binary build/p4p-itracker] [--slow 500]
      [--per-addr 4] [--duration 20] [--set "KEY VALUE"]...

Starts the daemon on 127.0.0.1 with a small provider and one client token,
times authorized GET pidmap requests with nothing else going on, then opens
--slow connections from distinct 127.x addresses (--per-addr per address)
that each send one header byte per second and never finish, replacing every
connection the server closes at once (tests/integration/slow_clients.py).
While they stay open it sends an authorized request every 100 ms (a new
connection each, 5 s timeout) for --duration seconds and prints p50/p99/max
of the answered ones, how many failed, and what the attack saw.  --set adds
a provider-file line (e.g. --set "max-connections 64")."""
import argparse
import http.client
import os
import re
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from slow_clients import SlowClients  # noqa: E402

TOKEN = secrets.token_hex(16)
PROVIDER = f"""provider bench
asid 64500
version bench-1
pop A loc 40.71,-74.01
pop B loc 41.88,-87.63
link A B capacity 1000000 weight 10
pid 1.i.bench pop A prefix 10.1.0.0/16
pid 2.i.bench pop B prefix 10.2.0.0/16
client bench token {TOKEN} allow all
"""


def start(binary, extra):
    d = tempfile.mkdtemp(prefix="itr-slow-")
    conf = os.path.join(d, "p.conf")
    with open(conf, "w") as f:
        f.write(PROVIDER + "".join(line + "\n" for line in extra))
    p = subprocess.Popen([binary, "-f", conf, "-l", "127.0.0.1", "-p", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        p.kill()
        sys.exit("daemon did not start: %r %r" % (line, p.stderr.read()))
    return p, int(m.group(1))


def authorized_get(port, timeout=5.0):
    """Seconds to a full 200 answer, or the failure's name."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", "/p4p/v1/pidmap",
                  headers={"Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            return "HTTP %d" % r.status
        return time.perf_counter() - t0
    except (OSError, http.client.HTTPException) as e:
        return type(e).__name__
    finally:
        c.close()


def daemon_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Threads", "VmRSS"):
                out[k] = v.strip()
    out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return out


def summary(lat):
    if not lat:
        return "none answered"
    lat = sorted(lat)
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
    return "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
        1e3 * statistics.median(lat), 1e3 * p99, 1e3 * lat[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(TOP, "build", "p4p-itracker"))
    ap.add_argument("--slow", type=int, default=500)
    ap.add_argument("--per-addr", type=int, default=4)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--set", action="append", default=[], metavar="LINE")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, a.slow + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    proc, port = start(a.binary, a.set)
    try:
        idle = [authorized_get(port) for _ in range(50)]
        idle_ok = [x for x in idle if isinstance(x, float)]
        print("binary %s, settings %s" % (a.binary, a.set or "defaults"))
        print("no attack: %d/%d answered, %s" % (len(idle_ok), len(idle),
                                                 summary(idle_ok)))
        slow = SlowClients("127.0.0.1", port, a.slow, per_addr=a.per_addr)
        t0 = time.monotonic()
        slow.open_all()
        slow.start()
        print("attack: %d slow connections from %d addresses, %d up after "
              "%.1f s" % (a.slow, (a.slow + a.per_addr - 1) // a.per_addr,
                          slow.open_count(), time.monotonic() - t0))
        time.sleep(1)
        lat, fails, open_seen = [], {}, []
        end = time.monotonic() + a.duration
        while time.monotonic() < end:
            r = authorized_get(port)
            if isinstance(r, float):
                lat.append(r)
            else:
                fails[r] = fails.get(r, 0) + 1
            open_seen.append(slow.open_count())
            time.sleep(0.1)
        st = daemon_status(proc.pid)
        slow.stop()
        lived = [c.closed - c.opened for c in slow.history if c.closed]
        print("during %.0f s of attack: %d/%d authorized requests answered, "
              "%s; failures %s" % (a.duration, len(lat), len(lat) + sum(fails.values()),
                                   summary(lat), fails or "none"))
        print("  slow connections open: min %d, median %d, max %d; closed by the "
              "server %d (median life %.1f s), connects refused/failed %d"
              % (min(open_seen), statistics.median(open_seen), max(open_seen),
                 slow.server_closes, statistics.median(lived) if lived else 0,
                 slow.connect_failures))
        print("  daemon: %s threads, RSS %s, %d fds" % (st["Threads"], st["VmRSS"],
                                                      st["fds"]))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
