/* Meeting webhooks (meeting_events.h). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hark/buf.h"
#include "hark/json.h"
#include "hark/mem.h"
#include "hark/meeting_events.h"
#include "hark/store.h"
#include "hark/webhook_queue.h"

int meeting_event_id(int64_t meeting_id, const char *status, const char *event_type,
                     char out[WEBHOOK_EVENT_ID_SIZE])
{
    if (meeting_id < 1 || !status || !*status || !event_type || !*event_type)
        return HARK_EINVAL;
    if (sodium_init() < 0)
        return HARK_ECRYPTO;
    char key[256];
    int n = snprintf(key, sizeof key, "meeting:%" PRId64 ":%s:%s", meeting_id, status, event_type);
    if (n < 0 || (size_t)n >= sizeof key)
        return HARK_EINVAL;
    unsigned char h[16];
    if (crypto_generichash(h, sizeof h, (const unsigned char *)key, (unsigned long long)n, NULL,
                           0))
        return HARK_ECRYPTO;
    memcpy(out, "evt_", 4);
    sodium_bin2hex(out + 4, WEBHOOK_EVENT_ID_SIZE - 4, h, sizeof h);
    return 0;
}

static int add_time(struct json_object *o, const char *key, int64_t ms)
{
    char ts[40];
    return json_add_str(o, key, ms > 0 ? json_time_iso(ms, ts, sizeof ts) : NULL);
}

struct json_object *meeting_data_json_new(const struct store_meeting *m)
{
    struct json_object *d = json_tokener_parse(m->data_json ? m->data_json : "{}");
    if (d && !json_object_is_type(d, json_type_object)) {
        json_object_put(d);
        d = NULL;
    }
    return d ? d : json_object_new_object();
}

struct json_object *meeting_json_new(const struct store_meeting *m)
{
    struct json_object *o = json_object_new_object();
    struct json_object *d = meeting_data_json_new(m);
    if (!o || !d) {
        json_object_put(o);
        json_object_put(d);
        return NULL;
    }
    const char *native = m->native_meeting_id && *m->native_meeting_id ? m->native_meeting_id
                                                                       : NULL;
    if (json_add(o, "data", d) || json_add_int(o, "id", m->id) ||
        json_add_int(o, "user_id", m->user_id) || json_add_str(o, "platform", m->platform) ||
        json_add_str(o, "native_meeting_id", native) ||
        json_add_str(o, "constructed_meeting_url", m->constructed_meeting_url) ||
        json_add_str(o, "status", m->status) ||
        json_add_str(o, "bot_container_id", m->bot_container_id) ||
        add_time(o, "start_time", m->start_time_ms) || add_time(o, "end_time", m->end_time_ms) ||
        json_add_str(o, "completion_reason", m->completion_reason) ||
        json_add_str(o, "failure_stage", m->failure_stage) ||
        add_time(o, "created_at", m->created_at_ms) ||
        add_time(o, "updated_at", m->updated_at_ms)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static struct json_object *change_object(const struct store_meeting *m,
                                         const struct meeting_transition *t)
{
    struct json_object *o = json_object_new_object();
    if (!o || json_add_str(o, "from", t->from) || json_add_str(o, "to", m->status) ||
        json_add_str(o, "reason", t->reason ? t->reason : m->completion_reason) ||
        add_time(o, "timestamp", m->updated_at_ms) ||
        json_add_str(o, "transition_source", t->source)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int meeting_event_data(const struct store_meeting *m, const struct meeting_transition *t,
                       struct json_object **out)
{
    *out = NULL;
    if (!t->from || !*t->from || !m->status || !*m->status)
        return HARK_EINVAL;
    struct json_object *o = json_object_new_object();
    struct json_object *meeting = meeting_json_new(m);
    struct json_object *change = change_object(m, t);
    if (!o || !meeting || !change) {
        json_object_put(o);
        json_object_put(meeting);
        json_object_put(change);
        return HARK_ENOMEM;
    }
    /* json_add() owns its value even when it fails. */
    int bad = json_add(o, "meeting", meeting);
    if (bad)
        json_object_put(change);
    else
        bad = json_add(o, "status_change", change);
    if (bad) {
        json_object_put(o);
        return HARK_ENOMEM;
    }
    *out = o;
    return 0;
}

static int publish_one(struct webhook_queue *q, const struct store_meeting *m, const char *type,
                       const char *data, size_t *n_queued)
{
    char id[WEBHOOK_EVENT_ID_SIZE];
    size_t n = 0;
    int rc = meeting_event_id(m->id, m->status, type, id);
    if (!rc)
        rc = webhook_queue_publish(q, m->user_id, type, data, id, &n);
    *n_queued += n;
    return rc;
}

int meeting_events_publish(struct webhook_queue *q, const struct store_meeting *m,
                           const struct meeting_transition *t, size_t *n_queued)
{
    size_t n = 0;
    if (n_queued)
        *n_queued = 0;
    if (!q)
        return 0;
    struct json_object *data;
    int rc = meeting_event_data(m, t, &data);
    if (rc)
        return rc;
    struct hbuf b;
    hbuf_init(&b, 0);
    rc = json_append(&b, data);
    json_object_put(data);
    char *text = rc ? NULL : hbuf_take(&b);
    hbuf_release(&b);
    if (!rc && !text)
        rc = HARK_ENOMEM;
    if (!rc)
        rc = publish_one(q, m, MEETING_EVENT_STATUS_CHANGE, text, &n);
    if (!rc && !strcmp(m->status, "completed"))
        rc = publish_one(q, m, MEETING_EVENT_COMPLETED, text, &n);
    hark_free(text);
    if (n_queued)
        *n_queued = n;
    return rc;
}
