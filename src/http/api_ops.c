/* Liveness, readiness and metrics: unauthenticated, cheap, never cached. */
#include <json-c/json.h>

#include "api_private.h"
#include "hark/json.h"
#include "hark/metrics.h"

int api_healthz(struct http_request *req, struct http_response *resp)
{
    (void)req;
    static const char body[] = "{\"status\":\"ok\"}";
    return http_reply_text(resp, 200, "application/json", body, sizeof body - 1);
}

/* Vexa's gateway answers GET /health with this exact body. */
int api_health(struct http_request *req, struct http_response *resp)
{
    (void)req;
    static const char body[] = "{\"status\":\"ok\",\"service\":\"gateway\"}";
    return http_reply_text(resp, 200, "application/json", body, sizeof body - 1);
}

int api_readyz(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    int store_ok = store_ping(a->store) == 0;
    struct json_object *o = json_object_new_object();
    struct json_object *checks = json_object_new_object();
    if (!o || !checks || json_add(o, "checks", checks) ||
        json_add_str(checks, "store", store_ok ? "ok" : "failing") ||
        json_add_str(checks, "model", a->engine ? "loaded" : "not_configured") ||
        json_add_str(o, "status", store_ok ? "ready" : "not_ready")) {
        if (!o)
            json_object_put(checks);
        json_object_put(o);
        return HARK_ENOMEM;
    }
    if (!store_ok)
        http_reply_header(resp, "Retry-After", "1");
    return api_reply_put(resp, store_ok ? 200 : 503, o);
}

int api_metrics(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    hbuf_reset(&resp->body);
    int rc = metrics_render(a->metrics, &resp->body);
    if (rc)
        return rc;
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}
