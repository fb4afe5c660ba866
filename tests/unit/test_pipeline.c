/* The meeting pipeline over the real engine (random-weight test model,
 * HARK_TEST_MODEL) and a real store: segments land in the store under
 * stable ids, the log is committed and removed after a finish, a recording
 * is written, and a run abandoned mid-meeting (a crash) resumes from its
 * commit point without duplicates or gaps. Structure only, never words. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "hark/asr.h"
#include "hark/audio.h"
#include "hark/mem.h"
#include "hark/pipeline.h"
#include "hark/store.h"

struct fixture {
    struct store *store;
    struct asr_engine *engine;
    struct streamer *streamer;
    struct pipeline *pipeline;
    struct notify notify;
    struct store_meeting m;
    char audio[512], recordings[512];
    float *pcm;
    size_t n;
    int events;
    struct stream *extra[16];
    size_t n_extra;
};

static const char *env_or(const char *env, const char *fallback)
{
    const char *v = getenv(env);
    return v ? v : fallback;
}

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    char db[512], jfk[512];
    snprintf(db, sizeof db, "%s/p.db", harness_tmpdir());
    struct store_config sc = store_config_default();
    sc.url = db;
    assert_int_equal(store_open(&sc, &f->store), 0);
    struct asr_config ac = asr_config_default();
    ac.model_path = env_or("HARK_TEST_MODEL", "build/models/test.en.bin");
    ac.decoders = 1;
    ac.threads = 1;
    assert_int_equal(asr_engine_new(&ac, &f->engine), 0);
    struct streamer_config stc = streamer_config_default();
    assert_int_equal(streamer_new(f->engine, &stc, &f->streamer), 0);
    f->notify.store = f->store;
    snprintf(f->audio, sizeof f->audio, "%s/audio", harness_tmpdir());
    snprintf(f->recordings, sizeof f->recordings, "%s/recordings", harness_tmpdir());
    struct pipeline_config pc = pipeline_config_default();
    pc.audio_dir = f->audio;
    pc.recordings_dir = f->recordings;
    assert_int_equal(pipeline_new(&pc, f->streamer, &f->notify, &f->pipeline), 0);
    struct store_user u;
    assert_int_equal(store_user_create(f->store, "p@example.com", NULL, 3, NULL, &u, NULL), 0);
    struct store_meeting_new nm = {.platform = "file", .native_meeting_id = "jfk",
                                   .bot_driver = "process"};
    assert_int_equal(store_meeting_create(f->store, u.id, &nm, &f->m, NULL), 0);
    store_user_release(&u);
    snprintf(jfk, sizeof jfk, "%s/jfk.wav", env_or("HARK_TEST_DATA", "../shared/data"));
    assert_int_equal(audio_decode_file(jfk, NULL, &f->pcm, &f->n, NULL), 0);
}

static void teardown(struct fixture *f)
{
    store_meeting_release(&f->m);
    pipeline_free(f->pipeline);
    streamer_free(f->streamer);
    asr_engine_free(f->engine);
    store_free(f->store);
    hark_free(f->pcm);
}

static void count(void *arg, const struct stream_event *ev)
{
    (void)ev;
    ((struct fixture *)arg)->events++;
}

static void append_all(struct pipeline_run *r, const float *pcm, size_t n)
{
    for (size_t off = 0; off < n; off += 1600)
        assert_int_equal(pipeline_run_append(r, pcm + off, n - off < 1600 ? n - off : 1600), 0);
}

/* Segments of the meeting; checks order, no overlap, unique ids with the
 * meeting's prefix, all completed. Returns how many. */
static size_t check_segments(struct fixture *f)
{
    struct store_segment *g;
    size_t n;
    assert_int_equal(store_segments_list(f->store, f->m.id, 0, &g, &n), 0);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%lld::", (long long)f->m.id);
    for (size_t i = 0; i < n; i++) {
        assert_true(g[i].completed);
        assert_true(g[i].start_ms <= g[i].end_ms);
        assert_int_equal(strncmp(g[i].id, prefix, strlen(prefix)), 0);
        if (i) {
            assert_true(g[i - 1].end_ms <= g[i].start_ms);
            assert_string_not_equal(g[i - 1].id, g[i].id);
        }
    }
    store_segment_list_free(g, n);
    return n;
}

static int exists(const char *dir, const char *name)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

static void finish_stores_segments_commits_and_records(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct pipeline_run *r;
    assert_int_equal(pipeline_run_open(f.pipeline, &f.m, NULL, count, &f, &r), 0);
    append_all(r, f.pcm, f.n);
    assert_int_equal(pipeline_run_finish(r), 0);
    uint64_t received, transcribed;
    pipeline_run_progress(r, &received, NULL, &transcribed);
    assert_int_equal(received, f.n);
    assert_int_equal(transcribed, f.n);
    assert_int_equal(pipeline_run_append(r, f.pcm, 10), HARK_ECLOSED);
    pipeline_run_free(r);
    assert_true(f.events > 0);
    assert_true(check_segments(&f) > 0);
    char name[32];
    snprintf(name, sizeof name, "%lld.ogg", (long long)f.m.id);
    assert_true(exists(f.recordings, name));
    snprintf(name, sizeof name, "m%lld.alog", (long long)f.m.id);
    assert_false(exists(f.audio, name)); /* the recording holds the audio now */
    struct store_meeting m;
    assert_int_equal(store_meeting_get(f.store, f.m.user_id, f.m.id, &m), 0);
    assert_non_null(strstr(m.data_json, "\"audio_transcribed_s\":11.000"));
    store_meeting_release(&m);
    teardown(&f);
}

static void abandoned_run_resumes_from_its_commit_without_duplicates(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct pipeline_run *r;
    assert_int_equal(pipeline_run_open(f.pipeline, &f.m, NULL, NULL, NULL, &r), 0);
    append_all(r, f.pcm, f.n);
    /* Let part of it be transcribed and committed, then drop the run as a
     * crash would: no finish. */
    uint64_t transcribed = 0;
    for (int i = 0; i < 600 && transcribed == 0; i++) {
        pipeline_run_progress(r, NULL, NULL, &transcribed);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(transcribed > 0 && transcribed < f.n);
    pipeline_run_free(r);
    char name[32];
    snprintf(name, sizeof name, "m%lld.alog", (long long)f.m.id);
    assert_true(exists(f.audio, name)); /* kept for the next run */
    assert_int_equal(pipeline_drain(f.pipeline, &f.m), 0);
    assert_false(exists(f.audio, name));
    assert_true(check_segments(&f) > 0);
    struct store_meeting m;
    assert_int_equal(store_meeting_get(f.store, f.m.user_id, f.m.id, &m), 0);
    assert_non_null(strstr(m.data_json, "\"audio_received_s\":11.000"));
    assert_non_null(strstr(m.data_json, "\"audio_transcribed_s\":11.000"));
    store_meeting_release(&m);
    teardown(&f);
}

static void drain_without_a_log_is_a_no_op(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    assert_int_equal(pipeline_drain(f.pipeline, &f.m), 0);
    assert_int_equal(check_segments(&f), 0);
    char name[32];
    snprintf(name, sizeof name, "%lld.ogg", (long long)f.m.id);
    assert_false(exists(f.recordings, name));
    teardown(&f);
}

/* One run per meeting (its lease), and no run at all past the streamer's
 * slots (placement), refused before any file is made for it. */
static void second_run_and_full_streamer_are_refused(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct pipeline_run *a, *b = NULL;
    assert_int_equal(pipeline_run_open(f.pipeline, &f.m, NULL, NULL, NULL, &a), 0);
    assert_int_equal(pipeline_run_open(f.pipeline, &f.m, NULL, NULL, NULL, &b), HARK_EBUSY);
    assert_null(b);
    struct store_meeting_new nm = {.platform = "file", .native_meeting_id = "other",
                                   .bot_driver = "process"};
    struct store_meeting other;
    assert_int_equal(store_meeting_create(f.store, f.m.user_id, &nm, &other, NULL), 0);
    for (int i = streamer_slots(f.streamer); i > 0; i--) { /* fill every slot */
        struct stream_config sc = stream_config_default();
        struct stream *st;
        assert_int_equal(stream_open(f.streamer, &sc, &st), 0);
        f.extra[f.n_extra++] = st;
    }
    assert_int_equal(pipeline_run_open(f.pipeline, &other, NULL, NULL, NULL, &b), HARK_EBUSY);
    char name[32];
    snprintf(name, sizeof name, "m%lld.alog", (long long)other.id);
    assert_false(exists(f.audio, name));
    for (size_t i = 0; i < f.n_extra; i++)
        stream_close(f.extra[i]);
    pipeline_run_free(a); /* the lease goes with the run */
    assert_int_equal(pipeline_run_open(f.pipeline, &f.m, NULL, NULL, NULL, &a), 0);
    pipeline_run_free(a);
    store_meeting_release(&other);
    teardown(&f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(finish_stores_segments_commits_and_records),
    cmocka_unit_test(abandoned_run_resumes_from_its_commit_without_duplicates),
    cmocka_unit_test(drain_without_a_log_is_a_no_op),
    cmocka_unit_test(second_run_and_full_streamer_are_refused),
};

HARNESS_MAIN(tests)
