/* GET /ws/audio and the no-key WhisperLive listener: one connection drives
 * one live stream (stream.h) and gets its segments back in WhisperLive's
 * shapes (whisperlive.h, docs/whisperlive.md).
 *
 * Two threads per connection: the upgrade thread reads messages and feeds
 * the stream; a sender thread waits for stream events and sends segments
 * messages (ws_conn sends are safe beside a reader). The reader stops
 * reading while the stream is more than MAX_AHEAD_MS of audio ahead of its
 * decoder, so a client pushing faster than real time is slowed by TCP
 * instead of growing the window. */
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
#include "hark/stream.h"
#include "hark/whisperlive.h"
#include "hark/ws.h"

#define MAX_AHEAD_MS 10000     /* audio fed but not yet decoded, at most */
#define EVENT_WAIT_MS 100      /* the sender's poll, bounds how fast it sees quit */
#define STOP_WAIT_MS 10000     /* wlive_stop() waits this long for sessions */
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
    struct stream *st;
    struct wl_transcript *tr;   /* guarded by lock */
    pthread_mutex_t lock;
    uint64_t fed;               /* samples fed; reader thread only */
    int quit;                   /* sender: stop now (under lock) */
    int warned_clamp;
    struct session *next;       /* w->sessions */
};

struct wlive {
    struct streamer *streamer;
    struct store *store;
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

/* --- the sender thread ------------------------------------------------------ */

static int session_quitting(struct session *s)
{
    pthread_mutex_lock(&s->lock);
    int q = s->quit;
    pthread_mutex_unlock(&s->lock);
    return q;
}

/* Takes in every event available now; 1 once END was seen. */
static int take_events(struct session *s, struct stream_event *first, int *ended)
{
    struct stream_event ev = *first;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (ev.kind == STREAM_EVENT_END)
            *ended = 1;
        rc = wl_transcript_event(s->tr, &ev);
        stream_event_release(&ev);
        if (rc || *ended || stream_next(s->st, &ev, 0))
            break;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void *sender(void *arg)
{
    struct session *s = arg;
    struct hbuf msg;
    hbuf_init(&msg, 0);
    int ended = 0, rc = 0;
    while (!rc && !ended) {
        struct stream_event ev;
        rc = stream_next(s->st, &ev, EVENT_WAIT_MS);
        if (rc == HARK_ETIMEDOUT) {
            rc = session_quitting(s) ? HARK_ECLOSED : 0;
            continue;
        }
        if (rc)
            break;
        rc = take_events(s, &ev, &ended);
        int wrote = 0;
        pthread_mutex_lock(&s->lock);
        if (!rc)
            rc = wl_transcript_message(s->tr, &msg, &wrote);
        pthread_mutex_unlock(&s->lock);
        if (!rc && wrote)
            rc = send_buf(s, &msg);
    }
    if (rc && rc != HARK_ECLOSED) { /* the client would wait for segments in vain */
        log_warn("wlive", "msg=\"sender stopped\" req=%s err=%s", s->req_id, hark_errname(rc));
        (void)!ws_conn_close(s->conn, WS_CLOSE_INTERNAL_ERROR, NULL);
    }
    hbuf_release(&msg);
    return NULL;
}

/* --- the meeting seam ----------------------------------------------------------- */

/* Where a connection becomes a `stream` meeting named by its uid, owned by
 * s->user_id: the meeting row, its status events, and its segments (the
 * sender sees every stream event) go through here once meetings exist.
 * Today the stream is served to the client alone. */
static int session_bind_meeting(struct session *s)
{
    char q[WL_UID_MAX + 8];
    log_info("wlive", "msg=\"stream open\" req=%s user_id=%lld uid=%s", s->req_id,
             (long long)s->user_id, log_quote(q, sizeof q, s->uid));
    return 0;
}

/* --- the reader (upgrade thread) -------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

static int stopping(struct wlive *w)
{
    pthread_mutex_lock(&w->lock);
    int st = w->stopping;
    pthread_mutex_unlock(&w->lock);
    return st;
}

/* Holds the reader back while the decoder is far behind. */
static void wait_for_decoder(struct session *s)
{
    uint64_t fed, decoded;
    for (;;) {
        stream_progress(s->st, &fed, &decoded);
        if (fed - decoded <= (uint64_t)MAX_AHEAD_MS * ASR_RATE / 1000 || stopping(s->w))
            return;
        sleep_ms(20);
    }
}

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
        rc = stream_feed(s->st, pcm, got);
    hark_free(pcm);
    if (!rc && clamped && !s->warned_clamp) {
        s->warned_clamp = 1;
        rc = send_status(s, "WARNING",
                         "audio samples outside [-1, 1] or not numbers were clamped: "
                         "is audio_format right?");
    }
    s->fed += got;
    if (!rc)
        wait_for_decoder(s);
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
    return rc;
}

/* Runs the stream: sender started, messages read until the end. */
static int run_stream(struct session *s, const struct wl_options *o)
{
    pthread_t t;
    if (pthread_create(&t, NULL, sender, s))
        return HARK_ENOMEM;
    int rc = 0;
    while (!rc) {
        int op;
        const unsigned char *data;
        size_t len;
        rc = ws_conn_recv(s->conn, &op, &data, &len);
        if (!rc)
            rc = on_message(s, o, op, data, len);
    }
    if (rc == 1) /* END_OF_AUDIO: the rest is decoded and sent, then we close */
        stream_end(s->st);
    else {
        pthread_mutex_lock(&s->lock);
        s->quit = 1;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_join(t, NULL);
    if (rc == 1) {
        finish_close(s, stopping(s->w) ? WS_CLOSE_GOING_AWAY : WS_CLOSE_NORMAL);
        rc = 0;
    }
    return rc;
}

static int open_stream(struct session *s, const struct wl_options *o)
{
    struct stream_config sc = stream_config_default();
    sc.id = o->uid;
    sc.speaker = o->speaker;
    sc.asr.language = o->language[0] ? o->language : NULL;
    sc.asr.translate = o->translate;
    int rc = stream_open(s->w->streamer, &sc, &s->st);
    if (rc == HARK_EBUSY) {
        struct hbuf b;
        hbuf_init(&b, 0);
        if (!wl_msg_wait(&b, s->uid, WAIT_MINUTES))
            (void)!send_buf(s, &b);
        hbuf_release(&b);
        finish_close(s, WS_CLOSE_NORMAL);
        log_info("wlive", "msg=\"refused: streams full\" req=%s", s->req_id);
        return rc;
    }
    if (!rc)
        rc = wl_transcript_new(o, &s->tr);
    if (rc) {
        log_warn("wlive", "msg=\"cannot open stream\" req=%s err=%s", s->req_id,
                 hark_errname(rc));
        refuse(s, WS_CLOSE_INTERNAL_ERROR, "cannot start a stream, try again later");
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
    if ((rc = open_stream(s, &o)) != 0)
        return rc;
    if (!(rc = session_bind_meeting(s)) && !(rc = send_ready(s, &o)))
        rc = run_stream(s, &o);
    return rc;
}

static void session_free(struct session *s)
{
    stream_close(s->st);
    wl_transcript_free(s->tr);
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
    int rc = resolve_user(w->store, w->listen_user, &id);
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

int wlive_new(const struct wlive_config *c, struct streamer *streamer, struct store *store,
              struct wlive **out)
{
    *out = NULL;
    int listen = c->listen && *c->listen;
    if (listen && (!c->user || !*c->user))
        return HARK_ECONFIG;
    struct wlive *w = hark_calloc(1, sizeof *w);
    if (!w)
        return HARK_ENOMEM;
    w->streamer = streamer;
    w->store = store;
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
