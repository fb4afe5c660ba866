/* The bot link's messages (botlink.h). */
#include <string.h>
#include <json-c/json.h>

#include "hark/botlink.h"
#include "hark/json.h"

/* The object in data, or NULL; caller releases. */
static struct json_object *object_of(const void *data, size_t len)
{
    struct json_object *o = NULL;
    char err[64];
    if (json_parse(data, len, &o, err, sizeof err) || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* A string member, or "" when absent or not a string. */
static const char *member(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v) : "";
}

static int one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return 1;
    return 0;
}

/* Copies s into out (size bytes), cut back to a UTF-8 boundary. */
static void copy_cut(char *out, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static int detail_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int report_fill(struct json_object *o, struct botlink_report *out)
{
    static const char *const statuses[] = {"joining", "awaiting_admission", "active", NULL};
    static const char *const reasons[] = {"source_ended", "stopped", NULL};
    const char *type = member(o, "type");
    if (!strcmp(type, "status") && one_of(member(o, "status"), statuses)) {
        out->kind = BOTLINK_STATUS;
        copy_cut(out->status, sizeof out->status, member(o, "status"));
    } else if (!strcmp(type, "end") && one_of(member(o, "reason"), reasons)) {
        out->kind = BOTLINK_END;
        copy_cut(out->reason, sizeof out->reason, member(o, "reason"));
    } else if (!strcmp(type, "failed")) {
        const char *d = member(o, "detail");
        if (*d && !detail_ok(d))
            return HARK_EINVAL;
        out->kind = BOTLINK_FAILED;
        copy_cut(out->detail, sizeof out->detail, *d ? d : "bot_failed");
        copy_cut(out->message, sizeof out->message, member(o, "message"));
    } else {
        return HARK_EINVAL;
    }
    return 0;
}

int botlink_report_parse(const void *data, size_t len, struct botlink_report *out)
{
    memset(out, 0, sizeof *out);
    struct json_object *o = object_of(data, len);
    if (!o)
        return HARK_EPARSE;
    int rc = report_fill(o, out);
    json_object_put(o);
    return rc;
}

static int reply_fill(struct json_object *o, struct botlink_reply *out)
{
    const char *type = member(o, "type");
    struct json_object *v;
    if (!strcmp(type, "stop")) {
        out->kind = BOTLINK_STOP;
    } else if (!strcmp(type, "done")) {
        out->kind = BOTLINK_DONE;
    } else if (!strcmp(type, "error")) {
        out->kind = BOTLINK_ERROR;
        copy_cut(out->error, sizeof out->error, member(o, "error"));
    } else if (!strcmp(type, "ack") && json_object_object_get_ex(o, "durable_ms", &v) &&
               json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0) {
        out->kind = BOTLINK_ACK;
        out->durable_ms = json_object_get_int64(v);
    } else {
        return HARK_EINVAL;
    }
    return 0;
}

int botlink_reply_parse(const void *data, size_t len, struct botlink_reply *out)
{
    memset(out, 0, sizeof *out);
    struct json_object *o = object_of(data, len);
    if (!o)
        return HARK_EPARSE;
    int rc = reply_fill(o, out);
    json_object_put(o);
    return rc;
}
