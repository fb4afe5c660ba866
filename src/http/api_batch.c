/* OpenAI-compatible batch transcription: POST /v1/audio/transcriptions and
 * GET /v1/models. Uploads are parsed on the request thread (cheap); audio
 * decoding and transcription run on the job queue's workers, and the
 * connection is answered from there (http_defer), so a long file never
 * holds one of the few request threads. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "api_private.h"
#include "hark/asr.h"
#include "hark/asr_format.h"
#include "hark/audio.h"
#include "hark/jobq.h"
#include "hark/json.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/multipart.h"

#define PROMPT_MAX 4096

struct batch_job {
    struct api *api;
    struct http_deferred *d;
    const struct multipart_part *file; /* into the request body, valid until done */
    struct multipart parts;
    char language[16];
    char prompt[PROMPT_MAX];
    float temperature;
    struct asr_format_opts fmt;
    char req_id[24];
};

static int bad_request(struct http_response *resp, const char *param, const char *msg)
{
    char full[320];
    snprintf(full, sizeof full, "%s%s%s", param ? param : "", param ? ": " : "", msg);
    return http_reply_error(resp, 400, "invalid_request", full);
}

/* Copies a text field into buf; -1 after replying 400 if it is too long. */
static int text_field(const struct multipart *m, const char *name, char *buf, size_t size,
                      struct http_response *resp)
{
    const struct multipart_part *p = multipart_get(m, name);
    buf[0] = '\0';
    if (!p)
        return 0;
    if (p->len >= size || memchr(p->data, '\0', p->len)) {
        (void)!bad_request(resp, name, "value too long or not text");
        return -1;
    }
    memcpy(buf, p->data, p->len);
    buf[p->len] = '\0';
    return 1;
}

static int parse_temperature(const char *s, float *out)
{
    char *end;
    errno = 0;
    double t = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(t) || t < 0 || t > 1)
        return -1;
    *out = (float)t;
    return 0;
}

/* timestamp_granularities[] may repeat: word, segment. */
static int granularities(const struct multipart *m, struct asr_format_opts *f)
{
    int any = 0;
    f->words = 0;
    f->segments = 1;
    for (size_t i = 0; i < m->n; i++) {
        const struct multipart_part *p = &m->parts[i];
        if (strcmp(p->name, "timestamp_granularities[]") && strcmp(p->name, "timestamp_granularities"))
            continue;
        if (p->len == 4 && !memcmp(p->data, "word", 4))
            f->words = 1;
        else if (p->len != 7 || memcmp(p->data, "segment", 7))
            return -1;
        any = 1;
    }
    return any;
}

static int parse_fields(struct batch_job *j, struct http_response *resp)
{
    const struct multipart *m = &j->parts;
    char format[24], temp[32];
    j->file = multipart_get(m, "file");
    if (!j->file || j->file->len == 0)
        return bad_request(resp, "file", "an audio file is required (multipart field 'file')");
    if (text_field(m, "language", j->language, sizeof j->language, resp) < 0 ||
        text_field(m, "prompt", j->prompt, sizeof j->prompt, resp) < 0 ||
        text_field(m, "response_format", format, sizeof format, resp) < 0 ||
        text_field(m, "temperature", temp, sizeof temp, resp) < 0)
        return HARK_EINVAL;
    if (!format[0])
        snprintf(format, sizeof format, "json");
    if (asr_format_parse(format, &j->fmt.format))
        return bad_request(resp, "response_format",
                           "must be one of json, text, srt, verbose_json, vtt");
    if (temp[0] && parse_temperature(temp, &j->temperature))
        return bad_request(resp, "temperature", "must be a number between 0 and 1");
    int g = granularities(m, &j->fmt);
    if (g < 0)
        return bad_request(resp, "timestamp_granularities[]", "must be word or segment");
    if (g > 0 && j->fmt.format != ASR_FORMAT_VERBOSE_JSON)
        return bad_request(resp, "timestamp_granularities[]",
                           "requires response_format=verbose_json");
    return 0;
}

/* Worker side: decode, transcribe, render into the deferred response. */
static void batch_run(void *arg)
{
    struct batch_job *j = arg;
    struct http_response *resp = http_deferred_response(j->d);
    struct audio_config ac = audio_config_default();
    struct audio_error err;
    float *pcm = NULL;
    size_t n = 0;
    int rc = audio_decode_memory(j->file->data, j->file->len, &ac, &pcm, &n, &err);
    if (rc) {
        (void)!http_reply_error(resp, 400, "invalid_audio", err.message);
    } else {
        struct asr_options o = asr_options_default();
        o.language = j->language[0] ? j->language : NULL;
        o.prompt = j->prompt[0] ? j->prompt : NULL;
        o.temperature = j->temperature;
        struct asr_result r;
        rc = asr_transcribe(j->api->engine, pcm, n, &o, &r);
        if (!rc) {
            hbuf_reset(&resp->body);
            rc = asr_format_render(&r, &j->fmt, &resp->body);
            resp->status = rc ? 0 : 200;
            resp->content_type = asr_format_mime(j->fmt.format);
            asr_result_release(&r);
        }
        if (rc) {
            log_error("api", "msg=\"transcription failed\" req=%s err=%s", j->req_id,
                      hark_errname(rc));
            (void)!http_reply_error(resp, 500, "transcription_failed",
                                    "Transcription failed; see the server log");
        }
    }
    hark_free(pcm);
    http_deferred_done(j->d);
    hark_free(j);
}

static void batch_cancel(void *arg)
{
    struct batch_job *j = arg;
    struct http_response *resp = http_deferred_response(j->d);
    http_reply_header(resp, "Retry-After", "5");
    (void)!http_reply_error(resp, 503, "shutting_down", "Server is shutting down, retry");
    http_deferred_done(j->d);
    hark_free(j);
}

static int busy(struct http_response *resp, struct api *a)
{
    size_t waiting, running;
    jobq_load(a->jobs, &waiting, &running);
    char after[16];
    snprintf(after, sizeof after, "%zu", 1 + waiting / (size_t)asr_engine_decoders(a->engine));
    http_reply_header(resp, "Retry-After", after);
    return http_reply_error(resp, 503, "queue_full",
                            "Transcription queue is full, retry after the given seconds");
}

int api_transcriptions(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    char boundary[80], err[160];
    if (!a->engine)
        return http_reply_error(resp, 503, "model_not_loaded",
                                "No model is loaded: start hark with --model PATH");
    const char *ctype = http_header(req, "Content-Type");
    if (!ctype || multipart_boundary(ctype, boundary, sizeof boundary))
        return bad_request(resp, NULL, "expected a multipart/form-data body");
    struct batch_job *j = hark_calloc(1, sizeof *j);
    if (!j)
        return HARK_ENOMEM;
    int rc = multipart_parse(req->body, req->body_len, boundary, &j->parts, err, sizeof err);
    if (rc)
        rc = bad_request(resp, NULL, err);
    else
        rc = parse_fields(j, resp);
    if (rc || resp->status) {
        hark_free(j);
        return rc ? rc : HARK_EINVAL;
    }
    j->api = a;
    snprintf(j->req_id, sizeof j->req_id, "%s", req->id);
    j->d = http_defer(req);
    rc = jobq_submit(a->jobs, batch_run, batch_cancel, j);
    if (rc) {
        rc = busy(http_deferred_response(j->d), a);
        http_deferred_done(j->d);
        hark_free(j);
    }
    return rc;
}

int api_models(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct json_object *o = json_object_new_object();
    struct json_object *list = json_object_new_array();
    int rc = (!o || !list) ? HARK_ENOMEM : json_add(o, "data", list);
    if (!o)
        json_object_put(list);
    if (!rc && a->engine) {
        struct json_object *m = json_object_new_object();
        rc = (!m || json_add_str(m, "id", asr_engine_model(a->engine)) ||
              json_add_str(m, "object", "model") || json_add_int(m, "created", 0) ||
              json_add_str(m, "owned_by", "hark") || json_object_array_add(list, m))
                 ? (json_object_put(m), HARK_ENOMEM) : 0;
    }
    if (!rc)
        rc = json_add_str(o, "object", "list");
    if (rc) {
        json_object_put(o);
        return rc;
    }
    return api_reply_put(resp, 200, o);
}
