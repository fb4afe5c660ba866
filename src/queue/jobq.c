#include "hark/jobq.h"

#include <pthread.h>

#include "hark/mem.h"

struct job {
    jobq_fn run, cancel;
    void *arg;
};

struct jobq {
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct job *ring;            /* capacity slots */
    size_t cap, head, n;
    size_t running;
    int stopping;
    unsigned n_workers;
    pthread_t *workers;
};

static void *worker(void *p)
{
    struct jobq *q = p;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->n && !q->stopping)
            pthread_cond_wait(&q->work, &q->lock);
        if (q->stopping)
            break;
        struct job j = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        q->running++;
        pthread_mutex_unlock(&q->lock);
        j.run(j.arg);
        pthread_mutex_lock(&q->lock);
        q->running--;
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int jobq_new(unsigned workers, size_t capacity, struct jobq **out)
{
    *out = NULL;
    if (workers < 1 || workers > 1024 || capacity < 1 || capacity > (1u << 20))
        return HARK_EINVAL;
    struct jobq *q = hark_calloc(1, sizeof *q);
    if (!q)
        return HARK_ENOMEM;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->work, NULL);
    q->cap = capacity;
    q->ring = hark_calloc(capacity, sizeof *q->ring);
    q->workers = hark_calloc(workers, sizeof *q->workers);
    for (unsigned i = 0; q->ring && q->workers && i < workers; i++) {
        if (pthread_create(&q->workers[i], NULL, worker, q))
            break;
        q->n_workers++;
    }
    if (q->n_workers != workers) {
        jobq_free(q);
        return HARK_ENOMEM;
    }
    *out = q;
    return 0;
}

void jobq_free(struct jobq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < q->n_workers; i++)
        pthread_join(q->workers[i], NULL);
    for (; q->n; q->n--, q->head = (q->head + 1) % q->cap)
        if (q->ring[q->head].cancel)
            q->ring[q->head].cancel(q->ring[q->head].arg);
    hark_free(q->workers);
    hark_free(q->ring);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    hark_free(q);
}

int jobq_submit(struct jobq *q, jobq_fn run, jobq_fn cancel, void *arg)
{
    pthread_mutex_lock(&q->lock);
    int rc = q->stopping ? HARK_ECLOSED : q->n == q->cap ? HARK_EBUSY : 0;
    if (!rc) {
        q->ring[(q->head + q->n) % q->cap] = (struct job){run, cancel, arg};
        q->n++;
        pthread_cond_signal(&q->work);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

void jobq_load(struct jobq *q, size_t *waiting, size_t *running)
{
    pthread_mutex_lock(&q->lock);
    *waiting = q->n;
    *running = q->running;
    pthread_mutex_unlock(&q->lock);
}
