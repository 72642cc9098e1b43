# C types for fasthttp/sockio.py, compiled a second time by Cython as
# fasthttp._sockio (see setup.py). The Python source is the only source; this
# file adds types (the reader is a fasthttp._head.HeadBuffer, the interface
# the head parser reads through), and the c_* helpers sockio.py calls under
# `if cython.compiled:`.
cimport cython
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.exc cimport PyErr_CheckSignals, PyErr_SetFromErrno
from libc.errno cimport EINTR, errno
from libc.string cimport memchr

from fasthttp._head cimport HeadBuffer

cdef extern from *:
    """
    /* poll() one fd for input, at most ms milliseconds: 1 ready, 0 timed
       out, -1 error (errno set). sockio.py uses it only where the select
       module has poll(); the stub keeps Windows builds compiling. */
    #ifdef _WIN32
    static int fh_poll_in(int fd, int ms) { (void)fd; (void)ms; return -1; }
    #else
    #include <poll.h>
    static int fh_poll_in(int fd, int ms) {
        struct pollfd p;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        return poll(&p, 1, ms);
    }
    #endif
    """
    int fh_poll_in(int fd, int ms) nogil


cdef inline Py_ssize_t c_find_lf(bytearray storage, Py_ssize_t start, Py_ssize_t end):
    """storage.find(b"\\n", start, end)"""
    cdef const char *base = PyByteArray_AS_STRING(storage)
    cdef const char *lf = <const char *>memchr(base + start, b'\n', <size_t>(end - start))
    return -1 if lf == NULL else lf - base


cdef inline bytes c_slice(bytearray storage, Py_ssize_t start, Py_ssize_t n):
    """bytes(storage[start:start + n])"""
    return PyBytes_FromStringAndSize(PyByteArray_AS_STRING(storage) + start, n)


cdef inline int c_wait_readable(int fd, int ms) except -1:
    """len(poll([fd], POLLIN).poll(ms)), without the GIL while it waits."""
    cdef int ready
    while True:
        with nogil:
            ready = fh_poll_in(fd, ms)
        if ready >= 0:
            return ready
        if errno != EINTR:
            PyErr_SetFromErrno(OSError)
            return -1
        PyErr_CheckSignals()        # runs handlers; an exception propagates


cdef class SocketReader(HeadBuffer):
    cdef object _sock
    cdef object _recv_into
    cdef object _view
    cdef bint _closed
    cdef double _deadline
    cdef object _base_timeout
    cdef bint _timeout_changed
    cdef int _poll_fd
    cdef bint _ready
    cdef object _poller
    cdef SocketWriter _writer
    cdef public object io_timeout
    cdef public object on_block
    cdef public bint stopping
    cdef int _nowait

    cpdef end_head(self)
    cpdef shrink(self)
    cpdef bytes look(self, Py_ssize_t start, Py_ssize_t end)

    @cython.locals(cap=Py_ssize_t, start=Py_ssize_t, end=Py_ssize_t, used=Py_ssize_t)
    cdef _make_room(self)

    @cython.locals(cap=Py_ssize_t, start=Py_ssize_t, used=Py_ssize_t)
    cdef _reserve(self, Py_ssize_t n)

    cpdef Py_ssize_t _fill(self) except -1
    cdef Py_ssize_t _recv_more(self) except -1
    cdef Py_ssize_t _recv_nowait(self) except -2
    cdef Py_ssize_t _recv_waiting(self, bint poll) except -1

    @cython.locals(start=Py_ssize_t)
    cdef bytes _take(self, Py_ssize_t n)

    @cython.locals(remaining=double, ms=int, ready=int)
    cdef _apply_deadline(self)

    @cython.locals(start=Py_ssize_t, avail=Py_ssize_t, scan=Py_ssize_t, lf=Py_ssize_t)
    cdef bytes _readline(self, Py_ssize_t limit)

    @cython.locals(avail=Py_ssize_t)
    cdef bytes _read(self, Py_ssize_t want)


@cython.locals(size=Py_ssize_t)
cdef Py_ssize_t _ssize(object value) except? -2


cdef class SocketWriter:
    cdef object _sock
    cdef object _sendall
    cdef bint _closed
    cdef bint _corked
    cdef int _more
    cdef int _dontwait
    cdef list _pending
    cdef Py_ssize_t _pending_bytes
    cdef Py_ssize_t _file_bytes
    cdef public bint queueing
    cdef public bint holding
    cdef Py_ssize_t _limit
    cdef public object io_timeout
    cdef public object on_block
    cdef public bint loop_owned
    cdef public bint cut_short
    cdef public Py_ssize_t body_bytes

    cdef _send(self, data, int flags)
    cdef _hold(self, data, Py_ssize_t n)
    cdef _send_pending(self)
    cdef _wait_sent(self, Py_ssize_t left)
    cdef bint _send_file(self, item) except -1
    cpdef push(self)
    cpdef write_through(self)
    cpdef bint send_some(self, bint ready=*) except -1
