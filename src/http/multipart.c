/* multipart/form-data parsing; multipart.h says what is accepted and why. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hark/multipart.h"
#include "hark/utf8.h"

struct scan {
    const char *p;             /* the body, borrowed */
    size_t len;
    const char *bnd;           /* the boundary, without the leading "--" */
    size_t blen;
    char *err;                 /* may be NULL */
    size_t errlen;
};

enum delim { DELIM_NONE, DELIM_NEXT, DELIM_CLOSE };

/* Headers a part may carry once. */
enum { SEEN_DISPOSITION = 1, SEEN_TYPE = 2 };

/* One ";name=value" of a header value; val is raw: inside the quotes,
 * escapes not yet undone. */
struct param {
    const char *name, *val;
    size_t nlen, vlen;
    int quoted;
};

static int fail(struct scan *s, int code, const char *fmt, ...) HARK_PRINTF(3, 4);

static int fail(struct scan *s, int code, const char *fmt, ...)
{
    if (s->err && s->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err, s->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int is_lws(char c)
{
    return c == ' ' || c == '\t';
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 7230 tchar: header names, parameter names, the disposition type. */
static int is_tchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bchars. */
static int is_bchar(unsigned char c)
{
    return is_alnum(c) || (c != '\0' && strchr("'()+_,-./:=? ", c) != NULL);
}

/* An unquoted parameter value: looser than a token because clients send
 * name=timestamp_granularities[] and boundary=----=_Part_1 unquoted. */
static int is_bare_value_char(unsigned char c)
{
    return c > ' ' && c != 0x7f && c != ';' && c != '"';
}

/* Control characters other than HTAB may not appear in part headers. */
static int is_ctl(unsigned char c)
{
    return (c < ' ' && c != '\t') || c == 0x7f;
}

static int ascii_ieq(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n && lit[i]; i++) {
        unsigned char a = (unsigned char)s[i], b = (unsigned char)lit[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return i == n && lit[i] == '\0';
}

static int boundary_valid(const char *b, size_t n)
{
    if (n == 0 || n > MULTIPART_BOUNDARY_MAX || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_bchar((unsigned char)b[i]))
            return 0;
    return 1;
}

static const char *skip_lws(const char *p, const char *end)
{
    while (p < end && is_lws(*p))
        p++;
    return p;
}

/* Reads the next parameter of a header value from *p. 1 with *out filled,
 * 0 at the end of the value, HARK_EPARSE on bad syntax or an unterminated
 * quoted string. Empty parameters (";;", a trailing ";") are skipped. */
static int param_next(const char **p, const char *end, struct param *out)
{
    const char *s = skip_lws(*p, end);
    if (s == end)
        return 0;
    if (*s != ';')
        return HARK_EPARSE;
    do
        s = skip_lws(s + 1, end);
    while (s < end && *s == ';');
    if (s == end) {
        *p = s;
        return 0;
    }
    out->name = s;
    while (s < end && is_tchar((unsigned char)*s))
        s++;
    out->nlen = (size_t)(s - out->name);
    s = skip_lws(s, end);
    if (out->nlen == 0 || s == end || *s != '=')
        return HARK_EPARSE;
    s = skip_lws(s + 1, end);
    if (s < end && *s == '"') {
        const char *q = s + 1;
        for (;;) {
            if (q == end)
                return HARK_EPARSE;
            if (*q == '\\' && q + 1 < end && (q[1] == '"' || q[1] == '\\'))
                q += 2;
            else if (*q == '"')
                break;
            else
                q++;
        }
        out->val = s + 1;
        out->vlen = (size_t)(q - out->val);
        out->quoted = 1;
        s = q + 1;
    } else {
        out->val = s;
        while (s < end && is_bare_value_char((unsigned char)*s))
            s++;
        out->vlen = (size_t)(s - out->val);
        out->quoted = 0;
        if (out->vlen == 0)
            return HARK_EPARSE;
    }
    *p = s;
    return 1;
}

/* Copies a parameter value into dst (size bytes, NUL-terminated), undoing
 * the \" and \\ escapes param_next() stepped over. HARK_ETOOBIG when it does
 * not fit: truncating a name could make it match another field. */
static int param_copy(const struct param *pr, char *dst, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < pr->vlen; i++) {
        char c = pr->val[i];
        if (pr->quoted && c == '\\' && i + 1 < pr->vlen &&
            (pr->val[i + 1] == '"' || pr->val[i + 1] == '\\'))
            c = pr->val[++i];
        if (o + 1 >= size)
            return HARK_ETOOBIG;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return 0;
}

int multipart_boundary(const char *content_type, char *out, size_t size)
{
    static const char type[] = "multipart/form-data";
    const size_t tlen = sizeof type - 1;
    if (!content_type || !out)
        return HARK_EINVAL;
    const char *end = content_type + strlen(content_type);
    const char *p = skip_lws(content_type, end);
    if ((size_t)(end - p) < tlen || !ascii_ieq(p, tlen, type))
        return HARK_EINVAL;
    p += tlen;
    struct param pr, found = {0};
    int rc;
    while ((rc = param_next(&p, end, &pr)) == 1) {
        if (!ascii_ieq(pr.name, pr.nlen, "boundary"))
            continue;
        if (found.name)
            return HARK_EINVAL;
        found = pr;
    }
    char b[MULTIPART_BOUNDARY_MAX + 1];
    if (rc < 0 || !found.name || param_copy(&found, b, sizeof b) ||
        !boundary_valid(b, strlen(b)))
        return HARK_EINVAL;
    size_t n = strlen(b);
    if (n >= size)
        return HARK_ERANGE;
    memcpy(out, b, n + 1);
    return 0;
}

/* What follows the "--boundary" at pos (which the caller has matched): the
 * start of a part (*next is past the CRLF), the close (*next is past its
 * "--"), or neither, in which case the text is data, not a delimiter. */
static enum delim delim_kind(const struct scan *s, size_t pos, size_t *next)
{
    size_t i = pos + 2 + s->blen;
    if (s->len - i >= 2 && s->p[i] == '-' && s->p[i + 1] == '-') {
        *next = i + 2;
        return DELIM_CLOSE;
    }
    while (i < s->len && is_lws(s->p[i]))
        i++;
    if (s->len - i >= 2 && s->p[i] == '\r' && s->p[i + 1] == '\n') {
        *next = i + 2;
        return DELIM_NEXT;
    }
    return DELIM_NONE;
}

/* Finds the first delimiter (CRLF "--" boundary, then a valid ending) at or
 * after from; *at is where its CRLF starts. Linear: candidates are the CRs,
 * and the needle holds no CR after its first byte, so a comparison stops at
 * the latest at the next candidate; so does the scan over padding after a
 * match, since padding is spaces and tabs. */
static enum delim find_delim(const struct scan *s, size_t from, size_t *at, size_t *next)
{
    const size_t need = 4 + s->blen;
    size_t i = from;
    while (i <= s->len && s->len - i >= need) {
        const char *cr = memchr(s->p + i, '\r', s->len - i - need + 1);
        if (!cr)
            break;
        i = (size_t)(cr - s->p);
        if (cr[1] == '\n' && cr[2] == '-' && cr[3] == '-' && !memcmp(cr + 4, s->bnd, s->blen)) {
            enum delim k = delim_kind(s, i + 2, next);
            if (k != DELIM_NONE) {
                *at = i;
                return k;
            }
        }
        i++;
    }
    return DELIM_NONE;
}

static int starts_with_dash_boundary(const struct scan *s)
{
    return s->len >= 2 + s->blen && s->p[0] == '-' && s->p[1] == '-' &&
           !memcmp(s->p + 2, s->bnd, s->blen);
}

/* The first delimiter may open the body without a CRLF; anything before a
 * later one is preamble. */
static enum delim first_delim(const struct scan *s, size_t *next)
{
    size_t at;
    if (starts_with_dash_boundary(s)) {
        enum delim k = delim_kind(s, 0, next);
        if (k != DELIM_NONE)
            return k;
    }
    return find_delim(s, 0, &at, next);
}

static int parse_disposition(struct scan *s, const char *v, const char *end,
                             struct multipart_part *part, size_t k)
{
    const char *p = v;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (!ascii_ieq(v, (size_t)(p - v), "form-data"))
        return fail(s, HARK_EPARSE, "part %zu has a Content-Disposition other than form-data", k);
    int have_name = 0, have_filename = 0, rc;
    struct param pr;
    while ((rc = param_next(&p, end, &pr)) == 1) {
        char *dst;
        size_t size;
        int *seen;
        const char *what;
        if (ascii_ieq(pr.name, pr.nlen, "name")) {
            dst = part->name, size = sizeof part->name, seen = &have_name, what = "name";
        } else if (ascii_ieq(pr.name, pr.nlen, "filename")) {
            dst = part->filename, size = sizeof part->filename, seen = &have_filename,
            what = "filename";
        } else {
            continue;
        }
        if (*seen)
            return fail(s, HARK_EPARSE, "part %zu repeats the %s parameter", k, what);
        *seen = 1;
        if (param_copy(&pr, dst, size))
            return fail(s, HARK_EPARSE, "the %s of part %zu is longer than %zu bytes", what, k,
                        size - 1);
        if (!utf8_valid(dst, strlen(dst)))
            return fail(s, HARK_EPARSE, "the %s of part %zu is not valid UTF-8", what, k);
    }
    if (rc < 0)
        return fail(s, HARK_EPARSE,
                    "bad parameter syntax or quoting in the Content-Disposition of part %zu", k);
    if (!have_name)
        return fail(s, HARK_EPARSE, "part %zu has no name in its Content-Disposition", k);
    return 0;
}

static int parse_content_type(struct scan *s, const char *v, const char *end,
                              struct multipart_part *part, size_t k)
{
    size_t n = (size_t)(end - v);
    if (n >= sizeof part->content_type)
        return fail(s, HARK_EPARSE, "the Content-Type of part %zu is longer than %zu bytes", k,
                    sizeof part->content_type - 1);
    memcpy(part->content_type, v, n);
    part->content_type[n] = '\0';
    if (!utf8_valid(v, n))
        return fail(s, HARK_EPARSE, "the Content-Type of part %zu is not valid UTF-8", k);
    return 0;
}

/* One header line [line, end) of part k, without its CRLF. */
static int parse_header(struct scan *s, const char *line, const char *end,
                        struct multipart_part *part, size_t k, unsigned *seen)
{
    if (is_lws(*line))
        return fail(s, HARK_EPARSE, "part %zu has a folded header line, which is not supported",
                    k);
    const char *colon = memchr(line, ':', (size_t)(end - line));
    const char *n = line;
    while (n < end && is_tchar((unsigned char)*n))
        n++;
    if (!colon || n != colon || n == line)
        return fail(s, HARK_EPARSE, "part %zu has a malformed header line", k);
    size_t nlen = (size_t)(colon - line);
    const char *v = skip_lws(colon + 1, end);
    while (end > v && is_lws(end[-1]))
        end--;
    if (ascii_ieq(line, nlen, "Content-Disposition")) {
        if (*seen & SEEN_DISPOSITION)
            return fail(s, HARK_EPARSE, "part %zu repeats the Content-Disposition header", k);
        *seen |= SEEN_DISPOSITION;
        return parse_disposition(s, v, end, part, k);
    }
    if (ascii_ieq(line, nlen, "Content-Type")) {
        if (*seen & SEEN_TYPE)
            return fail(s, HARK_EPARSE, "part %zu repeats the Content-Type header", k);
        *seen |= SEEN_TYPE;
        return parse_content_type(s, v, end, part, k);
    }
    if (ascii_ieq(line, nlen, "Content-Transfer-Encoding")) {
        size_t vlen = (size_t)(end - v);
        if (!ascii_ieq(v, vlen, "binary") && !ascii_ieq(v, vlen, "8bit") &&
            !ascii_ieq(v, vlen, "7bit"))
            return fail(s, HARK_EPARSE,
                        "part %zu has a Content-Transfer-Encoding other than binary, which is "
                        "not supported",
                        k);
    }
    return 0;
}

/* Parses the headers of part k starting at *pos, up to and including the
 * blank line; *pos is then where the data starts. */
static int parse_headers(struct scan *s, size_t *pos, struct multipart_part *part, size_t k)
{
    const size_t start = *pos;
    const size_t limit =
        s->len - start > MULTIPART_HEADERS_MAX ? start + MULTIPART_HEADERS_MAX : s->len;
    unsigned seen = 0;
    size_t i = start;
    for (;;) {
        size_t line = i;
        while (i < limit && s->p[i] != '\r') {
            if (is_ctl((unsigned char)s->p[i]))
                return fail(s, HARK_EPARSE, "part %zu has a control character in its headers",
                            k);
            i++;
        }
        if (limit - i < 2) {
            if (limit < s->len)
                return fail(s, HARK_EPARSE, "the headers of part %zu are longer than %d bytes", k,
                            MULTIPART_HEADERS_MAX);
            return fail(s, HARK_EPARSE, "the body ends inside the headers of part %zu", k);
        }
        if (s->p[i + 1] != '\n')
            return fail(s, HARK_EPARSE, "part %zu has a control character in its headers", k);
        i += 2;
        if (i - 2 == line)
            break;
        int rc = parse_header(s, s->p + line, s->p + i - 2, part, k, &seen);
        if (rc)
            return rc;
    }
    if (!(seen & SEEN_DISPOSITION))
        return fail(s, HARK_EPARSE, "part %zu has no Content-Disposition header", k);
    *pos = i;
    return 0;
}

int multipart_parse(const char *body, size_t len, const char *boundary, struct multipart *m,
                    char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!m || !boundary || (!body && len))
        return HARK_EINVAL;
    m->n = 0;
    size_t blen = strnlen(boundary, MULTIPART_BOUNDARY_MAX + 1);
    if (!boundary_valid(boundary, blen))
        return HARK_EINVAL;
    struct scan s = {body, len, boundary, blen, err, errlen};
    size_t next, at, n = 0;
    enum delim kind = first_delim(&s, &next);
    if (kind == DELIM_NONE && starts_with_dash_boundary(&s))
        return fail(&s, HARK_EPARSE, "the first boundary line does not end in CRLF");
    if (kind == DELIM_NONE)
        return fail(&s, HARK_EPARSE, "the body has no multipart boundary line");
    int rc = 0;
    while (kind == DELIM_NEXT) {
        if (n == MULTIPART_MAX_PARTS) {
            rc = fail(&s, HARK_ETOOBIG, "the body has more than %d parts", MULTIPART_MAX_PARTS);
            break;
        }
        struct multipart_part *part = &m->parts[n];
        memset(part, 0, sizeof *part);
        size_t pos = next;
        rc = parse_headers(&s, &pos, part, n + 1);
        if (rc)
            break;
        kind = find_delim(&s, pos, &at, &next);
        if (kind == DELIM_NONE) {
            rc = fail(&s, HARK_EPARSE,
                      "part %zu is not terminated: the closing boundary line is missing", n + 1);
            break;
        }
        part->data = body + pos;
        part->len = at - pos;
        n++;
    }
    m->n = rc ? 0 : n;
    return rc;
}

const struct multipart_part *multipart_get(const struct multipart *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->parts[i].name, name))
            return &m->parts[i];
    return NULL;
}
