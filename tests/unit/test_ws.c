#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hark/error.h"
#include "hark/mem.h"
#include "hark/ws.h"

/* ---- helpers: parser event recording -------------------------------------- */

#define BIG (70 * 1024)

/* What a run of ws_parser_feed() produced. DATA is recorded once per whole
 * message, so the record does not depend on how the input was split. */
struct rec {
    enum ws_event_kind kinds[64];
    size_t nkinds;
    uint16_t code;               /* last CLOSE or ERROR code */
    unsigned char cur[BIG];      /* message being reassembled */
    size_t cur_len;
    unsigned char msg[BIG];      /* last complete message */
    size_t msg_len;
    int msg_opcode;
    int pieces_before_end;       /* DATA pieces seen before message_end */
    unsigned char ctrl[WS_CONTROL_MAX];
    size_t ctrl_len;
};
static struct rec R;

static void record(const struct ws_event *ev)
{
    if (R.nkinds < 64 && (ev->kind != WS_EVENT_DATA || ev->message_end))
        R.kinds[R.nkinds++] = ev->kind;
    switch (ev->kind) {
    case WS_EVENT_DATA:
        assert_true(ev->len > 0 || ev->message_end);
        assert_true(R.cur_len + ev->len <= BIG);
        memcpy(R.cur + R.cur_len, ev->data, ev->len);
        R.cur_len += ev->len;
        if (ev->message_end) {
            memcpy(R.msg, R.cur, R.cur_len);
            R.msg_len = R.cur_len;
            R.msg_opcode = ev->opcode;
            R.cur_len = 0;
        } else {
            R.pieces_before_end++;
        }
        break;
    case WS_EVENT_PING:
    case WS_EVENT_PONG:
    case WS_EVENT_CLOSE:
        assert_true(ev->len <= WS_CONTROL_MAX);
        memcpy(R.ctrl, ev->data, ev->len);
        R.ctrl_len = ev->len;
        R.code = ev->close_code;
        break;
    case WS_EVENT_ERROR:
        R.code = ev->close_code;
        break;
    case WS_EVENT_NONE:
        break;
    }
}

/* Feeds a copy of bytes to p in slices of `chunk` bytes (0: in one go),
 * recording events; stops at the first error. */
static void feed(struct ws_parser *p, const unsigned char *bytes, size_t n,
                 size_t chunk)
{
    unsigned char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, bytes, n);
    size_t off = 0;
    while (off < n) {
        size_t slice = chunk && chunk < n - off ? chunk : n - off;
        size_t pos = 0;
        for (;;) {
            struct ws_event ev;
            pos += ws_parser_feed(p, copy + off + pos, slice - pos, &ev);
            if (ev.kind == WS_EVENT_NONE) {
                assert_int_equal(pos, slice);
                break;
            }
            record(&ev);
            if (ev.kind == WS_EVENT_ERROR) {
                free(copy);
                return;
            }
        }
        off += slice;
    }
    free(copy);
}

static void parse_as(enum ws_role role, const unsigned char *b, size_t n,
                     size_t chunk, uint64_t max_frame, uint64_t max_msg)
{
    struct ws_parser p;
    memset(&R, 0, sizeof R);
    ws_parser_init(&p, role, max_frame, max_msg);
    feed(&p, b, n, chunk);
}

static const unsigned char key1234[4] = {1, 2, 3, 4};

/* Appends a masked (client) frame to out at *off. */
static void put_frame(unsigned char *out, size_t *off, int fin, int op,
                      const void *payload, size_t len)
{
    size_t w = 0;
    assert_int_equal(ws_frame_encode(out + *off, BIG + 64, fin, op, payload, len,
                                     key1234, &w),
                     0);
    *off += w;
}

/* Parses one masked client stream as a server with small limits and
 * returns the resulting close code of the ERROR, or 0 when there was none. */
static uint16_t server_error_code(const unsigned char *b, size_t n)
{
    parse_as(WS_ROLE_SERVER, b, n, 0, 1000, 2000);
    for (size_t i = 0; i < R.nkinds; i++)
        if (R.kinds[i] == WS_EVENT_ERROR)
            return R.code;
    return 0;
}

/* ---- handshake -------------------------------------------------------------- */

static void accept_key_matches_rfc_example(void **state)
{
    (void)state;
    char out[WS_ACCEPT_KEY_LEN + 1];
    assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void accept_key_rejects_keys_that_are_not_16_base64_bytes(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",     /* 23 chars */
        "dGhlIHNhbXBsZSBub25jZQ===",   /* 25 chars */
        "dGhlIHNhbXBsZSBub25jZR==",    /* non-zero trailing bits */
        "dGhlIHNhbXBsZSBub25j*Q==",    /* not base64 */
        "dGhlIHNhbXBsZSBub25jZQAA",    /* 18 bytes, no padding */
        "dGhlIHNhbXBsZSBub25jZ===",    /* bad padding */
        "dGhlIHNhbXBsZSBub25jZQ= ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char out[WS_ACCEPT_KEY_LEN + 1] = "x";
        assert_int_equal(ws_accept_key(bad[i], out), HARK_EINVAL);
        assert_string_equal(out, "");
    }
    char out[WS_ACCEPT_KEY_LEN + 1];
    assert_int_equal(ws_accept_key(NULL, out), HARK_EINVAL);
}

/* SHA-1 padding has a branch at 56 bytes into a block; keys are fixed
 * length, so check a second known pair too. */
static void accept_key_matches_a_second_known_pair(void **state)
{
    (void)state;
    char out[WS_ACCEPT_KEY_LEN + 1];
    assert_int_equal(ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out), 0);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

/* ---- RFC 6455 section 5.7 examples ---------------------------------------- */

static const unsigned char rfc_hello_unmasked[] = {0x81, 0x05, 'H', 'e', 'l',
                                                   'l', 'o'};
static const unsigned char rfc_hello_masked[] = {0x81, 0x85, 0x37, 0xfa,
                                                 0x21, 0x3d, 0x7f, 0x9f,
                                                 0x4d, 0x51, 0x58};
static const unsigned char rfc_hello_fragmented[] = {
    0x01, 0x03, 'H', 'e', 'l', 0x80, 0x02, 'l', 'o'};
static const unsigned char rfc_ping_unmasked[] = {0x89, 0x05, 'H', 'e', 'l',
                                                  'l', 'o'};
static const unsigned char rfc_pong_masked[] = {0x8a, 0x85, 0x37, 0xfa,
                                                0x21, 0x3d, 0x7f, 0x9f,
                                                0x4d, 0x51, 0x58};

static void rfc_single_unmasked_text_frame_parses_as_hello(void **state)
{
    (void)state;
    for (size_t chunk = 0; chunk <= 2; chunk++) {
        parse_as(WS_ROLE_CLIENT, rfc_hello_unmasked, sizeof rfc_hello_unmasked,
                 chunk, 0, 0);
        assert_int_equal(R.nkinds, 1);
        assert_int_equal(R.kinds[0], WS_EVENT_DATA);
        assert_int_equal(R.msg_opcode, WS_OPCODE_TEXT);
        assert_int_equal(R.msg_len, 5);
        assert_memory_equal(R.msg, "Hello", 5);
    }
}

static void rfc_single_masked_text_frame_parses_as_hello(void **state)
{
    (void)state;
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        parse_as(WS_ROLE_SERVER, rfc_hello_masked, sizeof rfc_hello_masked,
                 chunk, 0, 0);
        assert_int_equal(R.nkinds, 1);
        assert_int_equal(R.msg_len, 5);
        assert_memory_equal(R.msg, "Hello", 5);
    }
}

static void rfc_fragmented_text_reassembles_to_hello(void **state)
{
    (void)state;
    parse_as(WS_ROLE_CLIENT, rfc_hello_fragmented, sizeof rfc_hello_fragmented,
             0, 0, 0);
    assert_int_equal(R.nkinds, 1);
    assert_int_equal(R.msg_opcode, WS_OPCODE_TEXT);
    assert_int_equal(R.pieces_before_end, 1);
    assert_int_equal(R.msg_len, 5);
    assert_memory_equal(R.msg, "Hello", 5);
}

static void rfc_ping_and_masked_pong_carry_their_payload(void **state)
{
    (void)state;
    parse_as(WS_ROLE_CLIENT, rfc_ping_unmasked, sizeof rfc_ping_unmasked, 1, 0, 0);
    assert_int_equal(R.nkinds, 1);
    assert_int_equal(R.kinds[0], WS_EVENT_PING);
    assert_int_equal(R.ctrl_len, 5);
    assert_memory_equal(R.ctrl, "Hello", 5);
    parse_as(WS_ROLE_SERVER, rfc_pong_masked, sizeof rfc_pong_masked, 0, 0, 0);
    assert_int_equal(R.nkinds, 1);
    assert_int_equal(R.kinds[0], WS_EVENT_PONG);
    assert_memory_equal(R.ctrl, "Hello", 5);
}

static void rfc_256_byte_and_64k_binary_lengths_parse(void **state)
{
    (void)state;
    static unsigned char f[10 + 65536];
    for (size_t i = 0; i < 65536; i++)
        f[10 + i] = (unsigned char)(i * 7);
    /* 256 bytes: 16-bit length */
    f[6] = 0x82;
    f[7] = 0x7E;
    f[8] = 0x01;
    f[9] = 0x00;
    parse_as(WS_ROLE_CLIENT, f + 6, 4 + 256, 100, 0, 0);
    assert_int_equal(R.nkinds, 1);
    assert_int_equal(R.msg_opcode, WS_OPCODE_BINARY);
    assert_int_equal(R.msg_len, 256);
    assert_memory_equal(R.msg, f + 10, 256);
    /* 64 KiB: 64-bit length */
    static const unsigned char h64[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    memcpy(f, h64, sizeof h64);
    parse_as(WS_ROLE_CLIENT, f, sizeof f, 4096, 0, 0);
    assert_int_equal(R.nkinds, 1);
    assert_int_equal(R.msg_len, 65536);
    assert_memory_equal(R.msg, f + 10, 65536);
}

static void encoder_reproduces_rfc_example_bytes(void **state)
{
    (void)state;
    unsigned char out[128];
    size_t w;
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    assert_int_equal(ws_frame_encode(out, sizeof out, 1, WS_OPCODE_TEXT, "Hello",
                                     5, NULL, &w),
                     0);
    assert_int_equal(w, sizeof rfc_hello_unmasked);
    assert_memory_equal(out, rfc_hello_unmasked, w);
    assert_int_equal(ws_frame_encode(out, sizeof out, 1, WS_OPCODE_TEXT, "Hello",
                                     5, mask, &w),
                     0);
    assert_memory_equal(out, rfc_hello_masked, sizeof rfc_hello_masked);
    assert_int_equal(ws_frame_encode(out, sizeof out, 0, WS_OPCODE_TEXT, "Hel", 3,
                                     NULL, &w),
                     0);
    assert_int_equal(ws_frame_encode(out + w, sizeof out - w, 1,
                                     WS_OPCODE_CONTINUATION, "lo", 2, NULL, &w),
                     0);
    assert_memory_equal(out, rfc_hello_fragmented, sizeof rfc_hello_fragmented);
    assert_int_equal(ws_frame_encode(out, sizeof out, 1, WS_OPCODE_PING, "Hello",
                                     5, NULL, &w),
                     0);
    assert_memory_equal(out, rfc_ping_unmasked, sizeof rfc_ping_unmasked);
    assert_int_equal(ws_frame_encode(out, sizeof out, 1, WS_OPCODE_PONG, "Hello",
                                     5, mask, &w),
                     0);
    assert_memory_equal(out, rfc_pong_masked, sizeof rfc_pong_masked);

    unsigned char h[WS_HEADER_MAX];
    static const unsigned char h256[] = {0x82, 0x7E, 0x01, 0x00};
    static const unsigned char h64k[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(ws_frame_header_encode(h, 1, WS_OPCODE_BINARY, 256, NULL), 4);
    assert_memory_equal(h, h256, 4);
    assert_int_equal(ws_frame_header_encode(h, 1, WS_OPCODE_BINARY, 65536, NULL),
                     10);
    assert_memory_equal(h, h64k, 10);
    assert_int_equal(ws_frame_header_encode(h, 1, WS_OPCODE_BINARY, 125, NULL), 2);
    assert_int_equal(ws_frame_header_encode(h, 1, WS_OPCODE_BINARY, 126, NULL), 4);
    assert_int_equal(ws_frame_header_encode(h, 1, WS_OPCODE_BINARY, 65535, NULL),
                     4);
}

static void encoder_refuses_bad_control_frames_and_small_buffers(void **state)
{
    (void)state;
    unsigned char out[256], big[126] = {0};
    size_t w = 99;
    assert_int_equal(ws_frame_encode(out, sizeof out, 1, WS_OPCODE_PING, big, 126,
                                     NULL, &w),
                     HARK_EINVAL);
    assert_int_equal(w, 0);
    assert_int_equal(ws_frame_encode(out, sizeof out, 0, WS_OPCODE_CLOSE, NULL, 0,
                                     NULL, &w),
                     HARK_EINVAL);
    assert_int_equal(ws_frame_encode(out, sizeof out, 1, 3, NULL, 0, NULL, &w),
                     HARK_EINVAL);
    assert_int_equal(ws_frame_encode(out, 6, 1, WS_OPCODE_TEXT, "Hello", 5, NULL,
                                     &w),
                     HARK_ETOOBIG);
    assert_int_equal(ws_frame_encode(out, 7, 1, WS_OPCODE_TEXT, "Hello", 5, NULL,
                                     &w),
                     0);
}

static void masked_encoding_round_trips_through_server_parser(void **state)
{
    (void)state;
    static unsigned char payload[70000], out[70000 + WS_HEADER_MAX];
    static const unsigned char mask[4] = {0xde, 0xad, 0xbe, 0xef};
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (unsigned char)(i ^ (i >> 8));
    size_t lens[] = {0, 1, 125, 126, 65535, 65536, 70000};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        size_t w;
        assert_int_equal(ws_frame_encode(out, sizeof out, 1, WS_OPCODE_BINARY,
                                         payload, lens[i], mask, &w),
                         0);
        parse_as(WS_ROLE_SERVER, out, w, 777, 0, 0);
        assert_int_equal(R.nkinds, 1);
        assert_int_equal(R.msg_len, lens[i]);
        assert_memory_equal(R.msg, payload, lens[i]);
    }
}

static void header_prefixes_need_more_bytes(void **state)
{
    (void)state;
    unsigned char f[WS_HEADER_MAX];
    size_t n = ws_frame_header_encode(f, 1, WS_OPCODE_BINARY, 70000, key1234);
    assert_int_equal(n, 14);
    struct ws_frame_header h;
    uint16_t code = 0;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ws_frame_header_parse(f, i, WS_ROLE_SERVER, 0, &h, &code),
                         HARK_EAGAIN);
    assert_int_equal(ws_frame_header_parse(f, n, WS_ROLE_SERVER, 0, &h, &code), 0);
    assert_int_equal(h.header_size, 14);
    assert_int_equal(h.payload_len, 70000);
    assert_true(h.fin);
    assert_true(h.masked);
    assert_memory_equal(h.mask, key1234, 4);
}

static void non_minimal_length_encodings_are_accepted(void **state)
{
    (void)state;
    /* "Hello" announced with a 16-bit and with a 64-bit length */
    static const unsigned char f16[] = {0x81, 0x7E, 0, 5, 'H', 'e', 'l', 'l', 'o'};
    static const unsigned char f64[] = {0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5,
                                        'H', 'e', 'l', 'l', 'o'};
    parse_as(WS_ROLE_CLIENT, f16, sizeof f16, 0, 0, 0);
    assert_int_equal(R.msg_len, 5);
    parse_as(WS_ROLE_CLIENT, f64, sizeof f64, 0, 0, 0);
    assert_int_equal(R.nkinds, 1);
    assert_memory_equal(R.msg, "Hello", 5);
}

/* ---- protocol errors --------------------------------------------------------- */

static void rsv_bits_are_protocol_errors(void **state)
{
    (void)state;
    for (unsigned bit = 0x10; bit <= 0x40; bit <<= 1) {
        unsigned char f[] = {(unsigned char)(0x81 | bit), 0x80, 1, 2, 3, 4};
        assert_int_equal(server_error_code(f, sizeof f), WS_CLOSE_PROTOCOL_ERROR);
    }
}

static void unknown_opcodes_are_protocol_errors(void **state)
{
    (void)state;
    static const int ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        unsigned char f[] = {(unsigned char)(0x80 | ops[i]), 0x80, 1, 2, 3, 4};
        /* reported from the first two bytes, before the mask key arrives */
        assert_int_equal(server_error_code(f, 2), WS_CLOSE_PROTOCOL_ERROR);
    }
}

static void fragmented_or_long_control_frames_are_protocol_errors(void **state)
{
    (void)state;
    static const int ops[] = {WS_OPCODE_CLOSE, WS_OPCODE_PING, WS_OPCODE_PONG};
    for (size_t i = 0; i < 3; i++) {
        unsigned char nofin[] = {(unsigned char)ops[i], 0x80, 1, 2, 3, 4};
        assert_int_equal(server_error_code(nofin, sizeof nofin),
                         WS_CLOSE_PROTOCOL_ERROR);
        unsigned char len126[] = {(unsigned char)(0x80 | ops[i]), 0x80 | 126, 0,
                                  126};
        assert_int_equal(server_error_code(len126, sizeof len126),
                         WS_CLOSE_PROTOCOL_ERROR);
    }
    /* 125 bytes is the limit and fine */
    unsigned char f[200];
    size_t off = 0;
    unsigned char p[125] = {0};
    put_frame(f, &off, 1, WS_OPCODE_PING, p, sizeof p);
    assert_int_equal(server_error_code(f, off), 0);
    assert_int_equal(R.kinds[0], WS_EVENT_PING);
    assert_int_equal(R.ctrl_len, 125);
}

static void wrong_mask_bit_for_role_is_a_protocol_error(void **state)
{
    (void)state;
    assert_int_equal(server_error_code(rfc_hello_unmasked,
                                       sizeof rfc_hello_unmasked),
                     WS_CLOSE_PROTOCOL_ERROR);
    parse_as(WS_ROLE_CLIENT, rfc_hello_masked, sizeof rfc_hello_masked, 0, 0, 0);
    assert_int_equal(R.nkinds, 1);
    assert_int_equal(R.kinds[0], WS_EVENT_ERROR);
    assert_int_equal(R.code, WS_CLOSE_PROTOCOL_ERROR);
}

static void length_with_top_bit_set_is_a_protocol_error(void **state)
{
    (void)state;
    static const unsigned char f[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1};
    parse_as(WS_ROLE_SERVER, f, sizeof f, 0, 0, 0);
    assert_int_equal(R.kinds[0], WS_EVENT_ERROR);
    assert_int_equal(R.code, WS_CLOSE_PROTOCOL_ERROR);
}

static void frame_over_max_is_too_big_and_max_itself_is_fine(void **state)
{
    (void)state;
    static unsigned char f[BIG], p[1001];
    size_t off = 0;
    put_frame(f, &off, 1, WS_OPCODE_BINARY, p, 1000);
    assert_int_equal(server_error_code(f, off), 0);
    assert_int_equal(R.msg_len, 1000);
    off = 0;
    put_frame(f, &off, 1, WS_OPCODE_BINARY, p, 1001);
    /* reported from the header alone */
    assert_int_equal(server_error_code(f, 4), WS_CLOSE_TOO_BIG);
}

static void message_over_max_across_fragments_is_too_big(void **state)
{
    (void)state;
    static unsigned char f[BIG], p[1000];
    size_t off = 0;
    put_frame(f, &off, 0, WS_OPCODE_BINARY, p, 1000);
    put_frame(f, &off, 1, WS_OPCODE_CONTINUATION, p, 1000);
    assert_int_equal(server_error_code(f, off), 0);
    assert_int_equal(R.msg_len, 2000);
    off = 0;
    put_frame(f, &off, 0, WS_OPCODE_BINARY, p, 1000);
    put_frame(f, &off, 0, WS_OPCODE_CONTINUATION, p, 1000);
    put_frame(f, &off, 1, WS_OPCODE_CONTINUATION, p, 1);
    assert_int_equal(server_error_code(f, off), WS_CLOSE_TOO_BIG);
}

static void continuation_without_message_is_a_protocol_error(void **state)
{
    (void)state;
    unsigned char f[64];
    size_t off = 0;
    put_frame(f, &off, 1, WS_OPCODE_CONTINUATION, "x", 1);
    assert_int_equal(server_error_code(f, off), WS_CLOSE_PROTOCOL_ERROR);
    /* also right after a complete message */
    off = 0;
    put_frame(f, &off, 1, WS_OPCODE_TEXT, "a", 1);
    put_frame(f, &off, 0, WS_OPCODE_CONTINUATION, "x", 1);
    assert_int_equal(server_error_code(f, off), WS_CLOSE_PROTOCOL_ERROR);
}

static void new_data_frame_inside_fragmented_message_is_a_protocol_error(void **state)
{
    (void)state;
    static const int ops[] = {WS_OPCODE_TEXT, WS_OPCODE_BINARY};
    for (size_t i = 0; i < 2; i++) {
        unsigned char f[64];
        size_t off = 0;
        put_frame(f, &off, 0, WS_OPCODE_TEXT, "a", 1);
        put_frame(f, &off, 1, ops[i], "b", 1);
        assert_int_equal(server_error_code(f, off), WS_CLOSE_PROTOCOL_ERROR);
    }
}

static void close_frame_reports_code_and_reason(void **state)
{
    (void)state;
    unsigned char f[256], p[WS_CONTROL_MAX];
    size_t off = 0, plen;
    assert_int_equal(ws_close_payload_encode(4001, "bye \xce\xba", p, &plen), 0);
    put_frame(f, &off, 1, WS_OPCODE_CLOSE, p, plen);
    put_frame(f, &off, 1, WS_OPCODE_TEXT, "ignored", 7); /* after close */
    assert_int_equal(server_error_code(f, off), 0);
    assert_int_equal(R.nkinds, 1);
    assert_int_equal(R.kinds[0], WS_EVENT_CLOSE);
    assert_int_equal(R.code, 4001);
    assert_int_equal(R.ctrl_len, 6);
    assert_memory_equal(R.ctrl, "bye \xce\xba", 6);
    off = 0;
    put_frame(f, &off, 1, WS_OPCODE_CLOSE, NULL, 0);
    assert_int_equal(server_error_code(f, off), 0);
    assert_int_equal(R.code, WS_CLOSE_NO_STATUS);
    assert_int_equal(R.ctrl_len, 0);
}

static void close_with_bad_payload_is_an_error_with_the_right_code(void **state)
{
    (void)state;
    static const unsigned bad_codes[] = {0,    999,  1004, 1005, 1006, 1015,
                                         1016, 2000, 2999, 5000, 65535};
    unsigned char f[64];
    size_t off = 0;
    put_frame(f, &off, 1, WS_OPCODE_CLOSE, "\x03", 1); /* 1-byte payload */
    assert_int_equal(server_error_code(f, off), WS_CLOSE_PROTOCOL_ERROR);
    for (size_t i = 0; i < sizeof bad_codes / sizeof *bad_codes; i++) {
        unsigned char p[2] = {(unsigned char)(bad_codes[i] >> 8),
                              (unsigned char)bad_codes[i]};
        off = 0;
        put_frame(f, &off, 1, WS_OPCODE_CLOSE, p, 2);
        assert_int_equal(server_error_code(f, off), WS_CLOSE_PROTOCOL_ERROR);
    }
    static const unsigned good_codes[] = {1000, 1001, 1002, 1003, 1007, 1011,
                                          1014, 3000, 4999};
    for (size_t i = 0; i < sizeof good_codes / sizeof *good_codes; i++) {
        unsigned char p[2] = {(unsigned char)(good_codes[i] >> 8),
                              (unsigned char)good_codes[i]};
        off = 0;
        put_frame(f, &off, 1, WS_OPCODE_CLOSE, p, 2);
        assert_int_equal(server_error_code(f, off), 0);
        assert_int_equal(R.code, good_codes[i]);
    }
    off = 0;
    put_frame(f, &off, 1, WS_OPCODE_CLOSE, "\x03\xe8\xc0\x80", 4);
    assert_int_equal(server_error_code(f, off), WS_CLOSE_INVALID_PAYLOAD);
}

static void close_payload_encoder_validates_code_and_reason(void **state)
{
    (void)state;
    unsigned char p[WS_CONTROL_MAX];
    size_t len;
    char reason[WS_CLOSE_REASON_MAX + 2];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    assert_int_equal(ws_close_payload_encode(1000, reason, p, &len), HARK_EINVAL);
    reason[WS_CLOSE_REASON_MAX] = '\0';
    assert_int_equal(ws_close_payload_encode(1000, reason, p, &len), 0);
    assert_int_equal(len, WS_CONTROL_MAX);
    assert_int_equal(ws_close_payload_encode(1005, NULL, p, &len), HARK_EINVAL);
    assert_int_equal(ws_close_payload_encode(1000, "\xff", p, &len), HARK_EINVAL);
    assert_int_equal(ws_close_payload_encode(1000, "\xce", p, &len), HARK_EINVAL);
    assert_int_equal(ws_close_payload_encode(0, NULL, p, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(ws_close_payload_encode(0, "x", p, &len), HARK_EINVAL);
}

static void parser_stays_failed_after_an_error(void **state)
{
    (void)state;
    struct ws_parser p;
    ws_parser_init(&p, WS_ROLE_SERVER, 0, 0);
    unsigned char bad[] = {0x83, 0x80, 1, 2, 3, 4};
    struct ws_event ev;
    (void)ws_parser_feed(&p, bad, sizeof bad, &ev);
    assert_int_equal(ev.kind, WS_EVENT_ERROR);
    unsigned char good[sizeof rfc_hello_masked];
    memcpy(good, rfc_hello_masked, sizeof good);
    assert_int_equal(ws_parser_feed(&p, good, sizeof good, &ev), 0);
    assert_int_equal(ev.kind, WS_EVENT_ERROR);
    assert_int_equal(ev.close_code, WS_CLOSE_PROTOCOL_ERROR);
}

/* ---- UTF-8 of text messages ------------------------------------------------- */

static void text_utf8_is_checked_across_fragments(void **state)
{
    (void)state;
    /* κόσμε split inside code points across three frames */
    static const char k[] = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";
    unsigned char f[128];
    size_t off = 0;
    put_frame(f, &off, 0, WS_OPCODE_TEXT, k, 1);
    put_frame(f, &off, 0, WS_OPCODE_CONTINUATION, k + 1, 3);
    put_frame(f, &off, 1, WS_OPCODE_CONTINUATION, k + 4, sizeof k - 5);
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        parse_as(WS_ROLE_SERVER, f, off, chunk, 0, 0);
        assert_int_equal(R.nkinds, 1);
        assert_int_equal(R.kinds[0], WS_EVENT_DATA);
        assert_int_equal(R.msg_len, sizeof k - 1);
        assert_memory_equal(R.msg, k, sizeof k - 1);
    }
    /* a message ending inside a code point */
    off = 0;
    put_frame(f, &off, 0, WS_OPCODE_TEXT, "ab", 2);
    put_frame(f, &off, 1, WS_OPCODE_CONTINUATION, "\xce", 1);
    assert_int_equal(server_error_code(f, off), WS_CLOSE_INVALID_PAYLOAD);
    /* binary messages are not checked */
    off = 0;
    put_frame(f, &off, 1, WS_OPCODE_BINARY, "\xff\xce", 2);
    assert_int_equal(server_error_code(f, off), 0);
}

static void invalid_utf8_fails_before_the_message_ends(void **state)
{
    (void)state;
    unsigned char f[64];
    size_t off = 0;
    /* only the first fragment, which proves the text invalid */
    put_frame(f, &off, 0, WS_OPCODE_TEXT, "ok\xed\xa0\x80", 5);
    assert_int_equal(server_error_code(f, off), WS_CLOSE_INVALID_PAYLOAD);
    off = 0;
    put_frame(f, &off, 1, WS_OPCODE_TEXT, "\xc0\xaf", 2);
    assert_int_equal(server_error_code(f, off), WS_CLOSE_INVALID_PAYLOAD);
}

static void control_frames_interleave_with_fragments(void **state)
{
    (void)state;
    unsigned char f[128];
    size_t off = 0;
    put_frame(f, &off, 0, WS_OPCODE_BINARY, "ab", 2);
    put_frame(f, &off, 1, WS_OPCODE_PING, "p", 1);
    put_frame(f, &off, 0, WS_OPCODE_CONTINUATION, NULL, 0);
    put_frame(f, &off, 1, WS_OPCODE_PONG, NULL, 0);
    put_frame(f, &off, 1, WS_OPCODE_CONTINUATION, "cd", 2);
    for (size_t chunk = 0; chunk <= 5; chunk++) {
        parse_as(WS_ROLE_SERVER, f, off, chunk, 0, 0);
        assert_int_equal(R.nkinds, 3);
        assert_int_equal(R.kinds[0], WS_EVENT_PING);
        assert_int_equal(R.kinds[1], WS_EVENT_PONG);
        assert_int_equal(R.kinds[2], WS_EVENT_DATA);
        assert_int_equal(R.msg_opcode, WS_OPCODE_BINARY);
        assert_int_equal(R.msg_len, 4);
        assert_memory_equal(R.msg, "abcd", 4);
    }
}

static void empty_messages_are_delivered(void **state)
{
    (void)state;
    unsigned char f[64];
    size_t off = 0;
    put_frame(f, &off, 1, WS_OPCODE_TEXT, NULL, 0);
    put_frame(f, &off, 0, WS_OPCODE_BINARY, NULL, 0);
    put_frame(f, &off, 1, WS_OPCODE_CONTINUATION, NULL, 0);
    parse_as(WS_ROLE_SERVER, f, off, 0, 0, 0);
    assert_int_equal(R.nkinds, 2);
    assert_int_equal(R.kinds[1], WS_EVENT_DATA);
    assert_int_equal(R.msg_opcode, WS_OPCODE_BINARY);
    assert_int_equal(R.msg_len, 0);
}

/* ---- connections over a socketpair ------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void make_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void raw_write(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

/* Writes one masked client frame. */
static void raw_send(int fd, int fin, int op, const void *p, size_t len)
{
    static unsigned char f[BIG + 64];
    size_t off = 0;
    put_frame(f, &off, fin, op, p, len);
    raw_write(fd, f, off);
}

static int raw_read_exact(int fd, unsigned char *p, size_t n, int timeout_ms)
{
    while (n > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return -1;
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one unmasked server frame; -1 at EOF or after timeout_ms. */
static int raw_read_frame(int fd, struct ws_frame_header *h, unsigned char *payload,
                          size_t cap, int timeout_ms)
{
    unsigned char hdr[WS_HEADER_MAX];
    size_t n = 0;
    uint16_t code;
    int rc;
    do {
        if (n == sizeof hdr || raw_read_exact(fd, hdr + n, 1, timeout_ms) != 0)
            return -1;
        n++;
        rc = ws_frame_header_parse(hdr, n, WS_ROLE_CLIENT, 0, h, &code);
    } while (rc == HARK_EAGAIN);
    assert_int_equal(rc, 0);
    assert_true(h->payload_len <= cap);
    return raw_read_exact(fd, payload, (size_t)h->payload_len, timeout_ms);
}

/* Reads frames until a close; returns its code (1005 when empty). */
static unsigned raw_expect_close(int fd)
{
    struct ws_frame_header h;
    unsigned char p[WS_CONTROL_MAX + 1];
    for (;;) {
        assert_int_equal(raw_read_frame(fd, &h, p, sizeof p, 5000), 0);
        if (h.opcode == WS_OPCODE_CLOSE)
            return h.payload_len >= 2 ? (unsigned)p[0] << 8 | p[1]
                                      : WS_CLOSE_NO_STATUS;
    }
}

static struct ws_conn *server_conn(int fd, const struct ws_config *cfg)
{
    struct ws_config d = ws_config_default();
    struct ws_conn *c = NULL;
    assert_int_equal(ws_conn_new(fd, NULL, 0, cfg ? cfg : &d, &c), 0);
    return c;
}

static void conn_reassembles_fragments_and_pongs_interleaved_ping(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_conn *c = server_conn(sv[0], NULL);
    raw_send(sv[1], 0, WS_OPCODE_TEXT, "Hel", 3);
    raw_send(sv[1], 1, WS_OPCODE_PING, "p1", 2);
    raw_send(sv[1], 1, WS_OPCODE_CONTINUATION, "lo", 2);
    int op = 0;
    const unsigned char *d;
    size_t len;
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), 0);
    assert_int_equal(op, WS_OPCODE_TEXT);
    assert_int_equal(len, 5);
    assert_memory_equal(d, "Hello", 5);
    struct ws_frame_header h;
    unsigned char p[16];
    assert_int_equal(raw_read_frame(sv[1], &h, p, sizeof p, 2000), 0);
    assert_int_equal(h.opcode, WS_OPCODE_PONG);
    assert_int_equal(h.payload_len, 2);
    assert_memory_equal(p, "p1", 2);
    ws_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

static void conn_echoes_peer_close_and_stays_closed(void **state)
{
    (void)state;
    for (int empty = 0; empty <= 1; empty++) {
        int sv[2];
        make_pair(sv);
        struct ws_conn *c = server_conn(sv[0], NULL);
        raw_send(sv[1], 1, WS_OPCODE_CLOSE, empty ? "" : "\x0f\xa1" "bye",
                 empty ? 0 : 5);
        int op;
        const unsigned char *d;
        size_t len;
        assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_ECLOSED);
        assert_int_equal(raw_expect_close(sv[1]), empty ? WS_CLOSE_NO_STATUS : 4001);
        assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_ECLOSED);
        assert_int_equal(ws_conn_send_text(c, "x", 1), HARK_ECLOSED);
        assert_int_equal(ws_conn_close(c, 1000, NULL), 0); /* already sent */
        ws_conn_free(c);
        close(sv[0]);
        close(sv[1]);
    }
}

static void conn_sends_the_matching_close_code_on_violations(void **state)
{
    (void)state;
    static unsigned char big[600];
    struct {
        int fin, op;
        const void *p;
        size_t len;
        unsigned want;
    } cases[] = {
        {1, WS_OPCODE_TEXT, "\xc3\x28", 2, WS_CLOSE_INVALID_PAYLOAD},
        {1, WS_OPCODE_BINARY, big, 600, WS_CLOSE_TOO_BIG},
        {1, WS_OPCODE_CONTINUATION, "x", 1, WS_CLOSE_PROTOCOL_ERROR},
        {0, WS_OPCODE_BINARY, big, 400, WS_CLOSE_TOO_BIG}, /* + 2nd below */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int sv[2];
        make_pair(sv);
        struct ws_config cfg = ws_config_default();
        cfg.max_frame_bytes = 500;
        cfg.max_message_bytes = 700;
        struct ws_conn *c = server_conn(sv[0], &cfg);
        raw_send(sv[1], cases[i].fin, cases[i].op, cases[i].p, cases[i].len);
        if (!cases[i].fin)
            raw_send(sv[1], 1, WS_OPCODE_CONTINUATION, big, 400);
        int op;
        const unsigned char *d;
        size_t len;
        assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_EPROTO);
        assert_int_equal(raw_expect_close(sv[1]), cases[i].want);
        ws_conn_free(c);
        close(sv[0]);
        close(sv[1]);
    }
    /* unmasked frame sent to a server */
    int sv[2];
    make_pair(sv);
    struct ws_conn *c = server_conn(sv[0], NULL);
    raw_write(sv[1], rfc_hello_unmasked, sizeof rfc_hello_unmasked);
    int op;
    const unsigned char *d;
    size_t len;
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_EPROTO);
    assert_int_equal(raw_expect_close(sv[1]), WS_CLOSE_PROTOCOL_ERROR);
    ws_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

static void conn_pings_when_idle_then_times_out(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_config cfg = ws_config_default();
    cfg.ping_interval_ms = 50;
    cfg.idle_timeout_ms = 300;
    struct ws_conn *c = server_conn(sv[0], &cfg);
    int op;
    const unsigned char *d;
    size_t len;
    int64_t t0 = mono_ms();
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_ETIMEDOUT);
    int64_t took = mono_ms() - t0;
    assert_true(took >= 290);
    assert_true(took < 3000);
    int pings = 0;
    struct ws_frame_header h;
    unsigned char p[WS_CONTROL_MAX];
    for (;;) {
        assert_int_equal(raw_read_frame(sv[1], &h, p, sizeof p, 2000), 0);
        if (h.opcode != WS_OPCODE_PING)
            break;
        pings++;
    }
    assert_true(pings >= 3);
    assert_int_equal(h.opcode, WS_OPCODE_CLOSE);
    assert_int_equal((unsigned)p[0] << 8 | p[1], WS_CLOSE_GOING_AWAY);
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_ETIMEDOUT);
    ws_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

struct reader {
    struct ws_conn *c;
    int rc;
    int64_t done_ms;
    char msg[64];
};

/* Calls ws_conn_recv() until an error, keeping the last text message. */
static void *reader_main(void *arg)
{
    struct reader *r = arg;
    int op;
    const unsigned char *d;
    size_t len;
    while ((r->rc = ws_conn_recv(r->c, &op, &d, &len)) == 0)
        snprintf(r->msg, sizeof r->msg, "%.*s", (int)len, (const char *)d);
    r->done_ms = mono_ms();
    return NULL;
}

static void conn_answered_pings_keep_it_alive_past_idle_timeout(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_config scfg = ws_config_default();
    scfg.ping_interval_ms = 30;
    scfg.idle_timeout_ms = 150;
    struct ws_conn *s = server_conn(sv[0], &scfg);
    struct ws_config ccfg = ws_config_default();
    ccfg.ping_interval_ms = 0;
    ccfg.idle_timeout_ms = 0;
    struct ws_conn *cl = NULL;
    assert_int_equal(ws_conn_new_client(sv[1], NULL, 0, &ccfg, &cl), 0);
    struct reader rc = {.c = cl}, rs = {.c = s};
    pthread_t tc, ts;
    assert_int_equal(pthread_create(&tc, NULL, reader_main, &rc), 0);
    assert_int_equal(pthread_create(&ts, NULL, reader_main, &rs), 0);

    /* the client's reader answers the server's pings meanwhile */
    sleep_ms(500);
    assert_int_equal(ws_conn_send_text(cl, "late", 4), 0);
    assert_int_equal(ws_conn_send_text(s, "to client", 9), 0);
    sleep_ms(50);
    assert_int_equal(ws_conn_close(s, WS_CLOSE_NORMAL, "done"), 0);
    pthread_join(ts, NULL);
    pthread_join(tc, NULL);
    /* a server that had timed out would never have seen "late" */
    assert_int_equal(rs.rc, HARK_ECLOSED);
    assert_string_equal(rs.msg, "late");
    assert_int_equal(rc.rc, HARK_ECLOSED);
    assert_string_equal(rc.msg, "to client");
    ws_conn_free(s);
    ws_conn_free(cl);
    close(sv[0]);
    close(sv[1]);
}

static void conn_close_wakes_reader_and_bounds_wait_for_answer(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_config cfg = ws_config_default();
    cfg.ping_interval_ms = 0;
    cfg.idle_timeout_ms = 30000;
    cfg.close_timeout_ms = 100;
    struct ws_conn *c = server_conn(sv[0], &cfg);
    struct reader r = {.c = c};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
    sleep_ms(50);
    int64_t t0 = mono_ms();
    assert_int_equal(ws_conn_close(c, WS_CLOSE_GOING_AWAY, "shutdown"), 0);
    pthread_join(t, NULL);
    assert_int_equal(r.rc, HARK_ETIMEDOUT);
    assert_true(r.done_ms - t0 >= 90);
    assert_true(r.done_ms - t0 < 2000);
    assert_int_equal(raw_expect_close(sv[1]), WS_CLOSE_GOING_AWAY);
    assert_int_equal(ws_conn_send_binary(c, "x", 1), HARK_ECLOSED);
    ws_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

static void conn_close_rejects_bad_codes(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_conn *c = server_conn(sv[0], NULL);
    assert_int_equal(ws_conn_close(c, 0, NULL), HARK_EINVAL);
    assert_int_equal(ws_conn_close(c, 1005, NULL), HARK_EINVAL);
    assert_int_equal(ws_conn_close(c, 1000, "\xff"), HARK_EINVAL);
    /* nothing was sent: the conn still works */
    assert_int_equal(ws_conn_send_text(c, "ok", 2), 0);
    ws_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

static void conn_parses_extra_in_before_reading_the_socket(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    unsigned char f[128];
    size_t off = 0;
    put_frame(f, &off, 1, WS_OPCODE_TEXT, "early", 5);
    size_t first = off;
    put_frame(f, &off, 1, WS_OPCODE_BINARY, "\x01\x02\x03", 3);
    /* the HTTP layer read the first frame and half of the second */
    size_t extra = first + 3;
    struct ws_config cfg = ws_config_default();
    struct ws_conn *c = NULL;
    assert_int_equal(ws_conn_new(sv[0], f, extra, &cfg, &c), 0);
    raw_write(sv[1], f + extra, off - extra);
    int op;
    const unsigned char *d;
    size_t len;
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), 0);
    assert_int_equal(op, WS_OPCODE_TEXT);
    assert_memory_equal(d, "early", 5);
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), 0);
    assert_int_equal(op, WS_OPCODE_BINARY);
    assert_int_equal(len, 3);
    assert_memory_equal(d, "\x01\x02\x03", 3);
    ws_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

static void conn_reports_closed_when_peer_disconnects(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_conn *c = server_conn(sv[0], NULL);
    raw_send(sv[1], 0, WS_OPCODE_TEXT, "half", 4);
    close(sv[1]);
    int op;
    const unsigned char *d;
    size_t len;
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_ECLOSED);
    int rc = ws_conn_send_text(c, "x", 1);
    assert_true(rc == HARK_ECLOSED);
    ws_conn_free(c);
    close(sv[0]);
}

static void conn_send_text_rejects_invalid_utf8(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_conn *c = server_conn(sv[0], NULL);
    assert_int_equal(ws_conn_send_text(c, "\xed\xa0\x80", 3), HARK_EINVAL);
    assert_int_equal(ws_conn_send_text(c, "\xce", 1), HARK_EINVAL);
    assert_int_equal(ws_conn_send_text(c, "\xce\xba", 2), 0);
    struct ws_frame_header h;
    unsigned char p[8];
    assert_int_equal(raw_read_frame(sv[1], &h, p, sizeof p, 2000), 0);
    assert_int_equal(h.opcode, WS_OPCODE_TEXT);
    assert_int_equal(h.payload_len, 2);
    ws_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

static void conn_new_rejects_bad_config(void **state)
{
    (void)state;
    struct ws_conn *c = (struct ws_conn *)&c;
    struct ws_config cfg = ws_config_default();
    cfg.max_message_bytes = 0;
    assert_int_equal(ws_conn_new(0, NULL, 0, &cfg, &c), HARK_ECONFIG);
    assert_null(c);
    cfg = ws_config_default();
    cfg.write_timeout_ms = 0;
    assert_int_equal(ws_conn_new(0, NULL, 0, &cfg, &c), HARK_ECONFIG);
    cfg = ws_config_default();
    cfg.idle_timeout_ms = -1;
    assert_int_equal(ws_conn_new(0, NULL, 0, &cfg, &c), HARK_ECONFIG);
    cfg = ws_config_default();
    assert_int_equal(ws_conn_new(-1, NULL, 0, &cfg, &c), HARK_ECONFIG);
    assert_int_equal(ws_conn_new(0, NULL, 5, &cfg, &c), HARK_ECONFIG);
}

static void conn_new_returns_enomem_on_every_allocation_failure(void **state)
{
    (void)state;
    struct ws_config cfg = ws_config_default();
    unsigned char extra[20000] = {0};
    for (long n = 0;; n++) {
        struct ws_conn *c = NULL;
        hark_mem_fail_after(n);
        int rc = ws_conn_new(0, extra, sizeof extra, &cfg, &c);
        long failures = hark_mem_failures();
        hark_mem_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(failures, 0);
            ws_conn_free(c);
            break;
        }
        assert_int_equal(rc, HARK_ENOMEM);
        assert_null(c);
        assert_true(n < 10);
    }
}

static void conn_recv_allocation_failure_closes_with_1011(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_conn *c = server_conn(sv[0], NULL);
    raw_send(sv[1], 1, WS_OPCODE_TEXT, "hello", 5);
    int op;
    const unsigned char *d;
    size_t len;
    hark_mem_fail_after(0);
    int rc = ws_conn_recv(c, &op, &d, &len);
    hark_mem_fail_after(-1);
    assert_int_equal(rc, HARK_ENOMEM);
    assert_int_equal(raw_expect_close(sv[1]), WS_CLOSE_INTERNAL_ERROR);
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_ENOMEM);
    ws_conn_free(c);
    close(sv[0]);
    close(sv[1]);
}

/* ---- end to end --------------------------------------------------------------- */

#define E2E_BIG (1u << 20)
#define E2E_PER_SENDER 200

struct echo {
    struct ws_conn *c;
    int rc;
    int messages;
};

/* Server side: sends every message back with its opcode. */
static void *echo_main(void *arg)
{
    struct echo *e = arg;
    int op;
    const unsigned char *d;
    size_t len;
    while ((e->rc = ws_conn_recv(e->c, &op, &d, &len)) == 0) {
        e->messages++;
        int rc = op == WS_OPCODE_TEXT
                     ? ws_conn_send_text(e->c, (const char *)d, len)
                     : ws_conn_send_binary(e->c, d, len);
        if (rc)
            break;
    }
    return NULL;
}

struct sender {
    struct ws_conn *c;
    char tag;
    int failures;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < E2E_PER_SENDER; i++) {
        char m[300];
        int n = snprintf(m, sizeof m, "%c-%d-", s->tag, i);
        /* length varies so frames of 7-bit and 16-bit lengths mix */
        size_t len = (size_t)n + (size_t)(i % 3) * 100;
        memset(m + n, s->tag, len - (size_t)n);
        if (ws_conn_send_text(s->c, m, len) != 0)
            s->failures++;
    }
    return NULL;
}

static void end_to_end_text_and_binary_over_socketpair(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    struct ws_conn *srv = server_conn(sv[0], NULL);
    struct ws_config ccfg = ws_config_default();
    struct ws_conn *cl = NULL;
    assert_int_equal(ws_conn_new_client(sv[1], NULL, 0, &ccfg, &cl), 0);
    struct echo e = {.c = srv};
    pthread_t et;
    assert_int_equal(pthread_create(&et, NULL, echo_main, &e), 0);

    int op;
    const unsigned char *d;
    size_t len;
    assert_int_equal(ws_conn_send_text(cl, "hello \xce\xba", 8), 0);
    assert_int_equal(ws_conn_recv(cl, &op, &d, &len), 0);
    assert_int_equal(op, WS_OPCODE_TEXT);
    assert_int_equal(len, 8);
    assert_memory_equal(d, "hello \xce\xba", 8);

    assert_int_equal(ws_conn_send_text(cl, "", 0), 0);
    assert_int_equal(ws_conn_recv(cl, &op, &d, &len), 0);
    assert_int_equal(op, WS_OPCODE_TEXT);
    assert_int_equal(len, 0);

    unsigned char *big = malloc(E2E_BIG);
    assert_non_null(big);
    for (size_t i = 0; i < E2E_BIG; i++)
        big[i] = (unsigned char)(i * 31 + (i >> 12));
    assert_int_equal(ws_conn_send_binary(cl, big, E2E_BIG), 0);
    assert_int_equal(ws_conn_recv(cl, &op, &d, &len), 0);
    assert_int_equal(op, WS_OPCODE_BINARY);
    assert_int_equal(len, E2E_BIG);
    assert_memory_equal(d, big, E2E_BIG);
    free(big);

    /* two threads send at once while this one reads the echoes */
    struct sender sa = {.c = cl, .tag = 'A'}, sb = {.c = cl, .tag = 'B'};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, sender_main, &sa), 0);
    assert_int_equal(pthread_create(&tb, NULL, sender_main, &sb), 0);
    int next[2] = {0, 0};
    for (int i = 0; i < 2 * E2E_PER_SENDER; i++) {
        assert_int_equal(ws_conn_recv(cl, &op, &d, &len), 0);
        assert_int_equal(op, WS_OPCODE_TEXT);
        assert_true(len >= 4);
        int who = d[0] == 'A' ? 0 : 1;
        char want[32];
        int n = snprintf(want, sizeof want, "%c-%d-", d[0], next[who]);
        assert_memory_equal(d, want, (size_t)n); /* in order per sender */
        assert_int_equal(len, (size_t)n + (size_t)(next[who] % 3) * 100);
        for (size_t k = (size_t)n; k < len; k++)
            assert_int_equal(d[k], d[0]);
        next[who]++;
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(sa.failures + sb.failures, 0);

    assert_int_equal(ws_conn_close(cl, WS_CLOSE_NORMAL, "bye"), 0);
    assert_int_equal(ws_conn_recv(cl, &op, &d, &len), HARK_ECLOSED);
    pthread_join(et, NULL);
    assert_int_equal(e.rc, HARK_ECLOSED);
    assert_int_equal(e.messages, 3 + 2 * E2E_PER_SENDER);
    ws_conn_free(cl);
    ws_conn_free(srv);
    close(sv[0]);
    close(sv[1]);
}

/* ---- client handshake against a scripted TCP server ------------------------- */

/* FAKE_OK runs a server conn after the handshake; FAKE_HANDSHAKE_ONLY
 * allocates nothing after accept() so allocation failure tests see only the
 * client's allocations. */
enum fake_mode { FAKE_OK, FAKE_HANDSHAKE_ONLY, FAKE_BAD_ACCEPT, FAKE_STATUS_401 };

struct fake_server {
    int lfd;
    int port;
    enum fake_mode mode;
    char request[4096];
    int rc; /* the server conn's final recv result in FAKE_OK */
    char got[64];
};

static void *fake_main(void *arg)
{
    struct fake_server *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t n = 0;
    while (n < sizeof f->request - 1 && !strstr(f->request, "\r\n\r\n")) {
        ssize_t r = read(fd, f->request + n, sizeof f->request - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        f->request[n] = '\0';
    }
    char key[64] = "", accept_key[WS_ACCEPT_KEY_LEN + 1] = "";
    const char *k = strstr(f->request, "Sec-WebSocket-Key: ");
    if (k)
        snprintf(key, sizeof key, "%.24s", k + 19);
    if (ws_accept_key(key, accept_key) != 0 || f->mode == FAKE_BAD_ACCEPT)
        snprintf(accept_key, sizeof accept_key, "%s", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    char resp[512];
    int len;
    if (f->mode == FAKE_STATUS_401)
        len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    else
        len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                       accept_key);
    /* a first frame in the same segment as the response */
    unsigned char frame[32];
    size_t fl = 0;
    if (ws_frame_encode(frame, sizeof frame, 1, WS_OPCODE_TEXT, "welcome", 7,
                        NULL, &fl) == 0 &&
        (size_t)len + fl < sizeof resp) {
        memcpy(resp + len, frame, fl);
        len += (int)fl;
    }
    if (send(fd, resp, (size_t)len, MSG_NOSIGNAL) != len) {
        close(fd);
        return NULL;
    }
    if (f->mode == FAKE_OK) {
        struct ws_config cfg = ws_config_default();
        struct ws_conn *c = NULL;
        if (ws_conn_new(fd, NULL, 0, &cfg, &c) == 0) {
            int op;
            const unsigned char *d;
            size_t dl;
            while ((f->rc = ws_conn_recv(c, &op, &d, &dl)) == 0)
                snprintf(f->got, sizeof f->got, "%.*s", (int)dl, (const char *)d);
            ws_conn_free(c);
        }
    }
    if (f->mode == FAKE_HANDSHAKE_ONLY) {
        char sink[256];
        while (read(fd, sink, sizeof sink) > 0)
            continue;
    }
    close(fd);
    return NULL;
}

static void fake_start(struct fake_server *f, enum fake_mode mode, pthread_t *t)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &alen), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(t, NULL, fake_main, f), 0);
}

static void client_connects_checks_accept_and_keeps_early_frame(void **state)
{
    (void)state;
    struct fake_server f;
    pthread_t t;
    fake_start(&f, FAKE_OK, &t);
    struct ws_conn *c = NULL;
    assert_int_equal(ws_client_connect("127.0.0.1", f.port, "/ws/audio?x=1",
                                       "X-API-Key: k1\r\n", 5000, &c),
                     0);
    int op;
    const unsigned char *d;
    size_t len;
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), 0);
    assert_int_equal(op, WS_OPCODE_TEXT);
    assert_int_equal(len, 7);
    assert_memory_equal(d, "welcome", 7);
    assert_int_equal(ws_conn_send_text(c, "{\"uid\":\"u\"}", 11), 0);
    assert_int_equal(ws_conn_close(c, WS_CLOSE_NORMAL, NULL), 0);
    assert_int_equal(ws_conn_recv(c, &op, &d, &len), HARK_ECLOSED);
    ws_conn_free(c);
    pthread_join(t, NULL);
    assert_int_equal(f.rc, HARK_ECLOSED);
    assert_string_equal(f.got, "{\"uid\":\"u\"}");
    assert_non_null(strstr(f.request, "GET /ws/audio?x=1 HTTP/1.1\r\n"));
    assert_non_null(strstr(f.request, "\r\nX-API-Key: k1\r\n\r\n"));
    assert_non_null(strstr(f.request, "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_non_null(strstr(f.request, "\r\nUpgrade: websocket\r\n"));
    close(f.lfd);
}

static void client_rejects_wrong_accept_key_and_refused_upgrade(void **state)
{
    (void)state;
    static const enum fake_mode modes[] = {FAKE_BAD_ACCEPT, FAKE_STATUS_401};
    for (size_t i = 0; i < 2; i++) {
        struct fake_server f;
        pthread_t t;
        fake_start(&f, modes[i], &t);
        struct ws_conn *c = (struct ws_conn *)&c;
        assert_int_equal(ws_client_connect("127.0.0.1", f.port, "/ws", NULL,
                                           5000, &c),
                         HARK_EPROTO);
        assert_null(c);
        pthread_join(t, NULL);
        close(f.lfd);
    }
}

static int open_fd_count(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

static void client_connect_returns_enomem_and_closes_its_socket(void **state)
{
    (void)state;
    for (long n = 0;; n++) {
        struct fake_server f;
        pthread_t t;
        fake_start(&f, FAKE_HANDSHAKE_ONLY, &t);
        int fds = open_fd_count();
        struct ws_conn *c = (struct ws_conn *)&c;
        hark_mem_fail_after(n);
        int rc = ws_client_connect("127.0.0.1", f.port, "/ws", NULL, 5000, &c);
        long failures = hark_mem_failures();
        hark_mem_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(failures, 0);
            ws_conn_free(c);
        } else {
            assert_int_equal(rc, HARK_ENOMEM);
            assert_null(c);
        }
        pthread_join(t, NULL);
        assert_int_equal(open_fd_count(), fds);
        close(f.lfd);
        if (rc == 0)
            break;
        assert_true(n < 10);
    }
}

static void client_rejects_bad_arguments_and_refused_connections(void **state)
{
    (void)state;
    struct ws_conn *c = NULL;
    assert_int_equal(ws_client_connect("", 80, "/ws", NULL, 100, &c), HARK_EINVAL);
    assert_int_equal(ws_client_connect("h", 0, "/ws", NULL, 100, &c), HARK_EINVAL);
    assert_int_equal(ws_client_connect("h", 80, "ws", NULL, 100, &c), HARK_EINVAL);
    assert_int_equal(ws_client_connect("h", 80, "/w s", NULL, 100, &c),
                     HARK_EINVAL);
    assert_int_equal(ws_client_connect("h", 80, "/ws", "X: y", 100, &c),
                     HARK_EINVAL);
    assert_int_equal(ws_client_connect("h", 80, "/ws", "X: y\r\n\r\nGET", 100, &c),
                     HARK_EINVAL);
    assert_int_equal(ws_client_connect("h", 80, "/ws", NULL, 0, &c), HARK_EINVAL);
    /* a port nobody listens on: take one and release it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    assert_int_equal(ws_client_connect("127.0.0.1", ntohs(a.sin_port), "/ws",
                                       NULL, 1000, &c),
                     HARK_EIO);
    assert_null(c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(accept_key_matches_rfc_example),
    cmocka_unit_test(accept_key_rejects_keys_that_are_not_16_base64_bytes),
    cmocka_unit_test(accept_key_matches_a_second_known_pair),
    cmocka_unit_test(rfc_single_unmasked_text_frame_parses_as_hello),
    cmocka_unit_test(rfc_single_masked_text_frame_parses_as_hello),
    cmocka_unit_test(rfc_fragmented_text_reassembles_to_hello),
    cmocka_unit_test(rfc_ping_and_masked_pong_carry_their_payload),
    cmocka_unit_test(rfc_256_byte_and_64k_binary_lengths_parse),
    cmocka_unit_test(encoder_reproduces_rfc_example_bytes),
    cmocka_unit_test(encoder_refuses_bad_control_frames_and_small_buffers),
    cmocka_unit_test(masked_encoding_round_trips_through_server_parser),
    cmocka_unit_test(header_prefixes_need_more_bytes),
    cmocka_unit_test(non_minimal_length_encodings_are_accepted),
    cmocka_unit_test(rsv_bits_are_protocol_errors),
    cmocka_unit_test(unknown_opcodes_are_protocol_errors),
    cmocka_unit_test(fragmented_or_long_control_frames_are_protocol_errors),
    cmocka_unit_test(wrong_mask_bit_for_role_is_a_protocol_error),
    cmocka_unit_test(length_with_top_bit_set_is_a_protocol_error),
    cmocka_unit_test(frame_over_max_is_too_big_and_max_itself_is_fine),
    cmocka_unit_test(message_over_max_across_fragments_is_too_big),
    cmocka_unit_test(continuation_without_message_is_a_protocol_error),
    cmocka_unit_test(new_data_frame_inside_fragmented_message_is_a_protocol_error),
    cmocka_unit_test(close_frame_reports_code_and_reason),
    cmocka_unit_test(close_with_bad_payload_is_an_error_with_the_right_code),
    cmocka_unit_test(close_payload_encoder_validates_code_and_reason),
    cmocka_unit_test(parser_stays_failed_after_an_error),
    cmocka_unit_test(text_utf8_is_checked_across_fragments),
    cmocka_unit_test(invalid_utf8_fails_before_the_message_ends),
    cmocka_unit_test(control_frames_interleave_with_fragments),
    cmocka_unit_test(empty_messages_are_delivered),
    cmocka_unit_test(conn_reassembles_fragments_and_pongs_interleaved_ping),
    cmocka_unit_test(conn_echoes_peer_close_and_stays_closed),
    cmocka_unit_test(conn_sends_the_matching_close_code_on_violations),
    cmocka_unit_test(conn_pings_when_idle_then_times_out),
    cmocka_unit_test(conn_answered_pings_keep_it_alive_past_idle_timeout),
    cmocka_unit_test(conn_close_wakes_reader_and_bounds_wait_for_answer),
    cmocka_unit_test(conn_close_rejects_bad_codes),
    cmocka_unit_test(conn_parses_extra_in_before_reading_the_socket),
    cmocka_unit_test(conn_reports_closed_when_peer_disconnects),
    cmocka_unit_test(conn_send_text_rejects_invalid_utf8),
    cmocka_unit_test(conn_new_rejects_bad_config),
    cmocka_unit_test(conn_new_returns_enomem_on_every_allocation_failure),
    cmocka_unit_test(conn_recv_allocation_failure_closes_with_1011),
    cmocka_unit_test(end_to_end_text_and_binary_over_socketpair),
    cmocka_unit_test(client_connects_checks_accept_and_keeps_early_frame),
    cmocka_unit_test(client_rejects_wrong_accept_key_and_refused_upgrade),
    cmocka_unit_test(client_connect_returns_enomem_and_closes_its_socket),
    cmocka_unit_test(client_rejects_bad_arguments_and_refused_connections),
};
HARNESS_MAIN(tests)
