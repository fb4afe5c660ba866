#include "hark/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int json_parse(const char *data, size_t len, struct json_object **out, char *err,
               size_t errlen)
{
    *out = NULL;
    if (len == 0) {
        snprintf(err, errlen, "empty body");
        return HARK_EPARSE;
    }
    if (len > (size_t)INT32_MAX) {
        snprintf(err, errlen, "body too large");
        return HARK_ETOOBIG;
    }
    if (memchr(data, '\0', len)) {
        snprintf(err, errlen, "NUL byte in body");
        return HARK_EPARSE;
    }
    struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!tok)
        return HARK_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    int rc = 0;
    if (jerr == json_tokener_continue) {
        snprintf(err, errlen, "unexpected end of JSON");
        rc = HARK_EPARSE;
    } else if (jerr != json_tokener_success) {
        snprintf(err, errlen, "%s at byte %zu", json_tokener_error_desc(jerr), used);
        rc = HARK_EPARSE;
    } else {
        while (used < len && strchr(" \t\r\n", data[used]))
            used++;
        if (used != len) {
            snprintf(err, errlen, "extra data after JSON value at byte %zu", used);
            rc = HARK_EPARSE;
        }
    }
    json_tokener_free(tok);
    if (rc) {
        json_object_put(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

void json_verr_init(struct json_verr *v)
{
    v->list = NULL;
    v->oom = 0;
}

void json_verr_release(struct json_verr *v)
{
    json_object_put(v->list);
    v->list = NULL;
}

int json_verr_count(const struct json_verr *v)
{
    return v->list ? (int)json_object_array_length(v->list) : 0;
}

static struct json_object *loc_array(const char *loc)
{
    struct json_object *arr = json_object_new_array();
    const char *p = loc;
    while (arr && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char part[128];
        if (n >= sizeof part)
            n = sizeof part - 1;
        memcpy(part, p, n);
        part[n] = '\0';
        char *end;
        long long num = strtoll(part, &end, 10);
        struct json_object *item = (n && *end == '\0') ? json_object_new_int64(num)
                                                       : json_object_new_string(part);
        if (!item || json_object_array_add(arr, item)) {
            json_object_put(item);
            json_object_put(arr);
            return NULL;
        }
        p = dot ? dot + 1 : p + n;
    }
    return arr;
}

void json_verr_add(struct json_verr *v, const char *loc, const char *msg, const char *type,
                   struct json_object *input)
{
    if (!v->list && !(v->list = json_object_new_array())) {
        v->oom = 1;
        return;
    }
    struct json_object *e = json_object_new_object();
    struct json_object *l = loc_array(loc);
    if (!e || !l || json_add(e, "loc", l) || json_add_str(e, "msg", msg) ||
        json_add_str(e, "type", type) ||
        (input && json_add(e, "input", json_object_get(input))) ||
        json_object_array_add(v->list, e)) {
        if (!e)
            json_object_put(l);
        json_object_put(e);
        v->oom = 1;
    }
}

static struct json_object *field(struct json_object *obj, const char *key)
{
    struct json_object *val = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &val))
        return NULL;
    return val; /* NULL also for an explicit JSON null */
}

static void type_error(struct json_verr *v, const char *key, const char *msg,
                       const char *type, struct json_object *input)
{
    char loc[160];
    snprintf(loc, sizeof loc, "body.%s", key);
    json_verr_add(v, loc, msg, type, input);
}

int json_field_string(struct json_object *obj, const char *key, size_t min_len,
                      size_t max_len, struct json_verr *v, const char **out)
{
    struct json_object *val = field(obj, key);
    if (!val)
        return 0;
    if (!json_object_is_type(val, json_type_string)) {
        type_error(v, key, "Input should be a valid string", "string_type", val);
        return -1;
    }
    size_t n = (size_t)json_object_get_string_len(val);
    const char *s = json_object_get_string(val);
    if (n < min_len) {
        type_error(v, key, "String should have at least 1 character", "string_too_short", val);
        return -1;
    }
    if (n > max_len || memchr(s, '\0', n)) {
        char msg[96];
        snprintf(msg, sizeof msg, "String should have at most %zu characters", max_len);
        type_error(v, key, msg, "string_too_long", NULL);
        return -1;
    }
    *out = s;
    return 1;
}

int json_field_int(struct json_object *obj, const char *key, int64_t min, int64_t max,
                   struct json_verr *v, int64_t *out)
{
    struct json_object *val = field(obj, key);
    if (!val)
        return 0;
    if (!json_object_is_type(val, json_type_int)) {
        type_error(v, key, "Input should be a valid integer", "int_type", val);
        return -1;
    }
    errno = 0;
    int64_t n = json_object_get_int64(val);
    if (errno == ERANGE || n < min || n > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "Input should be between %lld and %lld",
                 (long long)min, (long long)max);
        type_error(v, key, msg, n < min ? "greater_than_equal" : "less_than_equal", val);
        return -1;
    }
    *out = n;
    return 1;
}

int json_field_bool(struct json_object *obj, const char *key, struct json_verr *v, int *out)
{
    struct json_object *val = field(obj, key);
    if (!val)
        return 0;
    if (!json_object_is_type(val, json_type_boolean)) {
        type_error(v, key, "Input should be a valid boolean", "bool_type", val);
        return -1;
    }
    *out = json_object_get_boolean(val) ? 1 : 0;
    return 1;
}

int json_field_object(struct json_object *obj, const char *key, struct json_verr *v,
                      struct json_object **out)
{
    struct json_object *val = field(obj, key);
    if (!val)
        return 0;
    if (!json_object_is_type(val, json_type_object)) {
        type_error(v, key, "Input should be a valid dictionary", "dict_type", val);
        return -1;
    }
    *out = val;
    return 1;
}

int json_field_array(struct json_object *obj, const char *key, struct json_verr *v,
                     struct json_object **out)
{
    struct json_object *val = field(obj, key);
    if (!val)
        return 0;
    if (!json_object_is_type(val, json_type_array)) {
        type_error(v, key, "Input should be a valid list", "list_type", val);
        return -1;
    }
    *out = val;
    return 1;
}

void json_forbid_extra(struct json_object *obj, const char *const *allowed,
                       struct json_verr *v)
{
    json_object_object_foreach(obj, key, val) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            type_error(v, key, "Extra inputs are not permitted", "extra_forbidden", val);
    }
}

const char *json_time_iso(int64_t ms, char *buf, size_t size)
{
    if (ms <= 0) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ms % 1000) * 1000);
    return buf;
}

int json_add(struct json_object *o, const char *key, struct json_object *v)
{
    if (json_object_object_add(o, key, v)) {
        json_object_put(v);
        return HARK_ENOMEM;
    }
    return 0;
}

int json_add_str(struct json_object *o, const char *key, const char *s)
{
    struct json_object *v = NULL;
    if (s && !(v = json_object_new_string(s)))
        return HARK_ENOMEM;
    return json_add(o, key, v);
}

int json_add_int(struct json_object *o, const char *key, int64_t n)
{
    struct json_object *v = json_object_new_int64(n);
    return v ? json_add(o, key, v) : HARK_ENOMEM;
}

int json_add_bool(struct json_object *o, const char *key, int b)
{
    struct json_object *v = json_object_new_boolean(b ? 1 : 0);
    return v ? json_add(o, key, v) : HARK_ENOMEM;
}
