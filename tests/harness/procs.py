"""Starting, watching and stopping the real binaries: the tracker (stock or
fork) and p4p-itracker, on loopback, for tests/integration, bench/tests and
the benchmark scripts.  BUILD_DIR (environment) names the directory with
the binaries, build/ by default.

The fork drops root privileges to 'nobody' before it reads its P4P files
(and, as root, chroots into -d), so whatever it reads must be readable by
anybody: use readable_dir() for scratch directories, and pass no -d when
the configuration names files."""
import http.client
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from btclient import http_get
from p4pxml import CT

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("BUILD_DIR") or os.path.join(TOP, "build")
LOOPBACK = ("127.0.0.1", "[::1]")


def build_path(name):
    """A binary's path: names without a slash are in BUILD."""
    return name if os.sep in name else os.path.join(BUILD, name)


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                u.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def readable_dir():
    """A scratch directory the tracker can still read after it drops root
    privileges to 'nobody' (pytest's own tmp dirs are private)."""
    d = tempfile.mkdtemp(prefix="otp4p-")
    os.chmod(d, 0o755)
    return d


def wait_for(predicate, timeout=10, step=0.05):
    """predicate()'s first true value within timeout seconds, else None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def write_config(path, port, listen, lines):
    """A tracker config: a listen.tcp_udp line per address, then `lines`;
    readable by anybody."""
    with open(path, "w") as f:
        for addr in listen:
            f.write("listen.tcp_udp %s:%d\n" % (addr, port))
        for line in lines:
            f.write(line + "\n")
    os.chmod(path, 0o644)
    return path


def _stop(proc, timeout):
    """SIGTERM, then SIGKILL after timeout seconds; the exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Tracker:
    """One tracker process.  The constructor returns once it answers HTTP
    (so every socket is bound), or stops it and raises RuntimeError with
    its output.

    config_lines  go into workdir/tracker-PORT.conf (-f), after the listen
                  lines; no config file when there is nothing to write
    workdir       log and config go there (created readable; default: a
                  fresh readable_dir())
    port          fixed port (default: a free one)
    listen        addresses to listen on (TCP and UDP, same port)
    listen_by     "config": listen.tcp_udp lines (the integration tests);
                  "argv": -i ADDR -p PORT -P PORT per address, or just
                  -p PORT -P PORT (every address) when listen is empty
    args          more arguments after the binary's own (e.g. -d DIR)
    prefix        commands the binary runs under (taskset, setpriv, nice)
    own_session   start it in a session of its own (not hit by ^C)"""

    def __init__(self, binary, config_lines=(), workdir=None, *, port=None, listen=LOOPBACK,
                 listen_by="config", args=(), prefix=(), own_session=False, timeout=10):
        self.binary = build_path(binary)
        self.port = port or free_port()
        self.host = listen[0].strip("[]") if listen else "127.0.0.1"
        if workdir is None:
            workdir = readable_dir()
        elif not os.path.isdir(workdir):
            os.makedirs(workdir)
            os.chmod(workdir, 0o755)
        self.workdir = workdir
        cmd = list(prefix) + [self.binary]
        if listen_by == "argv":
            for addr in listen or [None]:
                cmd += (["-i", addr.strip("[]")] if addr else []) + ["-p", str(self.port), "-P", str(self.port)]
        elif listen_by != "config":
            raise ValueError("listen_by is 'config' or 'argv'")
        cmd += list(args)
        in_config = list(listen) if listen_by == "config" else []
        self.config = None
        if in_config or config_lines:
            self.config = write_config(os.path.join(workdir, "tracker-%d.conf" % self.port), self.port,
                                       in_config, config_lines)
            cmd += ["-f", self.config]
        self.argv = cmd
        self.stopped = False
        self.log = open(os.path.join(workdir, "tracker-%d.log" % self.port), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=own_session)
        try:
            if not wait_for(self._accepts, timeout):
                raise RuntimeError("tracker %s did not listen on port %d: %s" % (self.binary, self.port, self.output()))
        except BaseException:
            self.stop()  # nobody else holds it yet
            raise

    def _accepts(self):
        """True once the tracker answers an HTTP request.  A completed TCP
        handshake is not enough: the kernel completes it as soon as the
        first listen socket exists, while the tracker is still binding the
        rest (its UDP socket on the same port comes next, then ::1) and
        loading its data; a datagram sent into that gap is lost.  The
        tracker answers only from its main loop, which starts after all of
        that."""
        if self.proc.poll() is not None:
            raise RuntimeError("tracker %s exited with status %s: %s"
                               % (self.binary, self.proc.returncode, self.output()))
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return s.recv(1) != b""
        except OSError:
            return False

    def output(self):
        """Everything it printed so far (stdout and stderr)."""
        with open(self.log.name) as f:
            return f.read()

    def sighup(self):
        self.proc.send_signal(signal.SIGHUP)

    def alive(self):
        return self.proc.poll() is None

    def status_kb(self, key):
        """A kB field of /proc/PID/status (VmRSS, RssAnon, VmHWM); 0 if absent."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def died(self):
        """How it ended if it exited on its own (nobody called stop()):
        "status N: output", else None."""
        if self.stopped or self.proc.poll() is None:
            return None
        return "status %s: %s" % (self.proc.returncode, self.output()[-2000:])

    def stop(self):
        """Stops it (SIGTERM, SIGKILL after 5 s); safe to call again."""
        self.stopped = True
        _stop(self.proc, 5)
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode


def p4p_stats(tracker, host="127.0.0.1"):
    """/stats?mode=p4p of a Tracker (or a port) as a dict of its
    "key: value" lines.  OSError when nobody answers, RuntimeError on a
    status other than 200."""
    port = getattr(tracker, "port", tracker)
    status, _, body = http_get(host, port, "/stats?mode=p4p")
    if status != 200:
        raise RuntimeError("/stats?mode=p4p on port %d: HTTP %d %r" % (port, status, body[:200]))
    return dict(line.split(": ", 1) for line in body.decode("utf-8", "replace").splitlines() if ": " in line)


def run_expecting_failure(binary, config_lines, workdir, timeout=10):
    """Runs a tracker whose configuration is broken, to its end; returns
    (exit code, output, config path), the code None if it still ran after
    timeout seconds."""
    config = write_config(os.path.join(workdir, "broken.conf"), free_port(), ["127.0.0.1"], config_lines)
    try:
        p = subprocess.run([build_path(binary), "-f", config], capture_output=True, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return None, "still running after %ss" % timeout, config
    return p.returncode, p.stdout + p.stderr, config


_DEFAULT = object()
LISTENING = re.compile(r"listening on (https?)://(\S+):(\d+)/p4p/v1/")


class ITracker:
    """p4p-itracker serving provider_file on host (any free port unless one
    is given).  The constructor returns once it says where it listens, or
    stops it and raises RuntimeError with its output.  request() sends the
    bearer token given here unless told otherwise; tls_context verifies an
    HTTPS daemon's certificate (None: the system's CAs)."""

    def __init__(self, provider_file, workdir=None, *, host="127.0.0.1", port=0, args=(), token=None,
                 binary="p4p-itracker", timeout=10):
        self.provider_file = str(provider_file)
        self.host, self.token, self.tls_context = host, token, None
        workdir = str(workdir) if workdir else readable_dir()
        fd, self.log_path = tempfile.mkstemp(prefix="itracker-", suffix=".log", dir=workdir)
        self.log = os.fdopen(fd, "w")
        self.proc = subprocess.Popen([build_path(binary), "-f", self.provider_file, "-l", host, "-p", str(port)]
                                     + list(args), stdout=self.log, stderr=subprocess.STDOUT)
        try:
            m = wait_for(lambda: LISTENING.search(self.output()) or self.proc.poll() is not None, timeout)
            if not m or m is True:
                raise RuntimeError("p4p-itracker %s: no listening line (status %s): %s"
                                   % (self.provider_file, self.proc.poll(), self.output()))
        except BaseException:
            self.stop()  # nobody else holds it yet
            raise
        self.scheme, self.port = m.group(1), int(m.group(3))

    @property
    def url(self):
        h = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d" % (self.scheme, h, self.port)

    def output(self):
        """Everything it printed so far (stdout and stderr)."""
        with open(self.log_path) as f:
            return f.read()

    def conn(self, timeout=30, source=None):
        """source: the client's own address (a 127.x, to act as another client)"""
        src = (source, 0) if source else None
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.tls_context,
                                               source_address=src)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout, source_address=src)

    def request(self, method, path, body=None, token=_DEFAULT, headers=None, content_type=CT, timeout=30, source=None):
        """One request on /p4p/v1/PATH in a connection of its own; returns
        (response, body).  token None: no Authorization header."""
        h = dict(headers or {})
        token = self.token if token is _DEFAULT else token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None and content_type:
            h["Content-Type"] = content_type
        c = self.conn(timeout, source)
        try:
            c.request(method, "/p4p/v1/" + path, body=body, headers=h)
            r = c.getresponse()
            return r, r.read()
        finally:
            c.close()

    def stop(self):
        """SIGTERM (it stops cleanly), SIGKILL after 30 s; the exit status."""
        _stop(self.proc, 30)
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode
