"""The benchmark kit for your own handlers: run an http.server handler on
http.server and on fasthttp, socketless or over 127.0.0.1.

A handler class written against ``http.server`` runs unchanged on each
implementation:

- ``"stdlib"``: the class as it is, on ``http.server.ThreadingHTTPServer``;
- ``"fasthttp"``: the class on top of fasthttp's counterpart of its base
  (``class X(YourHandler, fasthttp.server.BaseHTTPRequestHandler)``: your
  methods first, then fasthttp's hot path), on ``fasthttp.ThreadingHTTPServer``;
- ``"fasthttp-loop"``: the same class on ``fasthttp.LoopHTTPServer``.

- ``BenchServer(handler, impl)`` starts the implementation's server on
  127.0.0.1 (port 0) in a thread; ``.client()`` gives a ``BenchClient``:
  calling it with the raw bytes of ONE request sends them and returns the
  raw bytes of the response (keep-alive connections are reused). The client
  runs in the caller's process, so it shares the GIL with the server: fine
  for comparing implementations on your code, but for numbers you publish,
  put the client in its own process (wrk, or ``bench/load.py`` in
  fasthttp's repository).
- ``run_socketless(handler, impl)`` (stdlib and fasthttp only: no server
  class plays a part) returns a function that feeds raw request bytes to a
  new handler instance over ``io.BytesIO`` rfile/wfile, runs ``handle()``
  (every request in the bytes, pipelined ones too) and returns what it
  wrote. That measures parsing, your code and the response formatting,
  without the socket (nor the handler's setup() and finish(), which are
  about the socket).

Both accept a handler class or a ``functools.partial`` of one (e.g.
``partial(SimpleHTTPRequestHandler, directory=...)``). Logging is the
handler's: http.server writes a line to stderr per request; override
``log_message`` to measure without it. A handler that derives from fasthttp's
classes cannot run on http.server (``handler_class`` raises TypeError).

fasthttp's pytest plugin (the top-level ``_fasthttp_pytestplugin`` module)
wraps these in the ``http_bench_socket`` and ``http_bench_socketless``
fixtures. This module needs no pytest.
"""

from __future__ import annotations

import functools
import http.client
import http.server as _stdlib
import io
import socket
import threading
from typing import Any, Callable, Optional

from fasthttp import server as _fast
from fasthttp.loop import LoopHTTPServer

__all__ = [
    "IMPLEMENTATIONS", "SOCKETLESS_IMPLEMENTATIONS", "SERVER_CLASSES",
    "handler_class", "run_socketless", "BenchServer", "BenchClient",
]

# (_fasthttp_pytestplugin spells these out too, to import nothing of fasthttp.)
IMPLEMENTATIONS = ("stdlib", "fasthttp", "fasthttp-loop")
SOCKETLESS_IMPLEMENTATIONS = ("stdlib", "fasthttp")
SERVER_CLASSES: dict[str, type[_stdlib.HTTPServer]] = {
    "stdlib": _stdlib.ThreadingHTTPServer,
    "fasthttp": _fast.ThreadingHTTPServer,
    "fasthttp-loop": LoopHTTPServer,
}

# Most derived first: a SimpleHTTPRequestHandler subclass gets fasthttp's
# SimpleHTTPRequestHandler, not just its BaseHTTPRequestHandler.
# (CGIHTTPRequestHandler is gone from http.server in 3.15.)
_BASES = [name for name in ("CGIHTTPRequestHandler", "SimpleHTTPRequestHandler",
                            "BaseHTTPRequestHandler") if hasattr(_stdlib, name)]

_rebased: dict[type, type] = {}


def handler_class(handler: Any, impl: str) -> Any:
    """``handler`` (a class or a functools.partial of one) for ``impl``.

    Raises TypeError when ``handler`` cannot run there (a class derived from
    fasthttp's handlers, asked for "stdlib"; not a request handler at all).
    """
    if isinstance(handler, functools.partial):
        return functools.partial(handler_class(handler.func, impl),
                                 *handler.args, **handler.keywords)
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"unknown implementation {impl!r}; one of {IMPLEMENTATIONS}")
    if not (isinstance(handler, type) and issubclass(handler, _stdlib.BaseHTTPRequestHandler)):
        raise TypeError(f"{handler!r} is not a subclass of http.server.BaseHTTPRequestHandler")
    on_fasthttp = issubclass(handler, _fast.BaseHTTPRequestHandler)
    if impl == "stdlib":
        if on_fasthttp:
            raise TypeError(f"{handler.__qualname__} derives from fasthttp's handler classes "
                            "and cannot run on http.server; define it on http.server's "
                            "classes to compare the two")
        return handler
    if on_fasthttp:
        return handler
    cls = _rebased.get(handler)
    if cls is None:
        base = next(getattr(_fast, n) for n in _BASES if issubclass(handler, getattr(_stdlib, n)))
        # The user's class first in the MRO, then fasthttp's, then the stdlib's:
        # what `class Handler(fasthttp.server.X)` would have given. Subclassing
        # (not copying the class body) keeps zero-argument super() working.
        cls = _rebased[handler] = type(handler.__name__, (handler, base), {
            "__module__": handler.__module__, "__qualname__": handler.__qualname__})
    return cls


# -- socketless --------------------------------------------------------------

_socketless: dict[type, type] = {}


def _socketless_class(cls: type) -> type:
    """A subclass that takes the request bytes where socketserver passes the
    socket: __init__ (the handler's own, then setup/handle/finish) runs as
    usual, on BytesIO files."""
    sub = _socketless.get(cls)
    if sub is None:
        def setup(self: Any) -> None:
            self.rfile = io.BytesIO(self.request)
            self.wfile = io.BytesIO()
            self.request = self.connection = None

        def finish(self: Any) -> None:      # keep wfile readable
            pass

        sub = _socketless[cls] = type(cls.__name__, (cls,), {
            "setup": setup, "finish": finish, "__qualname__": cls.__qualname__})
    return sub


class _NoServer:
    """Stands for the server in socketless runs (``server=`` replaces it)."""
    server_name = "127.0.0.1"
    server_port = 0
    server_address = ("127.0.0.1", 0)


def run_socketless(handler: Any, impl: str = "fasthttp",
                   server: Any = None) -> Callable[[bytes], bytes]:
    """A function: raw request bytes -> what ``handler`` (on ``impl``) wrote."""
    factory = handler_class(handler, impl)
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if isinstance(factory, functools.partial):
        args, kwargs, factory = factory.args, factory.keywords, factory.func
    cls = _socketless_class(factory)
    address = ("127.0.0.1", 54321)
    srv = _NoServer() if server is None else server

    def run(raw: bytes) -> bytes:
        h = cls(*args, raw, address, srv, **kwargs)    # as partial(...)(request, ...)
        output: bytes = h.wfile.getvalue()
        return output

    return run


# -- over a socket -------------------------------------------------------------

class _Recorder(io.RawIOBase):
    """The socket's input for http.client, keeping a copy of every byte."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.data = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._sock.recv_into(b)
        self.data += memoryview(b)[:n]
        return n


class _ResponseSource:
    """What http.client.HTTPResponse wants of a socket: makefile()."""

    def __init__(self, sock: socket.socket) -> None:
        self.recorder = _Recorder(sock)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self.recorder)


class BenchClient:
    """Sends raw requests to one server; calling it is ``request()``."""

    def __init__(self, address: tuple[str, int], timeout: float = 10.0) -> None:
        self.address = address
        self.timeout = timeout
        self._sock: Optional[socket.socket] = None

    def request(self, raw: bytes) -> bytes:
        """Send the bytes of one request, return the raw response (with any
        1xx interim response before it). The connection is kept for the next
        request unless the response closes it."""
        reused = self._sock is not None
        try:
            return self._exchange(raw)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            # The server closed the idle kept-alive connection: a fresh one, once.
            return self._exchange(raw)

    __call__ = request

    def _exchange(self, raw: bytes) -> bytes:
        sock = self._sock
        if sock is None:
            sock = self._sock = socket.create_connection(self.address, timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        source = _ResponseSource(sock)
        method = raw.split(None, 1)[0].decode("latin-1") if raw.strip() else "GET"
        try:
            sock.sendall(raw)
            response = http.client.HTTPResponse(source, method=method)  # type: ignore[arg-type]
            response.begin()
            response.read()
            if response.will_close:
                self.close()
        except BaseException:
            self.close()
            raise
        return bytes(source.recorder.data)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class BenchServer:
    """``handler`` on ``impl``'s server class at 127.0.0.1:0, served by a
    daemon thread until close() (or the end of a ``with`` block)."""

    def __init__(self, handler: Any, impl: str = "fasthttp", **server_attrs: Any) -> None:
        base = SERVER_CLASSES[impl]
        started = threading.Event()
        # Connections accepted and not yet closed: close() waits for their
        # threads (daemon threads, which server_close() does not join).
        self._open = 0
        self._open_changed = threading.Condition()

        def service_actions(server: Any) -> None:   # called from the serving loop
            started.set()
            base.service_actions(server)

        def verify_request(server: Any, request: Any, client_address: Any) -> bool:
            with self._open_changed:
                self._open += 1
            return bool(base.verify_request(server, request, client_address))

        def shutdown_request(server: Any, request: Any) -> None:
            try:
                base.shutdown_request(server, request)
            finally:
                with self._open_changed:
                    self._open -= 1
                    self._open_changed.notify_all()

        server_cls = type(base.__name__, (base,), {
            **server_attrs, "service_actions": service_actions,
            "verify_request": verify_request, "shutdown_request": shutdown_request})
        self.impl = impl
        self.server = server_cls(("127.0.0.1", 0), handler_class(handler, impl))
        self.address: tuple[str, int] = self.server.server_address[:2]
        self._clients: list[BenchClient] = []
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"fasthttp-bench-{impl}", daemon=True)
        self._thread.start()
        # Serving before the first request and before any shutdown(): a
        # shutdown() that came first would be missed by LoopHTTPServer.
        if not started.wait(timeout=10):
            self.close()
            raise RuntimeError(f"{server_cls.__name__} did not start serving within 10 s")

    def client(self, timeout: float = 10.0) -> BenchClient:
        c = BenchClient(self.address, timeout)
        self._clients.append(c)
        return c

    def close(self) -> None:
        # Clients first: a kept-alive connection holds a server thread.
        for c in self._clients:
            c.close()
        self.server.shutdown()
        with self._open_changed:
            self._open_changed.wait_for(lambda: self._open <= 0, timeout=10)
        self.server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
