/* alog.h — per-meeting append-only audio log.
 *
 * A log holds 16 kHz mono float32 samples addressed by offset from the start of
 * the meeting. A bot appends; transcription workers read from any offset the
 * log holds and commit the offset up to which they are done, so a restarted
 * process resumes from alog_committed(): no audio acknowledged to the source
 * (alog_durable()) is lost and none is transcribed twice. The distributed
 * mode puts a Redis Stream behind the same calls.
 *
 * Embedded backend: every sample goes to an append-only file in `dir`
 * (`<key>.alog`: a 32-byte header, then raw f32le samples) and the newest
 * `mem_limit_samples` also stay in a ring in memory, so a slow worker reads
 * old audio from the file and never makes a bot drop audio; memory is
 * 4 bytes x mem_limit_samples per open log (3.84 MB at the default, reserved
 * at open, resident as it fills). The commit point lives in `<key>.commit`,
 * replaced atomically. A file that ends in a partial sample (a crash mid-
 * write) is cut back to the last whole sample on open; a log is never reset.
 *
 * Thread safety: appends, reads, commits and the getters may run at once
 * from any threads. Appends are serialized among themselves, commits among
 * themselves. One mutex guards the ring and counters; an append holds it only
 * to copy its samples into the ring, a read only to copy out of it. File
 * writes, reads and fsyncs happen outside it, so appends never wait for a
 * reader's disk I/O and readers never wait for an fsync. alog_free() must not
 * race with any other call on the same log. */
#ifndef HARK_ALOG_H
#define HARK_ALOG_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"

#define ALOG_SAMPLE_RATE 16000
#define ALOG_KEY_MAX 128                /* longest meeting key, in bytes */

struct alog;                            /* opaque */

struct alog_config {
    const char *dir;                    /* borrowed; must exist; no default */
    size_t mem_limit_samples;           /* ring size; 60 s; 0: reads all hit the file */
    int fsync_every_ms;                 /* 0: fsync each append; default 200 */
};
struct alog_config alog_config_default(void);

/* Opens or creates the log for `meeting_key` (borrowed), which must match
 * [A-Za-z0-9_.-]{1,128} (HARK_EINVAL otherwise). On success *out is owned by
 * the caller and freed with alog_free(); on failure *out is NULL.
 * HARK_EBUSY while the same meeting is open elsewhere (this or another
 * process), HARK_EPARSE for a header or commit file that is not ours or is
 * corrupt (logged; the files are left untouched), HARK_ENOENT when dir does
 * not exist, HARK_EPERM, HARK_EIO, HARK_ENOMEM. */
HARK_MUST_CHECK int alog_open(const struct alog_config *c, const char *meeting_key,
                              struct alog **out);
/* Makes everything appended durable (failures are logged), then closes.
 * NULL is fine. */
void alog_free(struct alog *log);

/* Appends n samples (copied); *offset_out (may be NULL) gets the offset of
 * the first one. Never allocates. HARK_EINVAL for samples NULL with n > 0.
 * HARK_EIO if the write fails (the log is left as it was, so a later append
 * may succeed) or if a due fsync fails: the samples were appended then, but
 * a failed fsync may have dropped written pages, so the log refuses every
 * later append and flush with HARK_EIO and alog_durable() stops moving. */
HARK_MUST_CHECK int alog_append(struct alog *log, const float *samples, size_t n,
                                uint64_t *offset_out);

/* Copies up to max samples starting at offset into buf (borrowed); *n_out
 * says how many, 0 at the end. Samples older than the ring cost a pread.
 * HARK_ERANGE if offset is beyond alog_end() or older than the log still
 * holds (this backend holds everything until alog_remove()), HARK_EIO if the
 * file cannot be read, HARK_EINVAL for buf NULL with max > 0. */
HARK_MUST_CHECK int alog_read(struct alog *log, uint64_t offset, float *buf, size_t max,
                              size_t *n_out);

/* Samples appended so far: the offset the next append gets. */
uint64_t alog_end(struct alog *log);

/* Samples known to be on disk, <= alog_end(): what a source may be told is
 * acknowledged. Advances on an append once fsync_every_ms passed since the
 * last fsync, on alog_flush() and on a commit past it. */
uint64_t alog_durable(struct alog *log);

/* Makes everything appended so far durable. HARK_EIO as for alog_append(). */
HARK_MUST_CHECK int alog_flush(struct alog *log);

/* Records that the audio before `offset` is transcribed, durably. Commits
 * never go backwards: HARK_EINVAL below alog_committed(), HARK_ERANGE beyond
 * alog_end(); the same offset again is a no-op. The audio up to offset is
 * made durable first, so after a crash the commit never points past the
 * audio. Costs up to three fsyncs; HARK_EIO. */
HARK_MUST_CHECK int alog_commit(struct alog *log, uint64_t offset);

/* The last committed offset, 0 for a new log; survives a reopen. */
uint64_t alog_committed(struct alog *log);

/* Retention: deletes the files of meeting `meeting_key` in dir (both
 * borrowed), the audio first, so an interrupted removal leaves a commit
 * without audio, which alog_open() refuses, never audio that would be
 * transcribed again. 0 also when there was nothing to delete. HARK_EINVAL
 * for a bad key, HARK_EBUSY while the log is open, HARK_ENOENT when dir does
 * not exist, HARK_EIO. Never allocates. */
HARK_MUST_CHECK int alog_remove(const char *dir, const char *meeting_key);

#endif
