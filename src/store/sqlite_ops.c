/* sqlite_ops.c — the SQLite backend's statements and store operations.
 *
 * Each operation is one statement from the table below, its arguments and
 * the type of row it reads; the runners in sqlite.c do the rest. */
#include <limits.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "sqlite_private.h"

/* --- statements ------------------------------------------------------------ */

#define USER_COLS "id, email, name, max_concurrent_bots, data, created_at"
#define TOKEN_COLS "id, user_id, hash, scopes, name, created_at, last_used_at, expires_at"
#define JOB_COLS "id, user_id, kind, status, params, result, error, created_at, updated_at"
#define MEETING_COLS                                                                      \
    "id, user_id, platform, native_meeting_id, constructed_meeting_url, status, "          \
    "bot_container_id, start_time, end_time, completion_reason, failure_stage, data, "     \
    "created_at, updated_at"
#define MEETING_UNFINISHED "status NOT IN ('completed', 'failed')"
#define SEGMENT_COLS                                                                      \
    "id, meeting_id, speaker, start_ms, end_ms, text, language, completed, words, "       \
    "created_at, updated_at"
#define WEBHOOK_COLS "id, user_id, url, secret, events, created_at"
/* The webhook's current URL and secret ride along, read in the same
 * statement, so a claim needs no second query. */
#define DELIVERY_HOOK(col) \
    "(SELECT " col " FROM webhooks WHERE webhooks.id = webhook_deliveries.webhook_id)"
#define DELIVERY_COLS                                                                   \
    "id, webhook_id, " DELIVERY_HOOK("user_id") ", event_id, event_type, body, attempts, " \
    "next_attempt_at, status, last_error, last_status, " DELIVERY_HOOK("url") ", "        \
    DELIVERY_HOOK("secret") ", created_at, updated_at"

const struct stmt_def sqlite_stmts[ST_COUNT] = {
    /* IMMEDIATE takes the write lock up front, so a transaction never has
     * to upgrade a read snapshot (which fails at once, past the busy
     * handler, if another connection committed meanwhile). */
    [ST_BEGIN] = {"begin", "BEGIN IMMEDIATE"},
    [ST_COMMIT] = {"commit", "COMMIT"},
    [ST_ROLLBACK] = {"rollback", "ROLLBACK"},
    [ST_PING] = {"ping", "SELECT 1 FROM schema_migrations LIMIT 1"},
    [ST_HAS_MIGRATIONS] = {"schema_version",
                           "SELECT count(*) FROM sqlite_master "
                           "WHERE type = 'table' AND name = 'schema_migrations'"},
    [ST_VERSION] = {"schema_version", "SELECT coalesce(max(version), 0) FROM schema_migrations"},
    [ST_MIGRATION_RECORD] = {"migrate",
                             "INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)"},
    [ST_SETTING_GET] = {"setting_get", "SELECT value FROM settings WHERE key = ?1"},
    [ST_SETTING_INIT] = {"setting_init", "INSERT INTO settings(key, value) VALUES (?1, ?2) "
                                         "ON CONFLICT(key) DO NOTHING"},
    [ST_SETTING_SET] = {"setting_set", "INSERT INTO settings(key, value) VALUES (?1, ?2) "
                                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
    [ST_USER_INSERT] = {"user_create",
                        "INSERT INTO users(email, name, max_concurrent_bots, data, created_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(email) DO NOTHING "
                        "RETURNING " USER_COLS},
    [ST_USER_GET] = {"user_get", "SELECT " USER_COLS " FROM users WHERE id = ?1"},
    /* The column's NOCASE collation makes this compare case-insensitively
     * and lets it use the unique index. */
    [ST_USER_BY_EMAIL] = {"user_get_by_email", "SELECT " USER_COLS " FROM users WHERE email = ?1"},
    [ST_USER_UPDATE] = {"user_update",
                        "UPDATE users SET name = coalesce(?2, name), "
                        "max_concurrent_bots = coalesce(?3, max_concurrent_bots), "
                        "data = coalesce(?4, data) WHERE id = ?1 RETURNING " USER_COLS},
    [ST_USER_LIST] = {"user_list",
                      "SELECT " USER_COLS " FROM users ORDER BY id LIMIT ?1 OFFSET ?2"},
    [ST_TOKEN_INSERT] = {"token_create",
                         "INSERT INTO api_tokens(user_id, hash, scopes, name, created_at, "
                         "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING " TOKEN_COLS},
    [ST_TOKEN_FIND] = {"token_find", "SELECT " TOKEN_COLS " FROM api_tokens WHERE hash = ?1"},
    [ST_TOKEN_TOUCH] = {"token_touch",
                        "UPDATE api_tokens SET last_used_at = max(coalesce(last_used_at, 0), ?2) "
                        "WHERE id = ?1"},
    [ST_TOKEN_LIST] = {"token_list",
                       "SELECT " TOKEN_COLS " FROM api_tokens WHERE user_id = ?1 ORDER BY id"},
    [ST_TOKEN_DELETE] = {"token_delete", "DELETE FROM api_tokens WHERE id = ?1"},
    /* A native meeting id can be met again later (a weekly call): the
     * newest row is the one that counts. */
    [ST_MEETING_FIND] = {"meeting_find",
                         "SELECT id FROM meetings WHERE user_id = ?1 AND platform = ?2 "
                         "AND native_meeting_id = ?3 ORDER BY id DESC LIMIT 1"},
    [ST_JOB_INSERT] = {"job_create",
                       "INSERT INTO jobs(user_id, kind, status, params, created_at, updated_at) "
                       "VALUES (?1, ?2, 'queued', ?3, ?4, ?4) RETURNING " JOB_COLS},
    [ST_JOB_GET] = {"job_get", "SELECT " JOB_COLS " FROM jobs WHERE id = ?2 AND user_id = ?1"},
    [ST_JOB_UPDATE] = {"job_update",
                       "UPDATE jobs SET status = ?2, result = coalesce(?3, result), "
                       "error = coalesce(?4, error), updated_at = ?5 WHERE id = ?1"},
    [ST_JOB_FAIL_UNFINISHED] = {"job_fail_unfinished",
                                "UPDATE jobs SET status = 'failed', error = ?1, updated_at = ?2 "
                                "WHERE status IN ('queued', 'running')"},
    /* Meetings, bots, segments: the operations are in sqlite_meetings.c. */
    [ST_MEETING_CREATE_CHECK] = {"meeting_create",
                                 "SELECT (SELECT max_concurrent_bots FROM users WHERE id = ?1), "
                                 "(SELECT count(*) FROM meetings WHERE user_id = ?1 AND "
                                 MEETING_UNFINISHED "), "
                                 "EXISTS (SELECT 1 FROM meetings WHERE user_id = ?1 AND "
                                 "platform = ?2 AND native_meeting_id = ?3 AND "
                                 MEETING_UNFINISHED ")"},
    [ST_MEETING_INSERT] = {"meeting_create",
                           "INSERT INTO meetings(user_id, platform, native_meeting_id, "
                           "constructed_meeting_url, status, data, created_at, updated_at) "
                           "VALUES (?1, ?2, ?3, ?4, 'requested', ?5, ?6, ?6) "
                           "RETURNING " MEETING_COLS},
    [ST_BOT_INSERT] = {"meeting_create",
                       "INSERT INTO bots(meeting_id, driver, state, created_at, updated_at) "
                       "VALUES (?1, ?2, 'requested', ?3, ?3)"},
    [ST_MEETING_GET] = {"meeting_get",
                        "SELECT " MEETING_COLS " FROM meetings WHERE id = ?2 AND user_id = ?1"},
    [ST_MEETING_GET_NATIVE] = {"meeting_get_native",
                               "SELECT " MEETING_COLS " FROM meetings WHERE user_id = ?1 AND "
                               "platform = ?2 AND native_meeting_id = ?3 "
                               "ORDER BY id DESC LIMIT 1"},
    [ST_MEETING_ACTIVE_COUNT] = {"meeting_active_count",
                                 "SELECT count(*) FROM meetings WHERE user_id = ?1 AND "
                                 MEETING_UNFINISHED},
    [ST_MEETING_LIST] = {"meeting_list",
                         "SELECT " MEETING_COLS " FROM meetings WHERE user_id = ?1 "
                         "AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR platform = ?3) "
                         "AND (?4 = 0 OR " MEETING_UNFINISHED ") "
                         "ORDER BY id DESC LIMIT ?5 OFFSET ?6"},
    [ST_MEETING_STATUS_GET] = {"meeting_set_status", "SELECT status FROM meetings WHERE id = ?1"},
    /* Times are stamped once: a repeated "active" keeps the first start. */
    [ST_MEETING_STATUS_SET] = {"meeting_set_status",
                               "UPDATE meetings SET status = ?2, "
                               "completion_reason = coalesce(?3, completion_reason), "
                               "failure_stage = coalesce(?4, failure_stage), "
                               "data = CASE WHEN ?5 IS NULL THEN data "
                               "ELSE json_set(data, '$.reason_detail', ?5) END, "
                               "bot_container_id = coalesce(?6, bot_container_id), "
                               "start_time = CASE WHEN ?2 = 'active' "
                               "THEN coalesce(start_time, ?7) ELSE start_time END, "
                               "end_time = CASE WHEN ?2 IN ('completed', 'failed') "
                               "THEN coalesce(end_time, ?7) ELSE end_time END, "
                               "updated_at = ?7 WHERE id = ?1 RETURNING " MEETING_COLS},
    [ST_BOT_STATE_SET] = {"meeting_set_status",
                          "UPDATE bots SET state = ?2, updated_at = ?3 WHERE meeting_id = ?1"},
    [ST_MEETING_PATCH_DATA] = {"meeting_patch_data",
                               "UPDATE meetings SET data = json_patch(data, ?3), updated_at = ?4 "
                               "WHERE id = ?2 AND user_id = ?1 RETURNING " MEETING_COLS},
    [ST_MEETING_PURGE_CHECK] = {"meeting_purge",
                                "SELECT status FROM meetings WHERE id = ?2 AND user_id = ?1"},
    [ST_SEGMENTS_DELETE] = {"meeting_purge", "DELETE FROM segments WHERE meeting_id = ?1"},
    /* What stays is what accounting needs: platform, status, reasons and
     * times; what a person said or named goes. */
    [ST_MEETING_ANONYMISE] = {"meeting_purge",
                              "UPDATE meetings SET native_meeting_id = '', "
                              "constructed_meeting_url = NULL, bot_container_id = NULL, "
                              "data = json_patch('{\"redacted\":true}', json_object("
                              "'reason_detail', json_extract(data, '$.reason_detail'))), "
                              "updated_at = ?2 WHERE id = ?1 RETURNING " MEETING_COLS},
    /* The WHERE keeps an id owned by another meeting, and a completed
     * segment against a late partial, unchanged (no row changes). */
    [ST_SEGMENT_UPSERT] = {"segments_upsert",
                           "INSERT INTO segments(id, meeting_id, speaker, start_ms, end_ms, text, "
                           "language, completed, words, created_at, updated_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) "
                           "ON CONFLICT(id) DO UPDATE SET speaker = excluded.speaker, "
                           "start_ms = excluded.start_ms, end_ms = excluded.end_ms, "
                           "text = excluded.text, language = excluded.language, "
                           "completed = excluded.completed, words = excluded.words, "
                           "updated_at = excluded.updated_at "
                           "WHERE segments.meeting_id = excluded.meeting_id "
                           "AND (excluded.completed = 1 OR segments.completed = 0)"},
    [ST_SEGMENT_OWNER] = {"segments_upsert", "SELECT meeting_id FROM segments WHERE id = ?1"},
    [ST_SEGMENTS_LIST] = {"segments_list",
                          "SELECT " SEGMENT_COLS " FROM segments WHERE meeting_id = ?1 "
                          "AND updated_at >= ?2 ORDER BY start_ms, id"},
    [ST_SEGMENTS_DELETE_FROM] = {"segments_delete_from",
                                 "DELETE FROM segments WHERE meeting_id = ?1 AND start_ms >= ?2"},
    [ST_MEETING_UNFINISHED_ALL] = {"meeting_unfinished_all",
                                   "SELECT " MEETING_COLS " FROM meetings WHERE "
                                   MEETING_UNFINISHED " ORDER BY id"},
    /* Webhooks and deliveries: the operations are in sqlite_webhooks.c. One
     * webhook per user: a second set updates the newest row in place. */
    [ST_WEBHOOK_UPDATE] = {"webhook_set",
                           "UPDATE webhooks SET url = ?2, secret = ?3, events = ?4 "
                           "WHERE id = (SELECT max(id) FROM webhooks WHERE user_id = ?1) "
                           "RETURNING " WEBHOOK_COLS},
    [ST_WEBHOOK_INSERT] = {"webhook_set",
                           "INSERT INTO webhooks(user_id, url, secret, events, created_at) "
                           "VALUES (?1, ?2, ?3, ?4, ?5) RETURNING " WEBHOOK_COLS},
    [ST_WEBHOOK_GET] = {"webhook_get", "SELECT " WEBHOOK_COLS " FROM webhooks "
                                       "WHERE user_id = ?1 ORDER BY id DESC LIMIT 1"},
    [ST_WEBHOOK_LIST] = {"webhook_list",
                         "SELECT " WEBHOOK_COLS " FROM webhooks WHERE user_id = ?1 ORDER BY id"},
    [ST_DELIVERY_ENQUEUE] = {"delivery_enqueue",
                             "INSERT INTO webhook_deliveries(webhook_id, event_id, event_type, "
                             "body, next_attempt_at, created_at, updated_at) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) "
                             "ON CONFLICT(webhook_id, event_id) DO NOTHING"},
    /* One statement under the write lock: the row is counted and leased
     * before any other claimer can see it due. */
    [ST_DELIVERY_CLAIM] = {"delivery_claim",
                           "UPDATE webhook_deliveries SET attempts = attempts + 1, "
                           "next_attempt_at = ?1 + ?2, updated_at = ?1 "
                           "WHERE id = (SELECT id FROM webhook_deliveries WHERE status = "
                           "'pending' AND next_attempt_at <= ?1 "
                           "ORDER BY next_attempt_at, id LIMIT 1) RETURNING " DELIVERY_COLS},
    /* attempts is the fencing token: a sender whose lease ran out and was
     * claimed again matches no row. */
    [ST_DELIVERY_SUCCEED] = {"delivery_succeed",
                             "UPDATE webhook_deliveries SET status = 'delivered', "
                             "next_attempt_at = NULL, last_status = ?3, last_error = NULL, "
                             "updated_at = ?4 "
                             "WHERE id = ?1 AND attempts = ?2 AND status = 'pending'"},
    [ST_DELIVERY_FAIL] = {"delivery_fail",
                          "UPDATE webhook_deliveries SET status = CASE WHEN ?5 IS NULL "
                          "THEN 'dead' ELSE 'pending' END, next_attempt_at = ?5, "
                          "last_status = ?3, last_error = ?4, updated_at = ?6 "
                          "WHERE id = ?1 AND attempts = ?2 AND status = 'pending'"},
    [ST_DELIVERY_UNCLAIM] = {"delivery_unclaim",
                             "UPDATE webhook_deliveries SET attempts = attempts - 1, "
                             "next_attempt_at = ?3, updated_at = ?3 "
                             "WHERE id = ?1 AND attempts = ?2 AND status = 'pending'"},
    [ST_DELIVERY_LIST] = {"delivery_list",
                          "SELECT " DELIVERY_COLS " FROM webhook_deliveries "
                          "WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"},
};

/* --- rows --------------------------------------------------------------------- */

/* Copies a text column; SQL NULL gives NULL. */
static int col_text(sqlite3_stmt *st, int i, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return 0;
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return HARK_ENOMEM; /* converting the value to text ran out */
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

static int user_read(sqlite3_stmt *st, void *item)
{
    struct store_user *u = item;
    int64_t bots = sqlite3_column_int64(st, 3);
    u->id = sqlite3_column_int64(st, 0);
    u->max_concurrent_bots = bots > INT_MAX ? INT_MAX : (int)bots;
    u->created_at_ms = sqlite3_column_int64(st, 5);
    int err = col_text_required(st, 1, &u->email);
    if (!err)
        err = col_text(st, 2, &u->name);
    if (!err)
        err = col_text_required(st, 4, &u->data_json);
    if (err)
        store_user_release(u);
    return err;
}

static int token_read(sqlite3_stmt *st, void *item)
{
    struct store_token *t = item;
    t->id = sqlite3_column_int64(st, 0);
    t->user_id = sqlite3_column_int64(st, 1);
    t->created_at_ms = sqlite3_column_int64(st, 5);
    t->last_used_at_ms = sqlite3_column_int64(st, 6);
    t->expires_at_ms = sqlite3_column_int64(st, 7);
    const void *hash = sqlite3_column_blob(st, 2);
    if (sqlite3_column_bytes(st, 2) != STORE_TOKEN_HASH_BYTES || !hash) {
        log_error("store", "msg=\"token hash has the wrong size\" token=%lld",
                  (long long)t->id);
        return HARK_ESTORE;
    }
    memcpy(t->hash, hash, STORE_TOKEN_HASH_BYTES);
    int err = col_text_required(st, 3, &t->scopes);
    if (!err)
        err = col_text(st, 4, &t->name);
    if (err)
        store_token_release(t);
    return err;
}

/* The first column as a NOT NULL string. */
static int text_read(sqlite3_stmt *st, void *item) { return col_text_required(st, 0, item); }

/* The first column as an id. */
static int id_read(sqlite3_stmt *st, void *item)
{
    *(int64_t *)item = sqlite3_column_int64(st, 0);
    return 0;
}

static int job_read(sqlite3_stmt *st, void *item)
{
    struct store_job *j = item;
    j->id = sqlite3_column_int64(st, 0);
    j->user_id = sqlite3_column_int64(st, 1);
    j->created_at_ms = sqlite3_column_int64(st, 7);
    j->updated_at_ms = sqlite3_column_int64(st, 8);
    int err = col_text_required(st, 2, &j->kind);
    if (!err)
        err = col_text_required(st, 3, &j->status);
    if (!err)
        err = col_text_required(st, 4, &j->params_json);
    if (!err)
        err = col_text(st, 5, &j->result);
    if (!err)
        err = col_text(st, 6, &j->error);
    if (err)
        store_job_release(j);
    return err;
}

static void job_release(void *item) { store_job_release(item); }
static void user_release(void *item) { store_user_release(item); }
static void token_release(void *item) { store_token_release(item); }

static void text_release(void *item)
{
    char **s = item;
    hark_free(*s);
    *s = NULL;
}

static void id_release(void *item) { *(int64_t *)item = 0; }

static const struct row_type user_row = {sizeof(struct store_user), user_read, user_release};
static const struct row_type token_row = {sizeof(struct store_token), token_read, token_release};
static const struct row_type text_row = {sizeof(char *), text_read, text_release};
static const struct row_type id_row = {sizeof(int64_t), id_read, id_release};
static const struct row_type job_row = {sizeof(struct store_job), job_read, job_release};

/* --- settings ------------------------------------------------------------------- */

static int sqlite_setting_get(struct store *s, const char *key, char **out)
{
    const struct arg args[] = {ARG_TEXT(key)};
    return sqlite_read_one(s, QUERY(ST_SETTING_GET, args), &text_row, out);
}

static int sqlite_setting_init(struct store *s, const char *key, const char *value)
{
    const struct arg args[] = {ARG_TEXT(key), ARG_TEXT(value)};
    int64_t changes = 0;
    int err = sqlite_write_exec(s, QUERY(ST_SETTING_INIT, args), &changes);
    return err ? err : changes ? 0 : HARK_EEXIST;
}

static int sqlite_setting_set(struct store *s, const char *key, const char *value)
{
    const struct arg args[] = {ARG_TEXT(key), ARG_TEXT(value)};
    return sqlite_write_exec(s, QUERY(ST_SETTING_SET, args), NULL);
}

/* --- users ---------------------------------------------------------------------- */

static int sqlite_user_create(struct store *s, const char *email, const char *name,
                              int max_concurrent_bots, const char *data_json,
                              struct store_user *out, int *created)
{
    const struct arg args[] = {ARG_TEXT(email), ARG_TEXT(name), ARG_INT(max_concurrent_bots),
                               ARG_TEXT(data_json), ARG_NOW};
    const struct arg by_email[] = {ARG_TEXT(email)};
    /* DO NOTHING yields no row when the email is taken: that user is the
     * answer, read in the same transaction. */
    const struct query existing = QUERY(ST_USER_BY_EMAIL, by_email);
    return sqlite_write_one(s, QUERY(ST_USER_INSERT, args), &existing, &user_row, out, created);
}

static int sqlite_user_get(struct store *s, int64_t id, struct store_user *out)
{
    const struct arg args[] = {ARG_INT(id)};
    return sqlite_read_one(s, QUERY(ST_USER_GET, args), &user_row, out);
}

static int sqlite_user_get_by_email(struct store *s, const char *email, struct store_user *out)
{
    const struct arg args[] = {ARG_TEXT(email)};
    return sqlite_read_one(s, QUERY(ST_USER_BY_EMAIL, args), &user_row, out);
}

static int sqlite_user_update(struct store *s, int64_t id, const char *name,
                              const int *max_concurrent_bots, const char *data_json,
                              struct store_user *out)
{
    /* NULL leaves the column as it is (coalesce in the statement). */
    const struct arg args[] = {ARG_INT(id), ARG_TEXT(name),
                               max_concurrent_bots ? ARG_INT(*max_concurrent_bots) : ARG_NULL,
                               ARG_TEXT(data_json)};
    return sqlite_write_one(s, QUERY(ST_USER_UPDATE, args), NULL, &user_row, out, NULL);
}

static int sqlite_user_list(struct store *s, int64_t offset, int64_t limit,
                            struct store_user **out, size_t *n_out)
{
    const struct arg args[] = {ARG_INT(limit), ARG_INT(offset)};
    void *items = NULL;
    int err = sqlite_read_many(s, QUERY(ST_USER_LIST, args), &user_row, &items, n_out);
    *out = items;
    return err;
}

/* --- API tokens ----------------------------------------------------------------- */

static int sqlite_token_create(struct store *s, int64_t user_id,
                               const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                               const char *scopes, const char *name, int64_t expires_at_ms,
                               struct store_token *out)
{
    const struct arg args[] = {ARG_INT(user_id), ARG_BLOB(hash, STORE_TOKEN_HASH_BYTES),
                               ARG_TEXT(scopes), ARG_TEXT(name), ARG_NOW,
                               ARG_TIME(expires_at_ms)};
    return sqlite_write_one(s, QUERY(ST_TOKEN_INSERT, args), NULL, &token_row, out, NULL);
}

static int sqlite_token_find(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                             struct store_token *out)
{
    const struct arg args[] = {ARG_BLOB(hash, STORE_TOKEN_HASH_BYTES)};
    return sqlite_read_one(s, QUERY(ST_TOKEN_FIND, args), &token_row, out);
}

static int sqlite_token_touch(struct store *s, int64_t id, int64_t now_ms)
{
    const struct arg args[] = {ARG_INT(id), ARG_INT(now_ms)};
    int64_t changes = 0;
    int err = sqlite_write_exec(s, QUERY(ST_TOKEN_TOUCH, args), &changes);
    return err ? err : changes ? 0 : HARK_ENOENT;
}

static int sqlite_token_list(struct store *s, int64_t user_id, struct store_token **out,
                             size_t *n_out)
{
    const struct arg args[] = {ARG_INT(user_id)};
    void *items = NULL;
    int err = sqlite_read_many(s, QUERY(ST_TOKEN_LIST, args), &token_row, &items, n_out);
    *out = items;
    return err;
}

static int sqlite_token_delete(struct store *s, int64_t id)
{
    const struct arg args[] = {ARG_INT(id)};
    int64_t changes = 0;
    int err = sqlite_write_exec(s, QUERY(ST_TOKEN_DELETE, args), &changes);
    return err ? err : changes ? 0 : HARK_ENOENT;
}

/* --- jobs ----------------------------------------------------------------------- */

static int sqlite_job_create(struct store *s, int64_t user_id, const char *kind,
                             const char *params_json, struct store_job *out)
{
    const struct arg args[] = {ARG_INT(user_id), ARG_TEXT(kind), ARG_TEXT(params_json), ARG_NOW};
    return sqlite_write_one(s, QUERY(ST_JOB_INSERT, args), NULL, &job_row, out, NULL);
}

static int sqlite_job_get(struct store *s, int64_t user_id, int64_t id, struct store_job *out)
{
    const struct arg args[] = {ARG_INT(user_id), ARG_INT(id)};
    return sqlite_read_one(s, QUERY(ST_JOB_GET, args), &job_row, out);
}

static int sqlite_job_update(struct store *s, int64_t id, const char *status, const char *result,
                             const char *error)
{
    const struct arg args[] = {ARG_INT(id), ARG_TEXT(status), ARG_TEXT(result), ARG_TEXT(error),
                               ARG_NOW};
    int64_t changes = 0;
    int err = sqlite_write_exec(s, QUERY(ST_JOB_UPDATE, args), &changes);
    return err ? err : changes ? 0 : HARK_ENOENT;
}

static int sqlite_job_fail_unfinished(struct store *s, const char *error, int64_t *n_out)
{
    const struct arg args[] = {ARG_TEXT(error), ARG_NOW};
    return sqlite_write_exec(s, QUERY(ST_JOB_FAIL_UNFINISHED, args), n_out);
}

/* --- meetings ------------------------------------------------------------------- */

static int sqlite_meeting_find(struct store *s, int64_t user_id, const char *platform,
                               const char *native_id, int64_t *id_out)
{
    const struct arg args[] = {ARG_INT(user_id), ARG_TEXT(platform), ARG_TEXT(native_id)};
    return sqlite_read_one(s, QUERY(ST_MEETING_FIND, args), &id_row, id_out);
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .free = sqlite_free,
    .ping = sqlite_ping,
    .schema_version = sqlite_schema_version,
    .backup = sqlite_backup,
    .setting_get = sqlite_setting_get,
    .setting_init = sqlite_setting_init,
    .setting_set = sqlite_setting_set,
    .user_create = sqlite_user_create,
    .user_get = sqlite_user_get,
    .user_get_by_email = sqlite_user_get_by_email,
    .user_update = sqlite_user_update,
    .user_list = sqlite_user_list,
    .token_create = sqlite_token_create,
    .token_find = sqlite_token_find,
    .token_touch = sqlite_token_touch,
    .token_list = sqlite_token_list,
    .token_delete = sqlite_token_delete,
    .job_create = sqlite_job_create,
    .job_get = sqlite_job_get,
    .job_update = sqlite_job_update,
    .job_fail_unfinished = sqlite_job_fail_unfinished,
    .meeting_find = sqlite_meeting_find,
    .meeting_create = sqlite_meeting_create,
    .meeting_get = sqlite_meeting_get,
    .meeting_get_native = sqlite_meeting_get_native,
    .meeting_active_count = sqlite_meeting_active_count,
    .meeting_list = sqlite_meeting_list,
    .meeting_set_status = sqlite_meeting_set_status,
    .meeting_patch_data = sqlite_meeting_patch_data,
    .meeting_purge = sqlite_meeting_purge,
    .segments_upsert = sqlite_segments_upsert,
    .segments_list = sqlite_segments_list,
    .segments_delete_from = sqlite_segments_delete_from,
    .meeting_unfinished_all = sqlite_meeting_unfinished_all,
    .webhook_set = sqlite_webhook_set,
    .webhook_get = sqlite_webhook_get,
    .webhook_list = sqlite_webhook_list,
    .delivery_enqueue = sqlite_delivery_enqueue,
    .delivery_claim = sqlite_delivery_claim,
    .delivery_succeed = sqlite_delivery_succeed,
    .delivery_fail = sqlite_delivery_fail,
    .delivery_unclaim = sqlite_delivery_unclaim,
    .delivery_list = sqlite_delivery_list,
};
