/* The process driver: bots as child processes of `hark serve`. The design
 * (vfork, groups, limits, the driver thread) is explained in hark/bot.h.
 *
 * Locking: d->lock guards the child list, the request queue and every
 * child's state fields. Only the driver thread forks, reads pipes, closes a
 * child's descriptors and frees a child, so it reads those without the lock;
 * any thread may reap (child_collect) under the lock. Callers find a child
 * by handle again after every wait, because another caller's stop may have
 * released it meanwhile. */
#include "hark/bot.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bot_private.h"
#include "spawn_private.h"
#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"

/* How long stop and free wait after SIGKILL: only a process stuck in the
 * kernel (uninterruptible sleep) takes longer to die. */
#define KILL_WAIT_MS 5000
/* Callers waiting for an exit, and the driver thread when a bot has no
 * pidfd (Linux < 5.3), look for ended bots this often. */
#define EXIT_POLL_MS 100
#define READ_CHUNK 4096
/* A bot that keeps writing must not hold up its own release forever. */
#define DRAIN_MAX_CHUNKS 64
/* Fits log_write()'s 2 KiB line with the prefix and the other fields. */
#define QUOTED_MAX 1900

/* Which step failed in the child, for the log. */
enum exec_step { STEP_SETPGID = 1, STEP_PDEATHSIG, STEP_RLIMIT, STEP_DUP2, STEP_EXEC };
static const char *const step_names[] = {"", "setpgid", "pdeathsig", "setrlimit", "dup2",
                                         "execve"};

struct child {
    struct child *next;
    char handle[BOT_HANDLE_MAX];
    int64_t meeting_id, user_id;
    pid_t pid;                 /* also its process group id */
    /* under d->lock */
    int reaped;
    int released;              /* stop() is done with it; the thread frees it */
    enum bot_state state;
    int exit_code, signal;
    /* the driver thread's alone */
    int out_fd;                /* stdout+stderr read end; -1 once closed */
    int pidfd;                 /* readable once pid ended; -1 if none or closed */
    int ended_hint;            /* pidfd was readable */
    int skipping;              /* dropping the tail of an overlong line */
    size_t line_len;
    char line[BOT_LINE_MAX + 1];
};

struct spawn_req {
    struct spawn_req *next;
    const struct bot_spec *spec;
    char *handle_out;
    int done, err;
};

struct proc_driver {
    struct bot_driver base;
    struct bot_process_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* broadcast on every reap, spawn and free */
    pthread_t thread;
    int wake_fd;               /* eventfd that wakes the driver thread */
    int null_fd;               /* /dev/null: the bots' stdin */
    int64_t start_ms;
    unsigned long long seq;
    int quit;
    struct child *children;
    size_t n_children;
    struct spawn_req *reqs;
    /* the driver thread's poll set: wake_fd, then pipes and pidfds */
    struct pollfd *pfd;
    struct child **pfd_child;
    size_t pfd_cap;
};

/* What the vfork child needs, prepared by the parent. */
struct exec_args {
    const struct bot_spec *spec;
    char *const *env;
    int out_fd, null_fd, err_fd;
    pid_t parent;
};

static struct proc_driver *proc_of(struct bot_driver *base)
{
    return (struct proc_driver *)base;
}

static void driver_wake(struct proc_driver *d)
{
    uint64_t one = 1;
    ssize_t w = write(d->wake_fd, &one, sizeof one);
    (void)w; /* a full counter already means "wake up" */
}

__attribute__((noreturn)) static void child_report(int err_fd, int step)
{
    int msg[2] = {step, errno};
    ssize_t w = write(err_fd, msg, sizeof msg);
    (void)w;
    _exit(127);
}

static int child_limit(__rlimit_resource_t resource, uint64_t value)
{
    struct rlimit rl = {(rlim_t)value, (rlim_t)value};
    return setrlimit(resource, &rl);
}

/* Runs in the vfork child, on the parent's memory with the parent thread
 * suspended: only system calls, nothing that allocates, takes a lock or
 * writes anything but its own locals. Every signal is blocked (the driver
 * thread runs with all of them blocked) until just before execve, so no
 * handler of hark's can run here. */
__attribute__((noreturn, noinline)) static void child_exec(const struct exec_args *a)
{
    spawn_child_reset_signals();
    if (setpgid(0, 0) != 0)
        child_report(a->err_fd, STEP_SETPGID);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        child_report(a->err_fd, STEP_PDEATHSIG);
    if (getppid() != a->parent)
        _exit(127); /* hark died before PDEATHSIG was armed */
    const struct bot_limits *l = &a->spec->limits;
    if ((l->memory_bytes && child_limit(RLIMIT_AS, l->memory_bytes) != 0) ||
        (l->open_files && child_limit(RLIMIT_NOFILE, l->open_files) != 0) ||
        child_limit(RLIMIT_CORE, 0) != 0)
        child_report(a->err_fd, STEP_RLIMIT);
    if (l->cpu_seconds) {
        /* SIGXCPU at the soft limit lets a bot end cleanly; SIGKILL a second
         * later ends one that ignores it. */
        struct rlimit rl = {(rlim_t)l->cpu_seconds, (rlim_t)l->cpu_seconds + 1};
        if (setrlimit(RLIMIT_CPU, &rl) != 0)
            child_report(a->err_fd, STEP_RLIMIT);
    }
    if (dup2(a->null_fd, 0) < 0 || dup2(a->out_fd, 1) < 0 || dup2(a->out_fd, 2) < 0)
        child_report(a->err_fd, STEP_DUP2);
    spawn_child_close_fds(a->err_fd);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(a->spec->argv[0], (char *const *)a->spec->argv, a->env);
    child_report(a->err_fd, STEP_EXEC);
}

/* Its own frame, so no local of the caller lives across vfork(). The
 * analyzer's vfork warnings are the hazards child_exec() is written to
 * avoid; hark/bot.h says why posix_spawn cannot do this job. */
__attribute__((noinline)) static pid_t fork_exec(const struct exec_args *a)
{
    pid_t pid = vfork(); /* NOLINT(clang-analyzer-security.insecureAPI.vfork) */
    if (pid == 0)
        child_exec(a); /* NOLINT(clang-analyzer-unix.Vfork) */
    return pid;
}

static int errno_to_hark(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: return HARK_ENOENT;
    case EACCES:
    case EPERM:
    case ENOEXEC: return HARK_EPERM;
    case ENOMEM: return HARK_ENOMEM;
    default: return HARK_EIO;
    }
}

static int pfd_reserve(struct proc_driver *d, size_t n_children)
{
    size_t want = 1 + 2 * n_children;
    if (want <= d->pfd_cap)
        return 0;
    size_t cap = want * 2;
    struct pollfd *p = hark_realloc(d->pfd, cap * sizeof *p);
    if (!p)
        return HARK_ENOMEM;
    d->pfd = p;
    struct child **pc = hark_realloc(d->pfd_child, cap * sizeof *pc);
    if (!pc)
        return HARK_ENOMEM;
    d->pfd_child = pc;
    d->pfd_cap = cap;
    return 0;
}

static void close_pair(int fds[2])
{
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
        fds[i] = -1;
    }
}

/* Forks one bot; driver thread, under the lock. */
static int spawn_one(struct proc_driver *d, const struct bot_spec *spec, char *handle_out)
{
    if (pfd_reserve(d, d->n_children + 1) != 0)
        return HARK_ENOMEM;
    struct child *c = hark_calloc(1, sizeof *c);
    if (!c)
        return HARK_ENOMEM;
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        (out[1] = spawn_fd_above_stdio(out[1])) < 0 ||
        (err[1] = spawn_fd_above_stdio(err[1])) < 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) != 0) {
        log_error("bot", "msg=\"spawn failed\" meeting=%lld step=pipe errno=%d",
                  (long long)spec->meeting_id, errno);
        close_pair(out);
        close_pair(err);
        hark_free(c);
        return HARK_EIO;
    }
    static char *const no_env[] = {NULL};
    struct exec_args a = {
        .spec = spec,
        .env = spec->env ? (char *const *)spec->env : no_env,
        .out_fd = out[1],
        .null_fd = d->null_fd,
        .err_fd = err[1],
        .parent = getpid(),
    };
    pid_t pid = fork_exec(&a);
    int fork_errno = errno;
    close(out[1]);
    close(err[1]);
    int msg[2] = {0, 0};
    ssize_t n = 0;
    if (pid > 0) {
        /* EOF: execve closed the pipe. Under vfork the child is already past
         * it; under a sanitizer's fork emulation this waits for it. */
        do
            n = read(err[0], msg, sizeof msg);
        while (n < 0 && errno == EINTR);
    }
    close(err[0]);
    if (pid < 0 || n != 0) {
        int e = pid < 0 ? fork_errno : n == (ssize_t)sizeof msg ? msg[1] : EIO;
        int step = pid < 0 || n != (ssize_t)sizeof msg || msg[0] < 1 || msg[0] > STEP_EXEC
                       ? 0
                       : msg[0];
        if (pid > 0) {
            kill(pid, SIGKILL); /* only matters if the error pipe itself failed */
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        char eb[128], q[160];
        log_warn("bot", "msg=\"spawn failed\" meeting=%lld step=%s error=%s",
                 (long long)spec->meeting_id, pid < 0 ? "vfork" : step_names[step],
                 log_quote(q, sizeof q, strerror_r(e, eb, sizeof eb)));
        close(out[0]);
        hark_free(c);
        return pid < 0 ? HARK_EIO : errno_to_hark(e);
    }
    c->pid = pid;
    c->meeting_id = spec->meeting_id;
    c->user_id = spec->user_id;
    c->state = BOT_STATE_RUNNING;
    c->out_fd = out[0];
    c->pidfd = pidfd_open(pid, 0); /* -1 on old kernels: polled instead */
    snprintf(c->handle, sizeof c->handle, "proc-%lld-%llu-%d", (long long)d->start_ms,
             ++d->seq, (int)pid);
    c->next = d->children;
    d->children = c;
    d->n_children++;
    memcpy(handle_out, c->handle, strlen(c->handle) + 1);
    log_info("bot", "msg=\"started\" meeting=%lld user=%lld pid=%d handle=%s",
             (long long)c->meeting_id, (long long)c->user_id, (int)pid, c->handle);
    return 0;
}

/* Reaps c if its main process ended. Under the lock; any thread. The rest
 * of the group gets SIGKILL first, while the unreaped zombie still holds the
 * group id, so the signal cannot reach a process that reused it. */
static void child_collect(struct proc_driver *d, struct child *c)
{
    if (c->reaped)
        return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0) {
        if (si.si_pid == 0)
            return; /* still running */
        kill(-c->pid, SIGKILL);
        int st = 0;
        pid_t r;
        do
            r = waitpid(c->pid, &st, 0);
        while (r < 0 && errno == EINTR);
        if (r == c->pid && WIFEXITED(st)) {
            c->state = BOT_STATE_EXITED;
            c->exit_code = WEXITSTATUS(st);
        } else if (r == c->pid && WIFSIGNALED(st)) {
            c->state = BOT_STATE_KILLED;
            c->signal = WTERMSIG(st);
        } else {
            c->state = BOT_STATE_UNKNOWN;
        }
    } else if (errno == ECHILD) {
        /* Reaped behind our back (SIGCHLD ignored, or a waitpid(-1)): the
         * group id may be reused now, so it is not signalled again. */
        c->state = BOT_STATE_UNKNOWN;
        log_warn("bot", "msg=\"bot reaped elsewhere\" meeting=%lld pid=%d",
                 (long long)c->meeting_id, (int)c->pid);
    } else {
        return;
    }
    c->reaped = 1;
    log_info("bot", "msg=\"ended\" meeting=%lld pid=%d state=%s code=%d signal=%d",
             (long long)c->meeting_id, (int)c->pid, bot_state_name(c->state), c->exit_code,
             c->signal);
    pthread_cond_broadcast(&d->cond);
}

static void line_emit(struct child *c, int truncated)
{
    size_t len = c->line_len;
    if (len && c->line[len - 1] == '\r')
        len--;
    c->line[len] = '\0';
    char q[QUOTED_MAX];
    log_info("bot", "meeting=%lld pid=%d line=%s%s", (long long)c->meeting_id, (int)c->pid,
             log_quote(q, sizeof q, c->line), truncated ? " truncated=1" : "");
    c->line_len = 0;
}

static void line_feed(struct child *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            if (!c->skipping)
                line_emit(c, 0);
            c->skipping = 0;
            c->line_len = 0;
        } else if (!c->skipping) {
            if (c->line_len == BOT_LINE_MAX) {
                line_emit(c, 1);
                c->skipping = 1;
            } else {
                c->line[c->line_len++] = p[i];
            }
        }
    }
}

static void child_close_out(struct child *c)
{
    if (c->line_len && !c->skipping)
        line_emit(c, 0);
    close(c->out_fd);
    c->out_fd = -1;
}

/* One read from c's pipe; returns 1 when there may be more right now. */
static int child_read(struct child *c)
{
    char buf[READ_CHUNK];
    ssize_t n = read(c->out_fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return errno == EINTR;
    if (n <= 0) {
        child_close_out(c);
        return 0;
    }
    line_feed(c, buf, (size_t)n);
    return 1;
}

/* Logs what c's pipe holds now and closes it. Driver thread, or free()
 * after the thread ended. */
static void child_close_fds(struct child *c)
{
    for (int i = 0; i < DRAIN_MAX_CHUNKS && c->out_fd >= 0 && child_read(c); i++)
        ;
    if (c->out_fd >= 0)
        child_close_out(c);
    if (c->pidfd >= 0) {
        close(c->pidfd);
        c->pidfd = -1;
    }
}

/* The driver thread's work under the lock: requests, reaping, releasing.
 * Returns the poll timeout. */
static int thread_tend(struct proc_driver *d, size_t *n_pfd)
{
    while (d->reqs) {
        struct spawn_req *r = d->reqs;
        d->reqs = r->next;
        r->err = spawn_one(d, r->spec, r->handle_out);
        r->done = 1;
        pthread_cond_broadcast(&d->cond);
    }
    int timeout = -1;
    size_t n = 1;
    d->pfd[0] = (struct pollfd){.fd = d->wake_fd, .events = POLLIN};
    for (struct child **pp = &d->children; *pp;) {
        struct child *c = *pp;
        if (c->ended_hint || c->pidfd < 0)
            child_collect(d, c);
        c->ended_hint = 0;
        if (c->reaped && c->pidfd >= 0) {
            close(c->pidfd);
            c->pidfd = -1;
        }
        if (c->released) {
            child_close_fds(c);
            *pp = c->next;
            d->n_children--;
            hark_free(c);
            pthread_cond_broadcast(&d->cond);
            continue;
        }
        if (c->out_fd >= 0) {
            d->pfd_child[n] = c;
            d->pfd[n++] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
        }
        if (c->pidfd >= 0) {
            d->pfd_child[n] = c;
            d->pfd[n++] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
        } else if (!c->reaped) {
            timeout = EXIT_POLL_MS;
        }
        pp = &c->next;
    }
    *n_pfd = n;
    return timeout;
}

static void *driver_thread(void *arg)
{
    struct proc_driver *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->quit) {
        size_t n;
        int timeout = thread_tend(d, &n);
        pthread_mutex_unlock(&d->lock);
        if (poll(d->pfd, (nfds_t)n, timeout) > 0) {
            if (d->pfd[0].revents) {
                uint64_t v;
                ssize_t r = read(d->wake_fd, &v, sizeof v);
                (void)r; /* resets the counter; nothing else to learn */
            }
            for (size_t i = 1; i < n; i++) {
                struct child *c = d->pfd_child[i];
                if (!d->pfd[i].revents)
                    continue;
                if (d->pfd[i].fd == c->out_fd)
                    child_read(c);
                else
                    c->ended_hint = 1;
            }
        }
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static struct child *child_find(struct proc_driver *d, const char *handle, int released_too)
{
    for (struct child *c = d->children; c; c = c->next) {
        if ((released_too || !c->released) && strcmp(c->handle, handle) == 0)
            return c;
    }
    return NULL;
}

static void status_fill(const struct child *c, struct bot_status *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->handle, c->handle, sizeof out->handle);
    out->meeting_id = c->meeting_id;
    out->user_id = c->user_id;
    out->state = c->state;
    out->exit_code = c->exit_code;
    out->signal = c->signal;
}

/* Waits on d->cond until deadline (monotonic ms) or EXIT_POLL_MS, whichever
 * comes first. */
static void cond_wait_until(struct proc_driver *d, int64_t deadline_ms)
{
    int64_t now = clock_mono_ms();
    int64_t until = deadline_ms < now + EXIT_POLL_MS ? deadline_ms : now + EXIT_POLL_MS;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t wait_ms = until - now;
    if (wait_ms <= 0)
        return;
    ts.tv_sec += (time_t)(wait_ms / 1000);
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&d->cond, &d->lock, &ts);
}

/* Waits until the bot is reaped or deadline; returns it, or NULL once
 * another caller released it. */
static struct child *wait_reaped(struct proc_driver *d, const char *handle, int64_t deadline_ms)
{
    for (;;) {
        struct child *c = child_find(d, handle, 0);
        if (c)
            child_collect(d, c);
        if (!c || c->reaped || clock_mono_ms() >= deadline_ms)
            return c;
        cond_wait_until(d, deadline_ms);
    }
}

static void group_signal(const struct child *c, int sig)
{
    kill(-c->pid, sig);
    if (sig == SIGTERM)
        kill(-c->pid, SIGCONT); /* a stopped bot could not act on it */
}

static int proc_stop(struct bot_driver *base, const char *handle, int grace_ms,
                     struct bot_status *out)
{
    struct proc_driver *d = proc_of(base);
    pthread_mutex_lock(&d->lock);
    struct child *c = wait_reaped(d, handle, 0);
    if (c && !c->reaped) {
        log_info("bot", "msg=\"stopping\" meeting=%lld pid=%d grace_ms=%d",
                 (long long)c->meeting_id, (int)c->pid, grace_ms);
        group_signal(c, SIGTERM);
        c = wait_reaped(d, handle, clock_mono_ms() + grace_ms);
    }
    if (c && !c->reaped) {
        group_signal(c, SIGKILL);
        c = wait_reaped(d, handle, clock_mono_ms() + KILL_WAIT_MS);
    }
    if (!c) {
        pthread_mutex_unlock(&d->lock);
        return HARK_ENOENT;
    }
    if (!c->reaped) {
        log_warn("bot", "msg=\"bot does not die\" meeting=%lld pid=%d",
                 (long long)c->meeting_id, (int)c->pid);
        pthread_mutex_unlock(&d->lock);
        return HARK_ETIMEDOUT;
    }
    if (out)
        status_fill(c, out);
    c->released = 1;
    driver_wake(d);
    while (child_find(d, handle, 1))
        pthread_cond_wait(&d->cond, &d->lock);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

static int proc_inspect(struct bot_driver *base, const char *handle, struct bot_status *out)
{
    struct proc_driver *d = proc_of(base);
    pthread_mutex_lock(&d->lock);
    struct child *c = child_find(d, handle, 0);
    if (c) {
        child_collect(d, c);
        status_fill(c, out);
    }
    pthread_mutex_unlock(&d->lock);
    return c ? 0 : HARK_ENOENT;
}

static int proc_list(struct bot_driver *base, struct bot_status **out, size_t *n_out)
{
    struct proc_driver *d = proc_of(base);
    *out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&d->lock);
    size_t n = 0;
    for (struct child *c = d->children; c; c = c->next)
        n += !c->released;
    struct bot_status *st = n ? hark_calloc(n, sizeof *st) : NULL;
    if (n && !st) {
        pthread_mutex_unlock(&d->lock);
        return HARK_ENOMEM;
    }
    size_t i = 0;
    for (struct child *c = d->children; c; c = c->next) {
        if (!c->released) {
            child_collect(d, c);
            status_fill(c, &st[i++]);
        }
    }
    pthread_mutex_unlock(&d->lock);
    *out = st;
    *n_out = n;
    return 0;
}

static int proc_spawn(struct bot_driver *base, const struct bot_spec *spec, char *handle_out)
{
    struct proc_driver *d = proc_of(base);
    struct spawn_req r = {.spec = spec, .handle_out = handle_out};
    pthread_mutex_lock(&d->lock);
    r.next = d->reqs;
    d->reqs = &r;
    driver_wake(d);
    while (!r.done)
        pthread_cond_wait(&d->cond, &d->lock);
    pthread_mutex_unlock(&d->lock);
    return r.err;
}

/* Signals every unreaped bot's group; returns how many there were. */
static size_t signal_all(struct proc_driver *d, int sig)
{
    size_t n = 0;
    for (struct child *c = d->children; c; c = c->next) {
        child_collect(d, c);
        if (!c->reaped) {
            group_signal(c, sig);
            n++;
        }
    }
    return n;
}

static void wait_all_reaped(struct proc_driver *d, int64_t deadline_ms)
{
    while (clock_mono_ms() < deadline_ms) {
        size_t left = 0;
        for (struct child *c = d->children; c; c = c->next) {
            child_collect(d, c);
            left += !c->reaped;
        }
        if (!left)
            return;
        cond_wait_until(d, deadline_ms);
    }
}

static void driver_release(struct proc_driver *d)
{
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    if (d->null_fd >= 0)
        close(d->null_fd);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    hark_free(d->pfd);
    hark_free(d->pfd_child);
    hark_free(d);
}

static void proc_free(struct bot_driver *base)
{
    struct proc_driver *d = proc_of(base);
    pthread_mutex_lock(&d->lock);
    size_t n = signal_all(d, SIGTERM);
    if (n) {
        log_info("bot", "msg=\"stopping all bots\" n=%zu grace_ms=%d", n,
                 d->cfg.shutdown_grace_ms);
        wait_all_reaped(d, clock_mono_ms() + d->cfg.shutdown_grace_ms);
    }
    if (signal_all(d, SIGKILL))
        wait_all_reaped(d, clock_mono_ms() + KILL_WAIT_MS);
    d->quit = 1;
    driver_wake(d);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    while (d->children) {
        struct child *c = d->children;
        d->children = c->next;
        if (!c->reaped)
            log_warn("bot", "msg=\"bot does not die\" meeting=%lld pid=%d",
                     (long long)c->meeting_id, (int)c->pid);
        child_close_fds(c);
        hark_free(c);
    }
    driver_release(d);
}

static const struct bot_driver_ops proc_ops = {
    .spawn = proc_spawn,
    .stop = proc_stop,
    .inspect = proc_inspect,
    .list = proc_list,
    .free = proc_free,
};

struct bot_process_config bot_process_config_default(void)
{
    return (struct bot_process_config){.shutdown_grace_ms = 2000};
}

/* The driver thread runs with every signal blocked: hark's signals go to
 * other threads, and each vfork child starts with all of them blocked. */
static int thread_start(struct proc_driver *d)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&d->thread, NULL, driver_thread, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int bot_process_driver_new(const struct bot_process_config *c, struct bot_driver **out)
{
    if (!c || !out || c->shutdown_grace_ms < 0)
        return HARK_EINVAL;
    struct proc_driver *d = hark_calloc(1, sizeof *d);
    if (!d)
        return HARK_ENOMEM;
    d->base.ops = &proc_ops;
    d->cfg = *c;
    d->start_ms = clock_now_ms();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&d->lock, NULL);
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->null_fd = spawn_fd_above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (pfd_reserve(d, 0) != 0) {
        driver_release(d);
        return HARK_ENOMEM;
    }
    if (d->wake_fd < 0 || d->null_fd < 0 || thread_start(d) != 0) {
        log_error("bot", "msg=\"process driver failed\" errno=%d", errno);
        driver_release(d);
        return HARK_EIO;
    }
    *out = &d->base;
    return 0;
}
