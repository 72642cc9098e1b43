# Cython declarations of csrc/fh_parser.h, all of it (see there for the contract).

cdef extern from "fh_parser.h" nogil:
    enum fh_result:
        FH_OK
        FH_INCOMPLETE
        FH_NONCANONICAL
        FH_E_LINE_TOO_LONG
        FH_E_TOO_MANY_HEADERS
        FH_E_HEAD_TOO_LARGE
        FH_E_OBS_FOLD
        FH_E_NAME
        FH_E_SPACE_BEFORE_COLON
        FH_E_NO_COLON
        FH_E_VALUE
        FH_E_BARE_CR
        FH_E_EOF_IN_LINE

    enum:
        FH_C_TCHAR
        FH_C_VALUE
        FH_C_TARGET

    ctypedef struct fh_span:
        size_t off
        size_t len

    ctypedef struct fh_request_line:
        fh_span method
        fh_span target
        int version_major
        int version_minor

    ctypedef struct fh_header:
        fh_span name
        fh_span value

    ctypedef struct fh_headers:
        size_t max_line
        size_t max_lines
        size_t max_head
        int state
        size_t pos
        size_t line_start
        size_t name_end
        size_t value_start
        size_t value_end
        size_t lines
        size_t count

    int fh_parse_request_line(const char *line, size_t len, fh_request_line *out)
    void fh_headers_init(fh_headers *p, size_t max_line, size_t max_lines,
                         size_t max_head)
    long fh_parse_headers(fh_headers *p, const char *buf, size_t len,
                          fh_header *out, size_t out_cap)
    long fh_headers_eof(fh_headers *p, size_t len)
    const char *fh_reason(int code)
    unsigned char fh_byte_class(unsigned char c)
    int fh_content_length(const char *value, size_t len, long long *out)
