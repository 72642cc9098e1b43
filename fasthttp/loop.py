"""LoopHTTPServer: ThreadingHTTPServer's engine with defaults for many
connections and few waiting handlers.

Both servers are the same engine (fasthttp/engine.py): handlers run on the
thread where their request completed, and a handler that waits gets a
thread of its own. Where LoopHTTPServer differs:

- it is an ``HTTPServer``, not a ``ThreadingMixIn`` (isinstance checks);
- at most ``max_threads`` (64) handlers run at once, where
  ThreadingHTTPServer allows ``max_connections`` (1024);
- its listen backlog is 1024 (ThreadingHTTPServer: 128).
"""
from __future__ import annotations

from fasthttp.tcp import EngineServer

__all__ = ["LoopHTTPServer"]


class LoopHTTPServer(EngineServer):
    """HTTPServer serving all connections from the connection engine; see
    the module documentation for how it differs from ThreadingHTTPServer."""

    #: Handlers running at once, each on a thread.
    max_threads = 64

    request_queue_size = 1024

    def _max_handlers(self) -> int:
        return self.max_threads
