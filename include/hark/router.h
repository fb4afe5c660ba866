/* router.h — maps (method, path) to a handler, with path parameters.
 *
 * Patterns are literal segments and `{name}` captures, e.g.
 * "/admin/users/{id}/tokens". A capture matches one non-empty segment. Literal
 * segments win over captures at the same depth, so "/bots/status" beats
 * "/bots/{platform}". Matching allocates nothing: parameters point into the
 * caller's path. A path that matches with another method gives
 * HARK_EPERM so the server can answer 405 rather than 404.
 * Thread safety: build the table first, then match from any thread. */
#ifndef HARK_ROUTER_H
#define HARK_ROUTER_H
#include <stddef.h>
#include "hark/error.h"

#define ROUTER_MAX_PARAMS 4
#define ROUTER_MAX_SEGMENTS 12

struct router;

struct router_match {
    const void *handler;  /* what router_add() was given */
    const char *pattern;  /* the route's pattern, for metrics labels */
    size_t n_params;
    struct {
        const char *name; /* borrowed from the route */
        const char *value;/* points into the path; not NUL-terminated */
        size_t len;
    } params[ROUTER_MAX_PARAMS];
};

/* *out is owned by the caller, freed with router_free(). */
HARK_MUST_CHECK int router_new(struct router **out);
void router_free(struct router *r);

/* Adds a route. method and pattern are copied; handler is an opaque pointer
 * handed back on match. HARK_EINVAL for a malformed pattern (not starting
 * with '/', an empty segment or trailing '/', an empty capture name, too many
 * segments or captures); HARK_EEXIST when a route with the same method and
 * shape exists ("/x/{a}" and "/x/{b}" are the same shape). */
HARK_MUST_CHECK int router_add(struct router *r, const char *method, const char *pattern,
                               const void *handler);

/* Matches path (without query string). 0 on match; HARK_ENOENT when no
 * pattern matches; HARK_EPERM when a pattern matches but not with this
 * method — then *allow (if not NULL) lists the methods that would, e.g.
 * "GET, POST" (static per-router storage is not used: allow must hold
 * allow_size bytes). */
HARK_MUST_CHECK int router_match(const struct router *r, const char *method, const char *path,
                                 struct router_match *m, char *allow, size_t allow_size);

/* Copies parameter `name` into buf (size bytes, NUL-terminated); returns its
 * length, or -1 if absent or too long for buf. */
int router_param(const struct router_match *m, const char *name, char *buf, size_t size);

#endif
