/* metrics.h — a Prometheus metrics registry and its text exposition.
 *
 * Every module records into one registry (HTTP latency, bots active, queue
 * depth, audio seconds ...) and /metrics renders it in the Prometheus text
 * format 0.0.4, which `promtool check metrics` accepts:
 *
 *   struct metric *req;
 *   const char *labels[] = {"route", "code"};
 *   rc = metrics_histogram(m, "hark_http_request_duration_seconds",
 *                          "Time to answer an HTTP request.", labels, 2,
 *                          metrics_latency_buckets_seconds,
 *                          METRICS_LATENCY_BUCKETS_N, &req);
 *   ...
 *   rc = metric_observe(req, (const char *[]){"/bots", "201"}, 0.012);
 *
 * A family (struct metric) has a name, help text, a type and label names; a
 * series is one combination of label values, created on first use.
 *
 * Names are stricter than the Prometheus data model so that what we expose
 * also passes promtool's lint: metric names match [a-z_][a-z0-9_]* (no ':',
 * which is for recording rules, and no capitals, which promtool calls
 * camelCase); label names match [a-z_][a-z0-9_]* and do not start with "__".
 * Counters end in "_total" and nothing else does; no name ends in "_bucket",
 * "_count" or "_sum" (they would collide with a histogram's samples); "le" and
 * "quantile" are not label names. promtool also wants base units in names
 * ("_seconds", "_bytes", not "_ms"): that one is up to the caller.
 *
 * Memory is bounded against peer-controlled label values: a family holds at
 * most METRICS_MAX_SERIES series and a label value at most
 * METRICS_MAX_LABEL_VALUE_BYTES bytes; past either, recording returns
 * HARK_ETOOBIG and counts the drop in hark_metrics_dropped_series_total.
 * Label values must be valid UTF-8 (HARK_EINVAL otherwise), since one bad byte
 * would make Prometheus reject the whole scrape.
 *
 * Cost: a family without labels is one mutex lock and an add. With labels, the
 * values are hashed (FNV-1a, outside the lock) and looked up in an
 * open-addressed table under the family's mutex: O(1) on average, O(series)
 * when values collide, which the series cap bounds. Only the first use of a
 * label combination allocates.
 *
 * Thread safety: registering, recording and rendering may all happen at once
 * from any threads. Rendering holds each family's mutex while it formats that
 * family, so recorders of that family wait for that long. metrics_free()
 * must not race with anything. */
#ifndef HARK_METRICS_H
#define HARK_METRICS_H
#include <stddef.h>
#include "hark/buf.h"
#include "hark/error.h"

struct metrics;                    /* a registry; opaque */
struct metric;                     /* one family; opaque */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define METRICS_MAX_LABELS 8
#define METRICS_MAX_BUCKETS 64
#define METRICS_MAX_SERIES 1000            /* per family */
#define METRICS_MAX_LABEL_VALUE_BYTES 256

/* Request latency buckets in seconds, 0.5 ms to 10 s. 2 and 5 are bounds so
 * the p95 > 2 s / > 5 s alerts compare against exact bucket edges rather
 * than interpolated guesses. */
#define METRICS_LATENCY_BUCKETS_N 14
extern const double metrics_latency_buckets_seconds[METRICS_LATENCY_BUCKETS_N];

/* Creates an empty registry (it holds only hark_metrics_dropped_series_total).
 * On success *out is owned by the caller and freed with metrics_free(). */
HARK_MUST_CHECK int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);      /* NULL is fine */

/* Register a family. name, help, label names and buckets are copied; help
 * must be non-empty valid UTF-8. labels may be NULL when n_labels is 0; at
 * most METRICS_MAX_LABELS, no duplicates. Histogram buckets are up to
 * METRICS_MAX_BUCKETS strictly ascending finite upper bounds (the +Inf bucket
 * is implied; n_buckets may be 0).
 * Registering a name again with the same type, label names and buckets
 * returns the existing family (its first help text stays); with a different
 * shape HARK_EEXIST. Invalid arguments HARK_EINVAL, HARK_ENOMEM.
 * *out is borrowed from the registry and lives as long as it does. */
HARK_MUST_CHECK int metrics_counter(struct metrics *m, const char *name,
                                    const char *help,
                                    const char *const *labels, size_t n_labels,
                                    struct metric **out);
HARK_MUST_CHECK int metrics_gauge(struct metrics *m, const char *name,
                                  const char *help,
                                  const char *const *labels, size_t n_labels,
                                  struct metric **out);
HARK_MUST_CHECK int metrics_histogram(struct metrics *m, const char *name,
                                      const char *help,
                                      const char *const *labels,
                                      size_t n_labels, const double *buckets,
                                      size_t n_buckets, struct metric **out);

/* Recording. label_values holds exactly the family's n_labels strings, in the
 * order of its label names (NULL is fine when there are none); they are
 * borrowed for the call and copied when they create a new series.
 * Errors: HARK_EINVAL for the wrong family type, a NULL or invalid UTF-8
 * value, or a value the function refuses (below); HARK_ETOOBIG past the
 * series cap or label value size (the sample is dropped and counted);
 * HARK_ENOMEM when a new series cannot be allocated. A family without labels
 * never fails with HARK_ENOMEM or HARK_ETOOBIG. */

/* Counters: v finite and >= 0. Gauges: v finite, either sign. */
int metric_add(struct metric *f,
                               const char *const *label_values, double v);
/* Gauges only; any value, including NaN and infinities. */
int metric_set(struct metric *f,
                               const char *const *label_values, double v);
/* Histograms only; v not NaN. */
int metric_observe(struct metric *f,
                                   const char *const *label_values, double v);

/* Appends every family with at least one series to out, families sorted by
 * name and series in creation order: "# HELP", "# TYPE", then the samples;
 * a histogram as cumulative name_bucket{...,le="<bound>"} lines ending with
 * le="+Inf", then name_sum and name_count. Numbers are integers without an
 * exponent when exact (|v| <= 2^53), otherwise the shortest %g form that
 * reads back to the same double; +Inf, -Inf, NaN as Prometheus spells them.
 * Assumes the C locale for numbers (Hark never calls setlocale).
 * On error (HARK_ETOOBIG from out's limit, HARK_ENOMEM) out is left as it
 * was before the call. */
HARK_MUST_CHECK int metrics_render(struct metrics *m, struct hbuf *out);

#endif
