#!/usr/bin/env python3
"""Soak test: one fasthttp server, hundreds of thousands of mixed requests, flat memory.

    python bench/soak.py                          # ThreadingHTTPServer, 200,000 requests
    python bench/soak.py --server loop            # LoopHTTPServer
    python bench/soak.py --requests 5000          # a smoke run (make soak-smoke)

One server (fasthttp.ThreadingHTTPServer or fasthttp.LoopHTTPServer) runs as a subprocess on
127.0.0.1; its handler answers GET with a small body and POST with the length of the body it
read through ``self.read_body()``, and logs nothing. ``--clients`` client processes then send
``--requests`` requests in a deterministic random mix (``--seed``):

  keepalive   one connection, 20-100 requests one after the other (GET, POST with a
              Content-Length body, now and then a chunked or a > 64 KiB body); some end with
              ``Connection: close``
  pipelined   one connection, 1-4 batches of 2-32 requests sent in one write
  oneshot     a new connection per request (``Connection: close`` or HTTP/1.0)
  invalid     a new connection, 0-3 good requests, then one the server must refuse: malformed
              heads (400), an unknown method (501), HTTP/2.0 (505), overlong request line
              (414) / header line / header count / header block (431), bad, conflicting or
              too large Content-Length (400/413), Content-Length with Transfer-Encoding,
              unsupported codings (400/501), malformed chunked bodies (400); the server must
              then close the connection
  abort       a client that disconnects mid-request: cut in the request line, in the
              headers, in a Content-Length or chunked body, right after the request without
              reading the answer (some of them with a TCP RST), or without sending anything

(``--mix plain`` keeps only the first three, with bodyless GETs: bench/memory.py uses it.)
A request line http.server cannot read (one word, a bad version) is answered the HTTP/0.9
way, as http.server does: the error page with no status line; its status is read from the
page.

Every request that should get an answer is checked: its status is the expected one, and
nothing is missing. Before the measured run, a warm-up (``--warmup`` requests, same mix, same
number of clients) lets the server's allocator, thread stacks and caches settle; then the
server's RSS (VmRSS), open fds (/proc/PID/fd) and threads are sampled once idle (the
baseline), every ``--sample-every`` requests under load, and once idle at the end.

Verdict (exit 1 on any failure):
  - every request sent got its answer (missing = 0), with the expected status;
  - RSS flat: end <= baseline + tolerance (max of ``--rss-tolerance-mb`` and
    ``--rss-tolerance-pct`` of the baseline), and no steady growth: the least-squares line
    through the samples taken under load rises by less than the tolerance over the run;
  - fd count back to the baseline (within ``--settle-seconds`` of the last client closing);
  - the server process still running; all requests sent within ``--max-seconds``.
Tracebacks the server printed (e.g. a write to a client that reset the connection, which
socketserver reports as http.server does) are counted and listed, not failed;
``--server-log PATH`` keeps them.

Bounds: every socket has a timeout (``--timeout``), the whole run is capped at
``--max-seconds`` (default 600), and every process started here (the server, the clients) is
ended here by its PID. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import random
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SERVER_KINDS = ("threading", "loop")
MB = 1024 * 1024


# -- the server (a subprocess: python bench/soak.py --child-server KIND) ------

def raise_nofile(want=65536):
    """Raise the soft RLIMIT_NOFILE towards the hard limit (at most ``want``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def import_fasthttp():
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    import fasthttp  # noqa: PLC0415
    return fasthttp


def make_handler(fasthttp):
    class SoakHandler(fasthttp.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self._reply(b"ok\n")

        def do_POST(self):
            body = self.read_body()     # BodyError (already answered) ends the connection
            self._reply(b"got %d\n" % len(body))

        def _reply(self, body):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # noqa: A002 - stdlib signature
            pass

    return SoakHandler


def child_server(kind, port):
    raise_nofile()
    fasthttp = import_fasthttp()
    server_cls = {"threading": fasthttp.ThreadingHTTPServer,
                  "loop": fasthttp.LoopHTTPServer}[kind]
    httpd = server_cls(("127.0.0.1", port), make_handler(fasthttp))

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write("soak server: %s, fasthttp from %s, accelerated=%s, pid %d\n"
                     % (server_cls.__name__, fasthttp.__file__, fasthttp.accelerated, os.getpid()))
    sys.stderr.flush()
    sys.stdout.write("READY %d\n" % httpd.server_address[1])
    sys.stdout.flush()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


class Server:
    """The server subprocess: started, sampled, and ended by PID."""

    def __init__(self, argv, *, ready_timeout=30.0, env=None):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL, env=env)
        self.pid = self.proc.pid
        line = b""
        deadline = time.monotonic() + ready_timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("server did not become ready: %s" % self.stderr_text()[-2000:])
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    continue
                line += chunk
        match = re.match(rb"READY (\d+)", line)
        if not match:
            self.stop()
            raise RuntimeError("unexpected server output %r" % line)
        self.port = int(match.group(1))

    def alive(self):
        return self.proc.poll() is None

    def sample(self):
        """{'rss': bytes, 'fds': n, 'threads': n} of the server, from /proc."""
        rss = threads = None
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % self.pid))
        return {"rss": rss, "fds": fds, "threads": threads}

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_server(kind, *, env=None):
    return Server([sys.executable, str(Path(__file__).resolve()), "--child-server", kind],
                  env=env)


# -- the client ---------------------------------------------------------------

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


def scenario_keepalive(port, rng, st, timeout):
    n = rng.randrange(20, 101)
    conn = Conn(port, timeout)
    st["connections"] += 1
    pending = 0
    try:
        for k in range(n):
            last_close = k == n - 1 and rng.random() < 0.3
            st["sent"] += 1
            st["expected"] += 1
            pending = 1
            conn.send(_good(rng, last_close))
            status, _ = conn.response()
            pending = 0
            st.answered(status, 200, "keepalive")
        if last_close and not conn.closed_by_server():
            st["not-closed:keepalive-connection-close"] += 1
    except Missing as e:
        st.missed(pending, str(e).split()[0], "keepalive")
    finally:
        conn.close()
    return n


def scenario_pipelined(port, rng, st, timeout):
    conn = Conn(port, timeout)
    st["connections"] += 1
    sent = 0
    pending = 0
    try:
        for _ in range(rng.randrange(1, 5)):
            depth = rng.randrange(2, 33)
            batch = b"".join(_good(rng) for _ in range(depth))
            st["sent"] += depth
            st["expected"] += depth
            sent += depth
            pending = depth
            conn.send(batch)
            for _ in range(depth):
                status, _ = conn.response()
                pending -= 1
                st.answered(status, 200, "pipelined")
    except Missing as e:
        st.missed(pending, str(e).split()[0], "pipelined")
    finally:
        conn.close()
    return sent


def scenario_oneshot(port, rng, st, timeout):
    conn = Conn(port, timeout)
    st["connections"] += 1
    st["sent"] += 1
    st["expected"] += 1
    try:
        if rng.random() < 0.5:
            conn.send(get(rng.randrange(1 << 20), close=True))
        else:
            conn.send(b"GET /oneshot HTTP/1.0\r\n\r\n")
        status, _ = conn.response()
        st.answered(status, 200, "oneshot")
        if not conn.closed_by_server():
            st["not-closed:oneshot"] += 1
    except Missing as e:
        st.missed(1, str(e).split()[0], "oneshot")
    finally:
        conn.close()
    return 1


def scenario_invalid(port, rng, st, timeout):
    name, data, want = rng.choice(INVALID)
    conn = Conn(port, timeout)
    st["connections"] += 1
    good = rng.randrange(0, 4)
    pending = 0
    try:
        for _ in range(good):
            st["sent"] += 1
            st["expected"] += 1
            pending = 1
            conn.send(_good(rng))
            status, _ = conn.response()
            pending = 0
            st.answered(status, 200, "invalid-prefix")
        st["sent"] += 1
        st["expected"] += 1
        st["invalid"] += 1
        pending = 1
        conn.send(data)
        status, close = conn.response()
        pending = 0
        st.answered(status, want, "invalid:" + name)
        if not conn.closed_by_server():
            st["not-closed:" + name] += 1
    except Missing as e:
        st.missed(pending, str(e).split()[0], "invalid:" + name)
    finally:
        conn.close()
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
        raise_nofile(4096)
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


def settle(server, baseline_fds, seconds):
    """Wait until the server has closed its client connections (fd count at or below
    baseline_fds, or stable for a second); return the last sample and the wait."""
    start = time.monotonic()
    last = server.sample()
    stable_since = start
    while time.monotonic() - start < seconds:
        time.sleep(0.2)
        s = server.sample()
        if (baseline_fds is not None and s["fds"] <= baseline_fds
                and s["threads"] <= last["threads"]):
            last = s
            if time.monotonic() - stable_since > 0.5:
                break
            continue
        if s["fds"] != last["fds"] or s["threads"] != last["threads"]:
            stable_since = time.monotonic()
        elif baseline_fds is None and time.monotonic() - stable_since > 1.0:
            last = s
            break
        last = s
    return last, time.monotonic() - start


def linear_growth(points):
    """Least-squares slope of (x, y) points times the x span: the steady growth."""
    n = len(points)
    if n < 3:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return slope * (points[-1][0] - points[0][0])


def run(kind="threading", requests=200000, *, clients=3, warmup=None, sample_every=None,
        timeout=10.0, max_seconds=600.0, rss_tolerance_mb=5.0, rss_tolerance_pct=10.0,
        settle_seconds=15.0, seed=1, mix="full", server_log=None, out=sys.stdout, env=None):
    """The whole soak; returns a result dict with 'ok' and the figures."""
    t0 = time.monotonic()
    deadline = t0 + max_seconds
    if warmup is None:
        warmup = min(10000, max(1000, requests // 20))
    if sample_every is None:
        sample_every = max(1000, requests // 20)
    raise_nofile(4096)

    def say(text):
        out.write(text + "\n")
        out.flush()

    server = start_server(kind, env=env)
    result = {"server": kind, "pid": server.pid, "requests_asked": requests}
    try:
        say("soak: %s server pid %d on 127.0.0.1:%d; %d warm-up + %d requests, %d clients, "
            "mix %s" % (kind, server.pid, server.port, warmup, requests, clients, mix))
        first = server.sample()
        warm = run_phase(server.port, requests=warmup, clients=clients, seed=seed + 7919,
                         deadline=min(deadline - 30, t0 + max_seconds / 4), timeout=timeout,
                         mix=mix)
        base, _ = settle(server, None, settle_seconds)
        samples = [("start (idle)", 0, 0.0, base)]
        say("%-14s %10s %9s %9s %6s %8s" % ("sample", "requests", "seconds", "RSS MiB", "fds",
                                            "threads"))
        say("%-14s %10s %9s %9.1f %6d %8d" % ("launch", "-", "-", first["rss"] / MB,
                                              first["fds"], first["threads"]))
        say("%-14s %10d %9s %9.1f %6d %8d" % ("after warm-up", warm["sent"], "-",
                                              base["rss"] / MB, base["fds"], base["threads"]))
        t_load = time.monotonic()
        next_at = [sample_every]

        def on_progress(total):
            while total >= next_at[0] and next_at[0] < requests:
                if not server.alive():
                    return
                s = server.sample()
                el = time.monotonic() - t_load
                samples.append(("load", total, el, s))
                say("%-14s %10d %9.1f %9.1f %6d %8d" % ("under load", total, el, s["rss"] / MB,
                                                       s["fds"], s["threads"]))
                next_at[0] += sample_every

        st = run_phase(server.port, requests=requests, clients=clients, seed=seed,
                       deadline=deadline - settle_seconds - 10, timeout=timeout,
                       on_progress=on_progress, mix=mix)
        duration = time.monotonic() - t_load
        alive = server.alive()
        if alive:
            end, waited = settle(server, base["fds"], settle_seconds)
            samples.append(("end (idle)", st["sent"], duration, end))
            say("%-14s %10d %9.1f %9.1f %6d %8d" % ("end (idle)", st["sent"], duration,
                                                   end["rss"] / MB, end["fds"], end["threads"]))
        else:
            end, waited = None, 0.0
    finally:
        server.stop()
    stderr = server.stderr_text()
    if server_log:
        Path(server_log).write_text(stderr)

    # -- figures and verdict --------------------------------------------------------
    tol = max(rss_tolerance_mb * MB, base["rss"] * rss_tolerance_pct / 100.0)
    load_points = [(n, s["rss"]) for label, n, _, s in samples if label == "load"]
    growth = linear_growth(load_points)
    statuses = {int(k[7:]): v for k, v in st.items() if k.startswith("status:")}
    answered = sum(statuses.values())
    tracebacks = stderr.count("Traceback (most recent call last)")
    # Exception lines (tracebacks from several threads may interleave; count the last lines).
    exc_lines = collections.Counter(re.findall(
        r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))(?::|$)", stderr, re.M))
    checks = []

    def check(ok, text):
        checks.append((ok, text))

    check(alive, "server still running at the end")
    check(st["sent"] >= requests,
          "requests sent: %d of %d (within --max-seconds %g)" % (st["sent"], requests, max_seconds))
    check(st["missing"] == 0 and st["expected"] == answered,
          "missing responses: %d (expected %d, answered %d)"
          % (st["missing"], st["expected"], answered))
    check(st["unexpected"] == 0, "responses with an unexpected status: %d" % st["unexpected"])
    not_closed = sum(v for k, v in st.items() if k.startswith("not-closed:"))
    check(not_closed == 0, "connections the server kept open after Connection: close or an "
                           "error answer: %d" % not_closed)
    client_problems = sum(v for k, v in st.items()
                          if k.startswith(("client-", "client_")))
    check(client_problems == 0, "client errors (connect failures, crashes): %d" % client_problems)
    if end is not None:
        check(end["rss"] <= base["rss"] + tol,
              "RSS flat: end %.1f MiB <= start %.1f MiB + %.1f MiB tolerance "
              "(end - start = %+.1f MiB)"
              % (end["rss"] / MB, base["rss"] / MB, tol / MB, (end["rss"] - base["rss"]) / MB))
        check(growth <= tol, "no steady RSS growth under load: fitted growth over %d samples "
                             "%+.2f MiB <= %.1f MiB" % (len(load_points), growth / MB, tol / MB))
        check(end["fds"] <= base["fds"], "fds back to baseline: end %d <= start %d (after %.1f s)"
              % (end["fds"], base["fds"], waited))

    say("")
    say("responses by status: " + ", ".join("%d: %d" % kv for kv in sorted(statuses.items())))
    say("requests: %d sent (+%d warm-up) in %.1f s (%.0f/s); %d expected an answer, %d answered; "
        "%d invalid; %d aborted mid-request by the client; %d connections"
        % (st["sent"], warm["sent"], duration, st["sent"] / max(duration, 1e-9), st["expected"],
           answered, st["invalid"], st["aborted"], st["connections"]))
    details = sorted(((k, v) for k, v in st.items()
                      if k.startswith(("missing:", "unexpected:", "not-closed:", "client"))),
                     key=lambda kv: (-kv[1], kv[0]))
    for k, v in details[:30]:
        say("  %s: %d" % (k, v))
    if len(details) > 30:
        say("  ... and %d more kinds (%d in all)" % (len(details) - 30,
                                                     sum(v for _, v in details[30:])))
    warm_bad = {k: v for k, v in warm.items()
                if k.startswith(("missing", "unexpected", "not-closed", "client"))}
    if warm_bad:
        say("warm-up problems: %s" % ", ".join(
            "%s: %d" % kv for kv in sorted(warm_bad.items(), key=lambda kv: -kv[1])[:10]))
        check(False, "warm-up without missing/unexpected answers")
    say("server tracebacks on stderr: %d%s" % (tracebacks, (" (" + ", ".join(
        "%s x%d" % kv for kv in exc_lines.most_common(5)) + ")") if exc_lines else ""))
    say("")
    for ok, text in checks:
        say("%s  %s" % ("PASS" if ok else "FAIL", text))
    ok = all(c for c, _ in checks)
    say("verdict: %s (%s server, %d requests, %.1f s)" % ("PASS" if ok else "FAIL", kind,
                                                         st["sent"], time.monotonic() - t0))
    result.update(ok=ok, sent=st["sent"], warmup_sent=warm["sent"], duration=duration,
                  statuses=statuses, missing=st["missing"], unexpected=st["unexpected"],
                  start=base, end=end, launch=first, growth=growth, tolerance=tol,
                  samples=[(label, n, el, s) for label, n, el, s in samples],
                  tracebacks=tracebacks, checks=checks)
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", choices=SERVER_KINDS, default="threading")
    p.add_argument("--requests", type=int, default=200000)
    p.add_argument("--clients", type=int, default=3, help="client processes (default 3)")
    p.add_argument("--warmup", type=int, default=None,
                   help="warm-up requests (default: 5%% of --requests, 1,000-10,000)")
    p.add_argument("--sample-every", type=int, default=None,
                   help="sample RSS/fds every N requests (default: --requests / 20)")
    p.add_argument("--timeout", type=float, default=10.0, help="per socket operation, s")
    p.add_argument("--max-seconds", type=float, default=600.0, help="whole run, s")
    p.add_argument("--rss-tolerance-mb", type=float, default=5.0)
    p.add_argument("--rss-tolerance-pct", type=float, default=10.0)
    p.add_argument("--settle-seconds", type=float, default=15.0,
                   help="how long the fd count may take to come back at the end")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mix", choices=sorted(MIXES), default="full",
                   help='"full" (default: the mix above) or "plain" (bodyless GETs only)')
    p.add_argument("--server-log", metavar="PATH",
                   help="write what the server printed on stderr (tracebacks) to PATH")
    p.add_argument("--child-server", choices=SERVER_KINDS, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_server:
        return child_server(args.child_server, args.port)
    if args.requests < 1 or args.clients < 1:
        p.error("--requests and --clients must be positive")
    result = run(args.server, args.requests, clients=args.clients, warmup=args.warmup,
                 sample_every=args.sample_every, timeout=args.timeout,
                 max_seconds=args.max_seconds, rss_tolerance_mb=args.rss_tolerance_mb,
                 rss_tolerance_pct=args.rss_tolerance_pct, settle_seconds=args.settle_seconds,
                 seed=args.seed, mix=args.mix, server_log=args.server_log)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
