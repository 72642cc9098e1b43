# C types for fasthttp/sockio.py, compiled a second time by Cython as
# fasthttp._sockio (see setup.py). The Python source is the only source; this
# file only adds types, and the attributes the head parser (_head.pyx) reads.
cimport cython


cdef class SocketReader:
    cdef object _sock
    cdef object _recv_into
    cdef bytearray _storage
    cdef object _view
    cdef public Py_ssize_t _start
    cdef public Py_ssize_t _end
    cdef bint _closed
    cdef double _deadline
    cdef object _base_timeout
    cdef bint _timeout_changed
    cdef object _poller
    cdef SocketWriter _writer
    cdef public object io_timeout

    cpdef end_head(self)

    @cython.locals(cap=Py_ssize_t, start=Py_ssize_t, end=Py_ssize_t, used=Py_ssize_t)
    cdef _make_room(self)

    @cython.locals(cap=Py_ssize_t, start=Py_ssize_t, used=Py_ssize_t)
    cdef _reserve(self, Py_ssize_t n)

    cpdef Py_ssize_t _fill(self) except -1
    cdef Py_ssize_t _recv_more(self) except -1

    @cython.locals(start=Py_ssize_t)
    cdef bytes _take(self, Py_ssize_t n)


cdef class SocketWriter:
    cdef object _sock
    cdef object _sendall
    cdef bint _closed
    cdef bint _corked
    cdef int _more
    cdef list _pending
    cdef Py_ssize_t _pending_bytes
    cdef public bint gather
    cdef public object io_timeout

    cdef _send(self, data, int flags)
    cdef _hold(self, data, Py_ssize_t n)
    cdef _send_pending(self)
    cpdef push(self)
