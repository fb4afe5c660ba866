/* Live streams over one engine: windows, VAD gating, agreement, workers. */
#include "hark/stream.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "hark/buf.h"
#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/vad.h"

#define MS(samples) ((int64_t)(samples) * 1000 / ASR_RATE)
#define SAMPLES(ms) ((uint64_t)(ms) * ASR_RATE / 1000)
#define ONSET_QUICK_DECODES 3
#define MAX_EVENTS 256 /* queued per stream; a reader this far behind loses partials */

struct event_node {
    struct stream_event ev;
    struct event_node *next;
};

struct stream {
    struct streamer *owner;
    struct stream_config cfg;
    char *id, *speaker;
    struct agree *agree;
    struct vad *vad;
    float *win;                 /* window audio, from win_start */
    size_t win_len, win_cap;
    uint64_t win_start;         /* absolute sample of win[0] */
    uint64_t fed;               /* samples received */
    uint64_t decoded;           /* window end of the last decode */
    uint64_t due;               /* absolute sample the next decode waits for */
    int quick;                  /* decodes left at half a step (utterance onset) */
    uint64_t speech_end;        /* absolute end of the last speech frame */
    uint64_t vad_pos;           /* samples the VAD has seen */
    int64_t step_ms;            /* current step, raised under backpressure */
    int pending;                /* words heard but not yet emitted */
    int64_t open_start;         /* start of the open segment last sent, or -1 */
    size_t open_sent;           /* its words sent so far */
    int queued, decoding, ended, finished, closed;
    char language[ASR_LANG_MAX];
    struct hbuf last_partial;
    struct event_node *head, *tail;
    size_t n_events;
    pthread_cond_t ready;       /* an event arrived */
    struct stream *next_ready;  /* link in the streamer's queue */
};

struct streamer {
    struct asr_engine *engine;
    struct streamer_config cfg;
    pthread_mutex_t lock;       /* guards every stream's state and the queue */
    pthread_cond_t work;
    struct stream *q_head, *q_tail;
    int n_streams, stopping, n_workers;
    pthread_t *workers;
};

struct streamer_config streamer_config_default(void)
{
    struct streamer_config c = {
        .max_streams = 8, .vad_threshold = 0.5f, .vad_silence_ms = 600, .vad_pad_ms = 300};
    return c;
}

struct stream_config stream_config_default(void)
{
    struct stream_config c = {
        .asr = asr_options_default(),
        .step_ms = 1000,
        .max_lag_ms = 2000,
        .agree = agree_config_default(),
    };
    return c;
}

void stream_event_release(struct stream_event *ev)
{
    hark_free(ev->text);
    hark_free(ev->words);
    ev->text = NULL;
    ev->words = NULL;
}

/* --- events (lock held) -------------------------------------------------- */

static int push_event(struct stream *st, struct event_node *n)
{
    n->ev.emitted_mono_ms = clock_mono_ms();
    n->ev.audio_in_ms = MS(st->fed);
    snprintf(n->ev.language, sizeof n->ev.language, "%s", st->language);
    if (st->n_events >= MAX_EVENTS && n->ev.kind == STREAM_EVENT_PARTIAL) {
        stream_event_release(&n->ev); /* a partial is replaced soon anyway */
        hark_free(n);
        return 0;
    }
    if (st->tail)
        st->tail->next = n;
    else
        st->head = n;
    st->tail = n;
    st->n_events++;
    pthread_cond_broadcast(&st->ready);
    return 0;
}

static struct event_node *new_event(enum stream_event_kind kind)
{
    struct event_node *n = hark_calloc(1, sizeof *n);
    if (n)
        n->ev.kind = kind;
    return n;
}

static void segment_id(const struct stream *st, int64_t start_ms, char *out, size_t size)
{
    snprintf(out, size, "%s:%s:%lld", st->id, st->speaker, (long long)start_ms);
}

static int emit_segment(struct stream *st, struct agree_segment *seg, int final)
{
    struct event_node *n = new_event(STREAM_EVENT_SEGMENT);
    if (!n)
        return HARK_ENOMEM;
    n->ev.final = final;
    segment_id(st, seg->start_ms, n->ev.id, sizeof n->ev.id);
    n->ev.start_ms = seg->start_ms;
    n->ev.end_ms = seg->end_ms;
    n->ev.text = seg->text; /* ownership moves to the event */
    n->ev.words = seg->words;
    n->ev.n_words = seg->n_words;
    seg->text = NULL;
    seg->words = NULL;
    hbuf_reset(&st->last_partial);
    return push_event(st, n);
}

static int drain_segments(struct stream *st)
{
    struct agree_segment seg;
    int rc;
    while ((rc = agree_segment_pop(st->agree, &seg)) == 0) {
        rc = emit_segment(st, &seg, 1);
        agree_segment_release(&seg);
        if (rc)
            return rc;
    }
    return rc == HARK_ENOENT ? 0 : rc;
}

/* The open segment again when confirmed words joined it: a word is final
 * (and shown as such) when it is confirmed, not when its segment ends. */
static int emit_open(struct stream *st)
{
    struct agree_segment seg;
    int rc = agree_open_segment(st->agree, &seg);
    if (rc)
        return rc == HARK_ENOENT ? 0 : rc;
    if (seg.start_ms != st->open_start || seg.n_words > st->open_sent) {
        st->open_start = seg.start_ms;
        st->open_sent = seg.n_words;
        rc = emit_segment(st, &seg, 0);
    }
    agree_segment_release(&seg);
    return rc;
}

/* A PARTIAL only when the unconfirmed text changed. */
static int emit_partial(struct stream *st)
{
    struct hbuf text;
    int64_t start, end;
    hbuf_init(&text, 1 << 16);
    int rc = agree_partial(st->agree, &text, &start, &end);
    st->pending = !rc && text.len > 0;
    if (rc || (text.len == st->last_partial.len &&
               (!text.len || !memcmp(text.data, st->last_partial.data, text.len)))) {
        hbuf_release(&text);
        return rc;
    }
    hbuf_reset(&st->last_partial);
    rc = hbuf_append(&st->last_partial, text.data ? text.data : "", text.len);
    struct event_node *n = rc ? NULL : new_event(STREAM_EVENT_PARTIAL);
    if (n) {
        segment_id(st, start, n->ev.id, sizeof n->ev.id);
        n->ev.start_ms = start;
        n->ev.end_ms = end;
        n->ev.text = hbuf_take(&text);
        rc = n->ev.text ? push_event(st, n) : HARK_ENOMEM;
        if (rc)
            hark_free(n);
    } else if (!rc) {
        rc = HARK_ENOMEM;
    }
    hbuf_release(&text);
    return rc;
}

/* --- scheduling (lock held) ---------------------------------------------- */

static void trim_to(struct stream *st, uint64_t abs)
{
    if (abs <= st->win_start)
        return;
    uint64_t drop = abs - st->win_start;
    if (drop > st->win_len)
        drop = st->win_len;
    memmove(st->win, st->win + drop, (st->win_len - drop) * sizeof *st->win);
    st->win_len -= drop;
    st->win_start += drop;
}

static int has_speech(const struct stream *st)
{
    return !st->vad || st->speech_end > st->win_start;
}

/* A pause after speech: commit now rather than wait for agreement. Speech
 * not decoded yet counts, so an utterance shorter than a step is decoded
 * once, at its end. */
static int at_pause(const struct stream *st)
{
    return st->vad && (st->pending || st->speech_end > st->decoded) &&
           st->vad_pos >= st->speech_end + SAMPLES(st->owner->cfg.vad_silence_ms);
}

static int wants_decode(struct stream *st)
{
    if (st->queued || st->decoding || st->finished || st->closed)
        return 0;
    if (st->ended)
        return 1; /* the final decode and flush */
    if (st->fed < st->due && !at_pause(st))
        return 0;
    if (!has_speech(st)) {
        /* Silence costs nothing: drop it, keeping a little for the onset.
         * The first decodes of the next utterance come half a step apart:
         * a first partial a full step late is what users notice most. */
        uint64_t keep = SAMPLES(st->owner->cfg.vad_pad_ms);
        trim_to(st, st->fed > keep ? st->fed - keep : 0);
        st->decoded = st->fed;
        st->quick = ONSET_QUICK_DECODES;
        st->due = st->fed + SAMPLES(st->step_ms / 4);
        return 0;
    }
    return 1;
}

static void schedule(struct stream *st)
{
    struct streamer *s = st->owner;
    if (!wants_decode(st))
        return;
    st->queued = 1;
    st->next_ready = NULL;
    if (s->q_tail)
        s->q_tail->next_ready = st;
    else
        s->q_head = st;
    s->q_tail = st;
    pthread_cond_signal(&s->work);
}

/* --- decoding (worker threads) ------------------------------------------- */

struct job {
    float *pcm;
    size_t n;
    uint64_t start, end;        /* absolute samples */
    char prompt[AGREE_MAX_PROMPT_BYTES + 1];
    int flush;
    int last;                   /* taken after stream_end(): the final flush */
};

static int to_words(const struct asr_result *r, int64_t offset_ms, struct agree_word *w,
                    size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < r->n_segs; i++) {
        for (size_t k = 0; k < r->segs[i].n_words && *n < AGREE_MAX_WORDS; k++) {
            const struct asr_word *a = &r->segs[i].words[k];
            memset(&w[*n], 0, sizeof w[*n]);
            agree_word_set_text(&w[*n], a->text);
            w[*n].start_ms = offset_ms + a->start_ms;
            w[*n].end_ms = offset_ms + (a->end_ms > a->start_ms ? a->end_ms : a->start_ms);
            w[*n].p = a->p;
            (*n)++;
        }
    }
    return 0;
}

/* Takes what the worker needs out of the stream, so the decode runs
 * unlocked. Lock held. */
static int job_take(struct stream *st, struct job *j)
{
    j->n = st->win_len;
    j->start = st->win_start;
    j->end = st->win_start + st->win_len;
    j->last = st->ended;
    j->flush = st->ended || at_pause(st);
    snprintf(j->prompt, sizeof j->prompt, "%s", agree_prompt(st->agree));
    j->pcm = j->n ? hark_malloc(j->n * sizeof *j->pcm) : NULL;
    if (j->n && !j->pcm)
        return HARK_ENOMEM;
    if (j->n)
        memcpy(j->pcm, st->win, j->n * sizeof *j->pcm);
    return 0;
}

static int decode(struct streamer *s, struct stream *st, const struct job *j,
                  struct asr_result *r)
{
    memset(r, 0, sizeof *r);
    if (j->n < SAMPLES(100))
        return 0; /* nothing a decoder could hear */
    struct asr_options o = st->cfg.asr;
    o.prompt = j->prompt[0] ? j->prompt : NULL;
    /* The encoder sees only the window: 50 frames a second, plus a margin. */
    int64_t frames = MS(j->n) / 20 + 16;
    o.audio_ctx = frames < 1500 ? (int)frames : 0;
    return asr_transcribe(s->engine, j->pcm, j->n, &o, r);
}

/* Feeds one decode's words to the agreement and emits what it confirms.
 * Lock held. */
static int apply(struct stream *st, const struct job *j, const struct asr_result *r)
{
    struct agree_word *w = hark_malloc(AGREE_MAX_WORDS * sizeof *w);
    if (!w)
        return HARK_ENOMEM;
    size_t n;
    to_words(r, MS(j->start), w, &n);
    if (r->language[0])
        snprintf(st->language, sizeof st->language, "%s", r->language);
    int rc = agree_push(st->agree, w, n, MS(j->start), MS(j->end));
    hark_free(w);
    if (!rc)
        rc = drain_segments(st);
    if (!rc && j->flush && (rc = agree_flush(st->agree)) == 0)
        rc = drain_segments(st);
    if (!rc)
        rc = emit_open(st);
    if (!rc)
        rc = emit_partial(st);
    if (!rc)
        trim_to(st, SAMPLES(agree_trim_point(st->agree)));
    return rc;
}

/* Steps less often while behind, back to normal once caught up. */
static void adapt_step(struct stream *st)
{
    int64_t lag = MS(st->fed - st->decoded);
    int64_t base = st->cfg.step_ms;
    if (lag > st->cfg.max_lag_ms && st->step_ms < 4 * base)
        st->step_ms *= 2;
    else if (lag < st->cfg.max_lag_ms / 2 && st->step_ms > base)
        st->step_ms /= 2;
}

static void stream_destroy(struct stream *st);

static void finish_decode(struct streamer *s, struct stream *st, const struct job *j, int rc)
{
    st->decoding = 0;
    st->decoded = j->end;
    if (rc)
        log_warn("stream", "msg=\"decode dropped\" stream=%s err=%s", st->id, hark_errname(rc));
    adapt_step(st);
    st->due = j->end + SAMPLES(st->quick > 0 ? st->step_ms / 4 : st->step_ms);
    if (st->quick > 0)
        st->quick--;
    /* END only after a decode taken once ended: one that was in flight when
     * stream_end() came did not flush the open segment. */
    if (j->last && st->decoded >= st->fed && !st->finished) {
        struct event_node *n = new_event(STREAM_EVENT_END);
        st->finished = 1;
        if (n)
            push_event(st, n);
        pthread_cond_broadcast(&st->ready);
    }
    if (st->closed) {
        s->n_streams--;
        stream_destroy(st);
        return;
    }
    schedule(st);
}

static void *worker(void *arg)
{
    struct streamer *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->q_head && !s->stopping)
            pthread_cond_wait(&s->work, &s->lock);
        if (s->stopping)
            break;
        struct stream *st = s->q_head;
        s->q_head = st->next_ready;
        if (!s->q_head)
            s->q_tail = NULL;
        st->queued = 0;
        struct job j;
        int rc = job_take(st, &j);
        st->decoding = 1;
        pthread_mutex_unlock(&s->lock);
        struct asr_result r = {0};
        if (!rc)
            rc = decode(s, st, &j, &r);
        pthread_mutex_lock(&s->lock);
        if (!rc && !st->closed)
            rc = apply(st, &j, &r);
        asr_result_release(&r);
        hark_free(j.pcm);
        finish_decode(s, st, &j, rc);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* --- streamer -------------------------------------------------------------- */

int streamer_new(struct asr_engine *engine, const struct streamer_config *c,
                 struct streamer **out)
{
    *out = NULL;
    if (c->max_streams < 1 || c->vad_silence_ms < 1 || c->vad_pad_ms < 0)
        return HARK_ECONFIG;
    struct streamer *s = hark_calloc(1, sizeof *s);
    if (!s)
        return HARK_ENOMEM;
    s->engine = engine;
    s->cfg = *c;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    int n = asr_engine_decoders(engine);
    s->workers = hark_calloc((size_t)n, sizeof *s->workers);
    for (int i = 0; s->workers && i < n; i++) {
        if (pthread_create(&s->workers[i], NULL, worker, s))
            break;
        s->n_workers++;
    }
    if (s->n_workers != n) {
        streamer_free(s);
        return HARK_ENOMEM;
    }
    *out = s;
    return 0;
}

void streamer_free(struct streamer *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i], NULL);
    hark_free(s->workers);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->lock);
    hark_free(s);
}

int streamer_slots(struct streamer *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->cfg.max_streams - s->n_streams;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* --- streams --------------------------------------------------------------- */

static void stream_destroy(struct stream *st)
{
    for (struct event_node *n = st->head, *next; n; n = next) {
        next = n->next;
        stream_event_release(&n->ev);
        hark_free(n);
    }
    agree_free(st->agree);
    vad_free(st->vad);
    hbuf_release(&st->last_partial);
    pthread_cond_destroy(&st->ready);
    hark_free(st->win);
    hark_free(st->id);
    hark_free(st->speaker);
    hark_free(st);
}

static int stream_init(struct streamer *s, struct stream *st, const struct stream_config *c)
{
    st->owner = s;
    st->cfg = *c;
    st->step_ms = c->step_ms;
    st->open_start = -1;
    st->due = SAMPLES(c->step_ms > 0 ? c->step_ms : 0);
    pthread_cond_init(&st->ready, NULL);
    hbuf_init(&st->last_partial, 1 << 16);
    if (c->step_ms < 100 || c->max_lag_ms < 0)
        return HARK_ECONFIG;
    st->id = hark_strdup(c->id ? c->id : "stream");
    st->speaker = hark_strdup(c->speaker ? c->speaker : "");
    if (!st->id || !st->speaker)
        return HARK_ENOMEM;
    int rc = agree_new(&c->agree, &st->agree);
    if (!rc && s->cfg.vad_model) {
        struct vad_config vc = vad_config_default();
        vc.model_path = s->cfg.vad_model;
        vc.threshold = s->cfg.vad_threshold;
        rc = vad_new(&vc, &st->vad);
    }
    return rc;
}

int stream_open(struct streamer *s, const struct stream_config *c, struct stream **out)
{
    *out = NULL;
    struct stream *st = hark_calloc(1, sizeof *st);
    if (!st)
        return HARK_ENOMEM;
    int rc = stream_init(s, st, c);
    pthread_mutex_lock(&s->lock);
    if (!rc && s->n_streams >= s->cfg.max_streams)
        rc = HARK_EBUSY;
    if (!rc)
        s->n_streams++;
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        stream_destroy(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* Runs the VAD over new audio (outside the lock: only the feeding thread
 * touches st->vad) and returns the absolute end of the last speech frame. */
static int run_vad(struct stream *st, const float *pcm, size_t n, uint64_t *speech_end,
                   uint64_t *vad_pos)
{
    *speech_end = 0;
    *vad_pos = 0;
    if (!st->vad)
        return 0;
    size_t max = n / VAD_FRAME + 2;
    float *p = hark_malloc(max * sizeof *p);
    if (!p)
        return HARK_ENOMEM;
    size_t got;
    uint64_t first = st->vad_pos / VAD_FRAME; /* frames already scored */
    int rc = vad_feed(st->vad, pcm, n, p, max, &got);
    for (size_t i = 0; !rc && i < got; i++)
        if (p[i] >= st->owner->cfg.vad_threshold)
            *speech_end = (first + i + 1) * VAD_FRAME;
    *vad_pos = (first + got) * VAD_FRAME;
    hark_free(p);
    return rc;
}

static int append(struct stream *st, const float *pcm, size_t n)
{
    if (st->win_len + n > st->win_cap) {
        size_t cap = st->win_cap ? st->win_cap : ASR_RATE * 4;
        while (cap < st->win_len + n)
            cap *= 2;
        float *w = hark_realloc(st->win, cap * sizeof *w);
        if (!w)
            return HARK_ENOMEM;
        st->win = w;
        st->win_cap = cap;
    }
    memcpy(st->win + st->win_len, pcm, n * sizeof *pcm);
    st->win_len += n;
    st->fed += n;
    return 0;
}

int stream_feed(struct stream *st, const float *pcm, size_t n)
{
    if (st->ended)
        return HARK_ECLOSED;
    uint64_t speech_end, vad_pos;
    int rc = run_vad(st, pcm, n, &speech_end, &vad_pos);
    if (rc)
        return rc;
    struct streamer *s = st->owner;
    pthread_mutex_lock(&s->lock);
    rc = append(st, pcm, n);
    if (!rc && st->vad) {
        st->vad_pos = vad_pos;
        if (speech_end > st->speech_end)
            st->speech_end = speech_end;
    }
    if (!rc)
        schedule(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void stream_end(struct stream *st)
{
    struct streamer *s = st->owner;
    pthread_mutex_lock(&s->lock);
    st->ended = 1;
    schedule(st);
    pthread_mutex_unlock(&s->lock);
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int stream_next(struct stream *st, struct stream_event *ev, int timeout_ms)
{
    struct streamer *s = st->owner;
    struct timespec deadline;
    deadline_after(&deadline, timeout_ms < 0 ? 0 : timeout_ms);
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    while (!st->head && !rc) {
        if (st->finished)
            rc = HARK_ECLOSED;
        else if (timeout_ms < 0)
            pthread_cond_wait(&st->ready, &s->lock);
        else if (pthread_cond_timedwait(&st->ready, &s->lock, &deadline))
            rc = st->head ? 0 : HARK_ETIMEDOUT;
    }
    if (!rc) {
        struct event_node *n = st->head;
        st->head = n->next;
        if (!st->head)
            st->tail = NULL;
        st->n_events--;
        *ev = n->ev;
        hark_free(n);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void stream_progress(struct stream *st, uint64_t *fed, uint64_t *decoded)
{
    pthread_mutex_lock(&st->owner->lock);
    *fed = st->fed;
    *decoded = st->decoded;
    pthread_mutex_unlock(&st->owner->lock);
}

void stream_close(struct stream *st)
{
    if (!st)
        return;
    struct streamer *s = st->owner;
    pthread_mutex_lock(&s->lock);
    st->closed = 1;
    if (st->queued) { /* unlink from the ready queue */
        struct stream **pp = &s->q_head, *prev = NULL;
        while (*pp && *pp != st) {
            prev = *pp;
            pp = &(*pp)->next_ready;
        }
        if (*pp)
            *pp = st->next_ready;
        if (s->q_tail == st)
            s->q_tail = prev;
    }
    int busy = st->decoding; /* the worker frees it when its decode ends */
    if (!busy)
        s->n_streams--;
    pthread_mutex_unlock(&s->lock);
    if (!busy)
        stream_destroy(st);
}
