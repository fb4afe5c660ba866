/* ws_conn.c — the I/O half of ws.h: a connection running ws_parser over a
 * socket, and the client handshake.
 *
 * Every socket call is non-blocking (MSG_DONTWAIT) behind poll(), so the
 * fd's own blocking mode never matters and every wait has a deadline. One
 * thread reads; any thread sends under send_lock, so frames never
 * interleave. An eventfd lets ws_conn_close() wake the reader, which then
 * waits only close_timeout_ms for the peer's answer. */
#include "hark/ws.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hark/buf.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/utf8.h"

/* Read granularity; also the minimum read buffer. */
#define WS_READ_CHUNK 16384
/* Client masking scratch: header plus a slice of masked payload. */
#define WS_MASK_CHUNK 4096
/* Upgrade response header limit on the client side. */
#define WS_RESPONSE_MAX 8192

struct ws_conn {
    int fd;
    int owns_fd;            /* client conns close their socket */
    int wake_fd;            /* eventfd; ws_conn_close() wakes the reader */
    enum ws_role role;
    struct ws_config cfg;

    /* reader-only state */
    struct ws_parser parser;
    unsigned char *rbuf;
    size_t rcap, rpos, rlen;
    unsigned char *msg;     /* reassembled message, <= max_message_bytes */
    size_t msg_len, msg_cap;
    int64_t last_rx_ms, last_ping_ms;
    int result;             /* final error of ws_conn_recv(), 0 while open */

    pthread_mutex_t send_lock;
    /* under send_lock */
    int close_sent;
    int64_t close_sent_ms;
    int send_broken;        /* error that broke the outgoing stream, or 0 */
};

struct ws_config ws_config_default(void)
{
    struct ws_config c = {
        .max_frame_bytes = 1u << 20,
        .max_message_bytes = 1u << 20,
        .ping_interval_ms = 20000,
        .idle_timeout_ms = 60000,
        .write_timeout_ms = 10000,
        .close_timeout_ms = 5000,
    };
    return c;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int poll_timeout(int64_t deadline, int64_t now)
{
    if (deadline <= now)
        return 0;
    return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

/* ---- writing ------------------------------------------------------------- */

static int errno_to_hark(int e)
{
    return e == EPIPE || e == ECONNRESET || e == ENOTCONN ? HARK_ECLOSED
                                                          : HARK_EIO;
}

/* Writes every byte of iov[0..cnt) before `deadline`; iov is consumed. */
static int write_all(int fd, struct iovec *iov, size_t cnt, int64_t deadline)
{
    while (cnt > 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = cnt};
        ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return errno_to_hark(errno);
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int64_t now = now_ms();
            if (now >= deadline)
                return HARK_ETIMEDOUT;
            if (poll(&pfd, 1, poll_timeout(deadline, now)) < 0 && errno != EINTR)
                return HARK_EIO;
            continue;
        }
        size_t done = (size_t)w;
        while (cnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

/* A client masks its payload, which must not touch the caller's bytes, so
 * it goes out through a scratch buffer a slice at a time. */
static int write_masked(int fd, const unsigned char *hdr, size_t hlen,
                        const unsigned char *p, size_t len,
                        const unsigned char mask[4], int64_t deadline)
{
    unsigned char scratch[WS_MASK_CHUNK];
    size_t off = 0;
    memcpy(scratch, hdr, hlen);
    size_t fill = hlen;
    do {
        size_t take = sizeof scratch - fill < len - off ? sizeof scratch - fill
                                                        : len - off;
        if (take)
            memcpy(scratch + fill, p + off, take);
        ws_mask(scratch + fill, take, mask, off);
        off += take;
        struct iovec iov = {.iov_base = scratch, .iov_len = fill + take};
        int rc = write_all(fd, &iov, 1, deadline);
        if (rc)
            return rc;
        fill = 0;
    } while (off < len);
    return 0;
}

/* Sends one frame; the caller holds send_lock. Any failure leaves a partial
 * frame on the wire, so it breaks the stream for good. */
static int conn_write_frame(struct ws_conn *c, int opcode, const void *data,
                            size_t len)
{
    if (c->send_broken)
        return c->send_broken;
    unsigned char hdr[WS_HEADER_MAX], mask[4];
    int64_t deadline = now_ms() + c->cfg.write_timeout_ms;
    int rc;
    if (c->role == WS_ROLE_CLIENT) {
        randombytes_buf(mask, sizeof mask);
        size_t hlen = ws_frame_header_encode(hdr, 1, opcode, len, mask);
        rc = write_masked(c->fd, hdr, hlen, data, len, mask, deadline);
    } else {
        size_t hlen = ws_frame_header_encode(hdr, 1, opcode, len, NULL);
        struct iovec iov[2] = {{.iov_base = hdr, .iov_len = hlen},
                               {.iov_base = (void *)(uintptr_t)data,
                                .iov_len = len}};
        rc = write_all(c->fd, iov, len ? 2 : 1, deadline);
    }
    if (rc)
        c->send_broken = rc;
    return rc;
}

static int conn_send(struct ws_conn *c, int opcode, const void *data,
                     size_t len)
{
    pthread_mutex_lock(&c->send_lock);
    int rc = c->close_sent ? HARK_ECLOSED
                           : conn_write_frame(c, opcode, data, len);
    pthread_mutex_unlock(&c->send_lock);
    return rc;
}

/* Sends our close frame unless one went out already; *sent says whether
 * this call sent it. */
static int conn_send_close(struct ws_conn *c, const unsigned char *payload,
                           size_t len, int *sent)
{
    int rc = 0;
    *sent = 0;
    pthread_mutex_lock(&c->send_lock);
    if (!c->close_sent) {
        rc = conn_write_frame(c, WS_OPCODE_CLOSE, payload, len);
        /* Even a failed close ends sending: the stream is broken anyway. */
        c->close_sent = 1;
        c->close_sent_ms = now_ms();
        *sent = 1;
    }
    pthread_mutex_unlock(&c->send_lock);
    return rc;
}

/* Best-effort close with a code, for the reader's own error paths: the
 * caller is told the real error, not a failure to report it. */
static void conn_close_quietly(struct ws_conn *c, uint16_t code,
                               const char *reason)
{
    unsigned char payload[WS_CONTROL_MAX];
    size_t len;
    int sent;
    if (ws_close_payload_encode(code, reason, payload, &len) == 0)
        (void)conn_send_close(c, payload, len, &sent);
}

int ws_conn_send_text(struct ws_conn *c, const char *s, size_t len)
{
    if (!utf8_valid(s, len))
        return HARK_EINVAL;
    return conn_send(c, WS_OPCODE_TEXT, s, len);
}

int ws_conn_send_binary(struct ws_conn *c, const void *data, size_t len)
{
    return conn_send(c, WS_OPCODE_BINARY, data, len);
}

int ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason)
{
    unsigned char payload[WS_CONTROL_MAX];
    size_t len;
    int sent;
    if (code == 0 || ws_close_payload_encode(code, reason, payload, &len) != 0)
        return HARK_EINVAL;
    int rc = conn_send_close(c, payload, len, &sent);
    if (sent) {
        uint64_t one = 1;
        ssize_t w = write(c->wake_fd, &one, sizeof one);
        (void)w; /* only fails when the counter is already non-zero */
    }
    return rc;
}

/* ---- lifetime ------------------------------------------------------------ */

static int conn_create(int fd, int owns_fd, enum ws_role role,
                       const void *extra_in, size_t extra_len,
                       const struct ws_config *cfg, struct ws_conn **out)
{
    *out = NULL;
    if (fd < 0 || (extra_len && !extra_in) || cfg->max_frame_bytes == 0 ||
        cfg->max_message_bytes == 0 || cfg->ping_interval_ms < 0 ||
        cfg->idle_timeout_ms < 0 || cfg->write_timeout_ms <= 0 ||
        cfg->close_timeout_ms < 0)
        return HARK_ECONFIG;
    struct ws_conn *c = hark_calloc(1, sizeof *c);
    if (!c)
        return HARK_ENOMEM;
    c->rcap = extra_len > WS_READ_CHUNK ? extra_len : WS_READ_CHUNK;
    c->rbuf = hark_malloc(c->rcap);
    if (!c->rbuf) {
        hark_free(c);
        return HARK_ENOMEM;
    }
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->wake_fd < 0) {
        log_error("ws", "msg=\"eventfd failed\" errno=%d", errno);
        hark_free(c->rbuf);
        hark_free(c);
        return HARK_EIO;
    }
    pthread_mutex_init(&c->send_lock, NULL);
    c->fd = fd;
    c->owns_fd = owns_fd;
    c->role = role;
    c->cfg = *cfg;
    ws_parser_init(&c->parser, role, cfg->max_frame_bytes,
                   cfg->max_message_bytes);
    if (extra_len)
        memcpy(c->rbuf, extra_in, extra_len);
    c->rlen = extra_len;
    c->last_rx_ms = c->last_ping_ms = now_ms();
    *out = c;
    return 0;
}

int ws_conn_new(int fd, const void *extra_in, size_t extra_len,
                const struct ws_config *c, struct ws_conn **out)
{
    return conn_create(fd, 0, WS_ROLE_SERVER, extra_in, extra_len, c, out);
}

int ws_conn_new_client(int fd, const void *extra_in, size_t extra_len,
                       const struct ws_config *c, struct ws_conn **out)
{
    if (sodium_init() < 0)
        return HARK_ECRYPTO;
    return conn_create(fd, 0, WS_ROLE_CLIENT, extra_in, extra_len, c, out);
}

int ws_conn_serve(struct ws_conn *c,
                  int (*on)(void *arg, int opcode, const unsigned char *data, size_t len),
                  void *arg)
{
    int rc = 0;
    while (!rc) {
        int op;
        const unsigned char *data;
        size_t len;
        rc = ws_conn_recv(c, &op, &data, &len);
        if (!rc)
            rc = on(arg, op, data, len);
    }
    return rc;
}

void ws_conn_free(struct ws_conn *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->send_lock);
    close(c->wake_fd);
    if (c->owns_fd)
        close(c->fd);
    hark_free(c->rbuf);
    hark_free(c->msg);
    hark_free(c);
}

/* ---- reading ------------------------------------------------------------- */

static int conn_finish(struct ws_conn *c, int rc)
{
    c->result = rc;
    return rc;
}

/* The parser bounds msg_len by max_message_bytes, so growth stops there. */
static int conn_append(struct ws_conn *c, const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (n > c->msg_cap - c->msg_len) {
        size_t need = c->msg_len + n;
        size_t cap = c->msg_cap ? c->msg_cap : 4096;
        while (cap < need)
            cap *= 2;
        if (cap > c->cfg.max_message_bytes)
            cap = c->cfg.max_message_bytes;
        unsigned char *m = hark_realloc(c->msg, cap);
        if (!m)
            return HARK_ENOMEM;
        c->msg = m;
        c->msg_cap = cap;
    }
    memcpy(c->msg + c->msg_len, p, n);
    c->msg_len += n;
    return 0;
}

/* Waits until the socket is readable (0), handling keepalive pings, the
 * idle timeout and the close timeout on the way. Readable bytes win over an
 * expired deadline: a peer is not idle when its bytes are waiting. */
static int conn_wait_readable(struct ws_conn *c)
{
    for (;;) {
        pthread_mutex_lock(&c->send_lock);
        int close_sent = c->close_sent;
        int64_t close_sent_ms = c->close_sent_ms;
        pthread_mutex_unlock(&c->send_lock);
        int64_t close_at = INT64_MAX, idle_at = INT64_MAX, ping_at = INT64_MAX;
        if (close_sent) {
            close_at = close_sent_ms + c->cfg.close_timeout_ms;
        } else {
            if (c->cfg.idle_timeout_ms > 0)
                idle_at = c->last_rx_ms + c->cfg.idle_timeout_ms;
            if (c->cfg.ping_interval_ms > 0)
                ping_at = (c->last_rx_ms > c->last_ping_ms ? c->last_rx_ms
                                                           : c->last_ping_ms) +
                          c->cfg.ping_interval_ms;
        }
        int64_t wake = close_at < idle_at ? close_at : idle_at;
        if (ping_at < wake)
            wake = ping_at;
        struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN},
                                {.fd = c->wake_fd, .events = POLLIN}};
        int n = poll(pfd, 2, wake == INT64_MAX ? -1 : poll_timeout(wake, now_ms()));
        if (n < 0 && errno != EINTR)
            return HARK_EIO;
        if (n > 0 && pfd[0].revents)
            return 0;
        if (n > 0 && pfd[1].revents) {
            uint64_t v;
            ssize_t r = read(c->wake_fd, &v, sizeof v);
            (void)r; /* a wakeup either way; the counter is reset or empty */
        }
        int64_t now = now_ms();
        if (now >= close_at)
            return HARK_ETIMEDOUT;
        if (now >= idle_at) {
            conn_close_quietly(c, WS_CLOSE_GOING_AWAY, "idle timeout");
            return HARK_ETIMEDOUT;
        }
        if (now >= ping_at) {
            /* A failed ping shows up as a read error or the idle timeout;
             * nothing more to do with it here. */
            (void)conn_send(c, WS_OPCODE_PING, NULL, 0);
            c->last_ping_ms = now;
        }
    }
}

/* Fills rbuf with what the socket has: 0, HARK_ECLOSED at EOF, HARK_EIO. */
static int conn_fill(struct ws_conn *c)
{
    c->rpos = c->rlen = 0;
    for (;;) {
        int rc = conn_wait_readable(c);
        if (rc)
            return rc;
        ssize_t r = recv(c->fd, c->rbuf, c->rcap, MSG_DONTWAIT);
        if (r > 0) {
            c->rlen = (size_t)r;
            c->last_rx_ms = now_ms();
            return 0;
        }
        if (r == 0)
            return HARK_ECLOSED;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return errno_to_hark(errno);
    }
}

/* The peer's close: echo it (RFC 6455 5.5.1) unless ours went first. */
static void conn_echo_close(struct ws_conn *c, uint16_t code)
{
    unsigned char payload[2] = {(unsigned char)(code >> 8),
                                (unsigned char)code};
    int sent;
    (void)conn_send_close(c, payload, code == WS_CLOSE_NO_STATUS ? 0 : 2,
                          &sent);
}

int ws_conn_recv(struct ws_conn *c, int *opcode, const unsigned char **data,
                 size_t *len)
{
    if (c->result)
        return c->result;
    c->msg_len = 0;
    for (;;) {
        if (c->rpos == c->rlen) {
            int rc = conn_fill(c);
            if (rc)
                return conn_finish(c, rc);
        }
        struct ws_event ev;
        c->rpos += ws_parser_feed(&c->parser, c->rbuf + c->rpos,
                                  c->rlen - c->rpos, &ev);
        switch (ev.kind) {
        case WS_EVENT_NONE:
        case WS_EVENT_PONG:
            break;
        case WS_EVENT_PING:
            /* ECLOSED after our close is expected; other failures surface
             * on the next read or send. */
            (void)conn_send(c, WS_OPCODE_PONG, ev.data, ev.len);
            break;
        case WS_EVENT_DATA:
            if (conn_append(c, ev.data, ev.len) != 0) {
                conn_close_quietly(c, WS_CLOSE_INTERNAL_ERROR, NULL);
                return conn_finish(c, HARK_ENOMEM);
            }
            if (ev.message_end) {
                *opcode = ev.opcode;
                *data = c->msg ? c->msg : (const unsigned char *)"";
                *len = c->msg_len;
                return 0;
            }
            break;
        case WS_EVENT_CLOSE:
            conn_echo_close(c, ev.close_code);
            return conn_finish(c, HARK_ECLOSED);
        case WS_EVENT_ERROR:
            log_info("ws", "msg=\"protocol violation\" close_code=%u",
                     (unsigned)ev.close_code);
            conn_close_quietly(c, ev.close_code, NULL);
            return conn_finish(c, HARK_EPROTO);
        }
    }
}

/* ---- client handshake ---------------------------------------------------- */

static int tcp_connect(const char *host, int port, int64_t deadline, int *out)
{
    char service[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return HARK_EIO;
    int rc = HARK_EIO;
    for (struct addrinfo *a = res; a && rc == HARK_EIO; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                close(fd);
                continue;
            }
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int64_t now = now_ms();
            int n = poll(&pfd, 1, poll_timeout(deadline, now));
            int err = 0;
            socklen_t elen = sizeof err;
            if (n == 0) {
                close(fd);
                rc = HARK_ETIMEDOUT;
                break;
            }
            if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 ||
                err != 0) {
                close(fd);
                continue;
            }
        }
        *out = fd;
        rc = 0;
    }
    freeaddrinfo(res);
    return rc;
}

/* Finds header `name` in the NUL-terminated header block `h` (after the
 * status line) and copies its trimmed value into out. 0 or HARK_ENOENT. */
static int header_value(const char *h, const char *name, char *out,
                        size_t size)
{
    size_t nlen = strlen(name);
    for (const char *line = strstr(h, "\r\n"); line; line = strstr(line, "\r\n")) {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (!end || end == line)
            break;
        if ((size_t)(end - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = end;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if ((size_t)(ve - v) >= size)
                return HARK_ENOENT;
            memcpy(out, v, (size_t)(ve - v));
            out[ve - v] = '\0';
            return 0;
        }
    }
    return HARK_ENOENT;
}

/* Checks the server's upgrade answer (NUL-terminated header block). */
static int check_upgrade_response(const char *resp, const char *accept)
{
    char v[128];
    int status = 0;
    if (strncmp(resp, "HTTP/1.1 ", 9) == 0 && resp[9] >= '1' && resp[9] <= '5' &&
        resp[10] >= '0' && resp[10] <= '9' && resp[11] >= '0' && resp[11] <= '9')
        status = (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0');
    if (status != 101) {
        log_warn("ws", "msg=\"upgrade refused\" status=%d", status);
        return HARK_EPROTO;
    }
    if (header_value(resp, "Upgrade", v, sizeof v) != 0 ||
        strcasecmp(v, "websocket") != 0 ||
        header_value(resp, "Connection", v, sizeof v) != 0 ||
        !strcasestr(v, "upgrade") ||
        header_value(resp, "Sec-WebSocket-Accept", v, sizeof v) != 0 ||
        strcmp(v, accept) != 0) {
        log_warn("ws", "msg=\"bad upgrade response headers\"");
        return HARK_EPROTO;
    }
    return 0;
}

/* Reads the response header block into buf (NUL-terminated); *hdr_len is
 * its size including the blank line, *got all bytes read. */
static int read_response(int fd, char *buf, size_t cap, int64_t deadline,
                         size_t *hdr_len, size_t *got)
{
    size_t n = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t now = now_ms();
        if (now >= deadline)
            return HARK_ETIMEDOUT;
        int pn = poll(&pfd, 1, poll_timeout(deadline, now));
        if (pn < 0 && errno != EINTR)
            return HARK_EIO;
        if (pn <= 0)
            continue;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, MSG_DONTWAIT);
        if (r == 0)
            return HARK_EPROTO;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return errno_to_hark(errno);
        }
        n += (size_t)r;
        buf[n] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            *hdr_len = (size_t)(end - buf) + 4;
            *got = n;
            return 0;
        }
        if (n == cap - 1)
            return HARK_EPROTO;
    }
}

static int client_args_valid(const char *host, int port, const char *path,
                             const char *extra, int timeout_ms)
{
    size_t elen = extra ? strlen(extra) : 0;
    return host && *host && !strpbrk(host, "\r\n /") && port > 0 &&
           port <= 65535 && path && path[0] == '/' && !strpbrk(path, "\r\n ") &&
           (elen == 0 || (elen >= 2 && strcmp(extra + elen - 2, "\r\n") == 0 &&
                          strncmp(extra, "\r\n", 2) != 0 &&
                          !strstr(extra, "\r\n\r\n"))) &&
           timeout_ms > 0;
}

/* Sends the upgrade request on fd and checks the answer; on success *conn
 * owns fd. */
static int client_handshake(int fd, const char *host, int port,
                            const char *path, const char *extra,
                            int64_t deadline, struct ws_conn **conn)
{
    unsigned char nonce[16];
    char key[25], accept[WS_ACCEPT_KEY_LEN + 1];
    randombytes_buf(nonce, sizeof nonce);
    sodium_bin2base64(key, sizeof key, nonce, sizeof nonce,
                      sodium_base64_VARIANT_ORIGINAL);
    int rc = ws_accept_key(key, accept);
    if (rc)
        return rc;
    struct hbuf req;
    hbuf_init(&req, 16384);
    int v6 = strchr(host, ':') != NULL;
    rc = hbuf_printf(&req,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     path, v6 ? "[" : "", host, v6 ? "]" : "", port, key,
                     extra ? extra : "");
    if (rc == HARK_ETOOBIG)
        rc = HARK_EINVAL;
    if (rc == 0) {
        struct iovec iov = {.iov_base = req.data, .iov_len = req.len};
        rc = write_all(fd, &iov, 1, deadline);
    }
    hbuf_release(&req);
    if (rc)
        return rc;
    char *resp = hark_malloc(WS_RESPONSE_MAX);
    if (!resp)
        return HARK_ENOMEM;
    size_t hdr_len = 0, got = 0;
    rc = read_response(fd, resp, WS_RESPONSE_MAX, deadline, &hdr_len, &got);
    if (rc == 0)
        rc = check_upgrade_response(resp, accept);
    if (rc == 0) {
        struct ws_config cfg = ws_config_default();
        rc = conn_create(fd, 1, WS_ROLE_CLIENT, resp + hdr_len, got - hdr_len,
                         &cfg, conn);
    }
    hark_free(resp);
    return rc;
}

int ws_client_connect(const char *host, int port, const char *path,
                      const char *extra_headers, int timeout_ms,
                      struct ws_conn **out)
{
    *out = NULL;
    if (!client_args_valid(host, port, path, extra_headers, timeout_ms))
        return HARK_EINVAL;
    if (sodium_init() < 0)
        return HARK_ECRYPTO;
    int64_t deadline = now_ms() + timeout_ms;
    int fd = -1;
    int rc = tcp_connect(host, port, deadline, &fd);
    if (rc)
        return rc;
    rc = client_handshake(fd, host, port, path, extra_headers, deadline, out);
    if (rc)
        close(fd);
    return rc;
}
