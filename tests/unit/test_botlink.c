/* The bot link's messages: every accepted shape, and refusals that name
 * what is wrong (HARK_EPARSE for non-objects, HARK_EINVAL for the rest). */
#include "harness.h"

#include <string.h>

#include "hark/botlink.h"

static int report(const char *s, struct botlink_report *r)
{
    return botlink_report_parse(s, strlen(s), r);
}

static int reply(const char *s, struct botlink_reply *r)
{
    return botlink_reply_parse(s, strlen(s), r);
}

static void reports_of_every_kind_parse(void **state)
{
    (void)state;
    struct botlink_report r;
    assert_int_equal(report("{\"type\":\"status\",\"status\":\"awaiting_admission\"}", &r), 0);
    assert_int_equal(r.kind, BOTLINK_STATUS);
    assert_string_equal(r.status, "awaiting_admission");
    assert_int_equal(report("{\"type\":\"end\",\"reason\":\"source_ended\"}", &r), 0);
    assert_int_equal(r.kind, BOTLINK_END);
    assert_string_equal(r.reason, "source_ended");
    assert_int_equal(report("{\"type\":\"failed\",\"detail\":\"no_publisher\",\"message\":\"m\"}",
                            &r), 0);
    assert_int_equal(r.kind, BOTLINK_FAILED);
    assert_string_equal(r.detail, "no_publisher");
    assert_string_equal(r.message, "m");
    assert_int_equal(report("{\"type\":\"failed\"}", &r), 0);
    assert_string_equal(r.detail, "bot_failed");
    assert_string_equal(r.message, "");
}

static void bad_reports_are_refused(void **state)
{
    (void)state;
    struct botlink_report r;
    assert_int_equal(report("not json", &r), HARK_EPARSE);
    assert_int_equal(report("[1]", &r), HARK_EPARSE);
    assert_int_equal(report("{\"type\":\"status\",\"status\":\"completed\"}", &r), HARK_EINVAL);
    assert_int_equal(report("{\"type\":\"status\"}", &r), HARK_EINVAL);
    assert_int_equal(report("{\"type\":\"end\",\"reason\":\"bored\"}", &r), HARK_EINVAL);
    assert_int_equal(report("{\"type\":\"failed\",\"detail\":\"Bad Detail\"}", &r), HARK_EINVAL);
    assert_int_equal(report("{\"type\":\"dance\"}", &r), HARK_EINVAL);
    assert_int_equal(report("{\"status\":\"active\"}", &r), HARK_EINVAL);
}

static void a_long_message_is_cut_at_a_character_boundary(void **state)
{
    (void)state;
    char msg[700] = "{\"type\":\"failed\",\"message\":\"";
    size_t n = strlen(msg);
    for (int i = 0; i < 200; i++) { /* "é" is two bytes: 400 bytes of text */
        msg[n++] = (char)0xC3;
        msg[n++] = (char)0xA9;
    }
    memcpy(msg + n, "\"}", 3);
    struct botlink_report r;
    assert_int_equal(report(msg, &r), 0);
    assert_int_equal(strlen(r.message), 256);
    assert_int_equal((unsigned char)r.message[255], 0xA9); /* ends on a whole "é" */
}

static void replies_parse_and_bad_ones_are_refused(void **state)
{
    (void)state;
    struct botlink_reply r;
    assert_int_equal(reply("{\"type\":\"ack\",\"durable_ms\":1200}", &r), 0);
    assert_int_equal(r.kind, BOTLINK_ACK);
    assert_int_equal(r.durable_ms, 1200);
    assert_int_equal(reply("{\"type\":\"stop\"}", &r), 0);
    assert_int_equal(r.kind, BOTLINK_STOP);
    assert_int_equal(reply("{\"type\":\"done\"}", &r), 0);
    assert_int_equal(r.kind, BOTLINK_DONE);
    assert_int_equal(reply("{\"type\":\"error\",\"error\":\"invalid_bot_token\"}", &r), 0);
    assert_int_equal(r.kind, BOTLINK_ERROR);
    assert_string_equal(r.error, "invalid_bot_token");
    assert_int_equal(reply("{\"type\":\"ack\",\"durable_ms\":-1}", &r), HARK_EINVAL);
    assert_int_equal(reply("{\"type\":\"ack\",\"durable_ms\":\"1\"}", &r), HARK_EINVAL);
    assert_int_equal(reply("{\"type\":\"ack\"}", &r), HARK_EINVAL);
    assert_int_equal(reply("{\"type\":\"later\"}", &r), HARK_EINVAL);
    assert_int_equal(reply("", &r), HARK_EPARSE);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(reports_of_every_kind_parse),
    cmocka_unit_test(bad_reports_are_refused),
    cmocka_unit_test(a_long_message_is_cut_at_a_character_boundary),
    cmocka_unit_test(replies_parse_and_bad_ones_are_refused),
};

HARNESS_MAIN(tests)
