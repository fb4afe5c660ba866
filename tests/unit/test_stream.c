/* Streams over the real whisper.cpp engine with the random-weight test model
 * (HARK_TEST_MODEL) and jfk.wav (HARK_TEST_DATA): structure, ids, ordering,
 * VAD gating and concurrency — never words. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hark/asr.h"
#include "hark/audio.h"
#include "hark/mem.h"
#include "hark/stream.h"

#define N_STREAMS 8

static const char *data_path(const char *env, const char *fallback, const char *file, char *buf,
                             size_t size)
{
    const char *dir = getenv(env);
    snprintf(buf, size, "%s%s%s", dir ? dir : fallback, file ? "/" : "", file ? file : "");
    return buf;
}

static struct asr_engine *engine(int decoders)
{
    char model[512];
    struct asr_config c = asr_config_default();
    c.model_path = data_path("HARK_TEST_MODEL", "build/models/test.en.bin", NULL, model,
                             sizeof model);
    c.decoders = decoders;
    c.threads = 1;
    struct asr_engine *e = NULL;
    assert_int_equal(asr_engine_new(&c, &e), 0);
    return e;
}

static float *jfk(size_t *n)
{
    char path[512];
    float *pcm = NULL;
    assert_int_equal(audio_decode_file(data_path("HARK_TEST_DATA", "../shared/data", "jfk.wav",
                                                 path, sizeof path),
                                       NULL, &pcm, n, NULL),
                     0);
    return pcm;
}

struct run {
    struct streamer *s;
    const float *pcm;
    size_t n;
    char id[16];
    int segments, ends, bad;
};

/* Feeds a step, waits until it is decoded (like --fast), checks events. */
static void *feed(void *p)
{
    struct run *r = p;
    struct stream_config c = stream_config_default();
    c.id = r->id;
    c.speaker = "spk";
    struct stream *st;
    if (stream_open(r->s, &c, &st)) {
        r->bad++;
        return NULL;
    }
    size_t step = 16000;
    int64_t prev_end = 0;
    char prefix[32], open_id[sizeof ((struct stream_event *)0)->id] = "";
    snprintf(prefix, sizeof prefix, "%s:spk:", r->id);
    for (size_t off = 0; off < r->n || !r->ends;) {
        if (off < r->n) {
            size_t len = r->n - off < step ? r->n - off : step;
            r->bad += stream_feed(st, r->pcm + off, len) != 0;
            off += len;
            if (off >= r->n)
                stream_end(st);
        }
        struct stream_event ev;
        while (stream_next(st, &ev, off >= r->n ? 1000 : 5) == 0) {
            if (ev.kind == STREAM_EVENT_END) {
                r->ends++;
                r->bad += open_id[0] != '\0'; /* the end closes every segment */
            }
            if (ev.kind == STREAM_EVENT_SEGMENT) {
                /* A segment's updates come together, the last one final. */
                r->bad += open_id[0] && strcmp(open_id, ev.id) != 0;
                snprintf(open_id, sizeof open_id, "%s", ev.final ? "" : ev.id);
                r->segments++;
                r->bad += strncmp(ev.id, prefix, strlen(prefix)) != 0;
                r->bad += ev.start_ms < prev_end || ev.end_ms < ev.start_ms;
                r->bad += ev.n_words == 0 || !ev.text;
                prev_end = ev.end_ms;
            }
            stream_event_release(&ev);
        }
    }
    stream_close(st);
    return NULL;
}

static void eight_concurrent_streams_each_get_ordered_segments_and_one_end(void **state)
{
    (void)state;
    struct asr_engine *e = engine(2);
    size_t n;
    float *pcm = jfk(&n);
    struct streamer_config sc = streamer_config_default();
    sc.max_streams = N_STREAMS;
    struct streamer *s;
    assert_int_equal(streamer_new(e, &sc, &s), 0);
    struct run runs[N_STREAMS];
    pthread_t t[N_STREAMS];
    for (int i = 0; i < N_STREAMS; i++) {
        runs[i] = (struct run){.s = s, .pcm = pcm, .n = n};
        snprintf(runs[i].id, sizeof runs[i].id, "m%d", i);
        assert_int_equal(pthread_create(&t[i], NULL, feed, &runs[i]), 0);
    }
    for (int i = 0; i < N_STREAMS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(runs[i].bad, 0);
        assert_int_equal(runs[i].ends, 1);
        assert_true(runs[i].segments > 0);
    }
    assert_int_equal(streamer_slots(s), N_STREAMS);
    streamer_free(s);
    asr_engine_free(e);
    hark_free(pcm);
}

/* stream_end() while the decode of everything fed is in flight: that
 * decode did not flush, so END must wait for the final one, and every
 * segment is final by then. */
static void end_during_a_decode_still_finalizes_every_segment(void **state)
{
    (void)state;
    struct asr_engine *e = engine(1);
    size_t n;
    float *pcm = jfk(&n);
    struct streamer_config sc = streamer_config_default();
    struct streamer *s;
    assert_int_equal(streamer_new(e, &sc, &s), 0);
    struct stream_config c = stream_config_default();
    c.id = "end";
    struct stream *st;
    assert_int_equal(stream_open(s, &c, &st), 0);
    assert_int_equal(stream_feed(st, pcm, n), 0);
    /* Let a worker take the decode first (it then takes ~100 ms or more). */
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    stream_end(st);
    char open_id[sizeof ((struct stream_event *)0)->id] = "";
    int finals = 0, ends = 0;
    struct stream_event ev;
    while (stream_next(st, &ev, 60000) == 0) {
        if (ev.kind == STREAM_EVENT_SEGMENT) {
            finals += ev.final;
            snprintf(open_id, sizeof open_id, "%s", ev.final ? "" : ev.id);
        }
        if (ev.kind == STREAM_EVENT_END) {
            ends++;
            assert_string_equal(open_id, "");
        }
        stream_event_release(&ev);
    }
    assert_int_equal(ends, 1);
    assert_true(finals > 0);
    stream_close(st);
    streamer_free(s);
    asr_engine_free(e);
    hark_free(pcm);
}

static void streamer_refuses_past_max_streams(void **state)
{
    (void)state;
    struct asr_engine *e = engine(1);
    struct streamer_config sc = streamer_config_default();
    sc.max_streams = 2;
    struct streamer *s;
    assert_int_equal(streamer_new(e, &sc, &s), 0);
    struct stream_config c = stream_config_default();
    struct stream *a, *b, *x = NULL;
    assert_int_equal(stream_open(s, &c, &a), 0);
    assert_int_equal(stream_open(s, &c, &b), 0);
    assert_int_equal(streamer_slots(s), 0);
    assert_int_equal(stream_open(s, &c, &x), HARK_EBUSY);
    assert_null(x);
    stream_close(a);
    assert_int_equal(streamer_slots(s), 1);
    stream_close(b);
    streamer_free(s);
    asr_engine_free(e);
}

static void silence_is_never_decoded_with_vad(void **state)
{
    (void)state;
    char vad[512];
    struct asr_engine *e = engine(1);
    struct streamer_config sc = streamer_config_default();
    sc.vad_model = data_path("HARK_TEST_DATA", "../shared/data",
                             "for-tests-silero-v6.2.0-ggml.bin", vad, sizeof vad);
    struct streamer *s;
    assert_int_equal(streamer_new(e, &sc, &s), 0);
    struct stream_config c = stream_config_default();
    struct stream *st;
    assert_int_equal(stream_open(s, &c, &st), 0);
    float *zeros = hark_calloc(16000 * 10, sizeof *zeros);
    assert_non_null(zeros);
    assert_int_equal(stream_feed(st, zeros, 16000 * 10), 0);
    uint64_t fed, decoded, decodes, audio_ms;
    stream_progress(st, &fed, &decoded);
    assert_int_equal(fed, 16000 * 10);
    assert_int_equal(decoded, fed); /* skipped, not queued */
    asr_engine_stats(e, &decodes, &audio_ms);
    assert_int_equal(decodes, 0);
    stream_close(st);
    streamer_free(s);
    asr_engine_free(e);
    hark_free(zeros);
}

static void closing_a_stream_with_a_decode_in_flight_is_safe(void **state)
{
    (void)state;
    struct asr_engine *e = engine(1);
    size_t n;
    float *pcm = jfk(&n);
    struct streamer_config sc = streamer_config_default();
    struct streamer *s;
    assert_int_equal(streamer_new(e, &sc, &s), 0);
    struct stream_config c = stream_config_default();
    for (int i = 0; i < 5; i++) {
        struct stream *st;
        assert_int_equal(stream_open(s, &c, &st), 0);
        assert_int_equal(stream_feed(st, pcm, n), 0);
        stream_close(st); /* a decode of 11 s is queued or running */
    }
    streamer_free(s);
    asr_engine_free(e);
    hark_free(pcm);
}

static void missing_model_is_enoent_and_garbage_is_eparse(void **state)
{
    (void)state;
    char path[512];
    struct asr_config c = asr_config_default();
    struct asr_engine *e = NULL;
    c.model_path = "/nonexistent/model.bin";
    assert_int_equal(asr_engine_new(&c, &e), HARK_ENOENT);
    c.model_path = data_path("HARK_TEST_DATA", "../shared/data", "jfk.wav", path, sizeof path);
    assert_int_equal(asr_engine_new(&c, &e), HARK_EPARSE);
    assert_null(e);
}

/* An f32 model would abort the process on its first CPU decode. */
static void f32_model_is_refused_instead_of_crashing_later(void **state)
{
    (void)state;
    char vocab[512], out[512];
    const char *gen = getenv("HARK_GEN_MODEL");
    snprintf(out, sizeof out, "%s/f32.bin", harness_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --preset test --seed 3 --ftype f32 --vocab-from %s -o %s 2>/dev/null",
             gen ? gen : "build/release/gen-random-model",
             data_path("HARK_TEST_DATA", "../shared/data", "for-tests-ggml-tiny.en.bin", vocab,
                       sizeof vocab),
             out);
    assert_int_equal(system(cmd), 0);
    struct asr_config c = asr_config_default();
    c.model_path = out;
    struct asr_engine *e = NULL;
    assert_int_equal(asr_engine_new(&c, &e), HARK_EPARSE);
    assert_null(e);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(f32_model_is_refused_instead_of_crashing_later),
    cmocka_unit_test(eight_concurrent_streams_each_get_ordered_segments_and_one_end),
    cmocka_unit_test(end_during_a_decode_still_finalizes_every_segment),
    cmocka_unit_test(streamer_refuses_past_max_streams),
    cmocka_unit_test(silence_is_never_decoded_with_vad),
    cmocka_unit_test(closing_a_stream_with_a_decode_in_flight_is_safe),
    cmocka_unit_test(missing_model_is_enoent_and_garbage_is_eparse),
};
HARNESS_MAIN(tests)
