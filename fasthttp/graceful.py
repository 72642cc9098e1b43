"""The graceful stop of one server: GracefulServerMixIn and its signal handlers.

SIGTERM or SIGINT (or `stop()` on the server) stops it gracefully:

1. the server stops accepting at once (connections still queued stay in
   the listen queue, for the other workers sharing it) and closes its
   listening socket when its loop ends (within `poll_interval`);
2. connections idle between requests are closed (shut down for reading,
   so a handler waiting for the next request sees EOF); a connection with
   a request in flight, its body included, is closed once that request is
   done (its response goes out first);
3. in-flight requests get `graceful_timeout` seconds to finish; connections
   still open then are closed under their handlers, and a handler still
   reading a body gets ConnectionAbortedError, never a short body.

install_signal_handlers() catches the first SIGINT/SIGTERM only: a second
one ends the process the usual way. (A pre-fork worker keeps catching
them; its supervisor decides when to end it at once: see supervisor.py.)
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

__all__ = ["GracefulServerMixIn", "install_signal_handlers", "client_went_away",
           "graceful_class"]

# What signal.signal() returns and takes.
SignalHandler = Union[Callable[[int, Optional[FrameType]], Any], int, signal.Handlers, None]

if TYPE_CHECKING:
    # The mix-in goes before a socketserver.TCPServer class: type it as one.
    _MixInBase = socketserver.TCPServer
else:
    _MixInBase = object


def _shutdown_fd(sock: socket.socket, how: int) -> None:
    """shutdown(2) on the connection under `sock` without touching `sock`
    itself (SSLSocket.shutdown would drop its TLS state under the handler)."""
    try:
        fd = sock.fileno()
        if fd < 0:
            return
        dup = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        dup.shutdown(how)
    except OSError:
        pass
    finally:
        dup.close()


class ConnectionBook:
    """What a graceful stop must know of one server's connections, and the
    contract between that server and fasthttp's handlers: the server
    offers it as ``fasthttp_connections``, and a handler's setup() tells it
    which reader (rfile) is its connection's (``track``), so that the stop
    can tell connections waiting for a request (closed at once) from those
    in the middle of one (given time to finish)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.conns: set[Any] = set()
        self.readers: dict[Any, Any] = {}
        self.stopping = False
        self.deadline: Optional[float] = None

    def add(self, sock: Any) -> None:
        with self.cond:
            self.conns.add(sock)

    def track(self, sock: Any, reader: Any) -> None:
        """Called by fasthttp's handler.setup(): the connection's reader."""
        with self.cond:
            self.readers[sock] = reader

    def discard(self, sock: Any) -> None:
        with self.cond:
            self.conns.discard(sock)
            self.readers.pop(sock, None)
            self.cond.notify_all()

    def stop_reading(self, sock: Any, how: int = socket.SHUT_RD) -> None:
        """End a connection's input; past its request head (a body being
        read) that is an error to its reader, not a short body."""
        reader = self.readers.get(sock)
        if reader is not None and hasattr(reader, "stopping"):
            reader.stopping = True
        _shutdown_fd(sock, how)


class GracefulServerMixIn(_MixInBase):
    """Mix into a socketserver.TCPServer class (before it) for `stop()`:
    a graceful stop that may be requested from a signal handler."""

    #: Seconds in-flight requests get to finish once a stop is requested.
    graceful_timeout: float = 10.0

    #: Set by install_signal_handlers()' handler: the signal that began the stop.
    stop_signal: int

    @property
    def fasthttp_connections(self) -> ConnectionBook:
        """This server's ConnectionBook (fasthttp's handlers find it here)."""
        book: Optional[ConnectionBook] = self.__dict__.get("_fh_book")
        if book is None:
            book = self.__dict__.setdefault("_fh_book", ConnectionBook())
        return book

    def _fh_reset_state(self) -> ConnectionBook:
        """Fresh locks and bookkeeping (in a forked worker)."""
        self.__dict__.pop("_fh_book", None)
        return self.fasthttp_connections

    # -- connection bookkeeping --------------------------------------------

    def get_request(self) -> tuple[socket.socket, Any]:
        book = self.fasthttp_connections
        if book.stopping:
            # Leave it in the listen queue: workers sharing the socket serve
            # it (a reload); a lone server closes the queue with its socket.
            raise BlockingIOError(errno.EAGAIN, "stopping: not accepting")
        request, client_address = super().get_request()
        book.add(request)
        if self.stopping:  # accepted as the stop began: serve what it sent, no more
            book.stop_reading(request)
        return request, client_address

    def close_request(self, request: Any) -> None:
        self.fasthttp_connections.discard(request)
        super().close_request(request)

    # -- stopping ------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.fasthttp_connections.stopping

    def stop(self) -> None:
        """Begin a graceful stop; returns at once (safe in a signal handler).
        serve_forever() returns soon after; then call finish_stop()."""
        book = self.fasthttp_connections
        if book.stopping:
            return
        book.stopping = True
        book.deadline = time.monotonic() + self.graceful_timeout
        threading.Thread(target=self._fh_stopping, name="fasthttp-stop", daemon=True).start()

    def _fh_stopping(self) -> None:
        book = self.fasthttp_connections
        assert book.deadline is not None
        loop = threading.Thread(target=self.shutdown, daemon=True)
        loop.start()
        # Idle connections end now; busy ones (a request in flight, its body
        # included) when they become idle, checked every 50 ms. (The
        # engine's servers end their idle connections themselves.)
        closed: set[Any] = set()
        while True:
            with book.cond:
                conns = [(c, book.readers.get(c)) for c in book.conns if c not in closed]
            for conn, reader in conns:
                # Not our reader (a setup() of the handler's own): as before.
                if reader is None or reader.idle():
                    book.stop_reading(conn)
                    closed.add(conn)
            remaining = book.deadline - time.monotonic()
            if remaining <= 0 or (not conns and not loop.is_alive()):
                break
            time.sleep(min(0.05, remaining))
        # A single-threaded server leaves its loop only when its request is
        # done: bound that too.
        loop.join(max(0.0, book.deadline - time.monotonic()))
        if loop.is_alive():
            self._fh_force_close()

    def _fh_force_close(self) -> None:
        book = self.fasthttp_connections
        with book.cond:
            conns = list(book.conns)
        for conn in conns:
            book.stop_reading(conn, socket.SHUT_RDWR)

    def finish_stop(self) -> bool:
        """After serve_forever() returned: stop listening, let in-flight
        requests finish (until the deadline), then close the server.
        Returns True if every connection finished in time."""
        book = self.fasthttp_connections
        if book.deadline is None:
            book.deadline = time.monotonic() + self.graceful_timeout
        try:
            self.socket.close()  # listening stops first
        except OSError:
            pass
        drained = self._fh_wait_drained(book.deadline)
        if not drained:
            self._fh_force_close()
            drained = self._fh_wait_drained(time.monotonic() + 1.0)
        if drained:
            # Joins the (finished) handler threads, closes what is left.
            self.server_close()
        return drained

    def _fh_wait_drained(self, deadline: float) -> bool:
        book = self.fasthttp_connections
        with book.cond:
            while book.conns:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                book.cond.wait(remaining)
        return True


def install_signal_handlers(
        httpd: GracefulServerMixIn,
        signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT), *,
        once: bool = True,
) -> dict[int, SignalHandler]:
    """Make SIGTERM/SIGINT call httpd.stop() (a GracefulServerMixIn server).
    once=True: the handler restores the default, so a second signal is not
    caught (it ends the process); once=False: every one is the same graceful
    stop (a pre-fork worker, which gets a group's signal and its
    supervisor's). Call from the main thread. Returns the previous handlers."""
    previous: dict[int, SignalHandler] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        if once:
            for sig in previous:
                signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT
                              else signal.SIG_DFL)
        if not httpd.stopping:
            httpd.stop_signal = signum
        httpd.stop()

    for sig in signals:
        previous[sig] = signal.signal(sig, handler)
    return previous


#: How a TLS connection ends when its client drops it without TLS's own
#: close (close_notify): the TLS form of a reset.
_TLS_GONE = (ssl.SSLEOFError, ssl.SSLZeroReturnError)


def client_went_away(exc: BaseException | None) -> bool:
    """Is this how a connection ends when the client resets or closes it
    under us (a browser closing a tab, wrk at the end of a run)?"""
    return isinstance(exc, (ConnectionError, *_TLS_GONE))   # reset, broken pipe, aborted


class QuietErrorsMixIn(_MixInBase):
    """socketserver's handle_error, except that a client going away is one
    line on stderr instead of a 15-line traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not client_went_away(exc):
            socketserver.BaseServer.handle_error(self, request, client_address)
            return
        host = client_address[0] if isinstance(client_address, tuple) and client_address \
            else "-"
        sys.stderr.write("fasthttp: %s closed the connection (%s)\n"
                         % (host, type(exc).__name__))


def graceful_class(server_class: type[socketserver.TCPServer]) -> type[GracefulServerMixIn]:
    """`server_class` with a graceful stop; a client going away is one line
    where the class keeps socketserver's handle_error (the drop-in classes
    keep it, for code written against http.server; serve() does not)."""
    graceful = issubclass(server_class, GracefulServerMixIn)
    quiet = server_class.handle_error is socketserver.BaseServer.handle_error
    if graceful and not quiet:
        return server_class     # type: ignore[return-value] # (checked just above)
    if graceful:
        class Quiet(QuietErrorsMixIn, server_class):  # type: ignore[misc,valid-type]
            pass
        served: type[Any] = Quiet
    elif quiet:
        class GracefulQuiet(GracefulServerMixIn, QuietErrorsMixIn,
                            server_class):  # type: ignore[misc,valid-type]
            pass
        served = GracefulQuiet
    else:
        class Graceful(GracefulServerMixIn, server_class):  # type: ignore[misc,valid-type]
            pass
        served = Graceful
    # Named as the class it serves with (the banner, reprs, tracebacks).
    served.__name__ = server_class.__name__
    served.__qualname__ = server_class.__qualname__
    served.__module__ = server_class.__module__
    return served
