/*
 * fh_parser: the HTTP/1.x request-head parser of fasthttp.
 *
 * Plain C99, no Python.h, no allocation. It reads a caller-owned byte buffer
 * and reports spans (offsets into that buffer) for the request line and each
 * header field. It never reads past `len` and every loop is bounded by the
 * limits given at init.
 *
 * Two entry points, matching how http.server reads a request:
 *   - fh_parse_request_line(): one complete line (as readline() returns it)
 *     in the strict RFC 9112 form `method SP target SP HTTP/D.D CRLF`.
 *     Anything else is FH_NONCANONICAL: the caller applies http.server's
 *     lenient word-splitting rules to it (its answer is the stdlib's).
 *   - fh_parse_headers(): the header block, incrementally. Call it again
 *     with a longer buffer (same first byte, possibly moved in memory) after
 *     FH_INCOMPLETE; it resumes where it stopped, never rescanning.
 */
#ifndef FH_PARSER_H
#define FH_PARSER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Results: the one list of codes and reasons. Everything else is generated
 * from it: the enum below, fh_reason(), the Cython declarations' users (via
 * fh_reason and FH_RESULT_COUNT), and the pure-Python twin's table is checked
 * against it by tests/test_parser.py. >= 0 from fh_parse_headers means
 * "done, this many bytes used".
 */
#define FH_RESULTS(X)                                                          \
    X(FH_OK, 0, "ok")                                                          \
    X(FH_INCOMPLETE, -1, "incomplete")                                         \
    /* request line: not strict form, not an error yet */                      \
    X(FH_NONCANONICAL, -2, "request line not in strict form")                  \
    /* a header line is longer than max_line */                                \
    X(FH_E_LINE_TOO_LONG, -10, "header line too long")                         \
    /* more than max_lines lines (blank one included) */                       \
    X(FH_E_TOO_MANY_HEADERS, -11, "too many headers")                          \
    /* the whole block is longer than max_head */                              \
    X(FH_E_HEAD_TOO_LARGE, -12, "header block too large")                      \
    /* line starts with SP/HTAB (RFC 9112 5.2) */                              \
    X(FH_E_OBS_FOLD, -13, "obsolete line folding in header")                   \
    /* empty name or a non-token byte in the name (RFC 9110 5.1) */            \
    X(FH_E_NAME, -14, "invalid character in header name")                      \
    /* RFC 9112 5.1: no whitespace between field name and colon */             \
    X(FH_E_SPACE_BEFORE_COLON, -15, "whitespace before colon in header")       \
    X(FH_E_NO_COLON, -16, "header line without a colon")                       \
    /* control byte in a field value (RFC 9110 5.5) */                         \
    X(FH_E_VALUE, -17, "invalid character in header value")                    \
    /* CR not followed by LF (RFC 9112 2.2) */                                 \
    X(FH_E_BARE_CR, -18, "bare CR in request head")                            \
    X(FH_E_EOF_IN_LINE, -19, "request head ended inside a line")

#define FH_RESULT_ENUM_(name, value, reason) name = value,
enum fh_result { FH_RESULTS(FH_RESULT_ENUM_) };
#undef FH_RESULT_ENUM_

/*
 * Byte classes (RFC 9110 5.1 token, 5.5 field value; our strict
 * request-target). fh_byte_class(c) returns the bits of byte c: the one table
 * the parser runs on, exported so the pure-Python twin is tested against it.
 */
#define FH_C_TCHAR  0x01    /* RFC 9110 token character */
#define FH_C_VALUE  0x02    /* field-value byte: VCHAR, obs-text, SP, HTAB */
#define FH_C_TARGET 0x04    /* request-target byte we accept on the fast path */
unsigned char fh_byte_class(unsigned char c);

/*
 * A Content-Length value (leading whitespace already removed by the header
 * parser; trailing SP/HTAB allowed, as http.server keeps it): 1 to 18 ASCII
 * digits, so the result fits in 63 bits (RFC 9110 8.6). Returns 0 and stores
 * the length, or -1.
 */
int fh_content_length(const char *value, size_t len, long long *out);

typedef struct {
    size_t off;
    size_t len;
} fh_span;

typedef struct {
    fh_span method;
    fh_span target;
    int version_major;          /* one digit each: HTTP/D.D */
    int version_minor;
} fh_request_line;

typedef struct {
    fh_span name;
    fh_span value;              /* leading OWS removed, trailing kept (as http.server) */
} fh_header;

typedef struct {
    /* limits, set by fh_headers_init */
    size_t max_line;            /* bytes in one line including its LF */
    size_t max_lines;           /* lines including the terminating blank line */
    size_t max_head;            /* bytes in the whole block; 0 = no limit */
    /* progress: private to the parser */
    int state;
    size_t pos;                 /* next byte to examine */
    size_t line_start;
    size_t name_end;
    size_t value_start;
    size_t value_end;
    size_t lines;               /* complete lines seen */
    size_t count;               /* headers stored in the output array */
} fh_headers;

/* 0 <= len; the line must include its terminator if it has one. */
int fh_parse_request_line(const char *line, size_t len, fh_request_line *out);

void fh_headers_init(fh_headers *p, size_t max_line, size_t max_lines,
                     size_t max_head);

/*
 * Parse buf[0:len], the bytes of the header block seen so far. Headers are
 * written to out[0 .. p->count); `out_cap` must be >= p->max_lines.
 * Returns the number of bytes consumed (block ends after the blank line's
 * LF), FH_INCOMPLETE, or an FH_E_* error. After an error or completion,
 * re-init before reuse.
 */
long fh_parse_headers(fh_headers *p, const char *buf, size_t len,
                      fh_header *out, size_t out_cap);

/*
 * The input ended (EOF) after buf[0:len] without a blank line. Returns the
 * bytes consumed if the block ended on a line boundary (http.server treats
 * EOF there as the end of the headers), else FH_E_EOF_IN_LINE.
 */
long fh_headers_eof(fh_headers *p, size_t len);

/* A short English reason for an FH_E_* code (static string). */
const char *fh_reason(int code);

#ifdef __cplusplus
}
#endif

#endif /* FH_PARSER_H */
