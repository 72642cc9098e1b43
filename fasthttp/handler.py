"""fasthttp's BaseHTTPRequestHandler: http.server's, on our request path.

It subclasses the stdlib's class and replaces only the hot path:

- setup(): our socket reader/writer (sockio) instead of socket.makefile();
- parse_request(): the C parser instead of email.parser (request.py);
- the response header methods and the timestamps (response.py);
- handle(): the request-head deadline, and a quiet end after read_body()
  refused a body; read_body() itself (body.py) is an addition.

Each override keeps the stdlib's contract: same attributes set, same hooks
called in the same order, same bytes written.
"""
from __future__ import annotations

import email.message
import http.server as _stdlib
import socket
from typing import Any, Optional

from fasthttp import _core, body
from fasthttp.errors import BodyError

__all__ = ["BaseHTTPRequestHandler"]


class LazyHeaders:
    """``self.headers`` on the C path: parse_request keeps the header block
    as bytes, and the HTTPMessage (the same object email.parser would build)
    is made the first time it is read, then stored as the instance attribute,
    as http.server stores it. A handler that never reads its headers never
    pays for a str per name and value."""

    def __get__(self, handler: Any, owner: Any = None) -> Any:
        if handler is None:
            return self
        head = handler.__dict__.get("_fh_head")
        if head is None:
            raise AttributeError("headers")     # before any request, as the stdlib
        headers = _message_of(head)
        handler.__dict__["headers"] = headers
        return headers


_message_of: Any = None
if _core.C is not None and _core.accelerated:
    _message_of = _core.C.modules["request"].message_of


class BaseHTTPRequestHandler(_stdlib.BaseHTTPRequestHandler):
    __doc__ = _stdlib.BaseHTTPRequestHandler.__doc__

    rfile: Any     # our SocketReader, or what socket.makefile() gives
    wfile: Any     # our SocketWriter, or what socket.makefile() gives
    raw_requestline: bytes
    trailers: email.message.Message

    def setup(self) -> None:
        # socketserver.StreamRequestHandler.setup, with our reader and writer
        # for plain buffered use. An unbuffered rfile (rbufsize = 0, as the
        # CGI handler asks, to hand the socket to a child) or anything that
        # is not a socket keeps the stdlib's files.
        request = self.request
        if self.rbufsize == 0 or not isinstance(request, socket.socket):
            super().setup()
            return
        self.connection = request
        if self.timeout is not None:
            request.settimeout(self.timeout)
        if request.family in (socket.AF_INET, socket.AF_INET6):
            # Always, whatever disable_nagle_algorithm says: with the header
            # block held back by MSG_MORE (see SocketWriter) a response
            # leaves in one segment; and a handler's later small writes must
            # not wait on the client's delayed ACK (a 40 ms stall each).
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        if self.wbufsize == 0:
            writer = _core.SocketWriter(request)
            self.wfile = writer
            self.rfile = _core.SocketReader(request, writer)
        else:
            self.rfile = _core.SocketReader(request)
            self.wfile = request.makefile("wb", self.wbufsize)

    # parse_request and the response-header methods are installed below from
    # _core.handler_methods: C (or the pure-Python twin), same attributes, same
    # hooks, same bytes. handle_one_request stays the stdlib's.

    #: Bytes a whole header block may take (0: no bound). The stdlib bounds
    #: only each line (64 KiB) and the line count (100), about 6.4 MB in all.
    max_head_bytes: int = 256 * 1024

    #: Seconds a client has to send the request line and headers, counted
    #: from when the server starts waiting for them (so it also bounds how
    #: long an idle keep-alive connection is kept). Separate from `timeout`,
    #: which bounds each socket operation, the handler's included. A client
    #: dribbling a byte a second (slowloris) is dropped when it runs out.
    #: None: no bound, as the stdlib.
    head_timeout: Optional[float] = 60.0

    #: Largest body read_body() accepts, in bytes (None: no bound).
    max_body_bytes: Optional[int] = 64 * 1024 * 1024

    def handle(self) -> None:
        # socketserver's loop of handle_one_request(), plus the request-head
        # deadline, and a quiet end when read_body() refused a body (it has
        # already answered and marked the connection for closing).
        if self._fh_adopted_by_loop():
            return      # LoopHTTPServer is creating us; its loop will call us
        self.close_connection = True
        try:
            self._fh_handle_one_request()
            while not self.close_connection:
                park = getattr(self.server, "_fh_park", None)
                if park is not None and park(self):
                    return      # idle: the server's engine has the connection now
                self._fh_handle_one_request()
        except BodyError:
            self.close_connection = True

    def finish(self) -> None:
        if self._fh_adopted_by_loop() or self.__dict__.get("_fh_parked"):
            return      # as in handle(): not yet, the loop or engine will call us
        super().finish()

    def _fh_adopted_by_loop(self) -> bool:
        adopting = getattr(self.server, "_fh_adopting", None)
        return adopting is not None and adopting is self.request

    def _fh_handle_one_request(self) -> None:
        if self.head_timeout is not None and type(self.rfile) is _core.SocketReader:
            self.rfile.start_head(self.head_timeout)
        self.handle_one_request()

    # -- the request body (beyond the stdlib) --------------------------------

    def read_body(self, limit: Optional[int] = None) -> bytes:
        """Read and return the request body, as its headers frame it: see
        fasthttp.body.read_body (the stdlib has no such method)."""
        return body.read_body(self, limit)


if _message_of is not None:
    BaseHTTPRequestHandler.headers = LazyHeaders()  # type: ignore[assignment]
    _core.C.modules["request"].set_lazy_headers(BaseHTTPRequestHandler.__dict__["headers"])  # type: ignore[union-attr]
for _name, _method in _core.handler_methods.items():
    setattr(BaseHTTPRequestHandler, _name, _method)
_core.register_handler_class(BaseHTTPRequestHandler)
del _name, _method
