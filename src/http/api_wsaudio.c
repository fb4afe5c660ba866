/* GET /ws/audio and the no-key WhisperLive listener: one connection is one
 * `stream` meeting, named by the client's uid, and gets its segments back
 * in WhisperLive's shapes (whisperlive.h, docs/whisperlive.md).
 *
 * The upgrade thread reads messages and appends the audio to the meeting's
 * pipeline (pipeline.h: audio log, stream, store, /ws, webhooks). The
 * pipeline's collector thread hands every stream event to this connection
 * too (observe()), which sends the segments message (ws_conn sends are safe
 * beside a reader). The client's end (END_OF_AUDIO or closing) ends the
 * meeting: what was received is transcribed, then it completes with
 * reason_detail "source_ended". */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_private.h"
#include "hark/asr.h"
#include "hark/auth.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/notify.h"
#include "hark/pipeline.h"
#include "hark/whisperlive.h"
#include "hark/ws.h"

#define STOP_WAIT_MS 120000    /* wlive_stop() waits this long for sessions: each
                                  transcribes its tail before it ends */
/* WhisperLive names its backend; its own client keeps completed segments
 * only for "faster_whisper", whose segment semantics Hark's follow. */
#define WL_BACKEND "faster_whisper"
/* WAIT carries minutes until a slot frees. WhisperLive derives it from its
 * connection time limit; Hark has none, so it suggests a retry in a minute. */
#define WAIT_MINUTES 1.0

struct session {
    struct wlive *w;
    int64_t user_id;
    char req_id[24];
    char uid[WL_UID_MAX + 1];   /* written under w->lock */
    struct ws_conn *conn;       /* set under w->lock once the socket is ours */
    int64_t meeting_id;         /* set under w->lock once bound */
    struct pipeline_run *run;
    struct wl_transcript *tr;   /* guarded by lock */
    struct hbuf msg;            /* guarded by lock */
    pthread_mutex_t lock;
    uint64_t fed;               /* samples fed; reader thread only */
    int warned_clamp, send_failed;
    struct session *next;       /* w->sessions */
};

struct wlive {
    struct pipeline *pipeline;
    struct notify notify;
    struct http_server *listener;
    char *listen_user;          /* email or id, resolved per connection */
    pthread_mutex_t lock;
    pthread_cond_t idle;        /* a session ended */
    struct session *sessions;
    int stopping;
};

struct wlive_config wlive_config_default(void)
{
    struct wlive_config c = {.listen = NULL, .user = NULL, .http = http_config_default()};
    return c;
}

/* --- sending --------------------------------------------------------------- */

static int send_buf(struct session *s, struct hbuf *b)
{
    int rc = ws_conn_send_text(s->conn, b->data ? b->data : "", b->len);
    hbuf_reset(b);
    return rc;
}

static int send_status(struct session *s, const char *status, const char *message)
{
    struct hbuf b;
    hbuf_init(&b, 0);
    int rc = wl_msg_status(&b, s->uid, status, message);
    if (!rc)
        rc = send_buf(s, &b);
    hbuf_release(&b);
    return rc;
}

/* The peer's close after ours, so the close handshake completes. */
static void finish_close(struct session *s, uint16_t code)
{
    (void)!ws_conn_close(s->conn, code, NULL);
    int op;
    const unsigned char *data;
    size_t len;
    while (!ws_conn_recv(s->conn, &op, &data, &len))
        ;
}

/* An ERROR the client can read, then the close. */
static void refuse(struct session *s, uint16_t code, const char *message)
{
    (void)!send_status(s, "ERROR", message);
    finish_close(s, code);
}

/* The pipeline's observer: on its collector thread, for every event. */
static void observe(void *arg, const struct stream_event *ev)
{
    struct session *s = arg;
    int wrote = 0;
    pthread_mutex_lock(&s->lock);
    int rc = wl_transcript_event(s->tr, ev);
    if (!rc)
        rc = wl_transcript_message(s->tr, &s->msg, &wrote);
    if (!rc && wrote)
        rc = send_buf(s, &s->msg);
    int first = rc && !s->send_failed;
    s->send_failed |= rc != 0;
    pthread_mutex_unlock(&s->lock);
    if (first && rc != HARK_ECLOSED) /* the client would wait for segments in vain */
        log_warn("wlive", "msg=\"cannot send segments\" req=%s err=%s", s->req_id,
                 hark_errname(rc));
}

/* --- the meeting ----------------------------------------------------------------- */

static int uid_ok(const char *u)
{
    size_t n = strlen(u);
    return n >= 1 && n <= WL_UID_MAX &&
           strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

/* The user's stream meeting named by the uid: one POST /bots created and
 * left "requested", or a new one. Refuses (and returns HARK_EPERM) a uid
 * that is live already or over the user's limit. */
static int find_meeting(struct session *s, struct store_meeting *m)
{
    struct store *st = s->w->notify.store;
    int rc = store_meeting_get_native(st, s->user_id, "stream", s->uid, m);
    if (!rc && !store_meeting_status_final(m->status)) {
        if (!strcmp(m->status, "requested"))
            return 0;
        refuse(s, WS_CLOSE_POLICY, "this uid is already streaming; use another uid");
        return HARK_EPERM;
    }
    store_meeting_release(m);
    if (rc && rc != HARK_ENOENT)
        return rc;
    struct store_meeting_new nm = {.platform = "stream", .native_meeting_id = s->uid,
                                   .data_json = "{\"source\":\"ws_audio\"}",
                                   .bot_driver = "ws_audio"};
    int limit = 0;
    rc = store_meeting_create(st, s->user_id, &nm, m, &limit);
    if (rc == HARK_EAGAIN || rc == HARK_EEXIST) {
        char msg[160];
        snprintf(msg, sizeof msg, rc == HARK_EEXIST ? "this uid is already streaming; use "
                 "another uid" : "Maximum concurrent bots limit reached "
                 "(max_concurrent_bots = %d); end a stream first", limit);
        refuse(s, WS_CLOSE_POLICY, msg);
        return HARK_EPERM;
    }
    return rc;
}

/* Moves the meeting to `to` (requested → joining → active, or an end). */
static int move(struct session *s, const struct store_status_change *c)
{
    int rc = notify_status(&s->w->notify, s->meeting_id, c, "bot_callback", NULL, NULL);
    if (rc && rc != HARK_EPERM)
        log_error("wlive", "msg=\"cannot move meeting\" meeting=%lld to=%s err=%s",
                  (long long)s->meeting_id, c->to, hark_strerror(rc));
    return rc;
}

/* Binds the connection to its meeting and opens the meeting's pipeline. */
static int bind_meeting(struct session *s, const struct wl_options *o)
{
    char q[WL_UID_MAX + 8];
    if (!uid_ok(s->uid)) {
        refuse(s, WS_CLOSE_POLICY, "uid must be 1-128 letters, digits, '.', '_', ':' or '-': "
               "it names the stream meeting");
        return HARK_EINVAL;
    }
    struct store_meeting m;
    int rc = find_meeting(s, &m);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->w->lock);
    s->meeting_id = m.id;
    pthread_mutex_unlock(&s->w->lock);
    rc = pipeline_run_open(s->w->pipeline, &m, o->speaker, observe, s, &s->run);
    store_meeting_release(&m);
    if (rc == HARK_EBUSY) {
        struct hbuf b;
        hbuf_init(&b, 0);
        if (!wl_msg_wait(&b, s->uid, WAIT_MINUTES))
            (void)!send_buf(s, &b);
        hbuf_release(&b);
        finish_close(s, WS_CLOSE_NORMAL);
        struct store_status_change c = {.to = "failed", .failure_stage = "requested",
                                        .reason_detail = "no_stream_free"};
        (void)move(s, &c);
        log_info("wlive", "msg=\"refused: streams full\" req=%s", s->req_id);
        return rc;
    }
    struct store_status_change joining = {.to = "joining"}, active = {.to = "active"};
    if (!rc && !(rc = move(s, &joining)))
        rc = move(s, &active);
    if (rc) {
        refuse(s, WS_CLOSE_INTERNAL_ERROR, "cannot start a stream, try again later");
        return rc;
    }
    log_info("wlive", "msg=\"stream open\" req=%s meeting=%lld user_id=%lld uid=%s",
             s->req_id, (long long)s->meeting_id, (long long)s->user_id,
             log_quote(q, sizeof q, s->uid));
    return 0;
}

static int stopping(struct wlive *w)
{
    pthread_mutex_lock(&w->lock);
    int st = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return st;
}

/* The client is gone or done: transcribe the rest, then end the meeting
 * as the user, the server or the client ended it. */
static void end_meeting(struct session *s)
{
    int rc = pipeline_run_finish(s->run);
    struct store_meeting m;
    const char *status = "active";
    int have = !store_meeting_get(s->w->notify.store, s->user_id, s->meeting_id, &m);
    if (have)
        status = m.status;
    struct store_status_change c = {.to = "completed", .completion_reason = "stopped",
                                    .reason_detail = "source_ended"};
    if (!strcmp(status, "stopping"))
        c.reason_detail = "stopped_by_user";
    else if (rc || stopping(s->w))
        c = (struct store_status_change){.to = "failed", .failure_stage = "active",
                                         .reason_detail = rc ? "transcription_failed"
                                                             : "server_shutdown"};
    if (!have || !store_meeting_status_final(status))
        (void)move(s, &c);
    if (have)
        store_meeting_release(&m);
}

/* --- the reader (upgrade thread) -------------------------------------------------- */

static int feed_audio(struct session *s, const struct wl_options *o, const unsigned char *data,
                      size_t len)
{
    size_t n = len / wl_format_bytes(o->format), got, clamped;
    float *pcm = hark_malloc((n ? n : 1) * sizeof *pcm);
    if (!pcm)
        return HARK_ENOMEM;
    int rc = wl_audio_decode(o->format, data, len, pcm, n, &got, &clamped);
    if (rc) {
        hark_free(pcm);
        refuse(s, WS_CLOSE_UNSUPPORTED_DATA,
               rc == HARK_EINVAL ? "audio message length is not a whole number of samples "
                                   "for its audio_format"
                                 : "audio message larger than 1 MiB");
        return HARK_EPROTO;
    }
    if (got)
        rc = pipeline_run_append(s->run, pcm, got);
    hark_free(pcm);
    if (!rc && clamped && !s->warned_clamp) {
        s->warned_clamp = 1;
        rc = send_status(s, "WARNING",
                         "audio samples outside [-1, 1] or not numbers were clamped: "
                         "is audio_format right?");
    }
    s->fed += got;
    return rc;
}

/* One message after the options. 1 when END_OF_AUDIO came. */
static int on_message(struct session *s, const struct wl_options *o, int op,
                      const unsigned char *data, size_t len)
{
    struct wl_control c;
    char err[160];
    int rc = wl_control_parse(data, len, op == WS_OPCODE_BINARY, &c, err, sizeof err);
    if (rc == HARK_ENOENT)
        return feed_audio(s, o, data, len);
    if (rc == HARK_ENOMEM)
        return rc;
    if (rc) {
        refuse(s, WS_CLOSE_POLICY, err);
        return HARK_EPROTO;
    }
    if (c.kind == WL_CONTROL_END)
        return 1;
    pthread_mutex_lock(&s->lock);
    rc = wl_transcript_speaker(s->tr, (int64_t)(s->fed * 1000 / ASR_RATE), c.speaker);
    pthread_mutex_unlock(&s->lock);
    if (!rc)
        pipeline_run_speaker(s->run, c.speaker);
    return rc;
}

struct stream_msg_ctx {
    struct session *s;
    const struct wl_options *o;
};

static int on_stream_message(void *arg, int op, const unsigned char *data, size_t len)
{
    struct stream_msg_ctx *x = arg;
    return on_message(x->s, x->o, op, data, len);
}

/* Reads messages until the client is done or gone; either way the meeting
 * is transcribed to its end (the observer sends the last segments) and
 * ended. */
static int run_stream(struct session *s, const struct wl_options *o)
{
    struct stream_msg_ctx ctx = {s, o};
    int rc = ws_conn_serve(s->conn, on_stream_message, &ctx);
    end_meeting(s);
    if (rc == 1) {
        finish_close(s, stopping(s->w) ? WS_CLOSE_GOING_AWAY : WS_CLOSE_NORMAL);
        rc = 0;
    }
    return rc;
}

static int send_ready(struct session *s, const struct wl_options *o)
{
    struct hbuf b;
    hbuf_init(&b, 0);
    int rc = wl_msg_ready(&b, s->uid, WL_BACKEND);
    if (!rc)
        rc = send_buf(s, &b);
    hbuf_release(&b);
    if (!rc && (o->unsupported & WL_UNSUPPORTED_TRANSLATION))
        rc = send_status(s, "WARNING", "enable_translation is not supported; ignored");
    if (!rc && (o->unsupported & WL_UNSUPPORTED_DIARIZATION))
        rc = send_status(s, "WARNING",
                         "enable_diarization is not supported; send {\"speaker\": ...} instead");
    return rc;
}

/* The whole protocol on one connection, after the socket is ours. */
static int serve_session(struct session *s)
{
    int op;
    const unsigned char *data;
    size_t len;
    int rc = ws_conn_recv(s->conn, &op, &data, &len);
    if (rc)
        return rc;
    struct wl_options o;
    char err[200];
    rc = wl_options_parse(data, len, &o, err, sizeof err);
    pthread_mutex_lock(&s->w->lock); /* wlive_stop() reads it */
    memcpy(s->uid, o.uid, sizeof s->uid);
    pthread_mutex_unlock(&s->w->lock);
    if (rc == HARK_ENOMEM)
        return rc;
    if (rc) {
        refuse(s, WS_CLOSE_POLICY, err);
        return rc;
    }
    if ((rc = wl_transcript_new(&o, &s->tr)) != 0)
        return rc;
    if ((rc = bind_meeting(s, &o)) != 0)
        return rc;
    if ((rc = send_ready(s, &o)) != 0) {
        end_meeting(s);
        return rc;
    }
    return run_stream(s, &o);
}

static void session_free(struct session *s)
{
    pipeline_run_free(s->run);
    wl_transcript_free(s->tr);
    hbuf_release(&s->msg);
    pthread_mutex_destroy(&s->lock);
    hark_free(s);
}

/* Forgets s in w's list; frees it. */
static void session_end(void *arg)
{
    struct session *s = arg;
    struct wlive *w = s->w;
    pthread_mutex_lock(&w->lock);
    for (struct session **pp = &w->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
    session_free(s);
}

static void session_run(void *arg, int fd, const char *extra, size_t extra_len)
{
    struct session *s = arg;
    struct ws_config cfg = ws_config_default();
    cfg.max_frame_bytes = cfg.max_message_bytes = WL_FRAME_MAX_BYTES;
    struct ws_conn *c;
    if (ws_conn_new(fd, extra, extra_len, &cfg, &c)) {
        session_end(s);
        return;
    }
    pthread_mutex_lock(&s->w->lock);
    int stop = s->w->stopping;
    if (!stop)
        s->conn = c;
    pthread_mutex_unlock(&s->w->lock);
    int rc = HARK_ECLOSED;
    if (stop)
        (void)!ws_conn_close(c, WS_CLOSE_GOING_AWAY, NULL);
    else
        rc = serve_session(s);
    /* A no-op when a close already went out (refusals, the peer's close). */
    if (rc && rc != HARK_ECLOSED)
        (void)!ws_conn_close(c, rc == HARK_ETIMEDOUT ? WS_CLOSE_GOING_AWAY
                                                      : WS_CLOSE_INTERNAL_ERROR, NULL);
    pthread_mutex_lock(&s->w->lock);
    s->conn = NULL;
    pthread_mutex_unlock(&s->w->lock);
    uint64_t fed = s->fed;
    ws_conn_free(c);
    log_info("wlive", "msg=\"closed\" req=%s audio_ms=%llu reason=%s", s->req_id,
             (unsigned long long)(fed * 1000 / ASR_RATE), rc ? hark_errname(rc) : "end_of_audio");
    session_end(s);
}

/* Registers a session for the upgrade, or answers 503 while stopping. */
static int session_start(struct wlive *w, struct http_request *req, struct http_response *resp,
                         int64_t user_id)
{
    struct session *s = hark_calloc(1, sizeof *s);
    if (!s)
        return HARK_ENOMEM;
    s->w = w;
    s->user_id = user_id;
    snprintf(s->req_id, sizeof s->req_id, "%s", req->id);
    pthread_mutex_init(&s->lock, NULL);
    hbuf_init(&s->msg, 0);
    pthread_mutex_lock(&w->lock);
    int stop = w->stopping;
    if (!stop) {
        s->next = w->sessions;
        w->sessions = s;
    }
    pthread_mutex_unlock(&w->lock);
    if (stop) {
        session_free(s);
        http_reply_header(resp, "Retry-After", "5");
        return http_reply_error(resp, 503, "shutting_down", "Server is shutting down");
    }
    return http_reply_upgrade(req, resp, session_run, s, session_end);
}

/* --- entry points -------------------------------------------------------------- */

/* The key as Vexa's clients send it (X-API-Key, ?api_key=), as OpenAI's
 * (Authorization: Bearer) and as WhisperLive's (?token=). */
static const char *key_of(struct http_request *req)
{
    const char *k = http_header(req, "X-API-Key");
    const char *authz = http_header(req, "Authorization");
    if ((!k || !*k) && authz && !strncasecmp(authz, "Bearer ", 7))
        k = authz + 7;
    if (!k || !*k)
        k = http_query(req, "api_key");
    if (!k || !*k)
        k = http_query(req, "token");
    return k && *k ? k : NULL;
}

int api_ws_audio(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    const char *key = key_of(req);
    struct http_principal who;
    if (!key)
        return http_reply_error(resp, 401, "missing_api_key", "Missing API key");
    int rc = auth_user(a->auth, key, &who);
    if (rc == HARK_ENOENT)
        return http_reply_error(resp, 401, "invalid_api_key", "Invalid API key");
    if (rc)
        return api_store_error(resp, rc, NULL);
    /* Pushing audio starts a stream meeting: the scope that starts bots. */
    if (!auth_scope_ok(who.scopes, "bot"))
        return http_reply_error(resp, 403, "insufficient_scope",
                                "Insufficient scope for this endpoint");
    if (!a->wlive)
        return http_reply_error(resp, 503, "model_not_loaded",
                                "No model is loaded: start hark with --model PATH");
    return session_start(a->wlive, req, resp, who.user_id);
}

/* An email, or a user id in digits. */
static int resolve_user(struct store *store, const char *user, int64_t *id)
{
    struct store_user u;
    char *end = NULL;
    long long n = strtoll(user, &end, 10);
    int numeric = end != user && *end == '\0' && n > 0;
    int rc = numeric ? store_user_get(store, n, &u) : store_user_get_by_email(store, user, &u);
    if (rc)
        return rc;
    *id = u.id;
    store_user_release(&u);
    return 0;
}

/* The user is looked up per connection, so hark can start before the
 * operator creates it, and a deleted user stops being served. */
static int listener_root(struct http_request *req, struct http_response *resp)
{
    struct wlive *w = req->app;
    int64_t id;
    int rc = resolve_user(w->notify.store, w->listen_user, &id);
    if (rc == HARK_ENOENT) {
        char q[160];
        log_warn("wlive", "msg=\"whisperlive_user not found\" user=%s",
                 log_quote(q, sizeof q, w->listen_user));
        http_reply_header(resp, "Retry-After", "60");
        return http_reply_error(resp, 503, "whisperlive_user_unknown",
                                "whisperlive_user is not a known user: create it, or fix the "
                                "setting");
    }
    if (rc) {
        http_reply_header(resp, "Retry-After", "1");
        return http_reply_error(resp, 503, "store_unavailable", "Store is busy, retry later");
    }
    return session_start(w, req, resp, id);
}

/* WhisperLive's clients connect to ws://host:port/ and send no key: the
 * listener serves its configured user, and only on trusted networks. */
static const struct http_route listener_routes[] = {
    {"GET", "/", listener_root, HTTP_AUTH_NONE, NULL, 0},
};

static int listener_authorize(void *app, struct http_request *req, struct http_response *resp)
{
    (void)app;
    (void)req;
    (void)resp;
    return 0;
}

int wlive_new(const struct wlive_config *c, struct pipeline *pipeline, const struct notify *n,
              struct wlive **out)
{
    *out = NULL;
    int listen = c->listen && *c->listen;
    if (listen && (!c->user || !*c->user))
        return HARK_ECONFIG;
    struct wlive *w = hark_calloc(1, sizeof *w);
    if (!w)
        return HARK_ENOMEM;
    w->pipeline = pipeline;
    w->notify = *n;
    struct store *store = n->store;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->idle, NULL);
    int rc = 0;
    if (listen && !(w->listen_user = hark_strdup(c->user)))
        rc = HARK_ENOMEM;
    if (!rc && listen) {
        struct http_config hc = c->http;
        hc.listen = c->listen;
        rc = http_server_new(&hc, listener_routes, 1, listener_authorize, w, NULL,
                             &w->listener);
    }
    if (rc) {
        wlive_free(w);
        return rc;
    }
    int64_t id = 0;
    char q[160];
    if (listen && resolve_user(store, c->user, &id))
        log_warn("wlive", "msg=\"whisperlive_user not found yet: connections get 503 until "
                 "it exists\" user=%s", log_quote(q, sizeof q, c->user));
    if (listen)
        log_info("wlive", "msg=\"listening\" listen=%s port=%d", c->listen,
                 http_server_port(w->listener));
    *out = w;
    return 0;
}

int wlive_port(const struct wlive *w)
{
    return w->listener ? http_server_port(w->listener) : 0;
}

static void disconnect_all(struct wlive *w)
{
    struct hbuf b;
    hbuf_init(&b, 0);
    for (struct session *s = w->sessions; s; s = s->next) {
        if (!s->conn)
            continue;
        if (s->uid[0] && !wl_msg_disconnect(&b, s->uid))
            (void)!ws_conn_send_text(s->conn, b.data, b.len);
        hbuf_reset(&b);
        (void)!ws_conn_close(s->conn, WS_CLOSE_GOING_AWAY, NULL);
    }
    hbuf_release(&b);
}

void wlive_stop_meeting(struct wlive *w, int64_t meeting_id)
{
    struct hbuf b;
    hbuf_init(&b, 0);
    pthread_mutex_lock(&w->lock);
    for (struct session *s = w->sessions; s; s = s->next) {
        if (s->meeting_id != meeting_id || !s->conn)
            continue;
        if (!wl_msg_disconnect(&b, s->uid))
            (void)!ws_conn_send_text(s->conn, b.data, b.len);
        (void)!ws_conn_close(s->conn, WS_CLOSE_NORMAL, "stopped by its owner");
    }
    pthread_mutex_unlock(&w->lock);
    hbuf_release(&b);
}

void wlive_stop(struct wlive *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    /* Sessions stay in the list, and their conn set, while w->lock is held:
     * session_run() clears conn under it before freeing. */
    disconnect_all(w);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += STOP_WAIT_MS / 1000;
    while (w->sessions && !pthread_cond_timedwait(&w->idle, &w->lock, &deadline))
        ;
    pthread_mutex_unlock(&w->lock);
    http_server_free(w->listener);
    w->listener = NULL;
}

void wlive_free(struct wlive *w)
{
    if (!w)
        return;
    wlive_stop(w);
    pthread_cond_destroy(&w->idle);
    pthread_mutex_destroy(&w->lock);
    hark_free(w->listen_user);
    hark_free(w);
}
