#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/alog.h"
#include "hark/log.h"
#include "hark/mem.h"

#define HEADER_BYTES 32
#define NEVER_MS 100000000 /* an fsync interval no test outlives */

/* Every sample's value says where it belongs; exact in a float below 2^24. */
static float value_at(uint64_t offset) { return (float)(offset & 0xffffff); }

static struct alog_config config(size_t mem_limit_samples, int fsync_every_ms)
{
    struct alog_config c = alog_config_default();
    c.dir = harness_tmpdir();
    c.mem_limit_samples = mem_limit_samples;
    c.fsync_every_ms = fsync_every_ms;
    return c;
}

static struct alog *open_log(size_t mem_limit_samples, int fsync_every_ms, const char *key)
{
    struct alog_config c = config(mem_limit_samples, fsync_every_ms);
    struct alog *log = NULL;
    assert_int_equal(alog_open(&c, key, &log), 0);
    assert_non_null(log);
    return log;
}

static void append_range(struct alog *log, uint64_t from, size_t n)
{
    float *s = malloc(n * sizeof *s + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = value_at(from + i);
    uint64_t at = UINT64_MAX;
    assert_int_equal(alog_append(log, s, n, &at), 0);
    assert_int_equal(at, from);
    free(s);
}

/* Reads [from, from + n) in pieces of `chunk` and checks every sample. */
static void check_range(struct alog *log, uint64_t from, size_t n, size_t chunk)
{
    float *buf = malloc(chunk * sizeof *buf);
    assert_non_null(buf);
    for (uint64_t o = from; o < from + n;) {
        size_t got = 0;
        assert_int_equal(alog_read(log, o, buf, chunk, &got), 0);
        assert_true(got > 0);
        for (size_t i = 0; i < got; i++)
            assert_true(buf[i] == value_at(o + i));
        o += got;
    }
    free(buf);
}

static const char *path_of(char *buf, size_t size, const char *key, const char *suffix)
{
    snprintf(buf, size, "%s/%s%s", harness_tmpdir(), key, suffix);
    return buf;
}

static long file_size(const char *key, const char *suffix)
{
    char p[512];
    struct stat st;
    return stat(path_of(p, sizeof p, key, suffix), &st) ? -1 : (long)st.st_size;
}

static int dir_entries(void)
{
    DIR *d = opendir(harness_tmpdir());
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void write_file(const char *key, const char *suffix, const void *p, size_t len,
                       const char *mode)
{
    char path[512];
    FILE *f = fopen(path_of(path, sizeof path, key, suffix), mode);
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static size_t read_file(const char *key, const char *suffix, void *p, size_t max)
{
    char path[512];
    FILE *f = fopen(path_of(path, sizeof path, key, suffix), "rb");
    assert_non_null(f);
    size_t n = fread(p, 1, max, f);
    fclose(f);
    return n;
}

static void overwrite_sample(const char *key, uint64_t offset, float v)
{
    char path[512];
    int fd = open(path_of(path, sizeof path, key, ".alog"), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &v, sizeof v, (off_t)(HEADER_BYTES + offset * sizeof v)),
                     sizeof v);
    close(fd);
}

static void defaults_hold_sixty_seconds_and_fsync_every_200_ms(void **state)
{
    (void)state;
    struct alog_config c = alog_config_default();
    assert_int_equal(c.mem_limit_samples, 60 * 16000);
    assert_int_equal(c.fsync_every_ms, 200);
    assert_null(c.dir);
    struct alog *log = (struct alog *)1;
    assert_int_equal(alog_open(&c, "m", &log), HARK_EINVAL); /* dir is required */
    assert_null(log);
}

static void reads_across_the_ring_boundary_return_what_was_appended(void **state)
{
    (void)state;
    const size_t limits[] = {0, 1, 1000, 4096};
    for (size_t k = 0; k < sizeof limits / sizeof *limits; k++) {
        char key[16];
        snprintf(key, sizeof key, "m%zu", k);
        struct alog *log = open_log(limits[k], 200, key);
        for (int i = 0; i < 5; i++)
            append_range(log, (uint64_t)i * 700, 700);
        assert_int_equal(alog_end(log), 3500);
        check_range(log, 0, 3500, 333);  /* pieces straddle file and ring */
        check_range(log, 0, 3500, 3500); /* one read spanning both */
        check_range(log, 2499, 3, 3);    /* the last file sample, the first ring ones */
        check_range(log, 3499, 1, 64);
        alog_free(log);
    }
}

static void reads_older_than_the_ring_come_from_the_file(void **state)
{
    (void)state;
    struct alog *log = open_log(1000, 200, "m");
    for (int i = 0; i < 5; i++)
        append_range(log, (uint64_t)i * 700, 700);
    /* The ring holds [2500, 3500): change the file under both halves. */
    overwrite_sample("m", 0, -1.0f);
    overwrite_sample("m", 2499, -1.0f);
    overwrite_sample("m", 2500, -1.0f);
    overwrite_sample("m", 3499, -1.0f);
    float buf[4];
    size_t n = 0;
    assert_int_equal(alog_read(log, 0, buf, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_true(buf[0] == -1.0f);
    assert_int_equal(alog_read(log, 2499, buf, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_true(buf[0] == -1.0f);
    assert_true(buf[1] == value_at(2500));
    assert_int_equal(alog_read(log, 3499, buf, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_true(buf[0] == value_at(3499));
    alog_free(log);
}

static void read_at_the_end_gives_nothing_and_beyond_it_erange(void **state)
{
    (void)state;
    struct alog *log = open_log(100, 200, "m");
    float buf[8];
    size_t n = 99;
    assert_int_equal(alog_read(log, 0, buf, 8, &n), 0);
    assert_int_equal(n, 0);
    append_range(log, 0, 5);
    append_range(log, 5, 0); /* an empty append gets the end as its offset */
    assert_int_equal(alog_read(log, 5, buf, 8, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(alog_read(log, 2, buf, 0, &n), 0);
    assert_int_equal(n, 0);
    n = 99;
    assert_int_equal(alog_read(log, 6, buf, 8, &n), HARK_ERANGE);
    assert_int_equal(n, 0);
    assert_int_equal(alog_read(log, UINT64_MAX, buf, 8, &n), HARK_ERANGE);
    assert_int_equal(alog_read(log, 0, NULL, 8, &n), HARK_EINVAL);
    assert_int_equal(alog_append(log, NULL, 3, NULL), HARK_EINVAL);
    assert_int_equal(alog_end(log), 5);
    alog_free(log);
}

static void bad_configs_are_refused(void **state)
{
    (void)state;
    struct alog *log = (struct alog *)1;
    struct alog_config c = config(100, -1);
    assert_int_equal(alog_open(&c, "m", &log), HARK_EINVAL);
    assert_null(log);
    c = config(SIZE_MAX, 200);
    assert_int_equal(alog_open(&c, "m", &log), HARK_EINVAL);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope", harness_tmpdir());
    c = config(100, 200);
    c.dir = missing;
    assert_int_equal(alog_open(&c, "m", &log), HARK_ENOENT);
    assert_null(log);
    assert_int_equal(alog_remove(missing, "m"), HARK_ENOENT);
    assert_int_equal(dir_entries(), 0);
}

static void reopen_resumes_at_the_end_with_the_audio_intact(void **state)
{
    (void)state;
    struct alog *log = open_log(1000, 200, "m");
    append_range(log, 0, 1500);
    alog_free(log);
    assert_int_equal(file_size("m", ".alog"), HEADER_BYTES + 1500 * 4);
    log = open_log(1000, 200, "m");
    assert_int_equal(alog_end(log), 1500);
    assert_int_equal(alog_durable(log), 1500);
    append_range(log, 1500, 10);
    check_range(log, 0, 1510, 700);
    alog_free(log);
    char p[512];
    struct stat st;
    assert_int_equal(stat(path_of(p, sizeof p, "m", ".alog"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* meeting audio is private */
}

static void commit_persists_across_reopen_and_never_goes_backwards(void **state)
{
    (void)state;
    struct alog *log = open_log(1000, 200, "m");
    assert_int_equal(alog_committed(log), 0);
    append_range(log, 0, 1000);
    assert_int_equal(alog_commit(log, 400), 0);
    assert_int_equal(alog_committed(log), 400);
    assert_int_equal(alog_commit(log, 300), HARK_EINVAL);
    assert_int_equal(alog_commit(log, 1001), HARK_ERANGE);
    assert_int_equal(alog_commit(log, 400), 0); /* a retry is harmless */
    assert_int_equal(alog_committed(log), 400);
    alog_free(log);

    log = open_log(1000, 200, "m");
    assert_int_equal(alog_committed(log), 400);
    assert_int_equal(alog_commit(log, 399), HARK_EINVAL);
    assert_int_equal(alog_commit(log, 1000), 0);
    alog_free(log);
    log = open_log(1000, 200, "m");
    assert_int_equal(alog_committed(log), 1000);
    alog_free(log);
    assert_int_equal(file_size("m", ".commit.tmp"), -1);
}

static void commit_makes_the_audio_it_covers_durable(void **state)
{
    (void)state;
    struct alog *log = open_log(1000, NEVER_MS, "m");
    append_range(log, 0, 100);
    assert_int_equal(alog_durable(log), 0);
    assert_int_equal(alog_commit(log, 50), 0);
    assert_int_equal(alog_durable(log), 100);
    alog_free(log);
}

static void durable_never_passes_end_and_catches_up_on_flush(void **state)
{
    (void)state;
    struct alog *log = open_log(1000, NEVER_MS, "lazy");
    for (uint64_t i = 0; i < 10; i++) {
        append_range(log, i * 50, 50);
        assert_true(alog_durable(log) <= alog_end(log));
    }
    assert_true(alog_durable(log) < alog_end(log));
    assert_int_equal(alog_flush(log), 0);
    assert_int_equal(alog_durable(log), alog_end(log));
    assert_int_equal(alog_flush(log), 0);
    alog_free(log);

    log = open_log(1000, 0, "eager");
    for (uint64_t i = 0; i < 10; i++) {
        append_range(log, i * 50, 50);
        assert_int_equal(alog_durable(log), alog_end(log));
    }
    alog_free(log);
}

static void a_partial_sample_left_by_a_crash_is_cut_off_on_open(void **state)
{
    (void)state;
    struct alog *log = open_log(1000, 200, "m");
    append_range(log, 0, 100);
    alog_free(log);
    /* A killed writer got three samples and half of a fourth out. */
    float tail[4] = {value_at(100), value_at(101), value_at(102), value_at(103)};
    write_file("m", ".alog", tail, 3 * sizeof *tail + 2, "ab");
    log = open_log(1000, 200, "m");
    assert_int_equal(alog_end(log), 103);
    assert_int_equal(file_size("m", ".alog"), HEADER_BYTES + 103 * 4);
    append_range(log, 103, 20);
    check_range(log, 0, 123, 50);
    alog_free(log);

    write_file("m", ".alog", "\x01", 1, "ab"); /* a lone byte */
    log = open_log(1000, 200, "m");
    assert_int_equal(alog_end(log), 123);
    check_range(log, 0, 123, 123);
    alog_free(log);
}

/* Sends log lines to a file while f runs; returns what was logged. */
static char *capture_log(void (*f)(void))
{
    char path[512];
    snprintf(path, sizeof path, "%s/log.txt", harness_tmpdir());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    log_fd_set(fd);
    f();
    log_fd_set(2);
    static char text[4096];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    text[n > 0 ? n : 0] = '\0';
    return text;
}

static void open_must_fail_with_eparse(void)
{
    struct alog_config c = config(1000, 200);
    struct alog *log = (struct alog *)1;
    assert_int_equal(alog_open(&c, "m", &log), HARK_EPARSE);
    assert_null(log);
}

static void a_corrupt_header_is_refused_logged_and_left_untouched(void **state)
{
    (void)state;
    struct alog *log = open_log(1000, 200, "m");
    append_range(log, 0, 10);
    alog_free(log);
    unsigned char good[HEADER_BYTES + 40], bad[sizeof good], after[sizeof good + 8];
    assert_int_equal(read_file("m", ".alog", good, sizeof good), sizeof good);
    struct { size_t at; unsigned char v; size_t len; const char *why; } cases[] = {
        {0, 'X', sizeof good, "bad magic"},
        {8, 2, sizeof good, "unknown version"},
        {12, 0x40, sizeof good, "unexpected audio format"}, /* 16000 -> 15936 Hz */
        {16, 2, sizeof good, "unexpected audio format"},    /* stereo */
        {20, 2, sizeof good, "unexpected audio format"},
        {31, 1, sizeof good, "unexpected audio format"},    /* reserved */
        {0, 'H', 20, "shorter than its header"},
        {0, 'H', 0, "shorter than its header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(bad, good, sizeof good);
        bad[cases[i].at] = cases[i].v;
        write_file("m", ".alog", bad, cases[i].len, "wb");
        const char *logged = capture_log(open_must_fail_with_eparse);
        assert_non_null(strstr(logged, "level=error module=alog"));
        assert_non_null(strstr(logged, "meeting=m"));
        assert_non_null(strstr(logged, cases[i].why));
        /* Never reset: the file is byte for byte what it was. */
        assert_int_equal(read_file("m", ".alog", after, sizeof after), cases[i].len);
        assert_memory_equal(after, bad, cases[i].len);
    }
    write_file("m", ".alog", good, sizeof good, "wb");
    log = open_log(1000, 200, "m");
    check_range(log, 0, 10, 10);
    alog_free(log);
}

static void a_corrupt_commit_file_is_refused(void **state)
{
    (void)state;
    struct alog *log = open_log(1000, 200, "m");
    append_range(log, 0, 10);
    alog_free(log);
    const char *bad[] = {
        "",
        "garbage\n",
        "alog-commit 1 \n",
        "alog-commit 1 7",                       /* torn: no newline */
        "alog-commit 1 7x\n",
        "alog-commit 1 -7\n",
        "alog-commit 2 7\n",
        "alog-commit 1 11\n",                    /* past the audio */
        "alog-commit 1 99999999999999999999\n",  /* past 2^64 */
        "alog-commit 1 0000000000000000000000000000000000000000000000000000007\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file("m", ".commit", bad[i], strlen(bad[i]), "wb");
        const char *logged = capture_log(open_must_fail_with_eparse);
        assert_non_null(strstr(logged, "m.commit"));
    }
    write_file("m", ".commit", "alog-commit 1 7\n", 16, "wb");
    log = open_log(1000, 200, "m");
    assert_int_equal(alog_committed(log), 7);
    alog_free(log);
}

static void keys_outside_the_safe_alphabet_are_refused(void **state)
{
    (void)state;
    char longest[ALOG_KEY_MAX + 2];
    memset(longest, 'k', sizeof longest);
    longest[ALOG_KEY_MAX + 1] = '\0'; /* 129 characters */
    const char *bad[] = {"", "a/b", "../m", "/etc/passwd", "a b", "m\n", "m;rm",
                         "caf\xc3\xa9", "m*", "m\\n", longest, NULL};
    struct alog_config c = config(100, 200);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct alog *log = (struct alog *)1;
        assert_int_equal(alog_open(&c, bad[i], &log), HARK_EINVAL);
        assert_null(log);
        assert_int_equal(alog_remove(harness_tmpdir(), bad[i]), HARK_EINVAL);
    }
    assert_int_equal(dir_entries(), 0);
    longest[ALOG_KEY_MAX] = '\0';
    const char *good[] = {longest, "google_meet.abc-defg-hij", "M-42", "."};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct alog *log = open_log(100, 200, good[i]);
        append_range(log, 0, 3);
        alog_free(log);
        assert_int_equal(file_size(good[i], ".alog"), HEADER_BYTES + 12);
    }
}

static void a_second_open_of_the_same_meeting_is_busy(void **state)
{
    (void)state;
    struct alog *a = open_log(100, 200, "m");
    struct alog_config c = config(100, 200);
    struct alog *b = (struct alog *)1;
    assert_int_equal(alog_open(&c, "m", &b), HARK_EBUSY);
    assert_null(b);
    struct alog *other = open_log(100, 200, "other");
    alog_free(other);
    alog_free(a);
    b = open_log(100, 200, "m");
    alog_free(b);
}

static void remove_deletes_every_file_of_the_meeting_and_only_those(void **state)
{
    (void)state;
    struct alog *log = open_log(100, 200, "m");
    struct alog *other = open_log(100, 200, "m2");
    append_range(log, 0, 10);
    assert_int_equal(alog_commit(log, 5), 0);
    append_range(other, 0, 10);
    assert_int_equal(alog_commit(other, 5), 0);
    assert_int_equal(alog_remove(harness_tmpdir(), "m"), HARK_EBUSY);
    assert_int_equal(file_size("m", ".alog"), HEADER_BYTES + 40);
    alog_free(log);
    write_file("m", ".commit.tmp", "x", 1, "wb"); /* left by a crash mid-commit */
    write_file("m", ".alog.tmp", "x", 1, "wb");   /* left by a crash mid-create */
    assert_int_equal(dir_entries(), 6);
    assert_int_equal(alog_remove(harness_tmpdir(), "m"), 0);
    assert_int_equal(dir_entries(), 2);
    assert_int_equal(file_size("m2", ".alog"), HEADER_BYTES + 40);
    assert_int_equal(file_size("m2", ".commit") > 0, 1);
    assert_int_equal(alog_remove(harness_tmpdir(), "m"), 0); /* nothing left: fine */
    log = open_log(100, 200, "m"); /* a new meeting with that key starts empty */
    assert_int_equal(alog_end(log), 0);
    assert_int_equal(alog_committed(log), 0);
    alog_free(log);
    alog_free(other);
}

static void a_failed_write_leaves_the_log_as_it_was(void **state)
{
    (void)state;
    struct alog *log = open_log(100, 200, "m");
    append_range(log, 0, 100);
    /* Room for half a sample more: the next write fails part way. */
    struct rlimit old, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = HEADER_BYTES + 100 * 4 + 2;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    float s[10] = {0};
    uint64_t at = 7;
    int rc = alog_append(log, s, 10, &at);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(rc, HARK_EIO);
    assert_int_equal(at, 7);
    assert_int_equal(alog_end(log), 100);
    assert_int_equal(file_size("m", ".alog"), HEADER_BYTES + 100 * 4);
    append_range(log, 100, 10); /* the disk has room again */
    check_range(log, 0, 110, 33);
    alog_free(log);
}

static void appends_reads_commits_and_remove_never_allocate(void **state)
{
    (void)state;
    struct alog *log = open_log(100, 0, "m");
    hark_mem_fail_after(0);
    append_range(log, 0, 250);
    check_range(log, 0, 250, 40);
    assert_int_equal(alog_commit(log, 200), 0);
    assert_int_equal(alog_flush(log), 0);
    alog_free(log);
    assert_int_equal(alog_remove(harness_tmpdir(), "m"), 0);
    assert_int_equal(hark_mem_failures(), 0);
    hark_mem_fail_after(-1);
}

static void allocation_failures_in_open_return_enomem_and_leave_the_disk_alone(void **state)
{
    (void)state;
    const size_t limits[] = {1000, 0};
    for (size_t k = 0; k < 2; k++) {
        long i = 0;
        struct alog *log = NULL;
        for (;; i++) {
            struct alog_config c = config(limits[k], 200);
            log = (struct alog *)1;
            hark_mem_fail_after(i);
            int rc = alog_open(&c, "fresh", &log);
            hark_mem_fail_after(-1);
            if (rc == 0)
                break;
            assert_int_equal(rc, HARK_ENOMEM);
            assert_null(log);
            assert_int_equal(dir_entries(), 0);
            harness_assert_no_leaks();
            assert_true(i < 100);
        }
        assert_int_equal(i, limits[k] ? 2 : 1); /* the log, then its ring */
        append_range(log, 0, 30);
        assert_int_equal(alog_commit(log, 20), 0);
        alog_free(log);
        for (i = 0;; i++) {
            struct alog_config c = config(limits[k], 200);
            hark_mem_fail_after(i);
            int rc = alog_open(&c, "fresh", &log);
            hark_mem_fail_after(-1);
            if (rc == 0)
                break;
            assert_int_equal(rc, HARK_ENOMEM);
            harness_assert_no_leaks();
        }
        assert_int_equal(alog_end(log), 30);
        assert_int_equal(alog_committed(log), 20);
        alog_free(log);
        assert_int_equal(alog_remove(harness_tmpdir(), "fresh"), 0);
    }
}

/* One writer, four readers, one of them committing as it goes. */
#define CONC_TOTAL 400000
#define CONC_READERS 4

struct conc {
    struct alog *log;
    atomic_long errors;
    atomic_long reads_in_file; /* reads that started below the ring */
    atomic_int writer_done;
    int id;
};

static void *conc_writer(void *p)
{
    struct conc *c = p;
    static float s[1024];
    uint64_t o = 0;
    for (unsigned n = 1; o < CONC_TOTAL; n = n * 7 % 1021 + 1) {
        size_t k = o + n > CONC_TOTAL ? CONC_TOTAL - o : n;
        for (size_t i = 0; i < k; i++)
            s[i] = value_at(o + i);
        uint64_t at;
        if (alog_append(c->log, s, k, &at) || at != o)
            atomic_fetch_add(&c->errors, 1);
        o += k;
    }
    atomic_store(&c->writer_done, 1);
    return NULL;
}

static void *conc_reader(void *p)
{
    struct conc *c = p;
    unsigned seed = (unsigned)c->id * 2654435761u + 1;
    uint64_t committed = 0;
    float *buf = malloc(3000 * sizeof *buf);
    /* Reader 0 goes on until it has committed everything. */
    for (long iter = 0; !atomic_load(&c->writer_done) || iter < 50 ||
                        (c->id == 0 && committed < CONC_TOTAL);
         iter++) {
        uint64_t durable = alog_durable(c->log), end = alog_end(c->log);
        if (durable > end)
            atomic_fetch_add(&c->errors, 1);
        /* Mostly near the end (the ring), sometimes far back (the file). */
        uint64_t back = (uint64_t)rand_r(&seed) % (rand_r(&seed) % 4 ? 5000 : end + 1);
        uint64_t offset = back > end ? 0 : end - back;
        size_t n = 0;
        if (alog_read(c->log, offset, buf, 1 + (size_t)rand_r(&seed) % 3000, &n))
            atomic_fetch_add(&c->errors, 1);
        if (offset + n > alog_end(c->log))
            atomic_fetch_add(&c->errors, 1);
        for (size_t i = 0; i < n; i++)
            if (buf[i] != value_at(offset + i)) {
                atomic_fetch_add(&c->errors, 1);
                break;
            }
        if (back > 4096)
            atomic_fetch_add(&c->reads_in_file, 1);
        if (c->id == 0 && iter % 16 == 0 && end > committed) {
            committed = end;
            if (alog_commit(c->log, committed))
                atomic_fetch_add(&c->errors, 1);
        }
    }
    if (alog_read(c->log, alog_end(c->log) + 1, buf, 1, &(size_t){0}) != HARK_ERANGE)
        atomic_fetch_add(&c->errors, 1);
    free(buf);
    return NULL;
}

static void concurrent_readers_only_ever_see_what_was_written(void **state)
{
    (void)state;
    struct alog *log = open_log(4096, 20, "m");
    struct conc shared = {.log = log};
    struct conc readers[CONC_READERS];
    pthread_t rt[CONC_READERS], wt;
    for (int i = 0; i < CONC_READERS; i++) {
        readers[i] = (struct conc){.log = log, .id = i};
        assert_int_equal(pthread_create(&rt[i], NULL, conc_reader, &readers[i]), 0);
    }
    assert_int_equal(pthread_create(&wt, NULL, conc_writer, &shared), 0);
    assert_int_equal(pthread_join(wt, NULL), 0);
    for (int i = 0; i < CONC_READERS; i++)
        atomic_store(&readers[i].writer_done, 1);
    long errors = atomic_load(&shared.errors), in_file = 0;
    for (int i = 0; i < CONC_READERS; i++) {
        assert_int_equal(pthread_join(rt[i], NULL), 0);
        errors += atomic_load(&readers[i].errors);
        in_file += atomic_load(&readers[i].reads_in_file);
    }
    assert_int_equal(errors, 0);
    assert_true(in_file > 0);
    assert_int_equal(alog_end(log), CONC_TOTAL);
    assert_int_equal(alog_committed(log), CONC_TOTAL);
    check_range(log, 0, CONC_TOTAL, 65536);
    alog_free(log);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults_hold_sixty_seconds_and_fsync_every_200_ms),
    cmocka_unit_test(reads_across_the_ring_boundary_return_what_was_appended),
    cmocka_unit_test(reads_older_than_the_ring_come_from_the_file),
    cmocka_unit_test(read_at_the_end_gives_nothing_and_beyond_it_erange),
    cmocka_unit_test(bad_configs_are_refused),
    cmocka_unit_test(reopen_resumes_at_the_end_with_the_audio_intact),
    cmocka_unit_test(commit_persists_across_reopen_and_never_goes_backwards),
    cmocka_unit_test(commit_makes_the_audio_it_covers_durable),
    cmocka_unit_test(durable_never_passes_end_and_catches_up_on_flush),
    cmocka_unit_test(a_partial_sample_left_by_a_crash_is_cut_off_on_open),
    cmocka_unit_test(a_corrupt_header_is_refused_logged_and_left_untouched),
    cmocka_unit_test(a_corrupt_commit_file_is_refused),
    cmocka_unit_test(keys_outside_the_safe_alphabet_are_refused),
    cmocka_unit_test(a_second_open_of_the_same_meeting_is_busy),
    cmocka_unit_test(remove_deletes_every_file_of_the_meeting_and_only_those),
    cmocka_unit_test(a_failed_write_leaves_the_log_as_it_was),
    cmocka_unit_test(appends_reads_commits_and_remove_never_allocate),
    cmocka_unit_test(allocation_failures_in_open_return_enomem_and_leave_the_disk_alone),
    cmocka_unit_test(concurrent_readers_only_ever_see_what_was_written),
};

HARNESS_MAIN(tests)
