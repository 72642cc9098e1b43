/*
 * libFuzzer target for csrc/fh_parser.{h,c}.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icsrc \
 *         csrc/fuzz_parser.c csrc/fh_parser.c -o fuzz_parser
 *   (or: make fuzz)
 *
 * Built with -DFUZZ_STANDALONE (and without -fsanitize=fuzzer) it is a plain
 * program that runs each file named on its command line once: that replays
 * the seed corpus and the regressions under gcc's sanitizers or valgrind.
 *
 * Input layout: an 8-byte configuration header, then the payload.
 *   cfg[0]  bits 0-1  limit mode: 0 http.server's (65536, 100, no max_head),
 *                     1 tiny, 2 medium (16-bit), 3 edge values (0, 1, 2, ...)
 *           bit  2    headers = whole payload (else: payload after its first
 *                     line, as the server does after readline())
 *           bits 3-4  split strategy for the incremental feed: random cuts,
 *                     one line at a time (the readline path), one byte at a
 *                     time, or few cuts each into a freshly allocated copy
 *   cfg[1..5]         limit values (their meaning depends on the mode)
 *   cfg[6..7]         seed of the split points
 * Inputs shorter than 8 bytes use a zero configuration and are the payload.
 *
 * Invariants checked (any violation: __builtin_trap()):
 *   request line: the result and spans agree with an independent, obvious
 *     implementation of the strict form; spans lie inside the line.
 *   headers, one-shot parse with the chosen limits, then:
 *   (a) incremental feeding at split points derived from the input gives
 *       exactly the same return value, count and spans; a prefix that
 *       already gives a final answer gives the one-shot answer;
 *   (b) every reported span lies inside the consumed (or given) bytes, the
 *       header starts on a line start, the name is a non-empty token followed
 *       by ':', only SP/HTAB lie between ':' and the value, the value holds
 *       no CR, LF or CTL (HTAB allowed) and does not start with SP/HTAB, and
 *       CRLF or LF follows it; headers are in order and disjoint;
 *   (c) fh_headers_eof after FH_INCOMPLETE agrees with what the bytes say
 *       (line boundary, line count), and equally after an incremental feed;
 *       when it accepts, parsing the bytes plus "\n" gives the same headers;
 *   (d) a consumed count is in 1..len and the byte before it is LF; a
 *       successful block is exactly count header lines plus a blank line;
 *   (e) limits: compared with a parse without limits, the limited parse
 *       succeeds (identically) exactly when no limit is exceeded, and
 *       otherwise fails with the unlimited result or a limit error.
 */
#include "fh_parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define FUZZ_ASAN 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#  define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#  include <sanitizer/asan_interface.h>
#  define POISON(p, n) __asan_poison_memory_region((p), (n))
#  define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#  define POISON(p, n) ((void)(p), (void)(n))
#  define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CFG_LEN 8

static int verbose;

static void fail(const char *what, int line)
{
    fprintf(stderr, "fuzz_parser: invariant violated: %s (fuzz_parser.c:%d)\n",
            what, line);
    __builtin_trap();
}
#define CHECK(cond) do { if (!(cond)) fail(#cond, __LINE__); } while (0)

/* ---- byte classes, written independently of fh_parser.c ---------------- */

static int is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9') return 1;
    if (c >= 'A' && c <= 'Z') return 1;
    if (c >= 'a' && c <= 'z') return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

/* field-value byte: HTAB, SP, VCHAR, obs-text; never CR, LF, NUL, DEL. */
static int is_value_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int is_target_byte(unsigned char c)
{
    return (c > 0x20 && c < 0x7f) || (c >= 0x80 && c != 0x85 && c != 0xa0);
}

static int is_limit_error(long r)
{
    return r == FH_E_LINE_TOO_LONG || r == FH_E_TOO_MANY_HEADERS ||
           r == FH_E_HEAD_TOO_LARGE;
}

static int is_known_result(long r)
{
    return r >= 0 || r == FH_INCOMPLETE ||
           (r <= FH_E_LINE_TOO_LONG && r >= FH_E_EOF_IN_LINE);
}

/* ---- request line -------------------------------------------------------- */

static void check_request_line(const unsigned char *data, size_t len)
{
    unsigned char *line = malloc(len ? len : 1);    /* exact size: ASan sees overreads */
    fh_request_line rl;
    int r, want = FH_OK;
    size_t sp1 = 0, sp2, i, rest;

    CHECK(line != NULL);
    memcpy(line, data, len);
    memset(&rl, 0xA5, sizeof rl);
    r = fh_parse_request_line((const char *)line, len, &rl);
    CHECK(r == FH_OK || r == FH_NONCANONICAL);

    /* The reference: token SP target SP "HTTP/" D "." D [CRLF | LF]. */
    while (sp1 < len && is_tchar(line[sp1]))
        sp1++;
    if (sp1 == 0 || sp1 >= len || line[sp1] != ' ')
        want = FH_NONCANONICAL;
    sp2 = sp1 + 1;
    if (want == FH_OK) {
        while (sp2 < len && is_target_byte(line[sp2]))
            sp2++;
        if (sp2 == sp1 + 1 || sp2 >= len || line[sp2] != ' ')
            want = FH_NONCANONICAL;
    }
    if (want == FH_OK) {
        i = sp2 + 1;
        rest = len - i;
        if (rest < 8 || memcmp(line + i, "HTTP/", 5) != 0 ||
            !(line[i + 5] >= '0' && line[i + 5] <= '9') || line[i + 6] != '.' ||
            !(line[i + 7] >= '0' && line[i + 7] <= '9'))
            want = FH_NONCANONICAL;
        else if (!(rest == 8 || (rest == 9 && line[i + 8] == '\n') ||
                   (rest == 10 && line[i + 8] == '\r' && line[i + 9] == '\n')))
            want = FH_NONCANONICAL;
    }
    CHECK(r == want);
    if (r == FH_OK) {
        CHECK(rl.method.off == 0 && rl.method.len == sp1);
        CHECK(rl.target.off == sp1 + 1 && rl.target.len == sp2 - sp1 - 1);
        CHECK(rl.target.off + rl.target.len < len);
        CHECK(rl.version_major == line[sp2 + 6] - '0');
        CHECK(rl.version_minor == line[sp2 + 8] - '0');
        CHECK(rl.version_major >= 0 && rl.version_major <= 9);
        CHECK(rl.version_minor >= 0 && rl.version_minor <= 9);
    }
    free(line);
}

/* ---- header block -------------------------------------------------------- */

typedef struct {
    long r;
    size_t count;
    size_t lines;       /* p.lines after the call: used by the eof check */
    long eof;           /* fh_headers_eof(len) when r == FH_INCOMPLETE */
} outcome;

static fh_header *out_a, *out_b, *out_c;
static size_t out_room;

static void ensure_out(size_t n)
{
    if (n <= out_room)
        return;
    free(out_a); free(out_b); free(out_c);
    out_a = malloc(n * sizeof *out_a);
    out_b = malloc(n * sizeof *out_b);
    out_c = malloc(n * sizeof *out_c);
    CHECK(out_a && out_b && out_c);
    out_room = n;
}

static outcome one_shot(const unsigned char *buf, size_t len, size_t max_line,
                        size_t max_lines, size_t max_head, fh_header *out,
                        size_t cap)
{
    fh_headers p;
    outcome o;
    fh_headers_init(&p, max_line, max_lines, max_head);
    o.r = fh_parse_headers(&p, (const char *)buf, len, out, cap);
    CHECK(is_known_result(o.r));
    CHECK(o.r >= 0 || strcmp(fh_reason((int)o.r), "unknown error") != 0);
    o.count = p.count;
    o.lines = p.lines;
    o.eof = o.r == FH_INCOMPLETE ? fh_headers_eof(&p, len) : 0;
    return o;
}

/* (b) and (d): spans and the consumed count. */
static void check_spans(const unsigned char *buf, size_t len, const outcome *o,
                        const fh_header *out, size_t max_lines)
{
    size_t limit = o->r >= 0 ? (size_t)o->r : len;
    size_t prev_end = 0, i, k;

    if (o->r >= 0) {
        CHECK((size_t)o->r >= 1 && (size_t)o->r <= len);
        CHECK(buf[o->r - 1] == '\n');
    }
    CHECK(o->count <= max_lines);
    for (i = 0; i < o->count; i++) {
        const fh_header *h = &out[i];
        size_t name_end = h->name.off + h->name.len;
        size_t value_end = h->value.off + h->value.len;
        CHECK(h->name.off <= limit && h->name.len <= limit - h->name.off);
        CHECK(h->value.off <= limit && h->value.len <= limit - h->value.off);
        CHECK(h->name.len > 0);
        CHECK(h->name.off >= prev_end);
        CHECK(h->name.off == 0 || buf[h->name.off - 1] == '\n');
        for (k = h->name.off; k < name_end; k++)
            CHECK(is_tchar(buf[k]));
        CHECK(name_end < limit && buf[name_end] == ':');
        CHECK(h->value.off > name_end);
        for (k = name_end + 1; k < h->value.off; k++)
            CHECK(buf[k] == ' ' || buf[k] == '\t');
        if (h->value.len)
            CHECK(buf[h->value.off] != ' ' && buf[h->value.off] != '\t');
        for (k = h->value.off; k < value_end; k++)
            CHECK(is_value_byte(buf[k]));
        CHECK(value_end < limit);
        if (buf[value_end] == '\r') {
            CHECK(value_end + 1 < limit && buf[value_end + 1] == '\n');
            prev_end = value_end + 2;
        } else {
            CHECK(buf[value_end] == '\n');
            prev_end = value_end + 1;
        }
    }
    if (o->r >= 0) {
        /* The block is exactly the headers, then one blank line. */
        CHECK(((size_t)o->r == prev_end + 1 && buf[prev_end] == '\n') ||
              ((size_t)o->r == prev_end + 2 && buf[prev_end] == '\r' &&
               buf[prev_end + 1] == '\n'));
    }
}

static int same_headers(const fh_header *a, const fh_header *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (a[i].name.off != b[i].name.off || a[i].name.len != b[i].name.len ||
            a[i].value.off != b[i].value.off || a[i].value.len != b[i].value.len)
            return 0;
    }
    return 1;
}

/* Simple deterministic PRNG for split points. */
static uint32_t rng_state;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

enum { SPLIT_RANDOM = 0, SPLIT_LINES = 1, SPLIT_BYTES = 2, SPLIT_FRESH = 3 };

/*
 * (a): feed buf[0:len] in growing prefixes. The bytes past the current prefix
 * are poisoned (ASan builds), so reading beyond `len` of a call is caught even
 * though the buffer is longer; some prefixes are fresh, exact-size copies
 * (the buffer "moved in memory"). Returns the final outcome.
 */
static outcome incremental(const unsigned char *src, size_t len, size_t max_line,
                           size_t max_lines, size_t max_head, int strategy,
                           const outcome *whole, const fh_header *whole_out)
{
    fh_headers p;
    outcome o;
    unsigned char *big = malloc(len ? len : 1);
    size_t cut = 0, calls = 0, next;
    long r = FH_INCOMPLETE;

    CHECK(big != NULL);
    memcpy(big, src, len);
    POISON(big, len ? len : 1);
    fh_headers_init(&p, max_line, max_lines, max_head);

    for (;;) {
        /* choose the next cut (strictly growing, ends at len) */
        switch (strategy) {
        case SPLIT_LINES: {
            const unsigned char *lf = cut < len ? memchr(src + cut, '\n', len - cut) : NULL;
            next = lf ? (size_t)(lf - src) + 1 : len;
            break;
        }
        case SPLIT_BYTES:
            next = cut + 1;
            break;
        case SPLIT_FRESH:
            next = calls >= 6 ? len : cut + 1 + rng() % (len / 4 + 1);
            break;
        default:
            next = calls >= 64 ? len : cut + rng() % (len / 8 + 3);
            break;
        }
        if (next > len)
            next = len;
        if (calls == 0 && strategy == SPLIT_RANDOM && (rng() & 1))
            next = 0;           /* an empty first feed */

        if (calls < 4 || strategy == SPLIT_FRESH) {
            unsigned char *copy = malloc(next ? next : 1);
            CHECK(copy != NULL);
            memcpy(copy, src, next);
            r = fh_parse_headers(&p, (const char *)copy, next, out_b, max_lines);
            free(copy);
        } else {
            UNPOISON(big, next);
            r = fh_parse_headers(&p, (const char *)big, next, out_b, max_lines);
        }
        calls++;
        CHECK(is_known_result(r));
        if (r != FH_INCOMPLETE) {
            /* a final answer on a prefix is the answer on the whole input */
            CHECK(r == whole->r);
            break;
        }
        if (next == len)
            break;
        cut = next;
    }
    UNPOISON(big, len ? len : 1);
    o.r = r;
    o.count = p.count;
    o.lines = p.lines;
    o.eof = r == FH_INCOMPLETE ? fh_headers_eof(&p, len) : 0;
    CHECK(o.r == whole->r);
    CHECK(o.count == whole->count);
    CHECK(same_headers(out_b, whole_out, o.count));
    if (o.r == FH_INCOMPLETE)
        CHECK(o.eof == whole->eof && o.lines == whole->lines);
    free(big);
    return o;
}

static void check_headers(const unsigned char *buf, size_t len, size_t max_line,
                          size_t max_lines, size_t max_head, int strategy)
{
    outcome whole, free_o;
    size_t lfs = 0, i, unl_lines = len + 2;

    ensure_out((max_lines > unl_lines ? max_lines : unl_lines) + 1);

    whole = one_shot(buf, len, max_line, max_lines, max_head, out_a, max_lines);
    check_spans(buf, len, &whole, out_a, max_lines);

    /* the contract: out_cap below max_lines is refused, not overrun */
    if (max_lines > 0) {
        fh_headers p;
        fh_headers_init(&p, max_line, max_lines, max_head);
        CHECK(fh_parse_headers(&p, (const char *)buf, len, out_c, max_lines - 1) ==
              FH_E_TOO_MANY_HEADERS);
    }

    /* (c): EOF after an incomplete block */
    if (whole.r == FH_INCOMPLETE) {
        long want;
        for (i = 0; i < len; i++)
            lfs += buf[i] == '\n';
        CHECK(whole.lines == lfs);
        if (lfs >= max_lines)
            want = FH_E_TOO_MANY_HEADERS;
        else if (len == 0 || buf[len - 1] == '\n')
            want = (long)len;
        else
            want = FH_E_EOF_IN_LINE;
        CHECK(whole.eof == want);
        /* Accepting EOF means: as if a blank line had come. */
        if (want >= 0 && max_line >= 1 && (max_head == 0 || len + 1 <= max_head)) {
            unsigned char *plus = malloc(len + 1);
            outcome o2;
            CHECK(plus != NULL);
            memcpy(plus, buf, len);
            plus[len] = '\n';
            o2 = one_shot(plus, len + 1, max_line, max_lines, max_head, out_c, max_lines);
            CHECK(o2.r == (long)len + 1);
            CHECK(o2.count == whole.count && same_headers(out_c, out_a, whole.count));
            free(plus);
        }
    }

    /* (a) */
    incremental(buf, len, max_line, max_lines, max_head, strategy, &whole, out_a);

    /* (e): against a parse without limits (no line can exceed len bytes) */
    free_o = one_shot(buf, len, len + 1, unl_lines, 0, out_c, unl_lines);
    check_spans(buf, len, &free_o, out_c, unl_lines);
    CHECK(!is_limit_error(free_o.r));
    if (free_o.r >= 0) {
        size_t nlines = free_o.count + 1, longest = 0, start = 0;
        for (i = 0; i < (size_t)free_o.r; i++) {
            if (buf[i] == '\n') {
                if (i + 1 - start > longest)
                    longest = i + 1 - start;
                start = i + 1;
            }
        }
        if (longest <= max_line && nlines <= max_lines &&
            (max_head == 0 || (size_t)free_o.r <= max_head)) {
            CHECK(whole.r == free_o.r && whole.count == free_o.count);
            CHECK(same_headers(out_a, out_c, whole.count));
        } else {
            CHECK(is_limit_error(whole.r));
            if (longest <= max_line && (max_head == 0 || (size_t)free_o.r <= max_head))
                CHECK(whole.r == FH_E_TOO_MANY_HEADERS);
        }
    } else if (free_o.r == FH_INCOMPLETE) {
        CHECK(whole.r == FH_INCOMPLETE || is_limit_error(whole.r));
        if (whole.r == FH_INCOMPLETE)
            CHECK(whole.count == free_o.count && same_headers(out_a, out_c, whole.count));
    } else {
        /* A syntax error: the same one, or a limit stopped the scan first.
         * The line after max_lines lines is only measured, never checked
         * (http.server reads it whole, then complains): that may leave the
         * limited parse waiting for its LF. */
        CHECK(whole.r == free_o.r || is_limit_error(whole.r) ||
              (whole.r == FH_INCOMPLETE && whole.lines >= max_lines));
    }
    /* the headers found under limits are a prefix of those found without */
    CHECK(whole.count <= free_o.count);
    CHECK(same_headers(out_a, out_c, whole.count));
}

static void limits_from(const unsigned char *cfg, size_t *max_line,
                        size_t *max_lines, size_t *max_head)
{
    static const size_t edge[8] = {0, 1, 2, 3, 4, 65536, 65537, 100};
    switch (cfg[0] & 3) {
    case 0:             /* http.server's */
        *max_line = 65536;
        *max_lines = 100;
        *max_head = 0;
        break;
    case 1:             /* tiny: limit paths on short inputs */
        *max_line = cfg[1] % 48;
        *max_lines = cfg[2] % 8;
        *max_head = cfg[3] & 1 ? 0 : (size_t)(cfg[3] >> 1);
        break;
    case 2:             /* medium */
        *max_line = (size_t)cfg[1] | (size_t)cfg[2] << 8;
        *max_lines = cfg[3];
        *max_head = (size_t)cfg[4] | (size_t)cfg[5] << 8;
        break;
    default:            /* edge values */
        *max_line = edge[cfg[1] & 7];
        *max_lines = edge[cfg[2] & 7];
        *max_head = edge[cfg[3] & 7] == 100 ? 0 : edge[cfg[3] & 7];
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char zero_cfg[CFG_LEN] = {0};
    const unsigned char *cfg = zero_cfg, *payload = data;
    size_t len = size, max_line, max_lines, max_head, hstart = 0;
    const unsigned char *lf;
    int strategy;

    if (size >= CFG_LEN) {
        cfg = data;
        payload = data + CFG_LEN;
        len = size - CFG_LEN;
    }
    limits_from(cfg, &max_line, &max_lines, &max_head);
    strategy = (cfg[0] >> 3) & 3;
    rng_state = 0x9e3779b9u ^ ((uint32_t)cfg[6] << 8 | cfg[7]) ^ (uint32_t)len;
    if (rng_state == 0)
        rng_state = 1;

    /* The request line: the first line as readline() gives it, and the whole
     * payload (a line cut by EOF or by readline's limit). */
    lf = memchr(payload, '\n', len);
    if (lf)
        hstart = (size_t)(lf - payload) + 1;
    check_request_line(payload, lf ? hstart : len);
    if (lf && hstart != len)
        check_request_line(payload, len);

    if (cfg[0] & 4)
        hstart = 0;
    if (verbose)
        fprintf(stderr, "limits %zu/%zu/%zu strategy %d headers at %zu of %zu\n",
                max_line, max_lines, max_head, strategy, hstart, len);
    check_headers(payload + hstart, len - hstart, max_line, max_lines, max_head,
                  strategy);
    return 0;
}

#ifdef FUZZ_STANDALONE
/* Replay files (the corpus, the regressions) without libFuzzer. */
int main(int argc, char **argv)
{
    int i, n = 0;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    for (i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        unsigned char *buf;
        long size;
        if (!f) {
            perror(argv[i]);
            return 2;
        }
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc(size ? (size_t)size : 1);
        if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
            fprintf(stderr, "%s: read error\n", argv[i]);
            return 2;
        }
        fclose(f);
        if (verbose)
            fprintf(stderr, "%s\n", argv[i]);
        LLVMFuzzerTestOneInput(buf, (size_t)size);
        free(buf);
        n++;
    }
    printf("fuzz_parser: %d inputs replayed, no invariant violated\n", n);
    return 0;
}
#endif
