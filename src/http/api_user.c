/* User-scoped routes (X-API-Key). */
#include <json-c/json.h>

#include "api_private.h"
#include "hark/json.h"

/* Vexa's gateway: {user_id, email, scopes, max_concurrent}. */
int api_auth_me(struct http_request *req, struct http_response *resp)
{
    struct api *a = api_of(req);
    struct store_user u;
    int rc = store_user_get(a->store, req->who.user_id, &u);
    if (rc)
        return api_store_error(resp, rc, "User not found");
    struct json_object *o = json_object_new_object();
    struct json_object *scopes = api_scopes_json(req->who.scopes);
    rc = (!o || !scopes) ? HARK_ENOMEM : json_add(o, "scopes", scopes);
    if (!o)
        json_object_put(scopes);
    if (!rc && (json_add_int(o, "user_id", u.id) || json_add_str(o, "email", u.email) ||
                json_add_int(o, "max_concurrent", u.max_concurrent_bots)))
        rc = HARK_ENOMEM;
    store_user_release(&u);
    if (rc) {
        json_object_put(o);
        return rc;
    }
    return api_reply_put(resp, 200, o);
}
