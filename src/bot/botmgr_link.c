/* The link of a running bot: its reports and audio (botmgr.h). */
#include <stdlib.h>
#include <string.h>

#include "botmgr_private.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/pipeline.h"

/* The entry whose token this is, marked linked; under m->lock. */
static struct bot_entry *claim(struct botmgr *m, const char *token)
{
    char *end = NULL;
    long long id = strtoll(token, &end, 10);
    if (end == token || *end != '.' || id < 1)
        return NULL;
    struct bot_entry *e = botmgr_entry_find(m, id);
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    if (!e || e->linked || m->stopping || sodium_memcmp(h, e->token_hash, sizeof h))
        return NULL;
    e->linked = 1;
    return e;
}

static int open_run(struct botmgr_link *l)
{
    struct store_meeting mt;
    int rc = store_meeting_get(l->m->notify.store, l->user_id, l->meeting_id, &mt);
    if (!rc && store_meeting_status_final(mt.status))
        rc = HARK_ECLOSED;
    if (!rc)
        rc = pipeline_run_open(l->m->pipeline, &mt, NULL, NULL, NULL, &l->run);
    store_meeting_release(&mt);
    return rc;
}

int botmgr_link_open(struct botmgr *m, const char *token, botmgr_stop_fn *stop, void *stop_arg,
                     struct botmgr_link **out)
{
    *out = NULL;
    struct botmgr_link *l = hark_calloc(1, sizeof *l);
    if (!l)
        return HARK_ENOMEM;
    pthread_mutex_lock(&m->lock);
    struct bot_entry *e = claim(m, token);
    if (e) {
        l->meeting_id = e->meeting_id;
        l->user_id = e->user_id;
    }
    pthread_mutex_unlock(&m->lock);
    if (!e) {
        hark_free(l);
        return HARK_EPERM;
    }
    l->m = m;
    int rc = m->pipeline ? open_run(l) : HARK_ECONFIG;
    if (rc) {
        log_warn("botmgr", "msg=\"link refused\" meeting=%lld err=%s", (long long)l->meeting_id,
                 hark_strerror(rc));
        if (rc != HARK_ECLOSED)
            botmgr_settle(m, l->meeting_id, l->user_id, NULL,
                          rc == HARK_EBUSY ? "no_stream_free" : "pipeline_failed");
        hark_free(l);
        return rc;
    }
    pthread_mutex_lock(&m->lock);
    l->stop = stop;
    l->stop_arg = stop_arg;
    e = botmgr_entry_find(m, l->meeting_id);
    if (e) {
        e->link = l;
        if (e->stop_requested && stop) /* stopped while it was connecting */
            stop(stop_arg);
    }
    pthread_mutex_unlock(&m->lock);
    log_info("botmgr", "msg=\"bot linked\" meeting=%lld", (long long)l->meeting_id);
    *out = l;
    return 0;
}

int64_t botmgr_link_meeting(const struct botmgr_link *l) { return l->meeting_id; }

int botmgr_link_status(struct botmgr_link *l, const char *status)
{
    if (strcmp(status, "joining") && strcmp(status, "awaiting_admission") &&
        strcmp(status, "active"))
        return HARK_EINVAL;
    char handle[BOT_HANDLE_MAX] = "";
    pthread_mutex_lock(&l->m->lock);
    struct bot_entry *e = botmgr_entry_find(l->m, l->meeting_id);
    if (e)
        memcpy(handle, e->handle, sizeof handle);
    pthread_mutex_unlock(&l->m->lock);
    /* The driver's handle is what Vexa calls the bot's container id. */
    struct store_status_change c = {.to = status, .bot_container_id = handle[0] ? handle : NULL};
    return notify_status(&l->m->notify, l->meeting_id, &c, "bot_callback", NULL, NULL);
}

int botmgr_link_audio(struct botmgr_link *l, const float *pcm, size_t n, int64_t *durable_ms)
{
    int rc = l->ended ? HARK_ECLOSED : pipeline_run_append(l->run, pcm, n);
    uint64_t durable = 0;
    pipeline_run_progress(l->run, NULL, &durable, NULL);
    *durable_ms = (int64_t)(durable * 1000 / ALOG_SAMPLE_RATE);
    return rc;
}

/* Finishes transcription and moves the meeting to its end. */
static int end_meeting(struct botmgr_link *l, const struct store_status_change *c)
{
    l->ended = 1;
    int rc = pipeline_run_finish(l->run);
    if (rc) {
        log_error("botmgr", "msg=\"transcription failed\" meeting=%lld err=%s",
                  (long long)l->meeting_id, hark_strerror(rc));
        botmgr_settle(l->m, l->meeting_id, l->user_id, NULL, "transcription_failed");
        return rc;
    }
    rc = notify_status(&l->m->notify, l->meeting_id, c, "bot_callback", NULL, NULL);
    if (rc == HARK_EPERM) /* finished meanwhile (a user's stop of a requested bot) */
        rc = 0;
    return rc;
}

int botmgr_link_end(struct botmgr_link *l, const char *reason)
{
    int stopped = !strcmp(reason, "stopped");
    if (!stopped && strcmp(reason, "source_ended"))
        return HARK_EINVAL;
    struct store_status_change c = {.to = "completed", .completion_reason = "stopped",
                                    .reason_detail = stopped ? "stopped_by_user"
                                                             : "source_ended"};
    return end_meeting(l, &c);
}

int botmgr_link_fail(struct botmgr_link *l, const char *detail, const char *message)
{
    char q[300];
    log_warn("botmgr", "msg=\"bot failed\" meeting=%lld detail=%s message=%s",
             (long long)l->meeting_id, detail, log_quote(q, sizeof q, message ? message : ""));
    l->ended = 1;
    botmgr_settle(l->m, l->meeting_id, l->user_id, l->run, detail);
    return 0;
}

void botmgr_link_close(struct botmgr_link *l)
{
    if (!l)
        return;
    struct botmgr *m = l->m;
    if (!l->ended) {
        pthread_mutex_lock(&m->lock);
        const char *detail = m->stopping ? "server_shutdown" : "bot_lost";
        pthread_mutex_unlock(&m->lock);
        log_warn("botmgr", "msg=\"bot link lost\" meeting=%lld", (long long)l->meeting_id);
        botmgr_settle(m, l->meeting_id, l->user_id, l->run, detail);
    }
    pipeline_run_free(l->run);
    pthread_mutex_lock(&m->lock);
    struct bot_entry *e = botmgr_entry_find(m, l->meeting_id);
    if (e && e->link == l) {
        e->link = NULL;
        if (!e->handle[0])
            botmgr_entry_remove(m, e);
    }
    pthread_cond_broadcast(&m->wake); /* botmgr_shutdown() waits for links */
    pthread_mutex_unlock(&m->lock);
    hark_free(l);
}
