/* sqlite_webhooks.c — the SQLite backend's webhook and delivery-queue
 * operations. Their statements sit in sqlite_ops.c's table with the others
 * (ST_WEBHOOK_*, ST_DELIVERY_*); the runners in sqlite.c do the rest. */
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "sqlite_private.h"

/* Copies a text column; SQL NULL gives NULL. */
static int col_text(sqlite3_stmt *st, int i, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return 0;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return HARK_ENOMEM;
    *out = hark_strndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
    return *out ? 0 : HARK_ENOMEM;
}

static int col_text_required(sqlite3_stmt *st, int i, char **out)
{
    int err = col_text(st, i, out);
    if (!err && !*out) {
        log_error("store", "msg=\"NULL in a NOT NULL column\" column=%s",
                  sqlite3_column_name(st, i));
        err = HARK_ESTORE;
    }
    return err;
}

static int col_int(sqlite3_stmt *st, int i)
{
    int64_t v = sqlite3_column_int64(st, i);
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

/* Columns in WEBHOOK_COLS order. */
static int webhook_read(sqlite3_stmt *st, void *item)
{
    struct store_webhook *w = item;
    w->id = sqlite3_column_int64(st, 0);
    w->user_id = sqlite3_column_int64(st, 1);
    w->created_at_ms = sqlite3_column_int64(st, 5);
    int err = col_text_required(st, 2, &w->url);
    if (!err)
        err = col_text(st, 3, &w->secret);
    if (!err)
        err = col_text_required(st, 4, &w->events_json);
    if (err)
        store_webhook_release(w);
    return err;
}

/* Columns in DELIVERY_COLS order. */
static int delivery_read(sqlite3_stmt *st, void *item)
{
    struct store_delivery *d = item;
    d->id = sqlite3_column_int64(st, 0);
    d->webhook_id = sqlite3_column_int64(st, 1);
    d->user_id = sqlite3_column_int64(st, 2);
    d->attempts = col_int(st, 6);
    d->next_attempt_at_ms = sqlite3_column_int64(st, 7);
    d->last_status = col_int(st, 10);
    d->created_at_ms = sqlite3_column_int64(st, 13);
    d->updated_at_ms = sqlite3_column_int64(st, 14);
    int err = col_text_required(st, 3, &d->event_id);
    if (!err)
        err = col_text_required(st, 4, &d->event_type);
    if (!err)
        err = col_text_required(st, 5, &d->body);
    if (!err)
        err = col_text_required(st, 8, &d->status);
    if (!err)
        err = col_text(st, 9, &d->last_error);
    if (!err)
        err = col_text(st, 11, &d->url);
    if (!err)
        err = col_text(st, 12, &d->secret);
    if (err)
        store_delivery_release(d);
    return err;
}

static void webhook_release(void *item) { store_webhook_release(item); }
static void delivery_release(void *item) { store_delivery_release(item); }

static const struct row_type webhook_row = {sizeof(struct store_webhook), webhook_read,
                                            webhook_release};
static const struct row_type delivery_row = {sizeof(struct store_delivery), delivery_read,
                                             delivery_release};

/* --- webhooks ------------------------------------------------------------------ */

int sqlite_webhook_set(struct store *s, int64_t user_id, const char *url, const char *secret,
                       const char *events_json, struct store_webhook *out)
{
    const struct arg update[] = {ARG_INT(user_id), ARG_TEXT(url), ARG_TEXT(secret),
                                 ARG_TEXT(events_json)};
    const struct arg insert[] = {ARG_INT(user_id), ARG_TEXT(url), ARG_TEXT(secret),
                                 ARG_TEXT(events_json), ARG_NOW};
    /* The user's row is updated in place when there is one, so deliveries
     * still queued follow the new URL; otherwise one is inserted, in the
     * same transaction. */
    const struct query otherwise = QUERY(ST_WEBHOOK_INSERT, insert);
    return sqlite_write_one(s, QUERY(ST_WEBHOOK_UPDATE, update), &otherwise, &webhook_row, out,
                            NULL);
}

int sqlite_webhook_get(struct store *s, int64_t user_id, struct store_webhook *out)
{
    const struct arg args[] = {ARG_INT(user_id)};
    return sqlite_read_one(s, QUERY(ST_WEBHOOK_GET, args), &webhook_row, out);
}

int sqlite_webhook_list(struct store *s, int64_t user_id, struct store_webhook **out,
                        size_t *n_out)
{
    const struct arg args[] = {ARG_INT(user_id)};
    void *items = NULL;
    int err = sqlite_read_many(s, QUERY(ST_WEBHOOK_LIST, args), &webhook_row, &items, n_out);
    *out = items;
    return err;
}

/* --- deliveries ---------------------------------------------------------------- */

int sqlite_delivery_enqueue(struct store *s, int64_t webhook_id, const char *event_id,
                            const char *event_type, const char *body,
                            int64_t next_attempt_at_ms, int *created)
{
    const struct arg args[] = {ARG_INT(webhook_id),         ARG_TEXT(event_id),
                               ARG_TEXT(event_type),        ARG_TEXT(body),
                               ARG_INT(next_attempt_at_ms), ARG_NOW};
    int64_t changes = 0;
    int err = sqlite_write_exec(s, QUERY(ST_DELIVERY_ENQUEUE, args), &changes);
    *created = !err && changes > 0;
    return err;
}

int sqlite_delivery_claim(struct store *s, int64_t now_ms, int64_t lease_ms,
                          struct store_delivery *out)
{
    const struct arg args[] = {ARG_INT(now_ms), ARG_INT(lease_ms)};
    return sqlite_write_one(s, QUERY(ST_DELIVERY_CLAIM, args), NULL, &delivery_row, out, NULL);
}

/* An UPDATE fenced by the attempt number: no row changed means the attempt
 * lost the row. */
static int fenced(struct store *s, struct query q)
{
    int64_t changes = 0;
    int err = sqlite_write_exec(s, q, &changes);
    return err ? err : changes ? 0 : HARK_ENOENT;
}

int sqlite_delivery_succeed(struct store *s, int64_t id, int attempt, int http_status,
                            int64_t now_ms)
{
    const struct arg args[] = {ARG_INT(id), ARG_INT(attempt), ARG_INT(http_status),
                               ARG_INT(now_ms)};
    return fenced(s, QUERY(ST_DELIVERY_SUCCEED, args));
}

int sqlite_delivery_fail(struct store *s, int64_t id, int attempt, int http_status,
                         const char *error, int64_t next_attempt_at_ms, int64_t now_ms)
{
    /* ARG_TIME binds 0 as NULL: the statement's "dead" signal. */
    const struct arg args[] = {ARG_INT(id),      ARG_INT(attempt),
                               http_status ? ARG_INT(http_status) : ARG_NULL,
                               ARG_TEXT(error),  ARG_TIME(next_attempt_at_ms),
                               ARG_INT(now_ms)};
    return fenced(s, QUERY(ST_DELIVERY_FAIL, args));
}

int sqlite_delivery_unclaim(struct store *s, int64_t id, int attempt, int64_t now_ms)
{
    const struct arg args[] = {ARG_INT(id), ARG_INT(attempt), ARG_INT(now_ms)};
    return fenced(s, QUERY(ST_DELIVERY_UNCLAIM, args));
}

int sqlite_delivery_list(struct store *s, const char *status, int64_t offset, int64_t limit,
                         struct store_delivery **out, size_t *n_out)
{
    const struct arg args[] = {ARG_TEXT(status), ARG_INT(limit), ARG_INT(offset)};
    void *items = NULL;
    int err = sqlite_read_many(s, QUERY(ST_DELIVERY_LIST, args), &delivery_row, &items, n_out);
    *out = items;
    return err;
}
