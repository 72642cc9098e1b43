import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))


def pytest_sessionstart(session):
    # The request corpus (tests/data/requests) travels with the tests: without it the
    # corpus tests would not exist at all, so stop the run instead of passing quietly.
    corpus = TESTS_DIR / "data" / "requests"
    if not any(corpus.glob("*.http")):
        raise pytest.UsageError(f"request corpus missing: no {corpus}/*.http "
                                "(it belongs to the tests; see tests/data/capture.py)")


def pytest_report_header(config):
    if os.environ.get("FASTHTTP_DIFF_SELFTEST") == "1":
        return ["fasthttp accelerated: n/a "
                "(FASTHTTP_DIFF_SELFTEST=1: the fasthttp side is the stdlib)"]
    try:
        import support  # imports fasthttp (adding the repo root to sys.path if needed)
    except Exception as exc:  # still show a header; the tests will error on import
        return [f"fasthttp accelerated: <import failed: {type(exc).__name__}: {exc}>"]
    fh = support.fasthttp
    return [
        f"fasthttp accelerated: {getattr(fh, 'accelerated', '<missing attribute>')}",
        f"fasthttp from: {getattr(fh, '__file__', '?')} "
        f"(FASTHTTP_PURE={os.environ.get('FASTHTTP_PURE', '')!s})",
    ]


@pytest.fixture(scope="session")
def servers():
    """Servers per (side, handler kind), started lazily, stopped at session end."""
    import support

    pool = support.ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(params=["fasthttp:c", "fasthttp:pure"], ids=["c", "pure"])
def impl(request):
    """Each implementation of the request path in turn (impls.support_impl):
    fasthttp:c (skipped when it is not built), fasthttp:pure."""
    from impls import load_or_skip

    return load_or_skip(request.param)


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1/localhost: (certfile, keyfile)."""
    from certs import make_cert

    return make_cert(tmp_path_factory.mktemp("cert"))
