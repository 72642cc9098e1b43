import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

# The shared request corpus is found at ../shared/requests (relative to the
# repository). When the tests run from elsewhere (a copy testing an installed
# wheel), FASTHTTP_CORPUS names it instead: support.SHARED_REQUESTS, which
# test_differential and test_handler_socketless use, is pointed there before
# they are collected. (test_parser.py computes its own CORPUS path.)
_corpus_env = os.environ.get("FASTHTTP_CORPUS")
if _corpus_env:
    import support as _support

    if not _support.SHARED_REQUESTS.is_dir() and Path(_corpus_env).is_dir():
        _support.SHARED_REQUESTS = Path(_corpus_env).resolve()


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
