"""Fuzz the Python-level request path: C (fasthttp._core.C) against pure
(fasthttp._core.PURE), driven socketless.

    python fuzz/fuzz_request.py [libFuzzer flags] CORPUS_DIR ...   # atheris
    python fuzz/fuzz_request.py FILE ...                            # replay files
    FUZZ_HYPOTHESIS=1 python fuzz/fuzz_request.py                   # fallback

(`make fuzz-python` runs it bounded by FUZZ_SECONDS.)

Each input is one configuration byte, then the bytes a client sent:
  bit 0      protocol_version "HTTP/1.1" (else "HTTP/1.0")
  bits 1-2   max_head_bytes: 0, 0, 64, 512
  bit 3      a custom MessageClass (the exact email.parser path)
  bit 4      rfile is the implementation's SocketReader over a fake socket
             (the in-buffer header parse); bits 5-6 give its recv() chunk
             size: 1, 7, 100, 65536
  bit 4 = 0  bits 5-6 choose the file object: 0, 1 io.BytesIO (the C path
             parses its buffer in place), 2 io.BufferedReader over a BytesIO
             (line-by-line readline path), 3 a BytesIO subclass (same)
  bit 7      the handler overrides log_message and version_string (the C
             response path must then dispatch through self)

The same request goes through two handler classes, identical but for the
implementation: fasthttp.BaseHTTPRequestHandler as built (C), and the same
class with the pure-Python methods (fasthttp._core.PURE) installed. Each class
echoes what it parsed. handle_one_request() runs in a loop (as handle()
does) until close_connection, at most MAX_REQUESTS times.

Oracle (any violation raises, which atheris reports as a crash):
  * no exception escapes handle_one_request(), unless http.server itself
    raises the same one on the same input (inherited behaviour);
  * the output is empty, or starts with a well-formed status line (except
    after an HTTP/0.9 request, which gets no status line);
  * C and pure give byte-identical output, log output and handler state,
    Date header and log timestamps normalized.

Coverage feedback: the Python code of fasthttp is instrumented by atheris;
the C extension is not (it is built with gcc, without coverage hooks), so
the C parser is explored through Python-visible behaviour only. The
libFuzzer target csrc/fuzz_parser.c covers the C parser directly.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.pop("FASTHTTP_PURE", None)   # this target needs both paths

try:
    import atheris
except ImportError:     # the hypothesis fallback below
    atheris = None

import http.client  # noqa: E402
import http.server as std_server  # noqa: E402

if atheris is not None:
    with atheris.instrument_imports(include=["fasthttp"]):
        import fasthttp
        from fasthttp import _core
else:
    import fasthttp
    from fasthttp import _core

if not fasthttp.accelerated:
    sys.exit("fuzz_request.py: fasthttp's C extension is not built "
             "(python3 setup.py build_ext --inplace)")
C_IMPL = _core.C
PURE_IMPL = _core.PURE

MAX_REQUESTS = 8
MAX_BODY = 1 << 20
ECHO_NAMES = ("Host", "Connection", "Expect", "Content-Length", "Content-Type",
              "Cookie", "X")


class FuzzFailure(AssertionError):
    pass


class FakeServer:
    server_name = "fuzz"
    server_port = 0


class FakeSocket:
    """recv_into() hands out `data` in chunks of at most `chunk` bytes."""

    def __init__(self, data, chunk):
        self.data = data
        self.pos = 0
        self.chunk = chunk

    def recv_into(self, buf, nbytes=0):
        n = min(len(buf), self.chunk, len(self.data) - self.pos)
        if nbytes:
            n = min(n, nbytes)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def fileno(self):
        return -1


class BytesIOSubclass(io.BytesIO):
    """Not `type(rfile) is io.BytesIO`: read line by line."""


class CustomMessage(http.client.HTTPMessage):
    def shout(self):
        return str(len(self))


class EchoMixin:
    """Replies with everything the handler parsed (a body of Content-Length;
    a chunked one through read_body(), where there is one). A GET leaves its
    body unread: fasthttp drops it after the handler."""

    def __init__(self, rfile, wfile):
        self.rfile = rfile
        self.wfile = wfile
        self.client_address = ("127.0.0.1", 4321)
        self.server = FakeServer()
        self.request = None

    def _echo(self):
        h = self.headers
        body = b""
        raw = h.get("Content-Length")
        if h.get("Transfer-Encoding") is not None and hasattr(self, "read_body"):
            try:        # chunked decoding (fasthttp only; a refusal is answered)
                body = self.read_body(MAX_BODY)
            except fasthttp.BodyError:
                return
        elif raw is not None and self.command != "GET":
            try:
                n = int(raw)
            except ValueError:
                n = -1
            if 0 <= n <= MAX_BODY:
                body = self.rfile.read(n)
        lines = [
            "command=%a path=%a version=%a" % (self.command, self.path, self.request_version),
            "requestline=%a close=%a" % (self.requestline, self.close_connection),
            "type=%s items=%a" % (type(h).__name__, list(h.items())),
            "defects=%a" % [type(d).__name__ for d in getattr(h, "defects", [])],
        ]
        for name in ECHO_NAMES:
            lines.append("%s=%a %a" % (name, h.get(name), h.get_all(name)))
        if hasattr(h, "shout"):
            lines.append("shout=%s" % h.shout())
        lines.append("body=%a" % body)
        payload = ("\n".join(lines) + "\n").encode("ascii")
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "keep-alive")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_HEAD = _echo


class Overrides:
    """Hooks a subclass may override; the C path must call them through self."""

    def log_message(self, format, *args):
        sys.stderr.write("custom: " + (format % args) + "\n")

    def version_string(self):
        return "FuzzServer/1.0"


def make_classes(base):
    plain = type("Echo", (EchoMixin, base), {})
    custom = type("EchoCustom", (EchoMixin, Overrides, base), {})
    return plain, custom


C_CLASSES = make_classes(fasthttp.BaseHTTPRequestHandler)


class PureBase(fasthttp.BaseHTTPRequestHandler):
    """fasthttp.BaseHTTPRequestHandler with the pure-Python methods."""


for _name, _method in PURE_IMPL.handler_methods.items():
    setattr(PureBase, _name, _method)
PURE_IMPL.register_handler_class(PureBase)
PURE_CLASSES = make_classes(PureBase)
STD_CLASSES = make_classes(std_server.BaseHTTPRequestHandler)

DATE_RE = re.compile(rb"\r\nDate: [^\r\n]*\r\n")
LOG_TIME_RE = re.compile(r"\[\d\d/\w\w\w/\d{4} \d\d:\d\d:\d\d\]")
STATUS_RE = re.compile(rb"HTTP/\d\.\d [1-5]\d\d [^\r\n]*\r\n")
CHUNKS = (1, 7, 100, 65536)


def run(classes, reader_cls, cfg, request):
    """Drive one handler over `request`; returns a comparable record."""
    cls = classes[1] if cfg & 0x80 else classes[0]
    cls.protocol_version = "HTTP/1.1" if cfg & 1 else "HTTP/1.0"
    cls.max_head_bytes = (0, 0, 64, 512)[(cfg >> 1) & 3]
    cls.MessageClass = CustomMessage if cfg & 8 else http.client.HTTPMessage
    sub = (cfg >> 5) & 3
    if cfg & 0x10 and reader_cls is not None:
        rfile = reader_cls(FakeSocket(request, CHUNKS[sub]))
    elif cfg & 0x10 or sub < 2:
        rfile = io.BytesIO(request)
    elif sub == 2:
        rfile = io.BufferedReader(io.BytesIO(request))
    else:
        rfile = BytesIOSubclass(request)
    wfile = io.BytesIO()
    h = cls(rfile, wfile)
    err = io.StringIO()
    states = []
    exc = None
    with contextlib.redirect_stderr(err):
        try:
            h.close_connection = True
            for _ in range(MAX_REQUESTS):
                h.handle_one_request()
                states.append((getattr(h, "command", None), getattr(h, "path", None),
                               getattr(h, "request_version", None),
                               getattr(h, "requestline", None), h.close_connection))
                if h.close_connection:
                    break
        except Exception as e:  # noqa: BLE001 - compared, then judged
            exc = (type(e).__name__, str(e))
    out = DATE_RE.sub(b"\r\nDate: <date>\r\n", wfile.getvalue())
    log = LOG_TIME_RE.sub("[<time>]", err.getvalue())
    return {"out": out, "log": log, "states": states, "exc": exc}


def check(data: bytes):
    if not data:
        return
    cfg, request = data[0], bytes(data[1:])
    c = run(C_CLASSES, C_IMPL.SocketReader, cfg, request)
    p = run(PURE_CLASSES, PURE_IMPL.SocketReader, cfg, request)
    for key in ("exc", "states", "out", "log"):
        if c[key] != p[key]:
            raise FuzzFailure("C and pure differ in %s:\n  C:    %r\n  pure: %r"
                              % (key, c[key][:2000], p[key][:2000]))
    if c["exc"] is not None:
        # Tolerated only if http.server raises the same on the same input.
        s = run(STD_CLASSES, None, cfg & ~0x10, request)
        if s["exc"] is None or s["exc"][0] != c["exc"][0]:
            raise FuzzFailure("exception escaped (not from http.server): %r" % (c["exc"],))
    out = c["out"]
    if out:
        first_version = c["states"][0][2] if c["states"] else None
        if first_version != "HTTP/0.9" and not STATUS_RE.match(out):
            raise FuzzFailure("output does not start with a status line: %r" % out[:200])


def main():
    if atheris is None or os.environ.get("FUZZ_HYPOTHESIS") == "1":
        return hypothesis_main()
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


def hypothesis_main():
    """Fallback without atheris: hypothesis with a large example budget."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    seeds = []
    for d in sys.argv[1:]:
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name), "rb") as f:
                    seeds.append(f.read())
    examples = int(os.environ.get("FUZZ_EXAMPLES", "20000"))
    for s in seeds:
        check(s)
    lines = st.lists(st.sampled_from([b"GET / HTTP/1.1", b"Host: h", b"X: v", b"", b" a",
                                      b"Content-Length: 3", b"Connection: close", b"abc"]) |
                     st.binary(max_size=20), max_size=12)
    data = st.binary(max_size=2000) | st.builds(
        lambda c, ls, sep: bytes([c]) + sep.join(ls), st.integers(0, 255), lines,
        st.sampled_from([b"\r\n", b"\n", b"\r"]))

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data)
    def prop(d):
        check(d)

    prop()
    print("hypothesis: %d examples + %d seeds, no failure" % (examples, len(seeds)))


if __name__ == "__main__":
    main()
