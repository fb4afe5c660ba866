/* fuzz_ws_frame.c — drives ws_parser with an arbitrary byte stream.
 *
 * Input layout: byte 0 picks the role (bit 0: client, else server) and the
 * limits (bits 1-2); byte 1 seeds how the stream is cut into slices; the
 * rest is the stream of frames. The stream is parsed twice, in one slice and
 * in seeded slices, and both runs must produce the same events (digested).
 * Every event is checked against what the parser promises: complete text
 * messages are UTF-8, sizes stay in their limits, control payloads fit,
 * close codes are sendable, errors carry 1002/1007/1009 and are final.
 * Complete messages are re-encoded by the peer's encoder and parsed again,
 * close payloads by ws_close_payload_encode().
 * The same bytes are also offered to ws_accept_key(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/utf8.h"
#include "hark/ws.h"

struct limits {
    uint64_t frame, message;
};

static const struct limits limit_sets[4] = {
    {0, 0}, {125, 256}, {4096, 16384}, {65536, 65536}};

struct summary {
    uint64_t digest;
    size_t messages;
    int ended_in_error;
};

static void digest_add(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 1099511628211ULL;
    }
}

static void check_utf8(const unsigned char *p, size_t n)
{
    if (!utf8_valid((const char *)p, n))
        abort();
}

/* Re-encodes a complete message the way the peer would send it and checks
 * a fresh parser of our role gives it back unchanged. */
static void check_round_trip(enum ws_role role, int opcode,
                             const unsigned char *msg, size_t len)
{
    static const unsigned char mask[4] = {0xa5, 0x5a, 0x0f, 0xf0};
    size_t cap = len + WS_HEADER_MAX, w = 0;
    unsigned char *f = malloc(cap);
    if (!f)
        abort();
    if (ws_frame_encode(f, cap, 1, opcode, msg, len,
                        role == WS_ROLE_SERVER ? mask : NULL, &w) != 0)
        abort();
    struct ws_parser p;
    struct ws_event ev;
    ws_parser_init(&p, role, 0, 0);
    size_t used = ws_parser_feed(&p, f, w, &ev);
    if (ev.kind != WS_EVENT_DATA || !ev.message_end || ev.opcode != opcode ||
        ev.len != len || used != w || (len && memcmp(ev.data, msg, len) != 0))
        abort();
    free(f);
}

/* A close event's code and reason, re-encoded, give the same payload. */
static void check_close_round_trip(const struct ws_event *ev)
{
    char reason[WS_CONTROL_MAX + 1];
    unsigned char p[WS_CONTROL_MAX];
    size_t len;
    if (ev->close_code == WS_CLOSE_NO_STATUS || memchr(ev->data, 0, ev->len))
        return; /* no code to re-encode; a NUL would end the C string */
    memcpy(reason, ev->data, ev->len);
    reason[ev->len] = '\0';
    if (ws_close_payload_encode(ev->close_code, reason, p, &len) != 0 ||
        len != ev->len + 2 || (unsigned)(p[0] << 8 | p[1]) != ev->close_code ||
        memcmp(p + 2, ev->data, ev->len) != 0)
        abort();
}

/* Parses stream (copied: the parser unmasks in place) cut into slices;
 * slice_seed 0 means one slice. msg must hold n bytes. */
static void run(const uint8_t *stream, size_t n, enum ws_role role,
                struct limits lim, unsigned slice_seed, unsigned char *msg,
                int round_trip, struct summary *s)
{
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf)
        abort();
    if (n)
        memcpy(buf, stream, n);
    struct ws_parser p;
    ws_parser_init(&p, role, lim.frame, lim.message);
    memset(s, 0, sizeof *s);
    s->digest = 14695981039346656037ULL;
    size_t msg_len = 0, off = 0;
    uint32_t rng = slice_seed;
    int closed = 0;
    while (off < n && !s->ended_in_error) {
        size_t slice = n - off;
        if (slice_seed) {
            rng = rng * 1103515245u + 12345u;
            size_t want = 1 + (rng >> 16) % 23;
            if (want < slice)
                slice = want;
        }
        size_t pos = 0;
        for (;;) {
            struct ws_event ev;
            size_t used = ws_parser_feed(&p, buf + off + pos, slice - pos, &ev);
            if (used > slice - pos)
                abort();
            pos += used;
            if (ev.kind == WS_EVENT_NONE) {
                if (pos != slice)
                    abort();
                break;
            }
            if (closed)
                abort(); /* nothing may follow a close */
            int kind = (int)ev.kind;
            switch (ev.kind) {
            case WS_EVENT_DATA:
                if ((ev.opcode != WS_OPCODE_TEXT && ev.opcode != WS_OPCODE_BINARY) ||
                    (ev.len == 0 && !ev.message_end) || msg_len + ev.len > n)
                    abort();
                if (ev.len)
                    memcpy(msg + msg_len, ev.data, ev.len);
                msg_len += ev.len;
                if (lim.message && msg_len > lim.message)
                    abort();
                if (!ev.message_end)
                    continue; /* pieces depend on slicing; messages do not */
                if (ev.opcode == WS_OPCODE_TEXT)
                    check_utf8(msg, msg_len);
                if (round_trip && s->messages < 8)
                    check_round_trip(role, ev.opcode, msg, msg_len);
                digest_add(&s->digest, &kind, sizeof kind);
                digest_add(&s->digest, &ev.opcode, sizeof ev.opcode);
                digest_add(&s->digest, &msg_len, sizeof msg_len);
                digest_add(&s->digest, msg, msg_len);
                s->messages++;
                msg_len = 0;
                break;
            case WS_EVENT_PING:
            case WS_EVENT_PONG:
            case WS_EVENT_CLOSE:
                if (ev.len > WS_CONTROL_MAX)
                    abort();
                if (ev.kind == WS_EVENT_CLOSE) {
                    if (ev.close_code != WS_CLOSE_NO_STATUS &&
                        !ws_close_code_valid(ev.close_code))
                        abort();
                    check_utf8(ev.data, ev.len);
                    check_close_round_trip(&ev);
                    closed = 1;
                }
                digest_add(&s->digest, &kind, sizeof kind);
                digest_add(&s->digest, &ev.close_code, sizeof ev.close_code);
                digest_add(&s->digest, ev.data, ev.len);
                break;
            case WS_EVENT_ERROR:
                if (ev.close_code != WS_CLOSE_PROTOCOL_ERROR &&
                    ev.close_code != WS_CLOSE_INVALID_PAYLOAD &&
                    ev.close_code != WS_CLOSE_TOO_BIG)
                    abort();
                digest_add(&s->digest, &kind, sizeof kind);
                digest_add(&s->digest, &ev.close_code, sizeof ev.close_code);
                s->ended_in_error = 1;
                break;
            case WS_EVENT_NONE:
                break;
            }
            if (s->ended_in_error)
                break;
        }
        off += slice;
    }
    if (s->ended_in_error) {
        /* errors are final */
        struct ws_event ev;
        unsigned char more[2] = {0x81, 0x80};
        if (ws_parser_feed(&p, more, sizeof more, &ev) != 0 ||
            ev.kind != WS_EVENT_ERROR)
            abort();
    }
    free(buf);
}

static void fuzz_accept_key(const uint8_t *data, size_t size)
{
    char key[25], out[WS_ACCEPT_KEY_LEN + 1];
    size_t n = size < 24 ? size : 24;
    memcpy(key, data, n);
    key[n] = '\0';
    if (ws_accept_key(key, out) == 0 && strlen(out) != WS_ACCEPT_KEY_LEN)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum ws_role role = (data[0] & 1) ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
    struct limits lim = limit_sets[(data[0] >> 1) & 3];
    unsigned seed = data[1];
    const uint8_t *stream = data + 2;
    size_t n = size - 2;
    fuzz_accept_key(stream, n);
    unsigned char *msg = malloc(n ? n : 1);
    if (!msg)
        abort();
    struct summary whole, sliced;
    run(stream, n, role, lim, 0, msg, 1, &whole);
    if (seed) {
        run(stream, n, role, lim, seed, msg, 0, &sliced);
        if (whole.digest != sliced.digest || whole.messages != sliced.messages ||
            whole.ended_in_error != sliced.ended_in_error)
            abort();
    }
    free(msg);
    return 0;
}
