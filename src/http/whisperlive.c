/* The WhisperLive protocol codec: options, audio, control messages, server
 * messages and the transcript behind the segments messages. No I/O. */
#include "hark/whisperlive.h"

#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hark/json.h"
#include "hark/mem.h"
#include "hark/stream.h"
#include "hark/utf8.h"

#define WL_SPEAKER_CHANGES 64  /* speaker timeline entries kept */
#define WL_SEGMENTS_HELD 1000  /* unsent segments kept for a reader far behind */

/* --- options ---------------------------------------------------------------- */

static int fail(char *err, size_t size, int rc, const char *fmt, ...) HARK_PRINTF(4, 5);
static int fail(char *err, size_t size, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return rc;
}

/* A JSON object of at most WL_OPTIONS_MAX_BYTES, or HARK_ETOOBIG /
 * HARK_EPARSE with err set (what names the message, not_object is the
 * message for anything else), HARK_ENOMEM. *out: json_object_put(). */
static int parse_object(const void *data, size_t len, const char *what,
                        struct json_object **out, char *err, size_t err_size,
                        const char *not_object)
{
    *out = NULL;
    if (len > WL_OPTIONS_MAX_BYTES)
        return fail(err, err_size, HARK_ETOOBIG, "%s message larger than 64 KiB", what);
    char why[128];
    int rc = len ? json_parse(data, len, out, why, sizeof why) : HARK_EPARSE;
    if (rc == HARK_ENOMEM)
        return rc;
    if (rc || !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        return fail(err, err_size, HARK_EPARSE, "%s", not_object);
    }
    return 0;
}

/* A peer's name for something: UTF-8 without control bytes (names end up
 * in logs, ids and messages; a binary options message is not checked as
 * text by the WebSocket layer). */
static int clean_text(const char *s, size_t len)
{
    if (strlen(s) != len || !utf8_valid(s, len))
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* Optional string field: 1 when present (value in *out), 0 when absent or
 * null, -1 when of another type, too long, or holding control bytes. */
static int opt_string(struct json_object *o, const char *key, size_t min, size_t max,
                      const char **out)
{
    struct json_object *f;
    if (!json_object_object_get_ex(o, key, &f) || !f)
        return 0;
    if (!json_object_is_type(f, json_type_string))
        return -1;
    size_t len = (size_t)json_object_get_string_len(f);
    *out = json_object_get_string(f);
    return len >= min && len <= max && clean_text(*out, len) ? 1 : -1;
}

static int opt_bool(struct json_object *o, const char *key, int *out)
{
    struct json_object *f;
    if (!json_object_object_get_ex(o, key, &f) || !f)
        return 0;
    if (!json_object_is_type(f, json_type_boolean))
        return -1;
    *out = json_object_get_boolean(f);
    return 1;
}

static int parse_language(struct json_object *obj, struct wl_options *o, char *err, size_t size)
{
    const char *s = NULL;
    int r = opt_string(obj, "language", 0, WL_LANGUAGE_MAX - 1, &s);
    if (r < 0)
        return fail(err, size, HARK_EINVAL,
                    "%s must be a language code such as \"en\", or null to detect", "language");
    if (r == 0 || !strcmp(s, "auto") || !*s)
        return 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c < 'a' || c > 'z' || n < 2)
            return fail(err, size, HARK_EINVAL,
                        "%s must be a language code such as \"en\", or null to detect",
                        "language");
        o->language[i] = c;
    }
    o->language[n] = '\0';
    return 0;
}

static int parse_enums(struct json_object *obj, struct wl_options *o, char *err, size_t size)
{
    const char *s = NULL;
    int r = opt_string(obj, "task", 1, 32, &s);
    if (r < 0 || (r > 0 && strcmp(s, "transcribe") && strcmp(s, "translate")))
        return fail(err, size, HARK_EINVAL, "%s must be \"transcribe\" or \"translate\"", "task");
    o->translate = r > 0 && !strcmp(s, "translate");
    r = opt_string(obj, "audio_format", 1, 32, &s);
    if (r > 0 && !strcmp(s, "int16"))
        o->format = WL_FORMAT_INT16;
    else if (r > 0 && !strcmp(s, "uint8"))
        o->format = WL_FORMAT_UINT8;
    else if (r < 0 || (r > 0 && strcmp(s, "float32")))
        return fail(err, size, HARK_EINVAL,
                    "%s must be \"float32\", \"int16\" or \"uint8\"", "audio_format");
    return 0;
}

static int parse_numbers(struct json_object *obj, struct wl_options *o, char *err, size_t size)
{
    struct json_object *f;
    if (json_object_object_get_ex(obj, "send_last_n_segments", &f) && f) {
        int64_t n = json_object_get_int64(f);
        if (!json_object_is_type(f, json_type_int) || n < 0 || n > WL_LAST_N_MAX)
            return fail(err, size, HARK_EINVAL, "%s must be an integer from 0 to 100",
                        "send_last_n_segments");
        o->send_last_n = (int)n;
    }
    int on = 0;
    if (opt_bool(obj, "word_timestamps", &o->word_timestamps) < 0)
        return fail(err, size, HARK_EINVAL, "%s must be true or false", "word_timestamps");
    if (opt_bool(obj, "enable_translation", &on) > 0 && on)
        o->unsupported |= WL_UNSUPPORTED_TRANSLATION;
    on = 0;
    if (opt_bool(obj, "enable_diarization", &on) > 0 && on)
        o->unsupported |= WL_UNSUPPORTED_DIARIZATION;
    return 0;
}

static int parse_fields(struct json_object *obj, struct wl_options *o, char *err, size_t size)
{
    const char *s = NULL;
    int r = opt_string(obj, "uid", 1, WL_UID_MAX, &s);
    if (r <= 0)
        return fail(err, size, HARK_EINVAL,
                    "%s is required: a string of 1 to 128 bytes without control characters",
                    "uid");
    memcpy(o->uid, s, strlen(s) + 1);
    int rc = parse_language(obj, o, err, size);
    if (!rc)
        rc = parse_enums(obj, o, err, size);
    if (!rc)
        rc = parse_numbers(obj, o, err, size);
    if (rc)
        return rc;
    r = opt_string(obj, "speaker", 0, WL_SPEAKER_MAX, &s);
    if (r < 0)
        return fail(err, size, HARK_EINVAL,
                    "%s must be a string of at most 64 bytes without control characters",
                    "speaker");
    if (r > 0)
        memcpy(o->speaker, s, strlen(s) + 1);
    return 0;
}

int wl_options_parse(const void *data, size_t len, struct wl_options *o, char *err,
                     size_t err_size)
{
    memset(o, 0, sizeof *o);
    o->send_last_n = 10;
    err[0] = '\0';
    struct json_object *obj;
    int rc = parse_object(data, len, "options", &obj, err, err_size,
                          "the first message must be a JSON object of options "
                          "({\"uid\", \"language\", \"task\", \"model\", \"use_vad\"})");
    if (rc)
        return rc;
    rc = parse_fields(obj, o, err, err_size);
    json_object_put(obj);
    return rc;
}

/* --- audio ------------------------------------------------------------------ */

size_t wl_format_bytes(enum wl_format f)
{
    return f == WL_FORMAT_FLOAT32 ? 4 : f == WL_FORMAT_INT16 ? 2 : 1;
}

static float clamp_sample(float x, size_t *n_clamped)
{
    if (x >= -1.0f && x <= 1.0f)
        return x;
    (*n_clamped)++;
    return isnan(x) ? 0.0f : x > 0 ? 1.0f : -1.0f;
}

int wl_audio_decode(enum wl_format f, const void *data, size_t len, float *out, size_t cap,
                    size_t *n_out, size_t *n_clamped)
{
    const unsigned char *p = data;
    size_t bytes = wl_format_bytes(f), n = len / bytes;
    *n_out = 0;
    *n_clamped = 0;
    if (len % bytes)
        return HARK_EINVAL;
    if (len > WL_FRAME_MAX_BYTES || n > cap)
        return HARK_ETOOBIG;
    for (size_t i = 0; i < n; i++, p += bytes) {
        if (f == WL_FORMAT_FLOAT32) {
            uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24;
            float x;
            memcpy(&x, &u, sizeof x);
            out[i] = clamp_sample(x, n_clamped);
        } else if (f == WL_FORMAT_INT16) {
            int16_t v = (int16_t)(uint16_t)(p[0] | p[1] << 8);
            out[i] = (float)v / 32768.0f;
        } else {
            out[i] = ((float)p[0] - 128.0f) / 128.0f;
        }
    }
    *n_out = n;
    return 0;
}

/* --- control messages --------------------------------------------------------- */

int wl_control_parse(const void *data, size_t len, int binary, struct wl_control *c, char *err,
                     size_t err_size)
{
    static const char end[] = WL_END_OF_AUDIO;
    memset(c, 0, sizeof *c);
    err[0] = '\0';
    if (len == sizeof end - 1 && !memcmp(data, end, len)) {
        c->kind = WL_CONTROL_END;
        return 0;
    }
    if (binary)
        return HARK_ENOENT;
    struct json_object *obj;
    int rc = parse_object(data, len, "control", &obj, err, err_size,
                          "text messages after the options must be END_OF_AUDIO or "
                          "{\"speaker\": \"...\"}; audio goes in binary messages");
    if (rc)
        return rc;
    const char *s = "";
    struct json_object *f;
    int r = json_object_object_get_ex(obj, "speaker", &f) ? opt_string(obj, "speaker", 0,
                                                                        WL_SPEAKER_MAX, &s)
                                                          : -2;
    if (r == -2)
        rc = fail(err, err_size, HARK_EINVAL, "%s",
                  "unknown control message: only {\"speaker\": \"...\"} is understood");
    else if (r < 0)
        rc = fail(err, err_size, HARK_EINVAL,
                  "%s must be a string of at most 64 bytes without control characters",
                  "speaker");
    else {
        c->kind = WL_CONTROL_SPEAKER;
        memcpy(c->speaker, s, strlen(s) + 1);
    }
    json_object_put(obj);
    return rc;
}

/* --- server messages --------------------------------------------------------- */

static int put(struct hbuf *out, struct json_object *o, int rc)
{
    if (!o)
        return HARK_ENOMEM;
    if (!rc)
        rc = json_append(out, o);
    json_object_put(o);
    return rc;
}

int wl_msg_ready(struct hbuf *out, const char *uid, const char *backend)
{
    struct json_object *o = json_object_new_object();
    int rc = o ? json_add_str(o, "uid", uid) || json_add_str(o, "message", "SERVER_READY") ||
                     json_add_str(o, "backend", backend)
               : 0;
    return put(out, o, rc ? HARK_ENOMEM : 0);
}

int wl_msg_status(struct hbuf *out, const char *uid, const char *status, const char *message)
{
    struct json_object *o = json_object_new_object();
    int rc = o ? json_add_str(o, "uid", uid) || json_add_str(o, "status", status) ||
                     json_add_str(o, "message", message)
               : 0;
    return put(out, o, rc ? HARK_ENOMEM : 0);
}

int wl_msg_wait(struct hbuf *out, const char *uid, double minutes)
{
    struct json_object *o = json_object_new_object();
    int rc = o ? json_add_str(o, "uid", uid) || json_add_str(o, "status", "WAIT") ||
                     json_add(o, "message", json_object_new_double(minutes))
               : 0;
    return put(out, o, rc ? HARK_ENOMEM : 0);
}

int wl_msg_disconnect(struct hbuf *out, const char *uid)
{
    struct json_object *o = json_object_new_object();
    int rc = o ? json_add_str(o, "uid", uid) || json_add_str(o, "message", "DISCONNECT") : 0;
    return put(out, o, rc ? HARK_ENOMEM : 0);
}

/* --- transcript ---------------------------------------------------------------- */

struct speaker_change {
    int64_t at_ms;
    char name[WL_SPEAKER_MAX + 1];
};

struct wl_transcript {
    struct wl_options opt;
    char **segs;               /* completed segments as JSON text, oldest first */
    size_t n_segs, n_unsent;
    char *partial;             /* the incomplete segment as JSON text, or NULL */
    int changed;
    struct speaker_change speakers[WL_SPEAKER_CHANGES];
    size_t n_speakers;
};

int wl_transcript_new(const struct wl_options *o, struct wl_transcript **out)
{
    *out = NULL;
    struct wl_transcript *t = hark_calloc(1, sizeof *t);
    if (!t)
        return HARK_ENOMEM;
    t->opt = *o;
    t->segs = hark_calloc(WL_SEGMENTS_HELD, sizeof *t->segs);
    if (!t->segs) {
        hark_free(t);
        return HARK_ENOMEM;
    }
    if (o->speaker[0]) {
        memcpy(t->speakers[0].name, o->speaker, sizeof t->speakers[0].name);
        t->n_speakers = 1;
    }
    *out = t;
    return 0;
}

void wl_transcript_free(struct wl_transcript *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_segs; i++)
        hark_free(t->segs[i]);
    hark_free(t->segs);
    hark_free(t->partial);
    hark_free(t);
}

int wl_transcript_speaker(struct wl_transcript *t, int64_t at_ms, const char *speaker)
{
    struct speaker_change *last = t->n_speakers ? &t->speakers[t->n_speakers - 1] : NULL;
    if (last && at_ms < last->at_ms)
        return HARK_EINVAL;
    if (last ? !strcmp(last->name, speaker) : !*speaker)
        return 0;
    if (!last || at_ms > last->at_ms) {
        if (t->n_speakers == WL_SPEAKER_CHANGES) {
            memmove(t->speakers, t->speakers + 1, (WL_SPEAKER_CHANGES - 1) * sizeof *t->speakers);
            t->n_speakers--;
        }
        last = &t->speakers[t->n_speakers++];
        last->at_ms = at_ms;
    }
    snprintf(last->name, sizeof last->name, "%s", speaker);
    return 0;
}

const char *wl_transcript_speaker_at(const struct wl_transcript *t, int64_t at_ms)
{
    for (size_t i = t->n_speakers; i > 0; i--)
        if (t->speakers[i - 1].at_ms <= at_ms)
            return t->speakers[i - 1].name;
    return "";
}

/* Segments only move forward: changes superseded before start_ms are no
 * longer needed. */
static void speakers_prune(struct wl_transcript *t, int64_t start_ms)
{
    size_t keep_from = 0;
    while (keep_from + 1 < t->n_speakers && t->speakers[keep_from + 1].at_ms <= start_ms)
        keep_from++;
    if (keep_from) {
        memmove(t->speakers, t->speakers + keep_from,
                (t->n_speakers - keep_from) * sizeof *t->speakers);
        t->n_speakers -= keep_from;
    }
}

static struct json_object *seconds_string(int64_t ms)
{
    char s[32];
    if (ms < 0)
        ms = 0;
    snprintf(s, sizeof s, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
    return json_object_new_string(s);
}

static int add_words(struct json_object *seg, const struct stream_event *ev)
{
    struct json_object *list = json_object_new_array();
    if (!list || json_add(seg, "words", list))
        return HARK_ENOMEM;
    for (size_t i = 0; i < ev->n_words; i++) {
        const struct agree_word *w = &ev->words[i];
        struct json_object *o = json_object_new_object();
        if (!o || json_object_array_add(list, o)) {
            json_object_put(o);
            return HARK_ENOMEM;
        }
        /* Rounded to 4 places as WhisperLive does. */
        double p = round((double)w->p * 10000.0) / 10000.0;
        if (json_add_str(o, "word", w->text) || json_add(o, "start", seconds_string(w->start_ms)) ||
            json_add(o, "end", seconds_string(w->end_ms)) ||
            json_add(o, "probability", json_object_new_double(p)))
            return HARK_ENOMEM;
    }
    return 0;
}

/* A decoder can split a character between tokens: stray bytes become
 * U+FFFD, so every message is valid UTF-8 (ws_conn sends nothing else). */
static int add_text(struct json_object *o, const char *text)
{
    size_t n = strlen(text);
    if (utf8_valid(text, n))
        return json_add_str(o, "text", text);
    struct hbuf b;
    hbuf_init(&b, 0);
    int rc = 0;
    for (size_t i = 0; !rc && i < n;) {
        size_t ok = utf8_valid_prefix(text + i, n - i);
        rc = hbuf_append(&b, text + i, ok);
        i += ok;
        if (!rc && i < n) {
            rc = hbuf_puts(&b, "\xEF\xBF\xBD");
            i++;
        }
    }
    if (!rc)
        rc = json_add_str(o, "text", b.data ? b.data : "");
    hbuf_release(&b);
    return rc;
}

/* One segment as WhisperLive formats it, as JSON text (caller frees). */
static int segment_json(const struct wl_transcript *t, const struct stream_event *ev,
                        int completed, char **out)
{
    *out = NULL;
    struct json_object *o = json_object_new_object();
    const char *speaker = wl_transcript_speaker_at(t, ev->start_ms);
    int64_t end = ev->end_ms > ev->start_ms ? ev->end_ms : ev->start_ms;
    int rc = !o || json_add(o, "start", seconds_string(ev->start_ms)) ||
                     json_add(o, "end", seconds_string(end)) ||
                     add_text(o, ev->text ? ev->text : "") ||
                     json_add_bool(o, "completed", completed) ||
                     (*speaker && json_add_str(o, "speaker", speaker))
                 ? HARK_ENOMEM : 0;
    if (!rc && completed && t->opt.word_timestamps && ev->words)
        rc = add_words(o, ev);
    if (!rc) {
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        *out = s ? hark_strdup(s) : NULL;
        rc = *out ? 0 : HARK_ENOMEM;
    }
    json_object_put(o);
    return rc;
}

static void segs_drop_oldest(struct wl_transcript *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hark_free(t->segs[i]);
    memmove(t->segs, t->segs + n, (t->n_segs - n) * sizeof *t->segs);
    t->n_segs -= n;
    if (t->n_unsent > t->n_segs)
        t->n_unsent = t->n_segs;
}

int wl_transcript_event(struct wl_transcript *t, const struct stream_event *ev)
{
    if (ev->kind == STREAM_EVENT_END) { /* all was flushed: no partial is left */
        t->changed |= t->partial != NULL;
        hark_free(t->partial);
        t->partial = NULL;
        return 0;
    }
    /* An open segment's update: its words are at the head of the PARTIAL
     * that follows, and WhisperLive completes a segment only once. */
    if (ev->kind == STREAM_EVENT_SEGMENT && !ev->final)
        return 0;
    char *json = NULL;
    int empty = !ev->text || !*ev->text;
    int rc = ev->kind == STREAM_EVENT_PARTIAL && empty ? 0
             : segment_json(t, ev, ev->kind == STREAM_EVENT_SEGMENT, &json);
    if (rc)
        return rc;
    if (ev->kind == STREAM_EVENT_PARTIAL) {
        hark_free(t->partial);
        t->partial = json;
        t->changed = 1;
        return 0;
    }
    /* The segment confirms what the partial showed. */
    hark_free(t->partial);
    t->partial = NULL;
    if (t->n_segs == WL_SEGMENTS_HELD)
        segs_drop_oldest(t, 1);
    t->segs[t->n_segs++] = json;
    t->n_unsent++;
    t->changed = 1;
    speakers_prune(t, ev->start_ms);
    return 0;
}

int wl_transcript_message(struct wl_transcript *t, struct hbuf *out, int *wrote)
{
    *wrote = 0;
    size_t n = (size_t)t->opt.send_last_n > t->n_unsent ? (size_t)t->opt.send_last_n
                                                          : t->n_unsent;
    if (n > t->n_segs)
        n = t->n_segs;
    if (!t->changed || (n == 0 && !t->partial))
        return 0;
    struct hbuf msg;
    hbuf_init(&msg, out->max);
    struct json_object *uid = json_object_new_string(t->opt.uid);
    const char *uid_json = uid ? json_object_to_json_string_ext(uid, JSON_C_TO_STRING_PLAIN) : NULL;
    int rc = uid_json ? hbuf_printf(&msg, "{\"uid\":%s,\"segments\":[", uid_json) : HARK_ENOMEM;
    json_object_put(uid);
    for (size_t i = t->n_segs - n; !rc && i < t->n_segs; i++)
        rc = hbuf_printf(&msg, "%s%s", i > t->n_segs - n ? "," : "", t->segs[i]);
    if (!rc && t->partial)
        rc = hbuf_printf(&msg, "%s%s", n ? "," : "", t->partial);
    if (!rc)
        rc = hbuf_puts(&msg, "]}");
    if (!rc)
        rc = hbuf_append(out, msg.data, msg.len);
    hbuf_release(&msg);
    if (rc)
        return rc;
    *wrote = 1;
    t->changed = 0;
    t->n_unsent = 0;
    if (t->n_segs > (size_t)t->opt.send_last_n)
        segs_drop_oldest(t, t->n_segs - (size_t)t->opt.send_last_n);
    return 0;
}
