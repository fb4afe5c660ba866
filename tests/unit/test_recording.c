#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <opus/opus.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hark/audio.h"
#include "hark/buf.h"
#include "hark/error.h"
#include "hark/mem.h"
#include "hark/recording.h"

#define PI 3.14159265358979323846

/* 11 s, 16 kHz mono s16; HARK_TEST_DATA points elsewhere when needed. */
static const char *jfk_path(void)
{
    static char path[512];
    const char *dir = getenv("HARK_TEST_DATA");
    snprintf(path, sizeof path, "%s/jfk.wav", dir ? dir : "/work/shared/data");
    return path;
}

static char *tmp_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/%s", harness_tmpdir(), name);
    return p;
}

static float *jfk(size_t *n)
{
    float *x;
    struct audio_error err;
    int rc = audio_decode_file(jfk_path(), NULL, &x, n, &err);
    if (rc)
        fail_msg("decode %s: %s: %s", jfk_path(), hark_strerror(rc), err.message);
    return x;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static size_t dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Reads a whole file; the caller frees with hark_free(). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long end = ftell(f);
    assert_true(end >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    unsigned char *p = hark_malloc((size_t)end + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)end, f), (size_t)end);
    fclose(f);
    *len = (size_t)end;
    return p;
}

static float *tone(size_t n, double freq, double amp)
{
    float *x = hark_malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(amp * sin(2 * PI * freq * (double)i / AUDIO_RATE));
    return x;
}

/* ---- an independent reader of the Ogg page layer (RFC 3533) ---- */

struct page {
    int flags;            /* 1 continued, 2 BOS, 4 EOS */
    int64_t granule;
    uint32_t serial;
    const unsigned char *body;
    size_t body_len;
    size_t packets_ended; /* lacing values < 255 */
};

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Splits `data` into pages; returns how many (at most max). */
static size_t ogg_pages(const unsigned char *data, size_t len, struct page *pages,
                        size_t max)
{
    size_t n = 0, off = 0;
    while (off < len) {
        assert_true(len - off >= 27);
        assert_memory_equal(data + off, "OggS", 4);
        assert_int_equal(data[off + 4], 0);
        assert_true(n < max);
        struct page *pg = &pages[n++];
        pg->flags = data[off + 5];
        pg->granule = (int64_t)((uint64_t)le32(data + off + 6) |
                                (uint64_t)le32(data + off + 10) << 32);
        pg->serial = le32(data + off + 14);
        size_t nseg = data[off + 26];
        assert_true(len - off >= 27 + nseg);
        size_t body = 0;
        pg->packets_ended = 0;
        for (size_t i = 0; i < nseg; i++) {
            body += data[off + 27 + i];
            pg->packets_ended += data[off + 27 + i] < 255;
        }
        pg->body = data + off + 27 + nseg;
        pg->body_len = body;
        off += 27 + nseg + body;
        assert_true(off <= len);
    }
    return n;
}

static int expected_preskip(void)
{
    int err;
    OpusEncoder *e = opus_encoder_create(AUDIO_RATE, 1, OPUS_APPLICATION_VOIP, &err);
    assert_non_null(e);
    int la = 0;
    assert_int_equal(opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(&la)), OPUS_OK);
    opus_encoder_destroy(e);
    return la * 48000 / AUDIO_RATE;
}

/* Checks the RFC 7845 structure of the file at path holding n samples. */
static void assert_ogg_opus_layout(const char *path, size_t n)
{
    size_t len;
    unsigned char *data = slurp(path, &len);
    static struct page pages[4096];
    size_t np = ogg_pages(data, len, pages, 4096);
    assert_true(np >= 3);

    /* OpusHead alone on the BOS page. */
    assert_int_equal(pages[0].flags, 2);
    assert_int_equal(pages[0].granule, 0);
    assert_int_equal(pages[0].body_len, 19);
    assert_int_equal(pages[0].packets_ended, 1);
    const unsigned char *h = pages[0].body;
    assert_memory_equal(h, "OpusHead", 8);
    assert_int_equal(h[8], 1);
    assert_int_equal(h[9], 1);
    int preskip = h[10] | h[11] << 8;
    assert_int_equal(preskip, expected_preskip());
    assert_int_equal(le32(h + 12), 16000);
    assert_int_equal(h[16] | h[17] << 8, 0);
    assert_int_equal(h[18], 0);

    /* OpusTags alone on the second page. */
    assert_int_equal(pages[1].flags, 0);
    assert_int_equal(pages[1].granule, 0);
    assert_int_equal(pages[1].packets_ended, 1);
    assert_memory_equal(pages[1].body, "OpusTags", 8);
    assert_int_equal(le32(pages[1].body + 8), 4);
    assert_memory_equal(pages[1].body + 12, "hark", 4);
    assert_int_equal(le32(pages[1].body + 16), 0);
    assert_int_equal(pages[1].body_len, 20);

    /* Audio pages: one serial, granules rising about a second apart, EOS
     * only on the last, whose granule trims to the real length. */
    int64_t prev = 0;
    for (size_t i = 2; i < np; i++) {
        assert_int_equal(pages[i].serial, pages[0].serial);
        assert_int_equal(pages[i].flags & 1, 0);
        assert_int_equal(!!(pages[i].flags & 4), i == np - 1);
        assert_true(pages[i].granule >= prev);
        assert_true(pages[i].granule - prev <= 48000 + 2880);
        prev = pages[i].granule;
    }
    assert_int_equal(pages[np - 1].granule, (int64_t)preskip + (int64_t)n * 3);
    hark_free(data);
}

struct decoded {
    int format;
    int channels;
    int rate;
    sf_count_t frames;
    float *x;       /* at AUDIO_RATE; hark_free() */
    size_t n;
};

/* Decodes path with libsndfile, brought back to AUDIO_RATE. */
static struct decoded sf_decode(const char *path)
{
    SF_INFO info = {0};
    SNDFILE *snd = sf_open(path, SFM_READ, &info);
    if (!snd)
        fail_msg("sf_open(%s): %s", path, sf_strerror(NULL));
    struct decoded d = {.format = info.format, .channels = info.channels,
                        .rate = info.samplerate, .frames = info.frames};
    float *raw = hark_malloc(((size_t)info.frames + 1) * sizeof *raw);
    assert_non_null(raw);
    assert_int_equal(info.channels, 1);
    sf_count_t got = sf_readf_float(snd, raw, info.frames);
    assert_int_equal(got, info.frames);
    sf_close(snd);
    if (info.samplerate == AUDIO_RATE) {
        d.x = raw;
        d.n = (size_t)got;
        return d;
    }
    struct audio_resampler *rs;
    assert_int_equal(audio_resampler_new(info.samplerate, 1, &rs), 0);
    struct hbuf out;
    hbuf_init(&out, SIZE_MAX);
    assert_int_equal(audio_resampler_push(rs, raw, (size_t)got, &out), 0);
    assert_int_equal(audio_resampler_flush(rs, &out), 0);
    audio_resampler_free(rs);
    hark_free(raw);
    d.n = out.len / sizeof(float);
    d.x = (float *)(void *)hbuf_take(&out);
    return d;
}

static double rms(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

/* Highest normalized cross-correlation of a and b over lags within
 * +-max_lag samples: codec delay errors show up as a lag, garbage as a low
 * peak. */
static double best_ncc(const float *a, const float *b, size_t n, int max_lag)
{
    double best = -1;
    for (int lag = -max_lag; lag <= max_lag; lag++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = (size_t)max_lag; i + (size_t)max_lag < n; i++) {
            double x = a[i], y = b[(size_t)((long)i + lag)];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        double c = ab / sqrt(aa * bb + 1e-30);
        if (c > best)
            best = c;
    }
    return best;
}

/* Correlation of 20 ms RMS envelopes: speech rhythm survives any sane codec,
 * noise or a shifted signal does not. */
static double envelope_corr(const float *a, const float *b, size_t n)
{
    enum { W = AUDIO_RATE / 50 };
    size_t m = n / W;
    double sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t k = 0; k < m; k++) {
        double ea = rms(a + k * W, W), eb = rms(b + k * W, W);
        sa += ea;
        sb += eb;
        sab += ea * eb;
        saa += ea * ea;
        sbb += eb * eb;
    }
    double dm = (double)m;
    double cov = sab - sa * sb / dm;
    return cov / sqrt((saa - sa * sa / dm) * (sbb - sb * sb / dm));
}

static void jfk_round_trips_through_libsndfile_as_ogg_opus(void **state)
{
    (void)state;
    size_t n;
    float *x = jfk(&n);
    const char *path = tmp_path("jfk.ogg");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(recording_encode_file(x, n, path, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    print_message("jfk.ogg %lld bytes for %.2f s, encode %.1f ms\n", (long long)st.st_size,
                  (double)n / AUDIO_RATE,
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
    /* 24 kbit/s over 11 s is 33 kB; VBR on speech lands near it. */
    assert_in_range(st.st_size, 15000, 45000);

    struct decoded d = sf_decode(path);
    assert_int_equal(d.format & SF_FORMAT_TYPEMASK, SF_FORMAT_OGG);
    assert_int_equal(d.format & SF_FORMAT_SUBMASK, SF_FORMAT_OPUS);
    assert_int_equal(d.channels, 1);
    double in_s = (double)n / AUDIO_RATE;
    double out_s = (double)d.frames / d.rate;
    if (fabs(in_s - out_s) > 0.020)
        fail_msg("duration %.4f s in, %.4f s out", in_s, out_s);

    size_t m = d.n < n ? d.n : n;
    assert_true(m + AUDIO_RATE / 50 >= n);
    double ri = rms(x, m), ro = rms(d.x, m);
    double ncc = best_ncc(x, d.x, m, 32);
    double env = envelope_corr(x, d.x, m);
    print_message("rms in %.4f out %.4f ncc %.3f envelope %.3f\n", ri, ro, ncc, env);
    assert_true(fabs(ro - ri) <= 0.3 * ri);
    assert_true(ncc > 0.8);
    assert_true(env > 0.95);
    assert_ogg_opus_layout(path, n);
    hark_free(d.x);
    hark_free(x);
}

static void audio_decode_file_reads_a_recording_back(void **state)
{
    (void)state;
    size_t n = AUDIO_RATE * 3 / 2;
    float *x = tone(n, 440, 0.5);
    const char *path = tmp_path("tone.ogg");
    assert_int_equal(recording_encode_file(x, n, path, NULL), 0);
    float *y;
    size_t ny;
    struct audio_error err;
    int rc = audio_decode_file(path, NULL, &y, &ny, &err);
    if (rc)
        fail_msg("%s: %s", hark_strerror(rc), err.message);
    assert_true(ny + 16 >= n && ny <= n + 16);
    size_t m = ny < n ? ny : n;
    assert_true(best_ncc(x, y, m, 32) > 0.9);
    hark_free(y);
    hark_free(x);
}

static void empty_recording_is_a_valid_file_of_no_samples(void **state)
{
    (void)state;
    const char *path = tmp_path("empty.ogg");
    struct recording *r;
    assert_int_equal(recording_open(path, NULL, &r), 0);
    assert_int_equal(recording_write(r, NULL, 0), 0);
    assert_int_equal(recording_close(r), 0);
    assert_ogg_opus_layout(path, 0);
    SF_INFO info = {0};
    SNDFILE *snd = sf_open(path, SFM_READ, &info);
    if (!snd)
        fail_msg("sf_open(%s): %s", path, sf_strerror(NULL));
    assert_int_equal(info.format & SF_FORMAT_SUBMASK, SF_FORMAT_OPUS);
    assert_int_equal(info.frames, 0);
    float buf[64];
    assert_int_equal(sf_readf_float(snd, buf, 64), 0);
    sf_close(snd);
}

static void chunk_sizes_do_not_change_the_bytes(void **state)
{
    (void)state;
    size_t n;
    float *x = jfk(&n);
    const char *whole = tmp_path("whole.ogg");
    assert_int_equal(recording_encode_file(x, n, whole, NULL), 0);

    const char *chunked = tmp_path("chunked.ogg");
    struct recording *r;
    assert_int_equal(recording_open(chunked, NULL, &r), 0);
    static const size_t sizes[] = {1, 7, 319, 16000, 0};
    size_t off = 0;
    for (size_t i = 0; off < n; i++) {
        size_t k = sizes[i % (sizeof sizes / sizeof *sizes)];
        if (k > n - off)
            k = n - off;
        assert_int_equal(recording_write(r, x + off, k), 0);
        off += k;
    }
    assert_int_equal(recording_close(r), 0);

    size_t la, lb;
    unsigned char *a = slurp(whole, &la), *b = slurp(chunked, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    hark_free(a);
    hark_free(b);
    hark_free(x);
}

static void lengths_around_a_frame_boundary_keep_their_exact_duration(void **state)
{
    (void)state;
    /* 1 sample, a frame minus one, a frame, a frame plus one, and a length
     * whose padding needs a second frame for the encoder's lookahead. */
    static const size_t lens[] = {1, 319, 320, 321, 310, 16000};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        float *x = tone(lens[i], 300, 0.3);
        const char *path = tmp_path("edge.ogg");
        assert_int_equal(recording_encode_file(x, lens[i], path, NULL), 0);
        assert_ogg_opus_layout(path, lens[i]);
        struct decoded d = sf_decode(path);
        assert_int_equal(d.frames * AUDIO_RATE / d.rate, (sf_count_t)lens[i]);
        hark_free(d.x);
        hark_free(x);
    }
}

static void temp_file_is_renamed_on_close(void **state)
{
    (void)state;
    const char *path = tmp_path("a.ogg");
    const char *tmp = tmp_path("a.ogg.tmp");
    struct recording *r;
    assert_int_equal(recording_open(path, NULL, &r), 0);
    assert_true(exists(tmp));
    assert_false(exists(path));
    float *x = tone(AUDIO_RATE, 200, 0.2);
    assert_int_equal(recording_write(r, x, AUDIO_RATE), 0);
    assert_false(exists(path));
    assert_int_equal(recording_close(r), 0);
    assert_false(exists(tmp));
    assert_true(exists(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    hark_free(x);
}

static void abort_removes_the_temp_file_and_keeps_the_old_one(void **state)
{
    (void)state;
    const char *path = tmp_path("b.ogg");
    const char *tmp = tmp_path("b.ogg.tmp");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    struct recording *r;
    assert_int_equal(recording_open(path, NULL, &r), 0);
    float *x = tone(AUDIO_RATE, 200, 0.2);
    assert_int_equal(recording_write(r, x, AUDIO_RATE), 0);
    recording_abort(r);
    recording_abort(NULL);
    assert_false(exists(tmp));
    size_t len;
    unsigned char *old = slurp(path, &len);
    assert_int_equal(len, 3);
    hark_free(old);
    hark_free(x);
}

static void close_replaces_an_existing_file_and_a_stale_temp(void **state)
{
    (void)state;
    const char *path = tmp_path("c.ogg");
    const char *tmp = tmp_path("c.ogg.tmp");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    f = fopen(tmp, "w");  /* left by a crash */
    assert_non_null(f);
    for (int i = 0; i < 100000; i++)
        fputc('x', f);
    fclose(f);
    float *x = tone(AUDIO_RATE, 200, 0.2);
    assert_int_equal(recording_encode_file(x, AUDIO_RATE, path, NULL), 0);
    assert_false(exists(tmp));
    assert_ogg_opus_layout(path, AUDIO_RATE);
    hark_free(x);
}

static void missing_directory_is_an_io_error(void **state)
{
    (void)state;
    const char *path = tmp_path("no/such/dir/x.ogg");
    struct recording *r = (struct recording *)1;
    assert_int_equal(recording_open(path, NULL, &r), HARK_EIO);
    assert_null(r);
    float s = 0;
    assert_int_equal(recording_encode_file(&s, 1, path, NULL), HARK_EIO);
    assert_int_equal(dir_entries(harness_tmpdir()), 0);
}

static void write_failure_is_sticky_and_leaves_nothing(void **state)
{
    (void)state;
    /* A file size limit makes write(2) fail with EFBIG once past the
     * headers, as a full disk would. The harness forks, so the limit dies
     * with this test. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t n;
    float *x = jfk(&n);
    const char *path = tmp_path("full.ogg");
    struct recording *r;
    assert_int_equal(recording_open(path, NULL, &r), 0);
    assert_int_equal(recording_write(r, x, n), HARK_EIO);
    assert_int_equal(recording_write(r, x, 1), HARK_EIO);
    assert_int_equal(recording_close(r), HARK_EIO);
    assert_int_equal(dir_entries(harness_tmpdir()), 0);
    assert_int_equal(recording_encode_file(x, n, path, NULL), HARK_EIO);
    assert_int_equal(dir_entries(harness_tmpdir()), 0);
    hark_free(x);
}

static void bad_config_is_refused(void **state)
{
    (void)state;
    const char *path = tmp_path("cfg.ogg");
    struct recording *r;
    struct recording_config c = recording_config_default();
    c.bitrate_bps = 5999;
    assert_int_equal(recording_open(path, &c, &r), HARK_ECONFIG);
    c = recording_config_default();
    c.bitrate_bps = 510001;
    assert_int_equal(recording_open(path, &c, &r), HARK_ECONFIG);
    c = recording_config_default();
    c.complexity = 11;
    assert_int_equal(recording_open(path, &c, &r), HARK_ECONFIG);
    c = recording_config_default();
    c.complexity = -1;
    assert_int_equal(recording_open(path, &c, &r), HARK_ECONFIG);
    c = recording_config_default();
    c.frame_ms = 25;
    assert_int_equal(recording_open(path, &c, &r), HARK_ECONFIG);
    c.frame_ms = 0;
    assert_int_equal(recording_open(path, &c, &r), HARK_ECONFIG);
    assert_int_equal(dir_entries(harness_tmpdir()), 0);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    struct recording *r;
    assert_int_equal(recording_open(NULL, NULL, &r), HARK_EINVAL);
    assert_int_equal(recording_open("", NULL, &r), HARK_EINVAL);
    assert_int_equal(recording_open(tmp_path("x.ogg"), NULL, NULL), HARK_EINVAL);
    assert_int_equal(recording_encode_file(NULL, 5, tmp_path("x.ogg"), NULL), HARK_EINVAL);
    assert_int_equal(recording_write(NULL, NULL, 0), HARK_EINVAL);
    assert_int_equal(recording_close(NULL), HARK_EINVAL);
    assert_int_equal(recording_open(tmp_path("x.ogg"), NULL, &r), 0);
    assert_int_equal(recording_write(r, NULL, 3), HARK_EINVAL);
    recording_abort(r);
    assert_int_equal(dir_entries(harness_tmpdir()), 0);
}

static void bitrate_and_frame_length_are_applied(void **state)
{
    (void)state;
    size_t n;
    float *x = jfk(&n);
    static const int rates[] = {12000, 48000};
    off_t size[2];
    for (int i = 0; i < 2; i++) {
        struct recording_config c = recording_config_default();
        c.bitrate_bps = rates[i];
        const char *path = tmp_path("rate.ogg");
        assert_int_equal(recording_encode_file(x, n, path, &c), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        size[i] = st.st_size;
        double kbps = (double)st.st_size * 8 / ((double)n / AUDIO_RATE) / 1000;
        print_message("bitrate %d: %lld bytes, %.1f kbit/s\n", rates[i],
                      (long long)st.st_size, kbps);
        assert_true(kbps > rates[i] / 1000.0 * 0.6 && kbps < rates[i] / 1000.0 * 1.3);
    }
    assert_true(size[1] > 3 * size[0]);

    struct recording_config c = recording_config_default();
    c.frame_ms = 60;
    const char *path = tmp_path("f60.ogg");
    assert_int_equal(recording_encode_file(x, n, path, &c), 0);
    assert_ogg_opus_layout(path, n);
    struct decoded d = sf_decode(path);
    assert_int_equal(d.frames * AUDIO_RATE / d.rate, (sf_count_t)n);
    hark_free(d.x);
    hark_free(x);
}

static void non_finite_samples_become_silence(void **state)
{
    (void)state;
    size_t n = AUDIO_RATE;
    float *x = hark_malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    const char *path = tmp_path("nan.ogg");
    assert_int_equal(recording_encode_file(x, n, path, NULL), 0);
    struct decoded d = sf_decode(path);
    assert_true(rms(d.x, d.n) < 1e-3);
    hark_free(d.x);
    hark_free(x);
}

static void allocation_failures_are_clean(void **state)
{
    (void)state;
    float *x = tone(AUDIO_RATE, 200, 0.2);
    const char *path = tmp_path("mem.ogg");
    int rc = HARK_ENOMEM;
    long i;
    for (i = 0; rc == HARK_ENOMEM; i++) {
        hark_mem_fail_after(i);
        rc = recording_encode_file(x, AUDIO_RATE, path, NULL);
        hark_mem_fail_after(-1);
        if (rc == HARK_ENOMEM) {
            assert_int_equal(dir_entries(harness_tmpdir()), 0);
            harness_assert_no_leaks();
        }
    }
    assert_int_equal(rc, 0);
    assert_true(i > 1);
    assert_ogg_opus_layout(path, AUDIO_RATE);
    hark_free(x);
}

static void ffmpeg_decodes_a_recording_without_errors(void **state)
{
    (void)state;
    if (system("command -v ffmpeg >/dev/null 2>&1") != 0)
        skip();
    size_t n;
    float *x = jfk(&n);
    const char *path = tmp_path("ff.ogg");
    assert_int_equal(recording_encode_file(x, n, path, NULL), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -i '%s' -f null - 2>&1", path);
    assert_int_equal(system(cmd), 0);
    hark_free(x);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(jfk_round_trips_through_libsndfile_as_ogg_opus),
    cmocka_unit_test(audio_decode_file_reads_a_recording_back),
    cmocka_unit_test(empty_recording_is_a_valid_file_of_no_samples),
    cmocka_unit_test(chunk_sizes_do_not_change_the_bytes),
    cmocka_unit_test(lengths_around_a_frame_boundary_keep_their_exact_duration),
    cmocka_unit_test(temp_file_is_renamed_on_close),
    cmocka_unit_test(abort_removes_the_temp_file_and_keeps_the_old_one),
    cmocka_unit_test(close_replaces_an_existing_file_and_a_stale_temp),
    cmocka_unit_test(missing_directory_is_an_io_error),
    cmocka_unit_test(write_failure_is_sticky_and_leaves_nothing),
    cmocka_unit_test(bad_config_is_refused),
    cmocka_unit_test(bad_arguments_are_refused),
    cmocka_unit_test(bitrate_and_frame_length_are_applied),
    cmocka_unit_test(non_finite_samples_become_silence),
    cmocka_unit_test(allocation_failures_are_clean),
    cmocka_unit_test(ffmpeg_decodes_a_recording_without_errors),
};

HARNESS_MAIN(tests)
