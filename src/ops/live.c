/* live.c — the live event hub: see include/hark/live.h.
 *
 * An event is serialised once into a reference-counted block shared by its
 * meeting's history and every subscriber queue holding it. Meetings sit in
 * an array sorted by id. Lock order: hub->mu, then a sub's mu. The hub's
 * mutex guards meetings, their histories and subscriber lists, and every
 * sub's list of meeting ids; a sub's mutex guards its queue and flags. */
#include "hark/live.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "hark/mem.h"
#include "hark/utf8.h"

#define LIVE_RING_MIN 16
/* The longest text event_stamp() appends, with its NUL. */
#define LIVE_ID_TAIL_MAX sizeof ",\"event_id\":-9223372036854775808}"

struct live_event {
    atomic_size_t refs;
    int64_t meeting_id;
    int64_t id;
    size_t len;             /* of text, without the NUL */
    char text[];
};

/* A FIFO of events that grows by doubling. */
struct ring {
    struct live_event **v;
    size_t head, n, cap;
};

struct live_meeting {
    int64_t id;
    struct ring hist;       /* oldest first; ids increasing */
    int64_t dropped_max;    /* newest id evicted or forgotten; 0: none */
    struct live_sub **subs;
    size_t n_subs, cap_subs;
};

struct live {
    pthread_mutex_t mu;
    struct live_config cfg;
    int64_t first_id;       /* ids up to it may come from earlier runs */
    int64_t last_id;
    struct live_meeting **meetings; /* sorted by id */
    size_t n_meetings, cap_meetings;
};

struct live_sub {
    struct live *hub;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ring q;
    size_t q_bytes;
    int overflow, closed;
    int64_t *ids;           /* meetings subscribed; guarded by hub->mu */
    size_t n_ids, cap_ids;
};

/* The newest id any hub of this process handed out, so a new hub starts
 * above it even when the clock has not moved on. */
static _Atomic int64_t live_high_water;

struct live_config live_config_default(void)
{
    return (struct live_config){.history = 1000, .queue_max_bytes = 8u << 20};
}

/* ---- events and rings ----------------------------------------------------- */

static void event_ref(struct live_event *e) { atomic_fetch_add(&e->refs, 1); }

static void event_unref(struct live_event *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1)
        hark_free(e);
}

static struct live_event *ring_at(const struct ring *r, size_t i)
{
    return r->v[(r->head + i) % r->cap];
}

/* Makes room for `want` events. The order survives: a wrapped ring is
 * unwrapped into the new block. */
static int ring_reserve(struct ring *r, size_t want)
{
    if (want <= r->cap)
        return 0;
    size_t cap = r->cap ? r->cap : LIVE_RING_MIN;
    while (cap < want)
        cap *= 2;
    struct live_event **v = hark_malloc(cap * sizeof *v);
    if (!v)
        return HARK_ENOMEM;
    for (size_t i = 0; r->cap && i < r->n; i++) /* n > 0 only with cap > 0 */
        v[i] = ring_at(r, i);
    hark_free(r->v);
    r->v = v;
    r->head = 0;
    r->cap = cap;
    return 0;
}

/* The caller reserved room. Takes the caller's reference. */
static void ring_push(struct ring *r, struct live_event *e)
{
    r->v[(r->head + r->n) % r->cap] = e;
    r->n++;
}

/* Hands the caller the front event's reference. */
static struct live_event *ring_pop(struct ring *r)
{
    struct live_event *e = r->v[r->head];
    r->head = (r->head + 1) % r->cap;
    r->n--;
    return e;
}

static void ring_clear(struct ring *r)
{
    while (r->n)
        event_unref(ring_pop(r));
}

static void ring_release(struct ring *r)
{
    ring_clear(r);
    hark_free(r->v);
    *r = (struct ring){0};
}

/* Returns array p of `size`-byte items grown to hold `want` (p itself when
 * it does), or NULL with p untouched. */
static void *array_reserve(void *p, size_t *cap, size_t want, size_t size)
{
    if (want <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 4;
    while (n < want)
        n *= 2;
    void *q = hark_realloc(p, n * size);
    if (q)
        *cap = n;
    return q;
}

/* ---- meetings (hub->mu held) ---------------------------------------------- */

/* Index of meeting id, or where it would go (*found 0). */
static size_t meeting_index(const struct live *l, int64_t id, int *found)
{
    size_t lo = 0, hi = l->n_meetings;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->meetings[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < l->n_meetings && l->meetings[lo]->id == id;
    return lo;
}

static struct live_meeting *meeting_find(const struct live *l, int64_t id)
{
    int found;
    size_t i = meeting_index(l, id, &found);
    return found ? l->meetings[i] : NULL;
}

static int meeting_get(struct live *l, int64_t id, struct live_meeting **out)
{
    int found;
    size_t i = meeting_index(l, id, &found);
    if (found) {
        *out = l->meetings[i];
        return 0;
    }
    void *grown = array_reserve(l->meetings, &l->cap_meetings, l->n_meetings + 1,
                                sizeof *l->meetings);
    if (!grown)
        return HARK_ENOMEM;
    l->meetings = grown;
    struct live_meeting *m = hark_calloc(1, sizeof *m);
    if (!m)
        return HARK_ENOMEM;
    m->id = id;
    memmove(&l->meetings[i + 1], &l->meetings[i], (l->n_meetings - i) * sizeof *l->meetings);
    l->meetings[i] = m;
    l->n_meetings++;
    *out = m;
    return 0;
}

static void meeting_remove(struct live *l, struct live_meeting *m)
{
    int found;
    size_t i = meeting_index(l, m->id, &found);
    memmove(&l->meetings[i], &l->meetings[i + 1], (l->n_meetings - i - 1) * sizeof *l->meetings);
    l->n_meetings--;
    ring_release(&m->hist);
    hark_free(m->subs);
    hark_free(m);
}

/* An entry with nothing to remember costs memory for nothing. */
static void meeting_drop_if_unused(struct live *l, struct live_meeting *m)
{
    if (!m->n_subs && !m->hist.n && !m->dropped_max)
        meeting_remove(l, m);
}

static void meeting_unsubscribe(struct live *l, int64_t id, const struct live_sub *s)
{
    struct live_meeting *m = meeting_find(l, id);
    if (!m)
        return;
    for (size_t i = 0; i < m->n_subs; i++)
        if (m->subs[i] == s) {
            m->subs[i] = m->subs[--m->n_subs];
            break;
        }
    meeting_drop_if_unused(l, m);
}

/* ---- subscriber queues (s->mu held) ---------------------------------------- */

/* The subscriber missed an event: its queue is worthless now, so the memory
 * goes at once. */
static void sub_overflow(struct live_sub *s)
{
    s->overflow = 1;
    ring_clear(&s->q);
    s->q_bytes = 0;
    pthread_cond_broadcast(&s->cv);
}

static void sub_enqueue(struct live_sub *s, size_t max_bytes, struct live_event *e)
{
    if (s->closed || s->overflow)
        return;
    if (e->len > max_bytes - s->q_bytes || ring_reserve(&s->q, s->q.n + 1)) {
        sub_overflow(s);
        return;
    }
    event_ref(e);
    ring_push(&s->q, e);
    s->q_bytes += e->len;
    pthread_cond_signal(&s->cv);
}

/* ---- the hub --------------------------------------------------------------- */

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int live_new(const struct live_config *c, struct live **out)
{
    *out = NULL;
    if (c->queue_max_bytes == 0)
        return HARK_ECONFIG;
    struct live *l = hark_calloc(1, sizeof *l);
    if (!l)
        return HARK_ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    l->cfg = *c;
    int64_t now = wall_us(), high = atomic_load(&live_high_water);
    l->first_id = l->last_id = now > high ? now : high;
    *out = l;
    return 0;
}

void live_free(struct live *l)
{
    if (!l)
        return;
    while (l->n_meetings)
        meeting_remove(l, l->meetings[l->n_meetings - 1]);
    hark_free(l->meetings);
    pthread_mutex_destroy(&l->mu);
    hark_free(l);
}

static void raise_high_water(int64_t id)
{
    int64_t seen = atomic_load(&live_high_water);
    while (seen < id && !atomic_compare_exchange_weak(&live_high_water, &seen, id))
        ;
}

/* Copies msg's text without its closing brace, leaving room for the id. */
static int event_new(int64_t meeting_id, struct json_object *msg, struct live_event **out)
{
    if (!json_object_is_type(msg, json_type_object) ||
        json_object_object_get_ex(msg, "event_id", NULL))
        return HARK_EINVAL;
    size_t len;
    const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
    if (!s)
        return HARK_ENOMEM;
    if (len < 2 || s[len - 1] != '}' || !utf8_valid(s, len))
        return HARK_EINVAL;
    struct live_event *e = hark_malloc(sizeof *e + len - 1 + LIVE_ID_TAIL_MAX);
    if (!e)
        return HARK_ENOMEM;
    atomic_init(&e->refs, 1);
    e->meeting_id = meeting_id;
    e->len = len - 1;
    memcpy(e->text, s, e->len);
    *out = e;
    return 0;
}

static void event_stamp(struct live_event *e, int64_t id)
{
    /* "{}" serialises as exactly that: no member to put a comma after. */
    const char *sep = e->len > 1 ? "," : "";
    int n = snprintf(e->text + e->len, LIVE_ID_TAIL_MAX, "%s\"event_id\":%lld}", sep,
                     (long long)id);
    e->id = id;
    e->len += (size_t)n;
}

int live_publish(struct live *l, int64_t meeting_id, struct json_object *msg,
                 int64_t *event_id_out)
{
    struct live_event *e;
    int rc = event_new(meeting_id, msg, &e);
    if (rc)
        return rc;
    pthread_mutex_lock(&l->mu);
    struct live_meeting *m;
    rc = meeting_get(l, meeting_id, &m);
    if (!rc && m->hist.n < l->cfg.history && ring_reserve(&m->hist, m->hist.n + 1)) {
        meeting_drop_if_unused(l, m);
        rc = HARK_ENOMEM;
    }
    if (rc) {
        pthread_mutex_unlock(&l->mu);
        hark_free(e);
        return rc;
    }
    event_stamp(e, ++l->last_id);
    raise_high_water(e->id);
    if (l->cfg.history == 0) {
        m->dropped_max = e->id;
    } else {
        if (m->hist.n == l->cfg.history) {
            struct live_event *old = ring_pop(&m->hist);
            m->dropped_max = old->id;
            event_unref(old);
        }
        event_ref(e);
        ring_push(&m->hist, e);
    }
    for (size_t i = 0; i < m->n_subs; i++) {
        struct live_sub *s = m->subs[i];
        pthread_mutex_lock(&s->mu);
        sub_enqueue(s, l->cfg.queue_max_bytes, e);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&l->mu);
    if (event_id_out)
        *event_id_out = e->id;
    event_unref(e);
    return 0;
}

void live_forget(struct live *l, int64_t meeting_id)
{
    pthread_mutex_lock(&l->mu);
    struct live_meeting *m = meeting_find(l, meeting_id);
    if (m && m->hist.n) {
        m->dropped_max = ring_at(&m->hist, m->hist.n - 1)->id;
        ring_clear(&m->hist);
    }
    if (m && !m->n_subs)
        meeting_remove(l, m);
    pthread_mutex_unlock(&l->mu);
}

/* ---- subscribers ------------------------------------------------------------ */

int live_sub_new(struct live *l, struct live_sub **out)
{
    *out = NULL;
    struct live_sub *s = hark_calloc(1, sizeof *s);
    if (!s)
        return HARK_ENOMEM;
    s->hub = l;
    pthread_mutex_init(&s->mu, NULL);
    /* Timeouts run on the monotonic clock: setting the wall clock must not
     * stretch or cut a wait. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = s;
    return 0;
}

static int sub_has(const struct live_sub *s, int64_t meeting_id, size_t *at)
{
    for (size_t i = 0; i < s->n_ids; i++)
        if (s->ids[i] == meeting_id) {
            *at = i;
            return 1;
        }
    return 0;
}

/* Queues the history of m after last_event_id; s->mu held. */
static int sub_replay(struct live_sub *s, const struct live_meeting *m, int64_t last_event_id,
                      size_t max_bytes)
{
    size_t from = m->hist.n, bytes = 0;
    while (from > 0 && ring_at(&m->hist, from - 1)->id > last_event_id)
        bytes += ring_at(&m->hist, --from)->len;
    if (from == m->hist.n || s->closed || s->overflow)
        return 0;
    if (bytes > max_bytes - s->q_bytes) {
        sub_overflow(s);
        return 0;
    }
    if (ring_reserve(&s->q, s->q.n + (m->hist.n - from)))
        return HARK_ENOMEM;
    for (size_t i = from; i < m->hist.n; i++) {
        struct live_event *e = ring_at(&m->hist, i);
        event_ref(e);
        ring_push(&s->q, e);
    }
    s->q_bytes += bytes;
    pthread_cond_signal(&s->cv);
    return 0;
}

int live_sub_add(struct live_sub *s, int64_t meeting_id, int64_t last_event_id,
                 int *replay_gap_out)
{
    struct live *l = s->hub;
    int gap = 0, rc = 0;
    size_t at;
    if (last_event_id < 0)
        return HARK_EINVAL;
    pthread_mutex_lock(&l->mu);
    struct live_meeting *m = NULL;
    if (sub_has(s, meeting_id, &at))
        goto out;
    void *ids = array_reserve(s->ids, &s->cap_ids, s->n_ids + 1, sizeof *s->ids);
    if (ids)
        s->ids = ids;
    rc = ids ? meeting_get(l, meeting_id, &m) : HARK_ENOMEM;
    if (!rc) {
        void *subs = array_reserve(m->subs, &m->cap_subs, m->n_subs + 1, sizeof *m->subs);
        if (subs)
            m->subs = subs;
        else
            rc = HARK_ENOMEM;
    }
    if (!rc) {
        pthread_mutex_lock(&s->mu);
        if (last_event_id > 0) {
            gap = last_event_id <= l->first_id || m->dropped_max > last_event_id;
            rc = sub_replay(s, m, last_event_id, l->cfg.queue_max_bytes);
        }
        if (!rc) {
            m->subs[m->n_subs++] = s;
            s->ids[s->n_ids++] = meeting_id;
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (rc) {
        gap = 0;
        if (m)
            meeting_drop_if_unused(l, m);
    }
out:
    pthread_mutex_unlock(&l->mu);
    if (replay_gap_out)
        *replay_gap_out = gap;
    return rc;
}

void live_sub_remove(struct live_sub *s, int64_t meeting_id)
{
    struct live *l = s->hub;
    size_t at;
    pthread_mutex_lock(&l->mu);
    if (!sub_has(s, meeting_id, &at)) {
        pthread_mutex_unlock(&l->mu);
        return;
    }
    s->ids[at] = s->ids[--s->n_ids];
    meeting_unsubscribe(l, meeting_id, s);
    pthread_mutex_lock(&s->mu);
    size_t kept = 0;
    for (size_t i = 0; i < s->q.n; i++) {
        struct live_event *e = ring_at(&s->q, i);
        if (e->meeting_id == meeting_id) {
            s->q_bytes -= e->len;
            event_unref(e);
        } else {
            s->q.v[(s->q.head + kept++) % s->q.cap] = e;
        }
    }
    s->q.n = kept;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&l->mu);
}

static struct timespec deadline_after(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

int live_sub_next(struct live_sub *s, int timeout_ms, char **text, size_t *len)
{
    *text = NULL;
    *len = 0;
    struct timespec deadline = deadline_after(timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&s->mu);
    while (!s->closed && !s->overflow && !s->q.n && timeout_ms != 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&s->cv, &s->mu);
        else if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT)
            break;
    }
    int rc = s->closed ? HARK_ECLOSED : s->overflow ? HARK_ETOOBIG : !s->q.n ? HARK_ETIMEDOUT : 0;
    if (!rc) {
        struct live_event *e = ring_at(&s->q, 0);
        *text = hark_malloc(e->len + 1);
        if (*text) {
            memcpy(*text, e->text, e->len);
            (*text)[e->len] = '\0';
            *len = e->len;
            s->q_bytes -= e->len;
            event_unref(ring_pop(&s->q));
        } else {
            rc = HARK_ENOMEM;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void live_sub_close(struct live_sub *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void live_sub_free(struct live_sub *s)
{
    if (!s)
        return;
    struct live *l = s->hub;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < s->n_ids; i++)
        meeting_unsubscribe(l, s->ids[i], s);
    pthread_mutex_unlock(&l->mu);
    ring_release(&s->q);
    hark_free(s->ids);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    hark_free(s);
}
