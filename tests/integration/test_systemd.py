"""The installed units under a real systemd.

PID 1 of the test machine is not systemd, so the test boots one: this
machine's own systemd as PID 1 of a container (systemd-nspawn) whose root is
this machine's root file system under a throw-away overlay, with a private
network (loopback only).  There, as root on a systemd machine, `make install
PREFIX=/usr` installs for real (the tree is bound read-only at its own path)
and makes the user; then both units are started as an operator would and
checked: running as their user without capabilities, under the system
call filter and a read-only file system, answering on loopback; SIGHUP by
`systemctl reload` rereads a P4P file; `systemctl stop` stops cleanly.

Nothing changes outside: every mount is made in a private mount namespace
and the overlay lives in memory.  Skipped where containers cannot be made
(not root, no systemd-nspawn, no mount namespaces) and where the container
does not boot; once it has booted, every failure is the units'."""
import os
import re
import secrets
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BUILD, TOP, wait_for

BOOT = """set -e
mount -t tmpfs tmpfs /run               # nspawn's own state stays off the host's /run
mkdir /run/root
mount --bind / /run/root                # not recursive: none of the host's /dev, /proc, /run
exec systemd-nspawn -q -D /run/root --volatile=overlay --private-network --boot \\
  --register=no --keep-unit --link-journal=no --console=passive \\
  --machine="$1" --bind-ro="$2" systemd.unit=basic.target
"""


def why_no_container():
    if os.geteuid() != 0:
        return "containers need root"
    if not shutil.which("systemd-nspawn"):
        return "no systemd-nspawn (Debian package systemd-container)"
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        return "no mount namespaces here"
    return None


def descendants(pid):
    parent = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                parent[int(p)] = int(re.search(r"^PPid:\s+(\d+)", open(f"/proc/{p}/status").read(), re.M).group(1))
            except (OSError, AttributeError):
                pass
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        todo += kids
    return found


class Container:
    def __init__(self, log):
        self.name = "otp4p-" + secrets.token_hex(4)
        self.log = log
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", BOOT, "sh", self.name, TOP],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.init = wait_for(self._find_init, timeout=30)
        if self.init:
            # the boot is over when the job queue is empty (state running or degraded)
            state = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=90).stdout.strip()
            if state not in ("running", "degraded"):
                self.init = None

    def _find_init(self):
        if self.proc.poll() is not None:
            return None
        for pid in descendants(self.proc.pid):
            try:
                status = open(f"/proc/{pid}/status").read()
            except OSError:
                continue
            # PID 1 of the container, once systemctl can reach it
            if re.search(r"^NSpid:\s+\d+\s+1$", status, re.M) and re.search(r"^Name:\s+systemd$", status, re.M) \
                    and os.path.exists(f"/proc/{pid}/root/run/systemd/private"):
                return pid
        return None

    def run(self, *cmd, check=True, timeout=30, stdin=None):
        p = subprocess.run(["nsenter", "-t", str(self.init), "-a", "--", *cmd], capture_output=True, text=True, errors="replace",
                           timeout=timeout, input=stdin)
        if check:
            assert p.returncode == 0, f"{cmd}: {p.stdout}{p.stderr}{self.journal()}"
        return p

    def journal(self):
        if not self.init:
            return ""
        p = subprocess.run(["nsenter", "-t", str(self.init), "-a", "--", "journalctl", "--no-pager", "-n", "60",
                            "-u", "opentracker-p4p", "-u", "p4p-itracker"], capture_output=True, text=True, timeout=30)
        return "\n--- journal:\n" + p.stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to power off
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                for pid in descendants(self.proc.pid) + [self.proc.pid]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self.proc.wait(10)


@pytest.fixture(scope="module")
def container(tmp_path_factory):
    reason = why_no_container()
    if reason:
        pytest.skip(reason)
    log = open(tmp_path_factory.mktemp("nspawn") / "nspawn.log", "w+")
    c = Container(log)
    try:
        if not c.init:
            log.seek(0)
            pytest.skip("the container did not boot: " + log.read()[-2000:])
        san = ["SAN=1"] if os.path.basename(os.path.normpath(BUILD)) == "san" else []
        out = c.run("env", "-u", "MAKEFLAGS", "-u", "MFLAGS", "-u", "MAKELEVEL", "make", "-C", TOP, "-s",
                    "--no-print-directory", "install", "PREFIX=/usr", *san, timeout=120).stdout
        assert "NOTE" not in out, out  # the user was made and given the configs
        for conf in ("opentracker-p4p.conf", "p4p-itracker.conf"):
            assert c.run("stat", "-c", "%U:%G %a", "/etc/opentracker-p4p/" + conf).stdout.split() == \
                ["root:opentracker-p4p", "640"]
        if san:
            # LeakSanitizer's exit-time check stops the threads with ptrace,
            # which the units' system call filter refuses (by design); the
            # other tests run the same binaries with leak checks, unconfined
            for unit in ("opentracker-p4p.service", "p4p-itracker.service"):
                c.run("sh", "-c", f"mkdir -p /run/systemd/system/{unit}.d && printf '[Service]\\n"
                      f"Environment=ASAN_OPTIONS=detect_leaks=0\\n' > /run/systemd/system/{unit}.d/san.conf")
        c.run("systemctl", "daemon-reload")
        yield c
    finally:
        c.stop()
        log.close()


def main_pid(c, unit):
    return c.run("systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()


def curl(c, url):
    return c.run("curl", "-sS", "--max-time", "5", url).stdout


def p4p_stats(c):
    """/stats?mode=p4p as a dict; empty while the tracker is not listening yet
    (Type=exec: a start is done once the binary runs, before it binds)."""
    p = c.run("curl", "-sS", "--max-time", "5", "http://127.0.0.1:6969/stats?mode=p4p", check=False)
    return dict(l.split(": ", 1) for l in p.stdout.splitlines() if ": " in l)


def test_units_run_sandboxed_and_answer(container):
    c = container
    c.run("systemctl", "start", "p4p-itracker.service", "opentracker-p4p.service")
    for unit in ("p4p-itracker.service", "opentracker-p4p.service"):
        assert c.run("systemctl", "is-active", unit, check=False).stdout.strip() == "active", c.journal()
        pid = main_pid(c, unit)
        status = c.run("cat", f"/proc/{pid}/status").stdout
        uid = c.run("id", "-u", "opentracker-p4p").stdout.strip()
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, re.M), status
        for field, value in (("CapEff", "0000000000000000"), ("CapBnd", "0000000000000000"),
                             ("NoNewPrivs", "1"), ("Seccomp", "2")):
            assert re.search(rf"^{field}:\s+{value}$", status, re.M), (unit, field, status)
        # ProtectSystem=strict: the whole tree is read-only to the daemon
        root = next(l for l in c.run("cat", f"/proc/{pid}/mountinfo").stdout.splitlines() if l.split()[4] == "/")
        assert "ro" in root.split()[5].split(","), root
    ih = "%c3" * 20
    assert wait_for(lambda: p4p_stats(c)), c.journal()
    reply = curl(c, f"http://127.0.0.1:6969/announce?info_hash={ih}&peer_id=-TS0001-aaaaaaaaaaaa&port=6881&left=1&compact=1")
    assert reply.startswith("d") and "8:intervali" in reply, reply
    assert "0.i.abilene" in curl(c, "http://127.0.0.1:6671/p4p/v1/pidmap")


def test_p4p_on_and_reload_by_sighup(container):
    """The operator's steps: P4P on, the local iTracker as provider (by name,
    so resolution works in the sandbox), a local PID map; then reload."""
    c = container
    conf = "/etc/opentracker-p4p/opentracker-p4p.conf"
    c.run("sed", "-i", "-e", "s/^p4p.enable no$/p4p.enable yes/",
          "-e", "s|^#p4p.provider myisp https://itracker.myisp.example:6671$|p4p.provider myisp http://localhost:6671|",
          "-e", "s|^#p4p.pidmap /etc/opentracker-p4p/pidmap.xml$|p4p.pidmap /etc/opentracker-p4p/pidmap.xml|", conf)
    assert "p4p.pidmap /etc/opentracker-p4p/pidmap.xml" in c.run("cat", conf).stdout
    pidmap = open(os.path.join(TOP, "deploy/example/pidmap.xml")).read()
    c.run("sh", "-c", "umask 027 && cat > /etc/opentracker-p4p/pidmap.xml && chgrp opentracker-p4p /etc/opentracker-p4p/pidmap.xml",
          stdin=pidmap)
    c.run("systemctl", "start", "p4p-itracker.service")
    c.run("systemctl", "restart", "opentracker-p4p.service")
    assert wait_for(lambda: p4p_stats(c).get("provider myisp state") == "in use"), (p4p_stats(c), c.journal())
    pids = int(p4p_stats(c)["pidmap pids"])  # the portal's 15 and the file's 4
    assert pids == 19, p4p_stats(c)
    # only a SIGHUP rereads the file (portal updates reuse it): a fifth PID in it
    # shows that the reload happened and that the sandboxed user could read it
    c.run("sh", "-c", "cat > /etc/opentracker-p4p/pidmap.xml", stdin=pidmap.replace(
        "</pidmap>", '  <pid name="pid-e" asid="64512" loc="example:pop-e">\n    <prefix>127.0.5.0/24</prefix>\n  </pid>\n</pidmap>'))
    c.run("systemctl", "reload", "opentracker-p4p.service")
    assert wait_for(lambda: p4p_stats(c).get("pidmap pids") == str(pids + 1)), (p4p_stats(c), c.journal())
    assert p4p_stats(c)["reloads failed"] == "0"
    assert c.run("systemctl", "is-active", "opentracker-p4p.service", check=False).stdout.strip() == "active"

    # the iTracker rereads its provider file on reload too, same process
    # (the version is on every document it serves)
    it_conf = "/etc/opentracker-p4p/p4p-itracker.conf"
    it_pid = main_pid(c, "p4p-itracker.service")
    assert 'version="example-1"' in curl(c, "http://127.0.0.1:6671/p4p/v1/pidmap")
    c.run("sed", "-i", "s/^version example-1$/version example-2/", it_conf)
    c.run("systemctl", "reload", "p4p-itracker.service")
    assert wait_for(lambda: 'version="example-2"' in curl(c, "http://127.0.0.1:6671/p4p/v1/pidmap")), c.journal()
    assert main_pid(c, "p4p-itracker.service") == it_pid


def test_units_stop_cleanly(container):
    c = container
    c.run("systemctl", "start", "p4p-itracker.service", "opentracker-p4p.service")
    c.run("systemctl", "stop", "p4p-itracker.service", "opentracker-p4p.service")
    for unit in ("p4p-itracker.service", "opentracker-p4p.service"):
        state = sorted(c.run("systemctl", "show", "-p", "ActiveState,Result", unit).stdout.split())
        assert state == ["ActiveState=inactive", "Result=success"], (unit, state, c.journal())
