#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hark/clock.h"
#include "hark/error.h"
#include "hark/lease.h"
#include "hark/mem.h"

/* Expiry tests sleep 3x this; "not expired yet" is only asserted with
 * LONG_TTL_MS, so no test depends on the scheduler being prompt. */
#define SHORT_TTL_MS 50
#define LONG_TTL_MS 60000

static struct lease_table *table(int ttl_ms)
{
    struct lease_config c = lease_config_default();
    c.ttl_ms = ttl_ms;
    struct lease_table *t;
    assert_int_equal(lease_table_new(&c, &t), 0);
    return t;
}

static void sleep_past(int ttl_ms)
{
    usleep((useconds_t)ttl_ms * 3 * 1000);
}

static void grant_copies_worker_and_sets_expiry_ttl_ahead(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease l;
    int64_t before = clock_mono_ms();
    assert_int_equal(lease_acquire(t, 42, "w1", &l), 0);
    int64_t after = clock_mono_ms();
    assert_int_equal(l.meeting_id, 42);
    assert_string_equal(l.worker, "w1");
    assert_true(l.generation > 0);
    assert_true(l.expires_ms >= before + LONG_TTL_MS);
    assert_true(l.expires_ms <= after + LONG_TTL_MS);
    assert_int_equal(lease_check(t, &l), 0);
    lease_table_free(t);
}

static void held_meeting_is_busy_for_others_and_for_its_holder(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease l, other;
    assert_int_equal(lease_acquire(t, 1, "w1", &l), 0);
    memset(&other, 0x5a, sizeof other);
    assert_int_equal(lease_acquire(t, 1, "w2", &other), HARK_EBUSY);
    assert_int_equal(lease_acquire(t, 1, "w1", &other), HARK_EBUSY);
    assert_int_equal((unsigned char)other.worker[0], 0x5a); /* untouched */
    assert_int_equal(lease_check(t, &l), 0);
    /* another meeting is independent */
    assert_int_equal(lease_acquire(t, 2, "w2", &other), 0);
    lease_table_free(t);
}

static void release_lets_meeting_be_regranted_with_larger_generation(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease a, b;
    assert_int_equal(lease_acquire(t, 7, "w1", &a), 0);
    lease_release(t, &a);
    assert_int_equal(lease_check(t, &a), HARK_EPERM);
    assert_int_equal(lease_renew(t, &a, &a), HARK_EPERM);
    assert_int_equal(lease_acquire(t, 7, "w2", &b), 0);
    assert_true(b.generation > a.generation);
    assert_int_equal(lease_check(t, &b), 0);
    assert_int_equal(lease_check(t, &a), HARK_EPERM);
    lease_table_free(t);
}

static void stale_release_does_not_drop_the_new_holder(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease a, b, c;
    assert_int_equal(lease_acquire(t, 7, "w1", &a), 0);
    lease_release(t, &a);
    assert_int_equal(lease_acquire(t, 7, "w2", &b), 0);
    lease_release(t, &a); /* w1 releases twice by mistake */
    assert_int_equal(lease_check(t, &b), 0);
    assert_int_equal(lease_acquire(t, 7, "w3", &c), HARK_EBUSY);
    lease_table_free(t);
}

static void generations_increase_across_meetings(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease l;
    uint64_t prev = 0;
    for (int64_t m = 1; m <= 100; m++) {
        assert_int_equal(lease_acquire(t, m, "w", &l), 0);
        assert_true(l.generation > prev);
        prev = l.generation;
    }
    lease_table_free(t);
}

static void renew_extends_expiry_and_may_write_in_place(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease l;
    assert_int_equal(lease_acquire(t, 3, "w1", &l), 0);
    int64_t first = l.expires_ms;
    uint64_t gen = l.generation;
    usleep(20 * 1000);
    assert_int_equal(lease_renew(t, &l, &l), 0);
    assert_true(l.expires_ms >= first + 10);
    assert_int_equal(l.generation, gen);
    assert_string_equal(l.worker, "w1");
    assert_int_equal(lease_check(t, &l), 0);
    lease_table_free(t);
}

static void expired_lease_fails_check(void **state)
{
    (void)state;
    struct lease_table *t = table(SHORT_TTL_MS);
    struct lease l;
    assert_int_equal(lease_acquire(t, 5, "w1", &l), 0);
    sleep_past(SHORT_TTL_MS);
    assert_int_equal(lease_check(t, &l), HARK_EPERM);
    lease_table_free(t);
}

static void expired_lease_taken_over_is_fenced_off(void **state)
{
    (void)state;
    struct lease_table *t = table(SHORT_TTL_MS);
    struct lease old, cur, tmp;
    assert_int_equal(lease_acquire(t, 5, "w1", &old), 0);
    sleep_past(SHORT_TTL_MS);
    assert_int_equal(lease_acquire(t, 5, "w2", &cur), 0);
    assert_true(cur.generation > old.generation);
    memset(&tmp, 0x5a, sizeof tmp);
    assert_int_equal(lease_renew(t, &old, &tmp), HARK_EPERM);
    assert_int_equal((unsigned char)tmp.worker[0], 0x5a); /* untouched */
    assert_int_equal(lease_check(t, &old), HARK_EPERM);
    lease_release(t, &old); /* stale: changes nothing */
    assert_int_equal(lease_renew(t, &cur, &cur), 0);
    assert_string_equal(cur.worker, "w2");
    lease_table_free(t);
}

static void expired_lease_reacquired_by_same_worker_fences_old_grant(void **state)
{
    (void)state;
    struct lease_table *t = table(SHORT_TTL_MS);
    struct lease old, cur;
    assert_int_equal(lease_acquire(t, 5, "w1", &old), 0);
    sleep_past(SHORT_TTL_MS);
    assert_int_equal(lease_acquire(t, 5, "w1", &cur), 0);
    assert_true(cur.generation > old.generation);
    assert_int_equal(lease_renew(t, &old, &old), HARK_EPERM);
    lease_table_free(t);
}

static void expired_lease_nobody_took_can_be_renewed(void **state)
{
    (void)state;
    struct lease_table *t = table(SHORT_TTL_MS);
    struct lease l;
    assert_int_equal(lease_acquire(t, 9, "w1", &l), 0);
    uint64_t gen = l.generation;
    int64_t first = l.expires_ms;
    sleep_past(SHORT_TTL_MS);
    assert_int_equal(lease_check(t, &l), HARK_EPERM);
    assert_int_equal(lease_renew(t, &l, &l), 0);
    assert_int_equal(l.generation, gen);
    /* now + ttl, and now is at least 3 ttl after the grant */
    assert_true(l.expires_ms >= first + 2 * SHORT_TTL_MS);
    /* Once it expires again, another worker takes it and fences it off. */
    sleep_past(SHORT_TTL_MS);
    struct lease other;
    assert_int_equal(lease_acquire(t, 9, "w2", &other), 0);
    assert_int_equal(lease_renew(t, &l, &l), HARK_EPERM);
    lease_table_free(t);
}

static void generations_increase_across_tables_as_after_a_restart(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease l;
    uint64_t last = 0;
    for (int64_t m = 1; m <= 1000; m++) {
        assert_int_equal(lease_acquire(t, m, "w", &l), 0);
        last = l.generation;
    }
    lease_table_free(t);
    t = table(LONG_TTL_MS);
    assert_int_equal(lease_acquire(t, 1, "w", &l), 0);
    assert_true(l.generation > last);
    lease_table_free(t);
}

static void generations_outrun_an_earlier_process(void **state)
{
    (void)state;
    /* A child process stands for the process before a restart. */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct lease_table *t = table(LONG_TTL_MS);
        struct lease l = {0};
        for (int64_t m = 1; m <= 1000; m++)
            if (lease_acquire(t, m, "w", &l))
                _exit(1);
        ssize_t w = write(fds[1], &l.generation, sizeof l.generation);
        _exit(w == (ssize_t)sizeof l.generation ? 0 : 1);
    }
    uint64_t child_last = 0;
    assert_int_equal(read(fds[0], &child_last, sizeof child_last),
                     (ssize_t)sizeof child_last);
    close(fds[0]);
    close(fds[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(status, 0);
    /* The documented precondition: fewer grants than microseconds elapsed.
     * 1000 grants, then 2 ms of wall time, makes it hold whatever the speed. */
    usleep(2000);
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease l;
    assert_int_equal(lease_acquire(t, 1, "w", &l), 0);
    assert_true(l.generation > child_last);
    lease_table_free(t);
}

static void bad_arguments_are_einval(void **state)
{
    (void)state;
    struct lease_table *t = (struct lease_table *)1;
    struct lease_config c = lease_config_default();
    assert_int_equal(c.ttl_ms, 10000);
    assert_int_equal(lease_table_new(NULL, &t), HARK_EINVAL);
    assert_null(t);
    c.ttl_ms = 0;
    assert_int_equal(lease_table_new(&c, &t), HARK_EINVAL);
    c.ttl_ms = -5;
    assert_int_equal(lease_table_new(&c, &t), HARK_EINVAL);
    c.ttl_ms = 86400001;
    assert_int_equal(lease_table_new(&c, &t), HARK_EINVAL);
    assert_int_equal(lease_table_new(&c, NULL), HARK_EINVAL);

    t = table(LONG_TTL_MS);
    struct lease l;
    char long_name[LEASE_WORKER_MAX + 1];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(lease_acquire(t, 1, "", &l), HARK_EINVAL);
    assert_int_equal(lease_acquire(t, 1, long_name, &l), HARK_EINVAL);
    long_name[LEASE_WORKER_MAX - 1] = '\0'; /* 63 bytes: the longest allowed */
    assert_int_equal(lease_acquire(t, 1, long_name, &l), 0);
    assert_string_equal(l.worker, long_name);
    assert_int_equal(lease_acquire(t, 2, NULL, &l), HARK_EINVAL);
    assert_int_equal(lease_acquire(t, 2, "w", NULL), HARK_EINVAL);
    assert_int_equal(lease_acquire(NULL, 2, "w", &l), HARK_EINVAL);
    assert_int_equal(lease_renew(t, NULL, &l), HARK_EINVAL);
    assert_int_equal(lease_renew(t, &l, NULL), HARK_EINVAL);
    assert_int_equal(lease_renew(NULL, &l, &l), HARK_EINVAL);
    assert_int_equal(lease_check(t, NULL), HARK_EINVAL);
    assert_int_equal(lease_check(NULL, &l), HARK_EINVAL);
    lease_release(t, NULL);
    lease_release(NULL, &l);
    assert_int_equal(lease_check(t, &l), 0);
    lease_table_free(t);
    lease_table_free(NULL);
}

static void forged_lease_with_unknown_generation_is_refused(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct lease l;
    assert_int_equal(lease_acquire(t, 1, "w1", &l), 0);
    struct lease forged = l;
    forged.generation = l.generation + 1;
    assert_int_equal(lease_check(t, &forged), HARK_EPERM);
    assert_int_equal(lease_renew(t, &forged, &forged), HARK_EPERM);
    lease_release(t, &forged);
    assert_int_equal(lease_check(t, &l), 0);
    forged = l;
    forged.meeting_id = 2;
    assert_int_equal(lease_check(t, &forged), HARK_EPERM);
    lease_table_free(t);
}

static void many_meetings_grow_the_table_and_release_in_any_order(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    enum { N = 200 };
    struct lease l[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(lease_acquire(t, i + 1, "w", &l[i]), 0);
    for (int i = 0; i < N; i += 2)
        lease_release(t, &l[i]);
    for (int i = 0; i < N; i++)
        assert_int_equal(lease_check(t, &l[i]), i % 2 ? 0 : HARK_EPERM);
    struct lease again;
    assert_int_equal(lease_acquire(t, 1, "w2", &again), 0);
    assert_int_equal(lease_acquire(t, 2, "w2", &again), HARK_EBUSY);
    lease_table_free(t);
}

/* ---- placement ---- */

static void placement_prefers_lowest_tier_with_a_free_slot(void **state)
{
    (void)state;
    struct lease_worker w[] = {
        {"cloud-a", 1, 8}, {"onprem-full", 0, 0}, {"onprem-b", 0, 1}, {"cpu", 2, 9},
    };
    size_t chosen = 99;
    assert_int_equal(lease_place(w, 4, &chosen), 0);
    assert_int_equal(chosen, 2);
    w[2].free_slots = 0; /* on-prem full: spill to cloud */
    assert_int_equal(lease_place(w, 4, &chosen), 0);
    assert_int_equal(chosen, 0);
    w[0].free_slots = -1; /* over capacity counts as full */
    assert_int_equal(lease_place(w, 4, &chosen), 0);
    assert_int_equal(chosen, 3);
}

static void placement_within_a_tier_takes_most_free_slots_first_on_ties(void **state)
{
    (void)state;
    struct lease_worker w[] = {
        {"a", 0, 2}, {"b", 0, 5}, {"c", 1, 50}, {"d", 0, 5}, {"e", 0, 3},
    };
    size_t chosen = 99;
    assert_int_equal(lease_place(w, 5, &chosen), 0);
    assert_int_equal(chosen, 1);
    w[1].free_slots = 4;
    assert_int_equal(lease_place(w, 5, &chosen), 0);
    assert_int_equal(chosen, 3);
    struct lease_worker same[] = {{"x", 1, 2}, {"y", 1, 2}};
    assert_int_equal(lease_place(same, 2, &chosen), 0);
    assert_int_equal(chosen, 0);
}

static void placement_with_no_free_slot_is_ebusy(void **state)
{
    (void)state;
    struct lease_worker w[] = {{"a", 0, 0}, {"b", 1, 0}, {"c", 2, -3}};
    size_t chosen = 99;
    assert_int_equal(lease_place(w, 3, &chosen), HARK_EBUSY);
    assert_int_equal(chosen, 99);
}

static void placement_bad_arguments_are_einval(void **state)
{
    (void)state;
    struct lease_worker w[] = {{"a", 0, 1}, {"b", -1, 4}};
    size_t chosen = 99;
    assert_int_equal(lease_place(w, 0, &chosen), HARK_EINVAL);
    assert_int_equal(lease_place(NULL, 1, &chosen), HARK_EINVAL);
    assert_int_equal(lease_place(w, 1, NULL), HARK_EINVAL);
    assert_int_equal(lease_place(w, 2, &chosen), HARK_EINVAL);
    assert_int_equal(chosen, 99);
    assert_int_equal(lease_place(w, 1, &chosen), 0);
    assert_int_equal(chosen, 0);
}

/* ---- concurrency ---- */

enum { RACERS = 8, ROUNDS = 50 };

struct racer {
    struct lease_table *t;
    pthread_barrier_t *start;
    int64_t meeting;
    char name[16];
    int rc;
    struct lease l;
};

static void *race(void *p)
{
    struct racer *r = p;
    pthread_barrier_wait(r->start);
    r->rc = lease_acquire(r->t, r->meeting, r->name, &r->l);
    return NULL;
}

static void racing_acquirers_of_one_meeting_have_exactly_one_winner(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    pthread_barrier_t start;
    for (int round = 0; round < ROUNDS; round++) {
        struct racer r[RACERS];
        pthread_t th[RACERS];
        assert_int_equal(pthread_barrier_init(&start, NULL, RACERS), 0);
        for (int i = 0; i < RACERS; i++) {
            r[i] = (struct racer){.t = t, .start = &start, .meeting = round};
            snprintf(r[i].name, sizeof r[i].name, "w%d", i);
            assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
        }
        int winners = 0, winner = -1;
        for (int i = 0; i < RACERS; i++) {
            assert_int_equal(pthread_join(th[i], NULL), 0);
            if (r[i].rc == 0) {
                winners++;
                winner = i;
            } else {
                assert_int_equal(r[i].rc, HARK_EBUSY);
            }
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(winners, 1);
        assert_int_equal(lease_check(t, &r[winner].l), 0);
        assert_string_equal(r[winner].l.worker, r[winner].name);
    }
    lease_table_free(t);
}

struct churner {
    struct lease_table *t;
    int64_t meeting;
    char name[16];
    int rc;
};

/* Acquire, check, renew, release in a loop on meetings shared with other
 * threads: any failure other than losing the race is an error. */
static void *churn(void *p)
{
    struct churner *c = p;
    for (int i = 0; i < 2000; i++) {
        struct lease l;
        int64_t m = c->meeting + i % 4;
        int rc = lease_acquire(c->t, m, c->name, &l);
        if (rc == HARK_EBUSY)
            continue;
        if (rc || lease_check(c->t, &l) || lease_renew(c->t, &l, &l)) {
            c->rc = -1;
            return NULL;
        }
        lease_release(c->t, &l);
    }
    return NULL;
}

static void concurrent_acquire_renew_release_stay_consistent(void **state)
{
    (void)state;
    struct lease_table *t = table(LONG_TTL_MS);
    struct churner c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct churner){.t = t, .meeting = 100};
        snprintf(c[i].name, sizeof c[i].name, "w%d", i);
        assert_int_equal(pthread_create(&th[i], NULL, churn, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(c[i].rc, 0);
    }
    /* Everything was released: every meeting is free again. */
    for (int64_t m = 100; m < 104; m++) {
        struct lease l;
        assert_int_equal(lease_acquire(t, m, "after", &l), 0);
    }
    lease_table_free(t);
}

/* ---- allocation failures ---- */

static void allocation_failures_are_enomem_and_leave_table_usable(void **state)
{
    (void)state;
    int hit = 0;
    for (long fail = 0; fail < 50; fail++) {
        hark_mem_fail_after(fail);
        struct lease_config c = lease_config_default();
        c.ttl_ms = LONG_TTL_MS;
        struct lease_table *t = NULL;
        int rc = lease_table_new(&c, &t);
        if (rc) {
            assert_int_equal(rc, HARK_ENOMEM);
            assert_null(t);
            hark_mem_fail_after(-1);
            harness_assert_no_leaks();
            hit++;
            continue;
        }
        int64_t granted = 0;
        struct lease l[20];
        for (int64_t m = 0; m < 20; m++) {
            rc = lease_acquire(t, m, "w", &l[m]);
            if (rc) {
                assert_int_equal(rc, HARK_ENOMEM);
                hit++;
                break;
            }
            granted++;
        }
        hark_mem_fail_after(-1);
        for (int64_t m = 0; m < granted; m++)
            assert_int_equal(lease_check(t, &l[m]), 0);
        struct lease more;
        for (int64_t m = granted; m < 20; m++) /* a failed grant left no trace */
            assert_int_equal(lease_acquire(t, m, "w", &more), 0);
        lease_table_free(t);
        harness_assert_no_leaks();
        if (granted == 20)
            break;
    }
    hark_mem_fail_after(-1);
    assert_true(hit >= 2); /* table_new and at least one growth failed */
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(grant_copies_worker_and_sets_expiry_ttl_ahead),
    cmocka_unit_test(held_meeting_is_busy_for_others_and_for_its_holder),
    cmocka_unit_test(release_lets_meeting_be_regranted_with_larger_generation),
    cmocka_unit_test(stale_release_does_not_drop_the_new_holder),
    cmocka_unit_test(generations_increase_across_meetings),
    cmocka_unit_test(renew_extends_expiry_and_may_write_in_place),
    cmocka_unit_test(expired_lease_fails_check),
    cmocka_unit_test(expired_lease_taken_over_is_fenced_off),
    cmocka_unit_test(expired_lease_reacquired_by_same_worker_fences_old_grant),
    cmocka_unit_test(expired_lease_nobody_took_can_be_renewed),
    cmocka_unit_test(generations_increase_across_tables_as_after_a_restart),
    cmocka_unit_test(generations_outrun_an_earlier_process),
    cmocka_unit_test(bad_arguments_are_einval),
    cmocka_unit_test(forged_lease_with_unknown_generation_is_refused),
    cmocka_unit_test(many_meetings_grow_the_table_and_release_in_any_order),
    cmocka_unit_test(placement_prefers_lowest_tier_with_a_free_slot),
    cmocka_unit_test(placement_within_a_tier_takes_most_free_slots_first_on_ties),
    cmocka_unit_test(placement_with_no_free_slot_is_ebusy),
    cmocka_unit_test(placement_bad_arguments_are_einval),
    cmocka_unit_test(racing_acquirers_of_one_meeting_have_exactly_one_winner),
    cmocka_unit_test(concurrent_acquire_renew_release_stay_consistent),
    cmocka_unit_test(allocation_failures_are_enomem_and_leave_table_usable),
};

HARNESS_MAIN(tests)
