/* stream_bench — the transcription benchmarks behind bench/asr.sh.
 *
 * One engine, one streamer, the code `hark serve` runs; three modes:
 *   offline   asr_transcribe() over the whole file once (what `hark
 *             transcribe` does): the denominator of compute amplification.
 *   fast      one stream, a step of audio fed, then wait until it is
 *             decoded: the windows real time would give, without the wait,
 *             so its CPU seconds are those of a real-time stream.
 *   realtime  K streams fed 100 ms chunks on the wall clock, starts
 *             staggered over one step, each looping the file from its own
 *             offset; reports latency from the events, lag from
 *             stream_progress(), RSS from /proc/self/status.
 * Prints `name value unit` lines, each name prefixed by --name. CPU seconds
 * come from getrusage() around the measured part only (no model load).
 *
 * Latency (realtime): for every word, the wall time of the first SEGMENT
 * event holding it (an update or the final one) minus the wall time the
 * chunk holding its end was fed (word_latency: what a word waits until it
 * is final); the same for a final segment's last word (segment_latency).
 * First partial: the first PARTIAL emitted after the end of a segment's
 * first word was fed whose span reaches that word's middle (word times
 * move by tens of ms between decodes), minus that feed time. Segments
 * emitted after the feeding stops are not counted (they come from
 * closing, not from live audio). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hark/asr.h"
#include "hark/audio.h"
#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/stream.h"

#define CHUNK_MS 100
#define CHUNK_SAMPLES (ASR_RATE * CHUNK_MS / 1000)
#define MAX_STREAMS 64

enum mode { MODE_OFFLINE, MODE_FAST, MODE_REALTIME };

struct args {
    const char *name, *model, *vad, *audio, *language;
    enum mode mode;
    int streams, decoders, threads, step_ms, seconds, beam;
};

/* int64 samples, grown on demand (latencies, lags). */
struct series {
    int64_t *v;
    size_t n, cap;
};

static int series_add(struct series *s, int64_t x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        int64_t *v = hark_realloc(s->v, cap * sizeof *v);
        if (!v)
            return HARK_ENOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile; -1 when empty. Sorts s. */
static int64_t series_pct(struct series *s, int pct)
{
    if (!s->n)
        return -1;
    qsort(s->v, s->n, sizeof *s->v, cmp_i64);
    size_t rank = (s->n * (size_t)pct + 99) / 100;
    return s->v[rank ? rank - 1 : 0];
}

static void series_free(struct series *s)
{
    hark_free(s->v);
    memset(s, 0, sizeof *s);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* VmRSS and VmHWM in KiB from /proc/self/status; 0 when unreadable. */
static void rss_kib(long *rss, long *hwm)
{
    *rss = *hwm = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6))
            *rss = strtol(line + 6, NULL, 10);
        else if (!strncmp(line, "VmHWM:", 6))
            *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

/* CPU seconds every process spent, from /proc/stat; 0 when unreadable.
 * Minus our own, over the wall time, it says how busy the machine was with
 * other work: a figure taken while others compete for the cores is not one. */
static double machine_busy_seconds(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long v[8] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                     &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (got != 8)
        return 0;
    /* user nice system idle iowait irq softirq steal: all but idle, iowait */
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    long hz = sysconf(_SC_CLK_TCK);
    return (double)busy / (double)(hz > 0 ? hz : 100);
}

/* Wall and CPU time of the measured part, and what others used meanwhile. */
struct span {
    int64_t t0;
    double cpu0, busy0;
    double wall_s, cpu_s, others_cores;
};

static void span_begin(struct span *sp)
{
    sp->busy0 = machine_busy_seconds();
    sp->cpu0 = cpu_seconds();
    sp->t0 = clock_mono_ms();
}

static void span_end(struct span *sp)
{
    sp->wall_s = (double)(clock_mono_ms() - sp->t0) / 1000.0;
    sp->cpu_s = cpu_seconds() - sp->cpu0;
    double others = machine_busy_seconds() - sp->busy0 - sp->cpu_s;
    sp->others_cores = sp->wall_s > 0 && others > 0 ? others / sp->wall_s : 0;
}

static void out(const struct args *a, const char *what, double v, const char *unit)
{
    printf("%s_%s %.3f %s\n", a->name, what, v, unit);
}

static void out_ms(const struct args *a, const char *what, int64_t v)
{
    printf("%s_%s %lld ms\n", a->name, what, (long long)v);
}

/* --- offline ---------------------------------------------------------------- */

static struct asr_options decode_options(const struct args *a)
{
    struct asr_options o = asr_options_default();
    o.language = a->language;
    o.beam_size = a->beam;
    return o;
}

static int run_offline(const struct args *a, struct asr_engine *e, const float *pcm, size_t n)
{
    struct asr_options o = decode_options(a);
    struct asr_result r;
    struct span sp;
    span_begin(&sp);
    int rc = asr_transcribe(e, pcm, n, &o, &r);
    span_end(&sp);
    if (rc)
        return rc;
    size_t words = 0;
    for (size_t i = 0; i < r.n_segs; i++)
        words += r.segs[i].n_words;
    double audio_s = (double)n / ASR_RATE;
    out(a, "audio", audio_s, "s");
    out(a, "wall", sp.wall_s, "s");
    out(a, "cpu", sp.cpu_s, "s");
    out(a, "others_load", sp.others_cores, "cores");
    out(a, "rtf", sp.wall_s / audio_s, "x");
    out(a, "segments", (double)r.n_segs, "count");
    out(a, "words", (double)words, "count");
    out(a, "words_per_audio_s", (double)words / audio_s, "words/s");
    asr_result_release(&r);
    return 0;
}

/* --- streams ---------------------------------------------------------------- */

struct partial_rec {
    int64_t at_ms, end_ms;
};

struct bstream {
    struct stream *st;
    size_t pos;                 /* next sample of the file to feed */
    int64_t start_mono;         /* when its first chunk is due */
    int64_t *fed_at;            /* wall time each chunk was fed */
    size_t n_chunks, cap_chunks;
    struct partial_rec *partials;
    size_t n_partials, cap_partials;
    int64_t max_lag_ms;
    int64_t timed_end_ms;       /* end of the last word timed for word_latency */
    size_t segments, words, partial_events;
    int ended;
};

struct totals {
    struct series seg_lat, word_lat, first_partial, algo_lat, lag;
    size_t segments, words, partials;
};

static int note_partial(struct bstream *b, const struct stream_event *ev)
{
    if (b->n_partials == b->cap_partials) {
        size_t cap = b->cap_partials ? b->cap_partials * 2 : 256;
        struct partial_rec *p = hark_realloc(b->partials, cap * sizeof *p);
        if (!p)
            return HARK_ENOMEM;
        b->partials = p;
        b->cap_partials = cap;
    }
    b->partials[b->n_partials++] = (struct partial_rec){ev->emitted_mono_ms, ev->end_ms};
    b->partial_events++;
    return 0;
}

/* Wall time the chunk holding stream time ms was fed; -1 if not recorded. */
static int64_t fed_time(const struct bstream *b, int64_t ms)
{
    size_t k = ms > 0 ? (size_t)((ms - 1) / CHUNK_MS) : 0;
    return k < b->n_chunks ? b->fed_at[k] : -1;
}

/* word_latency: each word counts once, at the first SEGMENT event (update
 * or final) that holds it; confirmed word times only move forward. */
static int note_update(struct bstream *b, const struct stream_event *ev, int realtime,
                       struct totals *t)
{
    int rc = 0;
    for (size_t i = 0; realtime && !rc && i < ev->n_words; i++) {
        const struct agree_word *w = &ev->words[i];
        if (w->end_ms <= b->timed_end_ms)
            continue;
        b->timed_end_ms = w->end_ms;
        int64_t fed = fed_time(b, w->end_ms);
        if (fed >= 0)
            rc = series_add(&t->word_lat, ev->emitted_mono_ms - fed);
    }
    return rc;
}

static int note_segment(struct bstream *b, const struct stream_event *ev, int realtime,
                        struct totals *t)
{
    b->segments++;
    b->words += ev->n_words;
    int rc = series_add(&t->algo_lat, ev->audio_in_ms - ev->end_ms);
    if (rc || !realtime)
        return rc;
    int64_t fed = fed_time(b, ev->end_ms);
    if (fed >= 0 && (rc = series_add(&t->seg_lat, ev->emitted_mono_ms - fed)))
        return rc;
    if ((rc = note_update(b, ev, realtime, t)))
        return rc;
    if (!ev->n_words)
        return 0;
    /* Word times move by a few tens of ms between decodes: a partial holds
     * the word once its span reaches the word's middle. */
    int64_t first_mid = (ev->words[0].start_ms + ev->words[0].end_ms) / 2;
    int64_t first_fed = fed_time(b, ev->words[0].end_ms);
    for (size_t i = 0; first_fed >= 0 && i < b->n_partials; i++) {
        if (b->partials[i].end_ms >= first_mid && b->partials[i].at_ms >= first_fed)
            return series_add(&t->first_partial, b->partials[i].at_ms - first_fed);
    }
    return 0;
}

/* Partials older than every segment still to come are of no further use. */
static void forget_partials(struct bstream *b, int64_t before_end_ms)
{
    size_t keep = 0;
    for (size_t i = 0; i < b->n_partials; i++)
        if (b->partials[i].end_ms >= before_end_ms)
            b->partials[keep++] = b->partials[i];
    b->n_partials = keep;
}

/* Takes every event available within timeout_ms. 0, or HARK_ECLOSED once
 * END has been taken. */
static int drain(struct bstream *b, int timeout_ms, int realtime, struct totals *t)
{
    struct stream_event ev;
    int rc;
    while ((rc = stream_next(b->st, &ev, timeout_ms)) == 0) {
        if (ev.kind == STREAM_EVENT_PARTIAL) {
            rc = note_partial(b, &ev);
        } else if (ev.kind == STREAM_EVENT_SEGMENT && !ev.final) {
            rc = note_update(b, &ev, realtime, t);
        } else if (ev.kind == STREAM_EVENT_SEGMENT && !b->ended) {
            rc = note_segment(b, &ev, realtime, t);
            forget_partials(b, ev.end_ms);
        } else if (ev.kind == STREAM_EVENT_SEGMENT) {
            b->segments++; /* the final flush: counted, not timed */
            b->words += ev.n_words;
        }
        stream_event_release(&ev);
        if (rc)
            return rc;
        timeout_ms = 0;
    }
    return rc == HARK_ETIMEDOUT ? 0 : rc;
}

static int open_stream(const struct args *a, struct streamer *s, int i, struct bstream *b)
{
    /* Fast mode feeds a whole step while a pause's flush decode may still
     * run, so the lag seen after it is a step: backpressure must not mistake
     * that for falling behind (it would raise the step past what is fed and
     * wait forever). Real time keeps Hark's default. */
    char id[32];
    snprintf(id, sizeof id, "b%d", i);
    struct stream_config c = stream_config_default();
    c.id = id;
    c.asr = decode_options(a);
    c.step_ms = a->step_ms;
    if (a->mode == MODE_FAST)
        c.max_lag_ms = 3600 * 1000;
    return stream_open(s, &c, &b->st);
}

static void lag_of(struct bstream *b, int64_t *lag_ms)
{
    uint64_t fed, decoded;
    stream_progress(b->st, &fed, &decoded);
    *lag_ms = (int64_t)((fed - decoded) * 1000 / ASR_RATE);
}

static void print_stream_totals(const struct args *a, struct totals *t, double audio_s,
                                const struct span *sp, struct asr_engine *e)
{
    uint64_t decodes, decoded_ms;
    asr_engine_stats(e, &decodes, &decoded_ms);
    out(a, "audio", audio_s, "s");
    out(a, "wall", sp->wall_s, "s");
    out(a, "cpu", sp->cpu_s, "s");
    out(a, "others_load", sp->others_cores, "cores");
    out(a, "decodes", (double)decodes, "count");
    out(a, "decoded_audio", (double)decoded_ms / 1000.0, "s");
    out(a, "segments", (double)t->segments, "count");
    out(a, "words", (double)t->words, "count");
    out(a, "partials", (double)t->partials, "count");
    out(a, "words_per_audio_s", audio_s > 0 ? (double)t->words / audio_s : 0, "words/s");
    out_ms(a, "confirm_audio_p50", series_pct(&t->algo_lat, 50));
    out_ms(a, "confirm_audio_p95", series_pct(&t->algo_lat, 95));
}

/* --- fast ------------------------------------------------------------------- */

static int run_fast(const struct args *a, struct asr_engine *e, struct streamer *s,
                    const float *pcm, size_t n)
{
    struct bstream b = {0};
    struct totals t = {0};
    int rc = open_stream(a, s, 0, &b);
    if (rc)
        return rc;
    size_t step = (size_t)a->step_ms * ASR_RATE / 1000;
    struct span sp;
    span_begin(&sp);
    for (size_t off = 0; !rc && off < n; off += step) {
        size_t len = n - off < step ? n - off : step;
        rc = stream_feed(b.st, pcm + off, len);
        uint64_t fed, decoded;
        stream_progress(b.st, &fed, &decoded);
        /* A tail shorter than a step is never decoded before the end. */
        while (!rc && len == step && decoded < fed) {
            rc = drain(&b, 20, 0, &t);
            stream_progress(b.st, &fed, &decoded);
        }
    }
    b.ended = 1; /* the final flush is not a live confirmation */
    stream_end(b.st);
    while (!rc)
        rc = drain(&b, 1000, 0, &t);
    if (rc == HARK_ECLOSED)
        rc = 0;
    span_end(&sp);
    t.segments = b.segments;
    t.words = b.words;
    t.partials = b.partial_events;
    if (!rc)
        print_stream_totals(a, &t, (double)n / ASR_RATE, &sp, e);
    stream_close(b.st);
    hark_free(b.partials);
    series_free(&t.algo_lat);
    return rc;
}

/* --- realtime --------------------------------------------------------------- */

static int feed_chunk(struct bstream *b, const float *pcm, size_t n)
{
    float chunk[CHUNK_SAMPLES];
    for (size_t k = 0; k < CHUNK_SAMPLES; k++) {
        chunk[k] = pcm[b->pos];
        b->pos = (b->pos + 1) % n;
    }
    int rc = stream_feed(b->st, chunk, CHUNK_SAMPLES);
    if (rc)
        return rc;
    if (b->n_chunks == b->cap_chunks) {
        size_t cap = b->cap_chunks ? b->cap_chunks * 2 : 1024;
        int64_t *f = hark_realloc(b->fed_at, cap * sizeof *f);
        if (!f)
            return HARK_ENOMEM;
        b->fed_at = f;
        b->cap_chunks = cap;
    }
    b->fed_at[b->n_chunks++] = clock_mono_ms();
    return 0;
}

static void sleep_until(int64_t mono_ms)
{
    int64_t now = clock_mono_ms();
    if (mono_ms <= now)
        return;
    struct timespec ts = {(time_t)((mono_ms - now) / 1000),
                          (long)((mono_ms - now) % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One feeding thread for every stream: a chunk of a stream is fed once its
 * 100 ms have passed since that stream's start, as a live source delivers it. */
static int feed_loop(const struct args *a, struct bstream *b, const float *pcm, size_t n,
                     int64_t t_end, struct totals *t)
{
    int rc = 0;
    while (!rc) {
        int64_t now = clock_mono_ms(), next = t_end;
        if (now >= t_end)
            break;
        for (int i = 0; !rc && i < a->streams; i++) {
            int64_t due = b[i].start_mono + (int64_t)(b[i].n_chunks + 1) * CHUNK_MS;
            while (!rc && due <= now) {
                rc = feed_chunk(&b[i], pcm, n);
                due += CHUNK_MS;
            }
            if (due < next)
                next = due;
            if (!rc)
                rc = drain(&b[i], 0, 1, t);
            int64_t lag;
            lag_of(&b[i], &lag);
            if (lag > b[i].max_lag_ms)
                b[i].max_lag_ms = lag;
            if (!rc && b[i].n_chunks)
                rc = series_add(&t->lag, lag);
        }
        sleep_until(next);
    }
    return rc;
}

static int run_realtime(const struct args *a, struct asr_engine *e, struct streamer *s,
                        const float *pcm, size_t n)
{
    struct bstream b[MAX_STREAMS];
    struct totals t = {0};
    memset(b, 0, sizeof b);
    int rc = 0, opened = 0;
    int64_t t0 = clock_mono_ms() + 200;
    for (int i = 0; !rc && i < a->streams; i++) {
        rc = open_stream(a, s, i, &b[i]);
        if (rc)
            break;
        opened++;
        /* Spread over one step so the streams do not all decode at once, and
         * over the file so they do not all say the same thing. */
        b[i].start_mono = t0 + (int64_t)i * a->step_ms / a->streams;
        b[i].pos = (size_t)i * 3700 * (ASR_RATE / 1000) % n;
    }
    struct span sp;
    span_begin(&sp);
    int64_t t_end = t0 + (int64_t)a->seconds * 1000;
    if (!rc)
        rc = feed_loop(a, b, pcm, n, t_end, &t);
    span_end(&sp);
    long rss, hwm;
    rss_kib(&rss, &hwm);
    double audio_s = 0;
    int64_t max_lag = 0;
    for (int i = 0; i < opened; i++) {
        if (!rc) /* events already emitted still count; later ones do not */
            rc = drain(&b[i], 0, 1, &t);
        b[i].ended = 1;
        audio_s += (double)b[i].n_chunks * CHUNK_MS / 1000.0;
        t.segments += b[i].segments;
        t.words += b[i].words;
        t.partials += b[i].partial_events;
        if (b[i].max_lag_ms > max_lag)
            max_lag = b[i].max_lag_ms;
    }
    if (!rc) {
        out(a, "streams", a->streams, "count");
        print_stream_totals(a, &t, audio_s, &sp, e);
        out(a, "cpu_per_wall", sp.wall_s > 0 ? sp.cpu_s / sp.wall_s : 0, "cores");
        out_ms(a, "segment_latency_p50", series_pct(&t.seg_lat, 50));
        out_ms(a, "segment_latency_p95", series_pct(&t.seg_lat, 95));
        out_ms(a, "segment_latency_max", series_pct(&t.seg_lat, 100));
        out_ms(a, "word_latency_p50", series_pct(&t.word_lat, 50));
        out_ms(a, "word_latency_p95", series_pct(&t.word_lat, 95));
        out_ms(a, "first_partial_p50", series_pct(&t.first_partial, 50));
        out_ms(a, "first_partial_p95", series_pct(&t.first_partial, 95));
        out_ms(a, "lag_p95", series_pct(&t.lag, 95));
        out_ms(a, "lag_max", max_lag);
        out(a, "lag_ok", max_lag < 2000, "bool");
        out(a, "rss", (double)rss / 1024.0, "MiB");
        out(a, "rss_peak", (double)hwm / 1024.0, "MiB");
    }
    for (int i = 0; i < opened; i++) {
        stream_close(b[i].st);
        hark_free(b[i].fed_at);
        hark_free(b[i].partials);
    }
    series_free(&t.seg_lat);
    series_free(&t.first_partial);
    series_free(&t.word_lat);
    series_free(&t.algo_lat);
    series_free(&t.lag);
    return rc;
}

/* --- main ------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr,
            "usage: stream_bench --model PATH --audio WAV [--mode offline|fast|realtime]\n"
            "                    [--name PREFIX] [--vad PATH] [--language xx|auto]\n"
            "                    [--streams K] [--decoders D] [--threads T] [--beam N]\n"
            "                    [--step-ms N] [--seconds S]\n");
    return 2;
}

static int parse_int(const char *v, long lo, long hi, int *out_v)
{
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || *end || x < lo || x > hi)
        return -1;
    *out_v = (int)x;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!v)
            return usage();
        i++;
        if (!strcmp(k, "--name"))
            a->name = v;
        else if (!strcmp(k, "--model"))
            a->model = v;
        else if (!strcmp(k, "--vad"))
            a->vad = v;
        else if (!strcmp(k, "--audio"))
            a->audio = v;
        else if (!strcmp(k, "--language"))
            a->language = strcmp(v, "auto") ? v : NULL;
        else if (!strcmp(k, "--mode")) {
            if (!strcmp(v, "offline"))
                a->mode = MODE_OFFLINE;
            else if (!strcmp(v, "fast"))
                a->mode = MODE_FAST;
            else if (!strcmp(v, "realtime"))
                a->mode = MODE_REALTIME;
            else
                bad = 1;
        } else if (!strcmp(k, "--streams"))
            bad = parse_int(v, 1, MAX_STREAMS, &a->streams);
        else if (!strcmp(k, "--decoders"))
            bad = parse_int(v, 1, 64, &a->decoders);
        else if (!strcmp(k, "--threads"))
            bad = parse_int(v, 1, 256, &a->threads);
        else if (!strcmp(k, "--beam"))
            bad = parse_int(v, 1, 16, &a->beam);
        else if (!strcmp(k, "--step-ms"))
            bad = parse_int(v, 100, 60000, &a->step_ms);
        else if (!strcmp(k, "--seconds"))
            bad = parse_int(v, 1, 86400, &a->seconds);
        else
            bad = 1;
        if (bad)
            return usage();
    }
    return a->model && a->audio ? 0 : usage();
}

int main(int argc, char **argv)
{
    struct args a = {.name = "asr", .language = "en", .mode = MODE_OFFLINE, .streams = 1,
                     .decoders = 1, .threads = 2, .step_ms = 1000, .seconds = 60, .beam = 1};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    log_level_set(LOG_LEVEL_WARN);
    float *pcm = NULL;
    size_t n = 0;
    struct audio_error err;
    if (audio_decode_file(a.audio, NULL, &pcm, &n, &err)) {
        fprintf(stderr, "stream_bench: %s: %s\n", a.audio, err.message);
        return 1;
    }
    struct asr_config ac = asr_config_default();
    ac.model_path = a.model;
    ac.decoders = a.mode == MODE_REALTIME ? a.decoders : 1;
    ac.threads = a.threads;
    struct asr_engine *e = NULL;
    struct streamer *s = NULL;
    struct streamer_config sc = streamer_config_default();
    sc.max_streams = a.streams;
    sc.vad_model = a.vad;
    rc = asr_engine_new(&ac, &e);
    if (!rc && a.mode != MODE_OFFLINE)
        rc = streamer_new(e, &sc, &s);
    if (!rc) {
        if (a.mode == MODE_OFFLINE)
            rc = run_offline(&a, e, pcm, n);
        else if (a.mode == MODE_FAST)
            rc = run_fast(&a, e, s, pcm, n);
        else
            rc = run_realtime(&a, e, s, pcm, n);
    }
    if (rc)
        fprintf(stderr, "stream_bench: %s\n", hark_strerror(rc));
    streamer_free(s);
    asr_engine_free(e);
    hark_free(pcm);
    return rc ? 1 : 0;
}
