/* OpenAI response formats for a transcription result. */
#include <json-c/json.h>
#include <string.h>
#include <whisper.h>

#include "hark/asr_format.h"
#include "hark/json.h"

static const struct {
    const char *name;
    const char *mime;
} formats[] = {
    [ASR_FORMAT_JSON] = {"json", "application/json"},
    [ASR_FORMAT_TEXT] = {"text", "text/plain; charset=utf-8"},
    [ASR_FORMAT_SRT] = {"srt", "application/x-subrip; charset=utf-8"},
    [ASR_FORMAT_VTT] = {"vtt", "text/vtt; charset=utf-8"},
    [ASR_FORMAT_VERBOSE_JSON] = {"verbose_json", "application/json"},
};

int asr_format_parse(const char *name, enum asr_format *out)
{
    for (size_t i = 0; name && i < sizeof formats / sizeof *formats; i++) {
        if (!strcmp(name, formats[i].name)) {
            *out = (enum asr_format)i;
            return 0;
        }
    }
    return HARK_EINVAL;
}

const char *asr_format_mime(enum asr_format f) { return formats[f].mime; }
const char *asr_format_name(enum asr_format f) { return formats[f].name; }

/* Whisper texts carry a leading space per segment; the joined text and
 * subtitle cues do not want it. */
static const char *trimmed(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

static int full_text(const struct asr_result *r, struct hbuf *out)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < r->n_segs; i++)
        rc = hbuf_printf(out, "%s%s", i ? " " : "", trimmed(r->segs[i].text));
    return rc;
}

static int cue_time(struct hbuf *out, int64_t ms, char sep)
{
    if (ms < 0)
        ms = 0;
    return hbuf_printf(out, "%02lld:%02lld:%02lld%c%03lld", (long long)(ms / 3600000),
                       (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60), sep,
                       (long long)(ms % 1000));
}

static int subtitles(const struct asr_result *r, int vtt, struct hbuf *out)
{
    int rc = vtt ? hbuf_puts(out, "WEBVTT\n\n") : 0;
    for (size_t i = 0; !rc && i < r->n_segs; i++) {
        const struct asr_segment *s = &r->segs[i];
        if (!vtt)
            rc = hbuf_printf(out, "%zu\n", i + 1);
        if (!rc)
            rc = cue_time(out, s->start_ms, vtt ? '.' : ',');
        if (!rc)
            rc = hbuf_puts(out, " --> ");
        if (!rc)
            rc = cue_time(out, s->end_ms, vtt ? '.' : ',');
        if (!rc)
            rc = hbuf_printf(out, "\n%s\n\n", trimmed(s->text));
    }
    return rc;
}


static struct json_object *segment_json(const struct asr_segment *s, size_t id)
{
    struct json_object *o = json_object_new_object();
    struct json_object *tokens = json_object_new_array();
    if (!o || !tokens || json_add(o, "tokens", tokens) || json_add_int(o, "id", (int64_t)id) ||
        json_add_int(o, "seek", 0) || json_add(o, "start", json_new_seconds(s->start_ms)) ||
        json_add(o, "end", json_new_seconds(s->end_ms)) || json_add_str(o, "text", s->text) ||
        json_add(o, "temperature", json_object_new_double(0.0)) ||
        json_add(o, "no_speech_prob", json_object_new_double((double)s->no_speech_p))) {
        if (!o)
            json_object_put(tokens);
        json_object_put(o);
        return NULL;
    }
    return o;
}

static struct json_object *word_json(const struct asr_word *w)
{
    struct json_object *o = json_object_new_object();
    if (!o || json_add_str(o, "word", trimmed(w->text)) || json_add(o, "start", json_new_seconds(w->start_ms)) ||
        json_add(o, "end", json_new_seconds(w->end_ms))) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static int add_lists(const struct asr_result *r, const struct asr_format_opts *o,
                     struct json_object *root)
{
    struct json_object *segs = json_object_new_array();
    struct json_object *words = json_object_new_array();
    int rc = (!segs || !words) ? HARK_ENOMEM : 0;
    for (size_t i = 0; !rc && i < r->n_segs; i++) {
        struct json_object *s = segment_json(&r->segs[i], i);
        rc = (!s || json_object_array_add(segs, s)) ? (json_object_put(s), HARK_ENOMEM) : 0;
        for (size_t k = 0; !rc && o->words && k < r->segs[i].n_words; k++) {
            struct json_object *w = word_json(&r->segs[i].words[k]);
            rc = (!w || json_object_array_add(words, w)) ? (json_object_put(w), HARK_ENOMEM) : 0;
        }
    }
    if (!rc && o->segments)
        rc = json_add(root, "segments", json_object_get(segs));
    if (!rc && o->words)
        rc = json_add(root, "words", json_object_get(words));
    json_object_put(segs);
    json_object_put(words);
    return rc;
}

static int json_body(const struct asr_result *r, const struct asr_format_opts *o, struct hbuf *out)
{
    struct hbuf text;
    hbuf_init(&text, 0);
    struct json_object *root = json_object_new_object();
    int rc = root ? full_text(r, &text) : HARK_ENOMEM;
    if (!rc)
        rc = json_add_str(root, "text", text.data ? text.data : "");
    if (!rc && o->format == ASR_FORMAT_VERBOSE_JSON) {
        rc = json_add_str(root, "task", o->translate ? "translate" : "transcribe");
        /* OpenAI names the language ("english"), not its code. */
        const char *name = r->language[0] ? whisper_lang_str_full(whisper_lang_id(r->language)) : NULL;
        if (!rc)
            rc = json_add_str(root, "language", name ? name : r->language);
        if (!rc)
            rc = json_add(root, "duration", json_new_seconds(r->duration_ms));
        if (!rc)
            rc = add_lists(r, o, root);
    }
    if (!rc)
        rc = json_append(out, root);
    if (!rc)
        rc = hbuf_puts(out, "\n");
    json_object_put(root);
    hbuf_release(&text);
    return rc;
}

int asr_format_render(const struct asr_result *r, const struct asr_format_opts *o,
                      struct hbuf *out)
{
    switch (o->format) {
    case ASR_FORMAT_TEXT: {
        int rc = full_text(r, out);
        return rc ? rc : hbuf_puts(out, "\n");
    }
    case ASR_FORMAT_SRT:
        return subtitles(r, 0, out);
    case ASR_FORMAT_VTT:
        return subtitles(r, 1, out);
    case ASR_FORMAT_JSON:
    case ASR_FORMAT_VERBOSE_JSON:
        return json_body(r, o, out);
    }
    return HARK_EINVAL;
}
