/* PUT /user/webhook: a user sets where their meeting events go (Vexa's
 * admin-api route, reached with X-API-Key); and the meeting events the API's
 * own status changes produce. */
#include <string.h>

#include "api_private.h"
#include "hark/json.h"
#include "hark/log.h"
#include "hark/meeting_events.h"
#include "hark/mem.h"
#include "hark/notify.h"
#include "hark/webhook.h"

/* Vexa v0.10's limit for webhook_secret. */
#define WEBHOOK_SECRET_MAX 512

struct hook_request {
    const char *url;
    const char *secret;           /* NULL: none */
    struct json_object *events;   /* borrowed from the body; NULL: Vexa's default */
};

/* webhook_events is a map event_type -> bool|null. */
static void check_events(struct json_object *events, struct json_verr *v)
{
    json_object_object_foreach(events, key, val) {
        (void)key;
        if (val && !json_object_is_type(val, json_type_boolean)) {
            json_verr_add(v, "body.webhook_events", "Input should be a valid boolean",
                          "bool_type", val);
            return;
        }
    }
}

static void hook_request_parse(struct json_object *body, struct hook_request *r,
                               struct json_verr *v)
{
    memset(r, 0, sizeof *r);
    int got = json_field_string(body, "webhook_url", 1, WEBHOOK_URL_MAX, v, &r->url);
    if (got == 0)
        json_verr_add(v, "body.webhook_url", "Field required", "missing", NULL);
    (void)json_field_string(body, "webhook_secret", 0, WEBHOOK_SECRET_MAX, v, &r->secret);
    if (json_field_object(body, "webhook_events", v, &r->events) == 1)
        check_events(r->events, v);
}

/* A URL that is malformed whatever the setting is a 422, as Vexa's HttpUrl
 * makes it; one refused only because it points at this host or a private
 * network is a 400 saying so. Returns 0 when the URL may be stored. */
static int check_url(struct http_response *resp, const char *url, int allow_private)
{
    char why[160], msg[240];
    if (webhook_url_check(url, 1, why, sizeof why)) {
        struct json_verr v;
        json_verr_init(&v);
        struct json_object *in = json_object_new_string(url);
        snprintf(msg, sizeof msg, "Input should be a valid URL, %s", why);
        json_verr_add(&v, "body.webhook_url", msg, "url_parsing", in);
        json_object_put(in);
        int rc = v.oom ? HARK_ENOMEM : http_reply_validation(resp, v.list);
        json_verr_release(&v);
        return rc ? rc : HARK_EINVAL;
    }
    if (!allow_private && webhook_url_check(url, 0, why, sizeof why)) {
        snprintf(msg, sizeof msg, "Invalid webhook URL: %s", why);
        int rc = http_reply_error(resp, 400, "webhook_url_refused", msg);
        return rc ? rc : HARK_EINVAL;
    }
    return 0;
}

/* Vexa's UserResponse; data carries the webhook settings, never the secret. */
static struct json_object *user_reply(const struct store_user *u, const struct hook_request *r)
{
    struct json_object *o = api_user_json(u);
    struct json_object *data = o ? json_object_object_get(o, "data") : NULL;
    if (!data || !json_object_is_type(data, json_type_object))
        return o;
    json_object_object_del(data, "webhook_secret");
    if (json_add_str(data, "webhook_url", r->url) ||
        (r->events && json_add(data, "webhook_events", json_object_get(r->events)))) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static int events_text(const struct hook_request *r, char **out)
{
    *out = NULL;
    if (!r->events)
        return 0;
    struct hbuf b;
    hbuf_init(&b, 0);
    int rc = json_append(&b, r->events);
    if (!rc && !(*out = hbuf_take(&b)))
        rc = HARK_ENOMEM;
    hbuf_release(&b);
    return rc;
}

int api_user_webhook_set(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct json_object *body;
    int rc = api_body_object(req, resp, 0, &body);
    if (rc)
        return rc;
    struct hook_request r;
    struct json_verr v;
    json_verr_init(&v);
    hook_request_parse(body, &r, &v);
    if (json_verr_count(&v) || v.oom) {
        rc = v.oom ? HARK_ENOMEM : http_reply_validation(resp, v.list);
        json_verr_release(&v);
        json_object_put(body);
        return rc ? rc : HARK_EINVAL;
    }
    json_verr_release(&v);
    char *events = NULL;
    struct store_webhook w;
    struct store_user u;
    if ((rc = check_url(resp, r.url, a->webhook_allow_private)) ||
        (rc = events_text(&r, &events))) {
        json_object_put(body);
        return rc;
    }
    rc = store_webhook_set(a->store, req->who.user_id, r.url, r.secret, events, &w);
    hark_free(events);
    if (rc) {
        json_object_put(body);
        return api_store_error(resp, rc, "User not found");
    }
    store_webhook_release(&w);
    if ((rc = store_user_get(a->store, req->who.user_id, &u))) {
        json_object_put(body);
        return api_store_error(resp, rc, "User not found");
    }
    struct json_object *o = user_reply(&u, &r);
    store_user_release(&u);
    json_object_put(body);
    return o ? api_reply_put(resp, 200, o) : HARK_ENOMEM;
}

void api_meeting_changed(struct api *a, const struct store_meeting *m, const char *from)
{
    struct notify n = {.store = a->store, .webhooks = a->webhooks, .live = a->live};
    notify_changed(&n, m, from, "user");
}
