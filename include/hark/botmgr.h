/* botmgr.h — the bot manager of `hark serve`: starts a bot per meeting,
 * talks to it over its link, and keeps the meeting's status true to what
 * the bot does.
 *
 * Life of a bot (platforms file and rtmp):
 *  1. POST /bots created the meeting ("requested"); botmgr_launch() spawns
 *     `hark bot` through the bot driver (bot.h) with a one-time link token
 *     in its environment.
 *  2. The bot connects back over its link (GET /bots/internal/link, a
 *     WebSocket; docs/bots.md) and reports "joining", "awaiting_admission",
 *     "active"; each report moves the meeting (notify_status(), source
 *     "bot_callback"). Audio it sends goes into the meeting's pipeline
 *     (pipeline.h) and is acknowledged once durable.
 *  3. The source ends → the bot reports the end; the pipeline finishes and
 *     the meeting completes ("stopped", reason_detail "source_ended").
 *     A user's DELETE /bots → botmgr_stop(): the bot is told to stop, ends
 *     the same way (reason_detail "stopped_by_user") and is killed if it
 *     has not within stop_grace_ms.
 *  4. A link that drops without an end (the bot crashed or was killed):
 *     what the log holds is transcribed, then the meeting fails with
 *     failure_stage = its stage and reason_detail "bot_lost".
 *
 * Reconciliation: a thread looks at every bot each reconcile_ms. A bot
 * process that is gone while its meeting is unfinished and has no link
 * fails the meeting ("bot_lost"); a bot that never connects within
 * connect_timeout_ms is killed ("bot_no_link"); a bot whose meeting is
 * finished is killed. On start, meetings left unfinished by an earlier
 * process (a crash: its bots died with it) have their logged audio
 * transcribed and then fail ("bot_lost"), or complete when the user had
 * asked them to stop.
 *
 * Thread safety: every call may come from any thread, except
 * botmgr_free(). A link is used by one thread (its connection's). */
#ifndef HARK_BOTMGR_H
#define HARK_BOTMGR_H
#include <stddef.h>
#include <stdint.h>
#include "hark/bot.h"
#include "hark/error.h"
#include "hark/notify.h"

struct pipeline;

struct botmgr_config {
    const char *hark_path;      /* the program bots run (`hark`); borrowed */
    const char *link_host;      /* where bots reach the API; "127.0.0.1" */
    const char *rtmp_host;      /* address rtmp bots listen on; "127.0.0.1" */
    int rtmp_port_first;        /* rtmp ingest ports: first, count; 19350, 100 */
    int rtmp_port_count;
    int reconcile_ms;           /* 1000 */
    int stop_grace_ms;          /* a told bot must be gone within; 2000 */
    int connect_timeout_ms;     /* spawn to link; 30000 */
    struct bot_limits limits;   /* per bot; 0 = unlimited */
    struct metrics *metrics;    /* borrowed; NULL: none. hark_bots_running,
                                   hark_bots_started_total,
                                   hark_bots_failed_total{reason} */
};
struct botmgr_config botmgr_config_default(void);

struct botmgr;

/* driver, pipeline and n are borrowed and must outlive the manager
 * (pipeline may be NULL: bots then fail at once, "no_model"). c is copied
 * with its strings. HARK_ENOMEM, HARK_EINVAL. */
HARK_MUST_CHECK int botmgr_new(const struct botmgr_config *c, struct bot_driver *driver,
                               struct pipeline *pipeline, const struct notify *n,
                               struct botmgr **out);
/* The port the API listens on, for links; before botmgr_start(). */
void botmgr_set_link_port(struct botmgr *m, int port);
/* Settles what an earlier process left (transcribes, then fails or
 * completes those meetings; this can take a while, so it runs on the
 * reconciliation thread it starts). HARK_ENOMEM. */
HARK_MUST_CHECK int botmgr_start(struct botmgr *m);
/* Stops reconciling, marks the meetings of bots still running failed
 * ("server_shutdown") once their links close, and ends every bot (the
 * driver's shutdown). Links still open must be closed by the HTTP server
 * before botmgr_free(). NULL is fine. */
void botmgr_shutdown(struct botmgr *m);
void botmgr_free(struct botmgr *m);

/* A free rtmp ingest port, reserved until the meeting's bot is gone or
 * botmgr_release_port(). HARK_EBUSY when all are taken. */
HARK_MUST_CHECK int botmgr_reserve_port(struct botmgr *m, int *port);
void botmgr_release_port(struct botmgr *m, int port);

/* Spawns the bot of meeting mt (borrowed; status "requested", platform
 * file or rtmp, data holding source_url/realtime or rtmp_key/rtmp_port).
 * On failure the meeting fails (stage "requested", reason_detail
 * "bot_spawn_failed") and the error is returned. */
HARK_MUST_CHECK int botmgr_launch(struct botmgr *m, const struct store_meeting *mt);

/* The user asked meeting_id's bot to stop (its meeting is "stopping", or
 * finished when it never started): tells it over its link, kills it after
 * stop_grace_ms. 0 also when no bot runs for it. */
int botmgr_stop(struct botmgr *m, int64_t meeting_id);

/* --- links: what GET /bots/internal/link drives -------------------------- */
struct botmgr_link;

/* How the manager asks a linked bot to stop: called from any thread, must
 * not block long (ws_conn sends are fine). */
typedef void botmgr_stop_fn(void *arg);

/* Opens the link of the bot presenting token (borrowed), "<meeting>.<hex>".
 * HARK_EPERM for an unknown or used token; HARK_ECLOSED when the meeting
 * is already finished; pipeline errors (HARK_EBUSY: no stream free). */
HARK_MUST_CHECK int botmgr_link_open(struct botmgr *m, const char *token, botmgr_stop_fn *stop,
                                     void *stop_arg, struct botmgr_link **out);
/* The meeting of the link. */
int64_t botmgr_link_meeting(const struct botmgr_link *l);
/* A status report: "joining", "awaiting_admission" or "active". HARK_EINVAL
 * for another name; HARK_EPERM when the meeting may not move there (it is
 * stopping: the bot should stop). */
HARK_MUST_CHECK int botmgr_link_status(struct botmgr_link *l, const char *status);
/* Audio (16 kHz mono, borrowed). *durable_ms gets how much of the
 * meeting's audio is durable: what the bot may consider delivered. */
HARK_MUST_CHECK int botmgr_link_audio(struct botmgr_link *l, const float *pcm, size_t n,
                                      int64_t *durable_ms);
/* The bot says its source ended (reason "source_ended") or it stopped as
 * told ("stopped"): transcription finishes and the meeting completes. */
HARK_MUST_CHECK int botmgr_link_end(struct botmgr_link *l, const char *reason);
/* The bot failed: detail ([a-z0-9_]{1,64}) goes to data.reason_detail and
 * message (borrowed, may be NULL) is logged. */
HARK_MUST_CHECK int botmgr_link_fail(struct botmgr_link *l, const char *detail,
                                     const char *message);
/* The connection ended. A link that neither ended nor failed is a lost
 * bot (see above). Frees l; NULL is fine. */
void botmgr_link_close(struct botmgr_link *l);

#endif
