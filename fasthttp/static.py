"""Serving files: byte ranges and zero-copy bodies for SimpleHTTPRequestHandler.

``FileServing`` is a mixin placed before http.server.SimpleHTTPRequestHandler
in the MRO (fasthttp.server.SimpleHTTPRequestHandler uses it). It adds:

- ``Range: bytes=...`` for GET (one range: ``a-b``, ``a-``, ``-n``): 206 with
  ``Content-Range``; 416 with ``Content-Range: bytes */size`` when the range
  lies past the end; ``If-Range`` with an HTTP-date (compared with the file's
  Last-Modified; we send no ETag, so an entity-tag never matches). A
  position past 2**63 - 1 (a file offset's limit) is a 416, as nginx answers.
  Several ranges, a malformed header or another unit get the whole file
  (200), as RFC 9110 14.2 allows. ``Accept-Ranges: bytes`` on every file response.
  HEAD answers as GET without Range would (RFC 9110 defines ranges for GET
  only).
- Regular files only: a FIFO, a device or a socket in the directory gets
  the answer for a missing file (404, as nginx), never an open() that
  waits for a FIFO's writer or a body that never ends.
- File bodies sent with ``os.sendfile`` when the handler writes straight to
  a plain TCP/Unix socket (fasthttp's SocketWriter, or socketserver's
  unbuffered writer); TLS, a buffered wfile or a platform without sendfile
  use ``shutil.copyfileobj`` as http.server does.

The hooks stay http.server's and are called as it calls them: send_head()
calls translate_path, guess_type, list_directory, send_response/send_header/
end_headers, send_error; do_GET calls copyfile(source, self.wfile). A
subclass overriding any of them keeps working; copyfile's sendfile path only
runs where ours is called. For a range, send_head returns a file-like object
whose read() stops at the range's end (any copyfile that reads it works).

The mixin depends on the standard library and fasthttp._core only, so the
stdlib's class can take it too.
"""

from __future__ import annotations

import datetime
import email.utils
import http.server
import mimetypes
import os
import select
import shutil
import socket
import socketserver
import stat
import urllib.parse
from http import HTTPStatus
from typing import Any, BinaryIO, Literal, Optional, Union

from fasthttp import _core

__all__ = ["FileServing"]

_sendfile = getattr(os, "sendfile", None)

# Bodies up to this size are read and written rather than sent with
# sendfile when the writer queues a response (LoopHTTPServer): the head and
# the body then leave in one send().
_QUEUED_BODY_LIMIT = 64 * 1024

_SENDFILE_CHUNK = 1 << 30       # bytes per sendfile() call at most
_COPY_CHUNK = 64 * 1024         # bytes per read() where the body is copied (as shutil)

# Memos for the pure per-request computations, used only while the hook is
# http.server's own (a subclass's override is always called): the file path
# for a URL path and directory, the Content-type for a file path (while the
# mimetypes tables and the class's extensions_map keep their size), the
# Last-Modified text for an mtime. Together ~15 us of a ~45 us send_head.
_MEMO_LIMIT = 1024
_translated: dict[tuple[str, str], str] = {}
_types: dict[tuple[type, int, Optional[str], str], str] = {}
_types_token: tuple[int, int] = (0, -1)
_dates: dict[float, str] = {}
_STD_TRANSLATE = http.server.SimpleHTTPRequestHandler.translate_path
_STD_GUESS_TYPE = http.server.SimpleHTTPRequestHandler.guess_type
# 3.15+: a file's response carries the handler's extra_response_headers (-H).
_EXTRA_HEADERS = hasattr(http.server.SimpleHTTPRequestHandler, "_send_extra_response_headers")


def _remember(memo: dict[Any, str], key: Any, value: str) -> str:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value


def _std_date_functions() -> tuple[Any, ...]:
    """date_time_string implementations that are pure functions of the
    timestamp: http.server's and fasthttp's."""
    global _DATE_FUNCTIONS
    if _DATE_FUNCTIONS is None:
        _DATE_FUNCTIONS = (http.server.BaseHTTPRequestHandler.date_time_string,
                           _core.handler_methods["date_time_string"])
    return _DATE_FUNCTIONS


_DATE_FUNCTIONS: Optional[tuple[Any, ...]] = None


class _FileRange:
    """What send_head returns for a 206: the open file, positioned at the
    range's start, whose read() ends at the range's end. close() closes the
    file. (copyfile sends the range with sendfile where it can.)"""

    def __init__(self, file: BinaryIO, start: int, length: int) -> None:
        self.file = file
        self.start = start
        self.remaining = length
        file.seek(start)

    @property
    def name(self) -> Any:
        return self.file.name

    @property
    def closed(self) -> bool:
        return self.file.closed

    def fileno(self) -> int:
        return self.file.fileno()

    def readable(self) -> bool:
        return True

    def read(self, size: Optional[int] = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = self.file.read(size)
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> _FileRange:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_range(value: str, size: int) -> Union[None, Literal[False], tuple[int, int]]:
    """One ``bytes=`` range against a file of ``size`` bytes: (start, end)
    inclusive; False if it cannot be satisfied (416); None to ignore the
    header (not bytes, malformed, several ranges). A position past the
    largest file offset (2**63 - 1) cannot be satisfied either, as nginx
    answers; leading zeros do not count (int() is never given more than
    19 digits: it refuses a few thousand)."""
    unit, sep, spec = value.partition("=")
    if not sep or unit.strip(" \t").lower() != "bytes":
        return None
    spec = spec.strip(" \t")
    if "," in spec:
        return None         # several ranges: the whole file (RFC 9110 14.2)
    first, sep, last = spec.partition("-")
    if not sep or not _digits(last, allow_empty=True) or \
            not _digits(first, allow_empty=True) or not (first or last):
        return None
    start, stop = _offset(first or "0"), _offset(last or "0")
    if start is None or stop is None:
        return False                            # past any file: 416, as nginx
    if not first:                               # -n: the last n bytes
        if stop == 0 or size == 0:
            return False
        return max(size - stop, 0), size - 1
    if last and stop < start:
        return None                             # invalid: ignore
    if start >= size:
        return False
    end = size - 1 if not last else min(stop, size - 1)
    return start, end


_MAX_OFFSET = (1 << 63) - 1     # off_t's largest value: nginx refuses more


def _offset(digits: str) -> Optional[int]:
    """A byte position written in ASCII digits; None past _MAX_OFFSET."""
    significant = digits.lstrip("0")
    if len(significant) > len(str(_MAX_OFFSET)):
        return None
    value = int(significant or "0")
    return value if value <= _MAX_OFFSET else None


def _digits(text: str, allow_empty: bool) -> bool:
    return (not text and allow_empty) or (text.isascii() and text.isdigit())


def _open_nonblocking(path: str, flags: int) -> int:
    """open()'s opener: O_NONBLOCK, so that opening a FIFO with no writer
    returns at once instead of waiting for one (send_head then refuses it);
    a regular file reads as it would without the flag."""
    return os.open(path, flags | _O_NONBLOCK)


_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def _writer_types() -> tuple[type, ...]:
    """The wfile types that write straight to the socket, holding back at
    most a header block that flush() sends."""
    global _WRITERS
    if _WRITERS is None:
        _WRITERS = (socketserver._SocketWriter, _core.SocketWriter)  # type: ignore[attr-defined]
    return _WRITERS


_WRITERS: Optional[tuple[type, ...]] = None


def _wait_writable(fd: int, timeout: Optional[float]) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    if not poller.poll(None if timeout is None else timeout * 1000):
        raise socket.timeout("timed out")


class FileServing:
    """Mixin for http.server.SimpleHTTPRequestHandler (put it before that
    class in the bases): byte ranges and sendfile. See the module's doc."""

    # Declared for type checkers; the handler classes provide them.
    path: str
    command: str
    headers: Any
    wfile: Any
    connection: Any
    close_connection: bool

    # send_head -> copyfile: the file whose body we know (its size), so
    # copyfile needs no fstat of its own.
    _fh_body: Optional[tuple[Any, int]] = None

    def send_head(self) -> Any:
        """http.server's send_head, plus Range (see the module's doc)."""
        me: Any = self
        cls: Any = type(self)
        if cls.translate_path is _STD_TRANSLATE:
            key = (me.directory, self.path)
            path = _translated.get(key) or _remember(_translated, key,
                                                     me.translate_path(self.path))
        else:
            path = me.translate_path(self.path)
        if os.path.isdir(path):
            parts = urllib.parse.urlsplit(self.path)
            if not parts.path.endswith("/"):
                return super().send_head()  # type: ignore[misc]  # the redirect
            for index in getattr(self, "index_pages", ("index.html", "index.htm")):
                index = os.path.join(path, index)
                if os.path.isfile(index):     # as http.server: a regular file only
                    path = index
                    break
            else:
                return me.list_directory(path)
        ctype = self._fh_guess_type(path)
        # As http.server: a trailing "/" is a 404 even where the OS would
        # open such a name (bpo-17324, bpo-34711).
        if path.endswith("/"):
            me.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            f = open(path, "rb", opener=_open_nonblocking)
        except OSError:
            me.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            fs = os.fstat(f.fileno())
            if not stat.S_ISREG(fs.st_mode):
                # A FIFO, a device, a socket: nothing a Content-Length can
                # describe, and reading one could wait forever. nginx: 404.
                f.close()
                me.send_error(HTTPStatus.NOT_FOUND, "File not found")
                return None
            if self._fh_not_modified(fs.st_mtime):
                me.send_response(HTTPStatus.NOT_MODIFIED)
                me.end_headers()
                f.close()
                return None
            size = fs.st_size
            mtime = fs.st_mtime
            if cls.date_time_string in _std_date_functions():
                last_modified = _dates.get(mtime) or _remember(
                    _dates, mtime, me.date_time_string(mtime))
            else:
                last_modified = me.date_time_string(mtime)
            byte_range = self._fh_range(size, fs.st_mtime)
            if byte_range is False:
                me.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                me.send_header("Content-Range", "bytes */%d" % size)
                me.send_header("Content-Length", "0")
                me.end_headers()
                f.close()
                return None
            if byte_range is None:
                me.send_response(HTTPStatus.OK)
                me.send_header("Content-type", ctype)
                me.send_header("Content-Length", str(size))
                me.send_header("Last-Modified", last_modified)
                me.send_header("Accept-Ranges", "bytes")
                if _EXTRA_HEADERS:
                    self._send_extra_response_headers()
                me.end_headers()
                self._fh_body = (f, size)
                return f
            start, end = byte_range
            me.send_response(HTTPStatus.PARTIAL_CONTENT)
            me.send_header("Content-type", ctype)
            me.send_header("Content-Length", str(end - start + 1))
            me.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            me.send_header("Last-Modified", last_modified)
            if _EXTRA_HEADERS:
                self._send_extra_response_headers()
            me.end_headers()
            return _FileRange(f, start, end - start + 1)
        except BaseException:
            f.close()
            raise

    def _send_extra_response_headers(self) -> None:
        """http.server's (3.15+): each of extra_response_headers that the
        response does not have yet. The stdlib's reads a list its own
        send_header keeps (and a keyword fasthttp's send_header does not
        take); this one reads the header lines buffered so far, which every
        send_header writes."""
        extra = getattr(self, "extra_response_headers", None)
        if extra is None:
            return
        me: Any = self
        sent = {line.split(b":", 1)[0].lower()
                for line in getattr(self, "_headers_buffer", ())
                if b":" in line and not line.startswith(b"HTTP/")}
        for header, value in extra:
            if header.lower().encode("latin-1", "replace") not in sent:
                me.send_header(header, value)

    def _fh_guess_type(self, path: str) -> str:
        me: Any = self
        cls: Any = type(self)
        if cls.guess_type is not _STD_GUESS_TYPE:
            return me.guess_type(path)  # type: ignore[no-any-return]
        global _types_token
        token = (id(getattr(mimetypes, "_db", None)), len(mimetypes.types_map))
        if token != _types_token:
            _types.clear()      # mimetypes.init() or add_type() since
            _types_token = token
        # 3.15's guess_type falls back on default_content_type (--content-type)
        key = (cls, len(me.extensions_map), getattr(me, "default_content_type", None), path)
        return _types.get(key) or _remember(_types, key, me.guess_type(path))

    def _fh_not_modified(self, mtime: float) -> bool:
        """If-Modified-Since, evaluated as http.server's send_head does."""
        headers = self.headers
        if "If-Modified-Since" not in headers or "If-None-Match" in headers:
            return False
        try:
            ims = email.utils.parsedate_to_datetime(headers["If-Modified-Since"])
        except (TypeError, IndexError, OverflowError, ValueError):
            return False        # ill-formed: ignored
        if ims.tzinfo is None:
            # obsolete format with no timezone (RFC 7231 7.1.1.1)
            ims = ims.replace(tzinfo=datetime.timezone.utc)
        if ims.tzinfo is not datetime.timezone.utc:
            return False
        last_modif = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
        return last_modif.replace(microsecond=0) <= ims

    def _fh_range(self, size: int, mtime: float) -> Union[None, Literal[False], tuple[int, int]]:
        """The Range to serve: (start, end), False for 416, None for all."""
        if self.command != "GET":
            return None
        headers = self.headers
        value = headers.get("Range")
        if value is None:
            return None
        if_range = headers.get("If-Range")
        if if_range is not None and not self._fh_if_range_holds(if_range, mtime):
            return None
        return _parse_range(value, size)

    def _fh_if_range_holds(self, value: str, mtime: float) -> bool:
        """If-Range: an HTTP-date equal to the file's Last-Modified. We send
        no ETag, so an entity-tag never matches."""
        value = value.strip(" \t")
        if value.startswith(('"', "W/")):
            return False
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, IndexError, OverflowError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return int(when.timestamp()) == int(mtime)

    def copyfile(self, source: Any, outputfile: Any) -> None:
        """http.server's copyfile, with os.sendfile where it can: a regular
        file to a socket this handler writes straight to (not TLS).

        A body whose Content-Length send_head gave is never more or fewer
        bytes than that on an open connection, however the file changes
        meanwhile: at most that many are sent, and where the file ended
        first the connection is closed."""
        body = self._fh_body
        self._fh_body = None
        if type(source) is _FileRange:
            in_file: Any = source.file
            offset = in_file.tell()
            count = source.remaining
        elif body is not None and body[0] is source:
            in_file = source
            offset = source.tell()
            count = body[1] - offset
        else:
            shutil.copyfileobj(source, outputfile)      # not send_head's: as http.server
            return
        if outputfile is not self.wfile:
            shutil.copyfileobj(source, outputfile)
            return
        if count <= 0:
            return
        # (Our handler's socket without taking it: see handler.py.)
        sock = self.__dict__.get("connection") or self.connection
        if _sendfile is None or type(outputfile) not in _writer_types() or \
                type(sock) is not socket.socket or \
                (getattr(outputfile, "queueing", False) and count <= _QUEUED_BODY_LIMIT):
            # TLS, a buffered or wrapped wfile, or (on the engine) a small
            # body, which joins the queued head in one send().
            sent = _copy(source, outputfile, count)
        elif getattr(outputfile, "queueing", False):
            # On the engine: a large body is queued as a file, which the loop
            # sends with sendfile as the client takes it (never waiting for
            # it); where the file ends early, the writer ends the connection.
            outputfile.queue_file(os.dup(in_file.fileno()), offset, count)
            return
        else:
            timeout = sock.gettimeout()
            if timeout == 0.0:      # non-blocking (LoopHTTPServer): wait as it does
                timeout = getattr(outputfile, "io_timeout", None)
            # A header block held back with MSG_MORE leaves with sendfile's
            # first bytes (sendfile pushes when it ends).
            sent = _send_file(sock.fileno(), in_file.fileno(), offset, count, timeout)
        if sent < count:
            # The file shrank after its Content-Length was sent: the client
            # cannot read the next response off this connection.
            self.close_connection = True


def _copy(source: Any, outputfile: Any, count: int) -> int:
    """Copy ``count`` bytes of source to outputfile, or fewer where source
    ends first (never more: the file may have grown). Returns the bytes
    copied."""
    left = count
    while left:
        data = source.read(min(left, _COPY_CHUNK))
        if not data:
            break
        outputfile.write(data)
        left -= len(data)
    return count - left


def _send_file(out_fd: int, in_fd: int, offset: int, count: int,
               timeout: Optional[float]) -> int:
    """sendfile() until count bytes are sent or the file ends; waits up to
    ``timeout`` for room when the socket is non-blocking (a socket with a
    timeout is, underneath). Returns the bytes sent."""
    assert _sendfile is not None
    total = 0
    while total < count:
        try:
            sent = _sendfile(out_fd, in_fd, offset + total,
                             min(count - total, _SENDFILE_CHUNK))
        except BlockingIOError:
            _wait_writable(out_fd, timeout)
            continue
        if sent == 0:
            break           # end of file
        total += sent
    return total
