#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hark/error.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/store.h"

/* Must match the number of migrations in src/store/sqlite_schema.c. */
#define SCHEMA_VERSION 2

static const char *tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", harness_tmpdir(), name);
    return buf;
}

static struct store *open_named(const char *name)
{
    char path[512];
    struct store_config c = store_config_default();
    c.url = tmp_path(path, sizeof path, name);
    struct store *s = NULL;
    assert_int_equal(store_open(&c, &s), 0);
    assert_non_null(s);
    return s;
}

static void make_hash(unsigned char h[STORE_TOKEN_HASH_BYTES], int seed)
{
    for (int i = 0; i < STORE_TOKEN_HASH_BYTES; i++)
        h[i] = (unsigned char)(seed * 31 + i * 7);
}

/* A plain SQLite connection to look under the store; only opened after the
 * store, so the store's allocator setup ran first. */
static sqlite3 *raw_open(const char *name)
{
    char path[512];
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(tmp_path(path, sizeof path, name), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Points the log at a file in the test's directory and returns its fd. */
static int capture_log(void)
{
    char path[512];
    int fd = open(tmp_path(path, sizeof path, "log"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    log_fd_set(fd);
    return fd;
}

static void read_log(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
}

/* --- open and migrations --------------------------------------------------- */

static void open_creates_every_table_at_latest_version(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    int v = -1;
    assert_int_equal(store_schema_version(s, &v), 0);
    assert_int_equal(v, SCHEMA_VERSION);
    assert_int_equal(store_ping(s), 0);
    sqlite3 *db = raw_open("a.db");
    static const char *const tables[] = {
        "settings", "users", "api_tokens", "meetings", "bots", "segments",
        "webhooks", "webhook_deliveries", "jobs", "metrics_samples", "schema_migrations",
    };
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
                 tables[i]);
        assert_int_equal(raw_int(db, sql), 1);
    }
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type='index' AND "
                                 "name='segments_meeting_start'"), 1);
    sqlite3_close(db);
    store_free(s);
}

static void open_uses_wal_journal(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    sqlite3 *db = raw_open("a.db");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    store_free(s);
}

static void reopen_applies_no_migration_again(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    int created;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 3, NULL, &u, &created), 0);
    store_user_release(&u);
    store_free(s);
    sqlite3 *db = raw_open("a.db");
    int64_t applied_at = raw_int(db, "SELECT applied_at FROM schema_migrations WHERE version=1");
    sqlite3_close(db);

    s = open_named("a.db");
    store_free(s);
    s = open_named("a.db");
    int v = 0;
    assert_int_equal(store_schema_version(s, &v), 0);
    assert_int_equal(v, SCHEMA_VERSION);
    assert_int_equal(store_user_get_by_email(s, "a@x.io", &u), 0);
    store_user_release(&u);
    db = raw_open("a.db");
    assert_int_equal(raw_int(db, "SELECT count(*) FROM schema_migrations"), SCHEMA_VERSION);
    assert_int_equal(raw_int(db, "SELECT applied_at FROM schema_migrations WHERE version=1"),
                     applied_at);
    sqlite3_close(db);
    store_free(s);
}

static void open_accepts_sqlite_url(void **state)
{
    (void)state;
    char path[512], url[600];
    snprintf(url, sizeof url, "sqlite:%s", tmp_path(path, sizeof path, "u.db"));
    struct store_config c = store_config_default();
    c.url = url;
    struct store *s = NULL;
    assert_int_equal(store_open(&c, &s), 0);
    store_free(s);
    assert_int_equal(access(path, F_OK), 0);
}

static void open_refuses_schema_newer_than_binary(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    store_free(s);
    sqlite3 *db = raw_open("a.db");
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 0)", NULL,
                                  NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    int fd = capture_log();
    char path[512];
    struct store_config c = store_config_default();
    c.url = tmp_path(path, sizeof path, "a.db");
    s = (struct store *)&c; /* must be overwritten with NULL */
    assert_int_equal(store_open(&c, &s), HARK_ESTORE);
    assert_null(s);
    char log[4096];
    read_log(fd, log, sizeof log);
    assert_non_null(strstr(log, "level=error module=store"));
    assert_non_null(strstr(log, "newer than this binary"));
    assert_non_null(strstr(log, "db_version=99"));
    close(fd);
}

static void open_rejects_bad_config(void **state)
{
    (void)state;
    int fd = capture_log();
    struct store *s = NULL;
    struct store_config c = store_config_default();
    assert_int_equal(store_open(&c, &s), HARK_EINVAL); /* no url */
    assert_int_equal(store_open(NULL, &s), HARK_EINVAL);
    c.url = "x.db";
    assert_int_equal(store_open(&c, NULL), HARK_EINVAL);
    c.read_connections = 0;
    assert_int_equal(store_open(&c, &s), HARK_EINVAL);
    c = store_config_default();
    c.busy_timeout_ms = -1;
    c.url = "x.db";
    assert_int_equal(store_open(&c, &s), HARK_EINVAL);
    c = store_config_default();
    c.url = "postgres://db/hark";
    assert_int_equal(store_open(&c, &s), HARK_ECONFIG);
    c.url = "sqlite:";
    assert_int_equal(store_open(&c, &s), HARK_ECONFIG);
    c.url = ":memory:";
    assert_int_equal(store_open(&c, &s), HARK_ECONFIG);
    assert_null(s);
    close(fd);
}

static void open_in_missing_directory_fails_with_estore(void **state)
{
    (void)state;
    int fd = capture_log();
    char path[512];
    struct store_config c = store_config_default();
    c.url = tmp_path(path, sizeof path, "no/such/dir/a.db");
    struct store *s = NULL;
    assert_int_equal(store_open(&c, &s), HARK_ESTORE);
    assert_null(s);
    char log[4096];
    read_log(fd, log, sizeof log);
    assert_non_null(strstr(log, "msg=\"cannot open store\""));
    close(fd);
}

static void open_file_that_is_not_a_database_fails_with_estore(void **state)
{
    (void)state;
    int fd = capture_log();
    char path[512];
    FILE *f = fopen(tmp_path(path, sizeof path, "junk.db"), "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not an SQLite database file\n", f);
    fclose(f);
    struct store_config c = store_config_default();
    c.url = path;
    struct store *s = NULL;
    assert_int_equal(store_open(&c, &s), HARK_ESTORE);
    char log[4096];
    read_log(fd, log, sizeof log);
    assert_non_null(strstr(log, "not a database"));
    close(fd);
}

static void functions_reject_null_arguments(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    unsigned char h[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 1);
    char *val = (char *)h;
    int v;
    struct store_user u;
    struct store_user *us;
    struct store_token t;
    struct store_token *ts;
    size_t n;
    assert_int_equal(store_ping(NULL), HARK_EINVAL);
    assert_int_equal(store_schema_version(NULL, &v), HARK_EINVAL);
    assert_int_equal(store_schema_version(s, NULL), HARK_EINVAL);
    assert_int_equal(store_backup(s, NULL), HARK_EINVAL);
    assert_int_equal(store_backup(s, ""), HARK_EINVAL);
    assert_int_equal(store_setting_get(s, NULL, &val), HARK_EINVAL);
    assert_null(val);
    assert_int_equal(store_setting_get(s, "", &val), HARK_EINVAL);
    assert_int_equal(store_setting_get(s, "k", NULL), HARK_EINVAL);
    assert_int_equal(store_setting_init(s, "k", NULL), HARK_EINVAL);
    assert_int_equal(store_setting_set(s, NULL, "v"), HARK_EINVAL);
    assert_int_equal(store_user_create(s, NULL, NULL, 1, NULL, &u, NULL), HARK_EINVAL);
    assert_int_equal(store_user_create(s, "", NULL, 1, NULL, &u, NULL), HARK_EINVAL);
    assert_int_equal(store_user_create(s, "a@x.io", NULL, -1, NULL, &u, NULL), HARK_EINVAL);
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, NULL, NULL), HARK_EINVAL);
    assert_int_equal(store_user_get(NULL, 1, &u), HARK_EINVAL);
    assert_int_equal(store_user_get_by_email(s, NULL, &u), HARK_EINVAL);
    int neg = -2;
    assert_int_equal(store_user_update(s, 1, NULL, &neg, NULL, &u), HARK_EINVAL);
    assert_int_equal(store_user_list(s, 0, 10, NULL, &n), HARK_EINVAL);
    assert_int_equal(store_user_list(NULL, 0, 10, &us, &n), HARK_EINVAL);
    assert_int_equal(store_token_create(s, 1, NULL, "bot", NULL, 0, &t), HARK_EINVAL);
    assert_int_equal(store_token_create(s, 1, h, NULL, NULL, 0, &t), HARK_EINVAL);
    assert_int_equal(store_token_create(s, 1, h, "bot", NULL, -5, &t), HARK_EINVAL);
    assert_int_equal(store_token_find(s, NULL, &t), HARK_EINVAL);
    assert_int_equal(store_token_touch(s, 1, -1), HARK_EINVAL);
    assert_int_equal(store_token_list(s, 1, &ts, NULL), HARK_EINVAL);
    assert_int_equal(store_token_delete(NULL, 1), HARK_EINVAL);
    store_free(s);
    store_free(NULL);
    store_user_release(NULL);
    store_token_release(NULL);
    store_user_list_free(NULL, 0);
    store_token_list_free(NULL, 0);
}

/* --- settings -------------------------------------------------------------- */

static void setting_init_sets_once_and_set_overwrites(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    char *v = NULL;
    assert_int_equal(store_setting_get(s, "secret", &v), HARK_ENOENT);
    assert_null(v);
    assert_int_equal(store_setting_init(s, "secret", "first"), 0);
    assert_int_equal(store_setting_init(s, "secret", "second"), HARK_EEXIST);
    assert_int_equal(store_setting_get(s, "secret", &v), 0);
    assert_string_equal(v, "first");
    hark_free(v);
    assert_int_equal(store_setting_set(s, "secret", "third"), 0);
    assert_int_equal(store_setting_set(s, "other", ""), 0);
    assert_int_equal(store_setting_get(s, "secret", &v), 0);
    assert_string_equal(v, "third");
    hark_free(v);
    assert_int_equal(store_setting_get(s, "other", &v), 0);
    assert_string_equal(v, "");
    hark_free(v);
    store_free(s);
    s = open_named("a.db"); /* durable across reopen */
    assert_int_equal(store_setting_get(s, "secret", &v), 0);
    assert_string_equal(v, "third");
    hark_free(v);
    store_free(s);
}

/* --- users ----------------------------------------------------------------- */

static void user_create_fills_row_and_defaults_data(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    int created = -1;
    assert_int_equal(store_user_create(s, "Ann@Example.com", "Ann", 5, NULL, &u, &created), 0);
    assert_int_equal(created, 1);
    assert_true(u.id > 0);
    assert_string_equal(u.email, "Ann@Example.com");
    assert_string_equal(u.name, "Ann");
    assert_int_equal(u.max_concurrent_bots, 5);
    assert_string_equal(u.data_json, "{}");
    assert_true(u.created_at_ms > 1600000000000LL);
    int64_t id = u.id;
    store_user_release(&u);
    assert_int_equal(store_user_create(s, "bob@x.io", NULL, 0, "{\"plan\":\"pro\"}", &u,
                                       &created), 0);
    assert_int_equal(created, 1);
    assert_true(u.id > id);
    assert_null(u.name);
    assert_string_equal(u.data_json, "{\"plan\":\"pro\"}");
    store_user_release(&u);
    store_free(s);
}

static void user_create_same_email_any_case_returns_existing(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user a, b;
    int created;
    assert_int_equal(store_user_create(s, "Ann@Example.com", "Ann", 5, NULL, &a, &created), 0);
    assert_int_equal(store_user_create(s, "ann@EXAMPLE.COM", "Other", 1, "{\"x\":1}", &b,
                                       &created), 0);
    assert_int_equal(created, 0);
    assert_int_equal(b.id, a.id);
    assert_string_equal(b.email, "Ann@Example.com");
    assert_string_equal(b.name, "Ann");
    assert_int_equal(b.max_concurrent_bots, 5);
    assert_string_equal(b.data_json, "{}");
    store_user_release(&b);
    assert_int_equal(store_user_get_by_email(s, "ANN@example.com", &b), 0);
    assert_int_equal(b.id, a.id);
    store_user_release(&b);
    struct store_user *list;
    size_t n;
    assert_int_equal(store_user_list(s, 0, 100, &list, &n), 0);
    assert_int_equal(n, 1);
    store_user_list_free(list, n);
    store_user_release(&a);
    store_free(s);
}

static void user_create_rejects_invalid_json(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    int created = -1;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, "{not json", &u, &created),
                     HARK_EINVAL);
    assert_int_equal(created, 0);
    assert_null(u.email);
    assert_int_equal(store_user_get_by_email(s, "a@x.io", &u), HARK_ENOENT);
    store_free(s);
}

static void user_get_finds_by_id_and_reports_missing(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user a, b;
    assert_int_equal(store_user_create(s, "a@x.io", "A", 2, NULL, &a, NULL), 0);
    assert_int_equal(store_user_get(s, a.id, &b), 0);
    assert_int_equal(b.id, a.id);
    assert_string_equal(b.email, "a@x.io");
    assert_string_equal(b.name, "A");
    assert_int_equal(b.max_concurrent_bots, 2);
    assert_int_equal(b.created_at_ms, a.created_at_ms);
    store_user_release(&b);
    assert_int_equal(store_user_get(s, a.id + 1, &b), HARK_ENOENT);
    assert_null(b.email);
    assert_int_equal(store_user_get_by_email(s, "nobody@x.io", &b), HARK_ENOENT);
    store_user_release(&a);
    store_free(s);
}

static void user_update_changes_only_given_fields(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user a, b;
    assert_int_equal(store_user_create(s, "a@x.io", "A", 2, "{\"k\":1}", &a, NULL), 0);
    assert_int_equal(store_user_update(s, a.id, NULL, NULL, NULL, &b), 0);
    assert_string_equal(b.name, "A");
    assert_int_equal(b.max_concurrent_bots, 2);
    assert_string_equal(b.data_json, "{\"k\":1}");
    store_user_release(&b);
    int bots = 9;
    assert_int_equal(store_user_update(s, a.id, NULL, &bots, NULL, &b), 0);
    assert_string_equal(b.name, "A");
    assert_int_equal(b.max_concurrent_bots, 9);
    store_user_release(&b);
    assert_int_equal(store_user_update(s, a.id, "Anna", NULL, "{\"n\":[1,2]}", &b), 0);
    assert_string_equal(b.name, "Anna");
    assert_int_equal(b.max_concurrent_bots, 9);
    assert_string_equal(b.data_json, "{\"n\":[1,2]}");
    assert_string_equal(b.email, "a@x.io");
    store_user_release(&b);
    assert_int_equal(store_user_get(s, a.id, &b), 0);
    assert_string_equal(b.name, "Anna");
    store_user_release(&b);
    store_user_release(&a);
    store_free(s);
}

static void user_update_of_missing_user_or_bad_json_changes_nothing(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user a, b;
    assert_int_equal(store_user_create(s, "a@x.io", "A", 2, NULL, &a, NULL), 0);
    assert_int_equal(store_user_update(s, a.id + 100, "B", NULL, NULL, &b), HARK_ENOENT);
    assert_null(b.email);
    assert_int_equal(store_user_update(s, a.id, "B", NULL, "[1,", &b), HARK_EINVAL);
    assert_null(b.email);
    assert_int_equal(store_user_get(s, a.id, &b), 0);
    assert_string_equal(b.name, "A");
    assert_string_equal(b.data_json, "{}");
    store_user_release(&b);
    store_user_release(&a);
    store_free(s);
}

static void user_list_pages_in_id_order(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char email[32];
        snprintf(email, sizeof email, "u%d@x.io", 4 - i); /* ids and emails disagree */
        struct store_user u;
        assert_int_equal(store_user_create(s, email, NULL, 1, NULL, &u, NULL), 0);
        ids[i] = u.id;
        store_user_release(&u);
    }
    struct store_user *list;
    size_t n;
    assert_int_equal(store_user_list(s, 1, 2, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, ids[1]);
    assert_int_equal(list[1].id, ids[2]);
    assert_string_equal(list[0].email, "u3@x.io");
    store_user_list_free(list, n);
    assert_int_equal(store_user_list(s, 0, SIZE_MAX, &list, &n), 0);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(list[i].id, ids[i]);
    store_user_list_free(list, n);
    assert_int_equal(store_user_list(s, 5, 10, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    assert_int_equal(store_user_list(s, SIZE_MAX, 10, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_user_list(s, 0, 0, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    store_free(s);
}

static void user_list_grows_past_initial_capacity(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    for (int i = 0; i < 40; i++) {
        char email[32];
        snprintf(email, sizeof email, "u%d@x.io", i);
        struct store_user u;
        assert_int_equal(store_user_create(s, email, NULL, 1, NULL, &u, NULL), 0);
        store_user_release(&u);
    }
    struct store_user *list;
    size_t n;
    assert_int_equal(store_user_list(s, 0, 1000, &list, &n), 0);
    assert_int_equal(n, 40);
    assert_string_equal(list[39].email, "u39@x.io");
    store_user_list_free(list, n);
    store_free(s);
}

/* --- tokens ---------------------------------------------------------------- */

static void token_create_for_missing_user_is_enoent(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    unsigned char h[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 1);
    struct store_token t;
    assert_int_equal(store_token_create(s, 42, h, "bot", NULL, 0, &t), HARK_ENOENT);
    assert_int_equal(store_token_find(s, h, &t), HARK_ENOENT);
    store_free(s);
}

static void token_create_then_find_by_hash(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &u, NULL), 0);
    unsigned char h[STORE_TOKEN_HASH_BYTES], other[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 1);
    make_hash(other, 2);
    struct store_token t, f;
    assert_int_equal(store_token_create(s, u.id, h, "bot,tx", "laptop", 1999999999999LL, &t),
                     0);
    assert_true(t.id > 0);
    assert_int_equal(t.user_id, u.id);
    assert_memory_equal(t.hash, h, sizeof h);
    assert_string_equal(t.scopes, "bot,tx");
    assert_string_equal(t.name, "laptop");
    assert_int_equal(t.expires_at_ms, 1999999999999LL);
    assert_int_equal(t.last_used_at_ms, 0);
    assert_true(t.created_at_ms > 1600000000000LL);
    assert_int_equal(store_token_find(s, h, &f), 0);
    assert_int_equal(f.id, t.id);
    assert_int_equal(f.user_id, u.id);
    assert_string_equal(f.scopes, "bot,tx");
    assert_string_equal(f.name, "laptop");
    assert_int_equal(f.expires_at_ms, t.expires_at_ms);
    assert_int_equal(f.created_at_ms, t.created_at_ms);
    store_token_release(&f);
    assert_int_equal(store_token_find(s, other, &f), HARK_ENOENT);
    assert_null(f.scopes);
    store_token_release(&t);
    assert_int_equal(store_token_create(s, u.id, other, "", NULL, 0, &t), 0);
    assert_null(t.name);
    assert_string_equal(t.scopes, "");
    assert_int_equal(t.expires_at_ms, 0);
    store_token_release(&t);
    store_user_release(&u);
    store_free(s);
}

static void token_hash_is_unique_across_users(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user a, b;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &a, NULL), 0);
    assert_int_equal(store_user_create(s, "b@x.io", NULL, 1, NULL, &b, NULL), 0);
    unsigned char h[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 7);
    struct store_token t;
    assert_int_equal(store_token_create(s, a.id, h, "bot", NULL, 0, &t), 0);
    store_token_release(&t);
    assert_int_equal(store_token_create(s, b.id, h, "bot", NULL, 0, &t), HARK_EEXIST);
    assert_null(t.scopes);
    assert_int_equal(store_token_create(s, a.id, h, "tx", NULL, 0, &t), HARK_EEXIST);
    assert_int_equal(store_token_find(s, h, &t), 0);
    assert_int_equal(t.user_id, a.id);
    store_token_release(&t);
    store_user_release(&a);
    store_user_release(&b);
    store_free(s);
}

static void token_touch_records_use_and_never_goes_back(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &u, NULL), 0);
    unsigned char h[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 1);
    struct store_token t;
    assert_int_equal(store_token_create(s, u.id, h, "bot", NULL, 0, &t), 0);
    assert_int_equal(store_token_touch(s, t.id, 5000), 0);
    assert_int_equal(store_token_touch(s, t.id, 4000), 0);
    store_token_release(&t);
    assert_int_equal(store_token_find(s, h, &t), 0);
    assert_int_equal(t.last_used_at_ms, 5000);
    assert_int_equal(store_token_touch(s, t.id, 6000), 0);
    store_token_release(&t);
    assert_int_equal(store_token_find(s, h, &t), 0);
    assert_int_equal(t.last_used_at_ms, 6000);
    assert_int_equal(store_token_touch(s, t.id + 1, 7000), HARK_ENOENT);
    store_token_release(&t);
    store_user_release(&u);
    store_free(s);
}

static void token_list_returns_only_that_users_tokens(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user a, b;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &a, NULL), 0);
    assert_int_equal(store_user_create(s, "b@x.io", NULL, 1, NULL, &b, NULL), 0);
    int64_t ids[3];
    for (int i = 0; i < 4; i++) {
        unsigned char h[STORE_TOKEN_HASH_BYTES];
        make_hash(h, i);
        struct store_token t;
        assert_int_equal(store_token_create(s, i == 1 ? b.id : a.id, h, "bot", NULL, 0, &t), 0);
        if (i != 1)
            ids[i == 0 ? 0 : i - 1] = t.id;
        store_token_release(&t);
    }
    struct store_token *list;
    size_t n;
    assert_int_equal(store_token_list(s, a.id, &list, &n), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(list[i].id, ids[i]);
        assert_int_equal(list[i].user_id, a.id);
    }
    store_token_list_free(list, n);
    assert_int_equal(store_token_list(s, b.id, &list, &n), 0);
    assert_int_equal(n, 1);
    store_token_list_free(list, n);
    assert_int_equal(store_token_list(s, 999, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    store_user_release(&a);
    store_user_release(&b);
    store_free(s);
}

static void token_delete_removes_once(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &u, NULL), 0);
    unsigned char h[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 1);
    struct store_token t;
    assert_int_equal(store_token_create(s, u.id, h, "bot", NULL, 0, &t), 0);
    assert_int_equal(store_token_delete(s, t.id), 0);
    assert_int_equal(store_token_delete(s, t.id), HARK_ENOENT);
    struct store_token f;
    assert_int_equal(store_token_find(s, h, &f), HARK_ENOENT);
    /* The id is not reused for the next token. */
    struct store_token t2;
    assert_int_equal(store_token_create(s, u.id, h, "bot", NULL, 0, &t2), 0);
    assert_true(t2.id > t.id);
    store_token_release(&t2);
    store_token_release(&t);
    store_user_release(&u);
    store_free(s);
}

/* The schema, not the API (there is no user delete yet): deleting a user
 * takes its tokens with it. */
static void deleting_a_user_row_cascades_to_its_tokens(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &u, NULL), 0);
    unsigned char h[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 1);
    struct store_token t;
    assert_int_equal(store_token_create(s, u.id, h, "bot", NULL, 0, &t), 0);
    store_token_release(&t);
    sqlite3 *db = raw_open("a.db");
    assert_int_equal(sqlite3_exec(db, "DELETE FROM users", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_token_find(s, h, &t), HARK_ENOENT);
    store_user_release(&u);
    store_free(s);
}

/* --- meetings ------------------------------------------------------------- */

/* Meetings have no create call yet: rows go in underneath the store. */
static int64_t raw_meeting(sqlite3 *db, int64_t user_id, const char *platform,
                           const char *native_id)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO meetings(user_id, platform, native_meeting_id, created_at, "
             "updated_at) VALUES (%lld, '%s', '%s', 1, 1)",
             (long long)user_id, platform, native_id);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    return sqlite3_last_insert_rowid(db);
}

static void meeting_find_returns_the_callers_newest_meeting(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user a, b;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &a, NULL), 0);
    assert_int_equal(store_user_create(s, "b@x.io", NULL, 1, NULL, &b, NULL), 0);
    sqlite3 *db = raw_open("a.db");
    raw_meeting(db, a.id, "google_meet", "abc-defg-hij");
    int64_t b_meeting = raw_meeting(db, b.id, "google_meet", "abc-defg-hij");
    int64_t newest = raw_meeting(db, a.id, "google_meet", "abc-defg-hij");
    int64_t teams = raw_meeting(db, a.id, "teams", "abc-defg-hij");
    sqlite3_close(db);
    int64_t id = -1;
    assert_int_equal(store_meeting_find(s, a.id, "google_meet", "abc-defg-hij", &id), 0);
    assert_int_equal(id, newest);
    assert_int_equal(store_meeting_find(s, b.id, "google_meet", "abc-defg-hij", &id), 0);
    assert_int_equal(id, b_meeting);
    assert_int_equal(store_meeting_find(s, a.id, "teams", "abc-defg-hij", &id), 0);
    assert_int_equal(id, teams);
    assert_int_equal(store_meeting_find(s, b.id, "teams", "abc-defg-hij", &id), HARK_ENOENT);
    assert_int_equal(id, 0);
    assert_int_equal(store_meeting_find(s, a.id, "google_meet", "ABC-DEFG-HIJ", &id),
                     HARK_ENOENT);
    assert_int_equal(store_meeting_find(s, 999, "google_meet", "abc-defg-hij", &id),
                     HARK_ENOENT);
    assert_int_equal(store_meeting_find(s, a.id, NULL, "x", &id), HARK_EINVAL);
    assert_int_equal(store_meeting_find(s, a.id, "zoom", NULL, &id), HARK_EINVAL);
    assert_int_equal(store_meeting_find(s, a.id, "zoom", "x", NULL), HARK_EINVAL);
    assert_int_equal(store_meeting_find(NULL, a.id, "zoom", "x", &id), HARK_EINVAL);
    store_user_release(&a);
    store_user_release(&b);
    store_free(s);
}

/* --- locking and concurrency --------------------------------------------------- */

static void reads_proceed_while_another_connection_holds_the_write_lock(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    assert_int_equal(store_setting_set(s, "k", "old"), 0);
    sqlite3 *db = raw_open("a.db");
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE; UPDATE settings SET value='new'",
                                  NULL, NULL, NULL), SQLITE_OK);
    int64_t t0 = wall_ms();
    char *v = NULL;
    assert_int_equal(store_setting_get(s, "k", &v), 0);
    assert_string_equal(v, "old"); /* the last committed value */
    hark_free(v);
    assert_int_equal(store_ping(s), 0);
    assert_true(wall_ms() - t0 < 1000); /* not the 5 s busy timeout */
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_setting_get(s, "k", &v), 0);
    assert_string_equal(v, "new");
    hark_free(v);
    store_free(s);
}

static void write_locked_past_busy_timeout_is_ebusy(void **state)
{
    (void)state;
    struct store *s0 = open_named("a.db");
    store_free(s0);
    char path[512];
    struct store_config c = store_config_default();
    c.url = tmp_path(path, sizeof path, "a.db");
    c.busy_timeout_ms = 50;
    struct store *s;
    assert_int_equal(store_open(&c, &s), 0);
    sqlite3 *db = raw_open("a.db");
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    int fd = capture_log();
    struct store_user u;
    int created = -1;
    assert_int_equal(store_setting_set(s, "k", "v"), HARK_EBUSY);
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &u, &created), HARK_EBUSY);
    assert_int_equal(created, 0);
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* The store recovers once the lock is gone. */
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &u, &created), 0);
    assert_int_equal(created, 1);
    store_user_release(&u);
    assert_int_equal(store_setting_set(s, "k", "v"), 0);
    close(fd);
    store_free(s);
}

enum { WRITERS = 4, WRITES_EACH = 150 };

struct writer_arg {
    struct store *s;
    int index;
    int failures;
};

static void *writer_main(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < WRITES_EACH; i++) {
        char email[64], key[64];
        snprintf(email, sizeof email, "w%d-%d@x.io", a->index, i);
        snprintf(key, sizeof key, "k%d", a->index);
        struct store_user u;
        int created = 0;
        int err = store_user_create(a->s, email, NULL, 1, NULL, &u, &created);
        if (!err && created) {
            unsigned char h[STORE_TOKEN_HASH_BYTES];
            make_hash(h, a->index * 100000 + i);
            h[0] = (unsigned char)a->index;
            struct store_token t;
            err = store_token_create(a->s, u.id, h, "bot", NULL, 0, &t);
            if (!err) {
                struct store_token f;
                err = store_token_find(a->s, h, &f);
                if (!err && f.id != t.id)
                    err = HARK_ESTORE;
                store_token_release(&f);
                if (!err)
                    err = store_token_touch(a->s, t.id, 1000 + i);
            }
            store_token_release(&t);
        }
        if (!err)
            err = store_setting_set(a->s, key, email);
        if (err || !created)
            a->failures++;
        store_user_release(&u);
    }
    return NULL;
}

static void check_concurrent_result(struct store *s)
{
    struct store_user *list;
    size_t n;
    assert_int_equal(store_user_list(s, 0, SIZE_MAX, &list, &n), 0);
    assert_int_equal(n, WRITERS * WRITES_EACH);
    store_user_list_free(list, n);
}

static void concurrent_writers_sharing_a_store_all_succeed(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    pthread_t th[WRITERS];
    struct writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (struct writer_arg){.s = s, .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    check_concurrent_result(s);
    store_free(s);
}

/* Separate stores on one file contend on SQLite's own lock, as separate
 * processes would: the busy timeout must absorb it. */
static void concurrent_writers_on_separate_stores_all_succeed(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    pthread_t th[WRITERS];
    struct writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (struct writer_arg){.s = open_named("a.db"), .index = i};
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
        store_free(args[i].s);
    }
    check_concurrent_result(s);
    store_free(s);
}

struct reader_arg {
    struct store *s;
    int64_t user_id;
    int failures;
};

static void *reader_main(void *p)
{
    struct reader_arg *a = p;
    for (int i = 0; i < 300; i++) {
        struct store_user u;
        if (store_user_get(a->s, a->user_id, &u) != 0 || u.id != a->user_id)
            a->failures++;
        store_user_release(&u);
    }
    return NULL;
}

static void readers_outnumbering_the_pool_wait_their_turn(void **state)
{
    (void)state;
    char path[512];
    struct store_config c = store_config_default();
    c.url = tmp_path(path, sizeof path, "a.db");
    c.read_connections = 2;
    struct store *s;
    assert_int_equal(store_open(&c, &s), 0);
    struct store_user u;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &u, NULL), 0);
    pthread_t th[6];
    struct reader_arg args[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (struct reader_arg){.s = s, .user_id = u.id};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    store_user_release(&u);
    store_free(s);
}

/* --- backup ------------------------------------------------------------------- */

static void assert_same_users(struct store *a, struct store *b)
{
    struct store_user *la, *lb;
    size_t na, nb;
    assert_int_equal(store_user_list(a, 0, SIZE_MAX, &la, &na), 0);
    assert_int_equal(store_user_list(b, 0, SIZE_MAX, &lb, &nb), 0);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(la[i].id, lb[i].id);
        assert_string_equal(la[i].email, lb[i].email);
        assert_int_equal(la[i].created_at_ms, lb[i].created_at_ms);
    }
    store_user_list_free(la, na);
    store_user_list_free(lb, nb);
}

static size_t dir_entries(void)
{
    DIR *d = opendir(harness_tmpdir());
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void backup_copies_every_row_into_a_new_file(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    assert_int_equal(store_user_create(s, "a@x.io", "A", 1, NULL, &u, NULL), 0);
    unsigned char h[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 3);
    struct store_token t;
    assert_int_equal(store_token_create(s, u.id, h, "bot", NULL, 0, &t), 0);
    assert_int_equal(store_setting_set(s, "k", "v"), 0);
    char dest[512];
    assert_int_equal(store_backup(s, tmp_path(dest, sizeof dest, "b.db")), 0);
    struct stat sb;
    assert_int_equal(stat(dest, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    struct store *b = open_named("b.db");
    int v;
    assert_int_equal(store_schema_version(b, &v), 0);
    assert_int_equal(v, SCHEMA_VERSION);
    assert_same_users(s, b);
    struct store_token f;
    assert_int_equal(store_token_find(b, h, &f), 0);
    assert_int_equal(f.id, t.id);
    store_token_release(&f);
    char *val;
    assert_int_equal(store_setting_get(b, "k", &val), 0);
    assert_string_equal(val, "v");
    hark_free(val);
    store_free(b);
    store_token_release(&t);
    store_user_release(&u);
    store_free(s);
}

static void backup_refuses_existing_destination(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    char dest[512];
    FILE *f = fopen(tmp_path(dest, sizeof dest, "b.db"), "w");
    fputs("keep me", f);
    fclose(f);
    size_t before = dir_entries();
    assert_int_equal(store_backup(s, dest), HARK_EEXIST);
    assert_int_equal(dir_entries(), before);
    char buf[16] = {0};
    f = fopen(dest, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "keep me");
    store_free(s);
}

static void backup_into_missing_directory_leaves_nothing(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    int fd = capture_log();
    size_t before = dir_entries();
    char dest[512];
    assert_int_equal(store_backup(s, tmp_path(dest, sizeof dest, "nodir/b.db")), HARK_EIO);
    assert_int_equal(dir_entries(), before);
    close(fd);
    store_free(s);
}

static void backup_allocation_failures_leave_nothing_behind(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    assert_int_equal(store_user_create(s, "a@x.io", NULL, 1, NULL, &u, NULL), 0);
    store_user_release(&u);
    int devnull = open("/dev/null", O_WRONLY);
    log_fd_set(devnull);
    size_t before = dir_entries();
    char dest[512];
    tmp_path(dest, sizeof dest, "b.db");
    long n;
    int err = HARK_ENOMEM;
    for (n = 0; n < 10000 && err; n++) {
        hark_mem_fail_after(n);
        err = store_backup(s, dest);
        hark_mem_fail_after(-1);
        if (err) {
            assert_int_equal(err, HARK_ENOMEM);
            assert_int_equal(dir_entries(), before);
        }
    }
    assert_int_equal(err, 0);
    assert_true(n > 100); /* failures reached into SQLite's side of the copy */
    close(devnull);
    store_free(s);
    struct store *b = open_named("b.db");
    assert_int_equal(store_user_get_by_email(b, "a@x.io", &u), 0);
    store_user_release(&u);
    store_free(b);
}

struct busy_writer {
    struct store *s;
    atomic_int stop;
    atomic_int written;
    int failures;
};

static void *busy_writer_main(void *p)
{
    struct busy_writer *w = p;
    for (int i = 0; !atomic_load(&w->stop); i++) {
        char email[64];
        snprintf(email, sizeof email, "bw%d@x.io", i);
        struct store_user u;
        if (store_user_create(w->s, email, NULL, 1, NULL, &u, NULL) != 0)
            w->failures++;
        else
            atomic_fetch_add(&w->written, 1);
        store_user_release(&u);
    }
    return NULL;
}

static void backup_while_writing_is_a_consistent_snapshot(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct busy_writer w = {.s = s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, busy_writer_main, &w), 0);
    while (atomic_load(&w.written) < 50)
        usleep(1000);
    int before = atomic_load(&w.written);
    char dest[512];
    assert_int_equal(store_backup(s, tmp_path(dest, sizeof dest, "b.db")), 0);
    int after_backup = atomic_load(&w.written);
    while (atomic_load(&w.written) < after_backup + 20)
        usleep(1000); /* keep writing after the copy too */
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    assert_int_equal(w.failures, 0);

    sqlite3 *db = raw_open("b.db");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    /* Ids are dense: the copy holds a prefix of the source's users. */
    int64_t n = raw_int(db, "SELECT count(*) FROM users");
    assert_int_equal(raw_int(db, "SELECT coalesce(max(id), 0) FROM users"), n);
    sqlite3_close(db);
    assert_true(n >= before);
    assert_true(n <= after_backup + 1);

    struct store *b = open_named("b.db");
    struct store_user *la, *lb;
    size_t na, nb;
    assert_int_equal(store_user_list(s, 0, (size_t)n, &la, &na), 0);
    assert_int_equal(store_user_list(b, 0, SIZE_MAX, &lb, &nb), 0);
    assert_int_equal(na, (size_t)n);
    assert_int_equal(nb, (size_t)n);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(la[i].id, lb[i].id);
        assert_string_equal(la[i].email, lb[i].email);
    }
    store_user_list_free(la, na);
    store_user_list_free(lb, nb);
    store_free(b);
    store_free(s);
}

/* --- allocation failures ------------------------------------------------------- */

struct alloc_seq {
    struct store_config config;
    unsigned char hash[STORE_TOKEN_HASH_BYTES];
    struct store *s;
    struct store_user user;
    int created;
    struct store_token token, found;
};

/* Step i of: open, create user, create token, find token. */
static int alloc_seq_step(struct alloc_seq *q, int i)
{
    switch (i) {
    case 0:
        return store_open(&q->config, &q->s);
    case 1:
        return store_user_create(q->s, "a@x.io", "A", 1, NULL, &q->user, &q->created);
    case 2:
        return store_token_create(q->s, q->user.id, q->hash, "bot", NULL, 0, &q->token);
    default:
        return store_token_find(q->s, q->hash, &q->found);
    }
}

/* After a failed open the file holds no schema or all of it: never half a
 * migration. */
static void assert_schema_all_or_nothing(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db); /* the failure came before the file existed */
        return;
    }
    int64_t tables = raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                                 "AND name NOT LIKE 'sqlite%'");
    int64_t version =
        tables ? raw_int(db, "SELECT coalesce(max(version), 0) FROM schema_migrations") : 0;
    if (version == 0) {
        assert_int_equal(tables, 0);
    } else {
        /* Each migration applies whole, in its own transaction: an open may
         * fail between two of them, never inside one. */
        assert_true(version >= 1 && version <= SCHEMA_VERSION);
        assert_int_equal(tables, 11);
    }
    sqlite3_close(db);
}

/* For n = 0, 1, 2, ...: the allocation after n successes fails, and every
 * later one too, during: open (fresh file), create user, create token, find
 * token. The step that meets it must fail with HARK_ENOMEM, leave its
 * output empty, leak nothing (ASan) and leave nothing half-written: a
 * failed open leaves no partial schema, and after a failed call the rest of
 * the sequence, the failed step included, runs with injection off as if
 * the failed attempt never happened. HARK_ESTORE is not accepted: SQLite
 * 3.40 reports every allocation failure on these paths as a NOMEM code, so
 * an ESTORE here would mean sqlite.c mapped one wrongly (and logged a
 * misleading error line).
 * Runs n in [first, last) and returns the first n at which every step
 * succeeded without meeting a failure, or -1 if there was none. */
static long allocation_failure_range(long first, long last)
{
    int devnull = open("/dev/null", O_WRONLY);
    log_fd_set(devnull);
    long done = -1;
    for (long n = first; n < last && done < 0; n++) {
        char name[64], path[512];
        snprintf(name, sizeof name, "m%ld.db", n);
        struct alloc_seq q = {.config = store_config_default()};
        q.config.url = tmp_path(path, sizeof path, name);
        make_hash(q.hash, 9);

        hark_mem_fail_after(n);
        int i = 0, err = 0;
        while (i < 4 && !(err = alloc_seq_step(&q, i)))
            i++;
        long failures = hark_mem_failures();
        hark_mem_fail_after(-1);

        if (err) {
            if (err != HARK_ENOMEM)
                fail_msg("n=%ld step=%d err=%s", n, i, hark_errname(err));
            assert_true(failures > 0);
        } else if (failures == 0) {
            done = n;
        }
        if (err && i == 0) {
            assert_null(q.s);
            assert_schema_all_or_nothing(path);
        } else {
            if (err) {
                if (i == 1) {
                    assert_null(q.user.email);
                    assert_int_equal(q.created, 0);
                }
                if (i == 2)
                    assert_null(q.token.scopes);
                if (i == 3)
                    assert_null(q.found.scopes);
                if (i >= 2)
                    assert_int_equal(store_token_find(q.s, q.hash, &q.found),
                                     i == 2 ? HARK_ENOENT : 0);
                store_token_release(&q.found);
                for (; i < 4; i++)
                    assert_int_equal(alloc_seq_step(&q, i), 0);
            }
            assert_int_equal(q.created, 1);
            assert_string_equal(q.user.email, "a@x.io");
            assert_int_equal(q.found.id, q.token.id);
            assert_int_equal(q.found.user_id, q.user.id);
            assert_int_equal(store_ping(q.s), 0);
            store_token_release(&q.found);
            store_token_release(&q.token);
            store_user_release(&q.user);
            store_free(q.s);
        }
        static const char *const suffixes[] = {"", "-wal", "-shm"};
        for (size_t k = 0; k < 3; k++) { /* keep the directory small */
            char p[600];
            snprintf(p, sizeof p, "%s%s", path, suffixes[k]);
            unlink(p);
        }
    }
    close(devnull);
    return done;
}

/* The loop is cut into ranges, one test each, so every test stays well
 * inside the harness's 60 s alarm under TSan on a busy machine: each
 * iteration creates a database file, and file syncs dominate its cost. */
static void allocation_failures_fail_cleanly_from_n_0(void **state)
{
    (void)state;
    /* Our own code makes a few dozen allocations in the whole sequence:
     * needing more than 1600 proves the failures reach into SQLite. */
    assert_int_equal(allocation_failure_range(0, 1600), -1);
}

static void allocation_failures_fail_cleanly_from_n_1600(void **state)
{
    (void)state;
    (void)allocation_failure_range(1600, 3200);
}

static void allocation_failures_fail_cleanly_from_n_3200(void **state)
{
    (void)state;
    (void)allocation_failure_range(3200, 4200);
}

static void allocation_failures_fail_cleanly_from_n_4200(void **state)
{
    (void)state;
    (void)allocation_failure_range(4200, 4900);
}

static void allocation_failures_fail_cleanly_from_n_4900(void **state)
{
    (void)state;
    (void)allocation_failure_range(4900, 5600);
}

static void allocation_failures_fail_cleanly_from_n_5600(void **state)
{
    (void)state;
    (void)allocation_failure_range(5600, 6300);
}

static void allocation_failures_fail_cleanly_from_n_6300(void **state)
{
    (void)state;
    (void)allocation_failure_range(6300, 7000);
}

static void allocation_failures_fail_cleanly_from_n_7000(void **state)
{
    (void)state;
    (void)allocation_failure_range(7000, 7800);
}

static void allocation_failures_fail_cleanly_from_n_7800_until_all_succeed(void **state)
{
    (void)state;
    assert_true(allocation_failure_range(7800, 100000) >= 7800);
}

/* Runs call i of the rest of the API on the fixture below. */
static int other_call(int i, struct store *s, int64_t uid, int64_t tid,
                      const unsigned char *hash, void **out, size_t *n)
{
    static const int bots = 7;
    switch (i) {
    case 0:
        return store_setting_init(s, "k", "v");
    case 1:
        return store_setting_set(s, "k", "w");
    case 2:
        return store_setting_get(s, "k", (char **)out);
    case 3:
        return store_user_get(s, uid, *out);
    case 4:
        return store_user_get_by_email(s, "a@x.io", *out);
    case 5:
        return store_user_update(s, uid, "B", &bots, "{\"z\":1}", *out);
    case 6:
        return store_user_list(s, 0, 10, (struct store_user **)out, n);
    case 7:
        return store_token_find(s, hash, *out);
    case 8:
        return store_token_list(s, uid, (struct store_token **)out, n);
    case 9:
        return store_token_touch(s, tid, 9000);
    case 10:
        return store_token_delete(s, tid);
    default:
        return store_meeting_find(s, uid, "zoom", "123", *out);
    }
}

/* Every other call, with each of its allocations failing in turn: it
 * returns HARK_ENOMEM, leaks nothing (ASan), returns no output and changes
 * nothing, until it has enough memory and succeeds. */
static void other_calls_fail_cleanly_when_allocation_fails(void **state)
{
    (void)state;
    struct store *s = open_named("a.db");
    struct store_user u;
    assert_int_equal(store_user_create(s, "a@x.io", "A", 1, NULL, &u, NULL), 0);
    int64_t uid = u.id;
    store_user_release(&u);
    unsigned char h[STORE_TOKEN_HASH_BYTES];
    make_hash(h, 5);
    struct store_token t;
    assert_int_equal(store_token_create(s, uid, h, "bot", NULL, 0, &t), 0);
    int64_t tid = t.id;
    store_token_release(&t);
    sqlite3 *db = raw_open("a.db");
    int64_t meeting = raw_meeting(db, uid, "zoom", "123");
    sqlite3_close(db);
    int devnull = open("/dev/null", O_WRONLY);
    log_fd_set(devnull);
    for (int i = 0; i <= 11; i++) {
        int err = HARK_ENOMEM;
        long n;
        for (n = 0; n < 10000 && err; n++) {
            struct store_user ou;
            struct store_token ot;
            int64_t oid = -1;
            void *out = i == 3 || i == 4 || i == 5 ? (void *)&ou
                        : i == 11               ? (void *)&oid
                                                : (void *)&ot;
            size_t count = 99;
            hark_mem_fail_after(n);
            err = other_call(i, s, uid, tid, h, &out, &count);
            hark_mem_fail_after(-1);
            if (err) {
                if (err != HARK_ENOMEM)
                    fail_msg("call %d n=%ld err=%s", i, n, hark_errname(err));
            }
            if (i == 2 || i == 6 || i == 8) { /* pointer outputs */
                assert_true(err ? out == NULL : out != NULL);
                if (i == 2)
                    hark_free(out);
                else if (i == 6)
                    store_user_list_free(out, count);
                else
                    store_token_list_free(out, count);
                if (err && i != 2)
                    assert_int_equal(count, 0);
            } else if (i == 3 || i == 4 || i == 5) {
                if (err)
                    assert_null(ou.email);
                store_user_release(&ou);
            } else if (i == 7) {
                if (err)
                    assert_null(ot.scopes);
                store_token_release(&ot);
            } else if (i == 11) {
                assert_int_equal(oid, err ? 0 : meeting);
            }
            if (!err)
                break;
            /* Nothing changed. */
            char *v = NULL;
            if (i == 0)
                assert_int_equal(store_setting_get(s, "k", &v), HARK_ENOENT);
            if (i == 1) {
                assert_int_equal(store_setting_get(s, "k", &v), 0);
                assert_string_equal(v, "v");
            }
            hark_free(v);
            if (i == 5) {
                assert_int_equal(store_user_get(s, uid, &u), 0);
                assert_string_equal(u.name, "A");
                assert_int_equal(u.max_concurrent_bots, 1);
                store_user_release(&u);
            }
            if (i == 9 || i == 10) {
                assert_int_equal(store_token_find(s, h, &t), 0);
                assert_int_equal(t.last_used_at_ms, i == 9 ? 0 : 9000);
                store_token_release(&t);
            }
        }
        if (err)
            fail_msg("call %d never succeeded", i);
        if (i == 9) { /* touched once, for real */
            assert_int_equal(store_token_find(s, h, &t), 0);
            assert_int_equal(t.last_used_at_ms, 9000);
            store_token_release(&t);
        }
    }
    assert_int_equal(store_token_find(s, h, &t), HARK_ENOENT);
    close(devnull);
    store_free(s);
}

/* Lists long enough to grow their array, failing at each allocation in
 * turn: allocations fail while rows already read are held (and once while
 * growing past 16), and each failure frees them all (ASan) and returns no
 * list. */
static void long_lists_fail_cleanly_when_allocation_fails(void **state)
{
    (void)state;
    enum { ROWS = 20 };
    struct store *s = open_named("a.db");
    int64_t uid = 0;
    for (int i = 0; i < ROWS; i++) {
        char email[32];
        snprintf(email, sizeof email, "u%02d@x.io", i);
        struct store_user u;
        assert_int_equal(store_user_create(s, email, "N", 1, NULL, &u, NULL), 0);
        uid = uid ? uid : u.id;
        store_user_release(&u);
        unsigned char h[STORE_TOKEN_HASH_BYTES];
        make_hash(h, i);
        struct store_token t;
        assert_int_equal(store_token_create(s, uid, h, "bot", "t", 0, &t), 0);
        store_token_release(&t);
    }
    int devnull = open("/dev/null", O_WRONLY);
    log_fd_set(devnull);
    for (int tokens = 0; tokens <= 1; tokens++) {
        /* Prepares the statement on the (one) pooled reader first, or the
         * failures would all land in SQLite's parser. */
        void *warm;
        size_t n_warm;
        assert_int_equal(tokens ? store_token_list(s, uid, (struct store_token **)&warm, &n_warm)
                                : store_user_list(s, 0, 100, (struct store_user **)&warm, &n_warm),
                         0);
        if (tokens)
            store_token_list_free(warm, n_warm);
        else
            store_user_list_free(warm, n_warm);
        long n, failures = 1;
        for (n = 0; n < 10000 && failures; n++) {
            void *list = (void *)1;
            size_t count = 99;
            hark_mem_fail_after(n);
            int err = tokens ? store_token_list(s, uid, (struct store_token **)&list, &count)
                             : store_user_list(s, 0, 100, (struct store_user **)&list, &count);
            failures = hark_mem_failures();
            hark_mem_fail_after(-1);
            if (err) { /* SQLite survives some failures; ours all fail the call */
                assert_int_equal(err, HARK_ENOMEM);
                assert_null(list);
                assert_int_equal(count, 0);
                continue;
            }
            assert_int_equal(count, ROWS);
            if (tokens) {
                assert_string_equal(((struct store_token *)list)[ROWS - 1].name, "t");
                store_token_list_free(list, count);
            } else {
                assert_string_equal(((struct store_user *)list)[ROWS - 1].email, "u19@x.io");
                store_user_list_free(list, count);
            }
        }
        assert_int_equal(failures, 0);
        /* Two or three strings copied per row: failures reached the rows. */
        assert_true(n > 2 * ROWS);
    }
    close(devnull);
    store_free(s);
}

static void jobs_are_scoped_to_their_user_and_unfinished_ones_fail_on_restart(void **state)
{
    (void)state;
    struct store *s = open_named("jobs.db");
    struct store_user a, b;
    int created;
    assert_int_equal(store_user_create(s, "ja@example.com", NULL, 3, NULL, &a, &created), 0);
    assert_int_equal(store_user_create(s, "jb@example.com", NULL, 3, NULL, &b, &created), 0);
    struct store_job j, got;
    assert_int_equal(store_job_create(s, a.id, "transcription", "{\"response_format\":\"json\"}", &j), 0);
    assert_string_equal(j.status, "queued");
    assert_null(j.result);
    assert_int_equal(store_job_get(s, b.id, j.id, &got), HARK_ENOENT);
    assert_int_equal(store_job_update(s, j.id, "completed", "{\"text\":\"x\"}", NULL), 0);
    assert_int_equal(store_job_get(s, a.id, j.id, &got), 0);
    assert_string_equal(got.status, "completed");
    assert_string_equal(got.result, "{\"text\":\"x\"}");
    assert_null(got.error);
    store_job_release(&got);
    struct store_job k;
    assert_int_equal(store_job_create(s, a.id, "transcription", NULL, &k), 0);
    int64_t n = 0;
    assert_int_equal(store_job_fail_unfinished(s, "restarted", &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_job_get(s, a.id, k.id, &got), 0);
    assert_string_equal(got.status, "failed");
    assert_string_equal(got.error, "restarted");
    assert_int_equal(store_job_update(s, 999999, "failed", NULL, "x"), HARK_ENOENT);
    store_job_release(&got);
    store_job_release(&j);
    store_job_release(&k);
    store_user_release(&a);
    store_user_release(&b);
    store_free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(jobs_are_scoped_to_their_user_and_unfinished_ones_fail_on_restart),
    cmocka_unit_test(open_creates_every_table_at_latest_version),
    cmocka_unit_test(open_uses_wal_journal),
    cmocka_unit_test(reopen_applies_no_migration_again),
    cmocka_unit_test(open_accepts_sqlite_url),
    cmocka_unit_test(open_refuses_schema_newer_than_binary),
    cmocka_unit_test(open_rejects_bad_config),
    cmocka_unit_test(open_in_missing_directory_fails_with_estore),
    cmocka_unit_test(open_file_that_is_not_a_database_fails_with_estore),
    cmocka_unit_test(functions_reject_null_arguments),
    cmocka_unit_test(setting_init_sets_once_and_set_overwrites),
    cmocka_unit_test(user_create_fills_row_and_defaults_data),
    cmocka_unit_test(user_create_same_email_any_case_returns_existing),
    cmocka_unit_test(user_create_rejects_invalid_json),
    cmocka_unit_test(user_get_finds_by_id_and_reports_missing),
    cmocka_unit_test(user_update_changes_only_given_fields),
    cmocka_unit_test(user_update_of_missing_user_or_bad_json_changes_nothing),
    cmocka_unit_test(user_list_pages_in_id_order),
    cmocka_unit_test(user_list_grows_past_initial_capacity),
    cmocka_unit_test(token_create_for_missing_user_is_enoent),
    cmocka_unit_test(token_create_then_find_by_hash),
    cmocka_unit_test(token_hash_is_unique_across_users),
    cmocka_unit_test(token_touch_records_use_and_never_goes_back),
    cmocka_unit_test(token_list_returns_only_that_users_tokens),
    cmocka_unit_test(token_delete_removes_once),
    cmocka_unit_test(deleting_a_user_row_cascades_to_its_tokens),
    cmocka_unit_test(meeting_find_returns_the_callers_newest_meeting),
    cmocka_unit_test(reads_proceed_while_another_connection_holds_the_write_lock),
    cmocka_unit_test(write_locked_past_busy_timeout_is_ebusy),
    cmocka_unit_test(concurrent_writers_sharing_a_store_all_succeed),
    cmocka_unit_test(concurrent_writers_on_separate_stores_all_succeed),
    cmocka_unit_test(readers_outnumbering_the_pool_wait_their_turn),
    cmocka_unit_test(backup_copies_every_row_into_a_new_file),
    cmocka_unit_test(backup_refuses_existing_destination),
    cmocka_unit_test(backup_into_missing_directory_leaves_nothing),
    cmocka_unit_test(backup_allocation_failures_leave_nothing_behind),
    cmocka_unit_test(backup_while_writing_is_a_consistent_snapshot),
    cmocka_unit_test(other_calls_fail_cleanly_when_allocation_fails),
    cmocka_unit_test(long_lists_fail_cleanly_when_allocation_fails),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_0),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_1600),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_3200),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_4200),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_4900),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_5600),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_6300),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_7000),
    cmocka_unit_test(allocation_failures_fail_cleanly_from_n_7800_until_all_succeed),
};

HARNESS_MAIN(tests)
