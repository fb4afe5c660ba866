/* fuzz_json_body — request-body JSON: json_parse() on arbitrary bytes, then
 * every field reader and json_forbid_extra() over the object, the way the
 * admin handlers read a body.
 *
 * Beyond "no crash, no leak" it checks the module's promises: a failed
 * parse leaves *out NULL and says why; a reader returns 1, 0 or -1 and
 * records exactly one error when (and only when) it returns -1; a string it
 * accepts is within its bounds and has no NUL; an integer is within its
 * bounds; every error has the {loc, msg, type} shape with "body" first; the
 * error list serialises. json_time_iso() runs on numbers from the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hark/json.h"

static const char *const fields[] = {"email", "name", "max_concurrent_bots", "data",
                                     "scopes", "expires_in", NULL};

static void check_error_shape(struct json_object *e)
{
    struct json_object *loc, *msg, *type;
    if (!json_object_object_get_ex(e, "loc", &loc) || !json_object_is_type(loc, json_type_array) ||
        json_object_array_length(loc) < 1 ||
        strcmp(json_object_get_string(json_object_array_get_idx(loc, 0)), "body") != 0)
        abort();
    if (!json_object_object_get_ex(e, "msg", &msg) || !json_object_is_type(msg, json_type_string) ||
        !json_object_object_get_ex(e, "type", &type) ||
        !json_object_is_type(type, json_type_string))
        abort();
}

/* Runs a reader's outcome against the error count it must leave. */
static void expect(int rc, int before, const struct json_verr *v)
{
    if (rc < -1 || rc > 1)
        abort();
    if (json_verr_count(v) != before + (rc < 0) && !v->oom)
        abort();
}

static void check_time(int64_t ms)
{
    char buf[40], small[8];
    json_time_iso(ms, buf, sizeof buf);
    if (ms <= 0 ? buf[0] != '\0' : (strlen(buf) < 27 || buf[strlen(buf) - 1] != 'Z'))
        abort();
    json_time_iso(ms, small, sizeof small);
    if (strlen(small) >= sizeof small)
        abort();
}

static void read_fields(struct json_object *obj)
{
    struct json_verr v;
    json_verr_init(&v);
    int before = 0;

    json_forbid_extra(obj, fields, &v);
    int extra = 0;
    json_object_object_foreach(obj, key, val) {
        (void)val;
        int known = 0;
        for (const char *const *f = fields; *f; f++)
            known |= strcmp(*f, key) == 0;
        extra += !known;
    }
    if (json_verr_count(&v) != extra && !v.oom)
        abort();
    before = json_verr_count(&v);

    const char *s = NULL;
    int rc = json_field_string(obj, "email", 1, 320, &v, &s);
    expect(rc, before, &v);
    if (rc == 1 && (strlen(s) < 1 || strlen(s) > 320))
        abort();
    before = json_verr_count(&v);

    rc = json_field_string(obj, "name", 0, 255, &v, &s);
    expect(rc, before, &v);
    if (rc == 1) {
        /* An embedded NUL would make the two lengths differ. */
        size_t held = (size_t)json_object_get_string_len(json_object_object_get(obj, "name"));
        if (strlen(s) > 255 || strlen(s) != held)
            abort();
    }
    before = json_verr_count(&v);

    int64_t n = 0;
    rc = json_field_int(obj, "max_concurrent_bots", 0, 10000, &v, &n);
    expect(rc, before, &v);
    if (rc == 1 && (n < 0 || n > 10000))
        abort();
    before = json_verr_count(&v);

    rc = json_field_int(obj, "expires_in", INT64_MIN, INT64_MAX, &v, &n);
    expect(rc, before, &v);
    if (rc == 1) {
        check_time(n);
        check_time(n / 1000);
    }
    before = json_verr_count(&v);

    struct json_object *sub = NULL;
    rc = json_field_object(obj, "data", &v, &sub);
    expect(rc, before, &v);
    if (rc == 1) {
        if (!json_object_is_type(sub, json_type_object))
            abort();
        /* Handlers store data as text: it must serialise. */
        size_t len;
        if (!json_object_to_json_string_length(sub, JSON_C_TO_STRING_PLAIN, &len))
            abort();
    }
    before = json_verr_count(&v);

    rc = json_field_array(obj, "scopes", &v, &sub);
    expect(rc, before, &v);
    if (rc == 1) {
        for (size_t i = 0; i < json_object_array_length(sub); i++)
            (void)json_object_get_string(json_object_array_get_idx(sub, i));
    } else if (rc < 0) {
        /* The handler also takes a comma string. */
        before = json_verr_count(&v);
        rc = json_field_string(obj, "scopes", 1, 255, &v, &s);
        expect(rc, before, &v);
    }
    before = json_verr_count(&v);

    int b = 0;
    rc = json_field_bool(obj, "data", &v, &b);
    expect(rc, before, &v);
    if (rc == 1 && b != 0 && b != 1)
        abort();

    for (int i = 0; i < json_verr_count(&v); i++)
        check_error_shape(json_object_array_get_idx(v.list, (size_t)i));
    if (v.list && !json_object_to_json_string_ext(v.list, JSON_C_TO_STRING_PLAIN))
        abort();
    json_verr_release(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_object *obj = NULL;
    char err[160] = "";
    int rc = json_parse((const char *)data, size, &obj, err, sizeof err);
    if (rc) {
        if (obj || !err[0] || (rc != HARK_EPARSE && rc != HARK_ETOOBIG && rc != HARK_ENOMEM))
            abort();
    } else if (!obj) {
        /* Only a JSON null parses to NULL. */
        if (size < 4)
            abort();
    } else if (json_object_is_type(obj, json_type_object)) {
        read_fields(obj);
    }
    json_object_put(obj);

    /* The first 8 bytes as a timestamp, whatever they are. */
    if (size >= 8) {
        int64_t ms;
        memcpy(&ms, data, sizeof ms);
        check_time(ms);
    }
    return 0;
}
