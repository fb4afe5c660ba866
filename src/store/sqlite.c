/* sqlite.c — the SQLite backend of store.h.
 *
 * Connections. Writes go through one writer connection held under a mutex
 * for the whole write; reads take a connection from a pool of up to
 * read_connections, opened on demand. SQLite allows one writer at a time
 * anyway, so the mutex costs no concurrency, and queueing on it is
 * immediate and fair where SQLite's busy handler would sleep-poll (1 ms up
 * to 100 ms per retry) between our own threads; busy_timeout_ms now only
 * matters against other processes. In WAL mode a reader sees the last
 * committed state and never waits for the writer. The cost: up to
 * 1 + read_connections open connections, each with its own page cache
 * (2 MB at most by default) and its own prepared statements; a read waits
 * when every pooled connection is in use. Each connection is used by one
 * thread at a time, so it is opened SQLITE_OPEN_NOMUTEX.
 *
 * Statements are prepared on first use and cached per connection (stmt[]),
 * and always reset after use: a statement left mid-step would hold a read
 * snapshot open, hiding newer commits and stalling WAL checkpoints.
 *
 * A write that must return the row it wrote runs in an explicit
 * transaction, so a failure reading the row back (say, out of memory)
 * rolls the write back instead of leaving a row the caller never heard of.
 * Releasing a connection rolls back any transaction a failure left open;
 * if even that fails the connection is closed and reopened when needed.
 *
 * Memory. SQLite allocates through hark_malloc() (configured once per
 * process), so allocation-failure tests reach into SQLite too. SQLite
 * reports running out as SQLITE_NOMEM or SQLITE_IOERR_NOMEM, and the
 * caller gets HARK_ENOMEM: test_store fails each of the ~4900 allocations
 * of open + user create + token create + token find in turn and every one
 * surfaces as HARK_ENOMEM with SQLite 3.40, none as HARK_ESTORE. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "store_backend.h"

/* --- memory: SQLite on top of hark_malloc --------------------------------- */

/* SQLite's xSize must report a block's size, so each block starts with a
 * header holding it; the header is max_align_t wide so the block handed to
 * SQLite keeps malloc's alignment. */
#define MEM_HEADER _Alignof(max_align_t)
_Static_assert(MEM_HEADER >= sizeof(size_t), "size header fits");

static void *mem_malloc(int n)
{
    unsigned char *b = hark_malloc((size_t)n + MEM_HEADER);
    if (!b)
        return NULL;
    size_t size = (size_t)n;
    memcpy(b, &size, sizeof size);
    return b + MEM_HEADER;
}

static void mem_free(void *p)
{
    if (p)
        hark_free((unsigned char *)p - MEM_HEADER);
}

static void *mem_realloc(void *p, int n)
{
    unsigned char *b = hark_realloc((unsigned char *)p - MEM_HEADER, (size_t)n + MEM_HEADER);
    if (!b)
        return NULL;
    size_t size = (size_t)n;
    memcpy(b, &size, sizeof size);
    return b + MEM_HEADER;
}

static int mem_size(void *p)
{
    if (!p)
        return 0;
    size_t size;
    memcpy(&size, (unsigned char *)p - MEM_HEADER, sizeof size);
    return (int)size;
}

static int mem_roundup(int n) { return (n + 7) & ~7; }
static int mem_init(void *arg) { (void)arg; return SQLITE_OK; }
static void mem_shutdown(void *arg) { (void)arg; }

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

/* sqlite3_config() is legal only before SQLite initialises and is not
 * thread safe, hence once per process, before the first open. */
static void sqlite_setup(void)
{
    static sqlite3_mem_methods methods = {
        mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup,
        mem_init, mem_shutdown, NULL,
    };
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK)
        log_warn("store", "msg=\"SQLite was initialised before the store; its "
                          "allocations bypass hark_malloc\"");
    /* Byte counting would take a global mutex on every SQLite allocation
     * for statistics nobody reads. */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* Debian builds SQLite with URI names on: without this a path starting
     * with "file:" would be parsed for options such as mode=memory. */
    (void)sqlite3_config(SQLITE_CONFIG_URI, 0);
}

/* --- statements ------------------------------------------------------------ */

#define USER_COLS "id, email, name, max_concurrent_bots, data, created_at"
#define TOKEN_COLS "id, user_id, hash, scopes, name, created_at, last_used_at, expires_at"

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
    ST_COUNT
};

static const struct {
    const char *name; /* names the operation in error logs */
    const char *sql;
} stmts[ST_COUNT] = {
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
};

struct conn {
    sqlite3 *db;
    struct conn *next; /* link in the idle list */
    sqlite3_stmt *stmt[ST_COUNT];
};

struct sqlite_store {
    struct store base; /* first: a struct store * points here */
    char *path;
    int busy_timeout_ms;
    int max_readers;

    pthread_mutex_t write_lock; /* held for a whole write */
    struct conn *writer;        /* guarded by write_lock; NULL until needed */

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_freed;  /* a reader was returned or closed */
    struct conn *idle;          /* guarded by pool_lock */
    int n_readers;              /* open readers, idle or in use */
};

static struct sqlite_store *impl(struct store *s) { return (struct sqlite_store *)s; }

/* Maps an SQLite result code to a HARK_E* code, logging what the caller
 * cannot be expected to handle. Messages from SQLite name tables and
 * columns, never bound values, so they carry no secrets. */
static int fail(sqlite3 *db, int rc, const char *op)
{
    char q[512];
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return HARK_ENOMEM;
    case SQLITE_IOERR:
        if (rc == SQLITE_IOERR_NOMEM)
            return HARK_ENOMEM;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        log_warn("store", "msg=\"database busy\" op=%s err=%s", op,
                 log_quote(q, sizeof q, msg));
        return HARK_EBUSY;
    case SQLITE_CONSTRAINT:
        switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
            return HARK_EEXIST;
        case SQLITE_CONSTRAINT_FOREIGNKEY:
            return HARK_ENOENT; /* the row referred to does not exist */
        case SQLITE_CONSTRAINT_CHECK:
        case SQLITE_CONSTRAINT_NOTNULL:
            return HARK_EINVAL;
        default:
            break;
        }
        break;
    default:
        break;
    }
    log_error("store", "msg=\"sqlite failed\" op=%s code=%d err=%s", op, rc,
              log_quote(q, sizeof q, msg));
    return HARK_ESTORE;
}

static int stmt_get(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
    *out = NULL;
    if (!c->stmt[id]) {
        int rc = sqlite3_prepare_v3(c->db, stmts[id].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->stmt[id], NULL);
        if (rc != SQLITE_OK)
            return fail(c->db, rc, stmts[id].name);
    }
    *out = c->stmt[id];
    return 0;
}

/* Ready for the next use; the result was already taken from step(). */
static void stmt_done(sqlite3_stmt *st)
{
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* 1 for a row, 0 when done, or a HARK_E* code. */
static int step(struct conn *c, sqlite3_stmt *st, enum stmt_id id)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return fail(c->db, rc, stmts[id].name);
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* Binds NULL for 0, the store's "never". */
static int bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
    return ms ? sqlite3_bind_int64(st, i, ms) : sqlite3_bind_null(st, i);
}

static int bind_hash(sqlite3_stmt *st, int i, const unsigned char *hash)
{
    return sqlite3_bind_blob(st, i, hash, STORE_TOKEN_HASH_BYTES, SQLITE_STATIC);
}

/* Runs a statement for its effect (a row it yields is ignored); *changes
 * (may be NULL) gets the number of rows it changed. */
static int exec_stmt(struct conn *c, enum stmt_id id, sqlite3_stmt *st, int bind_rc,
                     int64_t *changes)
{
    int err = bind_rc == SQLITE_OK ? step(c, st, id) : fail(c->db, bind_rc, stmts[id].name);
    if (err == 1)
        err = 0;
    if (!err && changes)
        *changes = sqlite3_changes64(c->db);
    stmt_done(st);
    return err;
}

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

static int user_from_row(sqlite3_stmt *st, void *item)
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

static int token_from_row(sqlite3_stmt *st, void *item)
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

static void user_release_item(void *item) { store_user_release(item); }
static void token_release_item(void *item) { store_token_release(item); }

/* Steps through every row into a growing array of `size`-byte items filled
 * by `read`; on failure frees what was read. */
static int read_rows(struct conn *c, sqlite3_stmt *st, enum stmt_id id, size_t size,
                     int (*read)(sqlite3_stmt *, void *), void (*release)(void *),
                     void **out, size_t *n_out)
{
    unsigned char *items = NULL;
    size_t n = 0, cap = 0;
    int err;
    while ((err = step(c, st, id)) == 1) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            unsigned char *p = ncap > SIZE_MAX / size ? NULL : hark_realloc(items, ncap * size);
            if (!p) {
                err = HARK_ENOMEM;
                break;
            }
            items = p;
            cap = ncap;
        }
        memset(items + n * size, 0, size);
        err = read(st, items + n * size);
        if (err)
            break;
        n++;
    }
    if (err) {
        for (size_t i = 0; i < n; i++)
            release(items + i * size);
        hark_free(items);
        return err;
    }
    *out = n ? items : NULL;
    if (!n)
        hark_free(items);
    *n_out = n;
    return 0;
}

/* --- connections ----------------------------------------------------------- */

static void conn_close(struct conn *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < ST_COUNT; i++)
        (void)sqlite3_finalize(c->stmt[i]);
    (void)sqlite3_close(c->db);
    hark_free(c);
}

static int conn_open(struct sqlite_store *st, int reader, struct conn **out)
{
    *out = NULL;
    struct conn *c = hark_calloc(1, sizeof *c);
    if (!c)
        return HARK_ENOMEM;
    int err = 0;
    int rc = sqlite3_open_v2(st->path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                 SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                             NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(c->db, st->busy_timeout_ms);
    /* query_only on readers turns a write sent to the wrong connection into
     * an error instead of a write outside the writer's mutex. */
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db,
                          reader ? "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; "
                                   "PRAGMA query_only = ON;"
                                 : "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        err = fail(c->db, rc, "open");
        conn_close(c);
        return err ? err : HARK_ESTORE;
    }
    *out = c;
    return 0;
}

/* Leaves c outside any transaction; 0 if that failed and c must be closed. */
static int conn_settle(struct conn *c)
{
    if (sqlite3_get_autocommit(c->db))
        return 1;
    if (c->stmt[ST_ROLLBACK]) {
        (void)sqlite3_step(c->stmt[ST_ROLLBACK]);
        stmt_done(c->stmt[ST_ROLLBACK]);
    }
    return sqlite3_get_autocommit(c->db);
}

static int writer_get(struct sqlite_store *st, struct conn **out)
{
    pthread_mutex_lock(&st->write_lock);
    if (!st->writer) {
        int err = conn_open(st, 0, &st->writer);
        if (err) {
            pthread_mutex_unlock(&st->write_lock);
            return err;
        }
    }
    *out = st->writer;
    return 0;
}

static void writer_put(struct sqlite_store *st, struct conn *c)
{
    if (!conn_settle(c)) {
        log_warn("store", "msg=\"closing writer connection stuck in a transaction\"");
        conn_close(c);
        st->writer = NULL;
    }
    pthread_mutex_unlock(&st->write_lock);
}

static int reader_get(struct sqlite_store *st, struct conn **out)
{
    pthread_mutex_lock(&st->pool_lock);
    while (!st->idle && st->n_readers >= st->max_readers)
        pthread_cond_wait(&st->pool_freed, &st->pool_lock);
    struct conn *c = st->idle;
    if (c) {
        st->idle = c->next;
        pthread_mutex_unlock(&st->pool_lock);
        *out = c;
        return 0;
    }
    st->n_readers++; /* reserve the slot, then open without the lock */
    pthread_mutex_unlock(&st->pool_lock);
    int err = conn_open(st, 1, out);
    if (err) {
        pthread_mutex_lock(&st->pool_lock);
        st->n_readers--;
        pthread_cond_signal(&st->pool_freed);
        pthread_mutex_unlock(&st->pool_lock);
    }
    return err;
}

static void reader_put(struct sqlite_store *st, struct conn *c)
{
    int ok = conn_settle(c);
    if (!ok)
        conn_close(c);
    pthread_mutex_lock(&st->pool_lock);
    if (ok) {
        c->next = st->idle;
        st->idle = c;
    } else {
        st->n_readers--;
    }
    pthread_cond_signal(&st->pool_freed);
    pthread_mutex_unlock(&st->pool_lock);
}

/* Begins a write transaction. ROLLBACK is prepared first so that whenever a
 * transaction is open, conn_settle() can end it without preparing anything.
 * (After DDL SQLite re-prepares it, which can fail for want of memory;
 * conn_settle() then closes the connection, which also rolls back.) */
static int txn_begin(struct conn *c)
{
    sqlite3_stmt *st;
    int err = stmt_get(c, ST_ROLLBACK, &st);
    if (!err)
        err = stmt_get(c, ST_COMMIT, &st);
    if (!err)
        err = stmt_get(c, ST_BEGIN, &st);
    if (!err)
        err = exec_stmt(c, ST_BEGIN, st, SQLITE_OK, NULL);
    return err;
}

static int txn_commit(struct conn *c)
{
    return exec_stmt(c, ST_COMMIT, c->stmt[ST_COMMIT], SQLITE_OK, NULL);
}

/* --- open, migrate, free ---------------------------------------------------- */

/* Runs a query that yields one integer. */
static int query_int(struct conn *c, enum stmt_id id, int64_t *out)
{
    sqlite3_stmt *st;
    int err = stmt_get(c, id, &st);
    if (err)
        return err;
    err = step(c, st, id);
    if (err == 1) {
        *out = sqlite3_column_int64(st, 0);
        err = 0;
    } else if (err == 0) {
        err = fail(c->db, SQLITE_INTERNAL, stmts[id].name);
    }
    stmt_done(st);
    return err;
}

/* 0 while the file has no schema_migrations table: it is created inside
 * the first migration's transaction, so a failed first open leaves the
 * file without any table. */
static int read_version(struct conn *c, int *out)
{
    int64_t exists = 0, v = 0;
    int err = query_int(c, ST_HAS_MIGRATIONS, &exists);
    if (!err && exists)
        err = query_int(c, ST_VERSION, &v);
    if (!err)
        *out = v > INT_MAX ? INT_MAX : (int)v;
    return err;
}

static int refuse_newer(const struct sqlite_store *st, int version)
{
    char q[256];
    log_error("store", "msg=\"database schema is newer than this binary; run a newer hark "
                       "or restore a backup\" path=%s db_version=%d known_version=%zu",
              log_quote(q, sizeof q, st->path), version, store_sqlite_migration_count);
    return HARK_ESTORE;
}

/* Applies migration `version` (0-based) unless another process did it
 * first; *applied says whether this call did. */
static int migrate_one(struct sqlite_store *st, struct conn *c, int version, int *applied)
{
    *applied = 0;
    int err = txn_begin(c);
    if (!err) {
        int rc = sqlite3_exec(c->db,
                              "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT",
                              NULL, NULL, NULL);
        err = rc == SQLITE_OK ? 0 : fail(c->db, rc, "migrate");
    }
    int current = 0;
    if (!err)
        err = read_version(c, &current);
    if (!err && current > (int)store_sqlite_migration_count)
        err = refuse_newer(st, current);
    if (!err && current == version) {
        int rc = sqlite3_exec(c->db, store_sqlite_migrations[version], NULL, NULL, NULL);
        err = rc == SQLITE_OK ? 0 : fail(c->db, rc, "migrate");
        sqlite3_stmt *rec;
        if (!err)
            err = stmt_get(c, ST_MIGRATION_RECORD, &rec);
        if (!err) {
            rc = sqlite3_bind_int(rec, 1, version + 1);
            if (rc == SQLITE_OK)
                rc = sqlite3_bind_int64(rec, 2, store_now_ms());
            err = exec_stmt(c, ST_MIGRATION_RECORD, rec, rc, NULL);
        }
        *applied = !err;
    }
    /* On error the caller's writer_put() rolls back. */
    if (!err)
        err = txn_commit(c);
    if (err)
        *applied = 0;
    return err;
}

static int migrate(struct sqlite_store *st, struct conn *c, int *version)
{
    int err = read_version(c, version);
    if (err)
        return err;
    if (*version > (int)store_sqlite_migration_count)
        return refuse_newer(st, *version);
    /* Each step re-reads the version inside its transaction, so processes
     * opening the same file at once apply each migration exactly once. */
    while (*version < (int)store_sqlite_migration_count) {
        int applied;
        err = migrate_one(st, c, *version, &applied);
        if (err)
            return err;
        if (applied)
            log_info("store", "msg=\"migration applied\" version=%d", *version + 1);
        err = read_version(c, version);
        if (err)
            return err;
    }
    return 0;
}

static int set_wal(struct conn *c)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail(c->db, rc, "journal_mode");
    rc = sqlite3_step(st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int err = 0;
    if (rc != SQLITE_ROW) {
        err = fail(c->db, rc, "journal_mode");
    } else if (!mode) {
        err = HARK_ENOMEM; /* converting the result to text ran out */
    } else if (sqlite3_stricmp(mode, "wal") != 0) {
        log_error("store", "msg=\"database refused WAL mode (a filesystem without "
                           "shared memory?)\" journal_mode=%s", mode);
        err = HARK_ESTORE;
    }
    (void)sqlite3_finalize(st);
    return err;
}

static void sqlite_free(struct store *s)
{
    struct sqlite_store *st = impl(s);
    while (st->idle) {
        struct conn *c = st->idle;
        st->idle = c->next;
        conn_close(c);
    }
    conn_close(st->writer);
    pthread_cond_destroy(&st->pool_freed);
    pthread_mutex_destroy(&st->pool_lock);
    pthread_mutex_destroy(&st->write_lock);
    hark_free(st->path);
    hark_free(st);
}

static int sqlite_new(const struct store_config *cfg, const char *path,
                      struct sqlite_store **out)
{
    struct sqlite_store *st = hark_calloc(1, sizeof *st);
    if (!st)
        return HARK_ENOMEM;
    st->base.ops = &store_sqlite_ops;
    st->busy_timeout_ms = cfg->busy_timeout_ms;
    st->max_readers = cfg->read_connections;
    st->path = hark_strdup(path);
    if (!st->path)
        goto nomem;
    if (pthread_mutex_init(&st->write_lock, NULL))
        goto nomem;
    if (pthread_mutex_init(&st->pool_lock, NULL))
        goto nomem_write_lock;
    if (pthread_cond_init(&st->pool_freed, NULL))
        goto nomem_pool_lock;
    *out = st;
    return 0;
nomem_pool_lock:
    pthread_mutex_destroy(&st->pool_lock);
nomem_write_lock:
    pthread_mutex_destroy(&st->write_lock);
nomem:
    hark_free(st->path);
    hark_free(st);
    return HARK_ENOMEM;
}

static int sqlite_open(const struct store_config *cfg, const char *path, struct store **out)
{
    char q[256];
    if (strcmp(path, ":memory:") == 0) {
        log_error("store", "msg=\"an in-memory SQLite store cannot be shared by a "
                           "connection pool; use a file\"");
        return HARK_ECONFIG;
    }
    pthread_once(&setup_once, sqlite_setup);
    struct sqlite_store *st;
    int err = sqlite_new(cfg, path, &st);
    if (err)
        return err;
    int version = 0;
    err = conn_open(st, 0, &st->writer);
    if (!err)
        err = set_wal(st->writer);
    if (!err) {
        struct conn *c;
        err = writer_get(st, &c);
        if (!err) {
            err = migrate(st, c, &version);
            writer_put(st, c);
        }
    }
    if (err) {
        log_error("store", "msg=\"cannot open store\" path=%s err=%s",
                  log_quote(q, sizeof q, path), hark_errname(err));
        sqlite_free(&st->base);
        return err;
    }
    log_info("store", "msg=\"store open\" backend=sqlite path=%s schema_version=%d",
             log_quote(q, sizeof q, path), version);
    *out = &st->base;
    return 0;
}

/* --- status and backup ------------------------------------------------------ */

static int sqlite_ping(struct store *s)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = stmt_get(c, ST_PING, &q);
    if (!err)
        err = exec_stmt(c, ST_PING, q, SQLITE_OK, NULL);
    reader_put(st, c);
    return err;
}

static int sqlite_schema_version(struct store *s, int *out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    err = read_version(c, out);
    reader_put(st, c);
    return err;
}

static int io_fail(const char *what, const char *path)
{
    char q[256];
    log_error("store", "msg=\"backup failed\" step=%s path=%s err=\"%s\"", what,
              log_quote(q, sizeof q, path), strerror(errno));
    return HARK_EIO;
}

/* Opens the directory path lives in, to make a rename there durable. */
static int open_parent_dir(const char *path, int *fd)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? hark_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : hark_strdup(".");
    if (!dir)
        return HARK_ENOMEM;
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = *fd < 0 ? io_fail("open directory", dir) : 0;
    hark_free(dir);
    return err;
}

/* Copies the source into the file at tmp (which exists, empty). */
static int backup_into(struct sqlite_store *st, const char *tmp)
{
    sqlite3 *dst = NULL;
    int rc = sqlite3_open_v2(tmp, &dst,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                             NULL);
    int err = rc == SQLITE_OK ? 0 : fail(dst, rc, "backup");
    struct conn *src = NULL;
    if (!err)
        err = reader_get(st, &src);
    if (!err) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src->db, "main");
        if (!b) {
            err = fail(dst, sqlite3_extended_errcode(dst), "backup");
        } else {
            /* All pages in one step, under one read snapshot: in WAL mode
             * writers carry on meanwhile, whereas copying in slices would
             * restart from scratch after every write another connection
             * commits, and might never finish on a busy store. */
            rc = sqlite3_backup_step(b, -1);
            int frc = sqlite3_backup_finish(b);
            if (rc == SQLITE_DONE)
                rc = frc;
            if (rc != SQLITE_OK)
                err = fail(dst, rc, "backup");
        }
        reader_put(st, src);
    }
    (void)sqlite3_close_v2(dst);
    return err;
}

static int sqlite_backup(struct store *s, const char *dest)
{
    struct sqlite_store *st = impl(s);
    struct stat sb;
    if (lstat(dest, &sb) == 0)
        return HARK_EEXIST;
    if (errno != ENOENT)
        return io_fail("stat", dest);
    static const char suffix[] = ".tmp-XXXXXX";
    size_t len = strlen(dest);
    char *tmp = hark_malloc(len + sizeof suffix);
    if (!tmp)
        return HARK_ENOMEM;
    memcpy(tmp, dest, len);
    memcpy(tmp + len, suffix, sizeof suffix);
    int dir = -1;
    int err = open_parent_dir(dest, &dir);
    /* mkostemp creates the file 0600: a backup holds the server's secrets. */
    int fd = err ? -1 : mkostemp(tmp, O_CLOEXEC);
    if (!err && fd < 0)
        err = io_fail("create", tmp);
    if (!err) {
        close(fd);
        err = backup_into(st, tmp);
        /* Never replaces a file that appeared at dest while we copied. */
        if (!err && renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) != 0)
            err = errno == EEXIST ? HARK_EEXIST : io_fail("rename", dest);
        if (err) {
            unlink(tmp);
        } else if (fsync(dir) != 0) {
            err = io_fail("fsync directory", dest);
            unlink(dest); /* ours: the rename refused to replace anything */
        }
    }
    if (dir >= 0)
        close(dir);
    hark_free(tmp);
    return err;
}

/* --- settings ---------------------------------------------------------------- */

static int sqlite_setting_get(struct store *s, const char *key, char **out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = stmt_get(c, ST_SETTING_GET, &q);
    if (!err) {
        int rc = bind_text(q, 1, key);
        err = rc == SQLITE_OK ? step(c, q, ST_SETTING_GET)
                              : fail(c->db, rc, stmts[ST_SETTING_GET].name);
        if (err == 1)
            err = col_text_required(q, 0, out);
        else if (err == 0)
            err = HARK_ENOENT;
        stmt_done(q);
    }
    reader_put(st, c);
    return err;
}

/* Runs a settings write; *changes as in exec_stmt(). */
static int setting_write(struct store *s, enum stmt_id id, const char *key,
                         const char *value, int64_t *changes)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = writer_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = stmt_get(c, id, &q);
    if (!err) {
        int rc = bind_text(q, 1, key);
        if (rc == SQLITE_OK)
            rc = bind_text(q, 2, value);
        err = exec_stmt(c, id, q, rc, changes);
    }
    writer_put(st, c);
    return err;
}

static int sqlite_setting_init(struct store *s, const char *key, const char *value)
{
    int64_t changes = 0;
    int err = setting_write(s, ST_SETTING_INIT, key, value, &changes);
    return err ? err : changes ? 0 : HARK_EEXIST;
}

static int sqlite_setting_set(struct store *s, const char *key, const char *value)
{
    return setting_write(s, ST_SETTING_SET, key, value, NULL);
}

/* --- users ------------------------------------------------------------------- */

/* Runs a bound statement expected to return at most one row and reads it
 * with `read`; HARK_ENOENT when there is none. The statement is stepped to
 * its end so a write's errors are seen, and reset. */
static int one_row(struct conn *c, sqlite3_stmt *q, enum stmt_id id, int bind_rc,
                   int (*read)(sqlite3_stmt *, void *), void *item)
{
    int err = bind_rc == SQLITE_OK ? step(c, q, id) : fail(c->db, bind_rc, stmts[id].name);
    if (err == 1) {
        err = read(q, item);
        if (!err) {
            err = step(c, q, id);
            if (err == 1) /* a unique key yielded two rows: a broken schema */
                err = fail(c->db, SQLITE_INTERNAL, stmts[id].name);
        }
    } else if (err == 0) {
        err = HARK_ENOENT;
    }
    stmt_done(q);
    return err;
}

/* Looks a user up by id or email on connection c. */
static int user_lookup(struct conn *c, enum stmt_id id, int64_t user_id, const char *email,
                       struct store_user *out)
{
    sqlite3_stmt *q;
    int err = stmt_get(c, id, &q);
    if (err)
        return err;
    int rc = email ? bind_text(q, 1, email) : sqlite3_bind_int64(q, 1, user_id);
    return one_row(c, q, id, rc, user_from_row, out);
}

static int sqlite_user_create(struct store *s, const char *email, const char *name,
                              int max_concurrent_bots, const char *data_json,
                              struct store_user *out, int *created)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = writer_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = txn_begin(c);
    if (!err)
        err = stmt_get(c, ST_USER_INSERT, &q);
    if (!err) {
        int rc = bind_text(q, 1, email);
        if (rc == SQLITE_OK)
            rc = bind_text(q, 2, name);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(q, 3, max_concurrent_bots);
        if (rc == SQLITE_OK)
            rc = bind_text(q, 4, data_json);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(q, 5, store_now_ms());
        err = one_row(c, q, ST_USER_INSERT, rc, user_from_row, out);
        *created = !err;
    }
    if (err == HARK_ENOENT) /* DO NOTHING: the email is taken */
        err = user_lookup(c, ST_USER_BY_EMAIL, 0, email, out);
    if (!err)
        err = txn_commit(c);
    if (err) {
        store_user_release(out);
        *created = 0;
    }
    writer_put(st, c);
    return err;
}

static int user_read(struct store *s, enum stmt_id id, int64_t user_id, const char *email,
                     struct store_user *out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    err = user_lookup(c, id, user_id, email, out);
    reader_put(st, c);
    return err;
}

static int sqlite_user_get(struct store *s, int64_t id, struct store_user *out)
{
    return user_read(s, ST_USER_GET, id, NULL, out);
}

static int sqlite_user_get_by_email(struct store *s, const char *email, struct store_user *out)
{
    return user_read(s, ST_USER_BY_EMAIL, 0, email, out);
}

static int sqlite_user_update(struct store *s, int64_t id, const char *name,
                              const int *max_concurrent_bots, const char *data_json,
                              struct store_user *out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = writer_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = txn_begin(c);
    if (!err)
        err = stmt_get(c, ST_USER_UPDATE, &q);
    if (!err) {
        int rc = sqlite3_bind_int64(q, 1, id);
        if (rc == SQLITE_OK)
            rc = bind_text(q, 2, name);
        if (rc == SQLITE_OK)
            rc = max_concurrent_bots ? sqlite3_bind_int(q, 3, *max_concurrent_bots)
                                     : sqlite3_bind_null(q, 3);
        if (rc == SQLITE_OK)
            rc = bind_text(q, 4, data_json);
        err = one_row(c, q, ST_USER_UPDATE, rc, user_from_row, out);
    }
    if (!err)
        err = txn_commit(c);
    if (err)
        store_user_release(out);
    writer_put(st, c);
    return err;
}

static int sqlite_user_list(struct store *s, int64_t offset, int64_t limit,
                            struct store_user **out, size_t *n_out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = stmt_get(c, ST_USER_LIST, &q);
    if (!err) {
        int rc = sqlite3_bind_int64(q, 1, limit);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(q, 2, offset);
        void *items = NULL;
        err = rc == SQLITE_OK ? read_rows(c, q, ST_USER_LIST, sizeof **out, user_from_row,
                                          user_release_item, &items, n_out)
                              : fail(c->db, rc, stmts[ST_USER_LIST].name);
        *out = items;
        stmt_done(q);
    }
    reader_put(st, c);
    return err;
}

/* --- API tokens -------------------------------------------------------------- */

static int sqlite_token_create(struct store *s, int64_t user_id,
                               const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                               const char *scopes, const char *name, int64_t expires_at_ms,
                               struct store_token *out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = writer_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = txn_begin(c);
    if (!err)
        err = stmt_get(c, ST_TOKEN_INSERT, &q);
    if (!err) {
        int rc = sqlite3_bind_int64(q, 1, user_id);
        if (rc == SQLITE_OK)
            rc = bind_hash(q, 2, hash);
        if (rc == SQLITE_OK)
            rc = bind_text(q, 3, scopes);
        if (rc == SQLITE_OK)
            rc = bind_text(q, 4, name);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(q, 5, store_now_ms());
        if (rc == SQLITE_OK)
            rc = bind_time(q, 6, expires_at_ms);
        err = one_row(c, q, ST_TOKEN_INSERT, rc, token_from_row, out);
    }
    if (!err)
        err = txn_commit(c);
    if (err)
        store_token_release(out);
    writer_put(st, c);
    return err;
}

static int sqlite_token_find(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                             struct store_token *out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = stmt_get(c, ST_TOKEN_FIND, &q);
    if (!err)
        err = one_row(c, q, ST_TOKEN_FIND, bind_hash(q, 1, hash), token_from_row, out);
    reader_put(st, c);
    return err;
}

/* Runs a single-statement write keyed by row id; HARK_ENOENT if no row
 * matched. */
static int write_by_id(struct store *s, enum stmt_id id, int64_t row, int has_time,
                       int64_t time_ms)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = writer_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    int64_t changes = 0;
    err = stmt_get(c, id, &q);
    if (!err) {
        int rc = sqlite3_bind_int64(q, 1, row);
        if (rc == SQLITE_OK && has_time)
            rc = sqlite3_bind_int64(q, 2, time_ms);
        err = exec_stmt(c, id, q, rc, &changes);
    }
    writer_put(st, c);
    return err ? err : changes ? 0 : HARK_ENOENT;
}

static int sqlite_token_touch(struct store *s, int64_t id, int64_t now_ms)
{
    return write_by_id(s, ST_TOKEN_TOUCH, id, 1, now_ms);
}

static int sqlite_token_delete(struct store *s, int64_t id)
{
    return write_by_id(s, ST_TOKEN_DELETE, id, 0, 0);
}

static int sqlite_token_list(struct store *s, int64_t user_id, struct store_token **out,
                             size_t *n_out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = stmt_get(c, ST_TOKEN_LIST, &q);
    if (!err) {
        int rc = sqlite3_bind_int64(q, 1, user_id);
        void *items = NULL;
        err = rc == SQLITE_OK ? read_rows(c, q, ST_TOKEN_LIST, sizeof **out, token_from_row,
                                          token_release_item, &items, n_out)
                              : fail(c->db, rc, stmts[ST_TOKEN_LIST].name);
        *out = items;
        stmt_done(q);
    }
    reader_put(st, c);
    return err;
}

static int id_from_row(sqlite3_stmt *st, void *item)
{
    *(int64_t *)item = sqlite3_column_int64(st, 0);
    return 0;
}

static int sqlite_meeting_find(struct store *s, int64_t user_id, const char *platform,
                               const char *native_id, int64_t *id_out)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *q;
    err = stmt_get(c, ST_MEETING_FIND, &q);
    if (!err) {
        int rc = sqlite3_bind_int64(q, 1, user_id);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(q, 2, platform, -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(q, 3, native_id, -1, SQLITE_TRANSIENT);
        err = one_row(c, q, ST_MEETING_FIND, rc, id_from_row, id_out);
    }
    reader_put(st, c);
    return err;
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
    .meeting_find = sqlite_meeting_find,
};
