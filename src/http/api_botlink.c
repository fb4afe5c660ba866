/* GET /bots/internal/link — a bot's WebSocket back to the API (botmgr.h,
 * docs/bots.md "The bot link").
 *
 * The bot authenticates with the one-time token it was started with
 * (X-Bot-Token). Text frames carry its reports:
 *   {"type":"status","status":"joining"|"awaiting_admission"|"active"}
 *   {"type":"end","reason":"source_ended"|"stopped"}
 *   {"type":"failed","detail":"<reason_detail>","message":"..."}
 * and binary frames its audio, 16 kHz mono float32 little-endian. The API
 * answers {"type":"ack","durable_ms":N} as audio becomes durable,
 * {"type":"stop"} when the user stops the bot, {"type":"done"} once an end
 * or failure is recorded, and {"type":"error","error":code,"message":..}
 * before closing on a refusal. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "api_private.h"
#include "hark/botlink.h"
#include "hark/botmgr.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/whisperlive.h"
#include "hark/ws.h"

#define LINK_MAX_MESSAGE (1 << 20)
#define LINK_TOKEN_MAX 128
#define ACK_EVERY_MS 1000
#define WS_CLOSE_REFUSED 4403

struct link_session {
    struct api *api;
    char token[LINK_TOKEN_MAX];
    char req_id[24];
    struct ws_conn *conn;
    struct botmgr_link *link;
    float *pcm;                 /* LINK_MAX_MESSAGE / 4 samples */
    int64_t acked_ms;
};

static int send_text(struct ws_conn *c, const char *s)
{
    return ws_conn_send_text(c, s, strlen(s));
}

static void on_stop(void *arg)
{
    struct link_session *s = arg;
    (void)!send_text(s->conn, "{\"type\":\"stop\"}");
}

static void refuse(struct link_session *s, const char *code, const char *message)
{
    char buf[300];
    snprintf(buf, sizeof buf, "{\"type\":\"error\",\"error\":\"%s\",\"message\":\"%s\"}", code,
             message);
    (void)!send_text(s->conn, buf);
    (void)!ws_conn_close(s->conn, WS_CLOSE_REFUSED, code);
}

/* A status the meeting may not take (it is stopping): the bot must stop. */
static int botlink_status(struct link_session *s, const char *status)
{
    int rc = botmgr_link_status(s->link, status);
    return rc == HARK_EPERM ? send_text(s->conn, "{\"type\":\"stop\"}") : rc;
}

static int on_audio(struct link_session *s, const unsigned char *data, size_t len)
{
    size_t n = 0, clamped = 0;
    int rc = wl_audio_decode(WL_FORMAT_FLOAT32, data, len, s->pcm, LINK_MAX_MESSAGE / 4, &n,
                             &clamped);
    int64_t durable = 0;
    if (!rc && n)
        rc = botmgr_link_audio(s->link, s->pcm, n, &durable);
    if (rc == HARK_EINVAL) {
        (void)!ws_conn_close(s->conn, WS_CLOSE_UNSUPPORTED_DATA, "not whole float32 samples");
        return HARK_EPROTO;
    }
    if (rc || durable < s->acked_ms + ACK_EVERY_MS)
        return rc;
    s->acked_ms = durable;
    /* Logged before it is sent: the log never claims less than the bot heard. */
    log_info("botlink", "msg=\"audio acknowledged\" meeting=%lld durable_ms=%lld",
             (long long)botmgr_link_meeting(s->link), (long long)durable);
    char ack[80];
    snprintf(ack, sizeof ack, "{\"type\":\"ack\",\"durable_ms\":%lld}", (long long)durable);
    return send_text(s->conn, ack);
}

/* A report; 1 once the bot's end is recorded. */
static int on_report(struct link_session *s, const unsigned char *data, size_t len)
{
    struct botlink_report r;
    int rc = botlink_report_parse(data, len, &r);
    if (rc == HARK_EPARSE) {
        refuse(s, "invalid_json", "a report must be a JSON object");
        return HARK_EPROTO;
    }
    if (rc) {
        refuse(s, "invalid_report", "unknown report type, status, reason or detail");
        return HARK_EPROTO;
    }
    switch (r.kind) {
    case BOTLINK_STATUS:
        rc = botlink_status(s, r.status);
        break;
    case BOTLINK_END:
        rc = botmgr_link_end(s->link, r.reason);
        rc = rc ? rc : 1;
        break;
    case BOTLINK_FAILED:
        rc = botmgr_link_fail(s->link, r.detail, r.message);
        rc = rc ? rc : 1;
        break;
    }
    return rc;
}

static int on_message(void *arg, int op, const unsigned char *data, size_t len)
{
    struct link_session *s = arg;
    return op == WS_OPCODE_BINARY ? on_audio(s, data, len) : on_report(s, data, len);
}

static void serve_link(struct link_session *s)
{
    int rc = ws_conn_serve(s->conn, on_message, s);
    if (rc == 1) {
        (void)!send_text(s->conn, "{\"type\":\"done\"}");
        (void)!ws_conn_close(s->conn, WS_CLOSE_NORMAL, NULL);
        rc = 0;
    }
    log_info("botlink", "msg=\"closed\" req=%s meeting=%lld reason=%s", s->req_id,
             (long long)botmgr_link_meeting(s->link), rc ? hark_errname(rc) : "end");
}

static void session_free(void *p)
{
    struct link_session *s = p;
    sodium_memzero(s->token, sizeof s->token);
    hark_free(s->pcm);
    hark_free(s);
}

static void link_run(void *arg, int fd, const char *extra, size_t extra_len)
{
    struct link_session *s = arg;
    struct ws_config cfg = ws_config_default();
    cfg.max_frame_bytes = cfg.max_message_bytes = LINK_MAX_MESSAGE;
    if (ws_conn_new(fd, extra, extra_len, &cfg, &s->conn)) {
        session_free(s);
        return;
    }
    int rc = botmgr_link_open(s->api->bots, s->token, on_stop, s, &s->link);
    if (rc == HARK_EPERM)
        refuse(s, "invalid_bot_token", "unknown or already used bot token");
    else if (rc == HARK_ECLOSED)
        refuse(s, "meeting_finished", "the meeting has ended");
    else if (rc)
        refuse(s, "link_failed", hark_strerror(rc));
    else
        serve_link(s);
    botmgr_link_close(s->link); /* before the conn goes: stop callbacks use it */
    ws_conn_free(s->conn);
    session_free(s);
}

int api_bot_link(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    if (!a->bots)
        return http_reply_error(resp, 503, "bots_disabled", "This server does not run bots");
    const char *token = http_header(req, "X-Bot-Token");
    if (!token || !*token || strlen(token) >= LINK_TOKEN_MAX)
        return http_reply_error(resp, 401, "invalid_bot_token", "Missing or malformed bot token");
    struct link_session *s = hark_calloc(1, sizeof *s);
    float *pcm = hark_malloc(LINK_MAX_MESSAGE);
    if (!s || !pcm) {
        hark_free(s);
        hark_free(pcm);
        return HARK_ENOMEM;
    }
    s->pcm = pcm;
    s->api = a;
    memcpy(s->token, token, strlen(token) + 1);
    snprintf(s->req_id, sizeof s->req_id, "%s", req->id);
    return http_reply_upgrade(req, resp, link_run, s, session_free);
}
