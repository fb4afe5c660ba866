#include "hark/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "hark/utf8.h"

const double metrics_latency_buckets_seconds[METRICS_LATENCY_BUCKETS_N] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,  0.5,    1,     2,    5,     10,
};

#define DROPPED_NAME "hark_metrics_dropped_series_total"
#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL
#define MIN_SLOTS 16
/* Integers up to 2^53 are exact in a double, so they print as integers. */
#define MAX_EXACT_INT 9007199254740992.0

/* One combination of label values, in a single allocation: this header, the
 * bucket counters, the value pointers, then the value strings. */
struct series {
    uint64_t hash;
    double value;          /* counter or gauge value; histogram sum */
    const char **values;   /* n_labels strings inside this allocation */
    uint64_t counts[];     /* histogram: per bucket, not cumulative; last +Inf */
};

struct metric {
    struct metrics *reg;
    enum metric_type type;
    char *name;
    char *help;
    char *labels[METRICS_MAX_LABELS];
    size_t n_labels;
    double *bounds;
    size_t n_bounds;
    pthread_mutex_t lock;    /* guards everything below and the series */
    struct series **series;  /* creation order, which is render order */
    size_t n_series, cap_series;
    /* Open-addressed index over series: position + 1, 0 is empty. Kept at
     * most half full so probes stay short. Unused without labels: the one
     * series is series[0]. */
    uint32_t *slots;
    size_t n_slots;          /* power of two */
    bool drop_logged;
};

struct metrics {
    pthread_mutex_t lock;    /* guards the family array, not the families */
    struct metric **fams;    /* sorted by name */
    size_t n_fams, cap_fams;
    struct metric *dropped;
};

/* ---- validation ---- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* [a-z_][a-z0-9_]* */
static bool valid_snake_name(const char *s)
{
    if (!s || !*s || !((*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool valid_metric_name(const char *name, enum metric_type type)
{
    if (!valid_snake_name(name))
        return false;
    if (ends_with(name, "_total") != (type == METRIC_COUNTER))
        return false;
    return !ends_with(name, "_bucket") && !ends_with(name, "_count") &&
           !ends_with(name, "_sum");
}

static bool valid_label_name(const char *s)
{
    return valid_snake_name(s) && strncmp(s, "__", 2) != 0 &&
           strcmp(s, "le") != 0 && strcmp(s, "quantile") != 0;
}

/* Help text, like label values in series_create(), must be UTF-8 as Go's
 * utf8.ValidString sees it (Prometheus parses with Go): utf8_valid() accepts
 * exactly that. */
static int check_shape(enum metric_type type, const char *name, const char *help,
                       const char *const *labels, size_t n_labels,
                       const double *bounds, size_t n_bounds)
{
    if (!valid_metric_name(name, type) || !help || !*help ||
        !utf8_valid(help, strlen(help)))
        return HARK_EINVAL;
    if (n_labels > METRICS_MAX_LABELS || (n_labels && !labels))
        return HARK_EINVAL;
    for (size_t i = 0; i < n_labels; i++) {
        if (!valid_label_name(labels[i]))
            return HARK_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return HARK_EINVAL;
    }
    if (n_bounds > METRICS_MAX_BUCKETS || (n_bounds && !bounds))
        return HARK_EINVAL;
    for (size_t i = 0; i < n_bounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
            return HARK_EINVAL;
    return 0;
}

static bool same_shape(const struct metric *f, enum metric_type type,
                       const char *const *labels, size_t n_labels,
                       const double *bounds, size_t n_bounds)
{
    if (f->type != type || f->n_labels != n_labels || f->n_bounds != n_bounds)
        return false;
    for (size_t i = 0; i < n_labels; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return false;
    for (size_t i = 0; i < n_bounds; i++)
        if (f->bounds[i] != bounds[i])
            return false;
    return true;
}

/* ---- series ---- */

static size_t n_counts(const struct metric *f)
{
    return f->type == METRIC_HISTOGRAM ? f->n_bounds + 1 : 0;
}

/* A zeroed series holding copies of the n (= f->n_labels) label values;
 * lens[i] is strlen(values[i]). */
static struct series *series_alloc(const struct metric *f,
                                   const char *const *values,
                                   const size_t *lens, size_t n, uint64_t hash)
{
    size_t off_values = sizeof(struct series) + n_counts(f) * sizeof(uint64_t);
    off_values = (off_values + alignof(const char *) - 1) &
                 ~(alignof(const char *) - 1);
    size_t off_strings = off_values + n * sizeof(const char *);
    size_t total = off_strings;
    for (size_t i = 0; i < n; i++)
        total += lens[i] + 1;
    struct series *s = hark_calloc(1, total);
    if (!s)
        return NULL;
    char *base = (char *)s;
    s->hash = hash;
    s->values = (const char **)(void *)(base + off_values);
    char *p = base + off_strings;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, values[i], lens[i] + 1);
        s->values[i] = p;
        p += lens[i] + 1;
    }
    return s;
}

static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < n; i++) {
        /* The NUL goes in too, so ("a","bc") and ("ab","c") differ. */
        const unsigned char *p = (const unsigned char *)values[i];
        do {
            h = (h ^ *p) * FNV_PRIME;
        } while (*p++);
    }
    return h;
}

static struct series *series_find(const struct metric *f,
                                  const char *const *values, uint64_t hash)
{
    if (!f->n_slots)
        return NULL;
    size_t mask = f->n_slots - 1;
    for (size_t i = (size_t)hash & mask; f->slots[i]; i = (i + 1) & mask) {
        struct series *s = f->series[f->slots[i] - 1];
        if (s->hash != hash)
            continue;
        size_t k = 0;
        while (k < f->n_labels && strcmp(s->values[k], values[k]) == 0)
            k++;
        if (k == f->n_labels)
            return s;
    }
    return NULL;
}

static void slots_put(uint32_t *slots, size_t n_slots, uint64_t hash,
                      uint32_t pos)
{
    size_t mask = n_slots - 1, i = (size_t)hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = pos + 1;
}

/* Makes room for one more series in both the array and the index. Growth
 * that succeeded is kept when a later step fails: it is owned capacity, not
 * a leak. */
static int series_reserve(struct metric *f)
{
    if (f->n_series == f->cap_series) {
        size_t cap = f->cap_series ? f->cap_series * 2 : 4;
        struct series **v = hark_realloc(f->series, cap * sizeof *v);
        if (!v)
            return HARK_ENOMEM;
        f->series = v;
        f->cap_series = cap;
    }
    if ((f->n_series + 1) * 2 > f->n_slots) {
        size_t n = f->n_slots ? f->n_slots * 2 : MIN_SLOTS;
        uint32_t *slots = hark_calloc(n, sizeof *slots);
        if (!slots)
            return HARK_ENOMEM;
        for (size_t i = 0; i < f->n_series; i++)
            slots_put(slots, n, f->series[i]->hash, (uint32_t)i);
        hark_free(f->slots);
        f->slots = slots;
        f->n_slots = n;
    }
    return 0;
}

/* Called with f->lock held, after series_find() missed. */
static int series_create(struct metric *f, const char *const *values,
                         uint64_t hash, struct series **out)
{
    size_t n = f->n_labels, lens[METRICS_MAX_LABELS];
    for (size_t i = 0; i < n; i++) {
        lens[i] = strnlen(values[i], METRICS_MAX_LABEL_VALUE_BYTES + 1);
        if (lens[i] > METRICS_MAX_LABEL_VALUE_BYTES)
            return HARK_ETOOBIG;
        if (!utf8_valid(values[i], lens[i]))
            return HARK_EINVAL;
    }
    if (f->n_series >= METRICS_MAX_SERIES)
        return HARK_ETOOBIG;
    int rc = series_reserve(f);
    if (rc)
        return rc;
    struct series *s = series_alloc(f, values, lens, n, hash);
    if (!s)
        return HARK_ENOMEM;
    slots_put(f->slots, f->n_slots, hash, (uint32_t)f->n_series);
    f->series[f->n_series++] = s;
    *out = s;
    return 0;
}

static void count_drop(struct metric *f, bool first)
{
    if (first)
        log_warn("metrics",
                 "msg=\"series dropped, further drops are only counted\" "
                 "family=%s max_series=%d max_label_value_bytes=%d",
                 f->name, METRICS_MAX_SERIES, METRICS_MAX_LABEL_VALUE_BYTES);
    struct metric *d = f->reg->dropped;
    pthread_mutex_lock(&d->lock);
    d->series[0]->value += 1;
    pthread_mutex_unlock(&d->lock);
}

/* On success returns with f->lock held; the caller updates *out and unlocks. */
static int series_acquire(struct metric *f, const char *const *values,
                          struct series **out)
{
    if (f->n_labels == 0) {
        pthread_mutex_lock(&f->lock);
        *out = f->series[0];
        return 0;
    }
    if (!values)
        return HARK_EINVAL;
    for (size_t i = 0; i < f->n_labels; i++)
        if (!values[i])
            return HARK_EINVAL;
    uint64_t hash = hash_values(values, f->n_labels);
    pthread_mutex_lock(&f->lock);
    *out = series_find(f, values, hash);
    if (*out)
        return 0;
    int rc = series_create(f, values, hash, out);
    if (rc == 0)
        return 0;
    bool first = rc == HARK_ETOOBIG && !f->drop_logged;
    if (rc == HARK_ETOOBIG)
        f->drop_logged = true;
    pthread_mutex_unlock(&f->lock);
    if (rc == HARK_ETOOBIG)
        count_drop(f, first);
    return rc;
}

/* ---- families ---- */

static void family_free(struct metric *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_series; i++)
        hark_free(f->series[i]);
    hark_free(f->series);
    hark_free(f->slots);
    for (size_t i = 0; i < f->n_labels; i++)
        hark_free(f->labels[i]);
    hark_free(f->bounds);
    hark_free(f->help);
    hark_free(f->name);
    pthread_mutex_destroy(&f->lock);
    hark_free(f);
}

static int family_new(struct metrics *m, enum metric_type type,
                      const char *name, const char *help,
                      const char *const *labels, size_t n_labels,
                      const double *bounds, size_t n_bounds,
                      struct metric **out)
{
    struct metric *f = hark_calloc(1, sizeof *f);
    if (!f)
        return HARK_ENOMEM;
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        hark_free(f);
        return HARK_ENOMEM;
    }
    f->reg = m;
    f->type = type;
    f->name = hark_strdup(name);
    f->help = hark_strdup(help);
    if (!f->name || !f->help)
        goto nomem;
    for (; f->n_labels < n_labels; f->n_labels++) {
        f->labels[f->n_labels] = hark_strdup(labels[f->n_labels]);
        if (!f->labels[f->n_labels])
            goto nomem;
    }
    if (n_bounds) {
        f->bounds = hark_malloc(n_bounds * sizeof *f->bounds);
        if (!f->bounds)
            goto nomem;
        memcpy(f->bounds, bounds, n_bounds * sizeof *f->bounds);
        f->n_bounds = n_bounds;
    }
    /* A family without labels has exactly one series; creating it now keeps
     * its recording path free of allocation and failure. */
    if (n_labels == 0) {
        struct series *s = series_alloc(f, NULL, NULL, 0, 0);
        struct series **v = s ? hark_malloc(sizeof *v) : NULL;
        if (!v) {
            hark_free(s);
            goto nomem;
        }
        v[0] = s;
        f->series = v;
        f->n_series = f->cap_series = 1;
    }
    *out = f;
    return 0;
nomem:
    family_free(f);
    return HARK_ENOMEM;
}

/* Index of the family named name, or where it would go; m->lock held. */
static size_t family_search(const struct metrics *m, const char *name,
                            bool *found)
{
    size_t lo = 0, hi = m->n_fams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->fams[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static int family_insert_locked(struct metrics *m, size_t pos,
                                struct metric *f)
{
    if (m->n_fams == m->cap_fams) {
        size_t cap = m->cap_fams ? m->cap_fams * 2 : 16;
        struct metric **v = hark_realloc(m->fams, cap * sizeof *v);
        if (!v)
            return HARK_ENOMEM;
        m->fams = v;
        m->cap_fams = cap;
    }
    memmove(m->fams + pos + 1, m->fams + pos,
            (m->n_fams - pos) * sizeof *m->fams);
    m->fams[pos] = f;
    m->n_fams++;
    return 0;
}

static int metrics_register(struct metrics *m, enum metric_type type,
                            const char *name, const char *help,
                            const char *const *labels, size_t n_labels,
                            const double *bounds, size_t n_bounds,
                            struct metric **out)
{
    if (!m || !out)
        return HARK_EINVAL;
    int rc = check_shape(type, name, help, labels, n_labels, bounds, n_bounds);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->lock);
    bool found;
    size_t pos = family_search(m, name, &found);
    if (found) {
        struct metric *f = m->fams[pos];
        rc = same_shape(f, type, labels, n_labels, bounds, n_bounds)
                 ? 0
                 : HARK_EEXIST;
        if (rc == 0)
            *out = f;
    } else {
        struct metric *f;
        rc = family_new(m, type, name, help, labels, n_labels, bounds,
                        n_bounds, &f);
        if (rc == 0) {
            rc = family_insert_locked(m, pos, f);
            if (rc)
                family_free(f);
            else
                *out = f;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int metrics_counter(struct metrics *m, const char *name, const char *help,
                    const char *const *labels, size_t n_labels,
                    struct metric **out)
{
    return metrics_register(m, METRIC_COUNTER, name, help, labels, n_labels,
                            NULL, 0, out);
}

int metrics_gauge(struct metrics *m, const char *name, const char *help,
                  const char *const *labels, size_t n_labels,
                  struct metric **out)
{
    return metrics_register(m, METRIC_GAUGE, name, help, labels, n_labels,
                            NULL, 0, out);
}

int metrics_histogram(struct metrics *m, const char *name, const char *help,
                      const char *const *labels, size_t n_labels,
                      const double *buckets, size_t n_buckets,
                      struct metric **out)
{
    return metrics_register(m, METRIC_HISTOGRAM, name, help, labels, n_labels,
                            buckets, n_buckets, out);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_fams; i++)
        family_free(m->fams[i]);
    hark_free(m->fams);
    pthread_mutex_destroy(&m->lock);
    hark_free(m);
}

int metrics_new(struct metrics **out)
{
    if (!out)
        return HARK_EINVAL;
    struct metrics *m = hark_calloc(1, sizeof *m);
    if (!m)
        return HARK_ENOMEM;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        hark_free(m);
        return HARK_ENOMEM;
    }
    int rc = metrics_counter(m, DROPPED_NAME,
                             "Recordings refused because their family reached "
                             "its series cap or a label value was too long.",
                             NULL, 0, &m->dropped);
    if (rc) {
        metrics_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- recording ---- */

int metric_add(struct metric *f, const char *const *label_values, double v)
{
    if (!f || f->type == METRIC_HISTOGRAM || !isfinite(v) ||
        (f->type == METRIC_COUNTER && v < 0))
        return HARK_EINVAL;
    struct series *s;
    int rc = series_acquire(f, label_values, &s);
    if (rc)
        return rc;
    s->value += v;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

int metric_set(struct metric *f, const char *const *label_values, double v)
{
    if (!f || f->type != METRIC_GAUGE)
        return HARK_EINVAL;
    struct series *s;
    int rc = series_acquire(f, label_values, &s);
    if (rc)
        return rc;
    s->value = v;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

int metric_observe(struct metric *f, const char *const *label_values, double v)
{
    if (!f || f->type != METRIC_HISTOGRAM || isnan(v))
        return HARK_EINVAL;
    /* First bucket whose upper bound is >= v; n_bounds is the +Inf one. */
    size_t lo = 0, hi = f->n_bounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v <= f->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    struct series *s;
    int rc = series_acquire(f, label_values, &s);
    if (rc)
        return rc;
    s->counts[lo]++;
    s->value += v;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

/* ---- rendering ---- */

static void format_double(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, size, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (v == 0) {
        snprintf(buf, size, "0"); /* also -0 */
    } else if (fabs(v) <= MAX_EXACT_INT && v == floor(v)) {
        snprintf(buf, size, "%.0f", v);
    } else {
        /* Shortest of 15..17 significant digits that reads back exactly:
         * 0.1 stays "0.1" rather than "0.10000000000000001". */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, size, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
}

/* Escapes \ and newline, and " too when quoted (label values). */
static int put_escaped(struct hbuf *out, const char *s, bool quoted)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep;
        if (*s == '\\')
            rep = "\\\\";
        else if (*s == '\n')
            rep = "\\n";
        else if (quoted && *s == '"')
            rep = "\\\"";
        else
            continue;
        int rc = hbuf_append(out, run, (size_t)(s - run));
        if (rc == 0)
            rc = hbuf_puts(out, rep);
        if (rc)
            return rc;
        run = s + 1;
    }
    return hbuf_append(out, run, (size_t)(s - run));
}

/* One line: <name><suffix>{labels[,le="<le>"]} <value>. */
static int put_sample(struct hbuf *out, const struct metric *f,
                      const struct series *s, const char *suffix,
                      const char *le, const char *value)
{
    int rc = hbuf_printf(out, "%s%s", f->name, suffix);
    if (rc == 0 && (f->n_labels || le))
        rc = hbuf_puts(out, "{");
    for (size_t i = 0; rc == 0 && i < f->n_labels; i++) {
        rc = hbuf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (rc == 0)
            rc = put_escaped(out, s->values[i], true);
        if (rc == 0)
            rc = hbuf_puts(out, "\"");
    }
    if (rc == 0 && le)
        rc = hbuf_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    if (rc == 0 && (f->n_labels || le))
        rc = hbuf_puts(out, "}");
    if (rc == 0)
        rc = hbuf_printf(out, " %s\n", value);
    return rc;
}

static int put_histogram(struct hbuf *out, const struct metric *f,
                         const struct series *s)
{
    char le[32], num[32];
    uint64_t cumulative = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i <= f->n_bounds; i++) {
        cumulative += s->counts[i];
        if (i < f->n_bounds)
            format_double(le, sizeof le, f->bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        snprintf(num, sizeof num, "%" PRIu64, cumulative);
        rc = put_sample(out, f, s, "_bucket", le, num);
    }
    if (rc == 0) {
        format_double(num, sizeof num, s->value);
        rc = put_sample(out, f, s, "_sum", NULL, num);
    }
    if (rc == 0) {
        snprintf(num, sizeof num, "%" PRIu64, cumulative);
        rc = put_sample(out, f, s, "_count", NULL, num);
    }
    return rc;
}

static const char *type_name(enum metric_type t)
{
    switch (t) {
    case METRIC_COUNTER:
        return "counter";
    case METRIC_GAUGE:
        return "gauge";
    case METRIC_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

/* f->lock held. Families with no series yet are left out, as the Go client
 * does: a HELP/TYPE pair without samples tells a reader nothing. */
static int render_family(struct hbuf *out, const struct metric *f)
{
    if (f->n_series == 0)
        return 0;
    int rc = hbuf_printf(out, "# HELP %s ", f->name);
    if (rc == 0)
        rc = put_escaped(out, f->help, false);
    if (rc == 0)
        rc = hbuf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
    for (size_t i = 0; rc == 0 && i < f->n_series; i++) {
        const struct series *s = f->series[i];
        if (f->type == METRIC_HISTOGRAM) {
            rc = put_histogram(out, f, s);
        } else {
            char num[32];
            format_double(num, sizeof num, s->value);
            rc = put_sample(out, f, s, "", NULL, num);
        }
    }
    return rc;
}

int metrics_render(struct metrics *m, struct hbuf *out)
{
    if (!m || !out)
        return HARK_EINVAL;
    size_t start = out->len;
    int rc = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; rc == 0 && i < m->n_fams; i++) {
        struct metric *f = m->fams[i];
        pthread_mutex_lock(&f->lock);
        rc = render_family(out, f);
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_unlock(&m->lock);
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}
