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

/* --- meetings, bots and segments (src/store/sqlite_meetings.c) -----------
 * Every call that takes a user_id sees only that user's rows: another
 * user's meeting is HARK_ENOENT, exactly as one that does not exist.
 * Meeting statuses and reasons are Vexa's (reference/vexa-api.md §2):
 *   requested → joining → awaiting_admission → active → stopping →
 *   completed | failed, plus needs_human_help;
 * store_meeting_transition_ok() is the table. A meeting is "unfinished"
 * (it holds one of the user's max_concurrent_bots slots) until it is
 * completed or failed. */
#define STORE_STATUS_MAX 24          /* longest status + NUL */

struct store_meeting {
    int64_t id;
    int64_t user_id;
    char *platform;                  /* owned */
    char *native_meeting_id;         /* owned; "" once purged */
    char *constructed_meeting_url;   /* owned; may be NULL */
    char *status;                    /* owned */
    char *bot_container_id;          /* owned; may be NULL */
    int64_t start_time_ms;           /* 0 = not yet active */
    int64_t end_time_ms;             /* 0 = not finished */
    char *completion_reason;         /* owned; may be NULL */
    char *failure_stage;             /* owned; may be NULL */
    char *data_json;                 /* owned; a JSON object text */
    int64_t created_at_ms, updated_at_ms;
};
void store_meeting_release(struct store_meeting *m); /* frees fields, not m */
void store_meeting_list_free(struct store_meeting *m, size_t n);

/* 1 when a meeting may move from status `from` to `to` (both borrowed),
 * 0 otherwise (also for unknown names). */
int store_meeting_transition_ok(const char *from, const char *to);
/* 1 for completed and failed. */
int store_meeting_status_final(const char *status);
/* 1 when s is one of Vexa's MeetingCompletionReason values. */
int store_completion_reason_ok(const char *s);

/* A new meeting in status "requested" with one bot row (state "requested",
 * driver `bot_driver`), written together or not at all. All strings are
 * borrowed; platform, native_meeting_id and bot_driver non-empty,
 * constructed_meeting_url may be NULL, data_json NULL means "{}".
 * HARK_EEXIST when the user already has an unfinished meeting with this
 * platform and native id; HARK_EAGAIN when the user's unfinished meetings
 * already number users.max_concurrent_bots (*limit_out, may be NULL, gets
 * that limit then); HARK_ENOENT for an unknown user; HARK_EINVAL when
 * data_json is not a JSON object. The checks and the insert are one
 * transaction, so racing requests cannot pass the limit. */
struct store_meeting_new {
    const char *platform;
    const char *native_meeting_id;
    const char *constructed_meeting_url;
    const char *data_json;
    const char *bot_driver;
};
HARK_MUST_CHECK int store_meeting_create(struct store *s, int64_t user_id,
                                         const struct store_meeting_new *m,
                                         struct store_meeting *out, int *limit_out);
/* The user's meeting with this id. HARK_ENOENT. */
HARK_MUST_CHECK int store_meeting_get(struct store *s, int64_t user_id, int64_t id,
                                      struct store_meeting *out);
/* The user's newest meeting with this platform and native id. HARK_ENOENT. */
HARK_MUST_CHECK int store_meeting_get_native(struct store *s, int64_t user_id,
                                             const char *platform, const char *native_id,
                                             struct store_meeting *out);
/* How many of the user's meetings are unfinished. */
HARK_MUST_CHECK int store_meeting_active_count(struct store *s, int64_t user_id,
                                               int64_t *out);

/* Which of the user's meetings store_meeting_list() returns, newest first.
 * NULL strings (borrowed) do not filter. */
struct store_meeting_filter {
    const char *status;
    const char *platform;
    int unfinished_only;
    size_t offset, limit;            /* limit 0 = none */
};
/* *out: array the caller frees with store_meeting_list_free(); NULL when
 * *n_out is 0. */
HARK_MUST_CHECK int store_meeting_list(struct store *s, int64_t user_id,
                                       const struct store_meeting_filter *f,
                                       struct store_meeting **out, size_t *n_out);

/* A status report, from the API (stop) or the bot manager. Strings are
 * borrowed. `from` non-NULL: the move happens only if the meeting is in
 * that status now (compare-and-set). completion_reason (Vexa's enum) and
 * reason_detail (Hark's finer reason, kept in data.reason_detail, e.g.
 * "source_ended", "bot_lost"; [a-z0-9_]{1,64}) only with completed or
 * failed; failure_stage (requested|joining|awaiting_admission|active) only
 * with failed. bot_container_id, when non-NULL, is recorded too. */
struct store_status_change {
    const char *from;
    const char *to;
    const char *completion_reason;
    const char *failure_stage;
    const char *reason_detail;
    const char *bot_container_id;
};
/* Moves meeting `id` (any user's: the caller is the bot manager or a
 * handler that already checked ownership) and its bots to c->to, stamping
 * start_time on the first move to active and end_time on completed or
 * failed. Reporting the status a meeting already has succeeds (bots repeat
 * themselves): it only records reasons given and updated_at. HARK_EPERM when the meeting is not in
 * c->from or the table forbids the move (nothing changes); HARK_EINVAL for
 * unknown names or a reason given where the comment above forbids it;
 * HARK_ENOENT for no such meeting. On success *out (may be NULL) holds the
 * row and prev (may be NULL) the status it had before. */
HARK_MUST_CHECK int store_meeting_set_status(struct store *s, int64_t id,
                                             const struct store_status_change *c,
                                             struct store_meeting *out,
                                             char prev[STORE_STATUS_MAX]);
/* Merges patch_json (valid JSON text of an object, borrowed) into the
 * user's meeting's data as an RFC 7396 merge patch: null removes a key.
 * HARK_ENOENT; HARK_EINVAL when patch_json is not an object. */
HARK_MUST_CHECK int store_meeting_patch_data(struct store *s, int64_t user_id, int64_t id,
                                             const char *patch_json,
                                             struct store_meeting *out);
/* Deletes a finished meeting's segments and anonymises its row (native id
 * "", no URL, data reduced to {"redacted": true} plus reason_detail) in one
 * transaction; the row stays for accounting. HARK_EPERM while the meeting
 * is unfinished; HARK_ENOENT. *out holds the stub. */
HARK_MUST_CHECK int store_meeting_purge(struct store *s, int64_t user_id, int64_t id,
                                        struct store_meeting *out);

struct store_segment {
    char *id;                        /* owned; stable "{meeting}:{speaker}:{start_ms}" */
    int64_t meeting_id;
    char *speaker;                   /* owned; "" when unattributed */
    int64_t start_ms, end_ms;        /* from the meeting's start_time */
    char *text;                      /* owned */
    char *language;                  /* owned; may be NULL */
    int completed;
    char *words_json;                /* owned; JSON array */
    int64_t created_at_ms, updated_at_ms;
};
void store_segment_list_free(struct store_segment *segs, size_t n);

/* One segment to write; strings borrowed. id, text non-NULL, id non-empty,
 * speaker NULL = "", language may be NULL, words_json NULL = "[]",
 * 0 <= start_ms <= end_ms. */
struct store_segment_in {
    const char *id;
    const char *speaker;
    int64_t start_ms, end_ms;
    const char *text;
    const char *language;
    int completed;
    const char *words_json;
};
/* Writes n segments of meeting `meeting_id` in one transaction, keyed by
 * id: re-sending an id updates that row, never adds one. A completed
 * segment is final: a later partial (completed = 0) for the same id is
 * ignored. HARK_ENOENT for an unknown meeting; HARK_EEXIST when an id
 * already belongs to another meeting; HARK_EINVAL for a bad field. On any
 * failure nothing is written. */
HARK_MUST_CHECK int store_segments_upsert(struct store *s, int64_t meeting_id,
                                          const struct store_segment_in *segs, size_t n);
/* The meeting's segments ordered by start_ms (then id), only those
 * updated at or after since_ms (0 = all): a reader polling with the
 * largest updated_at_ms it saw gets every change, some twice. The caller
 * checked the meeting is the user's. *out: free with
 * store_segment_list_free(); NULL when *n_out is 0. */
HARK_MUST_CHECK int store_segments_list(struct store *s, int64_t meeting_id, int64_t since_ms,
                                        struct store_segment **out, size_t *n_out);

/* Deletes the meeting's segments that start at or after start_ms (>= 0):
 * what a resumed transcription will produce again. *n_deleted may be NULL. */
HARK_MUST_CHECK int store_segments_delete_from(struct store *s, int64_t meeting_id,
                                               int64_t start_ms, int64_t *n_deleted);
/* Every user's unfinished meetings, oldest first: what the bot manager
 * reconciles on start. *out: free with store_meeting_list_free(); NULL when
 * *n_out is 0. */
HARK_MUST_CHECK int store_meeting_unfinished_all(struct store *s, struct store_meeting **out,
                                                 size_t *n_out);

/* --- webhooks and their delivery queue (src/store/store_webhooks.c) ------- */
struct store_webhook {
    int64_t id;
    int64_t user_id;
    char *url;               /* owned */
    char *secret;            /* owned; NULL when none */
    char *events_json;       /* owned; JSON as set ("[]" when none) */
    int64_t created_at_ms;
};
void store_webhook_release(struct store_webhook *w); /* frees fields, not w */
void store_webhook_list_free(struct store_webhook *hooks, size_t n);

/* Sets the user's webhook: one per user, as Vexa keeps it; a second call
 * replaces url, secret and events in place (same id, so deliveries still
 * queued go to the new URL). url non-empty (the caller checks it with
 * webhook_url_check()), secret may be NULL, events_json NULL = "[]", else
 * valid JSON (HARK_EINVAL). HARK_ENOENT if the user does not exist. Strings
 * borrowed; *out gets the row. */
HARK_MUST_CHECK int store_webhook_set(struct store *s, int64_t user_id, const char *url,
                                      const char *secret, const char *events_json,
                                      struct store_webhook *out);
/* The user's webhook (the newest if several); HARK_ENOENT when none. */
HARK_MUST_CHECK int store_webhook_get(struct store *s, int64_t user_id, struct store_webhook *out);
/* Every webhook of the user, by id; *out freed with store_webhook_list_free(),
 * NULL when *n_out is 0. */
HARK_MUST_CHECK int store_webhook_list(struct store *s, int64_t user_id,
                                       struct store_webhook **out, size_t *n_out);

/* One event bound for one webhook. status: pending | delivered | dead.
 * While an attempt is in flight the row stays pending and next_attempt_at_ms
 * is its lease expiry, so a sender that dies mid-attempt leaves it due again
 * once the lease runs out. */
struct store_delivery {
    int64_t id;
    int64_t webhook_id;
    int64_t user_id;         /* of the webhook; 0 when it is gone */
    char *event_id;          /* owned */
    char *event_type;        /* owned */
    char *body;              /* owned; the exact bytes every attempt sends */
    int attempts;            /* attempts started, the claimed one included */
    int64_t next_attempt_at_ms; /* 0 once delivered or dead */
    char *status;            /* owned */
    char *last_error;        /* owned; NULL when none */
    int last_status;         /* HTTP status of the latest attempt; 0 = none */
    char *url;               /* owned; the webhook's URL now, NULL when it is gone */
    char *secret;            /* owned; the webhook's secret now, NULL when none */
    int64_t created_at_ms, updated_at_ms;
};
void store_delivery_release(struct store_delivery *d); /* frees fields, not d */
void store_delivery_list_free(struct store_delivery *ds, size_t n);

/* Queues event_id for webhook_id, first due at next_attempt_at_ms (>= 0).
 * Idempotent: when this webhook already has this event_id nothing is
 * written and *created (may be NULL) is 0; the stored body wins. Strings
 * borrowed, all non-empty. */
HARK_MUST_CHECK int store_delivery_enqueue(struct store *s, int64_t webhook_id,
                                           const char *event_id, const char *event_type,
                                           const char *body, int64_t next_attempt_at_ms,
                                           int *created);
/* Claims the pending delivery due soonest (next_attempt_at_ms <= now_ms) for
 * one attempt: counts the attempt and leases the row until now_ms + lease_ms
 * (> 0), so no other sender, thread or process claims it meanwhile.
 * HARK_ENOENT when nothing is due. *out (release it) carries the attempt
 * number that the calls below take as their fencing token. */
HARK_MUST_CHECK int store_delivery_claim(struct store *s, int64_t now_ms, int64_t lease_ms,
                                         struct store_delivery *out);
/* Records the outcome of attempt number `attempt` of delivery id. http_status
 * 0 = none. HARK_ENOENT when that attempt no longer holds the row (its lease
 * ran out and another sender claimed it, or it was settled already). */
HARK_MUST_CHECK int store_delivery_succeed(struct store *s, int64_t id, int attempt,
                                           int http_status, int64_t now_ms);
/* A failed attempt: due again at next_attempt_at_ms, or dead-lettered when
 * it is 0. error (borrowed, may be NULL) is kept for inspection. */
HARK_MUST_CHECK int store_delivery_fail(struct store *s, int64_t id, int attempt,
                                        int http_status, const char *error,
                                        int64_t next_attempt_at_ms, int64_t now_ms);
/* Gives back an attempt that was claimed but not sent (the sender is
 * stopping): uncounts it and makes the row due at now_ms. HARK_ENOENT as
 * above. */
HARK_MUST_CHECK int store_delivery_unclaim(struct store *s, int64_t id, int attempt,
                                           int64_t now_ms);
/* Deliveries with this status ("dead" lists the dead letters; NULL = all),
 * newest first, at most limit after offset rows. *out freed with
 * store_delivery_list_free(), NULL when *n_out is 0. */
HARK_MUST_CHECK int store_delivery_list(struct store *s, const char *status, size_t offset,
                                        size_t limit, struct store_delivery **out,
                                        size_t *n_out);

#endif
