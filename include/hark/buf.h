/* buf.h — a growable byte buffer with a hard size limit.
 *
 * Every byte that comes from a peer, and every response we build, goes
 * through an hbuf so one oversized input cannot grow memory without bound:
 * appends past `max` fail with HARK_ETOOBIG and leave the buffer unchanged.
 * The content is always NUL-terminated (the NUL is not counted in len). */
#ifndef HARK_BUF_H
#define HARK_BUF_H
#include <stdarg.h>
#include <stddef.h>
#include "hark/error.h"

struct hbuf {
    char *data;   /* owned; NULL until the first append */
    size_t len;   /* bytes used, excluding the trailing NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* limit on len; 0 means SIZE_MAX/2 */
};

/* In-place init with a limit; no allocation happens until the first append. */
void hbuf_init(struct hbuf *b, size_t max);
/* Frees the storage; the buffer may be reused after hbuf_init(). */
void hbuf_release(struct hbuf *b);
/* Drops the content, keeps the storage. */
void hbuf_reset(struct hbuf *b);

/* Appends n bytes (copied). HARK_ETOOBIG past max, HARK_ENOMEM. */
HARK_MUST_CHECK int hbuf_append(struct hbuf *b, const void *p, size_t n);
HARK_MUST_CHECK int hbuf_puts(struct hbuf *b, const char *s);
HARK_MUST_CHECK int hbuf_printf(struct hbuf *b, const char *fmt, ...)
    HARK_PRINTF(2, 3);
HARK_MUST_CHECK int hbuf_vprintf(struct hbuf *b, const char *fmt, va_list ap)
    HARK_PRINTF(2, 0);

/* Hands the content to the caller (free with hark_free()) and resets b.
 * Returns an empty allocated string when nothing was appended; NULL only on
 * allocation failure. */
char *hbuf_take(struct hbuf *b);

#endif
