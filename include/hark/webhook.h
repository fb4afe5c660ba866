/* webhook.h — the pure core of webhook delivery: envelope, signature, retry
 * schedule and target safety. Nothing here touches the network or the store;
 * the delivery queue and the libcurl sender are built on top.
 *
 * Wire format (Vexa's, so its receivers work unchanged; docs/webhooks.md):
 *   POST <url>
 *   Content-Type: application/json
 *   Authorization: Bearer <secret>            (legacy; only with a secret)
 *   X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>." + body)>
 *   X-Webhook-Timestamp: <ts, unix seconds of this attempt>
 *   {"event_id":"evt_<hex>","event_type":"...","api_version":"2026-03-01",
 *    "created_at":"<ISO 8601 UTC>","data":{...}}
 * Without a secret only Content-Type is sent, as Vexa does.
 *
 * Delivery is at least once and receivers dedupe on event_id, so an event's
 * id and body are made once, stored with the delivery, and every retry sends
 * the same bytes; only the timestamp and signature are made per attempt.
 *
 * Thread safety: every function may be called from any thread. */
#ifndef HARK_WEBHOOK_H
#define HARK_WEBHOOK_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <json-c/json.h>
#include "hark/buf.h"
#include "hark/error.h"

#define WEBHOOK_API_VERSION "2026-03-01"

/* "evt_" + 32 hex chars + NUL. */
#define WEBHOOK_EVENT_ID_SIZE 37
/* "sha256=" + 64 hex chars + NUL. */
#define WEBHOOK_SIGNATURE_SIZE 72
/* How far a receiver's clock may be from the timestamp before
 * webhook_verify() calls the request stale. */
#define WEBHOOK_TOLERANCE_S 300
/* Longest URL webhook_url_check() accepts, in bytes. */
#define WEBHOOK_URL_MAX 2048

/* ---- envelope ------------------------------------------------------------ */

/* Writes a new random event id ("evt_" + 32 lowercase hex chars from
 * libsodium's randombytes) into out. HARK_ECRYPTO if libsodium cannot start. */
HARK_MUST_CHECK int webhook_event_id(char out[WEBHOOK_EVENT_ID_SIZE]);

/* Appends the JSON envelope of one event to out, compact, keys in the order
 * above; created_at is created_at_ms in UTC with microseconds
 * ("2026-01-01T00:00:00.123000Z", Hark's datetime shape everywhere).
 * event_type is [a-z0-9_.]{1,64}, event_id is "evt_" + [A-Za-z0-9_-]{1,64},
 * created_at_ms > 0, data a JSON object (borrowed; json-c caches its text
 * inside the object, so do not serialize it from two threads at once);
 * anything else is HARK_EINVAL. HARK_ENOMEM, HARK_ETOOBIG past out's limit;
 * on any failure out is left as it was. */
HARK_MUST_CHECK int webhook_envelope(const char *event_type, const char *event_id,
                                     int64_t created_at_ms, struct json_object *data,
                                     struct hbuf *out);

/* ---- signature ----------------------------------------------------------- */

/* Writes "sha256=<64 lowercase hex>", the HMAC-SHA256 keyed with secret (any
 * length; used as given) over "<ts_s>." followed by the len bytes of body,
 * into out. HARK_EINVAL for a NULL or empty secret or a negative ts_s. */
HARK_MUST_CHECK int webhook_sign(const char *secret, int64_t ts_s, const char *body, size_t len,
                                 char out[WEBHOOK_SIGNATURE_SIZE]);

/* Calls fn(arg, line) once per request header line ("Name: value", no CRLF;
 * borrowed for the call) in the order of the wire format above. The secret is
 * trimmed of surrounding whitespace first, as Vexa does; NULL or blank means
 * no secret, so only Content-Type is emitted. ts_s is the time of this
 * attempt. Returns the first nonzero value fn returns, HARK_EINVAL for a
 * secret with control characters (they would forge header lines) or a
 * negative ts_s, HARK_ENOMEM. */
HARK_MUST_CHECK int webhook_headers_emit(const char *secret, int64_t ts_s, const char *body,
                                         size_t len, int (*fn)(void *arg, const char *line),
                                         void *arg);

/* Checks a received request, as a receiver (or a test) does: ts_header and
 * sig_header are the X-Webhook-Timestamp and X-Webhook-Signature values as
 * received (the MAC covers the timestamp text verbatim), body the raw body.
 * 0 when the signature is right and the timestamp within tolerance_s of
 * now_s either way; HARK_EPARSE for a malformed header value; HARK_ERANGE for
 * a stale or future timestamp; HARK_EPERM for a wrong signature (compared in
 * constant time); HARK_EINVAL for NULL arguments, an empty secret or negative
 * now_s / tolerance_s. The timestamp is checked before the MAC, so a replay
 * of an old request fails even when its signature is right. */
HARK_MUST_CHECK int webhook_verify(const char *secret, const char *ts_header,
                                   const char *sig_header, const char *body, size_t len,
                                   int64_t now_s, int64_t tolerance_s);

/* ---- retries ------------------------------------------------------------- */

#define WEBHOOK_RETRIES_MAX 16
/* Longest delay a schedule may hold: 30 days. */
#define WEBHOOK_DELAY_MAX_MS ((int64_t)30 * 24 * 3600 * 1000)

/* Which waits follow which failure. Tests shorten the delays by filling the
 * array themselves. */
struct webhook_schedule {
    int64_t delay_ms[WEBHOOK_RETRIES_MAX]; /* wait after failure i+1; 0..DELAY_MAX */
    int retries;                           /* entries used; 0..WEBHOOK_RETRIES_MAX */
    int jitter_permille;                   /* each delay moves by up to ± this; 0..1000 */
};

/* 1 m, 5 m, 30 m, 2 h (Vexa's 60, 300, 1800, 7200 s), ±10 %: five attempts in
 * all over about 2 h 36 m. */
struct webhook_schedule webhook_schedule_default(void);

/* After attempts_done (>= 1) failed attempts of the event event_id, sets
 * *next_ms to when the next one is due: now_ms + delay_ms[attempts_done - 1]
 * moved by a jitter derived from event_id and attempts_done, so the same
 * delivery always gets the same time and a burst of events that failed
 * together does not come back in lockstep. HARK_ENOENT once the schedule is
 * spent: the delivery is dead-lettered. HARK_EINVAL for bad arguments or
 * schedule, HARK_ERANGE if the time overflows. */
HARK_MUST_CHECK int webhook_next_attempt(int attempts_done, int64_t now_ms,
                                         const struct webhook_schedule *s,
                                         const char *event_id, int64_t *next_ms);

/* Whether a failed attempt is worth retrying: 1 for a transport error
 * (connect failure, timeout, reset, TLS; transport_error nonzero), no valid
 * HTTP status (outside 100..599), 408, 429 and 5xx; 0 for everything else:
 * other 4xx say the request itself is wrong, and 3xx is not followed (a
 * redirect could point anywhere), so repeating cannot help and the delivery
 * is dead-lettered at once. Ask only after a failure: 2xx is delivered. */
int webhook_retryable(long http_status, int transport_error);

/* ---- target safety (DESIGN §8) --------------------------------------------
 * A webhook URL is supplied by a user but fetched from inside the cluster,
 * so it must not reach this host or the private network (SSRF). Two checks:
 *
 * webhook_url_check() when the URL is stored, resolving nothing: it refuses
 * what is wrong on its face. It cannot see where a name resolves, and DNS can
 * change between the check and the request (rebinding), so:
 *
 * webhook_addr_allowed() on every address the sender actually connects to.
 * The sender must either install CURLOPT_OPENSOCKETFUNCTION and return
 * CURL_SOCKET_BAD for an address this refuses (libcurl then tries the next
 * one), or resolve the host itself, check every address and pin the
 * survivors with CURLOPT_RESOLVE. It must also keep CURLOPT_FOLLOWLOCATION
 * off, restrict CURLOPT_PROTOCOLS_STR to "http,https", and set CURLOPT_PROXY
 * to "" unless a proxy is configured on purpose (otherwise the address
 * checked is the proxy's, and the proxy reaches the target unchecked). */

/* 0 when url is acceptable; HARK_EINVAL with a one-line reason in why
 * (truncated to whylen; why may be NULL) when it is not; HARK_ENOMEM.
 * Refused always: anything but http/https, userinfo (even empty "@"), port 0,
 * spaces, control or non-ASCII bytes (use punycode and percent-encoding),
 * host names that are not letters, digits, '-', '_' and '.' in labels of at
 * most 63, and hosts whose last label is a number but which are not a valid
 * IPv4 address. Refused unless allow_private: "localhost", "*.localhost",
 * and literal addresses in any spelling libcurl or inet_aton accept
 * (http://2130706433/, http://0x7f.1/, http://017700000001/, a trailing dot)
 * in the ranges webhook_addr_allowed() refuses. */
HARK_MUST_CHECK int webhook_url_check(const char *url, int allow_private, char *why,
                                      size_t whylen);

/* 1 when the sender may connect to sa, 0 when not. Refused unless
 * allow_private: IPv4 0/8, 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16,
 * 172.16/12, 192.168/16, 224/4 (multicast), 240/4 (reserved, broadcast);
 * IPv6 ::, ::1, fe80::/10, fec0::/10, fc00::/7, ff00::/8, and any of the IPv4
 * ranges carried inside IPv6 (IPv4-mapped ::ffff:0:0/96, IPv4-compatible
 * ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16). Families other than AF_INET
 * and AF_INET6 are refused always. sa is borrowed. */
int webhook_addr_allowed(const struct sockaddr *sa, int allow_private);

#endif
