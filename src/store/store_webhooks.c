/* store_webhooks.c — the public webhook and delivery-queue calls of store.h:
 * argument checks and zeroed outputs, then the backend, as store.c does for
 * the rest. */
#include <string.h>

#include "hark/mem.h"
#include "hark/store.h"
#include "store_backend.h"

static int nonempty(const char *s) { return s && s[0]; }

static int64_t clamp_size(size_t n)
{
    return n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

void store_webhook_release(struct store_webhook *w)
{
    if (!w)
        return;
    hark_free(w->url);
    hark_free(w->secret);
    hark_free(w->events_json);
    memset(w, 0, sizeof *w);
}

void store_webhook_list_free(struct store_webhook *hooks, size_t n)
{
    if (!hooks)
        return;
    for (size_t i = 0; i < n; i++)
        store_webhook_release(&hooks[i]);
    hark_free(hooks);
}

int store_webhook_set(struct store *s, int64_t user_id, const char *url, const char *secret,
                      const char *events_json, struct store_webhook *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !nonempty(url))
        return HARK_EINVAL;
    return s->ops->webhook_set(s, user_id, url, secret, events_json ? events_json : "[]", out);
}

int store_webhook_get(struct store *s, int64_t user_id, struct store_webhook *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s)
        return HARK_EINVAL;
    return s->ops->webhook_get(s, user_id, out);
}

int store_webhook_list(struct store *s, int64_t user_id, struct store_webhook **out,
                       size_t *n_out)
{
    if (!out || !n_out)
        return HARK_EINVAL;
    *out = NULL;
    *n_out = 0;
    if (!s)
        return HARK_EINVAL;
    return s->ops->webhook_list(s, user_id, out, n_out);
}

void store_delivery_release(struct store_delivery *d)
{
    if (!d)
        return;
    hark_free(d->event_id);
    hark_free(d->event_type);
    hark_free(d->body);
    hark_free(d->status);
    hark_free(d->last_error);
    hark_free(d->url);
    hark_free(d->secret);
    memset(d, 0, sizeof *d);
}

void store_delivery_list_free(struct store_delivery *ds, size_t n)
{
    if (!ds)
        return;
    for (size_t i = 0; i < n; i++)
        store_delivery_release(&ds[i]);
    hark_free(ds);
}

int store_delivery_enqueue(struct store *s, int64_t webhook_id, const char *event_id,
                           const char *event_type, const char *body, int64_t next_attempt_at_ms,
                           int *created)
{
    int ignored;
    if (!created)
        created = &ignored;
    *created = 0;
    if (!s || !nonempty(event_id) || !nonempty(event_type) || !nonempty(body) ||
        next_attempt_at_ms < 0)
        return HARK_EINVAL;
    return s->ops->delivery_enqueue(s, webhook_id, event_id, event_type, body,
                                    next_attempt_at_ms, created);
}

int store_delivery_claim(struct store *s, int64_t now_ms, int64_t lease_ms,
                         struct store_delivery *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || now_ms < 0 || lease_ms <= 0 || now_ms > INT64_MAX - lease_ms)
        return HARK_EINVAL;
    return s->ops->delivery_claim(s, now_ms, lease_ms, out);
}

int store_delivery_succeed(struct store *s, int64_t id, int attempt, int http_status,
                           int64_t now_ms)
{
    if (!s || attempt < 1 || http_status < 0 || now_ms < 0)
        return HARK_EINVAL;
    return s->ops->delivery_succeed(s, id, attempt, http_status, now_ms);
}

int store_delivery_fail(struct store *s, int64_t id, int attempt, int http_status,
                        const char *error, int64_t next_attempt_at_ms, int64_t now_ms)
{
    if (!s || attempt < 1 || http_status < 0 || next_attempt_at_ms < 0 || now_ms < 0)
        return HARK_EINVAL;
    return s->ops->delivery_fail(s, id, attempt, http_status, error, next_attempt_at_ms, now_ms);
}

int store_delivery_unclaim(struct store *s, int64_t id, int attempt, int64_t now_ms)
{
    if (!s || attempt < 1 || now_ms < 0)
        return HARK_EINVAL;
    return s->ops->delivery_unclaim(s, id, attempt, now_ms);
}

int store_delivery_list(struct store *s, const char *status, size_t offset, size_t limit,
                        struct store_delivery **out, size_t *n_out)
{
    if (!out || !n_out)
        return HARK_EINVAL;
    *out = NULL;
    *n_out = 0;
    if (!s || (status && !*status))
        return HARK_EINVAL;
    if (limit == 0)
        return 0;
    return s->ops->delivery_list(s, status, clamp_size(offset), clamp_size(limit), out, n_out);
}
