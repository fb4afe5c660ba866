#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hark/buf.h"
#include "hark/error.h"
#include "hark/mem.h"
#include "hark/metrics.h"

#define DROPPED(n)                                                          \
    "# HELP hark_metrics_dropped_series_total Recordings refused because "  \
    "their family reached its series cap or a label value was too long.\n"  \
    "# TYPE hark_metrics_dropped_series_total counter\n"                    \
    "hark_metrics_dropped_series_total " #n "\n"

static const char *const ROUTE_CODE[] = {"route", "code"};

static struct metrics *registry(void)
{
    struct metrics *m = NULL;
    assert_int_equal(metrics_new(&m), 0);
    assert_non_null(m);
    return m;
}

/* The rendered text; caller frees with hark_free(). */
static char *render(struct metrics *m)
{
    struct hbuf b;
    hbuf_init(&b, 0);
    assert_int_equal(metrics_render(m, &b), 0);
    char *s = hbuf_take(&b);
    assert_non_null(s);
    return s;
}

static void assert_renders(struct metrics *m, const char *expected)
{
    char *s = render(m);
    assert_string_equal(s, expected);
    hark_free(s);
}

/* The value on the line starting with `prefix` (a sample name with labels). */
static const char *sample_value(const char *text, const char *prefix,
                                char *buf, size_t size)
{
    size_t n = strlen(prefix);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, prefix, n) == 0 && line[n] == ' ') {
            size_t len = (size_t)(end - line) - n - 1;
            assert_true(len < size);
            memcpy(buf, line + n + 1, len);
            buf[len] = '\0';
            return buf;
        }
        line = end + 1;
    }
    fail_msg("no sample %s in:\n%s", prefix, text);
    return NULL;
}

static void empty_registry_renders_only_the_dropped_counter(void **state)
{
    (void)state;
    struct metrics *m = registry();
    assert_renders(m, DROPPED(0));
    metrics_free(m);
    metrics_free(NULL);
}

static void counter_without_labels_renders_exactly(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *c;
    assert_int_equal(metrics_counter(m, "hark_audio_seconds_total",
                                     "Audio received.", NULL, 0, &c), 0);
    assert_int_equal(metric_add(c, NULL, 1), 0);
    assert_int_equal(metric_add(c, NULL, 2.5), 0);
    assert_renders(m, "# HELP hark_audio_seconds_total Audio received.\n"
                      "# TYPE hark_audio_seconds_total counter\n"
                      "hark_audio_seconds_total 3.5\n" DROPPED(0));
    metrics_free(m);
}

static void counter_with_labels_renders_series_in_creation_order(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *c;
    assert_int_equal(metrics_counter(m, "http_requests_total", "Requests.",
                                     ROUTE_CODE, 2, &c), 0);
    assert_int_equal(metric_add(c, (const char *[]){"/bots", "201"}, 1), 0);
    assert_int_equal(metric_add(c, (const char *[]){"/bots", "422"}, 1), 0);
    assert_int_equal(metric_add(c, (const char *[]){"/bots", "201"}, 2), 0);
    assert_int_equal(metric_add(c, (const char *[]){"/admin", "201"}, 1), 0);
    assert_renders(m, DROPPED(0)
                   "# HELP http_requests_total Requests.\n"
                   "# TYPE http_requests_total counter\n"
                   "http_requests_total{route=\"/bots\",code=\"201\"} 3\n"
                   "http_requests_total{route=\"/bots\",code=\"422\"} 1\n"
                   "http_requests_total{route=\"/admin\",code=\"201\"} 1\n");
    metrics_free(m);
}

static void gauge_set_and_add_render_exactly(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *g, *q;
    assert_int_equal(metrics_gauge(m, "hark_bots_active", "Bots in a meeting.",
                                   NULL, 0, &g), 0);
    assert_int_equal(metric_set(g, NULL, 5), 0);
    assert_int_equal(metric_add(g, NULL, -2), 0);
    const char *queue[] = {"queue"};
    assert_int_equal(metrics_gauge(m, "hark_queue_depth", "Jobs waiting.",
                                   queue, 1, &q), 0);
    assert_int_equal(metric_set(q, (const char *[]){"batch"}, 7), 0);
    assert_int_equal(metric_set(q, (const char *[]){"webhook"}, 0), 0);
    assert_int_equal(metric_set(q, (const char *[]){"batch"}, 4), 0);
    assert_renders(m, "# HELP hark_bots_active Bots in a meeting.\n"
                      "# TYPE hark_bots_active gauge\n"
                      "hark_bots_active 3\n" DROPPED(0)
                      "# HELP hark_queue_depth Jobs waiting.\n"
                      "# TYPE hark_queue_depth gauge\n"
                      "hark_queue_depth{queue=\"batch\"} 4\n"
                      "hark_queue_depth{queue=\"webhook\"} 0\n");
    metrics_free(m);
}

static void histogram_without_labels_renders_cumulative_buckets(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *h;
    const double b[] = {0.125, 0.5, 1};
    assert_int_equal(metrics_histogram(m, "latency_seconds", "Latency.", NULL, 0,
                                       b, 3, &h), 0);
    /* 0.125 sits in le="0.125": bounds are inclusive upper bounds. Values are
     * binary fractions so the sum is exact. */
    const double obs[] = {0.0625, 0.125, 0.25, 0.75, 2, 0.375};
    for (size_t i = 0; i < sizeof obs / sizeof *obs; i++)
        assert_int_equal(metric_observe(h, NULL, obs[i]), 0);
    assert_renders(m, DROPPED(0)
                   "# HELP latency_seconds Latency.\n"
                   "# TYPE latency_seconds histogram\n"
                   "latency_seconds_bucket{le=\"0.125\"} 2\n"
                   "latency_seconds_bucket{le=\"0.5\"} 4\n"
                   "latency_seconds_bucket{le=\"1\"} 5\n"
                   "latency_seconds_bucket{le=\"+Inf\"} 6\n"
                   "latency_seconds_sum 3.5625\n"
                   "latency_seconds_count 6\n");
    metrics_free(m);
}

static void histogram_with_labels_puts_le_last(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *h;
    const double b[] = {1, 2};
    assert_int_equal(metrics_histogram(m, "x_seconds", "X.", ROUTE_CODE, 2, b, 2,
                                       &h), 0);
    assert_int_equal(metric_observe(h, (const char *[]){"/a", "200"}, 1.5), 0);
    assert_int_equal(metric_observe(h, (const char *[]){"/b", "500"}, 9), 0);
    assert_renders(m, DROPPED(0)
                   "# HELP x_seconds X.\n"
                   "# TYPE x_seconds histogram\n"
                   "x_seconds_bucket{route=\"/a\",code=\"200\",le=\"1\"} 0\n"
                   "x_seconds_bucket{route=\"/a\",code=\"200\",le=\"2\"} 1\n"
                   "x_seconds_bucket{route=\"/a\",code=\"200\",le=\"+Inf\"} 1\n"
                   "x_seconds_sum{route=\"/a\",code=\"200\"} 1.5\n"
                   "x_seconds_count{route=\"/a\",code=\"200\"} 1\n"
                   "x_seconds_bucket{route=\"/b\",code=\"500\",le=\"1\"} 0\n"
                   "x_seconds_bucket{route=\"/b\",code=\"500\",le=\"2\"} 0\n"
                   "x_seconds_bucket{route=\"/b\",code=\"500\",le=\"+Inf\"} 1\n"
                   "x_seconds_sum{route=\"/b\",code=\"500\"} 9\n"
                   "x_seconds_count{route=\"/b\",code=\"500\"} 1\n");
    metrics_free(m);
}

static void histogram_with_no_bounds_has_only_the_inf_bucket(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *h;
    assert_int_equal(metrics_histogram(m, "y_bytes", "Y.", NULL, 0, NULL, 0, &h),
                     0);
    assert_int_equal(metric_observe(h, NULL, 3), 0);
    assert_renders(m, DROPPED(0)
                   "# HELP y_bytes Y.\n"
                   "# TYPE y_bytes histogram\n"
                   "y_bytes_bucket{le=\"+Inf\"} 1\n"
                   "y_bytes_sum 3\n"
                   "y_bytes_count 1\n");
    metrics_free(m);
}

static void latency_buckets_render_as_written(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *h;
    assert_int_equal(metrics_histogram(m, "req_seconds", "Requests.", NULL, 0,
                                       metrics_latency_buckets_seconds,
                                       METRICS_LATENCY_BUCKETS_N, &h), 0);
    assert_int_equal(metric_observe(h, NULL, 0.0007), 0);
    char *s = render(m);
    char v[32];
    assert_string_equal(sample_value(s, "req_seconds_bucket{le=\"0.0005\"}", v,
                                     sizeof v), "0");
    assert_string_equal(sample_value(s, "req_seconds_bucket{le=\"0.001\"}", v,
                                     sizeof v), "1");
    assert_string_equal(sample_value(s, "req_seconds_bucket{le=\"2\"}", v,
                                     sizeof v), "1");
    assert_string_equal(sample_value(s, "req_seconds_bucket{le=\"10\"}", v,
                                     sizeof v), "1");
    assert_string_equal(sample_value(s, "req_seconds_sum", v, sizeof v),
                        "0.0007");
    hark_free(s);
    metrics_free(m);
}

static void numbers_render_as_prometheus_spells_them(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *g;
    const char *k[] = {"k"};
    assert_int_equal(metrics_gauge(m, "num", "Numbers.", k, 1, &g), 0);
    const struct {
        const char *k;
        double v;
        const char *text;
    } cases[] = {
        {"nan", NAN, "NaN"},
        {"pinf", INFINITY, "+Inf"},
        {"ninf", -INFINITY, "-Inf"},
        {"negzero", -0.0, "0"},
        {"tenth", 0.1, "0.1"},
        {"third", 1.0 / 3.0, "0.3333333333333333"},
        {"sum", 0.1 + 0.2, "0.30000000000000004"},
        {"neg", -42, "-42"},
        {"big_exact", 9007199254740992.0, "9007199254740992"},
        {"past_exact", 9007199254740994.0, "9007199254740994"},
        {"two_pow_60", 1152921504606846976.0, "1.152921504606847e+18"},
        {"huge", 1e300, "1e+300"},
        {"tiny", 1e-5, "1e-05"},
        {"small", 0.0005, "0.0005"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_int_equal(metric_set(g, &cases[i].k, cases[i].v), 0);
    char *s = render(m);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char prefix[64], v[64];
        snprintf(prefix, sizeof prefix, "num{k=\"%s\"}", cases[i].k);
        assert_string_equal(sample_value(s, prefix, v, sizeof v), cases[i].text);
    }
    hark_free(s);
    metrics_free(m);
}

static void label_values_and_help_are_escaped(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *c;
    const char *l[] = {"path"};
    assert_int_equal(metrics_counter(m, "esc_total",
                                     "Back\\slash, \"quotes\"\nand newline.", l,
                                     1, &c), 0);
    assert_int_equal(metric_add(c, (const char *[]){"a\\b\"c\nd\xc3\xa9"}, 1), 0);
    assert_renders(m, "# HELP esc_total Back\\\\slash, \"quotes\"\\nand newline.\n"
                      "# TYPE esc_total counter\n"
                      "esc_total{path=\"a\\\\b\\\"c\\nd\xc3\xa9\"} 1\n" DROPPED(0));
    metrics_free(m);
}

static void families_render_sorted_and_unused_ones_are_left_out(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *z, *a, *unused;
    assert_int_equal(metrics_gauge(m, "zeta", "Z.", NULL, 0, &z), 0);
    assert_int_equal(metrics_gauge(m, "alpha", "A.", NULL, 0, &a), 0);
    assert_int_equal(metrics_gauge(m, "middle", "M.", (const char *[]){"x"}, 1,
                                   &unused), 0);
    assert_renders(m, "# HELP alpha A.\n# TYPE alpha gauge\nalpha 0\n" DROPPED(0)
                      "# HELP zeta Z.\n# TYPE zeta gauge\nzeta 0\n");
    metrics_free(m);
}

static void invalid_names_and_labels_are_rejected(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *f = NULL;
    const char *bad_names[] = {
        "", "9lives", "has-dash", "has space", "camelCase", "colon:name",
        "gauge_total", "x_bucket", "x_count", "x_sum", "caf\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
        assert_int_equal(metrics_gauge(m, bad_names[i], "H.", NULL, 0, &f),
                         HARK_EINVAL);
    assert_int_equal(metrics_gauge(m, NULL, "H.", NULL, 0, &f), HARK_EINVAL);
    assert_int_equal(metrics_counter(m, "no_suffix", "H.", NULL, 0, &f),
                     HARK_EINVAL);
    assert_int_equal(metrics_counter(m, "x_count_total", "H.", NULL, 0, &f), 0);
    assert_int_equal(metrics_gauge(m, "_ok_9", "H.", NULL, 0, &f), 0);

    const char *bad_labels[] = {"", "__reserved", "le", "quantile", "Upper",
                                "a-b", "1st", "a:b"};
    for (size_t i = 0; i < sizeof bad_labels / sizeof *bad_labels; i++)
        assert_int_equal(metrics_gauge(m, "g", "H.", &bad_labels[i], 1, &f),
                         HARK_EINVAL);
    assert_int_equal(metrics_gauge(m, "g", "H.", (const char *[]){"a", "a"}, 2,
                                   &f), HARK_EINVAL);
    assert_int_equal(metrics_gauge(m, "g", "H.", NULL, 1, &f), HARK_EINVAL);
    assert_int_equal(metrics_gauge(m, "g", "H.", (const char *[]){NULL}, 1, &f),
                     HARK_EINVAL);
    const char *nine[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    assert_int_equal(metrics_gauge(m, "g", "H.", nine, 9, &f), HARK_EINVAL);
    assert_int_equal(metrics_gauge(m, "g", "H.", nine, 8, &f), 0);

    assert_int_equal(metrics_gauge(m, "h", "", NULL, 0, &f), HARK_EINVAL);
    assert_int_equal(metrics_gauge(m, "h", NULL, NULL, 0, &f), HARK_EINVAL);
    assert_int_equal(metrics_gauge(m, "h", "bad \xff", NULL, 0, &f), HARK_EINVAL);
    assert_int_equal(metrics_gauge(NULL, "h", "H.", NULL, 0, &f), HARK_EINVAL);
    assert_int_equal(metrics_gauge(m, "h", "H.", NULL, 0, NULL), HARK_EINVAL);
    metrics_free(m);
}

static void invalid_buckets_are_rejected(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *h;
    const double descending[] = {1, 0.5};
    const double repeated[] = {1, 1};
    const double inf[] = {1, INFINITY};
    const double nan[] = {NAN};
    assert_int_equal(metrics_histogram(m, "h", "H.", NULL, 0, descending, 2, &h),
                     HARK_EINVAL);
    assert_int_equal(metrics_histogram(m, "h", "H.", NULL, 0, repeated, 2, &h),
                     HARK_EINVAL);
    assert_int_equal(metrics_histogram(m, "h", "H.", NULL, 0, inf, 2, &h),
                     HARK_EINVAL);
    assert_int_equal(metrics_histogram(m, "h", "H.", NULL, 0, nan, 1, &h),
                     HARK_EINVAL);
    assert_int_equal(metrics_histogram(m, "h", "H.", NULL, 0, NULL, 1, &h),
                     HARK_EINVAL);
    double many[METRICS_MAX_BUCKETS + 1];
    for (size_t i = 0; i <= METRICS_MAX_BUCKETS; i++)
        many[i] = (double)i;
    assert_int_equal(metrics_histogram(m, "h", "H.", NULL, 0, many,
                                       METRICS_MAX_BUCKETS + 1, &h), HARK_EINVAL);
    assert_int_equal(metrics_histogram(m, "h", "H.", NULL, 0, many,
                                       METRICS_MAX_BUCKETS, &h), 0);
    metrics_free(m);
}

static void registering_again_returns_same_family_or_eexist(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *a, *b;
    const double bk[] = {1, 2};
    const double bk2[] = {1, 3};
    assert_int_equal(metrics_histogram(m, "h_seconds", "H.", ROUTE_CODE, 2, bk,
                                       2, &a), 0);
    assert_int_equal(metrics_histogram(m, "h_seconds", "Other help.", ROUTE_CODE,
                                       2, bk, 2, &b), 0);
    assert_ptr_equal(a, b);
    b = NULL;
    assert_int_equal(metrics_histogram(m, "h_seconds", "H.", ROUTE_CODE, 2, bk2,
                                       2, &b), HARK_EEXIST);
    assert_int_equal(metrics_histogram(m, "h_seconds", "H.", ROUTE_CODE, 2, bk,
                                       1, &b), HARK_EEXIST);
    assert_int_equal(metrics_histogram(m, "h_seconds", "H.", ROUTE_CODE, 1, bk,
                                       2, &b), HARK_EEXIST);
    assert_int_equal(metrics_histogram(m, "h_seconds", "H.",
                                       (const char *[]){"code", "route"}, 2, bk,
                                       2, &b), HARK_EEXIST);
    assert_int_equal(metrics_gauge(m, "h_seconds", "H.", ROUTE_CODE, 2, &b),
                     HARK_EEXIST);
    assert_null(b);

    struct metric *c1, *c2;
    assert_int_equal(metrics_counter(m, "c_total", "C.", NULL, 0, &c1), 0);
    assert_int_equal(metrics_counter(m, "c_total", "C.", NULL, 0, &c2), 0);
    assert_ptr_equal(c1, c2);
    /* The first help text stays. */
    assert_int_equal(metric_observe(a, (const char *[]){"/", "200"}, 1), 0);
    char *s = render(m);
    assert_non_null(strstr(s, "# HELP h_seconds H.\n"));
    hark_free(s);
    metrics_free(m);
}

static void series_cap_returns_toobig_and_counts_drops(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *c;
    const char *l[] = {"peer"};
    assert_int_equal(metrics_counter(m, "peer_frames_total", "Frames.", l, 1, &c),
                     0);
    char v[16];
    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(v, sizeof v, "p%d", i);
        assert_int_equal(metric_add(c, (const char *[]){v}, 1), 0);
    }
    assert_int_equal(metric_add(c, (const char *[]){"one_too_many"}, 1),
                     HARK_ETOOBIG);
    assert_int_equal(metric_add(c, (const char *[]){"another"}, 1), HARK_ETOOBIG);
    /* Existing series keep working past the cap. */
    assert_int_equal(metric_add(c, (const char *[]){"p7"}, 1), 0);
    char *s = render(m);
    char out[32];
    assert_string_equal(sample_value(s, "hark_metrics_dropped_series_total", out,
                                     sizeof out), "2");
    assert_string_equal(sample_value(s, "peer_frames_total{peer=\"p7\"}", out,
                                     sizeof out), "2");
    assert_string_equal(sample_value(s, "peer_frames_total{peer=\"p999\"}", out,
                                     sizeof out), "1");
    assert_null(strstr(s, "one_too_many"));
    hark_free(s);
    metrics_free(m);
}

static void oversized_or_invalid_label_values_are_refused(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *g;
    const char *l[] = {"v"};
    assert_int_equal(metrics_gauge(m, "g", "G.", l, 1, &g), 0);
    char big[METRICS_MAX_LABEL_VALUE_BYTES + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(metric_set(g, (const char *[]){big}, 1), HARK_ETOOBIG);
    big[sizeof big - 2] = '\0'; /* exactly the limit */
    assert_int_equal(metric_set(g, (const char *[]){big}, 1), 0);

    const char *invalid[] = {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80",
                             "\xf4\x90\x80\x80", "ok\xe2\x82"};
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++)
        assert_int_equal(metric_set(g, &invalid[i], 1), HARK_EINVAL);
    const char *valid[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8e\x99",
                           "\xf4\x8f\xbf\xbf", ""};
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
        assert_int_equal(metric_set(g, &valid[i], 1), 0);
    char *s = render(m);
    char out[32];
    assert_string_equal(sample_value(s, "hark_metrics_dropped_series_total", out,
                                     sizeof out), "1");
    hark_free(s);
    metrics_free(m);
}

static void counter_refuses_negative_and_non_finite_increments(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *c, *g;
    assert_int_equal(metrics_counter(m, "c_total", "C.", NULL, 0, &c), 0);
    assert_int_equal(metric_add(c, NULL, -1), HARK_EINVAL);
    assert_int_equal(metric_add(c, NULL, NAN), HARK_EINVAL);
    assert_int_equal(metric_add(c, NULL, INFINITY), HARK_EINVAL);
    assert_int_equal(metric_add(c, NULL, 0), 0);
    assert_int_equal(metrics_gauge(m, "g", "G.", NULL, 0, &g), 0);
    assert_int_equal(metric_add(g, NULL, NAN), HARK_EINVAL);
    assert_int_equal(metric_add(g, NULL, -1.5), 0);
    assert_renders(m, "# HELP c_total C.\n# TYPE c_total counter\nc_total 0\n"
                      "# HELP g G.\n# TYPE g gauge\ng -1.5\n" DROPPED(0));
    metrics_free(m);
}

static void operations_of_the_wrong_type_or_arity_are_rejected(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *c, *g, *h;
    assert_int_equal(metrics_counter(m, "c_total", "C.", ROUTE_CODE, 2, &c), 0);
    assert_int_equal(metrics_gauge(m, "g", "G.", NULL, 0, &g), 0);
    assert_int_equal(metrics_histogram(m, "h", "H.", NULL, 0, NULL, 0, &h), 0);
    const char *rc[] = {"/", "200"};
    assert_int_equal(metric_set(c, rc, 1), HARK_EINVAL);
    assert_int_equal(metric_observe(c, rc, 1), HARK_EINVAL);
    assert_int_equal(metric_observe(g, NULL, 1), HARK_EINVAL);
    assert_int_equal(metric_add(h, NULL, 1), HARK_EINVAL);
    assert_int_equal(metric_set(h, NULL, 1), HARK_EINVAL);
    assert_int_equal(metric_observe(h, NULL, NAN), HARK_EINVAL);
    assert_int_equal(metric_add(c, NULL, 1), HARK_EINVAL);
    assert_int_equal(metric_add(c, (const char *[]){"/", NULL}, 1), HARK_EINVAL);
    assert_int_equal(metric_add(NULL, NULL, 1), HARK_EINVAL);
    assert_int_equal(metric_set(NULL, NULL, 1), HARK_EINVAL);
    assert_int_equal(metric_observe(NULL, NULL, 1), HARK_EINVAL);
    assert_renders(m, "# HELP g G.\n# TYPE g gauge\ng 0\n"
                      "# HELP h H.\n# TYPE h histogram\n"
                      "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n" DROPPED(0));
    metrics_free(m);
}

static void failed_render_leaves_the_buffer_as_it_was(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct metric *a;
    /* "a" renders first and fits; the failure comes part way through. */
    assert_int_equal(metrics_gauge(m, "a", "A.", NULL, 0, &a), 0);
    struct hbuf b;
    hbuf_init(&b, 40);
    assert_int_equal(hbuf_puts(&b, "prefix"), 0);
    assert_int_equal(metrics_render(m, &b), HARK_ETOOBIG);
    assert_int_equal(b.len, 6);
    assert_string_equal(b.data, "prefix");
    hbuf_release(&b);

    hbuf_init(&b, 0);
    assert_int_equal(hbuf_puts(&b, "prefix"), 0);
    hark_mem_fail_after(0);
    assert_int_equal(metrics_render(m, &b), HARK_ENOMEM);
    hark_mem_fail_after(-1);
    assert_string_equal(b.data, "prefix");
    hbuf_release(&b);
    metrics_free(m);
}

enum { THREADS = 4, ITERS = 10000 };

struct worker_arg {
    struct metric *plain, *labelled, *hist;
    int id;
};

static void *worker_main(void *p)
{
    struct worker_arg *a = p;
    const char *peer[] = {a->id % 2 ? "odd" : "even"};
    for (int i = 0; i < ITERS; i++) {
        if (metric_add(a->plain, NULL, 1) || metric_add(a->labelled, peer, 1) ||
            metric_observe(a->hist, peer, (double)(i % 3)))
            return p;
    }
    return NULL;
}

struct render_arg {
    struct metrics *m;
    _Atomic int stop;
    int failed;
};

static void *render_main(void *p)
{
    struct render_arg *r = p;
    while (!r->stop) {
        struct hbuf b;
        hbuf_init(&b, 0);
        if (metrics_render(r->m, &b))
            r->failed = 1;
        hbuf_release(&b);
    }
    return NULL;
}

static void concurrent_recording_while_rendering_loses_nothing(void **state)
{
    (void)state;
    struct metrics *m = registry();
    struct worker_arg args[THREADS];
    struct metric *plain, *labelled, *hist;
    const char *l[] = {"peer"};
    const double b[] = {0.5, 1.5};
    assert_int_equal(metrics_counter(m, "plain_total", "P.", NULL, 0, &plain), 0);
    assert_int_equal(metrics_counter(m, "lab_total", "L.", l, 1, &labelled), 0);
    assert_int_equal(metrics_histogram(m, "hist", "H.", l, 1, b, 2, &hist), 0);
    struct render_arg r = {.m = m};
    pthread_t renderer, t[THREADS];
    assert_int_equal(pthread_create(&renderer, NULL, render_main, &r), 0);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct worker_arg){plain, labelled, hist, i};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    r.stop = 1;
    assert_int_equal(pthread_join(renderer, NULL), 0);
    assert_false(r.failed);

    char *s = render(m);
    char v[32];
    assert_string_equal(sample_value(s, "plain_total", v, sizeof v), "40000");
    assert_string_equal(sample_value(s, "lab_total{peer=\"even\"}", v, sizeof v),
                        "20000");
    assert_string_equal(sample_value(s, "lab_total{peer=\"odd\"}", v, sizeof v),
                        "20000");
    /* Per thread: i % 3 gives 3334 zeros, 3333 ones, 3333 twos. */
    assert_string_equal(sample_value(s, "hist_bucket{peer=\"odd\",le=\"0.5\"}", v,
                                     sizeof v), "6668");
    assert_string_equal(sample_value(s, "hist_bucket{peer=\"odd\",le=\"1.5\"}", v,
                                     sizeof v), "13334");
    assert_string_equal(sample_value(s, "hist_count{peer=\"odd\"}", v, sizeof v),
                        "20000");
    assert_string_equal(sample_value(s, "hist_sum{peer=\"even\"}", v, sizeof v),
                        "19998");
    hark_free(s);
    metrics_free(m);
}

/* Builds and uses a registry with injected failures; returns the first error.
 * Whatever fails, the registry stays usable and is freed by the caller. */
static int exercise(struct metrics **mp)
{
    int rc = metrics_new(mp);
    if (rc)
        return rc;
    struct metrics *m = *mp;
    struct metric *c, *g, *h;
    const double b[] = {0.1, 1};
    if ((rc = metrics_counter(m, "c_total", "C.", ROUTE_CODE, 2, &c)) ||
        (rc = metrics_gauge(m, "g", "G.", NULL, 0, &g)) ||
        (rc = metrics_histogram(m, "h", "H.", ROUTE_CODE, 2, b, 2, &h)))
        return rc;
    char v[16];
    for (int i = 0; i < 40; i++) {
        snprintf(v, sizeof v, "v%d", i);
        const char *vals[] = {v, "200"};
        if ((rc = metric_add(c, vals, 1)) || (rc = metric_set(g, NULL, i)) ||
            (rc = metric_observe(h, vals, 0.5)))
            return rc;
    }
    struct hbuf out;
    hbuf_init(&out, 0);
    rc = metrics_render(m, &out);
    hbuf_release(&out);
    return rc;
}

static void every_allocation_failure_returns_enomem_without_leaking(void **state)
{
    (void)state;
    for (long n = 0;; n++) {
        struct metrics *m = NULL;
        hark_mem_fail_after(n);
        int rc = exercise(&m);
        long failures = hark_mem_failures();
        hark_mem_fail_after(-1);
        if (failures == 0) {
            assert_int_equal(rc, 0);
            assert_true(n > 20);
            metrics_free(m);
            break;
        }
        assert_int_equal(rc, HARK_ENOMEM);
        if (m) {
            /* Still consistent: renders and records after the failure. */
            struct hbuf out;
            hbuf_init(&out, 0);
            assert_int_equal(metrics_render(m, &out), 0);
            hbuf_release(&out);
        }
        metrics_free(m);
        harness_assert_no_leaks();
    }
    harness_assert_no_leaks();
}

static void promtool_accepts_the_rendered_registry(void **state)
{
    (void)state;
    if (access("/usr/bin/promtool", X_OK) != 0) {
        print_message("promtool not installed (Debian package prometheus): "
                      "skipping\n");
        skip();
    }
    struct metrics *m = registry();
    struct metric *c, *g, *h, *u;
    const double b[] = {0.005, 0.1, 1};
    assert_int_equal(metrics_counter(m, "hark_http_requests_total",
                                     "HTTP requests by route and status code.\n"
                                     "A back\\slash and \"quotes\" in help.",
                                     ROUTE_CODE, 2, &c), 0);
    assert_int_equal(metrics_gauge(m, "hark_streams_active",
                                   "Streams being transcribed.",
                                   (const char *[]){"tier"}, 1, &g), 0);
    assert_int_equal(metrics_histogram(m, "hark_http_request_duration_seconds",
                                       "Time to answer.", ROUTE_CODE, 2, b, 3,
                                       &h), 0);
    assert_int_equal(metrics_gauge(m, "hark_worker_up", "Worker liveness.", NULL,
                                   0, &u), 0);
    const char *odd[] = {"/path/\"quoted\"\\back\nnew line caf\xc3\xa9", "200"};
    assert_int_equal(metric_add(c, odd, 3), 0);
    assert_int_equal(metric_add(c, ROUTE_CODE, 0.25), 0);
    assert_int_equal(metric_set(g, (const char *[]){"gpu-onprem"}, 2), 0);
    assert_int_equal(metric_set(g, (const char *[]){"cpu"}, NAN), 0);
    assert_int_equal(metric_set(g, (const char *[]){""}, -INFINITY), 0);
    assert_int_equal(metric_observe(h, odd, 0.05), 0);
    assert_int_equal(metric_observe(h, ROUTE_CODE, 12), 0);
    assert_int_equal(metric_set(u, NULL, 1), 0);

    char *s = render(m);
    char path[512], cmd[1200];
    snprintf(path, sizeof path, "%s/metrics.prom", harness_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(s, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < '%s' 2>&1",
             path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char said[4096] = "";
    size_t n = fread(said, 1, sizeof said - 1, p);
    said[n] = '\0';
    int status = pclose(p);
    if (status != 0)
        fail_msg("promtool status %d: %s\non:\n%s", status, said, s);
    hark_free(s);
    metrics_free(m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(empty_registry_renders_only_the_dropped_counter),
    cmocka_unit_test(counter_without_labels_renders_exactly),
    cmocka_unit_test(counter_with_labels_renders_series_in_creation_order),
    cmocka_unit_test(gauge_set_and_add_render_exactly),
    cmocka_unit_test(histogram_without_labels_renders_cumulative_buckets),
    cmocka_unit_test(histogram_with_labels_puts_le_last),
    cmocka_unit_test(histogram_with_no_bounds_has_only_the_inf_bucket),
    cmocka_unit_test(latency_buckets_render_as_written),
    cmocka_unit_test(numbers_render_as_prometheus_spells_them),
    cmocka_unit_test(label_values_and_help_are_escaped),
    cmocka_unit_test(families_render_sorted_and_unused_ones_are_left_out),
    cmocka_unit_test(invalid_names_and_labels_are_rejected),
    cmocka_unit_test(invalid_buckets_are_rejected),
    cmocka_unit_test(registering_again_returns_same_family_or_eexist),
    cmocka_unit_test(series_cap_returns_toobig_and_counts_drops),
    cmocka_unit_test(oversized_or_invalid_label_values_are_refused),
    cmocka_unit_test(counter_refuses_negative_and_non_finite_increments),
    cmocka_unit_test(operations_of_the_wrong_type_or_arity_are_rejected),
    cmocka_unit_test(failed_render_leaves_the_buffer_as_it_was),
    cmocka_unit_test(concurrent_recording_while_rendering_loses_nothing),
    cmocka_unit_test(every_allocation_failure_returns_enomem_without_leaking),
    cmocka_unit_test(promtool_accepts_the_rendered_registry),
};
HARNESS_MAIN(tests)
