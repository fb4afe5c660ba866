#include "hark/webhook_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "hark/buf.h"
#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/store.h"
#include "hark/version.h"

/* Envelopes are built in memory before they are stored: bound them. */
#define BODY_MAX (1024 * 1024)
#define ERROR_MAX 256
#define DEFAULT_EVENT "meeting.completed"

struct webhook_queue {
    struct webhook_queue_config cfg;
    struct store *store;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kicked;        /* under mu: a publish since the thread last looked */
    int running;       /* the thread was started */
    atomic_int stopping;
    pthread_t thread;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

struct webhook_queue_config webhook_queue_config_default(void)
{
    return (struct webhook_queue_config){
        .schedule = webhook_schedule_default(),
        .allow_private = 0,
        .timeout_ms = 10000,
        .poll_ms = 1000,
        .lease_ms = 0,
    };
}

/* ---- schedule text ----------------------------------------------------------- */

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int webhook_schedule_parse(const char *text, struct webhook_schedule *out)
{
    if (!text || !out || strnlen(text, WEBHOOK_SCHEDULE_TEXT_MAX + 1) > WEBHOOK_SCHEDULE_TEXT_MAX)
        return HARK_EINVAL;
    struct webhook_schedule s = *out;
    s.retries = 0;
    const char *p = skip_spaces(text);
    if (!*p) {
        *out = s;
        return 0;
    }
    for (;;) {
        if (*p < '0' || *p > '9' || s.retries == WEBHOOK_RETRIES_MAX)
            return HARK_EINVAL;
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p++ - '0');
            if (v > WEBHOOK_DELAY_MAX_MS / 1000)
                return HARK_EINVAL;
        }
        s.delay_ms[s.retries++] = v * 1000;
        p = skip_spaces(p);
        if (!*p)
            break;
        if (*p != ',')
            return HARK_EINVAL;
        p = skip_spaces(p + 1);
    }
    *out = s;
    return 0;
}

/* ---- lifecycle --------------------------------------------------------------- */

static int config_ok(const struct webhook_queue_config *c)
{
    if (c->timeout_ms < 1 || c->poll_ms < 1 || c->lease_ms < 0 ||
        c->schedule.retries < 0 || c->schedule.retries > WEBHOOK_RETRIES_MAX ||
        c->schedule.jitter_permille < 0 || c->schedule.jitter_permille > 1000)
        return 0;
    for (int i = 0; i < c->schedule.retries; i++)
        if (c->schedule.delay_ms[i] < 0 || c->schedule.delay_ms[i] > WEBHOOK_DELAY_MAX_MS)
            return 0;
    return 1;
}

int webhook_queue_new(const struct webhook_queue_config *c, struct store *s,
                      struct webhook_queue **out)
{
    if (!out)
        return HARK_EINVAL;
    *out = NULL;
    if (!c || !s || !config_ok(c))
        return HARK_EINVAL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return HARK_EIO;
    struct webhook_queue *q = hark_calloc(1, sizeof *q);
    if (!q)
        return HARK_ENOMEM;
    q->cfg = *c;
    if (!q->cfg.lease_ms)
        q->cfg.lease_ms = q->cfg.timeout_ms + 10000;
    q->store = s;
    atomic_init(&q->stopping, 0);
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (!rc) {
        /* Waits are timed on the monotonic clock: a wall-clock jump must not
         * stall delivery. */
        rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (!rc)
            rc = pthread_cond_init(&q->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (rc) {
        hark_free(q);
        return HARK_ENOMEM;
    }
    if (pthread_mutex_init(&q->mu, NULL)) {
        pthread_cond_destroy(&q->cv);
        hark_free(q);
        return HARK_ENOMEM;
    }
    *out = q;
    return 0;
}

static void *deliver_loop(void *arg);

int webhook_queue_start(struct webhook_queue *q)
{
    if (!q || q->running)
        return HARK_EINVAL;
    if (pthread_create(&q->thread, NULL, deliver_loop, q))
        return HARK_ENOMEM;
    q->running = 1;
    return 0;
}

void webhook_queue_free(struct webhook_queue *q)
{
    if (!q)
        return;
    if (q->running) {
        pthread_mutex_lock(&q->mu);
        atomic_store(&q->stopping, 1);
        pthread_cond_signal(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    hark_free(q);
}

/* ---- publish ----------------------------------------------------------------- */

static int list_names(struct json_object *arr, const char *event_type)
{
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(arr, i));
        if (json_object_is_type(json_object_array_get_idx(arr, i), json_type_string) &&
            !strcmp(name, event_type))
            return 1;
    }
    return 0;
}

/* Whether a webhook whose events_json is `events` wants event_type. */
static int event_wanted(const char *events, const char *event_type)
{
    if (!strcmp(event_type, WEBHOOK_EVENT_TEST))
        return 1;
    struct json_object *j = events ? json_tokener_parse(events) : NULL;
    int wanted = -1; /* -1: the webhook names no event, so the default applies */
    if (json_object_is_type(j, json_type_object) && json_object_object_length(j) > 0) {
        struct json_object *v;
        wanted = json_object_object_get_ex(j, event_type, &v) &&
                 json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
    } else if (json_object_is_type(j, json_type_array) && json_object_array_length(j) > 0) {
        wanted = list_names(j, event_type);
    }
    json_object_put(j);
    return wanted >= 0 ? wanted : !strcmp(event_type, DEFAULT_EVENT);
}

static void kick(struct webhook_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->kicked = 1;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static int build_body(const char *event_type, const char *event_id, const char *data_json,
                      struct hbuf *body)
{
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return HARK_ENOMEM;
    size_t len = strlen(data_json);
    struct json_object *data = json_tokener_parse_ex(tok, data_json, (int)len);
    /* Trailing bytes after the object are refused, not ignored. */
    int rc = json_tokener_get_error(tok) == json_tokener_success &&
                     json_tokener_get_parse_end(tok) == len &&
                     json_object_is_type(data, json_type_object)
                 ? webhook_envelope(event_type, event_id, clock_now_ms(), data, body)
                 : HARK_EINVAL;
    json_object_put(data);
    json_tokener_free(tok);
    return rc;
}

int webhook_queue_publish(struct webhook_queue *q, int64_t user_id, const char *event_type,
                          const char *data_json, const char *event_id, size_t *n_queued)
{
    if (n_queued)
        *n_queued = 0;
    if (!q || !event_type || !data_json || strlen(data_json) > BODY_MAX ||
        (event_id && !*event_id))
        return HARK_EINVAL;
    char fresh[WEBHOOK_EVENT_ID_SIZE];
    if (!event_id) {
        int rc = webhook_event_id(fresh);
        if (rc)
            return rc;
        event_id = fresh;
    }
    struct hbuf body;
    hbuf_init(&body, BODY_MAX);
    int rc = build_body(event_type, event_id, data_json, &body);
    struct store_webhook *hooks = NULL;
    size_t n = 0, queued = 0;
    if (!rc)
        rc = store_webhook_list(q->store, user_id, &hooks, &n);
    int64_t now = clock_now_ms();
    for (size_t i = 0; !rc && i < n; i++) {
        int created = 0;
        if (event_wanted(hooks[i].events_json, event_type))
            rc = store_delivery_enqueue(q->store, hooks[i].id, event_id, event_type, body.data,
                                        now, &created);
        queued += (size_t)created;
    }
    store_webhook_list_free(hooks, n);
    hbuf_release(&body);
    if (queued) {
        log_info("webhook", "msg=\"event queued\" event=%s type=%s user=%" PRId64 " hooks=%zu",
                 event_id, event_type, user_id, queued);
        kick(q);
    }
    if (n_queued)
        *n_queued = queued;
    return rc;
}

/* ---- settle ------------------------------------------------------------------ */

int webhook_queue_settle(struct webhook_queue *q, const struct store_delivery *d,
                         const struct webhook_outcome *o, int64_t now_ms,
                         enum webhook_settled *settled)
{
    if (settled)
        *settled = WEBHOOK_SETTLED_DEAD;
    if (!q || !d || !o || !d->event_id || d->attempts < 1 || now_ms < 0)
        return HARK_EINVAL;
    int status = o->http_status > 0 && o->http_status < 1000 ? (int)o->http_status : 0;
    if (!o->transport_error && !o->final && status >= 200 && status < 300) {
        int rc = store_delivery_succeed(q->store, d->id, d->attempts, status, now_ms);
        if (!rc && settled)
            *settled = WEBHOOK_SETTLED_DELIVERED;
        return rc;
    }
    int64_t next = 0;
    if (!o->final && webhook_retryable(o->http_status, o->transport_error)) {
        int rc = webhook_next_attempt(d->attempts, now_ms, &q->cfg.schedule, d->event_id, &next);
        if (rc == HARK_ENOENT)
            next = 0;
        else if (rc)
            return rc;
    }
    char why[64];
    const char *error = o->error;
    if (!error) {
        snprintf(why, sizeof why, "HTTP %d", status);
        error = why;
    }
    int rc = store_delivery_fail(q->store, d->id, d->attempts, status, error, next, now_ms);
    if (!rc && settled)
        *settled = next ? WEBHOOK_SETTLED_RETRY : WEBHOOK_SETTLED_DEAD;
    return rc;
}

/* ---- one attempt ------------------------------------------------------------- */

struct attempt {
    struct webhook_queue *q;
    struct curl_slist *headers;
    size_t received;
    int refused;  /* an address the SSRF check refused */
    int too_long; /* the answer passed WEBHOOK_QUEUE_RESPONSE_MAX */
};

static int add_header(void *arg, const char *line)
{
    struct attempt *a = arg;
    struct curl_slist *l = curl_slist_append(a->headers, line);
    if (!l)
        return HARK_ENOMEM;
    a->headers = l;
    return 0;
}

/* Every address libcurl connects to passes here, after DNS: the check that
 * rebinding cannot get around. Refused: no socket, and libcurl tries the
 * next address or fails the attempt. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct attempt *a = arg;
    (void)purpose;
    if (!webhook_addr_allowed(&addr->addr, a->q->cfg.allow_private)) {
        a->refused = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct attempt *a = arg;
    (void)data;
    a->received += n;
    if (a->received > WEBHOOK_QUEUE_RESPONSE_MAX) {
        a->too_long = 1;
        return 0; /* ends the transfer; the status line is already in */
    }
    return size * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct attempt *a = arg;
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load(&a->q->stopping);
}

static int setup(CURL *h, const struct store_delivery *d, struct attempt *a, char *errbuf)
{
    if (curl_easy_setopt(h, CURLOPT_URL, d->url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "hark/" HARK_VERSION) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK)
        return HARK_ENOMEM;
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)a->q->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, a);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, a);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(d->body));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, a->headers);
    return 0;
}

/* Sends d once. Returns 1 when the attempt was cut short by stop (nothing
 * to record), 0 with *o filled otherwise, or a negative HARK_E* for a local
 * failure (no memory) that counts as a retryable transport error. error is
 * where o->error points (ERROR_MAX bytes). */
static int send_once(struct webhook_queue *q, const struct store_delivery *d,
                     struct webhook_outcome *o, char *error)
{
    memset(o, 0, sizeof *o);
    o->error = error;
    if (!d->url) {
        snprintf(error, ERROR_MAX, "the webhook was removed");
        o->final = 1;
        return 0;
    }
    char why[160];
    if (webhook_url_check(d->url, q->cfg.allow_private, why, sizeof why)) {
        snprintf(error, ERROR_MAX, "target refused: %s", why);
        o->final = 1;
        return 0;
    }
    struct attempt a = {.q = q};
    int64_t ts_s = clock_now_ms() / 1000;
    int rc = webhook_headers_emit(d->secret, ts_s, d->body, strlen(d->body), add_header, &a);
    if (rc == HARK_EINVAL) {
        snprintf(error, ERROR_MAX, "the secret has control characters");
        o->final = 1;
        curl_slist_free_all(a.headers);
        return 0;
    }
    if (!rc)
        rc = add_header(&a, "Expect:"); /* no 100-continue round trip */
    CURL *h = rc ? NULL : curl_easy_init();
    char errbuf[CURL_ERROR_SIZE] = "";
    if (!rc && !h)
        rc = HARK_ENOMEM;
    if (!rc)
        rc = setup(h, d, &a, errbuf);
    if (rc) {
        curl_easy_cleanup(h);
        curl_slist_free_all(a.headers);
        return rc;
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(a.headers);
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return 1;
    o->http_status = status;
    if (a.refused) {
        snprintf(error, ERROR_MAX, "target refused: %s", "every address is loopback, private "
                                                         "or reserved");
        o->final = 1;
    } else if (cc != CURLE_OK && !(a.too_long && status)) {
        o->transport_error = 1;
        snprintf(error, ERROR_MAX, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        o->error = NULL;
    }
    return 0;
}

static const char *settled_name(enum webhook_settled s)
{
    return s == WEBHOOK_SETTLED_DELIVERED ? "delivered" : s == WEBHOOK_SETTLED_RETRY ? "retry"
                                                                                   : "dead";
}

/* Claims one due delivery and attempts it. HARK_ENOENT when none is due. */
static int deliver_one(struct webhook_queue *q)
{
    struct store_delivery d;
    int rc = store_delivery_claim(q->store, clock_now_ms(), q->cfg.lease_ms, &d);
    if (rc)
        return rc;
    struct webhook_outcome o;
    char error[ERROR_MAX];
    rc = send_once(q, &d, &o, error);
    if (rc == 1) {
        rc = store_delivery_unclaim(q->store, d.id, d.attempts, clock_now_ms());
        store_delivery_release(&d);
        return rc;
    }
    if (rc) {
        o = (struct webhook_outcome){.transport_error = 1, .error = hark_strerror(rc)};
    }
    enum webhook_settled how;
    rc = webhook_queue_settle(q, &d, &o, clock_now_ms(), &how);
    char qe[ERROR_MAX + 16];
    if (rc)
        log_warn("webhook", "msg=\"cannot record attempt\" delivery=%" PRId64 " err=%s", d.id,
                 hark_strerror(rc));
    else if (how == WEBHOOK_SETTLED_DEAD)
        log_warn("webhook", "msg=\"dead-lettered\" delivery=%" PRId64 " event=%s user=%" PRId64
                 " attempt=%d status=%ld err=%s", d.id, d.event_id, d.user_id, d.attempts,
                 o.http_status, log_quote(qe, sizeof qe, o.error ? o.error : ""));
    else
        log_info("webhook", "msg=\"attempt\" result=%s delivery=%" PRId64 " event=%s user=%"
                 PRId64 " attempt=%d status=%ld err=%s", settled_name(how), d.id, d.event_id,
                 d.user_id, d.attempts, o.http_status,
                 log_quote(qe, sizeof qe, o.error ? o.error : ""));
    store_delivery_release(&d);
    return 0;
}

/* Sleeps up to poll_ms, less when a publish or stop comes. */
static void wait_poll(struct webhook_queue *q)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += q->cfg.poll_ms / 1000;
    until.tv_nsec += (long)(q->cfg.poll_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    while (!q->kicked && !atomic_load(&q->stopping))
        if (pthread_cond_timedwait(&q->cv, &q->mu, &until) == ETIMEDOUT)
            break;
    q->kicked = 0;
    pthread_mutex_unlock(&q->mu);
}

static void *deliver_loop(void *arg)
{
    struct webhook_queue *q = arg;
    while (!atomic_load(&q->stopping)) {
        int rc = deliver_one(q);
        if (!rc)
            continue;
        if (rc != HARK_ENOENT)
            log_warn("webhook", "msg=\"delivery queue error\" err=%s", hark_strerror(rc));
        wait_poll(q);
    }
    return NULL;
}
