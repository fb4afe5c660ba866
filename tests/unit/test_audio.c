#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hark/audio.h"
#include "hark/buf.h"
#include "hark/error.h"
#include "hark/mem.h"

#define PI 3.14159265358979323846

/* 11 s, 16 kHz mono s16; HARK_TEST_DATA points elsewhere when needed. */
static const char *jfk_path(void)
{
    static char path[512];
    const char *dir = getenv("HARK_TEST_DATA");
    snprintf(path, sizeof path, "%s/jfk.wav", dir ? dir : "/work/shared/data");
    return path;
}

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", harness_tmpdir(), name);
    return path;
}

/* Writes `seconds` of a `freq` Hz sine in which channel c has amplitude
 * amp[c], in libsndfile `format`. */
static void write_tone(const char *path, int format, int rate, int channels,
                       double seconds, double freq, const double *amp)
{
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *snd = sf_open(path, SFM_WRITE, &info);
    if (!snd)
        fail_msg("sf_open(%s): %s", path, sf_strerror(NULL));
    size_t frames = (size_t)(seconds * rate);
    float *buf = hark_malloc(frames * (size_t)channels * sizeof *buf);
    assert_non_null(buf);
    for (size_t i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            buf[i * (size_t)channels + (size_t)c] =
                (float)(amp[c] * sin(2 * PI * freq * (double)i / rate));
    assert_int_equal(sf_writef_float(snd, buf, (sf_count_t)frames), (sf_count_t)frames);
    assert_int_equal(sf_close(snd), 0);
    hark_free(buf);
}

/* Reads a whole file; the caller frees with hark_free(). */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *p = hark_malloc((size_t)n);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Sign changes with hysteresis, so codec noise around zero is not counted. */
static size_t crossings(const float *x, size_t n)
{
    int state = 0;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        int s = x[i] > 0.05f ? 1 : x[i] < -0.05f ? -1 : 0;
        if (s && s != state) {
            count += state != 0;
            state = s;
        }
    }
    return count;
}

/* Peak over the middle half, away from codec and filter edges. */
static float mid_peak(const float *x, size_t n)
{
    float peak = 0.0f;
    for (size_t i = n / 4; i < 3 * n / 4; i++)
        peak = fabsf(x[i]) > peak ? fabsf(x[i]) : peak;
    return peak;
}

static void assert_full_scale(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_true(x[i] >= -1.0f && x[i] <= 1.0f);
}

/* A 1 s tone at 440 Hz: left 0.6, right 0.2, so the average is 0.4. Checks
 * the decode of `path` is 1 s long (10 ms), 440 Hz and 0.4 within tol. */
static void check_tone_file(const char *path, float tol)
{
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    int rc = audio_decode_file(path, NULL, &x, &n, &err);
    if (rc)
        fail_msg("decode: %s: %s", hark_strerror(rc), err.message);
    assert_true(n >= AUDIO_RATE - 160 && n <= AUDIO_RATE + 160);
    size_t zc = crossings(x, n);
    assert_true(zc >= 876 && zc <= 884);
    assert_float_equal(mid_peak(x, n), 0.4f, tol);
    assert_full_scale(x, n);
    hark_free(x);
}

static const double tone_amp[] = {0.6, 0.2};

static void jfk_wav_decodes_to_11_s_of_speech(void **state)
{
    (void)state;
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    int rc = audio_decode_file(jfk_path(), NULL, &x, &n, &err);
    if (rc)
        fail_msg("decode %s: %s: %s", jfk_path(), hark_strerror(rc), err.message);
    assert_true(n >= 175999 && n <= 176001);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    double rms = sqrt(sum / (double)n);
    assert_true(rms > 0.02 && rms < 0.5);
    assert_full_scale(x, n);
    hark_free(x);
}

static void wav_44k1_stereo_is_averaged_and_resampled(void **state)
{
    (void)state;
    const char *p = tmp_path("tone.wav");
    write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 1.0, 440, tone_amp);
    check_tone_file(p, 0.01f);
}

static void flac_decodes_to_the_right_tone(void **state)
{
    (void)state;
    const char *p = tmp_path("tone.flac");
    write_tone(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 48000, 2, 1.0, 440, tone_amp);
    check_tone_file(p, 0.01f);
}

static void ogg_vorbis_decodes_to_the_right_tone(void **state)
{
    (void)state;
    const char *p = tmp_path("tone.ogg");
    write_tone(p, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, 1.0, 440, tone_amp);
    check_tone_file(p, 0.04f);
}

static void ogg_opus_decodes_to_the_right_tone(void **state)
{
    (void)state;
    const char *p = tmp_path("tone.opus");
    write_tone(p, SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 2, 1.0, 440, tone_amp);
    check_tone_file(p, 0.04f);
}

static void aiff_float_decodes_to_the_right_tone(void **state)
{
    (void)state;
    const char *p = tmp_path("tone.aiff");
    write_tone(p, SF_FORMAT_AIFF | SF_FORMAT_FLOAT, 22050, 2, 1.0, 440, tone_amp);
    check_tone_file(p, 0.01f);
}

static void wav_8k_is_upsampled(void **state)
{
    (void)state;
    const char *p = tmp_path("tone8k.wav");
    write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 2, 1.0, 440, tone_amp);
    check_tone_file(p, 0.01f);
}

static void memory_decode_equals_file_decode(void **state)
{
    (void)state;
    const char *p = tmp_path("tone.flac");
    write_tone(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 0.5, 440, tone_amp);
    size_t len;
    unsigned char *bytes = slurp(p, &len);
    float *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(audio_decode_file(p, NULL, &a, &na, NULL), 0);
    assert_int_equal(audio_decode_memory(bytes, len, NULL, &b, &nb, NULL), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof *a);
    hark_free(a);
    hark_free(b);
    hark_free(bytes);
}

static void raw_s16le_stereo_is_averaged(void **state)
{
    (void)state;
    /* 0.5 s at 16 kHz: left +16384, right -8192 -> (0.5 - 0.25) / 2. */
    size_t frames = 8000;
    unsigned char *pcm = hark_malloc(frames * 4);
    assert_non_null(pcm);
    for (size_t i = 0; i < frames; i++) {
        pcm[4 * i + 0] = 0x00, pcm[4 * i + 1] = 0x40;   /* 16384 */
        pcm[4 * i + 2] = 0x00, pcm[4 * i + 3] = 0xe0;   /* -8192 */
    }
    float *x = NULL;
    size_t n = 0;
    assert_int_equal(audio_decode_raw(pcm, frames * 4, AUDIO_PCM_S16LE, 16000, 2, NULL,
                                      &x, &n, NULL), 0);
    assert_int_equal(n, frames);
    for (size_t i = 0; i < n; i++)
        assert_float_equal(x[i], 0.125f, 1e-6f);
    hark_free(x);
    hark_free(pcm);
}

static void raw_f32le_48k_is_resampled_and_clamped(void **state)
{
    (void)state;
    /* 1 s of a 440 Hz sine at 48 kHz mono with amplitude 3: clamped to
     * full scale, still 440 Hz, still 1 s. */
    size_t frames = 48000;
    unsigned char *pcm = hark_malloc(frames * 4);
    assert_non_null(pcm);
    for (size_t i = 0; i < frames; i++) {
        float f = (float)(3.0 * sin(2 * PI * 440 * (double)i / 48000));
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int k = 0; k < 4; k++)
            pcm[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
    float *x = NULL;
    size_t n = 0;
    assert_int_equal(audio_decode_raw(pcm, frames * 4, AUDIO_PCM_F32LE, 48000, 1, NULL,
                                      &x, &n, NULL), 0);
    assert_true(n >= 15999 && n <= 16001);
    assert_full_scale(x, n);
    assert_true(mid_peak(x, n) > 0.95f);
    size_t zc = crossings(x, n);
    assert_true(zc >= 876 && zc <= 884);
    hark_free(x);
    hark_free(pcm);
}

static void raw_partial_frame_is_parse_error(void **state)
{
    (void)state;
    unsigned char pcm[6] = {0};
    float *x = (float *)1;
    size_t n = 99;
    struct audio_error err;
    assert_int_equal(audio_decode_raw(pcm, 6, AUDIO_PCM_S16LE, 16000, 2, NULL, &x, &n,
                                      &err), HARK_EPARSE);
    assert_string_equal(err.message, "raw PCM length is not a whole number of frames");
    assert_null(x);
    assert_int_equal(n, 0);
    assert_int_equal(audio_decode_raw(pcm, 6, AUDIO_PCM_F32LE, 16000, 1, NULL, &x, &n,
                                      &err), HARK_EPARSE);
}

static void raw_f32_nan_or_inf_is_parse_error(void **state)
{
    (void)state;
    float samples[1000] = {0};
    float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < 3; k++) {
        samples[500] = bad[k];
        float *x = NULL;
        size_t n = 0;
        struct audio_error err;
        assert_int_equal(audio_decode_raw(samples, sizeof samples, AUDIO_PCM_F32LE, 16000,
                                          1, NULL, &x, &n, &err), HARK_EPARSE);
        assert_non_null(strstr(err.message, "NaN"));
        assert_null(x);
    }
}

static void float_wav_with_nan_is_parse_error(void **state)
{
    (void)state;
    const char *p = tmp_path("nan.wav");
    SF_INFO info = {.samplerate = 16000, .channels = 1,
                    .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *snd = sf_open(p, SFM_WRITE, &info);
    assert_non_null(snd);
    float s[100] = {0};
    s[50] = NAN;
    assert_int_equal(sf_writef_float(snd, s, 100), 100);
    assert_int_equal(sf_close(snd), 0);
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    assert_int_equal(audio_decode_file(p, NULL, &x, &n, &err), HARK_EPARSE);
    assert_non_null(strstr(err.message, "NaN"));
}

static void empty_input_is_einval(void **state)
{
    (void)state;
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    assert_int_equal(audio_decode_memory("", 0, NULL, &x, &n, &err), HARK_EINVAL);
    assert_string_equal(err.message, "audio is empty");
    assert_int_equal(audio_decode_raw(NULL, 0, AUDIO_PCM_S16LE, 16000, 1, NULL, &x, &n,
                                      &err), HARK_EINVAL);
    /* 16 frames at 768 kHz make a third of an output sample. */
    float few[16] = {0};
    assert_int_equal(audio_decode_raw(few, sizeof few, AUDIO_PCM_F32LE, 768000, 1, NULL,
                                      &x, &n, &err), HARK_EINVAL);
    assert_non_null(strstr(err.message, "too short"));
    /* A well-formed WAV with no frames. */
    const char *p = tmp_path("empty.wav");
    assert_int_equal(audio_write_wav(p, NULL, 0), 0);
    assert_int_equal(audio_decode_file(p, NULL, &x, &n, &err), HARK_EINVAL);
    assert_string_equal(err.message, "audio is empty");
    assert_null(x);
}

static void truncated_wav_header_is_parse_error(void **state)
{
    (void)state;
    size_t len;
    unsigned char *wav = slurp(jfk_path(), &len);
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    for (size_t cut = 1; cut < 44; cut += 6) {
        err.message[0] = '\0';
        assert_int_equal(audio_decode_memory(wav, cut, NULL, &x, &n, &err), HARK_EPARSE);
        assert_non_null(strstr(err.message, "unsupported or corrupt audio: "));
        assert_null(x);
    }
    hark_free(wav);
}

static void random_bytes_are_parse_error_with_message(void **state)
{
    (void)state;
    unsigned char junk[4096];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        s = s * 1103515245u + 12345u;
        junk[i] = (unsigned char)(s >> 16);
    }
    float *x = NULL;
    size_t n = 0;
    struct audio_error err = {{0}};
    assert_int_equal(audio_decode_memory(junk, sizeof junk, NULL, &x, &n, &err),
                     HARK_EPARSE);
    assert_true(strlen(err.message) > 30);
    assert_null(x);
    const char *p = tmp_path("junk.wav");
    spit(p, junk, sizeof junk);
    assert_int_equal(audio_decode_file(p, NULL, &x, &n, &err), HARK_EPARSE);
    assert_non_null(strstr(err.message, "unsupported or corrupt audio: "));
}

static void longer_than_max_seconds_is_toobig(void **state)
{
    (void)state;
    struct audio_config c = audio_config_default();
    c.max_seconds = 1;
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    assert_int_equal(audio_decode_file(jfk_path(), &c, &x, &n, &err), HARK_ETOOBIG);
    assert_string_equal(err.message, "audio is longer than the limit of 1 s");
    assert_null(x);
    float pcm[16001] = {0};
    assert_int_equal(audio_decode_raw(pcm, sizeof pcm, AUDIO_PCM_F32LE, 16000, 1, &c, &x,
                                      &n, &err), HARK_ETOOBIG);
    /* Exactly the limit passes, resampled or not. */
    assert_int_equal(audio_decode_raw(pcm, 16000 * 4, AUDIO_PCM_F32LE, 16000, 1, &c, &x,
                                      &n, &err), 0);
    assert_int_equal(n, 16000);
    hark_free(x);
    assert_int_equal(audio_decode_raw(pcm, 8000 * 4, AUDIO_PCM_F32LE, 8000, 1, &c, &x,
                                      &n, &err), 0);
    assert_true(n >= 15999 && n <= 16001);
    hark_free(x);
}

static void larger_than_max_bytes_is_toobig(void **state)
{
    (void)state;
    struct audio_config c = audio_config_default();
    c.max_bytes = 100;
    unsigned char buf[101] = {0};
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    assert_int_equal(audio_decode_memory(buf, 101, &c, &x, &n, &err), HARK_ETOOBIG);
    assert_int_equal(audio_decode_raw(buf, 101, AUDIO_PCM_S16LE, 16000, 1, &c, &x, &n,
                                      &err), HARK_ETOOBIG);
    assert_string_equal(err.message, "audio is larger than the limit of 100 bytes");
}

static void missing_or_unreadable_file_is_eio(void **state)
{
    (void)state;
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    assert_int_equal(audio_decode_file(tmp_path("nope.wav"), NULL, &x, &n, &err),
                     HARK_EIO);
    assert_non_null(strstr(err.message, "No such file"));
    assert_int_equal(audio_decode_file(harness_tmpdir(), NULL, &x, &n, &err), HARK_EIO);
    assert_null(x);
}

static void bad_arguments_are_einval(void **state)
{
    (void)state;
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    short pcm[2] = {0};
    assert_int_equal(audio_decode_raw(pcm, 4, AUDIO_PCM_S16LE, 999, 1, NULL, &x, &n, &err),
                     HARK_EINVAL);
    assert_non_null(strstr(err.message, "sample rate 999 Hz"));
    assert_int_equal(audio_decode_raw(pcm, 4, AUDIO_PCM_S16LE, 768001, 1, NULL, &x, &n,
                                      &err), HARK_EINVAL);
    assert_int_equal(audio_decode_raw(pcm, 4, AUDIO_PCM_S16LE, 16000, 0, NULL, &x, &n,
                                      &err), HARK_EINVAL);
    assert_int_equal(audio_decode_raw(pcm, 4, AUDIO_PCM_S16LE, 16000, 65, NULL, &x, &n,
                                      &err), HARK_EINVAL);
    assert_non_null(strstr(err.message, "channel count 65"));
    assert_int_equal(audio_decode_raw(pcm, 4, (enum audio_pcm)7, 16000, 1, NULL, &x, &n,
                                      &err), HARK_EINVAL);
    assert_int_equal(audio_decode_raw(pcm, 4, AUDIO_PCM_S16LE, 16000, 1, NULL, NULL, &n,
                                      &err), HARK_EINVAL);
    assert_int_equal(audio_decode_memory(NULL, 4, NULL, &x, &n, &err), HARK_EINVAL);
    assert_int_equal(audio_decode_file(NULL, NULL, &x, &n, NULL), HARK_EINVAL);
    struct audio_config c = audio_config_default();
    c.max_seconds = NAN;
    assert_int_equal(audio_decode_raw(pcm, 4, AUDIO_PCM_S16LE, 16000, 1, &c, &x, &n, &err),
                     HARK_EINVAL);
    c = audio_config_default();
    c.max_bytes = 0;
    assert_int_equal(audio_decode_raw(pcm, 4, AUDIO_PCM_S16LE, 16000, 1, &c, &x, &n, &err),
                     HARK_EINVAL);
}

static void file_with_unaccepted_rate_or_channels_is_parse_error(void **state)
{
    (void)state;
    double amp[65];
    for (int i = 0; i < 65; i++)
        amp[i] = 0.1;
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    const char *p = tmp_path("slow.wav");
    write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 800, 1, 0.5, 100, amp);
    assert_int_equal(audio_decode_file(p, NULL, &x, &n, &err), HARK_EPARSE);
    assert_non_null(strstr(err.message, "sample rate 800 Hz"));
    p = tmp_path("wide.wav");
    write_tone(p, SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 16000, 65, 0.1, 100, amp);
    assert_int_equal(audio_decode_file(p, NULL, &x, &n, &err), HARK_EPARSE);
    assert_non_null(strstr(err.message, "channel count 65"));
    assert_null(x);
}

/* 44.1 kHz stereo `in` through one resampler in chunks of about `chunk`
 * frames (0: all at once); returns the output. */
static struct hbuf resample_chunks(const float *in, size_t frames, size_t chunk)
{
    struct audio_resampler *r = NULL;
    assert_int_equal(audio_resampler_new(44100, 2, &r), 0);
    struct hbuf out;
    hbuf_init(&out, 0);
    for (size_t done = 0, k; done < frames; done += k) {
        size_t step = chunk ? chunk + done % 7 : frames;  /* varied sizes */
        k = frames - done < step ? frames - done : step;
        assert_int_equal(audio_resampler_push(r, in + 2 * done, k, &out), 0);
    }
    assert_int_equal(audio_resampler_flush(r, &out), 0);
    audio_resampler_free(r);
    return out;
}

static void resampler_chunked_output_equals_whole(void **state)
{
    (void)state;
    size_t frames = 44100;
    float *in = hark_malloc(frames * 2 * sizeof *in);
    assert_non_null(in);
    for (size_t i = 0; i < frames; i++) {
        double t = (double)i / 44100;
        in[2 * i] = (float)(0.5 * sin(2 * PI * (200 + 3000 * t) * t));
        in[2 * i + 1] = (float)(0.3 * sin(2 * PI * 1000 * t));
    }
    struct hbuf whole = resample_chunks(in, frames, 0);
    size_t n = whole.len / sizeof(float);
    assert_true(n >= 15999 && n <= 16001);
    const size_t chunks[] = {1, 13, 160, 4095, 10000};
    for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
        struct hbuf part = resample_chunks(in, frames, chunks[k]);
        assert_int_equal(part.len, whole.len);
        const float *a = (const float *)(void *)whole.data;
        const float *b = (const float *)(void *)part.data;
        for (size_t i = 0; i < n; i++)
            assert_float_equal(a[i], b[i], 1e-5f);
        hbuf_release(&part);
    }
    hbuf_release(&whole);
    hark_free(in);
}

static void resampler_at_16k_only_mixes(void **state)
{
    (void)state;
    struct audio_resampler *r = NULL;
    assert_int_equal(audio_resampler_new(AUDIO_RATE, 3, &r), 0);
    struct hbuf out;
    hbuf_init(&out, 0);
    const float in[] = {0.3f, 0.6f, 0.9f, -1.0f, -1.0f, -4.0f};
    assert_int_equal(audio_resampler_push(r, in, 2, &out), 0);
    assert_int_equal(audio_resampler_flush(r, &out), 0);
    assert_int_equal(out.len, 2 * sizeof(float));
    const float *o = (const float *)(void *)out.data;
    assert_float_equal(o[0], 0.6f, 1e-6f);
    assert_float_equal(o[1], -1.0f, 1e-6f);  /* -4 is clamped before mixing */
    hbuf_release(&out);
    audio_resampler_free(r);
}

static void resampler_refuses_nan_without_losing_the_stream(void **state)
{
    (void)state;
    struct audio_resampler *r = NULL;
    assert_int_equal(audio_resampler_new(48000, 1, &r), 0);
    struct hbuf out;
    hbuf_init(&out, 0);
    float in[4800];
    for (size_t i = 0; i < 4800; i++)
        in[i] = 0.5f;
    in[100] = NAN;
    assert_int_equal(audio_resampler_push(r, in, 4800, &out), HARK_ERANGE);
    assert_int_equal(out.len, 0);
    in[100] = 0.5f;
    assert_int_equal(audio_resampler_push(r, in, 4800, &out), 0);
    assert_int_equal(audio_resampler_flush(r, &out), 0);
    size_t n = out.len / sizeof(float);
    assert_true(n >= 1599 && n <= 1601);
    const float *o = (const float *)(void *)out.data;
    for (size_t i = 0; i < n; i++)
        assert_true(o[i] == o[i]);
    assert_int_equal(audio_resampler_push(r, in, 1, &out), HARK_EINVAL);
    assert_int_equal(audio_resampler_flush(r, &out), HARK_EINVAL);
    hbuf_release(&out);
    audio_resampler_free(r);
}

static void resampler_stops_at_the_output_limit(void **state)
{
    (void)state;
    struct audio_resampler *r = NULL;
    assert_int_equal(audio_resampler_new(AUDIO_RATE, 1, &r), 0);
    struct hbuf out;
    hbuf_init(&out, 100 * sizeof(float));
    float in[101] = {0};
    assert_int_equal(audio_resampler_push(r, in, 101, &out), HARK_ETOOBIG);
    hbuf_release(&out);
    audio_resampler_free(r);
}

static void resampler_rejects_bad_arguments(void **state)
{
    (void)state;
    struct audio_resampler *r = (struct audio_resampler *)1;
    assert_int_equal(audio_resampler_new(999, 1, &r), HARK_EINVAL);
    assert_null(r);
    assert_int_equal(audio_resampler_new(16000, 0, &r), HARK_EINVAL);
    assert_int_equal(audio_resampler_new(16000, 65, &r), HARK_EINVAL);
    assert_int_equal(audio_resampler_new(16000, 1, NULL), HARK_EINVAL);
    audio_resampler_free(NULL);
}

/* Runs `decode` with the Nth allocation failing for N = 0, 1, ... until it
 * succeeds; every failure before that must be a clean HARK_ENOMEM. */
static void fail_each_allocation(int (*decode)(const void *), const void *arg)
{
    for (long i = 0;; i++) {
        hark_mem_fail_after(i);
        int rc = decode(arg);
        long failures = hark_mem_failures();
        hark_mem_fail_after(-1);
        if (rc == 0) {
            assert_true(i > 0);
            return;
        }
        assert_int_equal(rc, HARK_ENOMEM);
        assert_true(failures > 0);
        assert_true(i < 1000);
    }
}

static int decode_file_once(const void *path)
{
    float *x = NULL;
    size_t n = 0;
    struct audio_error err;
    int rc = audio_decode_file(path, NULL, &x, &n, &err);
    if (rc == HARK_ENOMEM)
        assert_string_equal(err.message, "out of memory");
    hark_free(x);
    return rc;
}

struct bytes {
    unsigned char *data;
    size_t len;
};

static int decode_memory_once(const void *arg)
{
    const struct bytes *b = arg;
    float *x = NULL;
    size_t n = 0;
    int rc = audio_decode_memory(b->data, b->len, NULL, &x, &n, NULL);
    hark_free(x);
    return rc;
}

static int decode_raw_once(const void *arg)
{
    (void)arg;
    static short pcm[3 * 44100];
    float *x = NULL;
    size_t n = 0;
    int rc = audio_decode_raw(pcm, sizeof pcm, AUDIO_PCM_S16LE, 44100, 3, NULL, &x, &n,
                              NULL);
    hark_free(x);
    return rc;
}

static int resample_stream_once(const void *arg)
{
    (void)arg;
    static float in[2 * 4800];
    struct audio_resampler *r = NULL;
    int rc = audio_resampler_new(48000, 2, &r);
    if (rc)
        return rc;
    struct hbuf out;
    hbuf_init(&out, 0);
    for (int i = 0; i < 10 && !rc; i++)
        rc = audio_resampler_push(r, in, 4800, &out);
    if (!rc)
        rc = audio_resampler_flush(r, &out);
    hbuf_release(&out);
    audio_resampler_free(r);
    return rc;
}

static void every_allocation_failure_is_clean_enomem(void **state)
{
    (void)state;
    const char *p = tmp_path("tone.wav");
    write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 2.0, 440, tone_amp);
    fail_each_allocation(decode_file_once, p);
    struct bytes b;
    b.data = slurp(p, &b.len);
    fail_each_allocation(decode_memory_once, &b);
    hark_free(b.data);
    fail_each_allocation(decode_raw_once, NULL);
    fail_each_allocation(resample_stream_once, NULL);
}

static void write_wav_round_trips(void **state)
{
    (void)state;
    size_t n = 16000;
    float *s = hark_malloc(n * sizeof *s);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (float)(0.7 * sin(2 * PI * 300 * (double)i / 16000));
    s[10] = 1.5f;    /* clipped */
    s[11] = -1.5f;
    s[12] = NAN;     /* silence */
    const char *p = tmp_path("rt.wav");
    assert_int_equal(audio_write_wav(p, s, n), 0);
    float *x = NULL;
    size_t m = 0;
    assert_int_equal(audio_decode_file(p, NULL, &x, &m, NULL), 0);
    assert_int_equal(m, n);
    s[10] = 32767.0f / 32768.0f;
    s[11] = -1.0f;
    s[12] = 0.0f;
    for (size_t i = 0; i < n; i++)
        assert_float_equal(x[i], s[i], 1.0f / 32768);
    hark_free(x);
    hark_free(s);
    assert_int_equal(audio_write_wav(tmp_path("no/such/dir.wav"), s, 0), HARK_EIO);
    assert_int_equal(audio_write_wav(p, NULL, 1), HARK_EINVAL);
}

/* Each thread decodes a valid file and two kinds of bad input over and
 * over; every result and message must be what a lone decode gives. */
struct worker {
    const unsigned char *wav;
    size_t wav_len;
    const char *junk_message;
    const char *cut_message;
    int failures;
};

static const unsigned char junk[64] = "this is not audio at all, not even close.";

static void *decode_loop(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 50; i++) {
        float *x = NULL;
        size_t n = 0;
        struct audio_error err;
        if (audio_decode_memory(w->wav, w->wav_len, NULL, &x, &n, &err) != 0 ||
            n != AUDIO_RATE / 10)
            w->failures++;
        hark_free(x);
        if (audio_decode_memory(junk, sizeof junk, NULL, &x, &n, &err) != HARK_EPARSE ||
            strcmp(err.message, w->junk_message) != 0)
            w->failures++;
        if (audio_decode_memory(w->wav, 30, NULL, &x, &n, &err) != HARK_EPARSE ||
            strcmp(err.message, w->cut_message) != 0)
            w->failures++;
    }
    return NULL;
}

static void concurrent_decodes_do_not_interfere(void **state)
{
    (void)state;
    const char *p = tmp_path("short.wav");
    write_tone(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, 0.1, 440, tone_amp);
    size_t len;
    unsigned char *wav = slurp(p, &len);
    float *x = NULL;
    size_t n = 0;
    struct audio_error junk_err, cut_err;
    assert_int_equal(audio_decode_memory(junk, sizeof junk, NULL, &x, &n, &junk_err),
                     HARK_EPARSE);
    assert_int_equal(audio_decode_memory(wav, 30, NULL, &x, &n, &cut_err), HARK_EPARSE);
    assert_string_not_equal(junk_err.message, cut_err.message);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){wav, len, junk_err.message, cut_err.message, 0};
        assert_int_equal(pthread_create(&t[i], NULL, decode_loop, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i].failures, 0);
    hark_free(wav);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(jfk_wav_decodes_to_11_s_of_speech),
    cmocka_unit_test(wav_44k1_stereo_is_averaged_and_resampled),
    cmocka_unit_test(flac_decodes_to_the_right_tone),
    cmocka_unit_test(ogg_vorbis_decodes_to_the_right_tone),
    cmocka_unit_test(ogg_opus_decodes_to_the_right_tone),
    cmocka_unit_test(aiff_float_decodes_to_the_right_tone),
    cmocka_unit_test(wav_8k_is_upsampled),
    cmocka_unit_test(memory_decode_equals_file_decode),
    cmocka_unit_test(raw_s16le_stereo_is_averaged),
    cmocka_unit_test(raw_f32le_48k_is_resampled_and_clamped),
    cmocka_unit_test(raw_partial_frame_is_parse_error),
    cmocka_unit_test(raw_f32_nan_or_inf_is_parse_error),
    cmocka_unit_test(float_wav_with_nan_is_parse_error),
    cmocka_unit_test(empty_input_is_einval),
    cmocka_unit_test(truncated_wav_header_is_parse_error),
    cmocka_unit_test(random_bytes_are_parse_error_with_message),
    cmocka_unit_test(longer_than_max_seconds_is_toobig),
    cmocka_unit_test(larger_than_max_bytes_is_toobig),
    cmocka_unit_test(missing_or_unreadable_file_is_eio),
    cmocka_unit_test(bad_arguments_are_einval),
    cmocka_unit_test(file_with_unaccepted_rate_or_channels_is_parse_error),
    cmocka_unit_test(resampler_chunked_output_equals_whole),
    cmocka_unit_test(resampler_at_16k_only_mixes),
    cmocka_unit_test(resampler_refuses_nan_without_losing_the_stream),
    cmocka_unit_test(resampler_stops_at_the_output_limit),
    cmocka_unit_test(resampler_rejects_bad_arguments),
    cmocka_unit_test(every_allocation_failure_is_clean_enomem),
    cmocka_unit_test(write_wav_round_trips),
    cmocka_unit_test(concurrent_decodes_do_not_interfere),
};
HARNESS_MAIN(tests)
