"""LoopHTTPServer: the same handler classes, served from one event loop.

ThreadingHTTPServer spends a thread per connection, and every request pays
for thread switches and GIL hand-offs. LoopHTTPServer keeps all connections
in one event loop (fasthttp/engine.py: epoll, poll, or selectors) and, when a
whole request is already buffered (its head, and a Content-Length body up to
``max_inline_body`` bytes), runs the handler's ``handle_one_request()`` right
there: no thread, no switch.

What it keeps: the handler class and every hook (a handler instance per
connection, created with setup() and ended with finish(); parse_request,
send_response, log_message ... called as by http.server), keep-alive and
pipelining, the error answers.

A slow client costs only itself:

- Output. The handler's ``wfile`` queues what it writes (sockio's queueing
  mode); the loop never waits for a socket. What a socket cannot take now
  stays in that connection's queue and leaves when the socket is writable.
  While more than ``output_high_water`` bytes are queued, the loop reads and
  parses no further requests from that connection. A connection whose queued
  output makes no progress for ``send_timeout`` seconds is closed. Files that
  SimpleHTTPRequestHandler serves are queued as files (sendfile, no copy).
  The one wait left on the loop thread: a single handler call writing more
  than ``max_output_buffer`` bytes waits for its socket (up to
  ``io_timeout``), which bounds memory; handlers that generate such bodies
  belong on ThreadingHTTPServer.
- When output leaves (the flush rules). What a handler writes is sent when
  the handler returns from the request, when it calls ``wfile.flush()``, and
  whenever 64 KiB are queued: always without waiting, as much as the socket
  takes. Responses to pipelined requests already buffered are sent together
  (http.server's handle_one_request flushes after each; a flush while further
  complete requests are buffered only marks the boundary, and the batch
  leaves after the last of them).
- Input. A request head is parsed once it can be complete (a blank line has
  arrived), never rescanned on every recv; a connection may buffer at most
  ``max_head_bytes`` (plus the request line) before its head is complete,
  else it gets http.server's 431. ``head_timeout`` drops clients that do not
  finish a head in time (checked about once a second).
- Threads. Requests that need further reads to be handled (Transfer-Encoding,
  ``Expect: 100-continue``, bodies over ``max_inline_body``) and handler
  classes that replace setup(), handle() or finish() are served on a pool of
  at most ``max_threads`` threads, as ThreadingHTTPServer would; beyond that
  they wait in a queue. A thread that cannot be started is logged; the
  server goes on (with no thread at all, that request gets 503).
- accept() out of descriptors (EMFILE) pauses accepting for half a second
  instead of spinning.

A handler runs on the loop thread, so while it runs no other connection is
served: handlers that block (sleep, slow I/O, long computations, streaming
with pauses) belong on ThreadingHTTPServer.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from typing import Any, Optional

from fasthttp import _core
from fasthttp.engine import READ, WRITE, Poller, ThreadPool, accept_backoff
from fasthttp.errors import BodyError
from fasthttp.handler import BaseHTTPRequestHandler
from fasthttp.head import BODY_INCOMPLETE
from fasthttp.tcp import HTTPServer

__all__ = ["LoopHTTPServer"]


class _Connection:
    """One connection's state in the loop: its handler (whose rfile and wfile
    are the connection's input and output buffers) and its timers."""

    __slots__ = ("sock", "fd", "handler", "rfile", "wfile", "deadline", "send_deadline",
                 "events", "scanned", "closing")

    def __init__(self, sock: socket.socket, handler: Any, deadline: Optional[float]) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.handler = handler
        self.rfile = handler.rfile
        self.wfile = handler.wfile
        self.deadline = deadline            # the next request head is due by then
        self.send_deadline: Optional[float] = None  # queued output must move by then
        self.events = READ
        self.scanned = 0        # buffered bytes already known to hold no whole head
        self.closing = False    # close once the queued output is sent


_Connections = dict[int, _Connection]

# What a client gets when no thread can be had for its request at all.
_UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 20\r\nConnection: close\r\n\r\nno thread available\n")


class _ThreadedJob:
    """A connection served the ThreadingHTTPServer way on a pool thread."""

    __slots__ = ("server", "sock", "address", "handler")

    def __init__(self, server: LoopHTTPServer, sock: socket.socket, address: Any,
                 handler: Any = None) -> None:
        self.server = server
        self.sock = sock
        self.address = address
        self.handler = handler      # None: create it (a class of its own setup/handle)

    def __call__(self) -> None:
        server, sock, handler = self.server, self.sock, self.handler
        try:
            if handler is None:
                sock.setblocking(True)
                server.finish_request(sock, self.address)
            else:
                sock.settimeout(handler.timeout)
                if type(handler.wfile) is _core.SocketWriter:
                    handler.wfile.stop_queueing()   # what the loop queued goes first
                    handler.wfile.io_timeout = handler.send_timeout
                handler.handle()
                handler.finish()
        except Exception:
            server.handle_error(sock, self.address)
        finally:
            server.shutdown_request(sock)

    def refuse(self) -> None:
        try:
            self.sock.send(_UNAVAILABLE)
        except OSError:
            pass
        self.server.shutdown_request(self.sock)


class LoopHTTPServer(HTTPServer):
    """HTTPServer serving all connections from one event loop; see the
    module documentation for what that keeps and what it changes."""

    #: Largest Content-Length body a request may have to be handled on the
    #: loop; larger ones move their connection to a pool thread.
    max_inline_body = 64 * 1024

    #: Queued output above which the loop reads no further requests from a
    #: connection (until it has drained).
    output_high_water = 256 * 1024

    #: Queued output past which a handler's write waits for the socket.
    max_output_buffer = 4 * 1024 * 1024

    #: Seconds queued output may make no progress before the connection is closed.
    send_timeout: Optional[float] = 60.0

    #: How long a handler on the loop may wait for a slow socket, seconds
    #: (only past max_output_buffer).
    io_timeout = 30.0

    #: Threads for requests that cannot be handled on the loop.
    max_threads = 64

    #: After shutdown(), seconds connections in the middle of a request get to
    #: finish it (serve()'s graceful_timeout instead, where the server has one).
    drain_timeout = 5.0

    request_queue_size = 1024

    _fh_stop = False
    _fh_stopped: Optional[threading.Event] = None
    _fh_pool: Optional[ThreadPool] = None
    _fh_poller: Poller
    _fh_connections: _Connections

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._fh_stop = False
        stopped = self._fh_stopped = threading.Event()
        poller = self._fh_poller = Poller()
        self._fh_pool = ThreadPool(self.max_threads, "fasthttp-loop-worker",
                                   lambda job: job.refuse())  # type: ignore[attr-defined]
        connections: _Connections = {}
        self._fh_connections = connections
        self.socket.setblocking(False)
        listener = self.socket.fileno()
        poller.register(listener, READ)
        accept_paused_until = 0.0
        next_sweep = time.monotonic() + 1.0
        try:
            while not self._fh_stop:
                timeout = poll_interval
                if accept_paused_until:
                    timeout = max(0.0, min(timeout, accept_paused_until - time.monotonic()))
                for fd, events in poller.ready(timeout):
                    if fd == listener:
                        pause = self._accept()
                        if pause:
                            poller.unregister(listener)
                            accept_paused_until = time.monotonic() + pause
                        continue
                    conn = connections.get(fd)
                    if conn is not None and events & WRITE:
                        self._on_writable(conn)
                    conn = connections.get(fd)
                    if conn is not None and events & READ and conn.events & READ:
                        self._on_readable(conn)
                now = time.monotonic()
                if accept_paused_until and now >= accept_paused_until:
                    accept_paused_until = 0.0
                    poller.register(listener, READ)
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + 1.0
                self.service_actions()
            if not accept_paused_until:
                poller.unregister(listener)
            self._drain(poll_interval)
        finally:
            for conn in list(connections.values()):
                self._close(conn)
            poller.close()
            self._fh_pool.close()
            stopped.set()

    def _drain(self, poll_interval: float) -> None:
        """After shutdown(): accept no more, end idle connections, and let the
        others finish what is buffered and send what is queued, for at most
        graceful_timeout (serve()'s graceful stop) or drain_timeout seconds."""
        connections = self._fh_connections
        deadline = time.monotonic() + getattr(self, "graceful_timeout", self.drain_timeout)
        while connections and time.monotonic() < deadline:
            for idle in list(connections.values()):
                if not idle.wfile.buffered() and not idle.rfile.buffered():
                    self._close(idle)       # idle: nothing in, nothing out
            if not connections:
                break
            for fd, events in self._fh_poller.ready(min(poll_interval, 0.05)):
                conn: Optional[_Connection] = connections.get(fd)
                if conn is not None and events & WRITE:
                    self._on_writable(conn)
                conn = connections.get(fd)
                if conn is not None and events & READ and conn.events & READ:
                    self._on_readable(conn)

    def shutdown(self) -> None:
        """Stop serve_forever() and wait until it has returned."""
        self._fh_stop = True
        if self._fh_stopped is not None:
            self._fh_stopped.wait()

    # -- the loop's steps ----------------------------------------------------

    def _accept(self) -> float:
        """Accept a burst of connections; returns seconds to pause accepting
        (0: none) when the process is out of descriptors or memory."""
        for _ in range(64):             # a burst, but let the others run too
            try:
                sock, address = self.get_request()
            except (BlockingIOError, InterruptedError):
                return 0.0
            except OSError as err:
                pause = accept_backoff(err)
                if pause:
                    return pause
                continue                # that one connection failed (ECONNABORTED ...)
            if not self.verify_request(sock, address):
                self.shutdown_request(sock)
                continue
            sock.setblocking(False)
            handler = self._make_handler(sock, address)
            if handler is None:
                continue
            conn = _Connection(sock, handler, self._deadline(handler))
            self._fh_connections[conn.fd] = conn
            self._fh_poller.register(conn.fd, READ)
        return 0.0

    def _make_handler(self, sock: socket.socket, address: Any) -> Any:
        """The handler for a new connection, created as socketserver does
        (RequestHandlerClass(request, client_address, server): a class or any
        factory, e.g. functools.partial(SimpleHTTPRequestHandler, directory=
        ...)) but with fasthttp's handle() and finish() deferring to this
        loop. A handler class that replaces handle(), finish() or setup() is
        served on a pool thread instead, as ThreadingHTTPServer would."""
        if not self._inline_capable(self.RequestHandlerClass):
            self._submit(_ThreadedJob(self, sock, address))
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
            self._submit(_ThreadedJob(self, sock, address, handler))   # a setup() of its own
            return None
        handler.wfile.io_timeout = self.io_timeout     # only past max_output_buffer
        handler.wfile.start_queueing(self.max_output_buffer)
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

    def _on_readable(self, conn: _Connection) -> None:
        try:
            received = conn.rfile.fill_nowait()
        except OSError:
            received = 0
        if received < 0:
            return
        if received == 0:               # the client is done sending
            conn.closing = True
            self._set_events(conn, 0)
        self._process(conn)

    def _on_writable(self, conn: _Connection) -> None:
        before = conn.wfile.buffered()
        self._send(conn)
        if conn.fd not in self._fh_connections:
            return
        if conn.wfile.buffered() < before and self.send_timeout is not None:
            conn.send_deadline = time.monotonic() + self.send_timeout
        if not conn.wfile.buffered() and not conn.closing:
            self._process(conn)         # pipelined requests held back meanwhile

    def _process(self, conn: _Connection) -> None:
        """Handle the whole requests buffered on conn and send what they
        wrote, for as long as the socket takes the answers."""
        while True:
            backed_up = self._handle_requests(conn)
            if conn.fd not in self._fh_connections:
                return              # handed to a thread
            self._send(conn)
            if (not backed_up or conn.fd not in self._fh_connections
                    or conn.wfile.buffered()):
                return              # done, closed, or waiting to be writable

    def _handle_requests(self, conn: _Connection) -> bool:
        """Handle the whole requests buffered on conn while its queued output
        stays under the high-water mark. True when it stopped at that mark
        with requests still buffered."""
        rfile, wfile, handler = conn.rfile, conn.wfile, conn.handler
        backed_up = served = False
        while not conn.closing or rfile.buffered():
            if not rfile.buffered():
                break
            if wfile.buffered() > self.output_high_water:
                backed_up = True
                break
            if conn.scanned and not self._blank_line_since(rfile, conn.scanned):
                length = 0                  # still no end of the head: no need to parse
            else:
                length = _core.request_state(rfile, self.max_inline_body)
            if length <= 0:
                if length == BODY_INCOMPLETE:
                    conn.scanned = 0        # the head is in: look again on more bytes
                    break
                if length < 0:
                    self._hand_off(conn)
                    return False
                # The head is incomplete: look for its end only in what arrives next.
                conn.scanned = rfile.buffered()
                if conn.scanned > _MAX_REQUEST_LINE + handler.max_head_bytes:
                    self._hand_off(conn)    # the blocking parser answers 431
                    return False
                break
            # More requests buffered behind this one: its flush() waits for theirs.
            wfile.holding = rfile.buffered() > length
            conn.scanned = 0
            try:
                handler.handle_one_request()
            except BodyError:             # read_body() answered already
                handler.close_connection = True
            except Exception:
                self.handle_error(conn.sock, handler.client_address)
                handler.close_connection = True
            if handler.close_connection:
                conn.closing = True
                rfile.close()
                break
            served = True
        if conn.closing and not rfile.closed:
            rfile.close()
        elif served:
            conn.deadline = self._deadline(handler)     # for the next request
        wfile.holding = False
        return backed_up

    @staticmethod
    def _blank_line_since(rfile: Any, offset: int) -> bool:
        """Could a request head end in the buffered bytes from about
        `offset` on (an empty line: LF LF or LF CR LF)?"""
        start = max(0, offset - 2)
        return bool(rfile.find(b"\n\n", start) >= 0 or rfile.find(b"\n\r\n", start) >= 0)

    def _send(self, conn: _Connection) -> None:
        """Send what conn has queued, as far as the socket takes it now, and
        watch for what follows: writable while output remains, readable
        while below the high-water mark and not closing."""
        wfile = conn.wfile
        try:
            drained = wfile.send_some()
        except OSError:
            self._close(conn)
            return
        if drained and conn.closing:
            self._close(conn)
            return
        events = 0 if drained else WRITE
        if not conn.closing and wfile.buffered() <= self.output_high_water:
            events |= READ
        if not drained and conn.send_deadline is None and self.send_timeout is not None:
            conn.send_deadline = time.monotonic() + self.send_timeout
        elif drained:
            conn.send_deadline = None
        self._set_events(conn, events)

    def _set_events(self, conn: _Connection, events: int) -> None:
        if events != conn.events:
            conn.events = events
            self._fh_poller.modify(conn.fd, events)

    def _sweep(self, now: float) -> None:
        """Close connections that are overdue: a request head not in by its
        deadline (slowloris), or queued output that stopped moving."""
        for conn in list(self._fh_connections.values()):
            if conn.send_deadline is not None and conn.send_deadline < now:
                self._close(conn)
            elif (conn.deadline is not None and conn.deadline < now
                  and not conn.wfile.buffered()):
                self._close(conn)

    # -- helpers ---------------------------------------------------------------

    @staticmethod
    def _deadline(handler: Any) -> Optional[float]:
        timeout = handler.head_timeout
        return None if timeout is None else time.monotonic() + timeout

    def _forget(self, conn: _Connection) -> None:
        self._fh_poller.unregister(conn.fd)
        self._fh_connections.pop(conn.fd, None)

    def _close(self, conn: _Connection) -> None:
        self._forget(conn)
        try:
            conn.handler.finish()
        except Exception:
            pass
        self.shutdown_request(conn.sock)

    def _hand_off(self, conn: _Connection) -> None:
        """Serve the rest of this connection on a pool thread."""
        self._forget(conn)
        self._submit(_ThreadedJob(self, conn.sock, conn.handler.client_address, conn.handler))

    def _submit(self, job: _ThreadedJob) -> None:
        pool = self._fh_pool
        if pool is None:        # not serving: the loop is not running
            job.refuse()
            return
        pool.submit(job)


# The request line http.server accepts (65536 bytes and its LF).
_MAX_REQUEST_LINE = 65537
