# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""BaseHTTPRequestHandler.parse_request in C: fasthttp/request.py is the same
function in Python (fasthttp._core picks one). The rare paths -- a request
line not in RFC 9112's strict form, a refused head, a custom MessageClass,
the framing checks -- are request.py's functions, shared by both paths.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_Update
from cpython.unicode cimport PyUnicode_DecodeLatin1

from fasthttp._fh_parser cimport *
from fasthttp._head cimport (CONN_CLOSE, CONN_KEEP_ALIVE, CONN_OTHER, HOST_OK, _Head, latin1_span,
                             read_head)
from fasthttp._sockio cimport SocketReader

cdef extern from "Python.h":
    object PyObject_GenericGetDict(object o, void *context)

cdef extern from *:
    """
    /* PyType_GenericNew (public API) taking the type as an object. */
    #define fh_generic_new(t, a, k) PyType_GenericNew((PyTypeObject *)(t), (a), (k))
    """
    object fh_generic_new(object type, object args, object kwds)

import http.client
from http import HTTPStatus

from fasthttp.errors import HeadError
from fasthttp.request import (MESSAGE_TEMPLATE, check_framing, check_host, exact_message,
                              headless_http09, lenient_request_line, reject_head)
from fasthttp.request import EXTRA_HEAD_LINE
from fasthttp.request import _VERSION_IN_505 as VERSION_IN_505

cdef object _HTTPMessage = http.client.HTTPMessage
cdef object _http_client = http.client
cdef tuple _NO_ARGS = ()


def message_of(_Head head):
    """The HTTPMessage of a parsed head, as email.parser builds it for
    http.server (compat32 policy, the pairs as sent, no defects)."""
    headers = _new_message()
    # Fill the instance dict in place: replacing it (__dict__ = ...) loses
    # the attributes on 3.13, where fresh instances keep inline values.
    state = PyObject_GenericGetDict(headers, NULL)
    PyDict_Update(state, MESSAGE_TEMPLATE)
    state["_headers"] = head.pairs()
    state["defects"] = []
    return headers


cdef class LazyHeaders:
    """``self.headers`` on the C path (a class attribute of fasthttp's
    BaseHTTPRequestHandler): parse_request keeps the header block as bytes,
    and the HTTPMessage (the object email.parser would build) is made the
    first time it is read, then stored as the instance attribute, as
    http.server stores it. A handler that never reads its headers never pays
    for a str per name and value."""

    def __get__(self, handler, owner):
        cdef dict state
        if handler is None:
            return self
        state = PyObject_GenericGetDict(handler, NULL)
        head = state.get("_fh_head")
        if head is None:
            raise AttributeError("headers")     # before any request, as the stdlib
        headers = message_of(head)
        state["headers"] = headers
        return headers


cdef inline object _new_message():
    """HTTPMessage.__new__(HTTPMessage): HTTPMessage has no __new__ of its
    own, so this is object.__new__ without the method lookup and call."""
    return fh_generic_new(_HTTPMessage, _NO_ARGS, None)


def parse_request(handler):
    """BaseHTTPRequestHandler.parse_request: see fasthttp/request.py for the
    same steps in Python, and the rare paths both call."""
    cdef fh_request_line rl
    cdef const char *p
    cdef Py_ssize_t n
    cdef _Head head
    cdef dict state
    raw = handler.raw_requestline         # (C wants the bytes first)
    if type(raw) is not bytes:
        raw = bytes(raw)
    handler.command = None
    handler.request_version = handler.default_request_version
    handler.close_connection = True
    p = PyBytes_AS_STRING(raw)
    n = PyBytes_GET_SIZE(raw)
    while n > 0 and (p[n - 1] == b'\r' or p[n - 1] == b'\n'):   # rstrip('\r\n')
        n -= 1
    requestline = PyUnicode_DecodeLatin1(p, n, NULL)
    handler.requestline = requestline
    protocol_version = handler.protocol_version

    words = None
    if fh_parse_request_line(p, <size_t>PyBytes_GET_SIZE(raw), &rl) == FH_OK:
        command = latin1_span(p, rl.method)
        if ((rl.version_major > 1 or (rl.version_major == 1 and rl.version_minor >= 1))
                and protocol_version >= "HTTP/1.1"):
            handler.close_connection = False
        if rl.version_major >= 2:
            if VERSION_IN_505:      # 3.14+ (probed by request.py)
                handler.request_version = latin1_span(p, fh_span(n - 8, 8))
            handler.send_error(HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                               "Invalid HTTP version (%d.%d)"
                               % (rl.version_major, rl.version_minor))
            return False
        handler.request_version = latin1_span(p, fh_span(n - 8, 8))
        if rl.target.len >= 2 and p[rl.target.off] == b'/' and p[rl.target.off + 1] == b'/':
            path = "/" + latin1_span(p, rl.target).lstrip("/")
        else:
            path = latin1_span(p, rl.target)
    else:
        words = lenient_request_line(handler, requestline)
        if words is None:
            return False
        command, path = words
        # gh-87389: '//host/path' would read as a scheme-relative URL in a
        # redirect, so the stdlib reduces leading slashes to one.
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
    handler.command = command
    handler.path = path
    if words is not None and headless_http09(handler):
        return True

    rfile = handler.rfile
    try:
        # http.client's limits, read when used (tests patch them), as request.py
        head = read_head(rfile, _http_client._MAXLINE,
                         _http_client._MAXHEADERS + EXTRA_HEAD_LINE, handler.max_head_bytes)
    except HeadError as err:
        return reject_head(handler, err)
    if type(rfile) is SocketReader:
        (<SocketReader>rfile).end_head()
        # Where the body begins (see BaseHTTPRequestHandler._fh_end_body).
        (<SocketReader>rfile)._body_mark = (<SocketReader>rfile)._taken if head.framing else -1
    message_class = handler.MessageClass
    if message_class is _HTTPMessage and not head.exotic_type:
        connection = head.connection
        expect_continue = head.expect_continue
        if type(getattr(type(handler), "headers", None)) is LazyHeaders:
            # self.headers is made when first read (LazyHeaders): the head
            # stays as bytes until then.
            state = PyObject_GenericGetDict(handler, NULL)
            state.pop("headers", None)
            state["_fh_head"] = head
        else:
            handler.headers = message_of(head)
    else:
        headers = exact_message(handler, head.pairs())
        connection_value = headers.get("Connection", "").lower()
        connection = (CONN_CLOSE if connection_value == "close" else
                      CONN_KEEP_ALIVE if connection_value == "keep-alive" else CONN_OTHER)
        expect_continue = headers.get("Expect", "").lower() == "100-continue"
        handler.headers = headers
    if head.host != HOST_OK and not check_host(handler, head.host):
        return False
    if head.framing and not check_framing(handler):
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
