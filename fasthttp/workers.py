"""fasthttp.serve(): one process or N pre-forked workers, with a graceful stop.

    fasthttp.serve(HandlerClass, ("", 8000))                 # this process
    fasthttp.serve(HandlerClass, ("", 8000), workers=4)      # 4 worker processes

Stopping. SIGTERM or SIGINT (or `stop()` on the server) stops it gracefully:

1. the server stops accepting (its loop ends within `poll_interval`) and
   closes its listening socket;
2. connections idle between requests are closed (shut down for reading,
   so a handler waiting for the next request sees EOF); a connection with
   a request in flight, its body included, is closed once that request is
   done (its response goes out first);
3. in-flight requests get `graceful_timeout` seconds to finish; connections
   still open then are closed under their handlers, and a handler still
   reading a body gets ConnectionAbortedError, never a short body.

A second SIGINT/SIGTERM is not caught: it ends the process the usual way.

Workers. With workers=N > 1 the calling process becomes a supervisor. It
binds the listening socket itself and forks N workers that all accept on
that one inherited socket (no SO_REUSEPORT):

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

The supervisor restarts a worker that exits (whatever the cause), forwards
SIGTERM/SIGINT to the workers as SIGTERM, waits `graceful_timeout` (+2 s)
for them, SIGKILLs what is left, and returns. If workers keep dying right
after starting (`max_early_crashes` deaths in a row, each within
`crash_window` seconds of its start) it stops the others and raises
WorkersCrashing; `python -m fasthttp` then exits with status 1.
Workers stop by themselves if the supervisor disappears.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from fasthttp import _core
from fasthttp import server as _server
from fasthttp.tls import HTTPSServer, ThreadingHTTPSServer  # noqa: F401 - for `import fasthttp`

__all__ = ["serve", "GracefulServerMixIn", "WorkersCrashing", "install_signal_handlers"]

# The sockets a stop shut down, as the reader in use (C or pure) sees them.
stopped_sockets = importlib.import_module(_core.SocketReader.__module__).stopped_sockets

# What signal.signal() returns and takes.
_SignalHandler = Union[Callable[[int, Optional[FrameType]], Any], int, signal.Handlers, None]

if TYPE_CHECKING:
    # The mix-in goes before a socketserver.TCPServer class: type it as one.
    _MixInBase = socketserver.TCPServer
else:
    _MixInBase = object


class WorkersCrashing(RuntimeError):
    """Workers kept dying right after they started; the supervisor gave up."""


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


def _stop_reading(sock: socket.socket) -> None:
    """End a connection's input; past its request head (a body being read)
    that is an error, not a short body (see sockio.stopped_sockets)."""
    stopped_sockets.add(sock)
    _shutdown_fd(sock, socket.SHUT_RD)


class GracefulServerMixIn(_MixInBase):
    """Mix into a socketserver.TCPServer class (before it) for `stop()`:
    a graceful stop that may be requested from a signal handler."""

    #: Seconds in-flight requests get to finish once a stop is requested.
    graceful_timeout: float = 10.0

    #: Set by install_signal_handlers()' handler: the signal that began the stop.
    stop_signal: int

    def _fh_state(self) -> dict[str, Any]:
        # {"cond": Condition, "conns": set of sockets, "stopping": bool,
        #  "deadline": monotonic time or None}
        state: dict[str, Any] | None = self.__dict__.get("_fh_graceful")
        if state is None:
            state = self.__dict__["_fh_graceful"] = {
                "cond": threading.Condition(), "conns": set(), "readers": {},
                "stopping": False, "deadline": None}
        return state

    def _fh_reset_state(self) -> dict[str, Any]:
        """Fresh locks and bookkeeping (in a forked worker)."""
        self.__dict__.pop("_fh_graceful", None)
        return self._fh_state()

    # -- connection bookkeeping --------------------------------------------

    def get_request(self) -> tuple[socket.socket, Any]:
        request, client_address = super().get_request()
        state = self._fh_state()
        with state["cond"]:
            state["conns"].add(request)
            stopping = state["stopping"]
        if stopping:  # accepted while stopping: serve what it sent, no more
            _stop_reading(request)
        return request, client_address

    def _fh_track_reader(self, request: Any, reader: Any) -> None:
        """Called by fasthttp's handler.setup(): the connection's reader,
        which tells whether it is idle (waiting for a request head)."""
        state = self._fh_state()
        with state["cond"]:
            state["readers"][request] = reader

    def close_request(self, request: Any) -> None:
        state = self._fh_state()
        with state["cond"]:
            state["conns"].discard(request)
            state["readers"].pop(request, None)
            state["cond"].notify_all()
        super().close_request(request)

    # -- stopping ------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        stopping: bool = self._fh_state()["stopping"]
        return stopping

    def stop(self) -> None:
        """Begin a graceful stop; returns at once (safe in a signal handler).
        serve_forever() returns soon after; then call finish_stop()."""
        state = self._fh_state()
        if state["stopping"]:
            return
        state["stopping"] = True
        state["deadline"] = time.monotonic() + self.graceful_timeout
        threading.Thread(target=self._fh_stopping, name="fasthttp-stop", daemon=True).start()

    # (Not `_fh_stop`: LoopHTTPServer has a flag of that name.)
    def _fh_stopping(self) -> None:
        state = self._fh_state()
        loop = threading.Thread(target=self.shutdown, daemon=True)
        loop.start()
        # Idle connections end now; busy ones (a request in flight, its body
        # included) when they become idle, checked every 50 ms.
        closed: set[Any] = set()
        while True:
            with state["cond"]:
                conns = [(c, state["readers"].get(c)) for c in state["conns"] if c not in closed]
            for conn, reader in conns:
                # Not our reader (a setup() of the handler's own): as before.
                if reader is None or reader.idle():
                    _stop_reading(conn)
                    closed.add(conn)
            remaining = state["deadline"] - time.monotonic()
            if remaining <= 0 or (not conns and not loop.is_alive()):
                break
            time.sleep(min(0.05, remaining))
        # A single-threaded server leaves its loop only when its request is
        # done: bound that too.
        loop.join(max(0.0, state["deadline"] - time.monotonic()))
        if loop.is_alive():
            self._fh_force_close()

    def _fh_force_close(self) -> None:
        state = self._fh_state()
        with state["cond"]:
            conns = list(state["conns"])
        for conn in conns:
            stopped_sockets.add(conn)
            _shutdown_fd(conn, socket.SHUT_RDWR)

    def finish_stop(self) -> bool:
        """After serve_forever() returned: stop listening, let in-flight
        requests finish (until the deadline), then close the server.
        Returns True if every connection finished in time."""
        state = self._fh_state()
        if state["deadline"] is None:
            state["deadline"] = time.monotonic() + self.graceful_timeout
        try:
            self.socket.close()  # listening stops first
        except OSError:
            pass
        drained = self._fh_wait_drained(state["deadline"])
        if not drained:
            self._fh_force_close()
            drained = self._fh_wait_drained(time.monotonic() + 1.0)
        if drained:
            # Joins the (finished) handler threads, closes what is left.
            self.server_close()
        return drained

    def _fh_wait_drained(self, deadline: float) -> bool:
        state = self._fh_state()
        with state["cond"]:
            while state["conns"]:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                state["cond"].wait(remaining)
        return True


def install_signal_handlers(
        httpd: GracefulServerMixIn,
        signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT),
) -> dict[int, _SignalHandler]:
    """Make SIGTERM/SIGINT call httpd.stop() (a GracefulServerMixIn server),
    once: the handler restores the default, so a second signal is not caught.
    Call from the main thread. Returns the previous handlers."""
    previous: dict[int, _SignalHandler] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        for sig in previous:
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT
                          else signal.SIG_DFL)
        httpd.stop_signal = signum
        httpd.stop()

    for sig in signals:
        previous[sig] = signal.signal(sig, handler)
    return previous


def client_went_away(exc: BaseException | None) -> bool:
    """Is this how a connection ends when the client resets or closes it
    under us (a browser closing a tab, wrk at the end of a run)?"""
    return isinstance(exc, ConnectionError)     # reset, broken pipe, aborted


def _quiet_handle_error(self: socketserver.BaseServer, request: Any,
                        client_address: Any) -> None:
    """socketserver's handle_error, except that a client going away is one
    line on stderr instead of a 15-line traceback."""
    exc = sys.exc_info()[1]
    if not client_went_away(exc):
        socketserver.BaseServer.handle_error(self, request, client_address)
        return
    host = client_address[0] if isinstance(client_address, tuple) and client_address else "-"
    sys.stderr.write("fasthttp: %s closed the connection (%s)\n"
                     % (host, type(exc).__name__))


def _graceful_class(server_class: type[socketserver.TCPServer]) -> type[GracefulServerMixIn]:
    namespace: dict[str, Any] = {}
    # Only where the class keeps socketserver's own: the drop-in classes
    # keep it (for code written against http.server), serve() does not.
    if server_class.handle_error is socketserver.BaseServer.handle_error:
        namespace["handle_error"] = _quiet_handle_error
    if issubclass(server_class, GracefulServerMixIn) and not namespace:
        return server_class
    namespace.update({"__module__": server_class.__module__,
                      "__qualname__": server_class.__qualname__})
    bases = (server_class,) if issubclass(server_class, GracefulServerMixIn) \
        else (GracefulServerMixIn, server_class)
    return type(server_class.__name__, bases, namespace)


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
    then stop it with httpd.stop() from `ready`'s argument.
    """
    if server_class is None:
        server_class = _server.ThreadingHTTPServer
    if workers < 1:
        raise ValueError("workers must be >= 1")
    cls = _graceful_class(server_class)
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
    if ready is not None:
        ready(httpd)
    if workers == 1:
        return _serve_here(httpd, poll_interval)
    return _supervise(httpd, workers, poll_interval, max_early_crashes, crash_window)


def _serve_here(httpd: GracefulServerMixIn, poll_interval: float) -> int | None:
    main = threading.current_thread() is threading.main_thread()
    previous = install_signal_handlers(httpd) if main else {}
    try:
        httpd.serve_forever(poll_interval)
    finally:
        httpd.stop()  # no-op if a signal already began it
        httpd.finish_stop()
        for sig, old in previous.items():
            signal.signal(sig, old)
    return getattr(httpd, "stop_signal", None)


# -- workers -------------------------------------------------------------------

def _worker_main(httpd: GracefulServerMixIn, poll_interval: float, parent_pid: int) -> None:
    """The body of a forked worker; never returns."""
    status = 0
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        httpd._fh_reset_state()
        httpd.server_activate()
        install_signal_handlers(httpd)

        def watch_parent() -> None:  # orphaned: stop
            while not httpd.stopping:
                if os.getppid() != parent_pid:
                    httpd.stop()
                    return
                time.sleep(1.0)
        threading.Thread(target=watch_parent, daemon=True).start()
        try:
            httpd.serve_forever(poll_interval)
        finally:
            httpd.stop()
            httpd.finish_stop()
    except BaseException:
        traceback.print_exc()
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)


def _spawn(httpd: GracefulServerMixIn, poll_interval: float) -> int:
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # nothing buffered is written twice
    pid = os.fork()
    if pid == 0:
        _worker_main(httpd, poll_interval, parent)
    return pid


def _supervise(httpd: GracefulServerMixIn, workers: int, poll_interval: float,
               max_early_crashes: int, crash_window: float) -> int | None:
    stop_signal: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_signal.append(signum)
        for sig in previous:  # a second signal is not caught
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT
                          else signal.SIG_DFL)

    main = threading.current_thread() is threading.main_thread()
    if not main:
        raise RuntimeError("serve(workers > 1) must be called from the main thread")
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    children: dict[int, float] = {}  # pid -> start time
    early_crashes = 0
    failure: WorkersCrashing | None = None
    try:
        for _ in range(workers):
            children[_spawn(httpd, poll_interval)] = time.monotonic()
        while not stop_signal:
            for pid in list(children):
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done, status = pid, 0
                if not done:
                    continue
                lived = time.monotonic() - children.pop(pid)
                code = _describe(status)
                early_crashes = early_crashes + 1 if lived < crash_window else 0
                if early_crashes >= max_early_crashes:
                    failure = WorkersCrashing(
                        "%d workers in a row died within %.0f s of starting (last: %s); "
                        "giving up" % (early_crashes, crash_window, code))
                    break
                sys.stderr.write("fasthttp: worker %d %s after %.1f s; starting another\n"
                                 % (pid, code, lived))
                sys.stderr.flush()
                if early_crashes > 1:  # crash loop: slow down a little
                    time.sleep(min(0.05 * 2 ** early_crashes, 1.0))
                children[_spawn(httpd, poll_interval)] = time.monotonic()
            if failure is not None:
                break
            time.sleep(0.05)
    finally:
        # Listening stops first: our copy of the socket goes now, each
        # worker closes its own as soon as it leaves its loop.
        httpd.server_close()
        for pid in children:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + httpd.graceful_timeout + 2.0
        while children and time.monotonic() < deadline:
            for pid in list(children):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    del children[pid]
            time.sleep(0.02)
        for pid in list(children):
            _kill(pid, signal.SIGKILL)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for sig, old in previous.items():
            signal.signal(sig, old)
    if failure is not None:
        raise failure
    return stop_signal[0] if stop_signal else None


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return "killed by %s" % name
    return "exited with status %d" % os.WEXITSTATUS(status)
