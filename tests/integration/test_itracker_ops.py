"""The iTracker for its operator: /metrics scraped by the real Prometheus
parser (and the tracker's metrics of the same connection), --check."""
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from btclient import http_announce, http_get
from conftest import BUILD, TOP, free_port, p4p_stats, wait_for

ITRACKER = os.path.join(BUILD, "p4p-itracker")
EXAMPLE = os.path.join(TOP, "deploy", "example", "abilene-loopback.conf")
TOKEN = "b751559216bc30cc2f069749861be9cf"        # apptracker: allow all
LOOKUP = "d32e5fbe750886edccf9bd48c4e34198"       # lookup-only: allow info
MONITOR = "0f4e8a5c21d94b7ab6e3c90d1f2a7e55"      # added below: allow metrics


def provider_file(tmp_path, extra=""):
    path = tmp_path / "provider.conf"
    path.write_text(open(EXAMPLE).read() + f"\nclient monitor token {MONITOR} allow metrics\n" + extra)
    return str(path)


@pytest.fixture
def itracker(tmp_path):
    port = free_port()
    log = open(tmp_path / "itracker.log", "w")
    proc = subprocess.Popen([ITRACKER, "-f", provider_file(tmp_path), "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    assert wait_for(lambda: get(port, "/p4p/v1/pidmap", TOKEN)[0] == 200)
    yield port
    proc.terminate()
    proc.wait(5)
    log.close()


def get(port, path, token=None, data=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
    if data is not None:
        req.add_header("Content-Type", "application/p4p+xml")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except OSError:
        return None, None, b""


def metrics(port):
    status, headers, body = get(port, "/metrics", MONITOR)
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def v(m, name, **labels):
    return m.get((name, frozenset(labels.items())), 0)


def stats_doc(hashes):
    swarms = "".join(f'<swarm info-hash="{h}"><pid name="0.i.abilene" seeders="5" leechers="0"/>'
                     f'<pid name="11.i.abilene" seeders="0" leechers="20"/></swarm>' for h in hashes)
    return f'<stats xmlns="urn:opentracker-p4p:p4p:1">{swarms}</stats>'.encode()


def test_metrics_are_for_metrics_clients_only(itracker):
    assert get(itracker, "/metrics")[0] == 401
    assert get(itracker, "/metrics", "x" * 32)[0] == 401
    assert get(itracker, "/metrics", LOOKUP)[0] == 403
    assert get(itracker, "/metrics", TOKEN)[0] == 403  # "all" is every P4P interface, not the metrics page
    assert get(itracker, "/metrics", MONITOR)[0] == 200
    assert get(itracker, "/p4p/v1/pidmap", MONITOR)[0] == 403  # and a metrics client reads nothing else


def test_metrics_move_with_requests_and_solves(itracker):
    before = metrics(itracker)
    for _ in range(3):
        assert get(itracker, "/p4p/v1/pidmap", TOKEN)[0] == 200
    assert get(itracker, "/p4p/v1/pidmap")[0] == 401
    assert get(itracker, "/p4p/v1/costs", LOOKUP)[0] == 403
    assert get(itracker, "/p4p/v1/nothing", TOKEN)[0] == 404
    # ALTO (RFC 7285) behind the same credentials: counted as interface "alto"
    for _ in range(2):
        assert get(itracker, "/directory", TOKEN)[0] == 200
    assert get(itracker, "/directory")[0] == 401
    assert get(itracker, "/alto/networkmap", MONITOR)[0] == 403  # a metrics client reads no ALTO map
    assert get(itracker, "/alto/nothing", TOKEN)[0] == 404
    hashes = ["%040x" % (i + 1) for i in range(3)]
    status, _, _ = get(itracker, "/p4p/v1/guidance", TOKEN, stats_doc(hashes))
    assert status == 200
    after = metrics(itracker)

    def d(name, **labels):
        return v(after, name, **labels) - v(before, name, **labels)
    assert d("p4p_itracker_requests_total", interface="info", status="200") == 3
    assert d("p4p_itracker_requests_total", interface="info", status="401") == 1
    assert d("p4p_itracker_requests_total", interface="policy", status="403") == 1
    assert d("p4p_itracker_requests_total", interface="none", status="404") == 1
    assert d("p4p_itracker_requests_total", interface="alto", status="200") == 2
    assert d("p4p_itracker_requests_total", interface="alto", status="401") == 1
    assert d("p4p_itracker_requests_total", interface="alto", status="403") == 1
    assert d("p4p_itracker_requests_total", interface="alto", status="404") == 1
    assert d("p4p_itracker_requests_total", interface="guidance", status="200") == 1
    assert d("p4p_itracker_requests_total", interface="metrics", status="200") == 1  # the first scrape
    # the post brought 3 new swarms: a solve optimized them
    assert d("p4p_itracker_solves_total", result="ok") >= 1
    assert v(after, "p4p_itracker_swarms_optimized") == 3
    assert v(after, "p4p_itracker_swarms_tracked") == 3
    assert v(after, "p4p_itracker_mlu") > 0  # 20 leechers in Sunnyvale fed from Atlanta cross links
    assert d("p4p_itracker_solve_duration_seconds_count") == d("p4p_itracker_solves_total", result="ok") + \
        d("p4p_itracker_solves_total", result="failed")
    assert v(after, "p4p_itracker_solve_duration_seconds_bucket", le="+Inf") == v(after, "p4p_itracker_solve_duration_seconds_count")
    assert v(after, "p4p_itracker_info", provider="abilene", version="abilene-loopback-1") == 1


def test_tracker_metrics_of_a_portal_connection(start_tracker, itracker):
    t = start_tracker(["p4p.enable yes", "p4p.report_interval 1", f"p4p.provider abilene http://127.0.0.1:{itracker}",
                       f"p4p.provider.abilene.token {TOKEN}", "p4p.provider.abilene.refresh 2"])
    assert wait_for(lambda: p4p_stats(t)["provider abilene state"] == "in use", timeout=20)
    swarm = bytes.fromhex("5b" * 20)
    for host in range(10, 40):
        http_announce("127.0.0.1", t.port, swarm, f"127.1.0.{host}", 6881, numwant=0)
    # the report of this swarm comes back as per-swarm guidance
    assert wait_for(lambda: int(p4p_stats(t)["guidance swarms"]) >= 1, timeout=20)
    s = p4p_stats(t)
    assert s["guidance version"] == "abilene-loopback-1"  # was always "-" for portal data
    status, _, body = http_get("127.0.0.1", t.port, "/stats?mode=prometheus")
    m = {}
    for fam in text_string_to_metric_families(body.decode()):
        for smp in fam.samples:
            m[(smp.name, frozenset(smp.labels.items()))] = smp.value
    assert v(m, "opentracker_p4p_provider_state", provider="abilene", state="in_use") == 1
    assert v(m, "opentracker_p4p_provider_failing", provider="abilene") == 0
    assert v(m, "opentracker_p4p_provider_fetches_total", provider="abilene") >= 4
    assert ("opentracker_p4p_provider_data_age_seconds", frozenset({("provider", "abilene"), ("data", "guidance")})) in m
    assert v(m, "opentracker_p4p_provider_guidance_swarms", provider="abilene") >= 1
    assert v(m, "opentracker_p4p_pidmap_pids") == 15
    it = metrics(itracker)
    assert v(it, "p4p_itracker_requests_total", interface="guidance", status="200") >= 1
    assert v(it, "p4p_itracker_swarms_tracked") >= 1


# --- --check -----------------------------------------------------------------------------

def run_check(path):
    p = subprocess.run([ITRACKER, "--check", "-f", path], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_check_accepts_the_shipped_provider_files(tmp_path):
    for f in ("abilene.conf", "attmpls.conf"):
        code, out = run_check(os.path.join(TOP, "deploy", "providers", f))
        assert code == 0, out
        assert "OK: provider" in out
    code, out = run_check(provider_file(tmp_path))
    assert code == 0 and "4 clients" in out, out


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def test_check_refuses_bad_files_with_file_and_line(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    cert, key, other = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "other.pem"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(other))
    base = open(EXAMPLE).read()
    n = len(base.splitlines()) + 1
    cases = [
        (f"tls {cert} {key}\n", None),
        (f"tls {cert} {tmp_path}/missing.pem\n", "missing.pem: cannot open"),
        (f"tls {cert} {other}\n", "not a PEM certificate and its private key"),  # a key of another certificate
        (f"tls {key} {cert}\n", "not a PEM certificate and its private key"),
        ("max-connectionz 5\n", "unknown keyword"),
        ("client bad token abcdefabcdefabcdef allow metrics,flying\n", "allow list"),
    ]
    for extra, words in cases:
        path = tmp_path / "p.conf"
        path.write_text(base + extra)
        code, out = run_check(str(path))
        if words is None:
            assert code == 0 and "https" in out, out
        else:
            assert code == 1 and f"{path}:{n}: " in out and words in out, (extra, out)
