"""fasthttp's pytest plugin (_fasthttp_pytestplugin) and its benchmark kit
(fasthttp.benchkit).

The kit's helpers are checked directly (the same bytes as http.server, but
through fasthttp's code); the fixtures as a user meets them, in pytester runs
that load the plugin the way the pytest11 entry point does (``-p
_fasthttp_pytestplugin``; a no-op when the installed package already
registered it under that name). The plugin stays out of the way of every
other pytest run: nothing of fasthttp imported before a fixture asks, fasthttp
not rewritten, no warning with a pure install, nothing at all on a pytest
older than its floor. (tools/dist_check.py checks the same on a pure wheel,
installed, with pytest 6.2.5 as well.)
"""

from __future__ import annotations

import functools
import http.server as stdlib_server
import importlib.metadata
import importlib.util
import re
import shutil
import socket
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import support  # noqa: F401  (puts the repository's fasthttp on sys.path)

import _fasthttp_pytestplugin as plugin
import fasthttp
from fasthttp import benchkit as kit

pytest_plugins = ["pytester"]

PLUGIN = ["-p", "_fasthttp_pytestplugin"]
# Enough rounds to have a median, few enough to stay quick.
QUICK_BENCH = ["--benchmark-min-rounds=3", "--benchmark-max-time=0.02",
               "--benchmark-warmup=off", "-p", "no:cacheprovider"]
README = Path(__file__).resolve().parent.parent / "README.md"
# Where the plugin module and the fasthttp package are (a source tree or site-packages).
HOME = Path(plugin.__file__).resolve().parent


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
    fast = kit.handler_class(Hello, "fasthttp")
    assert kit.handler_class(Hello, "stdlib") is Hello
    assert kit.handler_class(Hello, "fasthttp-loop") is fast
    mro = fast.__mro__
    assert mro.index(Hello) < mro.index(fasthttp.BaseHTTPRequestHandler) \
        < mro.index(stdlib_server.BaseHTTPRequestHandler)
    assert fast.__name__ == "Hello"

    class Files(stdlib_server.SimpleHTTPRequestHandler):
        pass

    part = kit.handler_class(functools.partial(Files, directory="/tmp"), "fasthttp")
    assert part.keywords == {"directory": "/tmp"}
    assert issubclass(part.func, fasthttp.SimpleHTTPRequestHandler)

    assert kit.handler_class(FastOnly, "fasthttp") is FastOnly
    with pytest.raises(TypeError, match="cannot run on http.server"):
        kit.handler_class(FastOnly, "stdlib")
    with pytest.raises(TypeError, match="not a subclass"):
        kit.handler_class(object, "fasthttp")


def test_socketless_same_bytes_through_fasthttp():
    std, fast = kit.run_socketless(Hello, "stdlib"), kit.run_socketless(Hello, "fasthttp")
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
    run = kit.run_socketless(functools.partial(Args, tag="t"), "fasthttp", server)
    assert run(GET).endswith(b"hello /a")
    assert seen == [("t", server)]


@pytest.mark.parametrize("impl", kit.IMPLEMENTATIONS)
def test_bench_server_same_bytes_and_stops(impl):
    before = {t.ident for t in threading.enumerate()}
    with kit.BenchServer(Hello, "stdlib") as ref, kit.BenchServer(Hello, impl) as s:
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
    monkeypatch.setenv("PYTHONPATH", str(HOME))
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
            assert http_bench_socket.impl in {kit.IMPLEMENTATIONS!r}

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
        [("_fasthttp_pytestplugin", "_fasthttp_pytestplugin")]
    assert Path(dist.locate_file("_fasthttp_pytestplugin.py")).resolve() == \
        Path(plugin.__file__).resolve()


# -- out of the way of everyone else's pytest ----------------------------------

def test_plugin_and_kit_name_the_same_implementations():
    assert plugin.IMPLEMENTATIONS == kit.IMPLEMENTATIONS == tuple(kit.SERVER_CLASSES)
    assert plugin.SOCKETLESS_IMPLEMENTATIONS == kit.SOCKETLESS_IMPLEMENTATIONS


HELLO = """
    import sys
    from http.server import BaseHTTPRequestHandler

    class Hello(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"hi")
        def log_message(self, *a):
            pass
"""

USES_FIXTURES = HELLO + """
    def test_socketless(http_bench_socketless):
        assert http_bench_socketless(Hello)(b"GET / HTTP/1.0\\r\\n\\r\\n").endswith(b"hi")

    def test_socket(http_bench_socket):
        assert http_bench_socket(Hello)(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n").endswith(b"hi")

    def test_fasthttp_not_rewritten():
        import fasthttp, fasthttp.server
        for module in (fasthttp, fasthttp.server):
            assert type(module.__loader__).__name__ != "AssertionRewritingHook", module
"""


def _project(pytester, **files):
    """A project of its own whose warnings are errors."""
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(**files)


def test_nothing_of_fasthttp_until_a_fixture_asks(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(HOME))
    _project(pytester, test_a_plain="""
        import sys

        def test_plain():
            assert "_fasthttp_pytestplugin" in sys.modules
            assert not [m for m in sys.modules if m == "fasthttp" or m.startswith("fasthttp.")]
    """, test_b_bench=USES_FIXTURES, test_c_after="""
        import sys

        def test_imported_now():
            assert "fasthttp.benchkit" in sys.modules
    """)
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:randomly")
    result.assert_outcomes(passed=8)


def _fake_install(directory: Path) -> None:
    """What pytest reads of an installed fasthttp: a distribution with our
    pytest11 entry point whose files include the fasthttp package (pytest
    then marks every package in it for assertion rewriting)."""
    info = directory / "fasthttp_probe-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fasthttp-probe\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[pytest11]\n_fasthttp_pytestplugin = _fasthttp_pytestplugin\n")
    (info / "RECORD").write_text("fasthttp/__init__.py,,\nfasthttp/server.py,,\n"
                                 "_fasthttp_pytestplugin.py,,\n"
                                 "fasthttp_probe-1.0.dist-info/RECORD,,\n")


def test_fasthttp_is_not_rewritten_nor_warned_about(pytester, monkeypatch, tmp_path):
    site = tmp_path / "site"
    _fake_install(site)
    monkeypatch.setenv("PYTHONPATH", f"{site}:{HOME}")
    _project(pytester, test_bench=USES_FIXTURES)
    # Loaded through the entry point, as when installed (no -p).
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=6)
    # fasthttp imported before pytest starts: no "already imported so cannot
    # be rewritten" warning (an error here, with filterwarnings = error).
    result = pytester.run(sys.executable, "-c", "import fasthttp, pytest, sys; "
                          "sys.exit(pytest.main(['-p', 'no:randomly']))")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert "cannot be rewritten" not in result.stdout.str() + result.stderr.str()


def _pure_copy(site: Path, asked: bool) -> None:
    """fasthttp as a pure install puts it: no extension modules, and the
    mark a FASTHTTP_NO_EXTENSIONS=1 build leaves when asked."""
    shutil.copytree(HOME / "fasthttp", site / "fasthttp",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"))
    shutil.copy2(HOME / "_fasthttp_pytestplugin.py", site)
    if asked:
        (site / "fasthttp" / "_built_pure").write_text("on request\n")


@pytest.mark.parametrize("asked", [True, False], ids=["asked-for", "extension-missing"])
def test_pure_install_asked_for_never_warns(pytester, monkeypatch, tmp_path, asked):
    site = tmp_path / "site"
    _pure_copy(site, asked)
    monkeypatch.setenv("PYTHONPATH", str(site))
    for var in ("FASTHTTP_PURE", "FASTHTTP_NO_EXTENSIONS", "FASTHTTP_EXPECT_ACCELERATED"):
        monkeypatch.delenv(var, raising=False)
    _project(pytester, test_bench=USES_FIXTURES)
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:randomly")
    if asked:
        result.assert_outcomes(passed=6)
    else:
        # Nobody asked for the slow path: the warning stands (an error here).
        assert result.ret != 0
        result.stdout.fnmatch_lines(["*RuntimeWarning: fasthttp is running without its C*"])
    # FASTHTTP_PURE=1 asks for it at run time.
    monkeypatch.setenv("FASTHTTP_PURE", "1")
    pytester.runpytest_subprocess(*PLUGIN, "-p", "no:randomly").assert_outcomes(passed=6)


def test_does_nothing_on_a_pytest_older_than_its_floor(monkeypatch):
    old = types.ModuleType("pytest")
    old.__version__ = "6.2.5"       # no StashKey, no config.stash
    old.fixture, old.hookimpl = pytest.fixture, pytest.hookimpl
    monkeypatch.setitem(sys.modules, "pytest", old)
    spec = importlib.util.spec_from_file_location("_fasthttp_pytestplugin_old", plugin.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not module.ACTIVE
    defined = {name for name in vars(module) if name.startswith(("pytest_", "http_bench"))}
    assert defined == {"pytest_report_header", "pytest_plugin_registered"}
    assert module.pytest_report_header(None) == \
        "fasthttp: pytest plugin inactive (it needs pytest>=7.0; this is 6.2.5)"
    assert plugin.ACTIVE and plugin.PYTEST_FLOOR == "7.0"
