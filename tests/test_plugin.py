"""fasthttp.pytest_plugin: the benchmark kit for users' own handlers.

The helpers are checked directly (the same bytes as http.server, but through
fasthttp's code); the fixtures as a user meets them, in pytester runs that load
the plugin the way the pytest11 entry point does (``-p fasthttp.pytest_plugin``;
a no-op when the installed package already registered it under that name).
"""

from __future__ import annotations

import functools
import http.server as stdlib_server
import importlib.metadata
import re
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

import fasthttp
from fasthttp import pytest_plugin as plugin

pytest_plugins = ["pytester"]

PLUGIN = ["-p", "fasthttp.pytest_plugin"]
# Enough rounds to have a median, few enough to stay quick.
QUICK_BENCH = ["--benchmark-min-rounds=3", "--benchmark-max-time=0.02",
               "--benchmark-warmup=off", "-p", "no:cacheprovider"]
README = Path(__file__).resolve().parent.parent / "README.md"


class Hello(stdlib_server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"hello " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class FastOnly(fasthttp.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204)
        self.end_headers()


def no_date(raw: bytes) -> bytes:
    return re.sub(rb"Date: [^\r]*\r\n", b"Date: -\r\n", raw)


GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
# RFC 9112 6.1: fasthttp answers 400; http.server hands it to the handler.
SMUGGLE = (b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           b"Transfer-Encoding: chunked\r\n\r\nhello")


# -- the helpers ----------------------------------------------------------------

def test_handler_class_puts_fasthttp_under_the_users_class():
    fast = plugin.handler_class(Hello, "fasthttp")
    assert plugin.handler_class(Hello, "stdlib") is Hello
    assert plugin.handler_class(Hello, "fasthttp-loop") is fast
    mro = fast.__mro__
    assert mro.index(Hello) < mro.index(fasthttp.BaseHTTPRequestHandler) \
        < mro.index(stdlib_server.BaseHTTPRequestHandler)
    assert fast.__name__ == "Hello"

    class Files(stdlib_server.SimpleHTTPRequestHandler):
        pass

    part = plugin.handler_class(functools.partial(Files, directory="/tmp"), "fasthttp")
    assert part.keywords == {"directory": "/tmp"}
    assert issubclass(part.func, fasthttp.SimpleHTTPRequestHandler)

    assert plugin.handler_class(FastOnly, "fasthttp") is FastOnly
    with pytest.raises(TypeError, match="cannot run on http.server"):
        plugin.handler_class(FastOnly, "stdlib")
    with pytest.raises(TypeError, match="not a subclass"):
        plugin.handler_class(object, "fasthttp")


def test_socketless_same_bytes_through_fasthttp():
    std, fast = plugin.run_socketless(Hello, "stdlib"), plugin.run_socketless(Hello, "fasthttp")
    for raw in (GET, POST, GET + POST + GET, b"HEAD /h HTTP/1.0\r\n\r\n"):
        out = std(raw)
        assert out.startswith(b"HTTP/1.")
        assert no_date(fast(raw)) == no_date(out)
    assert std(GET + GET).count(b"HTTP/1.1 200") == 2
    # The fasthttp run really is fasthttp's code, not the stdlib's again.
    assert std(SMUGGLE).startswith(b"HTTP/1.1 201")
    assert fast(SMUGGLE).startswith(b"HTTP/1.0 400") or fast(SMUGGLE).startswith(b"HTTP/1.1 400")


def test_socketless_partial_and_server():
    seen = []

    class Args(Hello):
        def __init__(self, *args, tag, **kwargs):
            self.tag = tag
            super().__init__(*args, **kwargs)

        def do_GET(self):
            seen.append((self.tag, self.server))
            super().do_GET()

    server = object()
    run = plugin.run_socketless(functools.partial(Args, tag="t"), "fasthttp", server)
    assert run(GET).endswith(b"hello /a")
    assert seen == [("t", server)]


@pytest.mark.parametrize("impl", plugin.IMPLEMENTATIONS)
def test_bench_server_same_bytes_and_stops(impl):
    before = {t.ident for t in threading.enumerate()}
    with plugin.BenchServer(Hello, "stdlib") as ref, plugin.BenchServer(Hello, impl) as s:
        want, got = ref.client(), s.client()
        for raw in (GET, POST, b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /ten HTTP/1.0\r\n\r\n", GET):       # 1.0: closed, then a new connection
            assert no_date(got(raw)) == no_date(want(raw))
        assert got(GET).endswith(b"hello /a")
        address = s.address
    # Connection threads may take a moment to exit after their last statement.
    deadline = time.monotonic() + 2
    while {t.ident for t in threading.enumerate()} - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {t.ident for t in threading.enumerate()} <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()


# -- the fixtures, as a user runs them -----------------------------------------

def readme_recipe() -> str:
    if not README.is_file():
        pytest.skip("README.md is not beside the tests (an installed copy)")
    text = README.read_text(encoding="utf-8")
    section = text.split("## Benchmark your own handler", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_recipe_runs_and_prints_ratios(pytester):
    pytester.makepyfile(test_bench_mine=readme_recipe())
    result = pytester.runpytest(*PLUGIN, *QUICK_BENCH)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines([
        "*fasthttp vs http.server: stdlib median / median*",
        "test_bench_mine.py::test_socketless (socketless): fasthttp *.**x",
        "test_bench_mine.py::test_socket (socket): fasthttp *.**x, fasthttp-loop *.**x",
    ])
    # pytest-benchmark's table: one group per test and transport.
    result.stdout.fnmatch_lines(["*benchmark 'test_bench_mine.py::test_socket (socket)': 3 tests*"])


def test_fixtures_without_benchmark_and_teardown(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(fasthttp.__file__).resolve().parent.parent))
    pytester.makepyfile(f"""
        import socket, threading, pytest
        from http.server import BaseHTTPRequestHandler
        import fasthttp

        class Hello(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
            def log_message(self, *a):
                pass

        class FastOnly(fasthttp.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(204)
                self.end_headers()

        addresses = []

        def test_socket(http_bench_socket):
            send = http_bench_socket(Hello)
            addresses.append(send.address)
            assert send(b"GET / HTTP/1.0\\r\\n\\r\\n").startswith(b"HTTP/1.0 200")
            assert http_bench_socket.impl in {plugin.IMPLEMENTATIONS!r}

        def test_socketless(http_bench_socketless):
            assert http_bench_socketless(Hello)(b"GET / HTTP/1.0\\r\\n\\r\\n").startswith(b"HTTP/1.0 200")

        def test_fast_only(http_bench_socketless):
            assert http_bench_socketless(FastOnly)(b"GET / HTTP/1.0\\r\\n\\r\\n").startswith(b"HTTP/1.0 204")

        def test_zz_servers_stopped():
            assert len(addresses) == 3
            assert not [t for t in threading.enumerate() if t.name.startswith("fasthttp-bench-")]
            for address in addresses:
                with pytest.raises(ConnectionRefusedError):
                    socket.create_connection(address, timeout=2)

        def test_no_benchmark_import():
            import sys
            assert "pytest_benchmark" not in sys.modules
    """)
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:benchmark", "-rs")
    result.assert_outcomes(passed=8, skipped=1)
    result.stdout.fnmatch_lines(["*FastOnly derives from fasthttp's handler classes*"])
    result.stdout.no_fnmatch_line("*fasthttp vs http.server*")


def test_plugin_leaves_other_suites_alone(pytester):
    pytest.importorskip("pytest_benchmark")
    pytester.makepyfile("""
        def test_plain(benchmark):
            assert benchmark(sum, [1, 2]) == 3
    """)
    result = pytester.runpytest(*PLUGIN, *QUICK_BENCH)
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*fasthttp vs http.server*")


def test_entry_point_when_installed():
    try:
        dist = importlib.metadata.distribution("fasthttp")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("fasthttp is not installed (source tree): no entry points to read")
    if Path(dist.locate_file("fasthttp/__init__.py")).resolve() != \
            Path(fasthttp.__file__).resolve():
        pytest.skip("the installed fasthttp is not the one under test")
    eps = [ep for ep in dist.entry_points if ep.group == "pytest11"]
    assert [(ep.name, ep.value) for ep in eps] == \
        [("fasthttp.pytest_plugin", "fasthttp.pytest_plugin")]
    assert sys.modules["fasthttp.pytest_plugin"] is plugin
