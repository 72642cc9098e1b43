"""fasthttp.server: the http.server module, on fasthttp's request path.

This is what install() puts in place of http.server. Every class here
subclasses its http.server counterpart, so isinstance checks and everything we
do not override (send_error, the directory listing, CGI, ...) are the running
Python's own code. The handler's hot path lives in fasthttp/handler.py; any
other http.server name (nobody_uid, _url_collapse_path, names later versions
add) is the stdlib's, through the module __getattr__ below.
"""

from __future__ import annotations

import http.server as _stdlib
import inspect
import types
import warnings
from typing import Any

from fasthttp.handler import BaseHTTPRequestHandler as BaseHTTPRequestHandler
from fasthttp.static import FileServing
from fasthttp.tcp import HTTPServer as HTTPServer
from fasthttp.tcp import ThreadingHTTPServer as ThreadingHTTPServer
from fasthttp.tls import HTTPSServer as HTTPSServer
from fasthttp.tls import ThreadingHTTPSServer as ThreadingHTTPSServer

# Spelled out for readers and type checkers (typeshed does not declare them).
_STDLIB_NAMES: dict[str, Any] = vars(_stdlib)
DEFAULT_ERROR_MESSAGE: str = _STDLIB_NAMES["DEFAULT_ERROR_MESSAGE"]
DEFAULT_ERROR_CONTENT_TYPE: str = _STDLIB_NAMES["DEFAULT_ERROR_CONTENT_TYPE"]


def __getattr__(name: str) -> Any:
    """Every other http.server name is the stdlib's own. 3.15's deprecated
    __version__ (the stdlib's module __getattr__ answers it) warns as there,
    pointing at the code that asked."""
    if name.startswith("__") and name != "__version__":
        raise AttributeError(name)
    if name in _STDLIB_NAMES:
        return _STDLIB_NAMES[name]
    if name != "__version__":
        return getattr(_stdlib, name)       # the stdlib's AttributeError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(_stdlib, name)
    for warning in caught:
        warnings.warn(warning.message, warning.category, stacklevel=2)
    return value


# The running Python's names: CGIHTTPRequestHandler up to 3.14, none of it
# from 3.15 (the stdlib removed CGI; we keep no handler of our own).
# (HTTPSServer and ThreadingHTTPSServer, 3.14's, are ours on every version;
# fasthttp.tls has them.)
__all__ = list(_stdlib.__all__)
if "__version__" in _STDLIB_NAMES:     # 3.15: a deprecated name (see __getattr__)
    __version__: str = _STDLIB_NAMES["__version__"]


class SimpleHTTPRequestHandler(BaseHTTPRequestHandler, FileServing,
                               _stdlib.SimpleHTTPRequestHandler):
    __doc__ = _stdlib.SimpleHTTPRequestHandler.__doc__
    # Our BaseHTTPRequestHandler comes first in the MRO; keep the stdlib's
    # directory-handler identity.
    server_version = _stdlib.SimpleHTTPRequestHandler.server_version


if hasattr(_stdlib, "CGIHTTPRequestHandler"):    # gone from http.server in 3.15
    class CGIHTTPRequestHandler(SimpleHTTPRequestHandler,
                                _stdlib.CGIHTTPRequestHandler):
        __doc__ = _stdlib.CGIHTTPRequestHandler.__doc__

        def send_head(self) -> Any:
            # The stdlib CGI handler's send_head, which FileServing's (earlier
            # in the MRO) would hide: without it, GET and HEAD sent a script's
            # source instead of running it. Other files keep our send_head.
            if self.is_cgi():
                return self.run_cgi()
            return super().send_head()


# test()'s default handler: BaseHTTPRequestHandler up to 3.14,
# SimpleHTTPRequestHandler from 3.15; ours of the same name.
_TEST_HANDLER: Any = globals()[
    inspect.signature(_STDLIB_NAMES["test"]).parameters["HandlerClass"].default.__name__]


def test(HandlerClass: Any = _TEST_HANDLER, ServerClass: Any = ThreadingHTTPServer,
         *args: Any, **kwargs: Any) -> None:
    """http.server.test() with fasthttp's classes as defaults."""
    _STDLIB_NAMES["test"](HandlerClass, ServerClass, *args, **kwargs)


if "_main" in _STDLIB_NAMES:
    def _main(args: Any = None) -> None:
        """http.server's command line (3.15+; `python -m http.server` after
        install()): the stdlib's code, its names looked up here first, as
        they are at the call (our classes; a test() a test patched)."""
        stdlib_main = _STDLIB_NAMES["_main"]
        namespace = dict(_STDLIB_NAMES)
        namespace.update((name, value) for name, value in globals().items()
                         if not name.startswith("__"))
        types.FunctionType(stdlib_main.__code__, namespace, "_main",
                           stdlib_main.__defaults__)(args)
