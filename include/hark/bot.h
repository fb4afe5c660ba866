/* bot.h — bot drivers: how the bot manager starts, watches and ends bots.
 *
 * A bot is one `hark bot` participant (or any program: tests use /bin/sh).
 * A driver runs it somewhere and names it by a handle string; the bot
 * manager's reconciliation loop and the HTTP handlers only ever talk to the
 * driver interface below, so the process driver of `hark serve` and the
 * later container drivers (Docker, Swarm, Kubernetes) are interchangeable.
 *
 * Lifecycle: bot_driver_spawn() → running → exited(code) | killed(signal),
 * observed with bot_driver_inspect() / bot_driver_list(); a bot that ended
 * on its own stays listed with its final state until bot_driver_stop()
 * releases its handle. bot_driver_stop() ends a running bot (SIGTERM, then
 * SIGKILL after a grace period, or the container equivalent) and releases
 * it; bot_driver_free() ends every bot the driver started.
 *
 * Thread safety: every call except bot_driver_free() may be made from any
 * thread at the same time; bot_driver_free() must be the last call.
 *
 * The process driver (`hark serve`)
 * ---------------------------------
 * Each bot is a child process in its own process group, with an empty
 * signal mask, every signal at its default action (a bot never inherits
 * hark's ignored SIGPIPE), stdin on /dev/null, stdout and stderr on a pipe,
 * no other inherited file descriptor (close_range, Linux >= 5.9; older
 * kernels rely on hark opening everything O_CLOEXEC), exactly spec->env as
 * its environment, the rlimits of spec->limits (soft = hard, so the bot
 * cannot raise them back) and core dumps off (a bot's memory holds meeting
 * audio and tokens).
 *
 * Spawn approach: vfork() + execve(), not posix_spawn(). posix_spawn can
 * put the child in its own group and reset its signals, but it cannot set
 * rlimits or PR_SET_PDEATHSIG in the child, and there is no race-free way to
 * add them afterwards: prlimit() on the pid after posix_spawn returns
 * applies when the bot is already running its own code (it may have opened
 * files or mapped memory past the limit, which lowering the limit does not
 * undo), and PDEATHSIG can only be set by the child itself. A `sh -c
 * 'ulimit …; exec "$@"'` wrapper avoids quoting bugs but loses PDEATHSIG and
 * turns a missing program into exit status 127 instead of HARK_ENOENT;
 * re-executing the hark binary as a trampoline costs a second exec and a
 * hook in main(). So the child, between vfork() and execve(), makes only
 * raw system calls (setpgid, prctl, setrlimit, sigaction, dup2,
 * close_range, sigprocmask) — what glibc's own posix_spawn does in its
 * clone(CLONE_VM|CLONE_VFORK) child — with every signal blocked until just
 * before execve so no handler of hark's can run on the shared memory. An
 * exec failure is reported back through a close-on-exec pipe, so the
 * caller gets HARK_ENOENT (missing program), HARK_EPERM (not executable, or
 * a limit above the hard limit hark itself runs under) and the failed child
 * is reaped at once. vfork, unlike fork, copies no page tables, so spawning
 * stays cheap while hark holds a multi-gigabyte model.
 *
 * Logs: one driver thread reads every bot's pipe (it never blocks a bot: a
 * line longer than BOT_LINE_MAX bytes is logged cut, with truncated=1, and
 * the rest of it is dropped) and logs each line as
 *   level=info module=bot meeting=42 pid=1234 line="…"
 * with the line passed through log_quote(). That thread is also the one that
 * forks every bot, because PR_SET_PDEATHSIG fires when the forking *thread*
 * exits: forking from an HTTP handler thread would kill the bot when that
 * thread ends.
 *
 * Shutdown guarantees: stop signals the whole group, and whenever a bot's
 * main process ends (stopped or on its own) the rest of its group gets
 * SIGKILL before the main process is reaped (the unreaped zombie keeps the
 * group id from being reused, so the signal can reach no one else). So
 * after bot_driver_free() — `hark serve` stopping — no bot process and no
 * descendant that stayed in its group survives. If hark is killed with
 * SIGKILL instead, PDEATHSIG kills each bot's main process, but its own
 * children survive unless the bot set PDEATHSIG on them too. A descendant
 * that leaves the group (setsid, setpgid) escapes both; only the container
 * drivers' cgroups contain those.
 *
 * Requirements on the rest of hark: SIGCHLD must not be SIG_IGN and nothing
 * may call waitpid(-1, …), or a bot is reaped behind the driver's back (its
 * state then becomes BOT_STATE_UNKNOWN). */
#ifndef HARK_BOT_H
#define HARK_BOT_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"

#define BOT_HANDLE_MAX 128     /* bytes of a handle, NUL included */
#define BOT_LINE_MAX 1024      /* bytes of one logged output line (log lines are
                                  at most 2 KiB, escaping included) */

/* What a bot may use; 0 leaves a limit as hark's own. */
struct bot_limits {
    uint64_t memory_bytes;     /* address space (RLIMIT_AS for processes): it
                                  counts reservations, not resident memory, so
                                  browsers need far more than they touch */
    uint64_t cpu_seconds;      /* CPU time: SIGXCPU at the limit, SIGKILL one
                                  second later */
    uint64_t open_files;       /* file descriptors */
};

/* What to run. All pointers are borrowed for the call only. */
struct bot_spec {
    const char *const *argv;   /* NULL-terminated; argv[0] is the program's
                                  path (no PATH search) */
    const char *const *env;    /* NULL-terminated "KEY=VALUE": the bot's whole
                                  environment (nothing of hark's is passed);
                                  NULL means empty */
    int64_t meeting_id;        /* labels: tag logs, returned by list/inspect */
    int64_t user_id;
    struct bot_limits limits;
};

enum bot_state {
    BOT_STATE_RUNNING,
    BOT_STATE_EXITED,          /* ended on its own: exit_code */
    BOT_STATE_KILLED,          /* ended by a signal: signal */
    BOT_STATE_UNKNOWN,         /* the driver lost track of it */
};

struct bot_status {
    char handle[BOT_HANDLE_MAX];
    int64_t meeting_id;
    int64_t user_id;
    enum bot_state state;
    int exit_code;             /* BOT_STATE_EXITED only */
    int signal;                /* BOT_STATE_KILLED only */
};

/* "running", "exited", "killed", "unknown"; static storage. */
const char *bot_state_name(enum bot_state s);

struct bot_driver;             /* opaque; one per kind of place bots run */

/* Starts a bot. On success handle_out (BOT_HANDLE_MAX bytes) holds its
 * handle. HARK_EINVAL: no argv[0]; HARK_ENOENT: program not found;
 * HARK_EPERM: not executable or a limit hark cannot grant; HARK_ENOMEM;
 * HARK_EIO: anything else the system refused. Nothing is left running on
 * failure. */
HARK_MUST_CHECK int bot_driver_spawn(struct bot_driver *d, const struct bot_spec *spec,
                                     char *handle_out);

/* Ends the bot if it still runs — asks it to stop (SIGTERM to its group),
 * waits up to grace_ms, then forces it (SIGKILL to its group) — and releases
 * its handle. When it returns 0, the bot and its group are gone, its output
 * is logged and *out (may be NULL) holds its final state. HARK_ENOENT:
 * unknown handle; HARK_ETIMEDOUT: killed but not dead yet (a process stuck
 * in the kernel), the handle stays valid, call again. Blocks up to
 * grace_ms plus a few seconds. */
HARK_MUST_CHECK int bot_driver_stop(struct bot_driver *d, const char *handle, int grace_ms,
                                    struct bot_status *out);

/* The bot's current state; never blocks. HARK_ENOENT: unknown handle. */
HARK_MUST_CHECK int bot_driver_inspect(struct bot_driver *d, const char *handle,
                                       struct bot_status *out);

/* Every bot this driver started and has not released, with its state.
 * *out is freed by the caller with hark_free() (NULL when *n_out is 0).
 * HARK_ENOMEM. */
HARK_MUST_CHECK int bot_driver_list(struct bot_driver *d, struct bot_status **out,
                                    size_t *n_out);

/* Ends every bot still running (SIGTERM, SIGKILL after the driver's
 * shutdown grace), then frees the driver. NULL is fine. */
void bot_driver_free(struct bot_driver *d);

struct bot_process_config {
    int shutdown_grace_ms;     /* bot_driver_free(): SIGTERM → SIGKILL; default 2000 */
};
struct bot_process_config bot_process_config_default(void);

/* The process driver described above; handles look like
 * "proc-<driver start ms>-<seq>-<pid>". *out is freed with
 * bot_driver_free(). HARK_EINVAL: negative grace; HARK_ENOMEM; HARK_EIO
 * (no thread, no eventfd, no /dev/null). */
HARK_MUST_CHECK int bot_process_driver_new(const struct bot_process_config *c,
                                           struct bot_driver **out);

#endif
