"""The request path in plain Python: the twin of fasthttp/_speedups.pyx and
csrc/fh_parser.c, used when the extension is not built or FASTHTTP_PURE=1.

Same names, same behaviour (results, errors, reasons, which error wins, how
much each recv asks for); tests run every case against both. The header
parser is a port of the C state machine: a compiled regex accepts a whole
well-formed header line in one step, and the state machine (whose runs are
also regex-scanned) only takes over for a line the regex does not accept,
either to find the error C would report or to resume a line cut by the end
of the bytes received so far.
"""
from __future__ import annotations

import email.policy
import http.client as _http_client
import http.server as _http_server
import io
import re
import select as _select
import socket as _socket
import time as _time
from http import HTTPStatus
from operator import index as _index
from typing import TYPE_CHECKING, Any, SupportsInt

from fasthttp._errors import HeadError

if TYPE_CHECKING:
    import socket
    from collections.abc import Iterable, Iterator

    from typing_extensions import Buffer, Self

__all__ = ["parse_request", "parse_request_line", "read_headers",
           "SocketReader", "SocketWriter", "register_handler_class",
           "send_response", "send_response_only", "send_header", "end_headers",
           "flush_headers", "log_request", "log_message", "date_time_string",
           "log_date_time_string"]

_INITIAL_BUFFER = 8192
_SSIZE_MAX = (1 << 63) - 1
_SIZE_MAX = (1 << 64) - 1

# -- byte classes, as init_classes() in fh_parser.c ------------------------

_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_VALUE = rb"\t\x20-\x7e\x80-\xff"
_TARGET = rb"\x21-\x7e\x80-\x84\x86-\x9f\xa1-\xff"   # not 0x85 / 0xA0

_TCHAR_TABLE = bytes(
    1 if (0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A
          or (c and bytes([c]) in b"!#$%&'*+-.^_`|~")) else 0
    for c in range(256))

_REQUEST_LINE = re.compile(
    rb"([" + _TCHAR + rb"]+) ([" + _TARGET + rb"]+) HTTP/([0-9])\.([0-9])(?:\r?\n)?")
_HEADER_LINE = re.compile(
    rb"([" + _TCHAR + rb"]+):[ \t]*([" + _VALUE + rb"]*)\r?\n")
_TCHAR_RUN = re.compile(rb"[" + _TCHAR + rb"]*")
_OWS_RUN = re.compile(rb"[ \t]*")
_VALUE_RUN = re.compile(rb"[" + _VALUE + rb"]*")

# -- results and reasons, as fh_parser.h / fh_reason() ---------------------

_INCOMPLETE = -1
_E_LINE_TOO_LONG = -10
_E_TOO_MANY_HEADERS = -11
_E_HEAD_TOO_LARGE = -12
_E_OBS_FOLD = -13
_E_NAME = -14
_E_SPACE_BEFORE_COLON = -15
_E_NO_COLON = -16
_E_VALUE = -17
_E_BARE_CR = -18
_E_EOF_IN_LINE = -19

_REASONS = {
    _E_LINE_TOO_LONG: "header line too long",
    _E_TOO_MANY_HEADERS: "too many headers",
    _E_HEAD_TOO_LARGE: "header block too large",
    _E_OBS_FOLD: "obsolete line folding in header",
    _E_NAME: "invalid character in header name",
    _E_SPACE_BEFORE_COLON: "whitespace before colon in header",
    _E_NO_COLON: "header line without a colon",
    _E_VALUE: "invalid character in header value",
    _E_BARE_CR: "bare CR in request head",
    _E_EOF_IN_LINE: "request head ended inside a line",
}
_KINDS = {
    _E_LINE_TOO_LONG: "line_too_long",
    _E_TOO_MANY_HEADERS: "too_many_headers",
    _E_HEAD_TOO_LARGE: "head_too_large",
}


def _head_error(code: int) -> HeadError:
    return HeadError(_KINDS.get(code, "malformed"),
                     _REASONS.get(code, "unknown error"))


def _size_t(value: Any) -> int:
    """Cython's conversion of an argument declared size_t (it goes through
    __int__, as Cython does, so 2.7 gives 2 and __index__ alone is refused)."""
    if not isinstance(value, int):
        to_int = getattr(type(value), "__int__", None)
        if to_int is None:
            raise TypeError("an integer is required")
        value = to_int(value)
        if not isinstance(value, int):
            raise TypeError("__int__ returned non-int (type %s)" % type(value).__name__)
    if value < 0:
        raise OverflowError("can't convert negative value to size_t")
    if value > _SIZE_MAX:
        raise OverflowError("Python int too large to convert to C unsigned long")
    return value


def _ssize(value: Any) -> int:
    """Cython's conversion of a value assigned to a Py_ssize_t (None: -1)."""
    if value is None:
        return -1
    if type(value) is not int:
        value = _index(value)
    if not -_SSIZE_MAX - 1 <= value <= _SSIZE_MAX:
        raise OverflowError("Python int too large to convert to C ssize_t")
    return value  # type: ignore[no-any-return]  # an int by now


# -- request line ------------------------------------------------------------

def parse_request_line(line: bytes | None) -> tuple[str, str, int, int] | None:
    """Strict request line -> (method, target, major, minor), or None when the
    line is not in the strict form and needs http.server's lenient rules."""
    if type(line) is not bytes:
        if line is None:
            return None
        raise TypeError("Argument 'line' has incorrect type (expected bytes, got %s)"
                        % type(line).__name__)
    m = _REQUEST_LINE.fullmatch(line)
    if m is None:
        return None
    method, target, major, minor = m.groups()
    return (method.decode("latin-1"), target.decode("latin-1"),
            major[0] - 48, minor[0] - 48)


# -- header block --------------------------------------------------------------

# Parser states, as in fh_parser.c.
_S_LINE_START = 0
_S_NAME = 1
_S_OWS = 2
_S_VALUE = 3
_S_VALUE_CR = 4
_S_BLANK_CR = 5
_S_EXTRA_LINE = 6


class _HeadParser:
    """fh_headers: an incremental parser of one header block.

    feed(buf, base, length) parses buf[base:base + length], the bytes of the
    block seen so far (the same first byte at every call; `base` may change
    between calls). Positions kept between calls are relative to `base`.
    Returns the bytes consumed (>= 0), _INCOMPLETE, or an _E_* code.
    """

    __slots__ = ("max_line", "max_lines", "max_head", "state", "pos",
                 "line_start", "name_end", "value_start", "value_end",
                 "lines", "pairs")

    def __init__(self, max_line: int, max_lines: int, max_head: int) -> None:
        self.max_line = max_line
        self.max_lines = max_lines
        self.max_head = max_head
        self.state = _S_LINE_START
        self.pos = 0
        self.line_start = 0
        self.name_end = 0
        self.value_start = 0
        self.value_end = 0
        self.lines = 0
        self.pairs: list[tuple[str, str]] = []

    def feed(self, buf: bytes | bytearray, base: int, length: int) -> int:
        max_line = self.max_line
        max_lines = self.max_lines
        max_head = self.max_head
        head_end = base + max_head
        stop = base + length
        state = self.state
        pos = base + self.pos
        ls = base + self.line_start
        name_end = base + self.name_end
        value_start = base + self.value_start
        value_end = base + self.value_end
        lines = self.lines
        pairs = self.pairs
        match_line = _HEADER_LINE.match

        while True:
            # Scan no further than this line (and the whole block) may go.
            end = ls + max_line
            if max_head and end > head_end:
                end = head_end
            if end > stop:
                end = stop
            if pos >= end:
                if end == stop:
                    self.state = state
                    self.pos = pos - base
                    self.line_start = ls - base
                    self.name_end = name_end - base
                    self.value_start = value_start - base
                    self.value_end = value_end - base
                    self.lines = lines
                    return _INCOMPLETE
                # limit_error()
                if (max_head and end >= head_end and end < ls + max_line):
                    return _E_HEAD_TOO_LARGE
                return _E_LINE_TOO_LONG

            if state == _S_LINE_START:
                if lines >= max_lines:
                    state = _S_EXTRA_LINE
                    continue
                # Fast path: a whole well-formed line within the limits.
                m = match_line(buf, pos, end)
                if m is not None:
                    name, value = m.groups()
                    pairs.append((name.decode("latin-1"), value.decode("latin-1")))
                    lines += 1
                    pos = ls = m.end()
                    continue
                c = buf[pos]
                if c == 13:
                    state = _S_BLANK_CR
                    pos += 1
                elif c == 10:
                    self.lines = lines + 1
                    self.pos = pos + 1 - base
                    return pos + 1 - base
                elif c == 32 or c == 9:
                    return _E_OBS_FOLD
                elif _TCHAR_TABLE[c]:
                    state = _S_NAME
                    pos += 1
                else:
                    return _E_NAME
                continue

            if state == _S_NAME:
                pos = _TCHAR_RUN.match(buf, pos, end).end()  # type: ignore[union-attr]  # (matches '')
                if pos == end:
                    continue
                c = buf[pos]
                if c == 58:
                    name_end = pos
                    state = _S_OWS
                    pos += 1
                    continue
                if c == 32 or c == 9:
                    return _E_SPACE_BEFORE_COLON
                if c == 13 or c == 10:
                    return _E_NO_COLON
                return _E_NAME

            if state == _S_OWS:
                pos = _OWS_RUN.match(buf, pos, end).end()  # type: ignore[union-attr]  # (matches '')
                if pos == end:
                    continue
                value_start = pos
                state = _S_VALUE
                # fall through

            if state == _S_VALUE:
                pos = _VALUE_RUN.match(buf, pos, end).end()  # type: ignore[union-attr]  # (matches '')
                if pos == end:
                    continue
                c = buf[pos]
                if c != 13 and c != 10:
                    return _E_VALUE
                value_end = pos
                state = _S_VALUE_CR
                if c == 13:
                    pos += 1
                    continue
                # fall through: LF right after the value

            if state == _S_VALUE_CR:
                if buf[pos] != 10:
                    return _E_BARE_CR
                pairs.append((buf[ls:name_end].decode("latin-1"),
                              buf[value_start:value_end].decode("latin-1")))
                pos += 1
                lines += 1
                ls = pos
                state = _S_LINE_START
                continue

            if state == _S_BLANK_CR:
                if buf[pos] != 10:
                    return _E_BARE_CR
                self.lines = lines + 1
                self.pos = pos + 1 - base
                return pos + 1 - base

            if state == _S_EXTRA_LINE:
                # http.server reads the whole extra line before it complains,
                # so a too-long extra line is "line too long", else "too many".
                if buf.find(b"\n", pos, end) >= 0:
                    return _E_TOO_MANY_HEADERS
                pos = end
                continue

            return _E_NAME      # unreachable: corrupted state

    def eof(self, length: int) -> int:
        """fh_headers_eof: the input ended after `length` bytes."""
        if self.lines >= self.max_lines:
            return _E_TOO_MANY_HEADERS     # http.server counts the EOF read too
        if (self.state == _S_LINE_START and self.pos == length
                and self.line_start == length):
            return length
        return _E_EOF_IN_LINE


def read_headers(rfile: Any, max_line: SupportsInt = 65536, max_lines: SupportsInt = 100,
                 max_head: SupportsInt = 0) -> list[tuple[str, str]]:
    """Read and parse a header block from rfile -> [(name, value), ...].

    On our SocketReader the block is parsed in place in its buffer; any other
    file object is read line by line with readline(max_line + 1), exactly as
    http.client.parse_headers reads. Raises HeadError.
    """
    return _read_head(rfile, _size_t(max_line), _size_t(max_lines),
                      _size_t(max_head))


def _read_head(rfile: Any, max_line: int, max_lines: int,
               max_head: int) -> list[tuple[str, str]]:
    if type(rfile) is SocketReader:
        return rfile._read_headers(max_line, max_lines, max_head)
    p = _HeadParser(max_line, max_lines, max_head)
    data = bytearray()
    readline = rfile.readline
    limit = (max_line + 1) & _SIZE_MAX
    while True:
        line = readline(limit)
        if not line:
            r = p.eof(len(data))
        else:
            data += line
            r = p.feed(data, 0, len(data))
            if r == _INCOMPLETE:
                continue
        if r < 0:
            raise _head_error(r)
        return p.pairs


# -- http.server's parse_request ----------------------------------------------

_HTTPMessage = _http_client.HTTPMessage
_MESSAGE_TEMPLATE: dict[str, Any] = dict(
    policy=email.policy.compat32, _headers=None, _unixfrom=None, _payload="",
    _charset=None, preamble=None, epilogue=None, defects=None,
    _default_type="text/plain")


def _head_info(pairs: list[tuple[str, str]]) -> tuple[str | None, str | None, bool, bool]:
    """(first Connection value or None, first Expect value or None, may the
    first Content-Type be multipart/message?, is there a Content-Length or
    Transfer-Encoding?) as _make_head() in the .pyx.
    Names are tokens, so str.lower() is the C code's ASCII folding; a value
    folds only ASCII letters there, and no latin-1 letter lowercases to one."""
    connection = expect = None
    seen_type = exotic = framing = False
    for name, value in pairs:
        n = len(name)
        if n == 10:
            if connection is None and name.lower() == "connection":
                connection = value
        elif n == 6:
            if expect is None and name.lower() == "expect":
                expect = value
        elif n == 12:
            if not seen_type and name.lower() == "content-type":
                seen_type = True
                folded = value.lower()
                exotic = "multipart" in folded or "message" in folded
        elif n == 14 or n == 17:
            if name.lower() in ("content-length", "transfer-encoding"):
                framing = True
    return connection, expect, exotic, framing


def parse_request(handler: Any) -> bool:
    """BaseHTTPRequestHandler.parse_request, as parse_request() in the .pyx:
    the strict request line and the header block here, the rare paths through
    the handler's _fh_* methods (server.py)."""
    handler.command = None
    handler.request_version = handler.default_request_version
    handler.close_connection = True
    raw = handler.raw_requestline
    if type(raw) is not bytes:
        raw = bytes(raw)
    requestline = raw.decode("latin-1").rstrip("\r\n")
    handler.requestline = requestline

    m = _REQUEST_LINE.fullmatch(raw)
    if m is not None:
        method, target, major, minor = m.groups()
        command = method.decode("latin-1")
        path = target.decode("latin-1")
        major = major[0] - 48
        minor = minor[0] - 48
        if ((major > 1 or (major == 1 and minor >= 1))
                and handler.protocol_version >= "HTTP/1.1"):
            handler.close_connection = False
        if major >= 2:
            handler.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                               "Invalid HTTP version (%d.%d)" % (major, minor))
            return False
        handler.request_version = requestline[len(requestline) - 8:]
    else:
        words = handler._fh_lenient_request_line(requestline)
        if words is None:
            return False
        command, path = words
    handler.command = command
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    handler.path = path

    rfile = handler.rfile
    try:
        pairs = _read_head(rfile, _size_t(_http_client._MAXLINE),  # type: ignore[attr-defined]
                           _size_t(_http_client._MAXHEADERS),  # type: ignore[attr-defined]
                           _size_t(handler.max_head_bytes))
    except HeadError as err:
        return handler._fh_reject_head(err)  # type: ignore[no-any-return]
    if type(rfile) is SocketReader:
        rfile.end_head()
    connection, expect, exotic, framing = _head_info(pairs)
    message_class = handler.MessageClass
    if message_class is _HTTPMessage and not exotic:
        headers = _HTTPMessage.__new__(_HTTPMessage)
        state = _MESSAGE_TEMPLATE.copy()
        state["_headers"] = pairs
        state["defects"] = []
        headers.__dict__.update(state)
        if connection is None:
            connection = ""
        if expect is None:
            expect = ""
    else:
        headers = handler._fh_exact_message(pairs)
        connection = headers.get("Connection", "")
        expect = headers.get("Expect", "")
    handler.headers = headers
    if framing and not handler._fh_check_framing():
        return False

    if connection:
        connection = connection.lower()
        if connection == "close":
            handler.close_connection = True
        elif connection == "keep-alive" and handler.protocol_version >= "HTTP/1.1":
            handler.close_connection = False
    if (expect and expect.lower() == "100-continue" and
            handler.protocol_version >= "HTTP/1.1" and
            handler.request_version >= "HTTP/1.1"):
        if not handler.handle_expect_100():
            return False
    return True


# -- the socket reader and writer ---------------------------------------------

_CLOSED = "I/O operation on closed file."


class SocketReader:
    """A buffered binary reader over a socket, the handler's ``rfile``.

    It behaves like the BufferedReader that socket.makefile('rb') returns
    (read, read1, readline, readinto, peek, iteration, close), and lets the
    header parser work directly in its buffer: one recv() usually carries a
    whole request head, which is then parsed without copying it line by line.
    """

    __slots__ = ("_sock", "_recv_into", "_storage", "_view", "_start", "_end",
                 "_closed", "_deadline", "_base_timeout", "_timeout_changed",
                 "_writer", "io_timeout")

    def __init__(self, sock: socket.socket, writer: SocketWriter | None = None) -> None:
        self.io_timeout = 30.0
        if writer is not None and not isinstance(writer, SocketWriter):
            raise TypeError("writer must be a SocketWriter or None")
        self._writer = writer
        self._sock = sock
        self._recv_into = sock.recv_into
        self._storage = bytearray(_INITIAL_BUFFER)
        self._view = memoryview(self._storage)
        self._start = 0
        self._end = 0
        self._closed = False
        self._deadline = 0.0
        self._base_timeout: float | None = None
        self._timeout_changed = False

    def _apply_deadline(self) -> None:
        """Bound the next recv by what is left of the request-head deadline."""
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

    def end_head(self) -> None:
        """The head is in: give the socket back its own timeout."""
        self._deadline = 0.0
        if self._timeout_changed:
            self._timeout_changed = False
            self._sock.settimeout(self._base_timeout)

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
        """One recv into the free space after _end; 0 at EOF."""
        if self._deadline:
            self._apply_deadline()
        writer = self._writer
        if writer is not None and (writer._corked or writer._pending):
            writer.push()       # e.g. "100 Continue": the peer waits for it
        while True:
            try:
                n = self._recv_into(self._view[self._end:])
                break
            except BlockingIOError:
                # A non-blocking socket (LoopHTTPServer): wait like a
                # blocking one would, up to io_timeout.
                _wait_ready(self._sock, False, self.io_timeout)
        if type(n) is not int:
            n = _index(n)
        self._end += n
        return n

    def fill_nowait(self) -> int:
        """For an event loop: one recv on a non-blocking socket. Returns the
        byte count, 0 at EOF, -1 when nothing was ready."""
        if self._start == self._end:
            self._start = self._end = 0
        self._make_room()
        try:
            n = self._recv_into(self._view[self._end:])
        except BlockingIOError:
            return -1
        self._end += n
        return n

    def request_state(self, max_inline_body: int) -> int:
        """What the buffered bytes hold, for an event loop (as the .pyx):
        0 not yet a whole request; 1 a whole request needing no further
        reads; 2 anything else, to be served the blocking way."""
        start, n = self._start, self._end - self._start
        storage = self._storage
        lf = storage.find(b"\n", start, start + min(n, 65537))
        if lf < 0:
            return 0 if n < 65537 else 2
        line_len = lf - start + 1
        if line_len == 1 or (line_len == 2 and storage[start] == 13):
            return 1
        p = _HeadParser(65536, 128, 0)
        r = p.feed(storage, start + line_len, n - line_len)
        if r == _INCOMPLETE:
            return 0
        if r < 0:
            return 2
        body = 0
        seen_length = False
        for name, value in p.pairs:
            folded = name.lower()
            if folded in ("transfer-encoding", "expect"):
                return 2
            if folded == "content-length":
                if seen_length or not (0 < len(value) <= 18 and value.isascii()
                                       and value.isdigit()):
                    return 2
                seen_length = True
                body = int(value)
        if body > max_inline_body:
            return 2
        return 1 if line_len + r + body <= n else 0

    def _take(self, n: int) -> bytes:
        start = self._start
        self._start = start + n
        return bytes(self._view[start:start + n])

    def _read_headers(self, max_line: int, max_lines: int,
                      max_head: int) -> list[tuple[str, str]]:
        p = _HeadParser(max_line, max_lines, max_head)
        while True:
            r = p.feed(self._storage, self._start, self._end - self._start)
            if r == _INCOMPLETE:
                # _fill may slide the buffer: offsets stay relative to _start.
                if self._fill() == 0:
                    r = p.eof(self._end - self._start)
                else:
                    continue
            if r < 0:
                raise _head_error(r)
            self._start += r
            return p.pairs

    # -- the io.BufferedReader surface -----------------------------------------

    def readline(self, size: int | None = -1) -> bytes:
        limit = _ssize(size)
        while True:
            start = self._start
            avail = self._end - start
            scan = avail if limit < 0 or limit > avail else limit
            lf = self._storage.find(b"\n", start, start + scan)
            if lf >= 0:
                return self._take(lf - start + 1)
            if limit >= 0 and avail >= limit:
                return self._take(limit)
            if self._fill() == 0:
                return self._take(self._end - self._start)

    def read(self, size: int | None = -1) -> bytes:
        want = _ssize(size)
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
        # Receive into our buffer, grown to hold `want`: if a recv times out,
        # what arrived so far stays buffered for the next read.
        while self._end - self._start < want:
            self._reserve(want)
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
        with memoryview(b) as view:
            view = view.cast("B")
            data = self.read(len(view))
            n = len(data)
            view[:n] = data
        return n

    def readinto1(self, b: Buffer) -> int:
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
    """sendall() for a non-blocking socket: send() until done, waiting for
    room when the kernel's buffer is full."""
    with memoryview(data) as view:
        view = view.cast("B")
        sent, total = 0, len(view)
        while sent < total:
            try:
                sent += sock.send(view[sent:], flags)
            except BlockingIOError:
                _wait_ready(sock, True, timeout)


# Linux's MSG_MORE: see the .pyx (the header block waits for the body's first
# send, so both leave in one segment, in order with direct socket writes).
_MSG_MORE = getattr(_socket, "MSG_MORE", 0)


_GATHER_LIMIT = 65536       # bytes a gathering writer holds before sending


class SocketWriter:
    """The handler's ``wfile``: every write goes straight to the socket, as
    with socketserver's unbuffered writer (wbufsize = 0). The header block
    (write_head) is sent with MSG_MORE where the OS has it; anything sent
    after it, or flush(), or the next read from rfile releases it.

    With ``gather`` set (LoopHTTPServer does), writes are collected until
    flush() or _GATHER_LIMIT bytes and then sent at once: one send() for a
    whole response."""

    __slots__ = ("_sock", "_sendall", "_closed", "_corked", "_more", "_pending",
                 "_pending_bytes", "gather", "io_timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.io_timeout = 30.0
        self._sock = sock
        self._sendall = sock.sendall
        self._closed = False
        self._corked = False
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.gather = False
        # Only a plain TCP socket: ssl.SSLSocket.sendall() takes no flags.
        self._more = _MSG_MORE if (type(sock) is _socket.socket and
                                   sock.family in (_socket.AF_INET, _socket.AF_INET6)) else 0

    def _send(self, data: Buffer, flags: int) -> None:
        if self._sock.gettimeout() == 0.0:
            _send_nonblocking(self._sock, data, flags, self.io_timeout)
        elif flags:
            self._sendall(data, flags)
        else:
            self._sendall(data)

    def _hold(self, data: bytes, n: int) -> None:
        self._pending.append(data)
        self._pending_bytes += n
        if self._pending_bytes >= _GATHER_LIMIT:
            self._send_pending()

    def _send_pending(self) -> None:
        if self._pending:
            pending = self._pending
            data = pending[0] if len(pending) == 1 else b"".join(pending)
            self._pending = []
            self._pending_bytes = 0
            self._send(data, 0)

    def write(self, b: Buffer) -> int:
        if self._closed:
            raise ValueError(_CLOSED)
        if type(b) is bytes:
            n = len(b)
        else:
            with memoryview(b) as view:
                n = view.nbytes
        if self.gather:
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
        if self.gather:
            self._hold(head, len(head))
            return
        self._send(head, self._more)
        self._corked = self._more != 0

    def push(self) -> None:
        """Send what is held back: gathered writes, or a corked header block
        (setting TCP_NODELAY again makes the kernel send it)."""
        if self._pending:
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
            self._send_pending()
        self._closed = True


io.BufferedIOBase.register(SocketReader)
io.BufferedIOBase.register(SocketWriter)


# -- the response side ---------------------------------------------------------
#
# The pure path's response methods are http.server's own; only the two
# timestamps are cached per second, as the .pyx does. (The .pyx re-implements
# the rest in C with the same output, calling overridden hooks through self.)

_Stdlib = _http_server.BaseHTTPRequestHandler
handle_one_request = _Stdlib.handle_one_request
send_response = _Stdlib.send_response
send_response_only = _Stdlib.send_response_only
send_header = _Stdlib.send_header
end_headers = _Stdlib.end_headers
log_request = _Stdlib.log_request
log_message = _Stdlib.log_message


def register_handler_class(cls: type) -> None:
    """Nothing to record: the pure path always dispatches through self."""


def flush_headers(self: Any) -> None:
    """http.server's flush_headers, sending through write_head() on our
    writer (see SocketWriter)."""
    if hasattr(self, "_headers_buffer"):
        wfile = self.wfile
        if type(wfile) is SocketWriter:
            wfile.write_head(b"".join(self._headers_buffer))
        else:
            wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []


_date_cache: tuple[int | None, str] = (None, "")
_log_date_cache: tuple[int | None, str] = (None, "")


def date_time_string(self: _Stdlib, timestamp: float | None = None) -> str:
    """The Date header value; formatted once per second."""
    global _date_cache
    if timestamp is not None:
        return _Stdlib.date_time_string(self, timestamp)
    second = int(_time.time())
    cached_second, text = _date_cache
    if cached_second != second:
        text = _Stdlib.date_time_string(self, second)
        _date_cache = (second, text)
    return text


def log_date_time_string(self: _Stdlib) -> str:
    """The log line's timestamp; formatted once per second."""
    global _log_date_cache
    second = int(_time.time())
    cached_second, text = _log_date_cache
    if cached_second != second:
        text = _Stdlib.log_date_time_string(self)
        _log_date_cache = (second, text)
    return text
