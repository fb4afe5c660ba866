/* OpenAI-compatible batch transcription: POST /v1/audio/transcriptions,
 * its asynchronous twin POST /jobs + GET /jobs/{id}, and GET /v1/models.
 *
 * Uploads are parsed on the request thread (cheap); audio decoding and
 * transcription run on the job queue's workers. A synchronous request is
 * answered from the worker (http_defer), so a long file never holds one of
 * the few request threads, and its audio stays in the request body until
 * then. An asynchronous job outlives its request: it copies the audio and
 * writes its result to the store. */
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
    struct http_deferred *d;     /* synchronous: where the answer goes */
    int64_t job_id;              /* asynchronous: the store's job row */
    const char *audio;           /* the upload: in the request body, or `copy` */
    size_t audio_len;
    char *copy;                  /* owned copy for asynchronous jobs */
    char language[16];
    char prompt[PROMPT_MAX];
    float temperature;
    struct asr_format_opts fmt;
    char req_id[24];
};

/* What a worker produced: the response body and how to serve it. */
struct batch_out {
    int status;
    const char *code;            /* error code when status != 200 */
    char message[256];
    struct hbuf body;
};

static int bad_request(struct http_response *resp, const char *param, const char *msg)
{
    char full[320];
    snprintf(full, sizeof full, "%s%s%s", param ? param : "", param ? ": " : "", msg);
    return http_reply_error(resp, 400, "invalid_request", full);
}

/* Copies a text field into buf; HARK_EINVAL after replying 400 if it is too
 * long or not text. */
static int text_field(const struct multipart *m, const char *name, char *buf, size_t size,
                      struct http_response *resp)
{
    const struct multipart_part *p = multipart_get(m, name);
    buf[0] = '\0';
    if (!p)
        return 0;
    if (p->len >= size || memchr(p->data, '\0', p->len)) {
        int rc = bad_request(resp, name, "value too long or not text");
        return rc ? rc : HARK_EINVAL;
    }
    memcpy(buf, p->data, p->len);
    buf[p->len] = '\0';
    return 0;
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

/* timestamp_granularities[] may repeat: word, segment. 1 when given, 0 when
 * not, -1 for another value. */
static int granularities(const struct multipart *m, struct asr_format_opts *f)
{
    int any = 0;
    f->words = 0;
    f->segments = 1;
    for (size_t i = 0; i < m->n; i++) {
        const struct multipart_part *p = &m->parts[i];
        if (strcmp(p->name, "timestamp_granularities[]") &&
            strcmp(p->name, "timestamp_granularities"))
            continue;
        if (p->len == 4 && !memcmp(p->data, "word", 4))
            f->words = 1;
        else if (p->len != 7 || memcmp(p->data, "segment", 7))
            return -1;
        any = 1;
    }
    return any;
}

/* The OpenAI form fields. The `model` field is accepted and ignored: the
 * server transcribes with the model it loaded (GET /v1/models). */
static int parse_fields(const struct multipart *m, struct batch_job *j,
                        struct http_response *resp)
{
    char format[24], temp[32];
    const struct multipart_part *file = multipart_get(m, "file");
    if (!file || file->len == 0)
        return bad_request(resp, "file", "an audio file is required (multipart field 'file')");
    j->audio = file->data;
    j->audio_len = file->len;
    int rc = text_field(m, "language", j->language, sizeof j->language, resp);
    if (!rc)
        rc = text_field(m, "prompt", j->prompt, sizeof j->prompt, resp);
    if (!rc)
        rc = text_field(m, "response_format", format, sizeof format, resp);
    if (!rc)
        rc = text_field(m, "temperature", temp, sizeof temp, resp);
    if (rc)
        return rc;
    if (asr_format_parse(format[0] ? format : "json", &j->fmt.format))
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

/* Parses the upload into a new job; on a bad request resp is filled and a
 * negative code returned. */
static int job_from_request(struct http_request *req, struct http_response *resp,
                            struct batch_job **out)
{
    struct api *a = api_of(req);
    char boundary[80], err[160];
    *out = NULL;
    if (!a->engine)
        return http_reply_error(resp, 503, "model_not_loaded",
                                "No model is loaded: start hark with --model PATH");
    const char *ctype = http_header(req, "Content-Type");
    if (!ctype || multipart_boundary(ctype, boundary, sizeof boundary))
        return bad_request(resp, NULL, "expected a multipart/form-data body");
    struct multipart *m = hark_malloc(sizeof *m);
    struct batch_job *j = hark_calloc(1, sizeof *j);
    int rc = (!m || !j) ? HARK_ENOMEM : 0;
    if (!rc && multipart_parse(req->body, req->body_len, boundary, m, err, sizeof err))
        rc = bad_request(resp, NULL, err);
    if (!rc)
        rc = parse_fields(m, j, resp);
    hark_free(m);
    if (rc || resp->status) {
        hark_free(j);
        return rc ? rc : HARK_EINVAL;
    }
    j->api = a;
    snprintf(j->req_id, sizeof j->req_id, "%s", req->id);
    *out = j;
    return 0;
}

static void job_free(struct batch_job *j)
{
    hark_free(j->copy);
    hark_free(j);
}

/* The work itself, on a queue worker. */
static void transcribe_job(struct batch_job *j, struct batch_out *out)
{
    struct audio_config ac = audio_config_default();
    struct audio_error err;
    float *pcm = NULL;
    size_t n = 0;
    hbuf_init(&out->body, 0);
    if (audio_decode_memory(j->audio, j->audio_len, &ac, &pcm, &n, &err)) {
        out->status = 400;
        out->code = "invalid_audio";
        snprintf(out->message, sizeof out->message, "%s", err.message);
        return;
    }
    struct asr_options o = asr_options_default();
    o.language = j->language[0] ? j->language : NULL;
    o.prompt = j->prompt[0] ? j->prompt : NULL;
    o.temperature = j->temperature;
    struct asr_result r;
    int rc = asr_transcribe(j->api->engine, pcm, n, &o, &r);
    if (!rc) {
        rc = asr_format_render(&r, &j->fmt, &out->body);
        asr_result_release(&r);
    }
    hark_free(pcm);
    out->status = rc ? 500 : 200;
    if (rc) {
        log_error("api", "msg=\"transcription failed\" req=%s err=%s", j->req_id,
                  hark_errname(rc));
        out->code = "transcription_failed";
        snprintf(out->message, sizeof out->message, "Transcription failed; see the server log");
    }
}

static void sync_run(void *arg)
{
    struct batch_job *j = arg;
    struct http_response *resp = http_deferred_response(j->d);
    struct batch_out out;
    transcribe_job(j, &out);
    if (out.status == 200) {
        hbuf_release(&resp->body);
        resp->body = out.body; /* moves */
        resp->status = 200;
        resp->content_type = asr_format_mime(j->fmt.format);
    } else {
        hbuf_release(&out.body);
        (void)!http_reply_error(resp, out.status, out.code, out.message);
    }
    http_deferred_done(j->d);
    job_free(j);
}

static void sync_cancel(void *arg)
{
    struct batch_job *j = arg;
    struct http_response *resp = http_deferred_response(j->d);
    http_reply_header(resp, "Retry-After", "5");
    (void)!http_reply_error(resp, 503, "shutting_down", "Server is shutting down, retry");
    http_deferred_done(j->d);
    job_free(j);
}

static void async_run(void *arg)
{
    struct batch_job *j = arg;
    struct store *st = j->api->store;
    struct batch_out out;
    if (store_job_update(st, j->job_id, "running", NULL, NULL))
        log_warn("api", "msg=\"cannot mark job running\" job=%lld", (long long)j->job_id);
    transcribe_job(j, &out);
    int rc = out.status == 200
                 ? store_job_update(st, j->job_id, "completed", out.body.data ? out.body.data : "",
                                    NULL)
                 : store_job_update(st, j->job_id, "failed", NULL, out.message);
    if (rc)
        log_error("api", "msg=\"cannot store job result\" job=%lld err=%s", (long long)j->job_id,
                  hark_errname(rc));
    hbuf_release(&out.body);
    job_free(j);
}

static void async_cancel(void *arg)
{
    struct batch_job *j = arg;
    if (store_job_update(j->api->store, j->job_id, "failed", NULL, "server stopped before the job ran"))
        log_warn("api", "msg=\"cannot mark job failed\" job=%lld", (long long)j->job_id);
    job_free(j);
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
    struct batch_job *j;
    int rc = job_from_request(req, resp, &j);
    if (rc || !j)
        return rc;
    j->d = http_defer(req);
    if (jobq_submit(j->api->jobs, sync_run, sync_cancel, j)) {
        rc = busy(http_deferred_response(j->d), j->api);
        http_deferred_done(j->d);
        job_free(j);
    }
    return rc;
}

static struct json_object *job_json(const struct store_job *sj)
{
    char c[40], u[40];
    struct json_object *o = json_object_new_object();
    struct json_object *params = json_tokener_parse(sj->params_json);
    const char *format = json_object_get_string(json_object_object_get(params, "response_format"));
    struct json_object *result = NULL;
    if (sj->result) /* JSON formats nest as JSON, the others as a string */
        result = (format && strstr(format, "json")) ? json_tokener_parse(sj->result)
                                                    : json_object_new_string(sj->result);
    json_object_put(params);
    if (!o || json_add_int(o, "id", sj->id) || json_add_str(o, "status", sj->status) ||
        json_add_str(o, "created_at", json_time_iso(sj->created_at_ms, c, sizeof c)) ||
        json_add_str(o, "updated_at", json_time_iso(sj->updated_at_ms, u, sizeof u)) ||
        json_add(o, "result", result) || json_add_str(o, "error", sj->error)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int api_job_create(struct http_request *req, struct http_response *resp)
{
    struct batch_job *j;
    char params[64];
    int rc = job_from_request(req, resp, &j);
    if (rc || !j)
        return rc;
    snprintf(params, sizeof params, "{\"response_format\":\"%s\"}",
             asr_format_name(j->fmt.format));
    struct store_job sj;
    if (!(j->copy = hark_malloc(j->audio_len))) {
        job_free(j);
        return HARK_ENOMEM;
    }
    memcpy(j->copy, j->audio, j->audio_len);
    j->audio = j->copy;
    rc = store_job_create(j->api->store, req->who.user_id, "transcription", params, &sj);
    if (rc) {
        job_free(j);
        return api_store_error(resp, rc, NULL);
    }
    j->job_id = sj.id;
    if (jobq_submit(j->api->jobs, async_run, async_cancel, j)) {
        if (store_job_update(j->api->store, sj.id, "failed", NULL, "queue full"))
            log_warn("api", "msg=\"cannot mark job failed\" job=%lld", (long long)sj.id);
        store_job_release(&sj);
        rc = busy(resp, j->api);
        job_free(j);
        return rc;
    }
    struct json_object *o = job_json(&sj);
    store_job_release(&sj);
    return api_reply_put(resp, 202, o);
}

int api_job_get(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    int64_t id;
    int rc = api_param_id(req, resp, "job_id", &id);
    if (rc)
        return rc;
    struct store_job sj;
    if ((rc = store_job_get(a->store, req->who.user_id, id, &sj)))
        return api_store_error(resp, rc, "Job not found");
    struct json_object *o = job_json(&sj);
    store_job_release(&sj);
    return api_reply_put(resp, 200, o);
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
