"""Types of fasthttp._request: fasthttp/request.py compiled a second time by Cython (setup.py).

Its API is fasthttp.request's (its __all__, of the same types); tests/test_api.py
checks that the extension module has each of those names, of the same kind.
"""
from fasthttp.request import *  # noqa: F403
