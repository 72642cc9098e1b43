# What the C request path (_request.pyx) uses of the head parser's binding.
from cpython.unicode cimport PyUnicode_DecodeLatin1
from fasthttp._fh_parser cimport fh_span


cdef enum:
    CONN_OTHER = 0              # no Connection header, or another value
    CONN_CLOSE = 1              # the first one is "close" (any case)
    CONN_KEEP_ALIVE = 2         # the first one is "keep-alive" (any case)

cdef enum:
    HOST_NONE = 0               # no Host header (head.py has the same values)
    HOST_OK = 1                 # one, a valid host[:port]
    HOST_INVALID = 2            # one, not a valid host[:port]
    HOST_MANY = 3               # more than one


cdef class _Head:
    """A parsed header block plus what parse_request needs to know of it
    (http.server compares the whole first value, lowercased). The (name,
    value) strings are made on first use of pairs(): a handler that never
    reads self.headers never pays for them."""
    cdef bytes raw              # the block's bytes, up to its last value
    cdef bytes spans            # the parser's fh_header array over raw
    cdef size_t count
    cdef list _pairs
    cdef int connection         # CONN_*
    cdef bint expect_continue   # the first Expect is "100-continue"
    cdef bint exotic_type       # first Content-Type may be multipart/message
    cdef bint framing           # has Content-Length or Transfer-Encoding
    cdef int host               # HOST_*

    cdef list pairs(self)


cdef _Head read_head(rfile, size_t max_line, size_t max_lines, size_t max_head)


cdef inline str latin1_span(const char *base, fh_span span):
    return PyUnicode_DecodeLatin1(base + span.off, <Py_ssize_t>span.len, NULL)
