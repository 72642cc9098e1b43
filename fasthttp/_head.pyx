# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The C request-head parser's binding (csrc/fh_parser.c): request line and
header blocks -> (name, value) pairs, plus what parse_request needs to know
of a head. fasthttp/head.py is the pure-Python twin; fasthttp._core picks one.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdlib cimport malloc, free
from libc.string cimport memchr, memcmp

from fasthttp._fh_parser cimport *
from fasthttp._sockio cimport SocketReader

cdef extern from "Python.h":
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)

import io

from fasthttp.head import head_error


cdef enum:
    STACK_HEADERS = 128         # header slots kept on the stack


cdef object _head_error(long code):
    """The only place on the C path where a parser code becomes an exception
    (head.head_error picks the kind; the reason is fh_reason()'s)."""
    return head_error(code, fh_reason(<int>code).decode("ascii"))


# Header names repeat from request to request: keep the str of each recent
# one (direct-mapped by a hash of its bytes) and hand out the same object.
cdef enum:
    NAME_CACHE = 256
    NAME_CACHE_MAX_LEN = 40
cdef list _name_cache = [None] * NAME_CACHE


cdef str _header_name(const char *p, size_t n):
    cdef size_t i
    cdef unsigned int h = 2166136261u
    cdef object cached
    if n > NAME_CACHE_MAX_LEN:
        return PyUnicode_DecodeLatin1(p, <Py_ssize_t>n, NULL)
    for i in range(n):
        h = (h ^ <unsigned char>p[i]) * 16777619u
    h %= NAME_CACHE
    cached = _name_cache[h]
    if (cached is not None and <size_t>PyUnicode_GET_LENGTH(cached) == n and
            memcmp(PyUnicode_DATA(cached), p, n) == 0):
        return <str>cached
    name = PyUnicode_DecodeLatin1(p, <Py_ssize_t>n, NULL)
    _name_cache[h] = name       # names are tokens: ASCII, one byte a character
    return name


cdef list _header_pairs(const char *base, const fh_header *hs, size_t n):
    cdef list pairs = PyList_New(<Py_ssize_t>n)
    cdef size_t i
    cdef tuple pair
    for i in range(n):
        pair = (_header_name(base + hs[i].name.off, hs[i].name.len),
                latin1_span(base, hs[i].value))
        Py_INCREF(pair)
        PyList_SET_ITEM(pairs, <Py_ssize_t>i, pair)
    return pairs


cdef bint _value_is(const char *base, fh_span value, const char *lower, size_t n):
    """Is the whole value `lower` (ASCII), ignoring case? Values hold no CR or
    control bytes, so |0x20 folds only letters onto letters here."""
    return _name_is(base, value, lower, n)


cdef bint _name_is(const char *base, fh_span name, const char *lower, size_t n):
    """ASCII case-insensitive name match (names are tokens: |0x20 is safe)."""
    cdef size_t i
    if name.len != n:
        return False
    for i in range(n):
        if (base[name.off + i] | 0x20) != lower[i]:
            return False
    return True


cdef bint _contains_folded(const char *s, size_t n, const char *lower, size_t k):
    """Does s[0:n] contain `lower` (ASCII, lowercase), ignoring case?"""
    cdef size_t i, j
    if k > n:
        return False
    for i in range(n - k + 1):
        for j in range(k):
            if (s[i + j] | 0x20) != lower[j]:
                break
        else:
            return True
    return False


cdef bint _mentions_body_type(const char *base, fh_span value):
    """Could this Content-Type make email's parser look for a multipart or
    message body? (A superset test: such heads take the exact path.)"""
    return (_contains_folded(base + value.off, value.len, b"multipart", 9) or
            _contains_folded(base + value.off, value.len, b"message", 7))


cdef class _Head:
    cdef list pairs(self):
        if self._pairs is None:
            self._pairs = _header_pairs(PyBytes_AS_STRING(self.raw),
                                        <const fh_header *>PyBytes_AS_STRING(self.spans),
                                        self.count) if self.count else []
        return self._pairs


cdef inline bint _host_char(char c, bint literal):
    """A reg-name byte (RFC 3986: unreserved, pct-encoded, sub-delims), or
    one of an IP literal's (the same, and ':')."""
    if (b'a' <= (c | 0x20) <= b'z') or (b'0' <= c <= b'9'):
        return True
    if c == b':':
        return literal
    return c != 0 and memchr(b"-._~%!$&'()*+,;=", c, 16) != NULL


cdef bint _valid_host(const char *s, size_t n):
    """Is s[0:n] host [":" port] (RFC 9112 3.2; RFC 3986 3.2.2-3), trailing
    whitespace aside? An empty value is (RFC 9112: no authority). As
    head.valid_host."""
    cdef size_t i = 0
    while n > 0 and (s[n - 1] == b' ' or s[n - 1] == b'\t'):
        n -= 1
    if n > 0 and s[0] == b'[':
        i = 1
        while i < n and s[i] != b']':
            if not _host_char(s[i], True):
                return False
            i += 1
        if i == n or i == 1:
            return False
        i += 1
    else:
        while i < n and s[i] != b':':
            if not _host_char(s[i], False):
                return False
            i += 1
    if i == n:
        return True
    if s[i] != b':':
        return False
    for i in range(i + 1, n):
        if not b'0' <= s[i] <= b'9':
            return False
    return True


cdef _Head _make_head(const char *base, const fh_header *hs, size_t n):
    cdef _Head head = _Head.__new__(_Head)
    cdef size_t i
    cdef bint seen_type = False, seen_connection = False, seen_expect = False
    head.count = n
    if n:
        # Keep the bytes and the spans; the strings wait for pairs().
        head.raw = PyBytes_FromStringAndSize(
            base, <Py_ssize_t>(hs[n - 1].value.off + hs[n - 1].value.len))
        head.spans = PyBytes_FromStringAndSize(<const char *>hs,
                                               <Py_ssize_t>(n * sizeof(fh_header)))
    head.connection = CONN_OTHER
    head.expect_continue = False
    head.exotic_type = False
    head.framing = False
    head.host = HOST_NONE
    for i in range(n):
        if not seen_connection and _name_is(base, hs[i].name, b"connection", 10):
            seen_connection = True
            if _value_is(base, hs[i].value, b"close", 5):
                head.connection = CONN_CLOSE
            elif _value_is(base, hs[i].value, b"keep-alive", 10):
                head.connection = CONN_KEEP_ALIVE
        elif not seen_expect and _name_is(base, hs[i].name, b"expect", 6):
            seen_expect = True
            head.expect_continue = _value_is(base, hs[i].value, b"100-continue", 12)
        elif not seen_type and _name_is(base, hs[i].name, b"content-type", 12):
            seen_type = True
            head.exotic_type = _mentions_body_type(base, hs[i].value)
        elif (_name_is(base, hs[i].name, b"content-length", 14) or
              _name_is(base, hs[i].name, b"transfer-encoding", 17)):
            head.framing = True
        elif _name_is(base, hs[i].name, b"host", 4):
            if head.host != HOST_NONE:
                head.host = HOST_MANY
            elif _valid_host(base + hs[i].value.off, hs[i].value.len):
                head.host = HOST_OK
            else:
                head.host = HOST_INVALID
    return head


def parse_request_line(bytes line):
    """Strict request line -> (method, target, major, minor), or None when the
    line is not in the strict form and needs http.server's lenient rules."""
    cdef fh_request_line rl
    cdef const char *p = PyBytes_AS_STRING(line)
    if fh_parse_request_line(p, <size_t>PyBytes_GET_SIZE(line), &rl) != FH_OK:
        return None
    return (latin1_span(p, rl.method), latin1_span(p, rl.target),
            rl.version_major, rl.version_minor)


cdef class _HeapSlots:
    """Parser output for a server that raises max_lines past STACK_HEADERS
    (the usual limit fits in a C array on the caller's stack)."""
    cdef fh_header *slots
    cdef size_t cap

    def __cinit__(self, size_t max_lines):
        if max_lines > (<size_t>-1) // sizeof(fh_header):
            raise MemoryError("max_lines too large")
        self.slots = <fh_header *>malloc(max_lines * sizeof(fh_header))
        if self.slots == NULL:
            raise MemoryError()
        self.cap = max_lines

    def __dealloc__(self):
        free(self.slots)


def read_headers(rfile, size_t max_line=65536, size_t max_lines=100,
                 size_t max_head=0):
    """Read and parse a header block from rfile -> [(name, value), ...].

    On our SocketReader the block is parsed in place in its buffer; any other
    file object is read line by line with readline(max_line + 1), exactly as
    http.client.parse_headers reads. Raises HeadError.
    """
    return read_head(rfile, max_line, max_lines, max_head).pairs()


cdef _Head read_head(rfile, size_t max_line, size_t max_lines, size_t max_head):
    """The header block from rfile, parsed: in place in our reader's buffer,
    in one go from an in-memory file, else line by line."""
    if type(rfile) is SocketReader:
        return _read_head_in_buffer(<SocketReader>rfile, max_line, max_lines, max_head)
    if type(rfile) is io.BytesIO:
        return _read_head_bytesio(rfile, max_line, max_lines, max_head)
    return _read_head_lines(rfile, max_line, max_lines, max_head)


cdef _Head _read_head_lines(rfile, size_t max_line, size_t max_lines, size_t max_head):
    """Any file object: line by line, as http.client.parse_headers reads."""
    cdef fh_headers p
    cdef fh_header stack_slots[STACK_HEADERS]
    cdef _HeapSlots heap = _HeapSlots(max_lines) if max_lines > STACK_HEADERS else None
    cdef fh_header *slots = heap.slots if heap is not None else stack_slots
    cdef size_t cap = heap.cap if heap is not None else STACK_HEADERS
    cdef bytearray data = bytearray()
    cdef long r
    fh_headers_init(&p, max_line, max_lines, max_head)
    while True:
        line = rfile.readline(max_line + 1)
        if not line:
            r = fh_headers_eof(&p, <size_t>PyByteArray_GET_SIZE(data))
        else:
            data += line
            r = fh_parse_headers(&p, PyByteArray_AS_STRING(data),
                                 <size_t>PyByteArray_GET_SIZE(data),
                                 slots, cap)
            if r == FH_INCOMPLETE:
                continue
        if r < 0:
            raise _head_error(r)
        return _make_head(PyByteArray_AS_STRING(data), slots, p.count)


cdef enum:
    BYTESIO_PEEK = 256 * 1024   # bytes of an in-memory rfile parsed in one go


cdef _Head _read_head_bytesio(rfile, size_t max_line, size_t max_lines,
                              size_t max_head):
    """An in-memory rfile (as in CPython's tests and socketless handlers):
    parse what it holds in one go, then seek back to just past the head.
    Same result and position as reading it line by line (which a head
    longer than BYTESIO_PEEK still gets)."""
    cdef fh_headers p
    cdef fh_header stack_slots[STACK_HEADERS]
    cdef _HeapSlots heap = _HeapSlots(max_lines) if max_lines > STACK_HEADERS else None
    cdef fh_header *slots = heap.slots if heap is not None else stack_slots
    cdef size_t cap = heap.cap if heap is not None else STACK_HEADERS
    cdef bytes data = rfile.read(BYTESIO_PEEK)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef const char *base = PyBytes_AS_STRING(data)
    cdef long r
    cdef size_t stop
    cdef const char *lf
    fh_headers_init(&p, max_line, max_lines, max_head)
    r = fh_parse_headers(&p, base, <size_t>n, slots, cap)
    if r == FH_INCOMPLETE:
        if n == BYTESIO_PEEK:
            rfile.seek(-n, 1)
            return _read_head_lines(rfile, max_line, max_lines, max_head)
        r = fh_headers_eof(&p, <size_t>n)
    if r >= 0:
        rfile.seek(r - n, 1)
        return _make_head(base, slots, p.count)
    # Where readline(max_line + 1) would have stopped: after the line that
    # failed, or max_line + 1 bytes into it.
    stop = <size_t>n
    if p.line_start <= stop and max_line < stop - p.line_start:
        stop = p.line_start + max_line + 1
    lf = <const char *>memchr(base + p.line_start, b'\n', stop - p.line_start)
    if lf != NULL:
        stop = lf - base + 1
    rfile.seek(<Py_ssize_t>stop - n, 1)
    raise _head_error(r)


# Header slots for request_state(): used only while it runs, under the GIL,
# so one array serves every reader.
cdef fh_header _scan_slots[STACK_HEADERS]


BODY_INCOMPLETE = -2     # request_state(): the head is in, the body on its way


def request_state(SocketReader reader, Py_ssize_t max_inline_body):
    """head.request_state in C (see there for the answers)."""
    cdef const char *b = PyByteArray_AS_STRING(reader._storage) + reader._start
    cdef Py_ssize_t n = reader._end - reader._start
    cdef long long length
    cdef const char *lf = <const char *>memchr(b, b'\n', n if n < 65537 else 65537)
    cdef Py_ssize_t line_len, body = 0
    cdef fh_headers p
    cdef long r
    cdef size_t i
    cdef bint seen_length = False
    if lf == NULL:
        return 0 if n < 65537 else -1
    line_len = lf - b + 1
    if line_len <= 2 and (line_len == 1 or b[0] == b'\r'):
        return line_len         # an empty line: the handler just closes
    fh_headers_init(&p, 65536, STACK_HEADERS, 0)
    r = fh_parse_headers(&p, b + line_len, <size_t>(n - line_len),
                         _scan_slots, STACK_HEADERS)
    if r == FH_INCOMPLETE:
        return 0
    if r < 0:
        return -1
    for i in range(p.count):
        if (_name_is(b + line_len, _scan_slots[i].name, b"transfer-encoding", 17) or
                _name_is(b + line_len, _scan_slots[i].name, b"expect", 6)):
            return -1
        if _name_is(b + line_len, _scan_slots[i].name, b"content-length", 14):
            if seen_length:
                return -1
            seen_length = True
            if fh_content_length(b + line_len + _scan_slots[i].value.off,
                                 _scan_slots[i].value.len, &length) != 0:
                return -1
            body = <Py_ssize_t>length
    if body > max_inline_body:
        return -1
    return line_len + r + body if line_len + r + body <= n else BODY_INCOMPLETE


cdef _Head _read_head_in_buffer(SocketReader reader, size_t max_line, size_t max_lines,
                                size_t max_head):
    """Parse a head in place in our reader's buffer (one recv usually holds
    a whole head: no copying line by line)."""
    cdef fh_headers p
    cdef fh_header stack_slots[STACK_HEADERS]
    cdef _HeapSlots heap = _HeapSlots(max_lines) if max_lines > STACK_HEADERS else None
    cdef fh_header *slots = heap.slots if heap is not None else stack_slots
    cdef size_t cap = heap.cap if heap is not None else STACK_HEADERS
    cdef long r
    cdef _Head head
    fh_headers_init(&p, max_line, max_lines, max_head)
    while True:
        r = fh_parse_headers(&p, PyByteArray_AS_STRING(reader._storage) + reader._start,
                             <size_t>(reader._end - reader._start),
                             slots, cap)
        if r == FH_INCOMPLETE:
            # _fill may slide the buffer: offsets stay relative to _start.
            if reader._fill() == 0:
                r = fh_headers_eof(&p, <size_t>(reader._end - reader._start))
            else:
                continue
        if r < 0:
            raise _head_error(r)
        head = _make_head(PyByteArray_AS_STRING(reader._storage) + reader._start, slots, p.count)
        reader._start += r
        return head


# -- the shared tables, for tests/test_parser.py ---------------------------------

def results():
    """{code: (name, reason)} from csrc/fh_parser.h's FH_RESULTS."""
    names = ("FH_OK", "FH_INCOMPLETE", "FH_NONCANONICAL", "FH_E_LINE_TOO_LONG",
             "FH_E_TOO_MANY_HEADERS", "FH_E_HEAD_TOO_LARGE", "FH_E_OBS_FOLD",
             "FH_E_NAME", "FH_E_SPACE_BEFORE_COLON", "FH_E_NO_COLON", "FH_E_VALUE",
             "FH_E_BARE_CR", "FH_E_EOF_IN_LINE")
    codes = (FH_OK, FH_INCOMPLETE, FH_NONCANONICAL, FH_E_LINE_TOO_LONG,
             FH_E_TOO_MANY_HEADERS, FH_E_HEAD_TOO_LARGE, FH_E_OBS_FOLD,
             FH_E_NAME, FH_E_SPACE_BEFORE_COLON, FH_E_NO_COLON, FH_E_VALUE,
             FH_E_BARE_CR, FH_E_EOF_IN_LINE)
    return {code: (name, fh_reason(code).decode("ascii"))
            for code, name in zip(codes, names)}


def byte_class(int c):
    """The FH_C_* bits of byte c (fh_byte_class)."""
    return fh_byte_class(<unsigned char>c)


def content_length(str value):
    """A Content-Length value -> the length, or None (fh_content_length)."""
    cdef long long n
    if not value.isascii():
        return None
    data = value.encode("ascii")
    if fh_content_length(PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data), &n) != 0:
        return None
    return n
