/* fuzz_multipart.c — drives multipart_boundary() and multipart_parse().
 *
 * Input layout: when a '\n' occurs in the first 256 bytes, the line before
 * it is a Content-Type header value handed to multipart_boundary() and the
 * rest is the body; otherwise, or when that header gives no boundary, the
 * whole input is the body and the boundary is "B". Corpus files therefore
 * read as "multipart/form-data; boundary=...\n--...".
 *
 * What a success must satisfy: parts lie inside the body in order without
 * overlapping; name, filename and content_type are terminated, UTF-8 and
 * free of control characters; no part's data holds a real delimiter;
 * multipart_get() finds the first part of each name; and the form,
 * re-encoded the way Go's writer does (\" escapes), parses back to the same
 * parts. A failure must be EPARSE or ETOOBIG with m.n == 0 and a one-line
 * reason that fits errlen, which is tried at its exact size so ASan sees any
 * overrun. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hark/multipart.h"
#include "hark/utf8.h"

#define HEADER_LINE_MAX 256
#define ERRLEN 160

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_text_field(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    check(n < size);
    check(utf8_valid(s, n));
    for (size_t i = 0; i < n; i++)
        check((unsigned char)s[i] >= ' ' || s[i] == '\t');
    check(memchr(s, 0x7f, n) == NULL);
}

/* 1 when "\r\n--" boundary at p (inside body) is followed by what makes it
 * a delimiter: "--", or spaces/tabs then CRLF. Written apart from the
 * parser on purpose. */
static int is_delimiter(const char *p, const char *end, const char *b, size_t blen)
{
    if ((size_t)(end - p) < 4 + blen || memcmp(p, "\r\n--", 4) || memcmp(p + 4, b, blen))
        return 0;
    const char *q = p + 4 + blen;
    if (end - q >= 2 && q[0] == '-' && q[1] == '-')
        return 1;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    return end - q >= 2 && q[0] == '\r' && q[1] == '\n';
}

static void append(char **w, const char *s, size_t n)
{
    memcpy(*w, s, n);
    *w += n;
}

static void append_quoted(char **w, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *(*w)++ = '\\';
        *(*w)++ = *s;
    }
}

static void check_round_trip(const struct multipart *m, const char *b)
{
    size_t blen = strlen(b), cap = 16 + blen;
    for (size_t i = 0; i < m->n; i++)
        cap += 128 + 2 * blen + 2 * sizeof m->parts[i].name + 2 * sizeof m->parts[i].filename +
               sizeof m->parts[i].content_type + m->parts[i].len;
    char *out = malloc(cap), *w = out;
    check(out != NULL);
    for (size_t i = 0; i < m->n; i++) {
        const struct multipart_part *p = &m->parts[i];
        append(&w, "--", 2);
        append(&w, b, blen);
        static const char cd[] = "\r\nContent-Disposition: form-data; name=\"";
        append(&w, cd, sizeof cd - 1);
        append_quoted(&w, p->name);
        append(&w, "\"", 1);
        if (p->filename[0]) {
            append(&w, "; filename=\"", 12);
            append_quoted(&w, p->filename);
            append(&w, "\"", 1);
        }
        if (p->content_type[0]) {
            append(&w, "\r\nContent-Type: ", 16);
            append(&w, p->content_type, strlen(p->content_type));
        }
        append(&w, "\r\n\r\n", 4);
        append(&w, p->data, p->len);
        append(&w, "\r\n", 2);
    }
    append(&w, "--", 2);
    append(&w, b, blen);
    append(&w, "--\r\n", 4);
    check((size_t)(w - out) <= cap);

    struct multipart *again = malloc(sizeof *again);
    char err[ERRLEN];
    check(again != NULL);
    if (multipart_parse(out, (size_t)(w - out), b, again, err, sizeof err) != 0) {
        fprintf(stderr, "round trip failed: %s\n", err);
        abort();
    }
    check(again->n == m->n);
    for (size_t i = 0; i < m->n; i++) {
        const struct multipart_part *x = &m->parts[i], *y = &again->parts[i];
        check(!strcmp(x->name, y->name) && !strcmp(x->filename, y->filename) &&
              !strcmp(x->content_type, y->content_type));
        check(x->len == y->len && (x->len == 0 || !memcmp(x->data, y->data, x->len)));
    }
    free(again);
    free(out);
}

static void check_success(const struct multipart *m, const char *body, size_t len,
                          const char *b)
{
    size_t blen = strlen(b);
    const char *end = body + len, *prev_end = body;
    check(m->n <= MULTIPART_MAX_PARTS);
    for (size_t i = 0; i < m->n; i++) {
        const struct multipart_part *p = &m->parts[i];
        check_text_field(p->name, sizeof p->name);
        check_text_field(p->filename, sizeof p->filename);
        check_text_field(p->content_type, sizeof p->content_type);
        check(p->data != NULL && p->data >= prev_end && p->len <= (size_t)(end - p->data));
        prev_end = p->data + p->len;
        /* the data ends where a delimiter starts, and holds none */
        check(is_delimiter(prev_end, end, b, blen));
        for (const char *q = p->data; q < prev_end; q++)
            check(!is_delimiter(q, end, b, blen));
        const struct multipart_part *first = multipart_get(m, p->name);
        check(first != NULL && first <= p && !strcmp(first->name, p->name));
        for (const struct multipart_part *e = m->parts; e < first; e++)
            check(strcmp(e->name, p->name) != 0);
    }
    check_round_trip(m, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char boundary[MULTIPART_BOUNDARY_MAX + 1] = "B";
    const char *body = (const char *)data;
    size_t len = size;
    const uint8_t *nl = memchr(data, '\n', size < HEADER_LINE_MAX ? size : HEADER_LINE_MAX);
    if (nl) {
        char header[HEADER_LINE_MAX];
        size_t hlen = (size_t)(nl - data);
        memcpy(header, data, hlen);
        header[hlen] = '\0';
        char got[MULTIPART_BOUNDARY_MAX + 1];
        int rc = multipart_boundary(header, got, sizeof got);
        check(rc == 0 || rc == HARK_EINVAL);
        if (rc == 0) {
            size_t n = strlen(got);
            check(n >= 1 && n <= MULTIPART_BOUNDARY_MAX && got[n - 1] != ' ');
            /* a buffer one byte short is refused, not overrun */
            char *tight = malloc(n);
            check(tight != NULL);
            check(multipart_boundary(header, tight, n) == HARK_ERANGE);
            free(tight);
            memcpy(boundary, got, n + 1);
            body = (const char *)nl + 1;
            len = size - hlen - 1;
        }
    }

    struct multipart *m = malloc(sizeof *m);
    char *err = malloc(ERRLEN);
    check(m && err);
    int rc = multipart_parse(len ? body : NULL, len, boundary, m, err, ERRLEN);
    if (rc == 0) {
        check(err[0] == '\0');
        check_success(m, body, len, boundary);
    } else {
        check(rc == HARK_EPARSE || rc == HARK_ETOOBIG);
        check(m->n == 0);
        size_t n = strnlen(err, ERRLEN);
        check(n > 0 && n < ERRLEN && memchr(err, '\n', n) == NULL);
        /* the reason is cut to any errlen without overrun */
        char *small = malloc(7);
        check(small != NULL);
        check(multipart_parse(len ? body : NULL, len, boundary, m, small, 7) == rc);
        check(strnlen(small, 7) == (n < 6 ? n : 6));
        free(small);
    }
    free(err);
    free(m);
    return 0;
}
