"""Both daemons free everything they allocated when told to stop (issue 12.4).

The tracker stops on SIGINT (upstream's handler: trackerlogic_deinit, which
runs p4p_deinit: reload and SIGHUP threads joined, portal client stopped,
snapshots and local files freed, config reset); the iTracker on SIGTERM
(HTTP server, solver, portal).  Each first does real work: local files and
a portal (fetches, statistics posted), HTTP and UDP announces, a scrape,
/stats, a SIGHUP reload; lookups, guidance and errors on the iTracker.

The leak check is the build's: in a sanitizer build (make SAN=1 test) the
daemons are ASan binaries and LeakSanitizer checks at exit; otherwise they
run under valgrind.  Either way a definite or indirect leak, or any memory
error, fails the test; under valgrind so does a block our code allocated
that is still reachable (a global still pointing at it) or possibly lost.
Upstream's own blocks are not counted: its worker threads are cancelled,
never joined, and its main loop's buffers live until exit."""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from btclient import UdpTracker, http_announce, http_get, http_scrape
from conftest import BUILD, TOP, free_port, p4p_stats, readable_dir, wait_for
from fake_portal import FakePortal

EXAMPLE = os.path.join(TOP, "deploy", "example")
SWARM = bytes.fromhex("5d" * 20)
TOKEN = "0123456789abcdef0123456789abcdef"


def is_asan(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def leak_checked(binary):
    """The command line and environment that run binary with a leak check."""
    env = dict(os.environ)
    if is_asan(binary):
        # use_sigaltstack=0: upstream cancels its worker threads, and ASan's
        # thread teardown then misreads the cancelled stack (a false
        # stack-buffer-overflow in sigaltstack); leaks are still checked
        env["ASAN_OPTIONS"] = "detect_leaks=1:use_sigaltstack=0:exitcode=23"
        return [binary], env, 30
    valgrind = shutil.which("valgrind")
    assert valgrind, "valgrind is needed for the leak check (make deps)"
    return [valgrind, "-q", "--leak-check=full", "--show-leak-kinds=all",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=42",
            "--child-silent-after-fork=yes", binary], env, 240


# our sources by file name, as valgrind names them in stack frames
OURS = {f for d in ("p4p", "proto", "provider", "itracker") for f in os.listdir(os.path.join(TOP, d))
        if f.endswith(".c")}


def ours_still_held(out):
    """valgrind's reachable and possibly lost blocks allocated by our code:
    memory a global still points to at exit is not freed either."""
    held, record = [], None
    for line in out.splitlines():
        if "in loss record" in line:
            record = [line]
            held.append(record)
        elif record is not None:
            if re.match(r"==\d+== *$", line):
                record = None
            else:
                record.append(line)
    return ["\n".join(r) for r in held
            if any(m.group(1) in OURS for line in r for m in [re.search(r"\((\w+\.c):\d+\)", line)] if m)]


def assert_clean_exit(proc, out, what):
    assert proc.returncode == 0, "%s exited %s:\n%s" % (what, proc.returncode, out[-6000:])
    for bad in ("LeakSanitizer", "AddressSanitizer", "runtime error", "definitely lost in", "indirectly lost in",
                "Invalid read", "Invalid write"):
        assert bad not in out, "%s: %s\n%s" % (what, bad, out[-6000:])
    held = ours_still_held(out)
    assert not held, "%s: still held at exit:\n%s" % (what, "\n\n".join(held)[:6000])


def test_tracker_frees_everything_on_sigint():
    workdir = readable_dir()
    for name in ("pidmap.xml", "guidance.xml"):
        shutil.copy(os.path.join(EXAMPLE, name), workdir)
        os.chmod(os.path.join(workdir, name), 0o644)
    portal = FakePortal(max_age=1).start()
    port = free_port()
    conf = os.path.join(workdir, "t.conf")
    with open(conf, "w") as f:
        f.write("\n".join([
            f"listen.tcp_udp 127.0.0.1:{port}",
            "p4p.enable yes", "p4p.report_interval 1",
            f"p4p.pidmap {workdir}/pidmap.xml", f"p4p.guidance {workdir}/guidance.xml",
            f"p4p.provider isp {portal.url}", "p4p.provider.isp.refresh 1", ""]))
    os.chmod(conf, 0o644)
    binary = os.path.join(BUILD, "opentracker-p4p")
    cmd, env, slow = leak_checked(binary)
    log = open(os.path.join(workdir, "tracker.log"), "w+")
    proc = subprocess.Popen(cmd + ["-f", conf], stdout=log, stderr=subprocess.STDOUT, env=env)

    class T:  # what p4p_stats needs
        pass
    t = T()
    t.port = port
    def up():
        if proc.poll() is not None:
            return True
        try:
            return http_get("127.0.0.1", port, "/stats?mode=p4p")[0] == 200
        except OSError:
            return False
    try:
        assert wait_for(up, timeout=slow, step=0.2)
        assert proc.poll() is None, open(log.name).read()
        assert wait_for(lambda: p4p_stats(t).get("provider isp state") == "in use", timeout=slow, step=0.2), p4p_stats(t)
        for i in range(6):
            http_announce("127.0.0.1", port, SWARM, f"127.0.{1 + i % 4}.{20 + i}", 6881, numwant=10)
        udp = UdpTracker("127.0.0.1", port, "127.0.2.77", timeout=slow)
        udp.announce(SWARM, 6882, numwant=10)
        udp.close()
        http_scrape("127.0.0.1", port, [SWARM])
        # a reload, and a statistics round posted to the portal
        ok = int(p4p_stats(t)["reloads ok"])
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: int(p4p_stats(t)["reloads ok"]) > ok, timeout=slow, step=0.2)
        assert wait_for(lambda: portal.count("/p4p/v1/guidance") >= 2, timeout=slow, step=0.2)
        proc.send_signal(signal.SIGINT)
        proc.wait(slow)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        portal.stop()
    log.seek(0)
    assert_clean_exit(proc, log.read(), "opentracker-p4p")


PROVIDER = f"""provider shutdown
asid 64500
version s-1
pop NEWYORK loc 40.71,-74.01
pop CHICAGO loc 41.88,-87.63
link NEWYORK CHICAGO capacity 1000000 weight 10
pid 1.i.s pop NEWYORK prefix 10.1.0.0/16 prefix 2001:db8:1::/48
pid 2.i.s pop CHICAGO prefix 10.2.0.0/16
server 2.i.s cache 10.2.0.10 6881 capacity 1000
client full token {TOKEN} allow all
first-solve-wait-ms 60000
"""

STATS = """<?xml version="1.0" encoding="UTF-8"?>
<stats xmlns="urn:opentracker-p4p:p4p:1">
  <swarm info-hash="%s">
    <pid name="1.i.s" seeders="2" leechers="5"/>
    <pid name="2.i.s" seeders="1" leechers="4"/>
  </swarm>
</stats>
""" % ("5d" * 20)


def test_itracker_frees_everything_on_sigterm(tmp_path):
    conf = tmp_path / "p.conf"
    conf.write_text(PROVIDER)
    binary = os.path.join(BUILD, "p4p-itracker")
    cmd, env, slow = leak_checked(binary)
    proc = subprocess.Popen(cmd + ["-f", str(conf), "-l", "127.0.0.1", "-p", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    import http.client
    try:
        line = proc.stdout.readline()
        m = re.search(r":(\d+)/p4p/v1/", line)
        assert m, line + proc.stdout.read()
        port = int(m.group(1))

        def req(method, path, body=None, token=TOKEN):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=slow)
            h = {"Content-Type": "application/p4p+xml"}
            if token:
                h["Authorization"] = "Bearer " + token
            c.request(method, "/p4p/v1/" + path, body=body, headers=h)
            r = c.getresponse()
            r.read()
            c.close()
            return r.status
        assert req("GET", "pidmap") == 200
        assert req("GET", "costs") == 200
        assert req("GET", "capability") == 200
        with open(os.path.join(TOP, "docs", "examples", "lookup-request.xml"), "rb") as f:
            assert req("POST", "lookup", f.read()) == 200
        assert req("POST", "guidance", STATS.encode()) == 200
        assert req("GET", "pidmap", token="wrong") == 401
        assert req("POST", "lookup", b"<not xml") == 400
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=slow)
    finally:
        if proc.poll() is None:
            proc.kill()
            out, _ = proc.communicate()
    assert_clean_exit(proc, line + out, "p4p-itracker")
