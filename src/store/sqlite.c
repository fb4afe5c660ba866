/* sqlite.c — the SQLite backend of store.h: connections, transactions,
 * migrations, backup, and the runners (sqlite_private.h) through which
 * sqlite_ops.c runs its statements.
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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "sqlite_private.h"

/* --- memory: SQLite on top of hark_malloc --------------------------------- */

/* SQLite's xSize must report a block's size, so each block starts with a
 * header holding it; the header is max_align_t wide so the block handed to
 * SQLite keeps malloc's alignment. */
#define MEM_HEADER _Alignof(max_align_t)
_Static_assert(MEM_HEADER >= sizeof(size_t), "size header fits");

/* Records n in block b's header; returns the part SQLite sees. */
static void *mem_block(void *b, int n)
{
    if (!b)
        return NULL;
    size_t size = (size_t)n;
    memcpy(b, &size, sizeof size);
    return (unsigned char *)b + MEM_HEADER;
}

static void *mem_malloc(int n) { return mem_block(hark_malloc((size_t)n + MEM_HEADER), n); }

static void mem_free(void *p)
{
    if (p)
        hark_free((unsigned char *)p - MEM_HEADER);
}

static void *mem_realloc(void *p, int n)
{
    return mem_block(hark_realloc((unsigned char *)p - MEM_HEADER, (size_t)n + MEM_HEADER), n);
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

/* --- connections and errors -------------------------------------------------- */

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

/* --- statements ---------------------------------------------------------------- */

static int stmt_get(struct conn *c, enum stmt_id id, sqlite3_stmt **out)
{
    *out = NULL;
    if (!c->stmt[id]) {
        int rc = sqlite3_prepare_v3(c->db, sqlite_stmts[id].sql, -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->stmt[id], NULL);
        if (rc != SQLITE_OK)
            return fail(c->db, rc, sqlite_stmts[id].name);
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
    return fail(c->db, rc, sqlite_stmts[id].name);
}

/* Binds one argument to parameter i (1-based). */
static int arg_bind(sqlite3_stmt *st, int i, const struct arg *a)
{
    switch (a->kind) {
    case ARG_KIND_NULL:
        return sqlite3_bind_null(st, i);
    case ARG_KIND_INT:
        return sqlite3_bind_int64(st, i, a->i);
    case ARG_KIND_TIME:
        return a->i ? sqlite3_bind_int64(st, i, a->i) : sqlite3_bind_null(st, i);
    case ARG_KIND_TEXT:
        return sqlite3_bind_text(st, i, a->p, -1, SQLITE_STATIC);
    case ARG_KIND_BLOB:
        return sqlite3_bind_blob(st, i, a->p, a->n, SQLITE_STATIC);
    case ARG_KIND_NOW:
        return sqlite3_bind_int64(st, i, store_now_ms());
    }
    return SQLITE_MISUSE;
}

/* Prepares q's statement on c (once) and binds q's arguments; on failure
 * the statement is left reset. */
static int stmt_bind(struct conn *c, const struct query *q, sqlite3_stmt **out)
{
    int err = stmt_get(c, q->id, out);
    if (err)
        return err;
    int rc = SQLITE_OK;
    for (size_t i = 0; i < q->n_args && rc == SQLITE_OK; i++)
        rc = arg_bind(*out, (int)i + 1, &q->args[i]);
    if (rc == SQLITE_OK)
        return 0;
    err = fail(c->db, rc, sqlite_stmts[q->id].name);
    stmt_done(*out);
    return err;
}

/* Runs q for its effect (a row it yields is ignored); *changes (may be
 * NULL) gets the number of rows it changed. */
static int conn_exec(struct conn *c, const struct query *q, int64_t *changes)
{
    sqlite3_stmt *st;
    int err = stmt_bind(c, q, &st);
    if (err)
        return err;
    err = step(c, st, q->id);
    if (err == 1)
        err = 0;
    if (!err && changes)
        *changes = sqlite3_changes64(c->db);
    stmt_done(st);
    return err;
}

/* Runs q, expected to yield at most one row, and reads it into item;
 * HARK_ENOENT when there is none. The statement is stepped to its end so a
 * write's errors are seen. On failure item is released. */
static int conn_one(struct conn *c, const struct query *q, const struct row_type *row,
                    void *item)
{
    sqlite3_stmt *st;
    int err = stmt_bind(c, q, &st);
    if (err)
        return err;
    err = step(c, st, q->id);
    if (err == 1) {
        err = row->read(st, item);
        if (!err) {
            err = step(c, st, q->id);
            if (err == 1) /* a unique key yielded two rows: a broken schema */
                err = fail(c->db, SQLITE_INTERNAL, sqlite_stmts[q->id].name);
            if (err)
                row->release(item);
        }
    } else if (err == 0) {
        err = HARK_ENOENT;
    }
    stmt_done(st);
    return err;
}

/* Steps through every row into a growing array of row->size-byte items; on
 * failure frees what was read. */
static int read_rows(struct conn *c, sqlite3_stmt *st, enum stmt_id id,
                     const struct row_type *row, void **out, size_t *n_out)
{
    size_t size = row->size;
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
        err = row->read(st, items + n * size);
        if (err)
            break;
        n++;
    }
    if (err) {
        for (size_t i = 0; i < n; i++)
            row->release(items + i * size);
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
        err = conn_exec(c, &(struct query){.id = ST_BEGIN}, NULL);
    return err;
}

static int txn_commit(struct conn *c)
{
    return conn_exec(c, &(struct query){.id = ST_COMMIT}, NULL);
}

/* --- runners ------------------------------------------------------------------- */

int sqlite_read_one(struct store *s, struct query q, const struct row_type *row, void *item)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    err = conn_one(c, &q, row, item);
    reader_put(st, c);
    return err;
}

int sqlite_read_many(struct store *s, struct query q, const struct row_type *row, void **items,
                     size_t *n)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    sqlite3_stmt *stmt;
    err = stmt_bind(c, &q, &stmt);
    if (!err) {
        err = read_rows(c, stmt, q.id, row, items, n);
        stmt_done(stmt);
    }
    reader_put(st, c);
    return err;
}

int sqlite_write_one(struct store *s, struct query q, const struct query *otherwise,
                     const struct row_type *row, void *item, int *from_q)
{
    struct sqlite_store *st = impl(s);
    if (from_q)
        *from_q = 0;
    struct conn *c;
    int err = writer_get(st, &c);
    if (err)
        return err;
    err = txn_begin(c);
    if (!err)
        err = conn_one(c, &q, row, item);
    int first = !err;
    if (err == HARK_ENOENT && otherwise)
        err = conn_one(c, otherwise, row, item);
    if (!err)
        err = txn_commit(c);
    if (err)
        row->release(item);
    else if (from_q)
        *from_q = first;
    writer_put(st, c); /* rolls back what a failure left open */
    return err;
}

int sqlite_write_exec(struct store *s, struct query q, int64_t *changes)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = writer_get(st, &c);
    if (err)
        return err;
    err = conn_exec(c, &q, changes);
    writer_put(st, c);
    return err;
}

struct sqlite_txn {
    struct conn *c;
};

int sqlite_write_txn(struct store *s, int (*fn)(struct sqlite_txn *t, void *arg), void *arg)
{
    struct sqlite_store *st = impl(s);
    struct sqlite_txn t;
    int err = writer_get(st, &t.c);
    if (err)
        return err;
    err = txn_begin(t.c);
    if (!err)
        err = fn(&t, arg);
    if (!err)
        err = txn_commit(t.c);
    writer_put(st, t.c); /* rolls back what a failure left open */
    return err;
}

int sqlite_txn_one(struct sqlite_txn *t, struct query q, const struct row_type *row, void *item)
{
    return conn_one(t->c, &q, row, item);
}

int sqlite_txn_exec(struct sqlite_txn *t, struct query q, int64_t *changes)
{
    return conn_exec(t->c, &q, changes);
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
        err = fail(c->db, SQLITE_INTERNAL, sqlite_stmts[id].name);
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
        const struct arg args[] = {ARG_INT(version + 1), ARG_NOW};
        if (!err)
            err = conn_exec(c, &QUERY(ST_MIGRATION_RECORD, args), NULL);
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

void sqlite_free(struct store *s)
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

int sqlite_open(const struct store_config *cfg, const char *path, struct store **out)
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

int sqlite_ping(struct store *s)
{
    struct sqlite_store *st = impl(s);
    struct conn *c;
    int err = reader_get(st, &c);
    if (err)
        return err;
    err = conn_exec(c, &(struct query){.id = ST_PING}, NULL);
    reader_put(st, c);
    return err;
}

int sqlite_schema_version(struct store *s, int *out)
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

int sqlite_backup(struct store *s, const char *dest)
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
