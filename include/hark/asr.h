/* asr.h — speech recognition engines behind one interface.
 *
 * An engine turns 16 kHz mono float32 audio into timed segments and words.
 * Two engines implement it:
 *  - "whisper": whisper.cpp in process. ONE model (whisper_context) per
 *    engine, shared read-only; a fixed pool of `decoders` whisper_states,
 *    each borrowed for one decode and given back, so N callers on C cores
 *    never oversubscribe and memory does not grow with callers.
 *  - "remote": any OpenAI-compatible /v1/audio/transcriptions server over
 *    libcurl (a GPU box, a cloud service).
 * asr_transcribe() is the one primitive; the streaming layer (stream.h)
 * re-decodes windows through it, so streams work on either engine.
 * Thread safety: an engine may be used from any number of threads. */
#ifndef HARK_ASR_H
#define HARK_ASR_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"

#define ASR_RATE 16000
#define ASR_WORD_MAX 64       /* bytes of one word, NUL included */
#define ASR_LANG_MAX 8

enum asr_kind { ASR_KIND_WHISPER, ASR_KIND_REMOTE };

struct asr_config {
    enum asr_kind kind;
    const char *model_path;     /* whisper: ggml model file (borrowed) */
    int decoders;               /* whisper: states in the pool; default 1 */
    int threads;                /* whisper: ggml threads per decode; default 2 */
    int flash_attn;             /* whisper: default 1 */
    int gpu;                    /* whisper: use a GPU backend if built in; default 0 */
    const char *remote_url;     /* remote: base URL, ".../v1" (borrowed) */
    const char *remote_key;     /* remote: bearer token or NULL (borrowed) */
    const char *remote_model;   /* remote: model name to request; default "whisper-1" */
    int remote_timeout_ms;      /* remote: per request; default 120000 */
};
struct asr_config asr_config_default(void);

/* What one decode is asked to do. All strings borrowed for the call. */
struct asr_options {
    const char *language;       /* ISO code, or NULL/"auto" to detect */
    int translate;              /* 1: translate to English */
    const char *prompt;         /* initial prompt (previous text) or NULL */
    int beam_size;              /* 0 or 1: greedy; >1: beam search */
    float temperature;          /* 0: deterministic */
    int audio_ctx;              /* whisper encoder frames; 0 = full 30 s.
                                   Streaming sizes it to the window. */
    int max_tokens;             /* per segment; 0 = model default */
    int single_segment;         /* force one segment (short windows) */
};
struct asr_options asr_options_default(void);

struct asr_word {
    char text[ASR_WORD_MAX];    /* as decoded, usually with its leading space */
    int64_t start_ms, end_ms;   /* relative to the audio given */
    float p;                    /* token probability, 0..1 */
};

struct asr_segment {
    int64_t start_ms, end_ms;   /* relative to the audio given */
    char *text;                 /* owned, NUL-terminated UTF-8 */
    struct asr_word *words;     /* owned array */
    size_t n_words;
    float no_speech_p;
};

struct asr_result {
    struct asr_segment *segs;   /* owned array */
    size_t n_segs;
    char language[ASR_LANG_MAX];/* detected or requested */
    int64_t duration_ms;        /* of the audio given */
};
void asr_result_release(struct asr_result *r); /* frees fields, not r */

struct asr_engine;

/* Loads the model / checks the remote config. On success *out is owned by
 * the caller and freed with asr_engine_free(). HARK_ENOENT: model file
 * missing; HARK_EPARSE: not a model whisper.cpp can load; HARK_ECONFIG:
 * bad settings. Each failure is logged with its cause. */
HARK_MUST_CHECK int asr_engine_new(const struct asr_config *c, struct asr_engine **out);
void asr_engine_free(struct asr_engine *e); /* NULL is fine; no call may be running */

/* Transcribes n samples at 16 kHz. Blocks until a decoder is free. *out is
 * filled on success (release with asr_result_release()). HARK_EINVAL for
 * empty audio; HARK_EIO for a decode or transport failure. */
HARK_MUST_CHECK int asr_transcribe(struct asr_engine *e, const float *pcm, size_t n,
                                   const struct asr_options *o, struct asr_result *out);

/* Short model name for /v1/models and logs, e.g. "ggml-tiny.en" (static for
 * the engine's life). */
const char *asr_engine_model(const struct asr_engine *e);
/* Decoders in the pool (the engine's parallelism). */
int asr_engine_decoders(const struct asr_engine *e);
/* Cumulative CPU-side work: decodes run and audio milliseconds decoded
 * (window re-decodes count again) — the numerator of compute amplification. */
void asr_engine_stats(const struct asr_engine *e, uint64_t *decodes, uint64_t *audio_ms);

#endif
