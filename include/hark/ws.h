/* ws.h — RFC 6455 WebSocket: frame codec, a pure byte-stream parser and a
 * connection that drives a socket.
 *
 * Three layers, each usable alone:
 *  1. Pure helpers, no allocation, no I/O: the handshake accept key, a frame
 *     header parser and encoder, (un)masking.
 *  2. struct ws_parser: a state machine fed arbitrary slices of the byte
 *     stream. It checks every rule a receiver must enforce (masking, RSV bits,
 *     opcodes, control frame rules, fragment order, size limits, UTF-8 of text
 *     and close reasons) and turns bytes into events. No allocation, no I/O:
 *     this is what the fuzzer drives and what ws_conn runs on.
 *  3. struct ws_conn: one connection over a connected socket with blocking
 *     I/O bounded by poll() timeouts, run by a thread the caller provides. It
 *     reassembles messages, answers pings, sends keepalive pings, performs the
 *     close handshake, and sends the right close code on a violation.
 *
 * No extension (permessage-deflate) and no subprotocol is ever negotiated, so
 * RSV bits must be zero. Non-minimal length encodings are accepted (RFC 6455
 * 5.2 says MUST be minimal, but rejecting them protects nothing).
 *
 * Roles: a server requires masked frames from its peer and sends unmasked
 * ones; a client the reverse. Both share every line of the connection code. */
#ifndef HARK_WS_H
#define HARK_WS_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"
#include "hark/utf8.h"

enum ws_opcode {
    WS_OPCODE_CONTINUATION = 0x0,
    WS_OPCODE_TEXT = 0x1,
    WS_OPCODE_BINARY = 0x2,
    WS_OPCODE_CLOSE = 0x8,
    WS_OPCODE_PING = 0x9,
    WS_OPCODE_PONG = 0xA,
};

/* Close status codes (RFC 6455 7.4.1) Hark sends or reports. */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005,     /* reported, never sent: close had no code */
    WS_CLOSE_INVALID_PAYLOAD = 1007, /* e.g. text that is not UTF-8 */
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

enum ws_role {
    WS_ROLE_SERVER, /* peer frames must be masked; ours are not */
    WS_ROLE_CLIENT, /* peer frames must not be masked; ours are */
};

#define WS_HEADER_MAX 14      /* 2 + 8 (64-bit length) + 4 (mask key) */
#define WS_CONTROL_MAX 125    /* control frame payload limit */
#define WS_CLOSE_REASON_MAX 123 /* control limit minus the 2-byte code */
#define WS_ACCEPT_KEY_LEN 28  /* base64 of a SHA-1 digest */

/* ---- 1. pure helpers ---------------------------------------------------- */

/* Computes Sec-WebSocket-Accept: base64(SHA-1(client_key + RFC GUID)) into
 * out (28 chars + NUL). client_key (borrowed) must be exactly 24 base64
 * characters decoding to 16 bytes, else HARK_EINVAL and out is "". */
HARK_MUST_CHECK int ws_accept_key(const char *client_key,
                                  char out[WS_ACCEPT_KEY_LEN + 1]);

/* True (1) when code may appear in a close frame on the wire: 1000-1003,
 * 1007-1014 and 3000-4999. 1005, 1006 and 1015 are reserved for reporting. */
int ws_close_code_valid(unsigned code);

struct ws_frame_header {
    int fin;                 /* 1 on the last frame of a message */
    unsigned rsv;            /* RSV1..3 as bits 2..0; always 0 once parsed */
    int opcode;              /* enum ws_opcode */
    int masked;
    uint64_t payload_len;
    unsigned char mask[4];   /* valid when masked */
    size_t header_size;      /* bytes the header occupies, 2..14 */
};

/* Parses the frame header at the start of p (n bytes, borrowed). Returns
 *  - 0: *h is filled in;
 *  - HARK_EAGAIN: n bytes are a valid prefix, more are needed;
 *  - HARK_EPROTO: the header breaks a rule; *close_code is the code to send:
 *    1002 for RSV bits, an unknown opcode, a fragmented or >125-byte control
 *    frame, a mask bit wrong for `role`, a 64-bit length with its top bit
 *    set; 1009 for a payload longer than max_frame_bytes.
 * Violations are reported as soon as the bytes that show them are present.
 * Frame sequence rules (continuations) are the parser's job, not this one. */
HARK_MUST_CHECK int ws_frame_header_parse(const unsigned char *p, size_t n,
                                          enum ws_role role,
                                          uint64_t max_frame_bytes,
                                          struct ws_frame_header *h,
                                          uint16_t *close_code);

/* Writes the header of a frame with a payload of len bytes into out and
 * returns its size (2..14). mask NULL: unmasked; else the 4-byte key is
 * written and the caller masks the payload with ws_mask(). Always minimal. */
size_t ws_frame_header_encode(unsigned char out[WS_HEADER_MAX], int fin,
                              int opcode, uint64_t len,
                              const unsigned char *mask);

/* Encodes one whole frame (header + payload, masked with the 4-byte `mask`
 * when not NULL) into out (cap bytes, borrowed); *written is its size. HARK_EINVAL for
 * an unknown opcode or a control frame that is fragmented or longer than
 * 125 bytes; HARK_ETOOBIG when cap is too small. payload is borrowed. */
HARK_MUST_CHECK int ws_frame_encode(unsigned char *out, size_t cap, int fin,
                                    int opcode, const void *payload,
                                    size_t len, const unsigned char *mask,
                                    size_t *written);

/* Builds a close frame's payload into out: the code (big-endian) then the
 * reason (borrowed, NUL-terminated, may be NULL). code 0 means "no status"
 * and gives an empty payload (the reason must then be empty). HARK_EINVAL
 * when the code is not ws_close_code_valid(), or the reason is not UTF-8 or
 * longer than WS_CLOSE_REASON_MAX bytes. */
HARK_MUST_CHECK int ws_close_payload_encode(unsigned code, const char *reason,
                                            unsigned char out[WS_CONTROL_MAX],
                                            size_t *len);

/* XORs p (n bytes, in place) with key; `offset` is the position of p[0] in
 * the frame payload, so a payload can be (un)masked in pieces. */
void ws_mask(unsigned char *p, size_t n, const unsigned char key[4],
             uint64_t offset);

/* ---- 2. the stream parser ----------------------------------------------- */

enum ws_event_kind {
    WS_EVENT_NONE,  /* all input consumed, need more bytes */
    WS_EVENT_DATA,  /* a piece of a text/binary message */
    WS_EVENT_PING,
    WS_EVENT_PONG,
    WS_EVENT_CLOSE, /* peer's close; the parser ignores all later bytes */
    WS_EVENT_ERROR, /* violation; the parser is stuck in this state */
};

struct ws_event {
    enum ws_event_kind kind;
    int opcode;       /* DATA: WS_OPCODE_TEXT or WS_OPCODE_BINARY (also for
                         the pieces carried by continuation frames) */
    int message_end;  /* DATA: this piece ends the message */
    /* DATA: unmasked bytes inside the buffer given to ws_parser_feed();
     * PING/PONG: the payload; CLOSE: the reason (UTF-8, not NUL-terminated);
     * both inside the parser. Valid until the next ws_parser_feed(). */
    const unsigned char *data;
    size_t len;
    /* CLOSE: the peer's code, WS_CLOSE_NO_STATUS when it sent none.
     * ERROR: the code to send (1002, 1007 or 1009). */
    uint16_t close_code;
};

/* The fields are private; the struct is public so it can live on the stack
 * or inside another struct without allocation. */
struct ws_parser {
    enum ws_role role;
    uint64_t max_frame_bytes, max_message_bytes;
    int state;
    unsigned char hdr[WS_HEADER_MAX];
    size_t hdr_len;
    struct ws_frame_header frame;
    uint64_t frame_done;   /* payload bytes of `frame` consumed */
    int msg_opcode;        /* data message in progress, 0 when none */
    uint64_t msg_len;      /* its bytes so far */
    struct utf8_state utf8;
    unsigned char ctrl[WS_CONTROL_MAX];
    uint16_t error_code;
};

/* max_*_bytes of 0 mean "no limit" (up to 2^63-1). */
void ws_parser_init(struct ws_parser *p, enum ws_role role,
                    uint64_t max_frame_bytes, uint64_t max_message_bytes);

/* Consumes bytes from buf (n bytes, borrowed and modified: payloads are
 * unmasked in place) until one event is ready or the input runs out, and
 * returns how many bytes it consumed; *ev says what happened. Call again with
 * the rest of the input until it returns WS_EVENT_NONE. Input may be split
 * anywhere; events do not depend on how it is split (except how DATA is cut
 * into pieces). A DATA piece may be empty only when it ends the message. A
 * text message's pieces are validated as they come: bad UTF-8 is an ERROR
 * (1007) before the message ends. */
size_t ws_parser_feed(struct ws_parser *p, unsigned char *buf, size_t n,
                      struct ws_event *ev);

/* ---- 3. connections ----------------------------------------------------- */

struct ws_config {
    size_t max_frame_bytes;   /* one frame's payload; 1 MiB */
    size_t max_message_bytes; /* a reassembled message; 1 MiB */
    int ping_interval_ms;     /* ping after this much silence; 20000; 0: never.
                                 Pings go out while ws_conn_recv() waits. */
    int idle_timeout_ms;      /* give up after this much silence; 60000;
                                 0: never. Any byte from the peer (a pong
                                 too) counts as activity. */
    int write_timeout_ms;     /* one whole frame must be written within it;
                                 10000; must be > 0 */
    int close_timeout_ms;     /* after our close, wait this long for the
                                 peer's; 5000; 0: do not wait */
};
struct ws_config ws_config_default(void);

struct ws_conn; /* opaque */

/* Server side: wraps a socket the HTTP layer upgraded (101 already sent).
 * The fd is borrowed: the conn never closes it; the caller closes it (with
 * MHD: MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE)) after
 * ws_conn_free(). extra_in (extra_len bytes, copied) are bytes already read
 * after the request; they are parsed before anything read from fd. The fd
 * may be blocking or not: every read and write is bounded by poll().
 * c is copied. On success *out is freed with ws_conn_free(). HARK_ECONFIG
 * for a negative fd, zero sizes, negative timeouts or a zero write timeout;
 * HARK_ENOMEM; HARK_EIO when the wakeup eventfd cannot be created. */
HARK_MUST_CHECK int ws_conn_new(int fd, const void *extra_in, size_t extra_len,
                                const struct ws_config *c,
                                struct ws_conn **out);

/* Client side over a socket whose upgrade handshake the caller already did
 * (tests, tools): as ws_conn_new() (fd borrowed), but the conn masks its
 * frames and requires unmasked ones. HARK_ECRYPTO when libsodium (the mask
 * keys' source) cannot initialise. */
HARK_MUST_CHECK int ws_conn_new_client(int fd, const void *extra_in,
                                       size_t extra_len,
                                       const struct ws_config *c,
                                       struct ws_conn **out);

/* Client side: connects to host:port (borrowed), sends the upgrade request
 * for path (borrowed) with extra_headers (borrowed; NULL or complete lines,
 * each ending in "\r\n", e.g. "X-API-Key: k\r\n") and checks the answer is
 * 101 with the right Sec-WebSocket-Accept, all within timeout_ms. Uses
 * ws_config_default(). The conn masks its frames and OWNS its socket:
 * ws_conn_free() closes it. HARK_EINVAL for bad arguments; HARK_EIO when
 * the connection fails; HARK_ETIMEDOUT; HARK_EPROTO when the server does not
 * upgrade (logged with its status) or answers a wrong accept key;
 * HARK_ENOMEM; HARK_ECRYPTO as for ws_conn_new_client(). */
HARK_MUST_CHECK int ws_client_connect(const char *host, int port,
                                      const char *path,
                                      const char *extra_headers,
                                      int timeout_ms, struct ws_conn **out);

/* Reads until one complete text or binary message has arrived: reassembles
 * fragments, answers pings, sends keepalive pings, completes the close
 * handshake. One thread at a time calls it. Messages still arriving after
 * our close are returned as usual. Returns
 *  - 0: *opcode is WS_OPCODE_TEXT (valid UTF-8) or WS_OPCODE_BINARY, *data
 *    and *len the message, owned by the conn, valid until the next call;
 *  - HARK_ECLOSED: the peer sent a close (ours was echoed if we had not sent
 *    one) or the socket ended;
 *  - HARK_EPROTO: the peer broke the protocol; the close frame with the
 *    matching code (1002, 1007, 1009) has been sent;
 *  - HARK_ETIMEDOUT: idle_timeout_ms without a byte from the peer (close
 *    1001 sent), or no answer close_timeout_ms after our close;
 *  - HARK_ENOMEM (close 1011 sent), HARK_EIO for socket errors.
 * Every error is final: later calls return it again. */
HARK_MUST_CHECK int ws_conn_recv(struct ws_conn *c, int *opcode,
                                 const unsigned char **data, size_t *len);

/* Send one unfragmented message (data borrowed). Safe to call from several
 * threads while another runs ws_conn_recv(): frames never interleave. Block
 * at most write_timeout_ms. HARK_EINVAL for text that is not UTF-8;
 * HARK_ECLOSED once a close was sent or the peer is gone; HARK_ETIMEDOUT
 * (the stream is then broken and every later send fails); HARK_EIO. */
HARK_MUST_CHECK int ws_conn_send_text(struct ws_conn *c, const char *s,
                                      size_t len);
HARK_MUST_CHECK int ws_conn_send_binary(struct ws_conn *c, const void *data,
                                        size_t len);

/* Starts the close handshake: sends a close frame with code (required) and
 * reason (borrowed, may be NULL; see ws_close_payload_encode()) once; later
 * calls do nothing and return 0. Wakes
 * a ws_conn_recv() blocked in another thread so it waits at most
 * close_timeout_ms more for the peer's close (HARK_ECLOSED when it comes,
 * HARK_ETIMEDOUT when not). HARK_EINVAL for a bad code or reason; send errors
 * as above. */
HARK_MUST_CHECK int ws_conn_close(struct ws_conn *c, uint16_t code,
                                  const char *reason);

/* Handles messages until on() returns non-zero or ws_conn_recv() fails:
 * on(arg, opcode, data, len) gets each message as ws_conn_recv() gives it.
 * Returns what on() returned, or ws_conn_recv()'s error. */
HARK_MUST_CHECK int ws_conn_serve(struct ws_conn *c,
                                  int (*on)(void *arg, int opcode,
                                            const unsigned char *data,
                                            size_t len),
                                  void *arg);

void ws_conn_free(struct ws_conn *c); /* NULL is fine; see ws_conn_new() */

#endif
