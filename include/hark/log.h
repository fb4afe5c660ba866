/* log.h — one-line key=value logs on stderr.
 *
 *   ts=2026-11-23T15:32:08.120Z level=info module=http msg="listening" addr=127.0.0.1:8056
 *
 * The caller formats the tail after module=, so every line stays greppable
 * and machine-parsable. Never log secrets, audio or transcript text above
 * debug. Values that come from a peer go through log_quote() so a client
 * cannot forge fields or lines. Thread safe: a line is written with one
 * write(2). */
#ifndef HARK_LOG_H
#define HARK_LOG_H
#include <stddef.h>
#include "hark/error.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

void log_level_set(enum log_level lvl);
enum log_level log_level_get(void);
/* Parses "debug|info|warn|error". HARK_EINVAL otherwise. */
HARK_MUST_CHECK int log_level_parse(const char *s, enum log_level *out);

/* Redirects output to fd (default 2); for tests. */
void log_fd_set(int fd);

void log_write(enum log_level lvl, const char *module, const char *fmt, ...)
    HARK_PRINTF(3, 4);

/* Writes s into buf (size bytes) as a double-quoted value with \" \\ and
 * control bytes escaped, truncated to fit; returns buf. */
const char *log_quote(char *buf, size_t size, const char *s);

#define log_debug(mod, ...) log_write(LOG_LEVEL_DEBUG, mod, __VA_ARGS__)
#define log_info(mod, ...)  log_write(LOG_LEVEL_INFO, mod, __VA_ARGS__)
#define log_warn(mod, ...)  log_write(LOG_LEVEL_WARN, mod, __VA_ARGS__)
#define log_error(mod, ...) log_write(LOG_LEVEL_ERROR, mod, __VA_ARGS__)

#endif
