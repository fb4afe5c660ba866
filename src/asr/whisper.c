/* The whisper.cpp engine: one shared context, a pool of decode states. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <whisper.h>

#include "asr_private.h"
#include "hark/log.h"
#include "hark/mem.h"

/* Words of one decode are gathered here; whisper emits at most n_text_ctx/2
 * tokens per 30 s window, so this is never the limit in practice. */
#define MAX_WORDS 1024

struct whisper_engine {
    struct asr_engine base;            /* first */
    struct whisper_context *ctx;       /* shared, read-only after load */
    int threads;
    pthread_mutex_t lock;              /* guards free_states */
    pthread_cond_t freed;
    size_t n_free;
    struct whisper_state **free_states;/* stack of idle states */
    struct whisper_state **all_states; /* every state, for free */
};

static void on_whisper_log(enum ggml_log_level level, const char *text, void *user)
{
    (void)user;
    char q[512];
    size_t n = strlen(text);
    if (n == 0 || (n == 1 && text[0] == '\n'))
        return;
    char line[480];
    snprintf(line, sizeof line, "%.*s", (int)(text[n - 1] == '\n' ? n - 1 : n), text);
    if (level >= GGML_LOG_LEVEL_ERROR)
        log_error("whisper", "msg=%s", log_quote(q, sizeof q, line));
    else
        log_debug("whisper", "msg=%s", log_quote(q, sizeof q, line));
}

static struct whisper_state *state_take(struct whisper_engine *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->n_free == 0)
        pthread_cond_wait(&w->freed, &w->lock);
    struct whisper_state *st = w->free_states[--w->n_free];
    pthread_mutex_unlock(&w->lock);
    return st;
}

static void state_give(struct whisper_engine *w, struct whisper_state *st)
{
    pthread_mutex_lock(&w->lock);
    w->free_states[w->n_free++] = st;
    pthread_cond_signal(&w->freed);
    pthread_mutex_unlock(&w->lock);
}

static struct whisper_full_params decode_params(const struct whisper_engine *w,
                                                const struct asr_options *o)
{
    int beam = o->beam_size > 1;
    struct whisper_full_params p =
        whisper_full_default_params(beam ? WHISPER_SAMPLING_BEAM_SEARCH : WHISPER_SAMPLING_GREEDY);
    p.n_threads = w->threads;
    p.translate = o->translate != 0;
    p.no_context = true;            /* context travels as the prompt, per call */
    p.single_segment = o->single_segment != 0;
    p.print_special = p.print_progress = p.print_realtime = p.print_timestamps = false;
    p.token_timestamps = true;      /* word times for agreement and clients */
    p.audio_ctx = o->audio_ctx;
    p.max_tokens = o->max_tokens;
    p.initial_prompt = o->prompt;
    p.language = (o->language && *o->language) ? o->language : "auto";
    p.detect_language = false;
    p.temperature = o->temperature;
    if (beam)
        p.beam_search.beam_size = o->beam_size;
    return p;
}

static int is_special(struct whisper_context *ctx, whisper_token id)
{
    return id >= whisper_token_eot(ctx);
}

/* Groups a segment's text tokens into words: a token starting with a space
 * (or the segment's first) opens a word. */
static size_t segment_words(struct whisper_context *ctx, struct whisper_state *st, int seg,
                            struct asr_word *words, size_t max)
{
    size_t n = 0;
    int nt = whisper_full_n_tokens_from_state(st, seg);
    for (int t = 0; t < nt; t++) {
        whisper_token_data d = whisper_full_get_token_data_from_state(st, seg, t);
        if (is_special(ctx, d.id))
            continue;
        const char *text = whisper_full_get_token_text_from_state(ctx, st, seg, t);
        if (!text || !*text)
            continue;
        int opens = n == 0 || text[0] == ' ';
        if (opens && n == max)
            break;
        struct asr_word *w = &words[opens ? n : n - 1];
        if (opens) {
            memset(w, 0, sizeof *w);
            w->start_ms = d.t0 * 10;
            w->p = d.p;
            n++;
        }
        size_t used = strlen(w->text);
        snprintf(w->text + used, sizeof w->text - used, "%s", text);
        w->end_ms = d.t1 * 10 > w->start_ms ? d.t1 * 10 : w->start_ms;
        if (d.p < w->p)
            w->p = d.p;
    }
    return n;
}

static int collect(struct whisper_engine *w, struct whisper_state *st, struct asr_result *out)
{
    struct asr_word *words = hark_malloc(MAX_WORDS * sizeof *words);
    if (!words)
        return HARK_ENOMEM;
    int rc = 0;
    int ns = whisper_full_n_segments_from_state(st);
    for (int i = 0; i < ns && !rc; i++) {
        size_t nw = segment_words(w->ctx, st, i, words, MAX_WORDS);
        rc = asr_result_add(out, whisper_full_get_segment_t0_from_state(st, i) * 10,
                            whisper_full_get_segment_t1_from_state(st, i) * 10,
                            whisper_full_get_segment_text_from_state(st, i), words, nw,
                            whisper_full_get_segment_no_speech_prob_from_state(st, i));
    }
    hark_free(words);
    /* An English-only model reports whatever its language head says. */
    const char *lang = whisper_is_multilingual(w->ctx)
                           ? whisper_lang_str(whisper_full_lang_id_from_state(st)) : "en";
    snprintf(out->language, sizeof out->language, "%s", lang ? lang : "");
    return rc;
}

static int whisper_transcribe(struct asr_engine *e, const float *pcm, size_t n,
                              const struct asr_options *o, struct asr_result *out)
{
    struct whisper_engine *w = (struct whisper_engine *)e;
    if (n > (size_t)INT32_MAX)
        return HARK_ETOOBIG;
    struct whisper_full_params p = decode_params(w, o);
    struct whisper_state *st = state_take(w);
    int rc = whisper_full_with_state(w->ctx, st, p, pcm, (int)n);
    if (rc == 0)
        rc = collect(w, st, out);
    else {
        log_error("asr", "msg=\"decode failed\" engine=whisper code=%d", rc);
        rc = HARK_EIO;
    }
    state_give(w, st);
    return rc;
}

static void whisper_engine_free(struct asr_engine *e)
{
    struct whisper_engine *w = (struct whisper_engine *)e;
    for (int i = 0; w->all_states && i < e->decoders; i++)
        if (w->all_states[i])
            whisper_free_state(w->all_states[i]);
    if (w->ctx)
        whisper_free(w->ctx);
    hark_free(w->all_states);
    hark_free(w->free_states);
    pthread_cond_destroy(&w->freed);
    pthread_mutex_destroy(&w->lock);
    hark_free(w);
}

static const struct asr_ops whisper_ops = {whisper_transcribe, whisper_engine_free};

/* "…/ggml-tiny.en.bin" → "ggml-tiny.en" */
static void model_name(const char *path, char *out, size_t size)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && !strcmp(base + n - 4, ".bin"))
        n -= 4;
    snprintf(out, size, "%.*s", (int)n, base);
}

static int load(struct whisper_engine *w, const struct asr_config *c)
{
    FILE *f = fopen(c->model_path, "rb");
    if (!f) {
        log_error("asr", "msg=\"model file not found\" path=%s", c->model_path);
        return HARK_ENOENT;
    }
    fclose(f);
    struct whisper_context_params cp = whisper_context_default_params();
    cp.use_gpu = c->gpu != 0;
    cp.flash_attn = c->flash_attn != 0;
    w->ctx = whisper_init_from_file_with_params_no_state(c->model_path, cp);
    if (!w->ctx) {
        log_error("asr", "msg=\"not a whisper model\" path=%s", c->model_path);
        return HARK_EPARSE;
    }
    /* whisper.cpp 1.9.1's CPU convolution asserts an f16 kernel: an f32
     * model would load and then abort the process on its first decode. */
    if (whisper_model_ftype(w->ctx) == 0 && !c->gpu) {
        log_error("asr", "msg=\"f32 models crash whisper.cpp 1.9.1 on the CPU; use an f16 or "
                  "quantized file\" path=%s", c->model_path);
        return HARK_EPARSE;
    }
    /* States are created here, one at a time: whisper_init_state is not
     * meant to race with itself. */
    for (int i = 0; i < c->decoders; i++) {
        if (!(w->all_states[i] = whisper_init_state(w->ctx)))
            return HARK_ENOMEM;
        w->free_states[w->n_free++] = w->all_states[i];
    }
    return 0;
}

int asr_whisper_new(const struct asr_config *c, struct asr_engine **out)
{
    if (!c->model_path || c->decoders < 1 || c->decoders > 64 || c->threads < 1 ||
        c->threads > 256)
        return HARK_ECONFIG;
    whisper_log_set(on_whisper_log, NULL);
    struct whisper_engine *w = hark_calloc(1, sizeof *w);
    if (!w)
        return HARK_ENOMEM;
    w->base.ops = &whisper_ops;
    w->base.decoders = c->decoders;
    w->threads = c->threads;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->freed, NULL);
    model_name(c->model_path, w->base.model, sizeof w->base.model);
    w->all_states = hark_calloc((size_t)c->decoders, sizeof *w->all_states);
    w->free_states = hark_calloc((size_t)c->decoders, sizeof *w->free_states);
    int rc = (!w->all_states || !w->free_states) ? HARK_ENOMEM : load(w, c);
    if (rc) {
        whisper_engine_free(&w->base);
        return rc;
    }
    log_info("asr", "msg=\"model loaded\" engine=whisper model=%s decoders=%d threads=%d "
             "multilingual=%d", w->base.model, c->decoders, c->threads,
             whisper_is_multilingual(w->ctx));
    *out = &w->base;
    return 0;
}
