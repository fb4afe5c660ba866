/* fuzz_http — the whole request path: raw bytes over TCP into
 * libmicrohttpd's parser, then our router, limits, authorization, handlers,
 * the SQLite store and, after an upgrade, the WebSocket connection.
 *
 * One server runs for the whole process (set up by LLVMFuzzerInitialize), on
 * 127.0.0.1 with an ephemeral port, one request thread and small limits so
 * inputs reach them: 64 KiB body, 8 KiB of headers, 2 s idle timeout. The
 * store holds one user with one all-scope token; "@TOKEN@" anywhere in an
 * input is replaced by that token, so the corpus can hold authenticated
 * requests (an input that revokes it gets a new one minted after it). The
 * admin key is "fuzz-admin-key".
 *
 * Per input: connect, write the bytes (reading replies meanwhile, so
 * pipelined requests cannot deadlock), shut down our side, read until the
 * server closes or goes quiet (see INPUT_SILENCE_MS), close. Then the findings:
 *  - a reply that is not HTTP (anything before "HTTP/1." on a fresh
 *    connection) aborts;
 *  - a 500 aborts: every input the API refuses must be a 4xx, so a 500 is a
 *    handler or store path that was not meant to be reachable;
 *  - the server must still answer GET /healthz with 200 on a fresh
 *    connection, checked after every input; if it does not, abort.
 * Crashes, leaks and UB on the server thread are ASan/UBSan's findings.
 *
 * Memory the long-lived server holds (connection pools, metric series,
 * SQLite caches) is still reachable, so LeakSanitizer does not report it;
 * everything is torn down at exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hark/api.h"
#include "hark/auth.h"
#include "hark/clock.h"
#include "hark/http.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/metrics.h"
#include "hark/store.h"

#define ADMIN_KEY "fuzz-admin-key"
#define TOKEN_MARK "@TOKEN@"
/* A fuzz input's reply is over when the server closes or stays silent for
 * INPUT_SILENCE_MS: answers on loopback take milliseconds, while a request
 * cut short (a body shorter than its Content-Length) gets nothing until the
 * idle timeout, so waiting longer only slows the fuzzer down. The liveness
 * probe waits far longer, so a request the single server thread is still
 * busy with cannot fake a dead server. */
#define INPUT_SILENCE_MS 100
#define PROBE_SILENCE_MS 5000
#define EXCHANGE_MAX_MS 2000 /* no fuzz exchange lasts longer than this */
#define REPLY_KEEP 256       /* bytes of a reply kept for the checks */

static struct {
    char dir[64];
    char db[96];
    struct store *store;
    struct auth *auth;
    struct metrics *metrics;
    struct api *api;
    struct http_server *http;
    int port;
    int64_t user_id;
    char token[AUTH_TOKEN_LEN + 1];
    unsigned char token_hash[STORE_TOKEN_HASH_BYTES];
} fx;

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_http: %s: %s\n", what, hark_strerror(rc));
    abort();
}

static void new_token(void)
{
    struct store_token t;
    auth_token_generate(fx.auth, fx.token, sizeof fx.token, fx.token_hash);
    int rc = store_token_create(fx.store, fx.user_id, fx.token_hash, AUTH_SCOPES_ALL, "fuzz", 0,
                                &t);
    if (rc)
        die("store_token_create", rc);
    store_token_release(&t);
}

static void teardown(void)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    http_server_free(fx.http);
    api_free(fx.api);
    metrics_free(fx.metrics);
    auth_free(fx.auth);
    store_free(fx.store);
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s%s", fx.db, suffixes[i]);
        unlink(path);
    }
    rmdir(fx.dir);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    log_level_set(LOG_LEVEL_ERROR);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fx.dir, sizeof fx.dir, "%.40s/fuzz_http-XXXXXX", tmp);
    if (!mkdtemp(fx.dir))
        die("mkdtemp", HARK_EIO);
    snprintf(fx.db, sizeof fx.db, "%s/hark.db", fx.dir);

    struct store_config sc = store_config_default();
    sc.url = fx.db;
    int rc = store_open(&sc, &fx.store);
    if (rc)
        die("store_open", rc);
    char generated[AUTH_TOKEN_LEN + 1];
    if ((rc = auth_new(fx.store, ADMIN_KEY, &fx.auth, generated, sizeof generated)))
        die("auth_new", rc);
    struct store_user u;
    if ((rc = store_user_create(fx.store, "fuzz@example.com", "Fuzz", 3, NULL, &u, NULL)))
        die("store_user_create", rc);
    fx.user_id = u.id;
    store_user_release(&u);
    new_token();

    if ((rc = metrics_new(&fx.metrics)))
        die("metrics_new", rc);
    struct api_config ac = api_config_default();
    if ((rc = api_new(&ac, fx.store, fx.auth, fx.metrics, &fx.api)))
        die("api_new", rc);
    struct http_config hc = http_config_default();
    hc.listen = "127.0.0.1:0";
    hc.threads = 1;
    hc.max_body_bytes = 64u << 10;
    hc.max_header_bytes = 8u << 10;
    hc.idle_timeout_s = 2;
    hc.access_log = 0;
    size_t n_routes;
    const struct http_route *routes = api_routes(&n_routes);
    if ((rc = http_server_new(&hc, routes, n_routes, api_authorize, fx.api, fx.metrics,
                              &fx.http)))
        die("http_server_new", rc);
    fx.port = http_server_port(fx.http);
    if (fx.port <= 0)
        die("http_server_port", HARK_EIO);
    atexit(teardown);
}

/* The input with every TOKEN_MARK replaced by the live token. */
static char *with_token(const uint8_t *data, size_t size, size_t *len_out)
{
    size_t mark = strlen(TOKEN_MARK), tok = strlen(fx.token), n = 0;
    for (const uint8_t *p = data; (p = memmem(p, size - (size_t)(p - data), TOKEN_MARK, mark));
         p += mark)
        n++;
    char *out = hark_malloc(size + n * tok + 1);
    if (!out)
        abort();
    size_t o = 0;
    for (size_t i = 0; i < size;) {
        if (size - i >= mark && !memcmp(data + i, TOKEN_MARK, mark)) {
            memcpy(out + o, fx.token, tok);
            o += tok;
            i += mark;
        } else {
            out[o++] = (char)data[i++];
        }
    }
    *len_out = o;
    return out;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket", HARK_EIO);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

struct reply {
    char head[REPLY_KEEP + 1]; /* the first bytes, NUL-terminated */
    size_t len;                /* bytes received in all */
    int closed;                /* the server closed (EOF or reset) */
};

/* Writes len bytes and reads the reply until the server closes, neither
 * side makes progress for silence_ms, or max_ms pass. */
static void exchange(int fd, const char *data, size_t len, int silence_ms, int max_ms,
                     struct reply *r)
{
    size_t sent = 0;
    int wr_open = 1;
    int64_t start = clock_mono_ms(), last = start;
    memset(r, 0, sizeof *r);
    for (;;) {
        if (wr_open && sent == len) {
            shutdown(fd, SHUT_WR);
            wr_open = 0;
        }
        int64_t now = clock_mono_ms();
        if (now - start >= max_ms || now - last >= silence_ms)
            return;
        struct pollfd p = {.fd = fd, .events = (short)(POLLIN | (wr_open ? POLLOUT : 0))};
        int n = poll(&p, 1, (int)(silence_ms - (now - last)));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        if (p.revents & POLLIN || p.revents & (POLLHUP | POLLERR)) {
            char buf[16384];
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                r->closed = 1;
                return;
            }
            if (got > 0) {
                if (r->len < REPLY_KEEP) {
                    size_t keep = REPLY_KEEP - r->len < (size_t)got ? REPLY_KEEP - r->len
                                                                    : (size_t)got;
                    memcpy(r->head + r->len, buf, keep);
                }
                r->len += (size_t)got;
                last = clock_mono_ms();
            }
        }
        if (wr_open && (p.revents & POLLOUT)) {
            ssize_t put = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
            if (put > 0) {
                sent += (size_t)put;
                last = clock_mono_ms();
            } else if (put < 0 && errno != EAGAIN && errno != EINTR) {
                wr_open = 0; /* the server stopped reading: keep reading its reply */
            }
        }
    }
}

static int status_of(const struct reply *r)
{
    /* "HTTP/1.1 200 ..." */
    if (r->len < 12 || memcmp(r->head, "HTTP/1.", 7) != 0 || r->head[8] != ' ')
        return -1;
    int s = 0;
    for (int i = 9; i < 12; i++) {
        if (r->head[i] < '0' || r->head[i] > '9')
            return -1;
        s = s * 10 + (r->head[i] - '0');
    }
    return s;
}

static void check_alive(void)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n";
    struct reply r;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = connect_server();
        if (fd >= 0) {
            exchange(fd, req, sizeof req - 1, PROBE_SILENCE_MS, 2 * PROBE_SILENCE_MS, &r);
            close(fd);
            if (status_of(&r) == 200 && strstr(r.head, "{\"status\":\"ok\"}"))
                return;
        }
    }
    fprintf(stderr, "fuzz_http: server no longer answers GET /healthz (got %zu bytes: %.80s)\n",
            r.len, r.head);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Starts the server, and switches libFuzzer's length control off unless
 * the command line sets it: interesting requests are a few hundred bytes
 * long, and length control keeps mutants below ~300 bytes for the first
 * thousands of runs, which at tens of runs per second is the whole session.
 * (libFuzzer reads its flags after this hook and lets it edit argv.) */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char flag[] = "-len_control=0";
    setup();
    for (int i = 1; i < *argc; i++)
        if (!strncmp((*argv)[i], "-len_control=", 13))
            return 0;
    char **args = hark_calloc((size_t)*argc + 2, sizeof *args);
    if (!args)
        abort();
    memcpy(args, *argv, (size_t)*argc * sizeof *args);
    args[(*argc)++] = flag;
    *argv = args; /* lives as long as the process, like the original */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *req = with_token(data, size, &len);
    int fd = connect_server();
    if (fd < 0)
        die("connect", HARK_EIO);
    struct reply r;
    exchange(fd, req, len, INPUT_SILENCE_MS, EXCHANGE_MAX_MS, &r);
    close(fd);
    hark_free(req);

    if (r.len > 0 && status_of(&r) < 0 && memcmp(r.head, "HTTP/1.", r.len < 7 ? r.len : 7)) {
        fprintf(stderr, "fuzz_http: reply is not HTTP: %.80s\n", r.head);
        abort();
    }
    if (status_of(&r) == 500) {
        fprintf(stderr, "fuzz_http: 500 reply: %s\n", r.head);
        abort();
    }
    /* An input may have revoked the token: mint another so later inputs
     * still reach the authenticated handlers. */
    struct store_token t;
    int rc = store_token_find(fx.store, fx.token_hash, &t);
    if (rc == HARK_ENOENT)
        new_token();
    else if (rc)
        die("store_token_find", rc);
    else
        store_token_release(&t);
    check_alive();
    return 0;
}
