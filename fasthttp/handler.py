"""fasthttp's BaseHTTPRequestHandler: http.server's, on our request path.

It subclasses the stdlib's class and replaces only the hot path:

- setup(): our socket reader/writer (sockio) instead of socket.makefile();
- parse_request(): the C parser instead of email.parser (request.py);
- the response header methods and the timestamps (response.py);
- handle(): the request-head deadline, and a quiet end after read_body()
  refused a body; read_body() itself (body.py) is an addition;
- handle_one_request(): http.server's, plus: what the handler left unread
  of a request body is read and dropped (never parsed as a request).

Each override keeps the stdlib's contract: same attributes set, same hooks
called in the same order, same bytes written.
"""
from __future__ import annotations

import email.message
import http.server as _stdlib
import socket
from http import HTTPStatus
from typing import Any, Optional

from fasthttp import _core, body
from fasthttp.errors import BodyError
from fasthttp.sockio import SocketReader as _PureReader

# The readers whose parse_request marks a body (C and pure: tools such as
# fuzz/fuzz_request.py mix the pure methods into a class beside the C ones).
_READERS = (_core.SocketReader, _PureReader)

__all__ = ["BaseHTTPRequestHandler"]


class BaseHTTPRequestHandler(_stdlib.BaseHTTPRequestHandler):
    __doc__ = _stdlib.BaseHTTPRequestHandler.__doc__

    rfile: Any     # our SocketReader, or what socket.makefile() gives
    wfile: Any     # our SocketWriter, or what socket.makefile() gives
    raw_requestline: bytes

    #: The trailer fields of the current request's chunked body, once
    #: read_body() has read it (a MessageClass instance); None otherwise.
    trailers: Optional[email.message.Message] = None

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
            writer.io_timeout = self.send_timeout
            self.wfile = writer
            self.rfile = _core.SocketReader(request, writer)
        else:
            self.rfile = _core.SocketReader(request)
            self.wfile = request.makefile("wb", self.wbufsize)
        self.rfile.io_timeout = self.body_timeout
        track = getattr(self.server, "_fh_track_reader", None)
        if track is not None:       # a graceful server: it tells idle from busy
            track(request, self.rfile)

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

    #: What is left unread of a request body when the handler returns is read
    #: and dropped, up to this many bytes, so the connection can serve its
    #: next request; a larger rest closes the connection instead. Either way
    #: it is never read as a request. (Go's net/http drops up to 256 KiB.)
    max_discard_bytes: int = 256 * 1024

    #: Seconds between two successive reads once the request head is in (the
    #: body, as the handler reads it), and between two successive writes of
    #: the response: nginx's client_body_timeout and send_timeout. A client
    #: that announces a body and sends nothing, or stops reading, is dropped.
    #: None: no bound, as the stdlib. They apply where `timeout` is None (a
    #: `timeout` of the handler's own bounds every socket operation instead),
    #: send_timeout where wbufsize is 0 (the default).
    body_timeout: Optional[float] = 60.0
    send_timeout: Optional[float] = 60.0

    #: Refuse (400) an HTTP/1.1 request without a Host header, as RFC 9112
    #: section 3.2 says a server must. Off by default: http.server accepts
    #: them (and CPython's own tests send them). Two Host headers, or a Host
    #: that is not a valid host[:port], are refused either way.
    require_host: bool = False

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
                self._fh_start_head()           # from now on, waiting for a head
                park = getattr(self.server, "_fh_park", None)
                if park is not None and park(self):
                    return      # idle: the server's engine has the connection now
                self.handle_one_request()
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
        self._fh_start_head()
        self.handle_one_request()

    def _fh_start_head(self) -> None:
        if self.head_timeout is not None and type(self.rfile) is _core.SocketReader:
            self.rfile.start_head(self.head_timeout)

    def handle_one_request(self) -> None:
        # http.server's handle_one_request (3.10-3.15: the same), plus the
        # end of the request body (_fh_end_body) when the request had one.
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = ''
                self.request_version = ''
                self.command = ''
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                # An error code has been sent, just exit
                return
            mname = 'do_' + self.command
            if not hasattr(self, mname):
                self.send_error(
                    HTTPStatus.NOT_IMPLEMENTED,
                    "Unsupported method (%r)" % self.command)
                return
            method = getattr(self, mname)
            method()
            self.wfile.flush()  # actually send the response if not already done.
            # parse_request marks the reader when the head frames a body
            # (Content-Length or Transfer-Encoding): nothing to do otherwise.
            rfile = self.rfile
            if type(rfile) in _READERS and rfile._body_mark >= 0:
                self._fh_end_body(rfile)
        except socket.timeout as e:
            # a read or a write timed out.  Discard this connection
            self.log_error("Request timed out: %r", e)
            self.close_connection = True
            return

    def _fh_end_body(self, rfile: Any) -> None:
        """After the handler: drop what it left of the request body, so
        that the next request starts where this one's body ends."""
        mark = rfile._body_mark
        rfile._body_mark = -1
        self.trailers = None
        if self.close_connection or self.__dict__.get("_fh_body_of") is self.headers:
            return      # no next request, or read_body() read it all
        if not body.discard_body(self, rfile._taken - mark, self.max_discard_bytes):
            self.close_connection = True

    # -- the request body (beyond the stdlib) --------------------------------

    def read_body(self, limit: Optional[int] = None) -> bytes:
        """Read and return the request body, as its headers frame it: see
        fasthttp.body.read_body (the stdlib has no such method)."""
        return body.read_body(self, limit)


if _core.accelerated and _core.C is not None:
    # self.headers made on first read (_request.LazyHeaders); the pure path
    # sets it in parse_request, as http.server does.
    BaseHTTPRequestHandler.headers = _core.C.modules["request"].LazyHeaders()
for _name, _method in _core.handler_methods.items():
    setattr(BaseHTTPRequestHandler, _name, _method)
_core.register_handler_class(BaseHTTPRequestHandler)
del _name, _method
if hasattr(_stdlib.BaseHTTPRequestHandler, "_colorize_request"):
    # 3.15+ colours its log lines (_colorize): its own log_request and
    # log_message then, set after register_handler_class so that the C
    # path calls them as a subclass's, never writing the plain line itself.
    BaseHTTPRequestHandler.log_request = _stdlib.BaseHTTPRequestHandler.log_request  # type: ignore[method-assign]
    BaseHTTPRequestHandler.log_message = _stdlib.BaseHTTPRequestHandler.log_message  # type: ignore[method-assign]
