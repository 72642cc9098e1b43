"""Request-head parsing: raw bytes -> a handler ready for do_GET, with ``headers`` built.

One group per corpus request (``parse[<request>]``); implementations:

  stdlib           http.server.BaseHTTPRequestHandler, socketless the way CPython's own tests
                   build it: a subclass whose __init__ sets rfile = BytesIO(data), wfile =
                   BytesIO(); then raw_requestline = rfile.readline(65537); parse_request().
  fasthttp         the same steps on fasthttp.BaseHTTPRequestHandler.
  stdlib-socket    a real socket.socketpair(): the request bytes are written to the peer
                   beforehand (untimed), the handler is constructed through the normal
                   setup() path (rfile = the socket's makefile), then readline + parse_request.
  fasthttp-socket  the same over fasthttp's setup(), i.e. over fasthttp's own socket reader.
                   Skipped when fasthttp's setup() leaves a plain io.BufferedReader as rfile
                   (no reader of its own to measure).
  httptools        httptools.HttpRequestParser with on_url/on_header/on_headers_complete
                   callbacks, names and values decoded latin-1, an http.client.HTTPMessage
                   built with ``msg._headers.append((name, value))`` -- the cheapest honest
                   way: for the compat32 policy HTTPMessage uses, ``msg[name] = value`` ends in
                   exactly that append after a policy round-trip that changes nothing. A new
                   parser per iteration, as the handler variants build a new handler.

Timed: construction + readline + parse_request (or feed_data + header message). Before timing,
each variant's result is checked once against the stdlib (command, path, version, headers).
"""

from __future__ import annotations

import io
import socket
from http.client import HTTPMessage

import pytest
from benchlib import (
    CLIENT_ADDRESS,
    PARSE_REQUESTS,
    StubServer,
    base_handler,
    require_httptools,
    tag,
)

DEFAULT_REQUESTS = PARSE_REQUESTS
SOCKET_ROUNDS = 3000  # pedantic rounds for the socket variants (one request per round)

_SERVER = StubServer()


def socketless_handler_class(base):
    class SocketlessHandler(base):
        protocol_version = "HTTP/1.1"

        def __init__(self, data):
            self.request = None
            self.client_address = CLIENT_ADDRESS
            self.server = _SERVER
            self.rfile = io.BytesIO(data)
            self.wfile = io.BytesIO()

        def log_message(self, format, *args):  # noqa: A002
            pass

    return SocketlessHandler


def socket_handler_class(base):
    class SocketHandler(base):
        protocol_version = "HTTP/1.1"

        def __init__(self, sock):
            self.request = sock
            self.client_address = CLIENT_ADDRESS
            self.server = _SERVER
            self.setup()

        def log_message(self, format, *args):  # noqa: A002
            pass

    return SocketHandler


def parse_with_handler(cls, arg):
    h = cls(arg)
    h.raw_requestline = h.rfile.readline(65537)
    h.parse_request()
    _ = h.headers   # fasthttp makes it on first read: time it being made, as the stdlib does
    return h


def summary_of_handler(h):
    return (h.command, h.path, h.request_version, list(h.headers.items()))


# --------------------------------------------------------------------------- httptools


class _HeadCollector:
    __slots__ = ("url", "pairs", "complete")

    def __init__(self):
        self.url = b""
        self.pairs = []
        self.complete = False

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.pairs.append((name, value))

    def on_headers_complete(self):
        self.complete = True


def make_httptools_parse():
    parser_cls = require_httptools().HttpRequestParser

    def httptools_parse(data):
        collector = _HeadCollector()
        parser = parser_cls(collector)
        parser.feed_data(data)
        msg = HTTPMessage()
        append = msg._headers.append
        for name, value in collector.pairs:
            append((name.decode("latin-1"), value.decode("latin-1")))
        return (
            parser.get_method().decode("latin-1"),
            collector.url.decode("latin-1"),
            "HTTP/" + parser.get_http_version(),
            msg,
        )

    return httptools_parse


# --------------------------------------------------------------------------- benchmarks

IMPLS = ["stdlib", "fasthttp", "httptools", "stdlib-socket", "fasthttp-socket"]


@pytest.fixture
def expected(request_bytes):
    """What the stdlib makes of this request: the reference every variant must match."""
    import http.server

    h = parse_with_handler(socketless_handler_class(http.server.BaseHTTPRequestHandler), request_bytes)
    assert h.command, f"stdlib rejected the request: {h.wfile.getvalue()[:200]!r}"
    return summary_of_handler(h)


@pytest.mark.parametrize("impl", IMPLS)
def test_parse(benchmark, impl, req, request_bytes, expected):
    benchmark.group = f"parse[{req}]"
    if impl == "httptools":
        parse = make_httptools_parse()
        method, path, version, msg = parse(request_bytes)
        assert (method, path, version, list(msg.items())) == expected
        tag(benchmark, impl, headers="HTTPMessage via _headers.append")
        benchmark(parse, request_bytes)
    elif impl.endswith("-socket"):
        _bench_over_socketpair(benchmark, impl, request_bytes, expected)
    else:
        cls = socketless_handler_class(base_handler(impl))
        assert summary_of_handler(parse_with_handler(cls, request_bytes)) == expected
        tag(benchmark, impl, reader="io.BytesIO")
        benchmark(parse_with_handler, cls, request_bytes)


def _bench_over_socketpair(benchmark, impl, data, expected):
    cls = socket_handler_class(base_handler(impl))
    server_sock, client_sock = socket.socketpair()
    last = []  # the handler built in the previous round, finished (untimed) in the next setup

    def finish_last():
        while last:
            h = last.pop()
            h.finish()

    def setup():
        finish_last()
        client_sock.sendall(data)
        return (cls, server_sock), {}

    def target(cls_, sock):
        h = parse_with_handler(cls_, sock)
        last.append(h)
        return h

    try:
        client_sock.sendall(data)
        h = parse_with_handler(cls, server_sock)
        reader = f"{type(h.rfile).__module__}.{type(h.rfile).__qualname__}"
        last.append(h)
        if impl.startswith("fasthttp") and type(h.rfile).__module__ in ("io", "_io", "socket"):
            pytest.skip(f"fasthttp's setup() gives no socket reader of its own (rfile is {reader})")
        assert summary_of_handler(h) == expected
        tag(benchmark, impl, reader=reader)
        h = benchmark.pedantic(target, setup=setup, rounds=SOCKET_ROUNDS, warmup_rounds=50)
        # Every round must have consumed exactly its own request (nothing stale left behind).
        assert summary_of_handler(h) == expected
        finish_last()
        server_sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            server_sock.recv(1)
    finally:
        finish_last()
        server_sock.close()
        client_sock.close()
