"""An operator's view of the tracker (issue 11, issue 15.7): the README's
config as written, --check, startup refusals with file:line, the
Prometheus and dump views, and what portal failures put into /stats and
the log."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from btclient import http_announce, http_get
from conftest import BUILD, TOP, free_port, p4p_stats, readable_dir, run_tracker_expecting_failure, wait_for

EXAMPLE = os.path.join(TOP, "deploy", "example")
TRACKER = os.path.join(BUILD, "opentracker-p4p")
SWARM = bytes.fromhex("77" * 20)
GUIDED_SWARM = bytes.fromhex("0123456789abcdef0123456789abcdef01234567")  # has its own matrix in guidance.xml


def local_files(workdir):
    for name in ("pidmap.xml", "guidance.xml"):
        shutil.copy(os.path.join(EXAMPLE, name), workdir)
        os.chmod(os.path.join(workdir, name), 0o644)
    return ["p4p.enable yes", f"p4p.pidmap {workdir}/pidmap.xml", f"p4p.guidance {workdir}/guidance.xml"]


def check(config_text, workdir, name="check.conf"):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(config_text)
    os.chmod(path, 0o644)
    p = subprocess.run([TRACKER, "--check", "-f", path], capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout + p.stderr, path


def line_of(text, needle):
    return next(i for i, l in enumerate(text.splitlines(), 1) if needle in l)


def scrape(tracker, mode="prometheus"):
    status, head, body = http_get("127.0.0.1", tracker.port, f"/stats?mode={mode}")
    assert status == 200, body
    return body.decode()


def samples(text):
    """{(name, frozenset(labels)): value}, through the real Prometheus parser."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m, name, **labels):
    return m[(name, frozenset(labels.items()))]


# --- the README's block, as written ----------------------------------------

def readme_block():
    text = open(os.path.join(TOP, "README.md")).read()
    section = text[text.index("## Configuring the tracker"):]
    return section.split("```\n", 2)[1]


def test_readme_config_block_works_as_written(start_tracker, workdir):
    block = readme_block()
    assert "# share of each answer" in block  # it has trailing comments
    local_files(workdir)
    code, out, _ = check(block, workdir)
    assert code == 0, out
    assert "configuration OK" in out and "4 PIDs" in out
    t = start_tracker(block.splitlines())
    s = p4p_stats(t)
    assert s["p4p enabled"] == "yes" and s["pidmap pids"] == "4" and s["random fraction"] == "0.200"
    assert s["provider abilene url"] == "https://itracker.example:6671"


# --- --check ------------------------------------------------------------------

def test_check_accepts_a_good_config_and_binds_nothing(workdir):
    # the port is held by a socket without SO_REUSEPORT: a real start could
    # not bind it, a check does not try
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    try:
        lines = [f"listen.tcp_udp 127.0.0.1:{port}"] + local_files(workdir)
        code, out, _ = check("\n".join(lines) + "\n", workdir)
        assert code == 0, out
        assert "configuration OK: p4p enabled; PID map" in out and "a default matrix, 1 swarm matrices" in out
    finally:
        held.close()


@pytest.mark.parametrize("bad,needle,words", [
    ("p4p.pidmap {w}/missing.xml", "p4p.pidmap", "cannot read it as"),
    ("p4p.provider a https://127.0.0.1:1\np4p.provider.a.ca_file /nonexistent.pem", "ca_file", "/nonexistent.pem: cannot open"),
    ("p4p.provider y http://127.0.0.1:1 legacy\np4p.provider.y.interfaces pidmap,guidance", "interfaces", "legacy"),
    ("p4p.provider y http://127.0.0.1:1 legacy junk", "legacy junk", "nothing after"),
    ("p4p.provider z http://", "http://", "no host"),
    ("p4p.random_fraction 0x1p-1", "0x1p-1", "from 0 to 1"),
    ("listen.tcp_udpp 127.0.0.1:1", "tcp_udpp", "unknown key"),
])
def test_check_refuses_with_file_and_line(workdir, bad, needle, words):
    text = "listen.tcp_udp 127.0.0.1:1\np4p.enable yes\n" + bad.format(w=workdir) + "\n"
    if "pidmap" not in bad:
        text += "p4p.pidmap %s/pidmap.xml\n" % workdir
        local_files(workdir)
    code, out, path = check(text, workdir)
    assert code == 1, out
    assert f"{path}:{line_of(text, needle)}: " in out and words in out, out


def test_check_reads_the_data_files(workdir):
    local_files(workdir)
    g = os.path.join(workdir, "guidance.xml")
    text = open(g).read()
    open(g, "w").write(text.replace('pid-d', 'pid-z'))  # well-formed, but pid-z is in no PID map
    code, out, _ = check("p4p.enable yes\np4p.pidmap pidmap.xml\np4p.guidance guidance.xml\n", workdir)
    assert code == 1 and "pid-z" in out and "not in the PID map" in out, out


# --- startup refusals ----------------------------------------------------------

def test_missing_pidmap_at_startup_names_the_key_line(workdir):
    code, out, config = run_tracker_expecting_failure("opentracker-p4p", ["p4p.enable yes", f"p4p.pidmap {workdir}/nope.xml"], workdir)
    assert code not in (0, None)
    assert f"{config}:3: p4p.pidmap {workdir}/nope.xml: cannot read it as" in out, out
    assert "reload failed" not in out


def test_broken_data_file_at_startup_is_not_called_a_reload(workdir):
    lines = local_files(workdir)
    with open(os.path.join(workdir, "pidmap.xml"), "a") as f:
        f.write("<junk/>")
    code, out, _ = run_tracker_expecting_failure("opentracker-p4p", lines, workdir)
    assert code not in (0, None)
    assert "p4p: cannot start: " in out and "pidmap.xml:" in out and "reload failed" not in out, out


@pytest.mark.parametrize("lines,needle", [
    (["p4p.provider a https://127.0.0.1:1", "p4p.provider.a.ca_file /nonexistent.pem"], "ca_file"),
    (["p4p.provider y http://127.0.0.1:1 legacy", "p4p.provider.y.interfaces guidance"], "interfaces"),
])
def test_bad_provider_options_refuse_to_start(workdir, lines, needle):
    code, out, config = run_tracker_expecting_failure("opentracker-p4p", ["p4p.enable yes"] + lines, workdir)
    assert code not in (0, None)
    n = 2 + next(i for i, l in enumerate(lines, 1) if needle in l)
    assert f"{config}:{n}: " in out, out


# --- Prometheus and dump -----------------------------------------------------------

def test_prometheus_counters_move_with_announces(start_tracker, workdir):
    t = start_tracker(local_files(workdir))
    before = samples(scrape(t))
    assert value(before, "opentracker_p4p_enabled") == 1 and value(before, "opentracker_p4p_pidmap_pids") == 4
    # 10 peers in each of pid-a..d, then 20 announces from pid-a asking for 20
    for pid in (1, 2, 3, 4):
        for host in range(10, 20):
            http_announce("127.0.0.1", t.port, SWARM, f"127.0.{pid}.{host}", 6881, numwant=0)
    http_announce("127.0.0.1", t.port, SWARM, "127.0.9.9", 6881, numwant=0)  # in no PID
    for _ in range(20):
        _, peers = http_announce("127.0.0.1", t.port, SWARM, "127.0.1.200", 6881, numwant=20)
        assert len(peers) == 20
    after = samples(scrape(t))

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)
    assert delta("opentracker_p4p_announces_total", pid="yes") == 40 + 20
    assert delta("opentracker_p4p_announces_total", pid="no") == 1
    assert delta("opentracker_p4p_selections_total", kind="default") == 20
    assert delta("opentracker_p4p_selections_total", kind="guided") == 0
    returned = sum(delta("opentracker_p4p_peers_returned_total", pick=k)
                   for k in ("same_pid", "other_pid", "outside_provider", "random", "provider_server"))
    located = sum(delta("opentracker_p4p_peers_locality_total", locality=k) for k in ("same_pid", "same_provider", "other"))
    assert returned == located == 20 * 20
    # pid-a's default row gives itself 0.7 of the 16 guided picks, 11.2,
    # more than its 10 other peers: every answer holds all 10 of them (the
    # rest is spread elsewhere); the one peer in no PID is the only "other"
    assert delta("opentracker_p4p_peers_locality_total", locality="same_pid") == 20 * 10
    assert delta("opentracker_p4p_peers_locality_total", locality="other") <= 20
    assert value(after, "opentracker_p4p_guidance_default_matrix") == 1


def test_dump_shows_the_loaded_map_matrices_and_per_pid_counters(start_tracker, workdir):
    t = start_tracker(local_files(workdir))
    for host in range(10, 15):
        http_announce("127.0.0.1", t.port, SWARM, f"127.0.2.{host}", 6881, numwant=0)
    for _ in range(3):
        http_announce("127.0.0.1", t.port, SWARM, "127.0.2.100", 6881, numwant=3)
    d = scrape(t, "p4p_dump").splitlines()
    assert "pidmap version: example-1" in d and "pidmap pids: 4" in d
    assert "prefix 127.0.1.0/24 pid pid-a" in d and "prefix ::1/128 pid pid-a" in d
    assert "prefix 127.0.4.0/24 pid pid-d" in d
    pid_b = next(l for l in d if l.startswith("pid 2 pid-b "))
    # 5 + 3 announces from pid-b; the 3 with numwant 3 < 5 others were answered by P4P
    assert re.search(r" announces 8 answers 3 peers 9 peers_same_pid \d+$", pid_b), pid_b
    assert "matrix default (guidance version example-1)" in d
    assert any(l.startswith("row pid-a: pid-a=0.7 ") for l in d), d
    assert "matrix swarm " + GUIDED_SWARM.hex() in d
    assert d[-1] == "end"


# --- a failing portal: one log line, nothing forged, no credentials ---------------------------

PIDMAP_XML = open(os.path.join(EXAMPLE, "pidmap.xml"), "rb").read()
FORGED = "provider x state: in use"


class Portal(ThreadingHTTPServer):
    daemon_threads = True
    mode = "error"
    hits = 0


class PortalHandler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        self.server.hits += 1
        if self.server.mode == "ok":
            body, status = PIDMAP_XML, 200
        else:
            body = ('<error xmlns="urn:opentracker-p4p:p4p:1" status="500">db down&#10;%s&#13;&#10;x</error>' % FORGED).encode()
            status = 500
        self.send_response(status)
        self.send_header("Content-Type", "application/p4p+xml")
        self.send_header("Cache-Control", "max-age=300")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def portal():
    srv = Portal(("127.0.0.1", 0), PortalHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_failing_portal_logs_once_forges_nothing_and_hides_credentials(start_tracker, portal):
    url = f"http://operator:s3cret@127.0.0.1:{portal.server_address[1]}"
    t = start_tracker(["p4p.enable yes", f"p4p.provider x {url}", "p4p.provider.x.interfaces pidmap",
                       "p4p.provider.x.backoff_max 1", "p4p.provider.x.refresh 1"])
    # retries every ~0.5-1.5 s: wait for a burst of failures
    assert wait_for(lambda: int(p4p_stats(t)["provider x failures"]) >= 5, timeout=20)
    status, _, body = http_get("127.0.0.1", t.port, "/stats?mode=p4p")
    text = body.decode()
    assert FORGED not in text.splitlines(), text  # no line of its own
    assert "db down?" + FORGED + "??x" in p4p_stats(t)["provider x last error"]
    log = t.output()
    assert len(re.findall(r"^p4p: provider x: pidmap failing: ", log, re.M)) == 1, log
    # healthy again: one more line, and the data is used
    portal.mode = "ok"
    assert wait_for(lambda: p4p_stats(t)["provider x state"] == "in use", timeout=20)
    assert wait_for(lambda: re.search(r"^p4p: provider x: pidmap ok again after \d+ failed fetches", t.output(), re.M), timeout=5)
    log = t.output()
    assert len(re.findall(r"^p4p: provider x: pidmap ", log, re.M)) == 2, log
    for view in ("p4p", "prometheus", "p4p_dump"):
        assert "s3cret" not in scrape(t, view)
    assert "s3cret" not in log
    assert p4p_stats(t)["provider x url"] == f"http://***@127.0.0.1:{portal.server_address[1]}"


def test_refresh_caps_a_longer_max_age(start_tracker, portal):
    """TRACKER.md: refresh is the longest wait between fetches; the
    portal's max-age=300 does not stretch refresh 1 (the same answer each
    time renews the data's age)."""
    portal.mode = "ok"
    t = start_tracker(["p4p.enable yes", f"p4p.provider x http://127.0.0.1:{portal.server_address[1]}",
                       "p4p.provider.x.interfaces pidmap", "p4p.provider.x.refresh 1"])
    assert wait_for(lambda: portal.hits >= 1, timeout=10)
    first = portal.hits
    time.sleep(3.5)
    assert portal.hits - first >= 3, portal.hits
    assert p4p_stats(t)["provider x state"] == "in use"


@pytest.mark.skipif(os.geteuid() != 0, reason="the drop to nobody happens only when started as root")
def test_files_are_read_as_nobody_after_the_drop(workdir):
    """Started as root, upstream drops to nobody before the module reads its
    files: a PID map only root may read is refused, naming the user."""
    lines = local_files(workdir)
    os.chmod(os.path.join(workdir, "pidmap.xml"), 0o600)
    code, out, config = run_tracker_expecting_failure("opentracker-p4p", lines, workdir)
    assert code not in (0, None)
    assert f"{config}:3: p4p.pidmap {workdir}/pidmap.xml: cannot read it as nobody: Permission denied" in out, out
    code, out, _ = check("\n".join(lines) + "\n", workdir)  # --check drops the same way
    assert code == 1 and "cannot read it as nobody" in out, out


# --- libcurl only where a provider needs it (issue 14.4, idle memory) ----------

def mapped_libraries(tracker):
    with open("/proc/%d/maps" % tracker.proc.pid) as f:
        return {os.path.basename(line.split()[-1]) for line in f if ".so" in line}


def test_libcurl_is_loaded_only_when_a_provider_is_configured(start_tracker, workdir):
    # stock selection and local files: no libcurl, nor its TLS stack
    t = start_tracker(local_files(workdir))
    libs = mapped_libraries(t)
    assert not any(l.startswith("libcurl") for l in libs), sorted(libs)
    assert not any(l.startswith(("libssl", "libgnutls", "libldap")) for l in libs), sorted(libs)
    assert p4p_stats(t)["pidmap version"]  # P4P still works from the files
    # a provider line loads it (at config time, before the privilege drop),
    # and the portal client runs on it: a refused connection is reported
    port = free_port()
    t2 = start_tracker(["p4p.enable yes", f"p4p.provider x http://127.0.0.1:{port}", "p4p.provider.x.interfaces pidmap"])
    assert any(l.startswith("libcurl") for l in mapped_libraries(t2))
    assert wait_for(lambda: p4p_stats(t2).get("provider x fetches", "0") != "0", timeout=15)
