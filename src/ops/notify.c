/* Meeting notices: store, webhooks, /ws (notify.h). */
#include <string.h>

#include "hark/clock.h"
#include "hark/json.h"
#include "hark/live.h"
#include "hark/log.h"
#include "hark/meeting_events.h"
#include "hark/mem.h"
#include "hark/notify.h"
#include "hark/webhook_queue.h"

static int64_t start_of(const struct store_meeting *m)
{
    return m->start_time_ms > 0 ? m->start_time_ms : m->created_at_ms;
}

/* {id, platform, native_id} as ws.v1 names a meeting. */
static struct json_object *meeting_ref_new(const struct store_meeting *m)
{
    struct json_object *o = json_object_new_object();
    if (o && !json_add_int(o, "id", m->id) && !json_add_str(o, "platform", m->platform) &&
        !json_add_str(o, "native_id", m->native_meeting_id))
        return o;
    json_object_put(o);
    return NULL;
}

/* A new /ws message {type, event, meeting, ts} to fill in. */
static struct json_object *message_new(const struct store_meeting *m, const char *type,
                                       const char *event)
{
    char ts[40];
    struct json_object *o = json_object_new_object();
    if (o && !json_add_str(o, "type", type) && !json_add_str(o, "event", event) &&
        !json_add(o, "meeting", meeting_ref_new(m)) &&
        !json_add_str(o, "ts", json_time_iso(clock_now_ms(), ts, sizeof ts)))
        return o;
    json_object_put(o);
    return NULL;
}

/* Sends o (released) to m's /ws subscribers. */
static void live_put(const struct notify *n, const struct store_meeting *m,
                     struct json_object *o, const char *what)
{
    int rc = o ? (n->live ? live_publish(n->live, m->id, o, NULL) : 0) : HARK_ENOMEM;
    if (rc)
        log_error("notify", "msg=\"cannot publish on /ws\" meeting=%lld what=%s err=%s",
                  (long long)m->id, what, hark_strerror(rc));
    json_object_put(o);
}

static void live_status(const struct notify *n, const struct store_meeting *m)
{
    struct json_object *o = message_new(m, "meeting.status", "meeting.status");
    struct json_object *p = json_object_new_object();
    if (!o || !p || json_add_str(p, "status", m->status) ||
        json_add(p, "data", meeting_data_json_new(m)) || json_add(o, "payload", p) ||
        json_add_int(o, "user_id", m->user_id)) {
        if (!o || !p)
            json_object_put(p);
        json_object_put(o);
        o = NULL;
    }
    live_put(n, m, o, "meeting.status");
}

void notify_changed(const struct notify *n, const struct store_meeting *m, const char *from,
                    const char *source)
{
    struct meeting_transition t = {.from = from, .source = source};
    size_t queued = 0;
    int rc = meeting_events_publish(n->webhooks, m, &t, &queued);
    if (rc)
        log_error("notify", "msg=\"cannot queue meeting webhooks\" meeting=%lld status=%s err=%s",
                  (long long)m->id, m->status, hark_strerror(rc));
    else if (queued)
        log_info("notify", "msg=\"meeting webhooks queued\" meeting=%lld status=%s n=%zu",
                 (long long)m->id, m->status, queued);
    if (strcmp(from, m->status))
        live_status(n, m);
}

int notify_status(const struct notify *n, int64_t id, const struct store_status_change *c,
                  const char *source, struct store_meeting *out, char prev[STORE_STATUS_MAX])
{
    struct store_meeting m;
    char before[STORE_STATUS_MAX];
    int rc = store_meeting_set_status(n->store, id, c, &m, before);
    if (rc)
        return rc;
    log_info("notify", "msg=\"meeting status\" meeting=%lld from=%s to=%s source=%s",
             (long long)id, before, m.status, source);
    notify_changed(n, &m, before, source);
    if (prev)
        memcpy(prev, before, STORE_STATUS_MAX);
    if (out)
        *out = m;
    else
        store_meeting_release(&m);
    return 0;
}

/* The segment's fields as ws.v1 and GET /transcripts name them. */
static int segment_fields(struct json_object *o, const struct store_meeting *m,
                          const struct store_segment_in *g)
{
    char a[40], b[40];
    int64_t base = start_of(m);
    return json_add_str(o, "segment_id", g->id) || json_add_str(o, "text", g->text) ||
           json_add_str(o, "speaker", g->speaker && *g->speaker ? g->speaker : NULL) ||
           json_add(o, "start_time", json_new_seconds(g->start_ms)) ||
           json_add(o, "end_time", json_new_seconds(g->end_ms)) ||
           json_add_str(o, "absolute_start_time", json_time_iso(base + g->start_ms, a, sizeof a)) ||
           json_add_str(o, "absolute_end_time", json_time_iso(base + g->end_ms, b, sizeof b)) ||
           json_add_str(o, "language", g->language && *g->language ? g->language : NULL) ||
           json_add_bool(o, "completed", g->completed);
}

static void webhook_segment(const struct notify *n, const struct store_meeting *m,
                            const struct store_segment_in *g)
{
    char id[WEBHOOK_EVENT_ID_SIZE];
    struct json_object *d = json_object_new_object(), *seg = json_object_new_object();
    struct hbuf b;
    hbuf_init(&b, 0);
    int rc = !d || !seg ? HARK_ENOMEM : 0;
    if (!rc && (segment_fields(seg, m, g) || json_add(d, "segment", json_object_get(seg)) ||
                json_add(d, "meeting", meeting_json_new(m))))
        rc = HARK_ENOMEM;
    if (!rc)
        rc = json_append(&b, d);
    if (!rc && !b.data)
        rc = HARK_ENOMEM;
    if (!rc)
        rc = meeting_event_id(m->id, g->id, NOTIFY_EVENT_SEGMENT, id);
    if (!rc)
        rc = webhook_queue_publish(n->webhooks, m->user_id, NOTIFY_EVENT_SEGMENT, b.data, id,
                                   NULL);
    if (rc)
        log_error("notify", "msg=\"cannot queue segment webhook\" meeting=%lld err=%s",
                  (long long)m->id, hark_strerror(rc));
    hbuf_release(&b);
    json_object_put(seg);
    json_object_put(d);
}

void notify_segment(const struct notify *n, const struct store_meeting *m,
                    const struct store_segment_in *g)
{
    struct json_object *o = message_new(m, "transcription_segment", NOTIFY_EVENT_SEGMENT);
    if (o && segment_fields(o, m, g)) {
        json_object_put(o);
        o = NULL;
    }
    live_put(n, m, o, NOTIFY_EVENT_SEGMENT);
    if (g->completed && n->webhooks)
        webhook_segment(n, m, g);
}

void notify_partial(const struct notify *n, const struct store_meeting *m, const char *speaker,
                    const char *text, int64_t start_ms, int64_t end_ms)
{
    if (!n->live)
        return;
    struct json_object *o = message_new(m, "transcript", "transcript.partial");
    struct json_object *pending = json_object_new_array(), *seg = json_object_new_object();
    struct store_segment_in g = {.id = NULL, .speaker = speaker, .start_ms = start_ms,
                                 .end_ms = end_ms, .text = text};
    int bad = !o || !pending || !seg || segment_fields(seg, m, &g) ||
              json_object_array_add(pending, json_object_get(seg)) ||
              json_add_str(o, "speaker", speaker && *speaker ? speaker : NULL) ||
              json_add(o, "confirmed", json_object_new_array()) ||
              json_add(o, "pending", json_object_get(pending));
    json_object_put(seg);
    json_object_put(pending);
    if (bad) {
        json_object_put(o);
        o = NULL;
    }
    live_put(n, m, o, "transcript.partial");
}
