/* whisperlive.h — the WhisperLive audio push protocol (collabora v0.9.0):
 * a pure codec, and the service that runs it on /ws/audio and on a listener
 * of its own.
 *
 * Wire (docs/whisperlive.md has the full contract): the client's first
 * message is a JSON options object ({uid, language, task, model, use_vad,
 * ...}); then binary messages of 16 kHz mono samples (little-endian float32,
 * or int16/uint8 with "audio_format"); the 12 bytes "END_OF_AUDIO" end the
 * stream. The server answers {"uid", "message": "SERVER_READY", "backend"},
 * then {"uid", "segments": [{start, end, text, completed}]} with the times as
 * strings of seconds with 3 decimals, as WhisperLive sends them. Hark's
 * extensions: "speaker" in the options and in text messages
 * {"speaker": "..."} between audio messages.
 *
 * Part 1 is pure (no I/O, no threads): what the unit tests and the fuzzer
 * drive. Part 2 serves connections on top of streams (stream.h). */
#ifndef HARK_WHISPERLIVE_H
#define HARK_WHISPERLIVE_H
#include <stddef.h>
#include <stdint.h>
#include "hark/buf.h"
#include "hark/error.h"
#include "hark/http.h"

/* ---- 1. protocol codec ---------------------------------------------------- */

#define WL_UID_MAX 128            /* bytes; a uid names a meeting and its ids */
#define WL_SPEAKER_MAX 64         /* bytes */
#define WL_LANGUAGE_MAX 8         /* bytes with the NUL (ASR_LANG_MAX) */
#define WL_LAST_N_MAX 100         /* send_last_n_segments upper bound */
#define WL_OPTIONS_MAX_BYTES 65536 /* the options message and control messages */
#define WL_FRAME_MAX_BYTES (1u << 20) /* one audio message: 16 s of float32 */
#define WL_END_OF_AUDIO "END_OF_AUDIO"

enum wl_format { WL_FORMAT_FLOAT32, WL_FORMAT_INT16, WL_FORMAT_UINT8 };

/* What the options message asks for. Keys Hark does not act on (model,
 * use_vad, initial_prompt, vad_parameters, no_speech_thresh, clip_audio,
 * same_output_threshold, hotwords, max_speakers, target_language, any
 * unknown key) are accepted and ignored, as WhisperLive ignores unknown
 * keys. */
struct wl_options {
    char uid[WL_UID_MAX + 1];
    char language[WL_LANGUAGE_MAX]; /* "" when absent, null or "auto": detect */
    int translate;                  /* task "translate" */
    enum wl_format format;          /* audio_format; float32 when absent */
    int send_last_n;                /* send_last_n_segments; 10 */
    int word_timestamps;            /* add words to completed segments */
    char speaker[WL_SPEAKER_MAX + 1]; /* Hark extension; "" when none */
    int unsupported;                /* bit 1: enable_translation, bit 2:
                                       enable_diarization asked for (Hark
                                       answers with a WARNING) */
};

#define WL_UNSUPPORTED_TRANSLATION 1
#define WL_UNSUPPORTED_DIARIZATION 2

/* Parses the first message (len bytes, borrowed; text or binary, as
 * WhisperLive's json.loads takes either). 0 with *o filled; HARK_EPARSE for
 * anything that is not one JSON object, HARK_EINVAL for a field of the
 * wrong type or outside its limits, HARK_ETOOBIG past WL_OPTIONS_MAX_BYTES,
 * HARK_ENOMEM. On failure err (err_size bytes) holds a message for the
 * client and o->uid the uid when it could be read ("" otherwise), so the
 * ERROR reply can carry it. */
HARK_MUST_CHECK int wl_options_parse(const void *data, size_t len, struct wl_options *o,
                                     char *err, size_t err_size);

/* Bytes per sample of f. */
size_t wl_format_bytes(enum wl_format f);

/* Converts one binary audio message (len bytes, borrowed) to float PCM in
 * out (cap samples, borrowed). *n_out: samples written. Samples are clamped
 * to [-1, 1] and NaN becomes 0, so a wrong audio_format or a broken client
 * cannot push non-finite values into the VAD or the decoder; *n_clamped
 * counts the samples that needed it (a hint that audio_format is wrong).
 * HARK_EINVAL when len is not a multiple of the sample size, HARK_ETOOBIG
 * when len > WL_FRAME_MAX_BYTES or the samples do not fit in cap. */
HARK_MUST_CHECK int wl_audio_decode(enum wl_format f, const void *data, size_t len, float *out,
                                    size_t cap, size_t *n_out, size_t *n_clamped);

enum wl_control_kind { WL_CONTROL_END, WL_CONTROL_SPEAKER };

struct wl_control {
    enum wl_control_kind kind;
    char speaker[WL_SPEAKER_MAX + 1]; /* SPEAKER: the new speaker, "" = none */
};

/* Parses a message that is not audio: the text "END_OF_AUDIO", or a JSON
 * object {"speaker": "..."} (other keys ignored). A binary message equal to
 * "END_OF_AUDIO" is the end too: call this first for 12-byte binary
 * messages. 0 with *c filled; HARK_ENOENT when data is neither (for binary
 * data: it is audio); HARK_EPARSE / HARK_EINVAL / HARK_ETOOBIG with err
 * filled for a malformed control message. */
HARK_MUST_CHECK int wl_control_parse(const void *data, size_t len, int binary,
                                     struct wl_control *c, char *err, size_t err_size);

/* Server messages, each one JSON object written to out (appended). The
 * strings are borrowed. HARK_ENOMEM / HARK_ETOOBIG from out. */
HARK_MUST_CHECK int wl_msg_ready(struct hbuf *out, const char *uid, const char *backend);
/* {"uid", "status": status, "message": message}; status "ERROR" or "WARNING". */
HARK_MUST_CHECK int wl_msg_status(struct hbuf *out, const char *uid, const char *status,
                                  const char *message);
/* {"uid", "status": "WAIT", "message": minutes} (a number, as WhisperLive). */
HARK_MUST_CHECK int wl_msg_wait(struct hbuf *out, const char *uid, double minutes);
HARK_MUST_CHECK int wl_msg_disconnect(struct hbuf *out, const char *uid);

/* The transcript state behind the segments messages. WhisperLive resends,
 * in every message, its last send_last_n_segments completed segments and
 * then the current incomplete one; clients key segments by start time. Here
 * a stream SEGMENT with final = 1 becomes a completed segment (never
 * changed afterwards) and the current PARTIAL (which starts with the words
 * of non-final SEGMENT updates, so those are skipped) the trailing
 * completed=false one; a message also
 * carries every segment completed since the previous message even past
 * send_last_n, so none is ever skipped. Speakers: a timeline of (stream
 * time, speaker) changes labels each segment with the speaker talking at
 * its start. Not thread safe: the caller serialises. */
struct wl_transcript;
struct stream_event;

/* o is copied. *out is freed with wl_transcript_free(). */
HARK_MUST_CHECK int wl_transcript_new(const struct wl_options *o, struct wl_transcript **out);
void wl_transcript_free(struct wl_transcript *t); /* NULL is fine */
/* From stream time at_ms on, speaker (copied, "" = none) is talking. Times
 * must not go backwards (HARK_EINVAL). The oldest changes are forgotten
 * past 64 that no segment can still need. */
HARK_MUST_CHECK int wl_transcript_speaker(struct wl_transcript *t, int64_t at_ms,
                                          const char *speaker);
/* The speaker talking at stream time at_ms; "" when none. Borrowed until
 * the next call on t. */
const char *wl_transcript_speaker_at(const struct wl_transcript *t, int64_t at_ms);
/* Takes in one stream event (borrowed; its text is copied). END drops the
 * incomplete segment: the stream flushed everything before it. */
HARK_MUST_CHECK int wl_transcript_event(struct wl_transcript *t, const struct stream_event *ev);
/* When something changed since the last call, appends the segments message
 * to out and sets *wrote to 1; else leaves out alone and sets it to 0. */
HARK_MUST_CHECK int wl_transcript_message(struct wl_transcript *t, struct hbuf *out,
                                          int *wrote);

/* ---- 2. the service --------------------------------------------------------- */

struct pipeline;
struct notify;

struct wlive_config {
    const char *listen;   /* borrowed; "host:port" of the no-key listener, NULL
                             or "" for none (the default) */
    const char *user;     /* borrowed; the listener's user: an email or a user
                             id. Required with listen. */
    struct http_config http; /* the listener's HTTP limits; listen is ignored */
};
struct wlive_config wlive_config_default(void);

struct wlive;

/* Starts the service: each connection becomes a `stream` meeting whose
 * audio runs through pipeline (pipeline.h) and whose status changes go
 * through n (notify.h); the listener, if any, is started. Its user is
 * looked up in n->store for each connection (a warning is logged now if it
 * does not exist yet; connections then get 503). pipeline and n's members
 * are borrowed and must outlive the service; c and n are copied.
 * HARK_ECONFIG when listen is set without user; listener errors as
 * http_server_new(). *out is stopped with wlive_stop() and freed with
 * wlive_free(). /ws/audio on the API's server reaches it through
 * api_set_whisperlive() (api.h). */
HARK_MUST_CHECK int wlive_new(const struct wlive_config *c, struct pipeline *pipeline,
                              const struct notify *n, struct wlive **out);
/* The owner stopped meeting_id (DELETE /bots): its connection, if any, is
 * sent {"message": "DISCONNECT"} and closed; the meeting then completes. */
void wlive_stop_meeting(struct wlive *w, int64_t meeting_id);
/* The listener's bound port; 0 without a listener. */
int wlive_port(const struct wlive *w);
/* Stops: new connections are refused (503 on /ws/audio), every open one is
 * sent {"message": "DISCONNECT"} and closed (1001), the listener is shut,
 * and the call waits (at most about 10 s) until their streams are closed.
 * Call it before the HTTP server carrying /ws/audio is freed, so clients
 * hear DISCONNECT rather than a dropped socket. Idempotent. */
void wlive_stop(struct wlive *w);
/* Stops if needed, then frees. Call after the HTTP server carrying /ws/audio
 * is freed. NULL is fine. */
void wlive_free(struct wlive *w);

#endif
