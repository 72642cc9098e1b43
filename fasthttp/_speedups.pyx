# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The accelerated request path, in four parts (in this order):

1. the C parser's binding: request line, header blocks -> (name, value) pairs;
2. http.server's handle_one_request and parse_request on top of it;
3. the socket reader and writer (the handler's rfile and wfile);
4. the response side: send_response, send_header, end_headers, logging.

fasthttp/_pure.py implements the same names with the same behaviour in plain
Python; fasthttp/_core.py picks one. Tests run against both.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdlib cimport malloc, free
from cpython.dict cimport PyDict_GetItem, PyDict_Update
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.object cimport PyObject
from libc.string cimport memchr, memcmp, memcpy, memmove, memset, strlen

from fasthttp._cparser cimport *

cdef extern from "Python.h":
    int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    int PyUnicode_1BYTE_KIND

import io
import socket
from fasthttp._errors import HeadError

cdef extern from *:
    """
    /* Wait until fd is readable, at most ms milliseconds: 1 ready, 0 timed
       out, -1 error (errno set). Only where poll() exists; elsewhere the
       reader falls back to the socket's own timeout (FH_HAVE_POLL is 0). */
    #ifdef _WIN32
    #define FH_HAVE_POLL 0
    static int fh_wait_readable(int fd, int ms) { (void)fd; (void)ms; return -1; }
    #else
    #include <poll.h>
    #define FH_HAVE_POLL 1
    static int fh_wait_readable(int fd, int ms) {
        struct pollfd p;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        return poll(&p, 1, ms);
    }
    #endif
    """
    int FH_HAVE_POLL
    int fh_wait_readable(int fd, int ms) nogil

from libc.errno cimport EINTR, errno
from cpython.exc cimport PyErr_CheckSignals

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk_id, timespec *tp)
    enum: CLOCK_MONOTONIC
    enum: CLOCK_REALTIME


cdef inline double _monotonic():
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9

cdef enum:
    INITIAL_BUFFER = 8192
    STACK_HEADERS = 128         # header slots kept on the stack


# -- 1. the parser binding ------------------------------------------------------

cdef object _head_error(long code):
    reason = fh_reason(<int>code).decode("ascii")
    if code == FH_E_LINE_TOO_LONG:
        return HeadError("line_too_long", reason)
    if code == FH_E_TOO_MANY_HEADERS:
        return HeadError("too_many_headers", reason)
    if code == FH_E_HEAD_TOO_LARGE:
        return HeadError("head_too_large", reason)
    return HeadError("malformed", reason)


cdef inline str _latin1(const char *base, fh_span span):
    return PyUnicode_DecodeLatin1(base + span.off, <Py_ssize_t>span.len, NULL)


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
                _latin1(base, hs[i].value))
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


cdef enum:
    CONN_OTHER = 0              # no Connection header, or another value
    CONN_CLOSE = 1              # the first one is "close" (any case)
    CONN_KEEP_ALIVE = 2         # the first one is "keep-alive" (any case)


cdef class _Head:
    """A parsed header block plus what parse_request needs to know of it
    (http.server compares the whole first value, lowercased)."""
    cdef list pairs
    cdef int connection         # CONN_*
    cdef bint expect_continue   # the first Expect is "100-continue"
    cdef bint exotic_type       # first Content-Type may be multipart/message
    cdef bint framing           # has Content-Length or Transfer-Encoding


cdef _Head _make_head(const char *base, const fh_header *hs, size_t n):
    cdef _Head head = _Head.__new__(_Head)
    cdef size_t i
    cdef bint seen_type = False, seen_connection = False, seen_expect = False
    head.pairs = _header_pairs(base, hs, n)
    head.connection = CONN_OTHER
    head.expect_continue = False
    head.exotic_type = False
    head.framing = False
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
    return head


def parse_request_line(bytes line):
    """Strict request line -> (method, target, major, minor), or None when the
    line is not in the strict form and needs http.server's lenient rules."""
    cdef fh_request_line rl
    cdef const char *p = PyBytes_AS_STRING(line)
    if fh_parse_request_line(p, <size_t>PyBytes_GET_SIZE(line), &rl) != FH_OK:
        return None
    return (_latin1(p, rl.method), _latin1(p, rl.target),
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
    return _read_head(rfile, max_line, max_lines, max_head).pairs


cdef _Head _read_head(rfile, size_t max_line, size_t max_lines, size_t max_head):
    if type(rfile) is SocketReader:
        return (<SocketReader>rfile)._read_head(max_line, max_lines, max_head)
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


import email.policy
import http.client
from http import HTTPStatus

# -- 2. handle_one_request and parse_request -------------------------------------

cdef object _HTTPMessage = http.client.HTTPMessage
cdef tuple _NO_ARGS = ()


cdef extern from *:
    """
    /* type.__new__(type): the type's tp_new slot, called directly. */
    static PyObject *fh_new_instance(PyObject *type, PyObject *args) {
        return ((PyTypeObject *)type)->tp_new((PyTypeObject *)type, args, NULL);
    }
    """
    object fh_new_instance(object type, object args)


cdef inline object _new_message():
    """HTTPMessage.__new__(HTTPMessage), without the method lookup."""
    return fh_new_instance(_HTTPMessage, _NO_ARGS)
cdef object _http_client = http.client
cdef dict _MESSAGE_TEMPLATE = dict(
    policy=email.policy.compat32, _headers=None, _unixfrom=None, _payload="",
    _charset=None, preamble=None, epilogue=None, defects=None,
    _default_type="text/plain")


cdef object _MISSING = object()


def handle_one_request(self):
    """http.server's handle_one_request, step for step: read the request
    line, parse_request(), call do_<command>, flush."""
    try:
        rfile = self.rfile
        if type(rfile) is SocketReader:
            raw = (<SocketReader>rfile)._readline(65537)
        else:
            raw = rfile.readline(65537)
        self.raw_requestline = raw
        if len(raw) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        if not raw:
            self.close_connection = True
            return
        if not self.parse_request():
            return              # an error response has been sent
        command = self.command
        method = getattr(self, "do_" + command, _MISSING)
        if method is _MISSING:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED,
                            "Unsupported method (%r)" % command)
            return
        method()
        self.wfile.flush()      # send the response if not already done
    except socket.timeout as e:  # TimeoutError from 3.10 on
        # A read or a write timed out: discard this connection.
        self.log_error("Request timed out: %r", e)
        self.close_connection = True


def parse_request(handler):
    """BaseHTTPRequestHandler.parse_request: see fasthttp/_pure.py for the
    same steps in Python, and server.py for the rare paths both call."""
    cdef fh_request_line rl
    cdef const char *p
    cdef Py_ssize_t n
    cdef _Head head
    cdef dict state
    handler.command = None
    handler.request_version = handler.default_request_version
    handler.close_connection = True
    raw = handler.raw_requestline
    if type(raw) is not bytes:
        raw = bytes(raw)
    p = PyBytes_AS_STRING(raw)
    n = PyBytes_GET_SIZE(raw)
    while n > 0 and (p[n - 1] == b'\r' or p[n - 1] == b'\n'):   # rstrip('\r\n')
        n -= 1
    requestline = PyUnicode_DecodeLatin1(p, n, NULL)
    handler.requestline = requestline
    protocol_version = handler.protocol_version

    if fh_parse_request_line(p, <size_t>PyBytes_GET_SIZE(raw), &rl) == FH_OK:
        command = _latin1(p, rl.method)
        if ((rl.version_major > 1 or (rl.version_major == 1 and rl.version_minor >= 1))
                and protocol_version >= "HTTP/1.1"):
            handler.close_connection = False
        if rl.version_major >= 2:
            handler.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                               "Invalid HTTP version (%d.%d)"
                               % (rl.version_major, rl.version_minor))
            return False
        handler.request_version = _latin1(p, fh_span(n - 8, 8))
        if rl.target.len >= 2 and p[rl.target.off] == b'/' and p[rl.target.off + 1] == b'/':
            path = "/" + _latin1(p, rl.target).lstrip("/")
        else:
            path = _latin1(p, rl.target)
    else:
        words = handler._fh_lenient_request_line(requestline)
        if words is None:
            return False
        command, path = words
        # gh-87389: '//host/path' would read as a scheme-relative URL in a
        # redirect, so the stdlib reduces leading slashes to one.
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
    handler.command = command
    handler.path = path

    rfile = handler.rfile
    try:
        head = _read_head(rfile, _http_client._MAXLINE,
                          _http_client._MAXHEADERS, handler.max_head_bytes)
    except HeadError as err:
        return handler._fh_reject_head(err)
    if type(rfile) is SocketReader:
        (<SocketReader>rfile).end_head()
    message_class = handler.MessageClass
    if message_class is _HTTPMessage and not head.exotic_type:
        headers = _new_message()
        # Fill the instance dict in place: replacing it (__dict__ = ...) loses
        # the attributes on 3.13, where fresh instances keep inline values.
        state = PyObject_GenericGetDict(headers, NULL)
        PyDict_Update(state, _MESSAGE_TEMPLATE)
        state["_headers"] = head.pairs
        state["defects"] = []
        connection = head.connection
        expect_continue = head.expect_continue
    else:
        headers = handler._fh_exact_message(head.pairs)
        connection_value = headers.get("Connection", "").lower()
        connection = (CONN_CLOSE if connection_value == "close" else
                      CONN_KEEP_ALIVE if connection_value == "keep-alive" else CONN_OTHER)
        expect_continue = headers.get("Expect", "").lower() == "100-continue"
    handler.headers = headers
    if head.framing and not handler._fh_check_framing():
        return False

    if connection == CONN_CLOSE:
        handler.close_connection = True
    elif connection == CONN_KEEP_ALIVE and protocol_version >= "HTTP/1.1":
        handler.close_connection = False
    if (expect_continue and protocol_version >= "HTTP/1.1" and
            handler.request_version >= "HTTP/1.1"):
        if not handler.handle_expect_100():
            return False
    return True


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


# -- 3. the socket reader and writer ---------------------------------------------

# Header slots for SocketReader.request_state(): used only while it runs,
# under the GIL, so one array serves every reader.
cdef fh_header _scan_slots[STACK_HEADERS]

import select as _select


def _wait_ready(sock, bint writing, timeout):
    """Wait until a non-blocking socket is ready (poll), or raise
    socket.timeout as a blocking socket with that timeout would."""
    poller = _select.poll()
    poller.register(sock, _select.POLLOUT if writing else _select.POLLIN)
    if not poller.poll(None if timeout is None else timeout * 1000):
        raise socket.timeout("timed out")


cdef class SocketReader:
    """A buffered binary reader over a socket, the handler's ``rfile``.

    It behaves like the BufferedReader that socket.makefile('rb') returns
    (read, read1, readline, readinto, peek, iteration, close), and lets the
    header parser work directly in its buffer: one recv() usually carries a
    whole request head, which is then parsed without copying it line by line.
    """
    cdef object _sock
    cdef object _recv_into
    cdef bytearray _storage
    cdef object _view
    cdef Py_ssize_t _start, _end
    cdef bint _closed
    cdef double _deadline           # head deadline (monotonic seconds), 0: none
    cdef object _base_timeout       # the socket's own timeout, while we change it
    cdef bint _timeout_changed
    cdef SocketWriter _writer       # pushed before we wait for the peer
    cdef bint _plain_blocking       # during the head: wait with our own poll()
    cdef int _fd
    cdef public object io_timeout   # waits on a non-blocking socket (seconds)

    def __cinit__(self, sock, SocketWriter writer=None):
        self._writer = writer
        self.io_timeout = 30.0
        self._sock = sock
        self._recv_into = sock.recv_into
        self._storage = bytearray(INITIAL_BUFFER)
        self._view = memoryview(self._storage)
        self._start = 0
        self._end = 0
        self._closed = False

    cdef inline char *_buf(self):
        return PyByteArray_AS_STRING(self._storage)

    cdef int _make_room(self) except -1:
        """Ensure free space after _end: slide data to the front, else grow."""
        cdef Py_ssize_t cap = PyByteArray_GET_SIZE(self._storage)
        cdef Py_ssize_t used = self._end - self._start
        cdef bytearray bigger
        if self._end < cap:
            return 0
        if self._start > 0:
            memmove(self._buf(), self._buf() + self._start, used)
            self._start = 0
            self._end = used
            return 0
        bigger = bytearray(cap * 2)
        memcpy(PyByteArray_AS_STRING(bigger), self._buf(), used)
        self._view.release()
        self._storage = bigger
        self._view = memoryview(bigger)
        return 0

    cdef int _reserve(self, Py_ssize_t n) except -1:
        """Ensure room for n bytes from _start on: slide, else grow."""
        cdef Py_ssize_t cap = PyByteArray_GET_SIZE(self._storage)
        cdef Py_ssize_t used = self._end - self._start
        cdef bytearray bigger
        if self._start + n <= cap:
            return 0
        if n <= cap:
            memmove(self._buf(), self._buf() + self._start, used)
        else:
            bigger = bytearray(max(n, cap * 2))
            memcpy(PyByteArray_AS_STRING(bigger), self._buf() + self._start, used)
            self._view.release()
            self._storage = bigger
            self._view = memoryview(bigger)
        self._start = 0
        self._end = used
        return 0

    cdef Py_ssize_t _fill(self) except -1:
        """One recv into the buffer; returns the byte count (0 at EOF)."""
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if self._start == self._end:
            self._start = self._end = 0
        self._make_room()
        return self._recv_more()

    cdef Py_ssize_t _recv_more(self) except -1:
        """One recv into the free space after _end; 0 at EOF."""
        cdef Py_ssize_t n
        if self._deadline:
            self._apply_deadline()
        if self._writer is not None and (self._writer._corked or self._writer._pending):
            self._writer.push()     # e.g. "100 Continue": the peer waits for it
        while True:
            try:
                n = self._recv_into(self._view[self._end:])
                break
            except BlockingIOError:
                # A non-blocking socket (LoopHTTPServer): wait like a
                # blocking one would, up to io_timeout.
                _wait_ready(self._sock, False, self.io_timeout)
        self._end += n
        return n

    def fill_nowait(self):
        """For an event loop: one recv on a non-blocking socket. Returns the
        byte count, 0 at EOF, -1 when nothing was ready."""
        cdef Py_ssize_t n
        if self._start == self._end:
            self._start = self._end = 0
        self._make_room()
        try:
            n = self._recv_into(self._view[self._end:])
        except BlockingIOError:
            return -1
        self._end += n
        return n

    def request_state(self, Py_ssize_t max_inline_body):
        """What the buffered bytes hold, for an event loop:
        0: not yet a whole request;
        1: a whole request whose handling needs no further reads (its head,
           and a Content-Length body of at most max_inline_body bytes);
        2: anything else (Transfer-Encoding, Expect, a larger body, a head
           the parser refuses): serve it the blocking way."""
        cdef const char *b = self._buf() + self._start
        cdef Py_ssize_t n = self._end - self._start
        cdef const char *lf = <const char *>memchr(b, b'\n', n if n < 65537 else 65537)
        cdef Py_ssize_t line_len, body = 0, digits
        cdef fh_headers p
        cdef long r
        cdef size_t i, k
        cdef const char *v
        cdef bint seen_length = False
        if lf == NULL:
            return 0 if n < 65537 else 2
        line_len = lf - b + 1
        if line_len <= 2 and (line_len == 1 or b[0] == b'\r'):
            return 1                # an empty line: the handler just closes
        fh_headers_init(&p, 65536, STACK_HEADERS, 0)
        r = fh_parse_headers(&p, b + line_len, <size_t>(n - line_len),
                             _scan_slots, STACK_HEADERS)
        if r == FH_INCOMPLETE:
            return 0
        if r < 0:
            return 2
        for i in range(p.count):
            if (_name_is(b + line_len, _scan_slots[i].name, b"transfer-encoding", 17) or
                    _name_is(b + line_len, _scan_slots[i].name, b"expect", 6)):
                return 2
            if _name_is(b + line_len, _scan_slots[i].name, b"content-length", 14):
                if seen_length:
                    return 2
                seen_length = True
                v = b + line_len + _scan_slots[i].value.off
                digits = <Py_ssize_t>_scan_slots[i].value.len
                if digits == 0 or digits > 18:
                    return 2
                for k in range(<size_t>digits):
                    if v[k] < b'0' or v[k] > b'9':
                        return 2
                    body = body * 10 + (v[k] - 48)
        if body > max_inline_body:
            return 2
        return 1 if line_len + r + body <= n else 0

    cdef int _apply_deadline(self) except -1:
        """Bound the next recv by what is left of the request-head deadline."""
        cdef double remaining = self._deadline - _monotonic()
        cdef int ready
        if remaining <= 0:
            raise socket.timeout("request head timed out")
        if self._plain_blocking:
            # A plain blocking socket: wait with poll() ourselves rather than
            # switching the socket to timeout mode and back for every request
            # (two fcntl() calls, and CPython's own poll() before each recv).
            while True:
                with nogil:
                    ready = fh_wait_readable(self._fd, <int>(remaining * 1000) + 1)
                if ready > 0:
                    return 0
                if ready == 0:
                    raise socket.timeout("request head timed out")
                if errno != EINTR:
                    raise OSError(errno, "poll failed")
                PyErr_CheckSignals()
                remaining = self._deadline - _monotonic()
                if remaining <= 0:
                    raise socket.timeout("request head timed out")
        if not self._timeout_changed:
            self._base_timeout = self._sock.gettimeout()
            self._timeout_changed = True
        base = self._base_timeout
        self._sock.settimeout(remaining if base is None or base > remaining else base)
        return 0

    def start_head(self, double timeout):
        """Start the request-head deadline: until end_head(), every recv is
        bounded by what is left of `timeout` seconds (slowloris defence)."""
        self._deadline = _monotonic() + timeout
        self._plain_blocking = (FH_HAVE_POLL and type(self._sock) is socket.socket
                                and self._sock.gettimeout() is None)
        if self._plain_blocking:
            self._fd = self._sock.fileno()

    cpdef end_head(self):
        """The head is in: give the socket back its own timeout."""
        self._deadline = 0
        if self._timeout_changed:
            self._timeout_changed = False
            self._sock.settimeout(self._base_timeout)

    cdef bytes _take(self, Py_ssize_t n):
        cdef bytes out = PyBytes_FromStringAndSize(self._buf() + self._start, n)
        self._start += n
        return out

    cdef _Head _read_head(self, size_t max_line, size_t max_lines,
                          size_t max_head):
        cdef fh_headers p
        cdef fh_header stack_slots[STACK_HEADERS]
        cdef _HeapSlots heap = _HeapSlots(max_lines) if max_lines > STACK_HEADERS else None
        cdef fh_header *slots = heap.slots if heap is not None else stack_slots
        cdef size_t cap = heap.cap if heap is not None else STACK_HEADERS
        cdef long r
        cdef _Head head
        fh_headers_init(&p, max_line, max_lines, max_head)
        while True:
            r = fh_parse_headers(&p, self._buf() + self._start,
                                 <size_t>(self._end - self._start),
                                 slots, cap)
            if r == FH_INCOMPLETE:
                # _fill may slide the buffer: offsets stay relative to _start.
                if self._fill() == 0:
                    r = fh_headers_eof(&p, <size_t>(self._end - self._start))
                else:
                    continue
            if r < 0:
                raise _head_error(r)
            head = _make_head(self._buf() + self._start, slots, p.count)
            self._start += r
            return head

    # -- the io.BufferedReader surface -------------------------------------

    def readline(self, size=-1):
        return self._readline(-1 if size is None else size)

    cdef bytes _readline(self, Py_ssize_t limit):
        cdef Py_ssize_t avail, scan
        cdef char *lf
        while True:
            avail = self._end - self._start
            scan = avail if limit < 0 or limit > avail else limit
            lf = <char *>memchr(self._buf() + self._start, b'\n', scan)
            if lf != NULL:
                return self._take(lf - (self._buf() + self._start) + 1)
            if limit >= 0 and avail >= limit:
                return self._take(limit)
            if self._fill() == 0:
                return self._take(self._end - self._start)

    def read(self, size=-1):
        cdef Py_ssize_t want = -1 if size is None else size
        cdef Py_ssize_t avail = self._end - self._start
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if want < 0:
            chunks = [self._take(avail)]
            while self._fill():
                chunks.append(self._take(self._end - self._start))
            return b"".join(chunks)
        if want <= avail:
            return self._take(want)
        # Receive into our buffer, grown to hold `want`: if a recv times out,
        # what arrived so far stays buffered for the next read.
        while self._end - self._start < want:
            self._reserve(want)
            if self._recv_more() == 0:
                break
        return self._take(min(want, self._end - self._start))

    def read1(self, size=-1):
        cdef Py_ssize_t want = -1 if size is None else size
        cdef Py_ssize_t avail = self._end - self._start
        if want == 0:
            return b""
        if avail == 0:
            self._fill()
            avail = self._end - self._start
        if want < 0 or want > avail:
            want = avail
        return self._take(want)

    def readinto(self, b):
        cdef Py_ssize_t n
        with memoryview(b) as view:
            view = view.cast("B")
            data = self.read(len(view))
            n = len(data)
            view[:n] = data
        return n

    def readinto1(self, b):
        cdef Py_ssize_t n
        with memoryview(b) as view:
            view = view.cast("B")
            data = self.read1(len(view))
            n = len(data)
            view[:n] = data
        return n

    def peek(self, size=0):
        if self._end == self._start:
            self._fill()
        return bytes(self._view[self._start:self._end])

    def readlines(self, hint=-1):
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readable(self):
        return True

    def writable(self):
        return False

    def seekable(self):
        return False

    def fileno(self):
        return self._sock.fileno()

    def buffered(self):
        """How many bytes are already received but not yet read."""
        return self._end - self._start

    @property
    def closed(self):
        return self._closed

    def close(self):
        self._closed = True


# Linux's MSG_MORE: "more data follows", so the kernel holds a response's
# header block until the body's first send and both leave in one segment:
# no Nagle / delayed-ACK stall, and unlike buffering in user space, bytes the
# handler sends straight to the socket still go out in order.
cdef int _MSG_MORE = getattr(socket, "MSG_MORE", 0)


def _send_nonblocking(sock, data, int flags, timeout):
    """sendall() for a non-blocking socket: send() until done, waiting for
    room when the kernel's buffer is full."""
    cdef Py_ssize_t sent = 0, total
    with memoryview(data) as view:
        view = view.cast("B")
        total = len(view)
        while sent < total:
            try:
                sent += sock.send(view[sent:], flags)
            except BlockingIOError:
                _wait_ready(sock, True, timeout)


cdef enum:
    GATHER_LIMIT = 65536        # bytes a gathering writer holds before sending


cdef class SocketWriter:
    """The handler's ``wfile``: every write goes straight to the socket, as
    with socketserver's unbuffered writer (wbufsize = 0). The header block
    (write_head) is sent with MSG_MORE where the OS has it; anything sent
    after it, or flush(), or the next read from rfile releases it.

    With ``gather`` set (LoopHTTPServer does), writes are collected until
    flush() or GATHER_LIMIT bytes and then sent at once: one send() for a
    whole response."""
    cdef object _sock
    cdef object _sendall
    cdef bint _closed
    cdef bint _corked
    cdef int _more
    cdef list _pending
    cdef Py_ssize_t _pending_bytes
    cdef public bint gather
    cdef public object io_timeout   # waits on a non-blocking socket (seconds)

    def __cinit__(self, sock):
        self.io_timeout = 30.0
        self._sock = sock
        self._sendall = sock.sendall
        self._closed = False
        self._corked = False
        self._pending = []
        self._pending_bytes = 0
        self.gather = False
        # Only a plain TCP socket: ssl.SSLSocket.sendall() takes no flags.
        self._more = _MSG_MORE if (type(sock) is socket.socket and
                                   sock.family in (socket.AF_INET, socket.AF_INET6)) else 0

    cdef _send(self, data, int flags):
        if self._sock.gettimeout() == 0.0:
            _send_nonblocking(self._sock, data, flags, self.io_timeout)
        elif flags:
            self._sendall(data, flags)
        else:
            self._sendall(data)

    cdef _hold(self, data, Py_ssize_t n):
        self._pending.append(data)
        self._pending_bytes += n
        if self._pending_bytes >= GATHER_LIMIT:
            self._send_pending()

    cdef _send_pending(self):
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending = []
            self._pending_bytes = 0
            self._send(data, 0)

    def write(self, b):
        cdef Py_ssize_t n
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if type(b) is bytes:
            n = PyBytes_GET_SIZE(b)
        else:
            with memoryview(b) as view:
                n = view.nbytes
        if self.gather:
            # A copy of a mutable buffer: the caller may reuse it.
            self._hold(b if type(b) is bytes else bytes(b), n)
            return n
        self._send(b, 0)
        self._corked = False
        return n

    def write_head(self, bytes head):
        """Send a response's header block; the kernel may hold it briefly
        (at most until the body is sent, flush(), or 200 ms)."""
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if self.gather:
            self._hold(head, PyBytes_GET_SIZE(head))
            return
        self._send(head, self._more)
        self._corked = self._more != 0

    cpdef push(self):
        """Send what is held back: gathered writes, or a corked header block
        (setting TCP_NODELAY again makes the kernel send it)."""
        if self._pending:
            self._send_pending()
        if self._corked:
            self._corked = False
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        self.push()

    def writable(self):
        return True

    def readable(self):
        return False

    def seekable(self):
        return False

    def fileno(self):
        return self._sock.fileno()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._closed

    def close(self):
        if not self._closed and self._pending:
            self._send_pending()
        self._closed = True


io.BufferedIOBase.register(SocketReader)
io.BufferedIOBase.register(SocketWriter)


# -- 4. the response side -------------------------------------------------------
#
# send_response, send_header, end_headers, flush_headers, log_request,
# log_message, date_time_string and log_date_time_string of http.server, with
# the same output. A hook the stdlib would call through `self` is called
# through `self` whenever the handler's class or instance overrides it; only
# calls into our own, unchanged implementations are made directly.

import sys

cdef extern from "Python.h":
    object PyObject_GenericGetDict(object o, void *context)

cdef extern from "Python.h":
    ctypedef struct _TypeHead "PyTypeObject":
        unsigned long tp_flags
        unsigned int tp_version_tag

cdef unsigned long _VALID_VERSION_TAG = 1UL << 19   # Py_TPFLAGS_VALID_VERSION_TAG

# Hooks (and the escaping table) the response path may call directly when
# they are fasthttp's own; one bit each.
cdef tuple _RESPONSE_HOOKS = (
    "log_request", "log_message", "send_response_only", "send_header",
    "version_string", "date_time_string", "log_date_time_string",
    "address_string", "flush_headers", "_control_char_table")
cdef enum:
    H_LOG_REQUEST = 1 << 0
    H_LOG_MESSAGE = 1 << 1
    H_SEND_RESPONSE_ONLY = 1 << 2
    H_SEND_HEADER = 1 << 3
    H_VERSION_STRING = 1 << 4
    H_DATE_TIME_STRING = 1 << 5
    H_LOG_DATE_TIME_STRING = 1 << 6
    H_ADDRESS_STRING = 1 << 7
    H_FLUSH_HEADERS = 1 << 8
    H_CONTROL_CHAR_TABLE = 1 << 9
    # what writing a log line directly takes
    H_LOG_LINE = H_LOG_MESSAGE | H_LOG_DATE_TIME_STRING | H_ADDRESS_STRING | H_CONTROL_CHAR_TABLE

cdef enum:
    N_HOOKS = 10
    MASK_CACHE = 64             # classes remembered (direct-mapped by address)

cdef dict _reference_hooks = {}     # hook name -> fasthttp's own object
cdef PyObject *_hook_names[N_HOOKS]  # the names, for C-level dict lookups

ctypedef struct _MaskEntry:
    void *cls
    unsigned int tag
    int mask

cdef _MaskEntry _mask_cache[MASK_CACHE]


def register_handler_class(cls):
    """Record fasthttp's BaseHTTPRequestHandler hooks: where a handler's
    hook is this very object, we may call our code without the dispatch."""
    cdef int i
    for i, name in enumerate(_RESPONSE_HOOKS):
        _reference_hooks[name] = getattr(cls, name)
        _hook_names[i] = <PyObject *>name       # interned; kept by the tuple
    memset(_mask_cache, 0, sizeof(_mask_cache))


cdef int _class_mask(type cls) except -1:
    """Which response hooks cls leaves as ours. Cached per class, keyed by
    CPython's type version tag, which changes whenever the class or a base
    is modified (so a later monkeypatch is seen) and is never reused (so a
    new class at a freed one's address is not mistaken for it)."""
    cdef _TypeHead *t = <_TypeHead *>cls
    cdef _MaskEntry *entry = &_mask_cache[(<size_t><void *>cls >> 4) % MASK_CACHE]
    cdef int mask = 0, bit = 1
    if (t.tp_flags & _VALID_VERSION_TAG and entry.cls == <void *>cls
            and entry.tag == t.tp_version_tag):
        return entry.mask
    if _reference_hooks:
        for name in _RESPONSE_HOOKS:
            if getattr(cls, name, None) is _reference_hooks[name]:
                mask |= bit
            bit <<= 1
    if t.tp_flags & _VALID_VERSION_TAG:      # the lookups above assign one
        entry.cls = <void *>cls
        entry.tag = t.tp_version_tag
        entry.mask = mask
    return mask


cdef int _plain(self, int wanted) except -1:
    """The subset of `wanted` hooks neither the class nor the instance
    overrides."""
    cdef int mask = _class_mask(type(self)) & wanted
    cdef int i
    cdef dict d
    if mask:
        d = PyObject_GenericGetDict(self, NULL)
        for i in range(N_HOOKS):
            if (mask >> i) & 1 and PyDict_GetItem(d, <object>_hook_names[i]) != NULL:
                mask &= ~(1 << i)
    return mask


cdef long _date_second = -1
cdef str _date_text = ""
cdef long _log_second = -1
cdef str _log_text = ""
# The formatting itself stays http.server's; we only reuse it for a second.
# (Imported while sys.modules["http.server"] is still the stdlib's: fasthttp
# imports us before install() can run.)
import http.server as _stdlib_server
cdef object _stdlib_date_time_string = _stdlib_server.BaseHTTPRequestHandler.date_time_string
cdef object _stdlib_log_date_time_string = (
    _stdlib_server.BaseHTTPRequestHandler.log_date_time_string)


cdef inline long _wall_second():
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec


cdef str _current_date(self):
    global _date_second, _date_text
    cdef long second = _wall_second()
    if second != _date_second:
        _date_text = _stdlib_date_time_string(self, second)
        _date_second = second
    return _date_text


cdef str _current_log_date(self):
    global _log_second, _log_text
    cdef long second = _wall_second()
    if second != _log_second:
        _log_text = _stdlib_log_date_time_string(self)
        _log_second = second
    return _log_text


def date_time_string(self, timestamp=None):
    """The Date header value; formatted once per second."""
    if timestamp is not None:
        return _stdlib_date_time_string(self, timestamp)
    return _current_date(self)


def log_date_time_string(self):
    """The log line's timestamp; formatted once per second."""
    return _current_log_date(self)


cdef bint _needs_escaping(str message):
    """Would http.server's _control_char_table change this message?
    (C0 and C1 controls, DEL, and the backslash it doubles.)"""
    cdef Py_UCS4 c
    for c in message:
        if c < 0x20 or c == 0x5c or (0x7f <= c < 0xa0):
            return True
    return False


cdef _write_log_line(self, str format, tuple args):
    message = format % args
    if _needs_escaping(message):
        message = message.translate(self._control_char_table)
    line = "%s - - [%s] %s\n" % (self.client_address[0], _current_log_date(self), message)
    sys.stderr.write(line)


def log_message(self, format, *args):
    """http.server's log line to sys.stderr, control characters escaped."""
    if type(format) is str and _plain(self, H_LOG_LINE) == H_LOG_LINE:
        _write_log_line(self, format, args)
        return
    message = format % args
    sys.stderr.write("%s - - [%s] %s\n" %
                     (self.address_string(), self.log_date_time_string(),
                      message.translate(self._control_char_table)))


cdef _log_request(self, code, size, int plain):
    if isinstance(code, HTTPStatus):
        code = code.value
    code_text = _code_texts.get(code) if type(code) is int else None
    if code_text is None:
        code_text = str(code)
    size_text = size if type(size) is str else str(size)
    if plain & H_LOG_LINE == H_LOG_LINE:
        _write_log_line(self, '"%s" %s %s', (self.requestline, code_text, size_text))
    else:
        self.log_message('"%s" %s %s', self.requestline, code_text, size_text)


# str(code) for the status codes http.server knows.
cdef dict _code_texts = {int(status): str(int(status)) for status in HTTPStatus}


def log_request(self, code="-", size="-"):
    _log_request(self, code, size, _plain(self, H_LOG_LINE))


cdef inline bint _latin1_str(object s):
    return type(s) is str and PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND


cdef bytes _line3(str a, const char *sep, str b, const char *sep2, str c):
    """(a + sep + b + sep2 + c + CRLF) encoded to latin-1, for strings whose
    characters are all < 256: their storage already is latin-1 bytes."""
    cdef Py_ssize_t na = PyUnicode_GET_LENGTH(a), nb = PyUnicode_GET_LENGTH(b)
    cdef Py_ssize_t nc = PyUnicode_GET_LENGTH(c) if c is not None else 0
    cdef size_t ns = strlen(sep), ns2 = strlen(sep2)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, na + ns + nb + ns2 + nc + 2)
    cdef char *w = PyBytes_AS_STRING(out)
    memcpy(w, PyUnicode_DATA(a), na)
    w += na
    memcpy(w, sep, ns)
    w += ns
    memcpy(w, PyUnicode_DATA(b), nb)
    w += nb
    memcpy(w, sep2, ns2)
    w += ns2
    if nc:
        memcpy(w, PyUnicode_DATA(c), nc)
        w += nc
    w[0] = 13
    w[1] = 10
    return out


cdef bytes _header_line(keyword, value):
    """b"keyword: value\r\n", as http.server encodes it."""
    if _latin1_str(keyword) and _latin1_str(value):
        return _line3(keyword, ": ", value, "", None)
    return ("%s: %s\r\n" % (keyword, value)).encode("latin-1", "strict")


cdef bytes _status_line(protocol_version, code, message):
    """b"HTTP/1.x 200 OK\r\n", as http.server encodes it."""
    if type(code) is int and _latin1_str(protocol_version) and _latin1_str(message):
        return _line3(protocol_version, " ", str(code), " ", message)
    return ("%s %d %s\r\n" % (protocol_version, code, message)).encode("latin-1", "strict")


cdef list _headers_buffer(self):
    cdef dict d = PyObject_GenericGetDict(self, NULL)
    buf = d.get("_headers_buffer")
    if buf is None:
        buf = self._headers_buffer = []
    return buf


# Status lines by code, for message=None: (protocol_version, responses, line).
# Valid while the handler's protocol_version and responses are those objects.
cdef dict _status_lines = {}


cdef _append_status_line(self, code, message):
    cdef tuple cached
    cdef list buf = _headers_buffer(self)   # first, as http.server: it exists
    protocol_version = self.protocol_version  # even if encoding fails below
    if message is None:
        responses = self.responses
        if type(code) is int:
            cached = _status_lines.get(code)
            if (cached is not None and cached[0] is protocol_version
                    and cached[1] is responses):
                buf.append(cached[2])
                return
        message = responses[code][0] if code in responses else ""
        line = _status_line(protocol_version, code, message)
        if type(code) is int and len(_status_lines) < 1024:
            _status_lines[code] = (protocol_version, responses, line)
    else:
        line = _status_line(protocol_version, code, message)
    buf.append(line)


# The last Server line built: (server_version, sys_version, line).
cdef tuple _server_line = (None, None, None)


cdef _append_server_line(self):
    """send_header("Server", version_string()), both ours: the same bytes
    while server_version and sys_version are the same objects."""
    global _server_line
    server_version = self.server_version
    sys_version = self.sys_version
    version = server_version + " " + sys_version if not (
        _server_line[0] is server_version and _server_line[1] is sys_version) else None
    if self.request_version != "HTTP/0.9":
        buf = _headers_buffer(self)
        if version is not None:
            _server_line = (server_version, sys_version, _header_line("Server", version))
        buf.append(_server_line[2])


cdef _append_header(self, keyword, value):
    if self.request_version != "HTTP/0.9":
        _headers_buffer(self).append(_header_line(keyword, value))
    # str.lower() never shortens a string, so only 10 characters can match.
    if type(keyword) is not str or len(<str>keyword) == 10:
        if keyword.lower() == "connection":
            if value.lower() == "close":
                self.close_connection = True
            elif value.lower() == "keep-alive":
                self.close_connection = False


def send_response_only(self, code, message=None):
    if self.request_version != "HTTP/0.9":
        _append_status_line(self, code, message)


def send_response(self, code, message=None):
    """Log the request, then buffer the status line, Server and Date."""
    cdef int plain = _plain(self, H_LOG_REQUEST | H_LOG_LINE | H_SEND_RESPONSE_ONLY |
                            H_SEND_HEADER | H_VERSION_STRING | H_DATE_TIME_STRING)
    if plain & H_LOG_REQUEST:
        _log_request(self, code, "-", plain)
    else:
        self.log_request(code)
    if plain & H_SEND_RESPONSE_ONLY:
        if self.request_version != "HTTP/0.9":
            _append_status_line(self, code, message)
    else:
        self.send_response_only(code, message)
    if plain & H_VERSION_STRING and plain & H_SEND_HEADER:
        _append_server_line(self)
    else:
        version = (self.server_version + " " + self.sys_version
                   if plain & H_VERSION_STRING else self.version_string())
        if plain & H_SEND_HEADER:
            _append_header(self, "Server", version)
        else:
            self.send_header("Server", version)
    date = _current_date(self) if plain & H_DATE_TIME_STRING else self.date_time_string()
    if plain & H_SEND_HEADER:
        _append_header(self, "Date", date)
    else:
        self.send_header("Date", date)


def send_header(self, keyword, value):
    """Buffer one header line; a Connection header decides close_connection."""
    _append_header(self, keyword, value)


def end_headers(self):
    if self.request_version != "HTTP/0.9":
        self._headers_buffer.append(b"\r\n")
        if _plain(self, H_FLUSH_HEADERS):
            _flush_headers(self)
        else:
            self.flush_headers()


cdef _flush_headers(self):
    buf = (<dict>PyObject_GenericGetDict(self, NULL)).get("_headers_buffer")
    if buf is None and not hasattr(self, "_headers_buffer"):
        return
    if buf is None:
        buf = self._headers_buffer
    wfile = self.wfile
    if type(wfile) is SocketWriter:
        (<SocketWriter>wfile).write_head(b"".join(buf))
    else:
        wfile.write(b"".join(buf))
    self._headers_buffer = []


def flush_headers(self):
    _flush_headers(self)
