/*
 * fh_parser.c: see fh_parser.h for the contract.
 *
 * The header block is a small state machine over a 256-entry class table.
 * Each state's inner loop scans only up to `end`, the nearest of: the bytes
 * we have, the current line's length limit, and the block's size limit; so
 * the limits cost nothing per byte and nothing is ever read past `len`.
 */
#include "fh_parser.h"

#include <stdint.h>
#include <string.h>

/* Byte classes: the bits are declared in fh_parser.h. */
#define C_TCHAR  FH_C_TCHAR
#define C_VALUE  FH_C_VALUE
#define C_TARGET FH_C_TARGET

/*
 * Built once from rules rather than written out as 256 literals, so the
 * rules are what a reader checks. Filled by init_classes() on first use;
 * the race is benign (every writer stores the same values) but we still
 * build into a local table and publish with one flag store.
 */
static unsigned char classes[256];
static volatile int classes_ready = 0;

static void init_classes(void)
{
    unsigned char t[256];
    const char *tchar_punct = "!#$%&'*+-.^_`|~";
    int c;

    memset(t, 0, sizeof t);
    for (c = 0; c < 256; c++) {
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
            (c >= 'a' && c <= 'z') || (c != 0 && strchr(tchar_punct, c)))
            t[c] |= C_TCHAR;
        if (c == '\t' || (c >= 0x20 && c != 0x7f))
            t[c] |= C_VALUE;
        /* Visible ASCII and obs-text; but not 0x85 / 0xA0, which Python's
         * str.split() treats as whitespace: a target holding them is split
         * by http.server, so it must take the stdlib-compatible slow path. */
        if ((c > 0x20 && c < 0x7f) || (c >= 0x80 && c != 0x85 && c != 0xa0))
            t[c] |= C_TARGET;
    }
    memcpy(classes, t, sizeof t);
    classes_ready = 1;
}

#define CLASS(ch) (classes[(unsigned char)(ch)])

/*
 * Skip field-value bytes from pos, stopping at the first byte that is not
 * one (CR, LF, a control byte) or at end. Eight bytes at a time while none
 * of them is below 0x20 or is 0x7F (the classic "has a byte less than n"
 * and "has a zero byte" word tricks; bytes >= 0x80 are obs-text and pass),
 * then byte by byte through the table, which also lets HTAB through.
 */
static size_t scan_value(const char *buf, size_t pos, size_t end)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (end - pos >= 8) {
        uint64_t w, del;
        memcpy(&w, buf + pos, 8);       /* unaligned-safe load */
        del = w ^ (0x7f * ones);
        if (((w - 0x20 * ones) & ~w & highs) | ((del - ones) & ~del & highs))
            break;
        pos += 8;
    }
    while (pos < end && (CLASS(buf[pos]) & C_VALUE))
        pos++;
    return pos;
}

int fh_parse_request_line(const char *line, size_t len, fh_request_line *out)
{
    size_t i = 0, start;

    if (!classes_ready)
        init_classes();

    start = i;
    while (i < len && (CLASS(line[i]) & C_TCHAR))
        i++;
    if (i == start || i >= len || line[i] != ' ')
        return FH_NONCANONICAL;
    out->method.off = start;
    out->method.len = i - start;
    i++;

    start = i;
    while (i < len && (CLASS(line[i]) & C_TARGET))
        i++;
    if (i == start || i >= len || line[i] != ' ')
        return FH_NONCANONICAL;
    out->target.off = start;
    out->target.len = i - start;
    i++;

    if (len - i < 8 || memcmp(line + i, "HTTP/", 5) != 0 ||
        line[i + 5] < '0' || line[i + 5] > '9' || line[i + 6] != '.' ||
        line[i + 7] < '0' || line[i + 7] > '9')
        return FH_NONCANONICAL;
    out->version_major = line[i + 5] - '0';
    out->version_minor = line[i + 7] - '0';
    i += 8;

    /* Terminator: CRLF, LF, or none (the line was cut by EOF). */
    if (len - i == 2 && line[i] == '\r' && line[i + 1] == '\n')
        return FH_OK;
    if (len - i == 1 && line[i] == '\n')
        return FH_OK;
    return i == len ? FH_OK : FH_NONCANONICAL;
}

enum {
    S_LINE_START = 0,   /* at the first byte of a line */
    S_NAME,             /* inside a field name */
    S_OWS,              /* after ':', skipping leading whitespace */
    S_VALUE,            /* inside a field value */
    S_VALUE_CR,         /* saw CR after a value, LF must follow */
    S_BLANK_CR,         /* saw CR at line start, LF must follow */
    S_EXTRA_LINE        /* one line too many: measure it, then fail */
};

void fh_headers_init(fh_headers *p, size_t max_line, size_t max_lines,
                     size_t max_head)
{
    memset(p, 0, sizeof *p);
    p->max_line = max_line;
    p->max_lines = max_lines;
    p->max_head = max_head;
    p->state = S_LINE_START;
    if (!classes_ready)
        init_classes();
}

/* Which limit stopped the scan at `end` (when end < len). */
static long limit_error(const fh_headers *p, size_t end)
{
    if (p->max_head && end >= p->max_head &&
        end < p->line_start + p->max_line)
        return FH_E_HEAD_TOO_LARGE;
    return FH_E_LINE_TOO_LONG;
}

long fh_parse_headers(fh_headers *p, const char *buf, size_t len,
                      fh_header *out, size_t out_cap)
{
    size_t pos = p->pos;
    size_t end;

    if (out_cap < p->max_lines)
        return FH_E_TOO_MANY_HEADERS;

    for (;;) {
        /* Scan no further than this line (and the whole block) may go. */
        end = p->line_start + p->max_line;
        if (p->max_head && end > p->max_head)
            end = p->max_head;
        if (end > len)
            end = len;
        if (pos >= end) {
            p->pos = pos;
            return end == len ? FH_INCOMPLETE : limit_error(p, end);
        }

        switch (p->state) {
        case S_LINE_START:
            if (p->lines >= p->max_lines) {
                p->state = S_EXTRA_LINE;
                break;
            }
            if (buf[pos] == '\r') {
                p->state = S_BLANK_CR;
                pos++;
            } else if (buf[pos] == '\n') {
                p->lines++;
                p->pos = pos + 1;
                return (long)(pos + 1);
            } else if (buf[pos] == ' ' || buf[pos] == '\t') {
                return FH_E_OBS_FOLD;
            } else if (CLASS(buf[pos]) & C_TCHAR) {
                p->state = S_NAME;
                pos++;
            } else {
                return FH_E_NAME;
            }
            break;

        case S_NAME:
            while (pos < end && (CLASS(buf[pos]) & C_TCHAR))
                pos++;
            if (pos == end)
                break;
            if (buf[pos] == ':') {
                p->name_end = pos;
                p->state = S_OWS;
                pos++;
            } else if (buf[pos] == ' ' || buf[pos] == '\t') {
                return FH_E_SPACE_BEFORE_COLON;
            } else if (buf[pos] == '\r' || buf[pos] == '\n') {
                return FH_E_NO_COLON;
            } else {
                return FH_E_NAME;
            }
            break;

        case S_OWS:
            while (pos < end && (buf[pos] == ' ' || buf[pos] == '\t'))
                pos++;
            if (pos == end)
                break;
            p->value_start = pos;
            p->state = S_VALUE;
            /* fall through */

        case S_VALUE:
            pos = scan_value(buf, pos, end);
            if (pos == end)
                break;
            if (buf[pos] != '\r' && buf[pos] != '\n')
                return FH_E_VALUE;
            p->value_end = pos;
            if (buf[pos] == '\r') {
                p->state = S_VALUE_CR;
                pos++;
                break;
            }
            /* LF right after the value: */
            /* fall through */

        case S_VALUE_CR:
            if (buf[pos] != '\n')
                return FH_E_BARE_CR;
            if (p->count < out_cap) {   /* always true: out_cap >= max_lines */
                fh_header *h = &out[p->count++];
                h->name.off = p->line_start;
                h->name.len = p->name_end - p->line_start;
                h->value.off = p->value_start;
                h->value.len = p->value_end - p->value_start;
            }
            pos++;
            p->lines++;
            p->line_start = pos;
            p->state = S_LINE_START;
            break;

        case S_BLANK_CR:
            if (buf[pos] != '\n')
                return FH_E_BARE_CR;
            p->lines++;
            p->pos = pos + 1;
            return (long)(pos + 1);

        case S_EXTRA_LINE:
            /* http.server reads the whole extra line before it complains,
             * so a too-long extra line is "line too long", else "too many". */
            {
                const char *lf = memchr(buf + pos, '\n', end - pos);
                if (lf)
                    return FH_E_TOO_MANY_HEADERS;
                pos = end;
            }
            break;

        default:
            return FH_E_NAME;   /* unreachable: corrupted state */
        }
    }
}

long fh_headers_eof(fh_headers *p, size_t len)
{
    if (p->lines >= p->max_lines)
        return FH_E_TOO_MANY_HEADERS;   /* http.server counts the EOF read too */
    if (p->state == S_LINE_START && p->pos == len && p->line_start == len)
        return (long)len;
    return FH_E_EOF_IN_LINE;
}

unsigned char fh_byte_class(unsigned char c)
{
    if (!classes_ready)
        init_classes();
    return classes[c];
}

int fh_content_length(const char *value, size_t len, long long *out)
{
    long long n = 0;
    size_t i, digits;

    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    digits = len;
    if (digits == 0 || digits > 18)
        return -1;
    for (i = 0; i < digits; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -1;
        n = n * 10 + (value[i] - '0');
    }
    *out = n;
    return 0;
}

const char *fh_reason(int code)
{
#define FH_RESULT_REASON_(name, value, reason) case name: return reason;
    switch (code) {
    FH_RESULTS(FH_RESULT_REASON_)
    default: return "unknown error";
    }
#undef FH_RESULT_REASON_
}
