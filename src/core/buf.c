#include "hark/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hark/mem.h"

void hbuf_init(struct hbuf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

void hbuf_release(struct hbuf *b)
{
    hark_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void hbuf_reset(struct hbuf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Makes room for `extra` more bytes plus the NUL. */
static int reserve(struct hbuf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return HARK_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = hark_realloc(b->data, cap);
    if (!p)
        return HARK_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int hbuf_append(struct hbuf *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int hbuf_puts(struct hbuf *b, const char *s)
{
    return hbuf_append(b, s, strlen(s));
}

int hbuf_vprintf(struct hbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return HARK_EINVAL;
    int rc = reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int hbuf_printf(struct hbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = hbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *hbuf_take(struct hbuf *b)
{
    char *p = b->data;
    if (!p)
        p = hark_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
