/* Admin API (X-Admin-API-Key): users and their tokens, as Vexa's admin-api. */
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "api_private.h"
#include "hark/auth.h"
#include "hark/clock.h"
#include "hark/json.h"
#include "hark/log.h"
#include "hark/mem.h"

#define EMAIL_MAX 320
#define NAME_MAX_BYTES 255
#define DATA_MAX_BYTES 65536
#define LIST_LIMIT_MAX 1000
#define TOKEN_TTL_MAX_S (10LL * 365 * 24 * 3600)

static const char user_not_found[] = "User not found";

/* Pragmatic address check: one '@', a non-empty local part and a dotted
 * domain, no spaces or control bytes. The mailbox is never contacted. */
static int email_ok(const char *e)
{
    const char *at = strchr(e, '@');
    if (!at || at == e || strchr(at + 1, '@'))
        return 0;
    const char *dot = strrchr(at + 1, '.');
    if (!dot || dot == at + 1 || dot[1] == '\0')
        return 0;
    for (const unsigned char *p = (const unsigned char *)e; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return 0;
    return 1;
}

/* Serialises an object value to text for the store; NULL if too large. */
static const char *data_text(struct json_object *data, struct json_verr *v)
{
    size_t len;
    const char *s = json_object_to_json_string_length(data, JSON_C_TO_STRING_PLAIN, &len);
    if (!s || len > DATA_MAX_BYTES) {
        json_verr_add(v, "body.data", "Data object is too large (limit 64 KiB)",
                      "too_long", NULL);
        return NULL;
    }
    return s;
}

static int reply_verr(struct http_response *resp, struct json_verr *v)
{
    int rc = v->oom ? HARK_ENOMEM : http_reply_validation(resp, v->list);
    json_verr_release(v);
    return rc ? rc : HARK_EINVAL;
}

int api_admin_user_create(struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"email", "name", "max_concurrent_bots", "data",
                                          "image_url", NULL};
    struct api *a = api_of(req);
    struct json_object *body, *data = NULL;
    int rc = api_body_object(req, resp, 0, &body);
    if (rc)
        return rc;
    struct json_verr v;
    json_verr_init(&v);
    const char *email = NULL, *name = NULL, *image = NULL, *data_s = NULL;
    int64_t max_bots = a->cfg.default_max_concurrent_bots;
    json_forbid_extra(body, allowed, &v);
    int has_email = json_field_string(body, "email", 1, EMAIL_MAX, &v, &email);
    if (has_email == 0)
        json_verr_add(&v, "body.email", "Field required", "missing", NULL);
    else if (has_email > 0 && !email_ok(email))
        json_verr_add(&v, "body.email",
                      "value is not a valid email address: it must have exactly one @-sign "
                      "and a domain",
                      "value_error", json_object_object_get(body, "email"));
    (void)json_field_string(body, "name", 0, NAME_MAX_BYTES, &v, &name);
    (void)json_field_string(body, "image_url", 0, 2048, &v, &image);
    (void)json_field_int(body, "max_concurrent_bots", 0, 10000, &v, &max_bots);
    if (json_field_object(body, "data", &v, &data) > 0)
        data_s = data_text(data, &v);
    if (json_verr_count(&v) || v.oom) {
        json_object_put(body);
        return reply_verr(resp, &v);
    }
    struct store_user u;
    int created = 0;
    rc = store_user_create(a->store, email, name, (int)max_bots, data_s, &u, &created);
    json_object_put(body);
    if (rc)
        return api_store_error(resp, rc, NULL);
    if (created)
        log_info("api", "msg=\"user created\" req=%s user_id=%lld", req->id, (long long)u.id);
    struct json_object *o = api_user_json(&u);
    store_user_release(&u);
    return api_reply_put(resp, created ? 201 : 200, o);
}

/* Reads an optional integer query parameter within [min, max]. */
static int query_int(struct http_request *req, const char *name, long long def, long long min,
                     long long max, struct json_verr *v, long long *out)
{
    const char *s = http_query(req, name);
    *out = def;
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    char loc[64];
    snprintf(loc, sizeof loc, "query.%s", name);
    if (errno || *end || end == s) {
        json_verr_add(v, loc, "Input should be a valid integer, unable to parse string as an integer",
                      "int_parsing", NULL);
        return -1;
    }
    if (n < min || n > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "Input should be between %lld and %lld", min, max);
        json_verr_add(v, loc, msg, n < min ? "greater_than_equal" : "less_than_equal", NULL);
        return -1;
    }
    *out = n;
    return 1;
}

int api_admin_user_list(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct json_verr v;
    json_verr_init(&v);
    long long skip, limit;
    (void)query_int(req, "skip", 0, 0, INT32_MAX, &v, &skip);
    (void)query_int(req, "limit", 100, 1, LIST_LIMIT_MAX, &v, &limit);
    if (json_verr_count(&v) || v.oom)
        return reply_verr(resp, &v);
    struct store_user *users = NULL;
    size_t n = 0;
    int rc = store_user_list(a->store, (size_t)skip, (size_t)limit, &users, &n);
    if (rc)
        return api_store_error(resp, rc, NULL);
    struct json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; arr && i < n; i++) {
        struct json_object *u = api_user_json(&users[i]);
        if (!u || json_object_array_add(arr, u)) {
            json_object_put(u);
            json_object_put(arr);
            arr = NULL;
        }
    }
    store_user_list_free(users, n);
    return api_reply_put(resp, 200, arr);
}

static struct json_object *token_json(const struct store_token *t, const char *secret)
{
    char c[40], l[40], e[40];
    struct json_object *o = json_object_new_object();
    struct json_object *scopes = api_scopes_json(t->scopes);
    if (!o || !scopes) {
        json_object_put(o);
        json_object_put(scopes);
        return NULL;
    }
    int rc = json_add(o, "scopes", scopes);
    if (rc || json_add_int(o, "id", t->id) || (secret && json_add_str(o, "token", secret)) ||
        json_add_int(o, "user_id", t->user_id) || json_add_str(o, "name", t->name) ||
        json_add_str(o, "created_at", json_time_iso(t->created_at_ms, c, sizeof c)) ||
        json_add_str(o, "last_used_at",
                     t->last_used_at_ms ? json_time_iso(t->last_used_at_ms, l, sizeof l) : NULL) ||
        json_add_str(o, "expires_at",
                     t->expires_at_ms ? json_time_iso(t->expires_at_ms, e, sizeof e) : NULL)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static struct json_object *token_list_json(struct api *a, int64_t user_id, int *rc)
{
    struct store_token *toks = NULL;
    size_t n = 0;
    *rc = store_token_list(a->store, user_id, &toks, &n);
    if (*rc)
        return NULL;
    struct json_object *arr = json_object_new_array_ext((int)n);
    for (size_t i = 0; arr && i < n; i++) {
        struct json_object *t = token_json(&toks[i], NULL);
        if (!t || json_object_array_add(arr, t)) {
            json_object_put(t);
            json_object_put(arr);
            arr = NULL;
        }
    }
    store_token_list_free(toks, n);
    if (!arr)
        *rc = HARK_ENOMEM;
    return arr;
}

int api_admin_user_get(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    int64_t id;
    int rc = api_param_id(req, resp, "user_id", &id);
    if (rc)
        return rc;
    struct store_user u;
    if ((rc = store_user_get(a->store, id, &u)))
        return api_store_error(resp, rc, user_not_found);
    struct json_object *o = api_user_json(&u);
    store_user_release(&u);
    struct json_object *toks = o ? token_list_json(a, id, &rc) : NULL;
    if (!o || !toks) {
        json_object_put(o);
        return o ? api_store_error(resp, rc, user_not_found) : HARK_ENOMEM;
    }
    if (json_add(o, "api_tokens", toks)) {
        json_object_put(o);
        return HARK_ENOMEM;
    }
    return api_reply_put(resp, 200, o);
}

int api_admin_user_get_by_email(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    char email[EMAIL_MAX + 1];
    struct store_user u;
    if (http_param(req, "email", email, sizeof email) < 0)
        return api_store_error(resp, HARK_ENOENT, user_not_found);
    int rc = store_user_get_by_email(a->store, email, &u);
    if (rc)
        return api_store_error(resp, rc, user_not_found);
    struct json_object *o = api_user_json(&u);
    store_user_release(&u);
    return api_reply_put(resp, 200, o);
}

int api_admin_user_update(struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"name", "max_concurrent_bots", "data", NULL};
    struct api *a = api_of(req);
    int64_t id, max_bots = 0;
    int rc = api_param_id(req, resp, "user_id", &id);
    struct json_object *body = NULL, *data = NULL;
    if (rc || (rc = api_body_object(req, resp, 0, &body)))
        return rc;
    struct json_verr v;
    json_verr_init(&v);
    const char *name = NULL, *data_s = NULL;
    json_forbid_extra(body, allowed, &v);
    (void)json_field_string(body, "name", 0, NAME_MAX_BYTES, &v, &name);
    int has_max = json_field_int(body, "max_concurrent_bots", 0, 10000, &v, &max_bots);
    if (json_field_object(body, "data", &v, &data) > 0)
        data_s = data_text(data, &v);
    if (json_verr_count(&v) || v.oom) {
        json_object_put(body);
        return reply_verr(resp, &v);
    }
    int max_i = (int)max_bots;
    struct store_user u;
    rc = store_user_update(a->store, id, name, has_max > 0 ? &max_i : NULL, data_s, &u);
    json_object_put(body);
    if (rc)
        return api_store_error(resp, rc, user_not_found);
    struct json_object *o = api_user_json(&u);
    store_user_release(&u);
    return api_reply_put(resp, 200, o);
}

/* Scopes come from the JSON body ({"scopes": [..] | "a,b"}) or the query
 * (?scope= / ?scopes=), as Vexa's admin-api accepts both. */
static void token_scopes(struct http_request *req, struct json_object *body,
                         struct json_verr *v, char *out, size_t size)
{
    struct json_object *js = json_object_object_get(body, "scopes");
    char joined[256] = "", bad[80];
    const char *in = http_query(req, "scopes");
    const char *loc = js ? "body.scopes" : "query.scopes";
    if (!in)
        in = http_query(req, "scope");
    if (js && json_object_is_type(js, json_type_array)) {
        size_t o = 0;
        for (size_t i = 0; i < json_object_array_length(js) && o < sizeof joined; i++) {
            struct json_object *s = json_object_array_get_idx(js, i);
            int n = snprintf(joined + o, sizeof joined - o, "%s%s", i ? "," : "",
                             json_object_is_type(s, json_type_string)
                                 ? json_object_get_string(s) : "?");
            o += n > 0 ? (size_t)n : 0;
        }
        in = joined;
    } else if (js && json_object_is_type(js, json_type_string)) {
        in = json_object_get_string(js);
    } else if (js) {
        json_verr_add(v, loc, "Input should be a valid list", "list_type", js);
        return;
    }
    if (!in) {
        snprintf(out, size, "%s", AUTH_SCOPES_ALL);
        return;
    }
    if (auth_scopes_parse(in, out, size, bad, sizeof bad)) {
        char msg[160];
        snprintf(msg, sizeof msg, bad[0] ? "Unknown scope '%s': use bot, tx or browser"
                                         : "At least one scope is required%s", bad);
        json_verr_add(v, loc, msg, "value_error", NULL);
    }
}

int api_admin_token_create(struct http_request *req, struct http_response *resp)
{
    static const char *const allowed[] = {"scopes", "name", "expires_in", NULL};
    struct api *a = api_of(req);
    int64_t id, ttl = 0;
    struct json_object *body = NULL;
    int rc = api_param_id(req, resp, "user_id", &id);
    if (rc || (rc = api_body_object(req, resp, 1, &body)))
        return rc;
    struct json_verr v;
    json_verr_init(&v);
    const char *name = http_query(req, "name");
    char scopes[64];
    json_forbid_extra(body, allowed, &v);
    token_scopes(req, body, &v, scopes, sizeof scopes);
    (void)json_field_string(body, "name", 0, NAME_MAX_BYTES, &v, &name);
    if (json_field_int(body, "expires_in", 1, TOKEN_TTL_MAX_S, &v, &ttl) == 0) {
        long long q;
        if (query_int(req, "expires_in", 0, 1, TOKEN_TTL_MAX_S, &v, &q) > 0)
            ttl = q;
    }
    if (json_verr_count(&v) || v.oom) {
        json_object_put(body);
        return reply_verr(resp, &v);
    }
    char secret[AUTH_TOKEN_LEN + 1];
    unsigned char hash[32];
    auth_token_generate(a->auth, secret, sizeof secret, hash);
    int64_t expires = ttl ? clock_now_ms() + ttl * 1000 : 0;
    struct store_token t;
    rc = store_token_create(a->store, id, hash, scopes, name, expires, &t);
    json_object_put(body);
    if (rc)
        return api_store_error(resp, rc, user_not_found);
    log_info("api", "msg=\"token created\" req=%s user_id=%lld token_id=%lld scopes=%s", req->id,
             (long long)id, (long long)t.id, scopes);
    struct json_object *o = token_json(&t, secret);
    store_token_release(&t);
    return api_reply_put(resp, 201, o);
}

int api_admin_token_list(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    int64_t id;
    int rc = api_param_id(req, resp, "user_id", &id);
    if (rc)
        return rc;
    struct store_user u;
    if ((rc = store_user_get(a->store, id, &u)))
        return api_store_error(resp, rc, user_not_found);
    store_user_release(&u);
    struct json_object *arr = token_list_json(a, id, &rc);
    return arr ? api_reply_put(resp, 200, arr) : api_store_error(resp, rc, NULL);
}

int api_admin_token_delete(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    int64_t id;
    int rc = api_param_id(req, resp, "token_id", &id);
    if (rc)
        return rc;
    if ((rc = store_token_delete(a->store, id)))
        return api_store_error(resp, rc, "Token not found");
    log_info("api", "msg=\"token revoked\" req=%s token_id=%lld", req->id, (long long)id);
    http_reply_empty(resp, 204);
    return 0;
}
