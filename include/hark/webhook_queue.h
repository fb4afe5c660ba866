/* webhook_queue.h — durable webhook delivery: events go into the store's
 * delivery queue, a delivery thread sends them (libcurl) and retries on the
 * schedule until they are delivered or dead-lettered.
 *
 * publish() builds the envelope once (webhook.h), with a stable event_id,
 * and queues one delivery per webhook of the user that wants the event; the
 * queue lives in the store, so retries survive a restart, and any process
 * on the same store may publish (`hark webhook test` does) while the
 * server's thread delivers. Each attempt is claimed with a lease
 * (store_delivery_claim()), so two threads or processes never send the same
 * attempt at once, and a sender that dies mid-attempt leaves the delivery
 * due again when the lease runs out. Delivery is at least once: receivers
 * dedupe on event_id.
 *
 * Each attempt re-checks the stored URL (webhook_url_check()) and every
 * address libcurl is about to connect to (webhook_addr_allowed()), never
 * follows redirects, ignores proxy environment variables and reads at most
 * WEBHOOK_QUEUE_RESPONSE_MAX bytes of the answer. A refused target or a
 * webhook that was removed is dead-lettered at once.
 *
 * Which events a webhook gets: its events_json is Vexa's webhook_events map
 * ({"meeting.completed": true, ...}) or a JSON array of event names; when
 * it names none, only "meeting.completed" (Vexa's default). The test event
 * "webhook.test" goes to every webhook of the user.
 *
 * Thread safety: publish() may be called from any thread; new/start/free
 * from one thread. */
#ifndef HARK_WEBHOOK_QUEUE_H
#define HARK_WEBHOOK_QUEUE_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"
#include "hark/webhook.h"

struct store;
struct store_delivery;
struct webhook_queue; /* opaque */

/* Hark's own event, not Vexa's: sent by `hark webhook test`. */
#define WEBHOOK_EVENT_TEST "webhook.test"
/* Response bytes read per attempt; a longer answer is cut off there. */
#define WEBHOOK_QUEUE_RESPONSE_MAX (64 * 1024)
/* Longest webhook_retry_schedule text webhook_schedule_parse() takes. */
#define WEBHOOK_SCHEDULE_TEXT_MAX 512

struct webhook_queue_config {
    struct webhook_schedule schedule; /* webhook_schedule_default() */
    int allow_private;                /* 0: loopback and private targets refused */
    int timeout_ms;                   /* whole attempt, connect included; 10000 */
    int poll_ms;      /* how often the thread looks for due deliveries; 1000 */
    int lease_ms;     /* claim lease; 0 = timeout_ms + 10 s */
};
struct webhook_queue_config webhook_queue_config_default(void);

/* Parses a schedule written as seconds between attempts, comma-separated
 * ("60,300,1800,7200"; spaces allowed; "" = no retries) into out's delays,
 * keeping out's jitter. HARK_EINVAL for anything else, more than
 * WEBHOOK_RETRIES_MAX entries or a delay past WEBHOOK_DELAY_MAX_MS; out is
 * left as it was then. */
HARK_MUST_CHECK int webhook_schedule_parse(const char *text, struct webhook_schedule *out);

/* A queue on store s (borrowed; must outlive the queue). No thread runs
 * until webhook_queue_start(): a process that only publishes never starts
 * one. *out is freed with webhook_queue_free(). HARK_EINVAL for a bad
 * config, HARK_ENOMEM, HARK_EIO when libcurl cannot start. */
HARK_MUST_CHECK int webhook_queue_new(const struct webhook_queue_config *c, struct store *s,
                                      struct webhook_queue **out);
/* Starts the delivery thread. HARK_EINVAL if it already runs, HARK_ENOMEM. */
HARK_MUST_CHECK int webhook_queue_start(struct webhook_queue *q);
/* Stops and joins the thread: an attempt in flight is cut short and handed
 * back uncounted (store_delivery_unclaim()), due again at once on the next
 * start. NULL is fine. */
void webhook_queue_free(struct webhook_queue *q);

/* Queues event_type (see webhook_envelope() for the alphabet) with data_json
 * (a JSON object text, copied) for every webhook of user_id that wants it,
 * due now, and wakes the thread. event_id: NULL makes a new random one;
 * a caller that derives it from its own record (e.g. a meeting's status
 * change) passes it, and publishing the same event again then queues
 * nothing twice. *n_queued (may be NULL) gets how many deliveries are new.
 * HARK_EINVAL for bad arguments or data_json that is not an object,
 * HARK_ENOMEM, store errors (after which publishing the same event_id again
 * completes the fan-out without duplicates). A user without webhooks is not
 * an error: 0 queued. */
HARK_MUST_CHECK int webhook_queue_publish(struct webhook_queue *q, int64_t user_id,
                                          const char *event_type, const char *data_json,
                                          const char *event_id, size_t *n_queued);

/* What one attempt came to. */
struct webhook_outcome {
    long http_status;    /* 0 when no response came */
    int transport_error; /* nonzero: connect failure, reset, timeout, TLS */
    int final;           /* nonzero: retrying cannot help (target refused, hook gone) */
    const char *error;   /* borrowed, may be NULL: kept as last_error */
};

enum webhook_settled {
    WEBHOOK_SETTLED_DELIVERED,
    WEBHOOK_SETTLED_RETRY,
    WEBHOOK_SETTLED_DEAD,
};

/* Records the outcome of the attempt d (as claimed; borrowed) at now_ms:
 * delivered on 2xx; otherwise due again per the queue's schedule when the
 * failure is retryable (webhook_retryable()) and the schedule is not spent,
 * else dead-lettered. The delivery thread calls it after each attempt; a
 * test drives it with its own clock. *settled (may be NULL) says which.
 * HARK_ENOENT when the attempt no longer holds the row; store errors. */
HARK_MUST_CHECK int webhook_queue_settle(struct webhook_queue *q, const struct store_delivery *d,
                                         const struct webhook_outcome *o, int64_t now_ms,
                                         enum webhook_settled *settled);

#endif
