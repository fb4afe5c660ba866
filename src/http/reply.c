/* Response builders: every error body has Vexa's `detail` and our `error`. */
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "hark/http.h"
#include "hark/json.h"
#include "hark/ws.h"

static int set_body(struct http_response *resp, int status, const char *ctype,
                    const char *data, size_t len)
{
    hbuf_reset(&resp->body);
    int rc = hbuf_append(&resp->body, data, len);
    if (rc)
        return rc;
    resp->status = status;
    resp->content_type = ctype;
    return 0;
}

int http_reply_json(struct http_response *resp, int status, struct json_object *obj)
{
    hbuf_reset(&resp->body);
    int rc = json_append(&resp->body, obj);
    if (rc)
        return rc;
    resp->status = status;
    resp->content_type = "application/json";
    return 0;
}

static int reply_detail(struct http_response *resp, int status, struct json_object *detail,
                        const char *code, const char *message)
{
    struct json_object *o = json_object_new_object();
    struct json_object *e = json_object_new_object();
    int rc = (!o || !e) ? HARK_ENOMEM : 0;
    if (!rc)
        rc = json_add(o, "detail", detail);
    else
        json_object_put(detail);
    if (!rc && !(rc = json_add_str(e, "code", code)) && !(rc = json_add_str(e, "message", message))) {
        rc = json_add(o, "error", e);
        e = NULL;
    }
    if (!rc)
        rc = http_reply_json(resp, status, o);
    json_object_put(e);
    json_object_put(o);
    return rc;
}

int http_reply_error(struct http_response *resp, int status, const char *code,
                     const char *message)
{
    struct json_object *d = json_object_new_string(message);
    if (!d)
        return HARK_ENOMEM;
    return reply_detail(resp, status, d, code, message);
}

int http_reply_validation(struct http_response *resp, struct json_object *list)
{
    /* The message names the first problem, e.g. "body.email: Field required". */
    char msg[256] = "Validation error";
    struct json_object *first = json_object_array_get_idx(list, 0);
    struct json_object *loc, *m;
    if (first && json_object_object_get_ex(first, "loc", &loc) &&
        json_object_object_get_ex(first, "msg", &m)) {
        size_t o = 0;
        for (size_t i = 0; i < json_object_array_length(loc) && o < sizeof msg; i++) {
            int n = snprintf(msg + o, sizeof msg - o, "%s%s", i ? "." : "",
                             json_object_get_string(json_object_array_get_idx(loc, i)));
            o += n > 0 ? (size_t)n : 0;
        }
        if (o < sizeof msg)
            snprintf(msg + o, sizeof msg - o, ": %s", json_object_get_string(m));
    }
    return reply_detail(resp, 422, json_object_get(list), "validation_error", msg);
}

int http_reply_text(struct http_response *resp, int status, const char *ctype,
                    const char *text, size_t len)
{
    return set_body(resp, status, ctype, text, len);
}

int http_reply_file(struct http_response *resp, int status, const char *ctype, int fd,
                    uint64_t file_size)
{
    if (fd < 0)
        return HARK_EINVAL;
    if (resp->file_fd >= 0)
        close(resp->file_fd);
    hbuf_reset(&resp->body);
    resp->file_fd = fd;
    resp->file_size = file_size;
    resp->status = status;
    resp->content_type = ctype;
    return 0;
}

void http_reply_empty(struct http_response *resp, int status)
{
    hbuf_reset(&resp->body);
    resp->status = status;
}

void http_reply_header(struct http_response *resp, const char *name, const char *value)
{
    if (resp->n_headers == HTTP_MAX_EXTRA_HEADERS)
        return;
    resp->headers[resp->n_headers].name = name;
    snprintf(resp->headers[resp->n_headers].value, sizeof resp->headers[0].value, "%s", value);
    resp->n_headers++;
}

static int header_has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!strncasecmp(p, token, n) && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return 1;
        p = strchr(p, ',');
    }
    return 0;
}

int http_reply_upgrade(struct http_request *req, struct http_response *resp,
                       http_upgrade_fn fn, void *arg, void (*free_fn)(void *))
{
    const char *upgrade = http_header(req, "Upgrade");
    const char *connection = http_header(req, "Connection");
    const char *version = http_header(req, "Sec-WebSocket-Version");
    const char *key = http_header(req, "Sec-WebSocket-Key");
    char accept[29];
    int rc = 0;
    if (!upgrade || strcasecmp(upgrade, "websocket") || !connection ||
        !header_has_token(connection, "upgrade")) {
        http_reply_header(resp, "Upgrade", "websocket");
        rc = http_reply_error(resp, 426, "upgrade_required",
                              "This endpoint speaks WebSocket: send Upgrade: websocket");
    } else if (!version || strcmp(version, "13")) {
        http_reply_header(resp, "Sec-WebSocket-Version", "13");
        rc = http_reply_error(resp, 426, "unsupported_websocket_version",
                              "Only WebSocket version 13 is supported");
    } else if (!key || ws_accept_key(key, accept) != 0) {
        rc = http_reply_error(resp, 400, "bad_websocket_key",
                              "Missing or malformed Sec-WebSocket-Key");
    } else {
        http_reply_header(resp, "Sec-WebSocket-Accept", accept);
        resp->upgrade = fn;
        resp->upgrade_arg = arg;
        resp->upgrade_free = free_fn;
        return 0;
    }
    if (free_fn && arg)
        free_fn(arg);
    return rc ? rc : HARK_EPROTO;
}
