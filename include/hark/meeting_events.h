/* meeting_events.h — the webhooks a meeting's status change produces, in
 * Vexa's shape (../shared/reference/vexa-api.md §5), for whoever changed the
 * status: the API (a stop) today, the bot manager later. Call
 * meeting_events_publish() after each store_meeting_set_status() that
 * succeeded, with the row it returned.
 *
 * Events: "meeting.status_change" for every transition, and
 * "meeting.completed" as well when the new status is "completed". Each
 * event's id is derived from the meeting id, the new status and the event
 * type, so publishing the same transition twice (a retry, a crash between
 * the status write and the publish) queues nothing twice.
 *
 * data = {"meeting": MeetingResponse, "status_change": {from, to, reason,
 * timestamp, transition_source}}; timestamp is the row's updated_at, so the
 * payload of a republished event is the one first queued. */
#ifndef HARK_MEETING_EVENTS_H
#define HARK_MEETING_EVENTS_H
#include <stdint.h>
#include <json-c/json.h>
#include "hark/error.h"
#include "hark/webhook.h"

struct store_meeting;
struct webhook_queue;

#define MEETING_EVENT_STATUS_CHANGE "meeting.status_change"
#define MEETING_EVENT_COMPLETED "meeting.completed"

/* What the row does not say about a transition. Strings borrowed. */
struct meeting_transition {
    const char *from;    /* the status before; non-empty */
    const char *reason;  /* why (a completion reason); NULL gives the row's */
    const char *source;  /* transition_source: "user" for an API stop,
                          * "bot_callback" for a bot's report */
};

/* Vexa's MeetingResponse for m (borrowed), as GET /meetings shows it, and
 * its `data` object alone ({} when the stored text is unreadable). Caller
 * releases with json_object_put(); NULL on allocation failure. */
struct json_object *meeting_json_new(const struct store_meeting *m);
struct json_object *meeting_data_json_new(const struct store_meeting *m);

/* "evt_" + 32 lowercase hex chars: the first 16 bytes of a BLAKE2b hash of
 * "meeting:<meeting_id>:<status>:<event_type>". HARK_EINVAL for a
 * meeting_id < 1 or an empty status or type; HARK_ECRYPTO if libsodium
 * cannot start. */
HARK_MUST_CHECK int meeting_event_id(int64_t meeting_id, const char *status,
                                     const char *event_type,
                                     char out[WEBHOOK_EVENT_ID_SIZE]);

/* The data object of an event about m (the row after the change; borrowed)
 * and t. *out: caller releases with json_object_put(). HARK_EINVAL when
 * t->from or m->status is missing; HARK_ENOMEM. */
HARK_MUST_CHECK int meeting_event_data(const struct store_meeting *m,
                                       const struct meeting_transition *t,
                                       struct json_object **out);

/* Queues the events of m's transition t for m's owner on q (both borrowed;
 * q NULL publishes nothing). *n_queued (may be NULL) gets the deliveries
 * newly queued. Errors of meeting_event_data() and webhook_queue_publish();
 * the status change stands either way, so callers log and go on. */
HARK_MUST_CHECK int meeting_events_publish(struct webhook_queue *q, const struct store_meeting *m,
                                           const struct meeting_transition *t,
                                           size_t *n_queued);

#endif
