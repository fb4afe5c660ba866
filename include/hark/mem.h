/* mem.h — allocation wrappers.
 *
 * All of Hark allocates through these so tests can make the Nth allocation
 * fail and prove every failure path returns HARK_ENOMEM cleanly. SQLite is
 * routed here too (see store), so its allocation failures are testable as
 * well. Thread safety: the wrappers are; the failure injection knobs are
 * meant for single-threaded tests. */
#ifndef HARK_MEM_H
#define HARK_MEM_H
#include <stddef.h>

/* Same contracts as malloc/calloc/realloc/free. hark_realloc never frees the
 * old block on failure. */
void *hark_malloc(size_t size);
void *hark_calloc(size_t n, size_t size);
void *hark_realloc(void *p, size_t size);
void hark_free(void *p);

/* Copies s (or its first n bytes) into a NUL-terminated string the caller
 * frees with hark_free(). NULL on allocation failure or when s is NULL. */
char *hark_strdup(const char *s);
char *hark_strndup(const char *s, size_t n);

/* Test hook: the allocation after `n` more successful ones fails (n = 0: the
 * very next one). A negative n turns injection off. */
void hark_mem_fail_after(long n);

/* Test hook: how many allocations were refused since the last
 * hark_mem_fail_after() call. */
long hark_mem_failures(void);

#endif
