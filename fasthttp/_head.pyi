"""Types of fasthttp._head: fasthttp/head.py compiled a second time by Cython
(setup.py); its byte scan is csrc/fh_parser.c there.

Its API is fasthttp.head's (its __all__, of the same types); tests/test_api.py
checks that the extension module has each of those names, of the same kind.
"""
from fasthttp.head import *  # noqa: F403
