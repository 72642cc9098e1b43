"""HTTPServer and ThreadingHTTPServer: socketserver's TCP servers, as
http.server has them, with a deeper listen backlog and a bound on threads.
"""
from __future__ import annotations

import http.server as _stdlib
import threading
import time
from typing import Any, Optional

from fasthttp.engine import accept_backoff

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
            if pause:
                time.sleep(pause)
            raise

    # The listen() backlog. socketserver's 5 overflows as soon as a few dozen
    # clients connect at once: the kernel drops their SYNs and they retry
    # after a second (the p99 of a -c32 load test was ~0.7 s). Linux caps
    # it at net.core.somaxconn anyway.
    request_queue_size = 128


class ThreadingHTTPServer(HTTPServer, _stdlib.ThreadingHTTPServer):
    """http.server.ThreadingHTTPServer: one thread per connection, at most
    ``max_connections`` at once (the stdlib has no bound). When all are busy
    the accept loop waits, so further clients queue in the listen backlog
    instead of each costing a thread."""
    # MRO: ours, HTTPServer, http.server.ThreadingHTTPServer, ThreadingMixIn,
    # http.server.HTTPServer.
    daemon_threads = True

    #: Simultaneous connections (threads); None for no bound, as the stdlib.
    max_connections: Optional[int] = 1024

    def process_request(self, request: Any, client_address: _Address) -> None:
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
