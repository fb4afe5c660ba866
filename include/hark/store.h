/* store.h — Hark's durable state: users, API tokens, meetings, bots,
 * segments, webhooks, jobs.
 *
 * One interface, several backends: SQLite now (embedded default, WAL), and
 * PostgreSQL later behind the same calls. Backends sit behind a table of
 * function pointers (src/store/store.c dispatches); SQL text lives with each
 * backend, never in callers. The schema is versioned: migrations are applied
 * in order at store_open() and never edited once released — a change is a
 * new migration.
 *
 * Thread safety: a struct store may be used from any number of threads at
 * once; the backend serialises or pools connections as it needs (SQLite: one
 * writer connection behind a mutex, a small pool of reader connections that
 * WAL lets read while the writer writes).
 * Times are Unix milliseconds (UTC). Strings in result structs are owned by
 * the struct and freed by the matching *_release(). A function that fills a
 * result struct zeroes it first, so releasing it after a failure is safe.
 *
 * Errors, common to every call: HARK_EINVAL for a NULL store, NULL output or
 * an argument outside what the comment allows; HARK_ENOMEM when memory ran
 * out (ours or the database library's); HARK_EBUSY when the database stayed
 * locked by another process past busy_timeout_ms; HARK_ESTORE for anything
 * else the database reports, with an error log line (module=store) that
 * names the cause. Nothing is left half-written by a failed call. */
#ifndef HARK_STORE_H
#define HARK_STORE_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"

struct store;

struct store_config {
    const char *url;        /* borrowed; "sqlite:PATH" or a plain path */
    int busy_timeout_ms;    /* SQLite: how long a writer waits on a lock; 5000 */
    int read_connections;   /* SQLite: reader pool size (opened on demand); 4 */
};
struct store_config store_config_default(void);

/* Opens (creating if needed) and migrates to the newest schema; opening an
 * up-to-date store applies nothing. On success *out is owned by the caller
 * and freed with store_free(). HARK_ECONFIG for a URL naming a backend this
 * binary lacks (or ":memory:", which a connection pool cannot share).
 * HARK_ESTORE with a log line naming the cause when the file cannot be
 * opened or migrated, or when its schema is newer than this binary knows. */
HARK_MUST_CHECK int store_open(const struct store_config *c, struct store **out);
/* Closes every connection; no call on s may still be running. */
void store_free(struct store *s); /* NULL is fine */

/* Cheap liveness query for /readyz: reads the schema table. */
HARK_MUST_CHECK int store_ping(struct store *s);
/* Schema version applied (the count of migrations). */
HARK_MUST_CHECK int store_schema_version(struct store *s, int *out);
/* Online, consistent copy of the whole store to dest_path (SQLite backup
 * API) as of one instant; the source stays writable meanwhile. The copy is
 * written under a temporary name in the same directory and renamed into
 * place, so a failed backup leaves no file at dest_path. HARK_EEXIST if
 * dest_path exists (also when it appears while the copy runs); HARK_EIO
 * when the directory cannot be written. */
HARK_MUST_CHECK int store_backup(struct store *s, const char *dest_path);

/* --- settings: small server-wide values (secrets, keys) ----------------- */
/* key and value are borrowed, non-empty key, non-NULL value. */
/* *out is a copy (caller frees with hark_free()); HARK_ENOENT when unset. */
HARK_MUST_CHECK int store_setting_get(struct store *s, const char *key, char **out);
/* Sets key only when it has no value yet: HARK_EEXIST otherwise. Lets two
 * processes racing at first start agree on one value. */
HARK_MUST_CHECK int store_setting_init(struct store *s, const char *key, const char *value);
HARK_MUST_CHECK int store_setting_set(struct store *s, const char *key, const char *value);

/* --- users ---------------------------------------------------------------- */
struct store_user {
    int64_t id;
    char *email;             /* owned */
    char *name;              /* owned; may be NULL */
    int max_concurrent_bots;
    char *data_json;         /* owned; a JSON object text, "{}" when empty */
    int64_t created_at_ms;
};
void store_user_release(struct store_user *u); /* frees fields, not u */

/* Creates a user, or returns the existing one (unchanged) with that email;
 * *created says which (created may be NULL). Emails are unique and compared
 * case-insensitively for ASCII letters; the stored spelling is the first
 * one seen. email must be non-empty, max_concurrent_bots >= 0; name and
 * data_json may be NULL (data_json NULL = "{}"). HARK_EINVAL when data_json
 * is not valid JSON. All strings are borrowed; *out is filled as below. */
HARK_MUST_CHECK int store_user_create(struct store *s, const char *email, const char *name,
                                      int max_concurrent_bots, const char *data_json,
                                      struct store_user *out, int *created);
/* HARK_ENOENT if no such user; *out is released with store_user_release(). */
HARK_MUST_CHECK int store_user_get(struct store *s, int64_t id, struct store_user *out);
HARK_MUST_CHECK int store_user_get_by_email(struct store *s, const char *email,
                                            struct store_user *out);
/* Fields passed as NULL are left unchanged (so a name cannot be cleared to
 * NULL, only replaced). data_json replaces the whole object; HARK_EINVAL if
 * it is not valid JSON or *max_concurrent_bots < 0. HARK_ENOENT if no such
 * user. On success *out holds the new row. */
HARK_MUST_CHECK int store_user_update(struct store *s, int64_t id, const char *name,
                                      const int *max_concurrent_bots, const char *data_json,
                                      struct store_user *out);
/* Users ordered by id, at most `limit` starting after `offset` rows.
 * *out is an array the caller frees with store_user_list_free(); NULL when
 * *n_out is 0. */
HARK_MUST_CHECK int store_user_list(struct store *s, size_t offset, size_t limit,
                                    struct store_user **out, size_t *n_out);
void store_user_list_free(struct store_user *users, size_t n);

/* --- API tokens: only a keyed hash of the secret is ever stored ----------- */
#define STORE_TOKEN_HASH_BYTES 32
struct store_token {
    int64_t id;
    int64_t user_id;
    unsigned char hash[STORE_TOKEN_HASH_BYTES];
    char *scopes;            /* owned; comma-separated, e.g. "bot,tx" */
    char *name;              /* owned; may be NULL */
    int64_t created_at_ms;
    int64_t last_used_at_ms; /* 0 = never */
    int64_t expires_at_ms;   /* 0 = never */
};
void store_token_release(struct store_token *t); /* frees fields, not t */

/* Stores a token for user_id. hash and strings are borrowed; scopes must be
 * non-NULL, name may be NULL, expires_at_ms >= 0 (0 = never). HARK_ENOENT if
 * the user does not exist, HARK_EEXIST if a token with this hash exists.
 * *out receives the new row; release it with store_token_release(). */
HARK_MUST_CHECK int store_token_create(struct store *s, int64_t user_id,
                                       const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                                       const char *scopes, const char *name,
                                       int64_t expires_at_ms, struct store_token *out);
/* Finds the token whose hash equals `hash`; HARK_ENOENT if none. Expired
 * tokens are returned too: the caller compares expires_at_ms. The lookup is
 * an index search on a keyed hash, so its timing tells an attacker nothing
 * about any stored token. */
HARK_MUST_CHECK int store_token_find(struct store *s,
                                     const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                                     struct store_token *out);
/* Records a use at now_ms; last_used_at_ms never moves backwards, so racing
 * requests may touch in any order. HARK_ENOENT if no such token. */
HARK_MUST_CHECK int store_token_touch(struct store *s, int64_t id, int64_t now_ms);
/* The user's tokens ordered by id (empty for an unknown user). *out is an
 * array the caller frees with store_token_list_free(); NULL when *n_out is 0. */
HARK_MUST_CHECK int store_token_list(struct store *s, int64_t user_id,
                                     struct store_token **out, size_t *n_out);
void store_token_list_free(struct store_token *tokens, size_t n);
/* HARK_ENOENT if no such token. */
HARK_MUST_CHECK int store_token_delete(struct store *s, int64_t id);

/* --- jobs: asynchronous batch work (POST /jobs) ---------------------------- */
struct store_job {
    int64_t id;
    int64_t user_id;
    char *kind;              /* owned; e.g. "transcription" */
    char *status;            /* owned; queued | running | completed | failed */
    char *params_json;       /* owned; JSON object */
    char *result;            /* owned; NULL until completed */
    char *error;             /* owned; NULL unless failed */
    int64_t created_at_ms, updated_at_ms;
};
void store_job_release(struct store_job *j);

/* A new job in status "queued". */
HARK_MUST_CHECK int store_job_create(struct store *s, int64_t user_id, const char *kind,
                                     const char *params_json, struct store_job *out);
/* The job with this id if it belongs to user_id; HARK_ENOENT otherwise (so
 * one user cannot learn another's job ids). */
HARK_MUST_CHECK int store_job_get(struct store *s, int64_t user_id, int64_t id,
                                  struct store_job *out);
/* Sets status, and result / error (either may be NULL). HARK_ENOENT. */
HARK_MUST_CHECK int store_job_update(struct store *s, int64_t id, const char *status,
                                     const char *result, const char *error);
/* Marks every queued or running job failed with `error`: their audio lived
 * in a process that is gone. *n_out (may be NULL) gets how many. */
HARK_MUST_CHECK int store_job_fail_unfinished(struct store *s, const char *error, int64_t *n_out);

/* --- meetings ------------------------------------------------------------ */
/* The id of the caller's newest meeting with this platform and native id:
 * the ownership check behind every per-meeting route and subscription.
 * HARK_ENOENT when the user has none (another user's meeting is "none"). */
HARK_MUST_CHECK int store_meeting_find(struct store *s, int64_t user_id, const char *platform,
                                       const char *native_id, int64_t *id_out);

#endif
