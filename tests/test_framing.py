"""Framing (request smuggling), read_body(), and resource bounds.

Each refusal is checked on a running server: the status, that no do_* method
ran, and that the server then closed the connection.
"""
import socket
import threading
import time

import pytest
from clients import converse, statuses
from servers import start_server, stop_serving, threaded_server

import fasthttp

TIMEOUT = 5.0


class Recorder(fasthttp.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    calls = []          # (command, path, body) per do_* call

    def log_message(self, format, *args):
        pass

    def _answer(self):
        try:
            body = self.read_body()
        finally:
            type(self).calls.append((self.command, self.path, None))
        type(self).calls[-1] = (self.command, self.path, body)
        trailers = getattr(self, "trailers", None)
        reply = b"got %d bytes: %s" % (len(body), body)
        if trailers is not None:
            reply += b" trailers=" + repr(trailers.items()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = _answer


@pytest.fixture
def server():
    Recorder.calls = []
    with threaded_server(fasthttp.ThreadingHTTPServer, Recorder) as httpd:
        yield httpd


REFUSED = [
    # (id, head, expected status) -- what the stdlib does is in the README table
    ("cl-and-te", b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te-and-cl", b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Length: 3\r\n\r\nabc", 400),
    ("cl-differ", b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    ("cl-list", b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
    ("cl-plus", b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", 400),
    ("cl-hex", b"POST / HTTP/1.1\r\nContent-Length: 0x3\r\n\r\nabc", 400),
    ("cl-space-inside", b"POST / HTTP/1.1\r\nContent-Length: 3 3\r\n\r\nabc", 400),
    ("cl-empty", b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400),
    ("cl-negative", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    ("cl-unicode-digit", "POST / HTTP/1.1\r\nContent-Length: \u00b2\r\n\r\n".encode("latin-1"), 400),
    ("te-not-final-chunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    ("te-identity", b"POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 400),
    ("te-chunked-twice", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te-gzip-chunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    ("te-in-http10", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te-empty", b"POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
    ("tab-before-colon", b"GET / HTTP/1.1\r\nContent-Length\t: 0\r\n\r\n", 400),
    ("bare-cr-header", b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400),
    ("nul-in-value", b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
    ("ctl-in-name", b"GET / HTTP/1.1\r\nX\x01: a\r\n\r\n", 400),
    ("no-colon", b"GET / HTTP/1.1\r\nnocolon\r\n\r\n", 400),
    ("bad-method", b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("ctl-in-target", b"GET /a\x01b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("space-in-target", b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("nul-in-target", b"GET /\x00 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
    ("bare-cr-request-line", b"GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400),
    ("head-too-large", b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 60000 + b"\r\n" * 1
     + b"".join(b"Y%d: %s\r\n" % (i, b"b" * 60000) for i in range(5)) + b"\r\n", 431),
]


@pytest.mark.parametrize("data,status", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_refused_framing(server, data, status):
    raw, closed = converse(server, data)
    assert statuses(raw) == [status], raw[:300]
    assert b"Connection: close" in raw
    assert closed, "the server must close the connection after refusing"
    assert Recorder.calls == []


def test_content_length_of_more_than_18_digits_reaches_the_handler(server):
    """Any digits are a length to http.server (CPython 3.14's CGI test sends
    up to 2**64): the handler runs; read_body() takes no such body (413, past
    max_body_bytes), and the connection closes, what follows never read as a
    request."""
    raw, closed = converse(server, b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n"
                                   b"\r\nGET /smuggled HTTP/1.1\r\n\r\n")
    assert statuses(raw) == [413], raw[:300]
    assert closed
    assert [c[:2] for c in Recorder.calls] == [("POST", "/")]


def test_identical_duplicate_content_length_is_accepted(server):
    raw, _ = converse(server, b"POST /d HTTP/1.1\r\nContent-Length: 3\r\n"
                              b"Content-Length: 3 \r\n\r\nabc")
    assert statuses(raw) == [200]
    assert raw.endswith(b"got 3 bytes: abc")


def test_read_body_content_length_then_pipelined(server):
    raw, _ = converse(server, b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                              b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
    assert statuses(raw) == [200, 200]
    assert [c[:2] for c in Recorder.calls] == [("POST", "/a"), ("GET", "/b")]
    assert Recorder.calls[0][2] == b"hello" and Recorder.calls[1][2] == b""


def test_read_body_chunked_with_extensions_and_trailers_then_pipelined(server):
    body = (b"4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
            b"0\r\nX-Checksum: abc\r\n\r\n")
    raw, _ = converse(server, b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body
                              + b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
    assert statuses(raw) == [200, 200]
    assert Recorder.calls[0][2] == b"Wikipedia in\r\n\r\nchunks."
    assert b"trailers=[('X-Checksum', 'abc')]" in raw
    assert Recorder.calls[1][:2] == ("GET", "/next")


def test_read_body_chunked_coding_name_any_case(server):
    raw, _ = converse(server, b"POST /c HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
                              b"a\r\nabcdefghij\r\n0\r\n\r\n")
    assert statuses(raw) == [200]
    assert Recorder.calls[0][2] == b"abcdefghij"


@pytest.mark.parametrize("body,status", [
    (b"zz\r\nab\r\n0\r\n\r\n", 400),                 # not hex
    (b"3\r\nabcX\r\n0\r\n\r\n", 400),                # no CRLF after the data
    (b"3\rabc\r\n0\r\n\r\n", 400),                   # bare CR in the size line
    (b"11111111111111111\r\n", 400),                  # 17 hex digits
    (b"3;\x00\r\nabc\r\n0\r\n\r\n", 400),            # control byte in an extension
    (b"3\r\nabc\r\n0\r\nBad Trailer\r\n\r\n", 400),   # malformed trailer
    (b"FFFFFFF\r\n", 413),                            # over max_body_bytes
])
def test_read_body_refuses_bad_chunks(server, body, status):
    raw, closed = converse(server, b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert statuses(raw) == [status], raw[:300]
    assert closed


def test_read_body_limit_on_content_length(server):
    raw, closed = converse(server, b"POST /big HTTP/1.1\r\nContent-Length: %d\r\n\r\n"
                                   % (fasthttp.BaseHTTPRequestHandler.max_body_bytes + 1))
    assert statuses(raw) == [413]
    assert closed


def test_slowloris_is_dropped_while_others_are_served():
    class Quick(Recorder):
        head_timeout = 1.0
    httpd, thread = start_server(fasthttp.ThreadingHTTPServer, Quick)
    try:
        slow = socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT)
        started = time.monotonic()
        dropped_after = None
        served = 0
        request = b"GET /slow HTTP/1.1\r\nHost: h\r\nX-Long: " + b"a" * 100
        for i in range(len(request)):       # one byte per 0.25 s, bounded
            try:
                slow.sendall(request[i:i + 1])
            except OSError:
                dropped_after = time.monotonic() - started
                break
            raw, _ = converse(httpd, b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", idle=0.2)
            served += statuses(raw) == [200]
            slow.settimeout(0.05)
            try:
                if slow.recv(1) == b"":
                    dropped_after = time.monotonic() - started
                    break
            except socket.timeout:
                pass
            if time.monotonic() - started > 4:
                break
        slow.close()
        assert dropped_after is not None and dropped_after < 3.0
        assert served >= 2
        assert ("GET", "/slow") not in [c[:2] for c in Quick.calls]
    finally:
        stop_serving(httpd, thread, TIMEOUT)


def test_max_connections_bounds_threads():
    release = threading.Event()
    active = []
    peak = []

    class Blocking(fasthttp.BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def do_GET(self):
            active.append(1)
            peak.append(len(active))
            release.wait(TIMEOUT)
            active.pop()
            self.send_response(204)
            self.end_headers()

    class Bounded(fasthttp.ThreadingHTTPServer):
        max_connections = 2

    httpd, thread = start_server(Bounded, Blocking)
    socks = []
    try:
        for _ in range(4):
            s = socket.create_connection(httpd.server_address[:2], timeout=TIMEOUT)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            socks.append(s)
        time.sleep(0.5)
        assert len(active) == 2          # two handlers run, two clients wait in the backlog
        release.set()
        for s in socks:
            assert s.recv(100).startswith(b"HTTP/1.0 204")
        assert max(peak) == 2
    finally:
        release.set()
        for s in socks:
            s.close()
        stop_serving(httpd, thread, TIMEOUT)


def test_read_body_each_request_of_a_connection(server):
    # Regression: the handler lives as long as the connection; read_body()
    # must read every request's body, not only the first one's.
    raw, _ = converse(server, b"POST /1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                              b"POST /2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
                              b"POST /3 HTTP/1.1\r\nContent-Length: 1\r\n\r\nf"
                              b"GET /4 HTTP/1.1\r\n\r\n")
    assert statuses(raw) == [200, 200, 200, 200]
    assert [c[2] for c in Recorder.calls] == [b"abc", b"de", b"f", b""]
