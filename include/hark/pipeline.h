/* pipeline.h — a meeting's audio path inside one process: audio log →
 * live stream → collector → store, /ws and webhooks.
 *
 * A run is one meeting being transcribed. Its source (a bot over its link,
 * a /ws/audio client) appends audio; every sample goes to the meeting's
 * durable audio log (alog.h) before anything else, and from there to a
 * stream (stream.h) of the shared streamer. A collector thread per run takes
 * the stream's events: segments are upserted into the store under ids
 * "{meeting}:{speaker}:{start_ms}" (start from the meeting's first sample),
 * then published (notify.h); once a segment is final, the audio log is
 * committed up to its end.
 *
 * Scheduling: a run is placed on a worker with a free stream slot
 * (lease_place(); in `hark serve` the one local streamer) and holds its
 * meeting's lease (lease.h) for as long as it runs, renewed once a second
 * by its collector, which checks it before every segment write and every
 * commit: a run that lost its meeting writes nothing more and stops. So one
 * meeting is never transcribed by two runs at once.
 *
 * Restart: opening a run for a meeting whose log holds audio beyond its
 * commit point (the process died mid-meeting) deletes the segments that
 * start at or after that point and transcribes the audio from there again,
 * so the transcript covers every logged sample once: no gap, no duplicate.
 *
 * Backpressure never reaches the source: audio the decoder has not taken
 * waits in the log (memory ring, then file), and the collector feeds the
 * stream at most PIPELINE_AHEAD_MS ahead of its decoder.
 *
 * End: pipeline_run_finish() transcribes what is left, commits the whole
 * log and, when the pipeline keeps recordings, encodes the log to
 * "<recordings_dir>/<meeting_id>.ogg" (recording.h) on the collector thread,
 * off the HTTP threads. pipeline_run_free() after a finish removes the log.
 *
 * Thread safety: pipeline_run_append() from one thread at a time (the
 * source's); pipeline_run_finish() and pipeline_run_free() from that same
 * thread. Runs are independent. */
#ifndef HARK_PIPELINE_H
#define HARK_PIPELINE_H
#include <stddef.h>
#include <stdint.h>
#include "hark/alog.h"
#include "hark/error.h"
#include "hark/notify.h"
#include "hark/stream.h"

#define PIPELINE_AHEAD_MS 10000

struct stream_event;

struct pipeline_config {
    const char *audio_dir;      /* borrowed; audio logs, created if missing */
    const char *recordings_dir; /* borrowed; NULL: no recordings; created if missing */
    struct stream_config stream; /* step, agreement, language; id/speaker per run */
    struct alog_config alog;    /* dir is audio_dir */
    struct metrics *metrics;    /* borrowed; NULL: none. hark_meeting_runs,
                                   hark_meeting_audio_seconds_total,
                                   hark_meeting_segments_total */
};
struct pipeline_config pipeline_config_default(void);

struct pipeline;
struct pipeline_run;

/* streamer and n are borrowed and must outlive the pipeline; c is copied
 * (its strings too). HARK_ENOMEM, HARK_EIO (a directory cannot be made). */
HARK_MUST_CHECK int pipeline_new(const struct pipeline_config *c, struct streamer *streamer,
                                 const struct notify *n, struct pipeline **out);
/* Every run must be freed first. NULL is fine. */
void pipeline_free(struct pipeline *p);

/* Called on the collector thread for every stream event of the run, after
 * the pipeline handled it (ev borrowed for the call; times are the
 * stream's, from the run's first sample). For a source that wants the
 * events itself, e.g. /ws/audio sending segments back. */
typedef void pipeline_observer(void *arg, const struct stream_event *ev);

/* Opens meeting m's run (m borrowed; copied what is needed) with speaker
 * (borrowed, NULL/"" unattributed). Resumes an existing log as above.
 * observer may be NULL. *out freed with pipeline_run_free(). HARK_EBUSY:
 * no stream slot is free, a run of this meeting holds its lease, or the
 * meeting's log is open elsewhere; HARK_EPARSE:
 * its log is corrupt; store, alog and stream errors. */
HARK_MUST_CHECK int pipeline_run_open(struct pipeline *p, const struct store_meeting *m,
                                      const char *speaker, pipeline_observer *observer,
                                      void *observer_arg, struct pipeline_run **out);

/* Appends n samples (16 kHz mono, copied) to the log and hands them on.
 * HARK_EIO when the log cannot take them (nothing was acknowledged);
 * HARK_ECLOSED after finish. */
HARK_MUST_CHECK int pipeline_run_append(struct pipeline_run *r, const float *pcm, size_t n);

/* From the next sample appended on, speaker (copied, cut to 63 bytes; NULL
 * or "" unattributed) is talking: segments starting from there carry that
 * label and id. The oldest of more than 64 changes are forgotten. */
void pipeline_run_speaker(struct pipeline_run *r, const char *speaker);

/* Samples appended (received), durable (may be acknowledged to the source)
 * and transcribed (committed). Any pointer may be NULL. */
void pipeline_run_progress(struct pipeline_run *r, uint64_t *received, uint64_t *durable,
                           uint64_t *transcribed);

/* No more audio: waits until everything logged is transcribed, committed
 * and (if kept) recorded. Returns the first error the collector met
 * (logged as it happened), 0 when all went well. */
HARK_MUST_CHECK int pipeline_run_finish(struct pipeline_run *r);

/* Stops the run. After a successful finish the audio log is deleted (the
 * recording, if any, holds the audio now); otherwise it stays, committed
 * as far as transcription got, for the next pipeline_run_open(). NULL is
 * fine. */
void pipeline_run_free(struct pipeline_run *r);

/* Transcribes whatever meeting m's log holds beyond its commit point, then
 * finishes as above: what a restarted process does for a meeting whose
 * source is gone. 0 also when there is no log. */
HARK_MUST_CHECK int pipeline_drain(struct pipeline *p, const struct store_meeting *m);

#endif
