"""The request side of http.server's BaseHTTPRequestHandler: parse_request().

parse_request() here is the pure-Python path; fasthttp/_request.pyx is the
same function in C (fasthttp._core picks one). Both read the request line and
the header block through the head parser (head.py / _head.pyx) and share the
rare paths, which are plain Python below: the request line in a form other
than RFC 9112's strict one (http.server's lenient word-splitting decides),
a head the parser refused, a custom MessageClass, and the framing checks that
refuse ambiguous bodies (request smuggling, RFC 9112 section 6).
"""
from __future__ import annotations

import email.message
import email.parser
import email.policy
import http.client
import http.client as _http_client
import http.server as _stdlib
import io
import re
from http import HTTPStatus
from typing import Any, Optional, cast

from fasthttp.errors import HeadError
from fasthttp.head import (
    _REQUEST_LINE,
    HOST_INVALID,
    HOST_MANY,
    HOST_OK,
    _size_t,
    head_info,
    read_head,
)
from fasthttp.sockio import SocketReader

__all__ = ["parse_request", "lenient_request_line", "headless_http09", "reject_head",
           "check_framing", "check_host",
           "refuse", "exact_message", "max_line", "max_headers", "MESSAGE_TEMPLATE"]

# -- the request line ------------------------------------------------------

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


def _stdlib_request_line_rules() -> tuple[bool, bool, bool]:
    """What the running http.server does that 3.14 changed, probed:

    - a request-line error (bad version, bad syntax, a non-GET HTTP/0.9
      request) answers with a status line and headers: request_version is
      '' when send_error runs, not the default 'HTTP/0.9' (no status line);
    - a 505 for an HTTP/2+ version carries that version;
    - an HTTP/0.9 request (GET and a path) has no header block to read.
    """
    class Probe(_stdlib.BaseHTTPRequestHandler):
        def __init__(self, raw: bytes) -> None:
            self.raw_requestline = raw
            self.rfile = io.BytesIO(b"X: y\r\n\r\n")
            self.version_at_error: Optional[str] = None

        def send_error(self, code: int, message: Optional[str] = None,
                       explain: Optional[str] = None) -> None:
            self.version_at_error = self.request_version

    bad_syntax = Probe(b"GET / HTTP/1.1 x\r\n")
    bad_syntax.parse_request()
    too_new = Probe(b"GET / HTTP/2.0\r\n")
    too_new.parse_request()
    http09 = Probe(b"GET /\r\n")
    http09.parse_request()
    return (bad_syntax.version_at_error == "",
            too_new.version_at_error == "HTTP/2.0",
            http09.rfile.tell() == 0)


(_ERROR_HAS_STATUS_LINE, _VERSION_IN_505,
 _HTTP09_HEADLESS) = _stdlib_request_line_rules()


def _stdlib_counts_blank_line() -> bool:
    """Does http.client.parse_headers count the blank line that ends a head
    against _MAXHEADERS (up to 3.14: 99 fields at most), or fields only
    (3.15+: 100)? Probed."""
    try:
        fields = vars(http.client)["_MAXHEADERS"]
        http.client.parse_headers(io.BytesIO(b"X: y\r\n" * fields + b"\r\n"))
    except http.client.HTTPException:
        return True
    return False


#: What to add to _MAXHEADERS for the head parser, which counts the ending
#: blank line as http.server up to 3.14 does (0), to take as many fields as
#: the running http.server (1 on 3.15+).
EXTRA_HEAD_LINE: int = 0 if _stdlib_counts_blank_line() else 1


def _request_line_error(self: Any, message: str) -> None:
    """send_error(400) for a request line refused, as the running http.server."""
    if _ERROR_HAS_STATUS_LINE:
        self.request_version = ""
    self.send_error(HTTPStatus.BAD_REQUEST, message)


def headless_http09(handler: Any) -> bool:
    """After lenient_request_line: True for an HTTP/0.9 request (GET and a
    path) where the running http.server reads no header block for it (3.14+).
    handler.headers is then {} as the stdlib's, and nothing more is read."""
    if not _HTTP09_HEADLESS or len(handler.requestline.split()) != 2:
        return False
    handler.headers = {}
    rfile = handler.rfile
    if hasattr(rfile, "end_head"):      # our SocketReader (C or pure)
        rfile.end_head()
        rfile._body_mark = -1
    return True

# RFC 9110 token, for methods on the lenient path.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# A Content-Length value: ASCII digits, trailing SP/HTAB kept as http.server keeps them.
_LENGTH_DIGITS = re.compile(r"[0-9]+[ \t]*")
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


# -- the header block and framing -------------------------------------------

def lenient_request_line(self: Any, requestline: str) -> Optional[tuple[str, str]]:
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
            _request_line_error(self, "Bad request version (%r)" % version)
            return None
        if number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        if number >= (2, 0):
            if _VERSION_IN_505:
                self.request_version = version
            self.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                            "Invalid HTTP version (%s)" % version[5:])
            return None
        self.request_version = version
    if not 2 <= len(words) <= 3:
        _request_line_error(self, "Bad request syntax (%r)" % requestline)
        return None
    command, path = words[:2]
    if len(words) == 2:
        self.close_connection = True
        if command != "GET":
            _request_line_error(self, "Bad HTTP/0.9 request type (%r)" % command)
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
        _request_line_error(self, "Bad request syntax (%r)" % requestline)
        return None
    return command, path

def reject_head(self: Any, err: HeadError) -> bool:
    """Answer a header block the parser refused, as http.server would."""
    if err.kind == "line_too_long":
        self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "Line too long",
                        str(http.client.LineTooLong("header line")))
    elif err.kind == "too_many_headers":
        self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "Too many headers",
                        "got more than %d headers" % max_headers())
    elif err.kind == "head_too_large":
        self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "Request header fields too large", err.reason)
    else:
        self.send_error(HTTPStatus.BAD_REQUEST,
                        "Bad request (%s)" % err.reason)
    self.close_connection = True
    return False

def check_framing(self: Any) -> bool:
    """Refuse a request whose body length is ambiguous (RFC 9112 6.1-6.3):
    the ways one server reads a body another server would read otherwise
    (request smuggling). Called by parse_request only when the head has a
    Content-Length or Transfer-Encoding. Returns False after answering."""
    headers = self.headers
    codings_fields = headers.get_all("Transfer-Encoding")
    lengths = headers.get_all("Content-Length")
    if codings_fields is not None:
        if lengths is not None:
            return refuse(self, HTTPStatus.BAD_REQUEST,
                                   "both Content-Length and Transfer-Encoding")
        if not self.request_version >= "HTTP/1.1":
            return refuse(self, HTTPStatus.BAD_REQUEST,
                                   "Transfer-Encoding in an HTTP/1.0 request")
        codings = [c.strip(" \t").lower()
                   for field in codings_fields for c in field.split(",")]
        codings = [c for c in codings if c]
        if not codings or codings[-1] != "chunked":
            return refuse(self, HTTPStatus.BAD_REQUEST,
                                   "final transfer coding is not chunked")
        if len(codings) > 1:
            if codings.count("chunked") > 1:
                return refuse(self, HTTPStatus.BAD_REQUEST,
                                       "chunked applied more than once")
            return refuse(self, HTTPStatus.NOT_IMPLEMENTED,
                                   "unsupported transfer coding (%s)"
                                   % ", ".join(codings[:-1]))
    elif lengths is not None:
        # 1*DIGIT, of any length (RFC 9110 8.6; http.server takes any): one
        # longer than content_length()'s 18 digits is more than any body
        # read_body() takes, and the connection closes after the handler
        # (its rest is never read as a request), but the handler runs.
        values: set[str] = set()
        for field in lengths:
            if _LENGTH_DIGITS.fullmatch(field) is None:
                return refuse(self, HTTPStatus.BAD_REQUEST, "invalid Content-Length")
            values.add(field.rstrip(" \t").lstrip("0") or "0")
        if len(values) > 1:
            return refuse(self, HTTPStatus.BAD_REQUEST,
                                   "conflicting Content-Length values")
    return True

def check_host(self: Any, host: int) -> bool:
    """RFC 9112 section 3.2: refuse two Host headers, or one that is not a
    valid host[:port]; and an HTTP/1.1 request without one if the handler's
    require_host says so. Called by parse_request only when the head has
    not exactly one valid Host. Returns False after answering."""
    if host == HOST_MANY:
        return refuse(self, HTTPStatus.BAD_REQUEST, "more than one Host header")
    if host == HOST_INVALID:
        return refuse(self, HTTPStatus.BAD_REQUEST, "invalid Host header")
    if self.require_host and self.request_version >= "HTTP/1.1":
        return refuse(self, HTTPStatus.BAD_REQUEST, "no Host header")
    return True


def refuse(self: Any, status: HTTPStatus, reason: str) -> bool:
    self.close_connection = True
    if status == HTTPStatus.BAD_REQUEST:
        self.send_error(status, "Bad request (%s)" % reason)
    else:
        self.send_error(status, reason)
    return False

def exact_message(self: Any, pairs: list[tuple[str, str]]) -> email.message.Message:
    """The headers as email.parser builds them, for a custom MessageClass
    or a Content-Type that makes it look for a multipart/message body.
    (The fast path fills in a plain HTTPMessage directly.) We re-serialize
    the checked pairs: the parser strips the same leading whitespace we
    did and keeps the trailing, so the result is the stdlib's."""
    text = "".join(["%s: %s\r\n" % pair for pair in pairs]) + "\r\n"
    message: email.message.Message = email.parser.Parser(
        _class=self.MessageClass).parsestr(text)
    return message


def max_line() -> int:
    """http.client's line limit, read when used (tests patch it)."""
    return cast(int, vars(http.client)["_MAXLINE"])


def max_headers() -> int:
    """http.client's header-count limit, read when used (tests patch it)."""
    return cast(int, vars(http.client)["_MAXHEADERS"])


# A plain HTTPMessage as email.parser leaves it, less the headers: the fast
# path fills a fresh instance's __dict__ from this (both paths).
MESSAGE_TEMPLATE: dict[str, Any] = dict(
    policy=email.policy.compat32, _headers=None, _unixfrom=None, _payload="",
    _charset=None, preamble=None, epilogue=None, defects=None,
    _default_type="text/plain")
_HTTPMessage = _http_client.HTTPMessage


# -- parse_request, the pure-Python path -----------------------------------

def parse_request(handler: Any) -> bool:
    """BaseHTTPRequestHandler.parse_request, as parse_request() in
    _request.pyx: the strict request line and the header block here, the rare
    paths through the functions below, which both paths share."""
    handler.command = None
    handler.request_version = handler.default_request_version
    handler.close_connection = True
    raw = handler.raw_requestline
    if type(raw) is not bytes:
        raw = bytes(raw)
    requestline = raw.decode("latin-1").rstrip("\r\n")
    handler.requestline = requestline

    m = _REQUEST_LINE.fullmatch(raw)
    if m is not None:
        method, target, major, minor = m.groups()
        command = method.decode("latin-1")
        path = target.decode("latin-1")
        major = major[0] - 48
        minor = minor[0] - 48
        if ((major > 1 or (major == 1 and minor >= 1))
                and handler.protocol_version >= "HTTP/1.1"):
            handler.close_connection = False
        if major >= 2:
            if _VERSION_IN_505:
                handler.request_version = requestline[len(requestline) - 8:]
            handler.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                               "Invalid HTTP version (%d.%d)" % (major, minor))
            return False
        handler.request_version = requestline[len(requestline) - 8:]
    else:
        words = lenient_request_line(handler, requestline)
        if words is None:
            return False
        command, path = words
    handler.command = command
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    handler.path = path
    if m is None and headless_http09(handler):
        return True

    rfile = handler.rfile
    try:
        pairs = read_head(rfile, _size_t(max_line()), _size_t(max_headers() + EXTRA_HEAD_LINE),
                          _size_t(handler.max_head_bytes))
    except HeadError as err:
        return reject_head(handler, err)
    connection, expect, exotic, framing, host = head_info(pairs)
    if type(rfile) is SocketReader:
        rfile.end_head()
        # Where the body begins (see BaseHTTPRequestHandler._fh_end_body).
        rfile._body_mark = rfile._taken if framing else -1
    message_class = handler.MessageClass
    headers: email.message.Message
    if message_class is _HTTPMessage and not exotic:
        headers = _HTTPMessage.__new__(_HTTPMessage)
        state = MESSAGE_TEMPLATE.copy()
        state["_headers"] = pairs
        state["defects"] = []
        headers.__dict__.update(state)
        if connection is None:
            connection = ""
        if expect is None:
            expect = ""
    else:
        headers = exact_message(handler, pairs)
        connection = headers.get("Connection", "")
        expect = headers.get("Expect", "")
    handler.headers = headers
    if host != HOST_OK and not check_host(handler, host):
        return False
    if framing and not check_framing(handler):
        return False

    if connection:
        connection = connection.lower()
        if connection == "close":
            handler.close_connection = True
        elif connection == "keep-alive" and handler.protocol_version >= "HTTP/1.1":
            handler.close_connection = False
    if (expect and expect.lower() == "100-continue" and
            handler.protocol_version >= "HTTP/1.1" and
            handler.request_version >= "HTTP/1.1"):
        if not handler.handle_expect_100():
            return False
    return True
