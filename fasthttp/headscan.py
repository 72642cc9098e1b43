"""csrc/fh_parser.c in Python: the byte-level request-head scanner of the
pure-Python path (the C build of fasthttp/head.py calls fh_parser.c instead).

This is the one part of the request path that stays twinned: the C scanner
is plain C (also built alone for libFuzzer, the sanitizers and
csrc/test_parser.c), and a Python scanner compiled by Cython would be slower
than it. The two are held equal by tests/test_parser.py (every vector on
both, the tables checked entry by entry, hypothesis properties that they
agree on arbitrary input) and by the fuzzers (fuzz/).

Same results as the C scanner: the spans of each (name, value), the bytes
consumed, or the same FH_* error (fasthttp/fh_results.py) at the same point,
limits included. A compiled regex accepts a whole well-formed header line in
one step; the state machine (whose runs are also regex-scanned) only takes
over for a line the regex does not accept, either to find the error C would
report or to resume a line cut by the end of the bytes received so far.

RFC 9112 section 5 (field syntax) and RFC 9110 section 5 (tokens, values)
are the rules; http.server's own limits (a 64 KiB line, 100 lines) apply.
"""
from __future__ import annotations

import re

from fasthttp.fh_results import (
    FH_E_BARE_CR,
    FH_E_EOF_IN_LINE,
    FH_E_HEAD_TOO_LARGE,
    FH_E_LINE_TOO_LONG,
    FH_E_NAME,
    FH_E_NO_COLON,
    FH_E_OBS_FOLD,
    FH_E_SPACE_BEFORE_COLON,
    FH_E_TOO_MANY_HEADERS,
    FH_E_VALUE,
    FH_INCOMPLETE,
)

__all__ = ["HeadScanner", "request_line", "content_length", "byte_class"]

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


def request_line(line: bytes) -> tuple[str, str, int, int] | None:
    """fh_parse_request_line: the strict form -> (method, target, major,
    minor), else None."""
    m = _REQUEST_LINE.fullmatch(line)
    if m is None:
        return None
    method, target, major, minor = m.groups()
    return (method.decode("latin-1"), target.decode("latin-1"),
            major[0] - 48, minor[0] - 48)


_CONTENT_LENGTH = re.compile(rb"[0-9]{1,18}[ \t]*")


def content_length(value: bytes) -> int:
    """fh_content_length: 1 to 18 ASCII digits, trailing SP/HTAB allowed ->
    the length, else -1."""
    if _CONTENT_LENGTH.fullmatch(value) is None:
        return -1
    return int(value.rstrip(b" \t"))


# -- the header block ------------------------------------------------------------

# Parser states, as in fh_parser.c.
_S_LINE_START = 0
_S_NAME = 1
_S_OWS = 2
_S_VALUE = 3
_S_VALUE_CR = 4
_S_BLANK_CR = 5
_S_EXTRA_LINE = 6


class HeadScanner:
    """fh_headers: an incremental scanner of one header block.

    feed(buf, base, length) scans buf[base:base + length], the bytes of the
    block seen so far (the same first byte at every call; `base` may change
    between calls). Positions kept between calls are relative to `base`, and
    so are the spans: ``spans`` holds (name offset, name length, value offset,
    value length) per header. Returns the bytes consumed (>= 0),
    FH_INCOMPLETE, or an FH_E_* code.
    """

    __slots__ = ("max_line", "max_lines", "max_head", "state", "pos",
                 "line_start", "name_end", "value_start", "value_end",
                 "lines", "spans")

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
        self.spans: list[tuple[int, int, int, int]] = []

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
        spans = self.spans
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
                    return FH_INCOMPLETE
                # limit_error()
                if (max_head and end >= head_end and end < ls + max_line):
                    return self._error(FH_E_HEAD_TOO_LARGE, ls - base)
                return self._error(FH_E_LINE_TOO_LONG, ls - base)

            if state == _S_LINE_START:
                if lines >= max_lines:
                    state = _S_EXTRA_LINE
                    continue
                # Fast path: a whole well-formed line within the limits.
                m = match_line(buf, pos, end)
                if m is not None:
                    name_start, name_stop = m.span(1)
                    value_begin, value_stop = m.span(2)
                    spans.append((name_start - base, name_stop - name_start,
                                  value_begin - base, value_stop - value_begin))
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
                    return self._error(FH_E_OBS_FOLD, ls - base)
                elif _TCHAR_TABLE[c]:
                    state = _S_NAME
                    pos += 1
                else:
                    return self._error(FH_E_NAME, ls - base)
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
                    return self._error(FH_E_SPACE_BEFORE_COLON, ls - base)
                if c == 13 or c == 10:
                    return self._error(FH_E_NO_COLON, ls - base)
                return self._error(FH_E_NAME, ls - base)

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
                    return self._error(FH_E_VALUE, ls - base)
                value_end = pos
                state = _S_VALUE_CR
                if c == 13:
                    pos += 1
                    continue
                # fall through: LF right after the value

            if state == _S_VALUE_CR:
                if buf[pos] != 10:
                    return self._error(FH_E_BARE_CR, ls - base)
                spans.append((ls - base, name_end - ls,
                              value_start - base, value_end - value_start))
                pos += 1
                lines += 1
                ls = pos
                state = _S_LINE_START
                continue

            if state == _S_BLANK_CR:
                if buf[pos] != 10:
                    return self._error(FH_E_BARE_CR, ls - base)
                self.lines = lines + 1
                self.pos = pos + 1 - base
                return pos + 1 - base

            if state == _S_EXTRA_LINE:
                # http.server reads the whole extra line before it complains,
                # so a too-long extra line is "line too long", else "too many".
                if buf.find(b"\n", pos, end) >= 0:
                    return self._error(FH_E_TOO_MANY_HEADERS, ls - base)
                pos = end
                continue

            return self._error(FH_E_NAME, ls - base)      # unreachable: corrupted state

    def _error(self, code: int, line_start: int) -> int:
        """An error: where its line starts is kept, as the C scanner does."""
        self.line_start = line_start
        return code

    def eof(self, length: int) -> int:
        """fh_headers_eof: the input ended after `length` bytes."""
        if self.lines >= self.max_lines:
            return FH_E_TOO_MANY_HEADERS     # http.server counts the EOF read too
        if (self.state == _S_LINE_START and self.pos == length
                and self.line_start == length):
            return length
        return FH_E_EOF_IN_LINE
