/* vad.h — voice activity detection with whisper.cpp's Silero VAD.
 *
 * One vad per stream: it keeps the model's LSTM state across calls, so a
 * live stream is fed in whatever chunks arrive and gets one speech
 * probability per 32 ms frame (512 samples at 16 kHz). Samples that do not
 * fill a frame wait for the next call. Cost: one small model (~0.9 MB) per
 * vad; a frame costs well under a millisecond on one core. */
#ifndef HARK_VAD_H
#define HARK_VAD_H
#include <stddef.h>
#include "hark/error.h"

#define VAD_FRAME 512                     /* samples per probability */

struct vad_config {
    const char *model_path;               /* ggml Silero model (borrowed) */
    float threshold;                      /* speech when p >= threshold; 0.5 */
    int min_speech_ms;                    /* shorter bursts are noise; 250 */
    int min_silence_ms;                   /* a pause is at least this; 500 */
    int pad_ms;                           /* audio kept around speech; 200 */
    int threads;                          /* 1 */
};
struct vad_config vad_config_default(void);

struct vad;

/* *out is freed with vad_free(). HARK_ENOENT / HARK_EPARSE for a missing or
 * unloadable model. */
HARK_MUST_CHECK int vad_new(const struct vad_config *c, struct vad **out);
void vad_free(struct vad *v);

/* Feeds n samples; appends one probability per completed frame to probs
 * (room for max entries) and sets *n_probs. HARK_ERANGE when max is too
 * small for what n completes (callers pass n / VAD_FRAME + 1). */
HARK_MUST_CHECK int vad_feed(struct vad *v, const float *pcm, size_t n, float *probs, size_t max,
                             size_t *n_probs);
/* Forgets the LSTM state and any partial frame (a new utterance or stream). */
void vad_reset(struct vad *v);

#endif
