/* Sources: URL parsing, file and http(s) decoding, paced read-out. The rtmp
 * listener lives in source_rtmp.c. Contract in hark/source.h. */
#include "hark/source.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/audio.h"
#include "hark/buf.h"
#include "hark/clock.h"
#include "hark/mem.h"
#include "hark/version.h"
#include "source_private.h"

#define DEFAULT_DOWNLOAD_BYTES ((size_t)512 << 20)
#define DEFAULT_CONNECT_MS 60000
#define DEFAULT_MAX_SAMPLES ((size_t)4 * 3600 * AUDIO_RATE)
#define MAX_REDIRS 5L
/* A stalled download ends: less than this many bytes/s for this long. */
#define LOW_SPEED_BYTES 1024L
#define LOW_SPEED_SECONDS 30L
/* Realtime reads wait until at least this much audio is due, so a caller
 * polling in a loop gets chunks, not single samples. */
#define REALTIME_CHUNK (AUDIO_RATE / 10)
#define PATH_MAX_BYTES 4096

struct source_config source_config_default(void)
{
    return (struct source_config){
        .max_download_bytes = DEFAULT_DOWNLOAD_BYTES,
        .connect_timeout_ms = DEFAULT_CONNECT_MS,
        .ffmpeg = "/usr/bin/ffmpeg",
        .max_samples = DEFAULT_MAX_SAMPLES,
    };
}

int source_fail(char *buf, size_t size, int rc, const char *fmt, ...)
{
    if (buf && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        for (char *p = buf; *p; p++)  /* one line, whatever a peer sent */
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return rc;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* "file:///a%20b" -> "/a b"; %00 and broken escapes are refused. */
static int file_path(const char *url, char *path, size_t size, char *why, size_t why_size)
{
    const char *p = url + strlen("file://");
    if (*p != '/')
        return source_fail(why, why_size, HARK_EINVAL,
                           "file URL must be file:///absolute/path (no host)");
    size_t n = 0;
    for (; *p; p++) {
        char ch = *p;
        if (ch == '%') {
            int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return source_fail(why, why_size, HARK_EINVAL,
                                   "bad %%-escape in file URL");
            ch = (char)(hi * 16 + lo);
            p += 2;
        }
        if (n + 1 >= size)
            return source_fail(why, why_size, HARK_EINVAL, "file path too long");
        path[n++] = ch;
    }
    path[n] = '\0';
    return 0;
}

static int key_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '~' || ch == '-';
}

/* rtmp://IP:PORT/live/KEY, IP a literal address: a name would need a
 * resolver and could listen somewhere unexpected. */
static int rtmp_parse(const char *url, struct source_rtmp_url *u, char *why, size_t why_size)
{
    static const char usage[] = "RTMP URL must be rtmp://IP:PORT/live/KEY";
    const char *h = url + strlen("rtmp://"), *end;
    unsigned char addr[16];
    char bare[sizeof u->host];
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end || end[1] != ':' || (size_t)(end - h) >= sizeof bare)
            return source_fail(why, why_size, HARK_EINVAL, "%s", usage);
        memcpy(bare, h + 1, (size_t)(end - h - 1));
        bare[end - h - 1] = '\0';
        if (inet_pton(AF_INET6, bare, addr) != 1)
            return source_fail(why, why_size, HARK_EINVAL,
                               "RTMP host must be a literal IP address");
        end++;
    } else {
        end = strchr(h, ':');
        if (!end || (size_t)(end - h) >= sizeof bare)
            return source_fail(why, why_size, HARK_EINVAL, "%s", usage);
        memcpy(bare, h, (size_t)(end - h));
        bare[end - h] = '\0';
        if (inet_pton(AF_INET, bare, addr) != 1)
            return source_fail(why, why_size, HARK_EINVAL,
                               "RTMP host must be a literal IP address");
    }
    memcpy(u->host, h, (size_t)(end - h));
    u->host[end - h] = '\0';
    const char *p = end + 1;
    unsigned port = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
        port = port * 10 + (unsigned)(*p - '0');
    if (!digits || port == 0 || port > 65535)
        return source_fail(why, why_size, HARK_EINVAL, "RTMP port must be 1..65535");
    u->port = port;
    if (strncmp(p, "/live/", 6) != 0)
        return source_fail(why, why_size, HARK_EINVAL, "%s (app must be \"live\")", usage);
    p += 6;
    size_t n = strlen(p);
    if (n == 0 || n > SOURCE_KEY_MAX)
        return source_fail(why, why_size, HARK_EINVAL, "RTMP stream key must be 1..%d bytes",
                           SOURCE_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if (!key_char_ok(p[i]))
            return source_fail(why, why_size, HARK_EINVAL,
                               "RTMP stream key may hold only A-Z a-z 0-9 . _ ~ -");
    memcpy(u->key, p, n + 1);
    return 0;
}

/* ---- file and http: decode whole ------------------------------------ */

static struct audio_config decode_limits(const struct source_config *c, size_t max_bytes)
{
    struct audio_config ac = audio_config_default();
    ac.max_seconds = (double)c->max_samples / AUDIO_RATE;
    if (max_bytes)
        ac.max_bytes = max_bytes;
    return ac;
}

/* The decoder's code and message become the source's: "no audio at all"
 * is undecodable input here, not a bad argument. */
static int decoded(int rc, const struct source_config *c, float **samples, size_t *n,
                   const struct audio_error *ae, char *why, size_t why_size)
{
    if (rc == HARK_EINVAL)
        return source_fail(why, why_size, HARK_EPARSE, "%s", ae->message);
    if (rc == HARK_ENOMEM)
        return source_fail(why, why_size, rc, "out of memory");
    if (rc)
        return source_fail(why, why_size, rc, "%s", ae->message);
    if (*n > c->max_samples) {
        hark_free(*samples);
        *samples = NULL;
        return source_fail(why, why_size, HARK_ETOOBIG,
                           "audio is longer than the limit of %zu samples", c->max_samples);
    }
    return 0;
}

static int open_file(const struct source_config *c, struct source *s, char *why,
                     size_t why_size)
{
    char path[PATH_MAX_BYTES];
    int rc = file_path(c->url, path, sizeof path, why, why_size);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return source_fail(why, why_size, HARK_ENOENT, "no such file: %s", path);
        return source_fail(why, why_size, e == EACCES ? HARK_EPERM : HARK_EIO,
                           "cannot open %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode))
        return source_fail(why, why_size, HARK_EINVAL, "not a regular file: %s", path);
    if (access(path, R_OK) != 0)
        return source_fail(why, why_size, HARK_EPERM, "cannot read %s: %s", path,
                           strerror(errno));
    struct audio_config ac = decode_limits(c, 0);
    struct audio_error ae = {""};
    rc = audio_decode_file(path, &ac, &s->samples, &s->n, &ae);
    return decoded(rc, c, &s->samples, &s->n, &ae, why, why_size);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* Never undone: libcurl's global state lives as long as the process. */
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

struct body {
    struct hbuf buf;
    int rc;                    /* why on_body stopped */
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    int rc = hbuf_append(&b->buf, p, n);
    if (rc) {
        b->rc = rc;
        return 0;              /* makes libcurl end the transfer */
    }
    return n;
}

/* The URL for messages: no user:password@, no ?query or #fragment, where
 * signed URLs keep their secrets. */
static void url_shown(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://");
    size_t n = 0;
    if (p) {
        p += 3;
        size_t auth = strcspn(p, "/?#");
        const char *at = memchr(p, '@', auth);
        size_t head = (size_t)(p - url);
        for (size_t i = 0; i < head && n + 1 < size; i++)
            out[n++] = url[i];
        if (at)
            p = at + 1;
    } else {
        p = url;
    }
    for (; *p && *p != '?' && *p != '#' && n + 1 < size; p++)
        out[n++] = (unsigned char)*p < 0x20 || *p == '"' ? '?' : *p;
    out[n] = '\0';
}

static int http_setup(CURL *h, const struct source_config *c, struct body *b, char *errbuf)
{
    if (curl_easy_setopt(h, CURLOPT_URL, c->url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "hark/" HARK_VERSION) != CURLE_OK)
        return HARK_ENOMEM;
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, MAX_REDIRS);
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_SECONDS);
    /* A Content-Length over the cap ends the transfer before the body. */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_download_bytes);
    return 0;
}

static int http_error(CURL *h, CURLcode cc, const struct body *b,
                      const struct source_config *c, const char *errbuf, char *why,
                      size_t why_size)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    char url[256];
    url_shown(c->url, url, sizeof url);
    if (cc == CURLE_HTTP_RETURNED_ERROR && status == 404)
        return source_fail(why, why_size, HARK_ENOENT, "%s: not found (HTTP 404)", url);
    if (cc == CURLE_HTTP_RETURNED_ERROR)
        return source_fail(why, why_size, HARK_EIO, "%s answered HTTP %ld", url, status);
    if (cc == CURLE_FILESIZE_EXCEEDED || b->rc == HARK_ETOOBIG)
        return source_fail(why, why_size, HARK_ETOOBIG,
                           "%s: the body is larger than the limit of %zu bytes", url,
                           c->max_download_bytes);
    if (b->rc == HARK_ENOMEM || cc == CURLE_OUT_OF_MEMORY)
        return source_fail(why, why_size, HARK_ENOMEM, "out of memory");
    if (cc == CURLE_TOO_MANY_REDIRECTS)
        return source_fail(why, why_size, HARK_EIO, "%s: more than %ld redirects", url,
                           MAX_REDIRS);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return source_fail(why, why_size, HARK_ETIMEDOUT, "%s: %s", url,
                           *errbuf ? errbuf : curl_easy_strerror(cc));
    if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT)
        return source_fail(why, why_size, HARK_EINVAL, "%s: %s", url,
                           *errbuf ? errbuf : curl_easy_strerror(cc));
    return source_fail(why, why_size, HARK_EIO, "%s: %s", url,
                       *errbuf ? errbuf : curl_easy_strerror(cc));
}

static int open_http(const struct source_config *c, struct source *s, char *why,
                     size_t why_size)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return source_fail(why, why_size, HARK_EIO, "libcurl failed to start: %s",
                           curl_easy_strerror(curl_init_rc));
    CURL *h = curl_easy_init();
    if (!h)
        return source_fail(why, why_size, HARK_ENOMEM, "out of memory");
    struct body b = {.rc = 0};
    hbuf_init(&b.buf, c->max_download_bytes);
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = http_setup(h, c, &b, errbuf);
    if (rc) {
        rc = source_fail(why, why_size, rc, "out of memory");
    } else {
        CURLcode cc = curl_easy_perform(h);
        if (cc != CURLE_OK)
            rc = http_error(h, cc, &b, c, errbuf, why, why_size);
    }
    curl_easy_cleanup(h);
    if (!rc) {
        struct audio_config ac = decode_limits(c, b.buf.len ? b.buf.len : 1);
        struct audio_error ae = {""};
        rc = audio_decode_memory(b.buf.data ? b.buf.data : "", b.buf.len, &ac, &s->samples,
                                 &s->n, &ae);
        rc = decoded(rc, c, &s->samples, &s->n, &ae, why, why_size);
    }
    hbuf_release(&b.buf);
    return rc;
}

/* ---- the public calls -------------------------------------------------- */

static int config_ok(const struct source_config *c, char *why, size_t why_size)
{
    if (!c->url)
        return source_fail(why, why_size, HARK_EINVAL, "no source URL");
    if (c->max_download_bytes == 0 || c->max_samples == 0 || c->connect_timeout_ms <= 0 ||
        !c->ffmpeg || c->ffmpeg[0] != '/')
        return source_fail(why, why_size, HARK_EINVAL,
                           "invalid source limits (sizes and timeout must be > 0, ffmpeg an "
                           "absolute path)");
    return 0;
}

int source_open(const struct source_config *c, struct source **out, char *why,
                size_t why_size)
{
    if (why && why_size)
        why[0] = '\0';
    if (!out)
        return source_fail(why, why_size, HARK_EINVAL, "invalid arguments");
    *out = NULL;
    if (!c)
        return source_fail(why, why_size, HARK_EINVAL, "invalid arguments");
    int rc = config_ok(c, why, why_size);
    if (rc)
        return rc;
    struct source *s = hark_calloc(1, sizeof *s);
    if (!s)
        return source_fail(why, why_size, HARK_ENOMEM, "out of memory");
    s->realtime = c->realtime;
    s->t0_ms = -1;
    const char *url = c->url;
    if (!strncmp(url, "file://", 7)) {
        rc = open_file(c, s, why, why_size);
    } else if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
        rc = open_http(c, s, why, why_size);
    } else if (!strncmp(url, "rtmp://", 7)) {
        struct source_rtmp_url u;
        rc = rtmp_parse(url, &u, why, why_size);
        if (!rc)
            rc = source_rtmp_open(c, &u, &s->rtmp, why, why_size);
        memset(&u, 0, sizeof u); /* the key */
    } else {
        rc = source_fail(why, why_size, HARK_EINVAL,
                         "unsupported source URL (file:///, http://, https://, rtmp://)");
    }
    if (rc) {
        source_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int samples_read(struct source *s, float *buf, size_t max, size_t *n_out,
                        int timeout_ms)
{
    size_t left = s->n - s->pos;
    if (left == 0) {
        s->final_rc = HARK_ECLOSED;
        return HARK_ECLOSED;
    }
    size_t want = left < max ? left : max;
    if (s->realtime) {
        int64_t now = clock_mono_ms();
        if (s->t0_ms < 0)
            s->t0_ms = now;
        size_t chunk = want < REALTIME_CHUNK ? want : REALTIME_CHUNK;
        /* The moment pos + chunk samples are due, and the latest we may wait. */
        int64_t due_ms = s->t0_ms + (int64_t)((s->pos + chunk) * 1000 / AUDIO_RATE);
        int64_t until = now + timeout_ms;
        if (due_ms < until)
            until = due_ms;
        while (now < until) {
            poll(NULL, 0, (int)(until - now)); /* a signal only shortens the wait */
            now = clock_mono_ms();
        }
        size_t allowed = (size_t)((now - s->t0_ms) * AUDIO_RATE / 1000);
        if (allowed <= s->pos)
            return HARK_EAGAIN;
        if (allowed - s->pos < want)
            want = allowed - s->pos;
    }
    memcpy(buf, s->samples + s->pos, want * sizeof *buf);
    s->pos += want;
    *n_out = want;
    return 0;
}

int source_read(struct source *s, float *buf, size_t max, size_t *n_out, int timeout_ms)
{
    if (n_out)
        *n_out = 0;
    if (!s || !buf || !max || !n_out || timeout_ms < 0)
        return HARK_EINVAL;
    if (s->final_rc)
        return s->final_rc;
    int rc = s->rtmp ? source_rtmp_read(s->rtmp, buf, max, n_out, timeout_ms, s->error)
                     : samples_read(s, buf, max, n_out, timeout_ms);
    if (rc && rc != HARK_EAGAIN && rc != HARK_EINVAL)
        s->final_rc = rc;
    return rc;
}

const char *source_error(const struct source *s)
{
    return s ? s->error : "";
}

int source_child_pid(const struct source *s)
{
    return s && s->rtmp ? source_rtmp_pid(s->rtmp) : -1;
}

void source_free(struct source *s)
{
    if (!s)
        return;
    source_rtmp_free(s->rtmp);
    hark_free(s->samples);
    hark_free(s);
}
