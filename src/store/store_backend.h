/* store_backend.h — what a store backend implements; private to src/store/.
 *
 * store.c checks arguments, zeroes outputs, reads the clock and parses the
 * URL, then calls the backend through its ops table with arguments already
 * known to be valid (non-NULL where the public header requires it, limits
 * clamped to int64). A backend's own struct starts with a struct store, so
 * the same pointer serves both. Each backend keeps its SQL to itself:
 * sqlite_ops.c holds its queries, sqlite_schema.c its migrations; a PostgreSQL
 * backend would add postgres.c and postgres_schema.c beside them. */
#ifndef HARK_STORE_BACKEND_H
#define HARK_STORE_BACKEND_H
#include <stddef.h>
#include <stdint.h>
#include "hark/store.h"

struct store_ops;

struct store {
    const struct store_ops *ops;
};

/* Same contracts as the public functions of the same names, except where a
 * comment says otherwise. Timestamps the store sets come from
 * store_now_ms(). */
struct store_ops {
    const char *name;
    /* target: the URL with its scheme removed (borrowed). */
    int (*open)(const struct store_config *c, const char *target, struct store **out);
    void (*free)(struct store *s); /* never NULL */
    int (*ping)(struct store *s);
    int (*schema_version)(struct store *s, int *out);
    int (*backup)(struct store *s, const char *dest_path);
    int (*setting_get)(struct store *s, const char *key, char **out);
    int (*setting_init)(struct store *s, const char *key, const char *value);
    int (*setting_set)(struct store *s, const char *key, const char *value);
    /* data_json non-NULL; *created always written. */
    int (*user_create)(struct store *s, const char *email, const char *name,
                       int max_concurrent_bots, const char *data_json,
                       struct store_user *out, int *created);
    int (*user_get)(struct store *s, int64_t id, struct store_user *out);
    int (*user_get_by_email)(struct store *s, const char *email, struct store_user *out);
    int (*user_update)(struct store *s, int64_t id, const char *name,
                       const int *max_concurrent_bots, const char *data_json,
                       struct store_user *out);
    int (*user_list)(struct store *s, int64_t offset, int64_t limit,
                     struct store_user **out, size_t *n_out);
    int (*token_create)(struct store *s, int64_t user_id,
                        const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                        const char *scopes, const char *name, int64_t expires_at_ms,
                        struct store_token *out);
    int (*token_find)(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                      struct store_token *out);
    int (*token_touch)(struct store *s, int64_t id, int64_t now_ms);
    int (*token_list)(struct store *s, int64_t user_id, struct store_token **out,
                      size_t *n_out);
    int (*token_delete)(struct store *s, int64_t id);
    int (*job_create)(struct store *s, int64_t user_id, const char *kind,
                      const char *params_json, struct store_job *out);
    int (*job_get)(struct store *s, int64_t user_id, int64_t id, struct store_job *out);
    int (*job_update)(struct store *s, int64_t id, const char *status, const char *result,
                      const char *error);
    int (*job_fail_unfinished)(struct store *s, const char *error, int64_t *n_out);
    int (*meeting_find)(struct store *s, int64_t user_id, const char *platform,
                        const char *native_id, int64_t *id_out);
    /* meetings, bots, segments (store_meetings.c checks, sqlite_meetings.c
     * runs). Outputs are zeroed and non-NULL; meeting_set_status gets a
     * change store.c validated and a prev buffer. */
    int (*meeting_create)(struct store *s, int64_t user_id, const struct store_meeting_new *m,
                          struct store_meeting *out, int *limit_out);
    int (*meeting_get)(struct store *s, int64_t user_id, int64_t id, struct store_meeting *out);
    int (*meeting_get_native)(struct store *s, int64_t user_id, const char *platform,
                              const char *native_id, struct store_meeting *out);
    int (*meeting_active_count)(struct store *s, int64_t user_id, int64_t *out);
    int (*meeting_list)(struct store *s, int64_t user_id, const struct store_meeting_filter *f,
                        struct store_meeting **out, size_t *n_out);
    int (*meeting_set_status)(struct store *s, int64_t id, const struct store_status_change *c,
                              struct store_meeting *out, char prev[STORE_STATUS_MAX]);
    int (*meeting_patch_data)(struct store *s, int64_t user_id, int64_t id,
                              const char *patch_json, struct store_meeting *out);
    int (*meeting_purge)(struct store *s, int64_t user_id, int64_t id, struct store_meeting *out);
    int (*segments_upsert)(struct store *s, int64_t meeting_id,
                           const struct store_segment_in *segs, size_t n);
    int (*segments_list)(struct store *s, int64_t meeting_id, int64_t since_ms,
                         struct store_segment **out, size_t *n_out);
    int (*segments_delete_from)(struct store *s, int64_t meeting_id, int64_t start_ms,
                                int64_t *n_out);
    int (*meeting_unfinished_all)(struct store *s, struct store_meeting **out, size_t *n_out);
    /* events_json non-NULL. */
    int (*webhook_set)(struct store *s, int64_t user_id, const char *url, const char *secret,
                       const char *events_json, struct store_webhook *out);
    int (*webhook_get)(struct store *s, int64_t user_id, struct store_webhook *out);
    int (*webhook_list)(struct store *s, int64_t user_id, struct store_webhook **out,
                        size_t *n_out);
    /* *created always written. */
    int (*delivery_enqueue)(struct store *s, int64_t webhook_id, const char *event_id,
                            const char *event_type, const char *body,
                            int64_t next_attempt_at_ms, int *created);
    int (*delivery_claim)(struct store *s, int64_t now_ms, int64_t lease_ms,
                          struct store_delivery *out);
    int (*delivery_succeed)(struct store *s, int64_t id, int attempt, int http_status,
                            int64_t now_ms);
    int (*delivery_fail)(struct store *s, int64_t id, int attempt, int http_status,
                         const char *error, int64_t next_attempt_at_ms, int64_t now_ms);
    int (*delivery_unclaim)(struct store *s, int64_t id, int attempt, int64_t now_ms);
    /* status NULL = every status. */
    int (*delivery_list)(struct store *s, const char *status, int64_t offset, int64_t limit,
                         struct store_delivery **out, size_t *n_out);
};

extern const struct store_ops store_sqlite_ops;

/* Wall-clock time in Unix milliseconds: the one clock every row's
 * created_at and applied_at come from. */
int64_t store_now_ms(void);

/* The SQLite migrations (sqlite_schema.c): entry i takes the schema from
 * version i to i + 1. Released entries are never edited; append new ones. */
extern const char *const store_sqlite_migrations[];
extern const size_t store_sqlite_migration_count;

#endif
