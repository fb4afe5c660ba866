/* ws_frame.c — the pure half of ws.h: accept key, frame header codec,
 * masking and the stream parser. No allocation, no I/O. */
#include "hark/ws.h"

#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "hark/utf8.h"

/* ---- SHA-1 (FIPS 180-4), only for the handshake accept key ------------- */

struct sha1 {
    uint32_t h[5];
    unsigned char block[64];
    size_t block_len;
    uint64_t total_len;
};

static uint32_t rol32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_init(struct sha1 *s)
{
    static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE,
                                   0x10325476, 0xC3D2E1F0};
    memcpy(s->h, iv, sizeof iv);
    s->block_len = 0;
    s->total_len = 0;
}

static void sha1_compress(struct sha1 *s, const unsigned char *b)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
               (uint32_t)b[4 * i + 2] << 8 | (uint32_t)b[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s->h[0], bb = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (bb & c) | (~bb & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = bb ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (bb & c) | (bb & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = bb ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol32(bb, 30);
        bb = a;
        a = t;
    }
    s->h[0] += a;
    s->h[1] += bb;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
}

static void sha1_update(struct sha1 *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->total_len += n;
    while (n > 0) {
        size_t take = 64 - s->block_len < n ? 64 - s->block_len : n;
        memcpy(s->block + s->block_len, p, take);
        s->block_len += take;
        p += take;
        n -= take;
        if (s->block_len == 64) {
            sha1_compress(s, s->block);
            s->block_len = 0;
        }
    }
}

static void sha1_final(struct sha1 *s, unsigned char out[20])
{
    uint64_t bits = s->total_len * 8;
    unsigned char pad[72] = {0x80};
    size_t pad_len = (s->block_len < 56 ? 56 : 120) - s->block_len;
    for (int i = 0; i < 8; i++)
        pad[pad_len + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(s, pad, pad_len + 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

/* ---- handshake ----------------------------------------------------------- */

int ws_accept_key(const char *client_key, char out[WS_ACCEPT_KEY_LEN + 1])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char raw[18];
    size_t raw_len = 0;
    out[0] = '\0';
    /* libsodium's decoder rejects bad characters, bad padding and non-zero
     * trailing bits, so a key passing here is canonical base64 of 16 bytes. */
    if (!client_key || strnlen(client_key, 25) != 24 ||
        sodium_base642bin(raw, sizeof raw, client_key, 24, NULL, &raw_len,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        raw_len != 16)
        return HARK_EINVAL;
    struct sha1 s;
    unsigned char digest[20];
    sha1_init(&s);
    sha1_update(&s, client_key, 24);
    sha1_update(&s, guid, sizeof guid - 1);
    sha1_final(&s, digest);
    sodium_bin2base64(out, WS_ACCEPT_KEY_LEN + 1, digest, sizeof digest,
                      sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

int ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* ---- frame header -------------------------------------------------------- */

static int opcode_known(int op)
{
    return op == WS_OPCODE_CONTINUATION || op == WS_OPCODE_TEXT ||
           op == WS_OPCODE_BINARY || op == WS_OPCODE_CLOSE ||
           op == WS_OPCODE_PING || op == WS_OPCODE_PONG;
}

static int opcode_control(int op) { return (op & 0x8) != 0; }

static int header_violation(uint16_t code, uint16_t *close_code)
{
    *close_code = code;
    return HARK_EPROTO;
}

int ws_frame_header_parse(const unsigned char *p, size_t n, enum ws_role role,
                          uint64_t max_frame_bytes, struct ws_frame_header *h,
                          uint16_t *close_code)
{
    if (n < 2)
        return HARK_EAGAIN;
    h->fin = (p[0] & 0x80) != 0;
    h->rsv = (unsigned)(p[0] >> 4) & 0x7;
    h->opcode = p[0] & 0x0F;
    h->masked = (p[1] & 0x80) != 0;
    unsigned len7 = p[1] & 0x7F;
    if (h->rsv || !opcode_known(h->opcode))
        return header_violation(WS_CLOSE_PROTOCOL_ERROR, close_code);
    if (opcode_control(h->opcode) && (!h->fin || len7 > WS_CONTROL_MAX))
        return header_violation(WS_CLOSE_PROTOCOL_ERROR, close_code);
    if (h->masked != (role == WS_ROLE_SERVER))
        return header_violation(WS_CLOSE_PROTOCOL_ERROR, close_code);
    size_t len_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    size_t size = 2 + len_bytes + (h->masked ? 4 : 0);
    if (n < 2 + len_bytes)
        return HARK_EAGAIN;
    uint64_t len = len7;
    if (len_bytes) {
        len = 0;
        for (size_t i = 0; i < len_bytes; i++)
            len = len << 8 | p[2 + i];
    }
    if (len >> 63)
        return header_violation(WS_CLOSE_PROTOCOL_ERROR, close_code);
    if (max_frame_bytes && len > max_frame_bytes)
        return header_violation(WS_CLOSE_TOO_BIG, close_code);
    if (n < size)
        return HARK_EAGAIN;
    h->payload_len = len;
    if (h->masked)
        memcpy(h->mask, p + 2 + len_bytes, 4);
    else
        memset(h->mask, 0, 4);
    h->header_size = size;
    return 0;
}

size_t ws_frame_header_encode(unsigned char out[WS_HEADER_MAX], int fin,
                              int opcode, uint64_t len,
                              const unsigned char *mask)
{
    size_t o = 0;
    unsigned char mbit = mask ? 0x80 : 0;
    out[o++] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len <= 125) {
        out[o++] = (unsigned char)(mbit | len);
    } else if (len <= 0xFFFF) {
        out[o++] = (unsigned char)(mbit | 126);
        out[o++] = (unsigned char)(len >> 8);
        out[o++] = (unsigned char)len;
    } else {
        out[o++] = (unsigned char)(mbit | 127);
        for (int i = 7; i >= 0; i--)
            out[o++] = (unsigned char)(len >> (8 * i));
    }
    if (mask) {
        memcpy(out + o, mask, 4);
        o += 4;
    }
    return o;
}

int ws_frame_encode(unsigned char *out, size_t cap, int fin, int opcode,
                    const void *payload, size_t len, const unsigned char *mask,
                    size_t *written)
{
    *written = 0;
    if (!opcode_known(opcode) ||
        (opcode_control(opcode) && (!fin || len > WS_CONTROL_MAX)))
        return HARK_EINVAL;
    unsigned char hdr[WS_HEADER_MAX];
    size_t hlen = ws_frame_header_encode(hdr, fin, opcode, len, mask);
    if (cap < hlen || cap - hlen < len)
        return HARK_ETOOBIG;
    memcpy(out, hdr, hlen);
    if (len)
        memcpy(out + hlen, payload, len);
    if (mask)
        ws_mask(out + hlen, len, mask, 0);
    *written = hlen + len;
    return 0;
}

int ws_close_payload_encode(unsigned code, const char *reason,
                            unsigned char out[WS_CONTROL_MAX], size_t *len)
{
    size_t rlen = reason ? strnlen(reason, WS_CLOSE_REASON_MAX + 1) : 0;
    *len = 0;
    if (code == 0)
        return rlen ? HARK_EINVAL : 0;
    if (!ws_close_code_valid(code) || rlen > WS_CLOSE_REASON_MAX ||
        !utf8_valid(reason, rlen))
        return HARK_EINVAL;
    out[0] = (unsigned char)(code >> 8);
    out[1] = (unsigned char)code;
    if (rlen)
        memcpy(out + 2, reason, rlen);
    *len = 2 + rlen;
    return 0;
}

void ws_mask(unsigned char *p, size_t n, const unsigned char key[4],
             uint64_t offset)
{
    size_t k = (size_t)(offset & 3);
    for (size_t i = 0; i < n; i++)
        p[i] ^= key[(k + i) & 3];
}

/* ---- stream parser ------------------------------------------------------- */

enum { PARSER_HEADER, PARSER_PAYLOAD, PARSER_CLOSED, PARSER_FAILED };

void ws_parser_init(struct ws_parser *p, enum ws_role role,
                    uint64_t max_frame_bytes, uint64_t max_message_bytes)
{
    memset(p, 0, sizeof *p);
    p->role = role;
    p->max_frame_bytes = max_frame_bytes;
    p->max_message_bytes = max_message_bytes;
    p->state = PARSER_HEADER;
}

static void parser_fail(struct ws_parser *p, uint16_t code, struct ws_event *ev)
{
    p->state = PARSER_FAILED;
    p->error_code = code;
    ev->kind = WS_EVENT_ERROR;
    ev->close_code = code;
}

/* Frame order rules (RFC 6455 5.4) and the message size limit, checked once
 * a header is complete; 0 or the close code to send. */
static uint16_t parser_begin_frame(struct ws_parser *p)
{
    const struct ws_frame_header *h = &p->frame;
    if (opcode_control(h->opcode))
        return 0;
    if (h->opcode == WS_OPCODE_CONTINUATION) {
        if (!p->msg_opcode)
            return WS_CLOSE_PROTOCOL_ERROR;
    } else {
        if (p->msg_opcode)
            return WS_CLOSE_PROTOCOL_ERROR;
        p->msg_opcode = h->opcode;
        p->msg_len = 0;
        utf8_init(&p->utf8);
    }
    if (p->max_message_bytes &&
        h->payload_len > p->max_message_bytes - p->msg_len)
        return WS_CLOSE_TOO_BIG;
    return 0;
}

/* A whole control payload is in p->ctrl: turn it into an event. */
static void parser_control_event(struct ws_parser *p, struct ws_event *ev)
{
    size_t len = (size_t)p->frame.payload_len;
    ev->data = p->ctrl;
    ev->len = len;
    if (p->frame.opcode == WS_OPCODE_PING) {
        ev->kind = WS_EVENT_PING;
        return;
    }
    if (p->frame.opcode == WS_OPCODE_PONG) {
        ev->kind = WS_EVENT_PONG;
        return;
    }
    if (len == 0) {
        ev->close_code = WS_CLOSE_NO_STATUS;
    } else {
        unsigned code = (unsigned)p->ctrl[0] << 8 | p->ctrl[1];
        if (len == 1 || !ws_close_code_valid(code)) {
            parser_fail(p, WS_CLOSE_PROTOCOL_ERROR, ev);
            return;
        }
        if (!utf8_valid((const char *)p->ctrl + 2, len - 2)) {
            parser_fail(p, WS_CLOSE_INVALID_PAYLOAD, ev);
            return;
        }
        ev->close_code = (uint16_t)code;
        ev->data = p->ctrl + 2;
        ev->len = len - 2;
    }
    ev->kind = WS_EVENT_CLOSE;
    p->state = PARSER_CLOSED;
}

/* Consumes header bytes; returns bytes used. On a complete header moves to
 * PARSER_PAYLOAD; on a violation fails with an event. */
static size_t parser_header(struct ws_parser *p, const unsigned char *buf,
                            size_t n, struct ws_event *ev)
{
    size_t have = p->hdr_len;
    size_t take = WS_HEADER_MAX - have < n ? WS_HEADER_MAX - have : n;
    uint16_t code = 0;
    memcpy(p->hdr + have, buf, take);
    int rc = ws_frame_header_parse(p->hdr, have + take, p->role,
                                   p->max_frame_bytes, &p->frame, &code);
    if (rc == HARK_EAGAIN) {
        p->hdr_len = have + take;
        return take;
    }
    if (rc == 0)
        code = parser_begin_frame(p);
    if (code) {
        parser_fail(p, code, ev);
        return take;
    }
    p->hdr_len = 0;
    p->frame_done = 0;
    p->state = PARSER_PAYLOAD;
    return p->frame.header_size - have;
}

/* Consumes payload bytes of a data frame; returns bytes used and sets a
 * DATA event when there is a piece to hand out. */
static size_t parser_data(struct ws_parser *p, unsigned char *buf, size_t n,
                          struct ws_event *ev)
{
    uint64_t left = p->frame.payload_len - p->frame_done;
    size_t take = left < n ? (size_t)left : n;
    if (p->frame.masked)
        ws_mask(buf, take, p->frame.mask, p->frame_done);
    if (p->msg_opcode == WS_OPCODE_TEXT &&
        utf8_feed(&p->utf8, buf, take) != 0) {
        parser_fail(p, WS_CLOSE_INVALID_PAYLOAD, ev);
        return take;
    }
    p->frame_done += take;
    p->msg_len += take;
    int frame_end = p->frame_done == p->frame.payload_len;
    int msg_end = frame_end && p->frame.fin;
    int opcode = p->msg_opcode;
    if (frame_end)
        p->state = PARSER_HEADER;
    if (msg_end) {
        if (opcode == WS_OPCODE_TEXT && !utf8_complete(&p->utf8)) {
            parser_fail(p, WS_CLOSE_INVALID_PAYLOAD, ev);
            return take;
        }
        p->msg_opcode = 0;
    }
    if (take > 0 || msg_end) {
        ev->kind = WS_EVENT_DATA;
        ev->opcode = opcode;
        ev->message_end = msg_end;
        ev->data = buf;
        ev->len = take;
    }
    return take;
}

size_t ws_parser_feed(struct ws_parser *p, unsigned char *buf, size_t n,
                      struct ws_event *ev)
{
    size_t used = 0;
    memset(ev, 0, sizeof *ev);
    ev->kind = WS_EVENT_NONE;
    for (;;) {
        if (p->state == PARSER_FAILED) {
            ev->kind = WS_EVENT_ERROR;
            ev->close_code = p->error_code;
            return used;
        }
        if (p->state == PARSER_CLOSED)
            return n; /* nothing may follow a close (RFC 6455 5.5.1) */
        if (p->state == PARSER_HEADER) {
            if (used == n)
                return used;
            used += parser_header(p, buf + used, n - used, ev);
            if (ev->kind != WS_EVENT_NONE)
                return used;
            continue;
        }
        /* PARSER_PAYLOAD: a zero-length frame is completed without input. */
        if (used == n && p->frame_done < p->frame.payload_len)
            return used;
        if (opcode_control(p->frame.opcode)) {
            uint64_t left = p->frame.payload_len - p->frame_done;
            size_t take = left < n - used ? (size_t)left : n - used;
            unsigned char *dst = p->ctrl + p->frame_done;
            memcpy(dst, buf + used, take);
            if (p->frame.masked)
                ws_mask(dst, take, p->frame.mask, p->frame_done);
            p->frame_done += take;
            used += take;
            if (p->frame_done < p->frame.payload_len)
                return used;
            p->state = PARSER_HEADER;
            parser_control_event(p, ev);
            return used;
        }
        used += parser_data(p, buf + used, n - used, ev);
        if (ev->kind != WS_EVENT_NONE)
            return used;
    }
}
