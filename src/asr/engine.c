/* The engine interface: defaults, dispatch, results. */
#include <string.h>

#include "asr_private.h"
#include "hark/mem.h"

struct asr_config asr_config_default(void)
{
    struct asr_config c = {
        .kind = ASR_KIND_WHISPER,
        .decoders = 1,
        .threads = 2,
        .flash_attn = 1,
        .remote_model = "whisper-1",
        .remote_timeout_ms = 120000,
    };
    return c;
}

struct asr_options asr_options_default(void)
{
    struct asr_options o = {.beam_size = 1};
    return o;
}

int asr_engine_new(const struct asr_config *c, struct asr_engine **out)
{
    *out = NULL;
    switch (c->kind) {
    case ASR_KIND_WHISPER:
        return asr_whisper_new(c, out);
    case ASR_KIND_REMOTE:
        return asr_remote_new(c, out);
    }
    return HARK_ECONFIG;
}

void asr_engine_free(struct asr_engine *e)
{
    if (e)
        e->ops->free(e);
}

static int64_t clamp(int64_t v, int64_t hi) { return v < 0 ? 0 : v > hi ? hi : v; }

/* Decoders may place the last timestamp past the end of the audio (whisper
 * rounds to its 20 ms grid and pads to 30 s): nobody downstream should see a
 * time the audio does not have. */
static void clamp_times(struct asr_result *r)
{
    for (size_t i = 0; i < r->n_segs; i++) {
        struct asr_segment *s = &r->segs[i];
        s->start_ms = clamp(s->start_ms, r->duration_ms);
        s->end_ms = clamp(s->end_ms, r->duration_ms);
        for (size_t k = 0; k < s->n_words; k++) {
            s->words[k].start_ms = clamp(s->words[k].start_ms, r->duration_ms);
            s->words[k].end_ms = clamp(s->words[k].end_ms, r->duration_ms);
        }
    }
}

int asr_transcribe(struct asr_engine *e, const float *pcm, size_t n, const struct asr_options *o,
                   struct asr_result *out)
{
    memset(out, 0, sizeof *out);
    if (!pcm || n == 0)
        return HARK_EINVAL;
    struct asr_options def = asr_options_default();
    int rc = e->ops->transcribe(e, pcm, n, o ? o : &def, out);
    if (rc) {
        asr_result_release(out);
        return rc;
    }
    out->duration_ms = (int64_t)(n * 1000 / ASR_RATE);
    clamp_times(out);
    atomic_fetch_add(&e->decodes, 1);
    atomic_fetch_add(&e->audio_ms, (unsigned long long)out->duration_ms);
    return 0;
}

const char *asr_engine_model(const struct asr_engine *e) { return e->model; }
int asr_engine_decoders(const struct asr_engine *e) { return e->decoders; }

void asr_engine_stats(const struct asr_engine *e, uint64_t *decodes, uint64_t *audio_ms)
{
    *decodes = atomic_load(&e->decodes);
    *audio_ms = atomic_load(&e->audio_ms);
}

void asr_result_release(struct asr_result *r)
{
    for (size_t i = 0; i < r->n_segs; i++) {
        hark_free(r->segs[i].text);
        hark_free(r->segs[i].words);
    }
    hark_free(r->segs);
    r->segs = NULL;
    r->n_segs = 0;
}

int asr_result_add(struct asr_result *r, int64_t start_ms, int64_t end_ms, const char *text,
                   const struct asr_word *words, size_t n_words, float no_speech_p)
{
    struct asr_segment *segs = hark_realloc(r->segs, (r->n_segs + 1) * sizeof *segs);
    if (!segs)
        return HARK_ENOMEM;
    r->segs = segs;
    struct asr_segment *s = &segs[r->n_segs];
    memset(s, 0, sizeof *s);
    s->text = hark_strdup(text ? text : "");
    if (n_words)
        s->words = hark_malloc(n_words * sizeof *words);
    if (!s->text || (n_words && !s->words)) {
        hark_free(s->text);
        hark_free(s->words);
        return HARK_ENOMEM;
    }
    if (n_words)
        memcpy(s->words, words, n_words * sizeof *words);
    s->n_words = n_words;
    s->start_ms = start_ms;
    s->end_ms = end_ms;
    s->no_speech_p = no_speech_p;
    r->n_segs++;
    return 0;
}
