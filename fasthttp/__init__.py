"""fasthttp: http.server, C-accelerated.

    from fasthttp import HTTPServer, BaseHTTPRequestHandler   # was: from http.server

or, to run unchanged code (wsgiref.simple_server, xmlrpc.server, your own
`import http.server`) on fasthttp:

    import fasthttp; fasthttp.install()

(PYTEST_DONT_REWRITE: pytest lists fasthttp for assertion rewriting, as every
package that ships a pytest plugin; fasthttp is a library, not test code, and
an import before pytest starts must not warn about it.)
"""
import sys
import types as _types
import typing as _typing

from fasthttp import server as server
from fasthttp._core import accelerated as accelerated
from fasthttp._version import __version__ as __version__
from fasthttp.errors import BodyError as BodyError
from fasthttp.loop import LoopHTTPServer as LoopHTTPServer
from fasthttp.server import *  # noqa: F403 - the http.server names
from fasthttp.server import DEFAULT_ERROR_CONTENT_TYPE, DEFAULT_ERROR_MESSAGE  # noqa: F401
from fasthttp.server import test as test
from fasthttp.tls import HTTPSServer as HTTPSServer
from fasthttp.tls import ThreadingHTTPSServer as ThreadingHTTPSServer
from fasthttp.workers import serve as serve

if _typing.TYPE_CHECKING:
    # The star import's names, for type checkers: server.__all__ is computed.
    from fasthttp.server import BaseHTTPRequestHandler as BaseHTTPRequestHandler
    from fasthttp.server import CGIHTTPRequestHandler as CGIHTTPRequestHandler
    from fasthttp.server import HTTPServer as HTTPServer
    from fasthttp.server import SimpleHTTPRequestHandler as SimpleHTTPRequestHandler
    from fasthttp.server import ThreadingHTTPServer as ThreadingHTTPServer

__all__: list[str] = list(server.__all__) + [
    "LoopHTTPServer", "BodyError",
    "DEFAULT_ERROR_MESSAGE", "DEFAULT_ERROR_CONTENT_TYPE", "test",
    "accelerated", "install", "uninstall", "server", "__version__",
    "serve", "HTTPSServer", "ThreadingHTTPSServer",
]

_stdlib_server: _types.ModuleType = server._stdlib  # type: ignore[attr-defined]


def install() -> None:
    """Make `import http.server` give fasthttp.server, for code imported afterwards.

    Modules that already did `from http.server import X` keep the X they have;
    call install() before importing them.
    """
    import http
    sys.modules["http.server"] = server
    http.server = server


def uninstall() -> None:
    """Undo install(): http.server is the standard library's again."""
    import http
    sys.modules["http.server"] = _stdlib_server
    http.server = _stdlib_server
