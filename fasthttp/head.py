"""The request-head parser in plain Python: the twin of csrc/fh_parser.c and
its binding fasthttp/_head.pyx, used when the extension is not built or
FASTHTTP_PURE=1 (fasthttp._core picks one).

Same names, same behaviour (results, errors, reasons, which error wins, how
much each recv asks for); tests/test_parser.py runs every case against both
and checks the tables here (results and reasons, byte classes) against the C
ones. The header parser is a port of the C state machine: a compiled regex
accepts a whole well-formed header line in one step, and the state machine
(whose runs are also regex-scanned) only takes over for a line the regex does
not accept, either to find the error C would report or to resume a line cut
by the end of the bytes received so far.

RFC 9112 section 5 (field syntax) and RFC 9110 section 5 (tokens, values)
are the rules; http.server's own limits (a 64 KiB line, 100 lines) apply.
"""
from __future__ import annotations

import re
from typing import Any, SupportsInt

from fasthttp.errors import HeadError
from fasthttp.sockio import SocketReader

__all__ = ["parse_request_line", "read_headers", "request_state", "content_length",
           "RESULTS", "byte_class"]

_SIZE_MAX = (1 << 64) - 1

# -- byte classes, as init_classes() in fh_parser.c ------------------------
# (tests/test_parser.py checks byte_class() against fh_byte_class() for all 256.)

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


_C_TCHAR, _C_VALUE, _C_TARGET = 0x01, 0x02, 0x04     # FH_C_* in fh_parser.h


def byte_class(c: int) -> int:
    """The FH_C_* bits of byte c, as fh_byte_class() in C."""
    one = bytes([c])
    return ((_C_TCHAR if re.fullmatch(rb"[" + _TCHAR + rb"]", one) else 0)
            | (_C_VALUE if re.fullmatch(rb"[" + _VALUE + rb"]", one) else 0)
            | (_C_TARGET if re.fullmatch(rb"[" + _TARGET + rb"]", one) else 0))


# -- results and reasons: csrc/fh_parser.h's FH_RESULTS, the one list --------
# (tests/test_parser.py checks this table against the C one, entry by entry.)

RESULTS: dict[int, tuple[str, str]] = {
    0: ("FH_OK", "ok"),
    -1: ("FH_INCOMPLETE", "incomplete"),
    -2: ("FH_NONCANONICAL", "request line not in strict form"),
    -10: ("FH_E_LINE_TOO_LONG", "header line too long"),
    -11: ("FH_E_TOO_MANY_HEADERS", "too many headers"),
    -12: ("FH_E_HEAD_TOO_LARGE", "header block too large"),
    -13: ("FH_E_OBS_FOLD", "obsolete line folding in header"),
    -14: ("FH_E_NAME", "invalid character in header name"),
    -15: ("FH_E_SPACE_BEFORE_COLON", "whitespace before colon in header"),
    -16: ("FH_E_NO_COLON", "header line without a colon"),
    -17: ("FH_E_VALUE", "invalid character in header value"),
    -18: ("FH_E_BARE_CR", "bare CR in request head"),
    -19: ("FH_E_EOF_IN_LINE", "request head ended inside a line"),
}
_CODES = {name: code for code, (name, _) in RESULTS.items()}
_INCOMPLETE = _CODES["FH_INCOMPLETE"]
_E_LINE_TOO_LONG = _CODES["FH_E_LINE_TOO_LONG"]
_E_TOO_MANY_HEADERS = _CODES["FH_E_TOO_MANY_HEADERS"]
_E_HEAD_TOO_LARGE = _CODES["FH_E_HEAD_TOO_LARGE"]
_E_OBS_FOLD = _CODES["FH_E_OBS_FOLD"]
_E_NAME = _CODES["FH_E_NAME"]
_E_SPACE_BEFORE_COLON = _CODES["FH_E_SPACE_BEFORE_COLON"]
_E_NO_COLON = _CODES["FH_E_NO_COLON"]
_E_VALUE = _CODES["FH_E_VALUE"]
_E_BARE_CR = _CODES["FH_E_BARE_CR"]
_E_EOF_IN_LINE = _CODES["FH_E_EOF_IN_LINE"]

# Which answer http.server gives (see HeadError.kind); everything else is a
# malformed head (400).
HEAD_ERROR_KINDS = {
    _E_LINE_TOO_LONG: "line_too_long",
    _E_TOO_MANY_HEADERS: "too_many_headers",
    _E_HEAD_TOO_LARGE: "head_too_large",
}


def head_error(code: int, reason: str | None = None) -> HeadError:
    """The exception for a parser result code: the only place, on either
    path, where a code becomes an exception (the C binding passes its own
    fh_reason() text)."""
    if reason is None:
        reason = RESULTS.get(code, ("", "unknown error"))[1]
    return HeadError(HEAD_ERROR_KINDS.get(code, "malformed"), reason)


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
    return read_head(rfile, _size_t(max_line), _size_t(max_lines),
                      _size_t(max_head))


def read_head(rfile: Any, max_line: int, max_lines: int,
               max_head: int) -> list[tuple[str, str]]:
    if type(rfile) is SocketReader:
        return _read_head_in_buffer(rfile, max_line, max_lines, max_head)
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
            raise head_error(r)
        return p.pairs



def _read_head_in_buffer(reader: SocketReader, max_line: int, max_lines: int,
                         max_head: int) -> list[tuple[str, str]]:
    """Parse a head in place in our reader's buffer (one recv usually holds
    a whole head: no copying line by line)."""
    p = _HeadParser(max_line, max_lines, max_head)
    while True:
        r = p.feed(reader._storage, reader._start, reader._end - reader._start)
        if r == _INCOMPLETE:
            # _fill may slide the buffer: offsets stay relative to _start.
            if reader._fill() == 0:
                r = p.eof(reader._end - reader._start)
            else:
                continue
        if r < 0:
            raise head_error(r)
        reader._start += r
        return p.pairs


BODY_INCOMPLETE = -2     # request_state(): the head is in, the body on its way


def request_state(reader: SocketReader, max_inline_body: int) -> int:
    """What a reader's buffered bytes hold, for an event loop: the length
    of the whole request at their start when its handling needs no further
    reads (its head, and a Content-Length body of at most max_inline_body
    bytes); 0 while its head is incomplete, BODY_INCOMPLETE (-2) when only
    its body is; -1 for anything else
    (Transfer-Encoding, Expect, a larger body, a head the parser refuses),
    to be served the blocking way."""
    start, n = reader._start, reader._end - reader._start
    storage = reader._storage
    lf = storage.find(b"\n", start, start + min(n, 65537))
    if lf < 0:
        return 0 if n < 65537 else -1
    line_len = lf - start + 1
    if line_len == 1 or (line_len == 2 and storage[start] == 13):
        return line_len         # an empty line: the handler just closes
    p = _HeadParser(65536, 128, 0)
    r = p.feed(storage, start + line_len, n - line_len)
    if r == _INCOMPLETE:
        return 0
    if r < 0:
        return -1
    body = 0
    seen_length = False
    for name, value in p.pairs:
        folded = name.lower()
        if folded in ("transfer-encoding", "expect"):
            return -1
        if folded == "content-length":
            length = content_length(value)
            if seen_length or length is None:
                return -1
            seen_length = True
            body = length
    if body > max_inline_body:
        return -1
    return line_len + r + body if line_len + r + body <= n else BODY_INCOMPLETE


_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}[ \t]*")


def content_length(value: str) -> int | None:
    """A Content-Length field value -> the length, or None when it is not
    1 to 18 ASCII digits (trailing SP/HTAB allowed, as http.server keeps it;
    RFC 9110 8.6). As fh_content_length() in C."""
    if _CONTENT_LENGTH.fullmatch(value) is None:
        return None
    return int(value.rstrip(" \t"))


# -- what parse_request needs to know of a head -------------------------

# The Host header's state, as _head.pxd's HOST_* values.
HOST_NONE, HOST_OK, HOST_INVALID, HOST_MANY = 0, 1, 2, 3

# host [":" port] (RFC 9112 3.2; RFC 3986 3.2.2-3): an IP literal in
# brackets, or a reg-name (which covers IPv4 addresses); trailing whitespace.
_HOST = re.compile(r"(?:\[[-.\w~%!$&'()*+,;=:]+\]|[-.\w~%!$&'()*+,;=]*)(?::[0-9]*)?[ \t]*",
                   re.ASCII)


def valid_host(value: str) -> bool:
    """Is this Host value valid? As _valid_host() in _head.pyx."""
    return _HOST.fullmatch(value) is not None


def head_info(pairs: list[tuple[str, str]]) -> tuple[str | None, str | None, bool, bool, int]:
    """(first Connection value or None, first Expect value or None, may the
    first Content-Type be multipart/message?, is there a Content-Length or
    Transfer-Encoding?, the Host header's HOST_* state) as _make_head() in
    _head.pyx.
    Names are tokens, so str.lower() is the C code's ASCII folding; a value
    folds only ASCII letters there, and no latin-1 letter lowercases to one."""
    connection = expect = None
    seen_type = exotic = framing = False
    host = HOST_NONE
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
        elif n == 4 and name.lower() == "host":
            if host != HOST_NONE:
                host = HOST_MANY
            else:
                host = HOST_OK if valid_host(value) else HOST_INVALID
    return connection, expect, exotic, framing, host


