"""Chooses the request-path implementation: the C extension, or its pure-Python twin.

Both provide the same names with the same behaviour (the tests run against
each): the parser (parse_request_line, read_headers), the handler's files
(SocketReader, SocketWriter), and the hot BaseHTTPRequestHandler methods
(HANDLER_METHODS, installed on fasthttp.BaseHTTPRequestHandler).
FASTHTTP_PURE=1 in the environment forces the pure-Python one.
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    # fasthttp/_speedups.pyi describes the extension with the same types.
    from fasthttp import _pure

_impl: ModuleType
accelerated: bool = False
if os.environ.get("FASTHTTP_PURE", "") not in ("1", "true", "yes"):
    try:
        from fasthttp import _speedups as _impl
        accelerated = True
    except ImportError:
        pass
if not accelerated:
    from fasthttp import _pure as _impl

# The BaseHTTPRequestHandler methods each implementation provides.
HANDLER_METHODS: tuple[str, ...] = (
    "parse_request", "send_response", "send_response_only", "send_header",
    "end_headers", "flush_headers", "log_request", "log_message",
    "date_time_string", "log_date_time_string",
)

parse_request_line: Callable[[bytes], tuple[str, str, int, int] | None] = \
    _impl.parse_request_line
read_headers: Callable[..., list[tuple[str, str]]] = _impl.read_headers
SocketReader: type[_pure.SocketReader] = _impl.SocketReader
SocketWriter: type[_pure.SocketWriter] = _impl.SocketWriter
register_handler_class: Callable[[type], None] = _impl.register_handler_class
handler_methods: dict[str, Callable[..., Any]] = {
    name: getattr(_impl, name) for name in HANDLER_METHODS}
