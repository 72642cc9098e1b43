# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The accelerated request path: C parser binding, socket reader and writer.

fasthttp/_pure.py implements the same names with the same behaviour in plain
Python; fasthttp/_core.py picks one. Tests run against both.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdlib cimport malloc, free
from libc.string cimport memchr, memcpy, memmove

from fasthttp._cparser cimport *

import io
from fasthttp._errors import HeadError

cdef enum:
    INITIAL_BUFFER = 8192
    STACK_HEADERS = 128         # header slots kept on the stack


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


cdef list _header_pairs(const char *base, const fh_header *hs, size_t n):
    cdef list pairs = []
    cdef size_t i
    for i in range(n):
        pairs.append((_latin1(base, hs[i].name), _latin1(base, hs[i].value)))
    return pairs


def parse_request_line(bytes line):
    """Strict request line -> (method, target, major, minor), or None when the
    line is not in the strict form and needs http.server's lenient rules."""
    cdef fh_request_line rl
    cdef const char *p = PyBytes_AS_STRING(line)
    if fh_parse_request_line(p, <size_t>PyBytes_GET_SIZE(line), &rl) != FH_OK:
        return None
    return (_latin1(p, rl.method), _latin1(p, rl.target),
            rl.version_major, rl.version_minor)


cdef class _HeaderSlots:
    """Output array for the parser: on the stack for the usual limit,
    on the heap when a server raises max_lines beyond it."""
    cdef fh_header stack[STACK_HEADERS]
    cdef fh_header *slots
    cdef size_t cap

    def __cinit__(self, size_t max_lines):
        if max_lines <= STACK_HEADERS:
            self.slots = self.stack
            self.cap = STACK_HEADERS
        else:
            self.slots = <fh_header *>malloc(max_lines * sizeof(fh_header))
            if self.slots == NULL:
                raise MemoryError()
            self.cap = max_lines

    def __dealloc__(self):
        if self.slots != self.stack:
            free(self.slots)


def read_headers(rfile, size_t max_line=65536, size_t max_lines=100,
                 size_t max_head=0):
    """Read and parse a header block from rfile -> [(name, value), ...].

    On our SocketReader the block is parsed in place in its buffer; any other
    file object is read line by line with readline(max_line + 1), exactly as
    http.client.parse_headers reads. Raises HeadError.
    """
    if type(rfile) is SocketReader:
        return (<SocketReader>rfile)._read_headers(max_line, max_lines, max_head)
    cdef fh_headers p
    cdef _HeaderSlots out = _HeaderSlots(max_lines)
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
                                 out.slots, out.cap)
            if r == FH_INCOMPLETE:
                continue
        if r < 0:
            raise _head_error(r)
        return _header_pairs(PyByteArray_AS_STRING(data), out.slots, p.count)


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

    def __cinit__(self, sock):
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

    cdef Py_ssize_t _fill(self) except -1:
        """One recv into the buffer; returns the byte count (0 at EOF)."""
        cdef Py_ssize_t n
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if self._start == self._end:
            self._start = self._end = 0
        self._make_room()
        n = self._recv_into(self._view[self._end:])
        self._end += n
        return n

    cdef bytes _take(self, Py_ssize_t n):
        cdef bytes out = PyBytes_FromStringAndSize(self._buf() + self._start, n)
        self._start += n
        return out

    cdef list _read_headers(self, size_t max_line, size_t max_lines,
                            size_t max_head):
        cdef fh_headers p
        cdef _HeaderSlots out = _HeaderSlots(max_lines)
        cdef long r
        cdef list pairs
        fh_headers_init(&p, max_line, max_lines, max_head)
        while True:
            r = fh_parse_headers(&p, self._buf() + self._start,
                                 <size_t>(self._end - self._start),
                                 out.slots, out.cap)
            if r == FH_INCOMPLETE:
                # _fill may slide the buffer: offsets stay relative to _start.
                if self._fill() == 0:
                    r = fh_headers_eof(&p, <size_t>(self._end - self._start))
                else:
                    continue
            if r < 0:
                raise _head_error(r)
            pairs = _header_pairs(self._buf() + self._start, out.slots, p.count)
            self._start += r
            return pairs

    # -- the io.BufferedReader surface -------------------------------------

    def readline(self, size=-1):
        cdef Py_ssize_t limit = -1 if size is None else size
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
        cdef bytearray big
        cdef Py_ssize_t got, n
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if want < 0:
            chunks = [self._take(avail)]
            while self._fill():
                chunks.append(self._take(self._end - self._start))
            return b"".join(chunks)
        if want <= avail:
            return self._take(want)
        # Large body: receive straight into the result, not via our buffer.
        big = bytearray(want)
        memcpy(PyByteArray_AS_STRING(big), self._buf() + self._start, avail)
        self._start = self._end = 0
        got = avail
        view = memoryview(big)
        while got < want:
            n = self._recv_into(view[got:])
            if n == 0:
                break
            got += n
        view.release()
        if got < want:
            del big[got:]
        return bytes(big)

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


cdef class SocketWriter:
    """The handler's ``wfile``: every write goes straight to the socket, as
    with socketserver's unbuffered writer (wbufsize = 0)."""
    cdef object _sock
    cdef object _sendall
    cdef bint _closed

    def __cinit__(self, sock):
        self._sock = sock
        self._sendall = sock.sendall
        self._closed = False

    def write(self, b):
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        self._sendall(b)
        if type(b) is bytes:
            return PyBytes_GET_SIZE(b)
        with memoryview(b) as view:
            return view.nbytes

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if self._closed:
            raise ValueError("I/O operation on closed file.")

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
        self._closed = True


io.BufferedIOBase.register(SocketReader)
io.BufferedIOBase.register(SocketWriter)
