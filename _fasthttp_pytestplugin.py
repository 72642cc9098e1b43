"""fasthttp's pytest plugin: fixtures to benchmark your own http.server handler
on http.server and on fasthttp (README: "Benchmark your own handler").

Installing fasthttp registers this module through the ``pytest11`` entry
point, so pytest imports it when it starts, in every project of that
environment. It therefore stays out of the way:

- It imports nothing of fasthttp until a test asks for one of its fixtures
  (the kit itself is ``fasthttp.benchkit``). A project that never uses
  them pays nothing and sees nothing of fasthttp.
- pytest marks every top-level package of a plugin's distribution for
  assertion rewriting, fasthttp included. This plugin takes fasthttp off
  that list when it is registered: fasthttp is a library, not test code.
- It needs pytest 7.0 or later (``config.stash``). On an older pytest it
  defines no fixture, only a line in the report header that says so.

``-p no:_fasthttp_pytestplugin`` turns it off. Two fixtures, each
parametrized over the implementations, so that a test using one runs once
per implementation::

    def test_hello(benchmark, http_bench_socket):
        send = http_bench_socket(Hello)        # a server on 127.0.0.1, stopped after the test
        response = benchmark(send, b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        assert response.startswith(b"HTTP/1.1 200")

- ``http_bench_socket(handler, **server_attrs)``: runs "stdlib", "fasthttp"
  and "fasthttp-loop"; starts ``fasthttp.benchkit.BenchServer(handler,
  impl)`` and returns its client (raw request bytes in, raw response out).
- ``http_bench_socketless(handler, server=None)``: runs "stdlib" and
  "fasthttp"; returns ``fasthttp.benchkit.run_socketless(handler, impl)``.

What each fixture returns has ``.impl``, the implementation of this run. A
handler that derives from fasthttp's classes cannot run on http.server: its
"stdlib" runs are skipped.

When pytest-benchmark timed such tests, the terminal summary ends with the
stdlib/fasthttp ratio of their medians, per test (the plugin never imports
pytest-benchmark: it reads the ``benchmark`` fixture's results if the test
used it). Each ``benchmark`` without a group of its own gets one per test and
transport, so pytest-benchmark's table lists the implementations together.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Optional, TypeVar

# Not a plain `import pytest`: mypy would read pytest's source, and pytest 9's
# needs a newer Python than this module is type-checked as.
pytest: Any = importlib.import_module("pytest")
_F = TypeVar("_F", bound=Callable[..., Any])

#: The oldest pytest the plugin runs on (pytest.StashKey and config.stash).
PYTEST_FLOOR = "7.0"
ACTIVE: bool = hasattr(pytest, "StashKey")

# fasthttp.benchkit's names, spelled out here so that collecting the
# parametrized fixtures imports nothing of fasthttp (tests/test_pytest_plugin.py
# checks that the two agree).
IMPLEMENTATIONS = ("stdlib", "fasthttp", "fasthttp-loop")
SOCKETLESS_IMPLEMENTATIONS = ("stdlib", "fasthttp")


def _decorator(decorator: Any) -> Callable[[_F], _F]:
    """pytest's decorators, typed: they return the function they are given."""
    typed: Callable[[_F], _F] = decorator
    return typed


def _kit() -> Any:
    """fasthttp.benchkit, imported when a fixture first needs it."""
    return importlib.import_module("fasthttp.benchkit")


def _unmark_fasthttp(manager: Any) -> None:
    """Take fasthttp off pytest's assertion-rewriting list. pytest put it
    there because this module ships in fasthttp's distribution; there is no
    public way to undo that, so this reads pytest's own set, and does
    nothing where its shape differs (fasthttp is then rewritten, as before)."""
    hook = getattr(manager, "rewrite_hook", None)
    marked = getattr(hook, "_must_rewrite", None)
    if isinstance(marked, set) and "fasthttp" in marked:
        marked.discard("fasthttp")
        cache = getattr(hook, "_marked_for_rewrite_cache", None)
        if isinstance(cache, dict):
            cache.clear()


def pytest_plugin_registered(plugin: Any, manager: Any) -> None:
    if plugin is sys.modules.get(__name__):
        _unmark_fasthttp(manager)


if not ACTIVE:
    def pytest_report_header(config: Any) -> str:
        return (f"fasthttp: pytest plugin inactive (it needs pytest>={PYTEST_FLOOR}; "
                f"this is {pytest.__version__})")

else:
    class _Starter:
        """What the fixtures return: call it with a handler; ``.impl`` says
        which implementation this run of the test is."""

        def __init__(self, impl: str, start: Callable[..., Callable[[bytes], bytes]]) -> None:
            self.impl = impl
            self._start = start

        def __call__(self, handler: Any, **kwargs: Any) -> Callable[[bytes], bytes]:
            try:
                return self._start(handler, **kwargs)
            except TypeError as exc:
                if self.impl == "stdlib" and "cannot run on http.server" in str(exc):
                    pytest.skip(str(exc))
                raise

    _RECORDS = pytest.StashKey[list[tuple[str, str, str, Any]]]()

    def _record(request: Any, transport: str, impl: str) -> None:
        """Remember the test's benchmark fixture (if it uses pytest-benchmark's)
        for the ratio summary, and group its runs of the implementations."""
        if "benchmark" not in request.fixturenames:
            return
        bench = request.getfixturevalue("benchmark")
        node = request.node
        params = getattr(getattr(node, "callspec", None), "params", {})
        others = ",".join(f"{k}={v!r}"[:40] for k, v in sorted(params.items())
                          if k != request.fixturename)
        label = node.nodeid.split("[", 1)[0] + (f"[{others}]" if others else "")
        if getattr(bench, "group", "") is None:
            bench.group = f"{label} ({transport})"
        request.config.stash.setdefault(_RECORDS, []).append((label, transport, impl, bench))

    @_decorator(pytest.fixture(params=IMPLEMENTATIONS))
    def http_bench_socket(request: Any) -> Any:
        """Start a handler on this run's implementation (127.0.0.1, a thread);
        returns a client: raw request bytes -> raw response bytes. See the
        _fasthttp_pytestplugin module documentation."""
        impl: str = request.param
        kit = _kit()
        servers: list[Any] = []

        def start(handler: Any, **server_attrs: Any) -> Any:
            s = kit.BenchServer(handler, impl, **server_attrs)
            servers.append(s)
            return s.client()

        _record(request, "socket", impl)
        try:
            yield _Starter(impl, start)
        finally:
            for s in servers:
                s.close()

    @_decorator(pytest.fixture(params=SOCKETLESS_IMPLEMENTATIONS))
    def http_bench_socketless(request: Any) -> Any:
        """A handler on this run's implementation, without a socket; returns a
        function: raw request bytes -> what the handler wrote."""
        impl: str = request.param
        kit = _kit()
        _record(request, "socketless", impl)

        def start(handler: Any, server: Any = None) -> Callable[[bytes], bytes]:
            run: Callable[[bytes], bytes] = kit.run_socketless(handler, impl, server)
            return run

        return _Starter(impl, start)

    def _median(bench: Any) -> Optional[float]:
        try:
            value = bench.stats["median"]
        except Exception:       # not run, disabled, or a pytest-benchmark we do not know
            return None
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    @_decorator(pytest.hookimpl(trylast=True))
    def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
        records = config.stash.get(_RECORDS, [])
        medians: dict[tuple[str, str], dict[str, float]] = {}
        for label, transport, impl, bench in records:
            m = _median(bench)
            if m is not None:
                medians.setdefault((label, transport), {})[impl] = m
        lines = []
        for (label, transport), by_impl in medians.items():
            base = by_impl.get("stdlib")
            if base is None:
                continue
            ratios = [f"{impl} {base / t:.2f}x" for impl, t in by_impl.items()
                      if impl != "stdlib"]
            if ratios:
                lines.append(f"{label} ({transport}): " + ", ".join(ratios))
        if lines:
            terminalreporter.write_sep("-", "fasthttp vs http.server: stdlib median / median "
                                            "(above 1: faster than http.server)")
            for line in lines:
                terminalreporter.write_line(line)
