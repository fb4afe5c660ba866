/* Which file:/// bot sources POST /bots accepts (api_file_source_resolve). */
#include "harness.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/http/api_private.h"

/* snprintf into an array that must hold the whole path. */
#define PATHF(buf, ...) assert_true((size_t)snprintf(buf, sizeof buf, __VA_ARGS__) < sizeof buf)

/* The tmpdir resolved (it may sit under a symbolic link). */
static const char *root(void)
{
    static char r[PATH_MAX];
    assert_non_null(realpath(harness_tmpdir(), r));
    return r;
}

static void make_file(const char *dir, const char *name)
{
    char p[PATH_MAX];
    PATHF(p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("RIFF", f);
    fclose(f);
}

/* <root>/src with a.wav and sub/b.wav; <root>/src-b/x.wav next to it. */
static void make_tree(char *src, size_t size)
{
    char p[PATH_MAX];
    int n = snprintf(src, size, "%s/src", root());
    assert_true(n > 0 && (size_t)n < size);
    assert_int_equal(mkdir(src, 0700), 0);
    PATHF(p, "%s/sub", src);
    assert_int_equal(mkdir(p, 0700), 0);
    make_file(src, "a.wav");
    make_file(p, "b.wav");
    PATHF(p, "%s/src-b", root());
    assert_int_equal(mkdir(p, 0700), 0);
    make_file(p, "x.wav");
}

/* Resolves file://<path> against dir; returns the error message, or NULL
 * with out holding the result. */
static const char *check(const char *dir, const char *path, char *out, size_t size)
{
    char url[PATH_MAX + 16];
    PATHF(url, "file://%s", path);
    const char *why = "not set";
    int rc = api_file_source_resolve(dir, url, out, size, &why);
    if (rc == 0) {
        assert_null(why);
        return NULL;
    }
    assert_int_equal(rc, HARK_EINVAL);
    assert_non_null(why);
    return why;
}

static void expect_refused(const char *dir, const char *path, const char *part)
{
    char out[PATH_MAX + 8];
    const char *why = check(dir, path, out, sizeof out);
    if (!why || !strstr(why, part))
        fail_msg("%s: expected \"%s\", got \"%s\"", path, part, why ? why : out);
}

static void file_inside_the_dir_resolves_to_its_real_path(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX], out[PATH_MAX + 8], want[PATH_MAX + 8];
    make_tree(src, sizeof src);
    PATHF(path, "%s/sub/../sub//./b.wav", src);
    assert_null(check(src, path, out, sizeof out));
    PATHF(want, "file://%s/sub/b.wav", src);
    assert_string_equal(out, want);
}

static void symlink_inside_the_dir_to_a_file_inside_is_followed(void **state)
{
    (void)state;
    char src[PATH_MAX], link[PATH_MAX], out[PATH_MAX + 8], want[PATH_MAX + 8];
    make_tree(src, sizeof src);
    PATHF(link, "%s/alias.wav", src);
    assert_int_equal(symlink("sub/b.wav", link), 0);
    assert_null(check(src, link, out, sizeof out));
    PATHF(want, "file://%s/sub/b.wav", src);
    assert_string_equal(out, want);
}

static void no_dir_configured_refuses_every_file(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX];
    make_tree(src, sizeof src);
    PATHF(path, "%s/a.wav", src);
    expect_refused(NULL, path, "disabled");
    expect_refused("", path, "disabled");
}

static void sibling_sharing_the_prefix_is_outside(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX];
    make_tree(src, sizeof src);
    PATHF(path, "%s-b/x.wav", src);
    expect_refused(src, path, "outside file_source_dir");
}

static void dotdot_out_of_the_dir_is_outside(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX];
    make_tree(src, sizeof src);
    PATHF(path, "%s/sub/../../src-b/x.wav", src);
    expect_refused(src, path, "outside file_source_dir");
    PATHF(path, "%s/../../../../../../../../etc/passwd", src);
    expect_refused(src, path, "outside file_source_dir");
}

static void missing_file_outside_is_not_told_apart_from_an_existing_one(void **state)
{
    (void)state;
    char src[PATH_MAX];
    make_tree(src, sizeof src);
    expect_refused(src, "/etc/passwd", "The path is outside file_source_dir");
    expect_refused(src, "/etc/no-such-file-here", "The path is outside file_source_dir");
}

static void symlink_leading_out_of_the_dir_is_refused(void **state)
{
    (void)state;
    char src[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
    make_tree(src, sizeof src);
    PATHF(target, "%s-b/x.wav", src);
    PATHF(link, "%s/escape.wav", src);
    assert_int_equal(symlink(target, link), 0);
    expect_refused(src, link, "leads outside file_source_dir");
    PATHF(link, "%s/escape-dir", src);
    assert_int_equal(symlink("..", link), 0);
    PATHF(link, "%s/escape-dir/src-b/x.wav", src);
    expect_refused(src, link, "leads outside file_source_dir");
}

static void missing_file_and_directory_are_refused(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX];
    make_tree(src, sizeof src);
    PATHF(path, "%s/nothing.wav", src);
    expect_refused(src, path, "No such file");
    PATHF(path, "%s/a.wav/x", src);
    expect_refused(src, path, "No such file");
    PATHF(path, "%s/sub", src);
    expect_refused(src, path, "Not a regular file");
    expect_refused(src, src, "Not a regular file");
}

static void percent_and_non_local_urls_are_refused(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX], out[64];
    const char *why;
    make_tree(src, sizeof src);
    PATHF(path, "%s/a%%2Ewav", src);
    expect_refused(src, path, "Percent-encoding is not supported");
    assert_int_equal(api_file_source_resolve(src, "file://host/a.wav", out, sizeof out, &why),
                     HARK_EINVAL);
    assert_non_null(strstr(why, "file:///"));
}

static void dir_given_through_a_symlink_or_relative_works(void **state)
{
    (void)state;
    char src[PATH_MAX], link[PATH_MAX], path[PATH_MAX], out[PATH_MAX + 8], want[PATH_MAX + 8];
    make_tree(src, sizeof src);
    PATHF(link, "%s/link-to-src", root());
    assert_int_equal(symlink(src, link), 0);
    PATHF(want, "file://%s/a.wav", src);
    PATHF(path, "%s/a.wav", link); /* the dir as configured */
    assert_null(check(link, path, out, sizeof out));
    assert_string_equal(out, want);
    PATHF(path, "%s/a.wav", src); /* the dir as it resolves */
    assert_null(check(link, path, out, sizeof out));
    assert_string_equal(out, want);
    assert_int_equal(chdir(root()), 0);
    assert_null(check("src", path, out, sizeof out));
    assert_string_equal(out, want);
    expect_refused("no-such-dir", path, "cannot be resolved");
}

static void root_as_dir_admits_every_file(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX], out[PATH_MAX + 8];
    make_tree(src, sizeof src);
    PATHF(path, "%s/a.wav", src);
    assert_null(check("/", path, out, sizeof out));
}

static void result_too_long_for_out_is_refused(void **state)
{
    (void)state;
    char src[PATH_MAX], path[PATH_MAX], out[16];
    make_tree(src, sizeof src);
    PATHF(path, "%s/a.wav", src);
    const char *why = check(src, path, out, sizeof out);
    assert_non_null(why);
    assert_non_null(strstr(why, "too long"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(file_inside_the_dir_resolves_to_its_real_path),
    cmocka_unit_test(symlink_inside_the_dir_to_a_file_inside_is_followed),
    cmocka_unit_test(no_dir_configured_refuses_every_file),
    cmocka_unit_test(sibling_sharing_the_prefix_is_outside),
    cmocka_unit_test(dotdot_out_of_the_dir_is_outside),
    cmocka_unit_test(missing_file_outside_is_not_told_apart_from_an_existing_one),
    cmocka_unit_test(symlink_leading_out_of_the_dir_is_refused),
    cmocka_unit_test(missing_file_and_directory_are_refused),
    cmocka_unit_test(percent_and_non_local_urls_are_refused),
    cmocka_unit_test(dir_given_through_a_symlink_or_relative_works),
    cmocka_unit_test(root_as_dir_admits_every_file),
    cmocka_unit_test(result_too_long_for_out_is_refused),
};

HARNESS_MAIN(tests)
