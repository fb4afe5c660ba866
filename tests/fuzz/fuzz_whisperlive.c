/* fuzz_whisperlive.c — drives the WhisperLive codec as a connection would.
 *
 * Input layout: the bytes up to the first '\n' are the options message;
 * then records of [flags][len lo][len hi][len bytes]. flags bit 0: the
 * message is binary; bits 1-2 choose what the bytes become besides a
 * message: 0 nothing, 1 a PARTIAL with them as text, 2 a SEGMENT (final
 * unless bit 3 of the length is set), 3 END.
 * Every message goes through wl_control_parse(), then (if it is not a
 * control message) wl_audio_decode() in the options' format; speakers and
 * events feed a transcript whose segments message is built after each
 * record. Checked: errors carry a message, decoded samples are finite and
 * in [-1, 1], and every server message is valid UTF-8 JSON whose segments
 * have 3-decimal string times and a trailing incomplete segment at most. */
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/mem.h"
#include "hark/stream.h"
#include "hark/utf8.h"
#include "hark/whisperlive.h"

static void check_time(struct json_object *seg, const char *key)
{
    const char *s = json_object_get_string(json_object_object_get(seg, key));
    if (!s)
        abort();
    size_t n = strlen(s), dot = strcspn(s, ".");
    if (dot == 0 || dot + 4 != n || strspn(s, "0123456789") != dot ||
        strspn(s + dot + 1, "0123456789") != 3)
        abort();
}

static void check_message(const struct hbuf *b)
{
    if (!utf8_valid(b->data, b->len))
        abort();
    struct json_object *o = json_tokener_parse(b->data);
    struct json_object *segs = json_object_object_get(o, "segments");
    if (!o || !json_object_object_get(o, "uid") || !segs)
        abort();
    size_t n = json_object_array_length(segs);
    for (size_t i = 0; i < n; i++) {
        struct json_object *s = json_object_array_get_idx(segs, i);
        check_time(s, "start");
        check_time(s, "end");
        if (!json_object_get_boolean(json_object_object_get(s, "completed")) && i + 1 != n)
            abort();
    }
    json_object_put(o);
}

static void on_audio(const struct wl_options *o, const uint8_t *p, size_t len)
{
    size_t cap = len / wl_format_bytes(o->format) + 1, n, clamped;
    float *pcm = hark_malloc(cap * sizeof *pcm);
    if (!pcm)
        return;
    int rc = wl_audio_decode(o->format, p, len, pcm, cap, &n, &clamped);
    if (rc && rc != HARK_EINVAL && rc != HARK_ETOOBIG)
        abort();
    for (size_t i = 0; !rc && i < n; i++)
        if (!isfinite(pcm[i]) || pcm[i] < -1.0f || pcm[i] > 1.0f)
            abort();
    hark_free(pcm);
}

static void on_event(struct wl_transcript *t, int kind, const uint8_t *p, size_t len,
                     int64_t *now_ms)
{
    static const enum stream_event_kind kinds[] = {STREAM_EVENT_PARTIAL, STREAM_EVENT_SEGMENT,
                                                    STREAM_EVENT_END};
    char *text = hark_malloc(len + 1);
    if (!text)
        return;
    memcpy(text, p, len);
    text[len] = '\0';
    struct stream_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kinds[kind - 1];
    ev.final = !(len & 8); /* some SEGMENTs are open-segment updates */
    ev.start_ms = *now_ms - (int64_t)(len % 7) * 100;
    ev.end_ms = *now_ms + (int64_t)len;
    ev.text = text;
    (void)!wl_transcript_event(t, &ev);
    hark_free(text);
    *now_ms += (int64_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t olen = nl ? (size_t)(nl - data) : size;
    struct wl_options o;
    char err[256];
    int rc = wl_options_parse(data, olen, &o, err, sizeof err);
    if (rc) {
        if (!err[0] && rc != HARK_ENOMEM)
            abort();
        return 0;
    }
    struct wl_transcript *t;
    if (wl_transcript_new(&o, &t))
        return 0;
    struct hbuf b;
    hbuf_init(&b, 0);
    int64_t now_ms = 0;
    const uint8_t *p = data + olen + 1;
    size_t left = nl ? size - olen - 1 : 0;
    while (left >= 3) {
        int flags = p[0];
        size_t len = (size_t)p[1] | (size_t)p[2] << 8;
        p += 3;
        left -= 3;
        if (len > left)
            len = left;
        struct wl_control c;
        rc = wl_control_parse(p, len, flags & 1, &c, err, sizeof err);
        if (rc == HARK_ENOENT)
            on_audio(&o, p, len);
        else if (rc == 0 && c.kind == WL_CONTROL_SPEAKER)
            (void)!wl_transcript_speaker(t, now_ms, c.speaker);
        else if (rc && !err[0] && rc != HARK_ENOMEM)
            abort();
        if ((flags >> 1) & 3)
            on_event(t, (flags >> 1) & 3, p, len, &now_ms);
        int wrote = 0;
        hbuf_reset(&b);
        if (!wl_transcript_message(t, &b, &wrote) && wrote)
            check_message(&b);
        p += len;
        left -= len;
    }
    hbuf_release(&b);
    wl_transcript_free(t);
    return 0;
}
