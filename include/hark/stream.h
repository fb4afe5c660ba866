/* stream.h — live transcription: many streams over one engine.
 *
 * A stream receives 16 kHz mono audio as it arrives and produces events:
 * PARTIAL (everything not yet complete, replaced by the next one) and
 * SEGMENT (confirmed text with word times and a stable id
 * "{stream}:{speaker}:{start_ms}"), then one END after stream_end(). A
 * segment is sent as soon as it holds a confirmed word, with final = 0, and
 * again under the same id each time confirmed words join it; the last time
 * with final = 1. Confirmed words never change, so an update only appends:
 * a consumer upserts by id.
 *
 * How: each stream keeps an audio window. Every step of new audio the window
 * is decoded again through asr_transcribe() (prompted with the stream's
 * confirmed text) and LocalAgreement-2 (agreement.h) confirms what two
 * decodes agree on; emitted segments are trimmed from the window, so it stays
 * short. With a VAD model, silence is never decoded, and a pause after
 * speech commits what is pending at once. Decodes run on a pool of worker
 * threads, one per engine decoder, so N streams on C cores never
 * oversubscribe; a stream holds only its window and agreement state.
 * Backpressure: a stream more than max_lag_ms behind real time steps less
 * often (up to 4x its step) until it catches up; the streamer refuses new
 * streams past max_streams.
 * Thread safety: one thread feeds a stream and reads its events (they may be
 * two different threads); streams are independent. */
#ifndef HARK_STREAM_H
#define HARK_STREAM_H
#include <stddef.h>
#include <stdint.h>
#include "hark/agreement.h"
#include "hark/asr.h"
#include "hark/error.h"

struct streamer_config {
    int max_streams;           /* refuse past this many open streams; 8 */
    const char *vad_model;     /* Silero ggml model (borrowed) or NULL: no gating */
    float vad_threshold;       /* 0.5 */
    int vad_silence_ms;        /* silence after speech that commits; 600 */
    int vad_pad_ms;            /* audio kept before speech; 300 */
};
struct streamer_config streamer_config_default(void);

struct streamer;

/* engine is borrowed and must outlive the streamer. Starts one worker per
 * engine decoder. *out is freed with streamer_free() once every stream is
 * closed. */
HARK_MUST_CHECK int streamer_new(struct asr_engine *engine, const struct streamer_config *c,
                                 struct streamer **out);
void streamer_free(struct streamer *s);
/* Streams that can still be opened (the scheduler's free capacity). */
int streamer_slots(struct streamer *s);

struct stream_config {
    const char *id;            /* copied; names the stream in segment ids */
    const char *speaker;       /* copied; NULL or "" when unknown */
    struct asr_options asr;    /* language, translate, beam; prompt is the stream's */
    int step_ms;               /* decode every step of new audio; 1000 */
    int max_lag_ms;            /* behind by more: step less often; 2000 */
    struct agree_config agree;
};
struct stream_config stream_config_default(void);

enum stream_event_kind { STREAM_EVENT_PARTIAL, STREAM_EVENT_SEGMENT, STREAM_EVENT_END };

struct stream_event {
    enum stream_event_kind kind;
    char id[192];              /* SEGMENT and PARTIAL: the segment id */
    int64_t start_ms, end_ms;  /* stream time */
    int final;                 /* SEGMENT: 1 complete, 0 more words may join */
    char *text;                /* owned; NULL for END */
    struct agree_word *words;  /* owned; SEGMENT only */
    size_t n_words;
    char language[ASR_LANG_MAX];
    int64_t emitted_mono_ms;   /* clock_mono_ms() at emission, for latency */
    int64_t audio_in_ms;       /* stream audio received by then */
};
void stream_event_release(struct stream_event *ev);

struct stream;

/* HARK_EBUSY when the streamer is full; HARK_ENOENT/HARK_EPARSE when the VAD
 * model cannot be loaded. *out is closed with stream_close(). */
HARK_MUST_CHECK int stream_open(struct streamer *s, const struct stream_config *c,
                                struct stream **out);
/* Appends n samples (copied). HARK_ECLOSED after stream_end(). */
HARK_MUST_CHECK int stream_feed(struct stream *st, const float *pcm, size_t n);
/* No more audio: what is buffered is decoded and flushed, then END comes. */
void stream_end(struct stream *st);
/* Waits up to timeout_ms (-1: forever) for the next event; 0 with *ev
 * filled (release it), HARK_ETIMEDOUT, or HARK_ECLOSED after END. */
HARK_MUST_CHECK int stream_next(struct stream *st, struct stream_event *ev, int timeout_ms);
/* Samples fed and samples decoded so far (lag = fed - decoded). */
void stream_progress(struct stream *st, uint64_t *fed, uint64_t *decoded);
/* Closes: pending events are dropped; a decode in flight finishes first.
 * NULL is fine. */
void stream_close(struct stream *st);

#endif
