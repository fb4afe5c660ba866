#include "harness.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hark/error.h"
#include "hark/live.h"
#include "hark/mem.h"

static struct live *hub(size_t history, size_t queue_max_bytes)
{
    struct live_config c = live_config_default();
    c.history = history;
    c.queue_max_bytes = queue_max_bytes;
    struct live *l;
    assert_int_equal(live_new(&c, &l), 0);
    return l;
}

static int64_t publish(struct live *l, int64_t meeting, const char *json)
{
    struct json_object *o = json_tokener_parse(json);
    assert_non_null(o);
    int64_t id = 0;
    assert_int_equal(live_publish(l, meeting, o, &id), 0);
    json_object_put(o);
    return id;
}

/* Takes the next message and returns its event_id; *out (may be NULL) gets
 * the text, freed by the caller with hark_free(). */
static int64_t take(struct live_sub *s, char **out)
{
    char *text;
    size_t len;
    assert_int_equal(live_sub_next(s, 2000, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    struct json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    struct json_object *id;
    assert_true(json_object_object_get_ex(o, "event_id", &id));
    int64_t v = json_object_get_int64(id);
    json_object_put(o);
    if (out)
        *out = text;
    else
        hark_free(text);
    return v;
}

static void expect_nothing(struct live_sub *s)
{
    char *text;
    size_t len;
    assert_int_equal(live_sub_next(s, 0, &text, &len), HARK_ETIMEDOUT);
    assert_null(text);
}

static struct live_sub *subscribe(struct live *l, int64_t meeting, int64_t last, int *gap)
{
    struct live_sub *s;
    assert_int_equal(live_sub_new(l, &s), 0);
    assert_int_equal(live_sub_add(s, meeting, last, gap), 0);
    return s;
}

static void events_arrive_in_order_with_event_id_appended(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct live_sub *s = subscribe(l, 7, 0, NULL);
    int64_t a = publish(l, 7, "{\"type\":\"transcript\",\"text\":\"héllo\"}");
    int64_t b = publish(l, 7, "{}");
    assert_true(b > a);
    char *t, want[128];
    assert_int_equal(take(s, &t), a);
    snprintf(want, sizeof want, "{\"type\":\"transcript\",\"text\":\"héllo\",\"event_id\":%" PRId64 "}", a);
    assert_string_equal(t, want);
    hark_free(t);
    assert_int_equal(take(s, &t), b);
    snprintf(want, sizeof want, "{\"event_id\":%" PRId64 "}", b);
    assert_string_equal(t, want);
    hark_free(t);
    expect_nothing(s);
    live_sub_free(s);
    live_free(l);
}

static void publish_refuses_non_objects_event_id_and_bad_utf8(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct json_object *arr = json_object_new_array();
    struct json_object *dup = json_tokener_parse("{\"event_id\":1}");
    assert_int_equal(live_publish(l, 1, arr, NULL), HARK_EINVAL);
    assert_int_equal(live_publish(l, 1, dup, NULL), HARK_EINVAL);
    assert_int_equal(live_publish(l, 1, NULL, NULL), HARK_EINVAL);
    struct json_object *latin1 = json_object_new_object();
    assert_int_equal(json_object_object_add(latin1, "text", json_object_new_string("caf\xe9")), 0);
    assert_int_equal(live_publish(l, 1, latin1, NULL), HARK_EINVAL);
    json_object_put(latin1);
    json_object_put(arr);
    json_object_put(dup);
    /* nothing was kept: a replay from the first id of this hub is empty */
    int64_t first = publish(l, 2, "{}");
    int gap = 1;
    struct live_sub *s = subscribe(l, 1, first, &gap);
    assert_int_equal(gap, 0);
    expect_nothing(s);
    live_sub_free(s);
    live_free(l);
}

static void zero_queue_bound_is_a_config_error(void **state)
{
    (void)state;
    struct live_config c = live_config_default();
    assert_int_equal(c.history, 1000);
    assert_int_equal(c.queue_max_bytes, 8u << 20);
    c.queue_max_bytes = 0;
    struct live *l = (struct live *)&c;
    assert_int_equal(live_new(&c, &l), HARK_ECONFIG);
    assert_null(l);
}

static void subscriber_gets_only_its_meetings(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct live_sub *s = subscribe(l, 1, 0, NULL);
    assert_int_equal(live_sub_add(s, 3, 0, NULL), 0);
    int64_t a = publish(l, 1, "{\"m\":1}");
    publish(l, 2, "{\"m\":2}");
    int64_t c = publish(l, 3, "{\"m\":3}");
    assert_int_equal(take(s, NULL), a);
    assert_int_equal(take(s, NULL), c);
    expect_nothing(s);
    live_sub_free(s);
    live_free(l);
}

static void ids_keep_increasing_across_hubs_and_start_at_wall_clock(void **state)
{
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    struct live *l = hub(10, 1 << 20);
    struct json_object *o = json_object_new_object();
    int64_t last = 0;
    /* ids handed out far faster than one a microsecond (the text is
     * cached in o after the first call) */
    for (int i = 0; i < 50000; i++) {
        int64_t id;
        assert_int_equal(live_publish(l, 1, o, &id), 0);
        assert_true(id > last);
        last = id;
    }
    json_object_put(o);
    live_free(l);
    /* a new hub must not trust the clock alone: it has not caught up */
    l = hub(10, 1 << 20);
    int64_t next = publish(l, 1, "{}");
    assert_true(next > last);
    assert_true(next > now_us);
    live_free(l);
}

static void replay_sends_what_came_after_last_event_id_then_live(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    int64_t id[5];
    for (int i = 0; i < 5; i++)
        id[i] = publish(l, 4, "{\"x\":true}");
    publish(l, 5, "{}");
    int gap = -1;
    struct live_sub *s = subscribe(l, 4, id[2], &gap);
    assert_int_equal(gap, 0);
    int64_t after = publish(l, 4, "{}");
    assert_int_equal(take(s, NULL), id[3]);
    assert_int_equal(take(s, NULL), id[4]);
    assert_int_equal(take(s, NULL), after);
    expect_nothing(s);
    live_sub_free(s);
    live_free(l);
}

static void replay_reports_gap_when_history_was_evicted(void **state)
{
    (void)state;
    struct live *l = hub(3, 1 << 20);
    int64_t id[5];
    for (int i = 0; i < 5; i++)
        id[i] = publish(l, 4, "{}");
    int gap = -1;
    struct live_sub *s = subscribe(l, 4, id[0], &gap);
    assert_int_equal(gap, 1);
    for (int i = 2; i < 5; i++)
        assert_int_equal(take(s, NULL), id[i]);
    expect_nothing(s);
    live_sub_free(s);
    /* everything after id[1] is still there */
    s = subscribe(l, 4, id[1], &gap);
    assert_int_equal(gap, 0);
    for (int i = 2; i < 5; i++)
        assert_int_equal(take(s, NULL), id[i]);
    live_sub_free(s);
    /* caught up: no gap, nothing to send */
    s = subscribe(l, 4, id[4], &gap);
    assert_int_equal(gap, 0);
    expect_nothing(s);
    live_sub_free(s);
    live_free(l);
}

static void replay_from_an_earlier_run_reports_gap(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    int64_t a = publish(l, 4, "{}");
    int gap = 0;
    struct live_sub *s = subscribe(l, 4, 12345, &gap);
    assert_int_equal(gap, 1);
    assert_int_equal(take(s, NULL), a);
    live_sub_free(s);
    assert_int_equal(live_sub_new(l, &s), 0);
    assert_int_equal(live_sub_add(s, 4, -1, &gap), HARK_EINVAL);
    live_sub_free(s);
    live_free(l);
}

static void history_zero_keeps_nothing_but_reports_gap(void **state)
{
    (void)state;
    struct live *l = hub(0, 1 << 20);
    struct live_sub *live_one = subscribe(l, 4, 0, NULL);
    int64_t a = publish(l, 4, "{}");
    int64_t b = publish(l, 4, "{}");
    assert_int_equal(take(live_one, NULL), a);
    assert_int_equal(take(live_one, NULL), b);
    int gap = 0;
    struct live_sub *s = subscribe(l, 4, a, &gap);
    assert_int_equal(gap, 1);
    expect_nothing(s);
    live_sub_free(s);
    s = subscribe(l, 4, b, &gap);
    assert_int_equal(gap, 0);
    live_sub_free(s);
    live_sub_free(live_one);
    live_free(l);
}

static void subscribing_twice_does_not_replay_twice(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    int64_t a = publish(l, 4, "{}");
    int64_t b = publish(l, 4, "{}");
    struct live_sub *s = subscribe(l, 4, a, NULL);
    int gap = -1;
    assert_int_equal(live_sub_add(s, 4, a, &gap), 0);
    assert_int_equal(gap, 0);
    int64_t c = publish(l, 4, "{}");
    assert_int_equal(take(s, NULL), b);
    assert_int_equal(take(s, NULL), c);
    expect_nothing(s);
    live_sub_free(s);
    live_free(l);
}

struct pub_arg {
    struct live *l;
    int n;
};

static void *publisher(void *p)
{
    struct pub_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "{\"i\":%d}", i);
        struct json_object *o = json_tokener_parse(buf);
        if (!o || live_publish(a->l, 9, o, NULL))
            abort();
        json_object_put(o);
    }
    return NULL;
}

/* A reference subscriber sees every event; subscribers that join mid-stream
 * with the last id the reference saw must see exactly the rest. */
static void joining_while_publishing_loses_and_doubles_nothing(void **state)
{
    (void)state;
    enum { N = 3000, JOINERS = 10 };
    struct live *l = hub(2 * N, 64u << 20); /* nothing evicted */
    struct live_sub *ref = subscribe(l, 9, 0, NULL);
    struct pub_arg a = {l, N};
    pthread_t t[2];
    assert_int_equal(pthread_create(&t[0], NULL, publisher, &a), 0);
    assert_int_equal(pthread_create(&t[1], NULL, publisher, &a), 0);
    static int64_t seen[2 * N];
    struct live_sub *join[JOINERS];
    size_t join_at[JOINERS];
    int joined = 0;
    for (int i = 0; i < 2 * N; i++) {
        seen[i] = take(ref, NULL);
        if (i > 0)
            assert_true(seen[i] > seen[i - 1]);
        if (i % (2 * N / JOINERS) == 0 && joined < JOINERS) {
            int gap = 1;
            join[joined] = subscribe(l, 9, seen[i], &gap);
            assert_int_equal(gap, 0);
            join_at[joined++] = (size_t)i + 1;
        }
    }
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    expect_nothing(ref);
    for (int j = 0; j < joined; j++) {
        for (size_t i = join_at[j]; i < 2 * N; i++)
            assert_int_equal(take(join[j], NULL), seen[i]);
        expect_nothing(join[j]);
        live_sub_free(join[j]);
    }
    live_sub_free(ref);
    live_free(l);
}

static void slow_subscriber_overflows_without_holding_back_others(void **state)
{
    (void)state;
    struct live *l = hub(10, 200);
    struct live_sub *slow = subscribe(l, 1, 0, NULL);
    struct live_sub *fast = subscribe(l, 1, 0, NULL);
    for (int i = 0; i < 50; i++) {
        int64_t id = publish(l, 1, "{\"text\":\"twenty bytes or so\"}");
        assert_int_equal(take(fast, NULL), id);
    }
    char *text;
    size_t len;
    assert_int_equal(live_sub_next(slow, 0, &text, &len), HARK_ETOOBIG);
    assert_null(text);
    publish(l, 1, "{}");
    assert_int_equal(live_sub_next(slow, 0, &text, &len), HARK_ETOOBIG);
    live_sub_free(slow);
    live_sub_free(fast);
    live_free(l);
}

static void replay_bigger_than_the_queue_overflows(void **state)
{
    (void)state;
    struct live *l = hub(100, 200);
    int64_t first = publish(l, 1, "{}");
    for (int i = 0; i < 20; i++)
        publish(l, 1, "{\"text\":\"twenty bytes or so\"}");
    struct live_sub *s = subscribe(l, 1, first, NULL);
    char *text;
    size_t len;
    assert_int_equal(live_sub_next(s, 0, &text, &len), HARK_ETOOBIG);
    live_sub_free(s);
    live_free(l);
}

static void forget_drops_history(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    int64_t a = publish(l, 1, "{}");
    publish(l, 1, "{}");
    int64_t b = publish(l, 2, "{}");
    publish(l, 2, "{}");
    live_forget(l, 1);
    live_forget(l, 99); /* unknown: nothing happens */
    int gap;
    struct live_sub *s = subscribe(l, 1, a, &gap);
    expect_nothing(s);
    /* with a subscriber still there, the forgotten events are a gap */
    live_forget(l, 1);
    struct live_sub *s2 = subscribe(l, 2, b, &gap);
    assert_int_equal(gap, 0);
    assert_true(take(s2, NULL) > b);
    live_forget(l, 2);
    live_sub_free(s2);
    publish(l, 1, "{}");
    live_forget(l, 1);
    struct live_sub *s3 = subscribe(l, 1, a, &gap);
    assert_int_equal(gap, 1);
    expect_nothing(s3);
    live_sub_free(s3);
    live_sub_free(s);
    live_free(l);
}

static void remove_stops_delivery_and_drops_queued_events(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct live_sub *s = subscribe(l, 1, 0, NULL);
    assert_int_equal(live_sub_add(s, 2, 0, NULL), 0);
    publish(l, 1, "{}");
    int64_t b = publish(l, 2, "{}");
    publish(l, 1, "{}");
    live_sub_remove(s, 1);
    live_sub_remove(s, 5); /* not subscribed: nothing happens */
    publish(l, 1, "{}");
    int64_t c = publish(l, 2, "{}");
    assert_int_equal(take(s, NULL), b);
    assert_int_equal(take(s, NULL), c);
    expect_nothing(s);
    live_sub_free(s);
    live_free(l);
}

static void next_times_out_when_nothing_comes(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct live_sub *s = subscribe(l, 1, 0, NULL);
    char *text;
    size_t len;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(live_sub_next(s, 100, &text, &len), HARK_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 95 && ms < 1500);
    live_sub_free(s);
    live_free(l);
}

static void *wait_forever(void *p)
{
    char *text;
    size_t len;
    return (void *)(intptr_t)live_sub_next(p, -1, &text, &len);
}

static void close_wakes_a_waiting_next(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct live_sub *s = subscribe(l, 1, 0, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_forever, s), 0);
    struct timespec pause = {0, 50 * 1000000};
    nanosleep(&pause, NULL);
    live_sub_close(s);
    void *rc;
    pthread_join(t, &rc);
    assert_int_equal((int)(intptr_t)rc, HARK_ECLOSED);
    /* closed wins over queued events and over overflow */
    publish(l, 1, "{}");
    char *text;
    size_t len;
    assert_int_equal(live_sub_next(s, 0, &text, &len), HARK_ECLOSED);
    live_sub_free(s);
    live_free(l);
}

static void *wait_for_event(void *p)
{
    char *text;
    size_t len;
    int rc = live_sub_next(p, 5000, &text, &len);
    hark_free(text);
    return (void *)(intptr_t)rc;
}

static void publish_wakes_a_waiting_next(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct live_sub *s = subscribe(l, 1, 0, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_for_event, s), 0);
    struct timespec pause = {0, 50 * 1000000};
    nanosleep(&pause, NULL);
    publish(l, 1, "{}");
    void *rc;
    pthread_join(t, &rc);
    assert_int_equal((int)(intptr_t)rc, 0);
    live_sub_free(s);
    live_free(l);
}

static void allocation_failures_in_new_are_clean(void **state)
{
    (void)state;
    struct live_config c = live_config_default();
    struct live *l;
    hark_mem_fail_after(0);
    assert_int_equal(live_new(&c, &l), HARK_ENOMEM);
    hark_mem_fail_after(-1);
    assert_null(l);
    l = hub(10, 1 << 20);
    struct live_sub *s;
    hark_mem_fail_after(0);
    assert_int_equal(live_sub_new(l, &s), HARK_ENOMEM);
    hark_mem_fail_after(-1);
    assert_null(s);
    live_free(l);
}

static void allocation_failures_in_publish_publish_nothing(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct json_object *o = json_tokener_parse("{\"a\":1}");
    int64_t base = publish(l, 1, "{}");
    int ok = 0;
    for (long n = 0; !ok && n < 50; n++) {
        /* serialise outside the injection window: json-c's own mallocs
         * are not ours to fail */
        (void)json_object_to_json_string(o);
        int64_t id = 0;
        hark_mem_fail_after(n);
        int rc = live_publish(l, 5, o, &id);
        hark_mem_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            assert_true(id > base);
        } else {
            assert_int_equal(rc, HARK_ENOMEM);
            harness_assert_no_leaks();
        }
    }
    assert_true(ok);
    /* exactly one event made it, whatever failed before */
    struct live_sub *s = subscribe(l, 5, base, NULL);
    take(s, NULL);
    expect_nothing(s);
    live_sub_free(s);
    json_object_put(o);
    live_free(l);
}

static void subscriber_queue_allocation_failure_overflows_it_only(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    /* other's queue and the history ring exist before the failing call */
    struct live_sub *other = subscribe(l, 3, 0, NULL);
    int64_t first = publish(l, 3, "{}");
    assert_int_equal(take(other, NULL), first);
    struct live_sub *s = subscribe(l, 3, 0, NULL);
    struct json_object *o = json_tokener_parse("{\"b\":2}");
    (void)json_object_to_json_string(o);
    int64_t id = 0;
    /* allocations: the event (0), then s's queue (1), which fails */
    hark_mem_fail_after(1);
    int rc = live_publish(l, 3, o, &id);
    hark_mem_fail_after(-1);
    assert_int_equal(rc, 0);
    char *text;
    size_t len;
    assert_int_equal(live_sub_next(s, 0, &text, &len), HARK_ETOOBIG);
    assert_int_equal(take(other, NULL), id);
    json_object_put(o);
    live_sub_free(other);
    live_sub_free(s);
    live_free(l);
}

static void allocation_failures_in_sub_add_leave_it_unsubscribed(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    int64_t id[3];
    for (int i = 0; i < 3; i++)
        id[i] = publish(l, 8, "{}");
    struct live_sub *s;
    assert_int_equal(live_sub_new(l, &s), 0);
    int ok = 0;
    for (long n = 0; !ok && n < 50; n++) {
        int gap = -1;
        hark_mem_fail_after(n);
        int rc = live_sub_add(s, 8, id[0], &gap);
        hark_mem_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            assert_int_equal(gap, 0);
        } else {
            assert_int_equal(rc, HARK_ENOMEM);
            assert_int_equal(gap, 0);
            /* neither half-replayed nor half-subscribed (which would make
             * the final add a no-op without replay) */
            expect_nothing(s);
            harness_assert_no_leaks();
        }
    }
    assert_true(ok);
    assert_int_equal(take(s, NULL), id[1]);
    assert_int_equal(take(s, NULL), id[2]);
    expect_nothing(s);
    live_sub_free(s);
    /* and a meeting the hub had never seen is not left behind half-made */
    assert_int_equal(live_sub_new(l, &s), 0);
    ok = 0;
    for (long n = 0; !ok && n < 50; n++) {
        hark_mem_fail_after(n);
        int rc = live_sub_add(s, 77, 0, NULL);
        hark_mem_fail_after(-1);
        ok = rc == 0;
        if (!ok)
            assert_int_equal(rc, HARK_ENOMEM);
    }
    int64_t e = publish(l, 77, "{}");
    assert_int_equal(take(s, NULL), e);
    live_sub_free(s);
    live_free(l);
}

static void allocation_failure_in_next_keeps_the_message(void **state)
{
    (void)state;
    struct live *l = hub(10, 1 << 20);
    struct live_sub *s = subscribe(l, 1, 0, NULL);
    int64_t a = publish(l, 1, "{}");
    char *text;
    size_t len;
    hark_mem_fail_after(0);
    assert_int_equal(live_sub_next(s, 0, &text, &len), HARK_ENOMEM);
    hark_mem_fail_after(-1);
    assert_null(text);
    assert_int_equal(take(s, NULL), a);
    live_sub_free(s);
    live_free(l);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(events_arrive_in_order_with_event_id_appended),
    cmocka_unit_test(publish_refuses_non_objects_event_id_and_bad_utf8),
    cmocka_unit_test(zero_queue_bound_is_a_config_error),
    cmocka_unit_test(subscriber_gets_only_its_meetings),
    cmocka_unit_test(ids_keep_increasing_across_hubs_and_start_at_wall_clock),
    cmocka_unit_test(replay_sends_what_came_after_last_event_id_then_live),
    cmocka_unit_test(replay_reports_gap_when_history_was_evicted),
    cmocka_unit_test(replay_from_an_earlier_run_reports_gap),
    cmocka_unit_test(history_zero_keeps_nothing_but_reports_gap),
    cmocka_unit_test(subscribing_twice_does_not_replay_twice),
    cmocka_unit_test(joining_while_publishing_loses_and_doubles_nothing),
    cmocka_unit_test(slow_subscriber_overflows_without_holding_back_others),
    cmocka_unit_test(replay_bigger_than_the_queue_overflows),
    cmocka_unit_test(forget_drops_history),
    cmocka_unit_test(remove_stops_delivery_and_drops_queued_events),
    cmocka_unit_test(next_times_out_when_nothing_comes),
    cmocka_unit_test(close_wakes_a_waiting_next),
    cmocka_unit_test(publish_wakes_a_waiting_next),
    cmocka_unit_test(allocation_failures_in_new_are_clean),
    cmocka_unit_test(allocation_failures_in_publish_publish_nothing),
    cmocka_unit_test(subscriber_queue_allocation_failure_overflows_it_only),
    cmocka_unit_test(allocation_failures_in_sub_add_leave_it_unsubscribed),
    cmocka_unit_test(allocation_failure_in_next_keeps_the_message),
};

HARNESS_MAIN(tests)
