"""Whole requests before their handlers run: where a chunked body ends.

The engine runs a handler once its request is buffered whole, so that a
client sending its body slowly holds no thread (nginx's request buffering).
A Content-Length body is whole when that many bytes are in (request_state
tells); a chunked one when its last chunk and trailer section are, which
ChunkedScan finds, resumably, as bytes arrive: each byte is looked at once.

Anything it is unsure of (a malformed chunk, a body larger than the bound)
is left to the handler, which reads on its own thread and answers as
http.server (or read_body()) does.
"""
from __future__ import annotations

import re
from typing import Any

from fasthttp.body import MAX_CHUNK_LINE

__all__ = ["ChunkedScan", "head_length", "is_plain_chunked", "INCOMPLETE", "TO_HANDLER"]

INCOMPLETE = 0      # more bytes must arrive
TO_HANDLER = -1     # let the handler read it (malformed, too large)

# A chunk-size line, as fasthttp/body.py reads it (extensions allowed).
_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\r\n")
# In a request head: a Transfer-Encoding, Content-Length or Expect field.
_FRAMING_FIELD = re.compile(
    rb"\n(transfer-encoding|content-length|expect)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)

_SIZE, _DATA_END, _TRAILERS = 0, 1, 2


def head_length(rfile: Any) -> int:
    """Bytes from the first unread one to the end of the request head (its
    empty line), or 0 when that has not arrived."""
    ends = [i + k for i, k in ((rfile.find(b"\n\r\n"), 3), (rfile.find(b"\n\n"), 2)) if i >= 0]
    return min(ends) if ends else 0


def is_plain_chunked(head: bytes) -> bool:
    """A head whose body is chunked and nothing else: Transfer-Encoding
    "chunked" once, no Content-Length, no Expect, HTTP/1.1 (anything else
    the handler decides: it refuses what is ambiguous)."""
    if not head.split(b"\n", 1)[0].rstrip(b"\r").endswith(b" HTTP/1.1"):
        return False
    fields = _FRAMING_FIELD.findall(head)
    return (len(fields) == 1 and fields[0][0].lower() == b"transfer-encoding"
            and fields[0][1].strip(b" \t").lower() == b"chunked")


class ChunkedScan:
    """Finds where a chunked body ends in a reader's buffered bytes,
    resuming where it stopped when more arrive."""

    __slots__ = ("pos", "state", "limit", "trailer_bytes")

    def __init__(self, body_start: int, limit: int) -> None:
        self.pos = body_start   # offset from the reader's first unread byte
        self.state = _SIZE
        self.limit = limit      # the request may not take more than this
        self.trailer_bytes = 0

    def end(self, rfile: Any) -> int:
        """The whole request's length once its body's end is in;
        INCOMPLETE, or TO_HANDLER."""
        buffered = rfile.buffered()
        while True:
            if self.pos > self.limit:
                return TO_HANDLER
            if self.state == _DATA_END:
                if buffered < self.pos + 2:
                    return INCOMPLETE
                if rfile.find(b"\r\n", self.pos) != self.pos:
                    return TO_HANDLER       # chunk data not followed by CRLF
                self.pos += 2
                self.state = _SIZE
                continue
            lf = rfile.find(b"\n", self.pos)
            if lf < 0 or lf - self.pos >= MAX_CHUNK_LINE:
                if lf < 0 and buffered - self.pos < MAX_CHUNK_LINE:
                    return INCOMPLETE
                return TO_HANDLER
            line = rfile.look(self.pos, lf + 1)
            self.pos = lf + 1
            if self.state == _TRAILERS:
                if line == b"\r\n":
                    return self.pos
                self.trailer_bytes += len(line)
                if not line.endswith(b"\r\n") or self.trailer_bytes > MAX_CHUNK_LINE * 4:
                    return TO_HANDLER
                continue
            size = _SIZE_LINE.fullmatch(line)
            if size is None:
                return TO_HANDLER
            n = int(size.group(1), 16)
            if n == 0:
                self.state = _TRAILERS
            else:
                self.pos += n
                self.state = _DATA_END
