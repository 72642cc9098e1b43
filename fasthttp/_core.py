"""Chooses the request path: the C extension modules, or their pure-Python twins.

Each concern is one pure-Python module and one C module with the same names
and behaviour (tests run both):

    sockio.py    / _sockio    the handler's files
    head.py      / _head      the request head (its byte scan is csrc/fh_parser.c
                              there, headscan.py here)
    request.py   / _request   parse_request, self.headers
    response.py  / _response  send_response & co.

Each C module is its pure module compiled a second time by Cython (setup.py).

All four C modules are used, or none: FASTHTTP_PURE=1 in the environment, or
an extension that is not built, gives the pure-Python path.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Callable

from fasthttp import head, request, response, sockio

if TYPE_CHECKING:
    from fasthttp.sockio import SocketReader as _Reader
    from fasthttp.sockio import SocketWriter as _Writer

CONCERNS = ("sockio", "head", "request", "response")

# The BaseHTTPRequestHandler methods each implementation provides.
HANDLER_METHODS: tuple[str, ...] = (
    "parse_request", "send_response", "send_response_only", "send_header",
    "end_headers", "flush_headers", "log_request", "log_message",
    "date_time_string", "log_date_time_string",
)

_PURE: dict[str, ModuleType] = {
    "sockio": sockio, "head": head, "request": request, "response": response}


def load_extension(honour_pure: bool = True) -> dict[str, ModuleType] | None:
    """The C modules by concern, or None when not built (or, honouring it,
    FASTHTTP_PURE=1). Tests load them with honour_pure=False."""
    if honour_pure and os.environ.get("FASTHTTP_PURE", "") in ("1", "true", "yes"):
        return None
    try:
        return {name: importlib.import_module("fasthttp._" + name) for name in CONCERNS}
    except ImportError:
        return None


def implementation(modules: dict[str, ModuleType]) -> SimpleNamespace:
    """One path's names in one namespace (tests compare the two)."""
    ns = SimpleNamespace(
        SocketReader=modules["sockio"].SocketReader,
        SocketWriter=modules["sockio"].SocketWriter,
        parse_request_line=modules["head"].parse_request_line,
        read_headers=modules["head"].read_headers,
        read_head=modules["head"].read_head,
        request_state=modules["head"].request_state,
        LazyHeaders=modules["request"].LazyHeaders,
        content_length=modules["head"].content_length,
        byte_class=modules["head"].byte_class,
        register_handler_class=modules["response"].register_handler_class,
        modules=modules,
    )
    ns.handler_methods = {
        name: getattr(modules["request" if name == "parse_request" else "response"], name)
        for name in HANDLER_METHODS}
    return ns


_extension = load_extension()
accelerated: bool = _extension is not None
# A build asked to be pure (FASTHTTP_NO_EXTENSIONS=1) leaves this mark (setup.py).
_BUILT_PURE = os.path.exists(os.path.join(os.path.dirname(__file__), "_built_pure"))
if not accelerated and not _BUILT_PURE and not any(
        os.environ.get(var, "") in ("1", "true", "yes")
        for var in ("FASTHTTP_PURE", "FASTHTTP_NO_EXTENSIONS")):
    # Never the slow path without knowing it (an extension that does not
    # load, a source tree never built): say so once, at import.
    warnings.warn(
        "fasthttp is running without its C extension (pure Python, several "
        "times slower). Reinstall with a C compiler available "
        "(pip install --no-cache-dir --force-reinstall fasthttp), or set "
        "FASTHTTP_PURE=1 to choose the pure-Python path and silence this.",
        RuntimeWarning, stacklevel=2)
PURE = implementation(_PURE)
C = implementation(_extension) if _extension is not None else None
_active = C if C is not None else PURE

SocketReader: type[_Reader] = _active.SocketReader
SocketWriter: type[_Writer] = _active.SocketWriter
parse_request_line: Callable[[bytes], tuple[str, str, int, int] | None] = \
    _active.parse_request_line
read_headers: Callable[..., list[tuple[str, str]]] = _active.read_headers
read_head: Callable[..., Any] = _active.read_head
request_state: Callable[[Any, int], int] = _active.request_state
LazyHeaders: type = _active.LazyHeaders
register_handler_class: Callable[[type], None] = _active.register_handler_class
handler_methods: dict[str, Callable[..., Any]] = _active.handler_methods
