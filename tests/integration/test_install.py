"""`make install` as an operator runs it, and the installed files at work.

The tree is installed into a DESTDIR (PREFIX=/usr), and the daemons are
started from there with the installed configs, edited only as docs/INSTALL.md
tells an operator to: the iTracker's client line given a token, the
tracker's P4P lines switched on and pointed at that iTracker, both moved to
free loopback ports.  The units cannot be started here (PID 1 is not
systemd), so systemd-analyze checks them against an install whose paths
exist; groff checks the man pages."""
import os
import pwd
import re
import secrets
import shutil
import subprocess

import pytest

from btclient import http_announce, http_get, http_scrape
from conftest import BUILD, TOP, free_port, p4p_stats, readable_dir, wait_for

INSTALLED = {  # path under the root: mode
    "usr/sbin/opentracker-p4p": 0o755,
    "usr/sbin/p4p-itracker": 0o755,
    "usr/share/man/man8/opentracker-p4p.8": 0o644,
    "usr/share/man/man8/p4p-itracker.8": 0o644,
    "usr/share/man/man5/opentracker-p4p.conf.5": 0o644,
    "usr/share/man/man5/p4p-itracker.conf.5": 0o644,
    "etc/opentracker-p4p/opentracker-p4p.conf": 0o640,
    "etc/opentracker-p4p/p4p-itracker.conf": 0o640,
    "usr/lib/systemd/system/opentracker-p4p.service": 0o644,
    "usr/lib/systemd/system/p4p-itracker.service": 0o644,
    "usr/lib/sysusers.d/opentracker-p4p.conf": 0o644,
    "usr/share/opentracker-p4p/providers/abilene.conf": 0o644,
    "usr/share/opentracker-p4p/providers/attmpls.conf": 0o644,
    "usr/share/opentracker-p4p/providers/sprint.conf": 0o644,
}
MAN_PAGES = [p for p in INSTALLED if "/man/" in p]
UNITS = ["opentracker-p4p.service", "p4p-itracker.service"]
USER = "opentracker-p4p"


def make_install(*args):
    """Runs `make install ARGS` in the tree, on the binaries of BUILD_DIR."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    san = ["SAN=1"] if os.path.basename(os.path.normpath(BUILD)) == "san" else []
    p = subprocess.run(["make", "-C", TOP, "--no-print-directory", "-s", "install", *san, *args],
                       env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


@pytest.fixture(scope="module")
def staged():
    root = readable_dir()
    make_install(f"DESTDIR={root}", "PREFIX=/usr")
    yield root
    shutil.rmtree(root)


def installed_files(root):
    return {os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files}


def edit(text, old, new):
    """text with the line `old` replaced; the shipped file must have it."""
    lines = text.splitlines()
    assert old in lines, f"the shipped config has no line {old!r}"
    return "\n".join(new if line == old else line for line in lines) + "\n"


def test_install_puts_each_file_in_its_place_with_its_mode(staged):
    assert installed_files(staged) == set(INSTALLED)
    for path, mode in INSTALLED.items():
        assert os.stat(os.path.join(staged, path)).st_mode & 0o7777 == mode, path
    for name in ("opentracker-p4p", "p4p-itracker"):
        with open(os.path.join(staged, "usr/sbin", name), "rb") as a, open(os.path.join(BUILD, name), "rb") as b:
            assert a.read() == b.read(), f"{name} is not the binary of {BUILD}"
    unit = open(os.path.join(staged, "usr/lib/systemd/system/opentracker-p4p.service")).read()
    assert "ExecStart=/usr/sbin/opentracker-p4p -f /etc/opentracker-p4p/opentracker-p4p.conf" in unit
    page = open(os.path.join(staged, "usr/share/man/man8/p4p-itracker.8")).read()
    assert "@" not in page and "/etc/opentracker-p4p/p4p-itracker.conf" in page


def test_reinstall_keeps_the_operators_config(workdir):
    make_install(f"DESTDIR={workdir}", "PREFIX=/usr")
    conf = os.path.join(workdir, "etc/opentracker-p4p/opentracker-p4p.conf")
    with open(conf, "a") as f:
        f.write("tracker.redirect_url https://tracker.example/\n")
    mine = open(conf).read()
    out = make_install(f"DESTDIR={workdir}", "PREFIX=/usr")
    assert open(conf).read() == mine
    assert "KEEP" in out and open(conf + ".dist").read() == open(os.path.join(TOP, "deploy/etc/opentracker-p4p.conf")).read()
    # an unchanged config is left alone, with no .dist beside it
    assert not os.path.exists(os.path.join(workdir, "etc/opentracker-p4p/p4p-itracker.conf.dist"))
    shutil.rmtree(workdir)


@pytest.fixture
def installed_itracker(staged, workdir):
    """The installed iTracker on its installed provider file, given one client token."""
    token = secrets.token_hex(16)
    text = open(os.path.join(staged, "etc/opentracker-p4p/p4p-itracker.conf")).read()
    text = edit(text, "#client apptracker token PUT-A-FRESH-TOKEN-HERE allow all",
                f"client apptracker token {token} allow all")
    conf = os.path.join(workdir, "p4p-itracker.conf")
    with open(conf, "w") as f:
        f.write(text)
    port = free_port()
    log = open(os.path.join(workdir, "itracker.log"), "w+")
    proc = subprocess.Popen([os.path.join(staged, "usr/sbin/p4p-itracker"), "-f", conf, "-l", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        def up():
            log.seek(0)
            return f"listening on http://127.0.0.1:{port}/p4p/v1/" in log.read() or proc.poll() is not None
        assert wait_for(up) and proc.poll() is None, open(log.name).read()
        yield port, token
    finally:
        proc.terminate()
        proc.wait(5)
        log.close()


def tracker_config(staged, itracker_port, token):
    """The installed tracker config with P4P switched on as an operator would,
    without its listen line (the test's Tracker binds loopback ports)."""
    text = open(os.path.join(staged, "etc/opentracker-p4p/opentracker-p4p.conf")).read()
    text = edit(text, "listen.tcp_udp [::]:6969", "")
    text = edit(text, "p4p.enable no", "p4p.enable yes")
    text = edit(text, "#p4p.provider myisp https://itracker.myisp.example:6671",
                f"p4p.provider myisp http://127.0.0.1:{itracker_port}")
    text = edit(text, "#p4p.provider.myisp.token TOKEN-FROM-THE-PROVIDER", f"p4p.provider.myisp.token {token}")
    try:
        pwd.getpwnam(USER)
    except KeyError:  # the package makes the user; a bare `make install` does not
        text = edit(text, f"tracker.user {USER}", "tracker.user nobody")
    return text.splitlines()


def test_installed_tracker_and_itracker_answer(staged, installed_itracker, start_tracker):
    port, token = installed_itracker
    t = start_tracker(tracker_config(staged, port, token), binary=os.path.join(staged, "usr/sbin/opentracker-p4p"))
    # the tracker takes the installed iTracker's PID map: the Abilene example, 15 PIDs
    assert wait_for(lambda: p4p_stats(t).get("provider myisp state") == "in use"), p4p_stats(t)
    assert p4p_stats(t)["pidmap pids"] == "15"
    swarm = bytes.fromhex("c3" * 20)
    http_announce("127.0.0.1", t.port, swarm, "127.3.0.1", 6881, numwant=0)
    reply, peers = http_announce("127.0.0.1", t.port, swarm, "127.3.0.2", 6881)
    # (stock selection for addresses in no PID; like upstream it may list the requester too)
    assert ("127.3.0.1", 6881) in peers and set(peers) <= {("127.3.0.1", 6881), ("127.3.0.2", 6881)}
    assert reply[b"interval"] > 0
    files = http_scrape("127.0.0.1", t.port, [swarm])[b"files"]
    assert files[swarm][b"incomplete"] == 2
    assert int(p4p_stats(t)["announces without pid"]) >= 2


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops privileges")
def test_installed_tracker_started_as_root_drops_to_its_user_and_groups(staged, workdir):
    """Started by hand as root, with root's groups, the installed tracker ends
    up with tracker.user's uid, gid and supplementary groups only."""
    lines = tracker_config(staged, free_port(), "unused")
    lines = [l for l in lines if not l.startswith("p4p.")]
    user = next(l.split()[1] for l in lines if l.startswith("tracker.user "))
    port = free_port()
    conf = os.path.join(workdir, "root.conf")
    with open(conf, "w") as f:
        f.write(f"listen.tcp_udp 127.0.0.1:{port}\n" + "\n".join(lines) + "\n")
    proc = subprocess.Popen([os.path.join(staged, "usr/sbin/opentracker-p4p"), "-f", conf], extra_groups=[0],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def status():
            s = dict(l.split(":", 1) for l in open(f"/proc/{proc.pid}/status").read().splitlines())
            return s if s["Uid"].split()[0] != "0" else None
        s = wait_for(status)
        assert s, "still root"
        pw = pwd.getpwnam(user)
        assert s["Uid"].split() == [str(pw.pw_uid)] * 4 and s["Gid"].split() == [str(pw.pw_gid)] * 4
        assert set(s["Groups"].split()) == {str(g) for g in os.getgrouplist(user, pw.pw_gid)}
        assert "0" not in s["Groups"].split()
        assert http_get("127.0.0.1", port, "/stats")[0] == 200
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture(scope="module")
def prefixed():
    """An install whose paths exist on this machine (no DESTDIR), for tools
    that follow the units' paths."""
    root = readable_dir()
    make_install(f"PREFIX={root}/usr", f"SYSCONFDIR={root}/etc", "INSTALL_USER=no")
    yield root
    shutil.rmtree(root)


def test_units_pass_systemd_analyze_verify(prefixed):
    units = [os.path.join(prefixed, "usr/lib/systemd/system", u) for u in UNITS]
    # verify checks the directives, the executables and the man pages named by Documentation=
    env = dict(os.environ, MANPATH=os.path.join(prefixed, "usr/share/man") + ":")
    p = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(), p.stdout + p.stderr
    for unit in units:
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20", unit],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        level = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout).group(1))
        assert level <= 2.0, p.stdout  # systemd's scale: 0 (locked down) .. 10 (none), "OK" below 4.5
        text = open(unit).read()
        for setting in ("User=opentracker-p4p", "CapabilityBoundingSet=\n", "NoNewPrivileges=yes",
                        "ProtectSystem=strict", "PrivateTmp=yes"):
            assert setting in text, (unit, setting)
    for unit in units:  # both reload their files on SIGHUP
        assert "ExecReload=/bin/kill -HUP $MAINPID" in open(unit).read(), unit


def test_sysusers_entry_makes_a_locked_system_user(prefixed):
    root = readable_dir()
    os.makedirs(os.path.join(root, "etc"))
    conf = os.path.join(prefixed, "usr/lib/sysusers.d/opentracker-p4p.conf")
    p = subprocess.run(["systemd-sysusers", f"--root={root}", conf], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    entry = next(l for l in open(os.path.join(root, "etc/passwd")) if l.startswith(USER + ":")).strip().split(":")
    assert int(entry[2]) < 1000 and entry[5] == "/nonexistent" and entry[6].endswith("nologin")
    shutil.rmtree(root)


def test_man_pages_render_without_warnings(staged):
    for page in MAN_PAGES:
        p = subprocess.run(["groff", "-man", "-t", "-ww", "-z", os.path.join(staged, page)],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and not p.stderr, (page, p.stderr)


def rendered(staged, page):
    # one long line per paragraph: no key is hyphenated or wrapped
    p = subprocess.run(["groff", "-man", "-t", "-Tascii", "-P-cbou", "-rLL=1000n", os.path.join(staged, page)],
                       capture_output=True, text=True, timeout=60)
    return p.stdout


def test_tracker_man_page_names_every_p4p_key(staged, workdir):
    """The keys the installed tracker itself lists when it meets an unknown one."""
    page = rendered(staged, "usr/share/man/man5/opentracker-p4p.conf.5")
    binary = os.path.join(staged, "usr/sbin/opentracker-p4p")
    known = []
    for lines in (["p4p.no_such_key 1"], ["p4p.provider x http://127.0.0.1:1", "p4p.provider.x.no_such_option 1"]):
        conf = os.path.join(workdir, "unknown.conf")
        with open(conf, "w") as f:
            f.write(f"listen.tcp_udp 127.0.0.1:{free_port()}\n" + "\n".join(lines) + "\n")
        p = subprocess.run([binary, "-f", conf], capture_output=True, text=True, timeout=10)
        assert p.returncode == 1, p.stderr
        known += re.search(r"\(known: ([^)]*)\)", p.stderr).group(1).split(", ")
    assert len(known) > 15
    for key in known:
        key = key.replace("p4p.provider.NAME.*", "p4p.provider.name.")
        if not key.startswith("p4p."):
            key = "p4p.provider.name." + key
        assert key in page, key


def test_itracker_man_page_example_runs(staged, workdir):
    src = open(os.path.join(staged, "usr/share/man/man5/p4p-itracker.conf.5")).read()
    example = re.search(r"\.SH EXAMPLE\n\.nf\n(.*?)\n\.fi", src, re.S).group(1)
    conf = os.path.join(workdir, "example.conf")
    with open(conf, "w") as f:
        f.write(example + "\n")
    port = free_port()
    proc = subprocess.Popen([os.path.join(staged, "usr/sbin/p4p-itracker"), "-f", conf, "-l", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert f"2 PoPs, 2 PIDs) listening on http://127.0.0.1:{port}/p4p/v1/" in line, line
    finally:
        proc.terminate()
        proc.wait(5)
