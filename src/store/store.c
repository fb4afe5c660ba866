/* store.c — the public store API: argument checks, then the backend.
 *
 * Everything a backend would otherwise repeat lives here: NULL and range
 * checks, zeroing of outputs (so *_release() after a failure is safe), the
 * clock, the URL scheme and freeing of result structs. */
#include "hark/store.h"

#include <string.h>
#include <time.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "store_backend.h"

struct store_config store_config_default(void)
{
    return (struct store_config){
        .url = NULL,
        .busy_timeout_ms = 5000,
        .read_connections = 4,
    };
}

int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t clamp_size(size_t n)
{
    return n > (size_t)INT64_MAX ? INT64_MAX : (int64_t)n;
}

static int nonempty(const char *s) { return s && s[0]; }

/* Picks the backend from the URL's scheme and hands it the rest. */
static int backend_for(const char *url, const struct store_ops **ops, const char **target)
{
    static const char sqlite_scheme[] = "sqlite:";
    char q[256];
    if (strncmp(url, sqlite_scheme, sizeof sqlite_scheme - 1) == 0) {
        *ops = &store_sqlite_ops;
        *target = url + sizeof sqlite_scheme - 1;
    } else if (strstr(url, "://")) {
        log_error("store", "msg=\"no backend for this store URL scheme\" url=%s",
                  log_quote(q, sizeof q, url));
        return HARK_ECONFIG;
    } else {
        *ops = &store_sqlite_ops;
        *target = url;
    }
    if (!(*target)[0]) {
        log_error("store", "msg=\"store URL names no database\" url=%s",
                  log_quote(q, sizeof q, url));
        return HARK_ECONFIG;
    }
    return 0;
}

int store_open(const struct store_config *c, struct store **out)
{
    if (!out)
        return HARK_EINVAL;
    *out = NULL;
    if (!c || !c->url || c->busy_timeout_ms < 0 || c->read_connections < 1)
        return HARK_EINVAL;
    const struct store_ops *ops;
    const char *target;
    int rc = backend_for(c->url, &ops, &target);
    if (rc)
        return rc;
    return ops->open(c, target, out);
}

void store_free(struct store *s)
{
    if (s)
        s->ops->free(s);
}

int store_ping(struct store *s)
{
    return s ? s->ops->ping(s) : HARK_EINVAL;
}

int store_schema_version(struct store *s, int *out)
{
    if (!s || !out)
        return HARK_EINVAL;
    *out = 0;
    return s->ops->schema_version(s, out);
}

int store_backup(struct store *s, const char *dest_path)
{
    if (!s || !nonempty(dest_path))
        return HARK_EINVAL;
    return s->ops->backup(s, dest_path);
}

/* --- settings ------------------------------------------------------------ */

int store_setting_get(struct store *s, const char *key, char **out)
{
    if (!out)
        return HARK_EINVAL;
    *out = NULL;
    if (!s || !nonempty(key))
        return HARK_EINVAL;
    return s->ops->setting_get(s, key, out);
}

int store_setting_init(struct store *s, const char *key, const char *value)
{
    if (!s || !nonempty(key) || !value)
        return HARK_EINVAL;
    return s->ops->setting_init(s, key, value);
}

int store_setting_set(struct store *s, const char *key, const char *value)
{
    if (!s || !nonempty(key) || !value)
        return HARK_EINVAL;
    return s->ops->setting_set(s, key, value);
}

/* --- users --------------------------------------------------------------- */

void store_user_release(struct store_user *u)
{
    if (!u)
        return;
    hark_free(u->email);
    hark_free(u->name);
    hark_free(u->data_json);
    memset(u, 0, sizeof *u);
}

void store_user_list_free(struct store_user *users, size_t n)
{
    if (!users)
        return;
    for (size_t i = 0; i < n; i++)
        store_user_release(&users[i]);
    hark_free(users);
}

int store_user_create(struct store *s, const char *email, const char *name,
                      int max_concurrent_bots, const char *data_json,
                      struct store_user *out, int *created)
{
    int ignored;
    if (!created)
        created = &ignored;
    *created = 0;
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !nonempty(email) || max_concurrent_bots < 0)
        return HARK_EINVAL;
    return s->ops->user_create(s, email, name, max_concurrent_bots,
                               data_json ? data_json : "{}", out, created);
}

int store_user_get(struct store *s, int64_t id, struct store_user *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s)
        return HARK_EINVAL;
    return s->ops->user_get(s, id, out);
}

int store_user_get_by_email(struct store *s, const char *email, struct store_user *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !nonempty(email))
        return HARK_EINVAL;
    return s->ops->user_get_by_email(s, email, out);
}

int store_user_update(struct store *s, int64_t id, const char *name,
                      const int *max_concurrent_bots, const char *data_json,
                      struct store_user *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || (max_concurrent_bots && *max_concurrent_bots < 0))
        return HARK_EINVAL;
    return s->ops->user_update(s, id, name, max_concurrent_bots, data_json, out);
}

int store_user_list(struct store *s, size_t offset, size_t limit,
                    struct store_user **out, size_t *n_out)
{
    if (!out || !n_out)
        return HARK_EINVAL;
    *out = NULL;
    *n_out = 0;
    if (!s)
        return HARK_EINVAL;
    if (limit == 0)
        return 0;
    return s->ops->user_list(s, clamp_size(offset), clamp_size(limit), out, n_out);
}

/* --- API tokens ---------------------------------------------------------- */

void store_token_release(struct store_token *t)
{
    if (!t)
        return;
    hark_free(t->scopes);
    hark_free(t->name);
    memset(t, 0, sizeof *t);
}

void store_token_list_free(struct store_token *tokens, size_t n)
{
    if (!tokens)
        return;
    for (size_t i = 0; i < n; i++)
        store_token_release(&tokens[i]);
    hark_free(tokens);
}

int store_token_create(struct store *s, int64_t user_id,
                       const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                       const char *scopes, const char *name, int64_t expires_at_ms,
                       struct store_token *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !hash || !scopes || expires_at_ms < 0)
        return HARK_EINVAL;
    return s->ops->token_create(s, user_id, hash, scopes, name, expires_at_ms, out);
}

int store_token_find(struct store *s, const unsigned char hash[STORE_TOKEN_HASH_BYTES],
                     struct store_token *out)
{
    if (!out)
        return HARK_EINVAL;
    memset(out, 0, sizeof *out);
    if (!s || !hash)
        return HARK_EINVAL;
    return s->ops->token_find(s, hash, out);
}

int store_token_touch(struct store *s, int64_t id, int64_t now_ms)
{
    if (!s || now_ms < 0)
        return HARK_EINVAL;
    return s->ops->token_touch(s, id, now_ms);
}

int store_token_list(struct store *s, int64_t user_id, struct store_token **out,
                     size_t *n_out)
{
    if (!out || !n_out)
        return HARK_EINVAL;
    *out = NULL;
    *n_out = 0;
    if (!s)
        return HARK_EINVAL;
    return s->ops->token_list(s, user_id, out, n_out);
}

int store_token_delete(struct store *s, int64_t id)
{
    return s ? s->ops->token_delete(s, id) : HARK_EINVAL;
}

int store_meeting_find(struct store *s, int64_t user_id, const char *platform,
                       const char *native_id, int64_t *id_out)
{
    if (!s || !platform || !native_id || !id_out)
        return HARK_EINVAL;
    *id_out = 0;
    return s->ops->meeting_find(s, user_id, platform, native_id, id_out);
}

void store_job_release(struct store_job *j)
{
    if (!j)
        return;
    hark_free(j->kind);
    hark_free(j->status);
    hark_free(j->params_json);
    hark_free(j->result);
    hark_free(j->error);
    memset(j, 0, sizeof *j);
}

int store_job_create(struct store *s, int64_t user_id, const char *kind, const char *params_json,
                     struct store_job *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!s || !kind || !out)
        return HARK_EINVAL;
    return s->ops->job_create(s, user_id, kind, params_json ? params_json : "{}", out);
}

int store_job_get(struct store *s, int64_t user_id, int64_t id, struct store_job *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!s || !out)
        return HARK_EINVAL;
    return s->ops->job_get(s, user_id, id, out);
}

int store_job_update(struct store *s, int64_t id, const char *status, const char *result,
                     const char *error)
{
    if (!s || !status)
        return HARK_EINVAL;
    return s->ops->job_update(s, id, status, result, error);
}

int store_job_fail_unfinished(struct store *s, const char *error, int64_t *n_out)
{
    int64_t n = 0;
    if (!s || !error)
        return HARK_EINVAL;
    int rc = s->ops->job_fail_unfinished(s, error, &n);
    if (n_out)
        *n_out = rc ? 0 : n;
    return rc;
}
