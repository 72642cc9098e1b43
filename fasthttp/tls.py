"""HTTPS servers: CPython 3.14's ``HTTPSServer`` / ``ThreadingHTTPSServer``,
on every Python fasthttp supports.

    HTTPSServer(server_address, RequestHandlerClass, bind_and_activate=True, *,
                certfile, keyfile=None, password=None, alpn_protocols=None)

Same constructor, attributes (``certfile``, ``keyfile``, ``password``,
``alpn_protocols``, ``ssl``) and hooks (``server_activate`` wraps the listening
socket; ``_create_context()`` builds the ``ssl.SSLContext``) as 3.14's, with
one difference: 3.14 wraps the listening socket with the default
``do_handshake_on_connect=True``, so every TLS handshake runs inside
``accept()``, in the serving loop, and one slow or silent client stalls all
the others. Here the listening socket is wrapped with
``do_handshake_on_connect=False`` and the handshake runs in
``finish_request()``: in the connection's own thread for
``ThreadingHTTPSServer``, bounded by ``tls_handshake_timeout``. A failed
handshake closes that connection quietly, as 3.14's failing ``accept()`` does.

On 3.14+ the classes also subclass ``http.server.HTTPSServer`` /
``ThreadingHTTPSServer``, so isinstance checks against the stdlib hold.
"""

from __future__ import annotations

import http.server as _stdlib
import socketserver
from typing import TYPE_CHECKING, Any, Callable, Union

from fasthttp import tcp

if TYPE_CHECKING:
    import socket
    import ssl as _ssl

__all__ = ["HTTPSServer", "ThreadingHTTPSServer"]

# What ssl.SSLContext.load_cert_chain() takes as a password.
_Password = Union[str, bytes, bytearray, Callable[[], Union[str, bytes, bytearray]], None]

_STD_HTTPS: Any = getattr(_stdlib, "HTTPSServer", None)
_STD_THREADING_HTTPS: Any = getattr(_stdlib, "ThreadingHTTPSServer", None)


class HTTPSServer(tcp.HTTPServer, *((_STD_HTTPS,) if _STD_HTTPS else ())):  # type: ignore[misc]
    """fasthttp.HTTPServer over TLS (CPython 3.14's constructor)."""

    #: Seconds an accepted connection has to complete its TLS handshake
    #: (None: no bound). The handshake runs in the handler thread.
    tls_handshake_timeout: float | None = 10.0

    def __init__(self, server_address: tuple[str, int] | tuple[str, int, int, int],
                 RequestHandlerClass: Callable[[Any, Any, Any], socketserver.BaseRequestHandler],
                 bind_and_activate: bool = True, *, certfile: str,
                 keyfile: str | None = None, password: _Password = None,
                 alpn_protocols: list[str] | None = None) -> None:
        try:
            import ssl
        except ImportError as err:  # pragma: no cover - Python built without ssl
            raise RuntimeError("SSL module is missing; HTTPS support is unavailable") from err
        self.ssl = ssl
        self.certfile = certfile
        self.keyfile = keyfile
        self.password = password
        # HTTP/1.1 by default, as 3.14.
        self.alpn_protocols = ["http/1.1"] if alpn_protocols is None else alpn_protocols
        # TCPServer's constructor directly: on 3.14 the next class in the MRO
        # would be http.server.HTTPSServer, whose __init__ we have just done.
        socketserver.TCPServer.__init__(self, server_address, RequestHandlerClass,
                                        bind_and_activate)

    def server_activate(self) -> None:
        """listen(), then wrap the listening socket in TLS (no handshake in accept)."""
        socketserver.TCPServer.server_activate(self)
        context = self._create_context()
        self.socket = context.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def _create_context(self) -> _ssl.SSLContext:
        """The server's SSLContext (override to customise, as on 3.14)."""
        ssl = self.ssl
        context: _ssl.SSLContext = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile, self.password)
        if self.alpn_protocols:
            context.set_alpn_protocols(list(self.alpn_protocols))
        return context

    def tls_handshake(self, request: socket.socket) -> bool:
        """Complete the TLS handshake of an accepted connection.

        Returns True when the connection is ready for the handler; False (the
        connection is then closed by the server) when the client went away,
        timed out or did not speak TLS.
        """
        do_handshake = getattr(request, "do_handshake", None)
        if do_handshake is None:
            return True
        previous = request.gettimeout()
        try:
            if self.tls_handshake_timeout is not None:
                request.settimeout(self.tls_handshake_timeout)
            do_handshake()
            request.settimeout(previous)
        except (OSError, ValueError):  # SSLError, timeouts, resets, closed socket
            return False
        return True

    def finish_request(self, request: Any, client_address: Any) -> None:
        # (a TCP server's request is the accepted socket)
        if self.tls_handshake(request):
            super().finish_request(request, client_address)


class ThreadingHTTPSServer(HTTPSServer, tcp.ThreadingHTTPServer,
                           *((_STD_THREADING_HTTPS,) if _STD_THREADING_HTTPS else ())):  # type: ignore[misc]
    """One thread per connection; the TLS handshake runs in that thread."""
    daemon_threads = True
