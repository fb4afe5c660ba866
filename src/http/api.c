/* The route table, authorization, and helpers the handlers share. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "api_private.h"
#include "hark/auth.h"
#include "hark/json.h"
#include "hark/log.h"
#include "hark/mem.h"

static const struct http_route routes[] = {
    {"GET", "/healthz", api_healthz, HTTP_AUTH_NONE, NULL, 0},
    {"GET", "/health", api_health, HTTP_AUTH_NONE, NULL, 0},
    {"GET", "/readyz", api_readyz, HTTP_AUTH_NONE, NULL, 0},
    {"GET", "/metrics", api_metrics, HTTP_AUTH_NONE, NULL, 0},
    {"GET", "/auth/me", api_auth_me, HTTP_AUTH_USER, NULL, 0},
    {"PUT", "/user/webhook", api_user_webhook_set, HTTP_AUTH_USER, NULL, 0},
    {"GET", "/ws", api_ws, HTTP_AUTH_NONE, NULL, 0}, /* authenticates in-band, as Vexa */
    {"GET", "/ws/audio", api_ws_audio, HTTP_AUTH_NONE, NULL, 0}, /* authenticates itself */
    {"GET", "/bots/internal/link", api_bot_link, HTTP_AUTH_NONE, NULL, 0}, /* bot token */
    {"POST", "/admin/users", api_admin_user_create, HTTP_AUTH_ADMIN, NULL, 0},
    {"GET", "/admin/users", api_admin_user_list, HTTP_AUTH_ADMIN, NULL, 0},
    {"GET", "/admin/users/{user_id}", api_admin_user_get, HTTP_AUTH_ADMIN, NULL, 0},
    {"GET", "/admin/users/email/{email}", api_admin_user_get_by_email, HTTP_AUTH_ADMIN, NULL, 0},
    {"PATCH", "/admin/users/{user_id}", api_admin_user_update, HTTP_AUTH_ADMIN, NULL, 0},
    {"POST", "/admin/users/{user_id}/tokens", api_admin_token_create, HTTP_AUTH_ADMIN, NULL, 0},
    {"GET", "/admin/users/{user_id}/tokens", api_admin_token_list, HTTP_AUTH_ADMIN, NULL, 0},
    {"DELETE", "/admin/tokens/{token_id}", api_admin_token_delete, HTTP_AUTH_ADMIN, NULL, 0},
    {"POST", "/v1/audio/transcriptions", api_transcriptions, HTTP_AUTH_USER, NULL, 1},
    {"GET", "/v1/models", api_models, HTTP_AUTH_USER, NULL, 0},
    {"POST", "/jobs", api_job_create, HTTP_AUTH_USER, NULL, 1},
    {"GET", "/jobs/{job_id}", api_job_get, HTTP_AUTH_USER, NULL, 0},
    /* Meetings and bots: Vexa's scopes, "bot" for /bots*, "tx" for the rest. */
    {"POST", "/bots", api_bot_create, HTTP_AUTH_USER, "bot", 0},
    {"GET", "/bots/status", api_bot_status, HTTP_AUTH_USER, "bot", 0},
    {"PUT", "/bots/{platform}/{native_meeting_id}/config", api_bot_config, HTTP_AUTH_USER, "bot", 0},
    {"DELETE", "/bots/{platform}/{native_meeting_id}", api_bot_stop, HTTP_AUTH_USER, "bot", 0},
    {"GET", "/meetings", api_meeting_list, HTTP_AUTH_USER, "tx", 0},
    {"PATCH", "/meetings/{platform}/{native_meeting_id}", api_meeting_update, HTTP_AUTH_USER, "tx", 0},
    {"DELETE", "/meetings/{platform}/{native_meeting_id}", api_meeting_delete, HTTP_AUTH_USER, "tx", 0},
    {"GET", "/transcripts/{platform}/{native_meeting_id}", api_transcript_get, HTTP_AUTH_USER, "tx", 0},
    {"GET", "/recordings/{platform}/{native_meeting_id}", api_recording_get, HTTP_AUTH_USER, "tx", 0},
};

const struct http_route *api_routes(size_t *n)
{
    *n = sizeof routes / sizeof *routes;
    return routes;
}

struct api_config api_config_default(void)
{
    struct api_config c = {.default_max_concurrent_bots = 3, .rtmp_port_first = 19350};
    return c;
}

int api_new(const struct api_config *c, struct store *store, struct auth *auth,
            struct metrics *metrics, struct api **out)
{
    struct api *a = hark_calloc(1, sizeof *a);
    if (!a)
        return HARK_ENOMEM;
    a->cfg = *c;
    a->store = store;
    a->auth = auth;
    a->metrics = metrics;
    *out = a;
    return 0;
}

void api_free(struct api *a) { hark_free(a); }

void api_set_engine(struct api *a, struct asr_engine *engine, struct jobq *jobs)
{
    a->engine = engine;
    a->jobs = jobs;
}

void api_set_whisperlive(struct api *a, struct wlive *w) { a->wlive = w; }

void api_set_webhooks(struct api *a, struct webhook_queue *q, int allow_private)
{
    a->webhooks = q;
    a->webhook_allow_private = allow_private;
}

void api_set_live(struct api *a, struct live *l) { a->live = l; }

void api_set_bots(struct api *a, struct botmgr *m) { a->bots = m; }

/* X-API-Key as Vexa; "Authorization: Bearer" as OpenAI's clients send. */
static const char *api_key_of(struct http_request *req)
{
    const char *key = http_header(req, "X-API-Key");
    const char *authz = http_header(req, "Authorization");
    if ((!key || !*key) && authz && !strncasecmp(authz, "Bearer ", 7))
        key = authz + 7;
    return key;
}

/* Vexa's gateway messages, word for word: clients match on them. */
int api_authorize(void *app, struct http_request *req, struct http_response *resp)
{
    struct api *a = app;
    const struct http_route *rt = req->route;
    if (rt->auth == HTTP_AUTH_NONE)
        return 0;
    if (rt->auth == HTTP_AUTH_ADMIN) {
        if (!auth_admin_ok(a->auth, http_header(req, "X-Admin-API-Key"))) {
            (void)!http_reply_error(resp, 403, "invalid_admin_key",
                                    "Invalid or missing admin token.");
            return HARK_EPERM;
        }
        req->who.kind = HTTP_AUTH_ADMIN;
        return 0;
    }
    const char *key = api_key_of(req);
    if (!key || !*key) {
        (void)!http_reply_error(resp, 401, "missing_api_key", "Missing API key");
        return HARK_EPERM;
    }
    int rc = auth_user(a->auth, key, &req->who);
    if (rc == HARK_ENOENT) {
        (void)!http_reply_error(resp, 401, "invalid_api_key", "Invalid API key");
        return HARK_EPERM;
    }
    if (rc)
        return api_store_error(resp, rc, NULL);
    if (!auth_scope_ok(req->who.scopes, rt->scope)) {
        (void)!http_reply_error(resp, 403, "insufficient_scope",
                                "Insufficient scope for this endpoint");
        return HARK_EPERM;
    }
    return 0;
}

int api_param_id(struct http_request *req, struct http_response *resp, const char *name,
                 int64_t *out)
{
    char buf[32], loc[64];
    int n = http_param(req, name, buf, sizeof buf);
    char *end = NULL;
    errno = 0;
    long long v = n > 0 ? strtoll(buf, &end, 10) : 0;
    if (n > 0 && !errno && *end == '\0' && v > 0) {
        *out = v;
        return 0;
    }
    struct json_verr verr;
    json_verr_init(&verr);
    snprintf(loc, sizeof loc, "path.%s", name);
    json_verr_add(&verr, loc,
                  "Input should be a valid integer, unable to parse string as an integer",
                  "int_parsing", NULL);
    int rc = verr.oom ? HARK_ENOMEM : http_reply_validation(resp, verr.list);
    json_verr_release(&verr);
    return rc ? rc : HARK_EINVAL;
}

int api_body_object(struct http_request *req, struct http_response *resp, int allow_empty,
                    struct json_object **out)
{
    char err[160];
    *out = NULL;
    if (req->body_len == 0 && allow_empty) {
        *out = json_object_new_object();
        return *out ? 0 : HARK_ENOMEM;
    }
    int rc = json_parse(req->body, req->body_len, out, err, sizeof err);
    const char *msg = err;
    if (!rc && !json_object_is_type(*out, json_type_object)) {
        json_object_put(*out);
        *out = NULL;
        msg = "Input should be a valid dictionary";
        rc = HARK_EPARSE;
    }
    if (!rc)
        return 0;
    if (rc == HARK_ENOMEM)
        return rc;
    struct json_verr verr;
    json_verr_init(&verr);
    json_verr_add(&verr, "body", msg, req->body_len ? "json_invalid" : "missing", NULL);
    rc = verr.oom ? HARK_ENOMEM : http_reply_validation(resp, verr.list);
    json_verr_release(&verr);
    return rc ? rc : HARK_EPARSE;
}

int api_store_error(struct http_response *resp, int rc, const char *not_found_msg)
{
    int r;
    if (rc == HARK_ENOENT && not_found_msg)
        r = http_reply_error(resp, 404, "not_found", not_found_msg);
    else if (rc == HARK_EINVAL)
        r = http_reply_error(resp, 422, "invalid_value", "The store refused a value as invalid");
    else if (rc == HARK_EEXIST)
        r = http_reply_error(resp, 409, "conflict", "A conflicting record exists, retry");
    else if (rc == HARK_EBUSY || rc == HARK_ENOMEM) {
        http_reply_header(resp, "Retry-After", "1");
        r = http_reply_error(resp, 503, "store_unavailable", "Store is busy, retry later");
    } else
        r = http_reply_error(resp, 500, "store_error", "Internal store error");
    return r ? r : rc;
}

int api_reply_put(struct http_response *resp, int status, struct json_object *obj)
{
    if (!obj)
        return HARK_ENOMEM;
    int rc = http_reply_json(resp, status, obj);
    json_object_put(obj);
    return rc;
}

struct json_object *api_user_json(const struct store_user *u)
{
    char ts[40];
    struct json_object *o = json_object_new_object();
    struct json_object *data = json_tokener_parse(u->data_json ? u->data_json : "{}");
    if (!o || !data) {
        json_object_put(o);
        json_object_put(data);
        return NULL;
    }
    if (json_add(o, "data", data) || json_add_int(o, "id", u->id) ||
        json_add_str(o, "email", u->email) || json_add_str(o, "name", u->name) ||
        json_add_str(o, "image_url", NULL) ||
        json_add_int(o, "max_concurrent_bots", u->max_concurrent_bots) ||
        json_add_str(o, "created_at", json_time_iso(u->created_at_ms, ts, sizeof ts))) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

struct json_object *api_scopes_json(const char *csv)
{
    struct json_object *arr = json_object_new_array();
    for (const char *p = csv ? csv : ""; arr && *p;) {
        size_t len = strcspn(p, ",");
        struct json_object *s = json_object_new_string_len(p, (int)len);
        if (!s || json_object_array_add(arr, s)) {
            json_object_put(s);
            json_object_put(arr);
            return NULL;
        }
        p += len + (p[len] ? 1 : 0);
    }
    return arr;
}
