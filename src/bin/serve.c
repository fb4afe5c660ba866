/* hark serve — the embedded, all-in-one role. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bin.h"
#include "hark/api.h"
#include "hark/asr.h"
#include "hark/auth.h"
#include "hark/bot.h"
#include "hark/botmgr.h"
#include "hark/clock.h"
#include "hark/config.h"
#include "hark/http.h"
#include "hark/jobq.h"
#include "hark/live.h"
#include "hark/log.h"
#include "hark/metrics.h"
#include "hark/notify.h"
#include "hark/pipeline.h"
#include "hark/store.h"
#include "hark/stream.h"
#include "hark/version.h"
#include "hark/webhook_queue.h"
#include "hark/whisperlive.h"

struct serve {
    struct config *cfg;
    struct store *store;
    struct auth *auth;
    struct metrics *metrics;
    struct api *api;
    struct asr_engine *engine;
    struct jobq *jobs;
    struct streamer *streamer;
    struct wlive *wlive;
    struct http_server *http;
    struct webhook_queue *webhooks;
    struct live *live;
    struct notify notify;
    struct pipeline *pipeline;
    struct bot_driver *driver;
    struct botmgr *bots;
};

/* Each connection is a file descriptor: lift the soft limit to the hard one
 * so max_connections, not a default of 1024 fds, is what caps them. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl))
            log_warn("serve", "msg=\"cannot raise fd limit\"");
    }
}

static int process_metrics(struct metrics *m)
{
    static const char *const labels[] = {"version"};
    static const char *const values[] = {HARK_VERSION};
    struct metric *info, *start;
    int rc = metrics_gauge(m, "hark_build_info", "Hark build, as a label; always 1.", labels,
                           1, &info);
    if (!rc)
        rc = metrics_gauge(m, "hark_process_start_time_seconds",
                           "Start time of the process since the Unix epoch.", NULL, 0, &start);
    if (!rc) {
        (void)metric_set(info, values, 1);
        (void)metric_set(start, NULL, (double)clock_now_ms() / 1000.0);
    }
    return rc;
}

static struct http_config http_settings(const struct config *c)
{
    struct http_config h = http_config_default();
    h.listen = config_get_str(c, "listen");
    h.threads = (unsigned)config_get_int(c, "http_threads");
    h.max_connections = (unsigned)config_get_int(c, "max_connections");
    h.max_connections_per_ip = (unsigned)config_get_int(c, "max_connections_per_ip");
    h.max_body_bytes = (size_t)config_get_int(c, "max_body_bytes");
    h.max_upload_bytes = (size_t)config_get_int(c, "max_upload_bytes");
    h.max_header_bytes = (size_t)config_get_int(c, "max_header_bytes");
    h.idle_timeout_s = (unsigned)(config_get_int(c, "idle_timeout") / 1000);
    h.access_log = config_get_bool(c, "access_log");
    return h;
}

static void announce_admin_key(const char *key)
{
    if (!key[0])
        return;
    /* Shown once: only its hash is kept. Goes to the log (for scripts and
     * `make run`) and to stdout for a person at a terminal. */
    log_warn("serve", "msg=\"generated admin key; store it now, it is not shown again\" "
             "admin_api_key=%s", key);
    printf("hark: admin API key (shown once): %s\n", key);
}

/* Live streams on the engine: meetings, /ws/audio, the WhisperLive
 * listener. */
static int start_streams(struct serve *s)
{
    struct streamer_config sc = streamer_config_default();
    sc.max_streams = (int)config_get_int(s->cfg, "max_streams");
    sc.vad_model = config_get_str(s->cfg, "vad_model");
    int rc = streamer_new(s->engine, &sc, &s->streamer);
    if (rc)
        fprintf(stderr, "hark: cannot start live streams: %s\n", hark_strerror(rc));
    return rc ? 1 : 0;
}

static int start_whisperlive(struct serve *s)
{
    struct wlive_config wc = wlive_config_default();
    wc.listen = config_get_str(s->cfg, "whisperlive_listen");
    wc.user = config_get_str(s->cfg, "whisperlive_user");
    wc.http = http_settings(s->cfg);
    int rc = wlive_new(&wc, s->pipeline, &s->notify, &s->wlive);
    if (rc) {
        fprintf(stderr, "hark: cannot start /ws/audio%s%s: %s\n",
                wc.listen ? " / whisperlive_listen " : "", wc.listen ? wc.listen : "",
                rc == HARK_ECONFIG ? "whisperlive_listen needs whisperlive_user"
                                   : hark_strerror(rc));
        return 1;
    }
    api_set_whisperlive(s->api, s->wlive);
    return 0;
}

/* Meetings: audio logs and recordings under the data dir, bots as child
 * processes of this one. Needs the streamer (a model). */
static int start_meetings(struct serve *s)
{
    char audio[4096], recordings[4096], self[4096];
    const char *data = config_get_str(s->cfg, "data");
    snprintf(audio, sizeof audio, "%s/audio", data);
    snprintf(recordings, sizeof recordings, "%s/recordings", data);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "hark: cannot find its own program for bots\n");
        return 1;
    }
    self[n] = '\0';
    struct pipeline_config pc = pipeline_config_default();
    pc.audio_dir = audio;
    pc.recordings_dir = recordings;
    pc.metrics = s->metrics;
    struct bot_process_config dc = bot_process_config_default();
    struct botmgr_config bc = botmgr_config_default();
    bc.hark_path = self;
    bc.metrics = s->metrics;
    bc.rtmp_host = config_get_str(s->cfg, "rtmp_host");
    bc.rtmp_port_first = (int)config_get_int(s->cfg, "rtmp_port_first");
    bc.rtmp_port_count = (int)config_get_int(s->cfg, "rtmp_port_count");
    bc.connect_timeout_ms = (int)config_get_int(s->cfg, "bot_connect_timeout");
    bc.limits.memory_bytes = (uint64_t)config_get_int(s->cfg, "bot_memory_limit");
    int rc = pipeline_new(&pc, s->streamer, &s->notify, &s->pipeline);
    if (rc) {
        fprintf(stderr, "hark: cannot start meetings under %s: %s\n", data, hark_strerror(rc));
        return 1;
    }
    if (start_whisperlive(s))
        return 1;
    rc = bot_process_driver_new(&dc, &s->driver);
    if (!rc)
        rc = botmgr_new(&bc, s->driver, s->pipeline, &s->notify, &s->bots);
    if (rc) {
        fprintf(stderr, "hark: cannot start the bot manager: %s\n", hark_strerror(rc));
        return 1;
    }
    api_set_bots(s->api, s->bots);
    return 0;
}

/* The model is optional: without one the API serves everything but
 * transcription, and says so (503 model_not_loaded). */
static int start_engine(struct serve *s)
{
    struct asr_config ac;
    if (settings_asr(s->cfg, &ac))
        return 1;
    if (ac.kind == ASR_KIND_WHISPER && !ac.model_path) {
        log_warn("serve", "msg=\"no model configured: transcription is off\" hint=\"--model PATH\"");
        if (config_get_str(s->cfg, "whisperlive_listen"))
            log_warn("serve", "msg=\"whisperlive_listen is off: it needs a model\"");
        return 0;
    }
    int rc = asr_engine_new(&ac, &s->engine);
    if (!rc)
        rc = jobq_new((unsigned)ac.decoders, (size_t)config_get_int(s->cfg, "batch_queue"),
                      &s->jobs);
    if (rc) {
        fprintf(stderr, "hark: cannot start the %s engine: %s\n",
                ac.kind == ASR_KIND_REMOTE ? "remote" : "whisper", hark_strerror(rc));
        return 1;
    }
    api_set_engine(s->api, s->engine, s->jobs);
    return start_streams(s);
}

static int start(struct serve *s)
{
    char new_admin[64];
    if (settings_open_store(s->cfg, &s->store))
        return 1;
    int rc = auth_new(s->store, config_get_str(s->cfg, "admin_api_key"), &s->auth, new_admin,
                      sizeof new_admin);
    if (rc) {
        fprintf(stderr, "hark: cannot initialise auth: %s\n", hark_strerror(rc));
        return 1;
    }
    announce_admin_key(new_admin);
    /* Async jobs' audio lived in memory: whatever was pending is lost. */
    int64_t lost = 0;
    if (store_job_fail_unfinished(s->store, "server restarted before the job finished", &lost))
        log_warn("serve", "msg=\"cannot fail unfinished jobs\"");
    else if (lost)
        log_warn("serve", "msg=\"unfinished jobs marked failed\" n=%lld", (long long)lost);
    struct api_config ac = api_config_default();
    ac.default_max_concurrent_bots = (int)config_get_int(s->cfg, "default_max_concurrent_bots");
    ac.rtmp_port_first = (int)config_get_int(s->cfg, "rtmp_port_first");
    ac.data_dir = config_get_str(s->cfg, "data");
    ac.file_source_dir = config_get_str(s->cfg, "file_source_dir");
    struct live_config lc = live_config_default();
    if ((rc = metrics_new(&s->metrics)) || (rc = process_metrics(s->metrics)) ||
        (rc = live_new(&lc, &s->live)) ||
        (rc = api_new(&ac, s->store, s->auth, s->metrics, &s->api))) {
        fprintf(stderr, "hark: %s\n", hark_strerror(rc));
        return 1;
    }
    if (start_engine(s))
        return 1;
    /* Deliveries left by the previous run are in the store: the thread
     * resumes them. */
    struct webhook_queue_config wq;
    if (settings_webhooks(s->cfg, &wq))
        return 1;
    if ((rc = webhook_queue_new(&wq, s->store, &s->webhooks)) ||
        (rc = webhook_queue_start(s->webhooks))) {
        fprintf(stderr, "hark: cannot start webhook delivery: %s\n", hark_strerror(rc));
        return 1;
    }
    api_set_webhooks(s->api, s->webhooks, wq.allow_private);
    s->notify = (struct notify){.store = s->store, .webhooks = s->webhooks, .live = s->live};
    if (s->streamer && start_meetings(s))
        return 1;
    struct http_config hc = http_settings(s->cfg);
    size_t n_routes;
    const struct http_route *routes = api_routes(&n_routes);
    api_set_live(s->api, s->live);
    rc = http_server_new(&hc, routes, n_routes, api_authorize, s->api, s->metrics, &s->http);
    if (rc) {
        fprintf(stderr, "hark: cannot serve HTTP on %s: %s\n", hc.listen, hark_strerror(rc));
        return 1;
    }
    if (s->bots) { /* bots link back to the bound port */
        botmgr_set_link_port(s->bots, http_server_port(s->http));
        if ((rc = botmgr_start(s->bots))) {
            fprintf(stderr, "hark: cannot start the bot manager: %s\n", hark_strerror(rc));
            return 1;
        }
    }
    return 0;
}

static void stop(struct serve *s)
{
    jobq_free(s->jobs); /* waiting uploads get 503 before the server drains */
    botmgr_shutdown(s->bots); /* bots end; their links settle their meetings */
    wlive_stop(s->wlive); /* streams hear DISCONNECT before their sockets go */
    http_server_free(s->http);
    botmgr_free(s->bots);
    bot_driver_free(s->driver);
    pipeline_free(s->pipeline);
    wlive_free(s->wlive);
    streamer_free(s->streamer);
    asr_engine_free(s->engine);
    webhook_queue_free(s->webhooks); /* an attempt in flight is handed back */
    api_free(s->api);
    live_free(s->live);
    metrics_free(s->metrics);
    auth_free(s->auth);
    store_free(s->store);
    config_free(s->cfg);
}

/* Waits for SIGINT or SIGTERM. The signals are blocked in every thread
 * (masks are inherited), so only this sigwait() sees them. */
static int wait_for_signal(const sigset_t *set)
{
    int sig = 0;
    sigwait(set, &sig);
    return sig;
}

int cmd_serve(int argc, char **argv)
{
    struct serve s = {0};
    int argi = 1;
    int rc = settings_load(argc, argv, &argi, &s.cfg);
    if (rc)
        return rc;
    if (argi < argc) {
        fprintf(stderr, "hark serve: unknown argument '%s' (see hark config --doc)\n",
                argv[argi]);
        config_free(s.cfg);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (start(&s)) {
        stop(&s);
        return 1;
    }
    /* The bound port, not the configured one: "--listen 127.0.0.1:0" works. */
    const char *listen = config_get_str(s.cfg, "listen");
    int host_len = (int)(strrchr(listen, ':') - listen);
    log_info("serve", "msg=\"listening\" version=%s url=http://%.*s:%d data=%s", HARK_VERSION,
             host_len, listen, http_server_port(s.http), config_get_str(s.cfg, "data"));
    printf("hark: serving on http://%.*s:%d\n", host_len, listen, http_server_port(s.http));
    fflush(stdout);
    int sig = wait_for_signal(&set);
    log_info("serve", "msg=\"stopping\" signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    stop(&s);
    log_info("serve", "msg=\"stopped\"");
    return 0;
}
