# C types for fasthttp/head.py, compiled a second time by Cython as
# fasthttp._head (see setup.py). The Python source is the only source of
# what a head is and what the request path learns from it; this file adds
# types, and the c_* helpers head.py calls under `if cython.compiled:`,
# where the byte-level scan is csrc/fh_parser.c. The helpers keep no state
# of their own in Python globals: fasthttp._request cimports this file too.
cimport cython
cimport fasthttp._fh_parser as fh
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdlib cimport free, malloc
from libc.string cimport memchr, memcpy

cdef extern from *:
    """
    #include "fh_parser.h"
    /* Header slots for a scan that completes within one feed (the usual
       case): used only inside one call of c_feed, under the GIL. A scan
       that needs more input first moves what it found to its own array. */
    #define FH_SHARED_SLOTS 128
    static fh_header *fh_shared_slots(void) {
        static fh_header slots[FH_SHARED_SLOTS];
        return slots;
    }

    /* Header names repeat from request to request: keep the str of each
       recent one (direct-mapped by a hash of its bytes) and hand out the
       same object. Names are tokens: ASCII, one byte a character. */
    #define FH_NAME_CACHE 256
    #define FH_NAME_CACHE_MAX_LEN 40
    static PyObject *fh_name_cache[FH_NAME_CACHE];
    static PyObject *fh_header_name(const char *p, size_t n) {
        unsigned int h = 2166136261u;
        size_t i;
        PyObject *cached, *name;
        if (n > FH_NAME_CACHE_MAX_LEN)
            return PyUnicode_DecodeLatin1(p, (Py_ssize_t)n, NULL);
        for (i = 0; i < n; i++)
            h = (h ^ (unsigned char)p[i]) * 16777619u;
        h %= FH_NAME_CACHE;
        cached = fh_name_cache[h];
        if (cached != NULL && (size_t)PyUnicode_GET_LENGTH(cached) == n
                && memcmp(PyUnicode_DATA(cached), p, n) == 0) {
            Py_INCREF(cached);
            return cached;
        }
        name = PyUnicode_DecodeLatin1(p, (Py_ssize_t)n, NULL);
        if (name != NULL) {
            Py_INCREF(name);
            Py_XSETREF(fh_name_cache[h], name);
        }
        return name;
    }
    """
    enum: FH_SHARED_SLOTS
    fh.fh_header *fh_shared_slots()
    object fh_header_name(const char *p, size_t n)

cdef extern from *:
    """
    /* head.py's _FIELDS (lowercased name -> field), as C, set once at
       import: indexed by name length (the names' lengths differ), so a
       name that is none of them costs one lookup. */
    #define FH_FIELD_MAX_LEN 32
    typedef struct { char name[FH_FIELD_MAX_LEN]; int field; } fh_field;
    static fh_field fh_fields[FH_FIELD_MAX_LEN];
    static int fh_field_add(const char *name, size_t len, int field) {
        if (len >= FH_FIELD_MAX_LEN || fh_fields[len].field != 0 || field == 0)
            return -1;
        memcpy(fh_fields[len].name, name, len);
        fh_fields[len].field = field;
        return 0;
    }
    """
    enum: FH_FIELD_MAX_LEN
    ctypedef struct fh_field:
        char *name
        int field
    fh_field *fh_fields
    int fh_field_add(const char *name, size_t len, int field)


cdef class Head:
    cdef readonly size_t max_line
    cdef readonly size_t max_lines
    cdef readonly size_t max_head
    cdef readonly Py_ssize_t at
    cdef readonly Py_ssize_t length
    cdef readonly long error
    cdef readonly bytes raw
    cdef readonly Py_ssize_t count
    cdef list _pairs
    cdef readonly int connection
    cdef readonly bint expect
    cdef readonly bint expect_continue
    cdef readonly bint exotic_type
    cdef readonly int host
    cdef readonly int framing
    cdef readonly long long content_length
    cdef readonly bint chunked_only
    cdef readonly object refusal
    cdef int _seen
    cdef object _spans              # C: raw's fh_header array, as bytes
    cdef object _scanner            # (the pure build's scanner)
    cdef fh.fh_headers _scan        # C: the scan in progress
    cdef fh.fh_header *_slots       # C: its own slots, once it spans several feeds

    cpdef list pairs(self)
    cpdef bint fits(self, size_t max_line, size_t max_lines, size_t max_head)


cdef class HeadBuffer:
    cdef public bytearray _storage
    cdef public Py_ssize_t _start
    cdef public Py_ssize_t _end
    cdef public Py_ssize_t _taken
    cdef public Head _parsed
    cdef public object max_head_bytes

    cpdef Py_ssize_t _fill(self) except -1
    cpdef end_head(self)


# module constants, as C
cdef long _INCOMPLETE
cdef dict _http_client
cdef Py_ssize_t _MAX_REQUEST_LINE
cdef Py_ssize_t _BYTESIO_PEEK
cdef int _F_HOST, _F_EXPECT, _F_CONNECTION, _F_CONTENT_TYPE, _F_CONTENT_LENGTH, _F_CODINGS
cdef int _BAD_LENGTH, _CONFLICTING
cdef int HOST_NONE, HOST_OK, HOST_INVALID, HOST_MANY
cdef int CONN_OTHER, CONN_CLOSE, CONN_KEEP_ALIVE
cdef int FRAMING_NONE, FRAMING_LENGTH, FRAMING_CHUNKED, FRAMING_INVALID

cpdef str reason(long code)
cpdef object head_error(long code)
cpdef object max_line()
cpdef object max_headers()
cpdef object max_head_lines()
cpdef tuple parse_request_line(object line)

cdef long _feed(Head head, object buf, Py_ssize_t base, Py_ssize_t n) except? -1000
cdef long _eof(Head head, Py_ssize_t n) except? -1000
cdef Py_ssize_t _line_start(Head head) noexcept
cdef Head _finish(Head head, object buf, Py_ssize_t base, Py_ssize_t length)
cdef inline bint _folded_is(bytes raw, Py_ssize_t off, Py_ssize_t n, bytes lower) noexcept
cdef inline bint _folded_in(bytes raw, Py_ssize_t off, Py_ssize_t n, bytes lower) noexcept
cdef inline long long _length_of(bytes raw, Py_ssize_t off, Py_ssize_t n) noexcept
cdef inline bint _valid_host(bytes raw, Py_ssize_t off, Py_ssize_t n) noexcept
cdef inline Py_ssize_t _find_lf(bytearray storage, Py_ssize_t start, Py_ssize_t end) noexcept
cdef size_t _size_t(object value) except? 0


@cython.locals(head=Head)
cdef Head _new_head(size_t max_line, size_t max_lines, size_t max_head)


@cython.locals(name_off=Py_ssize_t, name_len=Py_ssize_t, value_off=Py_ssize_t,
               value_len=Py_ssize_t, i=Py_ssize_t, field=int, seen=int)
cdef _learn(Head head)


@cython.locals(bit=int, first=bint, length=cython.longlong)
cdef inline _learn_field(Head head, int field, bytes raw, Py_ssize_t value_off,
                         Py_ssize_t value_len)


@cython.locals(codings=list)
cdef _learn_codings(Head head)


@cython.locals(line_limit=size_t, lines_limit=size_t, head_limit=size_t)
cpdef Head read_head(object rfile, object max_line, object max_lines, object max_head)


@cython.locals(head=Head, r=long)
cdef Head _read_head_in_buffer(HeadBuffer buf, size_t max_line, size_t max_lines,
                               size_t max_head)


@cython.locals(head=Head, r=long, limit=size_t)
cdef Head _read_head_lines(object rfile, size_t max_line, size_t max_lines, size_t max_head)


@cython.locals(head=Head, r=long, n=Py_ssize_t, stop=Py_ssize_t, lf=Py_ssize_t,
               line_start=Py_ssize_t, room=size_t)
cdef Head _read_head_bytesio(object rfile, size_t max_line, size_t max_lines,
                             size_t max_head)


@cython.locals(storage=bytearray, start=Py_ssize_t, n=Py_ssize_t, lf=Py_ssize_t,
               line_len=Py_ssize_t, head=Head, r=long, body=cython.longlong,
               total=cython.longlong, line_limit=size_t, lines_limit=size_t,
               head_limit=size_t)
cpdef Py_ssize_t request_state(HeadBuffer buf, Py_ssize_t max_inline_body) except? -1000


# -- the c_* helpers -------------------------------------------------------------

cdef inline const char *c_data(object buf) except NULL:
    """The bytes of a bytes or bytearray object."""
    if type(buf) is bytes:
        return PyBytes_AS_STRING(buf)
    if type(buf) is bytearray:
        return PyByteArray_AS_STRING(buf)
    raise TypeError("a bytes or bytearray buffer is required")


cdef inline str c_reason(long code):
    return fh.fh_reason(<int>code).decode("ascii")


cdef inline int c_byte_class(int c) noexcept:
    return fh.fh_byte_class(<unsigned char>c)


cdef inline c_fields_init(dict fields):
    cdef bytes name
    for name, field in fields.items():
        if fh_field_add(PyBytes_AS_STRING(name), <size_t>len(name), field) != 0:
            raise ValueError("fields need names of distinct lengths, under %d bytes"
                             % FH_FIELD_MAX_LEN)


cdef inline int c_field(bytes raw, Py_ssize_t off, Py_ssize_t n) noexcept:
    cdef const char *s = PyBytes_AS_STRING(raw) + off
    cdef const char *name
    cdef Py_ssize_t i
    if n >= FH_FIELD_MAX_LEN or fh_fields[n].field == 0:
        return 0
    name = fh_fields[n].name
    for i in range(n):
        if (s[i] | 0x20) != name[i]:
            return 0
    return fh_fields[n].field


cdef inline c_scan_init(Head head, size_t max_line, size_t max_lines, size_t max_head):
    fh.fh_headers_init(&head._scan, max_line, max_lines, max_head)
    head._slots = NULL
    if max_lines > FH_SHARED_SLOTS:     # a server that raised http.client's limit
        c_own_slots(head)


cdef inline c_own_slots(Head head):
    """Give the scan its own slots, holding what it has found so far."""
    cdef size_t cap = head._scan.max_lines if head._scan.max_lines > FH_SHARED_SLOTS \
        else FH_SHARED_SLOTS
    if cap > (<size_t>-1) // sizeof(fh.fh_header):
        raise MemoryError("max_lines too large")
    head._slots = <fh.fh_header *>malloc(cap * sizeof(fh.fh_header))
    if head._slots == NULL:
        raise MemoryError()
    memcpy(head._slots, fh_shared_slots(), head._scan.count * sizeof(fh.fh_header))


cdef inline c_scan_free(Head head):
    free(head._slots)
    head._slots = NULL


cdef inline fh.fh_header *c_slots(Head head) noexcept:
    return head._slots if head._slots != NULL else fh_shared_slots()


cdef inline long c_feed(Head head, object buf, Py_ssize_t base, Py_ssize_t n) except? -1000:
    cdef long r = fh.fh_parse_headers(&head._scan, c_data(buf) + base, <size_t>n,
                                      c_slots(head), FH_SHARED_SLOTS if head._slots == NULL
                                      else head._scan.max_lines)
    if r >= 0:
        c_keep_slots(head)
    elif r == fh.FH_INCOMPLETE and head._slots == NULL:
        c_own_slots(head)               # the next feed runs after other code
    return r


cdef inline long c_eof(Head head, Py_ssize_t n) except? -1000:
    cdef long r = fh.fh_headers_eof(&head._scan, <size_t>n)
    if r >= 0:
        c_keep_slots(head)
    return r


cdef inline Py_ssize_t c_line_start(Head head) noexcept:
    return <Py_ssize_t>head._scan.line_start


cdef inline c_keep_slots(Head head):
    """The scan is done: its spans, as bytes (raw comes with _finish)."""
    head.count = <Py_ssize_t>head._scan.count
    head._spans = PyBytes_FromStringAndSize(<const char *>c_slots(head),
                                            head.count * sizeof(fh.fh_header))
    c_scan_free(head)


ctypedef (Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t) span4


cdef inline span4 c_span(Head head, Py_ssize_t i) noexcept:
    """(name offset, name length, value offset, value length) of field i."""
    cdef const fh.fh_header *h = <const fh.fh_header *>PyBytes_AS_STRING(head._spans) + i
    return (<Py_ssize_t>h.name.off, <Py_ssize_t>h.name.len,
            <Py_ssize_t>h.value.off, <Py_ssize_t>h.value.len)


cdef inline list c_pairs(Head head):
    cdef list pairs = PyList_New(head.count)
    cdef const char *base = PyBytes_AS_STRING(head.raw)
    cdef const fh.fh_header *hs = <const fh.fh_header *>PyBytes_AS_STRING(head._spans)
    cdef Py_ssize_t i
    cdef tuple pair
    for i in range(head.count):
        pair = (fh_header_name(base + hs[i].name.off, hs[i].name.len),
                PyUnicode_DecodeLatin1(base + hs[i].value.off, <Py_ssize_t>hs[i].value.len,
                                       NULL))
        Py_INCREF(pair)
        PyList_SET_ITEM(pairs, i, pair)
    return pairs


cdef inline bint c_folded_is(bytes raw, Py_ssize_t off, Py_ssize_t n, bytes lower) noexcept:
    """ASCII case-insensitive match: |0x20 folds letters only, since the
    other bytes of `lower` ('-', digits) have no partner a field allows."""
    cdef const char *s = PyBytes_AS_STRING(raw) + off
    cdef const char *t = PyBytes_AS_STRING(lower)
    cdef Py_ssize_t i
    if n != PyBytes_GET_SIZE(lower):
        return False
    for i in range(n):
        if (s[i] | 0x20) != t[i]:
            return False
    return True


cdef inline bint c_folded_in(bytes raw, Py_ssize_t off, Py_ssize_t n, bytes lower) noexcept:
    cdef const char *s = PyBytes_AS_STRING(raw) + off
    cdef const char *t = PyBytes_AS_STRING(lower)
    cdef Py_ssize_t k = PyBytes_GET_SIZE(lower), i, j
    for i in range(n - k + 1):
        for j in range(k):
            if (s[i + j] | 0x20) != t[j]:
                break
        else:
            return True
    return False


cdef inline long long c_content_length(bytes raw, Py_ssize_t off, Py_ssize_t n) noexcept:
    cdef long long length
    if fh.fh_content_length(PyBytes_AS_STRING(raw) + off, <size_t>n, &length) != 0:
        return -1
    return length


cdef inline bint c_valid_host(bytes raw, Py_ssize_t off, Py_ssize_t n) noexcept:
    cdef const char *s = PyBytes_AS_STRING(raw) + off
    while n > 0 and (s[n - 1] == b' ' or s[n - 1] == b'\t'):
        n -= 1
    return memchr(s, b' ', <size_t>n) == NULL and memchr(s, b'\t', <size_t>n) == NULL


cdef inline Py_ssize_t c_find_lf(bytearray storage, Py_ssize_t start, Py_ssize_t end) noexcept:
    cdef const char *base = PyByteArray_AS_STRING(storage)
    cdef const char *lf = <const char *>memchr(base + start, b'\n', <size_t>(end - start))
    return -1 if lf == NULL else lf - base


cdef inline bytes c_slice(object buf, Py_ssize_t base, Py_ssize_t n):
    return PyBytes_FromStringAndSize(c_data(buf) + base, n)


cdef inline tuple c_request_line(bytes line):
    cdef fh.fh_request_line rl
    cdef const char *p = PyBytes_AS_STRING(line)
    if fh.fh_parse_request_line(p, <size_t>PyBytes_GET_SIZE(line), &rl) != fh.FH_OK:
        return None
    return (PyUnicode_DecodeLatin1(p + rl.method.off, <Py_ssize_t>rl.method.len, NULL),
            PyUnicode_DecodeLatin1(p + rl.target.off, <Py_ssize_t>rl.target.len, NULL),
            rl.version_major, rl.version_minor)
