/* hark admin — users and tokens straight in the store, for bootstrapping
 * and recovery when the HTTP API is not running. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bin.h"
#include "hark/auth.h"
#include "hark/clock.h"
#include "hark/config.h"
#include "hark/store.h"

static int admin_usage(void)
{
    fprintf(stderr,
            "usage: hark admin [--data DIR] user create --email EMAIL [--name NAME] "
            "[--max-bots N]\n"
            "       hark admin [--data DIR] user list\n"
            "       hark admin [--data DIR] token --user ID [--scopes bot,tx,browser] "
            "[--name NAME]\n");
    return 2;
}

/* Finds "--name VALUE" in argv[from..]; NULL when absent. */
static const char *opt(int argc, char **argv, int from, const char *name)
{
    for (int i = from; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

static int parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int user_create(struct store *st, const struct config *c, int argc, char **argv, int i)
{
    const char *email = opt(argc, argv, i, "--email");
    const char *max_s = opt(argc, argv, i, "--max-bots");
    long long max = config_get_int(c, "default_max_concurrent_bots");
    if (!email || (max_s && parse_int(max_s, 0, 10000, &max)))
        return admin_usage();
    struct store_user u;
    int created;
    int rc = store_user_create(st, email, opt(argc, argv, i, "--name"), (int)max, NULL, &u,
                               &created);
    if (rc) {
        fprintf(stderr, "hark admin: cannot create user: %s\n", hark_strerror(rc));
        return 1;
    }
    printf("%s user id=%lld email=%s max_concurrent_bots=%d\n", created ? "created" : "exists",
           (long long)u.id, u.email, u.max_concurrent_bots);
    store_user_release(&u);
    return 0;
}

static int user_list(struct store *st)
{
    struct store_user *users;
    size_t n;
    int rc = store_user_list(st, 0, 1000000, &users, &n);
    if (rc) {
        fprintf(stderr, "hark admin: cannot list users: %s\n", hark_strerror(rc));
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf("%lld\t%s\t%s\t%d\n", (long long)users[i].id, users[i].email,
               users[i].name ? users[i].name : "", users[i].max_concurrent_bots);
    store_user_list_free(users, n);
    return 0;
}

static int token_create(struct store *st, const struct config *c, int argc, char **argv, int i)
{
    const char *user_s = opt(argc, argv, i, "--user");
    const char *scopes_in = opt(argc, argv, i, "--scopes");
    long long user_id;
    char scopes[64], bad[80];
    if (!user_s || parse_int(user_s, 1, INT64_MAX, &user_id))
        return admin_usage();
    if (auth_scopes_parse(scopes_in ? scopes_in : AUTH_SCOPES_ALL, scopes, sizeof scopes, bad,
                          sizeof bad)) {
        fprintf(stderr, "hark admin: unknown scope '%s' (use bot, tx, browser)\n", bad);
        return 2;
    }
    struct auth *a;
    int rc = auth_new(st, config_get_str(c, "admin_api_key"), &a, NULL, 0);
    if (rc) {
        fprintf(stderr, "hark admin: %s\n", hark_strerror(rc));
        return 1;
    }
    char secret[AUTH_TOKEN_LEN + 1];
    unsigned char hash[32];
    auth_token_generate(a, secret, sizeof secret, hash);
    auth_free(a);
    struct store_token t;
    rc = store_token_create(st, user_id, hash, scopes, opt(argc, argv, i, "--name"), 0, &t);
    if (rc) {
        fprintf(stderr, "hark admin: cannot create token: %s\n",
                rc == HARK_ENOENT ? "no such user" : hark_strerror(rc));
        return 1;
    }
    fprintf(stderr, "token id=%lld user_id=%lld scopes=%s (shown once)\n", (long long)t.id,
            (long long)user_id, scopes);
    printf("%s\n", secret);
    store_token_release(&t);
    return 0;
}

int cmd_admin(int argc, char **argv)
{
    struct config *c;
    int argi = 1;
    int rc = settings_load(argc, argv, &argi, &c);
    if (rc)
        return rc;
    struct store *st = NULL;
    if (argi >= argc)
        rc = admin_usage();
    else if (settings_open_store(c, &st))
        rc = 1;
    else if (!strcmp(argv[argi], "user") && argi + 1 < argc && !strcmp(argv[argi + 1], "create"))
        rc = user_create(st, c, argc, argv, argi + 2);
    else if (!strcmp(argv[argi], "user") && argi + 1 < argc && !strcmp(argv[argi + 1], "list"))
        rc = user_list(st);
    else if (!strcmp(argv[argi], "token"))
        rc = token_create(st, c, argc, argv, argi + 1);
    else
        rc = admin_usage();
    store_free(st);
    config_free(c);
    return rc;
}
