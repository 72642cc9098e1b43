"""One connection on the engine (engine.py): its state, and what it does
when its socket is readable or writable.

- Input. A request head is handled once it can be complete (a blank line
  has arrived), never rescanned on every recv. A body of up to the server's
  ``max_buffered_body`` (Content-Length, or chunked: prebuffer.py) is read
  whole before the handler runs, ``body_timeout`` between two reads: a
  client that sends its body slowly holds no thread. Larger ones, and
  ``Expect: 100-continue``, reach the handler as they arrive; a read that
  must wait hands the loop on first (crew.py).
- The handler. ``handle_one_request()`` runs on the thread that completed
  the request, under the watchdog's eye. If the lead was taken from it
  meanwhile (detached), this thread serves the requests already buffered on
  the connection, then hands it back to the loop (reattach).
- Output. The handler's ``wfile`` queues what it writes (sockio's queueing
  mode), sent as the socket takes it, files with sendfile. Above the
  server's ``output_high_water`` (or while all connections together queue
  more than ``max_output_memory``) no further request is read from a
  connection that has output queued. Responses to pipelined requests
  already buffered leave together.
"""
from __future__ import annotations

import functools
import re
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Optional

from fasthttp import _core
from fasthttp.errors import BodyError
from fasthttp.head import BLOCKING, BODY_INCOMPLETE, HEAD_INCOMPLETE
from fasthttp.headscan import _REQUEST_LINE as _STRICT_LINE
from fasthttp.poller import READ, WRITE
from fasthttp.prebuffer import INCOMPLETE, ChunkedScan, head_length, is_plain_chunked

if TYPE_CHECKING:
    from fasthttp.crew import Member
    from fasthttp.engine import Engine

__all__ = ["Connection", "adopting", "engine_capable", "deadline", "header_block_follows",
           "MAX_REQUEST_LINE"]

# The request line http.server accepts (65536 bytes and its LF).
MAX_REQUEST_LINE = 65537
_LENIENT_VERSION = re.compile(rb"HTTP/([0-9]+)\.[0-9]+")


class _Adopting(threading.local):
    sock: Any = object()    # (never a handler's request)


#: While the engine creates a handler: the socket it is creating it for.
#: BaseHTTPRequestHandler.handle() and finish() then return at once, and the
#: engine calls handle_one_request() as requests arrive.
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


def deadline(timeout: Optional[float]) -> Optional[float]:
    """time.monotonic() `timeout` seconds from now (None: none)."""
    return None if timeout is None else time.monotonic() + timeout


class Connection:
    """One connection's state: its handler (whose rfile and wfile are the
    connection's input and output buffers), its timers and its events."""

    __slots__ = ("engine", "sock", "fd", "address", "handler", "rfile", "wfile", "deadline",
                 "recv_deadline", "send_deadline", "events", "scanned", "reading_body",
                 "body_scan", "closing", "detached", "tls", "handshaking", "idle_timeout",
                 "failed", "queued", "waited", "used", "__weakref__")

    def __init__(self, engine: Engine, sock: socket.socket, address: Any) -> None:
        self.engine = engine
        self.sock = sock
        self.fd = sock.fileno()
        self.address = address
        self.handler: Any = None    # None: a handler class of its own (classic.py)
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
        # Its last handler waited (the lead went on without it): its next one
        # gets the lead handed on before it starts, not a watchdog bound later.
        self.waited = False
        self.used = False       # a request of it has been handled
        # What the socket's timeout is while the engine has it (a handler
        # sees a blocking socket, as with http.server): None for plain TCP
        # (the engine passes MSG_DONTWAIT), 0.0 for TLS (which takes no flags).
        self.idle_timeout: Optional[float] = 0.0 if self.tls else None

    def adopt(self, handler: Any) -> None:
        """Drive `handler` (made with handle() and finish() deferred)."""
        engine, sock = self.engine, self.sock
        self.handler = handler
        self.rfile, self.wfile = handler.rfile, handler.wfile
        if sock.gettimeout() != self.idle_timeout:
            sock.settimeout(self.idle_timeout)  # (setup() applied the class's `timeout`)
        on_block = functools.partial(engine.crew.hand_on_now, self)
        self.rfile.on_block = self.wfile.on_block = on_block
        self.wfile.start_queueing(engine.server.max_output_buffer)
        self.wfile.loop_owned = True
        handler.close_connection = True
        self.deadline = deadline(handler.head_timeout)
        if handler.timeout is not None:
            self.recv_deadline = deadline(handler.timeout)

    # -- events --------------------------------------------------------------------

    def on_readable(self, member: Member) -> None:
        try:
            received = self.rfile.fill_nowait()
        except OSError:
            received = 0
        if received < 0:
            return
        if received == 0:               # the client is done sending
            self.closing = True
            self.set_events(self.events & ~READ)
        else:
            if self.reading_body:
                self.deadline = deadline(self.handler.body_timeout)    # between reads
            if self.recv_deadline is not None:
                self.recv_deadline = deadline(self.handler.timeout)
        self.process(member)
        if self.tls and not self.detached and self.engine.conns.get(self.fd) is self and \
                self.events & READ and self.sock.pending():  # type: ignore[attr-defined]
            self.engine.ready.append((self.fd, READ))  # decrypted bytes epoll cannot see

    def on_writable(self, member: Member) -> None:
        before = self.wfile.buffered()
        self.send()
        if self.engine.conns.get(self.fd) is not self:
            return
        if self.wfile.buffered() < before and self.send_deadline is not None:
            self.send_deadline = time.monotonic() + self.send_timeout()
        if not self.wfile.buffered() and not self.closing and self.rfile.buffered():
            self.process(member)        # pipelined requests held back meanwhile

    def set_events(self, events: int, force: bool = False) -> None:
        if events != self.events or force:
            self.events = events
            try:
                self.engine.poller.modify(self.fd, events)
            except (OSError, ValueError):     # closed meanwhile (fd, or the poller)
                pass

    def wanted_events(self) -> int:
        events = WRITE if self.wfile.buffered() else 0
        if not self.closing and not self.engine.backed_up(self.wfile):
            events |= READ
        return events

    # -- requests ------------------------------------------------------------------

    def process(self, member: Member) -> None:
        """Handle the whole requests buffered, and send what they wrote as
        far as the socket takes it. On a member that got detached meanwhile:
        the rest of the requests buffered, then hand the connection back."""
        while True:
            backed_up = self.handle_requests(member)
            if self.engine.conns.get(self.fd) is not self:
                return
            self.send()
            if self.detached:
                self.reattach()
                return
            if (not backed_up or self.engine.conns.get(self.fd) is not self
                    or self.wfile.buffered()):
                return

    def handle_requests(self, member: Member) -> bool:
        """Run the handler for each whole request buffered while the queued
        output stays under the bounds. True when it stopped at a bound with
        requests still buffered."""
        rfile, wfile, handler, engine = self.rfile, self.wfile, self.handler, self.engine
        served = False
        while rfile.buffered():
            if engine.backed_up(wfile):
                return True
            length = self.next_request()
            if length == INCOMPLETE:
                break
            # More requests buffered behind this one: its flush() waits for theirs.
            wfile.holding = length > 0 and rfile.buffered() > length
            self.run_handler(member)
            served = self.used = True
            if handler.close_connection or wfile.cut_short:
                self.closing = True
                break
        wfile.holding = False
        if self.closing and not rfile.closed:
            rfile.close()
        elif served and not rfile.buffered():
            rfile.shrink()
            self.deadline = deadline(handler.head_timeout)     # the next head
            if handler.timeout is not None:
                self.recv_deadline = deadline(handler.timeout)
        return False

    def next_request(self) -> int:
        """Is a request for the handler buffered? Its length (> 0), BLOCKING
        (it is, but the handler reads part of it as it arrives, or answers
        what is there), or INCOMPLETE (wait for more bytes)."""
        rfile, handler = self.rfile, self.handler
        length: int
        if self.scanned > 0 and not _blank_line_since(rfile, self.scanned):
            length = HEAD_INCOMPLETE    # still no end of the head: no need to parse
        else:
            length = _core.request_state(rfile, self.engine.server.max_buffered_body)
        if length == HEAD_INCOMPLETE:
            if not (self.closing or (not self.scanned and _no_header_block(rfile))
                    or rfile.buffered() > MAX_REQUEST_LINE + handler.max_head_bytes):
                self.scanned = rfile.buffered()     # look for its end in what comes next
                return INCOMPLETE
            # The client is done sending, or http.server reads no header block
            # after this request line (HTTP/0.9, a bad line), or too long:
            # the handler answers as it does.
            length = BLOCKING
        elif length < 0 and not self.closing and handler.timeout is None:
            # The body is on its way: wait for all of it (a handler class with
            # a `timeout` reads it itself, as with http.server: its timeout
            # then bounds each read).
            if length == BLOCKING:
                length = self.chunked_end()
            if length == INCOMPLETE or length == BODY_INCOMPLETE:
                if not self.reading_body:   # the body starts to come: its timer now
                    self.reading_body = True
                    self.deadline = deadline(handler.body_timeout)
                return INCOMPLETE
        self.scanned = 0
        self.reading_body = False
        self.body_scan = None
        return length

    def chunked_end(self) -> int:
        """For a request that request_state() leaves to the handler: its
        length once a chunked body is whole, INCOMPLETE meanwhile, or
        BLOCKING (the handler reads it: not plainly chunked, malformed, too
        large)."""
        scan, rfile = self.body_scan, self.rfile
        if scan is None:
            head = head_length(rfile)
            if not head or not is_plain_chunked(rfile.look(0, head)):
                return BLOCKING
            limit = head + self.engine.server.max_buffered_body
            scan = self.body_scan = ChunkedScan(head, limit)
        return scan.end(rfile)

    def run_handler(self, member: Member) -> None:
        """handle_one_request() on this thread, under the watchdog's eye
        while this thread leads."""
        handler, sock, engine = self.handler, self.sock, self.engine
        # What a handler sees: http.server's socket (blocking, or with the
        # class's `timeout`); a TLS socket stays non-blocking (the engine's
        # reads and writes on it cannot pass MSG_DONTWAIT).
        timeout = handler.timeout if handler.timeout is not None else self.idle_timeout
        if self.idle_timeout != timeout:
            sock.settimeout(timeout)
        leading = not self.detached
        started = 0.0
        if leading:
            engine.crew.running(self)
            if self.waited:
                # A handler that waits on this connection is likely to wait
                # again (a client of a slow endpoint): no watchdog bound of
                # a stalled loop per request, the cost of a thread switch
                # instead, as with a thread per connection.
                started = time.monotonic()
                engine.crew.hand_on_now(self)
        try:
            handler.handle_one_request()
        except BodyError:                   # read_body() answered already
            handler.close_connection = True
        except Exception:
            self.failed = True
            engine.server.handle_error(sock, self.address)
            handler.close_connection = True
        finally:
            if leading and not engine.crew.finished(member):
                self.detached = True        # (set by detach() already; for clarity)
                # It waited, unless it was handed on in advance and proved quick.
                self.waited = not started or \
                    time.monotonic() - started >= engine.crew.handoff_after
            if not self.wfile.queueing:     # the handler took the socket (handler.py)
                self.wfile.start_queueing(engine.server.max_output_buffer)
            if sock.gettimeout() != self.idle_timeout:
                try:
                    sock.settimeout(self.idle_timeout)
                except OSError:
                    pass

    # -- between the loop and a thread of its own ------------------------------------

    def detach(self) -> None:
        """The crew took the lead from the thread running this connection's
        handler (under the crew's lock): that thread keeps the connection
        until it hands it back."""
        self.detached = True
        self.wfile.loop_owned = False
        if self.events:
            self.events = 0
            try:
                self.engine.poller.modify(self.fd, 0)
            except OSError:
                pass

    def reattach(self) -> None:
        """Its detached thread is done with the requests buffered: the loop
        takes the connection back (sends what is queued, reads what follows)."""
        engine = self.engine
        if engine.stopped.is_set():     # no loop to take it: finish here
            try:
                self.wfile.flush()      # (not loop-owned: waits, up to send_timeout)
            except (OSError, ValueError):
                pass
            self.close()
            return
        self.wfile.loop_owned = True
        self.detached = False
        engine.crew.detached_done()
        if self.closing and not self.wfile.buffered():
            self.close()
            return
        self.set_events(self.wanted_events(), force=True)
        if self.rfile.buffered() and not self.wfile.buffered():
            # Pipelined requests are here already and no event will come for
            # them (their bytes are read, nothing is queued to send): the
            # loop serves them as after a drained send (on_writable).
            engine.ready.append((self.fd, WRITE))
            engine.wake()

    # -- output ------------------------------------------------------------------------

    def send(self) -> None:
        """Send what is queued, as far as the socket takes it now, and watch
        for what follows."""
        wfile, engine = self.wfile, self.engine
        try:
            drained = wfile.send_some()
            if not self.detached:
                memory = wfile.buffered_in_memory()
                engine.queued_memory += memory - self.queued
                self.queued = memory
        except OSError:
            # What http.server's handler would have raised from its write
            # (a client gone mid-response): the server's error hook hears it.
            if not self.failed:
                engine.server.handle_error(self.sock, self.address)
            self.close()
            return
        if wfile.cut_short:
            self.closing = True     # a file shorter than its Content-Length
        if drained:
            self.send_deadline = None
        elif self.send_deadline is None:
            self.send_deadline = time.monotonic() + self.send_timeout()
        if self.detached:
            return          # (reattach() sets its events)
        if drained and self.closing:
            self.close()
            return
        self.set_events(self.wanted_events())

    def send_timeout(self) -> float:
        timeout = self.handler.send_timeout
        return 1e9 if timeout is None else float(timeout)

    def close(self) -> None:
        engine = self.engine
        engine.queued_memory -= self.queued
        self.queued = 0
        if self.detached:
            self.detached = False
            engine.crew.detached_done()
        engine.forget(self)
        if self.handler is not None:
            self.wfile.loop_owned = True    # finish() must not wait for the client
            try:
                self.handler.finish()
            except Exception:
                pass
        engine.server.shutdown_request(self.sock)


def header_block_follows(line: bytes) -> bool:
    """Does http.server read a header block after this request line? Not
    after fewer than three words (HTTP/0.9, or nothing), nor after a line
    it answers at once (a bad version: 400; HTTP/2 or later: 505)."""
    if _STRICT_LINE.fullmatch(line) is not None:
        return True
    words = line.split()
    if len(words) != 3:
        return False
    version = _LENIENT_VERSION.fullmatch(words[2])
    return version is not None and int(version.group(1)) < 2


def _no_header_block(rfile: Any) -> bool:
    """Is the request line in, and one after which http.server reads no
    header block? Asked of a head not complete yet, once."""
    end = rfile.find(b"\n")
    if end < 0 or end > MAX_REQUEST_LINE:
        return False
    return not header_block_follows(rfile.look(0, end + 1))


def _blank_line_since(rfile: Any, offset: int) -> bool:
    """Could a request head end in the buffered bytes from about `offset`
    on (an empty line: LF LF or LF CR LF)?"""
    start = max(0, offset - 2)
    return bool(rfile.find(b"\n\n", start) >= 0 or rfile.find(b"\n\r\n", start) >= 0)
