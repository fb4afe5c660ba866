/* sqlite_private.h — what the two halves of the SQLite backend share;
 * private to src/store/.
 *
 * sqlite.c owns connections, the reader pool, transactions, migrations and
 * backup, and runs statements through the runners below; sqlite_ops.c
 * holds the statement table and the store operations, each one statement
 * id, its typed arguments and a row type. The runners check a connection
 * out and back in, open and end transactions, bind, step, map SQLite's
 * result codes to HARK_E* codes (logging what a caller cannot handle) and
 * reset the statement, so no operation touches a connection itself. */
#ifndef HARK_STORE_SQLITE_PRIVATE_H
#define HARK_STORE_SQLITE_PRIVATE_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"
#include "store_backend.h"

/* --- statements (table in sqlite_ops.c) ------------------------------------- */

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_PING,
    ST_HAS_MIGRATIONS,
    ST_VERSION,
    ST_MIGRATION_RECORD,
    ST_SETTING_GET,
    ST_SETTING_INIT,
    ST_SETTING_SET,
    ST_USER_INSERT,
    ST_USER_GET,
    ST_USER_BY_EMAIL,
    ST_USER_UPDATE,
    ST_USER_LIST,
    ST_TOKEN_INSERT,
    ST_TOKEN_FIND,
    ST_TOKEN_TOUCH,
    ST_TOKEN_LIST,
    ST_TOKEN_DELETE,
    ST_MEETING_FIND,
    ST_JOB_INSERT,
    ST_JOB_GET,
    ST_JOB_UPDATE,
    ST_JOB_FAIL_UNFINISHED,
    /* meetings, bots, segments (run by sqlite_meetings.c) */
    ST_MEETING_CREATE_CHECK,
    ST_MEETING_INSERT,
    ST_BOT_INSERT,
    ST_MEETING_GET,
    ST_MEETING_GET_NATIVE,
    ST_MEETING_ACTIVE_COUNT,
    ST_MEETING_LIST,
    ST_MEETING_STATUS_GET,
    ST_MEETING_STATUS_SET,
    ST_BOT_STATE_SET,
    ST_MEETING_PATCH_DATA,
    ST_MEETING_PURGE_CHECK,
    ST_SEGMENTS_DELETE,
    ST_MEETING_ANONYMISE,
    ST_SEGMENT_UPSERT,
    ST_SEGMENT_OWNER,
    ST_SEGMENTS_LIST,
    ST_SEGMENTS_DELETE_FROM,
    ST_MEETING_UNFINISHED_ALL,
    ST_WEBHOOK_UPDATE,
    ST_WEBHOOK_INSERT,
    ST_WEBHOOK_GET,
    ST_WEBHOOK_LIST,
    ST_DELIVERY_ENQUEUE,
    ST_DELIVERY_CLAIM,
    ST_DELIVERY_SUCCEED,
    ST_DELIVERY_FAIL,
    ST_DELIVERY_UNCLAIM,
    ST_DELIVERY_LIST,
    ST_COUNT
};

struct stmt_def {
    const char *name; /* names the operation in error logs */
    const char *sql;
};

/* Prepared on first use, once per connection. */
extern const struct stmt_def sqlite_stmts[ST_COUNT];

/* --- arguments ---------------------------------------------------------------- */

enum arg_kind {
    ARG_KIND_NULL,
    ARG_KIND_INT,
    ARG_KIND_TIME, /* an int, but 0 (the store's "never") binds NULL */
    ARG_KIND_TEXT, /* NULL binds NULL */
    ARG_KIND_BLOB,
    /* store_now_ms(), read as it is bound: under the write lock, so times
     * follow the order rows were written in. */
    ARG_KIND_NOW,
};

/* One statement parameter. Text and blobs are borrowed, not copied: they
 * must outlive the runner call. */
struct arg {
    enum arg_kind kind;
    int n;         /* BLOB: bytes */
    int64_t i;     /* INT, TIME */
    const void *p; /* TEXT, BLOB */
};

#define ARG_NULL ((struct arg){.kind = ARG_KIND_NULL})
#define ARG_INT(v) ((struct arg){.kind = ARG_KIND_INT, .i = (v)})
#define ARG_TIME(ms) ((struct arg){.kind = ARG_KIND_TIME, .i = (ms)})
#define ARG_TEXT(s) ((struct arg){.kind = ARG_KIND_TEXT, .p = (s)})
#define ARG_BLOB(b, bytes) ((struct arg){.kind = ARG_KIND_BLOB, .p = (b), .n = (bytes)})
#define ARG_NOW ((struct arg){.kind = ARG_KIND_NOW})

/* A statement with its arguments, bound to ?1, ?2, ... in order. */
struct query {
    enum stmt_id id;
    const struct arg *args; /* borrowed */
    size_t n_args;
};

/* args must be an array, not a pointer: its size gives the count. */
#define QUERY(stmt, args) ((struct query){(stmt), (args), sizeof(args) / sizeof *(args)})

/* --- rows ---------------------------------------------------------------------- */

/* How to read one result row into an item of `size` bytes. read() fills a
 * zeroed item and, on failure, releases what it filled; release() frees an
 * item's contents and zeroes it (a zeroed item is fine). */
struct row_type {
    size_t size;
    int (*read)(sqlite3_stmt *st, void *item);
    void (*release)(void *item);
};

/* --- runners --------------------------------------------------------------------- */

/* Runs q on a pooled reader; it must yield at most one row, read into item
 * (a zeroed item, borrowed). HARK_ENOENT when there is none; on any failure
 * item is released. */
HARK_MUST_CHECK int sqlite_read_one(struct store *s, struct query q, const struct row_type *row,
                                    void *item);

/* Runs q on a pooled reader and reads every row into a new array of items;
 * on success *items (NULL when there are no rows; caller frees each item
 * and then the array with hark_free()) and *n are written, on failure
 * neither is. */
HARK_MUST_CHECK int sqlite_read_many(struct store *s, struct query q, const struct row_type *row,
                                     void **items, size_t *n);

/* Runs q in a write transaction and reads the one row it yields (an
 * INSERT or UPDATE ... RETURNING) into item, as sqlite_read_one(). When q
 * yields no row and `otherwise` is not NULL, runs that in the same
 * transaction instead. *from_q (may be NULL) says whether the row came
 * from q; on failure it is 0, item is released and nothing was written. */
HARK_MUST_CHECK int sqlite_write_one(struct store *s, struct query q, const struct query *otherwise,
                                     const struct row_type *row, void *item, int *from_q);

/* Runs q on the writer for its effect, outside an explicit transaction (a
 * row it yields is ignored); *changes (may be NULL) gets the number of rows
 * it changed. */
HARK_MUST_CHECK int sqlite_write_exec(struct store *s, struct query q, int64_t *changes);

/* A write transaction spanning several statements, for operations whose
 * checks and writes must be one (sqlite_write_txn). */
struct sqlite_txn;

/* Runs fn(t, arg) inside one write transaction on the writer; commits when
 * fn returns 0, rolls back otherwise, and returns fn's result (or the
 * commit's failure). fn runs statements with sqlite_txn_one() (at most one
 * row, as sqlite_read_one()) and sqlite_txn_exec() (as sqlite_write_exec()),
 * which use the transaction's connection. */
HARK_MUST_CHECK int sqlite_write_txn(struct store *s, int (*fn)(struct sqlite_txn *t, void *arg),
                                     void *arg);
HARK_MUST_CHECK int sqlite_txn_one(struct sqlite_txn *t, struct query q,
                                   const struct row_type *row, void *item);
HARK_MUST_CHECK int sqlite_txn_exec(struct sqlite_txn *t, struct query q, int64_t *changes);

/* --- meetings, bots, segments (sqlite_meetings.c), for store_sqlite_ops ------ */

int sqlite_meeting_create(struct store *s, int64_t user_id, const struct store_meeting_new *m,
                          struct store_meeting *out, int *limit_out);
int sqlite_meeting_get(struct store *s, int64_t user_id, int64_t id, struct store_meeting *out);
int sqlite_meeting_get_native(struct store *s, int64_t user_id, const char *platform,
                              const char *native_id, struct store_meeting *out);
int sqlite_meeting_active_count(struct store *s, int64_t user_id, int64_t *out);
int sqlite_meeting_list(struct store *s, int64_t user_id, const struct store_meeting_filter *f,
                        struct store_meeting **out, size_t *n_out);
int sqlite_meeting_set_status(struct store *s, int64_t id, const struct store_status_change *c,
                              struct store_meeting *out, char prev[STORE_STATUS_MAX]);
int sqlite_meeting_patch_data(struct store *s, int64_t user_id, int64_t id,
                              const char *patch_json, struct store_meeting *out);
int sqlite_meeting_purge(struct store *s, int64_t user_id, int64_t id, struct store_meeting *out);
int sqlite_segments_upsert(struct store *s, int64_t meeting_id,
                           const struct store_segment_in *segs, size_t n);
int sqlite_segments_delete_from(struct store *s, int64_t meeting_id, int64_t start_ms,
                                 int64_t *n_out);
int sqlite_meeting_unfinished_all(struct store *s, struct store_meeting **out, size_t *n_out);
int sqlite_segments_list(struct store *s, int64_t meeting_id, int64_t since_ms,
                         struct store_segment **out, size_t *n_out);

/* --- lifecycle and status (sqlite.c), for store_sqlite_ops ---------------------- */

int sqlite_open(const struct store_config *cfg, const char *path, struct store **out);
void sqlite_free(struct store *s);
int sqlite_ping(struct store *s);
int sqlite_schema_version(struct store *s, int *out);
int sqlite_backup(struct store *s, const char *dest);

/* --- webhooks and deliveries (sqlite_webhooks.c), for store_sqlite_ops ------- */

int sqlite_webhook_set(struct store *s, int64_t user_id, const char *url, const char *secret,
                       const char *events_json, struct store_webhook *out);
int sqlite_webhook_get(struct store *s, int64_t user_id, struct store_webhook *out);
int sqlite_webhook_list(struct store *s, int64_t user_id, struct store_webhook **out,
                        size_t *n_out);
int sqlite_delivery_enqueue(struct store *s, int64_t webhook_id, const char *event_id,
                            const char *event_type, const char *body,
                            int64_t next_attempt_at_ms, int *created);
int sqlite_delivery_claim(struct store *s, int64_t now_ms, int64_t lease_ms,
                          struct store_delivery *out);
int sqlite_delivery_succeed(struct store *s, int64_t id, int attempt, int http_status,
                            int64_t now_ms);
int sqlite_delivery_fail(struct store *s, int64_t id, int attempt, int http_status,
                         const char *error, int64_t next_attempt_at_ms, int64_t now_ms);
int sqlite_delivery_unclaim(struct store *s, int64_t id, int attempt, int64_t now_ms);
int sqlite_delivery_list(struct store *s, const char *status, int64_t offset, int64_t limit,
                         struct store_delivery **out, size_t *n_out);

#endif
