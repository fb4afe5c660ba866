/* json.h — JSON helpers over json-c for request bodies and responses.
 *
 * Request bodies are parsed with a depth limit and must be one complete
 * value with nothing after it. Field validation collects every problem into
 * a FastAPI-style list ({loc, msg, type}) so Vexa clients see the 422 shape
 * they expect. json-c allocates with malloc directly; those allocations are
 * outside hark_mem failure injection. */
#ifndef HARK_JSON_H
#define HARK_JSON_H
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "hark/buf.h"
#include "hark/error.h"

#define JSON_MAX_DEPTH 32

/* Parses len bytes. On success *out is a new reference the caller releases
 * with json_object_put(). On HARK_EPARSE, err (errlen bytes) says why and
 * where. Empty input is a parse error. */
HARK_MUST_CHECK int json_parse(const char *data, size_t len, struct json_object **out,
                               char *err, size_t errlen);

/* Collected validation errors: a json array of {loc, msg, type[, input]}. */
struct json_verr {
    struct json_object *list; /* owned; NULL until the first error */
    int oom;                  /* an allocation failed while collecting */
};
void json_verr_init(struct json_verr *v);
void json_verr_release(struct json_verr *v);
/* loc is "body.email"-style; split on '.' into the loc array (numeric parts
 * become integers). input, if not NULL, is copied (json_object_get). */
void json_verr_add(struct json_verr *v, const char *loc, const char *msg, const char *type,
                   struct json_object *input);
int json_verr_count(const struct json_verr *v);

/* Typed field readers for an object body. Each returns 1 when the field is
 * present with the right type (value in *out, borrowed from obj), 0 when
 * absent or null, and -1 after recording a validation error in v.
 * Strings are checked for length [min_len, max_len] in bytes. */
int json_field_string(struct json_object *obj, const char *key, size_t min_len, size_t max_len,
                      struct json_verr *v, const char **out);
int json_field_int(struct json_object *obj, const char *key, int64_t min, int64_t max,
                   struct json_verr *v, int64_t *out);
int json_field_bool(struct json_object *obj, const char *key, struct json_verr *v, int *out);
int json_field_object(struct json_object *obj, const char *key, struct json_verr *v,
                      struct json_object **out);
int json_field_array(struct json_object *obj, const char *key, struct json_verr *v,
                     struct json_object **out);
/* Records an "extra_forbidden" error for every key of obj not in allowed
 * (NULL-terminated). */
void json_forbid_extra(struct json_object *obj, const char *const *allowed, struct json_verr *v);

/* Formats ms since the epoch as "2026-11-23T15:32:08.120000Z" (Vexa's
 * datetime shape) into buf; returns buf. 0 gives "". */
const char *json_time_iso(int64_t ms, char *buf, size_t size);

/* Appends obj as plain JSON text to out. HARK_ENOMEM / HARK_ETOOBIG. */
HARK_MUST_CHECK int json_append(struct hbuf *out, struct json_object *obj);

/* A number of seconds from milliseconds, printed with 3 decimals ("1.261",
 * not 1.2609999999999999). NULL on allocation failure. */
struct json_object *json_new_seconds(int64_t ms);

/* Adds key -> string (NULL becomes JSON null). Returns HARK_ENOMEM. */
HARK_MUST_CHECK int json_add_str(struct json_object *o, const char *key, const char *s);
HARK_MUST_CHECK int json_add_int(struct json_object *o, const char *key, int64_t v);
HARK_MUST_CHECK int json_add_bool(struct json_object *o, const char *key, int v);
/* Takes ownership of v (also on failure). */
HARK_MUST_CHECK int json_add(struct json_object *o, const char *key, struct json_object *v);

#endif
