"""`make run` as a new operator uses it (issue 11): it says "connected" only
when it is, a second run refuses instead of splitting swarms (the tracker
binds with SO_REUSEPORT), SIGTERM to make stops every process it started,
and the example's made-up provider servers are not handed to clients."""
import os
import signal
import subprocess
import time

from btclient import http_announce
from conftest import BUILD, TOP, free_port, wait_for

SWARM = bytes.fromhex("6c" * 20)


def session_processes(sid):
    out = subprocess.run(["ps", "-e", "-o", "sid=,pid=,args="], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.split()[0] == str(sid)]


def stats(port):
    from btclient import http_get
    try:
        status, _, body = http_get("127.0.0.1", port, "/stats?mode=p4p", timeout=2)
    except OSError:
        return {}
    return dict(l.split(": ", 1) for l in body.decode().splitlines() if ": " in l)


def test_make_run_refuses_a_second_run_and_stops_everything_on_sigterm(tmp_path):
    port, iport = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(P4P_RUN_PORT=str(port), P4P_RUN_ITRACKER_PORT=str(iport))
    args = ["make", "--no-print-directory", "-C", TOP, "run"]
    if os.path.abspath(BUILD).endswith(os.path.join("build", "san")):
        args.append("SAN=1")
    log = open(tmp_path / "run.log", "w+")
    make = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def output():
            log.flush()
            log.seek(0)
            return log.read()
        assert wait_for(lambda: "Ctrl-C stops both" in output(), timeout=120), output()
        assert "opentracker-p4p, connected to the bundled iTracker" in output()
        assert stats(port)["provider abilene state"] == "in use"

        # a second run on the same ports refuses and starts nothing
        second = subprocess.run([os.path.join(TOP, "deploy", "run-example.sh"), BUILD], env=env, capture_output=True, text=True,
                                timeout=30, start_new_session=True)
        assert second.returncode == 1 and "already runs" in second.stderr, second.stderr
        # ... and so does one while anything else holds the port
        env2 = dict(env, P4P_RUN_PORT=str(iport))  # the iTracker's port, as if a tracker were wanted there
        third = subprocess.run([os.path.join(TOP, "deploy", "run-example.sh"), BUILD], env=env2, capture_output=True, text=True, timeout=30)
        assert third.returncode == 1 and "already listens" in third.stderr, third.stderr

        # the made-up servers of the example are off: Atlanta's 127.1.255.10 never appears
        assert wait_for(lambda: stats(port).get("provider abilene capability age seconds", "-1") != "-1", timeout=20)
        for host in range(10, 30):
            http_announce("127.0.0.1", port, SWARM, f"127.1.0.{host}", 6881, numwant=0)
        for _ in range(10):
            _, peers = http_announce("127.0.0.1", port, SWARM, "127.1.0.200", 6881, numwant=10)
            assert len(peers) == 10 and not any(a.startswith("127.1.255.") for a, _ in peers), peers
        assert int(stats(port)["peers provider servers"]) == 0

        assert len(session_processes(make.pid)) >= 4  # make, the script, both daemons
        os.kill(make.pid, signal.SIGTERM)  # make forwards it to the script
        make.wait(timeout=20)
        assert wait_for(lambda: not session_processes(make.pid), timeout=10), session_processes(make.pid)
        assert stats(port) == {}
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
        for l in session_processes(make.pid):
            os.kill(int(l.split()[1]), signal.SIGKILL)
        log.close()
