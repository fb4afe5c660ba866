/* lease.h — meeting streams leased to workers, fenced by generation.
 *
 * A lease says which worker runs a meeting's stream right now. It lasts
 * `ttl_ms` from its grant or last renewal; a worker that stops renewing (it
 * hung, or its process died) loses the meeting to whoever acquires it next.
 * Every grant carries a generation larger than any earlier grant's, so a
 * holder that lost its lease without noticing is fenced off: it calls
 * lease_check() before each write it makes on the lease's behalf (segments,
 * the audio log's commit point) and stops at the first HARK_EPERM.
 *
 * lease_place() picks the worker for a new stream: the lowest tier (on-prem
 * before cloud spill) with a free slot, then the most free slots.
 *
 * This is the embedded backend: an in-process table for the engine threads
 * of `hark serve`. The distributed mode puts the same calls on Redis
 * (SET NX PX per meeting, generations from INCR), so callers must not rely
 * on anything these comments do not promise.
 *
 * Thread safety: every call may run at once from any threads, except
 * lease_table_free(), which must not race with another call on its table.
 * One mutex guards the table; each call holds it for a scan of the held
 * leases (O(leases), tens in one process) and never while logging. */
#ifndef HARK_LEASE_H
#define HARK_LEASE_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"

struct lease_config {
    int ttl_ms;               /* not renewed within it, a lease expires;
                                 default 10000; 1..86400000 */
};
struct lease_config lease_config_default(void);

struct lease_table;           /* opaque */

/* c is copied. On success *out is owned by the caller and freed with
 * lease_table_free(); on failure *out is NULL. HARK_EINVAL for a NULL
 * argument or a ttl out of range, HARK_ENOMEM. */
HARK_MUST_CHECK int lease_table_new(const struct lease_config *c,
                                    struct lease_table **out);
/* Frees the table and forgets its leases (their holders' lease_check()
 * must not be called afterwards). NULL is fine. */
void lease_table_free(struct lease_table *t);

#define LEASE_WORKER_MAX 64   /* worker name buffer, NUL included */

/* A grant, held by value by its worker. The table keeps its own copy; only
 * meeting_id and generation identify the grant in the calls below. */
struct lease {
    int64_t meeting_id;
    uint64_t generation;      /* the fencing token; below 2^63, so it fits
                                 an SQLite INTEGER column */
    char worker[LEASE_WORKER_MAX];
    int64_t expires_ms;       /* on clock_mono_ms()'s clock; for the holder's
                                 renewal timer, not for fencing decisions */
};

/* Grants meeting_id to worker (borrowed; copied; 1..63 bytes) unless an
 * unexpired lease holds it: HARK_EBUSY then, even when the holder is this
 * same worker (one run of a meeting at a time; a second is a caller bug to
 * surface). An expired lease is taken over, and its holder is fenced off
 * from then on. The new generation is strictly greater than that of every
 * earlier grant, for any meeting, by any table in this process and, as long
 * as the wall clock does not step back, by earlier processes: it is
 * max(wall clock in microseconds, previous generation + 1).
 * *out is written only on success. HARK_EINVAL for NULL arguments or a bad
 * worker name, HARK_ENOMEM (the first lease of a meeting allocates). */
HARK_MUST_CHECK int lease_acquire(struct lease_table *t, int64_t meeting_id,
                                  const char *worker, struct lease *out);

/* Extends l to now + ttl and writes the renewed lease to *out (which may
 * be l). A lease that expired but whose meeting nobody acquired since is
 * still renewed: nothing was written under another generation, so the
 * holder may go on. HARK_EPERM once the meeting was granted again or l was
 * released; *out is then untouched. HARK_EINVAL for NULL arguments. */
HARK_MUST_CHECK int lease_renew(struct lease_table *t, const struct lease *l,
                                struct lease *out);

/* Fencing: 0 while l is the current, unexpired grant of its meeting,
 * HARK_EPERM otherwise (expired, taken over or released), HARK_EINVAL for
 * NULL arguments. One lock, no allocation: call it before every write made
 * on the lease's behalf. An expired lease fails here even though
 * lease_renew() may still revive it. */
HARK_MUST_CHECK int lease_check(struct lease_table *t, const struct lease *l);

/* Gives the meeting up if l is still its grant, expired or not, so the next
 * lease_acquire() succeeds at once. A stale l (taken over, or released
 * already) changes nothing. NULL arguments are ignored. */
void lease_release(struct lease_table *t, const struct lease *l);

/* One candidate for lease_place(). tier: 0 = on-prem GPU, 1 = cloud GPU
 * spill, 2 = CPU (DESIGN.md's placement order); lower is preferred, >= 0.
 * free_slots <= 0 means full. name is borrowed and not read by
 * lease_place(); it is there for the caller. */
struct lease_worker {
    const char *name;
    int tier;
    int free_slots;
};

/* Sets *chosen to the index in w[0..n) of the worker to run a new stream:
 * the lowest tier with any free slot, within it the most free slots, ties
 * to the first. w is borrowed. HARK_EBUSY when no worker has a free slot,
 * HARK_EINVAL for n == 0, a NULL argument or a negative tier; *chosen is
 * written only on success. */
HARK_MUST_CHECK int lease_place(const struct lease_worker *w, size_t n,
                                size_t *chosen);

#endif
