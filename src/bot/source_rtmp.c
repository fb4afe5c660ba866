/* The rtmp source: an ffmpeg child listening for one publisher, its stdout
 * read as float samples, its stderr read for the key check and errors. The
 * design and the ffmpeg command are in hark/source.h; the spawn mirrors
 * src/bot/process.c (see hark/bot.h for why vfork).
 *
 * The gate: samples are read from ffmpeg's stdout only after its stderr
 * said "Output #0, …, to 'pipe:1':". ffmpeg prints that after it accepted a
 * publisher and opened the decoder, and writes no sample before it; the
 * wrong-app and wrong-stream lines come before it on the same pipe. So
 * every check line about a publisher has been seen before the first sample
 * of that publisher is read, whatever order poll() reports the two pipes
 * in. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "source_private.h"
#include "spawn_private.h"

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PCM_FORMAT "f32le"
#else
#define PCM_FORMAT "f32be"
#endif

#define LINE_MAX_BYTES 400     /* of one kept stderr line; the rest is dropped */
#define RESTART_DELAY_MS 200   /* between a refused publisher and listening again */
#define TERM_GRACE_MS 1000     /* source_free(): SIGTERM -> SIGKILL */
#define READ_MAX_SAMPLES ((size_t)1 << 20)
#define GATE_LINE "Output #0, " PCM_FORMAT ", to 'pipe:1':"

struct source_rtmp {
    char *ffmpeg;              /* copied */
    struct source_rtmp_url u;
    char shown[96];            /* the URL with the key as "***", for messages */
    int connect_timeout_ms;
    int64_t connect_deadline;  /* monotonic ms */
    int64_t restart_at;
    pid_t pid;                 /* -1: no ffmpeg running */
    int out_fd, err_fd;        /* -1 once closed */
    int accepted;              /* the gate is open (see above) */
    const char *wrong;         /* this ffmpeg's publisher named a wrong app/key */
    int listen_failed;         /* this ffmpeg could not listen */
    int refused;               /* publishers refused so far */
    char refused_why[LINE_MAX_BYTES + 64];
    unsigned char carry[4];    /* a sample split across two reads */
    size_t carry_len;
    size_t line_len;
    int line_skip;             /* dropping the tail of an overlong line */
    char line[LINE_MAX_BYTES + 1];
    char last[LINE_MAX_BYTES + 1]; /* last non-empty stderr line, key redacted */
};

/* What the vfork child needs, prepared by the parent. */
struct exec_args {
    const char *const *argv;
    int out_fd, err_fd, null_fd, status_fd;
    pid_t parent;
};

__attribute__((noreturn)) static void child_report(int fd)
{
    int e = errno;
    ssize_t w = write(fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* Runs in the vfork child on the parent's memory: system calls only. Every
 * signal is blocked (by the parent) until just before execve. */
__attribute__((noreturn, noinline)) static void child_exec(const struct exec_args *a)
{
    spawn_child_reset_signals();
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        child_report(a->status_fd);
    if (getppid() != a->parent)
        _exit(127); /* the bot died before PDEATHSIG was armed */
    if (dup2(a->null_fd, 0) < 0 || dup2(a->out_fd, 1) < 0 || dup2(a->err_fd, 2) < 0)
        child_report(a->status_fd);
    spawn_child_close_fds(a->status_fd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    static char *const no_env[] = {NULL};
    execve(a->argv[0], (char *const *)a->argv, no_env);
    child_report(a->status_fd);
}

/* Its own frame, so no local of the caller lives across vfork(). */
__attribute__((noinline)) static pid_t fork_exec(const struct exec_args *a)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
    if (pid == 0)
        child_exec(a); /* NOLINT(clang-analyzer-unix.Vfork) */
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return pid;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Starts ffmpeg listening until the connect deadline (ffmpeg's own -timeout
 * is a backstop one second later; ours ends it first). */
static int spawn(struct source_rtmp *r, char *why, size_t why_size)
{
    int64_t left_ms = r->connect_deadline - clock_mono_ms();
    char secs[24], url[sizeof r->u.host + sizeof r->u.key + 32];
    snprintf(secs, sizeof secs, "%lld", (long long)(left_ms > 0 ? left_ms / 1000 + 2 : 2));
    snprintf(url, sizeof url, "rtmp://%s:%u/live/%s", r->u.host, r->u.port, r->u.key);
    const char *argv[] = {r->ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel",
                          "info", "-listen", "1", "-timeout", secs, "-i", url, "-vn",
                          "-ac", "1", "-ar", "16000", "-f", PCM_FORMAT, "pipe:1", NULL};
    int out[2] = {-1, -1}, err[2] = {-1, -1}, st[2] = {-1, -1};
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int rc = 0;
    if (null_fd < 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        pipe2(st, O_CLOEXEC) != 0 || (null_fd = spawn_fd_above_stdio(null_fd)) < 0 ||
        (out[1] = spawn_fd_above_stdio(out[1])) < 0 ||
        (err[1] = spawn_fd_above_stdio(err[1])) < 0 || (st[1] = spawn_fd_above_stdio(st[1])) < 0 ||
        fcntl(out[0], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(err[0], F_SETFL, O_NONBLOCK) != 0) {
        rc = source_fail(why, why_size, HARK_EIO, "cannot start ffmpeg: %s", strerror(errno));
        goto out;
    }
    struct exec_args a = {.argv = argv, .out_fd = out[1], .err_fd = err[1],
                          .null_fd = null_fd, .status_fd = st[1], .parent = getpid()};
    pid_t pid = fork_exec(&a);
    int fork_errno = errno;
    close_fd(&st[1]);
    int e = 0;
    ssize_t n = 0;
    if (pid > 0) {
        /* EOF: execve closed the pipe. */
        do
            n = read(st[0], &e, sizeof e);
        while (n < 0 && errno == EINTR);
    }
    if (pid < 0 || n != 0) {
        if (pid > 0) {
            kill(pid, SIGKILL); /* only matters if the status pipe itself failed */
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        e = pid < 0 ? fork_errno : n == (ssize_t)sizeof e ? e : EIO;
        if (e == ENOENT || e == ENOTDIR)
            rc = source_fail(why, why_size, HARK_ENOENT, "no ffmpeg at %s (install ffmpeg)",
                             r->ffmpeg);
        else if (e == EACCES || e == EPERM || e == ENOEXEC)
            rc = source_fail(why, why_size, HARK_EPERM, "cannot run %s: %s", r->ffmpeg,
                             strerror(e));
        else
            rc = source_fail(why, why_size, HARK_EIO, "cannot start %s: %s", r->ffmpeg,
                             strerror(e));
        goto out;
    }
    /* 1 MiB is 16 s of audio a slow reader may fall behind before ffmpeg,
     * and then the publisher, has to wait; best effort (pipe-max-size). */
    (void)fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
    r->pid = pid;
    r->out_fd = out[0];
    r->err_fd = err[0];
    out[0] = err[0] = -1;
    r->wrong = NULL;
    r->listen_failed = 0;
    r->line_len = 0;
    r->line_skip = 0;
    r->carry_len = 0;
    log_info("source", "msg=\"ffmpeg listening\" url=%s pid=%d", r->shown, (int)pid);
out:
    for (int i = 0; i < 2; i++) {
        close_fd(&out[i]);
        close_fd(&err[i]);
        close_fd(&st[i]);
    }
    if (null_fd >= 0)
        close(null_fd);
    memset(url, 0, sizeof url); /* the key */
    return rc;
}

/* Waits up to wait_ms for ffmpeg to end; 1 once reaped (*status set). */
static int reap(struct source_rtmp *r, int wait_ms, int *status)
{
    if (r->pid <= 0)
        return 1; /* never waitpid(-1): the bot's other children are not ours */
    int64_t end = clock_mono_ms() + wait_ms;
    for (;;) {
        pid_t p = waitpid(r->pid, status, WNOHANG);
        if (p == r->pid || (p < 0 && errno == ECHILD)) {
            if (p < 0)
                *status = -1; /* reaped behind our back */
            r->pid = -1;
            return 1;
        }
        if (p < 0 && errno != EINTR)
            return 0;
        int64_t now = clock_mono_ms();
        if (now >= end)
            return 0;
        poll(NULL, 0, end - now < 10 ? (int)(end - now) : 10);
    }
}

/* Ends ffmpeg now, whatever it is doing. */
static void child_kill(struct source_rtmp *r)
{
    close_fd(&r->out_fd);
    close_fd(&r->err_fd);
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        int st;
        while (r->pid > 0 && !reap(r, 1000, &st))
            ;
    }
}

/* Copies src into dst with every occurrence of the key as "***". */
static void redact(const struct source_rtmp *r, const char *src, char *dst, size_t size)
{
    size_t klen = strlen(r->u.key), n = 0;
    while (*src && n + 1 < size) {
        if (klen && !strncmp(src, r->u.key, klen)) {
            for (const char *m = "***"; *m && n + 1 < size; m++)
                dst[n++] = *m;
            src += klen;
        } else {
            dst[n++] = *src++;
        }
    }
    dst[n] = '\0';
}

static void line_done(struct source_rtmp *r)
{
    r->line[r->line_len] = '\0';
    r->line_len = 0;
    const char *l = r->line;
    if (!*l)
        return;
    /* The checks see the line as ffmpeg wrote it; see the gate above. */
    if (strstr(l, "Unexpected stream "))
        r->wrong = "a wrong stream key";
    else if (strstr(l, "App field don't match up"))
        r->wrong = "a wrong application name (not \"live\")";
    else if (!r->accepted && !r->wrong && !strcmp(l, GATE_LINE))
        r->accepted = 1;
    else if (strstr(l, "Cannot open connection"))
        r->listen_failed = 1;
    redact(r, l, r->last, sizeof r->last);
    char q[2 * LINE_MAX_BYTES];
    log_debug("source", "pid=%d ffmpeg=%s", (int)r->pid, log_quote(q, sizeof q, r->last));
}

/* Reads what ffmpeg wrote to stderr; closes the pipe at EOF. */
static void stderr_drain(struct source_rtmp *r)
{
    char chunk[4096];
    for (;;) {
        ssize_t n = read(r->err_fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (r->line_len && !r->line_skip)
                line_done(r);
            close_fd(&r->err_fd);
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            char ch = chunk[i];
            if (ch == '\n' || ch == '\r') {
                if (!r->line_skip)
                    line_done(r);
                r->line_skip = 0;
                r->line_len = 0;
            } else if (!r->line_skip) {
                if (r->line_len == LINE_MAX_BYTES) {
                    line_done(r); /* the checks only look at a line's start */
                    r->line_skip = 1;
                } else {
                    r->line[r->line_len++] = ch;
                }
            }
        }
    }
}

/* Reads samples from ffmpeg's stdout into buf: 0 with *n_out >= 0 (0 when
 * nothing is there yet), closing the pipe at EOF. */
static int stdout_read(struct source_rtmp *r, float *buf, size_t max, size_t *n_out)
{
    if (max > READ_MAX_SAMPLES)
        max = READ_MAX_SAMPLES;
    unsigned char *bytes = (unsigned char *)buf;
    memcpy(bytes, r->carry, r->carry_len);
    ssize_t got;
    do
        got = read(r->out_fd, bytes + r->carry_len, max * sizeof *buf - r->carry_len);
    while (got < 0 && errno == EINTR);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (got <= 0) {
        close_fd(&r->out_fd); /* a partial last sample is dropped */
        return 0;
    }
    size_t total = r->carry_len + (size_t)got, n = total / sizeof *buf;
    r->carry_len = total % sizeof *buf;
    memcpy(r->carry, bytes + n * sizeof *buf, r->carry_len);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(buf[i]))
            buf[i] = 0.0f;
        else if (buf[i] > 1.0f)
            buf[i] = 1.0f;
        else if (buf[i] < -1.0f)
            buf[i] = -1.0f;
    }
    *n_out = n;
    return 0;
}

static int timed_out(struct source_rtmp *r, char *err)
{
    child_kill(r);
    if (r->refused)
        return source_fail(err, SOURCE_ERROR_MAX, HARK_ETIMEDOUT,
                           "no RTMP publisher was accepted at %s within %d ms (%d refused, "
                           "the last for %s)",
                           r->shown, r->connect_timeout_ms, r->refused, r->refused_why);
    return source_fail(err, SOURCE_ERROR_MAX, HARK_ETIMEDOUT,
                       "no RTMP publisher connected to %s within %d ms", r->shown,
                       r->connect_timeout_ms);
}

/* Refuses the current publisher: ffmpeg is killed before any of its samples
 * are read and a new one listens after RESTART_DELAY_MS. */
static void refuse(struct source_rtmp *r, const char *reason, char *err)
{
    child_kill(r);
    r->refused++;
    snprintf(r->refused_why, sizeof r->refused_why, "%s", reason);
    r->restart_at = clock_mono_ms() + RESTART_DELAY_MS;
    char q[sizeof r->refused_why + 16];
    log_warn("source", "msg=\"refused RTMP publisher\" url=%s reason=%s refused=%d", r->shown,
             log_quote(q, sizeof q, reason), r->refused);
    source_fail(err, SOURCE_ERROR_MAX, 0, "refused an RTMP publisher at %s: %s; listening again",
                r->shown, reason);
}

/* ffmpeg's stderr ended before a publisher was accepted. */
static int ended_early(struct source_rtmp *r, char *err)
{
    child_kill(r);
    if (r->listen_failed && !strstr(r->last, "timed out"))
        return source_fail(err, SOURCE_ERROR_MAX, HARK_EIO, "ffmpeg cannot listen at %s: %s",
                           r->shown, r->last);
    if (r->listen_failed)
        return timed_out(r, err);
    char why[LINE_MAX_BYTES + 32];
    snprintf(why, sizeof why, "ffmpeg said \"%s\"", r->last);
    refuse(r, why, err);
    return 0;
}

/* Both pipes are closed: ffmpeg is ending after an accepted publisher. */
static int ended(struct source_rtmp *r, int64_t deadline, char *err)
{
    int st = 0;
    int64_t now = clock_mono_ms();
    if (!reap(r, deadline > now ? (int)(deadline - now) : 0, &st))
        return HARK_EAGAIN;
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        log_info("source", "msg=\"RTMP publisher disconnected\" url=%s", r->shown);
        return source_fail(err, SOURCE_ERROR_MAX, HARK_ECLOSED,
                           "the RTMP publisher disconnected");
    }
    if (st != -1 && WIFSIGNALED(st))
        return source_fail(err, SOURCE_ERROR_MAX, HARK_EIO, "ffmpeg was killed by signal %d",
                           WTERMSIG(st));
    return source_fail(err, SOURCE_ERROR_MAX, HARK_EIO, "ffmpeg failed (status %d): %s",
                       st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, r->last);
}

int source_rtmp_read(struct source_rtmp *r, float *buf, size_t max, size_t *n_out,
                     int timeout_ms, char *err)
{
    int64_t now = clock_mono_ms(), deadline = now + timeout_ms;
    for (;;) {
        if (!r->accepted && now >= r->connect_deadline)
            return timed_out(r, err);
        if (r->pid < 0 && !r->accepted) {
            if (now >= r->restart_at) {
                int rc = spawn(r, err, SOURCE_ERROR_MAX);
                if (rc)
                    return rc;
            } else {
                int64_t until = r->restart_at < deadline ? r->restart_at : deadline;
                poll(NULL, 0, (int)(until - now));
                now = clock_mono_ms();
                if (now >= deadline)
                    return HARK_EAGAIN;
                continue;
            }
        }
        struct pollfd p[2];
        nfds_t n = 0;
        if (r->err_fd >= 0)
            p[n++] = (struct pollfd){.fd = r->err_fd, .events = POLLIN};
        if (r->accepted && r->out_fd >= 0)
            p[n++] = (struct pollfd){.fd = r->out_fd, .events = POLLIN};
        if (n == 0)
            return ended(r, deadline, err);
        int64_t until = deadline;
        if (!r->accepted && r->connect_deadline < until)
            until = r->connect_deadline;
        if (poll(p, n, until > now ? (int)(until - now) : 0) < 0 && errno != EINTR)
            return source_fail(err, SOURCE_ERROR_MAX, HARK_EIO, "poll: %s", strerror(errno));
        if (r->err_fd >= 0)
            stderr_drain(r);
        if (r->wrong) {
            const char *why = r->wrong;
            int was_accepted = r->accepted;
            refuse(r, why, err);
            if (was_accepted)
                return source_fail(err, SOURCE_ERROR_MAX, HARK_EPERM,
                                   "the RTMP publisher at %s named %s", r->shown, why);
        } else if (r->accepted && r->out_fd >= 0) {
            int rc = stdout_read(r, buf, max, n_out);
            if (rc || *n_out)
                return rc;
        } else if (!r->accepted && r->err_fd < 0 && r->pid > 0) {
            int rc = ended_early(r, err);
            if (rc)
                return rc;
        }
        now = clock_mono_ms();
        if (now >= deadline && (r->accepted || now < r->connect_deadline))
            return HARK_EAGAIN;
    }
}

int source_rtmp_open(const struct source_config *c, const struct source_rtmp_url *u,
                     struct source_rtmp **out, char *why, size_t why_size)
{
    struct source_rtmp *r = hark_calloc(1, sizeof *r);
    if (!r)
        return source_fail(why, why_size, HARK_ENOMEM, "out of memory");
    r->pid = -1;
    r->out_fd = r->err_fd = -1;
    r->u = *u;
    r->connect_timeout_ms = c->connect_timeout_ms;
    r->connect_deadline = clock_mono_ms() + c->connect_timeout_ms;
    snprintf(r->shown, sizeof r->shown, "rtmp://%s:%u/live/***", u->host, u->port);
    r->ffmpeg = hark_strdup(c->ffmpeg);
    int rc = r->ffmpeg ? spawn(r, why, why_size)
                       : source_fail(why, why_size, HARK_ENOMEM, "out of memory");
    if (rc) {
        source_rtmp_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int source_rtmp_pid(const struct source_rtmp *r)
{
    return (int)r->pid;
}

void source_rtmp_free(struct source_rtmp *r)
{
    if (!r)
        return;
    /* Closed pipes first: an ffmpeg blocked writing gets EPIPE at once. */
    close_fd(&r->out_fd);
    close_fd(&r->err_fd);
    if (r->pid > 0) {
        int st;
        kill(r->pid, SIGTERM);
        if (!reap(r, TERM_GRACE_MS, &st))
            child_kill(r);
    }
    hark_free(r->ffmpeg);
    memset(&r->u, 0, sizeof r->u);
    hark_free(r);
}
