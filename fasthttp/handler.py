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

from fasthttp import _core, body, head
from fasthttp.connection import adopting
from fasthttp.errors import BodyError

__all__ = ["BaseHTTPRequestHandler"]


def _socket_attribute(name: str) -> Any:
    """socketserver's `request` or `connection` attribute, kept in the
    instance's __dict__ under its own name as socketserver leaves it (this
    property, a data descriptor, is looked up first); reading it takes the
    socket (see BaseHTTPRequestHandler)."""
    def take(self: Any) -> Any:
        wfile = self.__dict__.get("wfile")
        if type(wfile) is _core.SocketWriter and wfile.queueing:
            wfile.write_through()
        return self.__dict__.get(name)

    def keep(self: Any, sock: Any) -> None:
        self.__dict__[name] = sock
    return property(take, keep)


class BaseHTTPRequestHandler(_stdlib.BaseHTTPRequestHandler):
    __doc__ = _stdlib.BaseHTTPRequestHandler.__doc__

    rfile: Any     # our SocketReader, or what socket.makefile() gives
    wfile: Any     # our SocketWriter, or what socket.makefile() gives
    raw_requestline: bytes

    #: The trailer fields of the current request's chunked body, once
    #: read_body() has read it (a MessageClass instance); None otherwise.
    trailers: Optional[email.message.Message] = None

    # The socket, as socketserver's `request` and `connection`. On the
    # engine a response is queued and sent as the socket takes it; a
    # handler that takes the socket (to write to it, or hand it on) gets a
    # wfile that writes straight through for the rest of its request, so
    # nothing it sends overtakes what it queued, as with http.server.
    request = _socket_attribute("request")
    connection = _socket_attribute("connection")

    def setup(self) -> None:
        # socketserver.StreamRequestHandler.setup, with our reader and writer
        # for plain buffered use. An unbuffered rfile (rbufsize = 0, as the
        # CGI handler asks, to hand the socket to a child) or anything that
        # is not a socket keeps the stdlib's files.
        request = self.__dict__.get("request")
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
        self.rfile.max_head_bytes = self.max_head_bytes     # for the event engine's request_state
        # A graceful server (fasthttp.graceful) tells idle from busy by it.
        book = getattr(self.server, "fasthttp_connections", None)
        if book is not None:
            book.track(request, self.rfile)

    # http.server's request and response methods, from the path fasthttp._core
    # chose: C, or the pure-Python twin (same attributes, same hooks, same
    # bytes). self.headers is made when first read (request.LazyHeaders).
    parse_request = _core.handler_methods["parse_request"]
    send_response = _core.handler_methods["send_response"]
    send_response_only = _core.handler_methods["send_response_only"]
    send_header = _core.handler_methods["send_header"]
    end_headers = _core.handler_methods["end_headers"]
    flush_headers = _core.handler_methods["flush_headers"]
    log_request = _core.handler_methods["log_request"]
    log_message = _core.handler_methods["log_message"]
    date_time_string = _core.handler_methods["date_time_string"]
    log_date_time_string = _core.handler_methods["log_date_time_string"]
    headers = _core.LazyHeaders()

    #: Bytes a whole header block may take (0: no bound). The stdlib bounds
    #: only each line (64 KiB) and the line count (100), about 6.4 MB in all.
    max_head_bytes: int = head.MAX_HEAD_BYTES

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
        if adopting.sock is self.__dict__.get("request"):
            return      # the engine is creating us: it calls handle_one_request
        self.close_connection = True
        try:
            while True:
                self._fh_start_head()           # from now on, waiting for a head
                self.handle_one_request()
                if self.close_connection:
                    break
        except BodyError:
            self.close_connection = True

    def finish(self) -> None:
        if adopting.sock is self.__dict__.get("request"):
            return      # as in handle(): the engine finishes us when it closes
        super().finish()

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
            # Send the response if not already done (on the engine: what the
            # socket takes now; the loop sends the rest, never this thread).
            wfile = self.wfile
            if type(wfile) is _core.SocketWriter and wfile.queueing:
                wfile.push()
            else:
                wfile.flush()
            # A head that frames a body, read from our reader (its position
            # tells how much of the body the handler read), ended once (a
            # parse_request of another kind leaves the last one behind).
            state = self.__dict__
            request = state.get("_fh_head")
            if (request is not None and request.framing != head.FRAMING_NONE
                    and request.at >= 0 and state.get("_fh_ended") is not request):
                state["_fh_ended"] = request
                self._fh_end_body(request)
        except socket.timeout as e:
            # a read or a write timed out.  Discard this connection
            self.log_error("Request timed out: %r", e)
            self.close_connection = True
            return

    def _fh_end_body(self, request: head.Head) -> None:
        """After the handler: drop what it left of the request body, so
        that the next request starts where this one's body ends."""
        self.trailers = None
        if self.close_connection or self.__dict__.get("_fh_body_of") is request:
            return      # no next request, or read_body() read it all
        consumed = self.rfile._taken - (request.at + request.length)
        if not body.discard_body(self, request, consumed, self.max_discard_bytes):
            self.close_connection = True

    # -- the request body (beyond the stdlib) --------------------------------

    def read_body(self, limit: Optional[int] = None) -> bytes:
        """Read and return the request body, as its headers frame it: see
        fasthttp.body.read_body (the stdlib has no such method)."""
        return body.read_body(self, limit)


_core.register_handler_class(BaseHTTPRequestHandler)
if hasattr(_stdlib.BaseHTTPRequestHandler, "_colorize_request"):
    # 3.15+ colours its log lines (_colorize): its own log_request and
    # log_message then, set after register_handler_class so that the C
    # path calls them as a subclass's, never writing the plain line itself.
    BaseHTTPRequestHandler.log_request = _stdlib.BaseHTTPRequestHandler.log_request
    BaseHTTPRequestHandler.log_message = _stdlib.BaseHTTPRequestHandler.log_message
