# C types for fasthttp/response.py, compiled a second time by Cython as
# fasthttp._response (see setup.py). The Python source is the only source;
# this file adds types, and the c_* helpers response.py calls under
# `if cython.compiled:`: the per-class hook cache (CPython's type version
# tag), the clock, and latin-1 strings copied as bytes.
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from libc.string cimport memchr, memcpy, memset

from fasthttp._sockio cimport SocketWriter

cdef extern from "Python.h":
    int PyUnicode_KIND(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    int PyUnicode_1BYTE_KIND
    object PyObject_GenericGetDict(object o, void *context)

cdef extern from *:
    """
    /* A type's version tag (CPython internal: verified on 3.9-3.13 with the
       GIL). 1 and *tag set when the type has a valid one, else 0. */
    #if PY_VERSION_HEX >= 0x03090000 && PY_VERSION_HEX < 0x030E0000 \\
        && !defined(Py_GIL_DISABLED) && defined(Py_TPFLAGS_VALID_VERSION_TAG)
    #define FH_HAVE_VERSION_TAG 1
    static int fh_type_version(PyObject *type, unsigned int *tag) {
        PyTypeObject *t = (PyTypeObject *)type;
        if (!(t->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG))
            return 0;
        *tag = t->tp_version_tag;
        return 1;
    }
    #else
    #define FH_HAVE_VERSION_TAG 0
    static int fh_type_version(PyObject *type, unsigned int *tag) {
        (void)type; (void)tag;
        return 0;
    }
    #endif

    /* The hook names (borrowed: response._RESPONSE_HOOKS keeps them) and
       the classes' masks, direct-mapped by address. */
    #define FH_HOOKS 10
    #define FH_MASK_CACHE 64
    typedef struct { void *cls; unsigned int tag; int mask; } fh_mask_entry;
    static PyObject *fh_hook_names[FH_HOOKS];
    static fh_mask_entry fh_mask_cache[FH_MASK_CACHE];
    """
    int FH_HAVE_VERSION_TAG
    int fh_type_version(object type, unsigned int *tag)
    enum: FH_HOOKS
    enum: FH_MASK_CACHE
    ctypedef struct fh_mask_entry:
        void *cls
        unsigned int tag
        int mask
    PyObject **fh_hook_names
    fh_mask_entry *fh_mask_cache

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk_id, timespec *tp)
    enum: CLOCK_REALTIME


# module state, as C
cdef int H_LOG_REQUEST, H_LOG_MESSAGE, H_SEND_RESPONSE_ONLY, H_SEND_HEADER, H_VERSION_STRING
cdef int H_DATE_TIME_STRING, H_LOG_DATE_TIME_STRING, H_ADDRESS_STRING, H_FLUSH_HEADERS
cdef int H_CONTROL_CHAR_TABLE, H_LOG_LINE
cdef tuple _RESPONSE_HOOKS
cdef dict _reference_hooks
cdef bint _use_version_tag
cdef long _date_second, _log_second
cdef str _date_text, _log_text
cdef dict _code_texts, _status_lines
cdef tuple _server_line
cdef object _stdlib_date_time_string, _stdlib_log_date_time_string

cdef str _current_date(self)
cdef str _current_log_date(self)
cdef _write_log_line(self, str format, tuple args)
cdef _log_request(self, code, size, int plain)
cdef list _headers_buffer(self)
cdef _append_server_line(self)
cpdef send_header(self, keyword, value)
cpdef flush_headers(self)


@cython.locals(splits=bint)
cdef bytes _header_line(keyword, value)


@cython.locals(splits=bint)
cdef bytes _status_line(protocol_version, code, message)


@cython.locals(mask=int, bit=int)
cdef int _class_mask(type cls) except -1


@cython.locals(mask=int)
cdef int _plain(self, int wanted) except -1


@cython.locals(c=Py_UCS4, code=long)
cdef bint _needs_escaping(str message)


@cython.locals(cached=tuple, buf=list)
cdef _append_status_line(self, code, message)


@cython.locals(plain=int)
cpdef send_response(self, code, message=*)


# -- the c_* helpers -------------------------------------------------------------

cdef inline bint c_have_version_tag() noexcept:
    return FH_HAVE_VERSION_TAG


cdef inline c_masks_reset(tuple names):
    cdef Py_ssize_t i
    if len(names) != FH_HOOKS:
        raise ValueError("FH_HOOKS is not the number of hooks")
    for i in range(FH_HOOKS):
        fh_hook_names[i] = <PyObject *>names[i]     # interned; kept by the tuple
    memset(fh_mask_cache, 0, FH_MASK_CACHE * sizeof(fh_mask_entry))


cdef inline int c_cached_mask(type cls) noexcept:
    """cls's cached mask, or -1."""
    cdef fh_mask_entry *entry = &fh_mask_cache[(<size_t><void *>cls >> 4) % FH_MASK_CACHE]
    cdef unsigned int tag
    if fh_type_version(cls, &tag) and entry.cls == <void *>cls and entry.tag == tag:
        return entry.mask
    return -1


cdef inline c_cache_mask(type cls, int mask):
    cdef fh_mask_entry *entry = &fh_mask_cache[(<size_t><void *>cls >> 4) % FH_MASK_CACHE]
    cdef unsigned int tag
    if fh_type_version(cls, &tag):     # (the lookups that made the mask assign one)
        entry.cls = <void *>cls
        entry.tag = tag
        entry.mask = mask


cdef inline int c_not_in_instance(self, int mask) except -1:
    """mask, less the hooks the instance itself overrides."""
    cdef dict d = <dict>PyObject_GenericGetDict(self, NULL)
    cdef int i
    for i in range(FH_HOOKS):
        if (mask >> i) & 1 and PyDict_GetItem(d, <object>fh_hook_names[i]) != NULL:
            mask &= ~(1 << i)
    return mask


cdef inline long c_wall_second() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec


cdef inline dict c_instance_dict(obj):
    """obj.__dict__, without the attribute lookup."""
    return <dict>PyObject_GenericGetDict(obj, NULL)


cdef inline bint c_latin1(str s) noexcept:
    """Are all of s's characters < 256 (its storage is then latin-1 bytes)?"""
    return PyUnicode_KIND(s) == PyUnicode_1BYTE_KIND


cdef inline bytes c_line3(str a, str sep, str b, str sep2, str c):
    """(a + sep + b + sep2 + c + CRLF) as bytes, for latin-1 strings."""
    cdef Py_ssize_t na = PyUnicode_GET_LENGTH(a), nb = PyUnicode_GET_LENGTH(b)
    cdef Py_ssize_t nc = PyUnicode_GET_LENGTH(c)
    cdef Py_ssize_t ns = PyUnicode_GET_LENGTH(sep), ns2 = PyUnicode_GET_LENGTH(sep2)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, na + ns + nb + ns2 + nc + 2)
    cdef char *w = PyBytes_AS_STRING(out)
    memcpy(w, PyUnicode_DATA(a), na)
    w += na
    memcpy(w, PyUnicode_DATA(sep), ns)
    w += ns
    memcpy(w, PyUnicode_DATA(b), nb)
    w += nb
    memcpy(w, PyUnicode_DATA(sep2), ns2)
    w += ns2
    memcpy(w, PyUnicode_DATA(c), nc)
    w += nc
    w[0] = 13
    w[1] = 10
    return out


cdef inline bint c_splits(bytes line) noexcept:
    cdef const char *p = PyBytes_AS_STRING(line)
    cdef size_t n = <size_t>PyBytes_GET_SIZE(line) - 2
    return memchr(p, 13, n) != NULL or memchr(p, 10, n) != NULL
