"""The response side of http.server's BaseHTTPRequestHandler: send_response,
send_response_only, send_header, end_headers, flush_headers, log_request,
log_message, date_time_string and log_date_time_string, with http.server's
output.

One source, two builds: setup.py compiles this module a second time with
Cython as fasthttp._response, typed by fasthttp/_response.pxd; fasthttp._core
picks one. A hook http.server calls through ``self`` is called through
``self`` whenever the handler's class or instance overrides it. Where both
leave a hook as ours, the C build does its work without the dispatch (_plain);
plain Python always dispatches, as http.server does. Which hooks a class
overrides is cached per class with CPython's type version tag, an interpreter
internal: read only on the versions it was verified on (3.9 to 3.13, with the
GIL); elsewhere, or with FASTHTTP_PUBLIC_API=1, the mask is computed on each
call with public API only (CI runs the suite both ways). The per-second
timestamp and line caches are module globals: the GIL guards them.

What differs from the stdlib, on both paths: the Date and log timestamps are
formatted once per second; the header block goes to our SocketWriter through
write_head(), which lets it leave in one segment with the body (see
sockio.py); and CR or LF in a header or a reason phrase is a ValueError (it
would split the response).
"""
from __future__ import annotations

import http.server as _http_server
import os
import sys
import time as _time
from http import HTTPStatus
from typing import Any

try:
    import cython  # type: ignore[import-untyped]
except ImportError:     # Cython not installed: this module runs as plain Python
    from fasthttp._cython_shim import cython

if cython.compiled:     # (the C build's writer: _response.pxd cimports it)
    from fasthttp._sockio import SocketWriter
else:
    from fasthttp.sockio import SocketWriter

__all__ = ["send_response", "send_response_only", "send_header", "end_headers",
           "flush_headers", "log_request", "log_message", "date_time_string",
           "log_date_time_string", "register_handler_class", "uses_interpreter_internals",
           "check_header", "check_reason"]

_Stdlib = _http_server.BaseHTTPRequestHandler
# The formatting itself stays http.server's; we only reuse it for a second.
# (Taken while sys.modules["http.server"] is still the stdlib's: fasthttp
# imports us before install() can run.)
_stdlib_date_time_string = _Stdlib.date_time_string
_stdlib_log_date_time_string = _Stdlib.log_date_time_string


def check_header(keyword: Any, value: Any) -> None:
    """Refuse a header line that would be two on the wire (response
    splitting): CR or LF in the name or the value, as http.client refuses
    them in request headers. http.server writes them as given."""
    if "\r" in "%s" % keyword or "\n" in "%s" % keyword:
        raise ValueError("Invalid header name %r" % (keyword,))
    text = "%s" % (value,)
    if "\r" in text or "\n" in text:
        raise ValueError("Invalid header value %r" % (value,))


def check_reason(message: Any) -> None:
    """Refuse a reason phrase that would end the status line early (a
    header injected through send_response or send_error): CR or LF in it."""
    text = "%s" % (message,)
    if "\r" in text or "\n" in text:
        raise ValueError("Invalid reason phrase %r" % (message,))


# -- which hooks a handler leaves as ours ------------------------------------

# Hooks (and the escaping table) whose work may be done here when they are
# fasthttp's own; one bit each.
_RESPONSE_HOOKS = (
    "log_request", "log_message", "send_response_only", "send_header",
    "version_string", "date_time_string", "log_date_time_string",
    "address_string", "flush_headers", "_control_char_table")
H_LOG_REQUEST = 1 << 0
H_LOG_MESSAGE = 1 << 1
H_SEND_RESPONSE_ONLY = 1 << 2
H_SEND_HEADER = 1 << 3
H_VERSION_STRING = 1 << 4
H_DATE_TIME_STRING = 1 << 5
H_LOG_DATE_TIME_STRING = 1 << 6
H_ADDRESS_STRING = 1 << 7
H_FLUSH_HEADERS = 1 << 8
H_CONTROL_CHAR_TABLE = 1 << 9
# what writing a log line directly takes
H_LOG_LINE = H_LOG_MESSAGE | H_LOG_DATE_TIME_STRING | H_ADDRESS_STRING | H_CONTROL_CHAR_TABLE

_reference_hooks: dict[str, Any] = {}      # hook name -> fasthttp's own object
_use_version_tag = bool(
    cython.compiled and c_have_version_tag()  # type: ignore[name-defined]  # noqa: F821
    and os.environ.get("FASTHTTP_PUBLIC_API", "") not in ("1", "true", "yes"))


def register_handler_class(cls: type) -> None:
    """Record fasthttp's BaseHTTPRequestHandler hooks: where a handler's
    hook is this very object, its work may be done without the dispatch."""
    for name in _RESPONSE_HOOKS:
        _reference_hooks[name] = getattr(cls, name)
    if cython.compiled:
        c_masks_reset(_RESPONSE_HOOKS)  # type: ignore[name-defined]  # noqa: F821


def uses_interpreter_internals() -> bool:
    """Does the hook cache read CPython's type version tags (True), or take
    the public-API path (False: plain Python, another version, a
    free-threaded build, or FASTHTTP_PUBLIC_API=1)?"""
    return _use_version_tag


def _class_mask(cls: type) -> int:
    """Which response hooks cls leaves as ours. Cached per class, keyed by
    CPython's type version tag, which changes whenever the class or a base
    is modified (so a later monkeypatch is seen) and is never reused (so a
    new class at a freed one's address is not mistaken for it)."""
    if _use_version_tag:
        mask = c_cached_mask(cls)  # type: ignore[name-defined]  # noqa: F821
        if mask >= 0:
            return mask  # type: ignore[no-any-return]
    mask = 0
    if _reference_hooks:
        bit = 1
        for name in _RESPONSE_HOOKS:
            if getattr(cls, name, None) is _reference_hooks[name]:
                mask |= bit
            bit <<= 1
    if _use_version_tag:
        c_cache_mask(cls, mask)  # type: ignore[name-defined]  # noqa: F821
    return mask


def _plain(self: Any, wanted: int) -> int:
    """The subset of `wanted` hooks neither the class nor the instance
    overrides: their work may be done here, without the dispatch. Plain
    Python: none (every hook through self, as http.server)."""
    if not cython.compiled:
        return 0
    mask = _class_mask(type(self)) & wanted
    if mask:
        mask = c_not_in_instance(self, mask)  # type: ignore[name-defined]  # noqa: F821
    return mask


# -- timestamps --------------------------------------------------------------

_date_second = -1
_date_text = ""
_log_second = -1
_log_text = ""


def _current_date(self: Any) -> str:
    global _date_second, _date_text
    second = c_wall_second() if cython.compiled else int(_time.time())  # type: ignore[name-defined]  # noqa: F821
    if second != _date_second:
        _date_text = _stdlib_date_time_string(self, second)
        _date_second = second
    return _date_text


def _current_log_date(self: Any) -> str:
    global _log_second, _log_text
    second = c_wall_second() if cython.compiled else int(_time.time())  # type: ignore[name-defined]  # noqa: F821
    if second != _log_second:
        _log_text = _stdlib_log_date_time_string(self)
        _log_second = second
    return _log_text


def date_time_string(self: Any, timestamp: float | None = None) -> str:
    """The Date header value; formatted once per second."""
    if timestamp is not None:
        return _stdlib_date_time_string(self, timestamp)
    return _current_date(self)


def log_date_time_string(self: Any) -> str:
    """The log line's timestamp; formatted once per second."""
    return _current_log_date(self)


# -- log lines -------------------------------------------------------------------

def _needs_escaping(message: str) -> bool:
    """Would http.server's _control_char_table change this message?
    (C0 and C1 controls, DEL, and the backslash it doubles.)"""
    for c in message:
        code = ord(c)
        if code < 0x20 or code == 0x5C or 0x7F <= code < 0xA0:
            return True
    return False


def _write_log_line(self: Any, format: str, args: tuple[Any, ...]) -> None:  # noqa: A002
    message = format % args
    if _needs_escaping(message):
        message = message.translate(self._control_char_table)
    sys.stderr.write("%s - - [%s] %s\n"
                     % (self.client_address[0], _current_log_date(self), message))


def log_message(self: Any, format: Any, *args: Any) -> None:  # noqa: A002
    """http.server's log line to sys.stderr, control characters escaped."""
    if cython.compiled and type(format) is str and _plain(self, H_LOG_LINE) == H_LOG_LINE:
        _write_log_line(self, format, args)
        return
    message = format % args
    sys.stderr.write("%s - - [%s] %s\n" %
                     (self.address_string(), self.log_date_time_string(),
                      message.translate(self._control_char_table)))


# str(code) for the status codes http.server knows.
_code_texts = {int(status): str(int(status)) for status in HTTPStatus}


def _log_request(self: Any, code: Any, size: Any, plain: int) -> None:
    if isinstance(code, HTTPStatus):
        code = code.value
    code_text = _code_texts.get(code) if type(code) is int else None
    if code_text is None:
        code_text = str(code)
    size_text = size if type(size) is str else str(size)
    if plain & H_LOG_LINE == H_LOG_LINE:
        _write_log_line(self, '"%s" %s %s', (self.requestline, code_text, size_text))
    else:
        self.log_message('"%s" %s %s', self.requestline, code_text, size_text)


def log_request(self: Any, code: Any = "-", size: Any = "-") -> None:
    _log_request(self, code, size, _plain(self, H_LOG_LINE) if cython.compiled else 0)


# -- the header block -------------------------------------------------------------

def _header_line(keyword: Any, value: Any) -> bytes:
    """b"keyword: value\\r\\n", as http.server encodes it; a CR or LF in
    keyword or value is a ValueError (check_header)."""
    if (cython.compiled and type(keyword) is str and type(value) is str
            and c_latin1(keyword) and c_latin1(value)):  # type: ignore[name-defined]  # noqa: F821
        line = c_line3(keyword, ": ", value, "", "")  # type: ignore[name-defined]  # noqa: F821
    else:
        line = ("%s: %s\r\n" % (keyword, value)).encode("latin-1", "strict")
    if cython.compiled:
        splits = c_splits(line)  # type: ignore[name-defined]  # noqa: F821
    else:   # a CR or LF before the line's own CRLF
        splits = line.find(b"\r", 0, len(line) - 2) >= 0 or line.find(b"\n", 0, len(line) - 2) >= 0
    if splits:
        check_header(keyword, value)
    return line  # type: ignore[no-any-return]


def _status_line(protocol_version: Any, code: Any, message: Any) -> bytes:
    """b"HTTP/1.x 200 OK\\r\\n", as http.server encodes it; a CR or LF in
    the reason phrase is a ValueError (check_reason)."""
    if (cython.compiled and type(code) is int and type(protocol_version) is str
            and type(message) is str and c_latin1(protocol_version)  # type: ignore[name-defined]  # noqa: F821
            and c_latin1(message)):  # type: ignore[name-defined]  # noqa: F821
        line = c_line3(protocol_version, " ", str(code), " ", message)  # type: ignore[name-defined]  # noqa: F821
    else:
        line = ("%s %d %s\r\n" % (protocol_version, code, message)).encode("latin-1", "strict")
    if cython.compiled:
        splits = c_splits(line)  # type: ignore[name-defined]  # noqa: F821
    else:   # a CR or LF before the line's own CRLF
        splits = line.find(b"\r", 0, len(line) - 2) >= 0 or line.find(b"\n", 0, len(line) - 2) >= 0
    if splits:
        check_reason(message)
    return line  # type: ignore[no-any-return]


def _headers_buffer(self: Any) -> list[bytes]:
    if cython.compiled:
        buf: list[bytes] | None = c_instance_dict(self).get("_headers_buffer")  # type: ignore[name-defined]  # noqa: F821
    else:
        buf = self.__dict__.get("_headers_buffer")
    if buf is None:
        buf = self._headers_buffer = []
    return buf


# Status lines by code, for message=None: (protocol_version, responses, line).
# Valid while the handler's protocol_version and responses are those objects.
_status_lines: dict[int, tuple[Any, Any, bytes]] = {}


def _append_status_line(self: Any, code: Any, message: Any) -> None:
    buf = _headers_buffer(self)             # first, as http.server: it exists
    protocol_version = self.protocol_version  # even if encoding fails below
    if message is None:
        responses = self.responses
        if type(code) is int:
            cached = _status_lines.get(code)
            if (cached is not None and cached[0] is protocol_version
                    and cached[1] is responses):
                buf.append(cached[2])
                return
        message = responses[code][0] if code in responses else ""
        line = _status_line(protocol_version, code, message)
        if type(code) is int and len(_status_lines) < 1024:
            _status_lines[code] = (protocol_version, responses, line)
    else:
        line = _status_line(protocol_version, code, message)
    buf.append(line)


# The last Server line built: (server_version, sys_version, line).
_server_line: tuple[Any, Any, bytes] = (None, None, b"")


def _append_server_line(self: Any) -> None:
    """send_header("Server", version_string()), both ours: the same bytes
    while server_version and sys_version are the same objects."""
    global _server_line
    server_version = self.server_version
    sys_version = self.sys_version
    version = server_version + " " + sys_version if not (
        _server_line[0] is server_version and _server_line[1] is sys_version) else None
    if self.request_version != "HTTP/0.9":
        buf = _headers_buffer(self)
        if version is not None:
            _server_line = (server_version, sys_version, _header_line("Server", version))
        buf.append(_server_line[2])


# -- the methods -------------------------------------------------------------------

def send_response_only(self: Any, code: Any, message: Any = None) -> None:
    """Buffer the status line (CR or LF in the reason phrase: ValueError)."""
    if self.request_version != "HTTP/0.9":
        _append_status_line(self, code, message)


def send_response(self: Any, code: Any, message: Any = None) -> None:
    """Log the request, then buffer the status line, Server and Date."""
    plain = _plain(self, H_LOG_REQUEST | H_LOG_LINE | H_SEND_RESPONSE_ONLY | H_SEND_HEADER
                   | H_VERSION_STRING | H_DATE_TIME_STRING) if cython.compiled else 0
    if plain & H_LOG_REQUEST:
        _log_request(self, code, "-", plain)
    else:
        self.log_request(code)
    if plain & H_SEND_RESPONSE_ONLY:
        if self.request_version != "HTTP/0.9":
            _append_status_line(self, code, message)
    else:
        self.send_response_only(code, message)
    if plain & H_VERSION_STRING and plain & H_SEND_HEADER:
        _append_server_line(self)
    else:
        version = (self.server_version + " " + self.sys_version
                   if plain & H_VERSION_STRING else self.version_string())
        if plain & H_SEND_HEADER:
            send_header(self, "Server", version)
        else:
            self.send_header("Server", version)
    date = _current_date(self) if plain & H_DATE_TIME_STRING else self.date_time_string()
    if plain & H_SEND_HEADER:
        send_header(self, "Date", date)
    else:
        self.send_header("Date", date)


def send_header(self: Any, keyword: Any, value: Any) -> None:
    """Buffer one header line (CR or LF in it: ValueError); a Connection
    header decides close_connection."""
    if self.request_version != "HTTP/0.9":
        _headers_buffer(self).append(_header_line(keyword, value))
    # str.lower() never shortens a string, so only 10 characters can match.
    if type(keyword) is not str or len(keyword) == 10:
        if keyword.lower() == "connection":
            if value.lower() == "close":
                self.close_connection = True
            elif value.lower() == "keep-alive":
                self.close_connection = False


def end_headers(self: Any) -> None:
    if self.request_version != "HTTP/0.9":
        self._headers_buffer.append(b"\r\n")
        if cython.compiled and _plain(self, H_FLUSH_HEADERS):
            flush_headers(self)
        else:
            self.flush_headers()


def flush_headers(self: Any) -> None:
    """Send the buffered header block: through write_head() on our writer
    (see SocketWriter), else as http.server does."""
    if cython.compiled:
        buf = c_instance_dict(self).get("_headers_buffer")  # type: ignore[name-defined]  # noqa: F821
    else:
        buf = self.__dict__.get("_headers_buffer")
    if buf is None:
        if not hasattr(self, "_headers_buffer"):
            return
        buf = self._headers_buffer
    wfile = self.wfile
    if type(wfile) is SocketWriter:
        wfile.write_head(b"".join(buf))
    else:
        wfile.write(b"".join(buf))
    self._headers_buffer = []
