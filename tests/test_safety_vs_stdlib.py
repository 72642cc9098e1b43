"""Safety properties on running servers, each compared with http.server's own answer.

fasthttp replaces only http.server's hot path (parse_request, the response-header methods,
log_message); SimpleHTTPRequestHandler's file serving (translate_path, send_head, the
directory redirect and listing) is the running Python's own code. So for every input below
the expected answer is the stdlib's, on the same input, from a stdlib server running next to
ours; where fasthttp differs on purpose (README, "Where fasthttp is stricter"), the test says
so. What the tests document:

- log lines: control characters (C0, DEL, C1) in the request line are escaped (``\\x1b``) in
  the default log line, exactly as the stdlib escapes them (3.12+, and 3.11.x/3.10.x/3.9.x
  security releases, have ``_control_char_table``), also where fasthttp answers 400 and the
  stdlib 200; no raw control character reaches stderr.
- ``//evil.example/path``: ``self.path`` collapses leading slashes to one, as the stdlib does
  (gh-87389), and SimpleHTTPRequestHandler's directory redirect never sends a ``Location``
  starting with ``//`` (a protocol-relative URL: an open redirect).
- SimpleHTTPRequestHandler never serves a file outside its directory for ``..`` segments,
  ``%2e%2e``, ``%2e%2e%2f``, backslashes, absolute paths, ``%2f``; a ``..`` in the query
  string is ignored. ``%00`` in the path: the stdlib's ``open()`` raises ValueError (embedded
  null byte), socketserver prints the traceback and the connection is closed without an
  answer; fasthttp does exactly the same (it is that code). A raw NUL byte in the request
  line: fasthttp answers 400 (control byte in the request line), the stdlib drops the
  connection as for ``%00``.
- Symlinks: the stdlib FOLLOWS symlinks inside the served tree, also ones that point outside
  it (a link to a file or a directory elsewhere is served, a linked directory listed).
  fasthttp does exactly the same: it is no sandbox either; don't serve trees holding links
  you would not publish.
- ``send_header`` with CR/LF in the value (or the name) and ``send_response`` with CR/LF in
  the reason phrase: the stdlib does not check, the bytes go out as given, so a handler that
  copies request data into a header can be made to inject headers (response splitting).
  fasthttp writes the same bytes (drop-in); validating is the handler's job on both.

Every server binds 127.0.0.1, every socket operation has a timeout.
"""
import contextlib
import functools
import http.server as std_server
import io
import os
import re
import socket
import threading
import time

import pytest
from servers import serve_in_thread, start_server, stop_serving

import fasthttp

TIMEOUT = 5.0
SECRET = b"TOP-SECRET-OUTSIDE-THE-TREE"
PUBLIC = b"public file inside the tree"

SIDES = {
    # side -> (module whose handler classes to use, server class)
    "stdlib": (std_server, std_server.ThreadingHTTPServer),
    "fasthttp": (fasthttp, fasthttp.ThreadingHTTPServer),
    "fasthttp-loop": (fasthttp, fasthttp.LoopHTTPServer),
}
FAST_SIDES = ["fasthttp", "fasthttp-loop"]

_stderr_lock = threading.Lock()


# -- the served tree -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """base/outside/secret.txt (never to be served) and base/root/ (served):
    public.txt, sub/inner.txt, evil.example/ (a directory named like a host),
    linkfile.txt -> ../outside/secret.txt, linkdir -> ../outside."""
    base = tmp_path_factory.mktemp("safety")
    outside = base / "outside"
    root = base / "root"
    outside.mkdir()
    (root / "sub").mkdir(parents=True)
    (root / "evil.example").mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (root / "public.txt").write_bytes(PUBLIC)
    (root / "sub" / "inner.txt").write_bytes(b"inner")
    os.symlink(outside / "secret.txt", root / "linkfile.txt")
    os.symlink(outside, root / "linkdir")
    return base


# -- servers (module-scoped, started on first use) --------------------------------------

class _Pool:
    def __init__(self):
        self.servers = {}

    def get(self, key, server_cls, handler):
        if key not in self.servers:
            self.servers[key] = start_server(server_cls, handler)
        return self.servers[key][0].server_address[:2]

    def close(self):
        for httpd, thread in self.servers.values():
            stop_serving(httpd, thread, TIMEOUT)


@pytest.fixture(scope="module")
def pool():
    p = _Pool()
    try:
        yield p
    finally:
        p.close()


def file_handler(module, directory):
    """SimpleHTTPRequestHandler serving `directory`, the stdlib's way (functools.partial,
    as http.server's own command line does)."""
    return functools.partial(module.SimpleHTTPRequestHandler, directory=str(directory))


def base_handler(module):
    class Answer(module.BaseHTTPRequestHandler):
        """GET /path -> 200, body = self.path; GET /inject?N -> header injection case N."""
        timeout = TIMEOUT

        def do_GET(self):
            if self.path.startswith("/inject?"):
                return INJECTIONS[int(self.path.split("?", 1)[1])][1](self)
            body = self.path.encode("utf-8", "surrogateescape")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Answer


def exchange(address, data, timeout=TIMEOUT):
    """Send data on a new connection; read until the server closes (HTTP/1.0 here).
    Returns (status or None if no status line came, headers dict, body, stderr text)."""
    buf = io.StringIO()
    with _stderr_lock, contextlib.redirect_stderr(buf):
        with socket.create_connection(address, timeout=timeout) as sock:
            sock.sendall(data)
            received = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                received += chunk
        # The log line is written before the answer is sent (log_request runs in
        # send_response), but a traceback after it: give the server thread a moment.
        time.sleep(0.02)
    head, sep, body = received.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if not sep or match is None:
        return None, {}, received, buf.getvalue()
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower().decode("latin-1"), value.strip().decode("latin-1"))
    return int(match.group(1)), headers, body, buf.getvalue()


def get(path):
    if isinstance(path, str):
        path = path.encode("latin-1")
    return b"GET " + path + b" HTTP/1.0\r\n\r\n"


# -- log lines: control characters escaped as the stdlib escapes them ---------------------

CONTROL_LINES = [
    # (id, request line without CRLF)
    ("esc-sequence", b"GET /\x1b[31mred\x1b[0m HTTP/1.0"),
    ("c1-csi", b"GET /\x9b31mred HTTP/1.0"),
    ("del", b"GET /del\x7f HTTP/1.0"),
    ("bare-cr", b"GET /a\rb HTTP/1.0"),
    ("bell-backspace", b"GET /\x07\x08\x08\x08ok HTTP/1.0"),
    ("nul", b"GET /\x00nul HTTP/1.0"),
    ("method-osc-title", b"\x1b]0;pwned\x07GET / HTTP/1.0"),
    ("tab", b"GET /tab\there HTTP/1.0"),
    ("nel", b"GET /\x85nel HTTP/1.0"),
]
_RAW_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_LOG_REQUEST = re.compile(r'"(.*)" (\d{3}) (\S+)$')


def _request_log_line(stderr):
    lines = [line for line in stderr.split("\n") if _LOG_REQUEST.search(line)]
    assert lines, "no log_request line in %r" % stderr
    return _LOG_REQUEST.search(lines[-1])


@pytest.mark.parametrize("side", FAST_SIDES)
@pytest.mark.parametrize("line", [c[1] for c in CONTROL_LINES], ids=[c[0] for c in CONTROL_LINES])
def test_control_characters_escaped_in_log(pool, side, line):
    std_module, std_cls = SIDES["stdlib"]
    module, server_cls = SIDES[side]
    std_status, _, _, std_log = exchange(
        pool.get(("stdlib", "base"), std_cls, base_handler(std_module)), line + b"\r\n\r\n")
    status, _, _, log = exchange(
        pool.get((side, "base"), server_cls, base_handler(module)), line + b"\r\n\r\n")
    assert status is not None and std_status is not None
    # The request line as logged (between the quotes) is the stdlib's, byte for byte,
    # whatever the status (fasthttp refuses control bytes in the request line with 400
    # where the stdlib may answer 200).
    assert _request_log_line(log).group(1) == _request_log_line(std_log).group(1)
    if status == std_status:
        strip = re.compile(r"^\S+ - - \[[^\]]*\] ", re.M)     # address and timestamp
        assert strip.sub("", log) == strip.sub("", std_log)
    if hasattr(std_server.BaseHTTPRequestHandler, "_control_char_table"):
        # The stdlib escapes C0, DEL and C1; then no raw one may reach stderr from us.
        assert not _RAW_CONTROL.search(std_log.replace("\n", ""))
        assert not _RAW_CONTROL.search(log.replace("\n", "")), log


@pytest.mark.parametrize("side", FAST_SIDES)
def test_control_characters_in_a_header_never_reach_the_log(pool, side):
    # The stdlib accepts (and does not log) header values; fasthttp refuses a control
    # byte in one with 400 and logs a fixed reason, never the value.
    module, server_cls = SIDES[side]
    status, _, _, log = exchange(pool.get((side, "base"), server_cls, base_handler(module)),
                                 b"GET / HTTP/1.0\r\nX-A: a\x1b[2Jb\r\n\r\n")
    assert status == 400
    assert "\x1b" not in log and "[2J" not in log


# -- //evil.example: no open redirect ------------------------------------------------------

@pytest.mark.parametrize("side", FAST_SIDES)
@pytest.mark.parametrize("target", ["//evil.example/path", "///evil.example//x", "//evil.example",
                                    "//evil.example/path?next=//x"])
def test_leading_slashes_collapse_in_self_path(pool, side, target):
    std_module, std_cls = SIDES["stdlib"]
    module, server_cls = SIDES[side]
    _, _, std_body, _ = exchange(pool.get(("stdlib", "base"), std_cls, base_handler(std_module)),
                                 get(target))
    status, _, body, _ = exchange(pool.get((side, "base"), server_cls, base_handler(module)),
                                  get(target))
    assert status == 200
    assert body == std_body            # self.path, as the stdlib sets it
    if not std_body.startswith(b"//"):
        assert not body.startswith(b"//")


REDIRECTS = ["//evil.example/%2f..", "//evil.example/%2F%2E%2E", "///evil.example//..",
             "//evil.example", "//sub", "//evil.example/%2f..?q=1", "/sub", "//linkdir"]


@pytest.mark.parametrize("target", REDIRECTS)
def test_directory_redirect_is_never_protocol_relative(pool, tree, target):
    std_module, std_cls = SIDES["stdlib"]
    std = exchange(pool.get(("stdlib", "files"), std_cls, file_handler(std_module, tree / "root")),
                   get(target))
    fast = exchange(pool.get(("fasthttp", "files"), fasthttp.ThreadingHTTPServer,
                             file_handler(fasthttp, tree / "root")), get(target))
    assert fast[0] == std[0] == 301
    assert fast[1]["location"] == std[1]["location"]
    assert not fast[1]["location"].startswith("//")
    assert not fast[1]["location"].startswith("/\\")


# -- SimpleHTTPRequestHandler stays in its directory ---------------------------------------

def traversal_targets(base):
    absolute = str(base / "outside" / "secret.txt")
    return [
        # (id, request target)
        ("dotdot", "/../outside/secret.txt"),
        ("dotdot-deep", "/sub/../../outside/secret.txt"),
        ("dotdot-many", "/" + "../" * 12 + "outside/secret.txt"),
        ("no-leading-slash", "../outside/secret.txt"),
        ("pct-2e2e", "/%2e%2e/outside/secret.txt"),
        ("pct-2E2E-upper", "/%2E%2E/outside/secret.txt"),
        ("pct-2e2e-2f", "/%2e%2e%2foutside%2fsecret.txt"),
        ("dotdot-pct-2f", "/..%2f..%2foutside/secret.txt"),
        ("double-encoded", "/%252e%252e/outside/secret.txt"),
        ("backslashes", "/sub/..\\..\\outside\\secret.txt"),
        ("pct-5c", "/%5c..%5coutside%5csecret.txt"),
        ("absolute", absolute),
        ("absolute-double-slash", "/" + absolute),
        ("absolute-pct-2f", "/%2F" + absolute.lstrip("/")),
        ("absolute-form", "http://127.0.0.1/../outside/secret.txt"),
        ("dot-segments", "/./sub/./../../outside/secret.txt"),
        ("pct-00", "/public.txt%00"),
        ("pct-00-suffix", "/public.txt%00.html"),
        ("nul-then-dotdot", "/%00/../outside/secret.txt"),
    ]


def _traversal_ids():
    from pathlib import Path
    return [t[0] for t in traversal_targets(Path("/x"))]


@pytest.mark.parametrize("case", _traversal_ids())
def test_files_never_served_from_outside_the_directory(pool, tree, case):
    target = dict(traversal_targets(tree))[case]
    std_module, std_cls = SIDES["stdlib"]
    std_status, _, std_body, std_log = exchange(
        pool.get(("stdlib", "files"), std_cls, file_handler(std_module, tree / "root")),
        get(target))
    status, _, body, log = exchange(
        pool.get(("fasthttp", "files"), fasthttp.ThreadingHTTPServer,
                 file_handler(fasthttp, tree / "root")), get(target))
    assert SECRET not in std_body
    assert SECRET not in body
    assert status == std_status
    if case.startswith("pct-00"):
        # The stdlib: open() raises ValueError("embedded null byte"), socketserver prints
        # the traceback, the connection closes unanswered. Same code, same result here.
        assert status is None and body == b""
        assert "embedded null byte" in std_log and "embedded null byte" in log
    else:
        assert status == 404


def test_raw_nul_in_request_line(pool, tree):
    """A raw NUL byte (not %00): fasthttp refuses the request line (400, README:
    control bytes in the request line); the stdlib hands it to open(), which raises
    ValueError: no answer, connection closed. Neither serves a file."""
    std_module, std_cls = SIDES["stdlib"]
    data = b"GET /public.txt\x00 HTTP/1.0\r\n\r\n"
    std_status, _, std_body, _ = exchange(
        pool.get(("stdlib", "files"), std_cls, file_handler(std_module, tree / "root")), data)
    status, _, body, _ = exchange(
        pool.get(("fasthttp", "files"), fasthttp.ThreadingHTTPServer,
                 file_handler(fasthttp, tree / "root")), data)
    assert status == 400
    assert std_status != 200 and PUBLIC not in std_body
    assert PUBLIC not in body


@pytest.mark.parametrize("target", ["/public.txt?../../outside/secret.txt",
                                    "/public.txt?%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
                                    "/public.txt?x=/../../etc/passwd#../..",
                                    "/sub/inner.txt?/../../public.txt"])
def test_dotdot_in_query_string_is_ignored(pool, tree, target):
    std_module, std_cls = SIDES["stdlib"]
    std = exchange(pool.get(("stdlib", "files"), std_cls, file_handler(std_module, tree / "root")),
                   get(target))
    fast = exchange(pool.get(("fasthttp", "files"), fasthttp.ThreadingHTTPServer,
                             file_handler(fasthttp, tree / "root")), get(target))
    assert fast[0] == std[0] == 200
    assert fast[2] == std[2]
    assert SECRET not in fast[2]


@pytest.mark.parametrize("target", ["/linkfile.txt", "/linkdir/secret.txt", "/linkdir/"])
def test_symlinks_are_followed_exactly_like_the_stdlib(pool, tree, target):
    """NOT a containment guarantee: the stdlib follows a symlink inside the served tree
    even when it points outside (a linked file is served, a linked directory listed).
    fasthttp runs the same SimpleHTTPRequestHandler code and does exactly the same."""
    std_module, std_cls = SIDES["stdlib"]
    std = exchange(pool.get(("stdlib", "files"), std_cls, file_handler(std_module, tree / "root")),
                   get(target))
    fast = exchange(pool.get(("fasthttp", "files"), fasthttp.ThreadingHTTPServer,
                             file_handler(fasthttp, tree / "root")), get(target))
    assert fast[0] == std[0] == 200
    assert fast[2] == std[2]
    if target.endswith("/"):
        assert b"secret.txt" in fast[2]            # the outside directory, listed
    else:
        assert fast[2] == SECRET                   # the outside file, served


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
# Regression: LoopHTTPServer used to create handlers without calling the
# factory, so SimpleHTTPRequestHandler had no `directory` and a
# functools.partial factory broke serve_forever.
def test_file_handler_on_the_loop_server(tree):
    httpd = fasthttp.LoopHTTPServer(("127.0.0.1", 0), file_handler(fasthttp, tree / "root"))
    thread = serve_in_thread(httpd)
    try:
        status, _, body, _ = exchange(httpd.server_address[:2], get("/public.txt"), timeout=1.0)
    finally:
        if thread.is_alive():
            httpd.shutdown()
        httpd.server_close()
        thread.join(TIMEOUT)
    assert (status, body) == (200, PUBLIC)


# -- CR/LF in send_header / send_response: written as given, as the stdlib does ----------

def _inject_value(h):
    h.send_response(200)
    h.send_header("X-Value", "a\r\nSet-Cookie: injected=1")
    h.send_header("Content-Length", "0")
    h.end_headers()


def _inject_lf_only(h):
    h.send_response(200)
    h.send_header("X-Value", "a\nSet-Cookie: injected=1")
    h.send_header("Content-Length", "0")
    h.end_headers()


def _inject_name(h):
    h.send_response(200)
    h.send_header("Set-Cookie: injected=1\r\nX-Name", "b")
    h.send_header("Content-Length", "0")
    h.end_headers()


def _inject_reason(h):
    h.send_response(200, "OK\r\nSet-Cookie: injected=1")
    h.send_header("Content-Length", "0")
    h.end_headers()


def _inject_split(h):
    # A whole second response in the header value (response splitting).
    h.send_response(200)
    h.send_header("X-Value", "a\r\nContent-Length: 0\r\n\r\n"
                             "HTTP/1.1 200 OK\r\nSet-Cookie: injected=1")
    h.send_header("Content-Length", "0")
    h.end_headers()


INJECTIONS = [("value-crlf", _inject_value), ("value-lf", _inject_lf_only),
              ("name-crlf", _inject_name), ("reason-crlf", _inject_reason),
              ("split", _inject_split)]


def _raw(address, index):
    with _stderr_lock, contextlib.redirect_stderr(io.StringIO()):
        with socket.create_connection(address, timeout=TIMEOUT) as sock:
            sock.sendall(get("/inject?%d" % index))
            received = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
    # Date may tick between the two servers' answers.
    return re.sub(rb"\r\nDate: [^\r\n]*", b"", received)


@pytest.mark.parametrize("side", FAST_SIDES)
@pytest.mark.parametrize("index", range(len(INJECTIONS)), ids=[i[0] for i in INJECTIONS])
def test_crlf_in_headers(pool, side, index):
    """The stdlib's send_header/send_response do not check for CR or LF (CPython 3.9-3.13):
    "Set-Cookie: injected=1" arrives as a header of its own. fasthttp's send_header, and
    send_response for the reason phrase (issue 18 item 20), raise ValueError instead (the
    handler fails before anything is sent)."""
    std_module, std_cls = SIDES["stdlib"]
    module, server_cls = SIDES[side]
    std = _raw(pool.get(("stdlib", "base"), std_cls, base_handler(std_module)), index)
    fast = _raw(pool.get((side, "base"), server_cls, base_handler(module)), index)
    assert fast == b"", fast
    # What the stdlib does, documented: no check, the injected line is a header line.
    assert re.search(rb"(\r\n|\n)Set-Cookie: injected=1\r\n", std), std
