#include "hark/router.h"

#include <string.h>

#include "hark/mem.h"

struct segment {
    char *text;     /* literal text, or the capture name */
    int capture;
};

struct route {
    char *method;
    char *pattern;
    const void *handler;
    size_t n_segs;
    struct segment segs[ROUTER_MAX_SEGMENTS];
};

struct router {
    struct route *routes;
    size_t n, cap;
};

int router_new(struct router **out)
{
    *out = hark_calloc(1, sizeof **out);
    return *out ? 0 : HARK_ENOMEM;
}

static void route_release(struct route *rt)
{
    hark_free(rt->method);
    hark_free(rt->pattern);
    for (size_t i = 0; i < rt->n_segs; i++)
        hark_free(rt->segs[i].text);
}

void router_free(struct router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        route_release(&r->routes[i]);
    hark_free(r->routes);
    hark_free(r);
}

/* Splits a pattern into segments; route fields are filled as far as they
 * got, so route_release() cleans up after a failure. */
static int parse_pattern(struct route *rt, const char *pattern)
{
    if (pattern[0] != '/')
        return HARK_EINVAL;
    size_t captures = 0;
    const char *p = pattern + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || rt->n_segs == ROUTER_MAX_SEGMENTS)
            return HARK_EINVAL;
        struct segment *s = &rt->segs[rt->n_segs];
        s->capture = p[0] == '{';
        if (s->capture && (len < 3 || p[len - 1] != '}' || ++captures > ROUTER_MAX_PARAMS))
            return HARK_EINVAL;
        s->text = s->capture ? hark_strndup(p + 1, len - 2) : hark_strndup(p, len);
        if (!s->text)
            return HARK_ENOMEM;
        rt->n_segs++;
        if (slash && slash[1] == '\0')
            return HARK_EINVAL; /* a trailing '/' would never match */
        p += len + (slash ? 1 : 0);
    }
    return 0;
}

/* Same method and the same shape: "/x/{a}" and "/x/{b}" collide. */
static int same_route(const struct route *a, const struct route *b)
{
    if (strcmp(a->method, b->method) || a->n_segs != b->n_segs)
        return 0;
    for (size_t i = 0; i < a->n_segs; i++) {
        if (a->segs[i].capture != b->segs[i].capture ||
            (!a->segs[i].capture && strcmp(a->segs[i].text, b->segs[i].text)))
            return 0;
    }
    return 1;
}

int router_add(struct router *r, const char *method, const char *pattern,
               const void *handler)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct route *p = hark_realloc(r->routes, cap * sizeof *p);
        if (!p)
            return HARK_ENOMEM;
        r->routes = p;
        r->cap = cap;
    }
    struct route *rt = &r->routes[r->n];
    memset(rt, 0, sizeof *rt);
    rt->handler = handler;
    int rc = parse_pattern(rt, pattern);
    if (!rc && (!(rt->method = hark_strdup(method)) || !(rt->pattern = hark_strdup(pattern))))
        rc = HARK_ENOMEM;
    for (size_t i = 0; !rc && i < r->n; i++)
        if (same_route(&r->routes[i], rt))
            rc = HARK_EEXIST;
    if (rc) {
        route_release(rt);
        return rc;
    }
    r->n++;
    return 0;
}

/* Scores a route against the path's segments: -1 for no match, otherwise a
 * number where literal matches weigh more, so the most specific route wins. */
static int route_score(const struct route *rt, const char *const *seg, const size_t *len,
                       size_t n, struct router_match *m)
{
    if (rt->n_segs != n)
        return -1;
    int score = 0;
    m->n_params = 0;
    for (size_t i = 0; i < n; i++) {
        const struct segment *s = &rt->segs[i];
        score <<= 1;
        if (s->capture) {
            m->params[m->n_params].name = s->text;
            m->params[m->n_params].value = seg[i];
            m->params[m->n_params].len = len[i];
            m->n_params++;
        } else if (strlen(s->text) == len[i] && !memcmp(s->text, seg[i], len[i])) {
            score |= 1;
        } else {
            return -1;
        }
    }
    return score;
}

static void allow_add(char *allow, size_t size, const char *method)
{
    if (!allow || !size || strstr(allow, method))
        return;
    size_t used = strlen(allow);
    snprintf(allow + used, size - used, "%s%s", used ? ", " : "", method);
}

int router_match(const struct router *r, const char *method, const char *path,
                 struct router_match *m, char *allow, size_t allow_size)
{
    const char *seg[ROUTER_MAX_SEGMENTS];
    size_t len[ROUTER_MAX_SEGMENTS];
    size_t n = 0;
    if (allow && allow_size)
        allow[0] = '\0';
    if (path[0] != '/')
        return HARK_ENOENT;
    for (const char *p = path + 1; *p;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        /* An empty segment ("//", a trailing '/') or too deep: no route. */
        if (l == 0 || n == ROUTER_MAX_SEGMENTS || (slash && slash[1] == '\0'))
            return HARK_ENOENT;
        seg[n] = p;
        len[n++] = l;
        p += l + (slash ? 1 : 0);
    }
    int best = -1, other_method = 0;
    struct router_match tmp;
    for (size_t i = 0; i < r->n; i++) {
        const struct route *rt = &r->routes[i];
        int score = route_score(rt, seg, len, n, &tmp);
        if (score < 0)
            continue;
        if (strcmp(rt->method, method) != 0) {
            other_method = 1;
            allow_add(allow, allow_size, rt->method);
            continue;
        }
        if (score > best) {
            best = score;
            *m = tmp;
            m->handler = rt->handler;
            m->pattern = rt->pattern;
        }
    }
    if (best >= 0)
        return 0;
    return other_method ? HARK_EPERM : HARK_ENOENT;
}

int router_param(const struct router_match *m, const char *name, char *buf, size_t size)
{
    for (size_t i = 0; i < m->n_params; i++) {
        if (strcmp(m->params[i].name, name) != 0)
            continue;
        if (m->params[i].len >= size)
            return -1;
        memcpy(buf, m->params[i].value, m->params[i].len);
        buf[m->params[i].len] = '\0';
        return (int)m->params[i].len;
    }
    return -1;
}
