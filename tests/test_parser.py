"""The request-head parser, on both implementations: fasthttp:c (the C
parser) and fasthttp:pure (its Python twin). Every case asserts exact outputs,
and the property tests assert that the two agree on arbitrary input.

Vectors are data: raw bytes in, expected (name, value) pairs or expected
HeadError (kind, reason) out.
"""
import http.client
import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impls import load_or_skip
from support import corpus_files

from fasthttp.errors import HeadError


def _both():
    """Both modules for the agreement properties (C skipped if not built)."""
    return load_or_skip("fasthttp:c"), load_or_skip("fasthttp:pure")


CORPUS_FILES = corpus_files()  # tests/data/requests/*.http; raises if missing

# -- error outcomes (kind, reason): fh_reason() ---------------------------

LINE_TOO_LONG = ("line_too_long", "header line too long")
TOO_MANY = ("too_many_headers", "too many headers")
HEAD_TOO_LARGE = ("head_too_large", "header block too large")
OBS_FOLD = ("malformed", "obsolete line folding in header")
NAME = ("malformed", "invalid character in header name")
SPACE_BEFORE_COLON = ("malformed", "whitespace before colon in header")
NO_COLON = ("malformed", "header line without a colon")
VALUE = ("malformed", "invalid character in header value")
BARE_CR = ("malformed", "bare CR in request head")
EOF_IN_LINE = ("malformed", "request head ended inside a line")


class FakeSocket:
    """recv_into() hands out `data` in pieces of the given sizes (then EOF)."""

    def __init__(self, data, sizes=None):
        self.data = bytes(data)
        self.pos = 0
        self.sizes = iter(sizes) if sizes is not None else None
        self.calls = 0

    def gettimeout(self):
        return None         # a blocking socket, as the engine's are

    def recv_into(self, view):
        self.calls += 1
        n = len(view)
        if self.sizes is not None:
            n = min(n, next(self.sizes, n))
        n = min(n, len(self.data) - self.pos)
        view[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def fileno(self):
        return -1


def one_byte_sizes():
    while True:
        yield 1


def outcome(fn, *args, **kwargs):
    """Pairs, or the HeadError's (kind, reason)."""
    try:
        return fn(*args, **kwargs)
    except HeadError as err:
        return (err.kind, err.reason)


def via_bytesio(mod, raw, **limits):
    """read_headers over BytesIO (the readline path) -> (outcome, rest)."""
    f = io.BytesIO(raw)
    out = outcome(mod.read_headers, f, **limits)
    return out, f.read()


def via_reader(mod, raw, sizes=None, **limits):
    """read_headers over our SocketReader (the in-buffer path) -> (outcome, rest)."""
    r = mod.SocketReader(FakeSocket(raw, sizes))
    out = outcome(mod.read_headers, r, **limits)
    return out, (r.read() if not isinstance(out, tuple) else None)


# --------------------------------------------------------------------------
# The request corpus: every request parses, as http.client.parse_headers does
# --------------------------------------------------------------------------

def _corpus_requests(data):
    """Split a corpus file into (request line, head bytes, parsed by
    http.client) per pipelined request, as http.server reads it."""
    f = io.BytesIO(data)
    out = []
    while True:
        line = f.readline(65537)
        if not line:
            break
        start = f.tell()
        msg = http.client.parse_headers(f)
        end = f.tell()
        out.append((line, data[start:end], list(msg.items())))
        length = msg.get("Content-Length")
        if length is not None and length.isdigit():
            f.read(int(length))
        # The next request, if any, must start with a request line.
        rest = data[f.tell():]
        if not rest or not rest.split(b"\r\n", 1)[0].endswith((b"HTTP/1.1", b"HTTP/1.0")):
            break
    return out


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus(impl, path):
    data = path.read_bytes()
    requests = _corpus_requests(data)
    assert requests
    for line, head, expected in requests:
        parsed = impl.parse_request_line(line)
        assert parsed is not None, line
        method, target, major, minor = parsed
        words = line.decode("latin-1").split()
        assert [method, target, "HTTP/%d.%d" % (major, minor)] == words
        for how in (via_bytesio, via_reader):
            out, rest = how(impl, head + b"TAIL")
            assert out == expected, how.__name__
            if rest is not None:
                assert rest == b"TAIL"
        out, _ = via_reader(impl, head, sizes=one_byte_sizes())
        assert out == expected


def test_corpus_pipelined_on_one_reader(impl):
    """All requests of every file through one reader: each head is parsed in
    the buffer and the body/next request stays buffered behind it."""
    for path in CORPUS_FILES:
        data = path.read_bytes()
        requests = _corpus_requests(data)
        r = impl.SocketReader(FakeSocket(data, sizes=[37] * 10000))
        for line, _head, expected in requests:
            assert r.readline(65537) == line
            assert impl.read_headers(r) == expected
            length = dict(expected).get("Content-Length")
            if length is not None and length.isdigit():
                r.read(int(length))


# --------------------------------------------------------------------------
# Header vectors
# --------------------------------------------------------------------------

def _lines(n, fmt=b"H%d: v\r\n"):
    return b"".join(fmt % i for i in range(n))


def _pairs(n):
    return [("H%d" % i, "v") for i in range(n)]


def _line_of(total, end=b"\r\n"):
    """A header line of exactly `total` bytes, terminator included."""
    prefix = b"X: "
    return prefix + b"a" * (total - len(prefix) - len(end)) + end


LIMIT = 65536
LONG_VALUE = "a" * (LIMIT - 5)

# (id, raw head, limits, expected pairs or (kind, reason))
HEADER_VECTORS = [
    # basics
    ("empty-head", b"\r\n", {}, []),
    ("empty-head-lf", b"\n", {}, []),
    ("simple", b"Host: x\r\nAccept: */*\r\n\r\n", {},
     [("Host", "x"), ("Accept", "*/*")]),
    ("repeated", b"A: 1\r\nA: 2\r\n\r\n", {}, [("A", "1"), ("A", "2")]),
    ("case-kept", b"cOnTeNt-LeNgTh: 5\r\n\r\n", {}, [("cOnTeNt-LeNgTh", "5")]),
    ("all-tchars-name", b"!#$%&'*+-.^_`|~09AZaz: v\r\n\r\n", {},
     [("!#$%&'*+-.^_`|~09AZaz", "v")]),
    # OWS
    ("ows-none", b"A:b\r\n\r\n", {}, [("A", "b")]),
    ("ows-leading-stripped", b"A: \t  b\r\n\r\n", {}, [("A", "b")]),
    ("ows-trailing-kept", b"A: b \t \r\n\r\n", {}, [("A", "b \t ")]),
    ("ows-inner-kept", b"A: b  c\td\r\n\r\n", {}, [("A", "b  c\td")]),
    ("value-empty", b"A:\r\n\r\n", {}, [("A", "")]),
    ("value-all-spaces", b"A:    \r\n\r\n", {}, [("A", "")]),
    ("value-all-tabs-lf", b"A:\t\t\n\n", {}, [("A", "")]),
    # line ends
    ("lf-only", b"A: b\nC: d\n\n", {}, [("A", "b"), ("C", "d")]),
    ("mixed-ends", b"A: b\nC: d\r\n\n", {}, [("A", "b"), ("C", "d")]),
    ("mixed-ends-2", b"A: b\r\nC: d\n\r\n", {}, [("A", "b"), ("C", "d")]),
    ("bare-cr-in-value", b"A: b\rc\r\n\r\n", {}, BARE_CR),
    ("bare-cr-value-end", b"A: b\r\r\n\r\n", {}, BARE_CR),
    ("bare-cr-blank", b"A: b\r\n\r\r\n", {}, BARE_CR),
    ("bare-cr-blank-then-text", b"\rA: b\r\n\r\n", {}, BARE_CR),
    ("cr-in-name", b"A\r: b\r\n\r\n", {}, NO_COLON),
    ("lf-in-name", b"AB\nC: d\r\n\r\n", {}, NO_COLON),
    ("no-colon", b"Host\r\n\r\n", {}, NO_COLON),
    # obs-fold
    ("obs-fold-space", b"A: b\r\n c\r\n\r\n", {}, OBS_FOLD),
    ("obs-fold-tab", b"A: b\r\n\tc\r\n\r\n", {}, OBS_FOLD),
    ("leading-space-first-line", b" A: b\r\n\r\n", {}, OBS_FOLD),
    ("whitespace-only-line", b"A: b\r\n \r\n\r\n", {}, OBS_FOLD),
    # name
    ("space-before-colon", b"A : b\r\n\r\n", {}, SPACE_BEFORE_COLON),
    ("tab-before-colon", b"A\t: b\r\n\r\n", {}, SPACE_BEFORE_COLON),
    ("space-in-name", b"A B: c\r\n\r\n", {}, SPACE_BEFORE_COLON),
    ("empty-name", b": b\r\n\r\n", {}, NAME),
    ("name-at", b"A@B: c\r\n\r\n", {}, NAME),
    ("name-paren", b"(A): b\r\n\r\n", {}, NAME),
    ("name-quote", b'A"B: c\r\n\r\n', {}, NAME),
    ("name-slash", b"A/B: c\r\n\r\n", {}, NAME),
    ("name-nul", b"A\x00: b\r\n\r\n", {}, NAME),
    ("name-del", b"A\x7f: b\r\n\r\n", {}, NAME),
    ("name-obs-text", b"Caf\xe9: b\r\n\r\n", {}, NAME),
    ("name-starts-obs-text", b"\x80A: b\r\n\r\n", {}, NAME),
    ("name-starts-nul", b"\x00A: b\r\n\r\n", {}, NAME),
    # value bytes
    ("value-nul", b"A: b\x00c\r\n\r\n", {}, VALUE),
    ("value-soh", b"A: \x01\r\n\r\n", {}, VALUE),
    ("value-vt", b"A: b\x0bc\r\n\r\n", {}, VALUE),
    ("value-ff", b"A: b\x0cc\r\n\r\n", {}, VALUE),
    ("value-us", b"A: b\x1f\r\n\r\n", {}, VALUE),
    ("value-del", b"A: b\x7fc\r\n\r\n", {}, VALUE),
    ("value-nul-after-ows", b"A:  \x00\r\n\r\n", {}, VALUE),
    ("obs-text-value", b"A: caf\xe9 \x80\x85\xa0\xff\r\n\r\n", {},
     [("A", "caf\xe9 \x80\x85\xa0\xff")]),
    ("colon-in-value", b"Host: a:8080\r\n\r\n", {}, [("Host", "a:8080")]),
    # first problem wins
    ("name-error-before-value-error", b"A@: \x00\r\n\r\n", {}, NAME),
    ("first-line-error-wins", b"A: \x00\r\nB : c\r\n\r\n", {}, VALUE),
    ("error-before-eof", b"A : b", {}, SPACE_BEFORE_COLON),
    ("error-before-too-long", b"A : " + b"b" * LIMIT + b"\r\n\r\n", {},
     SPACE_BEFORE_COLON),
    ("too-long-before-late-error", b"A: " + b"b" * LIMIT + b"\x00\r\n\r\n", {},
     LINE_TOO_LONG),
    # number of lines: max_lines counts the blank line (http.client)
    ("99-headers", _lines(99) + b"\r\n", {}, _pairs(99)),
    ("100-headers", _lines(100) + b"\r\n", {}, TOO_MANY),
    ("100-headers-lf", _lines(100, b"H%d: v\n") + b"\n", {}, TOO_MANY),
    ("100-headers-max-101", _lines(100) + b"\r\n", {"max_lines": 101}, _pairs(100)),
    ("200-headers-max-201", _lines(200) + b"\r\n", {"max_lines": 201}, _pairs(200)),
    ("101st-line-malformed", _lines(100) + b"\x00 bad\r\n\r\n", {}, TOO_MANY),
    ("101st-line-too-long", _lines(100) + b"X: " + b"a" * LIMIT + b"\r\n\r\n", {},
     LINE_TOO_LONG),
    ("101st-line-exactly-max", _lines(100) + _line_of(LIMIT) + b"\r\n", {}, TOO_MANY),
    ("101st-line-one-over", _lines(100) + _line_of(LIMIT + 1) + b"\r\n", {},
     LINE_TOO_LONG),
    ("max-lines-0", b"\r\n", {"max_lines": 0}, TOO_MANY),
    ("max-lines-1", b"\r\n", {"max_lines": 1}, []),
    ("max-lines-1-header", b"A: b\r\n\r\n", {"max_lines": 1}, TOO_MANY),
    # line length: max_line counts the whole line, terminator included
    ("line-exactly-max", _line_of(LIMIT) + b"\r\n", {}, [("X", LONG_VALUE)]),
    ("line-exactly-max-lf", _line_of(LIMIT, b"\n") + b"\n", {},
     [("X", LONG_VALUE + "a")]),
    ("line-one-over", _line_of(LIMIT + 1) + b"\r\n", {}, LINE_TOO_LONG),
    ("line-one-over-lf", _line_of(LIMIT + 1, b"\n") + b"\n", {}, LINE_TOO_LONG),
    ("line-cr-at-limit", b"A: bc\r\n\r\n", {"max_line": 6}, LINE_TOO_LONG),
    ("line-small-limit-ok", b"A: bc\r\n\r\n", {"max_line": 7}, [("A", "bc")]),
    ("name-too-long", b"A" * (LIMIT + 1) + b": b\r\n\r\n", {}, LINE_TOO_LONG),
    ("no-lf-over-limit", b"X" * (LIMIT + 10), {}, LINE_TOO_LONG),
    ("blank-line-limit", b"\r\n", {"max_line": 1}, LINE_TOO_LONG),
    ("max-line-0", b"\r\n", {"max_line": 0}, LINE_TOO_LONG),
    # max_head: the whole block, blank line included; 0 = no limit
    ("max-head-exact", b"A: b\r\n\r\n", {"max_head": 8}, [("A", "b")]),
    ("max-head-one-short", b"A: b\r\n\r\n", {"max_head": 7}, HEAD_TOO_LARGE),
    ("max-head-second-line", b"A: b\r\nC: dddd\r\n\r\n", {"max_head": 10},
     HEAD_TOO_LARGE),
    ("max-head-error-first", b"A b: c\r\n\r\n", {"max_head": 2}, SPACE_BEFORE_COLON),
    ("max-head-before-error", b"A b: c\r\n\r\n", {"max_head": 1}, HEAD_TOO_LARGE),
    ("max-head-ties-line-limit", b"A: bcd\r\n\r\n", {"max_line": 6, "max_head": 6},
     LINE_TOO_LONG),
    ("max-head-below-line-limit", b"A: bcd\r\n\r\n", {"max_line": 7, "max_head": 6},
     HEAD_TOO_LARGE),
    ("line-limit-below-max-head", b"A: bcd\r\n\r\n", {"max_line": 6, "max_head": 7},
     LINE_TOO_LONG),
    ("max-head-many-lines", _lines(50) + b"\r\n", {"max_head": 200}, HEAD_TOO_LARGE),
    ("max-head-extra-line", _lines(100) + b"\r\n", {"max_head": 791},
     HEAD_TOO_LARGE),
    ("max-head-0-unlimited", _lines(99) + b"\r\n", {"max_head": 0}, _pairs(99)),
    # EOF: on a line boundary it ends the block (http.server); else an error
    ("eof-empty", b"", {}, []),
    ("eof-at-boundary", b"A: b\r\n", {}, [("A", "b")]),
    ("eof-at-boundary-lf", b"A: b\nC: d\n", {}, [("A", "b"), ("C", "d")]),
    ("eof-in-name", b"A", {}, EOF_IN_LINE),
    ("eof-in-value", b"A: b", {}, EOF_IN_LINE),
    ("eof-after-ows", b"A:  ", {}, EOF_IN_LINE),
    ("eof-after-cr", b"A: b\r", {}, EOF_IN_LINE),
    ("eof-after-blank-cr", b"A: b\r\n\r", {}, EOF_IN_LINE),
    ("eof-in-second-line", b"A: b\r\nC", {}, EOF_IN_LINE),
    ("eof-after-99", _lines(99), {}, _pairs(99)),
    ("eof-after-100", _lines(100), {}, TOO_MANY),
    ("eof-in-101st", _lines(100) + b"X: partial", {}, TOO_MANY),
    ("eof-max-lines-0", b"", {"max_lines": 0}, TOO_MANY),
]


@pytest.mark.parametrize("raw,limits,expected",
                         [v[1:] for v in HEADER_VECTORS],
                         ids=[v[0] for v in HEADER_VECTORS])
def test_header_vectors(impl, raw, limits, expected):
    for how in (via_bytesio, via_reader):
        out, _ = how(impl, raw, **limits)
        assert out == expected, how.__name__


@pytest.mark.parametrize("raw,limits,expected",
                         [v[1:] for v in HEADER_VECTORS if len(v[1]) < 2000],
                         ids=[v[0] for v in HEADER_VECTORS if len(v[1]) < 2000])
def test_header_vectors_one_byte_at_a_time(impl, raw, limits, expected):
    out, _ = via_reader(impl, raw, sizes=one_byte_sizes(), **limits)
    assert out == expected


@pytest.mark.parametrize("raw,limits,expected",
                         [v[1:] for v in HEADER_VECTORS if len(v[1]) >= 2000],
                         ids=[v[0] for v in HEADER_VECTORS if len(v[1]) >= 2000])
def test_header_vectors_big_in_odd_pieces(impl, raw, limits, expected):
    sizes = [1, 2, 3, 4093, 5, 8191, 7] * 1000
    out, _ = via_reader(impl, raw, sizes=sizes, **limits)
    assert out == expected


def test_headers_leave_rest(impl):
    """The bytes after the blank line stay for the body (both paths)."""
    raw = b"A: b\r\n\r\nBODY\r\nC: d\r\n\r\n"
    for how in (via_bytesio, via_reader):
        out, rest = how(impl, raw)
        assert out == [("A", "b")]
        assert rest == b"BODY\r\nC: d\r\n\r\n"


def test_readline_path_reads_like_http_client(impl):
    """On a plain file, read_headers reads with readline(max_line + 1)."""
    calls = []

    class Recording(io.BytesIO):
        def readline(self, size=-1):
            calls.append(size)
            return super().readline(size)

    impl.read_headers(Recording(b"A: b\r\nC: d\r\n\r\nrest"), max_line=100)
    assert calls == [101, 101, 101]


def test_latin1_decoding(impl):
    raw = bytes(range(0x80, 0x100))
    out, _ = via_bytesio(impl, b"X: " + raw + b"\r\n\r\n")
    assert out == [("X", raw.decode("latin-1"))]


def test_headers_match_http_client_on_good_heads(impl):
    """Well-formed heads give http.client.parse_headers' items()."""
    heads = [v[1] for v in HEADER_VECTORS
             if isinstance(v[3], list) and not v[2] and len(v[1]) < 65536]
    for raw in heads:
        expected = list(http.client.parse_headers(io.BytesIO(raw)).items())
        out, _ = via_bytesio(impl, raw)
        assert out == expected, raw


def test_limit_argument_types(impl):
    f = io.BytesIO(b"\r\n")
    with pytest.raises(OverflowError):
        impl.read_headers(f, max_line=-1)
    with pytest.raises(TypeError):
        impl.read_headers(f, max_lines="3")
    with pytest.raises(OverflowError):
        impl.read_headers(f, max_head=2**64)
    # Cython converts size_t arguments with __int__: a float is truncated.
    assert impl.read_headers(io.BytesIO(b"A: b\r\n\r\n"), max_lines=2.9) == [("A", "b")]
    assert outcome(impl.read_headers, io.BytesIO(b"A: b\r\n\r\n"), max_lines=1.9) == TOO_MANY


def test_head_error_is_exception(impl):
    with pytest.raises(HeadError) as info:
        impl.read_headers(io.BytesIO(b"A : b\r\n\r\n"))
    assert info.value.args == SPACE_BEFORE_COLON


# --------------------------------------------------------------------------
# Request lines
# --------------------------------------------------------------------------

GET11 = ("GET", "/", 1, 1)

REQUEST_LINE_VECTORS = [
    ("crlf", b"GET / HTTP/1.1\r\n", GET11),
    ("lf", b"GET / HTTP/1.1\n", GET11),
    ("none", b"GET / HTTP/1.1", GET11),
    ("cr-only", b"GET / HTTP/1.1\r", None),   # bare CR: lenient path, refused there
    ("crcrlf", b"GET / HTTP/1.1\r\r\n", None),
    ("lfcr", b"GET / HTTP/1.1\n\r", None),
    ("crlfcrlf", b"GET / HTTP/1.1\r\n\r\n", None),
    ("http10", b"GET /index.html HTTP/1.0\r\n", ("GET", "/index.html", 1, 0)),
    ("http09-version", b"GET / HTTP/0.9\r\n", ("GET", "/", 0, 9)),
    ("http2", b"PRI * HTTP/2.0\r\n", ("PRI", "*", 2, 0)),
    ("lowercase-method", b"get / HTTP/1.1\r\n", ("get", "/", 1, 1)),
    ("token-method", b"M-SEARCH * HTTP/1.1\r\n", ("M-SEARCH", "*", 1, 1)),
    ("absolute-form", b"GET http://a.example:80/x?y=1#z HTTP/1.1\r\n",
     ("GET", "http://a.example:80/x?y=1#z", 1, 1)),
    ("double-space-1", b"GET  / HTTP/1.1\r\n", None),
    ("double-space-2", b"GET /  HTTP/1.1\r\n", None),
    ("leading-space", b" GET / HTTP/1.1\r\n", None),
    ("trailing-space", b"GET / HTTP/1.1 \r\n", None),
    ("tab-1", b"GET\t/ HTTP/1.1\r\n", None),
    ("tab-2", b"GET /\tHTTP/1.1\r\n", None),
    ("http-1-10", b"GET / HTTP/1.10\r\n", None),
    ("http-11-1", b"GET / HTTP/11.1\r\n", None),
    ("http-1", b"GET / HTTP/1\r\n", None),
    ("http-1dot", b"GET / HTTP/1.\r\n", None),
    ("http-plus", b"GET / HTTP/+1.1\r\n", None),
    ("lowercase-http", b"GET / http/1.1\r\n", None),
    ("junk-after", b"GET / HTTP/1.1x\r\n", None),
    ("missing-version", b"GET /\r\n", None),
    ("method-only", b"GET\r\n", None),
    ("empty", b"", None),
    ("crlf-only", b"\r\n", None),
    ("four-words", b"GET / x HTTP/1.1\r\n", None),
    ("non-token-method", b"G@T / HTTP/1.1\r\n", None),
    ("method-obs-text", b"G\xc9T / HTTP/1.1\r\n", None),
    ("target-0x85", b"GET /a\x85b HTTP/1.1\r\n", None),
    ("target-0xa0", b"GET /a\xa0b HTTP/1.1\r\n", None),
    ("target-del", b"GET /a\x7fb HTTP/1.1\r\n", None),
    ("target-nul", b"GET /a\x00b HTTP/1.1\r\n", None),
    ("target-vt", b"GET /a\x0bb HTTP/1.1\r\n", None),
    ("target-cr", b"GET /a\rb HTTP/1.1\r\n", None),
    ("target-obs-text", b"GET /\x80\x84\x86\x9f\xa1\xff HTTP/1.1\r\n",
     ("GET", "/\x80\x84\x86\x9f\xa1\xff", 1, 1)),
    ("target-punct", b"GET /!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ HTTP/1.1\r\n",
     ("GET", "/!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 1, 1)),
]


@pytest.mark.parametrize("line,expected",
                         [v[1:] for v in REQUEST_LINE_VECTORS],
                         ids=[v[0] for v in REQUEST_LINE_VECTORS])
def test_request_line_vectors(impl, line, expected):
    assert impl.parse_request_line(line) == expected


def test_request_line_wants_bytes(impl):
    with pytest.raises(TypeError):
        impl.parse_request_line(bytearray(b"GET / HTTP/1.1\r\n"))
    with pytest.raises(TypeError):
        impl.parse_request_line("GET / HTTP/1.1\r\n")


def test_request_line_bytes_subclass_refused(impl):
    class B(bytes):
        pass
    with pytest.raises(TypeError):     # Cython's `bytes line`: exact type
        impl.parse_request_line(B(b"GET / HTTP/1.1\r\n"))


# --------------------------------------------------------------------------
# Properties (hypothesis): C and pure agree; incremental == one feed
# --------------------------------------------------------------------------

HEAD_PIECES = [b"A", b"b", b"Host", b"-", b":", b": ", b" ", b"\t", b"\r", b"\n",
               b"\r\n", b"\r\n\r\n", b"\x00", b"\x7f", b"\x80", b"\xff", b"\x85",
               b"@", b"x: y\r\n", b"X-Y: z\n"]

heads = st.one_of(
    st.lists(st.sampled_from(HEAD_PIECES), max_size=40).map(b"".join),
    st.binary(max_size=60),
)
limits = st.fixed_dictionaries({
    "max_line": st.sampled_from([1, 2, 3, 5, 8, 13, 65536]),
    "max_lines": st.sampled_from([0, 1, 2, 3, 5, 100]),
    "max_head": st.sampled_from([0, 1, 4, 7, 12, 30]),
})
PROPS = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(raw=heads, lim=limits)
def test_c_and_pure_agree(raw, lim):
    c, pure = _both()
    for how in (via_bytesio, via_reader):
        assert how(c, raw, **lim) == how(pure, raw, **lim), how.__name__


@PROPS
@given(raw=heads, lim=limits, seed=st.integers(0, 2**32 - 1))
def test_random_splits_equal_one_feed(raw, lim, seed):
    for mod in _both():
        whole = via_reader(mod, raw, **lim)
        rnd = random.Random(seed)
        sizes = [rnd.randint(1, 8) for _ in range(len(raw) + 1)]
        assert via_reader(mod, raw, sizes=sizes, **lim) == whole
        assert via_reader(mod, raw, sizes=one_byte_sizes(), **lim) == whole
        assert via_bytesio(mod, raw, **lim)[0] == whole[0]


@PROPS
@given(head=st.lists(st.tuples(
           st.text("abcXYZ-_019!#", min_size=1, max_size=8),
           st.text(" \tab\x80\xe9\xff:;=", max_size=12)), max_size=8),
       body=st.binary(max_size=20), seed=st.integers(0, 2**32 - 1))
def test_well_formed_heads_random_splits(head, body, seed):
    """Good heads, split anywhere: the pairs are http.client's, the body stays."""
    raw = b"".join(("%s:%s\r\n" % kv).encode("latin-1") for kv in head) + b"\r\n"
    expected = list(http.client.parse_headers(io.BytesIO(raw)).items())
    rnd = random.Random(seed)
    sizes = [rnd.randint(1, 16) for _ in range(len(raw) + len(body) + 1)]
    for mod in _both():
        out, rest = via_reader(mod, raw + body, sizes=sizes)
        assert out == expected
        assert rest == body


LINE_PIECES = [b"GET", b"get", b"M-S", b" ", b"  ", b"\t", b"/", b"/a?b=c", b"*",
               b"HTTP/1.1", b"HTTP/1.0", b"HTTP/", b"1", b".", b"\r", b"\n",
               b"\r\n", b"\x85", b"\xa0", b"\x80", b"\xff", b"\x00", b"\x7f", b"@"]
request_lines = st.one_of(
    st.lists(st.sampled_from(LINE_PIECES), max_size=10).map(b"".join),
    st.binary(max_size=30),
)


@PROPS
@given(line=request_lines)
def test_request_line_c_and_pure_agree(line):
    c, pure = _both()
    assert c.parse_request_line(line) == pure.parse_request_line(line)


@PROPS
@given(line=request_lines)
def test_strict_request_line_is_what_http_server_splits(line):
    """A line accepted on the fast path means what http.server's split says."""
    for mod in _both():
        parsed = mod.parse_request_line(line)
        if parsed is not None:
            method, target, major, minor = parsed
            words = str(line, "iso-8859-1").rstrip("\r\n").split()
            assert words == [method, target, "HTTP/%d.%d" % (major, minor)]


# -- the tables both implementations share ------------------------------------
# csrc/fh_parser.h is the one list of result codes and reasons (the pure
# path's fasthttp/fh_results.py is generated from it), and the C class table
# the one definition of byte classes; the pure twin's is held to it here.

ROOT = Path(__file__).resolve().parents[1]


def test_results_table_is_generated_from_the_header():
    """fasthttp/fh_results.py is what tools/gen_results.py makes of
    csrc/fh_parser.h (run it after editing FH_RESULTS)."""
    if not (ROOT / "csrc" / "fh_parser.h").is_file():
        pytest.skip("testing an installed copy: no csrc/ beside the tests")
    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_results", ROOT / "tools" / "gen_results.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = gen.module_text((ROOT / "csrc" / "fh_parser.h").read_text())
    assert (ROOT / "fasthttp" / "fh_results.py").read_text() == text, \
        "fasthttp/fh_results.py is stale: run python tools/gen_results.py"


def test_reasons_equal_c():
    from fasthttp import fh_results, head
    c = load_or_skip("fasthttp:c")
    for code, (_name, reason) in fh_results.RESULTS.items():
        assert c.modules["head"].reason(code) == reason == head.reason(code)
    assert c.modules["head"].reason(-99) == "unknown error" == head.reason(-99)


def test_byte_classes_equal_c():
    c, pure = _both()
    assert [c.byte_class(b) for b in range(256)] == [pure.byte_class(b) for b in range(256)]
    # spot checks of the rules themselves (RFC 9110 5.1, 5.5)
    assert pure.byte_class(ord("a")) == 0x01 | 0x02 | 0x04
    assert pure.byte_class(ord(" ")) == 0x02
    assert pure.byte_class(ord("\t")) == 0x02
    assert pure.byte_class(0x7F) == 0
    assert pure.byte_class(0x85) == 0x02      # value, but never a fast-path target


CONTENT_LENGTHS = [
    ("0", 0), ("42", 42), ("42 ", 42), ("42\t \t", 42), ("007", 7),
    ("999999999999999999", 999999999999999999),
    ("1000000000000000000", None),      # 19 digits
    ("", None), (" ", None), ("+1", None), ("-1", None), ("1 2", None),
    ("0x10", None), ("1.0", None), ("١", None),   # a non-ASCII digit
    ("12,12", None),
]


@pytest.mark.parametrize("value, expected", CONTENT_LENGTHS)
def test_content_length(impl, value, expected):
    assert impl.content_length(value) == expected


# --------------------------------------------------------------------------
# request_state: what an event loop learns, and the head parsed once
# --------------------------------------------------------------------------

MAX_INLINE = 100


def _state(impl, data, limit=MAX_INLINE):
    r = impl.SocketReader(FakeSocket(data))
    while r.fill_nowait() > 0:
        pass
    return impl.request_state(r, limit), r


GET_HEAD = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
POST_HEAD = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"

STATE_VECTORS = [
    # (id, bytes, answer: an int, or a name of fasthttp.head)
    ("whole-get", GET_HEAD, len(GET_HEAD)),
    ("whole-get-then-more", GET_HEAD + b"GET /2 HT", len(GET_HEAD)),
    ("whole-post", POST_HEAD + b"hello", len(POST_HEAD) + 5),
    ("empty-line", b"\r\nGET", 2),
    ("line-only", b"GET / HTTP/1.1\r\n", "HEAD_INCOMPLETE"),
    ("head-cut", GET_HEAD[:-1], "HEAD_INCOMPLETE"),
    ("nothing", b"", "HEAD_INCOMPLETE"),
    ("body-cut", POST_HEAD + b"hel", "BODY_INCOMPLETE"),
    ("body-over-inline", POST_HEAD.replace(b"5", b"101"), "BLOCKING"),
    ("chunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "BLOCKING"),
    ("expect", POST_HEAD.replace(b"Host: h", b"Expect: 100-continue") + b"hello", "BLOCKING"),
    ("bad-length", POST_HEAD.replace(b"5", b"5x") + b"hello", "BLOCKING"),
    ("two-lengths", POST_HEAD.replace(b"Host: h", b"Content-Length: 6") + b"hello!", "BLOCKING"),
    ("refused-head", b"GET / HTTP/1.1\r\nA : b\r\n\r\n", "BLOCKING"),
    ("request-line-too-long", b"G" * 65537, "BLOCKING"),
]


@pytest.mark.parametrize("data,answer", [v[1:] for v in STATE_VECTORS],
                         ids=[v[0] for v in STATE_VECTORS])
def test_request_state_answers(impl, data, answer):
    from fasthttp import head
    expected = getattr(head, answer) if isinstance(answer, str) else answer
    assert _state(impl, data)[0] == expected


def test_request_state_names():
    from fasthttp import head
    assert (head.HEAD_INCOMPLETE, head.BLOCKING, head.BODY_INCOMPLETE) == (0, -1, -2)


class _Server:
    server_name = "test"
    server_port = 0


def _handler(impl, rfile):
    """A socketless fasthttp handler on implementation `impl`'s parse_request."""
    import fasthttp

    class Handler(fasthttp.BaseHTTPRequestHandler):
        parse_request = impl.handler_methods["parse_request"]
        headers = impl.LazyHeaders()

        def __init__(self):
            self.rfile = rfile
            self.wfile = io.BytesIO()
            self.client_address = ("127.0.0.1", 1)
            self.server = _Server()
            self.request = None

        def log_message(self, format, *args):  # noqa: A002
            pass

    return Handler()


def _parse(impl, r):
    h = _handler(impl, r)
    h.raw_requestline = r.readline(65537)
    return h, h.parse_request()


def test_parse_request_takes_the_head_request_state_parsed(impl):
    """The event engine's request_state() and then parse_request(): one parse
    of the head, whose facts serve the request (issue 17 item 8)."""
    state, r = _state(impl, POST_HEAD + b"hello" + GET_HEAD)
    assert state == len(POST_HEAD) + 5
    parsed = r._parsed
    assert parsed is not None and parsed.framing == 1 and parsed.content_length == 5
    h, ok = _parse(impl, r)
    assert ok and h.__dict__["_fh_head"] is parsed and r._parsed is None
    assert h.headers["Content-Length"] == "5"
    assert h.read_body() == b"hello"
    # The next request: parsed again, once.
    assert impl.request_state(r, MAX_INLINE) == len(GET_HEAD)
    parsed = r._parsed
    h, ok = _parse(impl, r)
    assert ok and h.__dict__["_fh_head"] is parsed and h.command == "GET"


def test_a_refusal_request_state_found_is_answered_without_a_second_parse(impl):
    state, r = _state(impl, b"GET / HTTP/1.1\r\nA : b\r\n\r\n")
    assert state == -1 and r._parsed is not None and r._parsed.error
    h, ok = _parse(impl, r)
    assert not ok and r._parsed is None
    assert h.wfile.getvalue().startswith(
        b"HTTP/1.0 400 Bad request (whitespace before colon in header)\r\n")


def test_the_head_is_parsed_again_under_other_limits(impl, monkeypatch):
    """request_state parses with parse_request's limits; if they change in
    between (http.client's, patched), parse_request parses with its own."""
    data = b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(5)) + b"\r\n"
    state, r = _state(impl, data)
    assert state == len(data)
    monkeypatch.setattr(http.client, "_MAXHEADERS", 3)
    h, ok = _parse(impl, r)
    assert not ok
    assert h.wfile.getvalue().startswith(b"HTTP/1.0 431 Too many headers\r\n")
