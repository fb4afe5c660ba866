#include "hark/auth.h"

#include <sodium.h>
#include <string.h>

#include "hark/clock.h"
#include "hark/log.h"
#include "hark/mem.h"
#include "hark/store.h"

#define KEY_SETTING "token_hash_key"
#define ADMIN_SETTING "admin_key_hash"
/* last_used_at is refreshed at most this often, so a busy client does not
 * turn every read into a write. */
#define TOUCH_INTERVAL_MS 60000

static const char *const known_scopes[] = {"bot", "tx", "browser"};

struct auth {
    struct store *store;
    unsigned char key[crypto_generichash_KEYBYTES];
    unsigned char admin_hash[32];
    int has_admin;             /* admin_hash holds a key's hash */
};

static void hash_secret(const struct auth *a, const char *secret, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)secret, strlen(secret), a->key,
                       sizeof a->key);
}

/* Reads a hex setting of exactly n bytes, creating it from random bytes (or
 * from `init` when given) on first use. Two processes starting at once agree
 * because store_setting_init() only writes when unset. */
static int load_hex(struct store *s, const char *name, const unsigned char *init,
                    unsigned char *out, size_t n)
{
    char *hex = NULL;
    int rc = store_setting_get(s, name, &hex);
    if (rc == HARK_ENOENT) {
        unsigned char fresh[64];
        char fresh_hex[129];
        if (init)
            memcpy(fresh, init, n);
        else
            randombytes_buf(fresh, n);
        sodium_bin2hex(fresh_hex, sizeof fresh_hex, fresh, n);
        rc = store_setting_init(s, name, fresh_hex);
        if (rc && rc != HARK_EEXIST)
            return rc;
        rc = store_setting_get(s, name, &hex);
    }
    if (rc)
        return rc;
    size_t got = 0;
    if (sodium_hex2bin(out, n, hex, strlen(hex), NULL, &got, NULL) != 0 || got != n) {
        log_error("auth", "msg=\"corrupt setting\" setting=%s", name);
        rc = HARK_ESTORE;
    }
    hark_free(hex);
    return rc;
}

static int load_admin(struct auth *a, const char *admin_key, char *new_key, size_t size)
{
    a->has_admin = 1;
    if (admin_key && *admin_key) {
        hash_secret(a, admin_key, a->admin_hash);
        return 0;
    }
    char *existing = NULL;
    int rc = store_setting_get(a->store, ADMIN_SETTING, &existing);
    hark_free(existing);
    if (rc == 0)
        return load_hex(a->store, ADMIN_SETTING, NULL, a->admin_hash, 32);
    if (rc != HARK_ENOENT)
        return rc;
    unsigned char h[32];
    auth_token_generate(a, new_key, size, h);
    rc = load_hex(a->store, ADMIN_SETTING, h, a->admin_hash, 32);
    if (!rc && sodium_memcmp(h, a->admin_hash, 32) != 0)
        new_key[0] = '\0'; /* another process generated it first */
    return rc;
}

int auth_new(struct store *store, const char *admin_key, struct auth **out,
             char *new_admin_key, size_t new_admin_key_size)
{
    *out = NULL;
    if (new_admin_key && new_admin_key_size < AUTH_TOKEN_LEN + 1)
        return HARK_EINVAL;
    if (new_admin_key)
        new_admin_key[0] = '\0';
    if (sodium_init() < 0)
        return HARK_ECRYPTO;
    struct auth *a = hark_calloc(1, sizeof *a);
    if (!a)
        return HARK_ENOMEM;
    a->store = store;
    int rc = load_hex(store, KEY_SETTING, NULL, a->key, sizeof a->key);
    if (!rc && (new_admin_key || (admin_key && *admin_key)))
        rc = load_admin(a, admin_key, new_admin_key, new_admin_key_size);
    if (rc) {
        auth_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    sodium_memzero(a, sizeof *a);
    hark_free(a);
}

void auth_token_generate(const struct auth *a, char *out, size_t size, unsigned char hash[32])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    memcpy(out, "hk_", 3);
    sodium_bin2base64(out + 3, size - 3, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    hash_secret(a, out, hash);
}

int auth_admin_ok(const struct auth *a, const char *key)
{
    if (!a->has_admin || !key || !*key || strlen(key) > 256)
        return 0;
    unsigned char h[32];
    hash_secret(a, key, h);
    return sodium_memcmp(h, a->admin_hash, 32) == 0;
}

int auth_user(const struct auth *a, const char *token, struct http_principal *who)
{
    size_t n = token ? strlen(token) : 0;
    if (n == 0 || n > 256)
        return HARK_ENOENT;
    unsigned char h[32];
    hash_secret(a, token, h);
    struct store_token t;
    int rc = store_token_find(a->store, h, &t);
    if (rc)
        return rc;
    /* The lookup was by hash; the constant-time compare keeps any partial
     * match inside the store's index from becoming a timing signal. */
    int64_t now = clock_now_ms();
    if (sodium_memcmp(h, t.hash, 32) != 0 || (t.expires_at_ms && t.expires_at_ms <= now)) {
        store_token_release(&t);
        return HARK_ENOENT;
    }
    who->kind = HTTP_AUTH_USER;
    who->user_id = t.user_id;
    who->token_id = t.id;
    snprintf(who->scopes, sizeof who->scopes, "%s", t.scopes ? t.scopes : "");
    if (now - t.last_used_at_ms > TOUCH_INTERVAL_MS && store_token_touch(a->store, t.id, now))
        log_warn("auth", "msg=\"cannot record token use\" token_id=%lld", (long long)t.id);
    store_token_release(&t);
    return 0;
}

static int scope_in(const char *list, const char *word, size_t wlen)
{
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == wlen && !memcmp(p, word, l))
            return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

int auth_scope_ok(const char *scopes, const char *needed)
{
    return !needed || scope_in(scopes, needed, strlen(needed));
}

int auth_scopes_parse(const char *in, char *out, size_t size, char *badbuf, size_t badsize)
{
    int seen[sizeof known_scopes / sizeof *known_scopes] = {0};
    int any = 0;
    if (badsize)
        badbuf[0] = '\0';
    for (const char *p = in ? in : ""; *p;) {
        size_t l = strcspn(p, ", ");
        if (l) {
            size_t i = 0;
            while (i < 3 && (strlen(known_scopes[i]) != l || memcmp(known_scopes[i], p, l)))
                i++;
            if (i == 3) {
                snprintf(badbuf, badsize, "%.*s", (int)(l < 64 ? l : 64), p);
                return HARK_EINVAL;
            }
            seen[i] = any = 1;
        }
        p += l + (p[l] ? 1 : 0);
    }
    if (!any)
        return HARK_EINVAL;
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < 3; i++) {
        if (!seen[i])
            continue;
        int w = snprintf(out + o, size - o, "%s%s", o ? "," : "", known_scopes[i]);
        if (w < 0 || (size_t)w >= size - o)
            return HARK_ERANGE;
        o += (size_t)w;
    }
    return 0;
}
