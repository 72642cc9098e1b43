"""pytest-benchmark suite for fasthttp; collected only when pytest is pointed at bench/.

    pytest bench/ --benchmark-only --benchmark-json bench/results/latest.json
    python bench/report.py bench/results/latest.json

Implementations that are not importable (fasthttp before it is built, httptools when not
installed) are skipped, not failed. Every benchmark sets ``benchmark.group`` so that one group
compares implementations on the same input; bench/report.py prints one table per group.

Option:
    --bench-requests NAMES   comma-separated corpus names (without .http) for every
                             request-parametrized benchmark, or "all" for every bodyless
                             GET/HEAD in tests/data/requests. Default: a small set per file.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--bench-requests",
        default=None,
        help='bench/: comma-separated corpus request names (without .http), or "all"',
    )


def pytest_sessionstart(session):
    # The corpus is part of the repository; without it most benchmarks would not run.
    if not any(benchlib.REQUESTS_DIR.glob("*.http")):
        raise pytest.UsageError(f"request corpus missing: no {benchlib.REQUESTS_DIR}/*.http "
                                "(see tests/data/capture.py)")


def pytest_generate_tests(metafunc):
    # `req` = a corpus request name; each module may set DEFAULT_REQUESTS.
    if "req" in metafunc.fixturenames:
        default = getattr(metafunc.module, "DEFAULT_REQUESTS", benchlib.PARSE_REQUESTS)
        metafunc.parametrize("req", benchlib.requests_for(metafunc.config, default))


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info.update(benchlib.fasthttp_info())
    machine_info["httptools"] = getattr(benchlib.HTTPTOOLS, "__version__", None)
    machine_info["corpus"] = str(benchlib.REQUESTS_DIR)


def pytest_report_header(config):
    info = benchlib.fasthttp_info()
    if info["fasthttp"] is None:
        return [f"bench: {benchlib.FASTHTTP_MISSING} (its benchmarks are skipped)"]
    return [
        f"bench: fasthttp {info['fasthttp']} accelerated={info['fasthttp_accelerated']} "
        f"from {info['fasthttp_file']}"
    ]


@pytest.fixture
def request_bytes(req) -> bytes:
    """The exact bytes of corpus request *req* (tests/data/requests/<req>.http)."""
    return benchlib.load_request(req)
