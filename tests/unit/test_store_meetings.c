#include "harness.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hark/error.h"
#include "hark/mem.h"
#include "hark/store.h"

static char db_path[512];

static struct store *open_store(void)
{
    snprintf(db_path, sizeof db_path, "%s/m.db", harness_tmpdir());
    struct store_config c = store_config_default();
    c.url = db_path;
    struct store *s = NULL;
    assert_int_equal(store_open(&c, &s), 0);
    return s;
}

static int64_t new_user(struct store *s, const char *email, int max_bots)
{
    struct store_user u;
    assert_int_equal(store_user_create(s, email, NULL, max_bots, NULL, &u, NULL), 0);
    int64_t id = u.id;
    store_user_release(&u);
    return id;
}

static int create(struct store *s, int64_t user, const char *platform, const char *native,
                  struct store_meeting *out)
{
    struct store_meeting_new m = {.platform = platform, .native_meeting_id = native,
                                  .data_json = "{\"bot_name\":\"Hark\"}", .bot_driver = "process"};
    return store_meeting_create(s, user, &m, out, NULL);
}

static int64_t create_id(struct store *s, int64_t user, const char *native)
{
    struct store_meeting m;
    assert_int_equal(create(s, user, "file", native, &m), 0);
    int64_t id = m.id;
    store_meeting_release(&m);
    return id;
}

static int move(struct store *s, int64_t id, const char *to)
{
    struct store_status_change c = {.to = to};
    return store_meeting_set_status(s, id, &c, NULL, NULL);
}

/* A count straight from the file, bypassing the store under test. */
static long long count_rows(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void create_makes_requested_meeting_with_one_bot(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    struct store_meeting m;
    assert_int_equal(create(s, u, "file", "call-1", &m), 0);
    assert_true(m.id > 0);
    assert_int_equal(m.user_id, u);
    assert_string_equal(m.platform, "file");
    assert_string_equal(m.native_meeting_id, "call-1");
    assert_string_equal(m.status, "requested");
    assert_null(m.constructed_meeting_url);
    assert_null(m.completion_reason);
    assert_int_equal(m.start_time_ms, 0);
    assert_int_equal(m.end_time_ms, 0);
    assert_true(m.created_at_ms > 0 && m.updated_at_ms == m.created_at_ms);
    assert_non_null(strstr(m.data_json, "\"bot_name\""));
    store_meeting_release(&m);
    assert_int_equal(count_rows("SELECT count(*) FROM bots WHERE state = 'requested' "
                                "AND driver = 'process'"), 1);
    store_free(s);
}

static void create_refuses_second_unfinished_bot_for_same_meeting(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "room");
    struct store_meeting m;
    assert_int_equal(create(s, u, "file", "room", &m), HARK_EEXIST);
    assert_null(m.status);
    /* Another platform with the same id is another meeting. */
    assert_int_equal(create(s, u, "stream", "room", &m), 0);
    store_meeting_release(&m);
    /* Once the first has finished, the room can be met again. */
    assert_int_equal(move(s, id, "completed"), 0);
    assert_int_equal(create(s, u, "file", "room", &m), 0);
    assert_true(m.id > id);
    store_meeting_release(&m);
    assert_int_equal(count_rows("SELECT count(*) FROM meetings"), 3);
    assert_int_equal(count_rows("SELECT count(*) FROM bots"), 3);
    store_free(s);
}

static void create_past_user_limit_is_eagain_and_names_limit(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 2);
    int64_t other = new_user(s, "b@x.io", 1);
    int64_t first = create_id(s, u, "m1");
    (void)create_id(s, u, "m2");
    struct store_meeting_new nm = {.platform = "file", .native_meeting_id = "m3",
                                   .bot_driver = "process"};
    struct store_meeting m;
    int limit = -1;
    assert_int_equal(store_meeting_create(s, u, &nm, &m, &limit), HARK_EAGAIN);
    assert_int_equal(limit, 2);
    /* Another user's slots are their own. */
    (void)create_id(s, other, "m3");
    /* A failed meeting frees its slot. */
    assert_int_equal(move(s, first, "failed"), 0);
    assert_int_equal(store_meeting_create(s, u, &nm, &m, &limit), 0);
    assert_int_equal(limit, 0);
    store_meeting_release(&m);
    int64_t n = -1;
    assert_int_equal(store_meeting_active_count(s, u, &n), 0);
    assert_int_equal(n, 2);
    store_free(s);
}

static void create_checks_arguments_and_user(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    struct store_meeting m;
    assert_int_equal(create(s, u + 99, "file", "x", &m), HARK_ENOENT);
    assert_int_equal(create(s, u, "", "x", &m), HARK_EINVAL);
    assert_int_equal(create(s, u, "file", "", &m), HARK_EINVAL);
    struct store_meeting_new bad = {.platform = "file", .native_meeting_id = "x",
                                    .data_json = "[1]", .bot_driver = "process"};
    assert_int_equal(store_meeting_create(s, u, &bad, &m, NULL), HARK_EINVAL);
    bad.data_json = "{not json";
    assert_int_equal(store_meeting_create(s, u, &bad, &m, NULL), HARK_EINVAL);
    assert_int_equal(count_rows("SELECT count(*) FROM meetings"), 0);
    assert_int_equal(count_rows("SELECT count(*) FROM bots"), 0);
    store_free(s);
}

static void reads_are_scoped_to_the_owner(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t a = new_user(s, "a@x.io", 3);
    int64_t b = new_user(s, "b@x.io", 3);
    int64_t id = create_id(s, a, "secret-room");
    struct store_meeting m;
    assert_int_equal(store_meeting_get(s, b, id, &m), HARK_ENOENT);
    assert_int_equal(store_meeting_get_native(s, b, "file", "secret-room", &m), HARK_ENOENT);
    assert_int_equal(store_meeting_patch_data(s, b, id, "{\"name\":\"x\"}", &m), HARK_ENOENT);
    assert_int_equal(store_meeting_purge(s, b, id, &m), HARK_ENOENT);
    struct store_meeting_filter f = {0};
    struct store_meeting *list;
    size_t n;
    assert_int_equal(store_meeting_list(s, b, &f, &list, &n), 0);
    assert_int_equal(n, 0);
    assert_null(list);
    assert_int_equal(store_meeting_get(s, a, id, &m), 0);
    assert_string_equal(m.native_meeting_id, "secret-room");
    store_meeting_release(&m);
    store_free(s);
}

static void get_native_returns_newest_meeting(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t old = create_id(s, u, "weekly");
    assert_int_equal(move(s, old, "completed"), 0);
    int64_t now = create_id(s, u, "weekly");
    struct store_meeting m;
    assert_int_equal(store_meeting_get_native(s, u, "file", "weekly", &m), 0);
    assert_int_equal(m.id, now);
    store_meeting_release(&m);
    assert_int_equal(store_meeting_get_native(s, u, "stream", "weekly", &m), HARK_ENOENT);
    store_free(s);
}

static void list_filters_and_pages_newest_first(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 10);
    int64_t ids[4];
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        ids[i] = create_id(s, u, name);
    }
    assert_int_equal(move(s, ids[1], "completed"), 0);
    struct store_meeting *list;
    size_t n;
    struct store_meeting_filter f = {0};
    assert_int_equal(store_meeting_list(s, u, &f, &list, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(list[0].id, ids[3]);
    assert_int_equal(list[3].id, ids[0]);
    store_meeting_list_free(list, n);
    f = (struct store_meeting_filter){.unfinished_only = 1};
    assert_int_equal(store_meeting_list(s, u, &f, &list, &n), 0);
    assert_int_equal(n, 3);
    store_meeting_list_free(list, n);
    f = (struct store_meeting_filter){.status = "completed"};
    assert_int_equal(store_meeting_list(s, u, &f, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, ids[1]);
    store_meeting_list_free(list, n);
    f = (struct store_meeting_filter){.limit = 2, .offset = 1};
    assert_int_equal(store_meeting_list(s, u, &f, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, ids[2]);
    assert_int_equal(list[1].id, ids[1]);
    store_meeting_list_free(list, n);
    f = (struct store_meeting_filter){.platform = "rtmp"};
    assert_int_equal(store_meeting_list(s, u, &f, &list, &n), 0);
    assert_int_equal(n, 0);
    store_free(s);
}

static void transition_table_is_vexas(void **state)
{
    (void)state;
    assert_true(store_meeting_transition_ok("requested", "joining"));
    assert_true(store_meeting_transition_ok("requested", "stopping"));
    assert_true(store_meeting_transition_ok("requested", "completed"));
    assert_false(store_meeting_transition_ok("requested", "active"));
    assert_true(store_meeting_transition_ok("joining", "awaiting_admission"));
    assert_true(store_meeting_transition_ok("awaiting_admission", "needs_human_help"));
    assert_true(store_meeting_transition_ok("needs_human_help", "active"));
    assert_false(store_meeting_transition_ok("active", "joining"));
    assert_true(store_meeting_transition_ok("stopping", "failed"));
    assert_false(store_meeting_transition_ok("stopping", "active"));
    assert_false(store_meeting_transition_ok("completed", "failed"));
    assert_false(store_meeting_transition_ok("failed", "requested"));
    assert_false(store_meeting_transition_ok("bogus", "joining"));
    assert_false(store_meeting_transition_ok("requested", "bogus"));
    assert_false(store_meeting_transition_ok(NULL, "joining"));
    assert_true(store_completion_reason_ok("stopped_before_admission"));
    assert_false(store_completion_reason_ok("source_ended"));
}

static void set_status_walks_lifecycle_and_stamps_times(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "m");
    struct store_meeting m;
    char prev[STORE_STATUS_MAX];
    struct store_status_change c = {.to = "joining", .bot_container_id = "pid-42"};
    assert_int_equal(store_meeting_set_status(s, id, &c, &m, prev), 0);
    assert_string_equal(prev, "requested");
    assert_string_equal(m.status, "joining");
    assert_string_equal(m.bot_container_id, "pid-42");
    assert_int_equal(m.start_time_ms, 0);
    store_meeting_release(&m);
    assert_int_equal(move(s, id, "awaiting_admission"), 0);
    c = (struct store_status_change){.to = "active"};
    assert_int_equal(store_meeting_set_status(s, id, &c, &m, prev), 0);
    assert_string_equal(prev, "awaiting_admission");
    int64_t started = m.start_time_ms;
    assert_true(started > 0);
    assert_int_equal(m.end_time_ms, 0);
    store_meeting_release(&m);
    /* A bot repeating itself is fine and keeps the first start. */
    assert_int_equal(store_meeting_set_status(s, id, &c, &m, prev), 0);
    assert_string_equal(prev, "active");
    assert_int_equal(m.start_time_ms, started);
    store_meeting_release(&m);
    assert_int_equal(count_rows("SELECT count(*) FROM bots WHERE state = 'active'"), 1);
    c = (struct store_status_change){.to = "completed", .completion_reason = "stopped",
                                     .reason_detail = "source_ended"};
    assert_int_equal(store_meeting_set_status(s, id, &c, &m, prev), 0);
    assert_string_equal(m.status, "completed");
    assert_string_equal(m.completion_reason, "stopped");
    assert_null(m.failure_stage);
    assert_true(m.end_time_ms >= started);
    assert_non_null(strstr(m.data_json, "\"reason_detail\":\"source_ended\""));
    assert_non_null(strstr(m.data_json, "\"bot_name\""));
    store_meeting_release(&m);
    assert_int_equal(count_rows("SELECT count(*) FROM bots WHERE state = 'completed'"), 1);
    store_free(s);
}

static void set_status_refuses_illegal_moves_and_stale_from(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "m");
    struct store_meeting m;
    char prev[STORE_STATUS_MAX] = "x";
    struct store_status_change c = {.to = "active"};
    assert_int_equal(store_meeting_set_status(s, id, &c, &m, prev), HARK_EPERM);
    assert_null(m.status);
    assert_string_equal(prev, "");
    c = (struct store_status_change){.from = "joining", .to = "active"};
    assert_int_equal(store_meeting_set_status(s, id, &c, NULL, NULL), HARK_EPERM);
    c = (struct store_status_change){.from = "requested", .to = "stopping"};
    assert_int_equal(store_meeting_set_status(s, id, &c, NULL, NULL), 0);
    c = (struct store_status_change){.to = "failed", .failure_stage = "requested",
                                     .completion_reason = "join_failure",
                                     .reason_detail = "bot_lost"};
    assert_int_equal(store_meeting_set_status(s, id, &c, &m, NULL), 0);
    assert_string_equal(m.failure_stage, "requested");
    store_meeting_release(&m);
    assert_int_equal(move(s, id, "active"), HARK_EPERM);
    assert_int_equal(move(s, id, "completed"), HARK_EPERM);
    assert_int_equal(move(s, id + 100, "joining"), HARK_ENOENT);
    assert_int_equal(store_meeting_get(s, u, id, &m), 0);
    assert_string_equal(m.status, "failed");
    store_meeting_release(&m);
    store_free(s);
}

static void set_status_rejects_reasons_outside_contract(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "m");
    const struct store_status_change bad[] = {
        {.to = "completed", .completion_reason = "source_ended"},
        {.to = "stopping", .completion_reason = "stopped"},
        {.to = "completed", .failure_stage = "joining"},
        {.to = "failed", .failure_stage = "stopping"},
        {.to = "completed", .reason_detail = "Source Ended"},
        {.to = "completed", .reason_detail = ""},
        {.to = "joining", .reason_detail = "bot_lost"},
        {.to = "idle"},
        {.from = "nowhere", .to = "joining"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(store_meeting_set_status(s, id, &bad[i], NULL, NULL), HARK_EINVAL);
    struct store_meeting m;
    assert_int_equal(store_meeting_get(s, u, id, &m), 0);
    assert_string_equal(m.status, "requested");
    store_meeting_release(&m);
    store_free(s);
}

static void patch_data_merges_and_null_removes(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "m");
    struct store_meeting m;
    assert_int_equal(store_meeting_patch_data(s, u, id,
                                              "{\"name\":\"Standup\",\"bot_name\":null}", &m),
                     0);
    assert_non_null(strstr(m.data_json, "\"name\":\"Standup\""));
    assert_null(strstr(m.data_json, "bot_name"));
    store_meeting_release(&m);
    assert_int_equal(store_meeting_patch_data(s, u, id, "[]", &m), HARK_EINVAL);
    store_free(s);
}

static struct store_segment_in seg(const char *id, int64_t start, const char *text, int done)
{
    return (struct store_segment_in){.id = id, .speaker = "Anna", .start_ms = start,
                                     .end_ms = start + 500, .text = text, .language = "en",
                                     .completed = done};
}

static void segments_upsert_by_id_never_duplicates(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "m");
    struct store_segment_in in[] = {seg("1:Anna:2000", 2000, "second", 0),
                                    seg("1:Anna:0", 0, "first draft", 0)};
    assert_int_equal(store_segments_upsert(s, id, in, 2), 0);
    in[1] = seg("1:Anna:0", 0, "first final", 1);
    assert_int_equal(store_segments_upsert(s, id, &in[1], 1), 0);
    assert_int_equal(store_segments_upsert(s, id, &in[1], 1), 0);
    struct store_segment *list;
    size_t n;
    assert_int_equal(store_segments_list(s, id, 0, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "1:Anna:0");
    assert_string_equal(list[0].text, "first final");
    assert_int_equal(list[0].completed, 1);
    assert_string_equal(list[0].speaker, "Anna");
    assert_string_equal(list[0].language, "en");
    assert_string_equal(list[0].words_json, "[]");
    assert_string_equal(list[1].text, "second");
    store_segment_list_free(list, n);
    store_free(s);
}

static void completed_segment_ignores_late_partial(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "m");
    struct store_segment_in g = seg("k", 0, "final", 1);
    assert_int_equal(store_segments_upsert(s, id, &g, 1), 0);
    g = seg("k", 0, "stale partial", 0);
    assert_int_equal(store_segments_upsert(s, id, &g, 1), 0);
    struct store_segment *list;
    size_t n;
    assert_int_equal(store_segments_list(s, id, 0, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].text, "final");
    store_segment_list_free(list, n);
    store_free(s);
}

static void segment_id_of_other_meeting_refuses_whole_batch(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t m1 = create_id(s, u, "m1");
    int64_t m2 = create_id(s, u, "m2");
    struct store_segment_in g = seg("shared", 0, "mine", 1);
    assert_int_equal(store_segments_upsert(s, m1, &g, 1), 0);
    struct store_segment_in batch[] = {seg("new", 0, "x", 1), seg("shared", 0, "theirs", 1)};
    assert_int_equal(store_segments_upsert(s, m2, batch, 2), HARK_EEXIST);
    assert_int_equal(count_rows("SELECT count(*) FROM segments"), 1);
    assert_int_equal(count_rows("SELECT count(*) FROM segments WHERE text = 'mine'"), 1);
    struct store_segment_in orphan = seg("orphan", 0, "x", 1);
    assert_int_equal(store_segments_upsert(s, m2 + 10, &orphan, 1), HARK_ENOENT);
    g.end_ms = -1;
    assert_int_equal(store_segments_upsert(s, m1, &g, 1), HARK_EINVAL);
    store_free(s);
}

static void segments_list_since_returns_changes_in_start_order(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "m");
    struct store_segment_in a = seg("a", 5000, "late", 1);
    assert_int_equal(store_segments_upsert(s, id, &a, 1), 0);
    struct store_segment *list;
    size_t n;
    assert_int_equal(store_segments_list(s, id, 0, &list, &n), 0);
    int64_t seen = list[0].updated_at_ms;
    store_segment_list_free(list, n);
    /* Rewrite until the clock has moved past `seen`, so "since" can tell
     * the two writes apart. */
    do {
        struct store_segment_in b = seg("b", 1000, "early", 1);
        assert_int_equal(store_segments_upsert(s, id, &b, 1), 0);
        assert_int_equal(store_segments_list(s, id, seen + 1, &list, &n), 0);
        store_segment_list_free(list, n);
    } while (n == 0);
    assert_int_equal(store_segments_list(s, id, seen + 1, &list, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "b");
    store_segment_list_free(list, n);
    assert_int_equal(store_segments_list(s, id, 0, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "b");
    assert_string_equal(list[1].id, "a");
    store_segment_list_free(list, n);
    assert_int_equal(store_segments_list(s, id, -1, &list, &n), HARK_EINVAL);
    store_free(s);
}

static void purge_only_finished_and_keeps_anonymous_stub(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int64_t id = create_id(s, u, "private-name");
    struct store_meeting m;
    assert_int_equal(store_meeting_patch_data(s, u, id, "{\"participants\":[\"Anna\"]}", &m),
                     0);
    store_meeting_release(&m);
    struct store_segment_in g = seg("g", 0, "hello", 1);
    assert_int_equal(store_segments_upsert(s, id, &g, 1), 0);
    assert_int_equal(store_meeting_purge(s, u, id, &m), HARK_EPERM);
    assert_int_equal(count_rows("SELECT count(*) FROM segments"), 1);
    struct store_status_change c = {.to = "completed", .completion_reason = "stopped",
                                    .reason_detail = "source_ended"};
    assert_int_equal(store_meeting_set_status(s, id, &c, NULL, NULL), 0);
    assert_int_equal(store_meeting_purge(s, u, id, &m), 0);
    assert_int_equal(m.id, id);
    assert_string_equal(m.native_meeting_id, "");
    assert_string_equal(m.status, "completed");
    assert_string_equal(m.completion_reason, "stopped");
    assert_null(strstr(m.data_json, "Anna"));
    assert_null(strstr(m.data_json, "bot_name"));
    assert_non_null(strstr(m.data_json, "\"redacted\":true"));
    assert_non_null(strstr(m.data_json, "source_ended"));
    store_meeting_release(&m);
    assert_int_equal(count_rows("SELECT count(*) FROM segments"), 0);
    assert_int_equal(count_rows("SELECT count(*) FROM meetings"), 1);
    assert_int_equal(store_meeting_get_native(s, u, "file", "private-name", &m), HARK_ENOENT);
    store_free(s);
}

/* Every allocation of create, set_status and upsert fails in turn: each
 * failure is HARK_ENOMEM and leaves nothing behind. */
static void allocation_failures_write_nothing(void **state)
{
    (void)state;
    struct store *s = open_store();
    int64_t u = new_user(s, "a@x.io", 3);
    int err = HARK_ENOMEM;
    long n;
    struct store_meeting m;
    for (n = 0; err; n++) {
        hark_mem_fail_after(n);
        err = create(s, u, "file", "m", &m);
        hark_mem_fail_after(-1);
        if (err) {
            assert_int_equal(err, HARK_ENOMEM);
            assert_null(m.status);
            assert_int_equal(count_rows("SELECT count(*) FROM meetings"), 0);
            assert_int_equal(count_rows("SELECT count(*) FROM bots"), 0);
            harness_assert_no_leaks();
        }
    }
    int64_t id = m.id;
    store_meeting_release(&m);
    struct store_status_change c = {.to = "joining"};
    for (err = HARK_ENOMEM, n = 0; err; n++) {
        hark_mem_fail_after(n);
        err = store_meeting_set_status(s, id, &c, &m, NULL);
        hark_mem_fail_after(-1);
        if (err) {
            assert_int_equal(err, HARK_ENOMEM);
            assert_int_equal(count_rows("SELECT count(*) FROM meetings WHERE status = "
                                        "'requested'"), 1);
            assert_int_equal(count_rows("SELECT count(*) FROM bots WHERE state = "
                                        "'requested'"), 1);
        }
    }
    store_meeting_release(&m);
    struct store_segment_in batch[] = {seg("x", 0, "one", 1), seg("y", 9, "two", 1)};
    for (err = HARK_ENOMEM, n = 0; err; n++) {
        hark_mem_fail_after(n);
        err = store_segments_upsert(s, id, batch, 2);
        hark_mem_fail_after(-1);
        if (err) {
            assert_int_equal(err, HARK_ENOMEM);
            assert_int_equal(count_rows("SELECT count(*) FROM segments"), 0);
        }
    }
    assert_int_equal(count_rows("SELECT count(*) FROM segments"), 2);
    store_free(s);
}

static void functions_reject_null_arguments(void **state)
{
    (void)state;
    struct store_meeting m;
    struct store_meeting *list;
    size_t n;
    int64_t c;
    struct store_meeting_filter f = {0};
    struct store_status_change ch = {.to = "joining"};
    assert_int_equal(store_meeting_create(NULL, 1, NULL, &m, NULL), HARK_EINVAL);
    assert_int_equal(store_meeting_get(NULL, 1, 1, &m), HARK_EINVAL);
    assert_int_equal(store_meeting_get_native(NULL, 1, "file", "x", &m), HARK_EINVAL);
    assert_int_equal(store_meeting_active_count(NULL, 1, &c), HARK_EINVAL);
    assert_int_equal(store_meeting_list(NULL, 1, &f, &list, &n), HARK_EINVAL);
    assert_int_equal(store_meeting_set_status(NULL, 1, &ch, NULL, NULL), HARK_EINVAL);
    assert_int_equal(store_meeting_patch_data(NULL, 1, 1, "{}", &m), HARK_EINVAL);
    assert_int_equal(store_meeting_purge(NULL, 1, 1, &m), HARK_EINVAL);
    assert_int_equal(store_segments_upsert(NULL, 1, NULL, 0), HARK_EINVAL);
    assert_int_equal(store_segments_list(NULL, 1, 0, NULL, &n), HARK_EINVAL);
    store_meeting_release(NULL);
    store_meeting_list_free(NULL, 3);
    store_segment_list_free(NULL, 3);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(create_makes_requested_meeting_with_one_bot),
    cmocka_unit_test(create_refuses_second_unfinished_bot_for_same_meeting),
    cmocka_unit_test(create_past_user_limit_is_eagain_and_names_limit),
    cmocka_unit_test(create_checks_arguments_and_user),
    cmocka_unit_test(reads_are_scoped_to_the_owner),
    cmocka_unit_test(get_native_returns_newest_meeting),
    cmocka_unit_test(list_filters_and_pages_newest_first),
    cmocka_unit_test(transition_table_is_vexas),
    cmocka_unit_test(set_status_walks_lifecycle_and_stamps_times),
    cmocka_unit_test(set_status_refuses_illegal_moves_and_stale_from),
    cmocka_unit_test(set_status_rejects_reasons_outside_contract),
    cmocka_unit_test(patch_data_merges_and_null_removes),
    cmocka_unit_test(segments_upsert_by_id_never_duplicates),
    cmocka_unit_test(completed_segment_ignores_late_partial),
    cmocka_unit_test(segment_id_of_other_meeting_refuses_whole_batch),
    cmocka_unit_test(segments_list_since_returns_changes_in_start_order),
    cmocka_unit_test(purge_only_finished_and_keeps_anonymous_stub),
    cmocka_unit_test(allocation_failures_write_nothing),
    cmocka_unit_test(functions_reject_null_arguments),
};

HARNESS_MAIN(tests)
