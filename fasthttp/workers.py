"""fasthttp.serve(): one process or N pre-forked workers, with a graceful stop.

    fasthttp.serve(HandlerClass, ("", 8000))                 # this process
    fasthttp.serve(HandlerClass, ("", 8000), workers=4)      # 4 worker processes

SIGTERM or SIGINT stops it gracefully (graceful.py: in-flight requests
finish within `graceful_timeout`); a second one ends it at once.

Workers. With workers=N > 1 the calling process becomes a supervisor
(supervisor.py, which also holds the table of signals). It binds the
listening socket itself and forks N workers that all accept on that one
inherited socket (no SO_REUSEPORT):

- the bind happens once, before any fork: port 0, a busy port, a bad address
  or a bad TLS certificate fail once, in the parent, with the real error;
- all workers share one accept queue, so a worker that dies or is being
  replaced takes no queued connection with it (with SO_REUSEPORT on Linux,
  connections already queued on the dead worker's own socket are reset);
- no other process can join the port, as it can with SO_REUSEPORT (any
  process of the same user may bind it too);
- it works wherever fork() does, including the BSDs and macOS, whose
  SO_REUSEPORT does not balance load.

The price: the kernel spreads connections less evenly than SO_REUSEPORT's
hash (whoever wakes first accepts), and all idle workers wake for each new
connection; with a handful of workers neither is measurable. The listening
socket is non-blocking, so a worker that loses the race for a connection
goes back to its loop instead of blocking in accept().

The supervisor restarts a worker that exits, and raises WorkersCrashing
when they keep dying right after starting; `python -m fasthttp` then
exits with status 1.
"""

from __future__ import annotations

import functools
import signal
import socketserver
import threading
from typing import Any, Callable

from fasthttp import server as _server
from fasthttp.graceful import GracefulServerMixIn, graceful_class, install_signal_handlers
from fasthttp.supervisor import Supervisor, WorkersCrashing

__all__ = ["serve", "GracefulServerMixIn", "WorkersCrashing", "install_signal_handlers"]


def serve(HandlerClass: Callable[..., socketserver.BaseRequestHandler],
          address: tuple[Any, ...] | str = ("", 8000), *, workers: int = 1,
          server_class: type[socketserver.TCPServer] | None = None,
          handler_kwargs: dict[str, Any] | None = None,
          server_kwargs: dict[str, Any] | None = None, graceful_timeout: float = 10.0,
          poll_interval: float = 0.5,
          ready: Callable[[GracefulServerMixIn], object] | None = None,
          max_early_crashes: int = 5, crash_window: float = 5.0) -> int | None:
    """Serve HandlerClass on `address` until SIGTERM/SIGINT, then stop gracefully.

    HandlerClass   a BaseHTTPRequestHandler subclass (anything socketserver takes)
    address        (host, port), as for HTTPServer; port 0 picks a free port
                   (a path for a server_class whose address_family is AF_UNIX)
    workers        1: serve in this process; N > 1: N forked worker processes
                   sharing one listening socket, supervised by this process
    server_class   fasthttp.ThreadingHTTPServer by default; HTTPServer,
                   HTTPSServer, ThreadingHTTPSServer or a subclass of one
    handler_kwargs extra keyword arguments for HandlerClass(request, addr,
                   server, **kw), e.g. {"directory": "/srv"}
    server_kwargs  extra keyword arguments for server_class, e.g.
                   {"certfile": "cert.pem", "keyfile": "key.pem"} for HTTPS
    graceful_timeout  seconds in-flight requests get once a stop begins
    ready          called as ready(httpd) once the socket listens (before
                   the workers fork), e.g. to print the address
    max_early_crashes, crash_window  give up (WorkersCrashing) after this many
                   consecutive worker deaths within crash_window s of their start

    A client that resets its connection or goes away mid-response is one
    line on stderr, not socketserver's traceback (unless server_class has a
    handle_error of its own).

    Returns once stopped: the number of the signal that stopped it, or None.
    Signal handlers are installed in the main thread
    (and restored on return); from another thread only workers=1 works, and
    then stop it with httpd.stop() from `ready`'s argument. With workers > 1
    SIGHUP reloads the workers (see supervisor.py for the signals).
    """
    if server_class is None:
        server_class = _server.ThreadingHTTPServer
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if workers > 1 and threading.current_thread() is not threading.main_thread():
        raise RuntimeError("serve(workers > 1) must be called from the main thread")
    cls = graceful_class(server_class)
    if handler_kwargs:
        # (A partial, not a finish_request() override: LoopHTTPServer
        # creates its handlers itself, and knows to look inside a partial.)
        HandlerClass = functools.partial(HandlerClass, **handler_kwargs)
    bind_to: Any = address      # (socketserver's annotation knows no Unix path)
    httpd = cls(bind_to, HandlerClass, False, **(server_kwargs or {}))
    httpd.graceful_timeout = graceful_timeout
    try:
        httpd.server_bind()
        if workers == 1:
            httpd.server_activate()
        else:
            # Listen now, but leave server_activate() (the TLS wrap, for
            # HTTPS) to each worker. Check a TLS certificate here, once.
            httpd.socket.listen(httpd.request_queue_size)
            if hasattr(httpd, "_create_context"):
                httpd._create_context()
            httpd.socket.setblocking(False)
    except BaseException:
        httpd.server_close()
        raise
    if workers == 1:
        return _serve_here(httpd, poll_interval, ready)
    return Supervisor(httpd, workers, poll_interval, max_early_crashes,
                      crash_window).run(ready)


def _serve_here(httpd: GracefulServerMixIn, poll_interval: float,
                ready: Callable[[GracefulServerMixIn], object] | None) -> int | None:
    main = threading.current_thread() is threading.main_thread()
    # Before ready(): once it says the server is up, a signal is a graceful stop.
    previous = install_signal_handlers(httpd) if main else {}
    try:
        if ready is not None:
            ready(httpd)
        if not httpd.stopping:      # (a stop may have come meanwhile)
            httpd.serve_forever(poll_interval)
    finally:
        httpd.stop()  # no-op if a signal already began it
        httpd.finish_stop()
        for sig, old in previous.items():
            signal.signal(sig, old)
    return getattr(httpd, "stop_signal", None)
