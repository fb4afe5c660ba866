/* api.h — Hark's public HTTP API: the route table, authorization and the
 * context handlers share.
 *
 * Paths, bodies, status codes and error messages follow Vexa's v1 contract
 * (../shared/reference/vexa-api.md) so its clients work unchanged. The API
 * holds no state of its own beyond what it is given: several API processes
 * can serve one store. */
#ifndef HARK_API_H
#define HARK_API_H
#include <stddef.h>
#include "hark/error.h"
#include "hark/http.h"

struct store;
struct auth;
struct metrics;
struct api;

struct api_config {
    int default_max_concurrent_bots;   /* for users created without one; 3 */
    int rtmp_port_first;               /* rtmp URLs when no bot manager runs; 19350 */
    const char *data_dir;              /* borrowed; recordings and audio logs live
                                        * under it; NULL: no recordings (404) */
    const char *file_source_dir;       /* borrowed; file:// bot sources must lie
                                        * inside it; NULL or "": refused */
};
struct api_config api_config_default(void);

/* store, auth and metrics are borrowed and must outlive the api. *out is
 * freed with api_free(). */
HARK_MUST_CHECK int api_new(const struct api_config *c, struct store *store, struct auth *auth,
                            struct metrics *metrics, struct api **out);
void api_free(struct api *a);

struct asr_engine;
struct jobq;
/* Enables transcription: the batch endpoint runs on jobs' workers with
 * engine. Both borrowed, must outlive the api; call before serving. */
void api_set_engine(struct api *a, struct asr_engine *engine, struct jobq *jobs);

struct wlive;
/* Enables /ws/audio (whisperlive.h). w borrowed, must outlive the api;
 * call before serving. */
void api_set_whisperlive(struct api *a, struct wlive *w);

struct webhook_queue;
/* Enables meeting webhooks: events are published on q (borrowed, must
 * outlive the api; NULL publishes nothing). allow_private is the
 * webhook_allow_private setting PUT /user/webhook checks URLs with
 * (webhook_url_check()); 0 until this is called. Call before serving. */
void api_set_webhooks(struct api *a, struct webhook_queue *q, int allow_private);

struct live;
/* Enables /ws event delivery from hub l (live.h; borrowed, must outlive
 * the api). Call before serving. */
void api_set_live(struct api *a, struct live *l);

struct botmgr;
/* Runs bots: POST /bots starts one through m, DELETE /bots stops it
 * (botmgr.h; borrowed, must outlive the api). Call before serving. */
void api_set_bots(struct api *a, struct botmgr *m);

/* The route table (static storage) and the authorize hook for
 * http_server_new(), which is given the struct api as its app. */
const struct http_route *api_routes(size_t *n);
int api_authorize(void *app, struct http_request *req, struct http_response *resp);

#endif
