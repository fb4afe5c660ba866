/* audio.h — every input becomes 16 kHz mono float32.
 *
 * The engine only ever sees AUDIO_RATE Hz mono float samples in [-1, 1].
 * This module gets them there from an uploaded or local file (anything
 * libsndfile reads: WAV, RF64, W64, AIFF, CAF, FLAC, Ogg/Vorbis, Ogg/Opus,
 * MP3, AU, ...), from raw interleaved PCM, and, for live sources, chunk by
 * chunk through a streaming resampler. Channels are averaged; a rate other
 * than AUDIO_RATE goes through libsoxr at its "high quality" setting.
 *
 * Input is untrusted (HTTP uploads): header sizes are never used to size an
 * allocation, input is read in bounded chunks, and the length is capped by
 * audio_config.max_seconds both before and after resampling, so a file that
 * claims or expands to hours of audio costs at most max_seconds of work.
 * Rates outside AUDIO_RATE_MIN..AUDIO_RATE_MAX and channel counts outside
 * 1..AUDIO_CHANNELS_MAX are refused.
 *
 * Thread safety: functions are safe to call from several threads on
 * different objects; one audio_resampler is used by one thread at a time. */
#ifndef HARK_AUDIO_H
#define HARK_AUDIO_H
#include <stddef.h>
#include "hark/buf.h"
#include "hark/error.h"

#define AUDIO_RATE 16000          /* Hz of every output sample */
#define AUDIO_RATE_MIN 1000       /* accepted input rates, Hz */
#define AUDIO_RATE_MAX 768000
#define AUDIO_CHANNELS_MAX 64

struct audio_config {
    double max_seconds;  /* longer input -> HARK_ETOOBIG; default 4 h */
    size_t max_bytes;    /* memory and raw input larger -> HARK_ETOOBIG;
                            default 1 GiB */
};
struct audio_config audio_config_default(void);

/* Why a decode failed, as one sentence fit for an HTTP 400 body, e.g.
 * "unsupported or corrupt audio: File contains data in an unknown format."
 * Set on every error; untouched on success. */
struct audio_error {
    char message[256];
};

/* In every decode below: `c` is borrowed and may be NULL for
 * audio_config_default(); `err` may be NULL. On success *out holds *n_out > 0
 * samples at AUDIO_RATE, each finite and in [-1, 1]; the caller frees *out
 * with hark_free(). On error *out is NULL and *n_out 0.
 * Errors: HARK_EPARSE unreadable, corrupt or unsupported data (including NaN
 * or infinite float samples); HARK_EINVAL no audio at all (or too little
 * to make one output sample), or bad arguments
 * (NULL pointers, a config with max_seconds <= 0 or max_bytes 0);
 * HARK_ETOOBIG longer than max_seconds or larger than max_bytes; HARK_EIO the
 * file cannot be opened or read; HARK_ENOMEM. */

/* Decodes the whole file at `path`. Float files may hold samples beyond
 * [-1, 1]: they are clamped. max_bytes does not apply. */
HARK_MUST_CHECK int audio_decode_file(const char *path, const struct audio_config *c,
                                      float **out, size_t *n_out,
                                      struct audio_error *err);

/* Same for a file held in memory (`data`, borrowed, `len` bytes). */
HARK_MUST_CHECK int audio_decode_memory(const void *data, size_t len,
                                        const struct audio_config *c,
                                        float **out, size_t *n_out,
                                        struct audio_error *err);

enum audio_pcm {
    AUDIO_PCM_S16LE,  /* signed 16-bit little-endian */
    AUDIO_PCM_F32LE,  /* IEEE float32 little-endian, nominally in [-1, 1] */
};

/* Decodes headerless interleaved PCM (`data`, borrowed, `len` bytes) at
 * `rate` Hz with `channels` channels. A length that is not a whole number of
 * frames and non-finite float samples are HARK_EPARSE; finite float samples
 * beyond [-1, 1] are clamped. A rate or channel count out of range is
 * HARK_EINVAL (they come from the caller, not from the data). */
HARK_MUST_CHECK int audio_decode_raw(const void *data, size_t len, enum audio_pcm fmt,
                                     int rate, int channels,
                                     const struct audio_config *c,
                                     float **out, size_t *n_out,
                                     struct audio_error *err);

/* Streaming conversion for live sources: interleaved float frames at any
 * accepted rate and channel count in, AUDIO_RATE mono out. The resampler
 * delays its output by a few milliseconds (none when in_rate is AUDIO_RATE),
 * so the end of a stream only comes out of audio_resampler_flush(). Feeding a
 * stream in chunks gives the same samples, within float rounding, as feeding
 * it whole. */
struct audio_resampler;

/* HARK_EINVAL when in_rate or channels is out of range; HARK_ENOMEM. On
 * success the caller frees *out with audio_resampler_free(). */
HARK_MUST_CHECK int audio_resampler_new(int in_rate, int channels,
                                        struct audio_resampler **out);

/* Converts `frames` frames of `in` (borrowed, frames * channels floats) and
 * appends the output samples to out_f32 as native floats (bytes; len grows
 * by 4 per sample). Samples beyond [-1, 1] are clamped. HARK_ERANGE when a
 * sample is NaN or infinite: nothing is consumed or appended. HARK_ETOOBIG
 * when out_f32 reaches its max, HARK_ENOMEM: out_f32 may then hold part of
 * this chunk's output and the stream cannot continue (free the resampler).
 * HARK_EINVAL after audio_resampler_flush(). */
HARK_MUST_CHECK int audio_resampler_push(struct audio_resampler *r, const float *in,
                                         size_t frames, struct hbuf *out_f32);

/* Ends the stream: appends the delayed tail to out_f32. Afterwards only
 * audio_resampler_free() is valid. Errors as for push. */
HARK_MUST_CHECK int audio_resampler_flush(struct audio_resampler *r, struct hbuf *out_f32);

void audio_resampler_free(struct audio_resampler *r);  /* NULL is fine */

/* Writes n samples (borrowed; clipped to [-1, 1]) as a AUDIO_RATE mono 16-bit
 * WAV file at `path`, replacing it. For tests and tools. HARK_EINVAL for
 * NULL samples with n > 0, HARK_EIO when the file cannot be written. */
HARK_MUST_CHECK int audio_write_wav(const char *path, const float *samples, size_t n);

#endif
