#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define HARNESS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARNESS_ASAN 1
#endif
#endif
#ifdef HARNESS_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static char tmpdir[256];

/* A child ends with _exit(), which skips LeakSanitizer's atexit check, so
 * the check runs here: a leak fails the test that made it. */
static int leaked(void)
{
#ifdef HARNESS_ASAN
    return __lsan_do_recoverable_leak_check() != 0;
#else
    return 0;
#endif
}

void harness_assert_no_leaks(void) { assert_int_equal(leaked(), 0); }

const char *harness_tmpdir(void) { return tmpdir; }

static void dump_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        fprintf(stdout, "    | %s", line);
    fclose(f);
}

static void remove_tree(const char *dir)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

/* Runs one test in a child; returns 1 when it passed. */
static int run_one(const struct CMUnitTest *t, const char *logpath)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/hark-unit-XXXXXX", base);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        alarm(60);
        int failed = _cmocka_run_group_tests(t->name, t, 1, NULL, NULL);
        failed |= leaked();
        fflush(NULL);
        _exit(failed ? 1 : 0);
    }
    int status = 0;
    int ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
             WEXITSTATUS(status) == 0;
    if (!ok && pid > 0 && WIFSIGNALED(status))
        fprintf(stdout, "    | killed by signal %d%s\n", WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
    remove_tree(tmpdir);
    return ok;
}

int harness_run(const char *suite, const struct CMUnitTest *tests, size_t n)
{
    const char *name = strrchr(suite, '/') ? strrchr(suite, '/') + 1 : suite;
    const char *filter = getenv("HARK_TEST_FILTER");
    char logpath[300];
    snprintf(logpath, sizeof logpath, "%s/hark-unit-%ld.log",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        if (run_one(&tests[i], logpath)) {
            passed++;
            fprintf(stdout, "  ok   %s\n", tests[i].name);
        } else {
            failed++;
            fprintf(stdout, "  FAIL %s\n", tests[i].name);
            dump_file(logpath);
        }
        fflush(stdout);
    }
    unlink(logpath);
    fprintf(stdout, "RESULT %s passed=%d failed=%d\n", name, passed, failed);
    return failed ? 1 : 0;
}
