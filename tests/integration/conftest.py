"""Starting and stopping the real binaries for the integration tests."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

BUILD = os.environ.get("BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(100):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def readable_dir():
    """A scratch directory the tracker can still read after it drops root
    privileges to 'nobody' (pytest's own tmp dirs are private)."""
    d = tempfile.mkdtemp(prefix="otp4p-")
    os.chmod(d, 0o755)
    return d


class Tracker:
    def __init__(self, binary, config_lines, workdir):
        self.port = free_port()
        self.config = os.path.join(workdir, "opentracker.conf")
        with open(self.config, "w") as f:
            f.write(f"listen.tcp_udp 127.0.0.1:{self.port}\n")
            f.write(f"listen.tcp_udp [::1]:{self.port}\n")
            for line in config_lines:
                f.write(line + "\n")
        os.chmod(self.config, 0o644)
        self.log = open(os.path.join(workdir, "tracker.log"), "w+")
        self.proc = subprocess.Popen([binary, "-f", self.config], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tracker exited: " + self.output())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("tracker did not start listening: " + self.output())

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def sighup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def workdir():
    return readable_dir()


@pytest.fixture
def start_tracker(workdir):
    started = []

    def start(config_lines=(), binary="opentracker-p4p"):
        t = Tracker(os.path.join(BUILD, binary), list(config_lines), workdir)
        started.append(t)
        return t
    yield start
    for t in started:
        t.stop()


def p4p_stats(tracker):
    """/stats?mode=p4p as a dict ("key: value" lines)."""
    from btclient import http_get
    status, _, body = http_get("127.0.0.1", tracker.port, "/stats?mode=p4p")
    assert status == 200
    return dict(line.split(": ", 1) for line in body.decode().splitlines() if ": " in line)


def wait_for(predicate, timeout=10, step=0.05):
    """predicate()'s first true value within timeout seconds, else None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def run_tracker_expecting_failure(binary, config_lines, workdir, timeout=10):
    """Runs a tracker whose configuration is broken; returns (exit code, output)."""
    config = os.path.join(workdir, "broken.conf")
    with open(config, "w") as f:
        f.write(f"listen.tcp_udp 127.0.0.1:{free_port()}\n")
        for line in config_lines:
            f.write(line + "\n")
    try:
        p = subprocess.run([os.path.join(BUILD, binary), "-f", config], capture_output=True, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return None, "still running after %ss" % timeout
    return p.returncode, p.stdout + p.stderr, config
