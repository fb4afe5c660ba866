#include "hark/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "hark/utf8.h"

/* Room for a source name, ':' and a line number. */
#define ORIGIN_MAX 160
/* "HARK_" + the longest name + NUL. */
#define ENV_NAME_MAX (5 + CONFIG_NAME_MAX + 1)
/* A rejected value is quoted in an error message up to this many bytes,
 * enough to recognise it. Only INT, BOOL, BYTES and MS values are ever
 * quoted: a STRING, which may be a secret, is never rejected for its type. */
#define QUOTE_MAX 32
/* Line numbers of values staged from the environment. */
#define LINE_ENV (-1)

struct config_slot {
    char *value; /* owned; NULL = unset */
    long long num; /* INT/BYTES/MS value; BOOL 0 or 1 */
    char origin[ORIGIN_MAX];
    /* A file or an environment is staged here and committed only once all
     * of it is valid, so a source with an error changes nothing. */
    char *staged; /* owned */
    long long staged_num;
    int staged_line; /* file line, or LINE_ENV */
    int is_staged;
};

struct config {
    const struct config_key *keys; /* borrowed */
    size_t n;
    struct config_slot slots[];
};

struct unit {
    const char *suffix;
    long long scale;
};

/* Largest first: rendering a bound picks the first unit dividing it. */
static const struct unit byte_units[] = {
    {"T", 1LL << 40}, {"G", 1LL << 30}, {"M", 1LL << 20}, {"K", 1LL << 10},
    {"", 1}, {NULL, 0},
};
static const struct unit ms_units[] = {
    {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}, {"", 1}, {NULL, 0},
};

/* ---- small text helpers ------------------------------------------------ */

/* Copies src into dst (size bytes); a source too long keeps its tail, the
 * informative end of a path, behind "...". */
static void copy_tail(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);
    if (len < size) {
        memcpy(dst, src, len + 1);
        return;
    }
    size_t keep = size - 4;
    memcpy(dst, "...", 3);
    memcpy(dst + 3, src + len - keep, keep + 1);
}

/* Copies n bytes of s into dst (size bytes), truncating. */
static void copy_span(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int fail(struct config_error *err, int rc, const char *source, int line,
                const char *key, size_t key_len, const char *fmt, ...)
    HARK_PRINTF(7, 8);

/* Fills err (when there is one) and returns rc. */
static int fail(struct config_error *err, int rc, const char *source, int line,
                const char *key, size_t key_len, const char *fmt, ...)
{
    if (!err)
        return rc;
    copy_tail(err->source, sizeof err->source, source ? source : "");
    err->line = line;
    copy_span(err->key, sizeof err->key, key ? key : "", key ? key_len : 0);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return rc;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

static int name_ok(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return 1;
}

static void env_name(const char *name, char out[ENV_NAME_MAX])
{
    size_t i = 0;
    memcpy(out, "HARK_", 5);
    for (; i < CONFIG_NAME_MAX && name[i]; i++)
        out[5 + i] = (name[i] >= 'a' && name[i] <= 'z') ? (char)(name[i] - 32)
                                                        : name[i];
    out[5 + i] = '\0';
}

/* Writes v as "..." for a message: printable ASCII kept, other bytes as
 * '?', cut at QUOTE_MAX. */
static void quote_value(char *dst, size_t size, const char *v, size_t len)
{
    size_t o = 0, i = 0;
    dst[o++] = '"';
    for (; i < len && i < QUOTE_MAX && o + 5 < size; i++) {
        unsigned char ch = (unsigned char)v[i];
        dst[o++] = (ch >= 0x20 && ch < 0x7f && ch != '"') ? (char)ch : '?';
    }
    if (i < len && o + 5 < size) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o++] = '"';
    dst[o] = '\0';
}

/* Text anywhere in a configuration is UTF-8 without control bytes (tab
 * aside): values end up in logs, headers and JSON, where those bytes
 * would forge or break things. Reports the first problem in the text. */
static int check_text(const char *s, size_t len, char *msg, size_t msize)
{
    size_t valid = utf8_valid_prefix(s, len);
    for (size_t i = 0; i < valid; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            snprintf(msg, msize, "control character 0x%02x at byte %zu", ch, i + 1);
            return HARK_ECONFIG;
        }
    }
    if (valid < len) {
        snprintf(msg, msize, "invalid UTF-8 at byte %zu", valid + 1);
        return HARK_ECONFIG;
    }
    return 0;
}

/* ---- values ------------------------------------------------------------- */

/* Reads the decimal digits at the start of s; returns how many. *overflow
 * is set when the number exceeds limit (*out is then meaningless). */
static size_t read_digits(const char *s, size_t len, unsigned long long limit,
                          unsigned long long *out, int *overflow)
{
    unsigned long long acc = 0;
    size_t i = 0;
    *overflow = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (acc > (limit - d) / 10)
            *overflow = 1;
        else
            acc = acc * 10 + d;
    }
    *out = acc;
    return i;
}

static const char *type_noun(enum config_type t)
{
    switch (t) {
    case CONFIG_STRING: return "string";
    case CONFIG_INT: return "integer";
    case CONFIG_BOOL: return "boolean";
    case CONFIG_BYTES: return "bytes";
    case CONFIG_MS: return "duration";
    }
    return "?";
}

static const char *type_expected(enum config_type t)
{
    switch (t) {
    case CONFIG_INT: return "expected an integer";
    case CONFIG_BOOL: return "expected true/false, yes/no, on/off or 1/0";
    case CONFIG_BYTES: return "expected a size in bytes (e.g. 512, 64K, 1M, 2G)";
    case CONFIG_MS: return "expected a duration (e.g. 500ms, 2s, 5m, 1h)";
    case CONFIG_STRING: break;
    }
    return "expected a value";
}

/* Renders v in the key's own unit, exact: 65536 bytes as "64K", 300000 ms
 * as "5m". */
static void format_amount(char *buf, size_t size, enum config_type t, long long v)
{
    const struct unit *u = t == CONFIG_BYTES ? byte_units : t == CONFIG_MS ? ms_units : NULL;
    for (; u && u->suffix; u++) {
        if (v != 0 && v % u->scale == 0) {
            snprintf(buf, size, "%lld%s", v / u->scale, u->suffix);
            return;
        }
    }
    snprintf(buf, size, "%lld%s", v, t == CONFIG_MS ? "ms" : "");
}

static int parse_bool(const char *v, size_t len, long long *out)
{
    static const char *const words[] = {"false", "true", "no", "yes", "off", "on", "0", "1"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        if (strlen(words[i]) == len && strncasecmp(v, words[i], len) == 0) {
            *out = (long long)(i % 2);
            return 0;
        }
    }
    return HARK_ECONFIG;
}

static int parse_int(const char *v, size_t len, long long *out, int *too_big)
{
    size_t i = 0;
    int neg = len > 0 && v[0] == '-';
    unsigned long long limit = (unsigned long long)LLONG_MAX + (neg ? 1u : 0u);
    unsigned long long acc;
    i += (size_t)neg;
    size_t nd = read_digits(v + i, len - i, limit, &acc, too_big);
    if (nd == 0 || i + nd != len) {
        *too_big = 0; /* malformed says more than too large */
        return HARK_ECONFIG;
    }
    if (*too_big)
        return HARK_ECONFIG;
    if (neg)
        *out = acc > (unsigned long long)LLONG_MAX ? LLONG_MIN : -(long long)acc;
    else
        *out = (long long)acc;
    return 0;
}

/* Digits then an optional unit from `units`; bytes' units in any case,
 * durations' exactly ("m" is minutes, "M" would mean nothing). */
static int parse_scaled(const char *v, size_t len, const struct unit *units,
                        int any_case, long long *out, int *too_big)
{
    unsigned long long acc;
    size_t nd = read_digits(v, len, (unsigned long long)LLONG_MAX, &acc, too_big);
    if (nd == 0)
        return HARK_ECONFIG;
    const char *suf = v + nd;
    size_t slen = len - nd;
    for (const struct unit *u = units; u->suffix; u++) {
        if (strlen(u->suffix) != slen)
            continue;
        if (any_case ? strncasecmp(suf, u->suffix, slen) : strncmp(suf, u->suffix, slen))
            continue;
        if (*too_big || acc > (unsigned long long)(LLONG_MAX / u->scale)) {
            *too_big = 1;
            return HARK_ECONFIG;
        }
        *out = (long long)acc * u->scale;
        return 0;
    }
    *too_big = 0;
    return HARK_ECONFIG;
}

/* Checks v (len bytes) against k's type and bounds; *num gets the number
 * for INT/BYTES/MS/BOOL. On error writes the reason to msg. */
static int check_value(const struct config_key *k, const char *v, size_t len,
                       long long *num, char *msg, size_t msize)
{
    if (len > CONFIG_LINE_MAX) {
        snprintf(msg, msize, "value longer than %d bytes", CONFIG_LINE_MAX);
        return HARK_ECONFIG;
    }
    int rc = check_text(v, len, msg, msize);
    if (rc)
        return rc;
    int too_big = 0;
    *num = 0;
    switch (k->type) {
    case CONFIG_STRING: return 0;
    case CONFIG_BOOL: rc = parse_bool(v, len, num); break;
    case CONFIG_INT: rc = parse_int(v, len, num, &too_big); break;
    case CONFIG_BYTES: rc = parse_scaled(v, len, byte_units, 1, num, &too_big); break;
    case CONFIG_MS: rc = parse_scaled(v, len, ms_units, 0, num, &too_big); break;
    }
    char q[QUOTE_MAX + 8];
    quote_value(q, sizeof q, v, len);
    if (rc) {
        snprintf(msg, msize, "%s, got %s", too_big ? "number too large" : type_expected(k->type), q);
        return rc;
    }
    if ((k->min || k->max) && (*num < k->min || *num > k->max)) {
        char lo[32], hi[32];
        format_amount(lo, sizeof lo, k->type, k->min);
        format_amount(hi, sizeof hi, k->type, k->max);
        snprintf(msg, msize, "must be between %s and %s, got %s", lo, hi, q);
        return HARK_ECONFIG;
    }
    return 0;
}

/* ---- the table ---------------------------------------------------------- */

/* Checks one entry of a key table; on error writes the reason to msg. */
static int check_key(const struct config_key *keys, size_t i, char *msg, size_t msize)
{
    const struct config_key *k = &keys[i];
    size_t len = k->name ? strlen(k->name) : 0;
    long long num;
    if (!k->name || !name_ok(k->name, len) || len > CONFIG_NAME_MAX) {
        snprintf(msg, msize, "name must be 1 to %d bytes of a-z, 0-9, _", CONFIG_NAME_MAX);
        return HARK_EINVAL;
    }
    for (size_t j = 0; j < i; j++) {
        if (strcmp(keys[j].name, k->name) == 0) {
            snprintf(msg, msize, "duplicate name");
            return HARK_EINVAL;
        }
    }
    if ((int)k->type < (int)CONFIG_STRING || (int)k->type > (int)CONFIG_MS) {
        snprintf(msg, msize, "unknown type %d", (int)k->type);
        return HARK_EINVAL;
    }
    if ((k->type == CONFIG_STRING || k->type == CONFIG_BOOL) && (k->min || k->max)) {
        snprintf(msg, msize, "bounds on a %s key", type_noun(k->type));
        return HARK_EINVAL;
    }
    if (k->min > k->max) {
        snprintf(msg, msize, "min > max");
        return HARK_EINVAL;
    }
    if (k->default_value &&
        check_value(k, k->default_value, strlen(k->default_value), &num, msg, msize))
        return HARK_EINVAL;
    return 0;
}

/* A table error is a bug in the caller's code, not an operator's mistake:
 * say which key in the log and refuse the whole table. */
static int check_table(const struct config_key *keys, size_t n)
{
    if ((!keys && n) || n > CONFIG_KEYS_MAX) {
        log_error("config", "msg=\"bad key table\" keys=%zu max=%d", n, CONFIG_KEYS_MAX);
        return HARK_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char msg[256], q[64];
        if (check_key(keys, i, msg, sizeof msg)) {
            const struct config_key *k = &keys[i];
            char qm[300];
            log_error("config", "msg=\"bad key table\" index=%zu key=%s reason=%s", i,
                      log_quote(q, sizeof q, k->name ? k->name : ""),
                      log_quote(qm, sizeof qm, msg));
            return HARK_EINVAL;
        }
    }
    return 0;
}

static struct config_slot *find_slot(const struct config *c, const char *key,
                                     size_t len)
{
    for (size_t i = 0; i < c->n; i++) {
        const char *name = c->keys[i].name;
        if (strncmp(name, key, len) == 0 && name[len] == '\0')
            return (struct config_slot *)&c->slots[i];
    }
    return NULL;
}

static const struct config_key *slot_key(const struct config *c,
                                         const struct config_slot *s)
{
    return &c->keys[s - c->slots];
}

int config_new(const struct config_key *keys, size_t n, struct config **out)
{
    if (!out)
        return HARK_EINVAL;
    *out = NULL;
    int rc = check_table(keys, n);
    if (rc)
        return rc;
    struct config *c = hark_calloc(1, sizeof *c + n * sizeof c->slots[0]);
    if (!c)
        return HARK_ENOMEM;
    c->keys = keys;
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct config_key *k = &keys[i];
        struct config_slot *s = &c->slots[i];
        if (!k->default_value)
            continue;
        char msg[256];
        /* Cannot fail: check_table() accepted the default. */
        (void)check_value(k, k->default_value, strlen(k->default_value), &s->num, msg,
                          sizeof msg);
        s->value = hark_strdup(k->default_value);
        if (!s->value) {
            config_free(c);
            return HARK_ENOMEM;
        }
        memcpy(s->origin, "default", sizeof "default");
    }
    *out = c;
    return 0;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        hark_free(c->slots[i].value);
        hark_free(c->slots[i].staged);
    }
    hark_free(c);
}

/* ---- staging ------------------------------------------------------------ */

static int stage(struct config_slot *s, const char *v, size_t len, long long num, int line)
{
    char *copy = hark_strndup(v, len);
    if (!copy)
        return HARK_ENOMEM;
    s->staged = copy;
    s->staged_num = num;
    s->staged_line = line;
    s->is_staged = 1;
    return 0;
}

static void unstage_all(struct config *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct config_slot *s = &c->slots[i];
        hark_free(s->staged);
        s->staged = NULL;
        s->is_staged = 0;
    }
}

static void set_origin(struct config_slot *s, const char *source, int line,
                       const char *name)
{
    if (line == LINE_ENV) {
        char env[ENV_NAME_MAX];
        env_name(name, env);
        snprintf(s->origin, sizeof s->origin, "env %s", env);
    } else {
        char src[ORIGIN_MAX - 16];
        copy_tail(src, sizeof src, source);
        snprintf(s->origin, sizeof s->origin, "%s:%d", src, line);
    }
}

/* Cannot fail: everything it needs was allocated while staging. */
static void commit_all(struct config *c, const char *source)
{
    for (size_t i = 0; i < c->n; i++) {
        struct config_slot *s = &c->slots[i];
        if (!s->is_staged)
            continue;
        hark_free(s->value);
        s->value = s->staged;
        s->num = s->staged_num;
        set_origin(s, source, s->staged_line, c->keys[i].name);
        s->staged = NULL;
        s->is_staged = 0;
    }
}

/* ---- files -------------------------------------------------------------- */

/* Unescapes the quoted value starting at line[i] (the opening quote) into
 * out; checks that only blanks or a comment follow the closing quote. */
static int unquote(const char *line, size_t end, size_t i, char *out,
                   size_t *out_len, char *msg, size_t msize)
{
    size_t o = 0;
    for (i++;; i++) {
        if (i >= end) {
            snprintf(msg, msize, "unterminated quoted value (missing closing \")");
            return HARK_ECONFIG;
        }
        if (line[i] == '"')
            break;
        if (line[i] == '\\') {
            if (i + 1 < end && (line[i + 1] == '"' || line[i + 1] == '\\')) {
                out[o++] = line[++i];
                continue;
            }
            if (i + 1 >= end)
                snprintf(msg, msize, "unterminated quoted value (missing closing \")");
            else
                snprintf(msg, msize, "invalid escape in quoted value (only \\\" and \\\\ are allowed)");
            return HARK_ECONFIG;
        }
        out[o++] = line[i];
    }
    for (i++; i < end && is_blank(line[i]); i++)
        ;
    if (i < end && line[i] != '#') {
        snprintf(msg, msize, "unexpected text after the closing quote");
        return HARK_ECONFIG;
    }
    *out_len = o;
    return 0;
}

/* Parses one line (without its '\n') and stages its value. */
static int parse_line(struct config *c, const char *line, size_t len, int lineno,
                      const char *source, struct config_error *err)
{
    char msg[256];
    if (len > CONFIG_LINE_MAX)
        return fail(err, HARK_ECONFIG, source, lineno, NULL, 0,
                    "line longer than %d bytes", CONFIG_LINE_MAX);
    if (memchr(line, '\0', len))
        return fail(err, HARK_ECONFIG, source, lineno, NULL, 0, "NUL byte in line");
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (check_text(line, len, msg, sizeof msg))
        return fail(err, HARK_ECONFIG, source, lineno, NULL, 0, "%s", msg);
    size_t ks = 0;
    while (ks < len && is_blank(line[ks]))
        ks++;
    if (ks == len || line[ks] == '#')
        return 0;
    const char *eq = memchr(line + ks, '=', len - ks);
    if (!eq)
        return fail(err, HARK_ECONFIG, source, lineno, NULL, 0,
                    "missing '=' (expected key = value)");
    size_t eqi = (size_t)(eq - line), ke = eqi;
    while (ke > ks && is_blank(line[ke - 1]))
        ke--;
    const char *key = line + ks;
    size_t klen = ke - ks;
    if (klen == 0)
        return fail(err, HARK_ECONFIG, source, lineno, NULL, 0, "empty key before '='");
    if (!name_ok(key, klen))
        return fail(err, HARK_ECONFIG, source, lineno, key, klen,
                    "bad key: keys contain only a-z, 0-9 and _");
    struct config_slot *s = find_slot(c, key, klen);
    if (!s)
        return fail(err, HARK_ECONFIG, source, lineno, key, klen, "unknown key");
    if (s->is_staged)
        return fail(err, HARK_ECONFIG, source, lineno, key, klen,
                    "duplicate key (first set on line %d)", s->staged_line);

    size_t vs = eqi + 1;
    while (vs < len && is_blank(line[vs]))
        vs++;
    const char *v = line + vs;
    size_t vlen;
    char unq[CONFIG_LINE_MAX];
    if (vs < len && line[vs] == '"') {
        if (unquote(line, len, vs, unq, &vlen, msg, sizeof msg))
            return fail(err, HARK_ECONFIG, source, lineno, key, klen, "%s", msg);
        v = unq;
    } else {
        size_t ve = vs;
        /* line[ve - 1] exists: at worst it is the '='. */
        while (ve < len && !(line[ve] == '#' && is_blank(line[ve - 1])))
            ve++;
        while (ve > vs && is_blank(line[ve - 1]))
            ve--;
        vlen = ve - vs;
    }
    long long num;
    if (check_value(slot_key(c, s), v, vlen, &num, msg, sizeof msg))
        return fail(err, HARK_ECONFIG, source, lineno, key, klen, "%s", msg);
    if (stage(s, v, vlen, num, lineno))
        return fail(err, HARK_ENOMEM, source, lineno, key, klen, "out of memory");
    return 0;
}

int config_parse_buffer(struct config *c, const char *text, size_t len,
                        const char *source_name, struct config_error *err)
{
    if (!c || (!text && len) || !source_name)
        return fail(err, HARK_EINVAL, source_name, 0, NULL, 0, "invalid argument");
    if (len > CONFIG_FILE_MAX)
        return fail(err, HARK_ETOOBIG, source_name, 0, NULL, 0,
                    "larger than %d bytes", CONFIG_FILE_MAX);
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        pos = 3; /* byte order mark some editors write */
    int rc = 0, lineno = 0;
    while (pos < len && rc == 0) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        rc = parse_line(c, text + pos, end - pos, ++lineno, source_name, err);
        pos = end + 1;
    }
    if (rc)
        unstage_all(c);
    else
        commit_all(c, source_name);
    return rc;
}

static int file_error(struct config_error *err, const char *path, int errnum,
                      const char *what)
{
    char buf[128];
    const char *text = strerror_r(errnum, buf, sizeof buf);
    int rc = errnum == ENOENT || errnum == ENOTDIR ? HARK_ENOENT
             : errnum == EACCES || errnum == EPERM ? HARK_EPERM
                                                   : HARK_EIO;
    return fail(err, rc, path, 0, NULL, 0, "cannot %s: %s", what, text);
}

/* Reads the whole file into b, at most CONFIG_FILE_MAX bytes. */
static int read_file(int fd, const char *path, struct hbuf *b,
                     struct config_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return file_error(err, path, errno, "stat");
    if (!S_ISREG(st.st_mode))
        return fail(err, HARK_EINVAL, path, 0, NULL, 0, "not a regular file");
    /* The size is checked again while reading: the file may grow. */
    if (st.st_size > CONFIG_FILE_MAX)
        return fail(err, HARK_ETOOBIG, path, 0, NULL, 0, "larger than %d bytes",
                    CONFIG_FILE_MAX);
    for (;;) {
        char chunk[4096];
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return file_error(err, path, errno, "read");
        if (r == 0)
            return 0;
        int rc = hbuf_append(b, chunk, (size_t)r);
        if (rc == HARK_ETOOBIG)
            return fail(err, rc, path, 0, NULL, 0, "larger than %d bytes", CONFIG_FILE_MAX);
        if (rc)
            return fail(err, rc, path, 0, NULL, 0, "out of memory");
    }
}

int config_load_file(struct config *c, const char *path, struct config_error *err)
{
    if (!c || !path)
        return fail(err, HARK_EINVAL, path, 0, NULL, 0, "invalid argument");
    /* O_NONBLOCK: opening a FIFO must not hang start-up; it is refused
     * below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return file_error(err, path, errno, "open");
    struct hbuf b;
    hbuf_init(&b, CONFIG_FILE_MAX);
    int rc = read_file(fd, path, &b, err);
    close(fd);
    if (rc == 0)
        rc = config_parse_buffer(c, b.data, b.len, path, err);
    hbuf_release(&b);
    return rc;
}

/* ---- environment and flags ---------------------------------------------- */

static const char *env_find(char *const *envp, const char *name)
{
    size_t nlen = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, nlen) == 0 && (*envp)[nlen] == '=')
            return *envp + nlen + 1;
    return NULL;
}

int config_load_env(struct config *c, char *const *envp, struct config_error *err)
{
    if (!c)
        return fail(err, HARK_EINVAL, "env", 0, NULL, 0, "invalid argument");
    for (size_t i = 0; i < c->n; i++) {
        const struct config_key *k = &c->keys[i];
        char name[ENV_NAME_MAX], src[ENV_NAME_MAX + 4], msg[256];
        env_name(k->name, name);
        const char *v = env_find(envp, name);
        if (!v)
            continue;
        snprintf(src, sizeof src, "env %s", name);
        size_t vlen = strnlen(v, CONFIG_LINE_MAX + 1);
        long long num;
        int rc = check_value(k, v, vlen, &num, msg, sizeof msg);
        if (rc == 0 && (rc = stage(&c->slots[i], v, vlen, num, LINE_ENV)) != 0)
            snprintf(msg, sizeof msg, "out of memory");
        if (rc) {
            unstage_all(c);
            return fail(err, rc, src, 0, k->name, strlen(k->name), "%s", msg);
        }
    }
    commit_all(c, "env");
    return 0;
}

int config_set(struct config *c, const char *key, const char *value,
               const char *source, struct config_error *err)
{
    if (!c || !key || !value || !source)
        return fail(err, HARK_EINVAL, source, 0, key, key ? strlen(key) : 0,
                    "invalid argument");
    size_t klen = strlen(key);
    struct config_slot *s = find_slot(c, key, klen);
    if (!s)
        return fail(err, HARK_ECONFIG, source, 0, key, klen, "unknown key");
    char msg[256];
    long long num;
    size_t vlen = strnlen(value, CONFIG_LINE_MAX + 1);
    if (check_value(slot_key(c, s), value, vlen, &num, msg, sizeof msg))
        return fail(err, HARK_ECONFIG, source, 0, key, klen, "%s", msg);
    char *copy = hark_strndup(value, vlen);
    if (!copy)
        return fail(err, HARK_ENOMEM, source, 0, key, klen, "out of memory");
    hark_free(s->value);
    s->value = copy;
    s->num = num;
    copy_tail(s->origin, sizeof s->origin, source);
    return 0;
}

/* ---- getters ------------------------------------------------------------ */

static const struct config_slot *get_slot(const struct config *c, const char *key)
{
    const struct config_slot *s = find_slot(c, key, strlen(key));
    if (!s) {
        char q[96];
        log_error("config", "msg=\"unknown key requested\" key=%s",
                  log_quote(q, sizeof q, key));
    }
    return s;
}

const char *config_get_str(const struct config *c, const char *key)
{
    const struct config_slot *s = get_slot(c, key);
    return s ? s->value : NULL;
}

long long config_get_int(const struct config *c, const char *key)
{
    const struct config_slot *s = get_slot(c, key);
    if (!s || !s->value)
        return 0;
    enum config_type t = slot_key(c, s)->type;
    return t == CONFIG_INT || t == CONFIG_BYTES || t == CONFIG_MS ? s->num : 0;
}

int config_get_bool(const struct config *c, const char *key)
{
    const struct config_slot *s = get_slot(c, key);
    if (!s || !s->value)
        return 0;
    return slot_key(c, s)->type == CONFIG_BOOL && s->num;
}

const char *config_origin(const struct config *c, const char *key)
{
    const struct config_slot *s = get_slot(c, key);
    return s && s->value ? s->origin : NULL;
}

const char *config_error_str(const struct config_error *err, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    char where[160];
    if (err->line > 0)
        snprintf(where, sizeof where, "%s:%d", err->source, err->line);
    else
        snprintf(where, sizeof where, "%s", err->source);
    snprintf(buf, size, "%s: %s%s%s", where, err->key, err->key[0] ? ": " : "",
             err->message);
    return buf;
}

/* ---- documentation ------------------------------------------------------ */

/* Appends text for a table cell: '|' escaped, line breaks as spaces. */
static int cell_text(struct hbuf *out, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++) {
        if (*s == '|')
            rc = hbuf_puts(out, "\\|");
        else if (*s == '\n' || *s == '\r')
            rc = hbuf_puts(out, " ");
        else
            rc = hbuf_append(out, s, 1);
    }
    return rc;
}

static int render_row(struct hbuf *out, const struct config_key *k)
{
    char env[ENV_NAME_MAX];
    env_name(k->name, env);
    int rc = hbuf_printf(out, "| `%s` | `%s` | %s", k->name, env, type_noun(k->type));
    if (rc == 0 && (k->min || k->max)) {
        char lo[32], hi[32];
        format_amount(lo, sizeof lo, k->type, k->min);
        format_amount(hi, sizeof hi, k->type, k->max);
        rc = hbuf_printf(out, ", %s to %s", lo, hi);
    }
    if (rc == 0 && !k->default_value)
        rc = hbuf_puts(out, " | *unset* | ");
    else if (rc == 0 && !k->default_value[0])
        rc = hbuf_puts(out, " | `\"\"` | ");
    else if (rc == 0) {
        /* A backtick inside needs a longer code-span fence (CommonMark). */
        const char *fence = strchr(k->default_value, '`') ? "`` " : "`";
        const char *close = fence[1] ? " ``" : "`";
        rc = hbuf_printf(out, " | %s", fence);
        if (rc == 0)
            rc = cell_text(out, k->default_value);
        if (rc == 0)
            rc = hbuf_printf(out, "%s | ", close);
    }
    if (rc == 0)
        rc = cell_text(out, k->doc ? k->doc : "");
    if (rc == 0)
        rc = hbuf_puts(out, " |\n");
    return rc;
}

int config_render_doc(const struct config_key *keys, size_t n, struct hbuf *out)
{
    if (!out)
        return HARK_EINVAL;
    int rc = check_table(keys, n);
    if (rc)
        return rc;
    size_t start = out->len;
    rc = hbuf_puts(out, "| Key | Environment variable | Type | Default | Description |\n"
                        "| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = render_row(out, &keys[i]);
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}
