"""The servers: socketserver's TCP servers as http.server has them.

- HTTPServer: http.server's, one connection at a time on the thread that
  calls serve_forever() (or handle_request()), with a deeper listen backlog
  and accept() that survives running out of descriptors.
- ThreadingHTTPServer and LoopHTTPServer: the same handlers on the
  connection engine (fasthttp/engine.py): a handler runs on the thread where
  its request became complete, and only a handler that waits costs a thread
  of its own. The two differ only in their defaults (see LoopHTTPServer).
"""
from __future__ import annotations

import http.server as _stdlib
import threading
import time
from typing import Any, Optional

from fasthttp.engine import Engine
from fasthttp.poller import accept_backoff

__all__ = ["HTTPServer", "ThreadingHTTPServer", "EngineServer"]

_Address = Any          # what socketserver passes as client_address


class HTTPServer(_stdlib.HTTPServer):
    """http.server.HTTPServer; handlers get fasthttp's reader and writer."""

    def get_request(self) -> tuple[Any, _Address]:
        # Out of descriptors (EMFILE) or memory, accept() fails again at once
        # and socketserver's loop would spin on it: pause as nginx does.
        try:
            return super().get_request()
        except OSError as err:
            pause = accept_backoff(err)
            if pause and self.socket.gettimeout() != 0.0:
                time.sleep(pause)   # (an event loop pauses its own way)
            raise

    # The listen() backlog. socketserver's 5 overflows as soon as a few dozen
    # clients connect at once: the kernel drops their SYNs and they retry
    # after a second (the p99 of a -c32 load test was ~0.7 s). Linux caps
    # it at net.core.somaxconn anyway.
    request_queue_size = 128


class EngineServer(HTTPServer):
    """serve_forever() on the connection engine; see fasthttp/engine.py for
    what it does with connections, and the attributes below for its bounds.
    (A base of ThreadingHTTPServer and LoopHTTPServer, not a server itself.)
    """

    #: Seconds a handler may run on the thread that leads the event loop
    #: before the loop moves on to another thread (the watchdog's bound;
    #: see fasthttp/crew.py). A handler that blocks delays the requests of
    #: other connections by about this much, once.
    handoff_after: float = 0.004

    #: Largest body (Content-Length or chunked) read whole before the
    #: handler runs, so that a slow sender holds no thread (nginx's request
    #: buffering; 1 MiB is also its default client_max_body_size). Larger
    #: ones reach the handler as they arrive, on a thread of its own.
    max_buffered_body: int = 1024 * 1024

    #: Queued output above which no further requests are read from a
    #: connection (until it has drained).
    output_high_water: int = 256 * 1024

    #: Queued output past which a handler's write waits for the socket (on
    #: a thread of its own: the loop moves on first).
    max_output_buffer: int = 4 * 1024 * 1024

    #: Output queued in memory by all connections together past which no
    #: further requests are read from connections that still have output
    #: queued (those with none are served as usual), until it drains. Past
    #: twice this, the connections whose output has been stalled longest
    #: are closed until it is back under 1.5 times.
    max_output_memory: int = 128 * 1024 * 1024

    #: After shutdown(), seconds connections in the middle of a request get
    #: to finish it (serve()'s graceful_timeout instead, where it is set).
    drain_timeout: float = 5.0

    _fh_engine: Optional[Engine] = None

    def _fh_events(self) -> tuple[threading.Event, threading.Event]:
        """(shutdown requested, shut down), as socketserver's private pair;
        made on first use by either side (dict.setdefault: one of each)."""
        requested = self.__dict__.setdefault("_fh_shutdown_request", threading.Event())
        done = self.__dict__.setdefault("_fh_is_shut_down", threading.Event())
        return requested, done

    def _max_handlers(self) -> int:
        """Handlers that may run at once (each on a thread)."""
        raise NotImplementedError

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until shutdown(): socketserver's contract (service_actions()
        every poll_interval on this thread, KeyboardInterrupt raised here),
        with the connections on the engine."""
        requested, done = self._fh_events()
        done.clear()
        try:
            if not requested.is_set():
                engine = self._fh_engine = Engine(self, self._max_handlers())
                engine.stop_when(requested)
                engine.run(poll_interval)
        finally:
            requested.clear()
            done.set()

    def shutdown(self) -> None:
        """Stop serve_forever() and wait until it has returned: it accepts
        no more; connections in the middle of a request get drain_timeout
        to finish, in the background (as socketserver's handler threads go
        on). As socketserver's: called before serve_forever() runs, it
        waits for it (which then returns at once)."""
        requested, done = self._fh_events()
        requested.set()
        engine = self._fh_engine
        if engine is not None:
            engine.stop()
        done.wait()

    def server_close(self) -> None:
        super().server_close()
        engine = self._fh_engine
        if engine is not None and not self.daemon_threads and self.block_on_close:
            engine.join_handlers()      # as ThreadingMixIn joins its threads

    # socketserver.ThreadingMixIn's, for the classes that have it.
    daemon_threads = True
    block_on_close = True


class ThreadingHTTPServer(EngineServer, _stdlib.ThreadingHTTPServer):
    """http.server.ThreadingHTTPServer, with a thread per waiting handler
    rather than per connection.

    A handler runs on the thread where its request became complete; only a
    handler that waits (for its client, or for anything else: a sleep, a
    database) costs a thread of its own, at most ``max_connections`` at once
    (further requests then wait their turn). Connections between requests,
    and clients that have sent nothing yet, hold no thread. handle_request()
    serves one connection on a thread of its own, as socketserver does.
    """
    # MRO: ours, EngineServer, HTTPServer, http.server.ThreadingHTTPServer,
    # ThreadingMixIn, http.server.HTTPServer.

    #: Handlers running at once (each on a thread); None for no bound.
    #: The stdlib has no bound: a server past it logs one line, once.
    max_connections: Optional[int] = 1024

    def _max_handlers(self) -> int:
        return self.max_connections if self.max_connections is not None else 1 << 30
