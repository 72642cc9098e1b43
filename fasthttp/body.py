"""Request bodies: read_body() and its chunked decoding (RFC 9112 section 7).

http.server has no such method (its handlers read ``rfile`` themselves);
fasthttp's BaseHTTPRequestHandler.read_body() is the function here.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any, NoReturn, Optional

from fasthttp import _core
from fasthttp.errors import BodyError, HeadError
from fasthttp.head import content_length
from fasthttp.request import exact_message, max_headers, max_line, refuse

__all__ = ["read_body", "read_chunked", "discard_body", "body_error", "MAX_CHUNK_LINE"]

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
    # as the connection, each request brings a new headers object.
    headers = self.headers
    if self.__dict__.get("_fh_body_of") is headers:
        return b""
    self._fh_body_of = headers
    self.trailers = None
    if limit is None:
        limit = self.max_body_bytes
    if headers.get("Transfer-Encoding") is not None:
        return read_chunked(self, limit)
    length_field = headers.get("Content-Length")
    if length_field is None:
        return b""
    length = content_length(length_field)
    if length is None:      # parse_request's framing check let it through?
        body_error(self, HTTPStatus.BAD_REQUEST, "invalid Content-Length")
    if limit is not None and length > limit:
        body_error(self, HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            "body larger than %d bytes" % limit)
    body: bytes = self.rfile.read(length)
    if len(body) < length:
        body_error(self, HTTPStatus.BAD_REQUEST, "body cut short")
    return body


class _BadChunks(Exception):
    """A chunked body that cannot be read: its status and reason."""

    def __init__(self, status: HTTPStatus, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


def _chunks(rfile: Any, limit: Optional[int]) -> Iterator[bytes]:
    """The data of each chunk of a chunked body, up to the last chunk (the
    trailer section is left to the caller). Each line ends in CRLF, as
    llhttp and h11 require: a bare LF there is refused. The framing (size
    lines, CRLFs) may cost at most _FRAMING_ALLOWANCE bytes plus one per
    _FRAMING_RATIO bytes of data, so tiny chunks cannot multiply the work
    per byte of body."""
    total = 0
    framing = 0
    while True:
        line = rfile.readline(MAX_CHUNK_LINE + 1)
        match = _CHUNK_SIZE_LINE.fullmatch(line)
        if match is None:
            raise _BadChunks(HTTPStatus.BAD_REQUEST, "invalid chunk size line")
        size = int(match.group(1), 16)
        if size == 0:
            return
        total += size
        if limit is not None and total > limit:
            raise _BadChunks(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                             "body larger than %d bytes" % limit)
        framing += len(line) + 2
        if framing > _FRAMING_ALLOWANCE + total // _FRAMING_RATIO:
            raise _BadChunks(HTTPStatus.BAD_REQUEST, "chunks too small")
        data = rfile.read(size)
        if len(data) < size or rfile.read(2) != b"\r\n":
            raise _BadChunks(HTTPStatus.BAD_REQUEST, "invalid chunk data")
        yield data


def _trailer_fields(self: Any) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = _core.read_headers(
        self.rfile, max_line(), max_headers(), self.max_head_bytes)
    return pairs


def read_chunked(self: Any, limit: Optional[int]) -> bytes:
    # One buffer, grown as chunks arrive: memory follows the body's size,
    # not its chunk count.
    body = bytearray()
    try:
        for data in _chunks(self.rfile, limit):
            body += data
    except _BadChunks as err:
        body_error(self, err.status, err.reason)
    try:
        trailers = _trailer_fields(self)
    except HeadError as err:
        return body_error(self, HTTPStatus.BAD_REQUEST, "trailer: " + err.reason)
    if trailers:
        self.trailers = exact_message(self, trailers)
    return bytes(body)


def discard_body(self: Any, consumed: int, bound: int) -> bool:
    """Read and drop what the handler left of the current request's body,
    `consumed` bytes of which it has read: at most `bound` bytes more.
    True if the connection is now at the next request; False if it must
    close (the rest is larger, malformed, cut short, or, for a chunked body
    the handler began to read itself, of unknown length)."""
    headers = self.headers
    rfile = self.rfile
    if headers.get("Transfer-Encoding") is not None:
        if consumed:
            return False
        try:
            for _ in _chunks(rfile, bound):
                pass
            _trailer_fields(self)
        except (_BadChunks, HeadError):
            return False
        return True
    length = content_length(headers.get("Content-Length", ""))
    if length is None:
        return False
    left = length - consumed
    if left <= 0:
        return True
    if left > bound:
        return False
    return len(rfile.read(left)) == left


def body_error(self: Any, status: HTTPStatus, reason: str) -> NoReturn:
    refuse(self, status, reason)
    raise BodyError(int(status), reason)
