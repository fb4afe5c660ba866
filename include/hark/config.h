/* config.h — typed key = value configuration from a file, the environment
 * and flags.
 *
 * The module knows no key of its own: the caller describes every key in a
 * table of struct config_key and layers its sources in order of precedence,
 *
 *   config_new(keys)            defaults from the table
 *   config_load_file("hark.conf")   overrides defaults
 *   config_load_env(environ)    HARK_<KEY> overrides the file
 *   config_set(key, value, "flag")  command-line flags override everything
 *
 * so the last value set wins. Every value is checked against its key's type
 * and bounds when it is set; a rejected value leaves the previous one in
 * place, and a file or environment with any error changes nothing at all.
 * Every error names its source, line and key in a struct config_error;
 * every function taking one accepts NULL and writes it only on failure.
 *
 * File syntax (UTF-8, one `key = value` per line):
 *   - blank lines and lines whose first non-blank byte is `#` are comments;
 *   - keys are [a-z0-9_]+; whitespace around key and value is trimmed;
 *   - an unquoted value ends at a `#` preceded by whitespace (a comment);
 *   - "double quotes" keep leading/trailing spaces and `#`; inside them only
 *     \" and \\ are escapes; a comment may follow the closing quote;
 *   - a key may appear once per file; unknown keys are errors;
 *   - CRLF line ends and a leading UTF-8 byte order mark are accepted;
 *   - NUL bytes, other control characters than tab and invalid UTF-8 are
 *     errors, in files, the environment and flags alike.
 * Values by type:
 *   CONFIG_STRING  any text (may be empty)
 *   CONFIG_INT     decimal integer with optional '-': "8", "-1"
 *   CONFIG_BOOL    true/false, yes/no, on/off, 1/0 (any case)
 *   CONFIG_BYTES   bytes, with an optional binary suffix K, M, G, T (any
 *                  case): "512", "64K" = 65536, "1M", "2G"
 *   CONFIG_MS      milliseconds, with an optional unit ms, s, m, h:
 *                  "250" = "250ms", "2s", "5m", "1h"
 *
 * Limits, so a hostile or broken file cannot cost unbounded memory or time:
 * CONFIG_FILE_MAX bytes per file, CONFIG_LINE_MAX bytes per line or value,
 * CONFIG_KEYS_MAX keys per table, CONFIG_NAME_MAX bytes per key name.
 *
 * Values may be secrets: this module never logs them. Error messages quote
 * a rejected value only for INT, BOOL, BYTES and MS keys, truncated.
 *
 * Thread safety: loading and config_set() need exclusive access; once
 * loaded, any number of threads may call the getters concurrently. */
#ifndef HARK_CONFIG_H
#define HARK_CONFIG_H
#include <stddef.h>
#include "hark/buf.h"
#include "hark/error.h"

#define CONFIG_FILE_MAX (1024 * 1024)
#define CONFIG_LINE_MAX 4096
#define CONFIG_KEYS_MAX 256
#define CONFIG_NAME_MAX 63

enum config_type {
    CONFIG_STRING,
    CONFIG_INT,
    CONFIG_BOOL,
    CONFIG_BYTES,
    CONFIG_MS,
};

/* One key the caller accepts. Names are 1..CONFIG_NAME_MAX bytes of
 * [a-z0-9_], unique in the table; the environment variable is HARK_ and
 * the name in upper case. */
struct config_key {
    const char *name;
    enum config_type type;
    const char *default_value; /* text in the key's syntax; NULL = unset */
    long long min, max;        /* INT, BYTES (bytes), MS (ms) only: values
                                * must lie in [min, max]; 0, 0 = no bound */
    const char *doc;           /* one line for docs/configuration.md */
};

/* Where and why a value was rejected. Strings are always NUL-terminated and
 * truncated to fit. */
struct config_error {
    char source[128];  /* file path, "env HARK_X" or config_set()'s source */
    int line;          /* 1-based line in a file; 0 otherwise */
    char key[64];      /* key concerned; "" when the error has none */
    char message[256]; /* e.g. "expected an integer, got \"many\"" */
};

struct config; /* opaque */

/* Builds a configuration holding each key's default. `keys` (n entries) is
 * borrowed and must outlive the result. HARK_EINVAL (with a log line naming
 * the key) if the table breaks a rule above: bad or duplicate name, bounds
 * with min > max or on a STRING or BOOL key, a default its own type or
 * bounds reject, n > CONFIG_KEYS_MAX. On success *out is owned by the caller
 * and freed with config_free(). */
HARK_MUST_CHECK int config_new(const struct config_key *keys, size_t n,
                               struct config **out);
void config_free(struct config *c); /* NULL is fine */

/* Parses `len` bytes of file text (borrowed; need not be NUL-terminated).
 * `source_name` (copied) names the text in origins and errors, e.g. the
 * path. All or nothing: on any error no value changes. HARK_ECONFIG for
 * anything wrong in the text (first error in file order, with its line),
 * HARK_ETOOBIG past CONFIG_FILE_MAX, HARK_ENOMEM. */
HARK_MUST_CHECK int config_parse_buffer(struct config *c, const char *text,
                                        size_t len, const char *source_name,
                                        struct config_error *err);

/* Reads the file at `path` and parses it as above with the path as source
 * name. HARK_ENOENT if it does not exist (so a caller can treat a default
 * path as optional), HARK_EPERM if it may not be read, HARK_EINVAL if it is
 * not a regular file, HARK_ETOOBIG past CONFIG_FILE_MAX, HARK_EIO on other
 * read errors, then as config_parse_buffer(). */
HARK_MUST_CHECK int config_load_file(struct config *c, const char *path,
                                     struct config_error *err);

/* Applies HARK_<UPPER_NAME>=value for every key of the table found in envp
 * (a NULL-terminated array like `environ`, borrowed; NULL = empty); other
 * variables, HARK_ or not, are ignored. The first occurrence of a name wins,
 * as with getenv(). Values are taken verbatim: no trimming, no quotes. All
 * or nothing, like config_parse_buffer(). HARK_ECONFIG, HARK_ENOMEM. */
HARK_MUST_CHECK int config_load_env(struct config *c, char *const *envp,
                                    struct config_error *err);

/* Sets one key to `value` (copied, verbatim) with `source` (copied, e.g.
 * "flag" or "flag --http-threads") as its origin; used for command-line
 * flags. HARK_ECONFIG for an unknown key or a value its type or bounds
 * reject (the previous value stays), HARK_EINVAL for NULL arguments,
 * HARK_ENOMEM. */
HARK_MUST_CHECK int config_set(struct config *c, const char *key,
                               const char *value, const char *source,
                               struct config_error *err);

/* Getters. `key` must be a key of the table: an unknown key is a bug in the
 * caller; it is logged as an error and reads as unset.
 *
 * config_get_str: the value's text as last set (unquoted, trimmed), for a
 * key of any type; NULL if unset. Borrowed: valid until the key is set again
 * or the configuration is freed. */
const char *config_get_str(const struct config *c, const char *key);
/* INT: the integer; BYTES: bytes; MS: milliseconds. 0 if unset or for
 * another type. */
long long config_get_int(const struct config *c, const char *key);
/* BOOL: 1 or 0. 0 if unset or for another type. */
int config_get_bool(const struct config *c, const char *key);
/* Where the current value came from: "default", "<source_name>:<line>"
 * (e.g. "hark.conf:12"), "env HARK_X" or config_set()'s source. NULL if
 * unset. Borrowed, same lifetime as config_get_str(). */
const char *config_origin(const struct config *c, const char *key);

/* Formats err as one line for an operator, e.g.
 * "hark.conf:12: http_threads: expected an integer, got \"many\"", into buf
 * (size bytes, truncated to fit). Returns buf. */
const char *config_error_str(const struct config_error *err, char *buf,
                             size_t size);

/* Appends to `out` a Markdown table with one row per key: key, environment
 * variable, type (with bounds), default, description; `|` in text is
 * escaped. The table is checked as config_new() does (HARK_EINVAL). On
 * failure (HARK_EINVAL, HARK_ENOMEM, HARK_ETOOBIG) out is left as it was. */
HARK_MUST_CHECK int config_render_doc(const struct config_key *keys, size_t n,
                                      struct hbuf *out);

#endif
