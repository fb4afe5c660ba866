#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "hark/error.h"
#include "hark/jobq.h"

static atomic_int ran, cancelled;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void count_run(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void blocked_run(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate); /* held by the test until it lets go */
    pthread_mutex_unlock(&gate);
    atomic_fetch_add(&ran, 1);
}

static void count_cancel(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cancelled, 1);
}

static void wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 5000 && atomic_load(v) < want; i++)
        usleep(1000);
}

static void every_submitted_job_runs_once(void **state)
{
    (void)state;
    struct jobq *q;
    atomic_store(&ran, 0);
    assert_int_equal(jobq_new(3, 1000, &q), 0);
    for (int i = 0; i < 500; i++)
        assert_int_equal(jobq_submit(q, count_run, count_cancel, NULL), 0);
    wait_for(&ran, 500);
    jobq_free(q);
    assert_int_equal(atomic_load(&ran), 500);
}

static void full_queue_refuses_with_ebusy_and_free_cancels_waiting(void **state)
{
    (void)state;
    struct jobq *q;
    atomic_store(&ran, 0);
    atomic_store(&cancelled, 0);
    pthread_mutex_lock(&gate);
    assert_int_equal(jobq_new(1, 2, &q), 0);
    assert_int_equal(jobq_submit(q, blocked_run, count_cancel, NULL), 0);
    size_t waiting = 1, running = 0;
    for (int i = 0; i < 1000 && (waiting || !running); i++) {
        usleep(1000);
        jobq_load(q, &waiting, &running);
    }
    assert_int_equal(running, 1);
    assert_int_equal(jobq_submit(q, blocked_run, count_cancel, NULL), 0);
    assert_int_equal(jobq_submit(q, blocked_run, count_cancel, NULL), 0);
    assert_int_equal(jobq_submit(q, blocked_run, count_cancel, NULL), HARK_EBUSY);
    jobq_load(q, &waiting, &running);
    assert_int_equal(waiting, 2);
    pthread_mutex_unlock(&gate);
    jobq_free(q); /* the running job finishes; the waiting ones may run or be cancelled */
    assert_int_equal(atomic_load(&ran) + atomic_load(&cancelled), 3);
    assert_true(atomic_load(&ran) >= 1);
}

static void bad_sizes_are_refused(void **state)
{
    (void)state;
    struct jobq *q = (struct jobq *)1;
    assert_int_equal(jobq_new(0, 1, &q), HARK_EINVAL);
    assert_null(q);
    assert_int_equal(jobq_new(1, 0, &q), HARK_EINVAL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(every_submitted_job_runs_once),
    cmocka_unit_test(full_queue_refuses_with_ebusy_and_free_cancels_waiting),
    cmocka_unit_test(bad_sizes_are_refused),
};
HARNESS_MAIN(tests)
