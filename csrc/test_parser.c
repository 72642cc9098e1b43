/*
 * Standalone unit test of csrc/fh_parser.{h,c}: no Python.
 *
 *   make test-c      (gcc -Wall -Wextra -Werror -fsanitize=address,undefined)
 *   make valgrind    (the same, without sanitizers, under valgrind memcheck)
 *
 * Prints one line per failure and "N passed, N failed" at the end; exits
 * non-zero if anything failed. Each input is copied into an exact-size heap
 * buffer, so a read past `len` is an ASan / valgrind error.
 *
 * Cases that came from fuzzing are marked "REGRESSION" (the inputs are in
 * fuzz/regressions/, see its README.md).
 */
#include "fh_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

#define EXPECT(cond) expect((cond), #cond, __FILE__, __LINE__, current)
static const char *current = "";

static int expect(int ok, const char *what, const char *file, int line,
                  const char *test)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s: %s (%s:%d)\n", test, what, file, line);
    }
    return ok;
}

/* An exact-size heap copy of a string literal (length given: may hold NULs). */
static char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (!p) {
        perror("malloc");
        exit(2);
    }
    memcpy(p, s, n);
    return p;
}

#define MAX_OUT 256

typedef struct {
    long r;
    size_t count;
    fh_header out[MAX_OUT];
} parsed;

static void parse_once(const char *s, size_t n, size_t max_line, size_t max_lines,
                       size_t max_head, parsed *res)
{
    fh_headers p;
    char *buf = dup_exact(s, n);
    fh_headers_init(&p, max_line, max_lines, max_head);
    res->r = fh_parse_headers(&p, buf, n, res->out, MAX_OUT);
    res->count = p.count;
    free(buf);
}

/* Feed s in prefixes cut at every `step` bytes, each a fresh copy. */
static void parse_steps(const char *s, size_t n, size_t step, size_t max_line,
                        size_t max_lines, size_t max_head, parsed *res)
{
    fh_headers p;
    size_t cut = 0;
    fh_headers_init(&p, max_line, max_lines, max_head);
    for (;;) {
        char *buf;
        cut = cut + step > n ? n : cut + step;
        buf = dup_exact(s, cut);
        res->r = fh_parse_headers(&p, buf, cut, res->out, MAX_OUT);
        free(buf);
        if (res->r != FH_INCOMPLETE || cut == n)
            break;
    }
    res->count = p.count;
}

static int span_is(const char *s, fh_span sp, const char *want)
{
    return sp.len == strlen(want) && memcmp(s + sp.off, want, sp.len) == 0;
}

#define S(lit) lit, sizeof(lit) - 1

static void test_request_line(void)
{
    static const struct {
        const char *line;
        size_t len;
        int want;
    } cases[] = {
        {S("GET /index.html HTTP/1.1\r\n"), FH_OK},
        {S("GET / HTTP/1.0\n"), FH_OK},
        {S("GET / HTTP/1.1"), FH_OK},               /* cut by EOF */
        {S("GET / HTTP/1.1\r"), FH_NONCANONICAL},   /* bare CR */
        {S("GET / HTTP/1.1\r\n\r\n"), FH_NONCANONICAL},
        {S("GET  / HTTP/1.1\r\n"), FH_NONCANONICAL},
        {S("GET / HTTP/1.10\r\n"), FH_NONCANONICAL},
        {S("GET / HTTP/1\r\n"), FH_NONCANONICAL},
        {S("GET /nine\r\n"), FH_NONCANONICAL},
        {S("G\x01T / HTTP/1.1\r\n"), FH_NONCANONICAL},
        {S("GET /a\xa0" "b HTTP/1.1\r\n"), FH_NONCANONICAL},
        {S("GET /a\x85" "b HTTP/1.1\r\n"), FH_NONCANONICAL},
        {S("GET /caf\xe9 HTTP/1.1\r\n"), FH_OK},
        {S(""), FH_NONCANONICAL},
        {S("GET"), FH_NONCANONICAL},
        {S("GET "), FH_NONCANONICAL},
        {S("GET / "), FH_NONCANONICAL},
        {S("GET / HTTP/1."), FH_NONCANONICAL},
    };
    size_t i;
    current = "request_line";
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fh_request_line rl;
        char *buf = dup_exact(cases[i].line, cases[i].len);
        int r = fh_parse_request_line(buf, cases[i].len, &rl);
        if (!EXPECT(r == cases[i].want))
            printf("  case %zu: got %d want %d\n", i, r, cases[i].want);
        free(buf);
    }
    {
        const char *line = "OPTIONS * HTTP/2.0\r\n";
        fh_request_line rl;
        char *buf = dup_exact(line, strlen(line));
        EXPECT(fh_parse_request_line(buf, strlen(line), &rl) == FH_OK);
        EXPECT(span_is(line, rl.method, "OPTIONS"));
        EXPECT(span_is(line, rl.target, "*"));
        EXPECT(rl.version_major == 2 && rl.version_minor == 0);
        free(buf);
    }
}

static void test_basic_block(void)
{
    static const char head[] =
        "Host: example.com\r\nX-Empty:\r\nX-Ows: \t v a l \t\r\nX-Latin: \xe9\xff\r\n\r\nBODY";
    parsed res;
    current = "basic_block";
    parse_once(S(head), 65536, 100, 0, &res);
    EXPECT(res.r == (long)(sizeof(head) - 1 - 4));
    EXPECT(res.count == 4);
    EXPECT(span_is(head, res.out[0].name, "Host"));
    EXPECT(span_is(head, res.out[0].value, "example.com"));
    EXPECT(span_is(head, res.out[1].name, "X-Empty"));
    EXPECT(res.out[1].value.len == 0);
    EXPECT(span_is(head, res.out[2].value, "v a l \t"));   /* trailing OWS kept */
    EXPECT(span_is(head, res.out[3].value, "\xe9\xff"));
}

static void test_lf_only(void)
{
    parsed res;
    current = "lf_only";
    parse_once(S("A: 1\nB: 2\n\n"), 65536, 100, 0, &res);
    EXPECT(res.r == 11 && res.count == 2);
    parse_once(S("\n"), 65536, 100, 0, &res);
    EXPECT(res.r == 1 && res.count == 0);
    parse_once(S("\r\n"), 65536, 100, 0, &res);
    EXPECT(res.r == 2 && res.count == 0);
}

static void test_errors(void)
{
    static const struct {
        const char *s;
        size_t len;
        long want;
    } cases[] = {
        {S("A: 1\r\n folded\r\n\r\n"), FH_E_OBS_FOLD},
        {S("\tA: 1\r\n\r\n"), FH_E_OBS_FOLD},
        {S("Host : h\r\n\r\n"), FH_E_SPACE_BEFORE_COLON},
        {S("Host\r\n\r\n"), FH_E_NO_COLON},
        {S("Host\n\n"), FH_E_NO_COLON},
        {S(": v\r\n\r\n"), FH_E_NAME},
        {S("A\x00" "B: v\r\n\r\n"), FH_E_NAME},
        {S("A@B: v\r\n\r\n"), FH_E_NAME},
        {S("A: a\x01" "b\r\n\r\n"), FH_E_VALUE},
        {S("A: a\x7f" "b\r\n\r\n"), FH_E_VALUE},
        {S("A: a\x00" "b\r\n\r\n"), FH_E_VALUE},
        {S("A: a\rb\r\n\r\n"), FH_E_BARE_CR},
        {S("A: a\r\n\rX"), FH_E_BARE_CR},
        {S("A: a\r\r\n\r\n"), FH_E_BARE_CR},
    };
    size_t i;
    current = "errors";
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed res;
        parse_once(cases[i].s, cases[i].len, 65536, 100, 0, &res);
        if (!EXPECT(res.r == cases[i].want))
            printf("  case %zu: got %ld want %ld\n", i, res.r, cases[i].want);
    }
}

static void test_line_limit(void)
{
    parsed res;
    current = "line_limit";
    /* "X: abc\r\n" is 8 bytes including its LF: max_line 8 passes, 7 fails */
    parse_once(S("X: abc\r\n\r\n"), 8, 100, 0, &res);
    EXPECT(res.r == 10 && res.count == 1);
    parse_once(S("X: abc\r\n\r\n"), 7, 100, 0, &res);
    EXPECT(res.r == FH_E_LINE_TOO_LONG);
    /* still incomplete while max_line bytes have no LF yet (as
     * readline(max_line + 1) waits for one more byte); too long after */
    parse_once(S("X: abc"), 7, 100, 0, &res);
    EXPECT(res.r == FH_INCOMPLETE);
    parse_once(S("X: abcd"), 7, 100, 0, &res);
    EXPECT(res.r == FH_INCOMPLETE);
    parse_once(S("X: abcde"), 7, 100, 0, &res);
    EXPECT(res.r == FH_E_LINE_TOO_LONG);
    /* max_line 0: no line fits, not even the blank one */
    parse_once(S("\r\n"), 0, 100, 0, &res);
    EXPECT(res.r == FH_E_LINE_TOO_LONG);
    parse_once(S(""), 0, 100, 0, &res);
    EXPECT(res.r == FH_INCOMPLETE);
}

static void test_lines_limit(void)
{
    parsed res;
    fh_headers p;
    fh_header out[4];
    current = "lines_limit";
    /* max_lines counts the blank line: 2 headers + blank = 3 lines */
    parse_once(S("A: 1\r\nB: 2\r\n\r\n"), 65536, 3, 0, &res);
    EXPECT(res.r == 14 && res.count == 2);
    parse_once(S("A: 1\r\nB: 2\r\n\r\n"), 65536, 2, 0, &res);
    EXPECT(res.r == FH_E_TOO_MANY_HEADERS && res.count == 2);
    /* the extra line is measured: too long beats too many */
    parse_once(S("A: 1\r\nB: 2\r\nCCCCCCCCCCCCCCCCCCCCCCCC\r\n"), 10, 2, 0, &res);
    EXPECT(res.r == FH_E_LINE_TOO_LONG);
    /* ... and not syntax-checked: waits for its LF */
    parse_once(S("A: 1\r\n bad"), 65536, 1, 0, &res);
    EXPECT(res.r == FH_INCOMPLETE);
    /* out_cap below max_lines is refused before anything is written */
    fh_headers_init(&p, 65536, 5, 0);
    EXPECT(fh_parse_headers(&p, "A: 1\r\n\r\n", 8, out, 4) == FH_E_TOO_MANY_HEADERS);
}

static void test_head_limit(void)
{
    parsed res;
    current = "head_limit";
    parse_once(S("A: 1\r\nB: 2\r\n\r\n"), 65536, 100, 14, &res);
    EXPECT(res.r == 14);
    parse_once(S("A: 1\r\nB: 2\r\n\r\n"), 65536, 100, 13, &res);
    EXPECT(res.r == FH_E_HEAD_TOO_LARGE);
    parse_once(S("A: 1\r\nB: 2\r\n"), 65536, 100, 13, &res);
    EXPECT(res.r == FH_INCOMPLETE);
    /* the block limit falls inside a line that also is too long: line wins
     * only when the line limit is reached first */
    parse_once(S("A: 123456789\r\n\r\n"), 6, 100, 10, &res);
    EXPECT(res.r == FH_E_LINE_TOO_LONG);
    parse_once(S("A: 123456789\r\n\r\n"), 12, 100, 10, &res);
    EXPECT(res.r == FH_E_HEAD_TOO_LARGE);
}

static void test_incremental(void)
{
    static const char head[] =
        "Host: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nX:\t\ty\r\n\r\n";
    parsed one, inc;
    size_t step, i;
    int same = 1;
    current = "incremental";
    parse_once(S(head), 65536, 100, 0, &one);
    EXPECT(one.r == (long)(sizeof(head) - 1) && one.count == 4);
    for (step = 1; step <= 9; step++) {
        parse_steps(S(head), step, 65536, 100, 0, &inc);
        same = inc.r == one.r && inc.count == one.count;
        for (i = 0; same && i < one.count; i++)
            same = memcmp(&inc.out[i], &one.out[i], sizeof(fh_header)) == 0;
        if (!EXPECT(same))
            printf("  step %zu differs\n", step);
    }
    /* an error seen on a prefix is the whole input's error */
    parse_steps(S("Host: h\r\nBad Name: x\r\n\r\n"), 3, 65536, 100, 0, &inc);
    EXPECT(inc.r == FH_E_SPACE_BEFORE_COLON);
    /* a limit reached across feeds */
    parse_steps(S("A: 1\r\nB: 2222222222\r\n\r\n"), 2, 10, 100, 0, &inc);
    EXPECT(inc.r == FH_E_LINE_TOO_LONG && inc.count == 1);
}

static void test_eof(void)
{
    fh_headers p;
    fh_header out[8];
    char *buf;
    current = "eof";
    /* EOF on a line boundary ends the block */
    buf = dup_exact(S("A: 1\r\nB: 2\r\n"));
    fh_headers_init(&p, 65536, 8, 0);
    EXPECT(fh_parse_headers(&p, buf, 12, out, 8) == FH_INCOMPLETE);
    EXPECT(fh_headers_eof(&p, 12) == 12 && p.count == 2);
    free(buf);
    /* EOF inside a line */
    buf = dup_exact(S("A: 1\r\nB: 2"));
    fh_headers_init(&p, 65536, 8, 0);
    EXPECT(fh_parse_headers(&p, buf, 10, out, 8) == FH_INCOMPLETE);
    EXPECT(fh_headers_eof(&p, 10) == FH_E_EOF_IN_LINE);
    free(buf);
    /* EOF after a CR */
    buf = dup_exact(S("A: 1\r"));
    fh_headers_init(&p, 65536, 8, 0);
    EXPECT(fh_parse_headers(&p, buf, 5, out, 8) == FH_INCOMPLETE);
    EXPECT(fh_headers_eof(&p, 5) == FH_E_EOF_IN_LINE);
    free(buf);
    /* EOF at once */
    fh_headers_init(&p, 65536, 8, 0);
    EXPECT(fh_headers_eof(&p, 0) == 0);
    /* http.server counts the EOF read as a line */
    buf = dup_exact(S("A: 1\r\nB: 2\r\n"));
    fh_headers_init(&p, 65536, 2, 0);
    EXPECT(fh_parse_headers(&p, buf, 12, out, 8) == FH_INCOMPLETE);
    EXPECT(fh_headers_eof(&p, 12) == FH_E_TOO_MANY_HEADERS);
    free(buf);
}

static void test_moved_buffer(void)
{
    /* The second call sees the same bytes at another address. */
    fh_headers p;
    fh_header out[8];
    char *a = dup_exact(S("Name: va")), *b;
    current = "moved_buffer";
    fh_headers_init(&p, 65536, 8, 0);
    EXPECT(fh_parse_headers(&p, a, 8, out, 8) == FH_INCOMPLETE);
    b = dup_exact(S("Name: value\r\n\r\n"));
    free(a);
    EXPECT(fh_parse_headers(&p, b, 15, out, 8) == 15);
    EXPECT(p.count == 1 && span_is(b, out[0].name, "Name") &&
           span_is(b, out[0].value, "value"));
    free(b);
}

static void test_reason(void)
{
    current = "reason";
    EXPECT(strcmp(fh_reason(FH_E_BARE_CR), "bare CR in request head") == 0);
    EXPECT(strcmp(fh_reason(12345), "unknown error") == 0);
}

static void test_byte_classes(void)
{
    current = "byte_classes";
    EXPECT(fh_byte_class('a') == (FH_C_TCHAR | FH_C_VALUE | FH_C_TARGET));
    EXPECT(fh_byte_class('!') == (FH_C_TCHAR | FH_C_VALUE | FH_C_TARGET));
    EXPECT(fh_byte_class(':') == (FH_C_VALUE | FH_C_TARGET));
    EXPECT(fh_byte_class(' ') == FH_C_VALUE);
    EXPECT(fh_byte_class('\t') == FH_C_VALUE);
    EXPECT(fh_byte_class(0x7f) == 0);
    EXPECT(fh_byte_class(0x00) == 0);
    EXPECT(fh_byte_class(0x85) == FH_C_VALUE);
    EXPECT(fh_byte_class(0xff) == (FH_C_VALUE | FH_C_TARGET));
}

static void test_content_length(void)
{
    long long n = -1;
    current = "content_length";
    EXPECT(fh_content_length("0", 1, &n) == 0 && n == 0);
    EXPECT(fh_content_length("42 \t", 4, &n) == 0 && n == 42);
    EXPECT(fh_content_length("999999999999999999", 18, &n) == 0 && n == 999999999999999999LL);
    EXPECT(fh_content_length("1000000000000000000", 19, &n) == -1);
    EXPECT(fh_content_length("", 0, &n) == -1);
    EXPECT(fh_content_length(" ", 1, &n) == -1);
    EXPECT(fh_content_length("+1", 2, &n) == -1);
    EXPECT(fh_content_length("1 2", 3, &n) == -1);
    EXPECT(fh_content_length("0x1", 3, &n) == -1);
}

/*
 * REGRESSION cases from fuzzing go here (input, expected result, where it
 * came from). The fuzzers found no parser bug so far; what is here pins a
 * behaviour a fuzz run made us look at (fuzz/regressions/README.md).
 */
static void test_regressions(void)
{
    parsed res;
    current = "regressions";
    /* REGRESSION fuzz/regressions/parser_extra_line_not_checked.
     * Not a parser bug, a fuzz-harness lesson (kept as a pinned behaviour):
     * with max_lines 0 the first line is "extra", only measured; a syntax
     * error in it is not reported, the parser waits for its LF. */
    parse_once(S("GET / HTTP/1.1"), 255, 0, 0, &res);
    EXPECT(res.r == FH_INCOMPLETE);
}

int main(void)
{
    test_request_line();
    test_basic_block();
    test_lf_only();
    test_errors();
    test_line_limit();
    test_lines_limit();
    test_head_limit();
    test_incremental();
    test_eof();
    test_moved_buffer();
    test_reason();
    test_byte_classes();
    test_content_length();
    test_regressions();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
