# C types for fasthttp/request.py, compiled a second time by Cython as
# fasthttp._request (see setup.py). The Python source is the only source;
# this file adds types, the C head parser's names (fasthttp._head), and the
# c_* helpers request.py calls under `if cython.compiled:`.
cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeLatin1
from fasthttp._head cimport (Head, max_head_lines, max_headers, max_line, parse_request_line,
                             read_head)

cdef extern from "Python.h":
    object PyObject_GenericGetDict(object o, void *context)

cdef extern from *:
    """
    /* PyType_GenericNew (public API) taking the type as an object. */
    #define fh_generic_new(t, a, k) PyType_GenericNew((PyTypeObject *)(t), (a), (k))
    """
    object fh_generic_new(object type, object args, object kwds)


# fasthttp.head's constants, as C ints here
cdef int CONN_CLOSE, CONN_KEEP_ALIVE, CONN_OTHER, FRAMING_NONE
cdef int HOST_INVALID, HOST_MANY, HOST_OK


cdef class LazyHeaders:
    pass


@cython.locals(state=dict)
cpdef object message_of(Head head)


@cython.locals(raw=bytes, requestline=str, line=tuple, command=str, path=str, major=long,
               minor=long, head=Head, state=dict, connection=int, expect_continue=bint)
cpdef bint parse_request(object handler) except -1


cdef inline dict c_instance_dict(object obj):
    """obj.__dict__, without the attribute lookup."""
    return <dict>PyObject_GenericGetDict(obj, NULL)


cdef inline object c_new_instance(object cls):
    """cls.__new__(cls), for a class with no __new__ of its own."""
    return fh_generic_new(cls, (), None)


cdef inline str c_line_text(bytes raw):
    cdef const char *p = PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(raw)
    while n > 0 and (p[n - 1] == b'\r' or p[n - 1] == b'\n'):
        n -= 1
    return PyUnicode_DecodeLatin1(p, n, NULL)
