#include "harness.h"

#include <string.h>

#include "hark/meeting_events.h"
#include "hark/store.h"

static struct store_meeting meeting(char *status)
{
    static char platform[] = "file", native[] = "call-1", data[] = "{\"bot_name\":\"Hark\"}";
    static char reason[] = "stopped";
    return (struct store_meeting){.id = 7, .user_id = 3, .platform = platform,
                                  .native_meeting_id = native, .status = status,
                                  .completion_reason = reason, .data_json = data,
                                  .created_at_ms = 1767225600000, .updated_at_ms = 1767225601000};
}

static void event_id_is_stable_and_distinct_per_status_and_type(void **state)
{
    (void)state;
    char a[WEBHOOK_EVENT_ID_SIZE], b[WEBHOOK_EVENT_ID_SIZE], c[WEBHOOK_EVENT_ID_SIZE];
    char d[WEBHOOK_EVENT_ID_SIZE];
    assert_int_equal(meeting_event_id(7, "completed", MEETING_EVENT_STATUS_CHANGE, a), 0);
    assert_int_equal(meeting_event_id(7, "completed", MEETING_EVENT_STATUS_CHANGE, b), 0);
    assert_int_equal(meeting_event_id(7, "completed", MEETING_EVENT_COMPLETED, c), 0);
    assert_int_equal(meeting_event_id(7, "stopping", MEETING_EVENT_STATUS_CHANGE, d), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_int_equal(strlen(a), 36);
    assert_memory_equal(a, "evt_", 4);
    assert_int_equal(strspn(a + 4, "0123456789abcdef"), 32);
}

static void event_id_refuses_bad_arguments(void **state)
{
    (void)state;
    char a[WEBHOOK_EVENT_ID_SIZE];
    assert_int_equal(meeting_event_id(0, "completed", "meeting.completed", a), HARK_EINVAL);
    assert_int_equal(meeting_event_id(1, "", "meeting.completed", a), HARK_EINVAL);
    assert_int_equal(meeting_event_id(1, "completed", NULL, a), HARK_EINVAL);
}

static void event_data_has_meeting_and_status_change(void **state)
{
    (void)state;
    char status[] = "completed";
    struct store_meeting m = meeting(status);
    struct meeting_transition t = {.from = "stopping", .source = "user"};
    struct json_object *o;
    assert_int_equal(meeting_event_data(&m, &t, &o), 0);
    struct json_object *mo = json_object_object_get(o, "meeting");
    struct json_object *c = json_object_object_get(o, "status_change");
    assert_int_equal(json_object_get_int64(json_object_object_get(mo, "id")), 7);
    assert_string_equal(json_object_get_string(json_object_object_get(mo, "status")), "completed");
    assert_string_equal(json_object_get_string(json_object_object_get(
                            json_object_object_get(mo, "data"), "bot_name")),
                        "Hark");
    assert_null(json_object_object_get(mo, "start_time"));
    assert_string_equal(json_object_get_string(json_object_object_get(c, "from")), "stopping");
    assert_string_equal(json_object_get_string(json_object_object_get(c, "to")), "completed");
    assert_string_equal(json_object_get_string(json_object_object_get(c, "reason")), "stopped");
    assert_string_equal(json_object_get_string(json_object_object_get(c, "timestamp")),
                        "2026-01-01T00:00:01.000000Z");
    assert_string_equal(json_object_get_string(json_object_object_get(c, "transition_source")),
                        "user");
    json_object_put(o);
}

static void event_data_refuses_a_missing_from(void **state)
{
    (void)state;
    char status[] = "stopping";
    struct store_meeting m = meeting(status);
    struct meeting_transition t = {.from = NULL, .source = "user"};
    struct json_object *o = (struct json_object *)&m;
    assert_int_equal(meeting_event_data(&m, &t, &o), HARK_EINVAL);
    assert_null(o);
}

static void publish_without_a_queue_queues_nothing(void **state)
{
    (void)state;
    char status[] = "completed";
    struct store_meeting m = meeting(status);
    struct meeting_transition t = {.from = "stopping", .source = "user"};
    size_t n = 99;
    assert_int_equal(meeting_events_publish(NULL, &m, &t, &n), 0);
    assert_int_equal(n, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(event_id_is_stable_and_distinct_per_status_and_type),
    cmocka_unit_test(event_id_refuses_bad_arguments),
    cmocka_unit_test(event_data_has_meeting_and_status_change),
    cmocka_unit_test(event_data_refuses_a_missing_from),
    cmocka_unit_test(publish_without_a_queue_queues_nothing),
};

HARNESS_MAIN(tests)
