"""Helpers shared by the bench/test_bench_*.py files (imported by name; bench/ is on sys.path).

Kept out of conftest.py so that `from benchlib import ...` is unambiguous even when pytest
collects bench/ next to another directory that has its own conftest.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
REQUESTS_DIR = REPO_ROOT / "tests" / "data" / "requests"  # the request corpus

for _p in (str(BENCH_DIR), str(REPO_ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import servers  # noqa: E402  (the hello handler shared with load.py)

# Defaults keep a full `make bench` well under 3 minutes on 2 noisy cores.
PARSE_REQUESTS = ("curl_get", "firefox_get", "chrome_get_big_cookie", "api_many_headers")
ROUNDTRIP_REQUESTS = ("firefox_get", "api_many_headers")

# A stub for handler.server: the stdlib handler never reads it on these paths.
class StubServer:
    server_name = "localhost"
    server_port = 0
    server_address = ("127.0.0.1", 0)


CLIENT_ADDRESS = ("127.0.0.1", 54321)


# --------------------------------------------------------------------------- corpus


def load_request(name: str) -> bytes:
    # The corpus is part of the repository: a missing request is a failure, not a skip.
    path = REQUESTS_DIR / f"{name}.http"
    if not path.is_file():
        pytest.fail(f"corpus request {path} not found (see tests/data/capture.py)", pytrace=False)
    return path.read_bytes()


def bodyless_corpus() -> list[str]:
    """Corpus requests that are exactly one GET/HEAD head (usable by every benchmark)."""
    names = []
    for path in sorted(REQUESTS_DIR.glob("*.http")):
        data = path.read_bytes()
        _head, sep, rest = data.partition(b"\r\n\r\n")
        if sep and not rest and data.split(b" ", 1)[0] in (b"GET", b"HEAD"):
            names.append(path.stem)
    return names


def requests_for(config, default: tuple[str, ...]) -> list[str]:
    opt = config.getoption("--bench-requests", default=None)
    if not opt:
        return list(default)
    if opt == "all":
        return bodyless_corpus()
    return [n.strip().removesuffix(".http") for n in opt.split(",") if n.strip()]


# --------------------------------------------------------------------------- implementations


def _try_import_fasthttp():
    try:
        return servers.import_fasthttp(), None
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available yet"
        return None, f"fasthttp not importable: {type(exc).__name__}: {exc}"


FASTHTTP, FASTHTTP_MISSING = _try_import_fasthttp()

try:
    import httptools as HTTPTOOLS  # noqa: N812
except ImportError:  # pragma: no cover - depends on the environment
    HTTPTOOLS = None


def require_fasthttp():
    if FASTHTTP is None:
        pytest.skip(FASTHTTP_MISSING)
    return FASTHTTP


def require_httptools():
    if HTTPTOOLS is None:
        pytest.skip("httptools not installed (pip install httptools)")
    return HTTPTOOLS


def fasthttp_info() -> dict:
    if FASTHTTP is None:
        return {"fasthttp": None, "fasthttp_missing": FASTHTTP_MISSING}
    return {
        "fasthttp": getattr(FASTHTTP, "__version__", "?"),
        "fasthttp_accelerated": bool(getattr(FASTHTTP, "accelerated", False)),
        "fasthttp_file": getattr(FASTHTTP, "__file__", "?"),
    }


def base_handler(impl: str):
    """The BaseHTTPRequestHandler class of implementation *impl* ('stdlib...'/'fasthttp...')."""
    if impl.startswith("fasthttp"):
        return require_fasthttp().BaseHTTPRequestHandler
    import http.server  # noqa: PLC0415

    return http.server.BaseHTTPRequestHandler


def tag(benchmark, impl: str, **extra) -> None:
    """Record the implementation (and fasthttp's mode) in the JSON for bench/report.py."""
    benchmark.extra_info["impl"] = impl
    if impl.startswith("fasthttp"):
        benchmark.extra_info["accelerated"] = bool(getattr(FASTHTTP, "accelerated", False))
    benchmark.extra_info.update(extra)
