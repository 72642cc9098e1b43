"""bench/soak.py's traffic: client processes sending a deterministic random mix of requests
to one server on 127.0.0.1, and checking every answer.

    st = run_phase(port, requests=5000, clients=3, seed=1, deadline=time.monotonic() + 60,
                   timeout=10.0, mix="full")     # Stats: sent, expected, missing, status:NNN, ...

The mixes ("full", "plain") and the scenarios (keep-alive, pipelined, one connection per
request, invalid, aborted) are described in bench/soak.py's docstring.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing as mp
import os
import random
import re
import signal
import socket
import struct
import time

import processes


class Missing(Exception):
    """No (complete) response where one was expected."""


class Conn:
    """A client connection with a timeout on every operation and a tiny response reader."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def send(self, data):
        """sendall; a server that already answered and closed may reset us: the
        response is then still to be read, so report, don't raise."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def _fill(self):
        try:
            chunk = self.sock.recv(262144)
        except socket.timeout:
            raise Missing("timeout") from None
        except ConnectionResetError:
            raise Missing("reset") from None
        if not chunk:
            raise Missing("eof")
        self.buf += chunk

    def response(self):
        """Read one response; return (status, connection_close).

        A request line http.server cannot make sense of (one word, a bad version) leaves
        request_version at HTTP/0.9, and send_error then answers the HTTP/0.9 way: the error
        page alone, no status line, then EOF. Its status is read from the page."""
        while len(self.buf) < 5:
            self._fill()
        if not self.buf.startswith(b"HTTP/"):
            while True:
                try:
                    self._fill()
                except Missing as e:
                    if str(e) != "eof":
                        raise
                    break
                if len(self.buf) > 1 << 20:
                    raise Missing("endless HTTP/0.9 body")
            match = re.search(rb"Error code: (\d{3})", self.buf)
            if match is None:
                raise Missing("bad HTTP/0.9 response %r" % bytes(self.buf[:80]))
            status = int(match.group(1))
            self.buf.clear()
            return status, True
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > 1 << 20:
                raise Missing("no end of head")
            self._fill()
        head = bytes(self.buf[:end])
        del self.buf[:end + 4]
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise Missing("bad status line %r" % lines[0][:80])
        status = int(parts[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        while len(self.buf) < length:
            self._fill()
        del self.buf[:length]
        return status, close

    def closed_by_server(self):
        """True if the server closes the connection (EOF or reset) in time."""
        if self.buf:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self, reset=False):
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def get(i, close=False):
    return (b"GET /soak/%d?x=%d HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: soak\r\n%s\r\n"
            % (i, i * 7, b"Connection: close\r\n" if close else b""))


def post(size, close=False):
    return (b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream"
            b"\r\nContent-Length: %d\r\n%s\r\n" % (size, b"Connection: close\r\n" if close else b"")
            + b"x" * size)


def post_chunked(sizes, close=False):
    body = b"".join(b"%x\r\n%s\r\n" % (n, b"c" * n) for n in sizes) + b"0\r\n\r\n"
    return (b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n%s\r\n"
            % (b"Connection: close\r\n" if close else b"") + body)


def good_request(rng, close=False):
    """A request the server must answer with 200 (mix "full")."""
    r = rng.random()
    if r < 0.84:
        return get(rng.randrange(1 << 20), close)
    if r < 0.96:
        return post(rng.randrange(0, 4096), close)
    if r < 0.995:
        return post_chunked([rng.randrange(1, 2048) for _ in range(rng.randrange(1, 5))], close)
    return post(rng.randrange(65 * 1024, 200 * 1024), close)   # > LoopHTTPServer.max_inline_body


def plain_request(rng, close=False):
    """A bodyless GET (mix "plain")."""
    return get(rng.randrange(1 << 20), close)


_good = good_request        # set per client process by client_worker (the mix)

H = b"Host: 127.0.0.1\r\n"
INVALID = [
    # (name, request bytes, expected status)
    ("one-word-line", b"GARBAGE\r\n\r\n", 400),
    ("bad-version", b"GET / HTTP/x.y\r\n" + H + b"\r\n", 400),
    ("http-2.0", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("unknown-method", b"BREW /pot HTTP/1.1\r\n" + H + b"\r\n", 501),
    ("method-not-token", b"G(T / HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("ctl-in-request-line", b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    ("header-without-colon", b"GET / HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", 400),
    ("ctl-in-header", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n", 400),
    ("nul-in-header", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    ("bare-cr", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400),
    ("long-request-line", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("long-header-line", b"GET / HTTP/1.1\r\n" + H + b"X-Long: " + b"a" * 70000 + b"\r\n\r\n", 431),
    ("too-many-headers", b"GET / HTTP/1.1\r\n" + H
     + b"".join(b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n", 431),
    ("head-too-large", b"GET / HTTP/1.1\r\n" + H
     + b"".join(b"X-Big%d: %s\r\n" % (i, b"b" * 60000) for i in range(5)) + b"\r\n", 431),
    ("cl-not-digits", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n", 400),
    ("cl-plus-sign", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", 400),
    ("cl-negative", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400),
    ("cl-conflicting", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    ("cl-list", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 4\r\n\r\nabcd", 400),
    ("cl-too-large", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 100000000\r\n\r\n", 413),
    ("cl-and-te", b"POST / HTTP/1.1\r\n" + H
     + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te-not-chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    ("te-unsupported", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("te-in-http-1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("chunk-size-not-hex", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-data-overrun", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", 400),
    ("chunk-size-too-long", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n" + b"1" * 20 + b"\r\n", 400),
    # issue 11: Host rules, chunked lines ending in a bare LF, tiny chunks
    ("host-twice", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("host-invalid", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("chunk-size-bare-lf", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
    ("chunk-data-bare-lf", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400),
    ("chunks-too-small", b"POST / HTTP/1.1\r\n" + H
     + b"Transfer-Encoding: chunked\r\n\r\n" + b"1\r\nx\r\n" * 15000 + b"0\r\n\r\n", 400),
]

ABORTS = ("cut-request-line", "cut-headers", "cut-cl-body", "cut-chunked-body",
          "no-read", "no-read-rst", "connect-only")


class Stats(collections.Counter):
    """Counters; keys 'status:NNN', 'sent', 'expected', 'missing', 'missing:WHY:SCENARIO',
    'unexpected:SCENARIO:NAME:GOT', 'not-closed:NAME', 'aborted', 'connections', ..."""

    def answered(self, status, want, scenario):
        self["status:%d" % status] += 1
        if status != want:
            self["unexpected:%s:%d" % (scenario, status)] += 1
            self["unexpected"] += 1

    def missed(self, n, why, scenario):
        if n > 0:
            self["missing"] += n
            self["missing:%s:%s" % (why, scenario)] += n


class Exchange:
    """One connection of a scenario: the requests sent on it and their answers, counted; how
    many answers are still due (what is missing if the connection fails)."""

    def __init__(self, conn, st, scenario):
        self.conn, self.st, self.scenario = conn, st, scenario
        self.pending = 0

    def ask(self, data, n=1, want=200, label=None):
        """Send *data* (*n* requests) and read their *n* answers, each expected to be *want*."""
        self.st["sent"] += n
        self.st["expected"] += n
        self.pending = n
        self.conn.send(data)
        for _ in range(n):
            status, _ = self.conn.response()
            self.pending -= 1
            self.st.answered(status, want, label or self.scenario)


@contextlib.contextmanager
def exchange(port, timeout, st, scenario):
    """A connection for *scenario*: answers that do not come are counted missing (by why:
    timeout, reset, eof), and the connection is closed."""
    conn = Conn(port, timeout)
    st["connections"] += 1
    ex = Exchange(conn, st, scenario)
    try:
        yield ex
    except Missing as e:
        st.missed(ex.pending, str(e).split()[0], scenario)
    finally:
        conn.close()


def scenario_keepalive(port, rng, st, timeout):
    n = rng.randrange(20, 101)
    with exchange(port, timeout, st, "keepalive") as ex:
        for k in range(n):
            last_close = k == n - 1 and rng.random() < 0.3
            ex.ask(_good(rng, last_close))
        if last_close and not ex.conn.closed_by_server():
            st["not-closed:keepalive-connection-close"] += 1
    return n


def scenario_pipelined(port, rng, st, timeout):
    sent = 0
    with exchange(port, timeout, st, "pipelined") as ex:
        for _ in range(rng.randrange(1, 5)):
            depth = rng.randrange(2, 33)
            sent += depth
            ex.ask(b"".join(_good(rng) for _ in range(depth)), n=depth)
    return sent


def scenario_oneshot(port, rng, st, timeout):
    with exchange(port, timeout, st, "oneshot") as ex:
        ex.ask(get(rng.randrange(1 << 20), close=True) if rng.random() < 0.5
               else b"GET /oneshot HTTP/1.0\r\n\r\n")
        if not ex.conn.closed_by_server():
            st["not-closed:oneshot"] += 1
    return 1


def scenario_invalid(port, rng, st, timeout):
    name, data, want = rng.choice(INVALID)
    good = rng.randrange(0, 4)
    with exchange(port, timeout, st, "invalid:" + name) as ex:
        for _ in range(good):
            ex.ask(_good(rng), label="invalid-prefix")
        st["invalid"] += 1
        ex.ask(data, want=want)
        if not ex.conn.closed_by_server():
            st["not-closed:" + name] += 1
    return good + 1


def scenario_abort(port, rng, st, timeout):
    kind = rng.choice(ABORTS)
    conn = Conn(port, timeout)
    st["connections"] += 1
    st["sent"] += 1
    st["aborted"] += 1
    st["aborted:" + kind] += 1
    reset = kind == "no-read-rst" or rng.random() < 0.25
    try:
        if kind == "cut-request-line":
            conn.send(b"GET /partial-requ")
        elif kind == "cut-headers":
            conn.send(b"GET / HTTP/1.1\r\n" + H + b"X-Half: abc")
        elif kind == "cut-cl-body":
            conn.send(b"POST /upload HTTP/1.1\r\n" + H
                      + b"Content-Length: 1000\r\n\r\n" + b"y" * 10)
        elif kind == "cut-chunked-body":
            conn.send(b"POST /upload HTTP/1.1\r\n" + H
                      + b"Transfer-Encoding: chunked\r\n\r\n10\r\nabc")
        elif kind in ("no-read", "no-read-rst"):
            conn.send(_good(rng))
        # connect-only: nothing
    finally:
        conn.close(reset=reset)
    return 1


SCENARIOS = (scenario_keepalive, scenario_pipelined, scenario_oneshot,
             scenario_invalid, scenario_abort)
# Per unit: ~60 and ~40 requests for the first two, 1 for oneshot, ~2.5 for invalid, 1 for
# abort. These weights make about 58 % keep-alive, 24 % pipelined, 9 % one connection per
# request, 6 % on invalid-request connections (2 % invalid ones) and 2 % aborted requests.
WEIGHTS = (10, 6, 90, 24, 20)
# mix -> (scenarios, weights, good request): "full" is the soak above; "plain" is ordinary
# traffic only (bodyless GETs: keep-alive, pipelined, a connection per request), for
# bench/memory.py's RSS-under-load figure.
MIXES = {
    "full": (SCENARIOS, WEIGHTS, good_request),
    "plain": (SCENARIOS[:3], WEIGHTS[:3], plain_request),
}


def client_worker(idx, port, quota, seed, deadline, timeout, progress, stop, results,
                  mix="full"):
    """Send about ``quota`` requests (a unit may overshoot by < 130); put the Stats."""
    global _good
    try:
        scenarios, weights, _good = MIXES[mix]
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides
        processes.raise_nofile(4096)
        rng = random.Random(seed)
        st = Stats()
        while st["sent"] < quota and not stop.value and time.monotonic() < deadline:
            scenario = rng.choices(scenarios, weights)[0]
            try:
                scenario(port, rng, st, timeout)
            except OSError as e:          # connect failed etc.: nothing sent on it
                st["client-oserror:%s" % type(e).__name__] += 1
            progress[idx] = st["sent"]
        results.put((idx, dict(st)))
    except BaseException as e:  # noqa: BLE001 - report, never hang the parent
        results.put((idx, {"client-crash:%s: %s" % (type(e).__name__, e): 1}))


def run_phase(port, *, requests, clients, seed, deadline, timeout, on_progress=None,
              mix="full"):
    """Run ``clients`` client processes sending ``requests`` in all; return Stats.
    on_progress(total_sent) is called about 10 times a second meanwhile."""
    ctx = mp.get_context("fork")
    progress = ctx.Array("q", clients, lock=False)
    stop = ctx.Value("b", 0, lock=False)
    results = ctx.Queue()
    quota = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]
    procs = [ctx.Process(target=client_worker, daemon=True,
                         args=(i, port, quota[i], seed * 1000 + i, deadline, timeout,
                               progress, stop, results, mix))
             for i in range(clients)]
    for p in procs:
        p.start()
    got = {}
    try:
        while len(got) < clients:
            if on_progress is not None:
                on_progress(sum(progress))
            try:
                idx, st = results.get(timeout=0.1)
                got[idx] = st
            except Exception:   # queue.Empty
                pass
            if time.monotonic() > deadline + timeout + 5:
                stop.value = 1
                if time.monotonic() > deadline + 2 * timeout + 10:
                    break
    finally:
        stop.value = 1
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                os.kill(p.pid, signal.SIGKILL)
                p.join(timeout=5)
    total = Stats()
    for i in range(clients):
        if i in got:
            total.update(got[i])
        else:
            total["client-lost"] += 1
    if on_progress is not None:
        on_progress(sum(progress))
    return total
