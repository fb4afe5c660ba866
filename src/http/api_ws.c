/* GET /ws — the live WebSocket, Vexa's ws.v1 control protocol.
 *
 * Auth is in-band as Vexa does it: the upgrade always succeeds, then a
 * missing or bad key gets {"type":"error","error":"missing_api_key"} (or
 * invalid_api_key) and close code 4401. Clients then send
 * subscribe/unsubscribe/ping actions; a subscribe acknowledges only the
 * meetings the caller owns, so nobody learns whether another user's meeting
 * exists. */
#include <json-c/json.h>
#include <string.h>

#include "api_private.h"
#include "hark/auth.h"
#include "hark/json.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/ws.h"

#define WS_CONTROL_MAX_BYTES 65536
#define WS_MAX_SUBSCRIPTIONS 100
#define WS_CLOSE_UNAUTHORIZED 4401

struct ws_session {
    struct api *api;
    struct http_principal who;
    const char *auth_error;      /* NULL when authenticated */
    char req_id[24];
    size_t n_subs;
    int64_t subs[WS_MAX_SUBSCRIPTIONS];
};

static int send_json(struct ws_conn *c, struct json_object *o)
{
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    int rc = s ? ws_conn_send_text(c, s, len) : HARK_ENOMEM;
    json_object_put(o);
    return rc;
}

static int send_error(struct ws_conn *c, const char *code, struct json_object *details)
{
    struct json_object *o = json_object_new_object();
    if (!o || json_add_str(o, "type", "error") || json_add_str(o, "error", code) ||
        (details && json_add(o, "details", json_object_get(details)))) {
        json_object_put(o);
        return HARK_ENOMEM;
    }
    return send_json(c, o);
}

static void sub_add(struct ws_session *s, int64_t id)
{
    for (size_t i = 0; i < s->n_subs; i++)
        if (s->subs[i] == id)
            return;
    if (s->n_subs < WS_MAX_SUBSCRIPTIONS)
        s->subs[s->n_subs++] = id;
}

static void sub_remove(struct ws_session *s, int64_t id)
{
    for (size_t i = 0; i < s->n_subs; i++)
        if (s->subs[i] == id)
            s->subs[i] = s->subs[--s->n_subs];
}

/* Checks the meetings list shape; returns NULL when valid, else the
 * details list to send (caller releases). */
static struct json_object *meetings_problems(struct json_object *meetings, int need_one)
{
    struct json_verr v;
    json_verr_init(&v);
    size_t n = json_object_is_type(meetings, json_type_array)
                   ? json_object_array_length(meetings) : 0;
    if (!json_object_is_type(meetings, json_type_array))
        json_verr_add(&v, "meetings", "Input should be a valid list", "list_type", NULL);
    else if (need_one && n == 0)
        json_verr_add(&v, "meetings", "List should have at least 1 item", "too_short", NULL);
    else if (n > WS_MAX_SUBSCRIPTIONS)
        json_verr_add(&v, "meetings", "List should have at most 100 items", "too_long", NULL);
    for (size_t i = 0; i < n && n <= WS_MAX_SUBSCRIPTIONS; i++) {
        struct json_object *m = json_object_array_get_idx(meetings, i), *f;
        static const char *const fields[] = {"platform", "native_id"};
        for (size_t k = 0; k < 2; k++) {
            char loc[64];
            snprintf(loc, sizeof loc, "meetings.%zu.%s", i, fields[k]);
            if (!json_object_object_get_ex(m, fields[k], &f) ||
                !json_object_is_type(f, json_type_string) || json_object_get_string_len(f) == 0 ||
                json_object_get_string_len(f) > 255)
                json_verr_add(&v, loc, "Field required: a non-empty string", "missing", NULL);
        }
    }
    if (v.oom) {
        json_verr_release(&v);
        return json_object_new_string("out of memory");
    }
    return v.list;
}

static int on_subscription(struct ws_session *s, struct ws_conn *c, struct json_object *req,
                           int subscribe)
{
    struct json_object *meetings = json_object_object_get(req, "meetings");
    struct json_object *bad = meetings_problems(meetings, subscribe);
    if (bad) {
        int rc = send_error(c, subscribe ? "invalid_subscribe_payload"
                                         : "invalid_unsubscribe_payload", bad);
        json_object_put(bad);
        return rc;
    }
    struct json_object *ack = json_object_new_object();
    struct json_object *list = json_object_new_array();
    int rc = (!ack || !list) ? HARK_ENOMEM : json_add(ack, "meetings", list);
    if (!ack)
        json_object_put(list);
    for (size_t i = 0; !rc && i < json_object_array_length(meetings); i++) {
        struct json_object *m = json_object_array_get_idx(meetings, i);
        const char *platform = json_object_get_string(json_object_object_get(m, "platform"));
        const char *native = json_object_get_string(json_object_object_get(m, "native_id"));
        int64_t id;
        int found = store_meeting_find(s->api->store, s->who.user_id, platform, native, &id);
        if (found == HARK_ENOENT)
            continue; /* not the caller's: silently left out, as Vexa does */
        if (found) {
            rc = found;
            break;
        }
        if (subscribe)
            sub_add(s, id);
        else
            sub_remove(s, id);
        rc = json_object_array_add(list, json_object_get(m)) ? HARK_ENOMEM : 0;
    }
    if (!rc)
        rc = json_add_str(ack, "type", subscribe ? "subscribed" : "unsubscribed");
    if (rc) {
        json_object_put(ack);
        return rc;
    }
    return send_json(c, ack);
}

static int on_message(struct ws_session *s, struct ws_conn *c, const unsigned char *data,
                      size_t len)
{
    struct json_object *req = NULL;
    char err[128];
    if (len > WS_CONTROL_MAX_BYTES || json_parse((const char *)data, len, &req, err, sizeof err) ||
        !json_object_is_type(req, json_type_object)) {
        json_object_put(req);
        return send_error(c, "invalid_json", NULL);
    }
    const char *action = json_object_get_string(json_object_object_get(req, "action"));
    int rc;
    if (action && !strcmp(action, "ping")) {
        static const char pong[] = "{\"type\":\"pong\"}";
        rc = ws_conn_send_text(c, pong, sizeof pong - 1);
    } else if (action && (!strcmp(action, "subscribe") || !strcmp(action, "unsubscribe"))) {
        rc = on_subscription(s, c, req, action[0] == 's');
    } else {
        rc = send_error(c, "unknown_action", NULL);
    }
    json_object_put(req);
    return rc;
}

static void ws_run(void *arg, int fd, const char *extra, size_t extra_len)
{
    struct ws_session *s = arg;
    struct ws_config cfg = ws_config_default();
    cfg.max_message_bytes = cfg.max_frame_bytes = WS_CONTROL_MAX_BYTES;
    struct ws_conn *c;
    if (ws_conn_new(fd, extra, extra_len, &cfg, &c)) {
        hark_free(s);
        return;
    }
    log_info("ws", "msg=\"open\" req=%s user_id=%lld", s->req_id, (long long)s->who.user_id);
    int rc = 0;
    if (s->auth_error) {
        (void)!send_error(c, s->auth_error, NULL);
        rc = ws_conn_close(c, WS_CLOSE_UNAUTHORIZED, s->auth_error);
    }
    while (!rc) {
        int op;
        const unsigned char *data;
        size_t len;
        rc = ws_conn_recv(c, &op, &data, &len);
        if (!rc)
            rc = op == WS_OPCODE_TEXT ? on_message(s, c, data, len)
                                      : send_error(c, "invalid_json", NULL);
    }
    if (rc != HARK_ECLOSED && rc != HARK_EPROTO)
        (void)!ws_conn_close(c, rc == HARK_ETIMEDOUT ? WS_CLOSE_GOING_AWAY : WS_CLOSE_INTERNAL_ERROR,
                            NULL);
    log_info("ws", "msg=\"closed\" req=%s reason=%s", s->req_id, hark_errname(rc));
    ws_conn_free(c);
    hark_free(s);
}

static void session_free(void *p) { hark_free(p); }

int api_ws(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct ws_session *s = hark_calloc(1, sizeof *s);
    if (!s)
        return HARK_ENOMEM;
    s->api = a;
    snprintf(s->req_id, sizeof s->req_id, "%s", req->id);
    const char *key = http_header(req, "X-API-Key");
    if (!key || !*key)
        key = http_query(req, "api_key");
    int rc = (key && *key) ? auth_user(a->auth, key, &s->who) : HARK_ENOENT;
    if (!key || !*key)
        s->auth_error = "missing_api_key";
    else if (rc == HARK_ENOENT)
        s->auth_error = "invalid_api_key";
    else if (rc) {
        hark_free(s);
        return api_store_error(resp, rc, NULL);
    }
    return http_reply_upgrade(req, resp, ws_run, s, session_free);
}
