#include "hark/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "hark/metrics.h"
#include "http_private.h"

/* How long http_server_free() waits for in-flight requests and WebSocket
 * threads before it stops the daemon anyway. */
#define DRAIN_TIMEOUT_MS 10000
#define MAX_WS_THREADS 4096


struct http_server {
    struct MHD_Daemon *daemon;
    struct http_config cfg;
    struct router *router;
    http_authorize_fn authorize;
    void *app;
    int port;
    struct metric *m_requests, *m_duration, *m_connections;
    atomic_long connections;
    pthread_mutex_t lock;       /* guards the fields below */
    pthread_cond_t idle;        /* signalled when a count drops */
    long in_flight;             /* requests between first call and completion */
    size_t n_ws;
    int ws_fds[MAX_WS_THREADS]; /* sockets of running WebSocket threads */
};

/* Per-request state, MHD's con_cls. */
struct req_state {
    struct http_server *srv;
    struct http_request req;
    struct http_response resp;
    struct hbuf body;
    struct timespec start;
    int queued;                 /* a response was queued */
    int deferred;               /* answered later by http_deferred_done() */
    pthread_mutex_t defer_lock; /* orders suspend (request thread) and done */
    int deferred_done, suspended;
    size_t sent_bytes;          /* body size of the queued response */
};

struct ws_job {
    struct http_server *srv;
    http_upgrade_fn fn;
    void *arg;
    int fd;
    char *extra;
    size_t extra_len;
    struct MHD_UpgradeResponseHandle *urh;
};

struct http_config http_config_default(void)
{
    struct http_config c = {
        .listen = "127.0.0.1:8056",
        .threads = 2,
        .max_connections = 1024,
        .max_connections_per_ip = 0,
        .max_body_bytes = 1u << 20,
        .max_upload_bytes = 100u << 20,
        .max_header_bytes = 16u << 10,
        .idle_timeout_s = 30,
        .access_log = 1,
    };
    return c;
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Accepts a client's X-Request-ID when it is short and plain, so logs can be
 * joined across a proxy; otherwise makes a random one. */
static void request_id(struct MHD_Connection *conn, char *out, size_t size)
{
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID");
    size_t n = given ? strlen(given) : 0;
    int ok = n > 0 && n < size;
    for (size_t i = 0; ok && i < n; i++)
        ok = (given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'z') ||
             (given[i] >= 'A' && given[i] <= 'Z') || given[i] == '-' || given[i] == '_';
    if (ok) {
        memcpy(out, given, n + 1);
        return;
    }
    /* A random per-process prefix and a counter: unique, and no syscall
     * per request (libsodium's randombytes reads getrandom() each time). */
    static atomic_uint prefix, counter;
    unsigned p = atomic_load(&prefix);
    while (!p) {
        unsigned fresh = randombytes_random() | 1u;
        atomic_compare_exchange_strong(&prefix, &p, fresh);
        p = atomic_load(&prefix);
    }
    snprintf(out, size, "%08x%08x", p, atomic_fetch_add(&counter, 1));
}

static void count_request(struct http_server *s, struct req_state *st)
{
    char status[8];
    snprintf(status, sizeof status, "%d", st->resp.status);
    const char *route = st->req.route ? st->req.route->pattern : "unmatched";
    const char *lv_req[] = {st->req.method, route, status};
    const char *lv_dur[] = {route, status};
    double dur = elapsed_s(&st->start);
    if (s->m_requests)
        (void)metric_add(s->m_requests, lv_req, 1);
    if (s->m_duration)
        (void)metric_observe(s->m_duration, lv_dur, dur);
    if (s->cfg.access_log) {
        char path[256], remote[64];
        log_info("http", "msg=\"request\" req=%s method=%s path=%s route=%s status=%d "
                 "dur_ms=%.3f bytes=%zu remote=%s",
                 st->req.id, st->req.method, log_quote(path, sizeof path, st->req.path), route,
                 st->resp.status, dur * 1e3, st->sent_bytes,
                 http_remote(&st->req, remote, sizeof remote));
    }
}

static void free_body(void *p) { hark_free(p); }

/* Hands resp to MHD. The body buffer moves into the MHD response. */
static enum MHD_Result queue(struct req_state *st)
{
    struct http_response *r = &st->resp;
    struct MHD_Response *mr;
    if (r->status == 0)
        if (http_reply_error(r, 500, "internal_error", "Internal server error"))
            return MHD_NO;
    size_t len = r->body.len;
    if (r->file_fd >= 0) {
        st->sent_bytes = (size_t)r->file_size;
        if (!(mr = MHD_create_response_from_fd64(r->file_size, r->file_fd)))
            return MHD_NO; /* the fd is closed when the request ends */
        r->file_fd = -1;   /* MHD closes it with the response */
        len = 1;           /* a body: Content-Type below */
    } else {
        st->sent_bytes = len;
        char *data = hbuf_take(&r->body);
        if (!data)
            return MHD_NO;
        mr = MHD_create_response_from_buffer_with_free_callback(len, data, free_body);
        if (!mr) {
            hark_free(data);
            return MHD_NO;
        }
    }
    if (len || r->status != 204)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(mr, "X-Request-ID", st->req.id);
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
    enum MHD_Result ok = MHD_queue_response(st->req.conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    st->queued = 1;
    return ok;
}

static void ws_forget(struct http_server *s, int fd)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_ws; i++) {
        if (s->ws_fds[i] == fd) {
            s->ws_fds[i] = s->ws_fds[--s->n_ws];
            break;
        }
    }
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

static void *ws_thread(void *p)
{
    struct ws_job *job = p;
    job->fn(job->arg, job->fd, job->extra, job->extra_len);
    ws_forget(job->srv, job->fd);
    MHD_upgrade_action(job->urh, MHD_UPGRADE_ACTION_CLOSE);
    hark_free(job->extra);
    hark_free(job);
    return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
    (void)conn;
    (void)con_cls;
    struct ws_job *job = cls;
    struct http_server *s = job->srv;
    job->fd = sock;
    job->urh = urh;
    /* Frame bytes, not text: a strndup would stop at the first NUL. */
    if (extra_in_size) {
        if (!(job->extra = hark_malloc(extra_in_size)))
            goto fail;
        memcpy(job->extra, extra_in, extra_in_size);
    }
    job->extra_len = extra_in_size;
    pthread_mutex_lock(&s->lock);
    int room = s->n_ws < MAX_WS_THREADS;
    if (room)
        s->ws_fds[s->n_ws++] = sock;
    pthread_mutex_unlock(&s->lock);
    if (!room) {
        log_warn("http", "msg=\"websocket refused\" reason=too_many n=%d", MAX_WS_THREADS);
        goto fail;
    }
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256u << 10);
    int err = pthread_create(&t, &attr, ws_thread, job);
    pthread_attr_destroy(&attr);
    if (err == 0)
        return;
    ws_forget(s, sock);
fail:
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    hark_free(job->extra);
    hark_free(job);
}

static enum MHD_Result queue_upgrade(struct req_state *st)
{
    struct http_response *r = &st->resp;
    struct ws_job *job = hark_calloc(1, sizeof *job);
    if (!job)
        return MHD_NO;
    job->srv = st->srv;
    job->fn = r->upgrade;
    job->arg = r->upgrade_arg;
    job->fd = -1;
    struct MHD_Response *mr = MHD_create_response_for_upgrade(on_upgrade, job);
    if (!mr) {
        hark_free(job);
        return MHD_NO;
    }
    r->upgrade = NULL; /* the job owns the arg now */
    r->upgrade_arg = NULL;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_UPGRADE, "websocket");
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
    enum MHD_Result ok = MHD_queue_response(st->req.conn, MHD_HTTP_SWITCHING_PROTOCOLS, mr);
    MHD_destroy_response(mr);
    st->queued = 1;
    return ok;
}

struct http_deferred *http_defer(struct http_request *req)
{
    struct req_state *st =
        (struct req_state *)(void *)((char *)req - offsetof(struct req_state, req));
    st->deferred = 1;
    return (struct http_deferred *)(void *)st;
}

struct http_response *http_deferred_response(struct http_deferred *d)
{
    return &((struct req_state *)(void *)d)->resp;
}

/* The connection is suspended only after the handler returned, and resumed
 * only if it was: whichever of the two threads comes second acts. */
void http_deferred_done(struct http_deferred *d)
{
    struct req_state *st = (struct req_state *)(void *)d;
    struct MHD_Connection *conn = st->req.conn;
    pthread_mutex_lock(&st->defer_lock);
    st->deferred_done = 1;
    int resume = st->suspended;
    pthread_mutex_unlock(&st->defer_lock);
    /* Resumed, the request may complete and free st at once: touch nothing
     * of it past this point. While suspended, st cannot go away. */
    if (resume)
        MHD_resume_connection(conn);
}

static enum MHD_Result suspend_unless_done(struct req_state *st)
{
    pthread_mutex_lock(&st->defer_lock);
    int done = st->deferred_done;
    if (!done) {
        MHD_suspend_connection(st->req.conn);
        st->suspended = 1;
    }
    pthread_mutex_unlock(&st->defer_lock);
    return done ? queue(st) : MHD_YES;
}

static enum MHD_Result reply_now(struct req_state *st, int status, const char *code,
                                 const char *msg)
{
    if (http_reply_error(&st->resp, status, code, msg))
        return MHD_NO;
    return queue(st);
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " CRLF */
    return MHD_YES;
}

/* Absolute-form targets ("GET http://host/path", RFC 7230 5.3.2) route by
 * their path. */
static const char *origin_path(const char *url)
{
    if (url[0] == '/')
        return url;
    const char *scheme_end = strstr(url, "://");
    const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    return path ? path : (scheme_end ? "/" : url);
}

/* First call for a request: route, limits and auth, before any body byte. */
static enum MHD_Result begin(struct req_state *st)
{
    struct http_server *s = st->srv;
    struct http_request *req = &st->req;
    char allow[64];
    int rc = router_match(s->router, req->method, req->path, &req->match, allow, sizeof allow);
    if (rc == HARK_EPERM) {
        http_reply_header(&st->resp, "Allow", allow);
        return reply_now(st, 405, "method_not_allowed", "Method Not Allowed");
    }
    if (rc)
        return reply_now(st, 404, "not_found", "Not Found");
    req->route = req->match.handler;
    size_t head = strlen(req->path);
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, add_header_size, &head);
    if (head > s->cfg.max_header_bytes) {
        char msg[96];
        snprintf(msg, sizeof msg, "Request headers are larger than %zu bytes",
                 s->cfg.max_header_bytes);
        http_reply_header(&st->resp, "Connection", "close");
        return reply_now(st, 431, "header_too_large", msg);
    }
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    size_t limit = req->route->upload ? s->cfg.max_upload_bytes : s->cfg.max_body_bytes;
    st->body.max = limit;
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || n > limit) {
            char msg[96];
            snprintf(msg, sizeof msg, "Request body is larger than %zu bytes", limit);
            http_reply_header(&st->resp, "Connection", "close");
            return reply_now(st, 413, "payload_too_large", msg);
        }
    }
    if (s->authorize && s->authorize(s->app, req, &st->resp) < 0)
        return queue(st);
    return MHD_YES;
}

static enum MHD_Result run_handler(struct req_state *st)
{
    st->req.body = st->body.data ? st->body.data : "";
    st->req.body_len = st->body.len;
    int rc = st->req.route->fn(&st->req, &st->resp);
    if (st->deferred && rc == 0)
        return suspend_unless_done(st);
    if (rc < 0 && st->resp.status == 0) {
        if (rc == HARK_ENOMEM) {
            http_reply_header(&st->resp, "Retry-After", "1");
            return reply_now(st, 503, "out_of_memory", "Server is out of memory, retry later");
        }
        log_error("http", "msg=\"handler failed\" req=%s route=%s err=%s", st->req.id,
                  st->req.route->pattern, hark_errname(rc));
        return reply_now(st, 500, "internal_error", "Internal server error");
    }
    return st->resp.upgrade ? queue_upgrade(st) : queue(st);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct http_server *s = cls;
    struct req_state *st = *con_cls;
    if (!st) {
        if (!(st = hark_calloc(1, sizeof *st)))
            return MHD_NO;
        st->srv = s;
        clock_gettime(CLOCK_MONOTONIC, &st->start);
        st->req.method = method;
        st->req.path = origin_path(url);
        st->req.conn = conn;
        st->req.app = s->app;
        hbuf_init(&st->resp.body, 0);
        st->resp.file_fd = -1;
        hbuf_init(&st->body, s->cfg.max_body_bytes);
        pthread_mutex_init(&st->defer_lock, NULL);
        request_id(conn, st->req.id, sizeof st->req.id);
        *con_cls = st;
        pthread_mutex_lock(&s->lock);
        s->in_flight++;
        pthread_mutex_unlock(&s->lock);
        return begin(st);
    }
    if (st->queued) {
        *upload_data_size = 0; /* refused early: drop whatever still arrives */
        return MHD_YES;
    }
    if (st->deferred) /* resumed: the other thread has filled the response */
        return st->queued ? MHD_YES : queue(st);
    if (*upload_data_size) {
        int rc = hbuf_append(&st->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (rc == HARK_ETOOBIG) {
            /* Chunked body past the limit: no way to answer before the
             * client stops sending, so the connection is cut. */
            log_warn("http", "msg=\"body too large\" req=%s limit=%zu", st->req.id,
                     st->body.max);
            return MHD_NO;
        }
        return rc ? MHD_NO : MHD_YES;
    }
    return run_handler(st);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct http_server *s = cls;
    struct req_state *st = *con_cls;
    if (!st)
        return;
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || st->queued)
        count_request(s, st);
    if (st->resp.upgrade_arg && st->resp.upgrade_free)
        st->resp.upgrade_free(st->resp.upgrade_arg);
    hbuf_release(&st->body);
    hbuf_release(&st->resp.body);
    if (st->resp.file_fd >= 0) /* answered otherwise, or never */
        close(st->resp.file_fd);
    pthread_mutex_destroy(&st->defer_lock);
    hark_free(st);
    *con_cls = NULL;
    pthread_mutex_lock(&s->lock);
    s->in_flight--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    struct http_server *s = cls;
    long n = toe == MHD_CONNECTION_NOTIFY_STARTED ? atomic_fetch_add(&s->connections, 1) + 1
                                                  : atomic_fetch_sub(&s->connections, 1) - 1;
    if (s->m_connections)
        (void)metric_set(s->m_connections, NULL, (double)n);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) HARK_PRINTF(2, 0);
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512], q[560];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_debug("http", "msg=%s source=libmicrohttpd", log_quote(q, sizeof q, msg));
}

static int register_metrics(struct http_server *s, struct metrics *m)
{
    static const char *const req_labels[] = {"method", "route", "status"};
    static const char *const dur_labels[] = {"route", "status"};
    if (!m)
        return 0;
    int rc = metrics_counter(m, "hark_http_requests_total", "HTTP requests served.",
                             req_labels, 3, &s->m_requests);
    if (!rc)
        rc = metrics_histogram(m, "hark_http_request_duration_seconds",
                               "Time from request start to response queued.", dur_labels, 2,
                               metrics_latency_buckets_seconds,
                               METRICS_LATENCY_BUCKETS_N,
                               &s->m_duration);
    if (!rc)
        rc = metrics_gauge(m, "hark_http_connections", "Open HTTP connections.", NULL, 0,
                           &s->m_connections);
    return rc;
}

static int build_router(struct http_server *s, const struct http_route *routes, size_t n)
{
    int rc = router_new(&s->router);
    for (size_t i = 0; !rc && i < n; i++)
        rc = router_add(s->router, routes[i].method, routes[i].pattern, &routes[i]);
    return rc;
}

static void drain(struct http_server *s)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += DRAIN_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_ws; i++)
        shutdown(s->ws_fds[i], SHUT_RDWR); /* wakes the WebSocket threads */
    while (s->in_flight > 0 || s->n_ws > 0) {
        if (pthread_cond_timedwait(&s->idle, &s->lock, &deadline) == ETIMEDOUT) {
            log_warn("http", "msg=\"drain timed out\" in_flight=%ld websockets=%zu",
                     s->in_flight, s->n_ws);
            break;
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static int start_daemon(struct http_server *s)
{
    struct sockaddr_storage ss;
    int rc = http_parse_listen(s->cfg.listen, &ss);
    if (rc) {
        log_error("http", "msg=\"bad listen address\" listen=%s", s->cfg.listen);
        return rc;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Twice the header limit plus MHD's bookkeeping, so begin() sees every
     * head up to the limit and answers 431 itself; far past it MHD does. */
    size_t pool = 2 * s->cfg.max_header_bytes + 8192;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(s->cfg.threads > 1 ? s->cfg.threads : 0),
        MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_connections_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool, MHD_OPTION_CONNECTION_TIMEOUT,
        s->cfg.idle_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        s, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_END);
    if (!s->daemon) {
        log_error("http", "msg=\"cannot listen\" listen=%s errno=%d (%s)", s->cfg.listen,
                  errno, strerror(errno));
        return HARK_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return 0;
}

int http_server_new(const struct http_config *c, const struct http_route *routes,
                    size_t n_routes, http_authorize_fn authorize, void *app,
                    struct metrics *metrics, struct http_server **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return HARK_ECRYPTO;
    struct http_server *s = hark_calloc(1, sizeof *s);
    if (!s)
        return HARK_ENOMEM;
    s->cfg = *c;
    s->authorize = authorize;
    s->app = app;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    int rc = build_router(s, routes, n_routes);
    if (!rc)
        rc = register_metrics(s, metrics);
    if (!rc)
        rc = start_daemon(s);
    if (rc) {
        http_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int http_server_port(const struct http_server *s) { return s->port; }

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    if (s->daemon) {
        MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
        if (lfd != MHD_INVALID_SOCKET)
            close(lfd);
        drain(s);
        MHD_stop_daemon(s->daemon);
    }
    router_free(s->router);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    hark_free(s);
}
