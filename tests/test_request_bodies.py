"""Request bodies on a running server: memory follows bytes received, not a
declared size; unread bodies; Host; chunked framing and its cost; graceful
stop with uploads in flight; body/send timeouts; trailers; CR/LF in
send_header. Each case runs on ThreadingHTTPServer and
LoopHTTPServer where it applies (and, through `make test`, on both paths).
"""
import functools
import gc
import socket
import threading
import time
import tracemalloc

import clients
import pytest
from clients import statuses
from servers import SERVERS, start_server, stop_serving

import fasthttp
from fasthttp import _core

TIMEOUT = 5.0


class Handler(fasthttp.BaseHTTPRequestHandler):
    """do_* by path: /read-cl (rfile.read(Content-Length)), /body
    (read_body()), /part (reads 5 bytes of the body), anything else: does
    not read the body."""
    protocol_version = "HTTP/1.1"
    calls = []          # (command, path, what the handler read)
    entered = None      # threading.Semaphore, released as a do_* begins

    def log_message(self, format, *args):
        pass

    def _answer(self):
        cls = type(self)
        if cls.entered is not None:
            cls.entered.release()
        got = None
        if self.path == "/read-cl":
            got = self.rfile.read(int(self.headers["Content-Length"]))
        elif self.path == "/body":
            got = self.read_body()
        elif self.path == "/part":
            got = self.rfile.read(5)
        cls.calls.append((self.command, self.path, got))
        trailers = self.trailers
        reply = b"%d" % (-1 if got is None else len(got))
        if trailers is not None:
            reply += b" trailers=" + repr(trailers.items()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = _answer


def start(server_class, handler=Handler):
    handler.calls = []
    return start_server(server_class, handler)


@pytest.fixture(params=SERVERS, ids=lambda c: c.__name__)
def server(request):
    httpd, thread = start(request.param)
    yield httpd
    stop_serving(httpd, thread)


converse = functools.partial(clients.converse, idle=0.3)     # these servers answer at once


# -- 1. memory follows bytes received, never bytes promised -------------------

@pytest.mark.parametrize("server_class", SERVERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("path,declared", [("/read-cl", 10 ** 9), ("/body", 64 * 1024 * 1024)])
def test_declared_size_costs_no_memory(server_class, path, declared):
    # Three requests declare a huge body and send nothing; while their
    # handlers wait in read, the server's allocations must stay small
    # (before: 3 x `declared` bytes, zero-filled).
    Handler.entered = threading.Semaphore(0)
    httpd, thread = start(server_class)
    socks = []
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            s = socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT)
            s.sendall(b"POST %s HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n"
                      % (path.encode(), declared))
            socks.append(s)
        for _ in range(3):
            assert Handler.entered.acquire(timeout=TIMEOUT)
        time.sleep(0.3)         # each handler is in its read now
        peak = tracemalloc.get_traced_memory()[1] - base
        assert peak < 8 * 1024 * 1024, peak
    finally:
        tracemalloc.stop()
        Handler.entered = None
        for s in socks:
            s.close()
        stop_serving(httpd, thread)


def test_reader_read_large_n_is_cheap():
    # werkzeug drains with rfile.read(10_000_000) after each response.
    a, b = socket.socketpair()
    try:
        reader = _core.SocketReader(a)
        b.sendall(b"x")
        b.shutdown(socket.SHUT_WR)
        tracemalloc.start()
        try:
            assert reader.read(10_000_000) == b"x"
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1024 * 1024, peak
    finally:
        a.close()
        b.close()


# -- 2. an unread body never becomes a request --------------------------------

SMUGGLED = b"GET /admin/delete-everything HTTP/1.1\r\nHost: h\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"


def test_unread_content_length_body_is_dropped(server):
    raw, closed = converse(server, b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n"
                           % len(SMUGGLED) + SMUGGLED + NEXT)
    assert [c[1] for c in Handler.calls] == ["/", "/next"]
    assert statuses(raw) == [200, 200] and closed      # by /next's Connection: close


def test_unread_chunked_body_is_dropped(server):
    chunked = b"%x\r\n%s\r\n0\r\nX-T: 1\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    raw, closed = converse(server, b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
                           b"\r\n\r\n" + chunked + NEXT)
    assert [c[1] for c in Handler.calls] == ["/", "/next"]
    assert statuses(raw) == [200, 200] and closed      # by /next's Connection: close


def test_partly_read_body_rest_is_dropped(server):
    raw, _ = converse(server, b"POST /part HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n"
                      % (5 + len(SMUGGLED)) + b"hello" + SMUGGLED + NEXT)
    assert Handler.calls == [("POST", "/part", b"hello"), ("GET", "/next", None)]
    assert statuses(raw) == [200, 200]


def test_unread_body_over_the_bound_closes(server):
    bound = Handler.max_discard_bytes
    filler = b"x" * (bound + 1 - len(SMUGGLED))
    # (idle: a quarter MiB through the pure path takes a while on a loaded machine)
    raw, closed = converse(server, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n"
                           % (bound + 1) + SMUGGLED + filler + NEXT, idle=3.0)
    assert [c[1] for c in Handler.calls] == ["/"]
    assert statuses(raw) == [200] and closed


def test_chunked_body_begun_by_handler_closes(server):
    # The handler read part of a chunked body itself: where the body ends is
    # unknown, so the connection ends rather than guess.
    raw, closed = converse(server, b"POST /part HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
                           b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + NEXT)
    assert [c[1] for c in Handler.calls] == ["/part"]
    assert statuses(raw) == [200] and closed


# -- 3. Host (RFC 9112 3.2) ------------------------------------------------
# What stock and real clients send is served (http.client's Unix socket path,
# names nginx takes); what makes a request ambiguous is refused.

@pytest.mark.parametrize("host", [b"h", b"example.com:8080", b"127.0.0.1", b"[::1]:80",
                                  b"[v1.fe80::a+en1]", b"", b"a-b_c~d.%41", b"h ",
                                  b"/tmp/x/test.sock", b"x:abc", b"ex@mple",
                                  "\u4f8b\u3048.jp".encode(), b"\xe9.com", b"a:1:2",
                                  b"[::1", b"[]", b"[::1]x"])
def test_valid_host_accepted(server, host):
    raw, _ = converse(server, b"GET / HTTP/1.1\r\nConnection: close\r\nHost: " + host + b"\r\n\r\n")
    assert statuses(raw) == [200]


@pytest.mark.parametrize("head", [
    b"Host: a\r\nHost: a",              # two, even equal
    b"Host: a\r\nHost: b",
    b"Host: a b",                       # whitespace inside
    b"Host: a\tb",
    b"Host: a\x00b",                    # control bytes (refused as a field value)
    b"Host: a\x1bb",
])
def test_bad_host_refused(server, head):
    raw, closed = converse(server, b"GET / HTTP/1.1\r\n" + head + b"\r\n\r\n")
    assert statuses(raw) == [400] and closed
    assert Handler.calls == []


def test_missing_host_accepted_by_default_refused_on_request():
    class Strict(Handler):
        require_host = True

    for server_class in SERVERS:
        httpd, thread = start(server_class, Strict)
        try:
            raw, _ = converse(httpd, b"GET / HTTP/1.1\r\n\r\n")
            assert statuses(raw) == [400]
            raw, _ = converse(httpd, b"GET / HTTP/1.0\r\n\r\n")     # 1.0: no Host needed
            assert statuses(raw) == [200]
        finally:
            stop_serving(httpd, thread)
        httpd, thread = start(server_class, Handler)
        try:
            raw, _ = converse(httpd, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert statuses(raw) == [200]
        finally:
            stop_serving(httpd, thread)


# -- 4. chunked framing: CRLF only ------------------------------------------

@pytest.mark.parametrize("body", [b"5\nhello\r\n0\r\n\r\n", b"5\r\nhello\n0\r\n\r\n",
                                  b"5\r\nhello\r\n0\n\r\n"])
def test_chunked_bare_lf_refused(server, body):
    raw, closed = converse(server, b"POST /body HTTP/1.1\r\nHost: h\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert statuses(raw) == [400] and closed


# -- 5. read_body() with tiny chunks ----------------------------------------

def test_tiny_chunks_refused(server):
    body = b"1\r\nx\r\n" * 20000 + b"0\r\n\r\n"
    # (idle: the pure path takes a while over 20,000 chunks on a loaded machine)
    raw, closed = converse(server, b"POST /body HTTP/1.1\r\nHost: h\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" + body, idle=3.0)
    assert statuses(raw) == [400] and closed
    assert b"chunks too small" in raw


def test_small_chunks_memory_follows_body():
    # 1 MiB in 48-byte chunks, read by read_body(): the peak stays near the
    # body's size (before: a bytes object per chunk, then the join).
    size, piece = 256 * 1024, 48
    data = b"".join(b"%x\r\n%s\r\n" % (piece, b"y" * piece) for _ in range(size // piece))
    data += b"0\r\n\r\n"
    a, b = socket.socketpair()

    class Fake:
        rfile = _core.SocketReader(a)
        headers = {"Transfer-Encoding": "chunked"}
        max_head_bytes = 65536
        trailers = None

    sender = threading.Thread(target=b.sendall, args=(data,))
    sender.start()
    try:
        from fasthttp.body import read_chunked
        gc.collect()
        tracemalloc.start()
        try:
            got = read_chunked(Fake(), None)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(got) == size // piece * piece
        assert peak < 2.5 * size, peak
    finally:
        sender.join(TIMEOUT)
        a.close()
        b.close()


# -- 6. graceful stop lets a body in flight finish ---------------------------

def _serve(graceful_timeout):
    box = []
    thread = threading.Thread(target=fasthttp.serve, args=(Handler, ("127.0.0.1", 0)),
                              kwargs={"ready": box.append, "poll_interval": 0.05,
                                      "graceful_timeout": graceful_timeout}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not box and time.monotonic() < deadline:
        time.sleep(0.01)
    return box[0], thread


def _upload_across_stop(httpd, total, first, pause):
    """Send `first` bytes of a `total`-byte body, stop the server, pause,
    send the rest; -> (response bytes, was the idle connection closed?)"""
    idle = socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT)
    idle.sendall(NEXT)
    assert idle.recv(4096).startswith(b"HTTP/1.1 200")
    Handler.entered = threading.Semaphore(0)
    up = socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT)
    try:
        up.sendall(b"POST /read-cl HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % total
                   + b"z" * first)
        assert Handler.entered.acquire(timeout=TIMEOUT)
        httpd.stop()
        idle.settimeout(1.0)
        idle_closed = idle.recv(10) == b""
        time.sleep(pause)
        try:
            up.sendall(b"z" * (total - first))
        except OSError:
            pass
        up.settimeout(TIMEOUT)
        raw = b""
        while True:
            try:
                chunk = up.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            raw += chunk
        return raw, idle_closed
    finally:
        Handler.entered = None
        up.close()
        idle.close()


# Larger than the engine buffers before a handler runs: the handler reads it.
STREAMED = fasthttp.ThreadingHTTPServer.max_buffered_body + 1_000_000


def test_graceful_stop_lets_body_finish():
    Handler.calls = []
    httpd, thread = _serve(graceful_timeout=3.0)
    raw, idle_closed = _upload_across_stop(httpd, STREAMED, 100_000, 0.3)
    thread.join(TIMEOUT)
    assert idle_closed
    assert statuses(raw) == [200] and raw.endswith(b"\r\n\r\n%d" % STREAMED)
    assert [c[2] is not None and len(c[2]) for c in Handler.calls] == [False, STREAMED]


def test_graceful_stop_past_timeout_is_no_short_body():
    Handler.calls = []
    httpd, thread = _serve(graceful_timeout=0.3)
    raw, _ = _upload_across_stop(httpd, STREAMED, 100_000, 1.0)
    thread.join(TIMEOUT)
    assert statuses(raw) == []          # no answer; the handler never saw a short body
    assert [c[1] for c in Handler.calls] == ["/next"]


# -- 7. body and send timeouts -----------------------------------------------

def test_body_timeout_drops_a_silent_client():
    # (LoopHTTPServer: its own io_timeout bounds the waits, see loop.py.)
    class Quick(Handler):
        body_timeout = 0.3

    for server_class in [fasthttp.ThreadingHTTPServer]:
        httpd, thread = start(server_class, Quick)
        try:
            with socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT) as s:
                s.sendall(b"POST /read-cl HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nab")
                started = time.monotonic()
                assert s.recv(100) == b""       # dropped, no answer
                assert time.monotonic() - started < 3
            assert Quick.calls == []
        finally:
            stop_serving(httpd, thread)


def test_send_timeout_drops_a_client_that_stops_reading():
    done = threading.Event()
    outcome = []

    class Big(fasthttp.BaseHTTPRequestHandler):
        send_timeout = 0.3

        def log_message(self, format, *args):
            pass

        def log_error(self, format, *args):
            outcome.append(format % args)

        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(1000):           # 64 MB: far beyond the socket buffers
                    self.wfile.write(b"x" * 65536)
                outcome.append("all written")
            finally:
                done.set()

    httpd, thread = start(fasthttp.ThreadingHTTPServer, Big)
    try:
        with socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert done.wait(TIMEOUT)           # not blocked forever
        assert outcome and "timed out" in outcome[0]
    finally:
        stop_serving(httpd, thread)


# -- 8. self.trailers, per request -------------------------------------------

def test_trailers_reset_per_request(server):
    raw, _ = converse(server, b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"1\r\na\r\n0\r\nX-T: 1\r\n\r\n"
                      b"POST /body HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"1\r\nb\r\n0\r\n\r\n"
                      b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert statuses(raw) == [200, 200, 200]
    assert raw.count(b"trailers=") == 1 and b"trailers=[('X-T', '1')]" in raw
    assert fasthttp.BaseHTTPRequestHandler.trailers is None


# -- 9. CR/LF in send_header ---------------------------------------------------

@pytest.mark.parametrize("keyword,value", [("X", "a\r\nSet-Cookie: s=1"), ("X", "a\nb"),
                                           ("X", "a\rb"), ("X\r\nY", "v"), ("X", 1.5j)])
def test_send_header_refuses_cr_lf(keyword, value):
    import io

    class Socketless(fasthttp.BaseHTTPRequestHandler):
        def __init__(self):
            self.request_version = "HTTP/1.1"
            self.wfile = io.BytesIO()
            self._headers_buffer = []

    h = Socketless()
    if isinstance(value, complex):          # no CR/LF: accepted, as the stdlib
        h.send_header(keyword, value)
        assert h._headers_buffer == [b"X: 1.5j\r\n"]
        return
    with pytest.raises(ValueError):
        h.send_header(keyword, value)
    assert h._headers_buffer == []
