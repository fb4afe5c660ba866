/* source_private.h — what source.c and source_rtmp.c share; private to
 * src/bot. source.c parses the URL, owns struct source and serves decoded
 * samples; source_rtmp.c runs the ffmpeg listener. */
#ifndef HARK_SOURCE_PRIVATE_H
#define HARK_SOURCE_PRIVATE_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"
#include "hark/source.h"

#define SOURCE_ERROR_MAX 512

struct source_rtmp;

struct source {
    char error[SOURCE_ERROR_MAX];
    int final_rc;              /* sticky result once the source ended */
    /* file/http: every sample, decoded in source_open() */
    float *samples;
    size_t n, pos;
    int realtime;
    int64_t t0_ms;             /* monotonic time of the first read; -1 before */
    struct source_rtmp *rtmp;  /* rtmp only */
};

/* What source.c found in an rtmp:// URL; all NUL-terminated. */
struct source_rtmp_url {
    char host[64];             /* as written: "127.0.0.1" or "[::1]" */
    unsigned port;
    char key[SOURCE_KEY_MAX + 1];
};

/* Formats a one-line message into buf (size may be 0) and returns rc. */
int source_fail(char *buf, size_t size, int rc, const char *fmt, ...) HARK_PRINTF(4, 5);

/* Starts the listener. On error `why` says why and nothing runs. */
HARK_MUST_CHECK int source_rtmp_open(const struct source_config *c,
                                     const struct source_rtmp_url *u, struct source_rtmp **out,
                                     char *why, size_t why_size);
/* As source_read(); messages go to err (SOURCE_ERROR_MAX bytes). */
HARK_MUST_CHECK int source_rtmp_read(struct source_rtmp *r, float *buf, size_t max,
                                     size_t *n_out, int timeout_ms, char *err);
int source_rtmp_pid(const struct source_rtmp *r);
void source_rtmp_free(struct source_rtmp *r);

#endif
