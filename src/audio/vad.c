#include "hark/vad.h"

#include <stdio.h>
#include <string.h>
#include <whisper.h>

#include "hark/log.h"
#include "hark/mem.h"

struct vad {
    struct whisper_vad_context *ctx;
    float carry[VAD_FRAME];       /* a frame still being filled */
    size_t n_carry;
};

struct vad_config vad_config_default(void)
{
    struct vad_config c = {
        .threshold = 0.5f,
        .min_speech_ms = 250,
        .min_silence_ms = 500,
        .pad_ms = 200,
        .threads = 1,
    };
    return c;
}

int vad_new(const struct vad_config *c, struct vad **out)
{
    *out = NULL;
    FILE *f = c->model_path ? fopen(c->model_path, "rb") : NULL;
    if (!f) {
        log_error("vad", "msg=\"model file not found\" path=%s",
                  c->model_path ? c->model_path : "(none)");
        return HARK_ENOENT;
    }
    fclose(f);
    struct vad *v = hark_calloc(1, sizeof *v);
    if (!v)
        return HARK_ENOMEM;
    struct whisper_vad_context_params p = whisper_vad_default_context_params();
    p.n_threads = c->threads > 0 ? c->threads : 1;
    p.use_gpu = false;
    v->ctx = whisper_vad_init_from_file_with_params(c->model_path, p);
    if (!v->ctx) {
        log_error("vad", "msg=\"not a VAD model\" path=%s", c->model_path);
        hark_free(v);
        return HARK_EPARSE;
    }
    /* whisper.cpp leaves the LSTM state uninitialised until a reset: the
     * first frames would score differently from run to run. */
    whisper_vad_reset_state(v->ctx);
    *out = v;
    return 0;
}

void vad_free(struct vad *v)
{
    if (!v)
        return;
    whisper_vad_free(v->ctx);
    hark_free(v);
}

void vad_reset(struct vad *v)
{
    whisper_vad_reset_state(v->ctx);
    v->n_carry = 0;
}

/* Runs the model over whole frames at pcm (n a multiple of VAD_FRAME). */
static int run(struct vad *v, const float *pcm, size_t n, float *probs, size_t *n_probs)
{
    if (n == 0)
        return 0;
    if (!whisper_vad_detect_speech_no_reset(v->ctx, pcm, (int)n))
        return HARK_EIO;
    int got = whisper_vad_n_probs(v->ctx);
    const float *p = whisper_vad_probs(v->ctx);
    for (int i = 0; i < got && (size_t)i < n / VAD_FRAME; i++)
        probs[(*n_probs)++] = p[i];
    return 0;
}

int vad_feed(struct vad *v, const float *pcm, size_t n, float *probs, size_t max,
             size_t *n_probs)
{
    *n_probs = 0;
    if ((v->n_carry + n) / VAD_FRAME > max)
        return HARK_ERANGE;
    if (n > (size_t)INT32_MAX)
        return HARK_ETOOBIG;
    if (v->n_carry) {
        size_t take = VAD_FRAME - v->n_carry < n ? VAD_FRAME - v->n_carry : n;
        memcpy(v->carry + v->n_carry, pcm, take * sizeof *pcm);
        v->n_carry += take;
        pcm += take;
        n -= take;
        if (v->n_carry < VAD_FRAME)
            return 0;
        int rc = run(v, v->carry, VAD_FRAME, probs, n_probs);
        v->n_carry = 0;
        if (rc)
            return rc;
    }
    size_t whole = n / VAD_FRAME * VAD_FRAME;
    int rc = run(v, pcm, whole, probs, n_probs);
    if (rc)
        return rc;
    v->n_carry = n - whole;
    memcpy(v->carry, pcm + whole, v->n_carry * sizeof *pcm);
    return 0;
}
