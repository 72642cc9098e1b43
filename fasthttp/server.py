"""fasthttp.server: the http.server API on fasthttp's request path.

Every class here subclasses its http.server counterpart, so isinstance checks
and everything we do not override (send_error, the directory listing, CGI, ...)
are the running Python's own code. We override only the hot path:

- setup(): our socket reader/writer instead of socket.makefile();
- parse_request(): the C parser instead of email.parser;
- the response header methods and the date/log timestamps (cached per second).

Each override keeps the stdlib's contract: same attributes set, same hooks
called in the same order, same bytes written.
"""

from __future__ import annotations

import email.message
import email.parser
import http.client
import http.server as _stdlib
import io
import re
import socket
import threading
from http import HTTPStatus
from typing import Any, NoReturn, Optional, cast

from fasthttp import _core
from fasthttp._errors import BodyError, HeadError
from fasthttp.static import FileServing

# Everything http.server defines (DEFAULT_ERROR_MESSAGE, nobody_uid,
# _url_collapse_path, ... and names later versions add) is ours too; the
# classes and functions below then replace the ones we accelerate.
globals().update({name: value for name, value in vars(_stdlib).items()
                  if not name.startswith("__")})
# Those other modules use, spelled out again for readers and type checkers
# (typeshed does not declare them).
_STDLIB_NAMES: dict[str, Any] = vars(_stdlib)
DEFAULT_ERROR_MESSAGE: str = _STDLIB_NAMES["DEFAULT_ERROR_MESSAGE"]
DEFAULT_ERROR_CONTENT_TYPE: str = _STDLIB_NAMES["DEFAULT_ERROR_CONTENT_TYPE"]
_get_best_family: Any = _STDLIB_NAMES["_get_best_family"]

__all__ = list(_stdlib.__all__)
__version__: str = getattr(_stdlib, "__version__", "0.6")

_Address = Any          # what socketserver passes as client_address


class HTTPServer(_stdlib.HTTPServer):
    """http.server.HTTPServer; handlers get fasthttp's reader and writer."""

    # The listen() backlog. socketserver's 5 overflows as soon as a few dozen
    # clients connect at once: the kernel drops their SYNs and they retry
    # after a second (the p99 of a -c32 load test was ~0.7 s). Linux caps
    # it at net.core.somaxconn anyway.
    request_queue_size = 128


class ThreadingHTTPServer(HTTPServer, _stdlib.ThreadingHTTPServer):
    """http.server.ThreadingHTTPServer: one thread per connection, at most
    ``max_connections`` at once (the stdlib has no bound). When all are busy
    the accept loop waits, so further clients queue in the listen backlog
    instead of each costing a thread."""
    # MRO: ours, HTTPServer, http.server.ThreadingHTTPServer, ThreadingMixIn,
    # http.server.HTTPServer.
    daemon_threads = True

    #: Simultaneous connections (threads); None for no bound, as the stdlib.
    max_connections: Optional[int] = 1024

    def process_request(self, request: Any, client_address: _Address) -> None:
        if self.max_connections is None:
            super().process_request(request, client_address)
            return
        slots: Optional[threading.BoundedSemaphore] = self.__dict__.get("_fh_slots")
        if slots is None:
            slots = self._fh_slots = threading.BoundedSemaphore(self.max_connections)
        # Wait for a free slot, but notice shutdown() meanwhile.
        while not slots.acquire(timeout=0.2):
            if getattr(self, "_BaseServer__shutdown_request", False):
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: _Address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            slots = self.__dict__.get("_fh_slots")
            if slots is not None:
                slots.release()


# -- request line ----------------------------------------------------------

def _stdlib_version_rules() -> tuple[bool, bool]:
    """Which request-version checks does the running http.server make?

    3.11+ (and security releases of older lines) reject non-digit and overlong
    version components; older ones let int() decide. We ask the stdlib itself
    rather than keying on version numbers.
    """
    class Probe(_stdlib.BaseHTTPRequestHandler):
        def __init__(self, raw: bytes) -> None:
            self.raw_requestline = raw
            self.rfile = io.BytesIO(b"\r\n")
            self.rejected = False

        def send_error(self, code: int, message: Optional[str] = None,
                       explain: Optional[str] = None) -> None:
            self.rejected = True

    non_digit = Probe(b"GET / HTTP/+1.1\r\n")
    non_digit.parse_request()
    too_long = Probe(b"GET / HTTP/1.00000000001\r\n")
    too_long.parse_request()
    return non_digit.rejected, too_long.rejected


_REJECT_NON_DIGIT_VERSION, _REJECT_LONG_VERSION = _stdlib_version_rules()

# chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1); at most 16 hex digits, so the
# size fits in 64 bits; extensions hold no control bytes but HTAB.
_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\r?\n")

# RFC 9110 token, for methods on the lenient path.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# Control characters RFC 9112 never allows in a request line. HTAB, VT and FF
# are allowed: RFC 9112 section 3 lets a server split words on them.
_REQUEST_LINE_CTL = re.compile(r"[\x00-\x08\x0a\x0d-\x1f\x7f]")


def _lenient_version_number(version: str) -> Optional[tuple[int, int]]:
    """http.server's reading of a version word -> (major, minor) or None."""
    if not version.startswith("HTTP/"):
        return None
    parts = version[5:].split(".")
    if len(parts) != 2:
        return None
    if _REJECT_NON_DIGIT_VERSION and not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    if _REJECT_LONG_VERSION and (len(parts[0]) > 10 or len(parts[1]) > 10):
        return None
    try:
        return int(parts[0]), int(parts[1])
    except ValueError:
        return None


# -- the handler -----------------------------------------------------------

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

    # handle_one_request, parse_request and the response-header methods are
    # installed below from _core.handler_methods: C (or the pure-Python twin),
    # same attributes, same hooks, same bytes. parse_request's rare paths come
    # back to the _fh_* methods here.

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
                self._fh_handle_one_request()
        except BodyError:
            self.close_connection = True

    def finish(self) -> None:
        if self._fh_adopted_by_loop():
            return      # as in handle(): not yet, the loop will call us
        super().finish()

    def _fh_adopted_by_loop(self) -> bool:
        adopting = getattr(self.server, "_fh_adopting", None)
        return adopting is not None and adopting is self.request

    def _fh_handle_one_request(self) -> None:
        if self.head_timeout is not None and type(self.rfile) is _core.SocketReader:
            self.rfile.start_head(self.head_timeout)
        self.handle_one_request()

    def _fh_lenient_request_line(self, requestline: str) -> Optional[tuple[str, str]]:
        """A request line not in RFC 9112's strict form: http.server's
        word-splitting rules decide (and answer), then we refuse what they let
        through but RFC 9112 forbids. Returns (command, path) or None."""
        words = requestline.split()
        if not words:
            return None
        if len(words) >= 3:
            version = words[-1]
            number = _lenient_version_number(version)
            if number is None:
                self.send_error(HTTPStatus.BAD_REQUEST,
                                "Bad request version (%r)" % version)
                return None
            if number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if number >= (2, 0):
                self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                                "Invalid HTTP version (%s)" % version[5:])
                return None
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST,
                            "Bad request syntax (%r)" % requestline)
            return None
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST,
                                "Bad HTTP/0.9 request type (%r)" % command)
                return None
        # The line as sent, less one terminator: rstrip('\r\n') above would
        # hide a bare CR before it.
        sent = self.raw_requestline
        if sent.endswith(b"\r\n"):
            sent = sent[:-2]
        elif sent.endswith(b"\n"):
            sent = sent[:-1]
        if not _TOKEN.match(command) or _REQUEST_LINE_CTL.search(str(sent, "iso-8859-1")):
            self.close_connection = True
            self.send_error(HTTPStatus.BAD_REQUEST,
                            "Bad request syntax (%r)" % requestline)
            return None
        return command, path

    def _fh_reject_head(self, err: HeadError) -> bool:
        """Answer a header block the parser refused, as http.server would."""
        if err.kind == "line_too_long":
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "Line too long",
                            str(http.client.LineTooLong("header line")))
        elif err.kind == "too_many_headers":
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "Too many headers",
                            "got more than %d headers" % _max_headers())
        elif err.kind == "head_too_large":
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "Request header fields too large", err.reason)
        else:
            self.send_error(HTTPStatus.BAD_REQUEST,
                            "Bad request (%s)" % err.reason)
        self.close_connection = True
        return False

    def _fh_check_framing(self) -> bool:
        """Refuse a request whose body length is ambiguous (RFC 9112 6.1-6.3):
        the ways one server reads a body another server would read otherwise
        (request smuggling). Called by parse_request only when the head has a
        Content-Length or Transfer-Encoding. Returns False after answering."""
        headers = self.headers
        codings_fields = headers.get_all("Transfer-Encoding")
        lengths = headers.get_all("Content-Length")
        if codings_fields is not None:
            if lengths is not None:
                return self._fh_refuse(HTTPStatus.BAD_REQUEST,
                                       "both Content-Length and Transfer-Encoding")
            if not self.request_version >= "HTTP/1.1":
                return self._fh_refuse(HTTPStatus.BAD_REQUEST,
                                       "Transfer-Encoding in an HTTP/1.0 request")
            codings = [c.strip(" \t").lower()
                       for field in codings_fields for c in field.split(",")]
            codings = [c for c in codings if c]
            if not codings or codings[-1] != "chunked":
                return self._fh_refuse(HTTPStatus.BAD_REQUEST,
                                       "final transfer coding is not chunked")
            if len(codings) > 1:
                if codings.count("chunked") > 1:
                    return self._fh_refuse(HTTPStatus.BAD_REQUEST,
                                           "chunked applied more than once")
                return self._fh_refuse(HTTPStatus.NOT_IMPLEMENTED,
                                       "unsupported transfer coding (%s)"
                                       % ", ".join(codings[:-1]))
        elif lengths is not None:
            values: set[int] = set()
            for field in lengths:
                digits = field.rstrip(" \t")
                if not (digits.isascii() and digits.isdigit()) or len(digits) > 18:
                    return self._fh_refuse(HTTPStatus.BAD_REQUEST,
                                           "invalid Content-Length")
                values.add(int(digits))
            if len(values) > 1:
                return self._fh_refuse(HTTPStatus.BAD_REQUEST,
                                       "conflicting Content-Length values")
        return True

    def _fh_refuse(self, status: HTTPStatus, reason: str) -> bool:
        self.close_connection = True
        if status == HTTPStatus.BAD_REQUEST:
            self.send_error(status, "Bad request (%s)" % reason)
        else:
            self.send_error(status, reason)
        return False

    # -- the request body (beyond the stdlib) --------------------------------

    def read_body(self, limit: Optional[int] = None) -> bytes:
        """Read and return the request body, as its headers frame it.

        Reads exactly Content-Length bytes, or decodes a chunked body (chunk
        extensions ignored; trailer fields, if any, become ``self.trailers``,
        a MessageClass instance). A request with neither has no body (b"").
        At most ``limit`` bytes (default: ``max_body_bytes``); a larger body
        gets 413, a malformed or cut-short one 400 — sent by this method,
        which then raises BodyError (handle() ends the connection quietly if
        you let it escape). Afterwards the connection is positioned at the
        next request, so keep-alive and pipelining work. The stdlib has no
        such method: there, handlers read ``rfile`` themselves.
        """
        # Once per request: the handler (and so this attribute) lives as long
        # as the connection, each request brings a new headers object.
        headers = self.headers
        if self.__dict__.get("_fh_body_of") is headers:
            return b""
        self._fh_body_of = headers
        if limit is None:
            limit = self.max_body_bytes
        if headers.get("Transfer-Encoding") is not None:
            return self._fh_read_chunked(limit)
        length_field = headers.get("Content-Length")
        if length_field is None:
            return b""
        length = int(length_field)
        if limit is not None and length > limit:
            self._fh_body_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                "body larger than %d bytes" % limit)
        body: bytes = self.rfile.read(length)
        if len(body) < length:
            self._fh_body_error(HTTPStatus.BAD_REQUEST, "body cut short")
        return body

    _MAX_CHUNK_LINE = 4096      # a chunk-size line, extensions included

    def _fh_read_chunked(self, limit: Optional[int]) -> bytes:
        rfile = self.rfile
        parts: list[bytes] = []
        total = 0
        while True:
            line = rfile.readline(self._MAX_CHUNK_LINE + 1)
            match = _CHUNK_SIZE_LINE.fullmatch(line)
            if match is None:
                return self._fh_body_error(HTTPStatus.BAD_REQUEST, "invalid chunk size line")
            size = int(match.group(1), 16)
            if size == 0:
                break
            total += size
            if limit is not None and total > limit:
                self._fh_body_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                    "body larger than %d bytes" % limit)
            data = rfile.read(size)
            end = rfile.read(1)
            if end == b"\r":
                end = rfile.read(1)
            if len(data) < size or end != b"\n":
                self._fh_body_error(HTTPStatus.BAD_REQUEST, "invalid chunk data")
            parts.append(data)
        try:
            trailers = _core.read_headers(rfile, _max_line(), _max_headers(),
                                          self.max_head_bytes)
        except HeadError as err:
            return self._fh_body_error(HTTPStatus.BAD_REQUEST, "trailer: " + err.reason)
        if trailers:
            self.trailers = self._fh_exact_message(trailers)
        return b"".join(parts)

    def _fh_body_error(self, status: HTTPStatus, reason: str) -> NoReturn:
        self._fh_refuse(status, reason)
        raise BodyError(int(status), reason)

    def _fh_exact_message(self, pairs: list[tuple[str, str]]) -> email.message.Message:
        """The headers as email.parser builds them, for a custom MessageClass
        or a Content-Type that makes it look for a multipart/message body.
        (The fast path fills in a plain HTTPMessage directly.) We re-serialize
        the checked pairs: the parser strips the same leading whitespace we
        did and keeps the trailing, so the result is the stdlib's."""
        text = "".join(["%s: %s\r\n" % pair for pair in pairs]) + "\r\n"
        message: email.message.Message = email.parser.Parser(
            _class=self.MessageClass).parsestr(text)
        return message


def _max_line() -> int:
    """http.client's line limit, read when used (tests patch it)."""
    return cast(int, vars(http.client)["_MAXLINE"])


def _max_headers() -> int:
    """http.client's header-count limit, read when used (tests patch it)."""
    return cast(int, vars(http.client)["_MAXHEADERS"])


for _name, _method in _core.handler_methods.items():
    setattr(BaseHTTPRequestHandler, _name, _method)
_core.register_handler_class(BaseHTTPRequestHandler)
del _name, _method


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


# CPython 3.14 added HTTPSServer / ThreadingHTTPSServer to http.server; ours
# (fasthttp/tls.py) exist on every supported version and replace the
# stdlib's here, so install() serves them too.
from fasthttp.tls import HTTPSServer, ThreadingHTTPSServer  # noqa: E402,F401
