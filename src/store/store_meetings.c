/* store_meetings.c — the public meetings, bots and segments calls of
 * store.h: the lifecycle table, argument checks, zeroed outputs, then the
 * backend (store_ops). */
#include <string.h>

#include "hark/mem.h"
#include "hark/store.h"
#include "store_backend.h"

#define REASON_DETAIL_MAX 64
#define BOT_CONTAINER_ID_MAX 255

/* Vexa's lifecycle (v0.10 meeting-api, reference/vexa-api.md §2): for each
 * status, where it may go next. completed and failed go nowhere. */
static const struct {
    const char *from;
    const char *const to[7];
} transitions[] = {
    {"requested", {"joining", "failed", "completed", "stopping", NULL}},
    {"joining",
     {"awaiting_admission", "active", "needs_human_help", "failed", "completed", "stopping",
      NULL}},
    {"awaiting_admission",
     {"active", "needs_human_help", "failed", "completed", "stopping", NULL}},
    {"needs_human_help", {"active", "failed", "stopping", "completed", NULL}},
    {"active", {"stopping", "completed", "failed", NULL}},
    {"stopping", {"completed", "failed", NULL}},
    {"completed", {NULL}},
    {"failed", {NULL}},
};

static const char *const completion_reasons[] = {
    "stopped", "validation_error", "awaiting_admission_timeout", "awaiting_admission_rejected",
    "left_alone", "evicted", "max_bot_time_exceeded", "stopped_before_admission",
    "stopped_with_no_audio", "join_failure", "auth_session_missing", "startup_alone", NULL,
};

static const char *const failure_stages[] = {"requested", "joining", "awaiting_admission",
                                             "active", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int status_known(const char *s)
{
    for (size_t i = 0; s && i < sizeof transitions / sizeof *transitions; i++)
        if (strcmp(s, transitions[i].from) == 0)
            return 1;
    return 0;
}

int store_meeting_transition_ok(const char *from, const char *to)
{
    for (size_t i = 0; from && to && i < sizeof transitions / sizeof *transitions; i++)
        if (strcmp(from, transitions[i].from) == 0)
            return in_list(to, transitions[i].to);
    return 0;
}

int store_meeting_status_final(const char *status)
{
    return status && (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0);
}

int store_completion_reason_ok(const char *s) { return in_list(s, completion_reasons); }

static int nonempty(const char *s) { return s && s[0]; }

/* [a-z0-9_]{1,64}: a reason is a code for machines, never free text. */
static int reason_detail_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
            return 0;
    return n >= 1 && n <= REASON_DETAIL_MAX;
}

void store_meeting_release(struct store_meeting *m)
{
    if (!m)
        return;
    hark_free(m->platform);
    hark_free(m->native_meeting_id);
    hark_free(m->constructed_meeting_url);
    hark_free(m->status);
    hark_free(m->bot_container_id);
    hark_free(m->completion_reason);
    hark_free(m->failure_stage);
    hark_free(m->data_json);
    memset(m, 0, sizeof *m);
}

void store_meeting_list_free(struct store_meeting *m, size_t n)
{
    if (!m)
        return;
    for (size_t i = 0; i < n; i++)
        store_meeting_release(&m[i]);
    hark_free(m);
}

void store_segment_list_free(struct store_segment *segs, size_t n)
{
    if (!segs)
        return;
    for (size_t i = 0; i < n; i++) {
        hark_free(segs[i].id);
        hark_free(segs[i].speaker);
        hark_free(segs[i].text);
        hark_free(segs[i].language);
        hark_free(segs[i].words_json);
    }
    hark_free(segs);
}

int store_meeting_create(struct store *s, int64_t user_id, const struct store_meeting_new *m,
                         struct store_meeting *out, int *limit_out)
{
    int ignored;
    if (!limit_out)
        limit_out = &ignored;
    *limit_out = 0;
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !m || !nonempty(m->platform) || !nonempty(m->native_meeting_id) ||
        !nonempty(m->bot_driver))
        return HARK_EINVAL;
    struct store_meeting_new copy = *m;
    if (!copy.data_json)
        copy.data_json = "{}";
    /* The column's CHECK accepts any JSON; data must be an object. */
    if (copy.data_json[strspn(copy.data_json, " \t\r\n")] != '{')
        return HARK_EINVAL;
    return s->ops->meeting_create(s, user_id, &copy, out, limit_out);
}

int store_meeting_get(struct store *s, int64_t user_id, int64_t id, struct store_meeting *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s)
        return HARK_EINVAL;
    return s->ops->meeting_get(s, user_id, id, out);
}

int store_meeting_get_native(struct store *s, int64_t user_id, const char *platform,
                             const char *native_id, struct store_meeting *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !nonempty(platform) || !nonempty(native_id))
        return HARK_EINVAL;
    return s->ops->meeting_get_native(s, user_id, platform, native_id, out);
}

int store_meeting_active_count(struct store *s, int64_t user_id, int64_t *out)
{
    if (!out)
        return HARK_EINVAL;
    *out = 0;
    if (!s)
        return HARK_EINVAL;
    return s->ops->meeting_active_count(s, user_id, out);
}

int store_meeting_list(struct store *s, int64_t user_id, const struct store_meeting_filter *f,
                       struct store_meeting **out, size_t *n_out)
{
    if (!out || !n_out)
        return HARK_EINVAL;
    *out = NULL;
    *n_out = 0;
    if (!s || !f)
        return HARK_EINVAL;
    return s->ops->meeting_list(s, user_id, f, out, n_out);
}

static int change_ok(const struct store_status_change *c)
{
    if (!status_known(c->to) || (c->from && !status_known(c->from)))
        return 0;
    int final = store_meeting_status_final(c->to);
    if (c->completion_reason && (!final || !store_completion_reason_ok(c->completion_reason)))
        return 0;
    if (c->failure_stage &&
        (strcmp(c->to, "failed") != 0 || !in_list(c->failure_stage, failure_stages)))
        return 0;
    if (c->reason_detail && (!final || !reason_detail_ok(c->reason_detail)))
        return 0;
    if (c->bot_container_id && strlen(c->bot_container_id) > BOT_CONTAINER_ID_MAX)
        return 0;
    return 1;
}

int store_meeting_set_status(struct store *s, int64_t id, const struct store_status_change *c,
                             struct store_meeting *out, char prev[STORE_STATUS_MAX])
{
    struct store_meeting ignored;
    char prev_ignored[STORE_STATUS_MAX];
    if (!out)
        out = &ignored;
    if (!prev)
        prev = prev_ignored;
    memset(out, 0, sizeof *out);
    prev[0] = '\0';
    if (!s || !c || !change_ok(c))
        return HARK_EINVAL;
    int err = s->ops->meeting_set_status(s, id, c, out, prev);
    if (out == &ignored)
        store_meeting_release(out);
    return err;
}

int store_meeting_patch_data(struct store *s, int64_t user_id, int64_t id,
                             const char *patch_json, struct store_meeting *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !patch_json || patch_json[strspn(patch_json, " \t\r\n")] != '{')
        return HARK_EINVAL;
    return s->ops->meeting_patch_data(s, user_id, id, patch_json, out);
}

int store_meeting_purge(struct store *s, int64_t user_id, int64_t id, struct store_meeting *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s)
        return HARK_EINVAL;
    return s->ops->meeting_purge(s, user_id, id, out);
}

static int segment_ok(const struct store_segment_in *g)
{
    return nonempty(g->id) && g->text && g->start_ms >= 0 && g->end_ms >= g->start_ms;
}

int store_segments_upsert(struct store *s, int64_t meeting_id,
                          const struct store_segment_in *segs, size_t n)
{
    if (!s || (n && !segs))
        return HARK_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!segment_ok(&segs[i]))
            return HARK_EINVAL;
    if (n == 0)
        return 0;
    return s->ops->segments_upsert(s, meeting_id, segs, n);
}

int store_segments_delete_from(struct store *s, int64_t meeting_id, int64_t start_ms,
                               int64_t *n_deleted)
{
    int64_t n = 0;
    if (!s || start_ms < 0)
        return HARK_EINVAL;
    int rc = s->ops->segments_delete_from(s, meeting_id, start_ms, &n);
    if (n_deleted)
        *n_deleted = rc ? 0 : n;
    return rc;
}

int store_meeting_unfinished_all(struct store *s, struct store_meeting **out, size_t *n_out)
{
    if (!out || !n_out)
        return HARK_EINVAL;
    *out = NULL;
    *n_out = 0;
    return s ? s->ops->meeting_unfinished_all(s, out, n_out) : HARK_EINVAL;
}

int store_segments_list(struct store *s, int64_t meeting_id, int64_t since_ms,
                        struct store_segment **out, size_t *n_out)
{
    if (!out || !n_out)
        return HARK_EINVAL;
    *out = NULL;
    *n_out = 0;
    if (!s || since_ms < 0)
        return HARK_EINVAL;
    return s->ops->segments_list(s, meeting_id, since_ms, out, n_out);
}
