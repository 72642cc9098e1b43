"""The handler's files: SocketReader (rfile) and SocketWriter (wfile).

One source, two builds: this module is the pure-Python implementation, and
setup.py compiles the very same source a second time with Cython, typed by
fasthttp/_sockio.pxd, as the extension module fasthttp._sockio. The two
cannot drift; fasthttp._core picks one.

Where the compiled build has a faster way to do the same thing (memchr for a
line end, a bytes copy straight from the buffer, poll() without the GIL), the
code says ``if cython.compiled:`` and calls the C helper that _sockio.pxd
defines (``c_*``); the other branch is the plain-Python reference.

The reader only buffers and receives. Parsing a request head in place in its
buffer is the head parser's business (fasthttp/head.py): the reader is a
HeadBuffer, the small interface the parser reads through
(``_storage[_start:_end]``, ``_fill()``, ``end_head()``).

Memory follows bytes received, never bytes promised: read(n) grows the buffer
as data arrives, so a request that declares a huge body and sends nothing
costs nothing.
"""
from __future__ import annotations

import io
import os
import select as _select
import socket as _socket
import time as _time
from operator import index as _index
from typing import TYPE_CHECKING, Any

try:
    import ssl as _ssl
    # What a non-blocking TLS socket raises instead of BlockingIOError.
    _WOULD_BLOCK: tuple[type[BaseException], ...] = (
        BlockingIOError, _ssl.SSLWantReadError, _ssl.SSLWantWriteError)
except ImportError:     # a Python built without ssl
    _WOULD_BLOCK = (BlockingIOError,)

try:
    import cython  # type: ignore[import-untyped]
except ImportError:     # Cython not installed: this module runs as plain Python
    from fasthttp._cython_shim import cython

if cython.compiled:     # (the C build's base class: _sockio.pxd cimports it)
    from fasthttp._head import HeadBuffer
else:
    from fasthttp.head import HeadBuffer

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterable, Iterator

    from typing_extensions import Buffer, Self

__all__ = ["SocketReader", "SocketWriter"]

_INITIAL_BUFFER = 8192
# read(n) with n beyond what is buffered grows the buffer by at most this much
# ahead of the bytes actually received.
_READ_AHEAD = 64 * 1024
_SSIZE_MAX = (1 << 63) - 1
_HAVE_POLL = hasattr(_select, "poll")


def _ssize(value: Any) -> int:
    """A size argument as io's readers take it (None: -1)."""
    if value is None:
        return -1
    size: int = value if type(value) is int else _index(value)
    # (Compiled, assigning to the C size_t-sized local does this check.)
    if not cython.compiled and not -_SSIZE_MAX - 1 <= size <= _SSIZE_MAX:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return size


_CLOSED = "I/O operation on closed file."

class SocketReader(HeadBuffer):
    """A buffered binary reader over a socket, the handler's ``rfile``.

    It behaves like the BufferedReader that socket.makefile('rb') returns
    (read, read1, readline, readinto, peek, iteration, close), and lets the
    header parser work directly in its buffer: one recv() usually carries a
    whole request head, which is then parsed without copying it line by line.
    """


    def __init__(self, sock: socket.socket, writer: SocketWriter | None = None) -> None:
        self.io_timeout: float | None = 30.0
        if writer is not None and not isinstance(writer, SocketWriter):
            raise TypeError("writer must be a SocketWriter or None")
        self._writer = writer
        self._sock = sock
        self._recv_into = sock.recv_into
        HeadBuffer.__init__(self, bytearray(_INITIAL_BUFFER))
        self._view = memoryview(self._storage)
        self._closed = False
        self._deadline = 0.0
        self._base_timeout: float | None = None
        self._timeout_changed = False
        self._poll_fd = -1      # >= 0: deadlines and io_timeout wait with poll()
        self._ready = False     # wait_readable() saw input: the next recv won't block
        self._poller: _select.poll | None = None
        # Set by the connection engine (fasthttp/engine.py): called before a
        # read waits for the client, so that the event loop moves on to
        # another thread first. None: reads just wait (a thread per connection).
        self.on_block: Any = None
        # Set by a server's graceful stop (fasthttp.graceful) as it shuts
        # the connection down: the end of the stream past a request head is
        # then an error, never a body that looks complete but was cut short.
        self.stopping = False
        # recv() flags for reading without waiting on a blocking socket (a
        # TLS socket takes no flags: the engine makes it non-blocking instead).
        self._nowait = _MSG_DONTWAIT if type(sock) is _socket.socket else 0
        self._use_poll()

    def _use_poll(self) -> None:
        """On a plain blocking socket, wait with poll() ourselves rather than
        switching the socket to timeout mode and back (two fcntl() calls,
        and CPython's own poll() before each recv)."""
        if (self._poll_fd < 0 and _HAVE_POLL and type(self._sock) is _socket.socket
                and self._sock.gettimeout() is None):
            self._poll_fd = self._sock.fileno()
            if not cython.compiled:
                self._poller = _select.poll()
                self._poller.register(self._poll_fd, _select.POLLIN)

    def _wait_readable(self, seconds: float) -> None:
        """Between two recvs outside a request head: at most io_timeout
        (a client that announced a body and sends nothing)."""
        ms = int(seconds * 1000) + 1
        if cython.compiled:
            ready = c_wait_readable(self._poll_fd, ms)  # type: ignore[name-defined]  # noqa: F821
        else:
            ready = len(self._poller.poll(ms))  # type: ignore[union-attr]
        if not ready:
            raise _socket.timeout("timed out")

    def _apply_deadline(self) -> None:
        """Bound the next recv by what is left of the request-head deadline."""
        remaining = self._deadline - _time.monotonic()
        if remaining <= 0:
            raise _socket.timeout("request head timed out")
        if self._poll_fd >= 0:
            # A plain blocking socket: wait with poll() ourselves rather than
            # switching the socket to timeout mode and back for every request
            # (two fcntl() calls, and CPython's own poll() before each recv).
            while True:
                ms = int(remaining * 1000) + 1
                if cython.compiled:
                    ready = c_wait_readable(self._poll_fd, ms)  # type: ignore[name-defined]  # noqa: F821
                else:
                    ready = len(self._poller.poll(ms))  # type: ignore[union-attr]
                if ready:
                    return
                remaining = self._deadline - _time.monotonic()
                if remaining <= 0:
                    raise _socket.timeout("request head timed out")
        if not self._timeout_changed:
            self._base_timeout = self._sock.gettimeout()
            self._timeout_changed = True
        base = self._base_timeout
        self._sock.settimeout(remaining if base is None or base > remaining else base)

    def start_head(self, timeout: float) -> None:
        """Start the request-head deadline: until end_head(), every recv is
        bounded by what is left of `timeout` seconds (slowloris defence)."""
        self._deadline = _time.monotonic() + float(timeout)
        self._use_poll()

    def end_head(self) -> None:
        """The head is in: give the socket back its own timeout."""
        self._deadline = 0.0
        if self._timeout_changed:
            self._timeout_changed = False
            self._sock.settimeout(self._base_timeout)

    def shrink(self) -> None:
        """Nothing buffered: give back a buffer grown for a large request
        (an idle connection keeps 8 KiB, not the largest body it had)."""
        if self._start == self._end and len(self._storage) > _INITIAL_BUFFER * 8:
            self._view.release()
            self._storage = bytearray(_INITIAL_BUFFER)
            self._view = memoryview(self._storage)
            self._start = self._end = 0

    def _make_room(self) -> None:
        """Ensure free space after _end: slide data to the front, else grow."""
        cap = len(self._storage)
        start = self._start
        end = self._end
        used = end - start
        if end < cap:
            return
        if start > 0:
            self._view[0:used] = self._view[start:end]
            self._start = 0
            self._end = used
            return
        bigger = bytearray(cap * 2)
        bigger[0:used] = self._view[0:used]
        self._view.release()
        self._storage = bigger
        self._view = memoryview(bigger)

    def _reserve(self, n: int) -> None:
        """Ensure room for n bytes from _start on: slide, else grow."""
        cap = len(self._storage)
        start = self._start
        if start + n <= cap:
            return
        used = self._end - start
        if n <= cap:
            self._view[0:used] = self._view[start:self._end]
        else:
            bigger = bytearray(max(n, cap * 2))
            bigger[0:used] = self._view[start:self._end]
            self._view.release()
            self._storage = bigger
            self._view = memoryview(bigger)
        self._start = 0
        self._end = used

    def _fill(self) -> int:
        """One recv into the buffer; returns the byte count (0 at EOF)."""
        if self._closed:
            raise ValueError(_CLOSED)
        if self._start == self._end:
            self._start = self._end = 0
        self._make_room()
        return self._recv_more()

    def _recv_more(self) -> int:
        """One recv into the free space after _end, waiting as needed; 0 at EOF."""
        writer = self._writer
        if writer is not None and (writer._corked or writer._pending):
            writer.push()       # e.g. "100 Continue": the peer waits for it
            if writer._pending and not writer.holding:
                writer._wait_sent(0)    # (a socket whose send could wait)
        if self._ready:
            self._ready = False     # wait_readable() has just seen input
            n = self._recv_waiting(False)
        elif self._deadline:
            self._apply_deadline()
            n = self._recv_waiting(False)
        elif self.on_block is not None:
            # On the engine: what has arrived, without waiting; else hand the
            # loop on before this thread waits for the client.
            n = self._recv_nowait()
            if n < 0:
                self.on_block()
                n = self._recv_waiting(True)
        else:
            n = self._recv_waiting(True)
        if n == 0 and self.stopping and not self._deadline:
            raise ConnectionAbortedError("the server is stopping")
        self._end += n
        return n

    def _recv_nowait(self) -> int:
        """recv what is there now; -1 when nothing is (0 at EOF)."""
        timeout = self._sock.gettimeout()
        if timeout is not None and timeout > 0.0:
            return -1       # (a socket with a timeout would wait in recv)
        try:
            if self._nowait:
                n = self._recv_into(self._view[self._end:], 0, self._nowait)
            else:
                n = self._recv_into(self._view[self._end:])
        except _WOULD_BLOCK:
            return -1
        return n if type(n) is int else _index(n)

    def _recv_waiting(self, poll: bool) -> int:
        """recv, waiting for input: the socket's own timeout where it has one
        (a handler's settimeout() counts, as with http.server's files), else
        io_timeout. poll=False: a wait has just seen input."""
        if (poll and self._poll_fd >= 0 and self.io_timeout is not None
                and self._sock.gettimeout() is None):
            self._wait_readable(self.io_timeout)
        while True:
            try:
                n = self._recv_into(self._view[self._end:])
                break
            except _WOULD_BLOCK:
                # A non-blocking socket: wait as a blocking one would.
                _wait_ready(self._sock, False, self.io_timeout)
        return n if type(n) is int else _index(n)

    def wait_readable(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until there is something to read
        (buffered bytes, data on the socket, or its end): True, else False."""
        if self._end > self._start:
            return True
        if cython.compiled and _HAVE_POLL:
            ms = int(timeout * 1000)
            ready: bool = c_wait_readable(self._sock.fileno(), ms) > 0  # type: ignore[name-defined]  # noqa: F821
        else:
            ready = bool(_select.select([self._sock], [], [], timeout)[0])
        self._ready = ready     # the next recv need not poll again
        return ready

    def find(self, sub: bytes, offset: int = 0) -> int:
        """Where `sub` starts in the buffered bytes, searching from `offset`
        (both relative to the first unread byte), or -1. For an event loop
        that checks whether a request head can be complete yet."""
        start = self._start
        found: int = self._storage.find(sub, start + offset, self._end)
        return found - start if found >= 0 else -1

    def look(self, start: int, end: int) -> bytes:
        """A copy of the buffered bytes [start, end), counted from the first
        unread one, without reading them (an event loop looking ahead)."""
        base = self._start
        end = min(end, self._end - base)
        if end <= start:
            return b""
        return bytes(self._view[base + start:base + end])

    def fill_nowait(self) -> int:
        """For an event loop: one recv that does not wait. Returns the byte
        count, 0 at EOF, -1 when nothing was ready."""
        if self._closed:
            return 0
        if self._start == self._end:
            self._start = self._end = 0
        self._make_room()
        n = self._recv_nowait()
        if n > 0:
            self._end += n
        return n

    def _take(self, n: int) -> bytes:
        start = self._start
        self._start = start + n
        self._taken += n
        if cython.compiled:
            return c_slice(self._storage, start, n)  # type: ignore[no-any-return,name-defined]  # noqa: F821
        return bytes(self._view[start:start + n])

    # -- the io.BufferedReader surface -----------------------------------------

    def readline(self, size: int | None = -1) -> bytes:
        return self._readline(_ssize(size))

    def _readline(self, limit: int) -> bytes:
        while True:
            start = self._start
            avail = self._end - start
            scan = avail if limit < 0 or limit > avail else limit
            if cython.compiled:
                lf = c_find_lf(self._storage, start, start + scan)  # type: ignore[name-defined]  # noqa: F821
            else:
                lf = self._storage.find(b"\n", start, start + scan)
            if lf >= 0:
                return self._take(lf - start + 1)
            if limit >= 0 and avail >= limit:
                return self._take(limit)
            if self._fill() == 0:
                return self._take(self._end - self._start)

    def read(self, size: int | None = -1) -> bytes:
        return self._read(_ssize(size))

    def _read(self, want: int) -> bytes:
        avail = self._end - self._start
        if self._closed:
            raise ValueError(_CLOSED)
        if want < 0:
            chunks = [self._take(avail)]
            while self._fill():
                chunks.append(self._take(self._end - self._start))
            return b"".join(chunks)
        if want <= avail:
            return self._take(want)
        # Receive into our buffer, grown as bytes arrive (never to `want` up
        # front: a declared size is a promise, not data). If a recv times
        # out, what arrived so far stays buffered for the next read.
        while self._end - self._start < want:
            self._reserve(min(want, self._end - self._start + _READ_AHEAD))
            if self._recv_more() == 0:
                break
        return self._take(min(want, self._end - self._start))

    def read1(self, size: int | None = -1) -> bytes:
        want = _ssize(size)
        avail = self._end - self._start
        if want == 0:
            return b""
        if avail == 0:
            self._fill()
            avail = self._end - self._start
        if want < 0 or want > avail:
            want = avail
        return self._take(want)

    def readinto(self, b: Buffer) -> int:
        n = 0   # (assigned before the with block: no C compiler warning)
        with memoryview(b) as view:
            view = view.cast("B")
            data = self.read(len(view))
            n = len(data)
            view[:n] = data
            return n

    def readinto1(self, b: Buffer) -> int:
        n = 0   # (assigned before the with block: no C compiler warning)
        with memoryview(b) as view:
            view = view.cast("B")
            data = self.read1(len(view))
            n = len(data)
            view[:n] = data
            return n

    def peek(self, size: int = 0) -> bytes:
        if self._end == self._start:
            self._fill()
        return bytes(self._view[self._start:self._end])

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._sock.fileno()

    def idle(self) -> bool:
        """Waiting for a request head, none of it received yet?"""
        return self._deadline != 0.0 and self._start == self._end

    def buffered(self) -> int:
        """How many bytes are already received but not yet read."""
        return self._end - self._start

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True


def _wait_ready(sock: socket.socket, writing: bool, timeout: float | None) -> None:
    """Wait until a non-blocking socket is ready (poll), or raise
    socket.timeout as a blocking socket with that timeout would."""
    poller = _select.poll()
    poller.register(sock, _select.POLLOUT if writing else _select.POLLIN)
    if not poller.poll(None if timeout is None else timeout * 1000):
        raise _socket.timeout("timed out")


def _send_nonblocking(sock: socket.socket, data: Buffer, flags: int,
                      timeout: float | None) -> None:
    """sendall() for a non-blocking socket (or a blocking one, with
    MSG_DONTWAIT in flags): send() until done, waiting for room when the
    kernel's buffer is full, at most `timeout` seconds each time."""
    sent = 0
    if type(data) is bytes:     # usually one send() takes it all
        try:
            sent = sock.send(data, flags)
        except BlockingIOError:
            pass
        if sent == len(data):
            return
    with memoryview(data) as view:
        view = view.cast("B")
        total = len(view)
        while sent < total:
            try:
                sent += sock.send(view[sent:], flags)
            except BlockingIOError:
                _wait_ready(sock, True, timeout)


# Linux's MSG_MORE: "more data follows", so the kernel holds a response's
# header block until the body's first send and both leave in one segment:
# no Nagle / delayed-ACK stall, and unlike buffering in user space, bytes the
# handler sends straight to the socket still go out in order.
_MSG_MORE = getattr(_socket, "MSG_MORE", 0)
# A send() that does not block on a blocking socket (the send timeout).
_MSG_DONTWAIT = getattr(_socket, "MSG_DONTWAIT", 0)


_GATHER_LIMIT = 65536       # bytes a gathering writer holds before sending


class SocketWriter:
    """The handler's ``wfile``: every write goes straight to the socket, as
    with socketserver's unbuffered writer (wbufsize = 0). The header block
    (write_head) is sent with MSG_MORE where the OS has it; anything sent
    after it, or flush(), or the next read from rfile releases it.

    An event loop (LoopHTTPServer) puts the writer in queueing mode
    (start_queueing): writes are collected and leave in as few send() calls
    as the socket allows, never waiting for it. What the socket cannot take
    stays queued, in order, for the loop to send when the socket is writable
    (send_some); files can be queued too (queue_file: sendfile, no copy).
    While ``holding`` is set (the loop has further pipelined requests to
    answer), flush() sends nothing: the responses leave together.
    Only past ``limit`` queued bytes does a write wait for the socket (up to
    io_timeout), so one connection's memory stays bounded."""

    def __init__(self, sock: socket.socket) -> None:
        self.io_timeout: float | None = 30.0
        self._sock = sock
        self._sendall = sock.sendall
        self._closed = False
        self._corked = False
        self._pending: list[Any] = []    # bytes, memoryview or _FileSegment
        self._pending_bytes = 0
        self._file_bytes = 0    # of which in queued files (not in memory)
        self.queueing = False
        self.holding = False    # queueing: flush() only marks a boundary
        self._limit = 0
        # Only a plain TCP socket: ssl.SSLSocket.sendall() takes no flags.
        self._more = _MSG_MORE if (type(sock) is _socket.socket and
                                   sock.family in (_socket.AF_INET, _socket.AF_INET6)) else 0
        self._dontwait = _MSG_DONTWAIT if type(sock) is _socket.socket else 0
        # Set by the connection engine: called before a write waits for the
        # client (see SocketReader.on_block).
        self.on_block: Any = None
        # The event loop sends what is left queued when the handler returns:
        # flush() then never waits. False (a thread of the handler's own):
        # flush() waits until all is sent, as http.server's does.
        self.loop_owned = False
        #: Bytes handed to write() and queue_file() (not write_head's header
        #: blocks): a response's body size, for an access log.
        self.body_bytes = 0
        # A queued file ended before its response did (send_some dropped
        # the rest): the connection must end.
        self.cut_short = False

    def _send(self, data: Buffer, flags: int) -> None:
        timeout = self._sock.gettimeout()
        if timeout == 0.0:
            _send_nonblocking(self._sock, data, flags, self.io_timeout)
        elif timeout is None and self._dontwait and self.io_timeout is not None:
            # A blocking socket without a timeout of its own: bound each
            # wait for room by io_timeout (a client that stops reading).
            _send_nonblocking(self._sock, data, flags | self._dontwait, self.io_timeout)
        elif flags:
            self._sendall(data, flags)
        else:
            self._sendall(data)

    def _hold(self, data: bytes, n: int) -> None:
        self._pending.append(data)
        self._pending_bytes += n
        if self._pending_bytes >= _GATHER_LIMIT:
            self.send_some()
            if self._pending_bytes > self._limit:
                # Over the bound: wait for the socket (the one case where a
                # queueing writer blocks), or give up as a timeout.
                self._wait_sent(self._limit)

    def _send_pending(self) -> None:
        """Send everything queued, waiting for the socket as it needs."""
        if not self.send_some():
            self._wait_sent(0)

    def _wait_sent(self, left: int) -> None:
        """Wait until at most `left` bytes are queued (send_some as the
        socket takes them), handing the event loop on first."""
        if self.on_block is not None:
            self.on_block()
        timeout = self._sock.gettimeout()
        while self._pending_bytes > left or (not left and self._pending):
            _wait_ready(self._sock, True, timeout if timeout else self.io_timeout)
            self.send_some(True)

    # -- the event loop's side ---------------------------------------------------

    def start_queueing(self, limit: int) -> None:
        """Queue writes for a non-blocking socket (see the class doc);
        `limit`: the queued bytes past which a write waits."""
        self.queueing = True
        self._limit = limit

    def write_through(self) -> None:
        """Stop queueing until start_queueing() again (the handler took the
        socket itself): what is queued is sent first, waiting as needed,
        with the event loop handed on before."""
        if self.on_block is not None:
            self.on_block()
        self._send_pending()
        self.queueing = False

    def buffered(self) -> int:
        """Bytes queued and not yet sent."""
        return self._pending_bytes

    def buffered_in_memory(self) -> int:
        """Bytes queued and not yet sent, less those of queued files."""
        return self._pending_bytes - self._file_bytes

    def queue_file(self, fd: int, offset: int, count: int) -> None:
        """Queue `count` bytes of file descriptor `fd` from `offset`; the
        writer owns fd from now on (closes it when sent, or on close())."""
        self._pending.append(_FileSegment(fd, offset, count))
        self._pending_bytes += count
        self._file_bytes += count
        self.body_bytes += count

    def send_some(self, ready: bool = False) -> bool:
        """Send what the socket takes now, in order, without waiting.
        True when nothing is left queued. ready: the socket has just been
        seen writable (a send cannot wait long on a socket in timeout or
        blocking mode, which otherwise is not tried)."""
        pending = self._pending
        sock = self._sock
        flags = self._dontwait
        if pending and not ready:
            timeout = sock.gettimeout()
            if timeout != 0.0 and (timeout is not None or not flags):
                return False    # its send could wait (a handler's own timeout)
        while pending:
            item = pending[0]
            if type(item) is _FileSegment:
                if not self._send_file(item):
                    return False
                pending.pop(0)
                if item.short:
                    # The response promised more than the file now holds: the
                    # client cannot find the next response. Nothing more
                    # goes out; the event loop closes the connection.
                    self.cut_short = True
                    self._drop_files()
                    self._pending = []
                    self._pending_bytes = self._file_bytes = 0
                    return True
                continue
            # Consecutive buffers leave in one send().
            k = 1
            while k < len(pending) and type(pending[k]) is not _FileSegment:
                k += 1
            data = item if k == 1 else b"".join(pending[:k])
            try:
                sent = sock.send(data, flags) if flags else sock.send(data)
            except _WOULD_BLOCK:
                sent = 0
            self._pending_bytes -= sent
            if sent < len(data):
                pending[:k] = [memoryview(data)[sent:]]
                return False
            del pending[:k]
        return True

    def _send_file(self, item: _FileSegment) -> bool:
        """Send a queued file stretch as far as the socket takes it now
        (sendfile has no flag for that: a blocking socket is made
        non-blocking for the call). True when all of it is out."""
        fd = self._sock.fileno()
        blocking = self._sock.gettimeout() != 0.0
        if blocking:
            os.set_blocking(fd, False)
        try:
            done = item.send(fd)
        finally:
            if blocking:
                os.set_blocking(fd, True)
            self._pending_bytes -= item.sent_now
            self._file_bytes -= item.sent_now
        return done

    def _drop_files(self) -> None:
        for item in self._pending:
            if type(item) is _FileSegment:
                item.close()

    def write(self, b: Buffer) -> int:
        if self._closed:
            raise ValueError(_CLOSED)
        if type(b) is bytes:
            n = len(b)
        else:
            with memoryview(b) as view:
                n = view.nbytes
        self.body_bytes += n
        if self.queueing:
            # A copy of a mutable buffer: the caller may reuse it.
            self._hold(b if type(b) is bytes else bytes(b), n)
            return n
        self._send(b, 0)
        self._corked = False
        return n

    def write_head(self, head: bytes) -> None:
        """Send a response's header block; the kernel may hold it briefly
        (at most until the body is sent, flush(), or 200 ms)."""
        if type(head) is not bytes:
            raise TypeError("head must be bytes")
        if self._closed:
            raise ValueError(_CLOSED)
        if self.queueing:
            self._hold(head, len(head))
            return
        self._send(head, self._more)
        self._corked = self._more != 0

    def push(self) -> None:
        """Send what is held back: queued writes (as much as the socket takes
        now, when queueing), or a corked header block (setting TCP_NODELAY
        again makes the kernel send it)."""
        if self._pending:
            if self.queueing:
                if not self.holding:
                    self.send_some()
            else:
                self._send_pending()
        if self._corked:
            self._corked = False
            self._sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)

    def writelines(self, lines: Iterable[Buffer]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._closed:
            raise ValueError(_CLOSED)
        self.push()
        if self._pending and self.queueing and not self.holding and not self.loop_owned:
            self._wait_sent(0)      # a handler on its own thread: as http.server

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._sock.fileno()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed and self._pending:
            try:
                if self.queueing:
                    self.send_some()    # what the socket takes; the rest is dropped
                else:
                    self._send_pending()
            finally:
                self._drop_files()      # a reset connection must not keep them
                self._pending = []
                self._pending_bytes = self._file_bytes = 0
        self._closed = True


class _FileSegment:
    """A queued stretch of a file, sent with os.sendfile (no copy)."""

    def __init__(self, fd: int, offset: int, count: int) -> None:
        self.fd = fd
        self.offset = offset
        self.remaining = count
        self.sent_now = 0
        self.short = False

    def send(self, out_fd: int) -> bool:
        """Send what the socket takes now; True when all of it is out. A file
        that ended early counts as sent (the response is then short: the
        caller's Content-Length promised more, so it closes the connection)."""
        self.sent_now = 0
        while self.remaining:
            try:
                n = os.sendfile(out_fd, self.fd, self.offset, min(self.remaining, 1 << 20))
            except BlockingIOError:
                return False
            if n == 0:
                self.remaining = 0
                self.short = True
                break
            self.offset += n
            self.remaining -= n
            self.sent_now += n
        self.close()
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


io.BufferedIOBase.register(SocketReader)
io.BufferedIOBase.register(SocketWriter)
