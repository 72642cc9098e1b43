"""Types of fasthttp._sockio: fasthttp/sockio.py compiled a second time by Cython (setup.py).

Its API is fasthttp.sockio's (its __all__, of the same types); tests/test_api.py
checks that the extension module has each of those names, of the same kind.
"""
from fasthttp.sockio import *  # noqa: F403
