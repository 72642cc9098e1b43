"""The connection engine under ThreadingHTTPServer and LoopHTTPServer.

Every connection's bytes come here. The engine waits for them (poller.py),
each connection buffers a request until it is complete (connection.py), and
its handler runs right where it completed, on the thread that leads the
event loop: no hand-off to another thread per request. When a handler waits
(for a body that has not arrived, for a slow client to take its output, or
for something fasthttp cannot see: a sleep, a database), the lead passes to
another thread (crew.py) and the waiting one finishes its request on its
own, then hands the connection back.

Here: the loop (accepting, dispatching readiness, TLS handshakes without a
thread), the timers (head, body and send deadlines; the total bound on
queued output) and the stop (accept no more, let requests in flight finish
for drain_timeout). A connection with no complete request head holds no
thread, new or idle. Handler classes the engine cannot drive request by
request get a thread per connection (classic.py).
"""
from __future__ import annotations

import collections
import socket
import threading
import time
from typing import Any, Optional

from fasthttp import _core
from fasthttp.classic import ClassicThreads
from fasthttp.connection import Connection, adopting, deadline, engine_capable
from fasthttp.crew import Crew, Member
from fasthttp.poller import READ, WRITE, Poller, accept_backoff

# In a graceful stop, how long a connection accepted before it may take to
# send its first request (seconds).
DRAIN_NEWCOMER_GRACE = 1.0

__all__ = ["Engine"]


class Engine:
    """One server's event loop, its connections and its threads."""

    def __init__(self, server: Any, max_handlers: int) -> None:
        self.server = server
        self.poller = Poller()
        self.conns: dict[int, Connection] = {}
        self.ready: collections.deque[tuple[int, int]] = collections.deque()
        self.crew = Crew(self._lead, name="fasthttp-engine", max_handlers=max_handlers,
                         handoff_after=server.handoff_after)
        self.crew.on_detach = Connection.detach
        self.stop_requested = False
        self.stopped = threading.Event()
        self._draining = False
        self._drain_deadline = 0.0
        self._drain_began = 0.0
        self._accept_paused_until = 0.0
        self._next_sweep = 0.0
        self._sweep_interval = 1.0      # shorter for handlers with a short `timeout`
        # Output queued in memory, all connections (the leader's count, made
        # exact again at each sweep).
        self.queued_memory = 0
        self._listener = server.socket.fileno()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.classic = ClassicThreads(self, max_handlers)
        self._rearm: list[tuple[float, Connection]] = []    # (when, connection)
        self._requested = threading.Event()

    # -- the serve_forever() thread --------------------------------------------

    def run(self, poll_interval: float) -> None:
        """Serve until stop(): the loop runs on the crew's threads; this
        thread is the watchdog and calls service_actions() every
        poll_interval, as socketserver's loop does. It returns once the
        loop accepts no more; the drain that follows (connections in the
        middle of a request finish, for drain_timeout) goes on in the
        background, as socketserver's handler threads go on."""
        server = self.server
        server.socket.setblocking(False)
        self.poller.register(self._listener, READ)
        self.poller.register(self._wake_r.fileno(), READ)
        self.crew.start()
        try:
            if self._requested.is_set():
                self.stop()
            self.crew.watch(lambda: self.stop_requested, server.service_actions,
                            poll_interval)
        except BaseException:
            # KeyboardInterrupt (or an error in service_actions): out at
            # once, as from socketserver's loop; handlers running on their
            # threads go on, as ThreadingMixIn's daemon threads do.
            self.stop()
            self.crew.stop()
            raise
        threading.Thread(target=self._watch_drain, name="fasthttp-drain", daemon=True).start()

    def _watch_drain(self) -> None:
        """The watchdog while the loop drains, then the end of it all."""
        self.crew.watch(self.stopped.is_set, lambda: None, 0.5)
        self.crew.stop()
        self._close_all()

    def wait_drained(self, timeout: Optional[float] = None) -> bool:
        """Wait until the drain after stop() is over (True), or timeout."""
        return self.stopped.wait(timeout)

    def join_handlers(self, timeout: Optional[float] = None) -> None:
        """Wait until no handler runs on a thread of its own (server_close()
        with daemon_threads off, as ThreadingMixIn joins its threads)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.crew.detached or self.classic.running():
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    def stop_when(self, requested: threading.Event) -> None:
        """stop() once `requested` is set (a shutdown() that came before
        this engine existed, or raced with its start)."""
        self._requested = requested

    def stop(self) -> None:
        """Ask the loop to stop: it accepts no more, closes idle connections
        and lets the others finish for drain_timeout; run() then returns."""
        self.stop_requested = True
        self.wake()
        self.crew.nudge()

    def wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _drain_timeout(self) -> float:
        server = self.server
        return float(getattr(server, "graceful_timeout", None) or server.drain_timeout)

    # -- the loop (on the leading thread) ----------------------------------------

    def _lead(self, member: Member) -> None:
        crew, ready, conns = self.crew, self.ready, self.conns
        while crew.leader is member:
            if not ready:
                if self.stop_requested and self._drain_step():
                    self.stopped.set()
                    crew.stop()
                    return
                ready.extend(self.poller.ready(self._poll_timeout()))
                now = time.monotonic()
                if self._rearm and now >= self._rearm[0][0]:
                    self._rearm_due(now)
                if now >= self._next_sweep:
                    self._sweep(now)
                continue
            fd, events = ready.popleft()
            conn = conns.get(fd)
            if conn is None:
                if fd == self._listener:
                    self._accept()
                elif fd == self._wake_r.fileno():
                    self._drain_wakeups()
                continue
            if conn.detached:
                continue
            try:
                if conn.handshaking:
                    self._handshake(conn)
                elif conn.handler is None:
                    self.classic.on_readable(conn)
                else:
                    if events & WRITE:
                        conn.on_writable(member)
                    if (events & READ and conn.events & READ and crew.leader is member
                            and conns.get(fd) is conn and not conn.detached):
                        conn.on_readable(member)
            except Exception:   # a bug of ours must cost one connection, not the loop
                self.server.handle_error(conn.sock, conn.address)
                if crew.leader is member or conn.detached:
                    conn.close()

    def _poll_timeout(self) -> float:
        now = time.monotonic()
        timeout = max(0.0, self._next_sweep - now)
        if self._accept_paused_until:
            timeout = min(timeout, max(0.0, self._accept_paused_until - now))
        if self._rearm:
            timeout = min(timeout, max(0.0, self._rearm[0][0] - now))
        return timeout

    def rearm_later(self, conn: Connection, delay: float) -> None:
        """Watch conn for reading again in `delay` seconds (classic.py)."""
        self._rearm.append((time.monotonic() + delay, conn))
        self._rearm.sort(key=lambda item: item[0])

    def _rearm_due(self, now: float) -> None:
        while self._rearm and self._rearm[0][0] <= now:
            _, conn = self._rearm.pop(0)
            if self.conns.get(conn.fd) is conn:
                conn.set_events(READ)

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def backed_up(self, wfile: Any) -> bool:
        """Read no more requests from this connection for now: its queued
        output is above the high-water mark, or it has some while all
        connections' queued output is above max_output_memory."""
        queued: int = wfile.buffered()
        server = self.server
        return bool(queued > server.output_high_water or (
            queued > 0 and self.queued_memory > server.max_output_memory))

    # -- connections coming and going ---------------------------------------------

    def _accept(self) -> None:
        """Accept a burst of connections."""
        server = self.server
        for _ in range(64):             # a burst, but let the others run too
            try:
                sock, address = server.get_request()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                pause = accept_backoff(err)
                if pause:               # out of descriptors: pause, as nginx
                    self.poller.unregister(self._listener)
                    self._accept_paused_until = time.monotonic() + pause
                    return
                continue                # that one connection failed (ECONNABORTED ...)
            if self.stop_requested or not server.verify_request(sock, address):
                server.shutdown_request(sock)
                continue
            conn = Connection(self, sock, address)
            if not engine_capable(server.RequestHandlerClass):
                self.classic.wait_for_head(conn)    # a thread once its head is in
                continue
            if conn.tls:
                sock.setblocking(False)
                conn.handshaking = True
                conn.deadline = deadline(getattr(server, "tls_handshake_timeout", None))
                self.register(conn, READ)
                continue
            self._adopt(conn)

    def register(self, conn: Connection, events: int) -> None:
        conn.events = events
        self.conns[conn.fd] = conn
        self.poller.register(conn.fd, events)

    def _handshake(self, conn: Connection) -> None:
        """One step of a TLS handshake, without waiting."""
        import ssl
        try:
            conn.sock.do_handshake()    # type: ignore[attr-defined]
        except ssl.SSLWantReadError:
            conn.set_events(READ)
            return
        except ssl.SSLWantWriteError:
            conn.set_events(WRITE)
            return
        except (OSError, ValueError):   # refused, reset, not TLS: close quietly
            self.forget(conn)
            self.server.shutdown_request(conn.sock)
            return
        conn.handshaking = False
        self.forget(conn)
        self._adopt(conn)

    def _adopt(self, conn: Connection) -> None:
        """Create conn's handler (socketserver's way, through the factory,
        with handle() and finish() deferred) and start watching it."""
        server, sock = self.server, conn.sock
        adopting.sock = sock
        try:
            handler = server.RequestHandlerClass(sock, conn.address, server)
        except Exception:
            server.handle_error(sock, conn.address)
            server.shutdown_request(sock)
            return
        finally:
            del adopting.sock
        if type(handler.rfile) is not _core.SocketReader or \
                type(handler.wfile) is not _core.SocketWriter:
            # A buffered wfile (wbufsize), say: the classic way, on a thread.
            self.classic.start(sock, conn.address, handler)
            return
        conn.adopt(handler)
        if handler.timeout is not None:
            self._sweep_interval = min(self._sweep_interval, max(0.01, handler.timeout / 4))
        self.register(conn, READ)
        if conn.tls and sock.pending():     # type: ignore[attr-defined]
            self.ready.append((conn.fd, READ))

    def forget(self, conn: Connection) -> None:
        self.poller.unregister(conn.fd)
        if self.conns.get(conn.fd) is conn:
            del self.conns[conn.fd]

    def _close_all(self) -> None:
        for conn in list(self.conns.values()):
            if not conn.detached:
                conn.close()
        self.poller.close()
        self._wake_r.close()
        self._wake_w.close()

    def _sweep(self, now: float) -> None:
        """Close what is overdue: a head or body not in by its deadline,
        queued output that stopped moving, a handshake that takes too long."""
        self._next_sweep = now + self._sweep_interval
        total = 0
        for conn in self.conns.values():
            if conn.handler is not None:
                conn.queued = conn.wfile.buffered_in_memory()
                total += conn.queued
        self.queued_memory = total
        if total > 2 * self.server.max_output_memory:
            self._shed(total)
        if self._accept_paused_until and now >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            if not self.stop_requested:
                self.poller.register(self._listener, READ)
        for conn in list(self.conns.values()):
            if conn.detached:
                continue
            if conn.send_deadline is not None and conn.send_deadline < now:
                conn.close()
            elif (conn.recv_deadline is not None and conn.recv_deadline < now
                  and not conn.wfile.buffered()):
                # As http.server's handle_one_request when its socket times out.
                conn.handler.log_error("Request timed out: %r", socket.timeout("timed out"))
                conn.close()
            elif (conn.deadline is not None and conn.deadline < now
                  and (conn.handler is None or not conn.wfile.buffered())):
                conn.close()

    def _shed(self, total: int) -> None:
        """Queued output is past twice max_output_memory (many clients that
        do not read what they asked for): close the connections whose output
        has been stalled longest until it is back under 1.5 times."""
        stalled = sorted((conn for conn in self.conns.values()
                          if conn.queued and not conn.detached and conn.send_deadline),
                         key=lambda conn: conn.send_deadline or 0.0)
        target = 1.5 * self.server.max_output_memory
        for conn in stalled:
            if total <= target:
                break
            total -= conn.queued
            conn.close()

    def _drain_step(self) -> bool:
        """After stop(): accept no more, close idle connections, let the
        others finish what is buffered and send what is queued, for at most
        graceful_timeout (serve()'s graceful stop) or drain_timeout seconds.
        True when done."""
        now = time.monotonic()
        if not self._draining:
            self._draining = True
            self._drain_deadline = now + self._drain_timeout()
            self._drain_began = now
            self.poller.unregister(self._listener)
            self._next_sweep = now
        # A connection accepted just before the stop, its first request not
        # in yet, gets a moment for it: http.server serves what it accepted
        # (an idle keep-alive connection is closed at once, as nginx does).
        newcomers_wait = now < self._drain_began + DRAIN_NEWCOMER_GRACE
        for conn in list(self.conns.values()):
            if conn.detached or (newcomers_wait and not conn.used):
                continue
            if conn.handler is None or (not conn.wfile.buffered() and not conn.rfile.buffered()):
                conn.close()       # idle: nothing in, nothing out
        if now >= self._drain_deadline:
            return True
        if self.crew.detached or any(self.conns.values()):
            self._next_sweep = min(self._next_sweep, now + 0.05)
            return False
        return True
