#include "harness.h"

#include <string.h>

#include "hark/error.h"
#include "hark/json.h"

static struct json_object *parse_ok(const char *text)
{
    struct json_object *o = NULL;
    char err[128] = "";
    int rc = json_parse(text, strlen(text), &o, err, sizeof err);
    if (rc)
        fail_msg("json_parse(%s) = %d: %s", text, rc, err);
    return o;
}

static int parse_rc(const char *text, size_t len, char *err, size_t errlen)
{
    struct json_object *o = (struct json_object *)&o; /* must be reset to NULL */
    int rc = json_parse(text, len, &o, err, errlen);
    if (rc)
        assert_null(o);
    json_object_put(o);
    return rc;
}

/* The i-th error of v as compact JSON, for whole-shape comparisons. */
static const char *verr_at(const struct json_verr *v, size_t i)
{
    struct json_object *e = json_object_array_get_idx(v->list, i);
    assert_non_null(e);
    return json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
}

/* ---- json_parse ---------------------------------------------------------- */

static void parse_accepts_one_object_with_surrounding_whitespace(void **state)
{
    (void)state;
    struct json_object *o = parse_ok(" \t\r\n{\"a\": [1, \"x\", null, true]} \n");
    assert_true(json_object_is_type(o, json_type_object));
    assert_int_equal(json_object_array_length(json_object_object_get(o, "a")), 4);
    json_object_put(o);
}

static void parse_rejects_empty_input(void **state)
{
    (void)state;
    char err[64];
    assert_int_equal(parse_rc("", 0, err, sizeof err), HARK_EPARSE);
    assert_string_equal(err, "empty body");
    assert_int_equal(parse_rc("  ", 2, err, sizeof err), HARK_EPARSE);
}

static void parse_rejects_data_after_the_value(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(parse_rc("{}x", 3, err, sizeof err), HARK_EPARSE);
    assert_int_equal(parse_rc("{} {}", 5, err, sizeof err), HARK_EPARSE);
    assert_non_null(strstr(err, "byte 3"));
    assert_int_equal(parse_rc("[1]]", 4, err, sizeof err), HARK_EPARSE);
}

static void parse_rejects_nul_byte_even_inside_a_string(void **state)
{
    (void)state;
    char err[64];
    static const char body[] = "{\"a\":\"x\0y\"}";
    assert_int_equal(parse_rc(body, sizeof body - 1, err, sizeof err), HARK_EPARSE);
    assert_string_equal(err, "NUL byte in body");
    /* A NUL right after a complete value is still a NUL in the body. */
    assert_int_equal(parse_rc("{}", 3, err, sizeof err), HARK_EPARSE);
}

static void parse_reports_unterminated_input(void **state)
{
    (void)state;
    char err[64];
    static const char *const cut[] = {"{", "{\"a\"", "{\"a\":", "{\"a\":\"xy", "[1,2", "{\"a\":tr"};
    for (size_t i = 0; i < sizeof cut / sizeof *cut; i++) {
        assert_int_equal(parse_rc(cut[i], strlen(cut[i]), err, sizeof err), HARK_EPARSE);
        assert_string_equal(err, "unexpected end of JSON");
    }
}

static void parse_reports_syntax_errors_with_position(void **state)
{
    (void)state;
    char err[128];
    assert_int_equal(parse_rc("{\"a\":1,}", 8, err, sizeof err), HARK_EPARSE);
    assert_non_null(strstr(err, "at byte 7"));
    assert_int_equal(parse_rc("{\"a\":01}", 8, err, sizeof err), HARK_EPARSE);
    /* err may be tiny: it is truncated, not overrun. */
    char tiny[4];
    assert_int_equal(parse_rc("{x}", 3, tiny, sizeof tiny), HARK_EPARSE);
    assert_int_equal(strlen(tiny), 3);
}

static void parse_stops_at_the_depth_limit(void **state)
{
    (void)state;
    char text[2 * (JSON_MAX_DEPTH + 1) + 1];
    char err[128];
    for (int depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++)
            text[n++] = '[';
        for (int i = 0; i < depth; i++)
            text[n++] = ']';
        int rc = parse_rc(text, n, err, sizeof err);
        if (depth <= JSON_MAX_DEPTH) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, HARK_EPARSE);
            assert_non_null(strstr(err, "nesting too deep"));
        }
    }
}

static void parse_keeps_the_last_duplicate_key(void **state)
{
    (void)state;
    struct json_object *o = parse_ok("{\"a\":1,\"a\":2}");
    assert_int_equal(json_object_get_int64(json_object_object_get(o, "a")), 2);
    assert_int_equal(json_object_object_length(o), 1);
    json_object_put(o);
}

/* ---- validation errors ----------------------------------------------------- */

static void verr_starts_empty_and_counts(void **state)
{
    (void)state;
    struct json_verr v;
    json_verr_init(&v);
    assert_null(v.list);
    assert_int_equal(json_verr_count(&v), 0);
    json_verr_add(&v, "body.email", "Field required", "missing", NULL);
    json_verr_add(&v, "body.name", "bad", "value_error", NULL);
    assert_int_equal(json_verr_count(&v), 2);
    assert_int_equal(v.oom, 0);
    assert_string_equal(verr_at(&v, 0), "{\"loc\":[\"body\",\"email\"],\"msg\":\"Field "
                                        "required\",\"type\":\"missing\"}");
    json_verr_release(&v);
    assert_null(v.list);
    json_verr_release(&v); /* twice is harmless */
}

static void verr_loc_numeric_parts_become_integers(void **state)
{
    (void)state;
    struct json_verr v;
    json_verr_init(&v);
    json_verr_add(&v, "meetings.0.platform", "m", "t", NULL);
    json_verr_add(&v, "body.12", "m", "t", NULL);
    json_verr_add(&v, "body.1a", "m", "t", NULL);
    json_verr_add(&v, "body", "m", "t", NULL);
    assert_string_equal(json_object_to_json_string_ext(
                            json_object_object_get(json_object_array_get_idx(v.list, 0), "loc"),
                            JSON_C_TO_STRING_PLAIN),
                        "[\"meetings\",0,\"platform\"]");
    assert_string_equal(json_object_to_json_string_ext(
                            json_object_object_get(json_object_array_get_idx(v.list, 1), "loc"),
                            JSON_C_TO_STRING_PLAIN),
                        "[\"body\",12]");
    assert_string_equal(json_object_to_json_string_ext(
                            json_object_object_get(json_object_array_get_idx(v.list, 2), "loc"),
                            JSON_C_TO_STRING_PLAIN),
                        "[\"body\",\"1a\"]");
    assert_string_equal(json_object_to_json_string_ext(
                            json_object_object_get(json_object_array_get_idx(v.list, 3), "loc"),
                            JSON_C_TO_STRING_PLAIN),
                        "[\"body\"]");
    json_verr_release(&v);
}

static void verr_long_loc_part_is_bounded(void **state)
{
    (void)state;
    char loc[400];
    memset(loc, 'k', sizeof loc - 1);
    loc[sizeof loc - 1] = '\0';
    memcpy(loc, "body.", 5);
    struct json_verr v;
    json_verr_init(&v);
    json_verr_add(&v, loc, "m", "t", NULL);
    assert_int_equal(v.oom, 0);
    struct json_object *l = json_object_object_get(json_object_array_get_idx(v.list, 0), "loc");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(l, 0)), "body");
    for (size_t i = 1; i < json_object_array_length(l); i++) {
        struct json_object *part = json_object_array_get_idx(l, i);
        assert_true(json_object_is_type(part, json_type_string));
        assert_in_range(json_object_get_string_len(part), 1, 127);
    }
    json_verr_release(&v);
}

static void verr_keeps_a_reference_to_input(void **state)
{
    (void)state;
    struct json_object *in = json_object_new_string("oops");
    struct json_verr v;
    json_verr_init(&v);
    json_verr_add(&v, "body.x", "m", "t", in);
    json_object_put(in); /* v holds its own reference */
    assert_string_equal(verr_at(&v, 0), "{\"loc\":[\"body\",\"x\"],\"msg\":\"m\",\"type\":\"t\","
                                        "\"input\":\"oops\"}");
    json_verr_release(&v);
}

/* ---- field readers --------------------------------------------------------- */

static void absent_or_null_fields_read_as_zero_without_error(void **state)
{
    (void)state;
    struct json_object *o = parse_ok("{\"s\":null,\"i\":null,\"b\":null,\"o\":null,\"a\":null}");
    struct json_verr v;
    json_verr_init(&v);
    const char *s = "unchanged";
    int64_t i = 7;
    int b = 7;
    struct json_object *obj = o, *arr = o;
    const char *keys[] = {"s", "i", "b", "o", "a", "missing"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        assert_int_equal(json_field_string(o, keys[k], 0, 10, &v, &s), 0);
        assert_int_equal(json_field_int(o, keys[k], 0, 10, &v, &i), 0);
        assert_int_equal(json_field_bool(o, keys[k], &v, &b), 0);
        assert_int_equal(json_field_object(o, keys[k], &v, &obj), 0);
        assert_int_equal(json_field_array(o, keys[k], &v, &arr), 0);
    }
    assert_string_equal(s, "unchanged");
    assert_int_equal(i, 7);
    assert_int_equal(b, 7);
    assert_ptr_equal(obj, o);
    assert_ptr_equal(arr, o);
    assert_int_equal(json_verr_count(&v), 0);
    json_object_put(o);
}

static void present_fields_of_the_right_type_read_as_one(void **state)
{
    (void)state;
    struct json_object *o =
        parse_ok("{\"s\":\"abc\",\"i\":-5,\"b\":true,\"o\":{\"k\":1},\"a\":[1,2]}");
    struct json_verr v;
    json_verr_init(&v);
    const char *s = NULL;
    int64_t i = 0;
    int b = 0;
    struct json_object *obj = NULL, *arr = NULL;
    assert_int_equal(json_field_string(o, "s", 1, 3, &v, &s), 1);
    assert_string_equal(s, "abc");
    assert_int_equal(json_field_int(o, "i", -5, 5, &v, &i), 1);
    assert_int_equal(i, -5);
    assert_int_equal(json_field_bool(o, "b", &v, &b), 1);
    assert_int_equal(b, 1);
    assert_int_equal(json_field_object(o, "o", &v, &obj), 1);
    assert_ptr_equal(obj, json_object_object_get(o, "o"));
    assert_int_equal(json_field_array(o, "a", &v, &arr), 1);
    assert_int_equal(json_object_array_length(arr), 2);
    assert_int_equal(json_verr_count(&v), 0);
    json_object_put(o);
}

static void wrong_types_give_fastapi_errors(void **state)
{
    (void)state;
    struct json_object *o = parse_ok("{\"x\":1.5,\"y\":\"7\"}");
    struct json_verr v;
    json_verr_init(&v);
    const char *s = NULL;
    int64_t i = 0;
    int b = 0;
    struct json_object *obj = NULL;
    assert_int_equal(json_field_string(o, "x", 0, 10, &v, &s), -1);
    assert_int_equal(json_field_int(o, "y", 0, 10, &v, &i), -1);
    assert_int_equal(json_field_int(o, "x", 0, 10, &v, &i), -1);
    assert_int_equal(json_field_bool(o, "y", &v, &b), -1);
    assert_int_equal(json_field_object(o, "y", &v, &obj), -1);
    assert_int_equal(json_field_array(o, "x", &v, &obj), -1);
    assert_null(s);
    assert_int_equal(i, 0);
    assert_null(obj);
    assert_int_equal(json_verr_count(&v), 6);
    assert_string_equal(verr_at(&v, 0), "{\"loc\":[\"body\",\"x\"],\"msg\":\"Input should be a "
                                        "valid string\",\"type\":\"string_type\",\"input\":1.5}");
    assert_string_equal(verr_at(&v, 1), "{\"loc\":[\"body\",\"y\"],\"msg\":\"Input should be a "
                                        "valid integer\",\"type\":\"int_type\",\"input\":\"7\"}");
    assert_string_equal(verr_at(&v, 2), "{\"loc\":[\"body\",\"x\"],\"msg\":\"Input should be a "
                                        "valid integer\",\"type\":\"int_type\",\"input\":1.5}");
    assert_string_equal(verr_at(&v, 3), "{\"loc\":[\"body\",\"y\"],\"msg\":\"Input should be a "
                                        "valid boolean\",\"type\":\"bool_type\",\"input\":\"7\"}");
    assert_string_equal(verr_at(&v, 4),
                        "{\"loc\":[\"body\",\"y\"],\"msg\":\"Input should be a valid "
                        "dictionary\",\"type\":\"dict_type\",\"input\":\"7\"}");
    assert_string_equal(verr_at(&v, 5), "{\"loc\":[\"body\",\"x\"],\"msg\":\"Input should be a "
                                        "valid list\",\"type\":\"list_type\",\"input\":1.5}");
    json_verr_release(&v);
    json_object_put(o);
}

static void string_length_is_bounded_in_bytes(void **state)
{
    (void)state;
    /* "é" is two bytes: four bytes in all. */
    struct json_object *o = parse_ok("{\"e\":\"\",\"s\":\"ab\\u00e9\"}");
    struct json_verr v;
    json_verr_init(&v);
    const char *s = NULL;
    assert_int_equal(json_field_string(o, "s", 0, 4, &v, &s), 1);
    assert_int_equal(json_field_string(o, "s", 4, 4, &v, &s), 1);
    assert_int_equal(json_field_string(o, "e", 0, 4, &v, &s), 1);
    assert_string_equal(s, "");
    assert_int_equal(json_verr_count(&v), 0);
    assert_int_equal(json_field_string(o, "s", 0, 3, &v, &s), -1);
    assert_string_equal(verr_at(&v, 0),
                        "{\"loc\":[\"body\",\"s\"],\"msg\":\"String should have at most 3 "
                        "characters\",\"type\":\"string_too_long\"}");
    assert_int_equal(json_field_string(o, "e", 1, 4, &v, &s), -1);
    assert_string_equal(verr_at(&v, 1),
                        "{\"loc\":[\"body\",\"e\"],\"msg\":\"String should have at least 1 "
                        "character\",\"type\":\"string_too_short\",\"input\":\"\"}");
    json_verr_release(&v);
    json_object_put(o);
}

static void string_with_escaped_nul_is_refused(void **state)
{
    (void)state;
    /* A \u0000 escape survives parsing; C callers would see a shorter
     * string than the one validated, so the reader refuses it. */
    struct json_object *o = parse_ok("{\"s\":\"a\\u0000b\"}");
    struct json_verr v;
    json_verr_init(&v);
    const char *s = NULL;
    assert_int_equal(json_field_string(o, "s", 0, 100, &v, &s), -1);
    assert_null(s);
    assert_int_equal(json_verr_count(&v), 1);
    json_verr_release(&v);
    json_object_put(o);
}

static void int_bounds_are_inclusive_and_named(void **state)
{
    (void)state;
    struct json_object *o = parse_ok("{\"lo\":-1,\"zero\":0,\"hi\":10,\"over\":11,"
                                     "\"huge\":99999999999999999999999,"
                                     "\"min\":-9223372036854775808}");
    struct json_verr v;
    json_verr_init(&v);
    int64_t i = 42;
    assert_int_equal(json_field_int(o, "zero", 0, 10, &v, &i), 1);
    assert_int_equal(i, 0);
    assert_int_equal(json_field_int(o, "hi", 0, 10, &v, &i), 1);
    assert_int_equal(i, 10);
    assert_int_equal(json_verr_count(&v), 0);
    /* json-c clamps overflow to INT64_MIN/MAX, so the extremes are refused
     * even where the bounds allow them: they may stand for larger numbers. */
    assert_int_equal(json_field_int(o, "min", INT64_MIN, 0, &v, &i), -1);
    assert_int_equal(json_field_int(o, "huge", 0, INT64_MAX, &v, &i), -1);
    assert_int_equal(json_verr_count(&v), 2);
    json_verr_release(&v);
    json_verr_init(&v);
    i = 42;
    assert_int_equal(json_field_int(o, "lo", 0, 10, &v, &i), -1);
    assert_int_equal(json_field_int(o, "over", 0, 10, &v, &i), -1);
    assert_int_equal(json_field_int(o, "huge", 0, 1000000, &v, &i), -1);
    assert_int_equal(i, 42);
    assert_string_equal(verr_at(&v, 0),
                        "{\"loc\":[\"body\",\"lo\"],\"msg\":\"Input should be between 0 and "
                        "10\",\"type\":\"greater_than_equal\",\"input\":-1}");
    assert_string_equal(verr_at(&v, 1),
                        "{\"loc\":[\"body\",\"over\"],\"msg\":\"Input should be between 0 and "
                        "10\",\"type\":\"less_than_equal\",\"input\":11}");
    struct json_object *huge = json_object_array_get_idx(v.list, 2);
    assert_string_equal(json_object_get_string(json_object_object_get(huge, "type")),
                        "less_than_equal");
    json_verr_release(&v);
    json_object_put(o);
}

static void readers_record_errors_in_call_order(void **state)
{
    (void)state;
    struct json_object *o = parse_ok("{\"a\":1,\"b\":2}");
    struct json_verr v;
    json_verr_init(&v);
    const char *s;
    int b;
    assert_int_equal(json_field_string(o, "b", 0, 1, &v, &s), -1);
    assert_int_equal(json_field_bool(o, "a", &v, &b), -1);
    struct json_object *first = json_object_array_get_idx(v.list, 0);
    struct json_object *loc = json_object_object_get(first, "loc");
    assert_string_equal(json_object_get_string(json_object_array_get_idx(loc, 1)), "b");
    json_verr_release(&v);
    json_object_put(o);
}

static void forbid_extra_names_every_unknown_key(void **state)
{
    (void)state;
    static const char *const allowed[] = {"email", "name", NULL};
    struct json_object *o = parse_ok("{\"email\":\"a@b.c\",\"admin\":true,\"name\":\"n\","
                                     "\"x\":[1]}");
    struct json_verr v;
    json_verr_init(&v);
    json_forbid_extra(o, allowed, &v);
    assert_int_equal(json_verr_count(&v), 2);
    assert_string_equal(verr_at(&v, 0),
                        "{\"loc\":[\"body\",\"admin\"],\"msg\":\"Extra inputs are not "
                        "permitted\",\"type\":\"extra_forbidden\",\"input\":true}");
    assert_string_equal(verr_at(&v, 1),
                        "{\"loc\":[\"body\",\"x\"],\"msg\":\"Extra inputs are not "
                        "permitted\",\"type\":\"extra_forbidden\",\"input\":[1]}");
    json_verr_release(&v);

    static const char *const none[] = {NULL};
    json_verr_init(&v);
    json_forbid_extra(o, none, &v);
    assert_int_equal(json_verr_count(&v), 4);
    json_verr_release(&v);

    struct json_object *empty = parse_ok("{}");
    json_verr_init(&v);
    json_forbid_extra(empty, none, &v);
    assert_null(v.list);
    json_object_put(empty);
    json_object_put(o);
}

/* ---- time ------------------------------------------------------------------ */

static void time_iso_has_vexa_microsecond_shape(void **state)
{
    (void)state;
    char buf[40];
    assert_string_equal(json_time_iso(1700000000123, buf, sizeof buf),
                        "2023-11-14T22:13:20.123000Z");
    assert_string_equal(json_time_iso(1, buf, sizeof buf), "1970-01-01T00:00:00.001000Z");
    assert_string_equal(json_time_iso(951782400000, buf, sizeof buf),
                        "2000-02-29T00:00:00.000000Z");
    assert_string_equal(json_time_iso(253402300799999, buf, sizeof buf),
                        "9999-12-31T23:59:59.999000Z");
}

static void time_iso_of_zero_or_negative_is_empty(void **state)
{
    (void)state;
    char buf[40] = "junk";
    assert_ptr_equal(json_time_iso(0, buf, sizeof buf), buf);
    assert_string_equal(buf, "");
    memcpy(buf, "junk", 5);
    assert_string_equal(json_time_iso(-1000, buf, sizeof buf), "");
}

static void time_iso_truncates_to_the_buffer(void **state)
{
    (void)state;
    char buf[11];
    assert_string_equal(json_time_iso(1700000000123, buf, sizeof buf), "2023-11-14");
    char big[64];
    json_time_iso(INT64_MAX, big, sizeof big); /* far future: no overflow, some text */
    assert_true(strlen(big) > 20);
}

/* ---- builders -------------------------------------------------------------- */

static void add_helpers_build_the_expected_object(void **state)
{
    (void)state;
    struct json_object *o = json_object_new_object();
    assert_non_null(o);
    assert_int_equal(json_add_str(o, "s", "v"), 0);
    assert_int_equal(json_add_str(o, "n", NULL), 0);
    assert_int_equal(json_add_int(o, "i", -3), 0);
    assert_int_equal(json_add_bool(o, "b", 5), 0);
    assert_int_equal(json_add(o, "a", json_object_new_array()), 0);
    assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                        "{\"s\":\"v\",\"n\":null,\"i\":-3,\"b\":true,\"a\":[]}");
    json_object_put(o);
}

static void parse_refuses_nan_infinity_and_bad_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {"{\"x\":NaN}", "[Infinity]", "{\"a\":[-Infinity]}",
                                      "\"\xff\"", "{\"n\":\"\xc3\x28\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct json_object *o = NULL;
        char err[128];
        assert_int_equal(json_parse(bad[i], strlen(bad[i]), &o, err, sizeof err), HARK_EPARSE);
        assert_null(o);
    }
}

static void parse_accepts_top_level_scalars(void **state)
{
    (void)state;
    static const char *const ok[] = {"123", "true", "null", "-1.5e3", " 7 "};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        struct json_object *o = NULL;
        char err[128];
        assert_int_equal(json_parse(ok[i], strlen(ok[i]), &o, err, sizeof err), 0);
        json_object_put(o);
    }
}

static void verr_keeps_client_keys_whole(void **state)
{
    (void)state;
    struct json_object *o = json_tokener_parse("{\"a.b\":1}");
    struct json_verr v;
    json_verr_init(&v);
    const char *s;
    assert_int_equal(json_field_string(o, "a.b", 0, 10, &v, &s), -1);
    struct json_object *loc = json_object_object_get(json_object_array_get_idx(v.list, 0), "loc");
    assert_string_equal(json_object_to_json_string_ext(loc, JSON_C_TO_STRING_PLAIN),
                        "[\"body\",\"a.b\"]");
    json_verr_release(&v);
    json_object_put(o);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(parse_refuses_nan_infinity_and_bad_utf8),
    cmocka_unit_test(parse_accepts_top_level_scalars),
    cmocka_unit_test(verr_keeps_client_keys_whole),
    cmocka_unit_test(parse_accepts_one_object_with_surrounding_whitespace),
    cmocka_unit_test(parse_rejects_empty_input),
    cmocka_unit_test(parse_rejects_data_after_the_value),
    cmocka_unit_test(parse_rejects_nul_byte_even_inside_a_string),
    cmocka_unit_test(parse_reports_unterminated_input),
    cmocka_unit_test(parse_reports_syntax_errors_with_position),
    cmocka_unit_test(parse_stops_at_the_depth_limit),
    cmocka_unit_test(parse_keeps_the_last_duplicate_key),
    cmocka_unit_test(verr_starts_empty_and_counts),
    cmocka_unit_test(verr_loc_numeric_parts_become_integers),
    cmocka_unit_test(verr_long_loc_part_is_bounded),
    cmocka_unit_test(verr_keeps_a_reference_to_input),
    cmocka_unit_test(absent_or_null_fields_read_as_zero_without_error),
    cmocka_unit_test(present_fields_of_the_right_type_read_as_one),
    cmocka_unit_test(wrong_types_give_fastapi_errors),
    cmocka_unit_test(string_length_is_bounded_in_bytes),
    cmocka_unit_test(string_with_escaped_nul_is_refused),
    cmocka_unit_test(int_bounds_are_inclusive_and_named),
    cmocka_unit_test(readers_record_errors_in_call_order),
    cmocka_unit_test(forbid_extra_names_every_unknown_key),
    cmocka_unit_test(time_iso_has_vexa_microsecond_shape),
    cmocka_unit_test(time_iso_of_zero_or_negative_is_empty),
    cmocka_unit_test(time_iso_truncates_to_the_buffer),
    cmocka_unit_test(add_helpers_build_the_expected_object),
};

HARNESS_MAIN(tests)
