/* The remote engine: any OpenAI-compatible /v1/audio/transcriptions server.
 *
 * A call encodes the audio as a 16 kHz mono 16-bit WAV (generated while
 * libcurl sends it, so no second copy of the audio is made) and POSTs it as
 * multipart/form-data, asking for verbose_json with word and segment
 * timestamps. A pool of `decoders` curl easy handles is both the limit on
 * concurrent requests (a caller waits for a free handle) and the connection
 * cache: a handle keeps its connection alive for the next request.
 * Options the API has no field for (beam_size, audio_ctx, max_tokens,
 * single_segment) are left to the server. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "asr_private.h"
#include "hark/buf.h"
#include "hark/json.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/version.h"

/* A verbose_json reply is about 200 bytes per word: 16 MiB is hours of
 * speech, and a server that sends more is broken or hostile. */
#define RESPONSE_MAX (16u << 20)
#define DECODERS_MAX 64
#define WAV_HEADER_BYTES 44u
/* The RIFF size fields are 32-bit. */
#define WAV_MAX_SAMPLES ((UINT32_MAX - 36u) / 2u)
#define ERROR_BODY_LOGGED 200

struct remote_engine {
    struct asr_engine base;            /* first */
    char *transcribe_url;              /* <remote_url>/audio/transcriptions */
    char *translate_url;               /* <remote_url>/audio/translations */
    char *auth_header;                 /* "Authorization: Bearer …" or NULL; never logged */
    char *model;                       /* the name the server is asked for */
    long timeout_ms;
    pthread_mutex_t lock;              /* guards free_handles */
    pthread_cond_t freed;
    size_t n_free;
    CURL **free_handles;               /* stack of idle handles */
    CURL **all_handles;                /* every handle, for free */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* Never undone: libcurl's global state lives as long as the process. */
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- the handle pool ---------------------------------------------------- */

static CURL *handle_take(struct remote_engine *r)
{
    pthread_mutex_lock(&r->lock);
    while (r->n_free == 0)
        pthread_cond_wait(&r->freed, &r->lock);
    CURL *h = r->free_handles[--r->n_free];
    pthread_mutex_unlock(&r->lock);
    return h;
}

static void handle_give(struct remote_engine *r, CURL *h)
{
    pthread_mutex_lock(&r->lock);
    r->free_handles[r->n_free++] = h;
    pthread_cond_signal(&r->freed);
    pthread_mutex_unlock(&r->lock);
}

/* ---- the WAV body, produced as libcurl reads it ----------------------- */

struct wav_reader {
    const float *pcm;
    size_t n;                          /* samples */
    size_t off;                        /* bytes already handed to libcurl */
    unsigned char header[WAV_HEADER_BYTES];
};

static void put_le(unsigned char *p, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void wav_init(struct wav_reader *w, const float *pcm, size_t n)
{
    uint32_t data = (uint32_t)(n * 2);
    unsigned char *h = w->header;
    w->pcm = pcm;
    w->n = n;
    w->off = 0;
    memcpy(h, "RIFF", 4);
    put_le(h + 4, 36 + data, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le(h + 16, 16, 4);             /* fmt chunk size */
    put_le(h + 20, 1, 2);              /* PCM */
    put_le(h + 22, 1, 2);              /* mono */
    put_le(h + 24, ASR_RATE, 4);
    put_le(h + 28, ASR_RATE * 2, 4);   /* bytes per second */
    put_le(h + 32, 2, 2);              /* block align */
    put_le(h + 34, 16, 2);             /* bits per sample */
    memcpy(h + 36, "data", 4);
    put_le(h + 40, data, 4);
}

static uint16_t to_s16(float s)
{
    if (!(s > -1.0f))                  /* also NaN: silence beats noise */
        s = isnan(s) ? 0.0f : -1.0f;
    if (s > 1.0f)
        s = 1.0f;
    return (uint16_t)(int16_t)lrintf(s * 32767.0f);
}

static size_t wav_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct wav_reader *w = arg;
    size_t max = size * nitems, total = WAV_HEADER_BYTES + w->n * 2, done = 0;
    while (done < max && w->off < total) {
        if (w->off < WAV_HEADER_BYTES) {
            buf[done++] = (char)w->header[w->off++];
            continue;
        }
        size_t byte = w->off - WAV_HEADER_BYTES;
        uint16_t v = to_s16(w->pcm[byte / 2]);
        if (byte % 2 == 0 && max - done >= 2) {
            buf[done++] = (char)(v & 0xff);
            buf[done++] = (char)(v >> 8);
            w->off += 2;
        } else {                       /* a sample split across two reads */
            buf[done++] = (char)(byte % 2 ? v >> 8 : v & 0xff);
            w->off++;
        }
    }
    return done;
}

/* libcurl rewinds the body when it has to send it again. */
static int wav_seek(void *arg, curl_off_t offset, int origin)
{
    struct wav_reader *w = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > WAV_HEADER_BYTES + w->n * 2)
        return CURL_SEEKFUNC_FAIL;
    w->off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* ---- the request -------------------------------------------------------- */

struct response {
    struct hbuf body;
    int rc;                            /* why the write callback stopped */
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct response *resp = arg;
    int rc = hbuf_append(&resp->body, p, size * nmemb);
    if (rc) {
        resp->rc = rc;
        return 0;                      /* makes libcurl abort the transfer */
    }
    return size * nmemb;
}

static int add_field(curl_mime *form, const char *name, const char *value)
{
    curl_mimepart *p = curl_mime_addpart(form);
    if (!p || curl_mime_name(p, name) != CURLE_OK ||
        curl_mime_data(p, value, CURL_ZERO_TERMINATED) != CURLE_OK)
        return HARK_ENOMEM;
    return 0;
}

static int wants_language(const char *lang)
{
    return lang && *lang && strcmp(lang, "auto") != 0;
}

static int build_form(const struct remote_engine *r, const struct asr_options *o,
                      struct wav_reader *wav, curl_mime *form)
{
    curl_mimepart *file = curl_mime_addpart(form);
    if (!file || curl_mime_name(file, "file") != CURLE_OK ||
        curl_mime_filename(file, "audio.wav") != CURLE_OK ||
        curl_mime_type(file, "audio/wav") != CURLE_OK ||
        curl_mime_data_cb(file, (curl_off_t)(WAV_HEADER_BYTES + wav->n * 2), wav_read,
                          wav_seek, NULL, wav) != CURLE_OK)
        return HARK_ENOMEM;
    char temp[32];
    snprintf(temp, sizeof temp, "%.3f", (double)o->temperature);
    int rc = add_field(form, "model", r->model);
    if (!rc)
        rc = add_field(form, "temperature", temp);
    if (!rc)
        rc = add_field(form, "response_format", "verbose_json");
    if (!rc && o->prompt && *o->prompt)
        rc = add_field(form, "prompt", o->prompt);
    /* The translations endpoint takes neither a language nor granularities. */
    if (!rc && !o->translate && wants_language(o->language))
        rc = add_field(form, "language", o->language);
    if (!rc && !o->translate)
        rc = add_field(form, "timestamp_granularities[]", "word");
    if (!rc && !o->translate)
        rc = add_field(form, "timestamp_granularities[]", "segment");
    return rc;
}

static int build_headers(const struct remote_engine *r, struct curl_slist **out)
{
    /* "Expect:" stops libcurl from waiting a round trip for 100-continue
     * before every body over 1 MiB. */
    const char *fixed[] = {"Accept: application/json", "Expect:"};
    struct curl_slist *list = NULL;
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        struct curl_slist *next = curl_slist_append(list, fixed[i]);
        if (!next)
            goto oom;
        list = next;
    }
    if (r->auth_header) {
        struct curl_slist *next = curl_slist_append(list, r->auth_header);
        if (!next)
            goto oom;
        list = next;
    }
    *out = list;
    return 0;
oom:
    curl_slist_free_all(list);
    return HARK_ENOMEM;
}

/* Sets the options of one POST; a string option fails only when libcurl
 * cannot copy it. */
static int set_options(CURL *h, const struct remote_engine *r, const char *url, curl_mime *form,
                       struct curl_slist *headers, struct response *resp, char *errbuf)
{
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "hark/" HARK_VERSION) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return HARK_ENOMEM;
    curl_easy_setopt(h, CURLOPT_MIMEPOST, form);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);   /* many threads, no SIGALRM */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)RESPONSE_MAX);
    return 0;
}

/* "https://user:pw@host/v1" → "https://host/v1", for logs. */
static const char *redact_url(const char *url, char *buf, size_t size)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (!at || (slash && slash < at)) {
        snprintf(buf, size, "%s", url);
        return buf;
    }
    snprintf(buf, size, "%.*s%s", (int)(host - url), url, at + 1);
    return buf;
}

static int transport_error(const char *url, CURLcode cc, const char *errbuf,
                           const struct response *resp)
{
    if (resp->rc == HARK_ENOMEM)
        return HARK_ENOMEM;
    char u[256], q[320];
    redact_url(url, u, sizeof u);
    if (resp->rc == HARK_ETOOBIG || cc == CURLE_FILESIZE_EXCEEDED) {
        log_error("asr", "msg=\"response too large\" engine=remote url=%s max_bytes=%u",
                  log_quote(q, sizeof q, u), RESPONSE_MAX);
        return HARK_EIO;
    }
    char why[CURL_ERROR_SIZE + 64];
    log_error("asr", "msg=\"request failed\" engine=remote url=%s curl=%d error=%s",
              log_quote(q, sizeof q, u), (int)cc,
              log_quote(why, sizeof why, *errbuf ? errbuf : curl_easy_strerror(cc)));
    return HARK_EIO;
}

static int http_error(const char *url, long status, const struct hbuf *body)
{
    char u[256], q[320], excerpt[ERROR_BODY_LOGGED + 1], qe[2 * ERROR_BODY_LOGGED + 8];
    size_t n = body->len < ERROR_BODY_LOGGED ? body->len : ERROR_BODY_LOGGED;
    if (n)
        memcpy(excerpt, body->data, n);
    excerpt[n] = '\0';
    redact_url(url, u, sizeof u);
    log_error("asr", "msg=\"server refused the request\" engine=remote url=%s status=%ld "
              "body=%s", log_quote(q, sizeof q, u), status, log_quote(qe, sizeof qe, excerpt));
    return HARK_EIO;
}

/* POSTs the audio; on success resp->body holds a 2xx reply. */
static int post(const struct remote_engine *r, CURL *h, const float *pcm, size_t n,
                const struct asr_options *o, struct response *resp)
{
    const char *url = o->translate ? r->translate_url : r->transcribe_url;
    struct wav_reader wav = {0};
    wav_init(&wav, pcm, n);
    curl_mime *form = curl_mime_init(h);
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = form ? build_form(r, o, &wav, form) : HARK_ENOMEM;
    if (!rc)
        rc = build_headers(r, &headers);
    if (!rc)
        rc = set_options(h, r, url, form, headers, resp, errbuf);
    if (!rc) {
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK)
            rc = transport_error(url, cc, errbuf, resp);
        else if (status < 200 || status > 299)
            rc = http_error(url, status, &resp->body);
    }
    /* The handle must not point at the form, headers or errbuf once they
     * go; a reset keeps its live connection for the next request. */
    curl_easy_reset(h);
    curl_mime_free(form);
    curl_slist_free_all(headers);
    return rc;
}

/* ---- the verbose_json reply ------------------------------------------- */

/* whisper's languages: OpenAI names them ("english"), clients want codes. */
static const struct {
    const char *code, *name;
} languages[] = {
    {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"},
    {"ru", "russian"}, {"ko", "korean"}, {"fr", "french"}, {"ja", "japanese"},
    {"pt", "portuguese"}, {"tr", "turkish"}, {"pl", "polish"}, {"ca", "catalan"},
    {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"}, {"it", "italian"},
    {"id", "indonesian"}, {"hi", "hindi"}, {"fi", "finnish"}, {"vi", "vietnamese"},
    {"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"},
    {"cs", "czech"}, {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"},
    {"ta", "tamil"}, {"no", "norwegian"}, {"th", "thai"}, {"ur", "urdu"},
    {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"}, {"la", "latin"},
    {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"},
    {"te", "telugu"}, {"fa", "persian"}, {"lv", "latvian"}, {"bn", "bengali"},
    {"sr", "serbian"}, {"az", "azerbaijani"}, {"sl", "slovenian"}, {"kn", "kannada"},
    {"et", "estonian"}, {"mk", "macedonian"}, {"br", "breton"}, {"eu", "basque"},
    {"is", "icelandic"}, {"hy", "armenian"}, {"ne", "nepali"}, {"mn", "mongolian"},
    {"bs", "bosnian"}, {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"},
    {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"}, {"si", "sinhala"},
    {"km", "khmer"}, {"sn", "shona"}, {"yo", "yoruba"}, {"so", "somali"},
    {"af", "afrikaans"}, {"oc", "occitan"}, {"ka", "georgian"}, {"be", "belarusian"},
    {"tg", "tajik"}, {"sd", "sindhi"}, {"gu", "gujarati"}, {"am", "amharic"},
    {"yi", "yiddish"}, {"lo", "lao"}, {"uz", "uzbek"}, {"fo", "faroese"},
    {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"}, {"nn", "nynorsk"},
    {"mt", "maltese"}, {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"},
    {"bo", "tibetan"}, {"tl", "tagalog"}, {"mg", "malagasy"}, {"as", "assamese"},
    {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"}, {"ha", "hausa"},
    {"ba", "bashkir"}, {"jw", "javanese"}, {"su", "sundanese"}, {"yue", "cantonese"},
    /* other names openai/whisper accepts for the same languages */
    {"my", "burmese"}, {"ca", "valencian"}, {"nl", "flemish"}, {"ht", "haitian"},
    {"lb", "letzeburgesch"}, {"ps", "pushto"}, {"pa", "panjabi"}, {"ro", "moldavian"},
    {"ro", "moldovan"}, {"si", "sinhalese"}, {"es", "castilian"}, {"zh", "mandarin"},
};

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* "english" → "en"; "en", "EN" or "en-US" → "en"; unknown → "". */
static void language_code(const char *in, char *out, size_t size)
{
    char low[32];
    size_t n = 0;
    for (; n < sizeof low - 1 && in[n]; n++)
        low[n] = (char)(in[n] >= 'A' && in[n] <= 'Z' ? in[n] + 32 : in[n]);
    low[n] = '\0';
    size_t letters = 0;
    while (is_alpha(low[letters]))
        letters++;
    out[0] = '\0';
    if ((letters == 2 || letters == 3) &&
        (low[letters] == '\0' || low[letters] == '-' || low[letters] == '_')) {
        snprintf(out, size, "%.*s", (int)letters, low);
        return;
    }
    for (size_t i = 0; i < sizeof languages / sizeof *languages; i++)
        if (!strcmp(low, languages[i].name)) {
            snprintf(out, size, "%s", languages[i].code);
            return;
        }
}

/* A segment of the reply, validated; strings borrowed from the JSON. */
struct seg_in {
    int64_t start_ms, end_ms;
    const char *text;
    float no_speech_p;
    float p;                           /* exp(avg_logprob): its words' default p */
};

static int is_number(struct json_object *v)
{
    return json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int);
}

/* Seconds as a JSON number → ms. A day bounds any sane timestamp. */
static int read_ms(struct json_object *o, const char *key, int64_t *ms)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !is_number(v))
        return HARK_EPARSE;
    double s = json_object_get_double(v);
    if (!isfinite(s) || s < 0 || s > 86400.0)
        return HARK_EPARSE;
    *ms = (int64_t)llround(s * 1000.0);
    return 0;
}

/* An optional number; `def` when absent or null. */
static int read_opt(struct json_object *o, const char *key, double def, double *out)
{
    struct json_object *v;
    *out = def;
    if (!json_object_object_get_ex(o, key, &v) || !v)
        return 0;
    if (!is_number(v) || !isfinite(json_object_get_double(v)))
        return HARK_EPARSE;
    *out = json_object_get_double(v);
    return 0;
}

static float clamp01(double v) { return v < 0 ? 0.0f : v > 1 ? 1.0f : (float)v; }

static int read_segment(struct json_object *o, struct seg_in *s)
{
    struct json_object *text;
    double nsp, logprob;
    if (!json_object_is_type(o, json_type_object) || read_ms(o, "start", &s->start_ms) ||
        read_ms(o, "end", &s->end_ms) || !json_object_object_get_ex(o, "text", &text) ||
        !json_object_is_type(text, json_type_string) ||
        read_opt(o, "no_speech_prob", 0.0, &nsp) || read_opt(o, "avg_logprob", 0.0, &logprob))
        return HARK_EPARSE;
    if (s->end_ms < s->start_ms)
        s->end_ms = s->start_ms;
    s->text = json_object_get_string(text);
    s->no_speech_p = clamp01(nsp);
    s->p = clamp01(exp(logprob));
    return 0;
}

/* Whisper's words carry their leading space and the segment text does too;
 * OpenAI's words do not. Adding it keeps both engines' words joinable.
 * OpenAI gives no word probability; servers that do (faster-whisper's
 * "probability") are believed, otherwise the segment's stands in. */
static int read_word(struct json_object *o, float p, struct asr_word *w)
{
    struct json_object *text;
    double prob;
    if (!json_object_is_type(o, json_type_object) || read_ms(o, "start", &w->start_ms) ||
        read_ms(o, "end", &w->end_ms) || !json_object_object_get_ex(o, "word", &text) ||
        !json_object_is_type(text, json_type_string) || read_opt(o, "probability", p, &prob))
        return HARK_EPARSE;
    if (w->end_ms < w->start_ms)
        w->end_ms = w->start_ms;
    const char *s = json_object_get_string(text);
    size_t lead = *s == ' ' ? 0 : 1, len = strlen(s), room = sizeof w->text - 1 - lead;
    if (len > room) {
        len = room;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;                     /* cut before the sequence, not inside */
    }
    w->text[0] = ' ';
    memcpy(w->text + lead, s, len);
    w->text[lead + len] = '\0';
    w->p = clamp01(prob);
    return 0;
}

/* The segment, at or after `from`, a word whose midpoint is `mid` belongs
 * to: the last one starting at or before it, or the next one when the word
 * sits in a gap nearer to that. Never before `from`, so words map in order. */
static size_t word_segment(const struct seg_in *segs, size_t n_segs, size_t from, int64_t mid)
{
    size_t j = from;
    while (j + 1 < n_segs && mid >= segs[j + 1].start_ms)
        j++;
    if (j + 1 < n_segs && mid > segs[j].end_ms &&
        segs[j + 1].start_ms - mid < mid - segs[j].end_ms)
        j++;
    return j;
}

/* Adds each segment with the words that fall in it. */
static int emit(const struct seg_in *segs, size_t n_segs, struct json_object *words,
                struct asr_result *out)
{
    size_t n_words = words ? json_object_array_length(words) : 0, k = 0, cap = 0;
    struct asr_word *buf = NULL;
    int rc = 0;
    for (size_t i = 0; i < n_segs && !rc; i++) {
        size_t nw = 0;
        while (k < n_words && !rc) {
            struct asr_word w;
            memset(&w, 0, sizeof w);
            rc = read_word(json_object_array_get_idx(words, k), segs[i].p, &w);
            if (rc || word_segment(segs, n_segs, i, (w.start_ms + w.end_ms) / 2) != i)
                break;
            if (nw == cap) {
                size_t ncap = cap ? cap * 2 : 32;
                struct asr_word *nb = hark_realloc(buf, ncap * sizeof *nb);
                if (!nb) {
                    rc = HARK_ENOMEM;
                    break;
                }
                buf = nb;
                cap = ncap;
            }
            buf[nw++] = w;
            k++;
        }
        if (!rc)
            rc = asr_result_add(out, segs[i].start_ms, segs[i].end_ms, segs[i].text, buf, nw,
                                segs[i].no_speech_p);
    }
    hark_free(buf);
    return rc;
}

int asr_remote_parse_reply(const struct hbuf *body, const struct asr_options *o,
                           size_t n_samples, struct asr_result *out)
{
    struct json_object *root, *v, *segs_json = NULL, *words = NULL, *text = NULL;
    char err[128];
    int rc = json_parse(body->data, body->len, &root, err, sizeof err);
    if (rc) {
        if (rc != HARK_ENOMEM)
            log_error("asr", "msg=\"reply is not JSON\" engine=remote error=\"%s\"", err);
        return rc == HARK_ENOMEM ? rc : HARK_EPARSE;
    }
    struct seg_in *segs = NULL;
    size_t n_segs = 0;
    rc = HARK_EPARSE;
    if (!json_object_is_type(root, json_type_object))
        goto out;
    if (json_object_object_get_ex(root, "segments", &segs_json) &&
        !json_object_is_type(segs_json, json_type_array))
        goto out;
    if (json_object_object_get_ex(root, "words", &words) && words &&
        !json_object_is_type(words, json_type_array))
        goto out;
    if (json_object_object_get_ex(root, "text", &text) &&
        !json_object_is_type(text, json_type_string))
        goto out;
    if (!segs_json && !text)
        goto out;
    size_t n_in = segs_json ? json_object_array_length(segs_json) : 0;
    /* A server that gives only the text gets one segment over the audio. */
    int text_only = n_in == 0 && text && *json_object_get_string(text);
    segs = hark_calloc(n_in ? n_in : 1, sizeof *segs);
    if (!segs) {
        rc = HARK_ENOMEM;
        goto out;
    }
    if (text_only) {
        segs[0].end_ms = (int64_t)(n_samples * 1000 / ASR_RATE);
        segs[0].text = json_object_get_string(text);
        segs[0].p = 1.0f;
        n_segs = 1;
    }
    for (; n_segs < n_in; n_segs++)
        if (read_segment(json_object_array_get_idx(segs_json, n_segs), &segs[n_segs]))
            goto out;
    rc = emit(segs, n_segs, words, out);
    if (!rc && json_object_object_get_ex(root, "language", &v) &&
        json_object_is_type(v, json_type_string))
        language_code(json_object_get_string(v), out->language, sizeof out->language);
    if (!rc && !out->language[0] && !o->translate && wants_language(o->language))
        language_code(o->language, out->language, sizeof out->language);
out:
    if (rc == HARK_EPARSE)
        log_error("asr", "msg=\"reply is not a verbose_json transcription\" engine=remote");
    hark_free(segs);
    json_object_put(root);
    return rc;
}

/* ---- the engine --------------------------------------------------------- */

static int remote_transcribe(struct asr_engine *e, const float *pcm, size_t n,
                             const struct asr_options *o, struct asr_result *out)
{
    struct remote_engine *r = (struct remote_engine *)e;
    if (n > WAV_MAX_SAMPLES)
        return HARK_ETOOBIG;
    struct response resp = {.rc = 0};
    hbuf_init(&resp.body, RESPONSE_MAX);
    CURL *h = handle_take(r);
    int rc = post(r, h, pcm, n, o, &resp);
    handle_give(r, h);
    if (!rc)
        rc = asr_remote_parse_reply(&resp.body, o, n, out);
    hbuf_release(&resp.body);
    return rc;
}

static void remote_engine_free(struct asr_engine *e)
{
    struct remote_engine *r = (struct remote_engine *)e;
    for (int i = 0; r->all_handles && i < e->decoders; i++)
        if (r->all_handles[i])
            curl_easy_cleanup(r->all_handles[i]);
    if (r->auth_header)
        explicit_bzero(r->auth_header, strlen(r->auth_header));
    hark_free(r->auth_header);
    hark_free(r->transcribe_url);
    hark_free(r->translate_url);
    hark_free(r->model);
    hark_free(r->all_handles);
    hark_free(r->free_handles);
    pthread_cond_destroy(&r->freed);
    pthread_mutex_destroy(&r->lock);
    hark_free(r);
}

static const struct asr_ops remote_ops = {remote_transcribe, remote_engine_free};

static char *join(const char *base, size_t base_len, const char *tail)
{
    struct hbuf b;
    hbuf_init(&b, 0);
    if (hbuf_append(&b, base, base_len) || hbuf_puts(&b, tail)) {
        hbuf_release(&b);
        return NULL;
    }
    return hbuf_take(&b);
}

static int config_error(const char *why)
{
    log_error("asr", "msg=\"bad remote engine settings\" engine=remote error=\"%s\"", why);
    return HARK_ECONFIG;
}

static int check_config(const struct asr_config *c)
{
    if (!c->remote_url || (strncmp(c->remote_url, "http://", 7) != 0 &&
                           strncmp(c->remote_url, "https://", 8) != 0))
        return config_error("remote_url must be an http:// or https:// URL ending in /v1");
    if (strpbrk(c->remote_url, " \t\r\n"))
        return config_error("remote_url contains white space");
    if (c->remote_key && strpbrk(c->remote_key, "\r\n"))
        return config_error("remote_key contains a line break");
    if (!c->remote_model || !*c->remote_model)
        return config_error("remote_model is empty");
    if (c->decoders < 1 || c->decoders > DECODERS_MAX)
        return config_error("decoders (concurrent requests) must be 1..64");
    if (c->remote_timeout_ms < 1)
        return config_error("remote_timeout_ms must be positive");
    return 0;
}

static int setup(struct remote_engine *r, const struct asr_config *c)
{
    size_t len = strlen(c->remote_url);
    while (len > 0 && c->remote_url[len - 1] == '/')
        len--;
    r->transcribe_url = join(c->remote_url, len, "/audio/transcriptions");
    r->translate_url = join(c->remote_url, len, "/audio/translations");
    r->model = hark_strdup(c->remote_model);
    if (c->remote_key && *c->remote_key)
        r->auth_header = join("Authorization: Bearer ", 22, c->remote_key);
    r->all_handles = hark_calloc((size_t)c->decoders, sizeof *r->all_handles);
    r->free_handles = hark_calloc((size_t)c->decoders, sizeof *r->free_handles);
    if (!r->transcribe_url || !r->translate_url || !r->model || !r->all_handles ||
        !r->free_handles || (c->remote_key && *c->remote_key && !r->auth_header))
        return HARK_ENOMEM;
    for (int i = 0; i < c->decoders; i++) {
        if (!(r->all_handles[i] = curl_easy_init()))
            return HARK_ENOMEM;
        r->free_handles[r->n_free++] = r->all_handles[i];
    }
    return 0;
}

int asr_remote_new(const struct asr_config *c, struct asr_engine **out)
{
    int rc = check_config(c);
    if (rc)
        return rc;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        log_error("asr", "msg=\"libcurl failed to start\" engine=remote error=\"%s\"",
                  curl_easy_strerror(curl_init_rc));
        return HARK_EIO;
    }
    struct remote_engine *r = hark_calloc(1, sizeof *r);
    if (!r)
        return HARK_ENOMEM;
    r->base.ops = &remote_ops;
    r->base.decoders = c->decoders;
    r->timeout_ms = c->remote_timeout_ms;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->freed, NULL);
    snprintf(r->base.model, sizeof r->base.model, "%s", c->remote_model);
    rc = setup(r, c);
    if (rc) {
        remote_engine_free(&r->base);
        return rc;
    }
    char u[256], q[320], m[96];
    log_info("asr", "msg=\"remote engine ready\" engine=remote url=%s model=%s decoders=%d "
             "timeout_ms=%ld auth=%s", log_quote(q, sizeof q, redact_url(c->remote_url, u,
             sizeof u)), log_quote(m, sizeof m, r->model), c->decoders, r->timeout_ms,
             r->auth_header ? "bearer" : "none");
    *out = &r->base;
    return 0;
}
