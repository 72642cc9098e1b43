"""HTTPServer and ThreadingHTTPServer: socketserver's TCP servers, as
http.server has them, with a deeper listen backlog, accept() that survives
running out of descriptors, and threads spent on requests, not on idle
connections (ThreadingHTTPServer, through fasthttp/engine.py).
"""
from __future__ import annotations

import functools
import http.server as _stdlib
import socket
import threading
import time
from typing import Any, Optional

from fasthttp import _core
from fasthttp.engine import IdleConnections, ThreadPool, accept_backoff

__all__ = ["HTTPServer", "ThreadingHTTPServer"]

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


class ThreadingHTTPServer(HTTPServer, _stdlib.ThreadingHTTPServer):
    """http.server.ThreadingHTTPServer, with a thread per request being
    handled rather than per connection.

    A connection's requests run on a pool of at most ``max_connections``
    threads (the stdlib has no bound), one handler instance per connection
    as always. Between two requests a thread waits ``keepalive_linger``
    seconds for the next one (a busy keep-alive client keeps its thread and
    pays no hand-off); then, or at once when every thread is busy and other
    work waits, the idle connection is parked with the engine
    (engine.IdleConnections): one thread watches all idle connections, and
    the next request goes to a pool thread. Idle clients cannot take every
    thread, and an idle connection is closed after ``head_timeout``.

    Handler classes that replace handle() or finish() (or not fasthttp's
    BaseHTTPRequestHandler at all) keep the classic thread per connection,
    at most ``max_connections`` at once; when all are busy the accept loop
    waits, so further clients queue in the listen backlog.
    """
    # MRO: ours, HTTPServer, http.server.ThreadingHTTPServer, ThreadingMixIn,
    # http.server.HTTPServer.
    daemon_threads = True

    #: Threads handling requests at once; None for no bound (and the stdlib's
    #: thread per connection).
    max_connections: Optional[int] = 1024

    #: Seconds a thread waits for a keep-alive connection's next request
    #: before parking the connection (0: park at once).
    keepalive_linger: float = 0.5

    _fh_pool: Optional[ThreadPool] = None
    _fh_idle: Optional[IdleConnections] = None
    _fh_local = threading.local()   # the handler this thread is parking

    def process_request(self, request: Any, client_address: _Address) -> None:
        if self.max_connections is not None and _parks(self.RequestHandlerClass):
            pool = self._fh_pool
            if pool is None:
                pool = self._fh_pool = ThreadPool(self.max_connections, "fasthttp-worker",
                                                  self._fh_refuse)
                # With the pool, on this (the accept) thread: pool threads that
                # park their first connections at once must not create two.
                self._fh_idle = IdleConnections(
                    lambda h: pool.submit(functools.partial(self._fh_resume, h)),
                    self._fh_expire)
            # Overloaded: let new clients wait in the listen backlog.
            while pool.waiting() > self.max_connections:
                if getattr(self, "_BaseServer__shutdown_request", False):
                    self.shutdown_request(request)
                    return
                time.sleep(0.01)
            pool.submit(functools.partial(self._fh_connection, request, client_address))
            return
        self._fh_thread_per_connection(request, client_address)

    # -- a thread per request ----------------------------------------------------

    def _fh_connection(self, request: Any, client_address: _Address) -> None:
        """A new connection, on a pool thread: finish_request() (the TLS
        handshake, then the handler, which serves requests until the
        connection ends or it parks it)."""
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        self._fh_after(request)

    def _fh_resume(self, handler: Any) -> None:
        """A parked connection's next request, on a pool thread."""
        handler._fh_parked = False
        try:
            handler.handle()
            if not handler._fh_parked:
                handler.finish()
        except Exception:
            self.handle_error(handler.request, handler.client_address)
        self._fh_after(handler.request)

    def _fh_park(self, handler: Any) -> bool:
        """Called by the handler between two requests: True when the idle
        connection is to be parked (the handler then returns without
        finishing, and _fh_after hands it to the engine once this thread is
        done with it), False to go on in this thread."""
        rfile = handler.rfile
        pool = self._fh_pool
        if (pool is None or type(rfile) is not _core.SocketReader or rfile.buffered()
                or handler.timeout is not None):
            # Not ours to watch, pipelined (serve it now), or a handler whose
            # socket timeout also ends an idle connection (with http.server's
            # "Request timed out" line): wait in this thread, as it does.
            return False
        sock = handler.request
        if type(sock) is not socket.socket:
            pending = getattr(sock, "pending", None)
            if pending is None or pending():
                return False        # TLS: decrypted bytes the socket's fd won't signal
        if self.keepalive_linger > 0 and not pool.saturated():
            try:
                if rfile.wait_readable(self.keepalive_linger):
                    return False    # the next request is here: no hand-off
            except (OSError, ValueError):
                return False
        handler._fh_parked = True
        self._fh_local.parking = handler
        return True

    def _fh_after(self, request: Any) -> None:
        """The handler has returned on this thread: park its connection with
        the engine, or close it."""
        handler = getattr(self._fh_local, "parking", None)
        if handler is None or handler.request is not request:
            self.shutdown_request(request)
            return
        self._fh_local.parking = None
        idle = self._fh_idle
        assert idle is not None
        timeout = handler.head_timeout
        idle.add(request.fileno(), handler,
                 None if timeout is None else time.monotonic() + timeout)

    def _fh_expire(self, handler: Any) -> None:
        """An idle connection past its head_timeout, or the server closing."""
        handler._fh_parked = False
        try:
            handler.finish()
        except Exception:
            pass
        self.shutdown_request(handler.request)

    def _fh_refuse(self, job: Any) -> None:
        """No thread could be started at all: drop the connection."""
        request = getattr(job, "args", (None,))[0]
        if isinstance(request, socket.socket):
            try:
                request.send(_UNAVAILABLE)
            except OSError:
                pass
            self.shutdown_request(request)

    def server_close(self) -> None:
        if self._fh_idle is not None:
            self._fh_idle.close()
        if self._fh_pool is not None:
            self._fh_pool.close()
        super().server_close()

    # -- the classic thread per connection ---------------------------------------

    def _fh_thread_per_connection(self, request: Any, client_address: _Address) -> None:
        if self.max_connections is None:
            super().process_request(request, client_address)
            return
        slots: Optional[threading.BoundedSemaphore] = self.__dict__.get("_fh_slots")
        if slots is None:
            slots = self._fh_slots = threading.BoundedSemaphore(self.max_connections)
        # Wait for a free slot, but notice shutdown() meanwhile.
        while not slots.acquire(timeout=0.2):
            if getattr(self, "_BaseServer__shutdown_request", False):
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: _Address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            slots = self.__dict__.get("_fh_slots")
            if slots is not None:
                slots.release()


# What a client gets when no thread can be had for its connection at all.
_UNAVAILABLE = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 20\r\nConnection: close\r\n\r\nno thread available\n")


def _parks(factory: Any) -> bool:
    """Can this handler factory's connections be parked between requests?
    (fasthttp's BaseHTTPRequestHandler with its own handle() and finish().)"""
    from fasthttp.handler import BaseHTTPRequestHandler
    while isinstance(factory, functools.partial):
        factory = factory.func
    return (isinstance(factory, type) and issubclass(factory, BaseHTTPRequestHandler)
            and factory.handle is BaseHTTPRequestHandler.handle
            and factory.finish is BaseHTTPRequestHandler.finish)
