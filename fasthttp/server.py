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
    """Every other http.server name is the stdlib's own."""
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_stdlib, name)


# The running Python's names. (HTTPSServer and ThreadingHTTPSServer, 3.14's,
# are ours on every version; fasthttp.tls has them.)
__all__ = list(_stdlib.__all__)
__version__: str = getattr(_stdlib, "__version__", "0.6")


class SimpleHTTPRequestHandler(BaseHTTPRequestHandler, FileServing,
                               _stdlib.SimpleHTTPRequestHandler):
    __doc__ = _stdlib.SimpleHTTPRequestHandler.__doc__
    # Our BaseHTTPRequestHandler comes first in the MRO; keep the stdlib's
    # directory-handler identity.
    server_version = _stdlib.SimpleHTTPRequestHandler.server_version


class CGIHTTPRequestHandler(SimpleHTTPRequestHandler,
                            _stdlib.CGIHTTPRequestHandler):
    __doc__ = _stdlib.CGIHTTPRequestHandler.__doc__


def test(HandlerClass: Any = BaseHTTPRequestHandler, ServerClass: Any = ThreadingHTTPServer,
         *args: Any, **kwargs: Any) -> None:
    """http.server.test() with fasthttp's classes as defaults."""
    _STDLIB_NAMES["test"](HandlerClass, ServerClass, *args, **kwargs)
