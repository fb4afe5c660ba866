#include "harness.h"

#include <string.h>

#include "hark/error.h"
#include "hark/mem.h"
#include "hark/router.h"

/* Distinct addresses to hand the router as handlers. */
static const int h_status, h_platform, h_meeting, h_users_get, h_users_post, h_user,
    h_tokens, h_root;

static struct router *router_with(const char *const (*routes)[2], const void *const *handlers,
                                  size_t n)
{
    struct router *r = NULL;
    assert_int_equal(router_new(&r), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(router_add(r, routes[i][0], routes[i][1], handlers[i]), 0);
    return r;
}

static const char *const api_routes[][2] = {
    {"GET", "/bots/{platform}"},
    {"GET", "/bots/status"},
    {"GET", "/bots/{platform}/{native_meeting_id}"},
    {"GET", "/admin/users"},
    {"POST", "/admin/users"},
    {"PATCH", "/admin/users/{user_id}"},
    {"POST", "/admin/users/{user_id}/tokens"},
    {"GET", "/"},
};
static const void *const api_handlers[] = {&h_platform, &h_status,     &h_meeting, &h_users_get,
                                           &h_users_post, &h_user,     &h_tokens,  &h_root};
#define N_API (sizeof api_routes / sizeof *api_routes)

static void literal_segment_beats_capture_whatever_the_order(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    assert_int_equal(router_match(r, "GET", "/bots/status", &m, NULL, 0), 0);
    assert_ptr_equal(m.handler, &h_status);
    assert_string_equal(m.pattern, "/bots/status");
    assert_int_equal(m.n_params, 0);
    assert_int_equal(router_match(r, "GET", "/bots/zoom", &m, NULL, 0), 0);
    assert_ptr_equal(m.handler, &h_platform);
    assert_string_equal(m.pattern, "/bots/{platform}");
    router_free(r);
}

static void earlier_literal_outranks_later_literal(void **state)
{
    (void)state;
    /* /a/{x}/c vs /{y}/b/c: the first segment weighs most. */
    static const char *const routes[][2] = {{"GET", "/{y}/b/c"}, {"GET", "/a/{x}/c"}};
    static const void *const handlers[] = {&h_platform, &h_status};
    struct router *r = router_with(routes, handlers, 2);
    struct router_match m;
    assert_int_equal(router_match(r, "GET", "/a/b/c", &m, NULL, 0), 0);
    assert_ptr_equal(m.handler, &h_status);
    assert_int_equal(router_match(r, "GET", "/z/b/c", &m, NULL, 0), 0);
    assert_ptr_equal(m.handler, &h_platform);
    router_free(r);
}

static void params_point_into_the_path(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    const char *path = "/bots/google_meet/abc-defg-hij";
    assert_int_equal(router_match(r, "GET", path, &m, NULL, 0), 0);
    assert_ptr_equal(m.handler, &h_meeting);
    assert_int_equal(m.n_params, 2);
    assert_string_equal(m.params[0].name, "platform");
    assert_ptr_equal(m.params[0].value, path + 6);
    assert_int_equal(m.params[0].len, strlen("google_meet"));
    assert_string_equal(m.params[1].name, "native_meeting_id");
    assert_int_equal(m.params[1].len, strlen("abc-defg-hij"));

    char buf[32];
    assert_int_equal(router_param(&m, "platform", buf, sizeof buf), 11);
    assert_string_equal(buf, "google_meet");
    assert_int_equal(router_param(&m, "native_meeting_id", buf, sizeof buf), 12);
    assert_string_equal(buf, "abc-defg-hij");
    router_free(r);
}

static void param_is_copied_only_when_it_fits(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    assert_int_equal(router_match(r, "PATCH", "/admin/users/12345", &m, NULL, 0), 0);
    char buf[8];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(router_param(&m, "user_id", buf, 5), -1); /* needs 6 with the NUL */
    assert_int_equal(buf[0], 'x');
    assert_int_equal(router_param(&m, "user_id", buf, 6), 5);
    assert_string_equal(buf, "12345");
    assert_int_equal(router_param(&m, "missing", buf, sizeof buf), -1);
    assert_int_equal(router_param(&m, "user_id", buf, 0), -1);
    router_free(r);
}

static void unknown_path_is_enoent(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    char allow[64] = "junk";
    assert_int_equal(router_match(r, "GET", "/nope", &m, allow, sizeof allow), HARK_ENOENT);
    assert_string_equal(allow, "");
    assert_int_equal(router_match(r, "GET", "/admin/users/1/tokens/x", &m, NULL, 0),
                     HARK_ENOENT);
    assert_int_equal(router_match(r, "GET", "admin/users", &m, NULL, 0), HARK_ENOENT);
    assert_int_equal(router_match(r, "GET", "", &m, NULL, 0), HARK_ENOENT);
    router_free(r);
}

static void other_method_is_eperm_with_allow_list(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    char allow[64];
    assert_int_equal(router_match(r, "DELETE", "/admin/users", &m, allow, sizeof allow),
                     HARK_EPERM);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(router_match(r, "GET", "/admin/users/7/tokens", &m, allow, sizeof allow),
                     HARK_EPERM);
    assert_string_equal(allow, "POST");
    /* A NULL allow buffer is fine, and a small one is truncated, not overrun. */
    assert_int_equal(router_match(r, "PUT", "/admin/users", &m, NULL, 0), HARK_EPERM);
    char tiny[5];
    assert_int_equal(router_match(r, "PUT", "/admin/users", &m, tiny, sizeof tiny), HARK_EPERM);
    assert_string_equal(tiny, "GET,");
    router_free(r);
}

static void method_match_is_exact(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    assert_int_equal(router_match(r, "get", "/admin/users", &m, NULL, 0), HARK_EPERM);
    assert_int_equal(router_match(r, "POST", "/admin/users", &m, NULL, 0), 0);
    assert_ptr_equal(m.handler, &h_users_post);
    router_free(r);
}

static void root_pattern_matches_only_root(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    assert_int_equal(router_match(r, "GET", "/", &m, NULL, 0), 0);
    assert_ptr_equal(m.handler, &h_root);
    assert_int_equal(router_match(r, "GET", "//", &m, NULL, 0), HARK_ENOENT);
    router_free(r);
}

static void empty_segments_never_match(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    assert_int_equal(router_match(r, "GET", "/admin//users", &m, NULL, 0), HARK_ENOENT);
    assert_int_equal(router_match(r, "GET", "//admin/users", &m, NULL, 0), HARK_ENOENT);
    /* A capture needs a non-empty segment. */
    assert_int_equal(router_match(r, "PATCH", "/admin/users//", &m, NULL, 0), HARK_ENOENT);
    router_free(r);
}

static void trailing_slash_does_not_match(void **state)
{
    (void)state;
    struct router *r = router_with(api_routes, api_handlers, N_API);
    struct router_match m;
    assert_int_equal(router_match(r, "GET", "/admin/users/", &m, NULL, 0), HARK_ENOENT);
    assert_int_equal(router_match(r, "GET", "/bots/status/", &m, NULL, 0), HARK_ENOENT);
    router_free(r);
}

static void too_many_segments_do_not_match(void **state)
{
    (void)state;
    struct router *r = NULL;
    assert_int_equal(router_new(&r), 0);
    char pattern[128] = "";
    size_t n = 0;
    for (int i = 0; i < ROUTER_MAX_SEGMENTS; i++)
        n += (size_t)snprintf(pattern + n, sizeof pattern - n, "/s");
    assert_int_equal(router_add(r, "GET", pattern, &h_root), 0);
    struct router_match m;
    assert_int_equal(router_match(r, "GET", pattern, &m, NULL, 0), 0);
    char longer[160];
    snprintf(longer, sizeof longer, "%s/s", pattern);
    assert_int_equal(router_match(r, "GET", longer, &m, NULL, 0), HARK_ENOENT);
    router_free(r);
}

static void malformed_patterns_are_einval(void **state)
{
    (void)state;
    struct router *r = NULL;
    assert_int_equal(router_new(&r), 0);
    static const char *const bad[] = {
        "",                /* not starting with '/' */
        "users",
        "/a//b",           /* empty segment */
        "/{}",             /* empty capture name */
        "/{id",            /* unterminated capture */
        "/users/{a}/{b}/{c}/{d}/{e}", /* more than ROUTER_MAX_PARAMS captures */
        "/1/2/3/4/5/6/7/8/9/10/11/12/13", /* more than ROUTER_MAX_SEGMENTS */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(router_add(r, "GET", bad[i], &h_root), HARK_EINVAL);
    /* Exactly at the limits is fine. */
    assert_int_equal(router_add(r, "GET", "/users/{a}/{b}/{c}/{d}", &h_root), 0);
    assert_int_equal(router_add(r, "GET", "/1/2/3/4/5/6/7/8/9/10/11/12", &h_root), 0);
    struct router_match m;
    assert_int_equal(router_match(r, "GET", "/users/1/2/3/4", &m, NULL, 0), 0);
    assert_int_equal(m.n_params, ROUTER_MAX_PARAMS);
    /* Rejected patterns left nothing behind that could match. */
    assert_int_equal(router_match(r, "GET", "/a", &m, NULL, 0), HARK_ENOENT);
    router_free(r);
}

static void duplicate_route_is_eexist_other_method_is_not(void **state)
{
    (void)state;
    struct router *r = NULL;
    assert_int_equal(router_new(&r), 0);
    assert_int_equal(router_add(r, "GET", "/admin/users/{user_id}", &h_user), 0);
    assert_int_equal(router_add(r, "GET", "/admin/users/{user_id}", &h_root), HARK_EEXIST);
    assert_int_equal(router_add(r, "PATCH", "/admin/users/{user_id}", &h_tokens), 0);
    struct router_match m;
    assert_int_equal(router_match(r, "GET", "/admin/users/3", &m, NULL, 0), 0);
    assert_ptr_equal(m.handler, &h_user); /* the first one stays */
    router_free(r);
}

static void table_grows_past_initial_capacity(void **state)
{
    (void)state;
    struct router *r = NULL;
    assert_int_equal(router_new(&r), 0);
    char p[32];
    for (int i = 0; i < 100; i++) {
        snprintf(p, sizeof p, "/r%d/{id}", i);
        assert_int_equal(router_add(r, "GET", p, &h_user), 0);
    }
    struct router_match m;
    assert_int_equal(router_match(r, "GET", "/r99/x", &m, NULL, 0), 0);
    assert_string_equal(m.pattern, "/r99/{id}");
    assert_int_equal(router_match(r, "GET", "/r0/x", &m, NULL, 0), 0);
    assert_string_equal(m.pattern, "/r0/{id}");
    router_free(r);
}

static void free_accepts_null(void **state)
{
    (void)state;
    router_free(NULL);
}

/* Every allocation in router_new/router_add can fail; each failure must be
 * HARK_ENOMEM and leave a router that router_free() cleans up (ASan's leak
 * check proves it) and that keeps working: routes added before the failure
 * still match and the failed one can be added again. */
static void every_allocation_failure_is_enomem_and_clean(void **state)
{
    (void)state;
    static const char *const table[10][2] = {
        {"/healthz", "/healthz"},
        {"/readyz", "/readyz"},
        {"/admin/users", "/admin/users"},
        {"/admin/users/{user_id}", "/admin/users/1"},
        {"/admin/users/{user_id}/tokens", "/admin/users/1/tokens"},
        {"/admin/tokens/{token_id}", "/admin/tokens/9"},
        {"/bots/status", "/bots/status"},
        {"/bots/{platform}/{id}", "/bots/zoom/1"},
        {"/a/b/c/d/e/f/g/h/i/j/k/{l}", "/a/b/c/d/e/f/g/h/i/j/k/l"},
        {"/ws", "/ws"},
    };
    int failed_steps = 0, succeeded = 0;
    for (long n = 0; n < 1000 && !succeeded; n++) {
        struct router *r = NULL;
        struct router_match m;
        hark_mem_fail_after(n);
        int rc = router_new(&r);
        size_t added = 0;
        while (!rc && added < 10 && !(rc = router_add(r, "GET", table[added][0], &h_root)))
            added++;
        long failures = hark_mem_failures();
        hark_mem_fail_after(-1);
        if (!rc) {
            assert_int_equal(failures, 0);
            succeeded = 1;
        } else {
            failed_steps++;
            assert_int_equal(rc, HARK_ENOMEM);
            assert_int_equal(failures, 1);
        }
        if (r) {
            for (size_t i = 0; i < added; i++)
                assert_int_equal(router_match(r, "GET", table[i][1], &m, NULL, 0), 0);
            if (added < 10) {
                assert_int_equal(router_match(r, "GET", table[added][1], &m, NULL, 0),
                                 HARK_ENOENT);
                assert_int_equal(router_add(r, "GET", table[added][0], &h_root), 0);
                assert_int_equal(router_match(r, "GET", table[added][1], &m, NULL, 0), 0);
            }
        }
        router_free(r);
    }
    assert_true(succeeded);
    assert_true(failed_steps >= 10); /* at least one per route, or nothing was injected */
}

static void same_shape_with_other_capture_names_is_a_duplicate(void **state)
{
    (void)state;
    struct router *r = NULL;
    assert_int_equal(router_new(&r), 0);
    assert_int_equal(router_add(r, "GET", "/x/{a}", "h1"), 0);
    assert_int_equal(router_add(r, "GET", "/x/{b}", "h2"), HARK_EEXIST);
    assert_int_equal(router_add(r, "POST", "/x/{b}", "h3"), 0);
    assert_int_equal(router_add(r, "GET", "/x/literal", "h4"), 0);
    router_free(r);
}

static void pattern_with_trailing_slash_is_refused(void **state)
{
    (void)state;
    struct router *r = NULL;
    assert_int_equal(router_new(&r), 0);
    assert_int_equal(router_add(r, "GET", "/a/", "h"), HARK_EINVAL);
    assert_int_equal(router_add(r, "GET", "/a//b", "h"), HARK_EINVAL);
    router_free(r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(same_shape_with_other_capture_names_is_a_duplicate),
    cmocka_unit_test(pattern_with_trailing_slash_is_refused),
    cmocka_unit_test(literal_segment_beats_capture_whatever_the_order),
    cmocka_unit_test(earlier_literal_outranks_later_literal),
    cmocka_unit_test(params_point_into_the_path),
    cmocka_unit_test(param_is_copied_only_when_it_fits),
    cmocka_unit_test(unknown_path_is_enoent),
    cmocka_unit_test(other_method_is_eperm_with_allow_list),
    cmocka_unit_test(method_match_is_exact),
    cmocka_unit_test(root_pattern_matches_only_root),
    cmocka_unit_test(empty_segments_never_match),
    cmocka_unit_test(trailing_slash_does_not_match),
    cmocka_unit_test(too_many_segments_do_not_match),
    cmocka_unit_test(malformed_patterns_are_einval),
    cmocka_unit_test(duplicate_route_is_eexist_other_method_is_not),
    cmocka_unit_test(table_grows_past_initial_capacity),
    cmocka_unit_test(free_accepts_null),
    cmocka_unit_test(every_allocation_failure_is_enomem_and_clean),
};

HARNESS_MAIN(tests)
