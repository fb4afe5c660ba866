/* http.h — the HTTP server: libmicrohttpd underneath, our routing, limits,
 * JSON errors, access log and request metrics on top.
 *
 * Requests are served by a fixed pool of threads (epoll). A handler runs on
 * one of them, gets the whole (bounded) body, and fills a response. Every
 * error leaves as {"detail": "...", "error": {"code": "...", "message":
 * "..."}} — Vexa's clients read `detail`, ours read the stable `code`.
 * Limits: header bytes (431), body bytes (413, checked against
 * Content-Length before reading), connections in total and per client IP
 * (past them new connections are closed at once), and an idle timeout, so a
 * flood of idle or slow clients cannot take the server down.
 * WebSocket routes hand the upgraded socket to a thread of their own, so a
 * long-lived socket never holds a request thread. */
#ifndef HARK_HTTP_H
#define HARK_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include "hark/buf.h"
#include "hark/error.h"
#include "hark/router.h"

struct metrics;
struct json_object;
struct MHD_Connection;

struct http_config {
    const char *listen;              /* borrowed; "host:port", IPv4 or [IPv6] */
    unsigned threads;                /* request threads; default 2 */
    unsigned max_connections;        /* total open connections; default 1024 */
    unsigned max_connections_per_ip; /* 0 = unlimited (behind a proxy) */
    size_t max_body_bytes;           /* default 1 MiB */
    size_t max_upload_bytes;         /* upload routes (audio files); 100 MiB */
    size_t max_header_bytes;         /* default 16 KiB */
    unsigned idle_timeout_s;         /* close idle connections; default 30 */
    int access_log;                  /* log one line per request; default 1 */
};
struct http_config http_config_default(void);

enum http_auth { HTTP_AUTH_NONE, HTTP_AUTH_USER, HTTP_AUTH_ADMIN };

/* Who is calling, filled by the authorize hook. */
struct http_principal {
    enum http_auth kind;
    int64_t user_id;
    int64_t token_id;
    char scopes[64];                 /* comma list, e.g. "bot,tx" */
};

struct http_request {
    const char *method;              /* borrowed from MHD for the request */
    const char *path;                /* without the query string */
    const char *body;                /* NUL-terminated copy; "" when none */
    size_t body_len;
    struct router_match match;
    const struct http_route *route;
    struct http_principal who;
    char id[24];                     /* request id (X-Request-ID) */
    void *app;                       /* http_server_config.app */
    struct MHD_Connection *conn;     /* private to server.c */
};

/* Called on a thread of its own with the upgraded socket. `extra` holds
 * bytes the server read past the handshake. The callee must not close fd;
 * the server does when the callback returns. */
typedef void (*http_upgrade_fn)(void *arg, int fd, const char *extra, size_t extra_len);

#define HTTP_MAX_EXTRA_HEADERS 4
struct http_response {
    int status;
    const char *content_type;        /* static string; default JSON */
    struct hbuf body;
    size_t n_headers;
    struct {
        const char *name;            /* static string */
        char value[160];
    } headers[HTTP_MAX_EXTRA_HEADERS];
    int file_fd;                     /* set by http_reply_file(): the body is */
    uint64_t file_size;              /* this file (owned); -1/0 otherwise */
    http_upgrade_fn upgrade;         /* set by http_reply_upgrade() */
    void *upgrade_arg;               /* handed to upgrade, or to upgrade_free */
    void (*upgrade_free)(void *arg); /* frees arg if the upgrade never runs */
};

typedef int (*http_handler_fn)(struct http_request *req, struct http_response *resp);

struct http_route {
    const char *method;
    const char *pattern;             /* router pattern, e.g. "/admin/users/{id}" */
    http_handler_fn fn;
    enum http_auth auth;
    const char *scope;               /* needed token scope, NULL = any */
    int upload;                      /* body limit is max_upload_bytes */
};

/* Decides whether req may run route; on refusal fills resp and returns a
 * negative code. Runs before the body is read, so it cannot look at it. */
typedef int (*http_authorize_fn)(void *app, struct http_request *req, struct http_response *resp);

struct http_server;

/* Starts listening. routes and app are borrowed and must outlive the
 * server; metrics (may be NULL) gets hark_http_* families. On success *out
 * is freed with http_server_free(), which stops it first. */
HARK_MUST_CHECK int http_server_new(const struct http_config *c, const struct http_route *routes,
                                    size_t n_routes, http_authorize_fn authorize, void *app,
                                    struct metrics *metrics, struct http_server **out);
/* The port actually bound (useful with port 0). */
int http_server_port(const struct http_server *s);
/* Stops accepting, lets in-flight requests finish, closes WebSockets (their
 * callbacks see the socket shut down) and waits for their threads. */
void http_server_free(struct http_server *s);

/* Request accessors; returned strings are borrowed for the request. */
const char *http_header(const struct http_request *req, const char *name);
const char *http_query(const struct http_request *req, const char *name);
/* Copies path parameter `name`; -1 when absent or longer than size-1. */
int http_param(const struct http_request *req, const char *name, char *buf, size_t size);
/* Remote address as text into buf. */
const char *http_remote(const struct http_request *req, char *buf, size_t size);

/* Answering later, from another thread (long work must not hold one of the
 * few request threads): the handler calls http_defer() and returns 0
 * without filling resp; the connection is suspended. The other thread fills
 * http_deferred_response(d) and calls http_deferred_done(d) exactly once;
 * the response then goes out from a request thread. The request's strings
 * (req->path, headers, body) stay valid until done. */
struct http_deferred;
struct http_deferred *http_defer(struct http_request *req);
struct http_response *http_deferred_response(struct http_deferred *d);
void http_deferred_done(struct http_deferred *d);

/* Response helpers. Each returns 0 or HARK_ENOMEM/HARK_ETOOBIG. */
HARK_MUST_CHECK int http_reply_json(struct http_response *resp, int status, struct json_object *obj);
/* {"detail": message, "error": {"code": code, "message": message}} */
HARK_MUST_CHECK int http_reply_error(struct http_response *resp, int status, const char *code,
                                     const char *message);
/* 422 with a FastAPI-style detail list (borrowed). */
HARK_MUST_CHECK int http_reply_validation(struct http_response *resp, struct json_object *list);
HARK_MUST_CHECK int http_reply_text(struct http_response *resp, int status, const char *ctype,
                                    const char *text, size_t len);
/* The body is file_size bytes of the open file fd, sent from it without
 * loading it (sendfile where the kernel can). Takes ownership of fd: it is
 * closed once sent, or when the request ends without being answered.
 * HARK_EINVAL for fd < 0. */
HARK_MUST_CHECK int http_reply_file(struct http_response *resp, int status, const char *ctype,
                                    int fd, uint64_t file_size);
/* 204 with no body. */
void http_reply_empty(struct http_response *resp, int status);
/* Adds a header (name static, value copied, truncated to 159 bytes). */
void http_reply_header(struct http_response *resp, const char *name, const char *value);
/* Accepts a WebSocket upgrade: checks the handshake headers (400/426 on
 * failure, already filled in resp, and free_fn(arg) called) and arranges for
 * fn(arg, fd, ...) to run after the 101 is sent. Takes ownership of arg:
 * either fn gets it or free_fn(arg) is called (free_fn may be NULL). */
HARK_MUST_CHECK int http_reply_upgrade(struct http_request *req, struct http_response *resp,
                                       http_upgrade_fn fn, void *arg, void (*free_fn)(void *));

#endif
