"""The connection engine under ThreadingHTTPServer and LoopHTTPServer.

Every connection's bytes come here. The engine waits for them (poller.py),
buffers a request until it is complete, and runs its handler right where it
completed, on the thread that leads the event loop: no hand-off to another
thread per request. When a handler waits (for a body that has not arrived,
for a slow client to take its output, or for something fasthttp cannot see:
a sleep, a database), the lead passes to another thread (crew.py) and the
waiting one finishes its request on its own, then hands the connection back.

Per connection, as nginx does it:

- Input. A request head is handled once it can be complete (a blank line
  has arrived), never rescanned on every recv. It must come within the
  handler's ``head_timeout`` of the wait for it starting (slowloris), and
  within ``max_head_bytes`` (else http.server's 431). A body framed by a
  Content-Length of at most ``max_buffered_body`` bytes is read whole before
  the handler runs, with ``body_timeout`` between two reads: a client that
  sends its body slowly holds no thread. Larger bodies, chunked ones and
  ``Expect: 100-continue`` go to the handler as they arrive; a read that
  must wait hands the loop on first.
- Output. The handler's ``wfile`` queues what it writes (sockio's queueing
  mode), and the loop sends it as the socket takes it, files with sendfile.
  Above ``output_high_water`` queued bytes the loop reads no further
  requests from that connection; past ``max_output_buffer`` a write waits
  for the socket, handing the loop on first. Output that makes no progress
  for the handler's ``send_timeout`` closes the connection. Responses to
  pipelined requests already buffered leave together.
- A connection with no complete request head holds no thread, new or idle.

Handler classes that replace handle(), setup() or finish() (or are not
fasthttp's at all) get a thread per connection, as socketserver gives them,
once their first bytes have arrived.
"""
from __future__ import annotations

import collections
import functools
import re
import socket
import threading
import time
from typing import Any, Optional

from fasthttp import _core
from fasthttp.crew import Crew, Member
from fasthttp.errors import BodyError
from fasthttp.head import BLOCKING, BODY_INCOMPLETE, HEAD_INCOMPLETE
from fasthttp.headscan import _REQUEST_LINE as _STRICT_LINE
from fasthttp.poller import READ, WRITE, Poller, accept_backoff
from fasthttp.prebuffer import INCOMPLETE, ChunkedScan, head_length, is_plain_chunked

__all__ = ["Engine", "adopting", "engine_capable"]

# The request line http.server accepts (65536 bytes and its LF).
_MAX_REQUEST_LINE = 65537
_LENIENT_VERSION = re.compile(rb"HTTP/([0-9]+)\.[0-9]+")
# Seconds a connection for a handler class without head_timeout has to send
# its first bytes before it is dropped (it holds no thread meanwhile).
_CLASSIC_FIRST_BYTES = 60.0

#: While the engine creates a handler: the socket it is creating it for.
#: BaseHTTPRequestHandler.handle() and finish() then return at once, and the
#: engine calls handle_one_request() as requests arrive.
class _Adopting(threading.local):
    sock: Any = object()    # (never a handler's request)


adopting = _Adopting()


def engine_capable(factory: Any) -> bool:
    """Can the engine drive this handler factory's handlers request by
    request? (fasthttp's BaseHTTPRequestHandler with its own setup(),
    handle() and finish(); a functools.partial of one counts.)"""
    from fasthttp.handler import BaseHTTPRequestHandler
    while isinstance(factory, functools.partial):
        factory = factory.func
    return (isinstance(factory, type) and issubclass(factory, BaseHTTPRequestHandler)
            and factory.handle is BaseHTTPRequestHandler.handle
            and factory.finish is BaseHTTPRequestHandler.finish
            and factory.setup is BaseHTTPRequestHandler.setup
            and factory.rbufsize != 0)


class Connection:
    """One connection's state: its handler (whose rfile and wfile are the
    connection's input and output buffers), its timers and its events."""

    __slots__ = ("sock", "fd", "address", "handler", "rfile", "wfile", "deadline",
                 "recv_deadline", "send_deadline", "events", "scanned", "reading_body", "body_scan",
                 "closing", "detached", "tls", "handshaking", "idle_timeout", "failed",
                 "queued", "__weakref__")

    def __init__(self, sock: socket.socket, address: Any) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.address = address
        self.handler: Any = None
        self.rfile: Any = None
        self.wfile: Any = None
        self.deadline: Optional[float] = None       # input is due by then
        # A handler class with a `timeout`: the next recv is due by then (as
        # with http.server, whose socket then has that timeout).
        self.recv_deadline: Optional[float] = None
        self.send_deadline: Optional[float] = None  # queued output must move by then
        self.events = 0
        self.scanned = 0        # buffered bytes known to hold no whole head
        self.reading_body = False   # a head is in; its body is being buffered
        self.body_scan: Optional[ChunkedScan] = None    # where a chunked body ends
        self.closing = False    # close once the queued output is sent
        self.detached = False   # a handler runs on a thread of its own
        self.tls = type(sock) is not socket.socket
        self.handshaking = False
        self.failed = False     # the handler raised (the error hook has heard it)
        self.queued = 0         # its output queued in memory, as last counted
        # What the socket's timeout is while the engine has it (a handler
        # sees a blocking socket, as with http.server): None for plain TCP
        # (the engine passes MSG_DONTWAIT), 0.0 for TLS (which takes no flags).
        self.idle_timeout: Optional[float] = 0.0 if self.tls else None


class Engine:
    """One server's event loop, its connections and its threads."""

    def __init__(self, server: Any, max_handlers: int) -> None:
        self.server = server
        self.poller = Poller()
        self.conns: dict[int, Connection] = {}
        self.ready: collections.deque[tuple[int, int]] = collections.deque()
        self.crew = Crew(self._lead, name="fasthttp-engine", max_handlers=max_handlers,
                         handoff_after=server.handoff_after)
        self.crew.on_detach = self._detach
        self.stop_requested = False
        self.stopped = threading.Event()
        self._draining = False
        self._drain_deadline = 0.0
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
        self._classic = _ClassicThreads(server, max_handlers)
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
        while self.crew.detached or self._classic.running():
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
        self._wake()
        self.crew.nudge()

    def _wake(self) -> None:
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
            if conn.handler is None and not conn.handshaking:
                self._forget(conn)          # its first bytes: now it gets its thread
                self._classic.start(conn.sock, conn.address)
                continue
            try:
                if events & WRITE:
                    self._on_writable(member, conn)
                if (events & READ and conn.events & READ and crew.leader is member
                        and conns.get(fd) is conn and not conn.detached):
                    self._on_readable(member, conn)
            except Exception:   # a bug of ours must cost one connection, not the loop
                self.server.handle_error(conn.sock, conn.address)
                if crew.leader is member or conn.detached:
                    self._close(conn)

    def _poll_timeout(self) -> float:
        timeout = max(0.0, self._next_sweep - time.monotonic())
        if self._accept_paused_until:
            timeout = min(timeout, max(0.0, self._accept_paused_until - time.monotonic()))
        return timeout

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _on_readable(self, member: Member, conn: Connection) -> None:
        if conn.handshaking:
            self._handshake(conn)
            return
        try:
            received = conn.rfile.fill_nowait()
        except OSError:
            received = 0
        if received < 0:
            return
        if received == 0:               # the client is done sending
            conn.closing = True
            self._set_events(conn, conn.events & ~READ)
        else:
            if conn.reading_body:
                conn.deadline = self._deadline(conn.handler.body_timeout)    # between reads
            if conn.recv_deadline is not None:
                conn.recv_deadline = self._deadline(conn.handler.timeout)
        self._process(member, conn)
        if conn.tls and not conn.detached and conn.fd in self.conns and \
                conn.events & READ and conn.sock.pending():  # type: ignore[attr-defined]
            self.ready.append((conn.fd, READ))  # decrypted bytes epoll cannot see

    def _on_writable(self, member: Member, conn: Connection) -> None:
        if conn.handshaking:
            self._handshake(conn)
            return
        before = conn.wfile.buffered()
        self._send(conn)
        if conn.fd not in self.conns:
            return
        if conn.wfile.buffered() < before and conn.send_deadline is not None:
            conn.send_deadline = time.monotonic() + self._send_timeout(conn)
        if not conn.wfile.buffered() and not conn.closing and conn.rfile.buffered():
            self._process(member, conn)     # pipelined requests held back meanwhile

    def _process(self, member: Member, conn: Connection) -> None:
        """Handle the whole requests buffered on conn, and send what they
        wrote as far as the socket takes it. On a member that got detached
        meanwhile: the rest of conn's buffered requests, then hand it back."""
        while True:
            backed_up = self._handle_requests(member, conn)
            if conn.fd not in self.conns:
                return
            self._send(conn)
            if conn.detached:
                self._reattach(conn)
                return
            if not backed_up or conn.fd not in self.conns or conn.wfile.buffered():
                return

    def _handle_requests(self, member: Member, conn: Connection) -> bool:
        """Run the handler for each whole request buffered on conn while its
        queued output stays under the high-water mark. True when it stopped
        at that mark with requests still buffered."""
        rfile, wfile, handler = conn.rfile, conn.wfile, conn.handler
        server = self.server
        served = False
        while rfile.buffered():
            if self._backed_up(wfile):
                return True
            if conn.scanned > 0 and not _blank_line_since(rfile, conn.scanned):
                length = HEAD_INCOMPLETE    # still no end of the head: no need to parse
            else:
                length = _core.request_state(rfile, server.max_buffered_body)
            if length == HEAD_INCOMPLETE:
                if conn.closing or (not conn.scanned and _no_header_block(rfile)) or \
                        rfile.buffered() > _MAX_REQUEST_LINE + handler.max_head_bytes:
                    # The client is done sending, or http.server reads no
                    # header block after this request line (HTTP/0.9, a bad
                    # line), or too long: the handler answers as it does.
                    length = BLOCKING
                else:
                    # Look for the head's end only in what arrives next.
                    conn.scanned = rfile.buffered()
                    break
            elif length < 0 and not conn.closing and handler.timeout is None:
                # The body is on its way: wait for all of it (a handler class
                # with a `timeout` reads it itself, as with http.server: its
                # timeout then bounds each read).
                if length == BLOCKING:
                    length = self._chunked_end(conn)
                if length == INCOMPLETE or length == BODY_INCOMPLETE:
                    if not conn.reading_body:   # the body starts to come: its timer now
                        conn.reading_body = True
                        conn.deadline = self._deadline(handler.body_timeout)
                    break
            conn.scanned = 0
            conn.reading_body = False
            conn.body_scan = None
            # More requests buffered behind this one: its flush() waits for theirs.
            wfile.holding = length > 0 and rfile.buffered() > length
            self._run_handler(member, conn)
            served = True
            if handler.close_connection or wfile.cut_short:
                conn.closing = True
                break
        wfile.holding = False
        if conn.closing and not rfile.closed:
            rfile.close()
        elif served and not rfile.buffered():
            rfile.shrink()
            conn.deadline = self._deadline(handler.head_timeout)    # the next head
            if handler.timeout is not None:
                conn.recv_deadline = self._deadline(handler.timeout)
        return False

    def _chunked_end(self, conn: Connection) -> int:
        """For a request that request_state() leaves to the handler: its
        length once a chunked body is whole, INCOMPLETE meanwhile, or -1
        (the handler reads it: not plainly chunked, malformed, too large)."""
        scan, rfile = conn.body_scan, conn.rfile
        if scan is None:
            head = head_length(rfile)
            if not head or not is_plain_chunked(rfile.look(0, head)):
                return -1
            scan = conn.body_scan = ChunkedScan(head, head + self.server.max_buffered_body)
        return scan.end(rfile)

    def _run_handler(self, member: Member, conn: Connection) -> None:
        """handle_one_request() on this thread, under the watchdog's eye
        while this thread leads."""
        handler, sock = conn.handler, conn.sock
        # What a handler sees: http.server's socket (blocking, or with the
        # class's `timeout`); a TLS socket stays non-blocking (the engine's
        # reads and writes on it cannot pass MSG_DONTWAIT).
        timeout = handler.timeout if handler.timeout is not None else conn.idle_timeout
        if conn.idle_timeout != timeout:
            sock.settimeout(timeout)
        leading = not conn.detached
        if leading:
            self.crew.running(conn)
        try:
            handler.handle_one_request()
        except BodyError:                   # read_body() answered already
            handler.close_connection = True
        except Exception:
            conn.failed = True
            self.server.handle_error(sock, conn.address)
            handler.close_connection = True
        finally:
            if leading and not self.crew.finished(member):
                conn.detached = True        # (set by _detach already; for clarity)
            if not conn.wfile.queueing:     # the handler took the socket (handler.py)
                conn.wfile.start_queueing(self.server.max_output_buffer)
            if sock.gettimeout() != conn.idle_timeout:
                try:
                    sock.settimeout(conn.idle_timeout)
                except OSError:
                    pass

    # -- handing connections between the loop and threads ------------------------

    def _detach(self, conn: Connection) -> None:
        """The crew took the lead from the thread running conn's handler
        (under the crew's lock): that thread keeps conn until it hands it back."""
        conn.detached = True
        conn.wfile.loop_owned = False
        if conn.events:
            conn.events = 0
            try:
                self.poller.modify(conn.fd, 0)
            except OSError:
                pass

    def _reattach(self, conn: Connection) -> None:
        """A detached thread is done with conn's requests: the loop takes it
        back (it sends what is queued, reads what follows)."""
        if self.stopped.is_set():       # no loop to take it: finish here
            try:
                conn.wfile.flush()      # (not loop-owned: waits, up to send_timeout)
            except (OSError, ValueError):
                pass
            self._close(conn)
            return
        conn.wfile.loop_owned = True
        conn.detached = False
        self.crew.detached_done()
        if conn.closing and not conn.wfile.buffered():
            self._close(conn)
            return
        self._set_events(conn, self._wanted_events(conn), force=True)
        if conn.rfile.buffered() and conn.events & READ:
            self._wake()    # a pipelined request is here already: the loop must look

    def _wanted_events(self, conn: Connection) -> int:
        events = WRITE if conn.wfile.buffered() else 0
        if not conn.closing and not self._backed_up(conn.wfile):
            events |= READ
        return events

    def _backed_up(self, wfile: Any) -> bool:
        """Read no more requests from this connection for now: its queued
        output is above the high-water mark, or it has some while all
        connections' queued output is above max_output_memory."""
        queued: int = wfile.buffered()
        server = self.server
        return bool(queued > server.output_high_water or (
            queued > 0 and self.queued_memory > server.max_output_memory))

    def _set_events(self, conn: Connection, events: int, force: bool = False) -> None:
        if events != conn.events or force:
            conn.events = events
            try:
                self.poller.modify(conn.fd, events)
            except (OSError, ValueError):     # closed meanwhile (fd, or the poller)
                pass

    # -- output ------------------------------------------------------------------

    def _send(self, conn: Connection) -> None:
        """Send what conn has queued, as far as the socket takes it now, and
        watch for what follows."""
        wfile = conn.wfile
        try:
            drained = wfile.send_some()
            if not conn.detached:
                memory = wfile.buffered_in_memory()
                self.queued_memory += memory - conn.queued
                conn.queued = memory
        except OSError:
            # What http.server's handler would have raised from its write
            # (a client gone mid-response): the server's error hook hears it.
            if not conn.failed:
                self.server.handle_error(conn.sock, conn.address)
            self._close(conn)
            return
        if wfile.cut_short:
            conn.closing = True     # a file shorter than its Content-Length
        if drained:
            conn.send_deadline = None
        elif conn.send_deadline is None:
            conn.send_deadline = time.monotonic() + self._send_timeout(conn)
        if conn.detached:
            return          # (_reattach sets its events)
        if drained and conn.closing:
            self._close(conn)
            return
        self._set_events(conn, self._wanted_events(conn))

    @staticmethod
    def _send_timeout(conn: Connection) -> float:
        timeout = conn.handler.send_timeout
        return 1e9 if timeout is None else float(timeout)

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
            conn = Connection(sock, address)
            if not engine_capable(server.RequestHandlerClass):
                # A thread per connection, once it has sent something.
                conn.deadline = self._deadline(getattr(
                    server.RequestHandlerClass, "head_timeout", _CLASSIC_FIRST_BYTES))
                self._register(conn, READ)
                continue
            if conn.tls:
                sock.setblocking(False)
                conn.handshaking = True
                conn.deadline = self._deadline(getattr(server, "tls_handshake_timeout", None))
                self._register(conn, READ)
                continue
            self._adopt(conn)

    def _register(self, conn: Connection, events: int) -> None:
        conn.events = events
        self.conns[conn.fd] = conn
        self.poller.register(conn.fd, events)

    def _handshake(self, conn: Connection) -> None:
        """One step of a TLS handshake, without waiting."""
        import ssl
        try:
            conn.sock.do_handshake()    # type: ignore[attr-defined]
        except ssl.SSLWantReadError:
            self._set_events(conn, READ)
            return
        except ssl.SSLWantWriteError:
            self._set_events(conn, WRITE)
            return
        except (OSError, ValueError):   # refused, reset, not TLS: close quietly
            self._forget(conn)
            self.server.shutdown_request(conn.sock)
            return
        conn.handshaking = False
        self._forget(conn)
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
            self._classic.start(sock, conn.address, handler)
            return
        conn.handler = handler
        conn.rfile, conn.wfile = handler.rfile, handler.wfile
        if sock.gettimeout() != conn.idle_timeout:
            sock.settimeout(conn.idle_timeout)  # (setup() applied the class's `timeout`)
        on_block = functools.partial(self.crew.hand_on_now, conn)
        conn.rfile.on_block = conn.wfile.on_block = on_block
        conn.wfile.start_queueing(server.max_output_buffer)
        conn.wfile.loop_owned = True
        handler.close_connection = True
        conn.deadline = self._deadline(handler.head_timeout)
        if handler.timeout is not None:
            conn.recv_deadline = self._deadline(handler.timeout)
            self._sweep_interval = min(self._sweep_interval, max(0.01, handler.timeout / 4))
        self._register(conn, READ)
        if conn.tls and sock.pending():     # type: ignore[attr-defined]
            self.ready.append((conn.fd, READ))

    @staticmethod
    def _deadline(timeout: Optional[float]) -> Optional[float]:
        return None if timeout is None else time.monotonic() + timeout

    def _forget(self, conn: Connection) -> None:
        self.poller.unregister(conn.fd)
        if self.conns.get(conn.fd) is conn:
            del self.conns[conn.fd]

    def _close(self, conn: Connection) -> None:
        self.queued_memory -= conn.queued
        conn.queued = 0
        if conn.detached:
            conn.detached = False
            self.crew.detached_done()
        self._forget(conn)
        if conn.handler is not None:
            conn.wfile.loop_owned = True    # finish() must not wait for the client
            try:
                conn.handler.finish()
            except Exception:
                pass
        self.server.shutdown_request(conn.sock)

    def _close_all(self) -> None:
        for conn in list(self.conns.values()):
            if not conn.detached:
                self._close(conn)
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
                self._close(conn)
            elif (conn.recv_deadline is not None and conn.recv_deadline < now
                  and not conn.wfile.buffered()):
                # As http.server's handle_one_request when its socket times out.
                conn.handler.log_error("Request timed out: %r", socket.timeout("timed out"))
                self._close(conn)
            elif (conn.deadline is not None and conn.deadline < now
                  and (conn.handler is None or not conn.wfile.buffered())):
                self._close(conn)

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
            self._close(conn)

    def _drain_step(self) -> bool:
        """After stop(): accept no more, close idle connections, let the
        others finish what is buffered and send what is queued, for at most
        graceful_timeout (serve()'s graceful stop) or drain_timeout seconds.
        True when done."""
        now = time.monotonic()
        if not self._draining:
            self._draining = True
            self._drain_deadline = now + self._drain_timeout()
            self.poller.unregister(self._listener)
            self._next_sweep = now
        for conn in list(self.conns.values()):
            if conn.detached:
                continue
            if conn.handler is None or (not conn.wfile.buffered() and not conn.rfile.buffered()):
                self._close(conn)       # idle: nothing in, nothing out
        if now >= self._drain_deadline:
            return True
        if self.crew.detached or any(self.conns.values()):
            self._next_sweep = min(self._next_sweep, now + 0.05)
            return False
        return True


def _no_header_block(rfile: Any) -> bool:
    """Is the request line in, and one after which http.server reads no
    header block (fewer than three words: HTTP/0.9, or nothing)? Asked of a
    head not complete yet, once."""
    end = rfile.find(b"\n")
    if end < 0 or end > _MAX_REQUEST_LINE:
        return False
    line = rfile.look(0, end + 1)
    if _STRICT_LINE.fullmatch(line) is not None:
        return False
    words = line.split()
    if len(words) != 3:
        return True
    version = _LENIENT_VERSION.fullmatch(words[2])
    return version is None or int(version.group(1)) >= 2      # 400 or 505 at once


def _blank_line_since(rfile: Any, offset: int) -> bool:
    """Could a request head end in the buffered bytes from about `offset`
    on (an empty line: LF LF or LF CR LF)?"""
    start = max(0, offset - 2)
    return bool(rfile.find(b"\n\n", start) >= 0 or rfile.find(b"\n\r\n", start) >= 0)


class _ClassicThreads:
    """A thread per connection, as socketserver's ThreadingMixIn gives, for
    handler classes the engine cannot drive request by request. A new
    connection takes a thread only once its first bytes have arrived (a
    silent client costs no thread); at most `limit` such threads run, and
    further connections wait their turn in order."""

    def __init__(self, server: Any, limit: int) -> None:
        self._server = server
        self._limit = max(1, limit)
        self._running = 0
        self._waiting: collections.deque[tuple[Any, Any, Any]] = collections.deque()
        self._lock = threading.Lock()

    def running(self) -> int:
        return self._running

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
