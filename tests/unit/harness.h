/* harness.h — runs cmocka tests, one forked child per test.
 *
 * A crash, abort or hang (60 s alarm) in one test is one failure, not the end
 * of the run. A child's output is shown only when it fails. The last line a
 * suite prints is "RESULT <suite> passed=N failed=M", which
 * tools/run-tests.sh adds up. */
#ifndef HARK_TEST_HARNESS_H
#define HARK_TEST_HARNESS_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int harness_run(const char *suite, const struct CMUnitTest *tests, size_t n);

#define HARNESS_MAIN(tests)                                             \
    int main(void)                                                      \
    {                                                                   \
        return harness_run(__FILE__, tests, sizeof tests / sizeof *tests); \
    }

/* A fresh empty directory under $TMPDIR for this test; removed by the
 * harness after the test's child exits. Returns static storage. */
const char *harness_tmpdir(void);

/* Fails the calling test when LeakSanitizer finds unreachable memory now; a
 * no-op in builds without ASan. The harness runs the same check after every
 * test: call this to pin a leak to a point inside one, e.g. each round of an
 * allocation failure loop. */
void harness_assert_no_leaks(void);

#endif
