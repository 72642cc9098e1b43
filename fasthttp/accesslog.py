"""The CLI's logs on stderr: the access log (common, JSON or off) and the
server's own events (a worker restarted, a reload, a handler's traceback).

- common: http.server's lines, byte for byte; the server's events as
  `fasthttp: ...` lines.
- json: every line on stderr is one JSON object with an `event`: request,
  error (http.server's log_error lines), disconnect, exception (a
  handler's traceback), start, worker, reload, log. The human banner stays
  on stdout, as http.server prints it; `start` repeats it in the stream.
- off: no request lines; errors and events as with common.

Every field is escaped as http.server escapes its log messages (C0 and C1
control characters and DEL as \\xNN, a backslash doubled): nothing a client
sends reaches a terminal or a log parser raw, in either format.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import socketserver
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable, Optional

from fasthttp import _core, server
from fasthttp.graceful import client_went_away

__all__ = ["ACCESS_LOG_FORMATS", "JsonLogMixIn", "NoRequestLogMixIn", "LoggedErrorsMixIn",
           "escape", "json_line", "write_record", "log_events_to_stderr"]

ACCESS_LOG_FORMATS = ("common", "json", "off")

# http.server's table (3.12; and its security releases before): C0, DEL and
# C1 controls as \xNN, and the backslash doubled.
_ESCAPES = {c: "\\x%02x" % c for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES[ord("\\")] = "\\\\"

if TYPE_CHECKING:
    _HandlerBase = server.BaseHTTPRequestHandler
    _ServerBase = socketserver.TCPServer
else:
    _HandlerBase = _ServerBase = object


def escape(value: Any) -> Any:
    """A log field made safe: strings escaped, other values as they are."""
    return value.translate(_ESCAPES) if isinstance(value, str) else value


def json_line(record: dict[str, Any]) -> str:
    """One JSON object, its string fields escaped; no newline."""
    return json.dumps({k: escape(v) for k, v in record.items()}, ensure_ascii=True)


def _now(timestamp: float | None = None) -> str:
    when = datetime.datetime.now(datetime.timezone.utc) if timestamp is None else \
        datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return when.isoformat(timespec="milliseconds")


def _log_time() -> str:
    """http.server's log_date_time_string(), without a handler."""
    year, month, day, hh, mm, ss, *_ = time.localtime()
    return "%02d/%3s/%04d %02d:%02d:%02d" % (
        day, server.BaseHTTPRequestHandler.monthname[month], year, hh, mm, ss)


def _write(record: dict[str, Any]) -> None:
    sys.stderr.write(json_line(record) + "\n")


def write_record(event: str, message: str, **fields: Any) -> None:
    """A JSON record of the server's own (start, exit) on stderr."""
    _write({"time": _now(), "event": event, "message": message, **fields,
            "pid": os.getpid()})


# -- the handler side: one record per request -------------------------------------

class _CountingWriter:
    """The handler's wfile during one request when the log is JSON: counts
    the body bytes written through it. (http.server logs from send_response,
    before any body exists, so the size is known only at the end.)"""

    __slots__ = ("raw", "body_bytes")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.body_bytes = 0

    def write(self, data: Any) -> Any:
        n = self.raw.write(data)
        if n:
            self.body_bytes += n
        return n

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name: str) -> Any:   # fileno() for CGI, closed, ...
        return getattr(self.raw, name)


class JsonLogMixIn(_HandlerBase):
    """One JSON object a line on stderr for each request, written once the
    response is done (so with its size and duration), and for each error."""

    _fh_status: Optional[int] = None
    _fh_started = 0.0
    _fh_requests = 0        # on this connection, as nginx's $connection_requests

    def handle_one_request(self) -> None:
        self._fh_status = None
        self._fh_started = time.monotonic()
        raw = self.wfile
        if type(raw) is _core.SocketWriter:
            # Ours counts its body bytes: the handler keeps it (and files
            # still go out with sendfile).
            before = raw.body_bytes
            try:
                super().handle_one_request()
            finally:
                if self._fh_status_code() is not None:
                    self._fh_requests += 1
                    self._fh_write_request(raw.body_bytes - before)
            return
        counter = _CountingWriter(raw)
        self.wfile = counter
        try:
            super().handle_one_request()
        finally:
            if self.wfile is counter:
                self.wfile = raw
            if self._fh_status_code() is not None:
                self._fh_requests += 1
                self._fh_write_request(counter.body_bytes)

    def _fh_status_code(self) -> Optional[int]:
        return self._fh_status      # (set meanwhile by log_request)

    def parse_request(self) -> bool:
        self._fh_started = time.monotonic()     # the request line is in
        ok: bool = super().parse_request()
        return ok

    def flush_headers(self) -> None:
        # The handler's own, on the writer underneath: the header block is
        # not body (and our SocketWriter sends it held back with the body).
        counter = self.wfile
        if type(counter) is not _CountingWriter:
            super().flush_headers()
            return
        self.wfile = counter.raw
        try:
            super().flush_headers()
        finally:
            self.wfile = counter

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            self._fh_status = int(code)     # an HTTPStatus too
        except (TypeError, ValueError):
            self._fh_status = None

    def log_error(self, format: str, *args: Any) -> None:
        _write({"time": _now(), "event": "error", "remote": self._fh_remote(),
                "method": getattr(self, "command", None) or None,
                "path": getattr(self, "path", None),
                "message": format % args, "pid": os.getpid()})

    def _fh_remote(self) -> Any:
        return self.client_address[0] if self.client_address else None

    def _fh_write_request(self, size: int) -> None:
        headers: Any = getattr(self, "headers", None)
        get: Callable[[str], Any] = headers.get if hasattr(headers, "get") else (lambda n: None)
        _write({
            "time": _now(), "event": "request", "remote": self._fh_remote(),
            "method": getattr(self, "command", None) or None,
            "path": getattr(self, "path", None),
            "version": getattr(self, "request_version", None),
            "status": self._fh_status, "size": size,
            "duration_ms": round((time.monotonic() - self._fh_started) * 1000.0, 3),
            "referer": get("Referer"), "user_agent": get("User-Agent"),
            "connection_requests": self._fh_requests, "pid": os.getpid(),
        })


class NoRequestLogMixIn(_HandlerBase):
    """--access-log off: no request lines (log_error still writes)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


# -- the server side: a client going away, a handler's exception --------------------

class LoggedErrorsMixIn(_ServerBase):
    """A client going away is one log line (none with `off`), not a
    traceback; with the JSON log, a handler's traceback is a record too."""

    #: One of ACCESS_LOG_FORMATS (a keyword argument of the constructor).
    access_log = "common"

    def __init__(self, *args: Any, access_log: str | None = None, **kwargs: Any) -> None:
        if access_log is not None:
            self.access_log = access_log
        super().__init__(*args, **kwargs)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        host = client_address[0] if isinstance(client_address, tuple) and client_address \
            else "unix:"
        if not client_went_away(exc):
            if self.access_log != "json":
                super().handle_error(request, client_address)
                return
            _write({"time": _now(), "event": "exception", "remote": host,
                    "message": "%s: %s" % (type(exc).__name__, exc),
                    "traceback": traceback.format_exc(), "pid": os.getpid()})
            return
        if self.access_log == "off":
            return
        if self.access_log == "json":
            _write({"time": _now(), "event": "disconnect", "remote": host,
                    "message": "client closed the connection (%s)" % type(exc).__name__,
                    "pid": os.getpid()})
        else:
            sys.stderr.write("%s - - [%s] client closed the connection (%s)\n" % (
                escape(host), _log_time(), type(exc).__name__))


# -- the server's own events (logging.getLogger("fasthttp")) ------------------------

class _JsonEventFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {"time": _now(record.created), "event": getattr(record, "event", "log"),
                  "level": record.levelname.lower(), "message": record.getMessage(),
                  "pid": record.process}
        if record.exc_info:
            fields["traceback"] = self.formatException(record.exc_info)
        return json_line(fields)


class _StderrHandler(logging.Handler):
    """Each record a line on whatever sys.stderr is when it comes."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_events_handler: Optional[logging.Handler] = None


def log_events_to_stderr(access_log: str) -> None:
    """Send the server's events (the "fasthttp" loggers) to stderr in the
    access log's format: JSON records with json, `fasthttp: ...` lines else."""
    global _events_handler
    logger = logging.getLogger("fasthttp")
    if _events_handler is not None:
        logger.removeHandler(_events_handler)
    handler = _events_handler = _StderrHandler()
    handler.setFormatter(_JsonEventFormatter() if access_log == "json"
                         else logging.Formatter("fasthttp: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
