/* notify.h — telling everyone about a meeting: one call per status change,
 * segment or partial, fanned out to the store, the webhook queue and the
 * /ws hub.
 *
 * Who calls: the API (a user's stop), the bot manager (bot reports, lost
 * bots) and the pipeline (segments). Every status change of a meeting goes
 * through notify_status(), so webhooks and /ws subscribers see the same
 * transitions the store records.
 *
 * /ws messages follow Vexa's ws.v1 (vexa-contract/ws.v1) and add Hark's
 * "event" name: "meeting.status" (type meeting.status), "transcript.segment"
 * (type transcription_segment, one segment, `completed` false while words
 * may still join it, re-sent under the same segment_id as they do) and
 * "transcript.partial" (type transcript, the unconfirmed tail in
 * `pending`). Webhooks: meeting.status_change / meeting.completed
 * (meeting_events.h) and transcript.segment for each completed segment,
 * with a stable event id, to webhooks that ask for it. */
#ifndef HARK_NOTIFY_H
#define HARK_NOTIFY_H
#include <stdint.h>
#include "hark/error.h"
#include "hark/store.h"

struct webhook_queue;
struct live;

/* Where notices go; all borrowed. store is required; webhooks and live may
 * be NULL (nothing is sent there). */
struct notify {
    struct store *store;
    struct webhook_queue *webhooks;
    struct live *live;
};

#define NOTIFY_EVENT_SEGMENT "transcript.segment"

/* Moves meeting id as c says (store_meeting_set_status()) and, when it
 * moved, publishes the change as webhooks and as a /ws meeting.status.
 * source is the transition_source ("user", "bot_callback", "system").
 * Publishing failures are logged, never returned: the change stands.
 * *out (may be NULL) gets the row after the change; prev (may be NULL)
 * the status before. Errors of store_meeting_set_status(). */
HARK_MUST_CHECK int notify_status(const struct notify *n, int64_t id,
                                  const struct store_status_change *c, const char *source,
                                  struct store_meeting *out, char prev[STORE_STATUS_MAX]);

/* Publishes what the row m (borrowed) says after a change made elsewhere
 * (from: the status before). For callers that had to write the status
 * themselves. */
void notify_changed(const struct notify *n, const struct store_meeting *m, const char *from,
                    const char *source);

/* A segment of meeting m as stored (g borrowed): /ws transcript.segment,
 * and when g->completed the transcript.segment webhook. Failures logged. */
void notify_segment(const struct notify *n, const struct store_meeting *m,
                    const struct store_segment_in *g);

/* The unconfirmed tail of m's transcript (text borrowed, times from the
 * meeting's start): /ws transcript.partial. Failures logged. */
void notify_partial(const struct notify *n, const struct store_meeting *m, const char *speaker,
                    const char *text, int64_t start_ms, int64_t end_ms);

#endif
