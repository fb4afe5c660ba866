/* Sources with real files, a real HTTP server (python3 -m http.server) and
 * real ffmpeg processes, all on 127.0.0.1. Tests that need ffmpeg skip when
 * /usr/bin/ffmpeg is missing (Debian package ffmpeg). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hark/audio.h"
#include "hark/clock.h"
#include "hark/error.h"
#include "hark/mem.h"
#include "hark/source.h"

#define FFMPEG "/usr/bin/ffmpeg"
#define PYTHON "/usr/bin/python3"
#define KEY "k3y-Secret_1"
#define CHUNK 4000
#define WAIT_MS 15000

/* 11 s, 16 kHz mono s16; HARK_TEST_DATA points elsewhere when needed. */
static const char *jfk_path(void)
{
    static char path[512];
    const char *dir = getenv("HARK_TEST_DATA");
    snprintf(path, sizeof path, "%s/jfk.wav", dir ? dir : "/work/shared/data");
    return path;
}

static void jfk_samples(float **out, size_t *n)
{
    assert_int_equal(audio_decode_file(jfk_path(), NULL, out, n, NULL), 0);
}

static void need_ffmpeg(void)
{
    if (access(FFMPEG, X_OK) != 0) {
        print_message("%s not installed (Debian package ffmpeg): skipping\n", FFMPEG);
        skip();
    }
}

/* Reads everything until HARK_ECLOSED; returns the samples (hark_free). */
static float *read_all(struct source *s, size_t *n_out)
{
    size_t cap = 0, n = 0;
    float *all = NULL;
    float buf[CHUNK];
    for (int64_t end = clock_mono_ms() + 60000;;) {
        assert_true(clock_mono_ms() < end);
        size_t got = 0;
        int rc = source_read(s, buf, CHUNK, &got, 200);
        if (rc == HARK_ECLOSED)
            break;
        if (rc == HARK_EAGAIN)
            continue;
        if (rc != 0)
            fail_msg("source_read: %s: %s", hark_strerror(rc), source_error(s));
        assert_true(got > 0 && got <= CHUNK);
        if (n + got > cap) {
            cap = (n + got) * 2;
            all = hark_realloc(all, cap * sizeof *all);
            assert_non_null(all);
        }
        memcpy(all + n, buf, got * sizeof *buf);
        n += got;
    }
    *n_out = n;
    return all;
}

static struct source *open_ok(const struct source_config *c)
{
    struct source *s = NULL;
    char why[256];
    int rc = source_open(c, &s, why, sizeof why);
    if (rc)
        fail_msg("source_open(%s): %s: %s", c->url, hark_strerror(rc), why);
    return s;
}

static int open_fails(const struct source_config *c, char *why, size_t size)
{
    struct source *s = (struct source *)1;
    why[0] = '\0';
    int rc = source_open(c, &s, why, size);
    assert_true(rc < 0);
    assert_null(s);
    assert_true(why[0] != '\0');
    assert_null(strchr(why, '\n'));
    return rc;
}

static void file_source_gives_exactly_the_decoded_samples_then_closed(void **state)
{
    (void)state;
    float *want;
    size_t n_want;
    jfk_samples(&want, &n_want);
    char url[600];
    snprintf(url, sizeof url, "file://%s", jfk_path());
    struct source_config c = source_config_default();
    c.url = url;
    struct source *s = open_ok(&c);
    size_t n;
    float *got = read_all(s, &n);
    assert_int_equal(n, n_want);
    assert_memory_equal(got, want, n * sizeof *got);
    float one;
    size_t k = 7;
    assert_int_equal(source_read(s, &one, 1, &k, 0), HARK_ECLOSED);
    assert_int_equal(k, 0);
    assert_int_equal(source_child_pid(s), -1);
    source_free(s);
    hark_free(got);
    hark_free(want);
}

static void realtime_file_source_waits_for_the_clock_then_gives_data(void **state)
{
    (void)state;
    char url[600];
    snprintf(url, sizeof url, "file://%s", jfk_path());
    struct source_config c = source_config_default();
    c.url = url;
    c.realtime = 1;
    struct source *s = open_ok(&c);
    float buf[CHUNK];
    size_t n = 0;
    /* Nothing is due at the very first read. */
    assert_int_equal(source_read(s, buf, CHUNK, &n, 0), HARK_EAGAIN);
    assert_int_equal(n, 0);
    int rc;
    do
        rc = source_read(s, buf, CHUNK, &n, 500);
    while (rc == HARK_EAGAIN);
    assert_int_equal(rc, 0);
    assert_true(n > 0 && n <= CHUNK);
    /* 11 s of audio cannot all be out after one read. */
    size_t total = n;
    while (source_read(s, buf, CHUNK, &n, 0) == 0)
        total += n;
    assert_true(total < 10 * AUDIO_RATE);
    source_free(s);
}

static void missing_file_is_enoent_with_its_path(void **state)
{
    (void)state;
    struct source_config c = source_config_default();
    c.url = "file:///no/such/dir/audio.wav";
    char why[256];
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_ENOENT);
    assert_non_null(strstr(why, "/no/such/dir/audio.wav"));
}

static void undecodable_file_is_eparse(void **state)
{
    (void)state;
    char path[512], url[600];
    snprintf(path, sizeof path, "%s/junk%%20x.wav", harness_tmpdir());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not audio at all, not even a little bit\n", f);
    fclose(f);
    snprintf(url, sizeof url, "file://%s/junk%%2520x.wav", harness_tmpdir());
    struct source_config c = source_config_default();
    c.url = url;
    char why[256];
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_EPARSE);
}

static void file_longer_than_max_samples_is_etoobig(void **state)
{
    (void)state;
    char url[600];
    snprintf(url, sizeof url, "file://%s", jfk_path());
    struct source_config c = source_config_default();
    c.url = url;
    c.max_samples = AUDIO_RATE * 5;
    char why[256];
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_ETOOBIG);
}

static void bad_urls_and_configs_are_einval(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "", "ftp://127.0.0.1/a.wav", "file://relative/a.wav", "file:///a%zz.wav",
        "file:///a%00b.wav", "rtmp://example.com:1935/live/k", "rtmp://127.0.0.1/live/k",
        "rtmp://127.0.0.1:0/live/k", "rtmp://127.0.0.1:70000/live/k",
        "rtmp://127.0.0.1:1935/app/k", "rtmp://127.0.0.1:1935/live/",
        "rtmp://127.0.0.1:1935/live/a/b", "rtmp://127.0.0.1:1935/live/a b",
        "rtmp://[::1:1935/live/k", "rtmp://999.0.0.1:1935/live/k",
    };
    char why[256];
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        struct source_config c = source_config_default();
        c.url = urls[i];
        if (open_fails(&c, why, sizeof why) != HARK_EINVAL)
            fail_msg("%s: %s", urls[i], why);
    }
    struct source_config c = source_config_default();
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_EINVAL); /* no URL */
    c.url = "file:///x.wav";
    c.max_samples = 0;
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_EINVAL);
    c = source_config_default();
    c.url = "rtmp://127.0.0.1:1935/live/k";
    c.ffmpeg = "ffmpeg"; /* no PATH search */
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_EINVAL);
    struct source *s = NULL;
    assert_int_equal(source_open(&c, NULL, why, sizeof why), HARK_EINVAL);
    assert_int_equal(source_open(NULL, &s, NULL, 0), HARK_EINVAL);
    float b;
    size_t n;
    assert_int_equal(source_read(NULL, &b, 1, &n, 0), HARK_EINVAL);
    assert_string_equal(source_error(NULL), "");
    source_free(NULL);
}

static void every_allocation_failure_on_the_file_path_is_enomem(void **state)
{
    (void)state;
    char url[600];
    snprintf(url, sizeof url, "file://%s", jfk_path());
    struct source_config c = source_config_default();
    c.url = url;
    int ok = 0;
    for (long i = 0; i < 10000 && !ok; i++) {
        struct source *s = NULL;
        char why[256] = "";
        hark_mem_fail_after(i);
        int rc = source_open(&c, &s, why, sizeof why);
        hark_mem_fail_after(-1);
        if (rc == 0) {
            float buf[CHUNK];
            size_t n;
            assert_int_equal(source_read(s, buf, CHUNK, &n, 0), 0);
            source_free(s);
            ok = 1;
        } else {
            assert_int_equal(rc, HARK_ENOMEM);
            assert_null(s);
            assert_true(why[0] != '\0');
        }
        harness_assert_no_leaks();
    }
    assert_true(ok);
}

/* ---- helpers for servers and publishers ------------------------------ */

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Something listens on 127.0.0.1:port (read from /proc, so the check itself
 * does not connect). */
static int port_listening(unsigned port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    assert_non_null(f);
    char line[512], want[32];
    snprintf(want, sizeof want, "0100007F:%04X", port);
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, want);
        if (p && strstr(p + strlen(want), " 0A "))
            found = 1;
    }
    fclose(f);
    return found;
}

static void wait_listening(unsigned port)
{
    for (int64_t end = clock_mono_ms() + WAIT_MS; clock_mono_ms() < end; usleep(10000))
        if (port_listening(port))
            return;
    fail_msg("nothing listens on port %u", port);
}

/* Runs argv with stdin, stdout and stderr on /dev/null. */
static pid_t run(const char *const *argv)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* python3 -m http.server serving the test's tmpdir on a free port. */
static pid_t http_server(unsigned *port)
{
    if (access(PYTHON, X_OK) != 0) {
        print_message("%s not installed: skipping\n", PYTHON);
        skip();
    }
    *port = free_port();
    char p[16];
    snprintf(p, sizeof p, "%u", *port);
    const char *argv[] = {PYTHON,      "-m",        "http.server",     p,
                          "--bind",    "127.0.0.1", "--directory",     harness_tmpdir(),
                          NULL};
    pid_t pid = run(argv);
    wait_listening(*port);
    return pid;
}

static void copy_jfk_to_tmpdir(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/jfk.wav'", jfk_path(), harness_tmpdir());
    assert_int_equal(system(cmd), 0);
}

static void http_source_gives_the_served_files_samples(void **state)
{
    (void)state;
    copy_jfk_to_tmpdir();
    unsigned port;
    pid_t srv = http_server(&port);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/jfk.wav", port);
    struct source_config c = source_config_default();
    c.url = url;
    struct source *s = open_ok(&c);
    stop(srv);
    float *want;
    size_t n_want, n;
    jfk_samples(&want, &n_want);
    float *got = read_all(s, &n);
    assert_int_equal(n, n_want);
    assert_memory_equal(got, want, n * sizeof *got);
    source_free(s);
    hark_free(got);
    hark_free(want);
}

static void http_404_is_enoent_and_a_body_over_the_cap_is_etoobig(void **state)
{
    (void)state;
    copy_jfk_to_tmpdir();
    unsigned port;
    pid_t srv = http_server(&port);
    char url[128], why[256];
    snprintf(url, sizeof url, "http://user:pw@127.0.0.1:%u/missing.wav?sig=SECRET", port);
    struct source_config c = source_config_default();
    c.url = url;
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_ENOENT);
    assert_non_null(strstr(why, "404"));
    assert_non_null(strstr(why, "/missing.wav"));
    assert_null(strstr(why, "SECRET")); /* signed URLs keep their secrets */
    assert_null(strstr(why, "pw@"));
    snprintf(url, sizeof url, "http://127.0.0.1:%u/jfk.wav", port);
    c.max_download_bytes = 1000;
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_ETOOBIG);
    assert_non_null(strstr(why, "1000 bytes"));
    stop(srv);
    /* Nobody listens any more. */
    c = source_config_default();
    c.url = url;
    c.connect_timeout_ms = 2000;
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_EIO);
}

/* ---- rtmp --------------------------------------------------------------- */

static struct source *rtmp_open(unsigned port, int connect_timeout_ms)
{
    char url[128];
    snprintf(url, sizeof url, "rtmp://127.0.0.1:%u/live/" KEY, port);
    struct source_config c = source_config_default();
    c.url = url;
    c.connect_timeout_ms = connect_timeout_ms;
    return open_ok(&c);
}

static pid_t publish(unsigned port, const char *app, const char *key, int realtime)
{
    char url[128];
    snprintf(url, sizeof url, "rtmp://127.0.0.1:%u/%s/%s", port, app, key);
    const char *argv[] = {FFMPEG, "-nostdin", "-loglevel", "error", "-re", "-i", jfk_path(),
                          "-c:a", "aac", "-ar", "44100", "-f", "flv", url, NULL};
    if (!realtime)
        memmove(&argv[4], &argv[5], sizeof argv - 5 * sizeof *argv);
    wait_listening(port);
    return run(argv);
}

static int pid_gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

static void rtmp_publisher_with_the_key_is_heard_until_it_disconnects(void **state)
{
    (void)state;
    need_ffmpeg();
    unsigned port = free_port();
    struct source *s = rtmp_open(port, 20000);
    pid_t ff = (pid_t)source_child_pid(s);
    assert_true(ff > 0);
    pid_t pub = publish(port, "live", KEY, 1);
    size_t n;
    float *got = read_all(s, &n);
    int st;
    assert_int_equal(waitpid(pub, &st, 0), pub);
    assert_true(n > (size_t)(10.5 * AUDIO_RATE) && n < (size_t)(11.5 * AUDIO_RATE));
    double energy = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(got[i] >= -1.0f && got[i] <= 1.0f);
        energy += (double)got[i] * got[i];
    }
    assert_true(energy > 1.0); /* speech, not silence */
    assert_non_null(strstr(source_error(s), "disconnected"));
    assert_true(pid_gone(ff));
    assert_int_equal(source_child_pid(s), -1);
    source_free(s);
    hark_free(got);
}

/* Reads until the source gives up; fails if any sample comes. */
static int read_nothing_until_final(struct source *s)
{
    float buf[CHUNK];
    for (int64_t end = clock_mono_ms() + 60000; clock_mono_ms() < end;) {
        size_t n = 0;
        int rc = source_read(s, buf, CHUNK, &n, 300);
        if (rc == 0)
            fail_msg("got %zu samples from a refused publisher", n);
        if (rc != HARK_EAGAIN)
            return rc;
    }
    fail_msg("the source never gave up");
    return 0;
}

static void rtmp_publisher_with_a_wrong_key_or_app_is_refused_and_never_heard(void **state)
{
    (void)state;
    need_ffmpeg();
    unsigned port = free_port();
    struct source *s = rtmp_open(port, 6000);
    pid_t first = (pid_t)source_child_pid(s);
    pid_t pub = publish(port, "live", "wrong-" KEY "x", 0);
    assert_int_equal(read_nothing_until_final(s), HARK_ETIMEDOUT);
    const char *e = source_error(s);
    assert_non_null(strstr(e, "wrong stream key"));
    assert_non_null(strstr(e, "refused"));
    assert_null(strstr(e, KEY)); /* the key is a secret */
    assert_true(pid_gone(first));
    stop(pub);
    source_free(s);

    port = free_port();
    s = rtmp_open(port, 6000);
    pub = publish(port, "other", KEY, 0);
    assert_int_equal(read_nothing_until_final(s), HARK_ETIMEDOUT);
    assert_non_null(strstr(source_error(s), "wrong application"));
    stop(pub);
    source_free(s);
}

static void rtmp_listens_again_after_a_refusal_and_hears_the_right_key(void **state)
{
    (void)state;
    need_ffmpeg();
    unsigned port = free_port();
    struct source *s = rtmp_open(port, 30000);
    pid_t bad = publish(port, "live", "nope", 0);
    float buf[CHUNK];
    size_t n = 0;
    int rc;
    /* Until the refusal is reported. */
    for (int64_t end = clock_mono_ms() + WAIT_MS; !strstr(source_error(s), "refused");) {
        assert_true(clock_mono_ms() < end);
        assert_int_equal(source_read(s, buf, CHUNK, &n, 100), HARK_EAGAIN);
    }
    stop(bad);
    /* The new listener starts inside source_read(). */
    for (int64_t end = clock_mono_ms() + WAIT_MS; !port_listening(port);) {
        assert_true(clock_mono_ms() < end);
        assert_int_equal(source_read(s, buf, CHUNK, &n, 50), HARK_EAGAIN);
    }
    pid_t good = publish(port, "live", KEY, 0);
    while ((rc = source_read(s, buf, CHUNK, &n, 200)) == HARK_EAGAIN)
        ;
    assert_int_equal(rc, 0);
    assert_true(n > 0);
    stop(good);
    source_free(s);
}

static void rtmp_probing_connection_is_refused_without_ending_the_source(void **state)
{
    (void)state;
    need_ffmpeg();
    unsigned port = free_port();
    struct source *s = rtmp_open(port, 30000);
    wait_listening(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    static const char junk[] = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    close(fd);
    float buf[CHUNK];
    size_t n;
    for (int64_t end = clock_mono_ms() + WAIT_MS; !strstr(source_error(s), "refused");) {
        assert_true(clock_mono_ms() < end);
        assert_int_equal(source_read(s, buf, CHUNK, &n, 100), HARK_EAGAIN);
    }
    /* still listening */
    for (int64_t end = clock_mono_ms() + WAIT_MS; !port_listening(port);) {
        assert_true(clock_mono_ms() < end);
        assert_int_equal(source_read(s, buf, CHUNK, &n, 50), HARK_EAGAIN);
    }
    source_free(s);
}

static void rtmp_port_in_use_is_eio_saying_so(void **state)
{
    (void)state;
    need_ffmpeg();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    struct source *s = rtmp_open(ntohs(a.sin_port), 30000);
    float buf[CHUNK];
    size_t n;
    int rc;
    int64_t end = clock_mono_ms() + WAIT_MS;
    while ((rc = source_read(s, buf, CHUNK, &n, 100)) == HARK_EAGAIN)
        assert_true(clock_mono_ms() < end);
    assert_int_equal(rc, HARK_EIO);
    assert_non_null(strstr(source_error(s), "Address already in use"));
    source_free(s);
    close(fd);
}

static void rtmp_without_publisher_times_out_and_never_blocks_past_the_timeout(void **state)
{
    (void)state;
    need_ffmpeg();
    unsigned port = free_port();
    struct source *s = rtmp_open(port, 1500);
    float buf[CHUNK];
    size_t n;
    int rc;
    int64_t t0 = clock_mono_ms();
    do {
        int64_t t = clock_mono_ms();
        rc = source_read(s, buf, CHUNK, &n, 100);
        /* generous: the point is "bounded", not a benchmark */
        assert_true(clock_mono_ms() - t < 1500);
    } while (rc == HARK_EAGAIN);
    assert_int_equal(rc, HARK_ETIMEDOUT);
    assert_true(clock_mono_ms() - t0 < 10000);
    assert_non_null(strstr(source_error(s), "no RTMP publisher"));
    assert_int_equal(source_child_pid(s), -1);
    assert_int_equal(source_read(s, buf, CHUNK, &n, 0), HARK_ETIMEDOUT); /* final */
    source_free(s);
}

static void source_free_while_ffmpeg_runs_leaves_no_process(void **state)
{
    (void)state;
    need_ffmpeg();
    unsigned port = free_port();
    struct source *s = rtmp_open(port, 60000);
    pid_t ff = (pid_t)source_child_pid(s);
    assert_true(ff > 0);
    pid_t pub = publish(port, "live", KEY, 1);
    float buf[CHUNK];
    size_t n;
    int rc;
    while ((rc = source_read(s, buf, CHUNK, &n, 200)) == HARK_EAGAIN)
        ;
    assert_int_equal(rc, 0);
    ff = (pid_t)source_child_pid(s);
    int64_t t0 = clock_mono_ms();
    source_free(s);
    assert_true(clock_mono_ms() - t0 < 3000);
    assert_true(pid_gone(ff));
    stop(pub);
    /* and while only listening */
    s = rtmp_open(free_port(), 60000);
    ff = (pid_t)source_child_pid(s);
    source_free(s);
    assert_true(pid_gone(ff));
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void missing_ffmpeg_is_enoent(void **state)
{
    (void)state;
    struct source_config c = source_config_default();
    c.url = "rtmp://127.0.0.1:1935/live/k";
    c.ffmpeg = "/nonexistent/ffmpeg";
    char why[256];
    assert_int_equal(open_fails(&c, why, sizeof why), HARK_ENOENT);
    assert_non_null(strstr(why, "/nonexistent/ffmpeg"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(file_source_gives_exactly_the_decoded_samples_then_closed),
    cmocka_unit_test(realtime_file_source_waits_for_the_clock_then_gives_data),
    cmocka_unit_test(missing_file_is_enoent_with_its_path),
    cmocka_unit_test(undecodable_file_is_eparse),
    cmocka_unit_test(file_longer_than_max_samples_is_etoobig),
    cmocka_unit_test(bad_urls_and_configs_are_einval),
    cmocka_unit_test(every_allocation_failure_on_the_file_path_is_enomem),
    cmocka_unit_test(http_source_gives_the_served_files_samples),
    cmocka_unit_test(http_404_is_enoent_and_a_body_over_the_cap_is_etoobig),
    cmocka_unit_test(rtmp_publisher_with_the_key_is_heard_until_it_disconnects),
    cmocka_unit_test(rtmp_publisher_with_a_wrong_key_or_app_is_refused_and_never_heard),
    cmocka_unit_test(rtmp_listens_again_after_a_refusal_and_hears_the_right_key),
    cmocka_unit_test(rtmp_probing_connection_is_refused_without_ending_the_source),
    cmocka_unit_test(rtmp_port_in_use_is_eio_saying_so),
    cmocka_unit_test(rtmp_without_publisher_times_out_and_never_blocks_past_the_timeout),
    cmocka_unit_test(source_free_while_ffmpeg_runs_leaves_no_process),
    cmocka_unit_test(missing_ffmpeg_is_enoent),
};

HARNESS_MAIN(tests)
