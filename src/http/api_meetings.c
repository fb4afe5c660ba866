/* Meetings and bots (X-API-Key), as Vexa's v1 contract: POST /bots,
 * GET /bots/status, PUT /bots/{platform}/{id}/config, DELETE /bots/...,
 * GET /meetings, PATCH and DELETE /meetings/{platform}/{id}, and
 * GET /transcripts/{platform}/{id}.
 *
 * Every lookup goes through the store with the caller's user id, so another
 * user's meeting answers exactly as a missing one (404). Hark's platforms
 * (file, stream, rtmp) extend Vexa's Platform enum; Vexa's browser
 * platforms are recognised, their ids validated as Vexa does, and then
 * refused with 403 until browser bots exist. */
#include <errno.h>
#include <json-c/json.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_private.h"
#include "hark/botmgr.h"
#include "hark/live.h"
#include "hark/whisperlive.h"
#include "hark/json.h"
#include "hark/meeting_events.h"
#include "hark/log.h"
#include "hark/mem.h"

#define NATIVE_ID_MAX 128
#define SOURCE_URL_MAX 2048
#define BOT_NAME_MAX 100
#define LANGUAGE_MAX 16
#define NAME_MAX_BYTES 255
#define NOTES_MAX_BYTES 16384
#define LIST_ITEMS_MAX 200
#define LIST_LIMIT_MAX 1000
/* Where Hark's RTMP ingest listens; the RTMP source is built later and
 * will take its address from configuration. */
#define RTMP_KEY_BYTES 16

enum platform_kind { PLATFORM_HARK, PLATFORM_BROWSER };

static const struct {
    const char *name;
    enum platform_kind kind;
} platforms[] = {
    {"file", PLATFORM_HARK},           {"stream", PLATFORM_HARK},
    {"rtmp", PLATFORM_HARK},           {"google_meet", PLATFORM_BROWSER},
    {"teams", PLATFORM_BROWSER},       {"zoom", PLATFORM_BROWSER},
    {"jitsi", PLATFORM_BROWSER},       {"browser_session", PLATFORM_BROWSER},
};

static const char platform_enum_msg[] =
    "Input should be 'google_meet', 'zoom', 'teams', 'jitsi', 'browser_session', 'file', "
    "'stream' or 'rtmp'";

static const char *const statuses[] = {"requested", "joining", "awaiting_admission", "active",
                                       "needs_human_help", "stopping", "completed", "failed",
                                       NULL};

static int platform_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof platforms / sizeof *platforms; i++)
        if (strcmp(name, platforms[i].name) == 0)
            return (int)i;
    return -1;
}

static int all_of(const char *s, size_t min, size_t max, const char *set)
{
    size_t n = strlen(s);
    return n >= min && n <= max && strspn(s, set) == n;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGITS "0123456789"

/* Vexa's v0.10 id rules (reference/vexa-api.md §2) for its platforms; for
 * Hark's, a name safe in a URL path and a log line. NULL when id is fine,
 * else the message for the 422. */
static const char *native_id_problem(const char *platform, const char *id)
{
    if (!strcmp(platform, "google_meet")) {
        size_t n = strlen(id);
        int code = n == 12 && id[3] == '-' && id[8] == '-' && all_of(id, 12, 12, LOWER "-") &&
                   strspn(id, LOWER) == 3 && strspn(id + 4, LOWER) == 4 &&
                   strspn(id + 9, LOWER) == 3;
        int nickname = all_of(id, 5, 40, LOWER DIGITS "-") && id[0] != '-' && id[n - 1] != '-';
        return code || nickname ? NULL
                                : "Invalid Google Meet ID: expected 'abc-defg-hij' or a "
                                  "custom nickname";
    }
    if (!strcmp(platform, "teams"))
        return all_of(id, 10, 15, DIGITS) || all_of(id, 16, 16, DIGITS "abcdef")
                   ? NULL
                   : "Invalid Teams meeting ID: expected 10-15 digits or 16 hex characters";
    if (!strcmp(platform, "zoom"))
        return all_of(id, 9, 11, DIGITS) ? NULL
                                         : "Invalid Zoom meeting ID: expected 9-11 digits";
    if (!all_of(id, 1, NATIVE_ID_MAX, LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS "._:-"))
        return "Invalid meeting ID: 1-128 characters of letters, digits, '.', '_', ':' or '-'";
    return NULL;
}

static int reply_verr(struct http_response *resp, struct json_verr *v)
{
    int rc = v->oom ? HARK_ENOMEM : http_reply_validation(resp, v->list);
    json_verr_release(v);
    return rc ? rc : HARK_EINVAL;
}

/* One 422 naming `loc`. */
static int reply_invalid(struct http_response *resp, const char *loc, const char *msg,
                         const char *type, const char *input)
{
    struct json_verr v;
    json_verr_init(&v);
    struct json_object *in = input ? json_object_new_string(input) : NULL;
    json_verr_add(&v, loc, msg, type, in);
    json_object_put(in);
    return reply_verr(resp, &v);
}

static int reply_browser_disabled(struct http_response *resp, const char *platform)
{
    char msg[200];
    snprintf(msg, sizeof msg,
             "Browser bots are not enabled on this server (platform %s); use platform file, "
             "stream or rtmp",
             platform);
    int rc = http_reply_error(resp, 403, "browser_bots_disabled", msg);
    return rc ? rc : HARK_EPERM;
}

/* The meeting a path names: {platform} and {native_meeting_id}, checked as
 * POST /bots checks them (422 naming the parameter). */
struct meeting_ref {
    char platform[32];
    char native_id[NATIVE_ID_MAX + 1];
};

static int path_ref(struct http_request *req, struct http_response *resp, struct meeting_ref *r)
{
    if (http_param(req, "platform", r->platform, sizeof r->platform) < 0 ||
        platform_find(r->platform) < 0)
        return reply_invalid(resp, "path.platform", platform_enum_msg, "enum", NULL);
    if (http_param(req, "native_meeting_id", r->native_id, sizeof r->native_id) < 0)
        return reply_invalid(resp, "path.native_meeting_id",
                             "String should have at most 128 characters", "string_too_long",
                             NULL);
    const char *problem = native_id_problem(r->platform, r->native_id);
    if (problem)
        return reply_invalid(resp, "path.native_meeting_id", problem, "value_error",
                             r->native_id);
    return 0;
}

/* --- JSON shapes -------------------------------------------------------------- */

static struct json_object *time_or_null(int64_t ms)
{
    char ts[40];
    return ms > 0 ? json_object_new_string(json_time_iso(ms, ts, sizeof ts)) : NULL;
}

static int add_time(struct json_object *o, const char *key, int64_t ms)
{
    struct json_object *t = time_or_null(ms);
    if (ms > 0 && !t)
        return HARK_ENOMEM;
    return json_add(o, key, t);
}

static const char *empty_null(const char *s) { return s && s[0] ? s : NULL; }

/* Vexa's BotStatus for an unfinished meeting. */
static struct json_object *bot_status_json(const struct store_meeting *m)
{
    struct json_object *o = json_object_new_object();
    struct json_object *labels = json_object_new_object();
    struct json_object *d = meeting_data_json_new(m);
    int bad = !o || !labels || !d;
    if (!bad)
        bad = json_add_str(o, "container_id", m->bot_container_id) ||
              json_add_str(o, "container_name", NULL) ||
              json_add_str(o, "platform", m->platform) ||
              json_add_str(o, "native_meeting_id", m->native_meeting_id) ||
              json_add_str(o, "status", m->status) ||
              json_add_str(o, "normalized_status", m->status) ||
              add_time(o, "created_at", m->created_at_ms) ||
              add_time(o, "start_time", m->start_time_ms) ||
              json_add(o, "labels", json_object_get(labels)) ||
              json_add_str(o, "meeting_id_from_name", NULL) ||
              json_add_str(o, "meeting_status", m->status) ||
              json_add(o, "data", json_object_get(d)) || json_add_int(o, "meeting_id", m->id);
    json_object_put(labels);
    json_object_put(d);
    if (bad) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* --- POST /bots ---------------------------------------------------------------- */

/* What a valid POST /bots body asks for. Strings borrowed from the body. */
struct bot_request {
    const char *platform;
    const char *native_id;
    const char *bot_name;
    const char *language;
    const char *task;
    const char *source_url;    /* a file:/// one points at source_file */
    const char *tier;
    int realtime;              /* -1 absent */
    int recording_enabled;     /* -1 absent */
    int transcribe_enabled;    /* -1 absent */
    char source_file[SOURCE_URL_MAX + 1]; /* file://<resolved path> */
};

static int language_ok(const char *s) { return all_of(s, 2, LANGUAGE_MAX, LOWER "-"); }

static int task_ok(const char *s) { return !strcmp(s, "transcribe") || !strcmp(s, "translate"); }

static int source_url_ok(const char *u)
{
    int scheme = !strncmp(u, "file:///", 8) || !strncmp(u, "http://", 7) ||
                 !strncmp(u, "https://", 8);
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return scheme;
}

static void check_language_task(struct json_object *body, struct json_verr *v,
                                const char **language, const char **task)
{
    if (json_field_string(body, "language", 0, LANGUAGE_MAX, v, language) == 1 &&
        !language_ok(*language))
        json_verr_add(v, "body.language", "Language should be an ISO 639-1 code such as 'en'",
                      "value_error", NULL);
    if (json_field_string(body, "task", 0, 16, v, task) == 1 && !task_ok(*task))
        json_verr_add(v, "body.task", "Input should be 'transcribe' or 'translate'", "enum",
                      NULL);
}

/* A file:/// source must be a file inside file_source_dir (borrowed);
 * source_url then names the file it resolves to. */
static void check_file_source(struct bot_request *r, const char *file_source_dir,
                              struct json_verr *v)
{
    const char *why;
    if (strncmp(r->source_url, "file://", 7))
        return;
    if (api_file_source_resolve(file_source_dir, r->source_url, r->source_file,
                                sizeof r->source_file, &why))
        json_verr_add(v, "body.source_url", why, "value_error", NULL);
    else
        r->source_url = r->source_file;
}

/* Reads and checks the body; collects every problem into v. */
static void bot_request_parse(struct json_object *body, const char *file_source_dir,
                              struct bot_request *r, struct json_verr *v)
{
    memset(r, 0, sizeof *r);
    r->realtime = r->recording_enabled = r->transcribe_enabled = -1;
    int got = json_field_string(body, "platform", 1, 32, v, &r->platform);
    if (got == 0)
        json_verr_add(v, "body.platform", "Field required", "missing", NULL);
    else if (got == 1 && platform_find(r->platform) < 0)
        json_verr_add(v, "body.platform", platform_enum_msg, "enum",
                      json_object_object_get(body, "platform"));
    got = json_field_string(body, "native_meeting_id", 1, 255, v, &r->native_id);
    if (got == 0)
        json_verr_add(v, "body.native_meeting_id", "Field required", "missing", NULL);
    else if (got == 1 && r->platform && platform_find(r->platform) >= 0) {
        const char *problem = native_id_problem(r->platform, r->native_id);
        if (problem)
            json_verr_add(v, "body.native_meeting_id", problem, "value_error",
                          json_object_object_get(body, "native_meeting_id"));
    }
    (void)json_field_string(body, "bot_name", 0, BOT_NAME_MAX, v, &r->bot_name);
    check_language_task(body, v, &r->language, &r->task);
    if (json_field_string(body, "transcription_tier", 0, 16, v, &r->tier) == 1 &&
        strcmp(r->tier, "realtime") && strcmp(r->tier, "deferred"))
        json_verr_add(v, "body.transcription_tier", "Input should be 'realtime' or 'deferred'",
                      "enum", NULL);
    int b;
    if (json_field_bool(body, "recording_enabled", v, &b) == 1)
        r->recording_enabled = b;
    if (json_field_bool(body, "transcribe_enabled", v, &b) == 1)
        r->transcribe_enabled = b;
    if (!r->platform || strcmp(r->platform, "file"))
        return;
    got = json_field_string(body, "source_url", 1, SOURCE_URL_MAX, v, &r->source_url);
    if (got == 0)
        json_verr_add(v, "body.source_url", "Field required for platform file", "missing", NULL);
    else if (got == 1 && !source_url_ok(r->source_url))
        json_verr_add(v, "body.source_url",
                      "URL should start with file:///, http:// or https:// and contain no "
                      "spaces or control characters",
                      "url_scheme", NULL);
    else if (got == 1)
        check_file_source(r, file_source_dir, v);
    if (json_field_bool(body, "realtime", v, &b) == 1)
        r->realtime = b;
}

/* rtmp://HOST:PORT/live/KEY with HOST the name the client reached us by. */
static int rtmp_url(struct http_request *req, const char *key, int port, char *buf, size_t size)
{
    const char *host = http_header(req, "Host");
    char name[256] = "127.0.0.1";
    if (host && host[0] && strlen(host) < sizeof name) {
        size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
        if (n <= strlen(host) && all_of(host, 1, sizeof name - 1,
                                        LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS ".-:[]")) {
            memcpy(name, host, n);
            name[n] = '\0';
        }
    }
    int n = snprintf(buf, size, "rtmp://%s:%d/live/%s", name, port, key);
    return n > 0 && (size_t)n < size ? 0 : HARK_ETOOBIG;
}

/* The data object a new meeting starts with: what the request chose. */
static struct json_object *bot_data(const struct bot_request *r, const char *rtmp_key,
                                    int rtmp_port)
{
    struct json_object *d = json_object_new_object();
    if (!d)
        return NULL;
    int err = 0;
    if (r->bot_name)
        err = err || json_add_str(d, "bot_name", r->bot_name);
    if (r->language)
        err = err || json_add_str(d, "language", r->language);
    if (r->task)
        err = err || json_add_str(d, "task", r->task);
    if (r->tier)
        err = err || json_add_str(d, "transcription_tier", r->tier);
    if (r->source_url)
        err = err || json_add_str(d, "source_url", r->source_url) ||
              json_add_bool(d, "realtime", r->realtime != 0);
    if (r->recording_enabled >= 0)
        err = err || json_add_bool(d, "recording_enabled", r->recording_enabled);
    if (r->transcribe_enabled >= 0)
        err = err || json_add_bool(d, "transcribe_enabled", r->transcribe_enabled);
    if (rtmp_key)
        err = err || json_add_str(d, "rtmp_key", rtmp_key) ||
              json_add_int(d, "rtmp_port", rtmp_port);
    if (err) {
        json_object_put(d);
        return NULL;
    }
    return d;
}

static int reply_create_error(struct http_response *resp, int rc, const struct bot_request *r,
                              int limit)
{
    char msg[320];
    int r2;
    if (rc == HARK_EEXIST) {
        snprintf(msg, sizeof msg,
                 "A bot is already active for meeting %s/%s; stop it before requesting "
                 "another",
                 r->platform, r->native_id);
        r2 = http_reply_error(resp, 409, "bot_already_active", msg);
    } else if (rc == HARK_EAGAIN) {
        snprintf(msg, sizeof msg,
                 "Maximum concurrent bots limit reached (max_concurrent_bots = %d); stop a "
                 "bot before requesting another",
                 limit);
        r2 = http_reply_error(resp, 429, "max_concurrent_bots", msg);
    } else {
        return api_store_error(resp, rc, "User not found");
    }
    return r2 ? r2 : rc;
}

/* An ingest port of the bot manager's range. Without a manager (no model)
 * nothing will listen: the meeting is recorded with the range's first. */
static int reserve_rtmp_port(struct api *a, struct http_response *resp, int *port)
{
    *port = a->cfg.rtmp_port_first;
    if (!a->bots || !botmgr_reserve_port(a->bots, port))
        return 0;
    http_reply_header(resp, "Retry-After", "60");
    int rc = http_reply_error(resp, 503, "rtmp_ports_exhausted",
                              "Every rtmp ingest port is in use; retry when a stream ends");
    return rc ? rc : HARK_EBUSY;
}

/* Starts the bot of a new meeting; a failure has failed the meeting, so m
 * is read again to answer with what it is now. */
static void launch(struct api *a, struct store_meeting *m)
{
    if (!a->bots || !strcmp(m->platform, "stream") || !botmgr_launch(a->bots, m))
        return;
    struct store_meeting now;
    if (store_meeting_get(a->store, m->user_id, m->id, &now))
        return;
    store_meeting_release(m);
    *m = now;
}

int api_bot_create(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct json_object *body;
    int rc = api_body_object(req, resp, 0, &body);
    if (rc)
        return rc;
    struct bot_request r;
    struct json_verr v;
    json_verr_init(&v);
    bot_request_parse(body, a->cfg.file_source_dir, &r, &v);
    if (json_verr_count(&v) || v.oom) {
        rc = reply_verr(resp, &v);
        json_object_put(body);
        return rc;
    }
    json_verr_release(&v);
    if (platforms[platform_find(r.platform)].kind == PLATFORM_BROWSER) {
        rc = reply_browser_disabled(resp, r.platform);
        json_object_put(body);
        return rc;
    }
    char key[RTMP_KEY_BYTES * 2 + 1], url[400];
    const char *constructed = r.source_url;
    int rtmp = !strcmp(r.platform, "rtmp"), port = 0;
    if (rtmp) {
        rc = reserve_rtmp_port(a, resp, &port);
        unsigned char raw[RTMP_KEY_BYTES];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(key, sizeof key, raw, sizeof raw);
        if (rc || (rc = rtmp_url(req, key, port, url, sizeof url))) {
            json_object_put(body);
            return rc;
        }
        constructed = url;
    }
    struct json_object *data = bot_data(&r, rtmp ? key : NULL, port);
    const char *data_text = data ? json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN)
                                 : NULL;
    if (!data_text) {
        json_object_put(data);
        json_object_put(body);
        return HARK_ENOMEM;
    }
    struct store_meeting_new nm = {.platform = r.platform,
                                   .native_meeting_id = r.native_id,
                                   .constructed_meeting_url = constructed,
                                   .data_json = data_text,
                                   .bot_driver = "process"};
    struct store_meeting m;
    int limit = 0;
    rc = store_meeting_create(a->store, req->who.user_id, &nm, &m, &limit);
    if (rc) {
        if (port && a->bots)
            botmgr_release_port(a->bots, port);
        rc = reply_create_error(resp, rc, &r, limit);
    } else {
        log_info("api", "msg=\"bot requested\" meeting=%lld user=%lld platform=%s",
                 (long long)m.id, (long long)m.user_id, m.platform);
        launch(a, &m);
        rc = api_reply_put(resp, 201, meeting_json_new(&m));
    }
    store_meeting_release(&m);
    json_object_put(data);
    json_object_put(body);
    return rc;
}

/* --- GET /bots/status ---------------------------------------------------------- */

/* 200 {key: [each(meeting)...]} for the caller's meetings matching f; with
 * count, also {"count": n} (what /bots/status answers). */
static int reply_meeting_list(struct http_request *req, struct http_response *resp,
                              const struct store_meeting_filter *f, const char *key,
                              struct json_object *(*each)(const struct store_meeting *),
                              int count)
{
    struct api *a = api_of(req);
    struct store_meeting *list;
    size_t n;
    int rc = store_meeting_list(a->store, req->who.user_id, f, &list, &n);
    if (rc)
        return api_store_error(resp, rc, NULL);
    struct json_object *o = json_object_new_object();
    struct json_object *arr = json_object_new_array();
    rc = !o || !arr ? HARK_ENOMEM : 0;
    for (size_t i = 0; i < n && !rc; i++) {
        struct json_object *m = each(&list[i]);
        if (!m || json_object_array_add(arr, m)) {
            json_object_put(m);
            rc = HARK_ENOMEM;
        }
    }
    store_meeting_list_free(list, n);
    if (!rc) {
        rc = json_add(o, key, arr);
        arr = NULL;
    }
    if (!rc && count)
        rc = json_add_int(o, "count", (int64_t)n);
    json_object_put(arr);
    if (rc) {
        json_object_put(o);
        return rc;
    }
    return api_reply_put(resp, 200, o);
}

int api_bot_status(struct http_request *req, struct http_response *resp)
{
    struct store_meeting_filter f = {.unfinished_only = 1};
    return reply_meeting_list(req, resp, &f, "running_bots", bot_status_json, 1);
}

/* --- PUT /bots/{platform}/{id}/config ------------------------------------------ */

static const char no_active_meeting[] = "No active meeting found for this bot";

int api_bot_config(struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"language", "task", NULL};
    struct api *a = api_of(req);
    struct meeting_ref ref;
    int rc = path_ref(req, resp, &ref);
    if (rc)
        return rc;
    struct json_object *body;
    if ((rc = api_body_object(req, resp, 0, &body)))
        return rc;
    struct json_verr v;
    json_verr_init(&v);
    const char *language = NULL, *task = NULL;
    json_forbid_extra(body, allowed, &v);
    check_language_task(body, &v, &language, &task);
    if (!json_verr_count(&v) && !language && !task)
        json_verr_add(&v, "body", "At least one of language or task is required", "missing",
                      NULL);
    if (json_verr_count(&v) || v.oom) {
        rc = reply_verr(resp, &v);
        json_object_put(body);
        return rc;
    }
    json_verr_release(&v);
    struct store_meeting m;
    rc = store_meeting_get_native(a->store, req->who.user_id, ref.platform, ref.native_id, &m);
    if (!rc && store_meeting_status_final(m.status))
        rc = HARK_ENOENT;
    if (rc) {
        store_meeting_release(&m);
        json_object_put(body);
        return api_store_error(resp, rc, no_active_meeting);
    }
    if (!strcmp(m.status, "stopping")) {
        store_meeting_release(&m);
        json_object_put(body);
        rc = http_reply_error(resp, 409, "meeting_stopping",
                              "The bot is stopping; its configuration can no longer change");
        return rc ? rc : HARK_EPERM;
    }
    int64_t id = m.id;
    store_meeting_release(&m);
    /* The body holds only language and task, checked above: it is the
     * patch. */
    const char *patch = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    rc = patch ? store_meeting_patch_data(a->store, req->who.user_id, id, patch, &m) : HARK_ENOMEM;
    store_meeting_release(&m);
    json_object_put(body);
    if (rc)
        return api_store_error(resp, rc, no_active_meeting);
    struct json_object *o = json_object_new_object();
    if (!o || json_add_str(o, "message", "Reconfiguration request accepted")) {
        json_object_put(o);
        return HARK_ENOMEM;
    }
    return api_reply_put(resp, 202, o);
}

/* --- DELETE /bots/{platform}/{id} ---------------------------------------------- */

/* A bot still "requested" never started: nothing will report its end, so
 * the stop completes it at once (Vexa's stop of a bot that never ran ends
 * the meeting "completed", reason "stopped"). Later states wait in
 * "stopping" for the bot to leave and report. */
static int stop_meeting(struct api *a, struct store_meeting *m, const char **message)
{
    char prev[STORE_STATUS_MAX];
    struct store_status_change c = {.from = m->status, .to = "stopping"};
    int never_started = !strcmp(m->status, "requested");
    struct store_meeting next;
    int rc = store_meeting_set_status(a->store, m->id, &c, &next, prev);
    if (rc)
        return rc;
    store_meeting_release(m);
    *m = next;
    api_meeting_changed(a, m, prev);
    *message = "Stop request accepted and is being processed.";
    if (!never_started)
        return 0;
    c = (struct store_status_change){.from = "stopping",
                                     .to = "completed",
                                     .completion_reason = "stopped",
                                     .reason_detail = "stopped_before_start"};
    rc = store_meeting_set_status(a->store, m->id, &c, &next, prev);
    if (rc)
        return rc;
    store_meeting_release(m);
    *m = next;
    api_meeting_changed(a, m, prev);
    *message = "Bot stopped before it started.";
    return 0;
}

int api_bot_stop(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct meeting_ref ref;
    int rc = path_ref(req, resp, &ref);
    if (rc)
        return rc;
    struct store_meeting m;
    rc = store_meeting_get_native(a->store, req->who.user_id, ref.platform, ref.native_id, &m);
    if (rc) {
        store_meeting_release(&m);
        return api_store_error(resp, rc, "No active meeting for this bot");
    }
    char already[64];
    const char *message = already;
    if (store_meeting_status_final(m.status)) {
        snprintf(already, sizeof already, "Meeting already %s.", m.status);
    } else if (!strcmp(m.status, "stopping")) {
        message = "Stop request accepted and is being processed.";
    } else if ((rc = stop_meeting(a, &m, &message))) {
        store_meeting_release(&m);
        if (rc == HARK_EPERM) { /* the bot moved meanwhile */
            rc = http_reply_error(resp, 409, "status_changed",
                                  "The meeting changed state meanwhile; retry");
            return rc ? rc : HARK_EPERM;
        }
        return api_store_error(resp, rc, "No active meeting for this bot");
    } else {
        log_info("api", "msg=\"bot stop requested\" meeting=%lld status=%s", (long long)m.id,
                 m.status);
        if (a->bots)
            (void)botmgr_stop(a->bots, m.id);
        if (a->wlive && !strcmp(m.platform, "stream"))
            wlive_stop_meeting(a->wlive, m.id);
    }
    struct json_object *o = meeting_json_new(&m);
    store_meeting_release(&m);
    if (!o || json_add_str(o, "message", message)) {
        json_object_put(o);
        return HARK_ENOMEM;
    }
    return api_reply_put(resp, 200, o);
}

/* --- GET /meetings ------------------------------------------------------------- */

static int query_size(struct http_request *req, const char *name, size_t max, size_t *out,
                      struct json_verr *v)
{
    const char *s = http_query(req, name);
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || end == s || *end || n < 0 || (unsigned long long)n > max) {
        char loc[32], msg[96];
        snprintf(loc, sizeof loc, "query.%s", name);
        snprintf(msg, sizeof msg, "Input should be an integer from 0 to %zu", max);
        json_verr_add(v, loc, msg, "int_parsing", NULL);
        return -1;
    }
    *out = (size_t)n;
    return 1;
}

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

int api_meeting_list(struct http_request *req, struct http_response *resp)
{
    struct store_meeting_filter f = {.limit = LIST_LIMIT_MAX};
    struct json_verr v;
    json_verr_init(&v);
    (void)query_size(req, "limit", LIST_LIMIT_MAX, &f.limit, &v);
    (void)query_size(req, "offset", (size_t)INT32_MAX, &f.offset, &v);
    f.status = http_query(req, "status");
    f.platform = http_query(req, "platform");
    if (f.status && !in_list(f.status, statuses))
        json_verr_add(&v, "query.status", "Input should be a meeting status", "enum", NULL);
    if (f.platform && platform_find(f.platform) < 0)
        json_verr_add(&v, "query.platform", platform_enum_msg, "enum", NULL);
    if (json_verr_count(&v) || v.oom)
        return reply_verr(resp, &v);
    json_verr_release(&v);
    if (f.limit == 0)
        f.limit = LIST_LIMIT_MAX;
    return reply_meeting_list(req, resp, &f, "meetings", meeting_json_new, 0);
}

/* --- PATCH /meetings/{platform}/{id} ------------------------------------------- */

static void check_string_list(struct json_object *val, const char *loc, struct json_verr *v)
{
    if (!json_object_is_type(val, json_type_array) ||
        json_object_array_length(val) > LIST_ITEMS_MAX) {
        json_verr_add(v, loc, "Input should be a list of at most 200 strings", "list_type",
                      NULL);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(val); i++) {
        struct json_object *it = json_object_array_get_idx(val, i);
        if (!json_object_is_type(it, json_type_string) ||
            json_object_get_string_len(it) > NAME_MAX_BYTES) {
            json_verr_add(v, loc, "Items should be strings of at most 255 characters",
                          "string_type", NULL);
            return;
        }
    }
}

/* Builds the patch from Vexa's four editable fields; a null or absent
 * field leaves the stored one as it is, other keys are ignored (as
 * Vexa's MeetingDataUpdate does). */
static struct json_object *data_patch(struct json_object *body, struct json_verr *v)
{
    struct json_object *data = json_object_object_get(body, "data");
    if (!data) {
        json_verr_add(v, "body.data", "Field required", "missing", NULL);
        return NULL;
    }
    if (!json_object_is_type(data, json_type_object)) {
        json_verr_add(v, "body.data", "Input should be a valid dictionary", "dict_type", NULL);
        return NULL;
    }
    static const struct {
        const char *key, *loc;
        size_t max; /* 0: a list of strings */
    } fields[] = {{"name", "body.data.name", NAME_MAX_BYTES},
                  {"notes", "body.data.notes", NOTES_MAX_BYTES},
                  {"participants", "body.data.participants", 0},
                  {"languages", "body.data.languages", 0}};
    struct json_object *patch = json_object_new_object();
    if (!patch) {
        v->oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        struct json_object *val = json_object_object_get(data, fields[i].key);
        if (!val)
            continue;
        if (fields[i].max == 0)
            check_string_list(val, fields[i].loc, v);
        else if (!json_object_is_type(val, json_type_string) ||
                 (size_t)json_object_get_string_len(val) > fields[i].max)
            json_verr_add(v, fields[i].loc, "Input should be a string of limited length",
                          "string_type", NULL);
        if (json_add(patch, fields[i].key, json_object_get(val)))
            v->oom = 1;
    }
    return patch;
}

int api_meeting_update(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct meeting_ref ref;
    int rc = path_ref(req, resp, &ref);
    if (rc)
        return rc;
    struct json_object *body;
    if ((rc = api_body_object(req, resp, 0, &body)))
        return rc;
    struct json_verr v;
    json_verr_init(&v);
    struct json_object *patch = data_patch(body, &v);
    json_object_put(body);
    if (json_verr_count(&v) || v.oom) {
        json_object_put(patch);
        return reply_verr(resp, &v);
    }
    json_verr_release(&v);
    struct store_meeting m;
    rc = store_meeting_get_native(a->store, req->who.user_id, ref.platform, ref.native_id, &m);
    int64_t id = m.id;
    store_meeting_release(&m);
    const char *text = json_object_to_json_string_ext(patch, JSON_C_TO_STRING_PLAIN);
    if (!rc)
        rc = text ? store_meeting_patch_data(a->store, req->who.user_id, id, text, &m)
                  : HARK_ENOMEM;
    json_object_put(patch);
    if (rc) {
        store_meeting_release(&m);
        return api_store_error(resp, rc, "Meeting not found");
    }
    struct json_object *o = meeting_json_new(&m);
    store_meeting_release(&m);
    return api_reply_put(resp, 200, o);
}

/* --- DELETE /meetings/{platform}/{id} ------------------------------------------ */

int api_meeting_delete(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct meeting_ref ref;
    int rc = path_ref(req, resp, &ref);
    if (rc)
        return rc;
    struct store_meeting m;
    rc = store_meeting_get_native(a->store, req->who.user_id, ref.platform, ref.native_id, &m);
    int64_t id = m.id;
    store_meeting_release(&m);
    if (!rc)
        rc = store_meeting_purge(a->store, req->who.user_id, id, &m);
    store_meeting_release(&m);
    if (rc == HARK_EPERM) {
        rc = http_reply_error(resp, 409, "meeting_in_progress",
                              "The meeting is still in progress; stop the bot and wait for it "
                              "to finish before deleting");
        return rc ? rc : HARK_EPERM;
    }
    if (rc)
        return api_store_error(resp, rc, "Meeting not found");
    log_info("api", "msg=\"meeting purged\" meeting=%lld user=%lld", (long long)id,
             (long long)req->who.user_id);
    /* After the purge: a failure before it leaves the audio with the
     * transcript it belongs to. */
    api_recording_remove(a, id);
    if (a->live) /* its replay history holds transcript text too */
        live_forget(a->live, id);
    struct json_object *o = json_object_new_object();
    char msg[320];
    snprintf(msg, sizeof msg,
             "Meeting %s/%s: transcript and recording deleted, meeting data anonymized",
             ref.platform, ref.native_id);
    if (!o || json_add_str(o, "message", msg)) {
        json_object_put(o);
        return HARK_ENOMEM;
    }
    return api_reply_put(resp, 200, o);
}

/* --- GET /transcripts/{platform}/{id} ------------------------------------------ */

static int two(const char *p, int *out)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return -1;
    *out = (p[0] - '0') * 10 + (p[1] - '0');
    return 0;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff...](Z|+00:00)" — the shape every time in our
 * responses has — to Unix ms. -1 when malformed. */
static int64_t parse_utc_ms(const char *s)
{
    int c, y2, mo, d, h, mi, sec;
    size_t len = strlen(s);
    if (len < 20 || two(s, &c) || two(s + 2, &y2) || s[4] != '-' || two(s + 5, &mo) ||
        s[7] != '-' || two(s + 8, &d) || (s[10] != 'T' && s[10] != ' ') || two(s + 11, &h) ||
        s[13] != ':' || two(s + 14, &mi) || s[16] != ':' || two(s + 17, &sec))
        return -1;
    const char *p = s + 19;
    int64_t ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(p, "Z") && strcmp(p, "+00:00"))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = {.tm_year = c * 100 + y2 - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    return t < 0 ? -1 : (int64_t)t * 1000 + ms;
}

/* Vexa's TranscriptionSegment; start/end are seconds from base_ms, the
 * meeting's start. */
static struct json_object *segment_json(const struct store_segment *g, int64_t base_ms)
{
    struct json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    if (json_add(o, "start", json_new_seconds(g->start_ms)) ||
        json_add(o, "end", json_new_seconds(g->end_ms)) || json_add_str(o, "text", g->text) ||
        json_add_str(o, "language", g->language) ||
        add_time(o, "created_at", g->created_at_ms) ||
        json_add_str(o, "speaker", empty_null(g->speaker)) ||
        json_add_bool(o, "completed", g->completed) ||
        add_time(o, "absolute_start_time", base_ms + g->start_ms) ||
        add_time(o, "absolute_end_time", base_ms + g->end_ms) ||
        json_add_str(o, "segment_id", g->id) || add_time(o, "updated_at", g->updated_at_ms)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static struct json_object *transcript_json(const struct store_meeting *m,
                                           const struct store_segment *segs, size_t n)
{
    struct json_object *o = json_object_new_object();
    struct json_object *arr = json_object_new_array();
    struct json_object *d = meeting_data_json_new(m);
    int bad = !o || !arr || !d;
    int64_t base = m->start_time_ms ? m->start_time_ms : m->created_at_ms;
    for (size_t i = 0; i < n && !bad; i++) {
        struct json_object *g = segment_json(&segs[i], base);
        if (!g || json_object_array_add(arr, g)) {
            json_object_put(g);
            bad = 1;
        }
    }
    struct json_object *notes = d ? json_object_object_get(d, "notes") : NULL;
    if (!json_object_is_type(notes, json_type_string))
        notes = NULL;
    if (!bad)
        bad = json_add(o, "segments", arr) || json_add_int(o, "id", m->id) ||
              json_add_str(o, "platform", m->platform) ||
              json_add_str(o, "native_meeting_id", empty_null(m->native_meeting_id)) ||
              json_add_str(o, "constructed_meeting_url", m->constructed_meeting_url) ||
              json_add_str(o, "status", m->status) ||
              add_time(o, "start_time", m->start_time_ms) ||
              add_time(o, "end_time", m->end_time_ms) ||
              json_add(o, "notes", json_object_get(notes)) ||
              json_add(o, "data", json_object_get(d));
    else
        json_object_put(arr);
    json_object_put(d);
    if (bad) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int api_transcript_get(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct meeting_ref ref;
    int rc = path_ref(req, resp, &ref);
    if (rc)
        return rc;
    const char *since_s = http_query(req, "since");
    int64_t since = 0;
    if (since_s && (since = parse_utc_ms(since_s)) < 0)
        return reply_invalid(resp, "query.since",
                             "Input should be a UTC datetime such as "
                             "2026-01-01T09:00:00.000000Z",
                             "datetime_parsing", since_s);
    struct store_meeting m;
    rc = store_meeting_get_native(a->store, req->who.user_id, ref.platform, ref.native_id, &m);
    if (rc) {
        char msg[256];
        snprintf(msg, sizeof msg, "Meeting not found for platform %s and ID %s", ref.platform,
                 ref.native_id);
        store_meeting_release(&m);
        return api_store_error(resp, rc, msg);
    }
    struct store_segment *segs;
    size_t n;
    rc = store_segments_list(a->store, m.id, since, &segs, &n);
    if (rc) {
        store_meeting_release(&m);
        return api_store_error(resp, rc, NULL);
    }
    struct json_object *o = transcript_json(&m, segs, n);
    store_segment_list_free(segs, n);
    store_meeting_release(&m);
    return api_reply_put(resp, 200, o);
}
