# Cython declarations of csrc/fh_parser.h (see there for the contract). Of its
# result codes, the two the C helpers branch on; the list of them all is
# FH_RESULTS in the header (for Python: fasthttp/fh_results.py, generated).

cdef extern from "fh_parser.h" nogil:
    enum fh_result:
        FH_OK
        FH_INCOMPLETE

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
