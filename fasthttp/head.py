"""The request head: the header block parsed once, and what the request path
needs to know of it (fasthttp.request, fasthttp.body, the event engine).

One source, two builds: setup.py compiles this module a second time with
Cython as fasthttp._head, typed by fasthttp/_head.pxd, where the byte-level
scan is csrc/fh_parser.c; as plain Python it scans with fasthttp/headscan.py,
fh_parser.c's Python twin. Everything above the scan (the Head, what it
learns, request_state, the readers' loops) is this file, in both builds.
Where the compiled build does the same thing in C, the code says
``if cython.compiled:`` and calls a ``c_*`` helper of _head.pxd.

The parser reads our socket reader's buffer in place through HeadBuffer, the
small interface a reader implements (fasthttp.sockio.SocketReader does), and
any other file object line by line, as http.client does.

request_state(reader, max_inline_body), for an event loop, answers what the
reader's buffered bytes hold, and keeps the head it parsed on the reader, so
that parse_request() (through read_head) takes it instead of parsing again:

  > 0               a whole request: its length (head, and a Content-Length
                    body of at most max_inline_body bytes); handle it now
  HEAD_INCOMPLETE   (0) no whole head yet: wait for more bytes
  BODY_INCOMPLETE   (-2) the head is in, its body on its way: wait for more
  BLOCKING          (-1) anything else (Transfer-Encoding, Expect, a larger
                    body, a head the parser or the framing rules refuse):
                    serve it where a read may block

RFC 9112 section 5 (field syntax) and RFC 9110 section 5 (tokens, values)
are the rules; http.server's own limits (a 64 KiB line, 100 lines) apply.
"""
from __future__ import annotations

import http.client
import io
import re
from typing import Any, SupportsInt

try:
    import cython  # type: ignore[import-untyped]
except ImportError:     # Cython not installed: this module runs as plain Python
    from fasthttp._cython_shim import cython

from fasthttp import fh_results
from fasthttp.errors import HeadError

if not cython.compiled:
    from fasthttp import headscan

__all__ = ["HeadBuffer", "Head", "max_head_lines", "HUGE_LENGTH", "parse_request_line",
           "read_headers", "read_head",
           "request_state", "content_length", "reason", "byte_class", "head_error",
           "HEAD_INCOMPLETE", "BODY_INCOMPLETE", "BLOCKING", "MAX_HEAD_BYTES"]

# request_state()'s answers besides a request's length (see above).
HEAD_INCOMPLETE = 0
BLOCKING = -1
BODY_INCOMPLETE = -2

#: What a whole header block may take by default (BaseHTTPRequestHandler's
#: max_head_bytes); 0 means no bound.
MAX_HEAD_BYTES = 256 * 1024

_INCOMPLETE = fh_results.FH_INCOMPLETE
_SIZE_MAX = (1 << 64) - 1
_http_client: dict[str, Any] = vars(http.client)     # its globals
_MAX_REQUEST_LINE = 65537       # what handle_one_request's readline takes

# The first Connection value (http.server compares the whole of it, folded).
CONN_OTHER, CONN_CLOSE, CONN_KEEP_ALIVE = 0, 1, 2
# The Host fields: none, one (valid), one not a valid host, more than one.
HOST_NONE, HOST_OK, HOST_INVALID, HOST_MANY = 0, 1, 2, 3
# How the body is framed (RFC 9112 6.3): no body, Content-Length, chunked,
# or ambiguous (refused: see Head.refusal).
FRAMING_NONE, FRAMING_LENGTH, FRAMING_CHUNKED, FRAMING_INVALID = 0, 1, 2, 3

# Which answer http.server gives (see HeadError.kind); everything else is a
# malformed head (400).
_ERROR_KINDS = {
    fh_results.FH_E_LINE_TOO_LONG: "line_too_long",
    fh_results.FH_E_TOO_MANY_HEADERS: "too_many_headers",
    fh_results.FH_E_HEAD_TOO_LARGE: "head_too_large",
}


def max_line() -> int:
    """http.client's line limit, read when used (tests patch it)."""
    return _http_client["_MAXLINE"]  # type: ignore[no-any-return]


def max_headers() -> int:
    """http.client's header-count limit, read when used (tests patch it)."""
    return _http_client["_MAXHEADERS"]  # type: ignore[no-any-return]


def _stdlib_counts_blank_line() -> bool:
    """Does http.client.parse_headers count the blank line that ends a head
    against _MAXHEADERS (up to 3.14: 99 fields at most), or fields only
    (3.15+: 100)? Probed, not keyed on version numbers."""
    try:
        fields = _http_client["_MAXHEADERS"]
        http.client.parse_headers(io.BytesIO(b"X: y\r\n" * fields + b"\r\n"))
    except http.client.HTTPException:
        return True
    return False


# The head parser counts the ending blank line as http.server up to 3.14
# does; on 3.15+ one line more takes as many fields as the running one.
_EXTRA_HEAD_LINE = 0 if _stdlib_counts_blank_line() else 1


def max_head_lines() -> int:
    """The lines a header block may have, its ending blank line included, as
    the running http.server counts them (http.client's _MAXHEADERS, read
    when used)."""
    return _http_client["_MAXHEADERS"] + _EXTRA_HEAD_LINE  # type: ignore[no-any-return]


def reason(code: int) -> str:
    """The reason text of a parser result code (csrc/fh_parser.h)."""
    if cython.compiled:
        return c_reason(code)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return fh_results.RESULTS.get(code, ("", "unknown error"))[1]


def head_error(code: int) -> HeadError:
    """The exception for a parser result code: the only place where one
    becomes an exception."""
    return HeadError(_ERROR_KINDS.get(code, "malformed"), reason(code))


def byte_class(c: int) -> int:
    """The FH_C_* bits of byte c (fh_byte_class)."""
    if cython.compiled:
        return c_byte_class(c)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return headscan.byte_class(c)


# -- the buffer interface ----------------------------------------------------

class HeadBuffer:
    """What the head parser reads in place: the bytes received and not yet
    consumed are ``_storage[_start:_end]`` (a bytearray), and ``_taken``
    counts the bytes consumed before them (a stream position). ``_fill()``
    receives more (0 at the end of the input; it may move the bytes, so
    offsets are kept from ``_start``), and ``end_head()`` is called once a
    head has been consumed. fasthttp.sockio.SocketReader is one.

    ``_parsed`` is request_state()'s parse of the head ahead, which
    read_head() takes instead of parsing again; ``max_head_bytes`` is the
    block limit request_state() applies (the handler's, set by its setup())."""

    _storage: bytearray
    _start: int
    _end: int
    _taken: int
    _parsed: Head | None
    max_head_bytes: int

    def __init__(self, storage: bytearray) -> None:
        self._storage = storage
        self._start = 0
        self._end = 0
        self._taken = 0
        self._parsed = None
        self.max_head_bytes = MAX_HEAD_BYTES

    def _fill(self) -> int:
        """Receive more bytes after _end; their count, 0 at the end."""
        return 0

    def end_head(self) -> None:
        """The head is consumed (a SocketReader ends its head deadline)."""


# -- the head ------------------------------------------------------------------

class Head:
    """A header block, and what the request path needs to know of it.

    Made by the parser (read_head, request_state); the (name, value) strings
    are made on first use of pairs(), so a handler that never reads
    self.headers never pays for them. ``at`` is the stream position of the
    block in its HeadBuffer (-1 when read from another file), ``length`` its
    bytes, blank line included; ``error`` a parser code when the block was
    refused (request_state keeps refusals too)."""

    max_line: int
    max_lines: int
    max_head: int
    at: int
    length: int
    error: int
    raw: bytes
    count: int
    _pairs: list[tuple[str, str]] | None
    connection: int                 # CONN_*: the first Connection value
    expect: bool                    # an Expect field, whatever its value
    expect_continue: bool           # the first Expect is "100-continue"
    exotic_type: bool               # the first Content-Type may be multipart/message
    host: int                       # HOST_*
    framing: int                    # FRAMING_*
    content_length: int             # with FRAMING_LENGTH; else -1
    chunked_only: bool              # Transfer-Encoding without Content-Length
    refusal: tuple[int, str] | None     # (status, reason) with FRAMING_INVALID
    _seen: int                      # (_learn: 1 << field for each field seen ...)
    _spans: Any                     # C: raw's fh_header array; pure: (name offset,
                                    # name length, value offset, value length) a field
    _scanner: headscan.HeadScanner | None   # pure: the scan in progress

    def __dealloc__(self) -> None:
        if cython.compiled:
            c_scan_free(self)  # type: ignore[name-defined]  # noqa: F821

    def pairs(self) -> list[tuple[str, str]]:
        """[(name, value), ...] as sent, latin-1 decoded (http.client's)."""
        if self._pairs is None:
            if cython.compiled:
                self._pairs = c_pairs(self)  # type: ignore[name-defined]  # noqa: F821
            else:
                text = self.raw.decode("latin-1")
                self._pairs = [(text[a:a + b], text[c:c + d]) for a, b, c, d in self._spans]
        return self._pairs

    def fits(self, max_line: int, max_lines: int, max_head: int) -> bool:
        """Was it parsed with these limits?"""
        return (self.max_line == max_line and self.max_lines == max_lines
                and self.max_head == max_head)


def _new_head(max_line: int, max_lines: int, max_head: int) -> Head:
    """A Head whose scan starts, with these limits."""
    head = Head.__new__(Head)
    head.max_line = max_line
    head.max_lines = max_lines
    head.max_head = max_head
    head.at = -1
    head.length = 0
    head.error = 0
    head.raw = b""
    head.count = 0
    head._pairs = None
    head.connection = CONN_OTHER
    head.expect = False
    head.expect_continue = False
    head.exotic_type = False
    head.host = HOST_NONE
    head.framing = FRAMING_NONE
    head.content_length = -1
    head.chunked_only = False
    head.refusal = None
    head._seen = 0
    if cython.compiled:
        c_scan_init(head, max_line, max_lines, max_head)  # type: ignore[name-defined]  # noqa: F821
    else:
        head._scanner = headscan.HeadScanner(max_line, max_lines, max_head)
        head._spans = []
    return head


def _feed(head: Head, buf: bytes | bytearray, base: int, n: int) -> int:
    """Scan buf[base:base + n], the block so far: consumed, FH_INCOMPLETE, FH_E_*."""
    if cython.compiled:
        return c_feed(head, buf, base, n)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return head._scanner.feed(buf, base, n)  # type: ignore[union-attr]


def _eof(head: Head, n: int) -> int:
    """The input ended after n bytes of the block."""
    if cython.compiled:
        return c_eof(head, n)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return head._scanner.eof(n)  # type: ignore[union-attr]


def _line_start(head: Head) -> int:
    """Where the line the scan stopped in begins."""
    if cython.compiled:
        return c_line_start(head)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return head._scanner.line_start  # type: ignore[union-attr]


def _finish(head: Head, buf: bytes | bytearray, base: int, length: int) -> Head:
    """The block is buf[base:base + length]: keep it, and learn from it."""
    if cython.compiled:
        head.raw = c_slice(buf, base, length)  # type: ignore[name-defined]  # noqa: F821
    else:
        head.raw = bytes(buf[base:base + length])
    head.length = length
    if not cython.compiled:     # (compiled, c_feed has kept the spans)
        head._spans = head._scanner.spans  # type: ignore[union-attr]
        head._scanner = None
        head.count = len(head._spans)
    _learn(head)
    return head


def _find_lf(storage: bytearray, start: int, end: int) -> int:
    """storage.find(b"\\n", start, end)"""
    if cython.compiled:
        return c_find_lf(storage, start, end)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return storage.find(b"\n", start, end)


# -- what a head tells ---------------------------------------------------------

# The fields the request path acts on, by lowercased name.
_F_HOST, _F_EXPECT, _F_CONNECTION, _F_CONTENT_TYPE, _F_CONTENT_LENGTH, _F_CODINGS = 1, 2, 3, 4, 5, 6
_FIELDS = {b"host": _F_HOST, b"expect": _F_EXPECT, b"connection": _F_CONNECTION,
           b"content-type": _F_CONTENT_TYPE, b"content-length": _F_CONTENT_LENGTH,
           b"transfer-encoding": _F_CODINGS}
_FIELD_LENGTHS = frozenset(len(name) for name in _FIELDS)
_BAD_LENGTH, _CONFLICTING = 1 << 7, 1 << 8     # Head._seen bits beside the fields'

if cython.compiled:     # (c_field matches names as _FIELDS.get(name.lower()) does)
    c_fields_init(_FIELDS)  # type: ignore[name-defined]  # noqa: F821


def _learn(head: Head) -> None:
    """The facts of the fields the request path acts on (_learn_field),
    and the framing of the body they decide."""
    raw = head.raw
    if cython.compiled:
        for i in range(head.count):
            name_off, name_len, value_off, value_len = c_span(head, i)  # type: ignore[name-defined]  # noqa: F821
            field = c_field(raw, name_off, name_len)  # type: ignore[name-defined]  # noqa: F821
            if field:
                _learn_field(head, field, raw, value_off, value_len)
    else:
        for name_off, name_len, value_off, value_len in head._spans:
            if name_len in _FIELD_LENGTHS:
                field = _FIELDS.get(raw[name_off:name_off + name_len].lower(), 0)
                if field:
                    _learn_field(head, field, raw, value_off, value_len)
    # The body (RFC 9112 6.3): Content-Length fields must all be valid and
    # agree; Transfer-Encoding is _learn_codings'.
    seen = head._seen
    if seen & (1 << _F_CODINGS):
        _learn_codings(head)
    elif seen & _BAD_LENGTH:
        head.framing = FRAMING_INVALID
        head.refusal = (400, "invalid Content-Length")
    elif seen & _CONFLICTING:
        head.framing = FRAMING_INVALID
        head.refusal = (400, "conflicting Content-Length values")
    elif seen & (1 << _F_CONTENT_LENGTH):
        head.framing = FRAMING_LENGTH
    if head.framing != FRAMING_LENGTH:
        head.content_length = -1


def _learn_field(head: Head, field: int, raw: bytes, value_off: int, value_len: int) -> None:
    """One of _FIELDS. Values are compared ASCII case-insensitively, as
    http.server does with str.lower() (no latin-1 letter folds onto an
    ASCII one); http.server reads the first Connection, Expect and
    Content-Type."""
    bit = 1 << field
    first = not head._seen & bit
    head._seen |= bit
    if field == _F_HOST:
        if not first:
            head.host = HOST_MANY
        else:
            head.host = HOST_OK if _valid_host(raw, value_off, value_len) else HOST_INVALID
    elif field == _F_CONTENT_LENGTH:
        length = _length_of(raw, value_off, value_len)
        if length < 0 and _DIGITS.fullmatch(raw, value_off, value_off + value_len) is not None:
            length = HUGE_LENGTH        # more than 18 digits (a rare path)
        if length < 0:
            head._seen |= _BAD_LENGTH
        elif head.content_length < 0:
            head.content_length = length
        elif length != head.content_length:
            head._seen |= _CONFLICTING
    elif not first:
        return
    elif field == _F_CONNECTION:
        if _folded_is(raw, value_off, value_len, b"close"):
            head.connection = CONN_CLOSE
        elif _folded_is(raw, value_off, value_len, b"keep-alive"):
            head.connection = CONN_KEEP_ALIVE
    elif field == _F_EXPECT:
        head.expect = True
        head.expect_continue = _folded_is(raw, value_off, value_len, b"100-continue")
    elif field == _F_CONTENT_TYPE:
        head.exotic_type = (_folded_in(raw, value_off, value_len, b"multipart")
                            or _folded_in(raw, value_off, value_len, b"message"))


def _learn_codings(head: Head) -> None:
    """Transfer-Encoding (a rare path: on the decoded values). The final
    coding must be chunked, once, and the only one we decode (RFC 9112 6.1);
    with a Content-Length too, the request is ambiguous (smuggling)."""
    if head._seen & (1 << _F_CONTENT_LENGTH):
        head.framing = FRAMING_INVALID
        head.refusal = (400, "both Content-Length and Transfer-Encoding")
        return
    head.chunked_only = True
    codings = [c.strip(" \t").lower() for name, value in head.pairs()
               if name.lower() == "transfer-encoding" for c in value.split(",")]
    codings = [c for c in codings if c]
    head.framing = FRAMING_INVALID
    if not codings or codings[-1] != "chunked":
        head.refusal = (400, "final transfer coding is not chunked")
    elif len(codings) > 1 and codings.count("chunked") > 1:
        head.refusal = (400, "chunked applied more than once")
    elif len(codings) > 1:
        head.refusal = (501, "unsupported transfer coding (%s)" % ", ".join(codings[:-1]))
    else:
        head.framing = FRAMING_CHUNKED


def _folded_is(raw: bytes, off: int, n: int, lower: bytes) -> bool:
    """Is raw[off:off + n] `lower` (ASCII lowercase), ignoring ASCII case?"""
    if cython.compiled:
        return c_folded_is(raw, off, n, lower)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return n == len(lower) and raw[off:off + n].lower() == lower


def _folded_in(raw: bytes, off: int, n: int, lower: bytes) -> bool:
    """Does raw[off:off + n] contain `lower`, ignoring ASCII case?"""
    if cython.compiled:
        return c_folded_in(raw, off, n, lower)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return lower in raw[off:off + n].lower()


def _length_of(raw: bytes, off: int, n: int) -> int:
    """A Content-Length value -> the length, or -1 (fh_content_length)."""
    if cython.compiled:
        return c_content_length(raw, off, n)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return headscan.content_length(raw[off:off + n])


#: A Content-Length of more than 18 digits: http.server takes any (RFC 9110
#: 8.6: 1*DIGIT), so its handler runs; no body that long is ever read
#: (read_body() refuses it, and the connection closes after the handler).
#: Two such values count as the same.
HUGE_LENGTH = (1 << 63) - 1
_DIGITS = re.compile(rb"[0-9]+[ \t]*")


def _valid_host(raw: bytes, off: int, n: int) -> bool:
    """A Host value we serve: any bytes a client sends for an authority (a
    name, an address, http.client's Unix socket path, UTF-8 as nginx takes
    it), but no whitespace inside (the parser has already refused control
    bytes): such a value would read as two words in logs and proxies."""
    if cython.compiled:
        return c_valid_host(raw, off, n)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    value = raw[off:off + n].rstrip(b" \t")
    return b" " not in value and b"\t" not in value


def content_length(value: str) -> int | None:
    """A Content-Length field value -> the length, or None when it is not
    1 to 18 ASCII digits (trailing SP/HTAB allowed, as http.server keeps it;
    RFC 9110 8.6)."""
    if not value.isascii():
        return None
    data = value.encode("ascii")
    length = _length_of(data, 0, len(data))
    return None if length < 0 else length


# -- the request line ----------------------------------------------------------

def parse_request_line(line: bytes | None) -> tuple[str, str, int, int] | None:
    """Strict request line -> (method, target, major, minor), or None when the
    line is not in the strict form and needs http.server's lenient rules."""
    if type(line) is not bytes:
        if line is None:
            return None
        raise TypeError("Argument 'line' has incorrect type (expected bytes, got %s)"
                        % type(line).__name__)
    if cython.compiled:
        return c_request_line(line)  # type: ignore[no-any-return,name-defined]  # noqa: F821
    return headscan.request_line(line)


# -- reading a header block ------------------------------------------------------

def _size_t(value: Any) -> int:
    """A limit as an unsigned size (an int, or what __int__ makes one)."""
    if type(value) is not int:
        to_int = getattr(type(value), "__int__", None)
        if to_int is None:
            raise TypeError("an integer is required")
        value = to_int(value)
        if not isinstance(value, int):
            raise TypeError("__int__ returned non-int (type %s)" % type(value).__name__)
    # (Compiled, returning it as a C size_t makes the same checks.)
    if not cython.compiled:
        if value < 0:
            raise OverflowError("can't convert negative value to size_t")
        if value > _SIZE_MAX:
            raise OverflowError("Python int too large to convert to C unsigned long")
    return value


def read_headers(rfile: Any, max_line: SupportsInt = 65536, max_lines: SupportsInt = 100,
                 max_head: SupportsInt = 0) -> list[tuple[str, str]]:
    """Read and parse a header block from rfile -> [(name, value), ...].

    From a HeadBuffer the block is parsed in place in its buffer; any other
    file object is read line by line with readline(max_line + 1), exactly as
    http.client.parse_headers reads. Raises HeadError.
    """
    return read_head(rfile, max_line, max_lines, max_head).pairs()


def read_head(rfile: Any, max_line: SupportsInt, max_lines: SupportsInt,
              max_head: SupportsInt) -> Head:
    """The header block from rfile, parsed: in place in a HeadBuffer (or
    taken from its request_state()), in one go from an in-memory file, else
    line by line. Limits as read_headers'; 0 max_head: no bound. Raises
    HeadError."""
    line_limit = _size_t(max_line)
    lines_limit = _size_t(max_lines)
    head_limit = _size_t(max_head)
    if isinstance(rfile, HeadBuffer):
        return _read_head_in_buffer(rfile, line_limit, lines_limit, head_limit)
    if type(rfile) is io.BytesIO:
        return _read_head_bytesio(rfile, line_limit, lines_limit, head_limit)
    return _read_head_lines(rfile, line_limit, lines_limit, head_limit)


def _read_head_in_buffer(buf: HeadBuffer, max_line: int, max_lines: int,
                         max_head: int) -> Head:
    """In place in the reader's buffer (one recv usually holds a whole head:
    no copying line by line)."""
    head = buf._parsed
    if head is not None:
        buf._parsed = None
        if head.at == buf._taken and head.fits(max_line, max_lines, max_head):
            if head.error:
                raise head_error(head.error)
            buf._start += head.length
            buf._taken += head.length
            buf.end_head()
            return head
    head = _new_head(max_line, max_lines, max_head)
    while True:
        if cython.compiled:     # (_feed, without a call on the pure path)
            r = c_feed(head, buf._storage, buf._start, buf._end - buf._start)  # type: ignore[name-defined]  # noqa: F821
        else:
            r = head._scanner.feed(buf._storage, buf._start, buf._end - buf._start)  # type: ignore[union-attr]
        if r == _INCOMPLETE:
            # _fill may slide the buffer: offsets stay relative to _start.
            if buf._fill() == 0:
                r = _eof(head, buf._end - buf._start)
            else:
                continue
        if r < 0:
            raise head_error(r)
        head.at = buf._taken
        _finish(head, buf._storage, buf._start, r)
        buf._start += r
        buf._taken += r
        buf.end_head()
        return head


def _read_head_lines(rfile: Any, max_line: int, max_lines: int, max_head: int) -> Head:
    """Any file object: line by line, as http.client.parse_headers reads."""
    head = _new_head(max_line, max_lines, max_head)
    data = bytearray()
    readline = rfile.readline
    limit = (max_line + 1) & _SIZE_MAX
    while True:
        line = readline(limit)
        if not line:
            r = _eof(head, len(data))
        else:
            data += line
            r = _feed(head, data, 0, len(data))
            if r == _INCOMPLETE:
                continue
        if r < 0:
            raise head_error(r)
        return _finish(head, data, 0, r)


_BYTESIO_PEEK = 256 * 1024      # bytes of an in-memory rfile parsed in one go


def _read_head_bytesio(rfile: io.BytesIO, max_line: int, max_lines: int,
                       max_head: int) -> Head:
    """An in-memory rfile (as in CPython's tests and socketless handlers):
    parse what it holds in one go, then seek back to just past the head.
    Same result and position as reading it line by line (which a head
    longer than _BYTESIO_PEEK still gets)."""
    head = _new_head(max_line, max_lines, max_head)
    data = rfile.read(_BYTESIO_PEEK)
    n = len(data)
    r = _feed(head, data, 0, n)
    if r == _INCOMPLETE:
        if n == _BYTESIO_PEEK:
            rfile.seek(-n, 1)
            return _read_head_lines(rfile, max_line, max_lines, max_head)
        r = _eof(head, n)
    if r >= 0:
        rfile.seek(r - n, 1)
        return _finish(head, data, 0, r)
    # Where readline(max_line + 1) would have stopped: after the line that
    # failed, or max_line + 1 bytes into it.
    line_start = _line_start(head)
    stop = n
    if line_start <= stop:
        room = stop - line_start
        if max_line < room:
            stop = line_start + max_line + 1
    lf = data.find(b"\n", line_start, stop)
    if lf >= 0:
        stop = lf + 1
    rfile.seek(stop - n, 1)
    raise head_error(r)


# -- for an event loop -------------------------------------------------------------

def request_state(buf: HeadBuffer, max_inline_body: int) -> int:
    """What the buffered bytes hold (see the module's docstring for the
    answers). The head is parsed with the limits parse_request applies
    (http.client's, and the reader's max_head_bytes) and kept on the reader
    for read_head, refusals included, so that it is parsed once."""
    storage = buf._storage
    start = buf._start
    n = buf._end - start
    lf = _find_lf(storage, start, start + min(n, _MAX_REQUEST_LINE))
    if lf < 0:
        return HEAD_INCOMPLETE if n < _MAX_REQUEST_LINE else BLOCKING
    line_len = lf - start + 1
    if line_len == 1 or (line_len == 2 and storage[start] == 13):
        return line_len         # an empty line: the handler just closes
    line_limit = _size_t(max_line())
    lines_limit = _size_t(max_head_lines())
    head_limit = _size_t(buf.max_head_bytes)
    head = buf._parsed
    if (head is None or head.at != buf._taken + line_len
            or not head.fits(line_limit, lines_limit, head_limit)):
        head = _new_head(line_limit, lines_limit, head_limit)
        r = _feed(head, storage, start + line_len, n - line_len)
        if r == _INCOMPLETE:
            return HEAD_INCOMPLETE
        head.at = buf._taken + line_len
        if r < 0:
            head.error = r
        else:
            _finish(head, storage, start + line_len, r)
        buf._parsed = head
    if (head.error or head.expect or head.framing == FRAMING_CHUNKED
            or head.framing == FRAMING_INVALID):
        return BLOCKING
    body = head.content_length if head.framing == FRAMING_LENGTH else 0
    if body > max_inline_body:
        return BLOCKING
    total = line_len + head.length + body
    return total if total <= n else BODY_INCOMPLETE
