"""Request bodies: read_body() and its chunked decoding (RFC 9112 section 7).

http.server has no such method (its handlers read ``rfile`` themselves);
fasthttp's BaseHTTPRequestHandler.read_body() is the function here. How the
body is framed was decided once, when the head was parsed (fasthttp.head's
Head.framing); read_body() and the discard of an unread body act on it.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any, Optional

from fasthttp import _core
from fasthttp.errors import BodyError, HeadError
from fasthttp.head import (
    FRAMING_CHUNKED,
    FRAMING_LENGTH,
    Head,
    max_headers,
    max_line,
)
from fasthttp.request import exact_message, refuse

__all__ = ["read_body", "read_chunked", "discard_body", "MAX_CHUNK_LINE"]

# chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1); at most 16 hex digits, so the
# size fits in 64 bits; extensions hold no control bytes but HTAB.
_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\r\n")

MAX_CHUNK_LINE = 4096       # a chunk-size line, extensions included
# Framing bytes a chunked body may take: this much, plus one per
# _FRAMING_RATIO bytes of data (chunks of ~40 bytes and up, on average).
_FRAMING_ALLOWANCE = 64 * 1024
_FRAMING_RATIO = 8


def read_body(self: Any, limit: Optional[int] = None) -> bytes:
    """Read and return the request body, as its headers frame it.

    Reads exactly Content-Length bytes, or decodes a chunked body (chunk
    extensions ignored; trailer fields, if any, become ``self.trailers``,
    a MessageClass instance). A request with neither has no body (b"").
    At most ``limit`` bytes (default: ``max_body_bytes``); a larger body
    gets 413, a malformed or cut-short one 400 — sent by this method,
    which then raises BodyError (handle() ends the connection quietly if
    you let it escape). Afterwards the connection is positioned at the
    next request, so keep-alive and pipelining work. The stdlib has no
    such method: there, handlers read ``rfile`` themselves.
    """
    # Once per request: the handler (and so this attribute) lives as long
    # as the connection, each request brings a new head.
    request = _request_head(self)
    if self.__dict__.get("_fh_body_of") is request:
        return b""
    self._fh_body_of = request
    self.trailers = None
    if limit is None:
        limit = self.max_body_bytes
    try:
        return _read(self, request, limit)
    except BodyError as err:
        refuse(self, HTTPStatus(err.status), err.reason)
        raise


def _read(self: Any, request: Head, limit: Optional[int]) -> bytes:
    if request.framing == FRAMING_CHUNKED:
        return read_chunked(self, limit)
    if request.refusal is not None:     # (parse_request has refused it)
        status, reason = request.refusal
        raise BodyError(status, reason)
    if request.framing != FRAMING_LENGTH:
        return b""
    length = request.content_length
    if limit is not None and length > limit:
        raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body larger than %d bytes" % limit)
    body: bytes = self.rfile.read(length)
    if len(body) < length:
        raise BodyError(HTTPStatus.BAD_REQUEST, "body cut short")
    return body


def _request_head(self: Any) -> Head:
    """The current request's head, as parse_request kept it; for a handler
    whose parse_request is not fasthttp's, the head of self.headers."""
    request: Optional[Head] = self.__dict__.get("_fh_head")
    if request is None:
        text = "".join(["%s: %s\r\n" % pair for pair in self.headers.items()]) + "\r\n"
        request = _core.read_head(io.BytesIO(text.encode("latin-1", "replace")),
                                  len(text) + 1, len(self.headers) + 1, 0)
    return request


def _chunks(rfile: Any, limit: Optional[int]) -> Iterator[bytes]:
    """The data of each chunk of a chunked body, up to the last chunk (the
    trailer section is left to the caller). Each line ends in CRLF, as
    llhttp and h11 require: a bare LF there is refused. The framing (size
    lines, CRLFs) may cost at most _FRAMING_ALLOWANCE bytes plus one per
    _FRAMING_RATIO bytes of data, so tiny chunks cannot multiply the work
    per byte of body. Raises BodyError."""
    total = 0
    framing = 0
    while True:
        line = rfile.readline(MAX_CHUNK_LINE + 1)
        match = _CHUNK_SIZE_LINE.fullmatch(line)
        if match is None:
            raise BodyError(HTTPStatus.BAD_REQUEST, "invalid chunk size line")
        size = int(match.group(1), 16)
        if size == 0:
            return
        total += size
        if limit is not None and total > limit:
            raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            "body larger than %d bytes" % limit)
        framing += len(line) + 2
        if framing > _FRAMING_ALLOWANCE + total // _FRAMING_RATIO:
            raise BodyError(HTTPStatus.BAD_REQUEST, "chunks too small")
        data = rfile.read(size)
        if len(data) < size or rfile.read(2) != b"\r\n":
            raise BodyError(HTTPStatus.BAD_REQUEST, "invalid chunk data")
        yield data


def _trailer_fields(self: Any) -> list[tuple[str, str]]:
    try:
        pairs: list[tuple[str, str]] = _core.read_headers(
            self.rfile, max_line(), max_headers(), self.max_head_bytes)
    except HeadError as err:
        raise BodyError(HTTPStatus.BAD_REQUEST, "trailer: " + err.reason) from None
    return pairs


def read_chunked(self: Any, limit: Optional[int]) -> bytes:
    """A chunked body's data, its trailer fields in self.trailers. Raises
    BodyError (unanswered: read_body answers)."""
    # One buffer, grown as chunks arrive: memory follows the body's size,
    # not its chunk count.
    body = bytearray()
    for data in _chunks(self.rfile, limit):
        body += data
    trailers = _trailer_fields(self)
    if trailers:
        self.trailers = exact_message(self, trailers)
    return bytes(body)


def discard_body(self: Any, request: Head, consumed: int, bound: int) -> bool:
    """Read and drop what the handler left of the request's body, `consumed`
    bytes of which it has read: at most `bound` bytes more. True if the
    connection is now at the next request; False if it must close (the rest
    is larger, malformed, cut short, or, for a chunked body the handler began
    to read itself, of unknown length)."""
    rfile = self.rfile
    if request.framing == FRAMING_CHUNKED:
        if consumed:
            return False
        try:
            for _ in _chunks(rfile, bound):
                pass
            _trailer_fields(self)
        except BodyError:
            return False
        return True
    if request.framing != FRAMING_LENGTH:
        return False
    left = request.content_length - consumed
    if left <= 0:
        return True
    if left > bound:
        return False
    return len(rfile.read(left)) == left
