/* GET /ws — the live WebSocket, Vexa's ws.v1 control protocol.
 *
 * Auth is in-band as Vexa does it: the upgrade always succeeds, then a
 * missing or bad key gets {"type":"error","error":"missing_api_key"} (or
 * invalid_api_key) and close code 4401. Clients then send
 * subscribe/unsubscribe/ping actions; a subscribe acknowledges only the
 * meetings the caller owns, so nobody learns whether another user's meeting
 * exists.
 *
 * Delivery: with a live hub (live.h), each session holds a live_sub and a
 * sender thread that writes its messages beside the reader thread (ws_conn
 * sends are thread-safe). A subscribe may carry "last_event_id" to replay
 * what the client missed; a subscriber too slow for its backlog bound is
 * closed with 1008 so it reconnects with its last event id (ws.v1's error
 * codes are a closed list, so lagging is not an error message). The
 * protocol as served is in docs/websocket.md. */
#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "api_private.h"
#include "hark/auth.h"
#include "hark/json.h"
#include "hark/live.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/ws.h"

#define WS_CONTROL_MAX_BYTES 65536
#define WS_MAX_SUBSCRIPTIONS 100
#define WS_CLOSE_UNAUTHORIZED 4401
#define WS_LAGGING_REASON "too slow: reconnect with last_event_id"

struct ws_session {
    struct api *api;
    struct http_principal who;
    const char *auth_error;      /* NULL when authenticated */
    char req_id[24];
    size_t n_subs;
    int64_t subs[WS_MAX_SUBSCRIPTIONS];
    struct ws_conn *conn;
    struct live_sub *live;       /* NULL: the api has no hub */
    /* Held by the reader from a subscribe to its ack and by the sender
     * around each message, so the ack goes out before what it enables. */
    pthread_mutex_t order;
    pthread_t sender;
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

/* 0: newly subscribed; 1: it already was; -1: the session is full. */
static int sub_add(struct ws_session *s, int64_t id)
{
    for (size_t i = 0; i < s->n_subs; i++)
        if (s->subs[i] == id)
            return 1;
    if (s->n_subs == WS_MAX_SUBSCRIPTIONS)
        return -1;
    s->subs[s->n_subs++] = id;
    return 0;
}

static void sub_remove(struct ws_session *s, int64_t id)
{
    for (size_t i = 0; i < s->n_subs; i++)
        if (s->subs[i] == id)
            s->subs[i] = s->subs[--s->n_subs];
}

/* Checks the meetings list shape and, for a subscribe, the optional
 * "last_event_id" (*last_event_id, 0 when absent); returns NULL when valid,
 * else the details list to send (caller releases). */
static struct json_object *subscription_problems(struct json_object *req, int subscribe,
                                                 int64_t *last_event_id)
{
    struct json_object *meetings = json_object_object_get(req, "meetings");
    struct json_verr v;
    json_verr_init(&v);
    *last_event_id = 0;
    struct json_object *last = subscribe ? json_object_object_get(req, "last_event_id") : NULL;
    /* json-c clamps integers that overflow to INT64_MAX: refused as well */
    int64_t n_last = json_object_get_int64(last);
    if (last && !json_object_is_type(last, json_type_int))
        json_verr_add(&v, "last_event_id", "Input should be a valid integer", "int_type", last);
    else if (last && (n_last < 0 || n_last == INT64_MAX))
        json_verr_add(&v, "last_event_id", "Input should be a non-negative event id",
                      "greater_than_equal", last);
    else if (last)
        *last_event_id = n_last;
    size_t n = json_object_is_type(meetings, json_type_array)
                   ? json_object_array_length(meetings) : 0;
    if (!json_object_is_type(meetings, json_type_array))
        json_verr_add(&v, "meetings", "Input should be a valid list", "list_type", NULL);
    else if (subscribe && n == 0)
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
    int64_t last_event_id;
    struct json_object *bad = subscription_problems(req, subscribe, &last_event_id);
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
    int gap = 0;
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
        if (subscribe) {
            int added = sub_add(s, id);
            if (added < 0)
                continue; /* over the limit: not subscribed, so not acknowledged */
            if (added == 0 && s->live) {
                int g = 0;
                rc = live_sub_add(s->live, id, last_event_id, &g);
                if (rc) {
                    sub_remove(s, id);
                    break;
                }
                gap |= g;
            }
        } else {
            sub_remove(s, id);
            if (s->live)
                live_sub_remove(s->live, id);
        }
        rc = json_object_array_add(list, json_object_get(m)) ? HARK_ENOMEM : 0;
    }
    if (!rc)
        rc = json_add_str(ack, "type", subscribe ? "subscribed" : "unsubscribed");
    if (!rc && gap) /* events after last_event_id are gone: re-read the transcript */
        rc = json_add_bool(ack, "replay_gap", 1);
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
        pthread_mutex_lock(&s->order);
        rc = on_subscription(s, c, req, action[0] == 's');
        pthread_mutex_unlock(&s->order);
    } else {
        rc = send_error(c, "unknown_action", NULL);
    }
    json_object_put(req);
    return rc;
}

/* Sends the session's live messages until live_sub_close(). Ends the
 * connection itself when the client falls too far behind or a send fails,
 * which also wakes the reader. */
static void *sender_main(void *arg)
{
    struct ws_session *s = arg;
    for (;;) {
        char *text;
        size_t len;
        int rc = live_sub_next(s->live, -1, &text, &len);
        if (rc == HARK_ECLOSED)
            break;
        if (rc == HARK_ETOOBIG) {
            log_info("ws", "msg=\"subscriber too slow, closing\" req=%s", s->req_id);
            (void)!ws_conn_close(s->conn, WS_CLOSE_POLICY, WS_LAGGING_REASON);
            break;
        }
        if (rc) {
            log_warn("ws", "msg=\"live delivery failed\" req=%s err=%s", s->req_id,
                     hark_errname(rc));
            (void)!ws_conn_close(s->conn, WS_CLOSE_INTERNAL_ERROR, NULL);
            break;
        }
        pthread_mutex_lock(&s->order);
        rc = ws_conn_send_text(s->conn, text, len);
        pthread_mutex_unlock(&s->order);
        hark_free(text);
        if (rc) {
            if (rc != HARK_ECLOSED)
                (void)!ws_conn_close(s->conn, WS_CLOSE_GOING_AWAY, NULL);
            break;
        }
    }
    return NULL;
}

static int sender_start(struct ws_session *s)
{
    int rc = live_sub_new(s->api->live, &s->live);
    if (rc)
        return rc;
    if (pthread_create(&s->sender, NULL, sender_main, s)) {
        live_sub_free(s->live);
        s->live = NULL;
        return HARK_ENOMEM;
    }
    return 0;
}

static void sender_stop(struct ws_session *s)
{
    if (!s->live)
        return;
    live_sub_close(s->live);
    pthread_join(s->sender, NULL);
    live_sub_free(s->live);
    s->live = NULL;
}

static int on_frame(void *arg, int op, const unsigned char *data, size_t len)
{
    struct ws_session *s = arg;
    return op == WS_OPCODE_TEXT ? on_message(s, s->conn, data, len)
                                : send_error(s->conn, "invalid_json", NULL);
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
    s->conn = c;
    pthread_mutex_init(&s->order, NULL);
    int rc = 0;
    if (s->auth_error) {
        (void)!send_error(c, s->auth_error, NULL);
        rc = ws_conn_close(c, WS_CLOSE_UNAUTHORIZED, s->auth_error);
    } else if (s->api->live) {
        rc = sender_start(s);
    }
    if (!rc)
        rc = ws_conn_serve(c, on_frame, s);
    if (rc != HARK_ECLOSED && rc != HARK_EPROTO)
        (void)!ws_conn_close(c, rc == HARK_ETIMEDOUT ? WS_CLOSE_GOING_AWAY : WS_CLOSE_INTERNAL_ERROR,
                            NULL);
    sender_stop(s);
    log_info("ws", "msg=\"closed\" req=%s reason=%s", s->req_id, hark_errname(rc));
    ws_conn_free(c);
    pthread_mutex_destroy(&s->order);
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
