/* asr_private.h — what an engine implementation provides; private to src/asr. */
#ifndef HARK_ASR_PRIVATE_H
#define HARK_ASR_PRIVATE_H
#include <stdatomic.h>
#include "hark/asr.h"

struct asr_ops {
    int (*transcribe)(struct asr_engine *e, const float *pcm, size_t n,
                      const struct asr_options *o, struct asr_result *out);
    void (*free)(struct asr_engine *e);
};

/* Every engine's struct starts with this. */
struct asr_engine {
    const struct asr_ops *ops;
    char model[64];
    int decoders;
    atomic_ullong decodes;
    atomic_ullong audio_ms;
};

int asr_whisper_new(const struct asr_config *c, struct asr_engine **out);
int asr_remote_new(const struct asr_config *c, struct asr_engine **out);

struct hbuf;
/* Parses an OpenAI verbose_json reply (the remote engine's input from its
 * peer; exposed for the fuzzer) for audio of n_samples into out.
 * HARK_EPARSE for anything that is not a transcription. */
int asr_remote_parse_reply(const struct hbuf *body, const struct asr_options *o,
                           size_t n_samples, struct asr_result *out);

/* Appends a segment (text copied, words copied) to r; HARK_ENOMEM. */
int asr_result_add(struct asr_result *r, int64_t start_ms, int64_t end_ms, const char *text,
                   const struct asr_word *words, size_t n_words, float no_speech_p);

#endif
