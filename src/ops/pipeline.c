/* A meeting's audio path: log → stream → collector (pipeline.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "hark/buf.h"
#include "hark/clock.h"
#include "hark/json.h"
#include "hark/lease.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/metrics.h"
#include "hark/pipeline.h"
#include "hark/recording.h"

#define CHUNK ALOG_SAMPLE_RATE        /* samples fed or recorded per read */
#define EVENT_WAIT_MS 50              /* bounds how late the collector feeds */
#define MS(samples) ((int64_t)((samples) * 1000 / ALOG_SAMPLE_RATE))
#define RENEW_EVERY_MS 1000           /* well inside the lease's ttl */
#define SPEAKER_MAX 64                /* bytes of a speaker label, NUL included */
#define SPEAKER_TURNS 64              /* speaker changes remembered */

struct pipeline {
    char *audio_dir, *recordings_dir;
    struct pipeline_config cfg;
    struct streamer *streamer;
    struct notify notify;
    struct lease_table *leases;   /* which run holds which meeting */
    struct metric *m_runs, *m_audio, *m_segments; /* NULL without metrics */
    char worker[LEASE_WORKER_MAX];
};

struct pipeline_run {
    struct pipeline *p;
    struct store_meeting m;       /* refreshed until it has a start time */
    char key[ALOG_KEY_MAX];
    char speaker[SPEAKER_MAX];    /* the first speaker */
    struct {                      /* later changes, oldest first; under lock */
        uint64_t at;              /* log offset */
        char name[SPEAKER_MAX];
    } turns[SPEAKER_TURNS];
    size_t n_turns;
    struct alog *log;
    struct stream *st;
    struct lease lease;           /* generation 0: not held */
    int64_t renewed_ms;           /* collector only */
    pipeline_observer *observer;
    void *observer_arg;
    float *buf;                   /* CHUNK samples, collector feeding */
    uint64_t base;                /* log offset of the stream's first sample */
    pthread_t collector;
    pthread_mutex_t lock;         /* guards the fields below and feeding */
    pthread_cond_t cond;
    uint64_t fed;                 /* log offset fed to the stream so far */
    int ending, end_sent, done, quit, err, started;
};

struct pipeline_config pipeline_config_default(void)
{
    struct pipeline_config c = {.audio_dir = NULL, .recordings_dir = NULL,
                                .stream = stream_config_default(),
                                .alog = alog_config_default()};
    return c;
}

static int make_dir(const char *dir)
{
    if (!mkdir(dir, 0700) || errno == EEXIST)
        return 0;
    log_error("pipeline", "msg=\"cannot create directory\" dir=%s errno=%d", dir, errno);
    return HARK_EIO;
}

static int register_metrics(struct pipeline *p, struct metrics *m)
{
    if (!m)
        return 0;
    int rc = metrics_gauge(m, "hark_meeting_runs", "Meetings being transcribed now.", NULL, 0,
                           &p->m_runs);
    if (!rc)
        rc = metrics_counter(m, "hark_meeting_audio_seconds_total",
                             "Seconds of meeting audio received into audio logs.", NULL, 0,
                             &p->m_audio);
    if (!rc)
        rc = metrics_counter(m, "hark_meeting_segments_total",
                             "Final transcript segments stored.", NULL, 0, &p->m_segments);
    return rc;
}

/* Adds v to m when metrics are on. */
static void count(struct metric *m, double v)
{
    if (m)
        (void)metric_add(m, NULL, v);
}

int pipeline_new(const struct pipeline_config *c, struct streamer *streamer,
                 const struct notify *n, struct pipeline **out)
{
    *out = NULL;
    if (!c->audio_dir || !streamer || !n || !n->store)
        return HARK_EINVAL;
    struct pipeline *p = hark_calloc(1, sizeof *p);
    if (!p)
        return HARK_ENOMEM;
    p->cfg = *c;
    p->streamer = streamer;
    p->notify = *n;
    int rc = (p->audio_dir = hark_strdup(c->audio_dir)) ? 0 : HARK_ENOMEM;
    if (!rc && c->recordings_dir && !(p->recordings_dir = hark_strdup(c->recordings_dir)))
        rc = HARK_ENOMEM;
    struct lease_config lc = lease_config_default();
    if (!rc)
        rc = lease_table_new(&lc, &p->leases);
    if (!rc)
        rc = register_metrics(p, c->metrics);
    snprintf(p->worker, sizeof p->worker, "serve-%ld", (long)getpid());
    if (!rc)
        rc = make_dir(p->audio_dir);
    if (!rc && p->recordings_dir)
        rc = make_dir(p->recordings_dir);
    if (rc) {
        pipeline_free(p);
        return rc;
    }
    p->cfg.audio_dir = p->audio_dir;
    p->cfg.recordings_dir = p->recordings_dir;
    p->cfg.alog.dir = p->audio_dir;
    *out = p;
    return 0;
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    lease_table_free(p->leases);
    hark_free(p->audio_dir);
    hark_free(p->recordings_dir);
    hark_free(p);
}

/* --- feeding ---------------------------------------------------------------- */

static int ahead_ok(struct pipeline_run *r)
{
    uint64_t fed, decoded;
    stream_progress(r->st, &fed, &decoded);
    return fed - decoded < (uint64_t)PIPELINE_AHEAD_MS * ALOG_SAMPLE_RATE / 1000;
}

/* Feeds the stream from the log while the decoder is close enough behind.
 * Under r->lock. */
static int feed_from_log(struct pipeline_run *r)
{
    while (r->fed < alog_end(r->log) && ahead_ok(r)) {
        uint64_t left = alog_end(r->log) - r->fed;
        size_t got = 0;
        int rc = alog_read(r->log, r->fed, r->buf, left < CHUNK ? (size_t)left : CHUNK, &got);
        if (!rc && got)
            rc = stream_feed(r->st, r->buf, got);
        if (rc)
            return rc;
        r->fed += got;
    }
    return 0;
}

int pipeline_run_append(struct pipeline_run *r, const float *pcm, size_t n)
{
    uint64_t off;
    pthread_mutex_lock(&r->lock);
    int rc = r->ending ? HARK_ECLOSED : alog_append(r->log, pcm, n, &off);
    /* The fast path: in step with the log, the samples go straight on. */
    if (!rc && off == r->fed && ahead_ok(r) && !stream_feed(r->st, pcm, n))
        r->fed += n;
    pthread_mutex_unlock(&r->lock);
    if (!rc)
        count(r->p->m_audio, (double)n / ALOG_SAMPLE_RATE);
    return rc;
}

void pipeline_run_progress(struct pipeline_run *r, uint64_t *received, uint64_t *durable,
                           uint64_t *transcribed)
{
    if (received)
        *received = alog_end(r->log);
    if (durable)
        *durable = alog_durable(r->log);
    if (transcribed)
        *transcribed = alog_committed(r->log);
}

/* --- collecting ---------------------------------------------------------------- */

static void run_fail(struct pipeline_run *r, int rc, const char *what)
{
    log_error("pipeline", "msg=\"%s\" meeting=%lld err=%s", what, (long long)r->m.id,
              hark_strerror(rc));
    pthread_mutex_lock(&r->lock);
    if (!r->err)
        r->err = rc;
    pthread_mutex_unlock(&r->lock);
}

/* Times on the wire start at the meeting's start: once the source made it
 * active, the row has it. */
static void refresh_meeting(struct pipeline_run *r)
{
    struct store_meeting m;
    if (r->m.start_time_ms > 0 || store_meeting_get(r->p->notify.store, r->m.user_id, r->m.id, &m))
        return;
    store_meeting_release(&r->m);
    r->m = m;
}

static char *words_json_new(const struct stream_event *ev, int64_t base_ms)
{
    struct json_object *a = json_object_new_array();
    for (size_t i = 0; a && i < ev->n_words; i++) {
        const struct agree_word *w = &ev->words[i];
        struct json_object *o = json_object_new_object();
        if (!o || json_add_str(o, "word", w->text) ||
            json_add(o, "start", json_new_seconds(base_ms + w->start_ms)) ||
            json_add(o, "end", json_new_seconds(base_ms + w->end_ms)) ||
            json_add(o, "probability", json_object_new_double((double)w->p)) ||
            json_object_array_add(a, o)) {
            json_object_put(o);
            json_object_put(a);
            a = NULL;
        }
    }
    char *s = a ? hark_strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN)) : NULL;
    json_object_put(a);
    return s;
}

static int commit_to(struct pipeline_run *r, uint64_t off)
{
    pthread_mutex_lock(&r->lock);
    uint64_t fed = r->fed;
    pthread_mutex_unlock(&r->lock);
    if (off > fed)
        off = fed;
    if (off <= alog_committed(r->log))
        return 0;
    return alog_commit(r->log, off);
}

/* Fencing: 0 while this run still holds its meeting's lease, renewed here
 * once a second. A run that lost it writes nothing more and stops. */
static int lease_held(struct pipeline_run *r)
{
    int64_t now = clock_mono_ms();
    int rc = now - r->renewed_ms >= RENEW_EVERY_MS
                 ? lease_renew(r->p->leases, &r->lease, &r->lease)
                 : lease_check(r->p->leases, &r->lease);
    if (!rc && now - r->renewed_ms >= RENEW_EVERY_MS)
        r->renewed_ms = now;
    if (rc) {
        run_fail(r, rc, "lease lost: another run took the meeting");
        pthread_mutex_lock(&r->lock);
        r->quit = 1;
        pthread_mutex_unlock(&r->lock);
    }
    return rc;
}

void pipeline_run_speaker(struct pipeline_run *r, const char *speaker)
{
    pthread_mutex_lock(&r->lock);
    if (r->n_turns == SPEAKER_TURNS) { /* the oldest change no segment can still need */
        memmove(r->turns, r->turns + 1, (SPEAKER_TURNS - 1) * sizeof r->turns[0]);
        r->n_turns--;
    }
    r->turns[r->n_turns].at = alog_end(r->log);
    snprintf(r->turns[r->n_turns].name, SPEAKER_MAX, "%s", speaker ? speaker : "");
    r->n_turns++;
    pthread_mutex_unlock(&r->lock);
}

/* Who was talking at log offset `at`, copied into out. */
static void speaker_at(struct pipeline_run *r, uint64_t at, char out[SPEAKER_MAX])
{
    const char *who = r->speaker;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_turns && r->turns[i].at <= at; i++)
        who = r->turns[i].name;
    memcpy(out, who, SPEAKER_MAX);
    pthread_mutex_unlock(&r->lock);
}

static void on_segment(struct pipeline_run *r, const struct stream_event *ev)
{
    int64_t base_ms = MS(r->base);
    char id[256];
    char speaker[SPEAKER_MAX];
    speaker_at(r, r->base + (uint64_t)ev->start_ms * ALOG_SAMPLE_RATE / 1000, speaker);
    snprintf(id, sizeof id, "%lld:%s:%lld", (long long)r->m.id, speaker,
             (long long)(base_ms + ev->start_ms));
    if (lease_held(r))
        return;
    char *words = words_json_new(ev, base_ms);
    struct store_segment_in g = {.id = id, .speaker = speaker,
                                 .start_ms = base_ms + ev->start_ms,
                                 .end_ms = base_ms + ev->end_ms, .text = ev->text,
                                 .language = ev->language[0] ? ev->language : NULL,
                                 .completed = ev->final, .words_json = words};
    int rc = words ? store_segments_upsert(r->p->notify.store, r->m.id, &g, 1) : HARK_ENOMEM;
    hark_free(words);
    if (rc) { /* not committed: a restart transcribes it again */
        run_fail(r, rc, "cannot store segment");
        return;
    }
    refresh_meeting(r);
    notify_segment(&r->p->notify, &r->m, &g);
    if (ev->final)
        count(r->p->m_segments, 1);
    if (ev->final && (rc = commit_to(r, r->base + (uint64_t)ev->end_ms * ALOG_SAMPLE_RATE / 1000)))
        run_fail(r, rc, "cannot commit the audio log");
}

static void on_partial(struct pipeline_run *r, const struct stream_event *ev)
{
    char speaker[SPEAKER_MAX];
    speaker_at(r, r->base + (uint64_t)ev->start_ms * ALOG_SAMPLE_RATE / 1000, speaker);
    notify_partial(&r->p->notify, &r->m, speaker, ev->text, MS(r->base) + ev->start_ms,
                   MS(r->base) + ev->end_ms);
}

static int recording_wanted(const struct store_meeting *m)
{
    struct json_object *d = json_tokener_parse(m->data_json ? m->data_json : "{}"), *v;
    int want = !(json_object_object_get_ex(d, "recording_enabled", &v) &&
                 json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v));
    json_object_put(d);
    return want;
}

/* The whole log, encoded. A failure leaves no file and keeps the log. */
static int record(struct pipeline_run *r)
{
    uint64_t end = alog_end(r->log);
    if (!r->p->recordings_dir || !end || !recording_wanted(&r->m))
        return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%lld.ogg", r->p->recordings_dir, (long long)r->m.id);
    struct recording *rec;
    int rc = recording_open(path, NULL, &rec);
    for (uint64_t off = 0; !rc && off < end;) {
        size_t got = 0;
        rc = alog_read(r->log, off, r->buf, end - off < CHUNK ? (size_t)(end - off) : CHUNK, &got);
        if (!rc)
            rc = got ? recording_write(rec, r->buf, got) : HARK_EIO;
        off += got;
    }
    if (!rc)
        return recording_close(rec);
    recording_abort(rec);
    return rc;
}

/* What a client reading the meeting can check coverage with. */
static void note_progress(struct pipeline_run *r)
{
    char patch[160];
    snprintf(patch, sizeof patch, "{\"audio_received_s\":%.3f,\"audio_transcribed_s\":%.3f}",
             (double)alog_end(r->log) / ALOG_SAMPLE_RATE,
             (double)alog_committed(r->log) / ALOG_SAMPLE_RATE);
    struct store_meeting m;
    int rc = store_meeting_patch_data(r->p->notify.store, r->m.user_id, r->m.id, patch, &m);
    if (rc)
        run_fail(r, rc, "cannot record progress");
    else
        store_meeting_release(&m);
}

static void on_end(struct pipeline_run *r)
{
    int rc = lease_held(r);
    if (rc)
        return;
    rc = commit_to(r, alog_end(r->log));
    if (rc)
        run_fail(r, rc, "cannot commit the audio log");
    note_progress(r);
    if (!rc && (rc = record(r)))
        run_fail(r, rc, "cannot write the recording");
    log_info("pipeline", "msg=\"meeting transcribed\" meeting=%lld audio_ms=%lld err=%s",
             (long long)r->m.id, (long long)MS(alog_end(r->log)), hark_errname(r->err));
}

static void handle(struct pipeline_run *r, const struct stream_event *ev)
{
    if (ev->kind == STREAM_EVENT_SEGMENT)
        on_segment(r, ev);
    else if (ev->kind == STREAM_EVENT_PARTIAL && ev->text && ev->text[0])
        on_partial(r, ev);
    else if (ev->kind == STREAM_EVENT_END)
        on_end(r);
    if (r->observer)
        r->observer(r->observer_arg, ev);
}

/* Feeds what waits in the log; ends the stream once finishing and fed. */
static int collector_feed(struct pipeline_run *r)
{
    pthread_mutex_lock(&r->lock);
    int rc = feed_from_log(r);
    int quit = r->quit;
    if (!rc && r->ending && !r->end_sent && r->fed == alog_end(r->log)) {
        stream_end(r->st);
        r->end_sent = 1;
    }
    pthread_mutex_unlock(&r->lock);
    if (rc)
        run_fail(r, rc, "cannot feed the stream");
    return quit;
}

static void *collect(void *arg)
{
    struct pipeline_run *r = arg;
    int ended = 0;
    while (!ended && !collector_feed(r)) {
        struct stream_event ev;
        int rc = stream_next(r->st, &ev, EVENT_WAIT_MS);
        if (rc == HARK_ETIMEDOUT) {
            (void)lease_held(r); /* keeps it through silence */
            continue;
        }
        if (rc)
            break;
        refresh_meeting(r);
        handle(r, &ev);
        ended = ev.kind == STREAM_EVENT_END;
        stream_event_release(&ev);
    }
    pthread_mutex_lock(&r->lock);
    r->done = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* --- opening and closing --------------------------------------------------------- */

static int meeting_copy(struct store_meeting *dst, const struct store_meeting *m)
{
    memset(dst, 0, sizeof *dst);
    dst->id = m->id;
    dst->user_id = m->user_id;
    dst->start_time_ms = m->start_time_ms;
    dst->created_at_ms = m->created_at_ms;
    dst->platform = hark_strdup(m->platform);
    dst->native_meeting_id = hark_strdup(m->native_meeting_id ? m->native_meeting_id : "");
    dst->status = hark_strdup(m->status);
    dst->data_json = hark_strdup(m->data_json ? m->data_json : "{}");
    return dst->platform && dst->native_meeting_id && dst->status && dst->data_json
               ? 0 : HARK_ENOMEM;
}

/* The log, and the transcript cut back to what the log has committed. */
static int open_log(struct pipeline_run *r)
{
    int rc = alog_open(&r->p->cfg.alog, r->key, &r->log);
    if (rc)
        return rc;
    r->base = r->fed = alog_committed(r->log);
    int64_t gone = 0;
    rc = store_segments_delete_from(r->p->notify.store, r->m.id, MS(r->base), &gone);
    if (!rc && (r->base || alog_end(r->log)))
        log_info("pipeline", "msg=\"resuming\" meeting=%lld from_ms=%lld logged_ms=%lld "
                 "segments_redone=%lld", (long long)r->m.id, (long long)MS(r->base),
                 (long long)MS(alog_end(r->log)), (long long)gone);
    return rc;
}

static int open_stream(struct pipeline_run *r)
{
    struct stream_config sc = r->p->cfg.stream;
    sc.id = r->key;
    sc.speaker = r->speaker;
    return stream_open(r->p->streamer, &sc, &r->st);
}

/* Placement (one local worker in embedded mode; the distributed mode lists
 * its workers by tier) and the meeting's lease. */
static int claim(struct pipeline_run *r)
{
    struct lease_worker w = {r->p->worker, 0, streamer_slots(r->p->streamer)};
    size_t chosen;
    int rc = lease_place(&w, 1, &chosen);
    if (!rc)
        rc = lease_acquire(r->p->leases, r->m.id, r->p->worker, &r->lease);
    if (!rc)
        r->renewed_ms = clock_mono_ms();
    return rc;
}

int pipeline_run_open(struct pipeline *p, const struct store_meeting *m, const char *speaker,
                      pipeline_observer *observer, void *observer_arg,
                      struct pipeline_run **out)
{
    *out = NULL;
    struct pipeline_run *r = hark_calloc(1, sizeof *r);
    if (!r)
        return HARK_ENOMEM;
    r->p = p;
    r->observer = observer;
    r->observer_arg = observer_arg;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    snprintf(r->key, sizeof r->key, "m%lld", (long long)m->id);
    snprintf(r->speaker, sizeof r->speaker, "%s", speaker ? speaker : "");
    int rc = meeting_copy(&r->m, m);
    if (!rc && !(r->buf = hark_malloc(CHUNK * sizeof *r->buf)))
        rc = HARK_ENOMEM;
    if (!rc)
        rc = claim(r);
    if (!rc)
        rc = open_log(r);
    if (!rc)
        rc = open_stream(r);
    if (!rc)
        rc = pthread_create(&r->collector, NULL, collect, r) ? HARK_ENOMEM : 0;
    if (rc) {
        pipeline_run_free(r);
        return rc;
    }
    r->started = 1;
    count(p->m_runs, 1);
    *out = r;
    return 0;
}

int pipeline_run_finish(struct pipeline_run *r)
{
    pthread_mutex_lock(&r->lock);
    r->ending = 1;
    while (!r->done)
        pthread_cond_wait(&r->cond, &r->lock);
    int rc = r->err;
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void pipeline_run_free(struct pipeline_run *r)
{
    if (!r)
        return;
    if (r->started) {
        count(r->p->m_runs, -1);
        pthread_mutex_lock(&r->lock);
        r->quit = 1;
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->collector, NULL);
    }
    int finished = r->ending && r->done && !r->err && r->end_sent;
    stream_close(r->st);
    alog_free(r->log);
    if (finished && r->log) {
        int rc = alog_remove(r->p->audio_dir, r->key);
        if (rc)
            log_warn("pipeline", "msg=\"cannot remove the audio log\" meeting=%lld err=%s",
                     (long long)r->m.id, hark_strerror(rc));
    }
    if (r->lease.generation)
        lease_release(r->p->leases, &r->lease);
    store_meeting_release(&r->m);
    hark_free(r->buf);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    hark_free(r);
}

int pipeline_drain(struct pipeline *p, const struct store_meeting *m)
{
    struct pipeline_run *r;
    int rc = pipeline_run_open(p, m, NULL, NULL, NULL, &r);
    if (!rc)
        rc = pipeline_run_finish(r);
    pipeline_run_free(r);
    return rc;
}
