#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "hark/buf.h"
#include "hark/error.h"
#include "hark/mem.h"
#include "hark/webhook.h"

#define EVT "evt_00112233445566778899aabbccddeeff"
#define TS 1767225600 /* 2026-01-01T00:00:00Z */
#define BODY "{\"event_id\":\"" EVT "\",\"event_type\":\"meeting.completed\"}"
/* python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_test",
 *   b"1767225600." + BODY, hashlib.sha256).hexdigest())' */
#define BODY_SIG "sha256=1b77abd677daf84041ce1e0a0bfb23d8579a164133f74c9fca5b6bb9295a66ac"
/* The same with b"abcdefghij" * 10: a key longer than SHA-256's block. */
#define LONG_KEY_SIG "sha256=84b986e01d016701c90851cf7996bfedd55c5539dd20821b077caee2429cb77f"
/* The same with key b"whsec_test" over b"1767225600." (empty body). */
#define EMPTY_SIG "sha256=bc5f22c68024f86d3be1b4ddd6417a119940e00ea9c5f409f8e48b2b4c7c771f"

/* ---- envelope ------------------------------------------------------------ */

static void event_id_is_evt_and_32_lowercase_hex_and_fresh(void **state)
{
    (void)state;
    char a[WEBHOOK_EVENT_ID_SIZE], b[WEBHOOK_EVENT_ID_SIZE];
    assert_int_equal(webhook_event_id(a), 0);
    assert_int_equal(webhook_event_id(b), 0);
    assert_int_equal(strlen(a), 36);
    assert_memory_equal(a, "evt_", 4);
    for (size_t i = 4; i < 36; i++)
        assert_non_null(strchr("0123456789abcdef", a[i]));
    assert_string_not_equal(a, b);
}

static struct json_object *meeting_data(void)
{
    struct json_object *data = json_tokener_parse("{\"meeting\":{\"id\":7,\"status\":\"completed\"}}");
    assert_non_null(data);
    return data;
}

static void envelope_has_the_exact_bytes_vexa_receivers_parse(void **state)
{
    (void)state;
    struct json_object *data = meeting_data();
    struct hbuf out;
    hbuf_init(&out, 0);
    assert_int_equal(webhook_envelope("meeting.completed", EVT, (int64_t)TS * 1000 + 123, data,
                                      &out), 0);
    assert_string_equal(out.data,
                        "{\"event_id\":\"" EVT "\",\"event_type\":\"meeting.completed\","
                        "\"api_version\":\"2026-03-01\","
                        "\"created_at\":\"2026-01-01T00:00:00.123000Z\","
                        "\"data\":{\"meeting\":{\"id\":7,\"status\":\"completed\"}}}");
    hbuf_release(&out);
    json_object_put(data);
}

static void envelope_appends_and_restores_the_buffer_on_failure(void **state)
{
    (void)state;
    struct json_object *data = meeting_data();
    struct hbuf out;
    hbuf_init(&out, 0);
    assert_int_equal(hbuf_puts(&out, "kept"), 0);
    assert_int_equal(webhook_envelope("meeting.completed", EVT, 1, data, &out), 0);
    assert_memory_equal(out.data, "kept{\"event_id\":", 16);
    size_t full = out.len;
    hbuf_release(&out);

    /* Limits that stop it in the opening, in data, and at the closing '}'. */
    size_t limits[] = {40, full - 10, full - 1};
    for (size_t i = 0; i < 3; i++) {
        hbuf_init(&out, limits[i]);
        assert_int_equal(hbuf_puts(&out, "kept"), 0);
        assert_int_equal(webhook_envelope("meeting.completed", EVT, 1, data, &out), HARK_ETOOBIG);
        assert_int_equal(out.len, 4);
        assert_string_equal(out.data, "kept");
        hbuf_release(&out);
    }
    json_object_put(data);
}

static void envelope_refuses_what_it_would_have_to_escape_or_cannot_date(void **state)
{
    (void)state;
    struct json_object *data = meeting_data();
    struct json_object *array = json_object_new_array();
    struct hbuf out;
    hbuf_init(&out, 0);
    assert_int_equal(webhook_envelope("meeting\"x", EVT, 1, data, &out), HARK_EINVAL);
    assert_int_equal(webhook_envelope("Meeting.Completed", EVT, 1, data, &out), HARK_EINVAL);
    assert_int_equal(webhook_envelope("", EVT, 1, data, &out), HARK_EINVAL);
    assert_int_equal(webhook_envelope("meeting.completed", "evt_", 1, data, &out), HARK_EINVAL);
    assert_int_equal(webhook_envelope("meeting.completed", "ev_12", 1, data, &out), HARK_EINVAL);
    assert_int_equal(webhook_envelope("meeting.completed", "evt_a\"b", 1, data, &out),
                     HARK_EINVAL);
    assert_int_equal(webhook_envelope("meeting.completed", EVT, 0, data, &out), HARK_EINVAL);
    assert_int_equal(webhook_envelope("meeting.completed", EVT, INT64_MAX, data, &out),
                     HARK_EINVAL);
    assert_int_equal(webhook_envelope("meeting.completed", EVT, 1, array, &out), HARK_EINVAL);
    assert_int_equal(webhook_envelope("meeting.completed", EVT, 1, NULL, &out), HARK_EINVAL);
    assert_int_equal(out.len, 0);
    hbuf_release(&out);
    json_object_put(array);
    json_object_put(data);
}

static void envelope_allocation_failures_return_enomem_and_leave_buffer(void **state)
{
    (void)state;
    struct json_object *data = meeting_data();
    int rc = HARK_ENOMEM;
    long n;
    for (n = 0; rc == HARK_ENOMEM; n++) {
        struct hbuf out;
        hbuf_init(&out, 0);
        hark_mem_fail_after(n);
        rc = webhook_envelope("meeting.completed", EVT, 1, data, &out);
        hark_mem_fail_after(-1);
        if (rc) {
            assert_int_equal(rc, HARK_ENOMEM);
            assert_int_equal(out.len, 0);
        }
        hbuf_release(&out);
        harness_assert_no_leaks();
    }
    assert_int_equal(rc, 0);
    assert_true(n > 1);
    json_object_put(data);
}

/* ---- signature ----------------------------------------------------------- */

static void signature_matches_python_hmac_vectors(void **state)
{
    (void)state;
    char sig[WEBHOOK_SIGNATURE_SIZE];
    assert_int_equal(webhook_sign("whsec_test", TS, BODY, strlen(BODY), sig), 0);
    assert_string_equal(sig, BODY_SIG);
    assert_int_equal(webhook_sign("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
                                  "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
                                  TS, BODY, strlen(BODY), sig), 0);
    assert_string_equal(sig, LONG_KEY_SIG);
    assert_int_equal(webhook_sign("whsec_test", TS, NULL, 0, sig), 0);
    assert_string_equal(sig, EMPTY_SIG);
}

static void signing_refuses_missing_secret_and_negative_time(void **state)
{
    (void)state;
    char sig[WEBHOOK_SIGNATURE_SIZE];
    assert_int_equal(webhook_sign(NULL, TS, BODY, 3, sig), HARK_EINVAL);
    assert_int_equal(webhook_sign("", TS, BODY, 3, sig), HARK_EINVAL);
    assert_int_equal(webhook_sign("k", -1, BODY, 3, sig), HARK_EINVAL);
    assert_int_equal(webhook_sign("k", TS, NULL, 3, sig), HARK_EINVAL);
}

static void verify_accepts_a_signed_request_within_tolerance(void **state)
{
    (void)state;
    size_t len = strlen(BODY);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, BODY, len, TS, 300), 0);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, BODY, len,
                                    TS + 300, 300), 0);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, BODY, len,
                                    TS - 300, 300), 0);
    /* Receivers may print hex either way. */
    char upper[WEBHOOK_SIGNATURE_SIZE];
    memcpy(upper, BODY_SIG, sizeof upper);
    for (char *p = upper + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(webhook_verify("whsec_test", "1767225600", upper, BODY, len, TS, 300), 0);
}

static void verify_rejects_tampering_wrong_secret_and_other_timestamps(void **state)
{
    (void)state;
    char body[] = BODY;
    size_t len = strlen(body);
    assert_int_equal(webhook_verify("whsec_tesT", "1767225600", BODY_SIG, body, len, TS, 300),
                     HARK_EPERM);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, body, len - 1, TS, 300),
                     HARK_EPERM);
    assert_int_equal(webhook_verify("whsec_test", "1767225601", BODY_SIG, body, len, TS, 300),
                     HARK_EPERM);
    body[10] ^= 1;
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, body, len, TS, 300),
                     HARK_EPERM);
    char sig[] = BODY_SIG;
    sig[sizeof sig - 2] = sig[sizeof sig - 2] == '0' ? '1' : '0';
    assert_int_equal(webhook_verify("whsec_test", "1767225600", sig, BODY, len, TS, 300),
                     HARK_EPERM);
}

static void verify_rejects_stale_and_future_timestamps(void **state)
{
    (void)state;
    size_t len = strlen(BODY);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, BODY, len,
                                    TS + 301, 300), HARK_ERANGE);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, BODY, len,
                                    TS - 301, 300), HARK_ERANGE);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, BODY, len,
                                    TS + 86400 * 365, 300), HARK_ERANGE);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, BODY, len, TS + 1, 0),
                     HARK_ERANGE);
}

static void verify_rejects_malformed_headers(void **state)
{
    (void)state;
    size_t len = strlen(BODY);
    static const char *const bad_ts[] = {"", "17672256OO", "-1767225600", " 1767225600",
                                         "1767225600 ", "+1767225600", "1e9",
                                         "1234567890123456789"};
    for (size_t i = 0; i < sizeof bad_ts / sizeof *bad_ts; i++)
        assert_int_equal(webhook_verify("whsec_test", bad_ts[i], BODY_SIG, BODY, len, TS, 300),
                         HARK_EPARSE);
    static const char *const bad_sig[] = {
        "", "sha256=", &BODY_SIG[7], "sha1=1b77abd677daf84041ce1e0a0bfb23d8579a1641",
        "SHA256=1b77abd677daf84041ce1e0a0bfb23d8579a164133f74c9fca5b6bb9295a66ac",
        "sha256=1b77abd677daf84041ce1e0a0bfb23d8579a164133f74c9fca5b6bb9295a66a",
        "sha256=1b77abd677daf84041ce1e0a0bfb23d8579a164133f74c9fca5b6bb9295a66acc",
        "sha256=1b77abd677daf84041ce1e0a0bfb23d8579a164133f74c9fca5b6bb9295a66ag",
        "sha256= 1b77abd677daf84041ce1e0a0bfb23d8579a164133f74c9fca5b6bb9295a66a"};
    for (size_t i = 0; i < sizeof bad_sig / sizeof *bad_sig; i++)
        assert_int_equal(webhook_verify("whsec_test", "1767225600", bad_sig[i], BODY, len, TS,
                                        300), HARK_EPARSE);
    assert_int_equal(webhook_verify("", "1767225600", BODY_SIG, BODY, len, TS, 300), HARK_EINVAL);
    assert_int_equal(webhook_verify("whsec_test", NULL, BODY_SIG, BODY, len, TS, 300),
                     HARK_EINVAL);
    assert_int_equal(webhook_verify("whsec_test", "1767225600", BODY_SIG, BODY, len, TS, -1),
                     HARK_EINVAL);
}

struct lines {
    int n;
    int stop_at; /* return 99 from this line on; -1 never */
    char line[8][200];
};

static int collect(void *arg, const char *line)
{
    struct lines *l = arg;
    assert_true(l->n < 8);
    snprintf(l->line[l->n], sizeof l->line[l->n], "%s", line);
    return l->n++ == l->stop_at ? 99 : 0;
}

static void headers_with_a_secret_are_vexas_four_lines(void **state)
{
    (void)state;
    struct lines l = {.stop_at = -1};
    assert_int_equal(webhook_headers_emit("whsec_test", TS, BODY, strlen(BODY), collect, &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.line[0], "Content-Type: application/json");
    assert_string_equal(l.line[1], "Authorization: Bearer whsec_test");
    assert_string_equal(l.line[2], "X-Webhook-Signature: " BODY_SIG);
    assert_string_equal(l.line[3], "X-Webhook-Timestamp: 1767225600");
}

static void headers_trim_the_secret_as_vexa_does(void **state)
{
    (void)state;
    struct lines l = {.stop_at = -1};
    assert_int_equal(webhook_headers_emit(" \twhsec_test\r\n", TS, BODY, strlen(BODY), collect,
                                          &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.line[1], "Authorization: Bearer whsec_test");
    assert_string_equal(l.line[2], "X-Webhook-Signature: " BODY_SIG);
}

static void headers_without_a_secret_are_content_type_only(void **state)
{
    (void)state;
    static const char *const none[] = {NULL, "", "  \t\n"};
    for (size_t i = 0; i < 3; i++) {
        struct lines l = {.stop_at = -1};
        assert_int_equal(webhook_headers_emit(none[i], TS, BODY, strlen(BODY), collect, &l), 0);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.line[0], "Content-Type: application/json");
    }
}

static void headers_refuse_a_secret_that_would_forge_header_lines(void **state)
{
    (void)state;
    struct lines l = {.stop_at = -1};
    assert_int_equal(webhook_headers_emit("abc\r\nX-Evil: 1", TS, BODY, 3, collect, &l),
                     HARK_EINVAL);
    assert_int_equal(webhook_headers_emit("abc\x7f", TS, BODY, 3, collect, &l), HARK_EINVAL);
    assert_int_equal(webhook_headers_emit("abc", -1, BODY, 3, collect, &l), HARK_EINVAL);
    assert_int_equal(l.n, 0);
}

static void headers_stop_at_the_first_callback_error(void **state)
{
    (void)state;
    for (int stop = 0; stop < 4; stop++) {
        struct lines l = {.stop_at = stop};
        assert_int_equal(webhook_headers_emit("k", TS, BODY, 3, collect, &l), 99);
        assert_int_equal(l.n, stop + 1);
    }
}

static void headers_allocation_failures_return_enomem(void **state)
{
    (void)state;
    int rc = HARK_ENOMEM;
    long n;
    for (n = 0; rc == HARK_ENOMEM; n++) {
        struct lines l = {.stop_at = -1};
        hark_mem_fail_after(n);
        rc = webhook_headers_emit("whsec_test", TS, BODY, 3, collect, &l);
        hark_mem_fail_after(-1);
        assert_true(rc == 0 || rc == HARK_ENOMEM);
        harness_assert_no_leaks();
    }
    assert_int_equal(rc, 0);
    assert_true(n > 1);
}

/* ---- retries ------------------------------------------------------------- */

static void default_schedule_waits_1m_5m_30m_2h_then_dead_letters(void **state)
{
    (void)state;
    struct webhook_schedule s = webhook_schedule_default();
    assert_int_equal(s.jitter_permille, 100);
    s.jitter_permille = 0;
    static const int64_t want[] = {60000, 300000, 1800000, 7200000};
    int64_t next = -1;
    for (int i = 1; i <= 4; i++) {
        assert_int_equal(webhook_next_attempt(i, 1000, &s, EVT, &next), 0);
        assert_int_equal(next, 1000 + want[i - 1]);
    }
    next = -1;
    assert_int_equal(webhook_next_attempt(5, 1000, &s, EVT, &next), HARK_ENOENT);
    assert_int_equal(webhook_next_attempt(9, 1000, &s, EVT, &next), HARK_ENOENT);
    assert_int_equal(next, -1);
    assert_int_equal(webhook_next_attempt(0, 1000, &s, EVT, &next), HARK_EINVAL);
}

static void tests_can_shorten_the_schedule(void **state)
{
    (void)state;
    struct webhook_schedule s = {.delay_ms = {10, 20, 30}, .retries = 3};
    int64_t next;
    assert_int_equal(webhook_next_attempt(1, 5, &s, EVT, &next), 0);
    assert_int_equal(next, 15);
    assert_int_equal(webhook_next_attempt(3, 5, &s, EVT, &next), 0);
    assert_int_equal(next, 35);
    assert_int_equal(webhook_next_attempt(4, 5, &s, EVT, &next), HARK_ENOENT);
    s.retries = 0;
    assert_int_equal(webhook_next_attempt(1, 5, &s, EVT, &next), HARK_ENOENT);
}

static void jitter_stays_within_ten_percent_and_is_deterministic(void **state)
{
    (void)state;
    struct webhook_schedule s = webhook_schedule_default();
    for (int attempt = 1; attempt <= 4; attempt++) {
        int64_t d = s.delay_ms[attempt - 1], lo = INT64_MAX, hi = INT64_MIN;
        int64_t prev = -1;
        int changes = 0;
        for (int i = 0; i < 1000; i++) {
            char id[WEBHOOK_EVENT_ID_SIZE];
            snprintf(id, sizeof id, "evt_%032x", (unsigned)i);
            int64_t a, b;
            assert_int_equal(webhook_next_attempt(attempt, 0, &s, id, &a), 0);
            assert_int_equal(webhook_next_attempt(attempt, 0, &s, id, &b), 0);
            assert_int_equal(a, b);
            assert_true(a >= d - d / 10 && a <= d + d / 10);
            lo = a < lo ? a : lo;
            hi = a > hi ? a : hi;
            changes += a != prev;
            prev = a;
        }
        /* Spread over the whole band, not bunched: no lockstep. */
        assert_true(lo < d - d / 12);
        assert_true(hi > d + d / 12);
        assert_true(changes > 990);
    }
}

static void jitter_of_one_event_differs_between_attempts(void **state)
{
    (void)state;
    struct webhook_schedule s = {.delay_ms = {100000, 100000, 100000}, .retries = 3,
                                 .jitter_permille = 100};
    int64_t a, b, c;
    assert_int_equal(webhook_next_attempt(1, 0, &s, EVT, &a), 0);
    assert_int_equal(webhook_next_attempt(2, 0, &s, EVT, &b), 0);
    assert_int_equal(webhook_next_attempt(3, 0, &s, EVT, &c), 0);
    assert_true(a != b || b != c);
}

static void schedule_refuses_bad_shapes_and_overflow(void **state)
{
    (void)state;
    struct webhook_schedule s = webhook_schedule_default();
    int64_t next;
    assert_int_equal(webhook_next_attempt(1, INT64_MAX - 5, &s, EVT, &next), HARK_ERANGE);
    assert_int_equal(webhook_next_attempt(1, 0, &s, NULL, &next), HARK_EINVAL);
    s.jitter_permille = 1001;
    assert_int_equal(webhook_next_attempt(1, 0, &s, EVT, &next), HARK_EINVAL);
    s = webhook_schedule_default();
    s.retries = WEBHOOK_RETRIES_MAX + 1;
    assert_int_equal(webhook_next_attempt(1, 0, &s, EVT, &next), HARK_EINVAL);
    s = webhook_schedule_default();
    s.delay_ms[2] = -1;
    assert_int_equal(webhook_next_attempt(1, 0, &s, EVT, &next), HARK_EINVAL);
    s.delay_ms[2] = WEBHOOK_DELAY_MAX_MS + 1;
    assert_int_equal(webhook_next_attempt(1, 0, &s, EVT, &next), HARK_EINVAL);
    s.delay_ms[2] = WEBHOOK_DELAY_MAX_MS;
    s.jitter_permille = 1000;
    assert_int_equal(webhook_next_attempt(3, 0, &s, EVT, &next), 0);
    assert_true(next >= 0 && next <= 2 * WEBHOOK_DELAY_MAX_MS);
}

static void retryable_only_for_transport_errors_408_429_and_5xx(void **state)
{
    (void)state;
    static const struct {
        long status;
        int transport_error, want;
    } table[] = {
        {0, 1, 1},   {0, 0, 1},   {200, 1, 1}, {99, 0, 1},  {600, 0, 1}, {408, 0, 1},
        {429, 0, 1}, {500, 0, 1}, {502, 0, 1}, {503, 0, 1}, {504, 0, 1}, {599, 0, 1},
        {301, 0, 0}, {302, 0, 0}, {307, 0, 0}, {400, 0, 0}, {401, 0, 0}, {403, 0, 0},
        {404, 0, 0}, {405, 0, 0}, {409, 0, 0}, {410, 0, 0}, {413, 0, 0}, {422, 0, 0},
        {499, 0, 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (webhook_retryable(table[i].status, table[i].transport_error) != table[i].want)
            fail_msg("status %ld transport_error %d: want %d", table[i].status,
                     table[i].transport_error, table[i].want);
    }
}

/* ---- target safety ------------------------------------------------------- */

#define OK 0
#define NO HARK_EINVAL

static const struct {
    const char *url;
    int strict, lax; /* want with allow_private 0 and 1 */
} url_table[] = {
    /* public targets */
    {"https://hooks.example.com/hark", OK, OK},
    {"http://example.com:8080/path?q=1#frag", OK, OK},
    {"HTTPS://Example.COM/", OK, OK},
    {"https://8.8.8.8/", OK, OK},
    {"https://[2606:4700:4700::1111]/", OK, OK},
    {"https://[::ffff:8.8.8.8]/", OK, OK},
    {"https://a_b.example.com/", OK, OK},
    {"https://1e100.net/", OK, OK},
    {"https://example.com./", OK, OK},
    {"http://172.15.255.255/", OK, OK},
    {"http://172.32.0.0/", OK, OK},
    {"http://100.63.255.255/", OK, OK},
    {"http://100.128.0.0/", OK, OK},
    {"http://192.169.0.1/", OK, OK},
    {"http://223.255.255.255/", OK, OK},
    {"http://localhost.example.com/", OK, OK},
    {"http://notlocalhost/", OK, OK},
    /* refused whatever the operator allows */
    {"", NO, NO},
    {"ftp://example.com/", NO, NO},
    {"file:///etc/passwd", NO, NO},
    {"gopher://example.com/", NO, NO},
    {"example.com/hook", NO, NO},
    {"//example.com/hook", NO, NO},
    {"https://user:pw@example.com/", NO, NO},
    {"https://@example.com/", NO, NO},
    {"https://example.com\\@127.0.0.1/", NO, NO},
    {"https://example.com:0/", NO, NO},
    {"https://example.com:99999/", NO, NO},
    {"https://exa mple.com/", NO, NO},
    {"https://ex\tample.com/", NO, NO},
    {"https://\xe2\x93\x9b" "ocalhost/", NO, NO},
    {"https://1.2.3.4.5/", NO, NO},
    {"https://09.1.1.1/", NO, NO},
    {"https://example.123/", NO, NO},
    {"https://1.256.0.0/", NO, NO},
    {"https://a..b/", NO, NO},
    {"https://a_b!c.example/", NO, NO},
    {"https://[::1/", NO, NO},
    {"https:///", NO, NO},
    /* refused unless the operator allows private targets */
    {"http://127.0.0.1/", NO, OK},
    {"http://127.1/", NO, OK},
    {"http://2130706433/", NO, OK},
    {"http://0x7f.1/", NO, OK},
    {"http://0x7F000001/", NO, OK},
    {"http://017700000001/", NO, OK},
    {"http://0177.0.0.01/", NO, OK},
    {"http://127.0.0.1./", NO, OK},
    {"http://%31%32%37.0.0.1/", NO, OK},
    {"http://0/", NO, OK},
    {"http://0.0.0.0:8080/", NO, OK},
    {"http://10.1.2.3/", NO, OK},
    {"http://167772161/", NO, OK},
    {"http://172.16.0.1/", NO, OK},
    {"http://172.31.255.255/", NO, OK},
    {"http://192.168.1.1/", NO, OK},
    {"http://0xc0.0xa8.1.1/", NO, OK},
    {"http://169.254.169.254/latest/meta-data/", NO, OK},
    {"http://100.64.0.1/", NO, OK},
    {"http://100.127.255.255/", NO, OK},
    {"http://224.0.0.1/", NO, OK},
    {"http://255.255.255.255/", NO, OK},
    {"http://localhost/", NO, OK},
    {"http://LOCALHOST:9000/", NO, OK},
    {"http://localhost./", NO, OK},
    {"http://api.localhost/", NO, OK},
    {"http://[::1]/", NO, OK},
    {"http://[::]/", NO, OK},
    {"http://[0:0:0:0:0:0:0:1]/", NO, OK},
    {"http://[::ffff:127.0.0.1]/", NO, OK},
    {"http://[::ffff:7f00:1]/", NO, OK},
    {"http://[0:0:0:0:0:ffff:a9fe:a9fe]/", NO, OK},
    {"http://[::127.0.0.1]/", NO, OK},
    {"http://[64:ff9b::10.0.0.1]/", NO, OK},
    {"http://[2002:c0a8:101::1]/", NO, OK},
    {"http://[fe80::1]/", NO, OK},
    {"http://[fe80::1%25eth0]/", NO, OK},
    {"http://[febf::1]/", NO, OK},
    {"http://[fc00::1]/", NO, OK},
    {"http://[fd12:3456::1]/", NO, OK},
    {"http://[fec0::1]/", NO, OK},
    {"http://[ff02::1]/", NO, OK},
};

static void url_check_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof url_table / sizeof *url_table; i++) {
        for (int lax = 0; lax <= 1; lax++) {
            char why[160] = "";
            int want = lax ? url_table[i].lax : url_table[i].strict;
            int rc = webhook_url_check(url_table[i].url, lax, why, sizeof why);
            if (rc != want)
                fail_msg("%s allow_private=%d: got %d want %d (%s)", url_table[i].url, lax, rc,
                         want, why);
            if (rc && !why[0])
                fail_msg("%s: refused without a reason", url_table[i].url);
        }
    }
}

static void url_check_says_why_and_tolerates_no_buffer(void **state)
{
    (void)state;
    char why[160];
    assert_int_equal(webhook_url_check("http://0x7f.1/", 0, why, sizeof why), HARK_EINVAL);
    assert_non_null(strstr(why, "loopback"));
    assert_int_equal(webhook_url_check("http://[fd00::1]/", 0, why, sizeof why), HARK_EINVAL);
    assert_non_null(strstr(why, "unique-local"));
    assert_int_equal(webhook_url_check("ftp://example.com/", 0, why, sizeof why), HARK_EINVAL);
    assert_non_null(strstr(why, "http"));
    char tiny[4] = "xxx";
    assert_int_equal(webhook_url_check("http://localhost/", 0, tiny, sizeof tiny), HARK_EINVAL);
    assert_int_equal(strlen(tiny), 3);
    assert_int_equal(webhook_url_check("http://localhost/", 0, NULL, 0), HARK_EINVAL);
    assert_int_equal(webhook_url_check(NULL, 1, NULL, 0), HARK_EINVAL);
}

static void url_check_refuses_urls_past_the_length_limit(void **state)
{
    (void)state;
    static char url[WEBHOOK_URL_MAX + 2];
    size_t n = (size_t)snprintf(url, sizeof url, "https://example.com/");
    memset(url + n, 'a', WEBHOOK_URL_MAX - n);
    url[WEBHOOK_URL_MAX] = '\0';
    assert_int_equal(webhook_url_check(url, 0, NULL, 0), 0);
    url[WEBHOOK_URL_MAX] = 'a';
    url[WEBHOOK_URL_MAX + 1] = '\0';
    assert_int_equal(webhook_url_check(url, 0, NULL, 0), HARK_EINVAL);
}

static int addr_allowed(const char *text, int allow_private)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    else
        fail_msg("bad address %s", text);
    return webhook_addr_allowed((struct sockaddr *)&ss, allow_private);
}

static void resolved_addresses_are_checked_like_literals(void **state)
{
    (void)state;
    static const struct {
        const char *addr;
        int want;
    } table[] = {
        {"93.184.216.34", 1},   {"8.8.8.8", 1},          {"2606:4700::1", 1},
        {"::ffff:1.1.1.1", 1},  {"172.15.0.1", 1},       {"127.0.0.1", 0},
        {"127.255.255.254", 0}, {"0.0.0.0", 0},          {"10.255.0.1", 0},
        {"100.64.1.1", 0},      {"169.254.169.254", 0},  {"172.20.0.1", 0},
        {"192.168.0.10", 0},    {"239.255.255.250", 0},  {"255.255.255.255", 0},
        {"::", 0},              {"::1", 0},              {"::ffff:127.0.0.1", 0},
        {"::ffff:10.0.0.1", 0}, {"::192.168.0.1", 0},    {"64:ff9b::a9fe:a9fe", 0},
        {"2002:7f00:1::", 0},   {"fe80::abcd", 0},       {"fc00::", 0},
        {"fdff:ffff::1", 0},    {"fec0::1", 0},          {"ff05::2", 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (addr_allowed(table[i].addr, 0) != table[i].want)
            fail_msg("%s: want %d", table[i].addr, table[i].want);
        assert_int_equal(addr_allowed(table[i].addr, 1), 1);
    }
}

static void other_address_families_are_refused_always(void **state)
{
    (void)state;
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    assert_int_equal(webhook_addr_allowed((struct sockaddr *)&un, 0), 0);
    assert_int_equal(webhook_addr_allowed((struct sockaddr *)&un, 1), 0);
    assert_int_equal(webhook_addr_allowed(NULL, 1), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(event_id_is_evt_and_32_lowercase_hex_and_fresh),
    cmocka_unit_test(envelope_has_the_exact_bytes_vexa_receivers_parse),
    cmocka_unit_test(envelope_appends_and_restores_the_buffer_on_failure),
    cmocka_unit_test(envelope_refuses_what_it_would_have_to_escape_or_cannot_date),
    cmocka_unit_test(envelope_allocation_failures_return_enomem_and_leave_buffer),
    cmocka_unit_test(signature_matches_python_hmac_vectors),
    cmocka_unit_test(signing_refuses_missing_secret_and_negative_time),
    cmocka_unit_test(verify_accepts_a_signed_request_within_tolerance),
    cmocka_unit_test(verify_rejects_tampering_wrong_secret_and_other_timestamps),
    cmocka_unit_test(verify_rejects_stale_and_future_timestamps),
    cmocka_unit_test(verify_rejects_malformed_headers),
    cmocka_unit_test(headers_with_a_secret_are_vexas_four_lines),
    cmocka_unit_test(headers_trim_the_secret_as_vexa_does),
    cmocka_unit_test(headers_without_a_secret_are_content_type_only),
    cmocka_unit_test(headers_refuse_a_secret_that_would_forge_header_lines),
    cmocka_unit_test(headers_stop_at_the_first_callback_error),
    cmocka_unit_test(headers_allocation_failures_return_enomem),
    cmocka_unit_test(default_schedule_waits_1m_5m_30m_2h_then_dead_letters),
    cmocka_unit_test(tests_can_shorten_the_schedule),
    cmocka_unit_test(jitter_stays_within_ten_percent_and_is_deterministic),
    cmocka_unit_test(jitter_of_one_event_differs_between_attempts),
    cmocka_unit_test(schedule_refuses_bad_shapes_and_overflow),
    cmocka_unit_test(retryable_only_for_transport_errors_408_429_and_5xx),
    cmocka_unit_test(url_check_table),
    cmocka_unit_test(url_check_says_why_and_tolerates_no_buffer),
    cmocka_unit_test(url_check_refuses_urls_past_the_length_limit),
    cmocka_unit_test(resolved_addresses_are_checked_like_literals),
    cmocka_unit_test(other_address_families_are_refused_always),
};

HARNESS_MAIN(tests)
