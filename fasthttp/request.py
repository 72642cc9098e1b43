"""The request side of http.server's BaseHTTPRequestHandler: parse_request(),
and ``self.headers`` made when first read.

One source, two builds: setup.py compiles this module a second time with
Cython as fasthttp._request, typed by fasthttp/_request.pxd; fasthttp._core
picks one. The head is read through fasthttp.head (or its C build), which
parses the header block once and learns from it what is acted on here
(Connection, Expect, Host, the framing of the body); the rare paths, a
request line not in RFC 9112's strict form (http.server's lenient
word-splitting decides), a custom MessageClass, and the refusals, are plain
Python below, as they are in the C build.
"""
from __future__ import annotations

import email.message
import email.parser
import email.policy
import http.client
import http.server as _stdlib
import io
import re
from http import HTTPStatus
from typing import Any, Optional

try:
    import cython  # type: ignore[import-untyped]
except ImportError:     # Cython not installed: this module runs as plain Python
    from fasthttp._cython_shim import cython

from fasthttp.errors import HeadError
from fasthttp.head import (
    CONN_CLOSE,
    CONN_KEEP_ALIVE,
    CONN_OTHER,
    FRAMING_NONE,
    HOST_INVALID,
    HOST_MANY,
    HOST_OK,
)

if not cython.compiled:     # (the C build cimports them: _request.pxd)
    from fasthttp.head import (
        Head,
        max_head_lines,
        max_headers,
        max_line,
        parse_request_line,
        read_head,
    )

__all__ = ["parse_request", "LazyHeaders", "message_of", "lenient_request_line",
           "headless_http09", "head_refusal",
           "check_framing", "check_host", "refuse", "exact_message", "MESSAGE_TEMPLATE"]

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


_ERROR_HAS_STATUS_LINE, _VERSION_IN_505, _HTTP09_HEADLESS = _stdlib_request_line_rules()


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
    handler.__dict__.pop("_fh_head", None)      # (no head: no body to end)
    end_head = getattr(handler.rfile, "end_head", None)
    if end_head is not None:        # our reader: its head deadline ends
        end_head()
    return True

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


# -- refusing a request --------------------------------------------------------

def refuse(self: Any, status: HTTPStatus, reason: str, explain: Optional[str] = None) -> bool:
    """Answer with an error and close the connection: the one way a request
    is refused (a bad head, ambiguous framing, a bad body). A 400's message
    names the reason. Returns False, parse_request's answer then."""
    self.close_connection = True
    if status == HTTPStatus.BAD_REQUEST:
        self.send_error(status, "Bad request (%s)" % reason, explain)
    else:
        self.send_error(status, reason, explain)
    return False


def head_refusal(err: HeadError) -> tuple[HTTPStatus, str, Optional[str]]:
    """What http.server answers to a header block the parser refused:
    (status, reason, explain) for refuse()."""
    if err.kind == "line_too_long":
        return (HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long",
                str(http.client.LineTooLong("header line")))
    if err.kind == "too_many_headers":
        return (HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers",
                "got more than %d headers" % max_headers())
    if err.kind == "head_too_large":
        return (HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Request header fields too large", err.reason)
    return HTTPStatus.BAD_REQUEST, err.reason, None


def check_framing(self: Any, head: Head) -> bool:
    """Refuse a request whose body length is ambiguous (RFC 9112 6.1-6.3):
    the ways one server reads a body another server would read otherwise
    (request smuggling). The head has decided (fasthttp.head._learn); only
    the version rule is the request line's. Returns False after answering."""
    if head.chunked_only and not self.request_version >= "HTTP/1.1":
        return refuse(self, HTTPStatus.BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 request")
    if head.refusal is not None:
        status, reason = head.refusal
        return refuse(self, HTTPStatus(status), reason)
    return True


def check_host(self: Any, host: int) -> bool:
    """RFC 9112 section 3.2: refuse two Host fields, or one we cannot serve
    (whitespace inside: see fasthttp.head._valid_host); and an HTTP/1.1
    request without one if the handler's require_host says so. Called only
    when the head has not exactly one valid Host. False after answering."""
    if host == HOST_MANY:
        return refuse(self, HTTPStatus.BAD_REQUEST, "more than one Host header")
    if host == HOST_INVALID:
        return refuse(self, HTTPStatus.BAD_REQUEST, "invalid Host header")
    if self.require_host and self.request_version >= "HTTP/1.1":
        return refuse(self, HTTPStatus.BAD_REQUEST, "no Host header")
    return True


# -- self.headers ----------------------------------------------------------------

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


# A plain HTTPMessage as email.parser leaves it, less the headers: the fast
# path fills a fresh instance's __dict__ from this.
MESSAGE_TEMPLATE: dict[str, Any] = dict(
    policy=email.policy.compat32, _headers=None, _unixfrom=None, _payload="",
    _charset=None, preamble=None, epilogue=None, defects=None,
    _default_type="text/plain")
_HTTPMessage = http.client.HTTPMessage


def message_of(head: Head) -> http.client.HTTPMessage:
    """The HTTPMessage of a parsed head, as email.parser builds it for
    http.server (compat32 policy, the pairs as sent, no defects)."""
    if cython.compiled:     # HTTPMessage has no __new__ of its own
        headers = c_new_instance(_HTTPMessage)  # type: ignore[name-defined]  # noqa: F821
    else:
        headers = _HTTPMessage.__new__(_HTTPMessage)
    # Fill the instance dict in place: replacing it (__dict__ = ...) loses
    # the attributes on 3.13, where fresh instances keep inline values.
    if cython.compiled:     # (obj.__dict__, without the attribute lookup)
        state = c_instance_dict(headers)  # type: ignore[name-defined]  # noqa: F821
    else:
        state = headers.__dict__
    state.update(MESSAGE_TEMPLATE)
    state["_headers"] = head.pairs()
    state["defects"] = []
    return headers  # type: ignore[no-any-return]


class LazyHeaders:
    """``self.headers`` (a class attribute of fasthttp's
    BaseHTTPRequestHandler): parse_request keeps the parsed head, and the
    HTTPMessage (the object email.parser would build) is made the first time
    it is read, then stored as the instance attribute, as http.server stores
    it. A handler that never reads its headers never pays for a str per name
    and value."""

    def __get__(self, handler: Any, owner: Any) -> Any:
        if handler is None:
            return self
        if cython.compiled:
            state = c_instance_dict(handler)  # type: ignore[name-defined]  # noqa: F821
        else:
            state = handler.__dict__
        head = state.get("_fh_head")
        if head is None:
            raise AttributeError("headers")     # before any request, as the stdlib
        headers = message_of(head)
        state["headers"] = headers
        return headers


# -- parse_request ---------------------------------------------------------------

def parse_request(handler: Any) -> bool:
    """BaseHTTPRequestHandler.parse_request: the same attributes set, the
    same answers, with the head parsed once (fasthttp.head) and
    ``self.headers`` made when first read (LazyHeaders)."""
    raw = handler.raw_requestline
    if type(raw) is not bytes:
        raw = bytes(raw)
    handler.command = None
    handler.request_version = handler.default_request_version
    handler.close_connection = True
    if cython.compiled:
        requestline = c_line_text(raw)  # type: ignore[name-defined]  # noqa: F821
    else:
        requestline = raw.decode("latin-1").rstrip("\r\n")
    handler.requestline = requestline
    protocol_version = handler.protocol_version

    line = parse_request_line(raw)
    if line is not None:
        command, path, major, minor = line
        if (major > 1 or (major == 1 and minor >= 1)) and protocol_version >= "HTTP/1.1":
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
    # gh-87389: '//host/path' would read as a scheme-relative URL in a
    # redirect, so the stdlib reduces leading slashes to one.
    if len(path) > 1 and path[0] == "/" and path[1] == "/":
        path = "/" + path.lstrip("/")
    handler.command = command
    handler.path = path
    if line is None and headless_http09(handler):
        return True

    try:
        head = read_head(handler.rfile, max_line(), max_head_lines(), handler.max_head_bytes)
    except HeadError as err:
        status, reason, explain = head_refusal(err)
        return refuse(handler, status, reason, explain)
    if cython.compiled:
        state = c_instance_dict(handler)  # type: ignore[name-defined]  # noqa: F821
    else:
        state = handler.__dict__
    state["_fh_head"] = head        # (LazyHeaders, read_body, the end of the body)
    if handler.MessageClass is _HTTPMessage and not head.exotic_type:
        connection = head.connection
        expect_continue = head.expect_continue
        if type(getattr(type(handler), "headers", None)) is LazyHeaders:
            state.pop("headers", None)      # made when first read
        else:
            handler.headers = message_of(head)
    else:
        headers = exact_message(handler, head.pairs())
        value = headers.get("Connection", "").lower()
        connection = (CONN_CLOSE if value == "close" else
                      CONN_KEEP_ALIVE if value == "keep-alive" else CONN_OTHER)
        expect_continue = headers.get("Expect", "").lower() == "100-continue"
        handler.headers = headers
    if head.host != HOST_OK and not check_host(handler, head.host):
        return False
    if head.framing != FRAMING_NONE and not check_framing(handler, head):
        return False

    if connection == CONN_CLOSE:
        handler.close_connection = True
    elif connection == CONN_KEEP_ALIVE and protocol_version >= "HTTP/1.1":
        handler.close_connection = False
    if (expect_continue and protocol_version >= "HTTP/1.1"
            and handler.request_version >= "HTTP/1.1"):
        if not handler.handle_expect_100():
            return False
    return True
