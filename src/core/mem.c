#include "hark/mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;
static atomic_long failures;

/* True when this allocation must fail. Countdown -1 means injection is off. */
static int should_fail(void)
{
    long n = atomic_load(&fail_countdown);
    while (n >= 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1)) {
            if (n == 0) {
                atomic_fetch_add(&failures, 1);
                atomic_store(&fail_countdown, 0); /* keep failing */
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

void hark_mem_fail_after(long n)
{
    atomic_store(&failures, 0);
    atomic_store(&fail_countdown, n < 0 ? -1 : n);
}

long hark_mem_failures(void) { return atomic_load(&failures); }

void *hark_malloc(size_t size)
{
    return should_fail() ? NULL : malloc(size ? size : 1);
}

void *hark_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *hark_realloc(void *p, size_t size)
{
    return should_fail() ? NULL : realloc(p, size ? size : 1);
}

void hark_free(void *p) { free(p); }

char *hark_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    size_t len = strnlen(s, n);
    char *d = hark_malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *hark_strdup(const char *s)
{
    return s ? hark_strndup(s, strlen(s)) : NULL;
}
