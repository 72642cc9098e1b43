"""The two implementations of the request path, as namespaces of the same names
(fasthttp._core.implementation): "fasthttp:c" and "fasthttp:pure"."""
import os

import pytest

from fasthttp import _core


def support_impl(name):
    """The implementation `name` names. The C one is loaded whatever
    FASTHTTP_PURE says (both are tested in every run); when it is not built,
    ImportError (the callers skip), unless the run insists on it
    (FASTHTTP_EXPECT_ACCELERATED=1: then that is a failure)."""
    if name == "fasthttp:pure":
        return _core.PURE
    modules = _core.load_extension(honour_pure=False)
    if modules is None:
        if os.environ.get("FASTHTTP_EXPECT_ACCELERATED") == "1":
            raise AssertionError("the C extension is not built, and this run expects it")
        raise ImportError("the C extension is not built")
    return _core.implementation(modules)


def load_or_skip(name):
    """support_impl(name), or the calling test skipped when it is not there."""
    try:
        return support_impl(name)
    except ImportError as exc:
        pytest.skip(f"{name} not available: {exc}")
