"""LoopHTTPServer: the same handler classes, served from one event loop.

ThreadingHTTPServer spends a thread per connection, and every request pays
for thread switches and GIL hand-offs. LoopHTTPServer keeps all connections
in one selector loop and, when a whole request is already buffered (its head,
and a Content-Length body up to ``max_inline_body`` bytes), runs the
handler's ``handle_one_request()`` right there: no thread, no switch.

What it keeps: the handler class and every hook (a handler instance per
connection, created with setup() and ended with finish(); parse_request,
send_response, log_message ... called as by http.server), keep-alive and
pipelining, the error answers.

What it changes, and how to choose:

- A handler runs on the loop thread, so while it runs no other connection
  is served. Handlers that block (sleep, slow I/O, long computations)
  belong on ThreadingHTTPServer. A handler that reads more of ``rfile`` or
  writes more to ``wfile`` than the socket has ready waits for it (up to
  ``io_timeout``) on the loop thread.
- Requests that need further reads to be handled (Transfer-Encoding,
  ``Expect: 100-continue``, bodies over ``max_inline_body``) and connections
  whose handler replaced setup() move to a thread of their own for the rest
  of their life, served exactly as ThreadingHTTPServer would.
- ``head_timeout`` still drops clients that do not finish a request head in
  time (checked about once a second).
"""

from __future__ import annotations

import functools
import select
import selectors
import socket
import threading
import time
from typing import Any, Optional

from fasthttp import _core
from fasthttp.errors import BodyError
from fasthttp.handler import BaseHTTPRequestHandler
from fasthttp.tcp import HTTPServer

__all__ = ["LoopHTTPServer"]


class _Connection:
    __slots__ = ("sock", "handler", "deadline")

    def __init__(self, sock: socket.socket, handler: Any, deadline: Optional[float]) -> None:
        self.sock = sock
        self.handler = handler
        self.deadline = deadline


_Connections = dict[int, _Connection]


class _Poller:
    """Readiness of file descriptors for reading: epoll or poll where the OS
    has them (no per-event Python objects, unlike selectors), else selectors."""

    def __init__(self) -> None:
        self._epoll = getattr(select, "epoll", None)
        self._impl: Any
        if self._epoll is not None:
            self._impl = select.epoll()
        elif hasattr(select, "poll"):
            self._impl = select.poll()
        else:
            self._impl = selectors.DefaultSelector()

    def register(self, sock: socket.socket) -> None:
        if isinstance(self._impl, selectors.BaseSelector):
            self._impl.register(sock, selectors.EVENT_READ)
        else:
            self._impl.register(sock.fileno(), select.POLLIN)

    def unregister(self, fd: int) -> None:
        self._impl.unregister(fd)

    def ready(self, timeout: float) -> list[int]:
        if self._epoll is not None:
            return [fd for fd, _ in self._impl.poll(timeout)]
        if isinstance(self._impl, selectors.BaseSelector):
            return [key.fd for key, _ in self._impl.select(timeout)]
        return [fd for fd, _ in self._impl.poll(timeout * 1000)]

    def close(self) -> None:
        if hasattr(self._impl, "close"):
            self._impl.close()


class LoopHTTPServer(HTTPServer):
    """HTTPServer serving all connections from one selector loop; see the
    module documentation for what that keeps and what it changes."""

    #: Largest Content-Length body a request may have to be handled on the
    #: loop; larger ones move their connection to a thread.
    max_inline_body = 64 * 1024

    #: How long a handler on the loop may wait for a slow socket, seconds.
    io_timeout = 30.0

    request_queue_size = 1024

    _fh_stop = False
    _fh_stopped: Optional[threading.Event] = None

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._fh_stop = False
        stopped = self._fh_stopped = threading.Event()
        selector = _Poller()
        connections: _Connections = {}
        self.socket.setblocking(False)
        listener = self.socket.fileno()
        selector.register(self.socket)
        next_sweep = time.monotonic() + 1.0
        try:
            while not self._fh_stop:
                for fd in selector.ready(poll_interval):
                    if fd == listener:
                        self._accept(selector, connections)
                    else:
                        conn = connections.get(fd)
                        if conn is not None:
                            self._serve(selector, connections, conn)
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(selector, connections, now)
                    next_sweep = now + 1.0
                self.service_actions()
        finally:
            for conn in list(connections.values()):
                self._close(selector, connections, conn)
            selector.close()
            stopped.set()

    def shutdown(self) -> None:
        """Stop serve_forever() and wait until it has returned."""
        self._fh_stop = True
        if self._fh_stopped is not None:
            self._fh_stopped.wait()

    # -- the loop's steps ----------------------------------------------------

    def _accept(self, selector: _Poller, connections: _Connections) -> None:
        for _ in range(64):             # a burst, but let the others run too
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not self.verify_request(sock, address):
                self.shutdown_request(sock)
                continue
            sock.setblocking(False)
            handler = self._make_handler(sock, address)
            if handler is None:
                continue
            conn = _Connection(sock, handler, self._deadline(handler))
            connections[sock.fileno()] = conn
            selector.register(sock)

    def _make_handler(self, sock: socket.socket, address: Any) -> Any:
        """The handler for a new connection, created as socketserver does
        (RequestHandlerClass(request, client_address, server): a class or any
        factory, e.g. functools.partial(SimpleHTTPRequestHandler, directory=
        ...)) but with fasthttp's handle() and finish() deferring to this
        loop. A handler class that replaces handle(), finish() or setup() is
        served on a thread of its own instead, as ThreadingHTTPServer would."""
        if not self._inline_capable(self.RequestHandlerClass):
            self._thread_whole_connection(sock, address)
            return None
        self._fh_adopting = sock
        factory: Any = self.RequestHandlerClass
        try:
            handler = factory(sock, address, self)
        except Exception:
            self.handle_error(sock, address)
            self.shutdown_request(sock)
            return None
        finally:
            self._fh_adopting = None
        if type(handler.rfile) is not _core.SocketReader or \
                type(handler.wfile) is not _core.SocketWriter:
            self._to_thread(handler)        # a setup() of the handler's own
            return None
        handler.rfile.io_timeout = handler.wfile.io_timeout = self.io_timeout
        handler.wfile.gather = True         # one send() per response
        handler.close_connection = True
        return handler

    _fh_adopting: Optional[socket.socket] = None

    @staticmethod
    def _inline_capable(factory: Any) -> bool:
        while isinstance(factory, functools.partial):
            factory = factory.func
        return (isinstance(factory, type) and issubclass(factory, BaseHTTPRequestHandler)
                and factory.handle is BaseHTTPRequestHandler.handle
                and factory.finish is BaseHTTPRequestHandler.finish)

    def _thread_whole_connection(self, sock: socket.socket, address: Any) -> None:
        """Serve a connection the ThreadingHTTPServer way, from accept on."""
        def run() -> None:
            try:
                sock.setblocking(True)
                self.finish_request(sock, address)
            except Exception:
                self.handle_error(sock, address)
            finally:
                self.shutdown_request(sock)

        threading.Thread(target=run, daemon=True).start()

    def _serve(self, selector: _Poller, connections: _Connections,
               conn: _Connection) -> None:
        handler = conn.handler
        rfile = handler.rfile
        try:
            received = rfile.fill_nowait()
        except OSError:
            received = 0
        if received == 0:
            self._close(selector, connections, conn)
            return
        while True:
            state = _core.request_state(rfile, self.max_inline_body)
            if state == 0:
                return
            if state == 2:
                self._forget(selector, connections, conn)
                self._to_thread(handler)
                return
            try:
                handler.handle_one_request()
                handler.wfile.flush()     # also after an error answer
            except BodyError:             # read_body() answered already
                handler.wfile.flush()
                handler.close_connection = True
            except Exception:
                self.handle_error(conn.sock, handler.client_address)
                handler.close_connection = True
            if handler.close_connection:
                self._close(selector, connections, conn)
                return
            conn.deadline = self._deadline(handler)
            if not rfile.buffered():
                return

    def _sweep(self, selector: _Poller, connections: _Connections,
               now: float) -> None:
        """Drop connections whose request head is overdue (slowloris)."""
        for conn in [c for c in connections.values()
                     if c.deadline is not None and c.deadline < now]:
            self._close(selector, connections, conn)

    # -- helpers ---------------------------------------------------------------

    @staticmethod
    def _deadline(handler: Any) -> Optional[float]:
        timeout = handler.head_timeout
        return None if timeout is None else time.monotonic() + timeout

    def _forget(self, selector: _Poller, connections: _Connections,
                conn: _Connection) -> None:
        fd = conn.sock.fileno()
        selector.unregister(fd)
        del connections[fd]

    def _close(self, selector: _Poller, connections: _Connections,
               conn: _Connection) -> None:
        self._forget(selector, connections, conn)
        try:
            conn.handler.finish()
        except Exception:
            pass
        self.shutdown_request(conn.sock)

    def _to_thread(self, handler: Any) -> None:
        """Serve the rest of this connection as ThreadingHTTPServer would."""
        def run() -> None:
            sock = handler.request
            try:
                sock.settimeout(handler.timeout)
                if type(handler.wfile) is _core.SocketWriter:
                    handler.wfile.flush()
                    handler.wfile.gather = False
                handler.handle()
                handler.finish()
            except Exception:
                self.handle_error(sock, handler.client_address)
            finally:
                self.shutdown_request(sock)

        threading.Thread(target=run, daemon=True).start()
