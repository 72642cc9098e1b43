"""Socketless comparisons, the way CPython's test_httpservers drives a handler:
a subclass whose __init__ does not call super, ``rfile``/``wfile`` BytesIO,
``handle_one_request()`` called directly.  Every test runs the same code on the
stdlib class and on the fasthttp class and compares outputs and attributes.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import re
from http import HTTPStatus

import pytest
import support
from clients import req
from support import (
    FIXED_DATE,
    EchoMixin,
    build_handler,
    handler_for,
    run_socketless,
    run_socketless_pair,
    socketless_class,
)

GET10 = req(b"GET /x HTTP/1.0", b"Host: h")
GET11 = req(b"GET /x HTTP/1.1", b"Host: h")

REQUESTS = {
    "get10": GET10,
    "get11": GET11,
    "http09": b"GET /nine\r\n",
    "http09-head": b"HEAD /nine\r\n\r\n",
    "multi-space": b"GET   /a   HTTP/1.0  \r\n\r\n",
    "lf-only": b"GET /a HTTP/1.0\nHost: h\n\n",
    "version-1.10": b"GET / HTTP/1.10\r\n\r\n",
    "version-01.1": b"GET / HTTP/01.1\r\n\r\n",
    "version-2.0": b"GET / HTTP/2.0\r\n\r\n",
    "version-1": b"GET / HTTP/1\r\n\r\n",
    "version-bad": b"GET / HTTP/1.x\r\n\r\n",
    "four-words": b"GET / a HTTP/1.0\r\n\r\n",
    "one-word": b"GET\r\n\r\n",
    "empty-line": b"\r\n",
    "no-input": b"",
    "nbsp-target": b"GET /a\xa0b HTTP/1.0\r\n\r\n",
    "unknown-method": b"BREW /pot HTTP/1.0\r\n\r\n",
    "double-slash": b"GET //evil.com/x HTTP/1.0\r\n\r\n",
    "absolute": b"GET http://h/x?y HTTP/1.1\r\nHost: h\r\n\r\n",
    "too-long-line": b"GET /" + b"a" * 65600 + b" HTTP/1.0\r\n\r\n",
    "line-65536": b"GET /" + b"a" * (65536 - 16) + b" HTTP/1.0\r\n\r\n",
    "header-65537": b"GET / HTTP/1.0\r\nX: " + b"b" * (65537 - 5) + b"\r\n\r\n",
    "header-65536": b"GET / HTTP/1.0\r\nX: " + b"b" * (65536 - 5) + b"\r\n\r\n",
    "99-headers": req(b"GET / HTTP/1.0", *[b"H%d: v" % i for i in range(99)]),
    "100-headers": req(b"GET / HTTP/1.0", *[b"H%d: v" % i for i in range(100)]),
    "latin1": req(b"GET / HTTP/1.0", b"X-Name: Jos\xe9", b"X-Hi: \xff"),
    "dup-headers": req(b"GET / HTTP/1.0", b"X-Dup: 1", b"X-Dup: 2", b"Cookie: a", b"cookie: b"),
    "empty-value": req(b"GET / HTTP/1.0", b"X-Empty:", b"Accept: "),
    "trailing-ws": req(b"GET / HTTP/1.0", b"X-Name: v  \t", b"Accept:   a  "),
    "post-body": req(b"POST /p HTTP/1.1", b"Content-Length: 5", b"Connection: close", body=b"hello"),
    "post-short": req(b"POST /p HTTP/1.0", b"Content-Length: 50", body=b"short"),
    "head": req(b"HEAD /h HTTP/1.1", b"Host: h"),
    "pipelined": GET11 + req(b"POST /p HTTP/1.1", b"Content-Length: 2", body=b"ab") + GET11,
    "pipelined-close": GET11 + req(b"GET /2 HTTP/1.1", b"Connection: close") + GET11,
    "keepalive-10": req(b"GET / HTTP/1.0", b"Connection: keep-alive") + GET10,
    "connection-close": req(b"GET / HTTP/1.1", b"Connection: close") + GET11,
    "expect-100": req(b"PUT /e HTTP/1.1", b"Content-Length: 3", b"Expect: 100-continue", body=b"abc"),
    "expect-100-http10": req(b"PUT /e HTTP/1.0", b"Content-Length: 3", b"Expect: 100-continue", body=b"abc"),
    "head-cut-at-eof": b"GET / HTTP/1.0\r\nHost: h\r\n",
    "request-line-cut-at-eof": b"GET / HTTP/1.0",
    "chunked": req(b"POST /c HTTP/1.1", b"Transfer-Encoding: chunked", body=b"3\r\nabc\r\n0\r\n\r\n"),
    "multipart-no-body": req(b"GET / HTTP/1.0", b"Content-Type: multipart/form-data; boundary=x"),
}
for _p in support.corpus_files():
    REQUESTS["corpus-" + _p.stem] = _p.read_bytes()

RFILES = {
    "BytesIO": io.BytesIO,
    "BufferedReader": lambda b: io.BufferedReader(io.BytesIO(b)),
}


def assert_same_run(std: support.SocketlessRun, fast: support.SocketlessRun):
    assert std.exception is None, f"harness: the stdlib side raised {std.exception}"
    for field in ("exception", "output", "log", "state", "rfile_rest", "do_calls"):
        a, b = getattr(std, field), getattr(fast, field)
        if a != b:
            ra, rb = repr(a), repr(b)
            if len(ra) > 3000 or len(rb) > 3000:
                i = next((k for k, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
                ra, rb = ra[max(0, i - 300):i + 600], rb[max(0, i - 300):i + 600]
            pytest.fail(f"{field} differs\n  stdlib  : {ra}\n  fasthttp: {rb}", pytrace=False)


_METHOD_RFILE = [("handle_one_request", "BytesIO"), ("handle_one_request", "BufferedReader"),
                 ("handle", "BytesIO"), ("handle", "BufferedReader"), ("twice", "BytesIO")]


@pytest.mark.parametrize("method,rfile", [pytest.param(m, r, id=f"{m}-{r}") for m, r in _METHOD_RFILE])
@pytest.mark.parametrize("kind", ["echo10", "echo11"])
@pytest.mark.parametrize("name", list(REQUESTS))
def test_request(name, kind, method, rfile):
    std, fast = run_socketless_pair(kind, REQUESTS[name], method=method, rfile_factory=RFILES[rfile])
    assert_same_run(std, fast)


@pytest.mark.parametrize("kind", ["custommsg", "error10", "error11", "reject_expect"])
@pytest.mark.parametrize("name", ["get11", "dup-headers", "expect-100", "pipelined", "http09",
                                  "100-headers", "version-2.0"])
def test_request_other_handlers(name, kind):
    std, fast = run_socketless_pair(kind, REQUESTS[name], method="handle")
    assert_same_run(std, fast)


@pytest.mark.parametrize("query", [
    b"code=404", b"code=403&message=Nope&explain=Because", b"code=400&explain=only",
    b"code=500&message=%3Cb%3Ex%3C/b%3E", b"code=599", b"code=204", b"code=304", b"code=205",
    b"code=101", b"code=418&message=caf%C3%A9",
])
@pytest.mark.parametrize("command", [b"GET", b"HEAD"])
def test_send_error_variants(query, command):
    data = command + b" /?" + query + b" HTTP/1.1\r\nHost: h\r\n\r\n"
    std, fast = run_socketless_pair("error11", data, method="handle")
    assert_same_run(std, fast)


def test_socketless_sanity():
    """Harness facts: the stdlib side really produces what the comparisons assume."""
    run = run_socketless(handler_for("echo11", "stdlib"), REQUESTS["pipelined"], method="handle")
    assert run.exception is None
    assert run.do_calls == ["GET", "POST", "GET"]
    assert run.output.count(b"HTTP/1.1 200 OK\r\n") == 3
    run = run_socketless(handler_for("echo11", "stdlib"), REQUESTS["pipelined"])
    assert run.do_calls == ["GET"]
    assert run.rfile_rest.startswith(b"POST /p HTTP/1.1")
    run = run_socketless(handler_for("echo10", "stdlib"), REQUESTS["http09"])
    assert not run.output.startswith(b"HTTP/") and run.do_calls == ["GET"]


# --------------------------------------------------------------------------
# Overridden hooks: called the same number of times with the same arguments
# --------------------------------------------------------------------------

def _rec(self, *entry):
    self.__dict__.setdefault("calls", []).append(tuple(repr(x) for x in entry))


def _super(self, name):
    """``super().<name>`` as seen from the hook mixin (the functions below are
    copied into generated mixin classes, so zero-argument super() can't be used)."""
    for klass in type(self).__mro__:
        if klass.__dict__.get("_is_hook_mixin"):
            return getattr(super(klass, self), name)
    raise AssertionError("no hook mixin in MRO")


class HookImpls:
    """One override per hook; each records (name, repr(args...)) then mostly defers."""

    def parse_request(self):
        _rec(self, "parse_request.enter")
        result = _super(self, "parse_request")()
        _rec(self, "parse_request.exit", result)
        return result

    def send_error(self, code, message=None, explain=None):
        _rec(self, "send_error", code, message, explain)
        return _super(self, "send_error")(code, message, explain)

    def log_message(self, format, *args):
        _rec(self, "log_message", format, *args)
        return _super(self, "log_message")(format, *args)

    def log_request(self, code="-", size="-"):
        _rec(self, "log_request", code, size)
        return _super(self, "log_request")(code, size)

    def log_error(self, format, *args):
        _rec(self, "log_error", format, *args)
        return _super(self, "log_error")(format, *args)

    def version_string(self):
        _rec(self, "version_string")
        return "Hooked/1.0 Test/2.0"

    def date_time_string(self, timestamp=None):
        _rec(self, "date_time_string", timestamp)
        return FIXED_DATE

    def address_string(self):
        _rec(self, "address_string")
        return "client.example"

    def handle_expect_100(self):
        _rec(self, "handle_expect_100")
        self.send_error(HTTPStatus.EXPECTATION_FAILED)
        return False

    def send_header(self, keyword, value):
        _rec(self, "send_header", keyword, value)
        return _super(self, "send_header")(keyword, value)

    def send_response(self, code, message=None):
        _rec(self, "send_response", code, message)
        return _super(self, "send_response")(code, message)

    def send_response_only(self, code, message=None):
        _rec(self, "send_response_only", code, message)
        return _super(self, "send_response_only")(code, message)

    def end_headers(self):
        _rec(self, "end_headers")
        return _super(self, "end_headers")()

    def flush_headers(self):
        _rec(self, "flush_headers")
        return _super(self, "flush_headers")()


HOOK_NAMES = [n for n in vars(HookImpls) if not n.startswith("_")]


def _hook_mixin(names):
    attrs = {n: vars(HookImpls)[n] for n in names}
    attrs["_is_hook_mixin"] = True
    return type("HookMixin_" + "_".join(names), (), attrs)


@functools.cache
def hooked_pair(names: tuple, protocol: str = "HTTP/1.1"):
    """Handler classes: hooks(names) + EchoMixin over each side's base class."""
    out = []
    for side in ("stdlib", "fasthttp"):
        base = build_handler(EchoMixin, support.SIDES[side], name="EchoHandler")
        cls = type("HookedHandler", (_hook_mixin(names), base), {"protocol_version": protocol})
        out.append(cls)
    return tuple(out)


HOOK_REQUESTS = ["get11", "get10", "http09", "post-body", "pipelined", "expect-100", "version-2.0",
                 "version-1", "unknown-method", "100-headers", "header-65537", "too-long-line",
                 "connection-close", "empty-line", "head", "four-words", "keepalive-10"]


def _calls_of(run_cls, data, normalize_date=True):
    """Run handle() and return (output, log, exception, recorded calls, state)."""
    cls = socketless_class(run_cls)
    wfile = io.BytesIO()
    h = cls(io.BytesIO(data), wfile)
    h.calls = []
    err = io.StringIO()
    exc = None
    with contextlib.redirect_stderr(err):
        try:
            h.close_connection = True
            h.handle()
        except Exception as e:
            exc = f"{type(e).__name__}: {e}"
    out = wfile.getvalue()
    calls = h.calls
    if normalize_date:
        out = support.normalize_response_bytes(out)
        # and the Date a send_header call records: the two runs may straddle a second
        calls = [c[:2] + ("<date>",) if c[:2] == ("'send_header'", "'Date'") else c
                 for c in calls]
    return out, support.normalize_log(err.getvalue().splitlines()), exc, calls, support.handler_state(h)


@pytest.mark.parametrize("name", HOOK_REQUESTS)
@pytest.mark.parametrize("hook", HOOK_NAMES + ["ALL"])
def test_hook_override(hook, name):
    names = tuple(HOOK_NAMES) if hook == "ALL" else (hook,)
    std_cls, fast_cls = hooked_pair(names)
    # with date_time_string hooked the Date value is fixed: compare it unnormalized
    keep_date = "date_time_string" in names
    std = _calls_of(std_cls, REQUESTS[name], normalize_date=not keep_date)
    fast = _calls_of(fast_cls, REQUESTS[name], normalize_date=not keep_date)
    assert std[2] is None, f"harness: stdlib raised {std[2]}"
    labels = ("output", "log", "exception", "calls", "state")
    for label, a, b in zip(labels, std, fast):
        assert a == b, f"{label} differs for hook {hook!r} on {name!r}"


def test_hooks_really_fire_on_stdlib():
    """The hook table is meaningful: on the stdlib each hook is hit by some request."""
    std_cls, _ = hooked_pair(tuple(HOOK_NAMES))
    seen = set()
    for name in HOOK_REQUESTS:
        for entry in _calls_of(std_cls, REQUESTS[name])[3]:
            seen.add(entry[0].strip("'").split(".")[0])
    assert seen == set(HOOK_NAMES)
    out = _calls_of(std_cls, REQUESTS["get11"], normalize_date=False)[0]
    assert b"Server: Hooked/1.0 Test/2.0\r\n" in out and f"Date: {FIXED_DATE}".encode() in out


@pytest.mark.parametrize("side", ["stdlib", "fasthttp"])
def test_expect_100_rejected_body_not_read(side):
    std_cls, fast_cls = hooked_pair(("handle_expect_100",))
    cls = std_cls if side == "stdlib" else fast_cls
    out, log, exc, calls, state = _calls_of(cls, REQUESTS["expect-100"])
    assert exc is None
    assert out.startswith(b"HTTP/1.1 417 Expectation Failed\r\n")
    assert b"100 Continue" not in out
    assert calls == [("'handle_expect_100'",)]
    assert state["close_connection"] is True


# --------------------------------------------------------------------------
# Response side: byte identity of the writer methods and _headers_buffer
# --------------------------------------------------------------------------

class _Plain:
    """No do_* methods: only the writer API is exercised."""


def _fresh(side: str, request_version="HTTP/1.1", protocol="HTTP/1.1", command="GET"):
    base = build_handler(_Plain, support.SIDES[side], name="PlainHandler")
    cls = socketless_class(type("PlainHandler", (base,), {"protocol_version": protocol}))
    h = cls(io.BytesIO(), io.BytesIO())
    h.request_version = request_version
    h.command = command
    h.requestline = f"{command} /r {request_version}"
    h.close_connection = None
    return h


def _snapshot(h):
    norm = support.normalize_response_bytes
    buf = h.__dict__.get("_headers_buffer", "<missing>")
    if isinstance(buf, list):
        buf = [norm(x) if isinstance(x, bytes) else copy.copy(x) for x in buf]
    return {"wfile": norm(h.wfile.getvalue()), "buffer": buf, "close": h.close_connection}


OPS = {
    "basic": [("send_response", 200), ("send_header", "X-A", "1"), ("end_headers",)],
    "enum-status": [("send_response", HTTPStatus.NOT_FOUND), ("end_headers",)],
    "unknown-code": [("send_response", 299), ("end_headers",)],
    "custom-message": [("send_response", 200, "Fine Thanks"), ("end_headers",)],
    "only": [("send_response_only", 100), ("end_headers",)],
    "only-message": [("send_response_only", 404, "Gone"), ("send_header", "A", "b"), ("end_headers",)],
    "header-before-status": [("send_header", "X-Early", "1"), ("send_response", 200), ("end_headers",)],
    "flush-without-buffer": [("flush_headers",), ("flush_headers",)],
    "flush-mid-way": [("send_response", 200), ("flush_headers",), ("send_header", "X", "y"),
                      ("flush_headers",), ("end_headers",)],
    "end-twice": [("send_response", 200), ("end_headers",), ("end_headers",)],
    "conn-close": [("send_header", "Connection", "close")],
    "conn-CLOSE": [("send_header", "connection", "CLOSE")],
    "conn-keepalive": [("send_header", "Connection", "Keep-Alive")],
    "conn-other": [("send_header", "Connection", "upgrade")],
    "conn-close-then-keepalive": [("send_header", "Connection", "close"),
                                  ("send_header", "Connection", "keep-alive")],
    "value-whitespace": [("send_response", 200), ("send_header", "X-Trail", "v \t "),
                         ("send_header", "X-Lead", "  v"), ("send_header", "X-Empty", ""),
                         ("send_header", " X-Odd-Name ", "v"), ("end_headers",)],
    "int-value": [("send_response", 200), ("send_header", "Content-Length", 5), ("end_headers",)],
    "latin1-value": [("send_response", 200), ("send_header", "X-N", "Jos\xe9"), ("end_headers",)],
    "non-latin1-value": [("send_response", 200), ("send_header", "X-N", "\u2603"), ("end_headers",)],
    "non-latin1-message": [("send_response", 200, "\u2603")],
    "log-request": [("log_request", HTTPStatus.OK), ("log_request",), ("log_request", 404, 1234)],
    "log-error": [("log_error", "bad %s %d", "x", 3)],
    "log-control-chars": [("log_message", "%s", "a\x1b[31m\x00\x7f\x9f\\b\xa0")],
    "send-error": [("send_error", 404)],
    "send-error-full": [("send_error", HTTPStatus.FORBIDDEN, "No <way>", "Because & so")],
    "send-error-204": [("send_error", 204)],
    "send-error-unknown": [("send_error", 599)],
    "date-time-string": [("date_time_string", 0), ("date_time_string", 1_000_000_000.5)],
    "version-address": [("version_string",), ("address_string",)],
}


def _apply(h, ops):
    trace = []
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        for op in ops:
            name, args = op[0], op[1:]
            try:
                result = getattr(h, name)(*args)
                outcome = ("ok", repr(result))
            except Exception as e:
                outcome = ("raised", type(e).__name__, str(e))
            trace.append((op, outcome, _snapshot(h)))
    return trace, support.normalize_log(err.getvalue().splitlines())


@pytest.mark.parametrize("request_version,protocol", [("HTTP/1.1", "HTTP/1.1"), ("HTTP/1.0", "HTTP/1.0"),
                                                      ("HTTP/0.9", "HTTP/1.0"), ("", "HTTP/1.1")])
@pytest.mark.parametrize("script,command", [pytest.param(s, "GET", id=s) for s in OPS] + [
    pytest.param(s, "HEAD", id=s + "-HEAD") for s in OPS if s.startswith("send-error")])
def test_response_writer(script, request_version, protocol, command):
    runs = [_apply(_fresh(side, request_version, protocol, command), OPS[script])
            for side in ("stdlib", "fasthttp")]
    (std_trace, std_log), (fast_trace, fast_log) = runs
    for i, (s, f) in enumerate(zip(std_trace, fast_trace)):
        assert s == f, f"step {i} {s[0]!r} differs"
    assert std_log == fast_log


@pytest.mark.skipif(support.SELFTEST, reason="self-test: the fasthttp side is the stdlib")
def test_send_header_crlf_refused_where_the_stdlib_writes_it():
    # README, "Where fasthttp is stricter": response splitting.
    std = _fresh("stdlib")
    std.send_header("X-A", "a\r\nInjected: 1")
    assert std._headers_buffer == [b"X-A: a\r\nInjected: 1\r\n"]
    fast = _fresh("fasthttp")
    with pytest.raises(ValueError):
        fast.send_header("X-A", "a\r\nInjected: 1")


REASON_INJECTIONS = [("send_response", 200, "OK\r\nSet-Cookie: s=1"),
                     ("send_response", 200, "OK\nSet-Cookie: s=1"),
                     ("send_response_only", 200, "OK\rSet-Cookie: s=1"),
                     ("send_error", 400, "Bad\r\nSet-Cookie: s=1")]


def _written(h):
    return b"".join(h.__dict__.get("_headers_buffer", [])) + h.wfile.getvalue()


@pytest.mark.skipif(support.SELFTEST, reason="self-test: the fasthttp side is the stdlib")
@pytest.mark.parametrize("call", REASON_INJECTIONS, ids=[c[0] + repr(c[2][2:4]) for c in REASON_INJECTIONS])
def test_reason_phrase_crlf_refused_where_the_stdlib_writes_it(call):
    # README, "Where fasthttp is stricter": response splitting through the
    # reason phrase (issue 18 item 20), as send_header refuses it.
    name, *args = call
    std = _fresh("stdlib")
    with contextlib.redirect_stderr(io.StringIO()):
        getattr(std, name)(*args)
    assert b"Set-Cookie: s=1" in _written(std)
    fast = _fresh("fasthttp")
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(ValueError, match="reason phrase"):
        getattr(fast, name)(*args)
    assert b"Set-Cookie" not in _written(fast)
    # HTTP/0.9 gets no status line nor headers: nothing to refuse.
    old = _fresh("fasthttp", request_version="HTTP/0.9", protocol="HTTP/1.0")
    with contextlib.redirect_stderr(io.StringIO()):
        getattr(old, name)(*args)
    assert not _written(old).startswith(b"HTTP/")


def test_response_writer_stdlib_facts():
    h = _fresh("stdlib")
    trace, _ = _apply(h, OPS["basic"])
    assert trace[0][2]["buffer"][0] == b"HTTP/1.1 200 OK\r\n"
    assert trace[0][2]["wfile"] == b""                       # buffered until end_headers
    assert trace[-1][2]["buffer"] == []                      # emptied, not deleted
    assert trace[-1][2]["wfile"].endswith(b"X-A: 1\r\n\r\n")
    h = _fresh("stdlib", request_version="HTTP/0.9")
    trace, _ = _apply(h, OPS["basic"])
    assert trace[-1][2] == {"wfile": b"", "buffer": "<missing>", "close": None}
    trace, _ = _apply(_fresh("stdlib"), OPS["conn-close-then-keepalive"])
    assert [t[2]["close"] for t in trace] == [True, False]


def test_log_date_time_string_format():
    for side in ("stdlib", "fasthttp"):
        h = _fresh(side)
        assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4} \d{2}:\d{2}:\d{2}", h.log_date_time_string())


# --------------------------------------------------------------------------
# Divergences, socketless: fasthttp says 400 and does not call do_*
# --------------------------------------------------------------------------

DIVERGENT = {
    "space-before-colon": req(b"GET / HTTP/1.1", b"Host : x"),
    "non-token-name": req(b"GET / HTTP/1.1", b"X@Y: v"),
    "no-colon": req(b"GET / HTTP/1.1", b"NoColon"),
    "obs-fold": req(b"GET / HTTP/1.1", b"X: a", b" b"),
    "bare-cr": req(b"GET / HTTP/1.1", b"X: a\rb"),
    "nul-in-value": req(b"GET / HTTP/1.1", b"X: a\x00b"),
    "del-in-value": req(b"GET / HTTP/1.1", b"X: a\x7f"),
    "ctl-in-target": b"GET /a\x01b HTTP/1.1\r\n\r\n",
    "ctl-in-method": b"G\x01T / HTTP/1.1\r\n\r\n",
    "bad-method-token": b"G(T / HTTP/1.1\r\n\r\n",
    "eof-mid-line": b"GET / HTTP/1.1\r\nHost: x",
}


@pytest.mark.skipif(support.SELFTEST, reason="self-test: the fasthttp side is the stdlib")
@pytest.mark.parametrize("name", list(DIVERGENT))
def test_divergence_socketless(name):
    std = run_socketless(handler_for("echo11", "stdlib"), DIVERGENT[name], method="handle")
    fast = run_socketless(handler_for("echo11", "fasthttp"), DIVERGENT[name], method="handle")
    assert fast.exception is None, fast.exception
    assert fast.output.startswith(b"HTTP/1.1 400 "), fast.output[:200]
    assert b"\r\nConnection: close\r\n" in fast.output
    assert support.error_page_regex(400).search(fast.output.decode("latin-1"))
    assert fast.do_calls == []
    assert fast.state["close_connection"] is True
    # and the stdlib really differs on this input
    assert std.output != fast.output
