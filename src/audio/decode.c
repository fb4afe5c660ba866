#include "hark/audio.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/mem.h"

/* Interleaved samples converted per step: memory per decode stays bounded
 * whatever length a header claims. */
#define READ_SAMPLES 16384

/* libsndfile reports a failed open through process-wide state (sf_errno and
 * its message buffers), so two threads opening at once could read each
 * other's error. Every open and the read of its error happen under this. */
static pthread_mutex_t sf_open_lock = PTHREAD_MUTEX_INITIALIZER;

struct audio_config audio_config_default(void)
{
    return (struct audio_config){
        .max_seconds = 4.0 * 3600.0,
        .max_bytes = (size_t)1 << 30,
    };
}

static int fail(struct audio_error *err, int rc, const char *fmt, ...)
    HARK_PRINTF(3, 4);

static int fail(struct audio_error *err, int rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* One decode: chunks of interleaved float frames in, AUDIO_RATE mono out. */
struct decoder {
    struct audio_resampler *r;
    struct hbuf out;
    float *buf;            /* READ_SAMPLES floats of input scratch */
    size_t buf_frames;     /* frames that fit in buf */
    double max_seconds;
    double max_frames;     /* input frames that max_seconds allows */
    double frames;         /* input frames so far; exact below 2^53 */
    struct audio_error *err;
};

/* Checks the common arguments and settles the config; *cfg is the
 * caller's or the default. */
static int check_args(const struct audio_config *c, float **out, size_t *n_out,
                      struct audio_error *err, struct audio_config *cfg)
{
    *cfg = c ? *c : audio_config_default();
    if (out)
        *out = NULL;
    if (n_out)
        *n_out = 0;
    if (!out || !n_out)
        return fail(err, HARK_EINVAL, "invalid arguments");
    if (!(cfg->max_seconds > 0.0) || !isfinite(cfg->max_seconds) || cfg->max_bytes == 0)
        return fail(err, HARK_EINVAL, "invalid audio limits");
    return 0;
}

static int check_format(int rate, int channels, int rc, struct audio_error *err)
{
    if (rate < AUDIO_RATE_MIN || rate > AUDIO_RATE_MAX)
        return fail(err, rc, "unsupported sample rate %d Hz (accepted: %d to %d)",
                    rate, AUDIO_RATE_MIN, AUDIO_RATE_MAX);
    if (channels < 1 || channels > AUDIO_CHANNELS_MAX)
        return fail(err, rc, "unsupported channel count %d (accepted: 1 to %d)",
                    channels, AUDIO_CHANNELS_MAX);
    return 0;
}

static void decoder_release(struct decoder *d)
{
    audio_resampler_free(d->r);
    hbuf_release(&d->out);
    hark_free(d->buf);
}

/* rate and channels must have passed check_format(). */
static int decoder_init(struct decoder *d, int rate, int channels,
                        const struct audio_config *cfg, struct audio_error *err)
{
    memset(d, 0, sizeof *d);
    d->err = err;
    d->max_seconds = cfg->max_seconds;
    d->max_frames = floor(cfg->max_seconds * rate);
    /* The output cap backs up the input one; the slack covers the
     * resampler rounding the length of a stream right at the limit. */
    double out_max = (floor(cfg->max_seconds * AUDIO_RATE) + 16.0) * sizeof(float);
    hbuf_init(&d->out, out_max < (double)(SIZE_MAX / 2) ? (size_t)out_max : SIZE_MAX / 2);
    d->buf_frames = READ_SAMPLES / (size_t)channels;
    d->buf = hark_malloc(READ_SAMPLES * sizeof *d->buf);
    int rc = d->buf ? audio_resampler_new(rate, channels, &d->r) : HARK_ENOMEM;
    if (rc) {
        decoder_release(d);
        return fail(err, rc, "out of memory");
    }
    return 0;
}

static int too_long(struct decoder *d)
{
    return fail(d->err, HARK_ETOOBIG, "audio is longer than the limit of %g s",
                d->max_seconds);
}

/* Converts `frames` frames of d->buf. */
static int decoder_feed(struct decoder *d, size_t frames)
{
    d->frames += (double)frames;
    if (d->frames > d->max_frames)
        return too_long(d);
    int rc = audio_resampler_push(d->r, d->buf, frames, &d->out);
    switch (rc) {
    case 0:
        return 0;
    case HARK_ERANGE:
        return fail(d->err, HARK_EPARSE, "audio contains NaN or infinite samples");
    case HARK_ETOOBIG:
        return too_long(d);
    default:
        return fail(d->err, rc, "out of memory");
    }
}

/* Ends the decode; on success hands the samples to *out. Releases d. */
static int decoder_finish(struct decoder *d, float **out, size_t *n_out)
{
    int rc = audio_resampler_flush(d->r, &d->out);
    if (rc == HARK_ETOOBIG)
        rc = too_long(d);
    else if (rc)
        rc = fail(d->err, rc, "out of memory");
    else if (d->out.len == 0)
        rc = fail(d->err, HARK_EINVAL, d->frames > 0
                  ? "audio is too short: less than one sample at 16 kHz"
                  : "audio is empty");
    if (rc) {
        decoder_release(d);
        return rc;
    }
    size_t n = d->out.len / sizeof(float);
    /* hbuf doubles as it grows; give back the unused part when we can. */
    char *p = hbuf_take(&d->out);
    char *fit = hark_realloc(p, n * sizeof(float));
    *out = (float *)(void *)(fit ? fit : p);
    *n_out = n;
    decoder_release(d);
    return 0;
}

/* Reads the whole of an opened sound file. Takes ownership of snd. */
static int decode_sndfile(SNDFILE *snd, const SF_INFO *info,
                          const struct audio_config *cfg, float **out,
                          size_t *n_out, struct audio_error *err)
{
    struct decoder d;
    int rc = check_format(info->samplerate, info->channels, HARK_EPARSE, err);
    if (!rc)
        rc = decoder_init(&d, info->samplerate, info->channels, cfg, err);
    if (rc) {
        sf_close(snd);
        return rc;
    }
    sf_count_t got;
    while (!rc && (got = sf_readf_float(snd, d.buf, (sf_count_t)d.buf_frames)) > 0)
        rc = decoder_feed(&d, (size_t)got);
    int sf_err = sf_error(snd);
    if (!rc && sf_err != SF_ERR_NO_ERROR)
        rc = fail(err, sf_err == SF_ERR_SYSTEM ? HARK_EIO : HARK_EPARSE,
                  "corrupt audio: %s", sf_strerror(snd));
    sf_close(snd);
    if (rc) {
        decoder_release(&d);
        return rc;
    }
    return decoder_finish(&d, out, n_out);
}

/* The message and code for a failed sf_open_*(); call with sf_open_lock
 * held. */
static int open_failed(struct audio_error *err)
{
    if (sf_error(NULL) == SF_ERR_SYSTEM)
        return fail(err, HARK_EIO, "cannot read audio file: %s", sf_strerror(NULL));
    return fail(err, HARK_EPARSE, "unsupported or corrupt audio: %s", sf_strerror(NULL));
}

int audio_decode_file(const char *path, const struct audio_config *c, float **out,
                      size_t *n_out, struct audio_error *err)
{
    struct audio_config cfg;
    int rc = check_args(c, out, n_out, err, &cfg);
    if (rc)
        return rc;
    if (!path)
        return fail(err, HARK_EINVAL, "invalid arguments");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char buf[128];
        return fail(err, HARK_EIO, "cannot open audio file: %s",
                    strerror_r(errno, buf, sizeof buf));
    }
    /* libsndfile would call a directory "an unknown format". */
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (e) {
        char buf[128];
        close(fd);
        return fail(err, HARK_EIO, "cannot open audio file: %s",
                    strerror_r(e, buf, sizeof buf));
    }
    SF_INFO info;
    memset(&info, 0, sizeof info);
    pthread_mutex_lock(&sf_open_lock);
    SNDFILE *snd = sf_open_fd(fd, SFM_READ, &info, 0);
    if (!snd)
        rc = open_failed(err);
    pthread_mutex_unlock(&sf_open_lock);
    if (snd)
        rc = decode_sndfile(snd, &info, &cfg, out, n_out, err);
    close(fd);
    return rc;
}

/* A read-only file over a caller's buffer, for sf_open_virtual(). */
struct memfile {
    const unsigned char *data;
    sf_count_t len;
    sf_count_t pos;        /* may be past len, as with a real file */
};

static sf_count_t memfile_len(void *user)
{
    return ((struct memfile *)user)->len;
}

static sf_count_t memfile_seek(sf_count_t offset, int whence, void *user)
{
    struct memfile *m = user;
    sf_count_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = m->pos; break;
    case SEEK_END: base = m->len; break;
    default: return -1;
    }
    /* Offsets come from headers: refuse overflow and positions before 0. */
    if (offset > 0 ? base > SF_COUNT_MAX - offset : base + offset < 0)
        return -1;
    m->pos = base + offset;
    return m->pos;
}

static sf_count_t memfile_read(void *ptr, sf_count_t count, void *user)
{
    struct memfile *m = user;
    if (count <= 0 || m->pos >= m->len)
        return 0;
    sf_count_t n = m->len - m->pos < count ? m->len - m->pos : count;
    memcpy(ptr, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t memfile_write(const void *ptr, sf_count_t count, void *user)
{
    (void)ptr;
    (void)count;
    (void)user;
    return 0;
}

static sf_count_t memfile_tell(void *user)
{
    return ((struct memfile *)user)->pos;
}

int audio_decode_memory(const void *data, size_t len, const struct audio_config *c,
                        float **out, size_t *n_out, struct audio_error *err)
{
    struct audio_config cfg;
    int rc = check_args(c, out, n_out, err, &cfg);
    if (rc)
        return rc;
    if (!data && len)
        return fail(err, HARK_EINVAL, "invalid arguments");
    if (len > cfg.max_bytes || len > (size_t)SF_COUNT_MAX)
        return fail(err, HARK_ETOOBIG, "audio is larger than the limit of %zu bytes",
                    cfg.max_bytes);
    if (len == 0)
        return fail(err, HARK_EINVAL, "audio is empty");
    struct memfile m = {data, (sf_count_t)len, 0};
    SF_VIRTUAL_IO io = {memfile_len, memfile_seek, memfile_read, memfile_write,
                        memfile_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    pthread_mutex_lock(&sf_open_lock);
    SNDFILE *snd = sf_open_virtual(&io, SFM_READ, &info, &m);
    if (!snd)
        rc = open_failed(err);
    pthread_mutex_unlock(&sf_open_lock);
    return snd ? decode_sndfile(snd, &info, &cfg, out, n_out, err) : rc;
}

static float raw_sample(const unsigned char *p, enum audio_pcm fmt)
{
    if (fmt == AUDIO_PCM_S16LE)
        return (float)(int16_t)(uint16_t)(p[0] | p[1] << 8) / 32768.0f;
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int audio_decode_raw(const void *data, size_t len, enum audio_pcm fmt, int rate,
                     int channels, const struct audio_config *c, float **out,
                     size_t *n_out, struct audio_error *err)
{
    struct audio_config cfg;
    int rc = check_args(c, out, n_out, err, &cfg);
    if (rc)
        return rc;
    if ((!data && len) || (fmt != AUDIO_PCM_S16LE && fmt != AUDIO_PCM_F32LE))
        return fail(err, HARK_EINVAL, "invalid arguments");
    rc = check_format(rate, channels, HARK_EINVAL, err);
    if (rc)
        return rc;
    if (len > cfg.max_bytes)
        return fail(err, HARK_ETOOBIG, "audio is larger than the limit of %zu bytes",
                    cfg.max_bytes);
    size_t width = fmt == AUDIO_PCM_S16LE ? 2 : 4;
    size_t frame_bytes = width * (size_t)channels;
    if (len % frame_bytes)
        return fail(err, HARK_EPARSE, "raw PCM length is not a whole number of frames");
    if (len == 0)
        return fail(err, HARK_EINVAL, "audio is empty");

    struct decoder d;
    rc = decoder_init(&d, rate, channels, &cfg, err);
    if (rc)
        return rc;
    const unsigned char *p = data;
    for (size_t left = len / frame_bytes; left > 0;) {
        size_t frames = left < d.buf_frames ? left : d.buf_frames;
        size_t n = frames * (size_t)channels;
        for (size_t i = 0; i < n; i++, p += width)
            d.buf[i] = raw_sample(p, fmt);
        rc = decoder_feed(&d, frames);
        if (rc) {
            decoder_release(&d);
            return rc;
        }
        left -= frames;
    }
    return decoder_finish(&d, out, n_out);
}

int audio_write_wav(const char *path, const float *samples, size_t n)
{
    if (!path || (!samples && n))
        return HARK_EINVAL;
    SF_INFO info = {.samplerate = AUDIO_RATE, .channels = 1,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    pthread_mutex_lock(&sf_open_lock);
    SNDFILE *snd = sf_open(path, SFM_WRITE, &info);
    pthread_mutex_unlock(&sf_open_lock);
    if (!snd)
        return HARK_EIO;
    /* Converted here rather than by libsndfile so the scale matches the
     * reader's (x / 32768) and NaN has a defined result (silence). */
    short pcm[4096];
    int rc = 0;
    for (size_t done = 0; done < n && !rc;) {
        size_t k = n - done < 4096 ? n - done : 4096;
        for (size_t i = 0; i < k; i++) {
            float x = samples[done + i];
            x = isnan(x) ? 0.0f : x * 32768.0f;
            pcm[i] = (short)(x >= 32767.0f ? 32767 : x <= -32768.0f ? -32768 : lrintf(x));
        }
        if (sf_writef_short(snd, pcm, (sf_count_t)k) != (sf_count_t)k)
            rc = HARK_EIO;
        done += k;
    }
    if (sf_close(snd) != 0)
        rc = HARK_EIO;
    return rc;
}
