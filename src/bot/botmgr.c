/* The bot manager: spawning, stopping and reconciling bots (botmgr.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "botmgr_private.h"
#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/metrics.h"
#include "hark/pipeline.h"

#define TOKEN_BYTES 32
#define LINK_CLOSE_WAIT_S 120 /* transcribing the tails of every open meeting */

struct botmgr_config botmgr_config_default(void)
{
    struct botmgr_config c = {.hark_path = NULL, .link_host = "127.0.0.1",
                              .rtmp_host = "127.0.0.1", .rtmp_port_first = 19350,
                              .rtmp_port_count = 100, .reconcile_ms = 1000,
                              .stop_grace_ms = 2000, .connect_timeout_ms = 30000,
                              .limits = {0, 0, 0}};
    return c;
}

static int register_metrics(struct botmgr *m, struct metrics *reg)
{
    static const char *const reason[] = {"reason"};
    if (!reg)
        return 0;
    int rc = metrics_gauge(reg, "hark_bots_running", "Bot processes running now.", NULL, 0,
                           &m->m_running);
    if (!rc)
        rc = metrics_counter(reg, "hark_bots_started_total", "Bots spawned.", NULL, 0,
                             &m->m_started);
    if (!rc)
        rc = metrics_counter(reg, "hark_bots_failed_total",
                             "Meetings whose bot failed, by data.reason_detail.", reason, 1,
                             &m->m_failed);
    return rc;
}

int botmgr_new(const struct botmgr_config *c, struct bot_driver *driver,
               struct pipeline *pipeline, const struct notify *n, struct botmgr **out)
{
    *out = NULL;
    if (!c->hark_path || !driver || !n || !n->store || c->rtmp_port_count < 0 ||
        c->rtmp_port_first < 1 || c->rtmp_port_first + c->rtmp_port_count > 65536 ||
        c->reconcile_ms < 1 || c->stop_grace_ms < 0 || c->connect_timeout_ms < 1)
        return HARK_EINVAL;
    if (sodium_init() < 0)
        return HARK_ECRYPTO;
    struct botmgr *m = hark_calloc(1, sizeof *m);
    if (!m)
        return HARK_ENOMEM;
    m->cfg = *c;
    m->driver = driver;
    m->pipeline = pipeline;
    m->notify = *n;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    m->hark_path = hark_strdup(c->hark_path);
    m->link_host = hark_strdup(c->link_host ? c->link_host : "127.0.0.1");
    m->rtmp_host = hark_strdup(c->rtmp_host ? c->rtmp_host : "127.0.0.1");
    m->ports_used = hark_calloc((size_t)c->rtmp_port_count + 1, 1);
    int rc = !m->hark_path || !m->link_host || !m->rtmp_host || !m->ports_used
                 ? HARK_ENOMEM : register_metrics(m, c->metrics);
    if (rc) {
        botmgr_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void botmgr_set_link_port(struct botmgr *m, int port) { m->link_port = port; }

/* --- the table ------------------------------------------------------------------ */

struct bot_entry *botmgr_entry_find(struct botmgr *m, int64_t meeting_id)
{
    for (struct bot_entry *e = m->bots; e; e = e->next)
        if (e->meeting_id == meeting_id)
            return e;
    return NULL;
}

void botmgr_entry_remove(struct botmgr *m, struct bot_entry *e)
{
    for (struct bot_entry **pp = &m->bots; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    if (e->rtmp_port)
        m->ports_used[e->rtmp_port - m->cfg.rtmp_port_first] = 0;
    hark_free(e);
}

int botmgr_reserve_port(struct botmgr *m, int *port)
{
    pthread_mutex_lock(&m->lock);
    int rc = HARK_EBUSY;
    for (int i = 0; i < m->cfg.rtmp_port_count && rc; i++) {
        if (!m->ports_used[i]) {
            m->ports_used[i] = 1;
            *port = m->cfg.rtmp_port_first + i;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

void botmgr_release_port(struct botmgr *m, int port)
{
    int i = port - m->cfg.rtmp_port_first;
    pthread_mutex_lock(&m->lock);
    if (i >= 0 && i < m->cfg.rtmp_port_count)
        m->ports_used[i] = 0;
    pthread_mutex_unlock(&m->lock);
}

/* --- settling meetings whose bot is gone ------------------------------------------- */

const char *botmgr_stage_of(const char *status)
{
    static const char *const stages[] = {"requested", "joining", "awaiting_admission"};
    for (size_t i = 0; i < sizeof stages / sizeof *stages; i++)
        if (!strcmp(status, stages[i]))
            return stages[i];
    return "active";
}

void botmgr_settle(struct botmgr *m, int64_t id, int64_t user_id, struct pipeline_run *run,
                   const char *detail)
{
    struct store_meeting mt;
    int rc = store_meeting_get(m->notify.store, user_id, id, &mt);
    if (!rc && store_meeting_status_final(mt.status)) {
        store_meeting_release(&mt);
        return;
    }
    if (!rc && (run || (m->pipeline && strcmp(mt.status, "requested"))))
        rc = run ? pipeline_run_finish(run) : pipeline_drain(m->pipeline, &mt);
    if (rc)
        log_error("botmgr", "msg=\"cannot transcribe what the log holds\" meeting=%lld err=%s",
                  (long long)id, hark_strerror(rc));
    store_meeting_release(&mt);
    /* Read again: the user may have stopped it meanwhile. */
    if (store_meeting_get(m->notify.store, user_id, id, &mt))
        return;
    struct store_status_change c = {.from = mt.status, .to = "failed",
                                    .failure_stage = botmgr_stage_of(mt.status),
                                    .reason_detail = detail};
    if (!strcmp(mt.status, "stopping"))
        c = (struct store_status_change){.from = "stopping", .to = "completed",
                                         .completion_reason = "stopped",
                                         .reason_detail = "stopped_by_user"};
    if (!store_meeting_status_final(mt.status) &&
        (rc = notify_status(&m->notify, id, &c, "system", NULL, NULL)))
        log_error("botmgr", "msg=\"cannot end meeting\" meeting=%lld err=%s", (long long)id,
                  hark_strerror(rc));
    else if (!store_meeting_status_final(mt.status) && m->m_failed && !strcmp(c.to, "failed")) {
        const char *labels[] = {detail};
        (void)metric_add(m->m_failed, labels, 1);
    }
    store_meeting_release(&mt);
}

/* --- launching ---------------------------------------------------------------------- */

static const char *data_str(struct json_object *d, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(d, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : NULL;
}

/* The --source argument for the bot of mt. HARK_EINVAL when its data lacks it. */
static int source_of(struct botmgr *m, const struct store_meeting *mt, char *buf, size_t size,
                     int *realtime)
{
    struct json_object *d = json_tokener_parse(mt->data_json ? mt->data_json : "{}"), *v;
    int rc = HARK_EINVAL, n = -1;
    *realtime = !(json_object_object_get_ex(d, "realtime", &v) &&
                  json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v));
    const char *url = data_str(d, "source_url"), *key = data_str(d, "rtmp_key");
    int port = json_object_object_get_ex(d, "rtmp_port", &v) ? json_object_get_int(v) : 0;
    if (!strcmp(mt->platform, "file") && url)
        n = snprintf(buf, size, "%s%s", url[0] == '/' ? "file://" : "", url);
    else if (!strcmp(mt->platform, "rtmp") && key && port > 0)
        n = snprintf(buf, size, "rtmp://%s:%d/live/%s", m->rtmp_host, port, key);
    if (n > 0 && (size_t)n < size)
        rc = 0;
    json_object_put(d);
    return rc;
}

static int spawn(struct botmgr *m, struct bot_entry *e, const char *source, int realtime,
                 const char *token)
{
    char link[300], id[24], env_token[128];
    snprintf(link, sizeof link, "%s:%d", m->link_host, m->link_port);
    snprintf(id, sizeof id, "%lld", (long long)e->meeting_id);
    snprintf(env_token, sizeof env_token, "HARK_BOT_TOKEN=%s", token);
    const char *argv[] = {m->hark_path, "bot", "--link", link, "--meeting", id, "--source",
                          source, "--realtime", realtime ? "1" : "0", NULL};
    const char *env[] = {env_token, "PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    struct bot_spec spec = {.argv = argv, .env = env, .meeting_id = e->meeting_id,
                            .user_id = e->user_id, .limits = m->cfg.limits};
    char handle[BOT_HANDLE_MAX];
    int rc = bot_driver_spawn(m->driver, &spec, handle);
    if (!rc) {
        pthread_mutex_lock(&m->lock);
        memcpy(e->handle, handle, sizeof handle);
        pthread_mutex_unlock(&m->lock);
    }
    return rc;
}

/* A new entry for mt with a fresh token in token_out ("<id>.<hex>"). */
static struct bot_entry *entry_new(const struct store_meeting *mt, char *token_out, size_t size)
{
    struct bot_entry *e = hark_calloc(1, sizeof *e);
    if (!e)
        return NULL;
    unsigned char raw[TOKEN_BYTES];
    char hex[TOKEN_BYTES * 2 + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    snprintf(token_out, size, "%lld.%s", (long long)mt->id, hex);
    crypto_generichash(e->token_hash, sizeof e->token_hash, (const unsigned char *)token_out,
                       strlen(token_out), NULL, 0);
    e->meeting_id = mt->id;
    e->user_id = mt->user_id;
    e->spawned_ms = clock_mono_ms();
    return e;
}

static void fail_launch(struct botmgr *m, const struct store_meeting *mt, int rc)
{
    log_error("botmgr", "msg=\"cannot start bot\" meeting=%lld err=%s", (long long)mt->id,
              hark_strerror(rc));
    struct store_status_change c = {.from = "requested", .to = "failed",
                                    .failure_stage = "requested",
                                    .reason_detail = "bot_spawn_failed"};
    if (notify_status(&m->notify, mt->id, &c, "system", NULL, NULL))
        log_error("botmgr", "msg=\"cannot fail meeting\" meeting=%lld", (long long)mt->id);
}

int botmgr_launch(struct botmgr *m, const struct store_meeting *mt)
{
    char source[4200], token[128];
    int realtime = 1;
    int rc = source_of(m, mt, source, sizeof source, &realtime);
    struct bot_entry *e = rc ? NULL : entry_new(mt, token, sizeof token);
    if (!rc && !e)
        rc = HARK_ENOMEM;
    if (!rc && !m->pipeline)
        rc = HARK_ECONFIG; /* no model: nothing can transcribe */
    if (rc) {
        hark_free(e);
        fail_launch(m, mt, rc);
        return rc;
    }
    struct json_object *d = json_tokener_parse(mt->data_json ? mt->data_json : "{}"), *v;
    if (!strcmp(mt->platform, "rtmp") && json_object_object_get_ex(d, "rtmp_port", &v))
        e->rtmp_port = json_object_get_int(v);
    json_object_put(d);
    pthread_mutex_lock(&m->lock);
    e->next = m->bots; /* listed first, so its link can find it at once */
    m->bots = e;
    pthread_mutex_unlock(&m->lock);
    rc = spawn(m, e, source, realtime, token);
    sodium_memzero(token, sizeof token);
    if (rc) {
        pthread_mutex_lock(&m->lock);
        botmgr_entry_remove(m, e);
        pthread_mutex_unlock(&m->lock);
        fail_launch(m, mt, rc);
        return rc;
    }
    log_info("botmgr", "msg=\"bot started\" meeting=%lld platform=%s", (long long)mt->id,
             mt->platform);
    if (m->m_started)
        (void)metric_add(m->m_started, NULL, 1);
    return 0;
}

int botmgr_stop(struct botmgr *m, int64_t meeting_id)
{
    pthread_mutex_lock(&m->lock);
    struct bot_entry *e = botmgr_entry_find(m, meeting_id);
    if (e && !e->stop_requested) {
        e->stop_requested = 1;
        e->stop_ms = clock_mono_ms();
        /* Under the lock: the link cannot close meanwhile. The callback only
         * queues a small frame. */
        if (e->link && e->link->stop)
            e->link->stop(e->link->stop_arg);
    }
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* --- reconciliation ------------------------------------------------------------------ */

/* What the reconciler needs of an entry, copied out of the lock. */
struct bot_view {
    int64_t meeting_id, user_id;
    char handle[BOT_HANDLE_MAX];
    int linked, link_open, stop_requested;
    int64_t spawned_ms, stop_ms;
};

static int views_take(struct botmgr *m, struct bot_view **out, size_t *n)
{
    *n = 0;
    *out = NULL;
    for (struct bot_entry *e = m->bots; e; e = e->next)
        (*n)++;
    if (!*n)
        return 0;
    struct bot_view *v = hark_calloc(*n, sizeof *v);
    if (!v)
        return HARK_ENOMEM;
    size_t i = 0;
    for (struct bot_entry *e = m->bots; e; e = e->next, i++) {
        v[i] = (struct bot_view){.meeting_id = e->meeting_id, .user_id = e->user_id,
                                 .linked = e->linked, .link_open = e->link != NULL,
                                 .stop_requested = e->stop_requested,
                                 .spawned_ms = e->spawned_ms, .stop_ms = e->stop_ms};
        memcpy(v[i].handle, e->handle, sizeof e->handle);
    }
    *out = v;
    return 0;
}

/* Reaps the bot of v (ended, or killed now) and forgets its handle. */
static void reap(struct botmgr *m, const struct bot_view *v)
{
    struct bot_status st;
    int rc = bot_driver_stop(m->driver, v->handle, 0, &st);
    if (!rc)
        log_info("botmgr", "msg=\"bot ended\" meeting=%lld state=%s code=%d signal=%d",
                 (long long)v->meeting_id, bot_state_name(st.state), st.exit_code, st.signal);
    if (rc == HARK_ETIMEDOUT)
        return; /* still dying: next round */
    pthread_mutex_lock(&m->lock);
    struct bot_entry *e = botmgr_entry_find(m, v->meeting_id);
    if (e) {
        e->handle[0] = '\0';
        if (!e->link)
            botmgr_entry_remove(m, e);
    }
    pthread_mutex_unlock(&m->lock);
}

static int meeting_finished(struct botmgr *m, const struct bot_view *v)
{
    struct store_meeting mt;
    int fin = 0;
    if (!store_meeting_get(m->notify.store, v->user_id, v->meeting_id, &mt))
        fin = store_meeting_status_final(mt.status);
    store_meeting_release(&mt);
    return fin;
}

static void reconcile_one(struct botmgr *m, const struct bot_view *v, int64_t now)
{
    struct bot_status st;
    if (!v->handle[0])
        return;
    int rc = bot_driver_inspect(m->driver, v->handle, &st);
    if (rc || st.state != BOT_STATE_RUNNING) {
        reap(m, v);
        if (!v->link_open) /* a link that is open settles itself when it drops */
            botmgr_settle(m, v->meeting_id, v->user_id, NULL, "bot_lost");
        return;
    }
    const char *why = NULL;
    if (v->stop_requested && now - v->stop_ms > m->cfg.stop_grace_ms)
        why = "did not stop when told";
    else if (!v->linked && now - v->spawned_ms > m->cfg.connect_timeout_ms)
        why = "never connected";
    else if (!v->linked && meeting_finished(m, v))
        why = "meeting finished";
    if (!why)
        return;
    log_warn("botmgr", "msg=\"killing bot\" meeting=%lld why=\"%s\"", (long long)v->meeting_id,
             why);
    reap(m, v);
    if (!v->linked)
        botmgr_settle(m, v->meeting_id, v->user_id, NULL, "bot_no_link");
}

static void reconcile(struct botmgr *m)
{
    struct bot_view *v;
    size_t n;
    pthread_mutex_lock(&m->lock);
    int rc = views_take(m, &v, &n);
    pthread_mutex_unlock(&m->lock);
    if (rc)
        return;
    int64_t now = clock_mono_ms();
    size_t running = 0;
    for (size_t i = 0; i < n; i++) {
        reconcile_one(m, &v[i], now);
        running += v[i].handle[0] != '\0';
    }
    hark_free(v);
    if (m->m_running)
        (void)metric_set(m->m_running, NULL, (double)running);
}

/* Meetings an earlier process left unfinished: their bots died with it. A
 * stream meeting still "requested" is only waiting for its client. */
static void settle_leftovers(struct botmgr *m)
{
    struct store_meeting *list;
    size_t n;
    if (store_meeting_unfinished_all(m->notify.store, &list, &n)) {
        log_error("botmgr", "msg=\"cannot list unfinished meetings\"");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(list[i].platform, "stream") && !strcmp(list[i].status, "requested"))
            continue;
        log_warn("botmgr", "msg=\"meeting left by an earlier run\" meeting=%lld status=%s",
                 (long long)list[i].id, list[i].status);
        botmgr_settle(m, list[i].id, list[i].user_id, NULL, "bot_lost");
    }
    store_meeting_list_free(list, n);
}

static void *reconciler(void *arg)
{
    struct botmgr *m = arg;
    settle_leftovers(m);
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        int64_t ns = t.tv_nsec + (int64_t)m->cfg.reconcile_ms * 1000000;
        t.tv_sec += (time_t)(ns / 1000000000);
        t.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&m->wake, &m->lock, &t);
        if (m->stopping)
            break;
        pthread_mutex_unlock(&m->lock);
        reconcile(m);
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int botmgr_start(struct botmgr *m)
{
    if (pthread_create(&m->thread, NULL, reconciler, m))
        return HARK_ENOMEM;
    m->running = 1;
    return 0;
}

/* Links settle their meetings (transcribing what is logged) when their bot
 * goes; the pipeline must outlive that. */
static void wait_links_closed(struct botmgr *m)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += LINK_CLOSE_WAIT_S;
    pthread_mutex_lock(&m->lock);
    for (;;) {
        int open = 0;
        for (struct bot_entry *e = m->bots; e; e = e->next)
            open += e->link != NULL;
        if (!open)
            break;
        if (pthread_cond_timedwait(&m->wake, &m->lock, &deadline)) {
            log_error("botmgr", "msg=\"links still open at shutdown\" n=%d", open);
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

void botmgr_shutdown(struct botmgr *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = 1;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    if (m->running)
        pthread_join(m->thread, NULL);
    m->running = 0;
    struct bot_view *v;
    size_t n;
    pthread_mutex_lock(&m->lock);
    int rc = views_take(m, &v, &n);
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!v[i].handle[0])
            continue;
        struct bot_status st;
        (void)!bot_driver_stop(m->driver, v[i].handle, m->cfg.stop_grace_ms, &st);
        pthread_mutex_lock(&m->lock);
        struct bot_entry *e = botmgr_entry_find(m, v[i].meeting_id);
        if (e)
            e->handle[0] = '\0';
        pthread_mutex_unlock(&m->lock);
    }
    if (!rc)
        hark_free(v);
    wait_links_closed(m);
}

void botmgr_free(struct botmgr *m)
{
    if (!m)
        return;
    botmgr_shutdown(m);
    while (m->bots)
        botmgr_entry_remove(m, m->bots);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    hark_free(m->hark_path);
    hark_free(m->link_host);
    hark_free(m->rtmp_host);
    hark_free(m->ports_used);
    hark_free(m);
}
