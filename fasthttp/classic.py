"""A thread per connection, as socketserver's ThreadingMixIn gives, for the
handler classes the engine cannot drive request by request: those that
replace handle(), setup() or finish() (werkzeug's WSGIRequestHandler), or
read an unbuffered rfile (the CGI handler hands the socket to its child),
or write through a buffered wfile.

Such a connection takes its thread only once its request head is in (the
engine looks at it with MSG_PEEK, leaving every byte in the socket for the
handler's own files): a client that sends nothing, or its head a byte at a
time, holds no thread, and is dropped at the class's ``head_timeout``. At
most ``limit`` of these threads run at once; further connections wait
their turn, in order.
"""
from __future__ import annotations

import collections
import socket
import threading
from typing import TYPE_CHECKING, Any

from fasthttp.connection import MAX_REQUEST_LINE, deadline, header_block_follows
from fasthttp.poller import READ

if TYPE_CHECKING:
    from fasthttp.connection import Connection
    from fasthttp.engine import Engine

__all__ = ["ClassicThreads"]

# Seconds a connection for a handler class without head_timeout has to send
# its request head (it holds no thread meanwhile).
_HEAD_TIMEOUT = 60.0
# Bytes looked at for the end of a head: a request line, and a header block
# as large as http.server's default handler takes without a 431.
_PEEK = MAX_REQUEST_LINE + 256 * 1024
# Seconds between two looks at a head still incomplete (the socket stays
# readable meanwhile: a level-triggered poller would report it at once).
_LOOK_AGAIN = 0.05
_MSG_PEEK_NOWAIT = socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)


class ClassicThreads:
    """The threads (one per connection) for handler classes of their own."""

    def __init__(self, engine: Engine, limit: int) -> None:
        self._engine = engine
        self._server = engine.server
        self._limit = max(1, limit)
        self._running = 0
        self._waiting: collections.deque[tuple[Any, Any, Any]] = collections.deque()
        self._lock = threading.Lock()

    def running(self) -> int:
        return self._running

    def wait_for_head(self, conn: Connection) -> None:
        """Watch a new connection until its request head is in."""
        conn.deadline = deadline(getattr(self._server.RequestHandlerClass, "head_timeout",
                                         _HEAD_TIMEOUT) or _HEAD_TIMEOUT)
        self._engine.register(conn, READ)

    def on_readable(self, conn: Connection) -> None:
        """Bytes came: a thread for the connection once its head is in
        (a TLS one at its first bytes: its handshake runs on that thread)."""
        if not conn.tls:
            try:
                data = conn.sock.recv(_PEEK, _MSG_PEEK_NOWAIT)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data and len(data) < _PEEK and not _head_in(data):
                conn.set_events(0)      # look again in a moment
                self._engine.rearm_later(conn, _LOOK_AGAIN)
                return
        self._engine.forget(conn)
        self.start(conn.sock, conn.address)

    def start(self, sock: Any, address: Any, handler: Any = None) -> None:
        """Serve the connection on a thread: create its handler (socketserver's
        finish_request), or run the one the engine created (`handler`, whose
        handle() and finish() the engine deferred)."""
        with self._lock:
            if self._running >= self._limit:
                self._waiting.append((sock, address, handler))
                return
            self._running += 1
        try:
            threading.Thread(target=self._serve, args=(sock, address, handler),
                             name="fasthttp-connection", daemon=True).start()
        except RuntimeError:
            with self._lock:
                self._running -= 1
            self._server.shutdown_request(sock)

    def _serve(self, sock: Any, address: Any, handler: Any) -> None:
        server = self._server
        while True:
            # A blocking socket, with the class's `timeout` if it has one.
            sock.settimeout(None if handler is None else handler.timeout)
            try:
                if handler is None:
                    server.finish_request(sock, address)
                else:
                    try:
                        handler.handle()
                    finally:
                        handler.finish()
            except Exception:
                server.handle_error(sock, address)
            finally:
                server.shutdown_request(sock)
            with self._lock:
                if not self._waiting:
                    self._running -= 1
                    return
                sock, address, handler = self._waiting.popleft()


def _head_in(data: bytes) -> bool:
    """Do these first bytes of a connection hold a whole request head (as
    far as http.server reads one: a request line after which it reads no
    header block, or a blank line)?"""
    end = data.find(b"\n")
    if end < 0:
        return False
    if not header_block_follows(data[:end + 1]):
        return True
    return data.find(b"\n\n", end) >= 0 or data.find(b"\n\r\n", end) >= 0
