/* hark bot — one meeting participant, started by `hark serve`'s bot manager
 * (botmgr.h, docs/bots.md). It reads its source (source.h), reports its
 * state and sends its audio over the link, and leaves when the source ends,
 * the server tells it to stop, or the link drops.
 *
 *   hark bot --link HOST:PORT --meeting ID --source URL [--realtime 0|1]
 *
 * The link token comes in HARK_BOT_TOKEN (the environment, not argv, which
 * every user of the machine can read). Exit status: 0 when the end was
 * recorded, 1 when the source failed, 2 for usage, 3 when the link was lost. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "bin.h"
#include "hark/botlink.h"
#include "hark/json.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/source.h"
#include "hark/ws.h"

#define CHUNK_SAMPLES 1600          /* 100 ms per audio message */
#define READ_WAIT_MS 200            /* bounds how late a stop is seen */
#define CONNECT_MS 5000

struct bot {
    struct ws_conn *conn;
    long long meeting;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int stop, done, lost;
    long long acked_ms;
};

struct bot_args {
    char host[256];
    int port;
    long long meeting;
    const char *source;
    int realtime;
};

static int usage(const char *why)
{
    fprintf(stderr, "hark bot: %s\nusage: hark bot --link HOST:PORT --meeting ID --source URL "
            "[--realtime 0|1]   (token in HARK_BOT_TOKEN)\n", why);
    return 2;
}

static int parse_link(const char *s, struct bot_args *a)
{
    const char *colon = strrchr(s, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    size_t n = colon ? (size_t)(colon - s) : 0;
    if (!colon || !n || n >= sizeof a->host || *end || port < 1 || port > 65535)
        return -1;
    memcpy(a->host, s, n);
    a->host[n] = '\0';
    a->port = (int)port;
    return 0;
}

static int parse_args(int argc, char **argv, struct bot_args *a)
{
    memset(a, 0, sizeof *a);
    a->realtime = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!v)
            return usage("a flag lacks its value");
        if (!strcmp(k, "--link") && !parse_link(v, a))
            continue;
        if (!strcmp(k, "--meeting") && (a->meeting = strtoll(v, &end, 10)) > 0 && !*end)
            continue;
        if (!strcmp(k, "--source")) {
            a->source = v;
            continue;
        }
        if (!strcmp(k, "--realtime") && (!strcmp(v, "0") || !strcmp(v, "1"))) {
            a->realtime = v[0] == '1';
            continue;
        }
        fprintf(stderr, "hark bot: bad argument %s %s\n", k, v);
        return 2;
    }
    return a->port && a->meeting && a->source ? 0 : usage("--link, --meeting and --source are "
                                                          "required");
}

/* --- the link ------------------------------------------------------------------- */

static void set_flag(struct bot *b, int *flag)
{
    pthread_mutex_lock(&b->lock);
    *flag = 1;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
}

static int get_flag(struct bot *b, const int *flag)
{
    pthread_mutex_lock(&b->lock);
    int v = *flag;
    pthread_mutex_unlock(&b->lock);
    return v;
}

static void on_server_message(struct bot *b, const unsigned char *data, size_t len)
{
    struct botlink_reply r;
    if (botlink_reply_parse(data, len, &r))
        return; /* a newer server's message this bot does not know */
    if (r.kind == BOTLINK_STOP)
        set_flag(b, &b->stop);
    else if (r.kind == BOTLINK_DONE)
        set_flag(b, &b->done);
    else if (r.kind == BOTLINK_ACK)
        b->acked_ms = r.durable_ms;
    else
        log_error("bot", "msg=\"refused by the server\" meeting=%lld error=%s", b->meeting,
                  r.error);
}

static void *reader(void *arg)
{
    struct bot *b = arg;
    int op;
    const unsigned char *data;
    size_t len;
    while (!ws_conn_recv(b->conn, &op, &data, &len))
        if (op == WS_OPCODE_TEXT)
            on_server_message(b, data, len);
    set_flag(b, &b->lost);
    return NULL;
}

static int report(struct bot *b, const char *json)
{
    return ws_conn_send_text(b->conn, json, strlen(json));
}

static void report_failure(struct bot *b, const char *detail, const char *message)
{
    struct json_object *o = json_object_new_object();
    if (o && !json_add_str(o, "type", "failed") && !json_add_str(o, "detail", detail) &&
        !json_add_str(o, "message", message))
        (void)!report(b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
}

/* Until the server recorded the end (1) or the link is gone (0). */
static int wait_done(struct bot *b)
{
    pthread_mutex_lock(&b->lock);
    while (!b->done && !b->lost)
        pthread_cond_wait(&b->changed, &b->lock);
    int done = b->done;
    pthread_mutex_unlock(&b->lock);
    return done;
}

/* --- the source ------------------------------------------------------------------- */

/* Reads and sends until the source ends, fails, or a stop comes. 0 when
 * the end was reported, 1 when a failure was, 3 when the link is gone. A
 * live source (rtmp) waits for its publisher in "awaiting_admission" and
 * turns "active" with its first audio. */
static int pump(struct bot *b, struct source *src, float *buf, int live)
{
    int active = !live;
    for (;;) {
        if (get_flag(b, &b->stop))
            return report(b, "{\"type\":\"end\",\"reason\":\"stopped\"}") ? 3 : 0;
        if (get_flag(b, &b->lost))
            return 3;
        size_t n = 0;
        int rc = source_read(src, buf, CHUNK_SAMPLES, &n, READ_WAIT_MS);
        if (!rc && !active && report(b, "{\"type\":\"status\",\"status\":\"active\"}"))
            return 3;
        active |= !rc;
        if (!rc && ws_conn_send_binary(b->conn, buf, n * sizeof *buf))
            return 3;
        if (!rc || rc == HARK_EAGAIN)
            continue;
        if (rc == HARK_ECLOSED)
            return report(b, "{\"type\":\"end\",\"reason\":\"source_ended\"}") ? 3 : 0;
        report_failure(b, rc == HARK_ETIMEDOUT ? "no_publisher" : "source_error",
                       source_error(src));
        return 1;
    }
}

static int run(struct bot *b, const struct bot_args *a)
{
    if (report(b, "{\"type\":\"status\",\"status\":\"joining\"}"))
        return 3;
    struct source_config sc = source_config_default();
    sc.url = a->source;
    sc.realtime = a->realtime;
    struct source *src = NULL;
    char why[300];
    int rc = source_open(&sc, &src, why, sizeof why);
    if (rc) {
        log_error("bot", "msg=\"cannot open the source\" meeting=%lld err=%s why=\"%s\"",
                  b->meeting, hark_strerror(rc), why);
        report_failure(b, "source_unavailable", why);
        return wait_done(b) ? 1 : 3;
    }
    int live = !strncmp(a->source, "rtmp://", 7);
    float *buf = hark_malloc(CHUNK_SAMPLES * sizeof *buf);
    rc = !buf ? 1
              : report(b, live ? "{\"type\":\"status\",\"status\":\"awaiting_admission\"}"
                               : "{\"type\":\"status\",\"status\":\"active\"}")
                    ? 3 : pump(b, src, buf, live);
    hark_free(buf);
    source_free(src);
    if (rc == 3 || !wait_done(b))
        return 3;
    return rc;
}

int cmd_bot(int argc, char **argv)
{
    struct bot_args a;
    int rc = parse_args(argc, argv, &a);
    const char *token = getenv("HARK_BOT_TOKEN");
    if (rc)
        return rc;
    if (!token || !*token || strlen(token) > 120 || strchr(token, '\r') || strchr(token, '\n'))
        return usage("HARK_BOT_TOKEN is missing or malformed");
    char header[160];
    snprintf(header, sizeof header, "X-Bot-Token: %s\r\n", token);
    struct bot b = {.meeting = a.meeting};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.changed, NULL);
    rc = ws_client_connect(a.host, a.port, "/bots/internal/link", header, CONNECT_MS, &b.conn);
    if (rc) {
        log_error("bot", "msg=\"cannot reach the server\" meeting=%lld link=%s:%d err=%s",
                  a.meeting, a.host, a.port, hark_strerror(rc));
        return 3;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, reader, &b)) {
        ws_conn_free(b.conn);
        return 3;
    }
    rc = run(&b, &a);
    (void)!ws_conn_close(b.conn, WS_CLOSE_NORMAL, NULL);
    pthread_join(t, NULL);
    log_info("bot", "msg=\"leaving\" meeting=%lld acked_ms=%lld status=%d", a.meeting,
             b.acked_ms, rc);
    ws_conn_free(b.conn);
    pthread_cond_destroy(&b.changed);
    pthread_mutex_destroy(&b.lock);
    return rc;
}
