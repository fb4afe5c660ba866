#include "hark/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* NaN and Infinity are not JSON, but json-c accepts them; the store (and
 * every client) would choke on them later. Depth is bounded by the parser. */
static int all_finite(struct json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_double:
        return isfinite(json_object_get_double(o));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (!all_finite(json_object_array_get_idx(o, i)))
                return 0;
        return 1;
    case json_type_object: {
        json_object_object_foreach(o, key, val) {
            (void)key;
            if (!all_finite(val))
                return 0;
        }
        return 1;
    }
    default:
        return 1;
    }
}

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
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A top-level number or literal ends only at end of input: say so. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue)
            jerr = json_tokener_error_parse_eof;
    }
    int rc = 0;
    if (jerr == json_tokener_error_parse_eof) {
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
        } else if (!all_finite(obj)) {
            snprintf(err, errlen, "NaN and Infinity are not valid JSON numbers");
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
        size_t keep = n < sizeof part ? n : sizeof part - 1;
        memcpy(part, p, keep);
        part[keep] = '\0';
        char *end;
        long long num = strtoll(part, &end, 10);
        struct json_object *item = (keep && *end == '\0') ? json_object_new_int64(num)
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

/* Appends {loc, msg, type[, input]}; takes ownership of loc. */
static void verr_push(struct json_verr *v, struct json_object *loc, const char *msg,
                      const char *type, struct json_object *input)
{
    if (!v->list && !(v->list = json_object_new_array())) {
        json_object_put(loc);
        v->oom = 1;
        return;
    }
    struct json_object *e = json_object_new_object();
    if (!e || !loc || json_add(e, "loc", loc) || json_add_str(e, "msg", msg) ||
        json_add_str(e, "type", type) ||
        (input && json_add(e, "input", json_object_get(input))) ||
        json_object_array_add(v->list, e)) {
        if (!e)
            json_object_put(loc);
        json_object_put(e);
        v->oom = 1;
    }
}

void json_verr_add(struct json_verr *v, const char *loc, const char *msg, const char *type,
                   struct json_object *input)
{
    verr_push(v, loc_array(loc), msg, type, input);
}

static struct json_object *field(struct json_object *obj, const char *key)
{
    struct json_object *val = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &val))
        return NULL;
    return val; /* NULL also for an explicit JSON null */
}

/* loc is ["body", key] with the client's key kept whole, dots and all. */
static void type_error(struct json_verr *v, const char *key, const char *msg,
                       const char *type, struct json_object *input)
{
    struct json_object *loc = json_object_new_array();
    struct json_object *b = json_object_new_string("body");
    struct json_object *k = json_object_new_string(key);
    if (!loc || !b || json_object_array_add(loc, b)) {
        json_object_put(b);
        b = NULL;
    }
    if (!b || !k || json_object_array_add(loc, k)) {
        json_object_put(k);
        json_object_put(loc);
        loc = NULL;
    }
    verr_push(v, loc, msg, type, input);
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
        char msg[96];
        snprintf(msg, sizeof msg, "String should have at least %zu character%s", min_len,
                 min_len == 1 ? "" : "s");
        type_error(v, key, msg, "string_too_short", val);
        return -1;
    }
    if (memchr(s, '\0', n)) {
        type_error(v, key, "String should not contain NUL characters", "string_nul", NULL);
        return -1;
    }
    if (n > max_len) {
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
    /* json-c clamps integers that overflow to INT64_MIN/MAX, so those two
     * values are ambiguous and refused. */
    int64_t n = json_object_get_int64(val);
    if (n == INT64_MIN || n == INT64_MAX || n < min || n > max) {
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

struct json_object *json_new_seconds(int64_t ms)
{
    char text[32];
    snprintf(text, sizeof text, "%s%lld.%03lld", ms < 0 ? "-" : "", (long long)(ms < 0 ? -ms : ms) / 1000,
             (long long)(ms < 0 ? -ms : ms) % 1000);
    return json_object_new_double_s((double)ms / 1000.0, text);
}

int json_append(struct hbuf *out, struct json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    return s ? hbuf_append(out, s, len) : HARK_ENOMEM;
}
