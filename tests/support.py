"""Harness for the differential tests: stdlib ``http.server`` versus fasthttp.

Everything here is shared by both sides so that a difference in a test can only
come from the server implementation, never from the harness:

* the handler behaviours are written once, as mixins, and each side's handler
  class is built with ``type(name, (Mixin, side.BaseHTTPRequestHandler), {})``;
* a socket exchange sends raw bytes on a fresh 127.0.0.1 connection, reads until
  the server closes (or goes idle), and captures what the default
  ``log_message`` wrote to ``sys.stderr`` meanwhile;
* a socketless run drives ``handle_one_request()`` over ``BytesIO`` objects, the
  way CPython's own ``test_httpservers`` does.

``FASTHTTP_DIFF_SELFTEST=1`` makes the "fasthttp side" the stdlib itself: then
every differential test must pass, which shows the harness adds no noise.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import email.message
import http.client
import http.server as std_server
import io
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
# The request corpus captured from real clients (tests/data/capture.py). It ships with
# the tests (sdist, the installed-wheel test copy), so a missing one is an error, never a skip.
REQUEST_CORPUS = TESTS_DIR / "data" / "requests"


def corpus_files() -> list[Path]:
    """tests/data/requests/*.http, sorted; raises if there are none."""
    files = sorted(REQUEST_CORPUS.glob("*.http"))
    if not files:
        raise FileNotFoundError(f"request corpus missing: no {REQUEST_CORPUS}/*.http "
                                "(it belongs to the tests; see tests/data/capture.py)")
    return files

SELFTEST = os.environ.get("FASTHTTP_DIFF_SELFTEST") == "1"

# Seconds of silence after which a connection that is still open is taken to be
# idle (kept alive by the server); the first byte gets a longer grace period.
# These are short to keep the suite fast; a difference found with them is
# re-checked with the PATIENT_* values (see test_wire_vs_stdlib.run_pair), so a
# slow machine cannot turn timing into a false difference.
IDLE_TIMEOUT = float(os.environ.get("FASTHTTP_TEST_IDLE", "0.1"))
FIRST_BYTE_TIMEOUT = max(0.5, 4 * IDLE_TIMEOUT)
PATIENT_IDLE_TIMEOUT = 1.0
PATIENT_FIRST_BYTE_TIMEOUT = 3.0
# Upper bound for any single socket operation / wait in the harness.
OP_TIMEOUT = 5.0


def _import_fasthttp():
    try:
        import fasthttp  # noqa: F401
    except ImportError:
        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        import fasthttp  # noqa: F811
    return fasthttp


if SELFTEST:
    fasthttp = None
    FAST = std_server  # the "fasthttp side" is the stdlib: harness self-test
else:
    fasthttp = _import_fasthttp()
    FAST = fasthttp
STD = std_server

SIDES = {"stdlib": STD, "fasthttp": FAST}


def accelerated_label() -> str:
    if SELFTEST:
        return "fasthttp accelerated: n/a (FASTHTTP_DIFF_SELFTEST=1: both sides are the stdlib)"
    return f"fasthttp accelerated: {getattr(fasthttp, 'accelerated', '<missing attribute>')}"


# --------------------------------------------------------------------------
# Handler behaviours (written once, mixed into each side's base class)
# --------------------------------------------------------------------------

ECHO_GET_ALL = ("Host", "Accept", "Cookie", "X-Dup", "Connection", "Content-Length",
                "Expect", "X-Empty", "X-Name")


def _record_do_call(handler) -> None:
    """Tell the harness that a do_* method ran (server or socketless fake)."""
    calls = getattr(getattr(handler, "server", None), "do_calls", None)
    if calls is not None:
        calls.append(handler.command)


def _safe(fn) -> str:
    """ascii() of fn(), or the exception it raised (e.g. str(headers) raises
    HeaderWriteError on 3.13 for a value with VT/FF): the echo handler must not
    crash, or the reply would be a traceback instead of a comparison."""
    try:
        return ascii(fn())
    except Exception as e:
        return f"<raised {type(e).__name__}: {e!a}>"


def echo_dump(handler, body: bytes | None) -> str:
    h = handler.headers
    lines = [
        f"command={handler.command!a}",
        f"path={handler.path!a}",
        f"request_version={handler.request_version!a}",
        f"requestline={handler.requestline!a}",
        f"raw_requestline={handler.raw_requestline!a}",
        f"close_connection={handler.close_connection!a}",
        f"headers_type={type(h).__module__}.{type(h).__qualname__}",
        f"headers_isinstance_HTTPMessage={isinstance(h, http.client.HTTPMessage)}",
        f"headers_len={len(h)}",
        f"headers_items={list(h.items())!a}",
        f"headers_keys={list(h.keys())!a}",
    ]
    # (3.14+: an HTTP/0.9 request's headers are a plain {}, no Message)
    get_all = getattr(h, "get_all", lambda name: None)
    for name in ECHO_GET_ALL:
        lines.append(f"get_all[{name}]={get_all(name)!a} get={h.get(name)!a}")
    lines.append(f"defects={[type(d).__name__ for d in getattr(h, 'defects', ())]!a}")
    lines.append(f"str_headers={_safe(lambda: str(h))}")
    if hasattr(h, "shout"):
        lines.append(f"custom_message_method={h.shout()!a}")
    lines.append(f"body={body!a}")
    return "\n".join(lines) + "\n"


class EchoMixin:
    """Replies 200 with a dump of everything the handler parsed."""

    timeout = OP_TIMEOUT  # StreamRequestHandler: bounds the server-side reads

    def _read_body(self):
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        try:
            n = int(raw)
        except ValueError:
            return None  # stay exception-free: tracebacks differ by module path
        if n < 0:
            return None
        return self.rfile.read(n)

    def _echo(self):
        _record_do_call(self)
        body = self._read_body()
        payload = echo_dump(self, body).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Echo", "1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_HEAD = _echo


class ErrorMixin:
    """GET /?code=N[&message=..][&explain=..] -> send_error(N, message, explain)."""

    timeout = OP_TIMEOUT

    def do_GET(self):
        _record_do_call(self)
        query = urllib.parse.urlsplit(self.path).query
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        code = int(params.get("code", ["500"])[0])
        args = [code]
        if "message" in params:
            args.append(params["message"][0])
        if "explain" in params:
            if len(args) == 1:
                args.append(None)
            args.append(params["explain"][0])
        self.send_error(*args)

    do_HEAD = do_GET


class CustomMessage(http.client.HTTPMessage):
    """A MessageClass with an extra method (the echo dump calls it)."""

    def shout(self):
        return [k.upper() for k in self.keys()]


class CustomMessageMixin(EchoMixin):
    MessageClass = CustomMessage


class RejectExpectMixin(EchoMixin):
    def handle_expect_100(self):
        self.send_error(417)
        return False


class RaiseMixin:
    """do_GET raises ValueError (socketserver prints a traceback); do_PUT raises
    TimeoutError (handle_one_request logs "Request timed out" and closes)."""

    timeout = OP_TIMEOUT

    def do_GET(self):
        _record_do_call(self)
        raise ValueError("boom from do_GET")

    def do_PUT(self):
        _record_do_call(self)
        self.send_response(200)
        raise TimeoutError("custom timeout")


def _make_static_dir() -> str:
    """A small directory tree for SimpleHTTPRequestHandler, fixed mtimes."""
    root = tempfile.mkdtemp(prefix="fasthttp-static-")
    files = {
        "hello.txt": b"Hello, world!\n",
        "page.html": b"<html><body>hi</body></html>\n",
        "data.bin": bytes(range(256)) * 4,
        "sub/inner.txt": b"inner\n",
        "withindex/index.html": b"<p>index</p>\n",
        "caf\u00e9 & <x>.txt": b"odd name\n",
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (1_600_000_000, 1_600_000_000))
    atexit.register(shutil.rmtree, root, True)
    return root


STATIC_DIR = _make_static_dir()


class StaticDirMixin:
    """SimpleHTTPRequestHandler serving STATIC_DIR (a mixin over the side's class)."""

    timeout = OP_TIMEOUT

    def __init__(self, *args, **kwargs):
        kwargs["directory"] = STATIC_DIR
        super().__init__(*args, **kwargs)


# kind -> (mixin, class attributes, name of the side's base class)
HANDLER_KINDS: dict[str, tuple[type, dict[str, Any], str]] = {
    "echo10": (EchoMixin, {}, "BaseHTTPRequestHandler"),
    "echo11": (EchoMixin, {"protocol_version": "HTTP/1.1"}, "BaseHTTPRequestHandler"),
    "echo11_timeout": (EchoMixin, {"protocol_version": "HTTP/1.1", "timeout": 0.2},
                       "BaseHTTPRequestHandler"),
    "error10": (ErrorMixin, {}, "BaseHTTPRequestHandler"),
    "error11": (ErrorMixin, {"protocol_version": "HTTP/1.1"}, "BaseHTTPRequestHandler"),
    "custommsg": (CustomMessageMixin, {"protocol_version": "HTTP/1.1"}, "BaseHTTPRequestHandler"),
    "reject_expect": (RejectExpectMixin, {"protocol_version": "HTTP/1.1"}, "BaseHTTPRequestHandler"),
    "raiser": (RaiseMixin, {"protocol_version": "HTTP/1.1"}, "BaseHTTPRequestHandler"),
    "static10": (StaticDirMixin, {}, "SimpleHTTPRequestHandler"),
    "static11": (StaticDirMixin, {"protocol_version": "HTTP/1.1"}, "SimpleHTTPRequestHandler"),
}

_class_cache: dict[tuple, type] = {}


def build_handler(mixin: type, side_module, name: str | None = None,
                  base: str = "BaseHTTPRequestHandler", **attrs) -> type:
    """``type(name, (mixin, side.<base>), attrs)`` (cached).

    Both sides get the same class name so that nothing that prints a class name
    can differ.
    """
    key = (mixin, side_module, name, base, tuple(sorted(attrs.items())))
    cls = _class_cache.get(key)
    if cls is None:
        cls = type(name or mixin.__name__.replace("Mixin", "") + "Handler",
                   (mixin, getattr(side_module, base)), dict(attrs))
        _class_cache[key] = cls
    return cls


def handler_for(kind: str, side: str) -> type:
    mixin, attrs, base = HANDLER_KINDS[kind]
    return build_handler(mixin, SIDES[side], name=f"{kind.capitalize()}Handler", base=base, **attrs)


# --------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------

class ServerHandle:
    """A server of ``server_cls`` on 127.0.0.1:0 in a daemon thread."""

    def __init__(self, server_cls: type, handler_cls: type):
        cond = threading.Condition()

        class _HarnessServer(server_cls):
            allow_reuse_address = True
            daemon_threads = True

            def shutdown_request(self, request):
                try:
                    super().shutdown_request(request)
                finally:
                    with cond:
                        self.connections_done += 1
                        cond.notify_all()

        _HarnessServer.__name__ = server_cls.__name__
        self.cond = cond
        self.server = _HarnessServer(("127.0.0.1", 0), handler_cls)
        self.server.connections_done = 0
        self.server.do_calls = []
        self.address = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       name=f"srv-{handler_cls.__name__}", daemon=True)
        self.thread.start()

    def wait_connections_done(self, count: int, timeout: float = OP_TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.server.connections_done < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(OP_TIMEOUT)


class ServerPool:
    """Lazily started servers keyed by (side, handler kind); stopped at close()."""

    def __init__(self):
        self._servers: dict[tuple[str, str], ServerHandle] = {}

    def get(self, side: str, kind: str) -> ServerHandle:
        key = (side, kind)
        if key not in self._servers:
            mod = SIDES[side]
            self._servers[key] = ServerHandle(mod.ThreadingHTTPServer, handler_for(kind, side))
        return self._servers[key]

    def close(self):
        servers, self._servers = list(self._servers.values()), {}
        for s in servers:
            s.close()


# --------------------------------------------------------------------------
# One socket exchange
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Pause:
    seconds: float


@dataclasses.dataclass(frozen=True)
class WaitFor:
    """Read until ``marker`` has been received (bounded), then go on sending."""
    marker: bytes


@dataclasses.dataclass
class Exchange:
    raw: bytes              # bytes received before we half-closed
    closed: bool            # server closed (EOF / reset) before we half-closed
    after_halfclose: bytes  # bytes received after our half-close (if not closed)
    log: list[str]          # stderr lines written meanwhile
    do_calls: list[str]     # commands whose do_* method ran
    server_done: bool       # server finished the connection in time

    def normalized(self) -> Exchange:
        return dataclasses.replace(
            self,
            raw=normalize_response_bytes(self.raw),
            after_halfclose=normalize_response_bytes(self.after_halfclose),
            log=normalize_log(self.log),
        )

    @property
    def all_bytes(self) -> bytes:
        return self.raw + self.after_halfclose


class _LockedWriter(io.StringIO):
    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()

    def write(self, s):
        with self._lock:
            return super().write(s)


_exchange_lock = threading.Lock()


def _recv_until(sock, buf: bytearray, *, first_timeout: float, idle: float,
                marker: bytes | None = None, deadline: float) -> str:
    """Read into buf.  Returns 'eof', 'reset', 'idle' or 'marker'."""
    got_any = False
    while True:
        if marker is not None and marker in buf:
            return "marker"
        left = deadline - time.monotonic()
        if left <= 0:
            return "idle"
        sock.settimeout(min(left, idle if got_any else first_timeout))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return "idle"
        except (ConnectionResetError, ConnectionAbortedError):
            return "reset"
        if not chunk:
            return "eof"
        got_any = True
        buf += chunk


def exchange(handle: ServerHandle, steps, *, half_close: bool = False,
             idle: float | None = None, first_byte: float | None = None) -> Exchange:
    """Send ``steps`` (bytes / Pause / WaitFor) on a fresh connection.

    Reads until the server closes, or until it has been silent for ``idle``
    seconds; in the latter case half-closes and drains what the server still
    sends.  Captures stderr for the whole exchange.  Serialized.
    """
    if isinstance(steps, (bytes, bytearray)):
        steps = [bytes(steps)]
    idle = IDLE_TIMEOUT if idle is None else idle
    first_byte = FIRST_BYTE_TIMEOUT if first_byte is None else first_byte
    with _exchange_lock:
        saved_stderr = sys.stderr
        capture = _LockedWriter()
        handle.server.do_calls.clear()
        with handle.cond:
            done_before = handle.server.connections_done
        sys.stderr = capture
        try:
            buf = bytearray()
            state = None
            sock = socket.create_connection(handle.address, timeout=OP_TIMEOUT)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                send_broken = False
                for step in steps:
                    if isinstance(step, Pause):
                        time.sleep(step.seconds)
                    elif isinstance(step, WaitFor):
                        state = _recv_until(sock, buf, first_timeout=OP_TIMEOUT,
                                            idle=OP_TIMEOUT, marker=step.marker,
                                            deadline=time.monotonic() + OP_TIMEOUT)
                        if state != "marker":
                            break
                        state = None
                    else:
                        try:
                            sock.settimeout(OP_TIMEOUT)
                            sock.sendall(step)
                        except (BrokenPipeError, ConnectionResetError):
                            send_broken = True
                            break
                if state is None:
                    if half_close and not send_broken:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_WR)
                    state = _recv_until(sock, buf, first_timeout=first_byte,
                                        idle=idle,
                                        deadline=time.monotonic() + OP_TIMEOUT)
                closed = state in ("eof", "reset")
                after = bytearray()
                if not closed:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_WR)
                    _recv_until(sock, after, first_timeout=OP_TIMEOUT, idle=OP_TIMEOUT,
                                deadline=time.monotonic() + OP_TIMEOUT)
            finally:
                sock.close()
            server_done = handle.wait_connections_done(done_before + 1)
        finally:
            sys.stderr = saved_stderr
        return Exchange(raw=bytes(buf), closed=closed, after_halfclose=bytes(after),
                        log=capture.getvalue().splitlines(),
                        do_calls=list(handle.server.do_calls), server_done=server_done)


# --------------------------------------------------------------------------
# Normalizing and splitting
# --------------------------------------------------------------------------

_DATE_HEADER_RE = re.compile(rb"(?m)^(Date: )[^\r\n]*(\r?\n)")
# A deliberate addition: fasthttp's SimpleHTTPRequestHandler announces byte
# ranges (fasthttp/static.py, tested in test_static_files.py); the stdlib does not.
_ACCEPT_RANGES_RE = re.compile(rb"(?m)^Accept-Ranges: bytes\r\n")
_LOG_TS_RE = re.compile(r"\[\d{2}/[A-Z][a-z]{2}/\d{4} \d{2}:\d{2}:\d{2}\]")
_LOG_PORT_RES = [
    (re.compile(r"\('127\.0\.0\.1', \d+\)"), "('127.0.0.1', <port>)"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
]


def normalize_response_bytes(data: bytes) -> bytes:
    """Replace every Date header value, drop Accept-Ranges; the rest stays byte-exact."""
    return _ACCEPT_RANGES_RE.sub(b"", _DATE_HEADER_RE.sub(rb"\1<date>\2", data))


def normalize_log_line(line: str) -> str:
    line = _LOG_TS_RE.sub("[<timestamp>]", line)
    for rx, repl in _LOG_PORT_RES:
        line = rx.sub(repl, line)
    return line


def normalize_log(lines) -> list[str]:
    """Timestamps and client ports out; in a traceback (socketserver's
    handle_error output, not a log_message line) the stack frames are dropped:
    which internal methods sit between handle() and do_GET is an
    implementation detail.  The header, exception type and message stay."""
    out = []
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
            out.append(line)
            continue
        if in_traceback:
            if line.startswith("  "):
                continue  # a frame, its source line, or a caret line
            in_traceback = False
        out.append(normalize_log_line(line))
    return out


@dataclasses.dataclass
class Response:
    status_line: bytes | None           # None for an HTTP/0.9 (body-only) reply
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def code(self) -> int | None:
        if self.status_line is None:
            return None
        return int(self.status_line.split(b" ", 2)[1])

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def split_responses(data: bytes) -> list[Response]:
    """Split raw bytes into responses (status line, header list, body).

    Bodies are delimited by Content-Length; 1xx/204/304 have none; a response
    whose head is directly followed by another status line (HEAD) has none.
    Anything not starting with ``HTTP/`` is a body-only (HTTP/0.9) reply.
    """
    out = []
    while data:
        if not data.startswith(b"HTTP/"):
            out.append(Response(None, [], data))
            break
        head, sep, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = []
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers.append((k, v.lstrip(b" ")))
        resp = Response(lines[0], headers, b"")
        if not sep:
            out.append(resp)
            break
        code = resp.code
        if 100 <= code < 200 or code in (204, 304) or re.match(rb"HTTP/\d", rest):
            n = 0
        else:
            cl = resp.header(b"Content-Length")
            n = int(cl) if cl is not None and cl.isdigit() else len(rest)
        resp.body = rest[:n]
        data = rest[n:]
        out.append(resp)
    return out


def error_page_regex(code: int) -> re.Pattern:
    """The stdlib's DEFAULT_ERROR_MESSAGE for ``code``, any message/explain."""
    from http import HTTPStatus
    parts = re.split(r"%\((\w+)\)([sd])", std_server.DEFAULT_ERROR_MESSAGE)
    rx = ""
    for i in range(0, len(parts), 3):
        rx += re.escape(parts[i])
        if i + 2 < len(parts):
            name, conv = parts[i + 1], parts[i + 2]
            if name != "code":
                rx += "[^<>\n]*"
            elif conv == "d":
                rx += str(code)
            else:
                # "%(code)s" of an HTTPStatus is "HTTPStatus.BAD_REQUEST" before 3.11
                rx += "(?:%s|%s)" % (code, re.escape(str(HTTPStatus(code))))
    return re.compile(rx)


# --------------------------------------------------------------------------
# Socketless driving (CPython test_httpservers style)
# --------------------------------------------------------------------------

FIXED_DATE = "Thu, 01 Jan 2015 00:00:00 GMT"


class FakeServer:
    """Stands in for ``handler.server``."""

    def __init__(self):
        self.do_calls: list[str] = []
        self.server_name = "fake"
        self.server_port = 0


def socketless_class(handler_cls: type) -> type:
    """A subclass whose __init__ does not call super (no socket, no handle())."""

    def __init__(self, rfile, wfile, client_address=("127.0.0.1", 54321), server=None):
        self.rfile = rfile
        self.wfile = wfile
        self.client_address = client_address
        self.server = server if server is not None else FakeServer()
        self.request = None

    return type("Socketless" + handler_cls.__name__, (handler_cls,), {"__init__": __init__})


_MISSING = "<missing>"


def handler_state(h) -> dict[str, Any]:
    """Observable handler state after a request (for cross-side comparison)."""
    st: dict[str, Any] = {}
    for name in ("command", "path", "request_version", "requestline", "raw_requestline",
                 "close_connection"):
        st[name] = getattr(h, name, _MISSING)
    # Read headers as a handler does (fasthttp's C path makes the object on
    # first read, then it is an instance attribute as in the stdlib).
    headers = getattr(h, "headers", _MISSING)
    st["instance_attrs"] = sorted(k for k in vars(h) if not k.startswith("_"))
    st["_headers_buffer"] = h.__dict__.get("_headers_buffer", _MISSING)
    if headers is _MISSING:
        st["headers"] = _MISSING
    else:
        st["headers"] = {
            "type": f"{type(headers).__module__}.{type(headers).__qualname__}",
            "items": list(headers.items()),
            "defects": [type(d).__name__ for d in getattr(headers, "defects", ())],
            "str": _safe(lambda: str(headers)),
            "payload": headers.get_payload() if isinstance(headers, email.message.Message) else None,
            # every attribute the email parser left on the message object
            "vars": sorted((k, repr(v)) for k, v in getattr(headers, "__dict__", {}).items()),
        }
    return st


@dataclasses.dataclass
class SocketlessRun:
    output: bytes
    log: list[str]
    state: dict[str, Any]
    rfile_rest: bytes
    do_calls: list[str]
    exception: str | None

    def normalized(self) -> SocketlessRun:
        return dataclasses.replace(self, output=normalize_response_bytes(self.output),
                                   log=normalize_log(self.log))


def run_socketless(handler_cls: type, request: bytes, *, method: str = "handle_one_request",
                   rfile_factory=io.BytesIO, handler_setup=None) -> SocketlessRun:
    """Feed ``request`` through ``handler_cls().<method>()`` over BytesIO.

    ``method`` is "handle_one_request" (once), "handle" (the keep-alive loop) or
    "twice" (handle_one_request two times, as CPython's tests do).
    """
    cls = socketless_class(handler_cls)
    rfile = rfile_factory(request)
    wfile = io.BytesIO()
    h = cls(rfile, wfile)
    if handler_setup is not None:
        handler_setup(h)
    err = io.StringIO()
    exc = None
    with contextlib.redirect_stderr(err):
        try:
            if method == "handle":
                h.close_connection = True
                h.handle()
            elif method == "twice":
                h.handle_one_request()
                h.handle_one_request()
            else:
                h.handle_one_request()
        except Exception as e:  # compared across sides, not swallowed
            exc = f"{type(e).__name__}: {e}"
    return SocketlessRun(output=wfile.getvalue(), log=err.getvalue().splitlines(),
                         state=handler_state(h), rfile_rest=rfile.read(),
                         do_calls=list(h.server.do_calls), exception=exc)


def run_socketless_pair(kind_or_mixin, request: bytes, **kw):
    """(stdlib run, fasthttp run), both normalized."""
    if isinstance(kind_or_mixin, str):
        std_cls, fast_cls = handler_for(kind_or_mixin, "stdlib"), handler_for(kind_or_mixin, "fasthttp")
    else:
        std_cls, fast_cls = kind_or_mixin
    return (run_socketless(std_cls, request, **kw).normalized(),
            run_socketless(fast_cls, request, **kw).normalized())
