#include "hark/lease.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"

#define TTL_MAX_MS 86400000

/* One entry per meeting whose latest grant was not released: live, or
 * expired but not yet taken over (still renewable). */
struct lease_table {
    pthread_mutex_t lock;
    int ttl_ms;
    struct lease *held;
    size_t n, cap;
};

/* Process-wide so that two tables (a restart of the table inside one
 * process, or tests) never hand out the same generation. */
static _Atomic uint64_t last_generation;

struct lease_config lease_config_default(void)
{
    return (struct lease_config){.ttl_ms = 10000};
}

int lease_table_new(const struct lease_config *c, struct lease_table **out)
{
    if (!out)
        return HARK_EINVAL;
    *out = NULL;
    if (!c || c->ttl_ms < 1 || c->ttl_ms > TTL_MAX_MS)
        return HARK_EINVAL;
    struct lease_table *t = hark_calloc(1, sizeof *t);
    if (!t)
        return HARK_ENOMEM;
    pthread_mutex_init(&t->lock, NULL);
    t->ttl_ms = c->ttl_ms;
    *out = t;
    return 0;
}

void lease_table_free(struct lease_table *t)
{
    if (!t)
        return;
    pthread_mutex_destroy(&t->lock);
    hark_free(t->held);
    hark_free(t);
}

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* max(wall clock in µs, last + 1): increases within the process whatever
 * the clock does, and across restarts while the clock does not step back
 * and grants stay slower than one per microsecond on average. */
static uint64_t next_generation(void)
{
    uint64_t now = wall_us();
    uint64_t last = atomic_load(&last_generation);
    uint64_t next;
    do {
        next = now > last ? now : last + 1;
    } while (!atomic_compare_exchange_weak(&last_generation, &last, next));
    return next;
}

/* Caller holds t->lock. */
static struct lease *find(struct lease_table *t, int64_t meeting_id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->held[i].meeting_id == meeting_id)
            return &t->held[i];
    return NULL;
}

/* Caller holds t->lock. The current grant of l's meeting if it is l's. */
static struct lease *find_grant(struct lease_table *t, const struct lease *l)
{
    struct lease *e = find(t, l->meeting_id);
    return e && e->generation == l->generation ? e : NULL;
}

/* Caller holds t->lock. A new zeroed entry at the end, or NULL. */
static struct lease *add(struct lease_table *t)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct lease *p = hark_realloc(t->held, cap * sizeof *p);
        if (!p)
            return NULL;
        t->held = p;
        t->cap = cap;
    }
    struct lease *e = &t->held[t->n++];
    memset(e, 0, sizeof *e);
    return e;
}

int lease_acquire(struct lease_table *t, int64_t meeting_id, const char *worker,
                  struct lease *out)
{
    if (!t || !worker || !out)
        return HARK_EINVAL;
    size_t len = strnlen(worker, LEASE_WORKER_MAX);
    if (len < 1 || len >= LEASE_WORKER_MAX)
        return HARK_EINVAL;

    char lost[LEASE_WORKER_MAX] = "";
    uint64_t lost_generation = 0;
    pthread_mutex_lock(&t->lock);
    int64_t now = clock_mono_ms();
    struct lease *e = find(t, meeting_id);
    if (e && now < e->expires_ms) {
        pthread_mutex_unlock(&t->lock);
        return HARK_EBUSY;
    }
    if (e) {
        memcpy(lost, e->worker, sizeof lost);
        lost_generation = e->generation;
    } else if (!(e = add(t))) {
        pthread_mutex_unlock(&t->lock);
        return HARK_ENOMEM;
    }
    e->meeting_id = meeting_id;
    e->generation = next_generation();
    memset(e->worker, 0, sizeof e->worker);
    memcpy(e->worker, worker, len);
    e->expires_ms = now + t->ttl_ms;
    *out = *e;
    pthread_mutex_unlock(&t->lock);

    if (lost[0]) {
        char q1[LEASE_WORKER_MAX + 8], q2[LEASE_WORKER_MAX + 8];
        log_info("lease",
                 "msg=\"expired lease taken over\" meeting=%lld lost_by=%s "
                 "lost_generation=%llu worker=%s generation=%llu",
                 (long long)meeting_id, log_quote(q1, sizeof q1, lost),
                 (unsigned long long)lost_generation,
                 log_quote(q2, sizeof q2, out->worker),
                 (unsigned long long)out->generation);
    }
    return 0;
}

int lease_renew(struct lease_table *t, const struct lease *l, struct lease *out)
{
    if (!t || !l || !out)
        return HARK_EINVAL;
    pthread_mutex_lock(&t->lock);
    struct lease *e = find_grant(t, l);
    if (e) {
        e->expires_ms = clock_mono_ms() + t->ttl_ms;
        *out = *e;
    }
    pthread_mutex_unlock(&t->lock);
    return e ? 0 : HARK_EPERM;
}

int lease_check(struct lease_table *t, const struct lease *l)
{
    if (!t || !l)
        return HARK_EINVAL;
    pthread_mutex_lock(&t->lock);
    struct lease *e = find_grant(t, l);
    int ok = e && clock_mono_ms() < e->expires_ms;
    pthread_mutex_unlock(&t->lock);
    return ok ? 0 : HARK_EPERM;
}

void lease_release(struct lease_table *t, const struct lease *l)
{
    if (!t || !l)
        return;
    pthread_mutex_lock(&t->lock);
    struct lease *e = find_grant(t, l);
    if (e)
        *e = t->held[--t->n];
    pthread_mutex_unlock(&t->lock);
}

int lease_place(const struct lease_worker *w, size_t n, size_t *chosen)
{
    if (!w || !n || !chosen)
        return HARK_EINVAL;
    size_t best = n;
    for (size_t i = 0; i < n; i++) {
        if (w[i].tier < 0)
            return HARK_EINVAL;
        if (w[i].free_slots <= 0)
            continue;
        if (best == n || w[i].tier < w[best].tier ||
            (w[i].tier == w[best].tier && w[i].free_slots > w[best].free_slots))
            best = i;
    }
    if (best == n)
        return HARK_EBUSY;
    *chosen = best;
    return 0;
}
