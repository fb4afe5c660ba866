#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hark/bot.h"
#include "hark/clock.h"
#include "hark/error.h"
#include "hark/log.h"
#include "hark/mem.h"

#define MEETING 42
#define WAIT_MS 10000

static const char *const path_env[] = {"PATH=/usr/bin:/bin", NULL};
static char log_path[512];
static char log_buf[1 << 20];

/* Sends this test's log lines to a file the test reads back. */
static void log_capture(void)
{
    snprintf(log_path, sizeof log_path, "%s/log", harness_tmpdir());
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    log_fd_set(fd);
}

static const char *log_text(void)
{
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    size_t n = fread(log_buf, 1, sizeof log_buf - 1, f);
    fclose(f);
    log_buf[n] = '\0';
    return log_buf;
}

/* The log line holding needle, waiting for it up to WAIT_MS; NULL if it
 * never came. Points into log_buf. */
static const char *log_wait(const char *needle)
{
    for (int64_t end = clock_mono_ms() + WAIT_MS; clock_mono_ms() < end; usleep(5000)) {
        const char *p = strstr(log_text(), needle);
        if (p) {
            while (p > log_buf && p[-1] != '\n')
                p--;
            return p;
        }
    }
    return NULL;
}

/* Fails, showing the log, unless a line holding needle comes. */
static void log_expect(const char *needle)
{
    if (!log_wait(needle))
        fail_msg("no log line with %s in:\n%s", needle, log_text());
}

/* The number a bot printed as `line="<key>=N"`. */
static pid_t log_wait_pid(const char *key)
{
    char needle[64];
    snprintf(needle, sizeof needle, "line=\"%s=", key);
    log_expect(needle);
    const char *l = log_wait(needle);
    long v = strtol(strstr(l, needle) + strlen(needle), NULL, 10);
    assert_true(v > 1);
    return (pid_t)v;
}

static struct bot_driver *driver_new(void)
{
    struct bot_process_config c = bot_process_config_default();
    c.shutdown_grace_ms = 500;
    struct bot_driver *d = NULL;
    assert_int_equal(bot_process_driver_new(&c, &d), 0);
    return d;
}

static struct bot_spec sh_spec(const char *argv[4], const char *script)
{
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = script;
    argv[3] = NULL;
    return (struct bot_spec){.argv = argv, .env = path_env, .meeting_id = MEETING, .user_id = 7};
}

static void spawn_sh(struct bot_driver *d, const char *script, char *handle)
{
    const char *argv[4];
    struct bot_spec s = sh_spec(argv, script);
    assert_int_equal(bot_driver_spawn(d, &s, handle), 0);
}

static struct bot_status wait_ended(struct bot_driver *d, const char *handle)
{
    struct bot_status st;
    for (int64_t end = clock_mono_ms() + WAIT_MS; clock_mono_ms() < end; usleep(5000)) {
        assert_int_equal(bot_driver_inspect(d, handle, &st), 0);
        if (st.state != BOT_STATE_RUNNING)
            return st;
    }
    fail_msg("bot %s still running", handle);
    return st;
}

/* Dead, or a zombie waiting for init: either way it runs no more. */
static int pid_dead(pid_t pid)
{
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return 1;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p && (p[2] == 'Z' || p[2] == 'X');
}

static void assert_dies(pid_t pid)
{
    for (int64_t end = clock_mono_ms() + WAIT_MS; clock_mono_ms() < end; usleep(5000)) {
        if (pid_dead(pid))
            return;
    }
    fail_msg("pid %d still alive", (int)pid);
}

/* This process has no child left, not even a zombie. */
static void assert_no_children(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static size_t count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    size_t n = 0;
    while (readdir(dir))
        n++;
    closedir(dir);
    return n;
}

static void stdout_and_stderr_lines_are_logged_with_the_meeting(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX];
    spawn_sh(d, "echo hello; echo err >&2; sleep 30", h);
    const char *l = log_wait("line=\"hello\"");
    assert_non_null(l);
    assert_non_null(strstr(l, "level=info module=bot meeting=42 pid="));
    log_expect("line=\"err\"");
    struct bot_status st;
    assert_int_equal(bot_driver_stop(d, h, 5000, &st), 0);
    assert_int_equal(st.state, BOT_STATE_KILLED);
    assert_int_equal(st.signal, SIGTERM);
    bot_driver_free(d);
}

static void stop_ends_the_whole_group_and_reaps_the_bot(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX];
    spawn_sh(d, "sleep 300 & echo child=$!; sleep 300", h);
    pid_t child = log_wait_pid("child");
    int64_t t0 = clock_mono_ms();
    struct bot_status st;
    assert_int_equal(bot_driver_stop(d, h, 5000, &st), 0);
    assert_true(clock_mono_ms() - t0 < 4000); /* SIGTERM did it, not the grace */
    assert_string_equal(st.handle, h);
    assert_dies(child);
    assert_no_children();
    assert_int_equal(bot_driver_inspect(d, h, &st), HARK_ENOENT);
    assert_int_equal(bot_driver_stop(d, h, 0, &st), HARK_ENOENT);
    bot_driver_free(d);
}

static void stop_kills_a_bot_ignoring_sigterm_after_the_grace(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX];
    spawn_sh(d, "trap '' TERM; sleep 300 & echo child=$!; wait", h);
    pid_t child = log_wait_pid("child");
    int64_t t0 = clock_mono_ms();
    struct bot_status st;
    assert_int_equal(bot_driver_stop(d, h, 300, &st), 0);
    int64_t took = clock_mono_ms() - t0;
    assert_true(took >= 300);
    assert_true(took < 3000);
    assert_int_equal(st.state, BOT_STATE_KILLED);
    assert_int_equal(st.signal, SIGKILL);
    assert_dies(child);
    assert_no_children();
    bot_driver_free(d);
}

static void exit_code_is_reported_until_stop_releases_the_bot(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX];
    spawn_sh(d, "exit 3", h);
    struct bot_status st = wait_ended(d, h);
    assert_int_equal(st.state, BOT_STATE_EXITED);
    assert_int_equal(st.exit_code, 3);
    assert_no_children(); /* reaped as soon as seen */
    struct bot_status *all;
    size_t n;
    assert_int_equal(bot_driver_list(d, &all, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(all[0].state, BOT_STATE_EXITED);
    assert_int_equal(all[0].exit_code, 3);
    hark_free(all);
    assert_int_equal(bot_driver_stop(d, h, 1000, &st), 0);
    assert_int_equal(st.state, BOT_STATE_EXITED);
    assert_int_equal(st.exit_code, 3);
    assert_int_equal(bot_driver_list(d, &all, &n), 0);
    assert_int_equal(n, 0);
    assert_null(all);
    log_expect("msg=\"ended\" meeting=42");
    bot_driver_free(d);
}

static void death_by_signal_is_reported(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX];
    spawn_sh(d, "kill -USR1 $$", h);
    struct bot_status st = wait_ended(d, h);
    assert_int_equal(st.state, BOT_STATE_KILLED);
    assert_int_equal(st.signal, SIGUSR1);
    assert_string_equal(bot_state_name(st.state), "killed");
    bot_driver_free(d);
}

static void ended_bot_takes_the_rest_of_its_group_with_it(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX];
    spawn_sh(d, "sleep 300 & echo child=$!; exit 0", h);
    pid_t child = log_wait_pid("child");
    struct bot_status st = wait_ended(d, h);
    assert_int_equal(st.state, BOT_STATE_EXITED);
    assert_int_equal(st.exit_code, 0);
    assert_dies(child);
    bot_driver_free(d);
}

static void limits_are_set_before_the_program_runs(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    const char *argv[4];
    struct bot_spec s =
        sh_spec(argv, "echo n=$(ulimit -n) v=$(ulimit -v) t=$(ulimit -t) c=$(ulimit -c) "
                      "hn=$(ulimit -Hn)");
    s.limits = (struct bot_limits){
        .memory_bytes = 512ull << 20, .cpu_seconds = 7, .open_files = 77};
    char h[BOT_HANDLE_MAX];
    assert_int_equal(bot_driver_spawn(d, &s, h), 0);
    log_expect("line=\"n=77 v=524288 t=7 c=0 hn=77\"");
    bot_driver_free(d);
}

static void cpu_limit_ends_a_spinning_bot(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    const char *argv[4];
    struct bot_spec s = sh_spec(argv, "while :; do :; done");
    s.limits.cpu_seconds = 1;
    char h[BOT_HANDLE_MAX];
    assert_int_equal(bot_driver_spawn(d, &s, h), 0);
    struct bot_status st = wait_ended(d, h);
    assert_int_equal(st.state, BOT_STATE_KILLED);
    assert_int_equal(st.signal, SIGXCPU);
    bot_driver_free(d);
}

static void missing_program_fails_with_enoent_and_leaves_no_child(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    const char *argv[] = {"/nonexistent/hark-bot", NULL};
    struct bot_spec s = {.argv = argv, .meeting_id = MEETING};
    char h[BOT_HANDLE_MAX];
    assert_int_equal(bot_driver_spawn(d, &s, h), HARK_ENOENT);
    assert_no_children();
    struct bot_status *all;
    size_t n;
    assert_int_equal(bot_driver_list(d, &all, &n), 0);
    assert_int_equal(n, 0);
    log_expect("msg=\"spawn failed\" meeting=42 step=execve");
    bot_driver_free(d);
}

static void unexecutable_program_and_ungrantable_limit_fail_with_eperm(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char path[512];
    snprintf(path, sizeof path, "%s/not-executable", harness_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    const char *argv[] = {path, NULL};
    struct bot_spec s = {.argv = argv, .meeting_id = MEETING};
    char h[BOT_HANDLE_MAX];
    assert_int_equal(bot_driver_spawn(d, &s, h), HARK_EPERM);
    const char *shv[4];
    s = sh_spec(shv, "echo should not run");
    s.limits.open_files = 1ull << 40; /* above fs.nr_open, even for root */
    assert_int_equal(bot_driver_spawn(d, &s, h), HARK_EPERM);
    log_expect("step=setrlimit");
    assert_no_children();
    bot_driver_free(d);
    assert_null(strstr(log_text(), "should not run\""));
}

static void environment_is_exactly_the_spec_env(void **state)
{
    (void)state;
    log_capture();
    setenv("HOME", "/root", 1);
    struct bot_driver *d = driver_new();
    const char *argv[] = {"/bin/sh", "-c", "echo \"g=$BOT_GREETING h=${HOME-unset}\"", NULL};
    const char *env[] = {"BOT_GREETING=hi there", NULL};
    struct bot_spec s = {.argv = argv, .env = env, .meeting_id = MEETING};
    char h[BOT_HANDLE_MAX];
    assert_int_equal(bot_driver_spawn(d, &s, h), 0);
    log_expect("line=\"g=hi there h=unset\"");
    bot_driver_free(d);
}

static void bot_starts_with_clean_signals_and_only_stdio(void **state)
{
    (void)state;
    log_capture();
    signal(SIGPIPE, SIG_IGN); /* as hark serve does */
    /* A parent may ignore glibc's internal signal 32 (make's environment
     * did): only a raw rt_sigaction can set it, and the bot must not
     * inherit it. */
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        uint64_t mask;
    } ign = {SIG_IGN, 0, NULL, 0};
    assert_int_equal(syscall(SYS_rt_sigaction, 32, &ign, NULL, sizeof ign.mask), 0);
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
    assert_true(leak > 2);
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX];
    /* grep's own mask: the shell blocks everything while it waits for a child */
    spawn_sh(d, "exec grep -E '^Sig(Blk|Ign)' /proc/self/status", h);
    log_expect("line=\"SigBlk:\\x090000000000000000\"");
    log_expect("line=\"SigIgn:\\x090000000000000000\"");
    spawn_sh(d, "echo pid=$$; exec sleep 30", h);
    pid_t pid = log_wait_pid("pid");
    char path[64], target[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    assert_non_null(dir);
    int fds = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        if (e->d_name[0] != '.') {
            assert_true(strtol(e->d_name, NULL, 10) <= 2);
            fds++;
        }
    }
    closedir(dir);
    assert_int_equal(fds, 3);
    snprintf(path, sizeof path, "/proc/%d/fd/0", (int)pid);
    ssize_t n = readlink(path, target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "/dev/null");
    bot_driver_free(d);
    close(leak);
}

static void overlong_line_is_cut_and_never_blocks_the_bot(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX];
    spawn_sh(d, "head -c 300000 /dev/zero | tr '\\000' a; echo; echo done; exit 5", h);
    struct bot_status st = wait_ended(d, h);
    assert_int_equal(st.exit_code, 5);
    log_expect("line=\"done\"");
    const char *l = log_wait("truncated=1");
    assert_non_null(l);
    const char *q = strstr(l, "line=\"") + 6;
    size_t run = strspn(q, "a");
    assert_int_equal(run, BOT_LINE_MAX);
    assert_int_equal(strncmp(q + run, "\" truncated=1\n", 14), 0);
    bot_driver_free(d);
}

static void driver_free_ends_every_bot_and_group(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    pid_t pids[6];
    for (int i = 0; i < 3; i++) {
        char script[128], key[16], h[BOT_HANDLE_MAX];
        snprintf(script, sizeof script,
                 "sleep 300 & echo c%d=$!; trap '' TERM; echo m%d=$$; wait", i, i);
        spawn_sh(d, script, h);
        snprintf(key, sizeof key, "c%d", i);
        pids[2 * i] = log_wait_pid(key);
        snprintf(key, sizeof key, "m%d", i);
        pids[2 * i + 1] = log_wait_pid(key);
    }
    bot_driver_free(d);
    for (int i = 0; i < 6; i++)
        assert_dies(pids[i]);
    assert_no_children();
    log_expect("msg=\"stopping all bots\" n=3");
}

/* hark serve dying by SIGKILL: no free(), no stop(); PDEATHSIG must do it. */
static void bot_dies_when_its_parent_is_killed(void **state)
{
    (void)state;
    log_capture();
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); /* orphans come to us */
    pid_t serve = fork();
    assert_true(serve >= 0);
    if (serve == 0) {
        struct bot_driver *d = NULL;
        struct bot_process_config c = bot_process_config_default();
        char h[BOT_HANDLE_MAX];
        const char *argv[] = {"/bin/sh", "-c", "echo bot=$$; exec sleep 300", NULL};
        struct bot_spec s = {.argv = argv, .env = path_env, .meeting_id = MEETING};
        if (bot_process_driver_new(&c, &d) != 0 || bot_driver_spawn(d, &s, h) != 0)
            _exit(1);
        for (;;)
            pause();
    }
    pid_t bot = log_wait_pid("bot");
    assert_int_equal(kill(serve, SIGKILL), 0);
    assert_int_equal(waitpid(serve, NULL, 0), serve);
    int st = 0;
    pid_t r = 0;
    for (int64_t end = clock_mono_ms() + WAIT_MS; r == 0 && clock_mono_ms() < end; usleep(5000))
        r = waitpid(bot, &st, WNOHANG);
    assert_int_equal(r, bot);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
}

static void fifty_spawns_and_stops_leak_no_descriptor_and_no_zombie(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    size_t before = count_fds();
    for (int i = 0; i < 50; i++) {
        char h[BOT_HANDLE_MAX];
        spawn_sh(d, i % 2 ? "exec sleep 30" : "echo x; sleep 30 & wait", h);
        struct bot_status st;
        assert_int_equal(bot_driver_stop(d, h, 2000, &st), 0);
        assert_int_equal(st.state, BOT_STATE_KILLED);
    }
    assert_int_equal(count_fds(), before);
    assert_no_children();
    bot_driver_free(d);
}

static void *churn(void *arg)
{
    struct bot_driver *d = arg;
    for (int i = 0; i < 10; i++) {
        char h[BOT_HANDLE_MAX];
        const char *argv[] = {"/bin/sh", "-c", i % 3 ? "exec sleep 30" : "exit 1", NULL};
        struct bot_spec s = {.argv = argv, .env = path_env, .meeting_id = i};
        struct bot_status st, *all;
        size_t n;
        if (bot_driver_spawn(d, &s, h) != 0 || bot_driver_inspect(d, h, &st) != 0 ||
            bot_driver_list(d, &all, &n) != 0)
            return "spawn/inspect/list";
        hark_free(all);
        if (bot_driver_stop(d, h, 2000, &st) != 0 || st.state == BOT_STATE_RUNNING)
            return "stop";
    }
    return NULL;
}

static void concurrent_callers_each_get_their_own_bots(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, d), 0);
    for (int i = 0; i < 4; i++) {
        void *err;
        assert_int_equal(pthread_join(t[i], &err), 0);
        assert_null(err);
    }
    struct bot_status *all;
    size_t n;
    assert_int_equal(bot_driver_list(d, &all, &n), 0);
    assert_int_equal(n, 0);
    assert_no_children();
    bot_driver_free(d);
}

static void list_reports_labels_and_states_of_unreleased_bots(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h1[BOT_HANDLE_MAX], h2[BOT_HANDLE_MAX];
    const char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
    struct bot_spec s = {.argv = argv, .meeting_id = 11, .user_id = 3};
    assert_int_equal(bot_driver_spawn(d, &s, h1), 0);
    s.meeting_id = 12;
    s.user_id = 4;
    assert_int_equal(bot_driver_spawn(d, &s, h2), 0);
    assert_string_not_equal(h1, h2);
    assert_int_equal(strncmp(h1, "proc-", 5), 0);
    struct bot_status *all;
    size_t n;
    assert_int_equal(bot_driver_list(d, &all, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        int first = strcmp(all[i].handle, h1) == 0;
        assert_true(first || strcmp(all[i].handle, h2) == 0);
        assert_int_equal(all[i].meeting_id, first ? 11 : 12);
        assert_int_equal(all[i].user_id, first ? 3 : 4);
        assert_int_equal(all[i].state, BOT_STATE_RUNNING);
    }
    hark_free(all);
    assert_int_equal(bot_driver_stop(d, h1, 1000, NULL), 0);
    assert_int_equal(bot_driver_list(d, &all, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(all[0].handle, h2);
    hark_free(all);
    bot_driver_free(d);
    assert_no_children();
}

static void bad_arguments_and_unknown_handles_are_refused(void **state)
{
    (void)state;
    log_capture();
    struct bot_driver *d = driver_new();
    char h[BOT_HANDLE_MAX], longh[BOT_HANDLE_MAX + 8];
    struct bot_spec s = {.argv = NULL};
    assert_int_equal(bot_driver_spawn(d, &s, h), HARK_EINVAL);
    const char *empty[] = {NULL};
    s.argv = empty;
    assert_int_equal(bot_driver_spawn(d, &s, h), HARK_EINVAL);
    struct bot_status st;
    assert_int_equal(bot_driver_inspect(d, "proc-1-1-1", &st), HARK_ENOENT);
    assert_int_equal(bot_driver_stop(d, "proc-1-1-1", 0, &st), HARK_ENOENT);
    memset(longh, 'x', sizeof longh);
    assert_int_equal(bot_driver_inspect(d, longh, &st), HARK_ENOENT);
    assert_int_equal(bot_driver_stop(d, h, -1, &st), HARK_EINVAL);
    struct bot_process_config c = bot_process_config_default();
    c.shutdown_grace_ms = -1;
    struct bot_driver *d2 = NULL;
    assert_int_equal(bot_process_driver_new(&c, &d2), HARK_EINVAL);
    bot_driver_free(d);
    bot_driver_free(NULL);
}

static void allocation_failures_are_clean(void **state)
{
    (void)state;
    log_capture();
    struct bot_process_config c = bot_process_config_default();
    struct bot_driver *d = NULL;
    int rc = HARK_ENOMEM;
    for (long n = 0; rc == HARK_ENOMEM; n++) {
        hark_mem_fail_after(n);
        rc = bot_process_driver_new(&c, &d);
        hark_mem_fail_after(-1);
        assert_true(rc == 0 || rc == HARK_ENOMEM);
        harness_assert_no_leaks();
    }
    char h[BOT_HANDLE_MAX];
    const char *argv[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
    struct bot_spec s = {.argv = argv, .meeting_id = MEETING};
    size_t fds = count_fds();
    rc = HARK_ENOMEM;
    for (long n = 0; rc == HARK_ENOMEM; n++) {
        hark_mem_fail_after(n);
        rc = bot_driver_spawn(d, &s, h);
        hark_mem_fail_after(-1);
        assert_true(rc == 0 || rc == HARK_ENOMEM);
        if (rc == HARK_ENOMEM) {
            assert_no_children();
            assert_int_equal(count_fds(), fds);
        }
    }
    struct bot_status *all;
    size_t n;
    hark_mem_fail_after(0);
    assert_int_equal(bot_driver_list(d, &all, &n), HARK_ENOMEM);
    hark_mem_fail_after(-1);
    assert_int_equal(bot_driver_stop(d, h, 1000, NULL), 0);
    bot_driver_free(d);
    assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(stdout_and_stderr_lines_are_logged_with_the_meeting),
    cmocka_unit_test(stop_ends_the_whole_group_and_reaps_the_bot),
    cmocka_unit_test(stop_kills_a_bot_ignoring_sigterm_after_the_grace),
    cmocka_unit_test(exit_code_is_reported_until_stop_releases_the_bot),
    cmocka_unit_test(death_by_signal_is_reported),
    cmocka_unit_test(ended_bot_takes_the_rest_of_its_group_with_it),
    cmocka_unit_test(limits_are_set_before_the_program_runs),
    cmocka_unit_test(cpu_limit_ends_a_spinning_bot),
    cmocka_unit_test(missing_program_fails_with_enoent_and_leaves_no_child),
    cmocka_unit_test(unexecutable_program_and_ungrantable_limit_fail_with_eperm),
    cmocka_unit_test(environment_is_exactly_the_spec_env),
    cmocka_unit_test(bot_starts_with_clean_signals_and_only_stdio),
    cmocka_unit_test(overlong_line_is_cut_and_never_blocks_the_bot),
    cmocka_unit_test(driver_free_ends_every_bot_and_group),
    cmocka_unit_test(bot_dies_when_its_parent_is_killed),
    cmocka_unit_test(fifty_spawns_and_stops_leak_no_descriptor_and_no_zombie),
    cmocka_unit_test(concurrent_callers_each_get_their_own_bots),
    cmocka_unit_test(list_reports_labels_and_states_of_unreleased_bots),
    cmocka_unit_test(bad_arguments_and_unknown_handles_are_refused),
    cmocka_unit_test(allocation_failures_are_clean),
};

HARNESS_MAIN(tests)
