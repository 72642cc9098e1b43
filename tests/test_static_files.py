"""SimpleHTTPRequestHandler's byte ranges and sendfile bodies (fasthttp/static.py).

Real sockets on 127.0.0.1, on ThreadingHTTPServer and LoopHTTPServer; full
responses are compared with http.server's own SimpleHTTPRequestHandler
serving the same directory.
"""

from __future__ import annotations

import email.utils
import http.client
import http.server
import io
import mimetypes
import os
import shutil
import socket
import ssl
import subprocess
import threading
from contextlib import closing

import pytest
import support  # noqa: F401  (puts the repository's fasthttp on sys.path)
from servers import serve_in_thread, start_server, stop_serving

import fasthttp
from fasthttp import static
from fasthttp.loop import LoopHTTPServer

DATA = bytes(range(256)) * 400              # 102,400 bytes: > the loop's gather limit
BIG = os.urandom(1 << 20) * 4               # 4 MiB: the socket buffer fills (EAGAIN)
SIZE = len(DATA)
MTIME = 1_600_000_000


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("static")
    (d / "data.bin").write_bytes(DATA)
    (d / "big.bin").write_bytes(BIG)
    (d / "empty.txt").write_bytes(b"")
    (d / "hello.txt").write_bytes(b"Hello, world!\n")
    (d / "x.fhtest").write_bytes(b"x")
    (d / "sub").mkdir()
    (d / "sub" / "index.html").write_bytes(b"<p>index</p>\n")
    (d / "list").mkdir()
    (d / "list" / "a.txt").write_bytes(b"a\n")
    for p in d.rglob("*"):
        os.utime(p, (MTIME, MTIME))
    return d


class Quiet:
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, *args):
        pass


def _start(server_class, handler, root):
    # A class, not a partial: LoopHTTPServer serves classes inline.
    cls = type(handler.__name__, (handler,), {"__init__": lambda self, *a: handler.__init__(
        self, *a, directory=str(root))})
    return start_server(server_class, cls)


OURS = type("Ours", (Quiet, fasthttp.SimpleHTTPRequestHandler), {})
STDLIB = type("Stdlib", (Quiet, http.server.SimpleHTTPRequestHandler), {})
SERVERS = {"threading": fasthttp.ThreadingHTTPServer, "loop": LoopHTTPServer}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def port(request, root):
    httpd, thread = _start(SERVERS[request.param], OURS, root)
    yield httpd.server_address[1]
    stop_serving(httpd, thread, 5)


@pytest.fixture(scope="module")
def stdlib_port(root):
    httpd, thread = _start(http.server.ThreadingHTTPServer, STDLIB, root)
    yield httpd.server_address[1]
    stop_serving(httpd, thread, 5)


def get(port, path, headers=None, method="GET", conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    if conn is None:
        c.close()
    return r.status, r.headers, body


LAST_MODIFIED = email.utils.formatdate(MTIME, usegmt=True)


@pytest.mark.parametrize("spec, start, end", [
    ("bytes=0-99", 0, 99),                      # first
    ("bytes=1000-1999", 1000, 1999),            # middle
    ("bytes=-500", SIZE - 500, SIZE - 1),       # suffix
    ("bytes=-999999", 0, SIZE - 1),             # suffix longer than the file
    ("bytes=100000-", 100000, SIZE - 1),        # open-ended
    ("bytes=100000-999999", 100000, SIZE - 1),  # last-pos past the end
    ("bytes=7-7", 7, 7),                        # one byte
    ("Bytes = 5-9", 5, 9),                      # unit case, whitespace
])
def test_range(port, spec, start, end):
    status, headers, body = get(port, "/data.bin", {"Range": spec})
    assert status == 206
    assert headers["Content-Range"] == "bytes %d-%d/%d" % (start, end, SIZE)
    assert headers["Content-Length"] == str(end - start + 1)
    assert headers["Content-type"] == "application/octet-stream"
    assert headers["Last-Modified"] == LAST_MODIFIED
    assert body == DATA[start:end + 1]


@pytest.mark.parametrize("path, spec, size", [
    ("/data.bin", "bytes=%d-" % SIZE, SIZE),
    ("/data.bin", "bytes=999999-1000000", SIZE),
    ("/data.bin", "bytes=-0", SIZE),
    ("/empty.txt", "bytes=0-", 0),
    ("/empty.txt", "bytes=-5", 0),
])
def test_unsatisfiable(port, path, spec, size):
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=10)) as c:
        status, headers, body = get(port, path, {"Range": spec}, conn=c)
        assert (status, body) == (416, b"")
        assert headers["Content-Range"] == "bytes */%d" % size
        # The connection stays usable.
        assert get(port, "/hello.txt", conn=c)[2] == b"Hello, world!\n"


# Past off_t's largest value (2**63 - 1): nginx answers 416. Thousands of
# digits, past int()'s own limit (4,300 since 3.11), must not reach int().
HUGE = "9" * 5000
ZEROS = "0" * 5000


@pytest.mark.parametrize("spec", [
    "bytes=%s-" % HUGE, "bytes=0-%s" % HUGE, "bytes=-%s" % HUGE, "bytes=%s-%s" % (HUGE, HUGE),
    "bytes=%d-" % (1 << 63), "bytes=0-%d" % (1 << 63), "bytes=-%d" % (1 << 63),
    "bytes=%d-" % ((1 << 63) - 1),                  # the largest offset: past this file
], ids=["5000-digit-start", "5000-digit-end", "5000-digit-suffix", "5000-digit-both",
        "2**63-start", "2**63-end", "2**63-suffix", "2**63-1-start"])
def test_range_past_any_file_offset(port, spec):
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=10)) as c:
        status, headers, body = get(port, "/data.bin", {"Range": spec}, conn=c)
        assert (status, body) == (416, b"")
        assert headers["Content-Range"] == "bytes */%d" % SIZE
        assert get(port, "/hello.txt", conn=c)[2] == b"Hello, world!\n"


def test_range_leading_zeros_do_not_count(port):
    status, headers, body = get(port, "/data.bin", {"Range": "bytes=%s5-%s9" % (ZEROS, ZEROS)})
    assert (status, body) == (206, DATA[5:10])
    status, _, body = get(port, "/data.bin", {"Range": "bytes=-%s3" % ZEROS})
    assert (status, body) == (206, DATA[-3:])


@pytest.mark.parametrize("spec", [
    "bytes=abc", "bytes=5-1", "items=0-1", "bytes=", "bytes=-", "bytes=1-2-3",
    "bytes 0-1", "bytes=+1-2", "bytes=0x1-2", "bytes=\u00b9-2",
    "bytes=0-1,5-6",            # several ranges: the whole file (RFC 9110 14.2)
    "bytes=0-1, 900000-",
])
def test_ignored_range_serves_the_whole_file(port, spec):
    status, headers, body = get(port, "/data.bin", {"Range": spec})
    assert status == 200
    assert "Content-Range" not in headers
    assert headers["Accept-Ranges"] == "bytes"
    assert body == DATA


def test_full_response_announces_ranges(port):
    status, headers, body = get(port, "/data.bin")
    assert (status, body) == (200, DATA)
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Length"] == str(SIZE)


def test_big_file_both_whole_and_range(port):
    assert get(port, "/big.bin")[2] == BIG
    status, _, body = get(port, "/big.bin", {"Range": "bytes=12345-"})
    assert (status, body) == (206, BIG[12345:])


@pytest.mark.parametrize("if_range, partial", [
    (LAST_MODIFIED, True),
    (email.utils.formatdate(MTIME, usegmt=False).replace("-0000", "+0000"), True),
    ("Sunday, 13-Sep-20 12:26:40 GMT", True),       # RFC 850 form of the same date
    (email.utils.formatdate(MTIME - 1, usegmt=True), False),
    (email.utils.formatdate(MTIME + 3600, usegmt=True), False),
    ('"some-etag"', False),
    ('W/"weak"', False),
    ("not a date", False),
])
def test_if_range(port, if_range, partial):
    status, headers, body = get(port, "/data.bin", {"Range": "bytes=10-19",
                                                   "If-Range": if_range})
    if partial:
        assert (status, body) == (206, DATA[10:20])
    else:
        assert (status, body) == (200, DATA)
        assert "Content-Range" not in headers


def test_if_modified_since_comes_before_range(port):
    status, _, body = get(port, "/data.bin", {
        "Range": "bytes=0-9", "If-Modified-Since": LAST_MODIFIED})
    assert (status, body) == (304, b"")


def test_head_ignores_range(port):
    status, headers, body = get(port, "/data.bin", {"Range": "bytes=0-9"}, method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(SIZE)
    assert headers["Accept-Ranges"] == "bytes"
    assert "Content-Range" not in headers


def test_keep_alive_after_ranges(port):
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=10)) as c:
        for spec, want in [("bytes=0-0", DATA[:1]), ("bytes=-3", DATA[-3:]),
                           (None, DATA), ("bytes=200-299", DATA[200:300])]:
            status, _, body = get(port, "/data.bin", {"Range": spec} if spec else {}, conn=c)
            assert body == want


def test_index_page_takes_ranges(port):
    status, headers, body = get(port, "/sub/", {"Range": "bytes=3-7"})
    assert (status, body) == (206, b"index")
    assert headers["Content-type"] == "text/html"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", [
    "/hello.txt", "/data.bin", "/empty.txt", "/sub/", "/sub", "/sub?x=1", "/list/",
    "/missing", "/hello.txt/", "/sub/index.html", "/../hello.txt",
])
def test_same_full_responses_as_http_server(port, stdlib_port, method, path):
    theirs = get(stdlib_port, path, method=method)
    ours = get(port, path, method=method)
    assert ours[0] == theirs[0]
    assert ours[2] == theirs[2]
    skip = {"Date", "Accept-Ranges"}
    assert [(k, v) for k, v in ours[1].items() if k not in skip] == \
        [(k, v) for k, v in theirs[1].items() if k not in skip]
    assert ("Accept-Ranges" in ours[1]) == (ours[0] == 200 and "Last-Modified" in ours[1])


def test_range_is_ignored_by_http_server(stdlib_port):
    # What we differ from: the stdlib sends the whole file.
    assert get(stdlib_port, "/data.bin", {"Range": "bytes=0-9"})[:1] == (200,)


# -- sendfile, and the hooks ---------------------------------------------------

@pytest.fixture
def sendfile_calls(monkeypatch):
    if static._sendfile is None:
        pytest.skip("no os.sendfile here")
    calls = []
    real = static._sendfile

    def counting(*args):
        calls.append(args[2:])
        return real(*args)
    monkeypatch.setattr(static, "_sendfile", counting)
    # LoopHTTPServer queues the file on its writer, which calls os.sendfile.
    monkeypatch.setattr(os, "sendfile", counting)
    return calls


def test_sendfile_sends_the_body(port, sendfile_calls):
    assert get(port, "/data.bin", {"Range": "bytes=100-"})[2] == DATA[100:]
    assert sendfile_calls and sendfile_calls[0][0] == 100
    assert sum(n for _, n in sendfile_calls) >= SIZE - 100


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_overridden_hooks_are_used(root, sendfile_calls, server):
    class Custom(OURS):
        def copyfile(self, source, outputfile):
            outputfile.write(source.read().upper())

        def guess_type(self, path):
            return "x-test/custom"

    httpd, thread = _start(SERVERS[server], Custom, root)
    try:
        port = httpd.server_address[1]
        status, headers, body = get(port, "/hello.txt", {"Range": "bytes=0-4"})
        assert (status, body) == (206, b"HELLO")
        assert headers["Content-type"] == "x-test/custom"
        assert get(port, "/hello.txt")[2] == b"HELLO, WORLD!\n"
    finally:
        stop_serving(httpd, thread, 5)
    assert sendfile_calls == []


def test_send_head_returning_another_file(root, sendfile_calls):
    class Generated(OURS):
        def send_head(self):
            f = super().send_head()
            if f is not None:
                f.close()
                f = io.BytesIO(b"generated")
            return f

    httpd, thread = _start(fasthttp.ThreadingHTTPServer, Generated, root)
    try:
        # The headers (Content-Length 14) are ours, the body the subclass's.
        with socket.create_connection(httpd.server_address, timeout=10) as s:
            s.sendall(b"GET /hello.txt HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert data.endswith(b"\r\n\r\ngenerated")
    finally:
        stop_serving(httpd, thread, 5)
    assert sendfile_calls == []


def _fetch_slowly(address, path):
    with socket.create_connection(address, timeout=10) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET %s HTTP/1.0\r\n\r\n" % path)
        threading.Event().wait(0.2)
        data = bytearray()
        while chunk := s.recv(1 << 20):
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize("server_class", [fasthttp.HTTPServer, fasthttp.ThreadingHTTPServer,
                                          LoopHTTPServer])
def test_slow_reader_gets_the_file_by_sendfile(root, sendfile_calls, monkeypatch, server_class):
    """A client slower than the file: HTTPServer's handler (a socket with a
    timeout, so non-blocking underneath) waits for room between sendfile
    calls, as long as its timeout; on the engine the handler queues the
    file and returns, and the loop sends it as the client takes it: no
    thread waits."""
    waits = []
    real_wait = static._wait_writable

    def counting_wait(fd, timeout):
        waits.append(timeout)
        real_wait(fd, timeout)
    monkeypatch.setattr(static, "_wait_writable", counting_wait)
    httpd, thread = _start(server_class, OURS, root)
    try:
        head, body = _fetch_slowly(httpd.server_address, b"/big.bin")
        assert b" 200 OK\r\n" in head
        assert len(body) == len(BIG) and body == BIG
    finally:
        stop_serving(httpd, thread, 5)
    if server_class is fasthttp.HTTPServer:
        assert waits and set(waits) == {OURS.timeout}
    else:
        assert waits == []
    assert len(sendfile_calls) > 1


def test_tls_falls_back_to_copyfileobj(root, cert, sendfile_calls):
    certfile, keyfile = cert
    handler = type("Tls", (OURS,), {"__init__": lambda self, *a: OURS.__init__(
        self, *a, directory=str(root))})
    httpd = fasthttp.ThreadingHTTPSServer(("127.0.0.1", 0), handler,
                                          certfile=certfile, keyfile=keyfile)
    thread = serve_in_thread(httpd)
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = http.client.HTTPSConnection("127.0.0.1", httpd.server_address[1],
                                        context=ctx, timeout=10)
        status, _, body = get(None, "/data.bin", {"Range": "bytes=5-"}, conn=c)
        c.close()
        assert (status, body) == (206, DATA[5:])
    finally:
        stop_serving(httpd, thread, 5)
    assert sendfile_calls == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_fifo_and_device_answer_as_a_missing_file(tmp_path, server):
    # open() of a FIFO waits for a writer: the request's thread, or the whole
    # loop, would wait forever. nginx answers 404 for what is not a regular
    # file; so do we, the missing-file answer, and serve others meanwhile.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "zero").symlink_to("/dev/zero")        # a character device
    (tmp_path / "hello.txt").write_bytes(b"hello")
    httpd, thread = _start(SERVERS[server], OURS, tmp_path)
    port = httpd.server_address[1]
    try:
        with socket.create_connection(httpd.server_address, timeout=5) as hostile:
            hostile.sendall(b"GET /fifo HTTP/1.1\r\nHost: x\r\n\r\n")
            threading.Event().wait(0.2)             # its request is read first
            with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=3)) as c:
                assert get(port, "/hello.txt", conn=c)[2] == b"hello"
            answer = http.client.HTTPResponse(hostile)
            answer.begin()
            missing = get(port, "/missing")
            assert (answer.status, answer.read()) == (404, missing[2])
            assert [(k, v) for k, v in answer.getheaders() if k != "Date"] == \
                [(k, v) for k, v in missing[1].items() if k != "Date"]
        for path in ("/zero", "/fifo"):
            assert get(port, path)[::2] == (404, missing[2])
    finally:
        try:        # a server stuck in open() waits for a writer: be one
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        stop_serving(httpd, thread, 5)


def test_curl_resumes_a_download(port, tmp_path):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    out = tmp_path / "data.bin"
    out.write_bytes(DATA[:12345])
    subprocess.run([curl, "-sS", "--fail", "-C", "-", "-o", str(out),
                    "http://127.0.0.1:%d/data.bin" % port],
                   check=True, capture_output=True, timeout=30)
    assert out.read_bytes() == DATA


def test_type_memo_follows_the_tables(root, port, monkeypatch):
    # Content-types are memoized; mimetypes.add_type and a subclass's own
    # extensions_map must still be seen.
    assert get(port, "/x.fhtest")[1]["Content-type"] == "application/octet-stream"
    monkeypatch.setitem(mimetypes.types_map, ".fhtest", "x-test/added")
    assert get(port, "/x.fhtest")[1]["Content-type"] == "x-test/added"
    own = type("Own", (OURS,), {"extensions_map": {".txt": "x-test/own"}})
    httpd, thread = _start(SERVERS["threading"], own, root)
    try:
        assert get(httpd.server_address[1], "/hello.txt")[1]["Content-type"] == "x-test/own"
    finally:
        stop_serving(httpd, thread, 5)
    assert get(port, "/hello.txt")[1]["Content-type"] == "text/plain"


@pytest.mark.parametrize("value, size, want", [
    ("bytes=0-0", 1, (0, 0)),
    ("bytes=0-", 0, False),
    ("bytes=-1", 1, (0, 0)),
    ("bytes=1-", 1, False),
    ("bytes=\t2-3 ", 10, (2, 3)),
    ("bytes=3-2", 10, None),
    ("bytes=-", 10, None),
    ("bytes=1,2", 10, None),
    ("none", 10, None),
    ("bytes=%d-" % ((1 << 63) - 1), 10, False),
    ("bytes=%d-" % (1 << 63), 1 << 62, False),
    ("bytes=0-%d" % (1 << 63), 10, False),
    ("bytes=0-%d" % ((1 << 63) - 1), 10, (0, 9)),
    ("bytes=%s1-%s2" % ("0" * 5000, "0" * 5000), 10, (1, 2)),
    ("bytes=%s-" % ("1" * 5000), 10, False),
])
def test_parse_range(value, size, want):
    assert static._parse_range(value, size) == want
