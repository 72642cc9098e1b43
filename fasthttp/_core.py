"""Chooses the request-path implementation: the C extension, or its pure-Python twin.

Both provide the same names with the same behaviour (the tests run against
each): the parser (parse_request_line, read_headers), the handler's files
(SocketReader, SocketWriter), and the hot BaseHTTPRequestHandler methods
(HANDLER_METHODS, installed on fasthttp.BaseHTTPRequestHandler).
FASTHTTP_PURE=1 in the environment forces the pure-Python one.
"""
import os

accelerated = False
if os.environ.get("FASTHTTP_PURE", "") not in ("1", "true", "yes"):
    try:
        from fasthttp import _speedups as _impl
        accelerated = True
    except ImportError:
        pass
if not accelerated:
    from fasthttp import _pure as _impl

# The BaseHTTPRequestHandler methods each implementation provides.
HANDLER_METHODS = (
    "parse_request", "send_response", "send_response_only", "send_header",
    "end_headers", "flush_headers", "log_request", "log_message",
    "date_time_string", "log_date_time_string",
)

parse_request_line = _impl.parse_request_line
read_headers = _impl.read_headers
SocketReader = _impl.SocketReader
SocketWriter = _impl.SocketWriter
register_handler_class = _impl.register_handler_class
handler_methods = {name: getattr(_impl, name) for name in HANDLER_METHODS}
