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

import email.parser
import http.client
import http.server as _stdlib
import io
import re
import socket
from http import HTTPStatus

from fasthttp import _core

# Everything http.server defines (DEFAULT_ERROR_MESSAGE, nobody_uid,
# _url_collapse_path, ... and names later versions add) is ours too; the
# classes and functions below then replace the ones we accelerate.
globals().update({name: value for name, value in vars(_stdlib).items()
                  if not name.startswith("__")})
__all__ = list(_stdlib.__all__)
__version__ = _stdlib.__version__


class HTTPServer(_stdlib.HTTPServer):
    """http.server.HTTPServer; handlers get fasthttp's reader and writer."""


class ThreadingHTTPServer(HTTPServer, _stdlib.ThreadingHTTPServer):
    # MRO: ours, HTTPServer, http.server.ThreadingHTTPServer, ThreadingMixIn,
    # http.server.HTTPServer: one thread per connection, as the stdlib.
    daemon_threads = True


# -- request line ----------------------------------------------------------

def _stdlib_version_rules():
    """Which request-version checks does the running http.server make?

    3.11+ (and security releases of older lines) reject non-digit and overlong
    version components; older ones let int() decide. We ask the stdlib itself
    rather than keying on version numbers.
    """
    class Probe(_stdlib.BaseHTTPRequestHandler):
        def __init__(self, raw):
            self.raw_requestline = raw
            self.rfile = io.BytesIO(b"\r\n")
            self.rejected = False

        def send_error(self, code, message=None, explain=None):
            self.rejected = True

    non_digit = Probe(b"GET / HTTP/+1.1\r\n")
    non_digit.parse_request()
    too_long = Probe(b"GET / HTTP/1.00000000001\r\n")
    too_long.parse_request()
    return non_digit.rejected, too_long.rejected


_REJECT_NON_DIGIT_VERSION, _REJECT_LONG_VERSION = _stdlib_version_rules()

# RFC 9110 token, for methods on the lenient path.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# Control characters RFC 9112 never allows in a request line. HTAB, VT and FF
# are allowed: RFC 9112 section 3 lets a server split words on them.
_REQUEST_LINE_CTL = re.compile(r"[\x00-\x08\x0a\x0d-\x1f\x7f]")


def _lenient_version_number(version):
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

    def setup(self):
        # socketserver.StreamRequestHandler.setup, with our reader and writer
        # for plain buffered use. An unbuffered rfile (rbufsize = 0, as the
        # CGI handler asks, to hand the socket to a child) or anything that
        # is not a socket keeps the stdlib's files.
        request = self.request
        if self.rbufsize == 0 or not isinstance(request, socket.socket):
            return super().setup()
        self.connection = request
        if self.timeout is not None:
            request.settimeout(self.timeout)
        if self.disable_nagle_algorithm:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.rfile = _core.SocketReader(request)
        if self.wbufsize == 0:
            self.wfile = _core.SocketWriter(request)
        else:
            self.wfile = request.makefile("wb", self.wbufsize)

    # parse_request and the response-header methods are installed below from
    # _core.handler_methods: C (or the pure-Python twin), same attributes,
    # same hooks, same bytes. parse_request's rare paths come back to the
    # three _fh_* methods.

    #: Upper bound on the bytes of a whole header block (0 = none, as the
    #: stdlib: it only bounds each line and the number of lines).
    max_head_bytes = 0

    def _fh_lenient_request_line(self, requestline):
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

    def _fh_reject_head(self, err):
        """Answer a header block the parser refused, as http.server would."""
        if err.kind == "line_too_long":
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "Line too long",
                            str(http.client.LineTooLong("header line")))
        elif err.kind == "too_many_headers":
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "Too many headers",
                            "got more than %d headers" % http.client._MAXHEADERS)
        elif err.kind == "head_too_large":
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "Request header fields too large", err.reason)
        else:
            self.send_error(HTTPStatus.BAD_REQUEST,
                            "Bad request (%s)" % err.reason)
        self.close_connection = True
        return False

    def _fh_exact_message(self, pairs):
        """The headers as email.parser builds them, for a custom MessageClass
        or a Content-Type that makes it look for a multipart/message body.
        (The fast path fills in a plain HTTPMessage directly.) We re-serialize
        the checked pairs: the parser strips the same leading whitespace we
        did and keeps the trailing, so the result is the stdlib's."""
        text = "".join(["%s: %s\r\n" % pair for pair in pairs]) + "\r\n"
        return email.parser.Parser(_class=self.MessageClass).parsestr(text)


for _name, _method in _core.handler_methods.items():
    setattr(BaseHTTPRequestHandler, _name, _method)
_core.register_handler_class(BaseHTTPRequestHandler)
del _name, _method


class SimpleHTTPRequestHandler(BaseHTTPRequestHandler,
                               _stdlib.SimpleHTTPRequestHandler):
    __doc__ = _stdlib.SimpleHTTPRequestHandler.__doc__
    # Our BaseHTTPRequestHandler comes first in the MRO; keep the stdlib's
    # directory-handler identity.
    server_version = _stdlib.SimpleHTTPRequestHandler.server_version


class CGIHTTPRequestHandler(SimpleHTTPRequestHandler,
                            _stdlib.CGIHTTPRequestHandler):
    __doc__ = _stdlib.CGIHTTPRequestHandler.__doc__


def test(HandlerClass=BaseHTTPRequestHandler, ServerClass=ThreadingHTTPServer,
         *args, **kwargs):
    """http.server.test() with fasthttp's classes as defaults."""
    return _stdlib.test(HandlerClass, ServerClass, *args, **kwargs)
