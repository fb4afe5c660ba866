/* The embedded audio log: an append-only file per meeting plus a ring of the
 * newest samples. Invariants, with `lock` held to read or change them:
 *   durable <= end; committed <= end (and <= durable once on disk);
 *   every sample below end is in the file (written before end moves);
 *   the ring holds exactly [ring_lo, end), end - ring_lo <= cap,
 *   sample o at ring[o % cap].
 * The file below end never changes, so readers pread it without the lock. */
#include "hark/alog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "alog writes samples as they lie in memory (f32le); big-endian hosts need a byte swap"
#endif
_Static_assert(sizeof(float) == 4, "alog stores 4-byte IEEE floats");

#define HEADER_BYTES 32
#define FORMAT_VERSION 1
#define FORMAT_F32LE 1
#define COMMIT_PREFIX "alog-commit 1 "
/* The longest file name: key plus the longest suffix plus NUL. */
#define NAME_BYTES (ALOG_KEY_MAX + sizeof ".commit.tmp")

struct alog {
    int fd;                       /* the audio file, flock()ed while open */
    int dirfd;                    /* dir: names resolve and renames sync here */
    char key[ALOG_KEY_MAX + 1];
    int fsync_every_ms;
    size_t cap;                   /* ring size in samples; may be 0 */
    float *ring;
    pthread_mutex_t append_lock;  /* one append at a time; held across I/O */
    pthread_mutex_t commit_lock;  /* one commit at a time; held across I/O */
    int64_t last_sync_ms;         /* the appender's fsync clock (append_lock) */
    pthread_mutex_t lock;         /* the fields below; never held across I/O */
    uint64_t end, durable, committed, ring_lo;
    int failed;                   /* an fsync failed: nothing more is durable */
};

struct alog_config alog_config_default(void)
{
    struct alog_config c = {
        .mem_limit_samples = 60 * ALOG_SAMPLE_RATE,
        .fsync_every_ms = 200,
    };
    return c;
}

/* The key becomes a file name: this alphabet can hold no '/' and, with our
 * suffixes, no two keys share a file. */
static int key_valid(const char *key)
{
    size_t len = key ? strnlen(key, ALOG_KEY_MAX + 1) : 0;
    if (len < 1 || len > ALOG_KEY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = key[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
            return 0;
    }
    return 1;
}

static const char *name_for(char *buf, const char *key, const char *suffix)
{
    snprintf(buf, NAME_BYTES, "%s%s", key, suffix);
    return buf;
}

static int hark_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return HARK_ENOENT;
    case EACCES:
    case EPERM:
    case EROFS:
        return HARK_EPERM;
    default:
        return HARK_EIO;
    }
}

/* Logs a failed system call on one of the log's files; returns its code:
 * HARK_EIO for anything a write, read or fsync can report. */
static int io_fail(const char *key, const char *what, const char *name)
{
    int e = errno;
    log_error("alog", "msg=\"%s failed\" meeting=%s file=%s error=\"%s\"", what, key,
              name, strerror(e));
    return hark_errno(e);
}

static int corrupt(const char *key, const char *name, const char *why)
{
    log_error("alog", "msg=\"refusing a corrupt log\" meeting=%s file=%s reason=\"%s\"",
              key, name, why);
    return HARK_EPARSE;
}

static int pwrite_all(int fd, const void *p, size_t len, uint64_t off)
{
    const char *c = p;
    while (len) {
        ssize_t w = pwrite(fd, c, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Reads up to len bytes, fewer only at end of file; *got says how many. */
static int pread_upto(int fd, void *p, size_t len, uint64_t off, size_t *got)
{
    char *c = p;
    *got = 0;
    while (*got < len) {
        ssize_t r = pread(fd, c + *got, len - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* magic, version, sample rate, channels, sample format, 8 reserved zeros */
static void header_encode(unsigned char h[HEADER_BYTES])
{
    memset(h, 0, HEADER_BYTES);
    memcpy(h, "HARKALOG", 8);
    put_u32(h + 8, FORMAT_VERSION);
    put_u32(h + 12, ALOG_SAMPLE_RATE);
    put_u32(h + 16, 1);
    put_u32(h + 20, FORMAT_F32LE);
}

/* NULL when h is a header we write, else why not. */
static const char *header_check(const unsigned char h[HEADER_BYTES])
{
    static const unsigned char zeros[8];
    if (memcmp(h, "HARKALOG", 8))
        return "bad magic";
    if (get_u32(h + 8) != FORMAT_VERSION)
        return "unknown version";
    if (get_u32(h + 12) != ALOG_SAMPLE_RATE || get_u32(h + 16) != 1 ||
        get_u32(h + 20) != FORMAT_F32LE || memcmp(h + 24, zeros, sizeof zeros))
        return "unexpected audio format";
    return NULL;
}

/* Makes the samples appended so far durable. Any thread: samples below the
 * end read here were written before it moved, so this fsync covers them. */
static int sync_audio(struct alog *log)
{
    pthread_mutex_lock(&log->lock);
    uint64_t end = log->end;
    int rc = log->failed ? HARK_EIO : 0, due = end > log->durable;
    pthread_mutex_unlock(&log->lock);
    if (rc || !due)
        return rc;
    if (fdatasync(log->fd))
        rc = io_fail(log->key, "fsync", ".alog");
    pthread_mutex_lock(&log->lock);
    if (rc)
        log->failed = 1; /* the kernel may have dropped the pages: no retry */
    else if (end > log->durable)
        log->durable = end;
    pthread_mutex_unlock(&log->lock);
    return rc;
}

/* Creates the audio file whole (header written and synced under a temporary
 * name, then renamed) so a crash never leaves a file with a torn header. */
static int create_audio(struct alog *log, const char *name)
{
    char tmp[NAME_BYTES];
    unsigned char h[HEADER_BYTES];
    name_for(tmp, log->key, ".alog.tmp");
    header_encode(h);
    log->fd = openat(log->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log->fd < 0)
        return io_fail(log->key, "create", tmp);
    if (pwrite_all(log->fd, h, sizeof h, 0) || fdatasync(log->fd))
        return io_fail(log->key, "write", tmp);
    if (renameat(log->dirfd, tmp, log->dirfd, name))
        return io_fail(log->key, "rename", tmp);
    if (fsync(log->dirfd))
        return io_fail(log->key, "fsync", "(dir)");
    log_info("alog", "msg=\"created\" meeting=%s", log->key);
    return 0;
}

/* Opens (or creates) and locks the audio file; *samples gets the whole
 * samples it holds, *tail_bytes the bytes of a trailing partial one. */
static int open_audio(struct alog *log, uint64_t *samples, unsigned *tail_bytes)
{
    char name[NAME_BYTES];
    unsigned char h[HEADER_BYTES];
    name_for(name, log->key, ".alog");
    log->fd = openat(log->dirfd, name, O_RDWR | O_CLOEXEC);
    int rc = 0;
    if (log->fd < 0 && errno == ENOENT)
        rc = create_audio(log, name);
    else if (log->fd < 0)
        rc = io_fail(log->key, "open", name);
    if (rc)
        return rc;
    if (flock(log->fd, LOCK_EX | LOCK_NB)) {
        if (errno != EWOULDBLOCK)
            return io_fail(log->key, "lock", name);
        log_warn("alog", "msg=\"already open\" meeting=%s", log->key);
        return HARK_EBUSY;
    }
    struct stat st;
    size_t got;
    if (fstat(log->fd, &st) || pread_upto(log->fd, h, sizeof h, 0, &got))
        return io_fail(log->key, "read", name);
    if (got < sizeof h || st.st_size < HEADER_BYTES)
        return corrupt(log->key, name, "shorter than its header");
    const char *why = header_check(h);
    if (why)
        return corrupt(log->key, name, why);
    uint64_t payload = (uint64_t)st.st_size - HEADER_BYTES;
    *samples = payload / sizeof(float);
    *tail_bytes = (unsigned)(payload % sizeof(float));
    return 0;
}

/* Reads the commit point: "alog-commit 1 <decimal offset>\n", nothing else. */
static int read_commit(struct alog *log, uint64_t samples)
{
    char name[NAME_BYTES], text[64];
    name_for(name, log->key, ".commit");
    int fd = openat(log->dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : io_fail(log->key, "open", name);
    size_t len;
    int rc = pread_upto(fd, text, sizeof text, 0, &len);
    close(fd);
    if (rc)
        return io_fail(log->key, "read", name);
    size_t i = sizeof COMMIT_PREFIX - 1;
    if (len == sizeof text || len < i + 2 || memcmp(text, COMMIT_PREFIX, i) ||
        text[len - 1] != '\n')
        return corrupt(log->key, name, "not a commit record");
    uint64_t v = 0;
    for (; i < len - 1; i++) {
        unsigned d = (unsigned)(text[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return corrupt(log->key, name, "bad offset");
        v = v * 10 + d;
    }
    if (v > samples)
        return corrupt(log->key, name, "commit beyond the audio");
    log->committed = v;
    return 0;
}

static int open_files(struct alog *log, const char *dir)
{
    uint64_t samples = 0;
    unsigned tail = 0;
    log->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dirfd < 0)
        return io_fail(log->key, "open", "(dir)");
    int rc = open_audio(log, &samples, &tail);
    if (!rc)
        rc = read_commit(log, samples); /* before any repair: refuse untouched */
    if (rc)
        return rc;
    uint64_t size = HEADER_BYTES + samples * sizeof(float);
    if (tail) {
        log_warn("alog", "msg=\"cut a partial sample off the end\" meeting=%s bytes=%u",
                 log->key, tail);
        if (ftruncate(log->fd, (off_t)size))
            return io_fail(log->key, "truncate", ".alog");
    }
    /* What survived a crash of the process alone may still be only in the
     * page cache: sync before calling it durable. */
    if (fdatasync(log->fd))
        return io_fail(log->key, "fsync", ".alog");
    log->end = log->durable = log->ring_lo = samples;
    log->last_sync_ms = clock_mono_ms();
    return 0;
}

static void destroy(struct alog *log)
{
    if (log->fd >= 0)
        close(log->fd); /* also releases the flock */
    if (log->dirfd >= 0)
        close(log->dirfd);
    pthread_mutex_destroy(&log->lock);
    pthread_mutex_destroy(&log->commit_lock);
    pthread_mutex_destroy(&log->append_lock);
    hark_free(log->ring);
    hark_free(log);
}

int alog_open(const struct alog_config *c, const char *meeting_key, struct alog **out)
{
    *out = NULL;
    if (!c || !c->dir || c->fsync_every_ms < 0 ||
        c->mem_limit_samples > SIZE_MAX / sizeof(float) || !key_valid(meeting_key))
        return HARK_EINVAL;
    struct alog *log = hark_calloc(1, sizeof *log);
    if (!log)
        return HARK_ENOMEM;
    log->fd = log->dirfd = -1;
    pthread_mutex_init(&log->append_lock, NULL);
    pthread_mutex_init(&log->commit_lock, NULL);
    pthread_mutex_init(&log->lock, NULL);
    memcpy(log->key, meeting_key, strlen(meeting_key) + 1);
    log->fsync_every_ms = c->fsync_every_ms;
    log->cap = c->mem_limit_samples;
    int rc = 0;
    /* Pages are touched only as the ring fills, so a short meeting costs
     * little resident memory. Allocated before any file is touched: an
     * allocation failure leaves the disk as it was. */
    if (log->cap && !(log->ring = hark_malloc(log->cap * sizeof(float))))
        rc = HARK_ENOMEM;
    if (!rc)
        rc = open_files(log, c->dir);
    if (rc) {
        destroy(log);
        return rc;
    }
    *out = log;
    return 0;
}

void alog_free(struct alog *log)
{
    if (!log)
        return;
    sync_audio(log); /* logs its own failure; nobody is left to tell */
    destroy(log);
}

/* Writes n samples at offset `at`; on failure puts the file back as it was,
 * so a partial write never becomes audio after a crash. */
static int write_samples(struct alog *log, const float *s, size_t n, uint64_t at)
{
    uint64_t off = HEADER_BYTES + at * sizeof(float);
    if (pwrite_all(log->fd, s, n * sizeof(float), off) == 0)
        return 0;
    int rc = io_fail(log->key, "write", ".alog");
    if (ftruncate(log->fd, (off_t)off)) {
        io_fail(log->key, "truncate", ".alog");
        pthread_mutex_lock(&log->lock);
        log->failed = 1;
        pthread_mutex_unlock(&log->lock);
    }
    return rc;
}

/* Copies samples [at, at + n) into the ring; lock held. */
static void ring_put(struct alog *log, const float *s, size_t n, uint64_t at)
{
    uint64_t end = at + n;
    if (log->cap && n) {
        if (n > log->cap) {
            s += n - log->cap;
            at += n - log->cap;
            n = log->cap;
        }
        size_t i = (size_t)(at % log->cap), first = n < log->cap - i ? n : log->cap - i;
        memcpy(log->ring + i, s, first * sizeof *s);
        memcpy(log->ring, s + first, (n - first) * sizeof *s);
    }
    if (end - log->ring_lo > log->cap)
        log->ring_lo = end - log->cap;
}

/* Copies samples [at, at + n) out of the ring, which holds them; lock held. */
static void ring_get(const struct alog *log, float *buf, size_t n, uint64_t at)
{
    size_t i = (size_t)(at % log->cap), first = n < log->cap - i ? n : log->cap - i;
    memcpy(buf, log->ring + i, first * sizeof *buf);
    memcpy(buf + first, log->ring, (n - first) * sizeof *buf);
}

int alog_append(struct alog *log, const float *samples, size_t n, uint64_t *offset_out)
{
    if ((n && !samples) || n > SIZE_MAX / sizeof(float))
        return HARK_EINVAL;
    pthread_mutex_lock(&log->append_lock);
    pthread_mutex_lock(&log->lock);
    uint64_t at = log->end; /* only appenders move it, and we hold append_lock */
    int rc = log->failed ? HARK_EIO : 0;
    pthread_mutex_unlock(&log->lock);
    if (!rc && n)
        rc = write_samples(log, samples, n, at);
    if (!rc) {
        pthread_mutex_lock(&log->lock);
        ring_put(log, samples, n, at);
        log->end = at + n;
        pthread_mutex_unlock(&log->lock);
        if (offset_out)
            *offset_out = at;
        int64_t now = clock_mono_ms();
        if (now - log->last_sync_ms >= log->fsync_every_ms) {
            log->last_sync_ms = now;
            rc = sync_audio(log);
        }
    }
    pthread_mutex_unlock(&log->append_lock);
    return rc;
}

int alog_read(struct alog *log, uint64_t offset, float *buf, size_t max, size_t *n_out)
{
    *n_out = 0;
    if (!buf && max)
        return HARK_EINVAL;
    pthread_mutex_lock(&log->lock);
    if (offset > log->end) {
        pthread_mutex_unlock(&log->lock);
        return HARK_ERANGE;
    }
    size_t n = log->end - offset < max ? (size_t)(log->end - offset) : max;
    uint64_t stop = offset + n;
    uint64_t from_ring = offset > log->ring_lo ? offset : log->ring_lo;
    if (from_ring < stop)
        ring_get(log, buf + (from_ring - offset), (size_t)(stop - from_ring), from_ring);
    pthread_mutex_unlock(&log->lock);
    if (from_ring > offset) {
        size_t want = (size_t)((from_ring < stop ? from_ring : stop) - offset), got;
        size_t bytes = want * sizeof *buf;
        if (pread_upto(log->fd, buf, bytes, HEADER_BYTES + offset * sizeof *buf, &got))
            return io_fail(log->key, "read", ".alog");
        if (got != bytes) {
            log_error("alog", "msg=\"audio file shorter than the log\" meeting=%s",
                      log->key);
            return HARK_EIO;
        }
    }
    *n_out = n;
    return 0;
}

static uint64_t get(struct alog *log, const uint64_t *field)
{
    pthread_mutex_lock(&log->lock);
    uint64_t v = *field;
    pthread_mutex_unlock(&log->lock);
    return v;
}

uint64_t alog_end(struct alog *log) { return get(log, &log->end); }
uint64_t alog_durable(struct alog *log) { return get(log, &log->durable); }
uint64_t alog_committed(struct alog *log) { return get(log, &log->committed); }

int alog_flush(struct alog *log) { return sync_audio(log); }

/* Replaces the commit file atomically: write and sync a temporary, rename it
 * over, sync the directory so the rename survives a crash. */
static int write_commit(struct alog *log, uint64_t offset)
{
    char tmp[NAME_BYTES], name[NAME_BYTES], text[64];
    name_for(tmp, log->key, ".commit.tmp");
    name_for(name, log->key, ".commit");
    int len = snprintf(text, sizeof text, COMMIT_PREFIX "%" PRIu64 "\n", offset);
    int fd = openat(log->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return io_fail(log->key, "create", tmp);
    int rc = 0;
    if (pwrite_all(fd, text, (size_t)len, 0) || fdatasync(fd))
        rc = io_fail(log->key, "write", tmp);
    close(fd);
    if (!rc && renameat(log->dirfd, tmp, log->dirfd, name))
        rc = io_fail(log->key, "rename", tmp);
    if (rc)
        unlinkat(log->dirfd, tmp, 0);
    else if (fsync(log->dirfd))
        rc = io_fail(log->key, "fsync", "(dir)");
    return rc;
}

int alog_commit(struct alog *log, uint64_t offset)
{
    pthread_mutex_lock(&log->commit_lock);
    pthread_mutex_lock(&log->lock);
    uint64_t committed = log->committed, end = log->end, durable = log->durable;
    pthread_mutex_unlock(&log->lock);
    int rc = offset < committed ? HARK_EINVAL : offset > end ? HARK_ERANGE : 0;
    if (!rc && offset != committed) {
        if (offset > durable)
            rc = sync_audio(log);
        if (!rc)
            rc = write_commit(log, offset);
        if (!rc) {
            pthread_mutex_lock(&log->lock);
            log->committed = offset;
            pthread_mutex_unlock(&log->lock);
        }
    }
    pthread_mutex_unlock(&log->commit_lock);
    return rc;
}

int alog_remove(const char *dir, const char *meeting_key)
{
    static const char *const suffixes[] = {".alog", ".commit", ".commit.tmp", ".alog.tmp"};
    if (!dir || !key_valid(meeting_key))
        return HARK_EINVAL;
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return io_fail(meeting_key, "open", "(dir)");
    char name[NAME_BYTES];
    int rc = 0;
    /* Holding the lock while unlinking keeps an alog_open() racing with us
     * from using the file we delete. */
    int fd = openat(dirfd, name_for(name, meeting_key, ".alog"), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        rc = io_fail(meeting_key, "open", name);
    else if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB))
        rc = errno == EWOULDBLOCK ? HARK_EBUSY : io_fail(meeting_key, "lock", name);
    for (size_t i = 0; !rc && i < sizeof suffixes / sizeof *suffixes; i++) {
        name_for(name, meeting_key, suffixes[i]);
        if (unlinkat(dirfd, name, 0) && errno != ENOENT)
            rc = io_fail(meeting_key, "unlink", name);
    }
    if (!rc)
        log_info("alog", "msg=\"removed\" meeting=%s", meeting_key);
    if (fd >= 0)
        close(fd);
    close(dirfd);
    return rc;
}
