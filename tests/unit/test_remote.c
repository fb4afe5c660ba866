/* The remote engine against a small OpenAI-style server on 127.0.0.1 that
 * records what it receives and answers what each test tells it to. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hark/asr.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/utf8.h"

/* ---- the server ----------------------------------------------------------- */

enum reply_mode {
    REPLY_CANNED,          /* status + body */
    REPLY_CLOSE,           /* close without a word */
    REPLY_SILENT,          /* never answer; wait for the client to give up */
    REPLY_HUGE_DECLARED,   /* Content-Length: 17 MiB, then bytes until refused */
    REPLY_HUGE_UNDECLARED, /* no length, bytes until refused */
};

#define HUGE_BYTES (17u << 20)
#define REQUEST_MAX (64u << 20)

struct server {
    int fd, port;
    pthread_mutex_t lock;          /* guards everything below */
    enum reply_mode mode;
    int status;
    const char *body;              /* reply body, static storage */
    int delay_ms;
    char *last;                    /* last request, head and body (malloc) */
    size_t last_len;
    int requests, active, max_active;
};
static struct server S = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

static void send_all(int c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one request; returns its length (head and body) or 0. */
static size_t read_request(int c, char **out)
{
    size_t cap = 1 << 16, len = 0, want = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            cap *= 2;
            char *nb = cap <= REQUEST_MAX ? realloc(buf, cap) : NULL;
            if (!nb)
                break;
            buf = nb;
        }
        ssize_t r = recv(c, buf + len, cap - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        char *end = want ? NULL : memmem(buf, len, "\r\n\r\n", 4);
        if (end) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (want && len >= want) {
            *out = buf;
            return len;
        }
    }
    free(buf);
    return 0;
}

static void reply_huge(int c, int declared)
{
    char head[160];
    int n = declared ? snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: "
                                "application/json\r\nContent-Length: %u\r\n\r\n", HUGE_BYTES)
                     : snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: "
                                "application/json\r\nConnection: close\r\n\r\n");
    send_all(c, head, (size_t)n);
    char chunk[1 << 14];
    memset(chunk, ' ', sizeof chunk);
    for (size_t sent = 0; sent < HUGE_BYTES; sent += sizeof chunk)
        if (send(c, chunk, sizeof chunk, MSG_NOSIGNAL) <= 0)
            return;
}

static void *serve_one(void *arg)
{
    int c = (int)(intptr_t)arg;
    char *req = NULL;
    size_t len = read_request(c, &req);
    pthread_mutex_lock(&S.lock);
    free(S.last);
    S.last = req;
    S.last_len = len;
    S.requests++;
    if (++S.active > S.max_active)
        S.max_active = S.active;
    enum reply_mode mode = S.mode;
    int status = S.status, delay = S.delay_ms;
    const char *body = S.body;
    pthread_mutex_unlock(&S.lock);
    if (delay)
        nanosleep(&(struct timespec){delay / 1000, (long)(delay % 1000) * 1000000L}, NULL);
    /* Counted out before the reply, so the next request cannot overlap it. */
    pthread_mutex_lock(&S.lock);
    S.active--;
    pthread_mutex_unlock(&S.lock);
    char head[256], drain[256];
    int n;
    switch (mode) {
    case REPLY_CANNED:
        n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, strlen(body));
        send_all(c, head, (size_t)n);
        send_all(c, body, strlen(body));
        break;
    case REPLY_CLOSE:
        break;
    case REPLY_SILENT:
        while (poll(&(struct pollfd){.fd = c, .events = POLLIN}, 1, 20000) > 0 &&
               recv(c, drain, sizeof drain, 0) > 0)
            ;
        break;
    case REPLY_HUGE_DECLARED:
    case REPLY_HUGE_UNDECLARED:
        reply_huge(c, mode == REPLY_HUGE_DECLARED);
        break;
    }
    close(c);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(S.fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c) == 0)
            pthread_detach(t);
        else
            close(c);
    }
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_start(enum reply_mode mode, int status, const char *body)
{
    S.mode = mode;
    S.status = status;
    S.body = body;
    S.fd = listen_any(&S.port);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, accept_loop, NULL), 0);
    pthread_detach(t);
}

static void server_set(enum reply_mode mode, int status, const char *body)
{
    pthread_mutex_lock(&S.lock);
    S.mode = mode;
    S.status = status;
    S.body = body;
    pthread_mutex_unlock(&S.lock);
}

/* Orders the test's reads after the server's writes: the socket that
 * carried the reply is invisible to ThreadSanitizer, the lock is not. */
static void server_sync(void)
{
    pthread_mutex_lock(&S.lock);
    pthread_mutex_unlock(&S.lock);
}

/* ---- reading what the server received ------------------------------------ */

struct part {
    char name[64], filename[64], type[64];
    const char *data;
    size_t len;
};

static void header_param(const char *head, size_t n, const char *key, char *out, size_t size)
{
    out[0] = '\0';
    const char *p = memmem(head, n, key, strlen(key));
    if (!p)
        return;
    p += strlen(key);
    size_t len = 0;
    while (p + len < head + n && p[len] != '"' && p[len] != '\r' && len + 1 < size)
        len++;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Value of request header `name` ("" when absent) from the last request. */
static void last_header(const char *name, char *out, size_t size)
{
    char key[96];
    server_sync();
    snprintf(key, sizeof key, "\r\n%s: ", name);
    const char *end = memmem(S.last, S.last_len, "\r\n\r\n", 4);
    assert_non_null(end);
    out[0] = '\0';
    const char *p = strcasestr(S.last, key);
    if (!p || p > end)
        return;
    p += strlen(key);
    size_t len = (size_t)(strstr(p, "\r\n") - p);
    assert_true(len < size);
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Splits the last request's multipart body into parts; returns how many. */
static size_t last_parts(struct part *parts, size_t max)
{
    char ctype[256], boundary[128], delim[160];
    last_header("Content-Type", ctype, sizeof ctype);
    const char *b = strstr(ctype, "boundary=");
    assert_non_null(b);
    snprintf(boundary, sizeof boundary, "%s", b + 9);
    int dlen = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    const char *end = S.last + S.last_len;
    const char *p = (const char *)memmem(S.last, S.last_len, "\r\n\r\n", 4) + 2;
    size_t n = 0;
    /* p points at "\r\n--boundary" before each part */
    while (n < max && (size_t)(end - p) >= (size_t)dlen && !memcmp(p, delim, (size_t)dlen)) {
        p += dlen;
        if (end - p >= 2 && !memcmp(p, "--", 2))
            break;
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        assert_non_null(hend);
        struct part *pt = &parts[n++];
        header_param(p, (size_t)(hend - p), "name=\"", pt->name, sizeof pt->name);
        header_param(p, (size_t)(hend - p), "filename=\"", pt->filename, sizeof pt->filename);
        header_param(p, (size_t)(hend - p), "Content-Type: ", pt->type, sizeof pt->type);
        pt->data = hend + 4;
        const char *next = memmem(pt->data, (size_t)(end - pt->data), delim, (size_t)dlen);
        assert_non_null(next);
        pt->len = (size_t)(next - pt->data);
        p = next;
    }
    return n;
}

/* The idx-th part named name (as a string in out), or 0 when absent. */
static int field(const struct part *parts, size_t n, const char *name, int idx, char *out,
                 size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(parts[i].name, name) && idx-- == 0) {
            snprintf(out, size, "%.*s", (int)parts[i].len, parts[i].data);
            return 1;
        }
    return 0;
}

static const struct part *file_part(const struct part *parts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(parts[i].name, "file"))
            return &parts[i];
    return NULL;
}

static uint32_t le(const char *p, int bytes)
{
    uint32_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

/* ---- helpers ------------------------------------------------------------ */

static const char VERBOSE[] =
    "{\"task\":\"transcribe\",\"language\":\"english\",\"duration\":3.0,"
    "\"text\":\" Hello world. Second part.\","
    "\"segments\":["
    "{\"id\":0,\"start\":0.0,\"end\":1.5,\"text\":\" Hello world.\",\"no_speech_prob\":0.1,"
    "\"avg_logprob\":-0.2},"
    "{\"id\":1,\"start\":2.0,\"end\":3,\"text\":\" Second part.\",\"no_speech_prob\":0.02,"
    "\"avg_logprob\":-0.1}],"
    "\"words\":["
    "{\"word\":\"Hello\",\"start\":0.0,\"end\":0.5},"
    "{\"word\":\"world.\",\"start\":0.6,\"end\":1.4},"
    "{\"word\":\"uh\",\"start\":1.5,\"end\":1.6},"
    "{\"word\":\"um\",\"start\":1.8,\"end\":1.9},"
    "{\"word\":\"Second\",\"start\":1.9,\"end\":2.4,\"probability\":0.42},"
    "{\"word\":\"part.\",\"start\":2.5,\"end\":2.9}]}";

static const char KEY[] = "sk-test-secret-0123456789";

static struct asr_engine *engine(const char *url_tail, const char *key, int decoders,
                                 int timeout_ms)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", S.port, url_tail);
    struct asr_config c = asr_config_default();
    c.kind = ASR_KIND_REMOTE;
    c.remote_url = url;
    c.remote_key = key;
    c.remote_model = "whisper-large-v3";
    c.decoders = decoders;
    c.remote_timeout_ms = timeout_ms;
    struct asr_engine *e = NULL;
    assert_int_equal(asr_engine_new(&c, &e), 0);
    return e;
}

static float *tone(size_t n)
{
    float *pcm = malloc(n * sizeof *pcm);
    assert_non_null(pcm);
    for (size_t i = 0; i < n; i++)
        pcm[i] = 0.8f * sinf((float)i * 0.05f);
    return pcm;
}

static int transcribe(struct asr_engine *e, size_t n, const struct asr_options *o,
                      struct asr_result *r)
{
    float *pcm = tone(n);
    int rc = asr_transcribe(e, pcm, n, o, r);
    free(pcm);
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends hark's log lines to a file; returns its path. */
static const char *log_to_file(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/log", harness_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    log_fd_set(fd);
    return path;
}

static char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- tests -------------------------------------------------------------- */

static void request_is_openai_multipart_with_wav_and_bearer_key(void **state)
{
    (void)state;
    server_start(REPLY_CANNED, 200, VERBOSE);
    struct asr_engine *e = engine("/v1", KEY, 1, 5000);
    float pcm[1600];
    const float special[] = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f, -2.0f, NAN, INFINITY};
    const int16_t want[] = {0, 16384, -16384, 32767, -32767, 32767, -32767, 0, 32767};
    for (size_t i = 0; i < 1600; i++)
        pcm[i] = i < 9 ? special[i] : 0.25f;
    struct asr_options o = asr_options_default();
    o.language = "de";
    o.prompt = "Vorher gesagt.";
    o.temperature = 0.2f;
    struct asr_result r;
    assert_int_equal(asr_transcribe(e, pcm, 1600, &o, &r), 0);
    asr_result_release(&r);

    assert_memory_equal(S.last, "POST /v1/audio/transcriptions HTTP/1.1\r\n", 40);
    char h[256], v[256];
    last_header("Authorization", h, sizeof h);
    assert_string_equal(h, "Bearer sk-test-secret-0123456789");
    last_header("Content-Length", h, sizeof h);
    assert_true(strtoul(h, NULL, 10) > 3200);
    last_header("Expect", h, sizeof h);
    assert_string_equal(h, "");
    struct part parts[16];
    size_t n = last_parts(parts, 16);
    assert_int_equal(field(parts, n, "model", 0, v, sizeof v), 1);
    assert_string_equal(v, "whisper-large-v3");
    assert_int_equal(field(parts, n, "language", 0, v, sizeof v), 1);
    assert_string_equal(v, "de");
    assert_int_equal(field(parts, n, "prompt", 0, v, sizeof v), 1);
    assert_string_equal(v, "Vorher gesagt.");
    assert_int_equal(field(parts, n, "temperature", 0, v, sizeof v), 1);
    assert_true(fabs(strtod(v, NULL) - 0.2) < 1e-6);
    assert_int_equal(field(parts, n, "response_format", 0, v, sizeof v), 1);
    assert_string_equal(v, "verbose_json");
    assert_int_equal(field(parts, n, "timestamp_granularities[]", 0, v, sizeof v), 1);
    assert_string_equal(v, "word");
    assert_int_equal(field(parts, n, "timestamp_granularities[]", 1, v, sizeof v), 1);
    assert_string_equal(v, "segment");

    const struct part *f = file_part(parts, n);
    assert_non_null(f);
    assert_string_equal(f->filename, "audio.wav");
    assert_string_equal(f->type, "audio/wav");
    assert_int_equal(f->len, 44 + 2 * 1600);
    assert_memory_equal(f->data, "RIFF", 4);
    assert_int_equal(le(f->data + 4, 4), 36 + 3200);
    assert_memory_equal(f->data + 8, "WAVEfmt ", 8);
    assert_int_equal(le(f->data + 16, 4), 16);
    assert_int_equal(le(f->data + 20, 2), 1);     /* PCM */
    assert_int_equal(le(f->data + 22, 2), 1);     /* mono */
    assert_int_equal(le(f->data + 24, 4), 16000);
    assert_int_equal(le(f->data + 28, 4), 32000);
    assert_int_equal(le(f->data + 32, 2), 2);
    assert_int_equal(le(f->data + 34, 2), 16);
    assert_memory_equal(f->data + 36, "data", 4);
    assert_int_equal(le(f->data + 40, 4), 3200);
    for (size_t i = 0; i < 9; i++)
        assert_int_equal((int16_t)le(f->data + 44 + 2 * i, 2), want[i]);
    assert_int_equal((int16_t)le(f->data + 44 + 2 * 1599, 2), 8192);
    asr_engine_free(e);
}

static void verbose_json_becomes_segments_with_their_words(void **state)
{
    (void)state;
    server_start(REPLY_CANNED, 200, VERBOSE);
    struct asr_engine *e = engine("/v1/", NULL, 1, 5000);
    assert_string_equal(asr_engine_model(e), "whisper-large-v3");
    struct asr_result r;
    assert_int_equal(transcribe(e, 48000, NULL, &r), 0);
    assert_string_equal(r.language, "en");
    assert_int_equal(r.duration_ms, 3000);
    assert_int_equal(r.n_segs, 2);
    assert_string_equal(r.segs[0].text, " Hello world.");
    assert_int_equal(r.segs[0].start_ms, 0);
    assert_int_equal(r.segs[0].end_ms, 1500);
    assert_true(fabsf(r.segs[0].no_speech_p - 0.1f) < 1e-6f);
    assert_int_equal(r.segs[1].start_ms, 2000);
    assert_int_equal(r.segs[1].end_ms, 3000);
    /* "uh" sits just after segment 0, "um" just before segment 1 */
    const char *want0[] = {" Hello", " world.", " uh"};
    const char *want1[] = {" um", " Second", " part."};
    assert_int_equal(r.segs[0].n_words, 3);
    assert_int_equal(r.segs[1].n_words, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(r.segs[0].words[i].text, want0[i]);
        assert_string_equal(r.segs[1].words[i].text, want1[i]);
    }
    assert_int_equal(r.segs[0].words[1].start_ms, 600);
    assert_int_equal(r.segs[0].words[1].end_ms, 1400);
    assert_true(fabsf(r.segs[0].words[0].p - expf(-0.2f)) < 1e-4f);
    assert_true(fabsf(r.segs[1].words[2].p - expf(-0.1f)) < 1e-4f);
    assert_true(fabsf(r.segs[1].words[1].p - 0.42f) < 1e-6f);     /* its own, when given */
    asr_result_release(&r);
    /* trailing slash in the URL, no key: no Authorization header */
    assert_memory_equal(S.last, "POST /v1/audio/transcriptions HTTP/1.1\r\n", 40);
    char h[128];
    last_header("Authorization", h, sizeof h);
    assert_string_equal(h, "");
    uint64_t decodes, audio_ms;
    asr_engine_stats(e, &decodes, &audio_ms);
    assert_int_equal(decodes, 1);
    assert_int_equal(audio_ms, 3000);
    asr_engine_free(e);
}

static void auto_language_is_left_to_the_server(void **state)
{
    (void)state;
    server_start(REPLY_CANNED, 200, "{\"text\":\"\",\"segments\":[]}");
    struct asr_engine *e = engine("/v1", NULL, 1, 5000);
    struct asr_options o = asr_options_default();
    o.language = "auto";
    struct asr_result r;
    assert_int_equal(transcribe(e, 1600, &o, &r), 0);
    assert_int_equal(r.n_segs, 0);                 /* silence: no segments, no error */
    assert_string_equal(r.language, "");
    struct part parts[16];
    char v[64];
    size_t n = last_parts(parts, 16);
    assert_int_equal(field(parts, n, "language", 0, v, sizeof v), 0);
    assert_int_equal(field(parts, n, "prompt", 0, v, sizeof v), 0);
    asr_result_release(&r);
    asr_engine_free(e);
}

static void translate_uses_the_translations_endpoint(void **state)
{
    (void)state;
    server_start(REPLY_CANNED, 200,
                 "{\"language\":\"german\",\"text\":\" Good morning.\","
                 "\"segments\":[{\"start\":0,\"end\":1.0,\"text\":\" Good morning.\"}]}");
    struct asr_engine *e = engine("/v1", NULL, 1, 5000);
    struct asr_options o = asr_options_default();
    o.language = "de";
    o.translate = 1;
    struct asr_result r;
    assert_int_equal(transcribe(e, 16000, &o, &r), 0);
    assert_int_equal(r.n_segs, 1);
    assert_int_equal(r.segs[0].n_words, 0);
    assert_string_equal(r.language, "de");
    asr_result_release(&r);
    assert_memory_equal(S.last, "POST /v1/audio/translations HTTP/1.1\r\n", 38);
    struct part parts[16];
    char v[64];
    size_t n = last_parts(parts, 16);
    assert_int_equal(field(parts, n, "language", 0, v, sizeof v), 0);
    assert_int_equal(field(parts, n, "timestamp_granularities[]", 0, v, sizeof v), 0);
    assert_int_equal(field(parts, n, "model", 0, v, sizeof v), 1);
    asr_engine_free(e);
}

static void long_recording_arrives_whole(void **state)
{
    (void)state;
    server_start(REPLY_CANNED, 200, VERBOSE);
    struct asr_engine *e = engine("/v1", NULL, 1, 20000);
    size_t n = 40 * 16000;                         /* 1.28 MB of WAV */
    float *pcm = tone(n);
    struct asr_result r;
    assert_int_equal(asr_transcribe(e, pcm, n, NULL, &r), 0);
    asr_result_release(&r);
    char h[64];
    last_header("Expect", h, sizeof h);             /* no 100-continue round trip */
    assert_string_equal(h, "");
    struct part parts[16];
    size_t np = last_parts(parts, 16);
    const struct part *f = file_part(parts, np);
    assert_non_null(f);
    assert_int_equal(f->len, 44 + 2 * n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal((int16_t)le(f->data + 44 + 2 * i, 2), (int16_t)lrintf(pcm[i] * 32767.0f));
    free(pcm);
    asr_engine_free(e);
}

static void language_names_and_tags_become_iso_codes(void **state)
{
    (void)state;
    static const struct {
        const char *reply, *want;
    } cases[] = {
        {"{\"language\":\"english\",\"text\":\"x\"}", "en"},
        {"{\"language\":\"Haitian Creole\",\"text\":\"x\"}", "ht"},
        {"{\"language\":\"cantonese\",\"text\":\"x\"}", "yue"},
        {"{\"language\":\"burmese\",\"text\":\"x\"}", "my"},
        {"{\"language\":\"fr\",\"text\":\"x\"}", "fr"},
        {"{\"language\":\"en-US\",\"text\":\"x\"}", "en"},
        {"{\"language\":\"PT\",\"text\":\"x\"}", "pt"},
        {"{\"language\":\"klingonese\",\"text\":\"x\"}", ""},
    };
    server_start(REPLY_CANNED, 200, cases[0].reply);
    struct asr_engine *e = engine("/v1", NULL, 1, 5000);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        server_set(REPLY_CANNED, 200, cases[i].reply);
        struct asr_result r;
        assert_int_equal(transcribe(e, 1600, NULL, &r), 0);
        assert_string_equal(r.language, cases[i].want);
        /* text only: one segment over the whole audio */
        assert_int_equal(r.n_segs, 1);
        assert_int_equal(r.segs[0].end_ms, 100);
        assert_string_equal(r.segs[0].text, "x");
        asr_result_release(&r);
    }
    asr_engine_free(e);
}

static void long_word_is_cut_on_a_character_boundary(void **state)
{
    (void)state;
    static char reply[512];
    char word[96] = "";
    for (int i = 0; i < 40; i++)
        memcpy(word + 2 * i, "\xc3\xa9", 3);        /* "é" x 40 = 80 bytes */
    snprintf(reply, sizeof reply,
             "{\"segments\":[{\"start\":0,\"end\":1,\"text\":\"x\"}],"
             "\"words\":[{\"word\":\"%s\",\"start\":0.1,\"end\":0.9}]}", word);
    server_start(REPLY_CANNED, 200, reply);
    struct asr_engine *e = engine("/v1", NULL, 1, 5000);
    struct asr_result r;
    assert_int_equal(transcribe(e, 16000, NULL, &r), 0);
    assert_int_equal(r.segs[0].n_words, 1);
    const char *t = r.segs[0].words[0].text;
    assert_int_equal(strlen(t), 63);                /* " " + 31 x "é" */
    assert_int_equal(t[0], ' ');
    assert_true(utf8_valid(t, strlen(t)));
    asr_result_release(&r);
    asr_engine_free(e);
}

static void server_error_is_eio_logged_with_status_and_body_but_never_the_key(void **state)
{
    (void)state;
    static char body[1100];
    memset(body, 'x', 1000);
    memcpy(body, "{\"error\":\"model overloaded\"}", 28);
    server_start(REPLY_CANNED, 500, body);
    const char *path = log_to_file();
    struct asr_engine *e = engine("/v1", KEY, 1, 5000);
    struct asr_result r;
    assert_int_equal(transcribe(e, 1600, NULL, &r), HARK_EIO);
    assert_null(r.segs);
    asr_engine_free(e);
    const char *log = slurp(path);
    assert_non_null(strstr(log, "status=500"));
    assert_non_null(strstr(log, "model overloaded"));
    assert_null(strstr(log, KEY));
    assert_null(strstr(log, "0123456789"));
    /* the body excerpt is bounded */
    char run[202];
    memset(run, 'x', 201);
    run[201] = '\0';
    assert_null(strstr(log, run));
}

static void garbage_reply_is_eparse(void **state)
{
    (void)state;
    static const char *bad[] = {
        "<html>502 Bad Gateway</html>",
        "",
        "[]",
        "{}",
        "{\"segments\":5}",
        "{\"text\":7}",
        "{\"segments\":[{\"start\":\"0\",\"end\":1,\"text\":\"x\"}]}",
        "{\"segments\":[{\"start\":0,\"end\":1}]}",
        "{\"segments\":[{\"start\":-1,\"end\":1,\"text\":\"x\"}]}",
        "{\"segments\":[{\"start\":0,\"end\":1e300,\"text\":\"x\"}]}",
        "{\"segments\":[{\"start\":0,\"end\":1,\"text\":\"x\",\"no_speech_prob\":\"high\"}]}",
        "{\"segments\":[{\"start\":0,\"end\":1,\"text\":\"x\"}],\"words\":{}}",
        ("{\"segments\":[{\"start\":0,\"end\":1,\"text\":\"x\"}],\"words\":[{\"word\":1,"
         "\"start\":0,\"end\":1}]}"),
        "{\"segments\":[{\"start\":0,\"end\":1,\"text\":\"x\"}],\"words\":[{\"word\":\"a\"}]}",
        ("{\"segments\":[{\"start\":0,\"end\":1,\"text\":\"x\"}],\"words\":[{\"word\":\"a\","
         "\"start\":0,\"end\":1,\"probability\":\"high\"}]}"),
        "{\"segments\":[{\"start\":0,\"end\":1,\"text\":\"x\"}]} trailing",
    };
    server_start(REPLY_CANNED, 200, bad[0]);
    struct asr_engine *e = engine("/v1", NULL, 1, 5000);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        server_set(REPLY_CANNED, 200, bad[i]);
        struct asr_result r;
        int rc = transcribe(e, 1600, NULL, &r);
        if (rc != HARK_EPARSE)
            fail_msg("reply %zu (%s): got %s", i, bad[i], hark_errname(rc));
        assert_null(r.segs);
    }
    asr_engine_free(e);
}

static void connection_refused_is_eio(void **state)
{
    (void)state;
    S.fd = listen_any(&S.port);
    close(S.fd);                                   /* nobody listens there now */
    struct asr_engine *e = engine("/v1", KEY, 1, 5000);
    struct asr_result r;
    assert_int_equal(transcribe(e, 1600, NULL, &r), HARK_EIO);
    asr_engine_free(e);
}

static void server_closing_without_reply_is_eio(void **state)
{
    (void)state;
    server_start(REPLY_CLOSE, 0, NULL);
    struct asr_engine *e = engine("/v1", NULL, 1, 5000);
    struct asr_result r;
    assert_int_equal(transcribe(e, 1600, NULL, &r), HARK_EIO);
    server_sync();
    assert_int_equal(S.requests, 1);
    asr_engine_free(e);
}

static void server_that_never_answers_times_out_with_eio(void **state)
{
    (void)state;
    server_start(REPLY_SILENT, 0, NULL);
    const char *path = log_to_file();
    struct asr_engine *e = engine("/v1", NULL, 1, 300);
    struct asr_result r;
    int64_t t0 = now_ms();
    assert_int_equal(transcribe(e, 1600, NULL, &r), HARK_EIO);
    int64_t took = now_ms() - t0;
    assert_true(took >= 250);
    assert_true(took < 3000);
    asr_engine_free(e);
    assert_non_null(strstr(slurp(path), "curl=28"));   /* CURLE_OPERATION_TIMEDOUT */
}

static void oversize_reply_is_refused(void **state)
{
    (void)state;
    server_start(REPLY_HUGE_DECLARED, 200, NULL);
    const char *path = log_to_file();
    struct asr_engine *e = engine("/v1", NULL, 1, 20000);
    struct asr_result r;
    assert_int_equal(transcribe(e, 1600, NULL, &r), HARK_EIO);
    server_set(REPLY_HUGE_UNDECLARED, 200, NULL);
    assert_int_equal(transcribe(e, 1600, NULL, &r), HARK_EIO);
    asr_engine_free(e);
    const char *log = slurp(path);
    const char *first = strstr(log, "response too large");
    assert_non_null(first);
    assert_non_null(strstr(first + 1, "response too large"));
}

struct caller {
    struct asr_engine *e;
    int rc;
};

static void *call(void *arg)
{
    struct caller *c = arg;
    struct asr_result r;
    c->rc = transcribe(c->e, 1600, NULL, &r);
    if (!c->rc)
        asr_result_release(&r);
    return NULL;
}

static void concurrent_requests_never_exceed_decoders(void **state)
{
    (void)state;
    S.delay_ms = 150;                              /* before the server thread starts */
    server_start(REPLY_CANNED, 200, VERBOSE);
    struct asr_engine *e = engine("/v1", NULL, 2, 10000);
    assert_int_equal(asr_engine_decoders(e), 2);
    struct caller callers[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        callers[i] = (struct caller){e, -1};
        assert_int_equal(pthread_create(&t[i], NULL, call, &callers[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(callers[i].rc, 0);
    }
    pthread_mutex_lock(&S.lock);
    int requests = S.requests, max_active = S.max_active;
    pthread_mutex_unlock(&S.lock);
    assert_int_equal(requests, 6);
    assert_int_equal(max_active, 2);
    asr_engine_free(e);
}

static void every_allocation_failure_returns_enomem_without_leaks(void **state)
{
    (void)state;
    server_start(REPLY_CANNED, 200, VERBOSE);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", S.port);
    struct asr_config c = asr_config_default();
    c.kind = ASR_KIND_REMOTE;
    c.remote_url = url;
    c.remote_key = KEY;
    struct asr_engine *e = NULL;
    int rc, n;
    for (n = 0;; n++) {
        hark_mem_fail_after(n);
        rc = asr_engine_new(&c, &e);
        hark_mem_fail_after(-1);
        if (rc == 0)
            break;
        assert_int_equal(rc, HARK_ENOMEM);
        assert_null(e);
        harness_assert_no_leaks();
    }
    assert_true(n > 0);
    float *pcm = tone(16000);
    struct asr_result r;
    for (n = 0;; n++) {
        hark_mem_fail_after(n);
        rc = asr_transcribe(e, pcm, 16000, NULL, &r);
        hark_mem_fail_after(-1);
        if (rc == 0)
            break;
        assert_int_equal(rc, HARK_ENOMEM);
        assert_null(r.segs);
        harness_assert_no_leaks();
    }
    assert_true(n > 2);
    assert_int_equal(r.n_segs, 2);
    asr_result_release(&r);
    free(pcm);
    asr_engine_free(e);
}

static void bad_settings_are_econfig(void **state)
{
    (void)state;
    struct {
        const char *url, *key, *model;
        int decoders, timeout_ms;
    } bad[] = {
        {NULL, NULL, "m", 1, 1000},
        {"ftp://127.0.0.1/v1", NULL, "m", 1, 1000},
        {"127.0.0.1:9000/v1", NULL, "m", 1, 1000},
        {"http://127.0.0.1/v1 x", NULL, "m", 1, 1000},
        {"http://127.0.0.1/v1", "k\r\nX-Evil: 1", "m", 1, 1000},
        {"http://127.0.0.1/v1", NULL, "", 1, 1000},
        {"http://127.0.0.1/v1", NULL, NULL, 1, 1000},
        {"http://127.0.0.1/v1", NULL, "m", 0, 1000},
        {"http://127.0.0.1/v1", NULL, "m", 65, 1000},
        {"http://127.0.0.1/v1", NULL, "m", 1, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct asr_config c = asr_config_default();
        c.kind = ASR_KIND_REMOTE;
        c.remote_url = bad[i].url;
        c.remote_key = bad[i].key;
        c.remote_model = bad[i].model;
        c.decoders = bad[i].decoders;
        c.remote_timeout_ms = bad[i].timeout_ms;
        struct asr_engine *e = (struct asr_engine *)&c;
        if (asr_engine_new(&c, &e) != HARK_ECONFIG)
            fail_msg("case %zu was accepted", i);
        assert_null(e);
    }
}

static void ready_log_names_the_server_but_not_its_secrets(void **state)
{
    (void)state;
    const char *path = log_to_file();
    struct asr_config c = asr_config_default();
    c.kind = ASR_KIND_REMOTE;
    c.remote_url = "https://user:pa55word@gpu.example.com/v1";
    c.remote_key = KEY;
    struct asr_engine *e = NULL;
    assert_int_equal(asr_engine_new(&c, &e), 0);
    asr_engine_free(e);
    const char *log = slurp(path);
    assert_non_null(strstr(log, "https://gpu.example.com/v1"));
    assert_non_null(strstr(log, "auth=bearer"));
    assert_null(strstr(log, "pa55word"));
    assert_null(strstr(log, KEY));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(request_is_openai_multipart_with_wav_and_bearer_key),
    cmocka_unit_test(verbose_json_becomes_segments_with_their_words),
    cmocka_unit_test(auto_language_is_left_to_the_server),
    cmocka_unit_test(translate_uses_the_translations_endpoint),
    cmocka_unit_test(long_recording_arrives_whole),
    cmocka_unit_test(language_names_and_tags_become_iso_codes),
    cmocka_unit_test(long_word_is_cut_on_a_character_boundary),
    cmocka_unit_test(server_error_is_eio_logged_with_status_and_body_but_never_the_key),
    cmocka_unit_test(garbage_reply_is_eparse),
    cmocka_unit_test(connection_refused_is_eio),
    cmocka_unit_test(server_closing_without_reply_is_eio),
    cmocka_unit_test(server_that_never_answers_times_out_with_eio),
    cmocka_unit_test(oversize_reply_is_refused),
    cmocka_unit_test(concurrent_requests_never_exceed_decoders),
    cmocka_unit_test(every_allocation_failure_returns_enomem_without_leaks),
    cmocka_unit_test(bad_settings_are_econfig),
    cmocka_unit_test(ready_log_names_the_server_but_not_its_secrets),
};

HARNESS_MAIN(tests)
