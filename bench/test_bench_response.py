"""Response head writing: send_response(200) + 2 send_header + end_headers into a BytesIO.

Groups (each compares stdlib and fasthttp on the same work):

  response[quiet]       log_message overridden to do nothing.
  response[log-stderr]  the default log_message (send_response -> log_request -> log_message
                        writes one line to sys.stderr); sys.stderr is an io.StringIO for the
                        duration of the benchmark and restored after.

The handler is socketless (wfile = BytesIO, rewound each iteration so it does not grow) and
carries the state parse_request leaves behind for ``GET / HTTP/1.1``. Send_response includes
the Server and Date headers, as in a real response. The bytes written are checked once
against the stdlib's before timing (Date masked).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys

import pytest
from benchlib import CLIENT_ADDRESS, StubServer, base_handler, tag

_SERVER = StubServer()


def response_handler(base, *, quiet: bool):
    class ResponseHandler(base):
        protocol_version = "HTTP/1.1"

        def __init__(self):
            self.request = None
            self.client_address = CLIENT_ADDRESS
            self.server = _SERVER
            self.rfile = io.BytesIO()
            self.wfile = io.BytesIO()
            # what parse_request leaves for "GET / HTTP/1.1"
            self.raw_requestline = b"GET / HTTP/1.1\r\n"
            self.requestline = "GET / HTTP/1.1"
            self.command = "GET"
            self.path = "/"
            self.request_version = "HTTP/1.1"
            self.close_connection = False

    if quiet:
        ResponseHandler.log_message = lambda self, format, *args: None
    return ResponseHandler()


def respond(h):
    h.wfile.seek(0)
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.send_header("Content-Length", "13")
    h.end_headers()


def written(h) -> bytes:
    h.wfile.seek(0)
    h.wfile.truncate()
    respond(h)
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: <masked>\r\n", h.wfile.getvalue())


@contextlib.contextmanager
def stderr_to_memory():
    """sys.stderr -> a fresh io.StringIO, restored after.

    Swapped inside the test body: pytest's own capture re-sets sys.stderr at the start of
    each test phase, so a fixture's swap would be undone before the benchmark runs.
    """
    saved, sink = sys.stderr, io.StringIO()
    sys.stderr = sink
    try:
        yield sink
    finally:
        sys.stderr = saved


@pytest.mark.parametrize("impl", ["stdlib", "fasthttp"])
def test_response_quiet(benchmark, impl):
    benchmark.group = "response[quiet]"
    h = response_handler(base_handler(impl), quiet=True)
    assert written(h) == written(response_handler(base_handler("stdlib"), quiet=True))
    tag(benchmark, impl, log="off")
    benchmark(respond, h)


@pytest.mark.parametrize("impl", ["stdlib", "fasthttp"])
def test_response_log_stderr(benchmark, impl):
    benchmark.group = "response[log-stderr]"
    h = response_handler(base_handler(impl), quiet=False)
    with stderr_to_memory() as sink:
        expected = written(response_handler(base_handler("stdlib"), quiet=False))
        assert written(h) == expected
        lines = sink.getvalue().splitlines()
        assert len(lines) == 2, lines
        for line in lines:
            assert re.fullmatch(r'127\.0\.0\.1 - - \[.+\] "GET / HTTP/1\.1" 200 -', line), lines
        tag(benchmark, impl, log="stderr -> io.StringIO")
        benchmark(respond, h)
        benchmark.extra_info["log_chars"] = sink.tell()
