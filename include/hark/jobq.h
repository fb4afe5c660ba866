/* jobq.h — a bounded in-process job queue with a fixed set of workers.
 *
 * What the embedded `hark serve` uses for batch transcription: a submit
 * past `capacity` waiting jobs fails at once (HARK_EBUSY) so the API can
 * answer 503 + Retry-After instead of queueing without bound. The
 * distributed mode replaces it with Redis Streams behind the same calls.
 * Thread safety: submit from any thread. */
#ifndef HARK_JOBQ_H
#define HARK_JOBQ_H
#include <stddef.h>
#include "hark/error.h"

struct jobq;

/* run(arg) does the job on a worker; cancel(arg) (may be NULL) is called
 * instead for a job still waiting when the queue is freed. Each job gets
 * exactly one of the two. */
typedef void (*jobq_fn)(void *arg);

/* workers >= 1, capacity >= 1 waiting jobs. *out is freed with jobq_free(). */
HARK_MUST_CHECK int jobq_new(unsigned workers, size_t capacity, struct jobq **out);
/* Stops taking jobs, cancels the waiting ones, waits for the running ones. */
void jobq_free(struct jobq *q);

/* Queues a job. HARK_EBUSY when capacity jobs are already waiting,
 * HARK_ECLOSED once jobq_free() started; arg stays the caller's then. */
HARK_MUST_CHECK int jobq_submit(struct jobq *q, jobq_fn run, jobq_fn cancel, void *arg);

/* Jobs waiting (not running) and running now. */
void jobq_load(struct jobq *q, size_t *waiting, size_t *running);

#endif
