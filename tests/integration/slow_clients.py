"""Slowloris clients for the iTracker tests and bench/itracker_slowloris.py.

SlowClients keeps n connections open to a server, each from one of many
distinct 127.x.y.z source addresses (per_addr connections per address), each
sending a request that never ends: the request line at once, then one header
byte per interval, forever.  A connection the server closes is counted (and,
with reconnect, replaced at once, as an attacker would).  Everything runs in
one background thread over a selector."""
import selectors
import socket
import threading
import time

REQUEST_LINE = b"GET /p4p/v1/pidmap HTTP/1.1\r\nHost: itracker\r\n"
DRIP = b"X-Slow: a\r\n"  # repeated byte by byte; the blank line never comes


def source_address(i, per_addr, base=20):
    """127.<base + k // 62500>.<k // 250 % 250 + 1>.<k % 250 + 1>, k = i // per_addr:
    distinct addresses on loopback, never 127.0.0.1 itself."""
    k = i // per_addr
    return "127.%d.%d.%d" % (base + k // 62500, k // 250 % 250 + 1, k % 250 + 1)


class SlowConn:
    def __init__(self, index, sock):
        self.index = index
        self.sock = sock
        self.opened = time.monotonic()
        self.closed = None  # monotonic time the server closed it
        self.sent = 0


class SlowClients:
    def __init__(self, host, port, n, per_addr=4, interval=1.0, reconnect=True,
                 base=20, reconnect_delay=0.05):
        self.host, self.port, self.n = host, port, n
        self.per_addr, self.interval, self.reconnect = per_addr, interval, reconnect
        self.base = base
        self.reconnect_delay = reconnect_delay
        self.retry_at = {}      # index -> earliest reconnect (monotonic)
        self.sel = selectors.DefaultSelector()
        self.live = {}          # index -> SlowConn
        self.history = []       # every SlowConn ever opened
        self.connect_failures = 0
        self.server_closes = 0
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.thread = None

    # --- connections --------------------------------------------------------
    def _open(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((source_address(i, self.per_addr, self.base), 0))
            s.settimeout(5)
            s.connect((self.host, self.port))
            s.sendall(REQUEST_LINE)
            s.setblocking(False)
        except OSError:
            s.close()
            with self.lock:
                self.connect_failures += 1
            return None
        c = SlowConn(i, s)
        c.sent = len(REQUEST_LINE)
        self.sel.register(s, selectors.EVENT_READ, c)
        with self.lock:
            self.live[i] = c
            self.history.append(c)
        return c

    def _closed_by_server(self, c):
        self.sel.unregister(c.sock)
        c.sock.close()
        c.closed = time.monotonic()
        self.retry_at[c.index] = c.closed + self.reconnect_delay
        with self.lock:
            self.live.pop(c.index, None)
            self.server_closes += 1

    def open_all(self):
        """Open the n connections now (before start(), so a caller knows they
        are up)."""
        for i in range(self.n):
            self._open(i)

    # --- the drip -----------------------------------------------------------
    def _drip(self):
        for c in list(self.live.values()):
            byte = DRIP[(c.sent - len(REQUEST_LINE)) % len(DRIP):][:1]
            try:
                if c.sock.send(byte) == 1:
                    c.sent += 1
            except BlockingIOError:
                pass
            except OSError:
                self._closed_by_server(c)

    def _run(self):
        next_drip = time.monotonic() + self.interval
        while not self.stop_flag.is_set():
            wait = max(0.0, next_drip - time.monotonic())
            for key, _ in self.sel.select(timeout=min(wait, 0.2)):
                c = key.data
                try:
                    c.sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                # EOF, a reset or an error answer: the server is done with it
                self._closed_by_server(c)
            if time.monotonic() >= next_drip:
                self._drip()
                next_drip += self.interval
            if self.reconnect:
                now = time.monotonic()
                for i in range(self.n):
                    if (i not in self.live and now >= self.retry_at.get(i, 0)
                            and not self.stop_flag.is_set()):
                        if not self._open(i):
                            self.retry_at[i] = now + self.reconnect_delay

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag.set()
        if self.thread:
            self.thread.join(10)
        for c in list(self.live.values()):
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
            c.sock.close()
        self.live.clear()
        self.sel.close()

    def open_count(self):
        with self.lock:
            return len(self.live)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
