#include "harness.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hark/buf.h"
#include "hark/config.h"
#include "hark/error.h"
#include "hark/log.h"
#include "hark/mem.h"

static const struct config_key keys[] = {
    {"name", CONFIG_STRING, "hark", 0, 0, "Instance name."},
    {"http_threads", CONFIG_INT, "8", 1, 64, "Threads serving HTTP."},
    {"offset", CONFIG_INT, NULL, 0, 0, "Signed and unbounded."},
    {"tls", CONFIG_BOOL, "off", 0, 0, "Serve HTTPS."},
    {"body_max", CONFIG_BYTES, "1M", 1024, 1LL << 30, "Largest request body."},
    {"lease_timeout", CONFIG_MS, "5s", 100, 3600000, "Lease expiry."},
    {"token", CONFIG_STRING, NULL, 0, 0, "Admin token | secret."},
};
#define NKEYS (sizeof keys / sizeof *keys)

static struct config *new_config(void)
{
    struct config *c = NULL;
    assert_int_equal(config_new(keys, NKEYS, &c), 0);
    assert_non_null(c);
    return c;
}

static int parse(struct config *c, const char *text, struct config_error *err)
{
    return config_parse_buffer(c, text, strlen(text), "hark.conf", err);
}

/* Parses text into a fresh configuration and checks it is refused with an
 * error at `line` about `key` whose message contains `msg`. */
static void expect_error(const char *text, size_t len, int line, const char *key,
                         const char *msg)
{
    struct config *c = new_config();
    struct config_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(config_parse_buffer(c, text, len, "hark.conf", &err), HARK_ECONFIG);
    assert_string_equal(err.source, "hark.conf");
    assert_int_equal(err.line, line);
    assert_string_equal(err.key, key);
    if (!strstr(err.message, msg))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, msg);
    config_free(c);
}

static void expect_line_error(const char *text, int line, const char *key, const char *msg)
{
    expect_error(text, strlen(text), line, key, msg);
}

/* Sets key from a flag and returns the result, for type tests. */
static int set(struct config *c, const char *key, const char *value, struct config_error *err)
{
    return config_set(c, key, value, "flag", err);
}

/* ---- defaults and getters ------------------------------------------------ */

static void defaults_are_typed_and_have_origin_default(void **state)
{
    (void)state;
    struct config *c = new_config();
    assert_string_equal(config_get_str(c, "name"), "hark");
    assert_int_equal(config_get_int(c, "http_threads"), 8);
    assert_int_equal(config_get_bool(c, "tls"), 0);
    assert_int_equal(config_get_int(c, "body_max"), 1024 * 1024);
    assert_int_equal(config_get_int(c, "lease_timeout"), 5000);
    assert_string_equal(config_origin(c, "http_threads"), "default");
    config_free(c);
}

static void key_without_default_is_unset(void **state)
{
    (void)state;
    struct config *c = new_config();
    assert_null(config_get_str(c, "offset"));
    assert_null(config_origin(c, "offset"));
    assert_int_equal(config_get_int(c, "offset"), 0);
    config_free(c);
}

static void get_str_returns_the_text_for_every_type(void **state)
{
    (void)state;
    struct config *c = new_config();
    assert_string_equal(config_get_str(c, "body_max"), "1M");
    assert_string_equal(config_get_str(c, "lease_timeout"), "5s");
    assert_string_equal(config_get_str(c, "tls"), "off");
    config_free(c);
}

static void typed_getters_read_zero_for_another_type(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(set(c, "tls", "on", &err), 0);
    assert_int_equal(config_get_int(c, "tls"), 0);
    assert_int_equal(config_get_int(c, "name"), 0);
    assert_int_equal(config_get_bool(c, "http_threads"), 0);
    assert_int_equal(config_get_bool(c, "tls"), 1);
    config_free(c);
}

static void unknown_key_in_getter_reads_unset_and_is_logged(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/log", harness_tmpdir());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    log_fd_set(fd);
    struct config *c = new_config();
    assert_null(config_get_str(c, "http_thread"));
    assert_int_equal(config_get_int(c, "http_thread"), 0);
    assert_int_equal(config_get_bool(c, "nope"), 0);
    assert_null(config_origin(c, "nope"));
    config_free(c);
    log_fd_set(2);
    char buf[2048] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "level=error module=config"));
    assert_non_null(strstr(buf, "key=\"http_thread\""));
}

/* ---- file syntax --------------------------------------------------------- */

static void file_values_apply_with_file_and_line_as_origin(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "name = box1\n\nhttp_threads = 4\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "box1");
    assert_string_equal(config_origin(c, "name"), "hark.conf:1");
    assert_int_equal(config_get_int(c, "http_threads"), 4);
    assert_string_equal(config_origin(c, "http_threads"), "hark.conf:3");
    assert_string_equal(config_origin(c, "tls"), "default");
    config_free(c);
}

static void comments_and_blank_lines_are_ignored(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "# top\n   # indented = not a key\n\t\n  \nname=x\n#", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "x");
    assert_string_equal(config_origin(c, "name"), "hark.conf:5");
    config_free(c);
}

static void whitespace_around_key_and_value_is_trimmed(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, " \t name \t=\t  two words \t\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "two words");
    config_free(c);
}

static void value_may_contain_equals_signs(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "token = a=b==\n", &err), 0);
    assert_string_equal(config_get_str(c, "token"), "a=b==");
    config_free(c);
}

static void quoted_value_keeps_spaces_hash_and_escapes(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "name = \"  a # b \\\"q\\\" \\\\ \"  # note\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "  a # b \"q\" \\ ");
    config_free(c);
}

static void trailing_comment_needs_whitespace_before_hash(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "name = a#b\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "a#b");
    assert_int_equal(parse(c, "name = a #b\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "a");
    assert_int_equal(parse(c, "name = a\t# b\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "a");
    assert_int_equal(parse(c, "http_threads = 12 # busy box\n", &err), 0);
    assert_int_equal(config_get_int(c, "http_threads"), 12);
    config_free(c);
}

static void empty_value_sets_empty_string(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "name =\ntoken = \"\"\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "");
    assert_string_equal(config_get_str(c, "token"), "");
    assert_int_equal(parse(c, "name = # only a comment\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "");
    config_free(c);
}

static void crlf_line_ends_and_byte_order_mark_are_accepted(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "\xef\xbb\xbfname = x\r\nhttp_threads = 3\r\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "x");
    assert_int_equal(config_get_int(c, "http_threads"), 3);
    config_free(c);
}

static void utf8_values_are_accepted(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "name = Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x8e\xa4\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "Z\xc3\xbcrich \xe2\x9c\x93 \xf0\x9f\x8e\xa4");
    config_free(c);
}

static void last_line_without_newline_is_parsed(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "name = a\nhttp_threads = 2", &err), 0);
    assert_int_equal(config_get_int(c, "http_threads"), 2);
    config_free(c);
}

static void line_of_exactly_the_limit_is_accepted(void **state)
{
    (void)state;
    static char text[CONFIG_LINE_MAX + 2];
    memset(text, 'x', CONFIG_LINE_MAX);
    memcpy(text, "name = ", 7);
    text[CONFIG_LINE_MAX] = '\n';
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_parse_buffer(c, text, CONFIG_LINE_MAX + 1, "hark.conf", &err), 0);
    assert_int_equal(strlen(config_get_str(c, "name")), CONFIG_LINE_MAX - 7);
    config_free(c);
}

/* ---- file errors --------------------------------------------------------- */

static void unknown_key_is_an_error_naming_key_and_line(void **state)
{
    (void)state;
    expect_line_error("name = a\nhttp_thread = 4\n", 2, "http_thread", "unknown key");
}

static void line_without_equals_is_an_error(void **state)
{
    (void)state;
    expect_line_error("\nhttp_threads 4\n", 2, "", "missing '='");
}

static void empty_key_is_an_error(void **state)
{
    (void)state;
    expect_line_error("  = 4\n", 1, "", "empty key");
}

static void key_with_bad_characters_is_an_error(void **state)
{
    (void)state;
    expect_line_error("Http_Threads = 4\n", 1, "Http_Threads", "a-z, 0-9 and _");
    expect_line_error("http-threads = 4\n", 1, "http-threads", "a-z, 0-9 and _");
    expect_line_error("http threads = 4\n", 1, "http threads", "a-z, 0-9 and _");
}

static void bad_value_for_type_is_an_error(void **state)
{
    (void)state;
    expect_line_error("http_threads = many\n", 1, "http_threads",
                      "expected an integer, got \"many\"");
    expect_line_error("tls = maybe\n", 1, "tls", "expected true/false");
    expect_line_error("body_max = 1 MB\n", 1, "body_max", "expected a size in bytes");
    expect_line_error("lease_timeout = soon\n", 1, "lease_timeout", "expected a duration");
}

static void value_out_of_range_is_an_error_with_the_bounds(void **state)
{
    (void)state;
    expect_line_error("http_threads = 65\n", 1, "http_threads", "must be between 1 and 64");
    expect_line_error("http_threads = 0\n", 1, "http_threads", "must be between 1 and 64");
    expect_line_error("body_max = 512\n", 1, "body_max", "must be between 1K and 1G");
    expect_line_error("lease_timeout = 2h\n", 1, "lease_timeout",
                      "must be between 100ms and 1h");
}

static void duplicate_key_in_one_file_is_an_error(void **state)
{
    (void)state;
    expect_line_error("http_threads = 4\nname = a\nhttp_threads = 4\n", 3, "http_threads",
                      "duplicate key (first set on line 1)");
}

static void line_longer_than_the_limit_is_an_error(void **state)
{
    (void)state;
    static char text[CONFIG_LINE_MAX + 20];
    memcpy(text, "name = a\n", 9);
    memset(text + 9, 'x', CONFIG_LINE_MAX + 1);
    memcpy(text + 9, "name = ", 7);
    expect_error(text, 9 + CONFIG_LINE_MAX + 1, 2, "", "line longer than 4096 bytes");
}

static void nul_byte_is_an_error(void **state)
{
    (void)state;
    expect_error("name = a\nname = b\0c\n", 20, 2, "", "NUL byte");
}

static void unterminated_quote_is_an_error(void **state)
{
    (void)state;
    expect_line_error("name = \"abc\n", 1, "name", "unterminated quoted value");
    expect_line_error("name = \"abc\\\"\n", 1, "name", "unterminated quoted value");
    expect_line_error("name = \"abc\\", 1, "name", "unterminated quoted value");
}

static void bad_escape_or_text_after_quote_is_an_error(void **state)
{
    (void)state;
    expect_line_error("name = \"a\\nb\"\n", 1, "name", "invalid escape");
    expect_line_error("name = \"a\" b\n", 1, "name", "after the closing quote");
}

static void control_characters_and_bad_utf8_are_errors(void **state)
{
    (void)state;
    expect_line_error("name = a\x07 b\n", 1, "", "control character 0x07");
    expect_line_error("name = a\rb\n", 1, "", "control character 0x0d");
    expect_line_error("name = \xc3\x28\n", 1, "", "invalid UTF-8");
    expect_line_error("name = \xc0\xaf\n", 1, "", "invalid UTF-8");     /* overlong '/' */
    expect_line_error("name = \xed\xa0\x80\n", 1, "", "invalid UTF-8"); /* surrogate */
    expect_line_error("name = \xf4\x90\x80\x80\n", 1, "", "invalid UTF-8"); /* > U+10FFFF */
    expect_line_error("name = \xe2\x9c\n", 1, "", "invalid UTF-8");     /* truncated */
}

static void first_error_in_file_order_is_reported(void **state)
{
    (void)state;
    expect_line_error("name = a\ntls = maybe\nbogus = 1\n", 2, "tls", "expected");
}

static void file_with_an_error_changes_nothing(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "name = new\ntoken = t\nhttp_threads = many\n", &err),
                     HARK_ECONFIG);
    assert_string_equal(config_get_str(c, "name"), "hark");
    assert_string_equal(config_origin(c, "name"), "default");
    assert_null(config_get_str(c, "token"));
    /* Nothing staged lingers: the same keys parse again without a
     * "duplicate" error. */
    assert_int_equal(parse(c, "name = new\ntoken = t\n", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "new");
    config_free(c);
}

static void buffer_larger_than_the_file_limit_is_refused(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    char *big = hark_calloc(1, CONFIG_FILE_MAX + 1);
    assert_non_null(big);
    memset(big, '\n', CONFIG_FILE_MAX + 1);
    assert_int_equal(config_parse_buffer(c, big, CONFIG_FILE_MAX + 1, "hark.conf", &err),
                     HARK_ETOOBIG);
    assert_int_equal(config_parse_buffer(c, big, CONFIG_FILE_MAX, "hark.conf", &err), 0);
    hark_free(big);
    config_free(c);
}

static void null_error_pointer_is_allowed(void **state)
{
    (void)state;
    struct config *c = new_config();
    assert_int_equal(parse(c, "bogus = 1\n", NULL), HARK_ECONFIG);
    assert_int_equal(config_set(c, "http_threads", "x", "flag", NULL), HARK_ECONFIG);
    config_free(c);
}

/* ---- files on disk ------------------------------------------------------- */

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void load_file_uses_the_path_in_origins_and_errors(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/hark.conf", harness_tmpdir());
    write_file(path, "# hark\nhttp_threads = 16\n", 25);
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_load_file(c, path, &err), 0);
    assert_int_equal(config_get_int(c, "http_threads"), 16);
    char want[320];
    snprintf(want, sizeof want, "%s:2", path);
    assert_string_equal(config_origin(c, "http_threads"), want);

    write_file(path, "tls = 2\n", 8);
    assert_int_equal(config_load_file(c, path, &err), HARK_ECONFIG);
    assert_string_equal(err.source, path);
    assert_int_equal(err.line, 1);
    config_free(c);
}

static void load_missing_file_is_enoent(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/absent.conf", harness_tmpdir());
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_load_file(c, path, &err), HARK_ENOENT);
    assert_non_null(strstr(err.message, "cannot open"));
    assert_string_equal(err.source, path);
    config_free(c);
}

static void load_directory_is_refused(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_load_file(c, harness_tmpdir(), &err), HARK_EINVAL);
    assert_non_null(strstr(err.message, "not a regular file"));
    config_free(c);
}

static void load_file_past_the_size_limit_is_etoobig(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/big.conf", harness_tmpdir());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i <= CONFIG_FILE_MAX / 8; i++)
        assert_int_equal(fputs("# 345678", f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_load_file(c, path, &err), HARK_ETOOBIG);
    config_free(c);
}

static void long_source_name_keeps_its_tail(void **state)
{
    (void)state;
    char src[400];
    memset(src, 'd', sizeof src);
    memcpy(src + sizeof src - 11, "/hark.conf", 11);
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_parse_buffer(c, "x = 1", 5, src, &err), HARK_ECONFIG);
    assert_int_equal(strlen(err.source), sizeof err.source - 1);
    assert_memory_equal(err.source, "...", 3);
    assert_non_null(strstr(err.source, "/hark.conf"));
    assert_int_equal(config_parse_buffer(c, "name = 1", 8, src, &err), 0);
    const char *origin = config_origin(c, "name");
    assert_memory_equal(origin, "...", 3);
    assert_non_null(strstr(origin, "/hark.conf:1"));
    config_free(c);
}

/* ---- environment and flags ----------------------------------------------- */

static void env_overrides_file_and_ignores_other_variables(void **state)
{
    (void)state;
    char *env[] = {"PATH=/bin", "HARK_HTTP_THREADS=32", "HARK_UNKNOWN=1",
                   "HARK_HTTP_THREADSX=5", "hark_tls=on", "HARK_LEASE_TIMEOUT=2m", NULL};
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "http_threads = 4\nname = box\n", &err), 0);
    assert_int_equal(config_load_env(c, env, &err), 0);
    assert_int_equal(config_get_int(c, "http_threads"), 32);
    assert_string_equal(config_origin(c, "http_threads"), "env HARK_HTTP_THREADS");
    assert_int_equal(config_get_int(c, "lease_timeout"), 120000);
    assert_string_equal(config_origin(c, "name"), "hark.conf:2");
    assert_int_equal(config_get_bool(c, "tls"), 0);
    config_free(c);
}

static void env_error_names_the_variable_and_changes_nothing(void **state)
{
    (void)state;
    char *env[] = {"HARK_NAME=fromenv", "HARK_HTTP_THREADS=lots", NULL};
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_load_env(c, env, &err), HARK_ECONFIG);
    assert_string_equal(err.source, "env HARK_HTTP_THREADS");
    assert_int_equal(err.line, 0);
    assert_string_equal(err.key, "http_threads");
    assert_non_null(strstr(err.message, "expected an integer"));
    assert_string_equal(config_get_str(c, "name"), "hark");
    config_free(c);
}

static void env_values_are_verbatim_and_first_occurrence_wins(void **state)
{
    (void)state;
    char *env[] = {"HARK_NAME= spaced \"x\" # y", "HARK_NAME=second", NULL};
    char *padded[] = {"HARK_HTTP_THREADS= 4", NULL};
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_load_env(c, env, &err), 0);
    assert_string_equal(config_get_str(c, "name"), " spaced \"x\" # y");
    assert_int_equal(config_load_env(c, padded, &err), HARK_ECONFIG);
    assert_int_equal(config_load_env(c, NULL, &err), 0);
    config_free(c);
}

static void flag_overrides_env_which_overrides_file(void **state)
{
    (void)state;
    char *env[] = {"HARK_HTTP_THREADS=32", "HARK_NAME=envname", NULL};
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(parse(c, "http_threads = 4\nname = filename\ntls = yes\n", &err), 0);
    assert_int_equal(config_load_env(c, env, &err), 0);
    assert_int_equal(config_set(c, "http_threads", "48", "flag --http-threads", &err), 0);
    assert_int_equal(config_get_int(c, "http_threads"), 48);
    assert_string_equal(config_origin(c, "http_threads"), "flag --http-threads");
    assert_string_equal(config_get_str(c, "name"), "envname");
    assert_string_equal(config_origin(c, "name"), "env HARK_NAME");
    assert_int_equal(config_get_bool(c, "tls"), 1);
    assert_string_equal(config_origin(c, "tls"), "hark.conf:3");
    assert_string_equal(config_origin(c, "body_max"), "default");
    config_free(c);
}

static void later_file_overrides_earlier_one(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_parse_buffer(c, "name = a\n", 9, "/etc/hark.conf", &err), 0);
    assert_int_equal(config_parse_buffer(c, "\nname = b\n", 10, "local.conf", &err), 0);
    assert_string_equal(config_get_str(c, "name"), "b");
    assert_string_equal(config_origin(c, "name"), "local.conf:2");
    config_free(c);
}

static void rejected_flag_keeps_the_previous_value(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(set(c, "http_threads", "10", &err), 0);
    assert_int_equal(config_set(c, "http_threads", "100", "flag --threads", &err), HARK_ECONFIG);
    assert_string_equal(err.source, "flag --threads");
    assert_string_equal(err.key, "http_threads");
    assert_non_null(strstr(err.message, "must be between 1 and 64, got \"100\""));
    assert_int_equal(config_get_int(c, "http_threads"), 10);
    assert_string_equal(config_get_str(c, "http_threads"), "10");
    assert_string_equal(config_origin(c, "http_threads"), "flag");
    config_free(c);
}

static void set_of_unknown_key_is_an_error(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(set(c, "threads", "4", &err), HARK_ECONFIG);
    assert_string_equal(err.key, "threads");
    assert_string_equal(err.message, "unknown key");
    assert_int_equal(config_set(c, "name", NULL, "flag", &err), HARK_EINVAL);
    config_free(c);
}

static void value_longer_than_the_limit_is_refused_from_any_source(void **state)
{
    (void)state;
    static char value[CONFIG_LINE_MAX + 2], envvar[CONFIG_LINE_MAX + 12];
    memset(value, 'v', CONFIG_LINE_MAX + 1);
    snprintf(envvar, sizeof envvar, "HARK_NAME=%s", value);
    char *env[] = {envvar, NULL};
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(set(c, "name", value, &err), HARK_ECONFIG);
    assert_non_null(strstr(err.message, "value longer than 4096 bytes"));
    assert_int_equal(config_load_env(c, env, &err), HARK_ECONFIG);
    value[CONFIG_LINE_MAX] = '\0';
    assert_int_equal(set(c, "name", value, &err), 0);
    config_free(c);
}

static void control_characters_are_refused_from_env_and_flags(void **state)
{
    (void)state;
    char *env[] = {"HARK_TOKEN=a\nb", NULL};
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(config_load_env(c, env, &err), HARK_ECONFIG);
    assert_non_null(strstr(err.message, "control character 0x0a"));
    assert_int_equal(set(c, "token", "x\r\nInjected: 1", &err), HARK_ECONFIG);
    assert_int_equal(set(c, "token", "\xff", &err), HARK_ECONFIG);
    assert_null(config_get_str(c, "token"));
    config_free(c);
}

/* ---- types --------------------------------------------------------------- */

static void booleans_accept_every_spelling_in_any_case(void **state)
{
    (void)state;
    static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes", "ON"};
    static const char *const no[] = {"false", "no", "off", "0", "False", "NO", "Off"};
    struct config *c = new_config();
    struct config_error err;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        assert_int_equal(set(c, "tls", yes[i], &err), 0);
        assert_int_equal(config_get_bool(c, "tls"), 1);
        assert_int_equal(set(c, "tls", no[i], &err), 0);
        assert_int_equal(config_get_bool(c, "tls"), 0);
    }
    assert_int_equal(set(c, "tls", "2", &err), HARK_ECONFIG);
    assert_int_equal(set(c, "tls", "y", &err), HARK_ECONFIG);
    assert_int_equal(set(c, "tls", "", &err), HARK_ECONFIG);
    assert_int_equal(set(c, "tls", "truex", &err), HARK_ECONFIG);
    config_free(c);
}

static void integers_parse_full_range_and_refuse_the_rest(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(set(c, "offset", "-42", &err), 0);
    assert_int_equal(config_get_int(c, "offset"), -42);
    assert_int_equal(set(c, "offset", "9223372036854775807", &err), 0);
    assert_true(config_get_int(c, "offset") == LLONG_MAX);
    assert_int_equal(set(c, "offset", "-9223372036854775808", &err), 0);
    assert_true(config_get_int(c, "offset") == LLONG_MIN);
    assert_int_equal(set(c, "offset", "9223372036854775808", &err), HARK_ECONFIG);
    assert_non_null(strstr(err.message, "number too large"));
    assert_int_equal(set(c, "offset", "-9223372036854775809", &err), HARK_ECONFIG);
    static const char *const bad[] = {"",    "-",   "+1",  " 1", "1 ",
                                      "0x10", "1e3", "1.0", "--1", "12a",
                                      "99999999999999999999x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(set(c, "offset", bad[i], &err), HARK_ECONFIG);
        assert_non_null(strstr(err.message, "expected an integer"));
    }
    assert_true(config_get_int(c, "offset") == LLONG_MIN);
    config_free(c);
}

static void byte_sizes_take_binary_suffixes(void **state)
{
    (void)state;
    static const struct config_key k[] = {{"size", CONFIG_BYTES, NULL, 0, 0, ""}};
    static const struct {
        const char *text;
        long long bytes;
    } ok[] = {{"0", 0}, {"512", 512}, {"64K", 65536}, {"64k", 65536}, {"1M", 1048576},
              {"2G", 2147483648LL}, {"3t", 3LL << 40}, {"8388607T", 8388607LL << 40}};
    struct config *c = NULL;
    struct config_error err;
    assert_int_equal(config_new(k, 1, &c), 0);
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(set(c, "size", ok[i].text, &err), 0);
        assert_true(config_get_int(c, "size") == ok[i].bytes);
    }
    static const char *const bad[] = {"", "K", "-1", "1KB", "1 K", "1.5M", "1P", "8388608T"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(set(c, "size", bad[i], &err), HARK_ECONFIG);
    assert_non_null(strstr(err.message, "number too large"));
    config_free(c);
}

static void durations_take_units_and_default_to_milliseconds(void **state)
{
    (void)state;
    static const struct config_key k[] = {{"wait", CONFIG_MS, NULL, 0, 0, ""}};
    static const struct {
        const char *text;
        long long ms;
    } ok[] = {{"250", 250}, {"500ms", 500}, {"2s", 2000}, {"5m", 300000},
              {"1h", 3600000}, {"0", 0}};
    struct config *c = NULL;
    struct config_error err;
    assert_int_equal(config_new(k, 1, &c), 0);
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        assert_int_equal(set(c, "wait", ok[i].text, &err), 0);
        assert_true(config_get_int(c, "wait") == ok[i].ms);
    }
    static const char *const bad[] = {"",    "s",   "2S",   "1.5s",
                                      "-1s", "1d", "5 m", "1sec",
                                      "99999999999999999h"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(set(c, "wait", bad[i], &err), HARK_ECONFIG);
    config_free(c);
}

static void rejected_value_is_quoted_truncated_and_sanitised(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    assert_int_equal(set(c, "http_threads", "\xc3\xa9\"0123456789012345678901234567890123456789", &err),
                     HARK_ECONFIG);
    assert_non_null(strstr(err.message, "got \"???01234567890123456789012345678...\""));
    config_free(c);
}

static void error_str_formats_one_operator_line(void **state)
{
    (void)state;
    struct config *c = new_config();
    struct config_error err;
    char line[512];
    assert_int_equal(parse(c, "\nhttp_threads = many\n", &err), HARK_ECONFIG);
    assert_string_equal(config_error_str(&err, line, sizeof line),
                        "hark.conf:2: http_threads: expected an integer, got \"many\"");
    assert_int_equal(parse(c, "oops\n", &err), HARK_ECONFIG);
    assert_string_equal(config_error_str(&err, line, sizeof line),
                        "hark.conf:1: missing '=' (expected key = value)");
    assert_int_equal(set(c, "tls", "x", &err), HARK_ECONFIG);
    assert_string_equal(config_error_str(&err, line, 12), "flag: tls: ");
    config_free(c);
}

/* ---- key tables ---------------------------------------------------------- */

static void expect_bad_table(const struct config_key *k, size_t n)
{
    struct config *c = (struct config *)1;
    int fd = open("/dev/null", O_WRONLY);
    log_fd_set(fd);
    assert_int_equal(config_new(k, n, &c), HARK_EINVAL);
    log_fd_set(2);
    close(fd);
    assert_null(c);
}

static void bad_key_tables_are_refused(void **state)
{
    (void)state;
    static const struct config_key bad_name[] = {{"Name", CONFIG_STRING, NULL, 0, 0, ""}};
    static const struct config_key no_name[] = {{NULL, CONFIG_STRING, NULL, 0, 0, ""}};
    static const struct config_key long_name[] = {
        {"a234567890123456789012345678901234567890123456789012345678901234", CONFIG_INT, NULL, 0, 0, ""}};
    static const struct config_key dup[] = {{"a", CONFIG_INT, NULL, 0, 0, ""},
                                            {"a", CONFIG_BOOL, NULL, 0, 0, ""}};
    static const struct config_key bad_default[] = {{"a", CONFIG_INT, "x", 0, 0, ""}};
    static const struct config_key default_out_of_range[] = {{"a", CONFIG_INT, "0", 1, 9, ""}};
    static const struct config_key min_over_max[] = {{"a", CONFIG_INT, NULL, 9, 1, ""}};
    static const struct config_key bounded_string[] = {{"a", CONFIG_STRING, NULL, 0, 9, ""}};
    static const struct config_key bad_type[] = {{"a", (enum config_type)42, NULL, 0, 0, ""}};
    expect_bad_table(bad_name, 1);
    expect_bad_table(no_name, 1);
    expect_bad_table(long_name, 1);
    expect_bad_table(dup, 2);
    expect_bad_table(bad_default, 1);
    expect_bad_table(default_out_of_range, 1);
    expect_bad_table(min_over_max, 1);
    expect_bad_table(bounded_string, 1);
    expect_bad_table(bad_type, 1);
    expect_bad_table(NULL, 1);
}

static void key_table_size_is_bounded(void **state)
{
    (void)state;
    static struct config_key many[CONFIG_KEYS_MAX + 1];
    static char names[CONFIG_KEYS_MAX + 1][8];
    for (size_t i = 0; i <= CONFIG_KEYS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "k%zu", i);
        many[i] = (struct config_key){names[i], CONFIG_INT, "1", 0, 0, ""};
    }
    struct config *c = NULL;
    assert_int_equal(config_new(many, CONFIG_KEYS_MAX, &c), 0);
    assert_int_equal(config_get_int(c, "k255"), 1);
    config_free(c);
    expect_bad_table(many, CONFIG_KEYS_MAX + 1);
}

static void longest_key_name_maps_to_its_env_variable(void **state)
{
    (void)state;
    static const struct config_key k[] = {
        {"a23456789012345678901234567890123456789012345678901234567890123", CONFIG_INT, NULL, 0, 0, ""}};
    char *env[] = {"HARK_A23456789012345678901234567890123456789012345678901234567890123=7", NULL};
    struct config *c = NULL;
    struct config_error err;
    assert_int_equal(config_new(k, 1, &c), 0);
    assert_int_equal(config_load_env(c, env, &err), 0);
    assert_int_equal(config_get_int(c, k[0].name), 7);
    assert_int_equal(config_parse_buffer(c, "a23456789012345678901234567890123456789012345678901234567890123 = 8",
                                         67, "f", &err), 0);
    assert_int_equal(config_get_int(c, k[0].name), 8);
    config_free(c);
}

/* ---- documentation ------------------------------------------------------- */

static void render_doc_lists_every_key_with_env_type_default_and_doc(void **state)
{
    (void)state;
    struct hbuf b;
    hbuf_init(&b, 0);
    assert_int_equal(hbuf_puts(&b, "# Configuration\n\n"), 0);
    assert_int_equal(config_render_doc(keys, NKEYS, &b), 0);
    const char *head = "# Configuration\n\n| Key | Environment variable |";
    assert_memory_equal(b.data, head, strlen(head));
    for (size_t i = 0; i < NKEYS; i++) {
        char key[80], env[80];
        snprintf(key, sizeof key, "| `%s` |", keys[i].name);
        assert_non_null(strstr(b.data, key));
        snprintf(env, sizeof env, "`HARK_%s`", keys[i].name);
        for (char *p = env; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 32);
        assert_non_null(strstr(b.data, env));
    }
    assert_non_null(strstr(b.data, "| `http_threads` | `HARK_HTTP_THREADS` | integer, 1 to 64 | `8` "
                                   "| Threads serving HTTP. |\n"));
    assert_non_null(strstr(b.data, "| bytes, 1K to 1G | `1M` |"));
    assert_non_null(strstr(b.data, "| duration, 100ms to 1h | `5s` |"));
    assert_non_null(strstr(b.data, "| `offset` | `HARK_OFFSET` | integer | *unset* |"));
    assert_non_null(strstr(b.data, "| Admin token \\| secret. |"));
    hbuf_release(&b);
}

static void render_doc_fences_backticks_and_shows_empty_defaults(void **state)
{
    (void)state;
    static const struct config_key k[] = {{"a", CONFIG_STRING, "x`y|z", 0, 0, "two\nlines"},
                                          {"b", CONFIG_STRING, "", 0, 0, NULL}};
    struct hbuf b;
    hbuf_init(&b, 0);
    assert_int_equal(config_render_doc(k, 2, &b), 0);
    assert_non_null(strstr(b.data, "| `` x`y\\|z `` | two lines |\n"));
    assert_non_null(strstr(b.data, "| `b` | `HARK_B` | string | `\"\"` |  |\n"));
    hbuf_release(&b);
}

static void render_doc_failure_leaves_the_buffer_as_it_was(void **state)
{
    (void)state;
    static const struct config_key bad[] = {{"A", CONFIG_INT, NULL, 0, 0, ""}};
    struct hbuf b;
    hbuf_init(&b, 300);
    assert_int_equal(hbuf_puts(&b, "head\n"), 0);
    assert_int_equal(config_render_doc(keys, NKEYS, &b), HARK_ETOOBIG);
    assert_string_equal(b.data, "head\n");
    int fd = open("/dev/null", O_WRONLY);
    log_fd_set(fd);
    assert_int_equal(config_render_doc(bad, 1, &b), HARK_EINVAL);
    log_fd_set(2);
    close(fd);
    assert_int_equal(b.len, 5);
    hbuf_release(&b);
}

/* ---- allocation failures ------------------------------------------------- */

/* One full life cycle. Returns 0, or the first error with the state checked
 * to be as before the failing call. */
static int life_cycle(const char *path)
{
    char *env[] = {"HARK_HTTP_THREADS=20", "HARK_TOKEN=secret", NULL};
    struct config *c = NULL;
    struct config_error err;
    struct hbuf b;
    int rc = config_new(keys, NKEYS, &c);
    if (rc) {
        assert_null(c);
        return rc;
    }
    rc = parse(c, "name = one\nbody_max = 2M\nlease_timeout = \"1m\"\n", &err);
    if (rc) {
        assert_string_equal(config_get_str(c, "name"), "hark");
        assert_string_equal(config_origin(c, "body_max"), "default");
        goto out;
    }
    rc = config_load_file(c, path, &err);
    if (rc) {
        assert_int_equal(config_get_int(c, "offset"), 0);
        goto out;
    }
    rc = config_load_env(c, env, &err);
    if (rc) {
        assert_int_equal(config_get_int(c, "http_threads"), 8);
        assert_null(config_get_str(c, "token"));
        goto out;
    }
    rc = config_set(c, "tls", "on", "flag", &err);
    if (rc) {
        assert_int_equal(config_get_bool(c, "tls"), 0);
        goto out;
    }
    hbuf_init(&b, 0);
    rc = config_render_doc(keys, NKEYS, &b);
    hbuf_release(&b);
    if (rc)
        goto out;
    assert_string_equal(config_get_str(c, "name"), "one");
    assert_int_equal(config_get_int(c, "offset"), -3);
    assert_int_equal(config_get_int(c, "http_threads"), 20);
    assert_int_equal(config_get_bool(c, "tls"), 1);
out:
    config_free(c);
    return rc;
}

static void every_allocation_failure_returns_enomem_cleanly(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/hark.conf", harness_tmpdir());
    write_file(path, "offset = -3\n", 12);
    long n = 0;
    for (;; n++) {
        hark_mem_fail_after(n);
        int rc = life_cycle(path);
        long failures = hark_mem_failures();
        hark_mem_fail_after(-1);
        if (failures == 0) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_int_equal(rc, HARK_ENOMEM);
        assert_true(n < 1000);
    }
    assert_true(n > 10); /* the loop did walk through the failure points */
    harness_assert_no_leaks();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults_are_typed_and_have_origin_default),
    cmocka_unit_test(key_without_default_is_unset),
    cmocka_unit_test(get_str_returns_the_text_for_every_type),
    cmocka_unit_test(typed_getters_read_zero_for_another_type),
    cmocka_unit_test(unknown_key_in_getter_reads_unset_and_is_logged),
    cmocka_unit_test(file_values_apply_with_file_and_line_as_origin),
    cmocka_unit_test(comments_and_blank_lines_are_ignored),
    cmocka_unit_test(whitespace_around_key_and_value_is_trimmed),
    cmocka_unit_test(value_may_contain_equals_signs),
    cmocka_unit_test(quoted_value_keeps_spaces_hash_and_escapes),
    cmocka_unit_test(trailing_comment_needs_whitespace_before_hash),
    cmocka_unit_test(empty_value_sets_empty_string),
    cmocka_unit_test(crlf_line_ends_and_byte_order_mark_are_accepted),
    cmocka_unit_test(utf8_values_are_accepted),
    cmocka_unit_test(last_line_without_newline_is_parsed),
    cmocka_unit_test(line_of_exactly_the_limit_is_accepted),
    cmocka_unit_test(unknown_key_is_an_error_naming_key_and_line),
    cmocka_unit_test(line_without_equals_is_an_error),
    cmocka_unit_test(empty_key_is_an_error),
    cmocka_unit_test(key_with_bad_characters_is_an_error),
    cmocka_unit_test(bad_value_for_type_is_an_error),
    cmocka_unit_test(value_out_of_range_is_an_error_with_the_bounds),
    cmocka_unit_test(duplicate_key_in_one_file_is_an_error),
    cmocka_unit_test(line_longer_than_the_limit_is_an_error),
    cmocka_unit_test(nul_byte_is_an_error),
    cmocka_unit_test(unterminated_quote_is_an_error),
    cmocka_unit_test(bad_escape_or_text_after_quote_is_an_error),
    cmocka_unit_test(control_characters_and_bad_utf8_are_errors),
    cmocka_unit_test(first_error_in_file_order_is_reported),
    cmocka_unit_test(file_with_an_error_changes_nothing),
    cmocka_unit_test(buffer_larger_than_the_file_limit_is_refused),
    cmocka_unit_test(null_error_pointer_is_allowed),
    cmocka_unit_test(load_file_uses_the_path_in_origins_and_errors),
    cmocka_unit_test(load_missing_file_is_enoent),
    cmocka_unit_test(load_directory_is_refused),
    cmocka_unit_test(load_file_past_the_size_limit_is_etoobig),
    cmocka_unit_test(long_source_name_keeps_its_tail),
    cmocka_unit_test(env_overrides_file_and_ignores_other_variables),
    cmocka_unit_test(env_error_names_the_variable_and_changes_nothing),
    cmocka_unit_test(env_values_are_verbatim_and_first_occurrence_wins),
    cmocka_unit_test(flag_overrides_env_which_overrides_file),
    cmocka_unit_test(later_file_overrides_earlier_one),
    cmocka_unit_test(rejected_flag_keeps_the_previous_value),
    cmocka_unit_test(set_of_unknown_key_is_an_error),
    cmocka_unit_test(value_longer_than_the_limit_is_refused_from_any_source),
    cmocka_unit_test(control_characters_are_refused_from_env_and_flags),
    cmocka_unit_test(booleans_accept_every_spelling_in_any_case),
    cmocka_unit_test(integers_parse_full_range_and_refuse_the_rest),
    cmocka_unit_test(byte_sizes_take_binary_suffixes),
    cmocka_unit_test(durations_take_units_and_default_to_milliseconds),
    cmocka_unit_test(rejected_value_is_quoted_truncated_and_sanitised),
    cmocka_unit_test(error_str_formats_one_operator_line),
    cmocka_unit_test(bad_key_tables_are_refused),
    cmocka_unit_test(key_table_size_is_bounded),
    cmocka_unit_test(longest_key_name_maps_to_its_env_variable),
    cmocka_unit_test(render_doc_lists_every_key_with_env_type_default_and_doc),
    cmocka_unit_test(render_doc_fences_backticks_and_shows_empty_defaults),
    cmocka_unit_test(render_doc_failure_leaves_the_buffer_as_it_was),
    cmocka_unit_test(every_allocation_failure_returns_enomem_cleanly),
};
HARNESS_MAIN(tests)
