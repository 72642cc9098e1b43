"""The response side of BaseHTTPRequestHandler, pure-Python path.

send_response, end_headers, log_request and log_message are http.server's
own methods here (send_response_only and send_header too, refusing CR and LF,
which would split the response); fasthttp/_response.pyx writes the same bytes
and log lines in C, calling every hook through ``self`` when the handler
overrides it (fasthttp._core picks one). Two things differ from the stdlib,
on both paths: the Date and log timestamps are formatted once per second, and
the header block goes to our SocketWriter through write_head(), which lets it
leave in one segment with the body (see sockio.py).
"""
from __future__ import annotations

import http.server as _http_server
import time as _time
from typing import Any

from fasthttp.sockio import SocketWriter

__all__ = ["send_response", "send_response_only", "send_header", "end_headers",
           "flush_headers", "log_request", "log_message", "date_time_string",
           "log_date_time_string", "register_handler_class", "check_header", "check_reason"]

_Stdlib = _http_server.BaseHTTPRequestHandler
send_response = _Stdlib.send_response
end_headers = _Stdlib.end_headers
log_request = _Stdlib.log_request
log_message = _Stdlib.log_message


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


def send_response_only(self: Any, code: Any, message: Any = None) -> None:
    """http.server's send_response_only, refusing CR and LF in the reason
    phrase (check_reason), as send_header refuses them in a header."""
    if self.request_version != "HTTP/0.9":
        if message is None:
            message = self.responses[code][0] if code in self.responses else ""
        if not hasattr(self, "_headers_buffer"):
            self._headers_buffer = []       # (first, as the C path and http.server)
        check_reason(message)
    _Stdlib.send_response_only(self, code, message)


def send_header(self: Any, keyword: Any, value: Any) -> None:
    """http.server's send_header, refusing CR and LF (check_header)."""
    if self.request_version != "HTTP/0.9":
        check_header(keyword, value)
    _Stdlib.send_header(self, keyword, value)


def register_handler_class(cls: type) -> None:
    """Nothing to record: the pure path always dispatches through self."""


def flush_headers(self: Any) -> None:
    """http.server's flush_headers, sending through write_head() on our
    writer (see SocketWriter)."""
    if hasattr(self, "_headers_buffer"):
        wfile = self.wfile
        if type(wfile) is SocketWriter:
            wfile.write_head(b"".join(self._headers_buffer))
        else:
            wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []


_date_cache: tuple[int | None, str] = (None, "")
_log_date_cache: tuple[int | None, str] = (None, "")


def date_time_string(self: _Stdlib, timestamp: float | None = None) -> str:
    """The Date header value; formatted once per second."""
    global _date_cache
    if timestamp is not None:
        return _Stdlib.date_time_string(self, timestamp)
    second = int(_time.time())
    cached_second, text = _date_cache
    if cached_second != second:
        text = _Stdlib.date_time_string(self, second)
        _date_cache = (second, text)
    return text


def log_date_time_string(self: _Stdlib) -> str:
    """The log line's timestamp; formatted once per second."""
    global _log_date_cache
    second = int(_time.time())
    cached_second, text = _log_date_cache
    if cached_second != second:
        text = _Stdlib.log_date_time_string(self)
        _log_date_cache = (second, text)
    return text
