#include "hark/webhook.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

#include "hark/json.h"

#define HMAC_BYTES crypto_auth_hmacsha256_BYTES
#define SIG_PREFIX "sha256="
#define SIG_PREFIX_LEN (sizeof SIG_PREFIX - 1)
/* Year 10000: ISO 8601 needs an extension past four year digits. */
#define CREATED_AT_LIMIT_MS ((int64_t)253402300800000)
#define HOST_MAX 253
#define LABEL_MAX 63

/* ---- envelope ------------------------------------------------------------ */

int webhook_event_id(char out[WEBHOOK_EVENT_ID_SIZE])
{
    unsigned char raw[16];
    if (sodium_init() < 0)
        return HARK_ECRYPTO;
    randombytes_buf(raw, sizeof raw);
    memcpy(out, "evt_", 4);
    sodium_bin2hex(out + 4, WEBHOOK_EVENT_ID_SIZE - 4, raw, sizeof raw);
    return 0;
}

static int is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Both are written into the envelope unescaped, so their alphabets exclude
 * everything JSON would have to escape. */
static int event_type_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n == 64 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return 0;
    }
    return n > 0;
}

static int event_id_ok(const char *s)
{
    if (strncmp(s, "evt_", 4))
        return 0;
    size_t n = 0;
    for (s += 4; s[n]; n++)
        if (n == 64 || !(is_alnum(s[n]) || s[n] == '_' || s[n] == '-'))
            return 0;
    return n > 0;
}

int webhook_envelope(const char *event_type, const char *event_id, int64_t created_at_ms,
                     struct json_object *data, struct hbuf *out)
{
    if (!event_type || !event_id || !data || !out || !event_type_ok(event_type) ||
        !event_id_ok(event_id) || created_at_ms <= 0 || created_at_ms >= CREATED_AT_LIMIT_MS ||
        !json_object_is_type(data, json_type_object))
        return HARK_EINVAL;
    char when[40];
    json_time_iso(created_at_ms, when, sizeof when);
    size_t mark = out->len;
    int rc = hbuf_printf(out,
                         "{\"event_id\":\"%s\",\"event_type\":\"%s\",\"api_version\":\""
                         WEBHOOK_API_VERSION "\",\"created_at\":\"%s\",\"data\":",
                         event_id, event_type, when);
    if (!rc)
        rc = json_append(out, data);
    if (!rc)
        rc = hbuf_puts(out, "}");
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

/* ---- signature ----------------------------------------------------------- */

static void hmac_ts_body(const char *key, size_t keylen, const char *ts, size_t tslen,
                         const char *body, size_t len, unsigned char mac[HMAC_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, tslen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    if (len)
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

static void sign_key(const char *key, size_t keylen, int64_t ts_s, const char *body, size_t len,
                     char out[WEBHOOK_SIGNATURE_SIZE])
{
    char ts[24];
    int tslen = snprintf(ts, sizeof ts, "%" PRId64, ts_s);
    unsigned char mac[HMAC_BYTES];
    hmac_ts_body(key, keylen, ts, (size_t)tslen, body, len, mac);
    memcpy(out, SIG_PREFIX, SIG_PREFIX_LEN);
    sodium_bin2hex(out + SIG_PREFIX_LEN, WEBHOOK_SIGNATURE_SIZE - SIG_PREFIX_LEN, mac, sizeof mac);
}

int webhook_sign(const char *secret, int64_t ts_s, const char *body, size_t len,
                 char out[WEBHOOK_SIGNATURE_SIZE])
{
    if (!secret || !*secret || ts_s < 0 || (!body && len) || !out)
        return HARK_EINVAL;
    sign_key(secret, strlen(secret), ts_s, body, len, out);
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The Authorization line carries the secret: wipe it before the memory goes
 * back to the allocator. */
static int emit_bearer(const char *key, size_t keylen, int (*fn)(void *, const char *), void *arg)
{
    struct hbuf line;
    hbuf_init(&line, 0);
    int rc = hbuf_puts(&line, "Authorization: Bearer ");
    if (!rc)
        rc = hbuf_append(&line, key, keylen);
    if (!rc)
        rc = fn(arg, line.data);
    if (line.data)
        sodium_memzero(line.data, line.cap);
    hbuf_release(&line);
    return rc;
}

int webhook_headers_emit(const char *secret, int64_t ts_s, const char *body, size_t len,
                         int (*fn)(void *arg, const char *line), void *arg)
{
    if (ts_s < 0 || !fn || (!body && len))
        return HARK_EINVAL;
    const char *key = secret ? secret : "";
    size_t keylen = strlen(key);
    while (keylen && is_space(*key)) {
        key++;
        keylen--;
    }
    while (keylen && is_space(key[keylen - 1]))
        keylen--;
    for (size_t i = 0; i < keylen; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
            return HARK_EINVAL;

    int rc = fn(arg, "Content-Type: application/json");
    if (rc || !keylen)
        return rc;
    rc = emit_bearer(key, keylen, fn, arg);
    if (rc)
        return rc;
    char sig[WEBHOOK_SIGNATURE_SIZE];
    sign_key(key, keylen, ts_s, body, len, sig);
    char line[128];
    snprintf(line, sizeof line, "X-Webhook-Signature: %s", sig);
    rc = fn(arg, line);
    if (rc)
        return rc;
    snprintf(line, sizeof line, "X-Webhook-Timestamp: %" PRId64, ts_s);
    return fn(arg, line);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "sha256=" + exactly 64 hex digits into mac; 0 when it is anything else. */
static int parse_signature(const char *s, unsigned char mac[HMAC_BYTES])
{
    if (strncmp(s, SIG_PREFIX, SIG_PREFIX_LEN) || strlen(s) != SIG_PREFIX_LEN + 2 * HMAC_BYTES)
        return 0;
    s += SIG_PREFIX_LEN;
    for (size_t i = 0; i < HMAC_BYTES; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        mac[i] = (unsigned char)(hi << 4 | lo);
    }
    return 1;
}

/* Plain decimal digits only: 18 of them cannot overflow int64_t. */
static int parse_timestamp(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18)
        return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int webhook_verify(const char *secret, const char *ts_header, const char *sig_header,
                   const char *body, size_t len, int64_t now_s, int64_t tolerance_s)
{
    if (!secret || !*secret || !ts_header || !sig_header || (!body && len) || now_s < 0 ||
        tolerance_s < 0)
        return HARK_EINVAL;
    int64_t ts;
    unsigned char got[HMAC_BYTES], want[HMAC_BYTES];
    if (!parse_timestamp(ts_header, &ts) || !parse_signature(sig_header, got))
        return HARK_EPARSE;
    int64_t skew = ts > now_s ? ts - now_s : now_s - ts;
    if (skew > tolerance_s)
        return HARK_ERANGE;
    hmac_ts_body(secret, strlen(secret), ts_header, strlen(ts_header), body, len, want);
    return crypto_verify_32(got, want) ? HARK_EPERM : 0;
}

/* ---- retries ------------------------------------------------------------- */

struct webhook_schedule webhook_schedule_default(void)
{
    struct webhook_schedule s = {
        .delay_ms = {60 * 1000, 5 * 60 * 1000, 30 * 60 * 1000, 2 * 3600 * 1000},
        .retries = 4,
        .jitter_permille = 100,
    };
    return s;
}

static int schedule_ok(const struct webhook_schedule *s)
{
    if (s->retries < 0 || s->retries > WEBHOOK_RETRIES_MAX || s->jitter_permille < 0 ||
        s->jitter_permille > 1000)
        return 0;
    for (int i = 0; i < s->retries; i++)
        if (s->delay_ms[i] < 0 || s->delay_ms[i] > WEBHOOK_DELAY_MAX_MS)
            return 0;
    return 1;
}

/* FNV-1a over the id and the attempt, then the splitmix64 finalizer so ids
 * that differ in one character land far apart. */
static uint64_t jitter_hash(const char *event_id, int attempt)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (const char *p = event_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3u;
    h = (h ^ (uint64_t)(unsigned)attempt) * 0x100000001b3u;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9u;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebu;
    return h ^ (h >> 31);
}

int webhook_next_attempt(int attempts_done, int64_t now_ms, const struct webhook_schedule *s,
                         const char *event_id, int64_t *next_ms)
{
    if (!s || !event_id || !next_ms || !schedule_ok(s) || attempts_done < 1)
        return HARK_EINVAL;
    if (attempts_done > s->retries)
        return HARK_ENOENT;
    int64_t delay = s->delay_ms[attempts_done - 1];
    /* Parts per million, so short test delays still move. |delay * ppm| stays
     * under 2^62 with the bounds schedule_ok() enforces. */
    int64_t span = (int64_t)s->jitter_permille * 1000;
    uint64_t h = jitter_hash(event_id, attempts_done);
    int64_t ppm = (int64_t)(h % (uint64_t)(2 * span + 1)) - span;
    delay += delay * ppm / 1000000;
    if (now_ms > INT64_MAX - delay)
        return HARK_ERANGE;
    *next_ms = now_ms + delay;
    return 0;
}

int webhook_retryable(long http_status, int transport_error)
{
    if (transport_error || http_status < 100 || http_status > 599)
        return 1;
    return http_status == 408 || http_status == 429 || http_status >= 500;
}

/* ---- target safety ------------------------------------------------------- */

HARK_PRINTF(3, 4)
static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return HARK_EINVAL;
}

static const char *v4_refused(uint32_t a)
{
    static const struct {
        uint32_t net, mask;
        const char *what;
    } ranges[] = {
        {0x00000000, 0xff000000, "a this-network address (0.0.0.0/8)"},
        {0x0a000000, 0xff000000, "a private address (10.0.0.0/8)"},
        {0x64400000, 0xffc00000, "a shared CGNAT address (100.64.0.0/10)"},
        {0x7f000000, 0xff000000, "a loopback address (127.0.0.0/8)"},
        {0xa9fe0000, 0xffff0000, "a link-local address (169.254.0.0/16)"},
        {0xac100000, 0xfff00000, "a private address (172.16.0.0/12)"},
        {0xc0a80000, 0xffff0000, "a private address (192.168.0.0/16)"},
        {0xe0000000, 0xf0000000, "a multicast address (224.0.0.0/4)"},
        {0xf0000000, 0xf0000000, "a reserved or broadcast address (240.0.0.0/4)"},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++)
        if ((a & ranges[i].mask) == ranges[i].net)
            return ranges[i].what;
    return NULL;
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *v6_refused(const uint8_t a[16])
{
    static const uint8_t zero[12];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (!memcmp(a, zero, 12) && load_be32(a + 12) == 0)
        return "the unspecified address (::)";
    if (!memcmp(a, zero, 12) && load_be32(a + 12) == 1)
        return "a loopback address (::1)";
    /* Addresses that carry an IPv4 address reach it, so its ranges apply. */
    if (!memcmp(a, mapped, 12) || !memcmp(a, zero, 12) || !memcmp(a, nat64, 12))
        return v4_refused(load_be32(a + 12));
    if (a[0] == 0x20 && a[1] == 0x02)
        return v4_refused(load_be32(a + 2));
    if ((a[0] & 0xfe) == 0xfc)
        return "a unique-local address (fc00::/7)";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return "a link-local address (fe80::/10)";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return "a site-local address (fec0::/10)";
    if (a[0] == 0xff)
        return "a multicast address (ff00::/8)";
    return NULL;
}

int webhook_addr_allowed(const struct sockaddr *sa, int allow_private)
{
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return allow_private || !v4_refused(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return allow_private || !v6_refused(in6->sin6_addr.s6_addr);
    }
    return 0;
}

/* One dot-separated part of a numeric host the way inet_aton reads it:
 * "0x" hex, a leading 0 octal, else decimal. */
static int ipv4_part(const char *s, size_t n, uint64_t *out)
{
    uint64_t base = 10;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        n -= 2;
    } else if (n >= 2 && s[0] == '0') {
        base = 8;
        s++;
        n--;
    } else if (n == 0) {
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = hex_value(s[i]);
        if (d < 0 || (uint64_t)d >= base)
            return 0;
        v = v * base + (uint64_t)d;
        if (v > UINT32_MAX)
            return 0;
    }
    *out = v;
    return 1;
}

/* a, a.b, a.b.c or a.b.c.d, each part but the last a byte, the last filling
 * the remaining bytes: every form inet_aton (and so getaddrinfo) accepts. */
static int parse_ipv4(const char *s, size_t n, uint32_t *out)
{
    uint64_t part[4];
    size_t count = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (count == 4 || !ipv4_part(s + start, i - start, &part[count]))
            return 0;
        count++;
        start = i + 1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < count; i++) {
        if (part[i] > 255)
            return 0;
        v |= part[i] << (8 * (3 - i));
    }
    if (part[count - 1] >> (8 * (5 - count)))
        return 0;
    *out = (uint32_t)(v | part[count - 1]);
    return 1;
}

/* WHATWG's rule: a host whose last label is a number is an IPv4 address or
 * nothing, never a DNS name. */
static int label_is_numeric(const char *s, size_t n)
{
    size_t i = 0;
    int hex = n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    if (hex)
        i = 2;
    for (; i < n; i++)
        if (hex ? hex_value(s[i]) < 0 : (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

static int is_localhost(const char *s, size_t n)
{
    return (n == 9 && !strncasecmp(s, "localhost", 9)) ||
           (n > 10 && !strncasecmp(s + n - 10, ".localhost", 10));
}

static int check_ipv6_host(const char *host, size_t n, int allow_private, char *why,
                           size_t whylen)
{
    char lit[INET6_ADDRSTRLEN];
    struct in6_addr a;
    if (n - 2 >= sizeof lit)
        return refuse(why, whylen, "the host is not a valid IPv6 address");
    memcpy(lit, host + 1, n - 2);
    lit[n - 2] = '\0';
    if (inet_pton(AF_INET6, lit, &a) != 1)
        return refuse(why, whylen, "the host is not a valid IPv6 address");
    const char *what = allow_private ? NULL : v6_refused(a.s6_addr);
    return what ? refuse(why, whylen, "the host is %s", what) : 0;
}

static int check_host(const char *host, int allow_private, char *why, size_t whylen)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        return check_ipv6_host(host, n, allow_private, why, whylen);
    if (n && host[n - 1] == '.')
        n--;
    if (n == 0 || n > HOST_MAX)
        return refuse(why, whylen, "the host name is empty or too long");
    size_t label = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (host[i] == '.') {
            if (!label)
                return refuse(why, whylen, "the host name has an empty label");
            label = 0;
            last = i + 1;
        } else if (!(is_alnum(host[i]) || host[i] == '-' || host[i] == '_')) {
            return refuse(why, whylen, "the host name has characters other than letters, "
                                       "digits, '-', '_' and '.'");
        } else if (++label > LABEL_MAX) {
            return refuse(why, whylen, "a label of the host name is longer than 63 bytes");
        }
    }
    if (!label)
        return refuse(why, whylen, "the host name has an empty label");
    const char *what = NULL;
    if (label_is_numeric(host + last, n - last)) {
        uint32_t a;
        if (!parse_ipv4(host, n, &a))
            return refuse(why, whylen, "the host ends in a number but is not an IPv4 address");
        what = allow_private ? NULL : v4_refused(a);
    } else if (!allow_private && is_localhost(host, n)) {
        what = "localhost";
    }
    return what ? refuse(why, whylen, "the host is %s", what) : 0;
}

/* *out is NULL when the URL has no such part; HARK_ENOMEM. */
static int url_part(CURLU *u, CURLUPart what, char **out)
{
    *out = NULL;
    CURLUcode uc = curl_url_get(u, what, out, 0);
    if (uc == CURLUE_OUT_OF_MEMORY)
        return HARK_ENOMEM;
    if (uc != CURLUE_OK)
        *out = NULL;
    return 0;
}

static int judge_parts(const char *scheme, const char *user, const char *password,
                       const char *port, const char *host, int allow_private, char *why,
                       size_t whylen)
{
    if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https")))
        return refuse(why, whylen, "only http and https URLs are allowed");
    if (user || password)
        return refuse(why, whylen, "the URL may not carry a user name or password");
    if (port && !strcmp(port, "0"))
        return refuse(why, whylen, "port 0 is not allowed");
    if (!host || !*host)
        return refuse(why, whylen, "the URL has no host");
    return check_host(host, allow_private, why, whylen);
}

static int check_parts(CURLU *u, int allow_private, char *why, size_t whylen)
{
    char *scheme = NULL, *user = NULL, *password = NULL, *port = NULL, *host = NULL;
    int rc = url_part(u, CURLUPART_SCHEME, &scheme);
    if (!rc)
        rc = url_part(u, CURLUPART_USER, &user);
    if (!rc)
        rc = url_part(u, CURLUPART_PASSWORD, &password);
    if (!rc)
        rc = url_part(u, CURLUPART_PORT, &port);
    if (!rc)
        rc = url_part(u, CURLUPART_HOST, &host);
    if (!rc)
        rc = judge_parts(scheme, user, password, port, host, allow_private, why, whylen);
    curl_free(scheme);
    curl_free(user);
    curl_free(password);
    curl_free(port);
    curl_free(host);
    return rc;
}

int webhook_url_check(const char *url, int allow_private, char *why, size_t whylen)
{
    if (!url || !*url)
        return refuse(why, whylen, "the URL is empty");
    size_t n = strnlen(url, WEBHOOK_URL_MAX + 1);
    if (n > WEBHOOK_URL_MAX)
        return refuse(why, whylen, "the URL is longer than %d bytes", WEBHOOK_URL_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return refuse(why, whylen, "the URL has spaces, control or non-ASCII characters "
                                       "(percent-encode them; use punycode for names)");
    CURLU *u = curl_url();
    if (!u)
        return HARK_ENOMEM;
    int rc;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OUT_OF_MEMORY)
        rc = HARK_ENOMEM;
    else if (uc != CURLUE_OK)
        rc = refuse(why, whylen, "not a valid absolute URL (%s)", curl_url_strerror(uc));
    else
        rc = check_parts(u, allow_private, why, whylen);
    curl_url_cleanup(u);
    return rc;
}
