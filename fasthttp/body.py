"""Request bodies: read_body() and its chunked decoding (RFC 9112 section 7).

http.server has no such method (its handlers read ``rfile`` themselves);
fasthttp's BaseHTTPRequestHandler.read_body() is the function here.
"""
from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any, NoReturn, Optional

from fasthttp import _core
from fasthttp.errors import BodyError, HeadError
from fasthttp.head import content_length
from fasthttp.request import exact_message, max_headers, max_line, refuse

__all__ = ["read_body", "read_chunked", "body_error", "MAX_CHUNK_LINE"]

# chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1); at most 16 hex digits, so the
# size fits in 64 bits; extensions hold no control bytes but HTAB.
_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?\r?\n")

MAX_CHUNK_LINE = 4096       # a chunk-size line, extensions included


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


def read_chunked(self: Any, limit: Optional[int]) -> bytes:
    rfile = self.rfile
    parts: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(MAX_CHUNK_LINE + 1)
        match = _CHUNK_SIZE_LINE.fullmatch(line)
        if match is None:
            return body_error(self, HTTPStatus.BAD_REQUEST, "invalid chunk size line")
        size = int(match.group(1), 16)
        if size == 0:
            break
        total += size
        if limit is not None and total > limit:
            body_error(self, HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                "body larger than %d bytes" % limit)
        data = rfile.read(size)
        end = rfile.read(1)
        if end == b"\r":
            end = rfile.read(1)
        if len(data) < size or end != b"\n":
            body_error(self, HTTPStatus.BAD_REQUEST, "invalid chunk data")
        parts.append(data)
    try:
        trailers = _core.read_headers(rfile, max_line(), max_headers(),
                                      self.max_head_bytes)
    except HeadError as err:
        return body_error(self, HTTPStatus.BAD_REQUEST, "trailer: " + err.reason)
    if trailers:
        self.trailers = exact_message(self, trailers)
    return b"".join(parts)

def body_error(self: Any, status: HTTPStatus, reason: str) -> NoReturn:
    refuse(self, status, reason)
    raise BodyError(int(status), reason)
