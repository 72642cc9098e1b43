# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The response side of BaseHTTPRequestHandler in C: send_response,
send_header, end_headers, flush_headers, log_request, log_message,
date_time_string and log_date_time_string, with http.server's output.
fasthttp/response.py is the pure-Python path (fasthttp._core picks one).

A hook the stdlib would call through ``self`` is called through ``self``
whenever the handler's class or instance overrides it; only calls into our
own, unchanged implementations are made directly. Which hooks a class
overrides is cached per class with CPython's type version tag, an interpreter
internal: it is read only on the versions it was verified on (3.9 to 3.13,
with the GIL); elsewhere, or with FASTHTTP_PUBLIC_API=1 in the environment,
the mask is computed on each call with public API only (CI runs the suite
both ways). The per-second timestamp and status-line caches are module
globals: the GIL guards them (this module does not declare itself
free-threading compatible, so a free-threaded CPython enables the GIL for it).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from libc.string cimport memchr, memcpy, memset, strlen

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
    #if PY_VERSION_HEX >= 0x03090000 && PY_VERSION_HEX < 0x030E0000 \
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
    """
    int FH_HAVE_VERSION_TAG
    int fh_type_version(object type, unsigned int *tag)

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk_id, timespec *tp)
    enum: CLOCK_REALTIME

import os
import sys
from http import HTTPStatus

from fasthttp.response import check_header, check_reason

cdef bint _use_version_tag = (FH_HAVE_VERSION_TAG and
                              os.environ.get("FASTHTTP_PUBLIC_API", "") not in ("1", "true", "yes"))


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
    new class at a freed one's address is not mistaken for it). Without the
    tag (see fh_type_version) the mask is computed on every call."""
    cdef _MaskEntry *entry = &_mask_cache[(<size_t><void *>cls >> 4) % MASK_CACHE]
    cdef int mask = 0, bit = 1
    cdef unsigned int tag
    cdef bint tagged = _use_version_tag and fh_type_version(cls, &tag)
    if tagged and entry.cls == <void *>cls and entry.tag == tag:
        return entry.mask
    if _reference_hooks:
        for name in _RESPONSE_HOOKS:
            if getattr(cls, name, None) is _reference_hooks[name]:
                mask |= bit
            bit <<= 1
    if _use_version_tag and fh_type_version(cls, &tag):   # the lookups above assign one
        entry.cls = <void *>cls
        entry.tag = tag
        entry.mask = mask
    return mask


def uses_interpreter_internals():
    """Does the hook cache read CPython's type version tags (True), or take
    the public-API path (False: another version, a free-threaded build, or
    FASTHTTP_PUBLIC_API=1)?"""
    return _use_version_tag


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
    """b"keyword: value\r\n", as http.server encodes it; a CR or LF in
    keyword or value is a ValueError (response.check_header)."""
    cdef bytes line
    if _latin1_str(keyword) and _latin1_str(value):
        line = _line3(keyword, ": ", value, "", None)
    else:
        line = ("%s: %s\r\n" % (keyword, value)).encode("latin-1", "strict")
    cdef const char *p = PyBytes_AS_STRING(line)
    cdef size_t n = <size_t>PyBytes_GET_SIZE(line) - 2
    if memchr(p, 13, n) != NULL or memchr(p, 10, n) != NULL:
        check_header(keyword, value)
    return line


cdef bytes _status_line(protocol_version, code, message):
    """b"HTTP/1.x 200 OK\r\n", as http.server encodes it; a CR or LF in
    the reason phrase is a ValueError (response.check_reason)."""
    cdef bytes line
    if type(code) is int and _latin1_str(protocol_version) and _latin1_str(message):
        line = _line3(protocol_version, " ", str(code), " ", message)
    else:
        line = ("%s %d %s\r\n" % (protocol_version, code, message)).encode("latin-1", "strict")
    cdef const char *p = PyBytes_AS_STRING(line)
    cdef size_t n = <size_t>PyBytes_GET_SIZE(line) - 2
    if memchr(p, 13, n) != NULL or memchr(p, 10, n) != NULL:
        check_reason(message)
    return line


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
