/* fuzz_config — config_parse_buffer() on arbitrary bytes, then the same
 * bytes as a flag and an environment value for every key.
 *
 * Beyond "no crash, no leak" it checks the module's promises: a rejected
 * file changes no value; every value a file sets is accepted again by
 * config_set() with the same meaning; every error names a source. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/config.h"
#include "hark/mem.h"

static const struct config_key keys[] = {
    {"name", CONFIG_STRING, "hark", 0, 0, "a string"},
    {"threads", CONFIG_INT, "8", 1, 64, "a bounded integer"},
    {"offset", CONFIG_INT, NULL, 0, 0, "an unbounded integer, unset"},
    {"tls", CONFIG_BOOL, "no", 0, 0, "a boolean"},
    {"body_max", CONFIG_BYTES, "1M", 1024, 1LL << 40, "a size"},
    {"timeout", CONFIG_MS, "5s", 0, 0, "a duration"},
};
#define NKEYS (sizeof keys / sizeof *keys)

struct snapshot {
    char *value[NKEYS];
    long long num[NKEYS];
};

static void take(const struct config *c, struct snapshot *s)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const char *v = config_get_str(c, keys[i].name);
        s->value[i] = hark_strdup(v);
        if (v && !s->value[i])
            abort();
        s->num[i] = keys[i].type == CONFIG_BOOL ? config_get_bool(c, keys[i].name)
                                                : config_get_int(c, keys[i].name);
        if (!!v != !!config_origin(c, keys[i].name))
            abort();
    }
}

static void same(const struct snapshot *a, const struct snapshot *b)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (!!a->value[i] != !!b->value[i] || a->num[i] != b->num[i] ||
            (a->value[i] && strcmp(a->value[i], b->value[i]) != 0))
            abort();
    }
}

static void drop(struct snapshot *s)
{
    for (size_t i = 0; i < NKEYS; i++)
        hark_free(s->value[i]);
}

static void check_error(const struct config_error *err)
{
    char line[600];
    if (!err->source[0] || !err->message[0])
        abort();
    config_error_str(err, line, sizeof line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config *c = NULL;
    struct config_error err;
    struct snapshot before, after;
    if (config_new(keys, NKEYS, &c) != 0)
        abort();

    take(c, &before);
    int rc = config_parse_buffer(c, (const char *)data, size, "fuzz.conf", &err);
    take(c, &after);
    if (rc != 0) {
        check_error(&err);
        same(&before, &after);
    } else {
        /* What a file accepted, a flag accepts with the same meaning. */
        for (size_t i = 0; i < NKEYS; i++) {
            if (after.value[i] && config_set(c, keys[i].name, after.value[i], "flag", &err) != 0)
                abort();
        }
        struct snapshot again;
        take(c, &again);
        same(&after, &again);
        drop(&again);
    }
    drop(&before);
    drop(&after);

    /* The same bytes, up to a NUL, as a flag and as HARK_<KEY>: both take
     * values verbatim, so they must agree. */
    size_t len = strnlen((const char *)data, size);
    for (size_t i = 0; i < NKEYS; i++) {
        char *var = hark_malloc(5 + CONFIG_NAME_MAX + 2 + len);
        if (!var)
            abort();
        size_t n = 5;
        memcpy(var, "HARK_", 5);
        for (const char *p = keys[i].name; *p; p++)
            var[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        var[n++] = '=';
        memcpy(var + n, data, len);
        var[n + len] = '\0';
        char *envp[] = {var, NULL};
        int rc_flag = config_set(c, keys[i].name, var + n, "flag", &err);
        if (rc_flag != 0)
            check_error(&err);
        int rc_env = config_load_env(c, envp, &err);
        if (rc_env != 0)
            check_error(&err);
        if (rc_flag != rc_env)
            abort();
        hark_free(var);
    }
    config_free(c);
    return 0;
}
