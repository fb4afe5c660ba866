/* live.h — the live event hub behind /ws: per-meeting fan-out with replay.
 *
 * Publishers (the meeting pipeline) hand in JSON objects; the hub stamps each
 * with an "event_id", serialises it once, keeps the newest `history` events
 * of every meeting for replay and queues the text to every subscriber of
 * that meeting. Subscribers (one per /ws connection) take messages one at a
 * time with live_sub_next(). A client that reconnects sends the last event
 * id it saw and gets every later event still in history, in order.
 *
 * Event ids are int64, strictly increasing within the process, and larger
 * than any id an earlier run handed out: the counter starts at the wall
 * clock in microseconds (and above every id an earlier hub of this process
 * handed out). That holds as long as the clock is not set back and the
 * average rate stays below a million events a second.
 *
 * Memory: each meeting keeps at most `history` events until live_forget();
 * each subscriber's backlog (bytes queued, not yet taken) is bounded by
 * queue_max_bytes. Publishing never waits for a subscriber: one whose
 * backlog would pass the bound loses its queue and is told to reconnect
 * (live_sub_next() returns HARK_ETOOBIG), so a slow client costs the
 * others nothing.
 *
 * Thread safety: every call may run on any thread, concurrently with any
 * other, except that one live_sub is used by one owner (add, remove, next,
 * free) plus anyone calling live_sub_close(). Locks: the hub's mutex, then a
 * subscriber's (never the reverse); live_sub_next() and live_sub_close()
 * take only the subscriber's. */
#ifndef HARK_LIVE_H
#define HARK_LIVE_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "hark/error.h"

struct live; /* opaque */

struct live_config {
    size_t history;         /* events kept per meeting for replay; 1000;
                               0 keeps none (a replay then reports a gap
                               whenever an event came after it) */
    size_t queue_max_bytes; /* per subscriber backlog; 8 MiB; must be > 0 */
};
struct live_config live_config_default(void);

/* c is copied. *out is freed with live_free(). HARK_ECONFIG for
 * queue_max_bytes 0; HARK_ENOMEM. */
HARK_MUST_CHECK int live_new(const struct live_config *c, struct live **out);
/* NULL is fine. Every live_sub of l must have been freed. */
void live_free(struct live *l);

/* Publishes msg (a JSON object, borrowed; not used by another thread during
 * the call, since json-c caches its text inside it) to meeting_id: the text
 * sent is msg with "event_id": <id> added as its last member. *event_id_out
 * (may be NULL) gets the id. HARK_EINVAL when msg is not an object, already
 * has an "event_id", or serialises to text that is not UTF-8; HARK_ENOMEM
 * (nothing published). A subscriber whose queue cannot take the event
 * (full, or out of memory) is marked overflowed; that is not an error of
 * the publish. */
HARK_MUST_CHECK int live_publish(struct live *l, int64_t meeting_id, struct json_object *msg,
                                 int64_t *event_id_out);

/* Drops a meeting's history (it was deleted or purged): a later replay for
 * it has nothing to send. Its subscribers stay subscribed. */
void live_forget(struct live *l, int64_t meeting_id);

/* ---- subscribers ---------------------------------------------------------- */

struct live_sub; /* one /ws connection: its subscriptions and bounded queue */

/* *out is freed with live_sub_free(), before live_free(l). HARK_ENOMEM. */
HARK_MUST_CHECK int live_sub_new(struct live *l, struct live_sub **out);

/* Subscribes s to meeting_id. With last_event_id > 0, first queues, in
 * order, every event of that meeting still in history whose id is larger,
 * atomically with joining: no event published meanwhile is lost or queued
 * twice. *replay_gap_out (may be NULL) is 1 when events after
 * last_event_id may be missing from the replay: some were evicted from
 * history or forgotten, or last_event_id predates this hub (an earlier run
 * keeps its events to itself); the client must then re-read the transcript.
 * Else 0.
 * Subscribing to a meeting s already has changes nothing (no replay, gap
 * 0). A replay larger than queue_max_bytes overflows s (see
 * live_sub_next()). HARK_EINVAL for a negative last_event_id; HARK_ENOMEM
 * (s is then not subscribed to meeting_id). */
HARK_MUST_CHECK int live_sub_add(struct live_sub *s, int64_t meeting_id, int64_t last_event_id,
                                 int *replay_gap_out);

/* Unsubscribes s from meeting_id (no-op when not subscribed) and drops that
 * meeting's events still queued for s. A message live_sub_next() already
 * returned is the caller's. */
void live_sub_remove(struct live_sub *s, int64_t meeting_id);

/* Takes the next message, waiting up to timeout_ms (0: do not wait; < 0: no
 * limit). Returns
 *  - 0: *text (NUL-terminated, *len bytes without the NUL) is the caller's,
 *    freed with hark_free();
 *  - HARK_ETIMEDOUT: nothing came in time;
 *  - HARK_ETOOBIG: the backlog passed queue_max_bytes (or an event could not
 *    be queued for lack of memory); what was queued is dropped and every
 *    later call returns this: the subscriber missed events and must start
 *    over (reconnect with its last event id);
 *  - HARK_ECLOSED: live_sub_close() was called; checked first;
 *  - HARK_ENOMEM: the copy for the caller failed; the message stays queued. */
HARK_MUST_CHECK int live_sub_next(struct live_sub *s, int timeout_ms, char **text, size_t *len);

/* Makes live_sub_next() return HARK_ECLOSED from now on, waking a waiting
 * call. Safe from any thread while the owner uses s. */
void live_sub_close(struct live_sub *s);

/* Unsubscribes from everything and frees s. NULL is fine. No call on s may
 * be running. */
void live_sub_free(struct live_sub *s);

#endif
