#include "hark/audio.h"

#include <math.h>
#include <soxr.h>
#include <stdint.h>

#include "hark/mem.h"

/* Frames mixed to mono per soxr call, and output samples taken from soxr per
 * call: both bound the scratch memory whatever the caller pushes at once. */
#define MIX_FRAMES 4096
#define OUT_SAMPLES 8192

struct audio_resampler {
    soxr_t soxr;           /* NULL when in_rate is AUDIO_RATE: mixing only */
    int channels;
    int flushed;
    float mono[MIX_FRAMES];
    float res[OUT_SAMPLES];
};

int audio_resampler_new(int in_rate, int channels, struct audio_resampler **out)
{
    if (!out)
        return HARK_EINVAL;
    *out = NULL;
    if (in_rate < AUDIO_RATE_MIN || in_rate > AUDIO_RATE_MAX || channels < 1 ||
        channels > AUDIO_CHANNELS_MAX)
        return HARK_EINVAL;
    struct audio_resampler *r = hark_calloc(1, sizeof *r);
    if (!r)
        return HARK_ENOMEM;
    r->channels = channels;
    if (in_rate != AUDIO_RATE) {
        /* Mixing first means soxr filters one channel, not `channels`. */
        soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
        soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
        soxr_runtime_spec_t rt = soxr_runtime_spec(1);
        soxr_error_t e = NULL;
        r->soxr = soxr_create(in_rate, AUDIO_RATE, 1, &e, &io, &q, &rt);
        if (!r->soxr || e) {
            /* With valid rates and specs soxr only fails to allocate. */
            soxr_delete(r->soxr);
            hark_free(r);
            return HARK_ENOMEM;
        }
    }
    *out = r;
    return 0;
}

void audio_resampler_free(struct audio_resampler *r)
{
    if (!r)
        return;
    soxr_delete(r->soxr);
    hark_free(r);
}

static float clamp1(float x)
{
    return x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
}

static int append_clamped(struct hbuf *out, float *s, size_t n)
{
    /* The filter rings past full scale on clipped input; the output promise
     * is [-1, 1]. */
    for (size_t i = 0; i < n; i++)
        s[i] = clamp1(s[i]);
    return hbuf_append(out, s, n * sizeof *s);
}

/* Feeds n mono samples (NULL: end of stream) through soxr until it has
 * consumed them all and has nothing more to give for now. */
static int resample(struct audio_resampler *r, const float *mono, size_t n,
                    struct hbuf *out)
{
    size_t used = 0;
    for (;;) {
        size_t idone = 0, odone = 0;
        soxr_error_t e = soxr_process(r->soxr, mono ? mono + used : NULL, n - used,
                                      &idone, r->res, OUT_SAMPLES, &odone);
        if (e)
            return HARK_ENOMEM;
        int rc = append_clamped(out, r->res, odone);
        if (rc)
            return rc;
        used += idone;
        if (used == n && (mono ? odone < OUT_SAMPLES : odone == 0))
            return 0;
    }
}

int audio_resampler_push(struct audio_resampler *r, const float *in, size_t frames,
                         struct hbuf *out_f32)
{
    if (!r || !out_f32 || (!in && frames) || r->flushed)
        return HARK_EINVAL;
    size_t ch = (size_t)r->channels;
    if (frames > SIZE_MAX / ch / sizeof *in)
        return HARK_EINVAL;
    /* Checked up front so a bad chunk leaves the stream untouched: one NaN
     * inside the filter would poison every later output sample. */
    for (size_t i = 0; i < frames * ch; i++)
        if (!isfinite(in[i]))
            return HARK_ERANGE;
    for (size_t done = 0; done < frames;) {
        size_t n = frames - done < MIX_FRAMES ? frames - done : MIX_FRAMES;
        const float *f = in + done * ch;
        for (size_t i = 0; i < n; i++, f += ch) {
            float sum = 0.0f;
            for (size_t c = 0; c < ch; c++)
                sum += clamp1(f[c]);
            r->mono[i] = sum / (float)ch;
        }
        int rc = r->soxr ? resample(r, r->mono, n, out_f32)
                         : append_clamped(out_f32, r->mono, n);
        if (rc)
            return rc;
        done += n;
    }
    return 0;
}

int audio_resampler_flush(struct audio_resampler *r, struct hbuf *out_f32)
{
    if (!r || !out_f32 || r->flushed)
        return HARK_EINVAL;
    r->flushed = 1;
    return r->soxr ? resample(r, NULL, 0, out_f32) : 0;
}
