/* api_private.h — what the handler files of the API share. */
#ifndef HARK_API_PRIVATE_H
#define HARK_API_PRIVATE_H
#include <json-c/json.h>
#include <stdint.h>

#include "hark/api.h"
#include "hark/store.h"

struct api {
    struct api_config cfg;
    struct store *store;
    struct auth *auth;
    struct metrics *metrics;
    struct asr_engine *engine;     /* NULL: no model loaded */
    struct jobq *jobs;             /* batch transcriptions */
    struct wlive *wlive;           /* /ws/audio; NULL: no streams */
    struct webhook_queue *webhooks; /* NULL: meeting events are not published */
    int webhook_allow_private;     /* for webhook_url_check() */
    struct live *live;             /* /ws event hub; NULL: nothing is delivered */
    struct botmgr *bots;           /* NULL: bots are recorded but never run */
};

/* Handlers, one per route (see api.c for the table). */
int api_healthz(struct http_request *req, struct http_response *resp);
int api_health(struct http_request *req, struct http_response *resp);
int api_readyz(struct http_request *req, struct http_response *resp);
int api_metrics(struct http_request *req, struct http_response *resp);
int api_auth_me(struct http_request *req, struct http_response *resp);
int api_admin_user_create(struct http_request *req, struct http_response *resp);
int api_admin_user_list(struct http_request *req, struct http_response *resp);
int api_admin_user_get(struct http_request *req, struct http_response *resp);
int api_admin_user_get_by_email(struct http_request *req, struct http_response *resp);
int api_admin_user_update(struct http_request *req, struct http_response *resp);
int api_admin_token_create(struct http_request *req, struct http_response *resp);
int api_admin_token_list(struct http_request *req, struct http_response *resp);
int api_admin_token_delete(struct http_request *req, struct http_response *resp);
int api_ws(struct http_request *req, struct http_response *resp);
int api_ws_audio(struct http_request *req, struct http_response *resp);
int api_transcriptions(struct http_request *req, struct http_response *resp);
int api_models(struct http_request *req, struct http_response *resp);
int api_job_create(struct http_request *req, struct http_response *resp);
int api_job_get(struct http_request *req, struct http_response *resp);
/* Meetings and bots (api_meetings.c). */
int api_bot_create(struct http_request *req, struct http_response *resp);
int api_bot_status(struct http_request *req, struct http_response *resp);
int api_bot_config(struct http_request *req, struct http_response *resp);
int api_bot_stop(struct http_request *req, struct http_response *resp);
int api_meeting_list(struct http_request *req, struct http_response *resp);
int api_meeting_update(struct http_request *req, struct http_response *resp);
int api_meeting_delete(struct http_request *req, struct http_response *resp);
int api_transcript_get(struct http_request *req, struct http_response *resp);
int api_bot_link(struct http_request *req, struct http_response *resp); /* api_botlink.c */
int api_user_webhook_set(struct http_request *req, struct http_response *resp); /* api_webhook.c */
int api_recording_get(struct http_request *req, struct http_response *resp); /* api_recordings.c */
/* Removes meeting_id's recording (and a stale .tmp) and audio log under
 * cfg.data_dir; missing files are fine, failures are logged (api_recordings.c). */
void api_recording_remove(struct api *a, int64_t meeting_id);
/* Checks a file:/// source URL against dir (borrowed; NULL or "": none
 * allowed) and writes "file://<resolved path>" into out. HARK_EINVAL with
 * *why (static) saying what is wrong (api_filesource.c). */
int api_file_source_resolve(const char *dir, const char *url, char *out, size_t size,
                            const char **why);
/* Publishes the webhooks of a status change the API made (m: the row after
 * it, from: the status before; both borrowed). A failure is logged, never
 * returned: the change stands and a client must not retry it. */
void api_meeting_changed(struct api *a, const struct store_meeting *m, const char *from);

/* Reads path parameter `name` as a positive id. On failure replies 422
 * (FastAPI's int_parsing shape) and returns HARK_EINVAL. */
int api_param_id(struct http_request *req, struct http_response *resp, const char *name,
                 int64_t *out);
/* Parses the request body as a JSON object; on failure replies 422 with a
 * json_invalid detail and returns HARK_EPARSE. An empty body gives an empty
 * object when allow_empty. *out: caller releases with json_object_put(). */
int api_body_object(struct http_request *req, struct http_response *resp, int allow_empty,
                    struct json_object **out);
/* Replies with the store error rc: 404 (with not_found_msg) for ENOENT,
 * 422 for EINVAL, 409 for EEXIST, 503 for busy/ENOMEM, 500 otherwise.
 * Returns rc. */
int api_store_error(struct http_response *resp, int rc, const char *not_found_msg);
/* Replies json obj with status and releases obj. */
int api_reply_put(struct http_response *resp, int status, struct json_object *obj);
/* A user as Vexa's UserResponse. NULL on allocation failure. */
struct json_object *api_user_json(const struct store_user *u);
/* A comma list ("bot,tx") as a JSON array; NULL on allocation failure. */
struct json_object *api_scopes_json(const char *csv);
/* The api a handler runs for. */
static inline struct api *api_of(struct http_request *req) { return req->app; }

#endif
