/* auth.h — API tokens and the admin key.
 *
 * A token is "hk_" + 43 base64url characters (32 random bytes). Only a keyed
 * BLAKE2b-256 hash of it is stored, under a 32-byte key kept in the store's
 * settings, so a stolen database alone does not let anyone mint or check
 * tokens offline. Hashes are compared in constant time. The admin key comes
 * from configuration, or is generated at first start, shown once and kept
 * only as a hash. Scopes follow Vexa: "bot" (/bots*), "tx" (/meetings*,
 * /transcripts*), "browser"; /auth/me and /user/... accept any scope. */
#ifndef HARK_AUTH_H
#define HARK_AUTH_H
#include <stddef.h>
#include <stdint.h>
#include "hark/error.h"
#include "hark/http.h"

struct store;
struct auth;

#define AUTH_TOKEN_LEN 46      /* "hk_" + 43, without the NUL */
#define AUTH_SCOPES_ALL "bot,tx,browser"

/* Loads (or creates on first start) the hashing key and the admin key hash.
 * admin_key: the configured admin key (borrowed, may be NULL). When it is
 * NULL and none was ever generated, a new one is written into new_admin_key
 * (size >= AUTH_TOKEN_LEN + 1) for the caller to show once; otherwise
 * new_admin_key is set to "". Pass new_admin_key = NULL from tools that only
 * mint user tokens: no admin key is generated (it would be lost), and
 * auth_admin_ok() refuses every key unless admin_key is given. *out is freed
 * with auth_free(). store is borrowed and must outlive the auth. */
HARK_MUST_CHECK int auth_new(struct store *store, const char *admin_key, struct auth **out,
                             char *new_admin_key, size_t new_admin_key_size);
void auth_free(struct auth *a);

/* A fresh random token into out (size >= AUTH_TOKEN_LEN + 1) and its hash. */
void auth_token_generate(const struct auth *a, char *out, size_t size,
                         unsigned char hash[32]);
/* 1 when key is the admin key, compared in constant time. */
int auth_admin_ok(const struct auth *a, const char *key);
/* Resolves a user token. HARK_ENOENT for unknown, expired or malformed
 * tokens (all alike to the caller); HARK_ESTORE/HARK_ENOMEM on failure. */
HARK_MUST_CHECK int auth_user(const struct auth *a, const char *token,
                              struct http_principal *who);
/* 1 when the comma list `scopes` grants `needed`; NULL needed always does. */
int auth_scope_ok(const char *scopes, const char *needed);
/* Normalises a comma/space separated scope list into out ("bot,tx"),
 * de-duplicated in canonical order. HARK_EINVAL for an unknown word (copied
 * into badbuf) or an empty list (badbuf ""). */
HARK_MUST_CHECK int auth_scopes_parse(const char *in, char *out, size_t size, char *badbuf,
                                      size_t badsize);

#endif
