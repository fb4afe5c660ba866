/* botmgr_private.h — what botmgr.c (bots, reconciliation) and botmgr_link.c
 * (the bots' links) share. */
#ifndef HARK_BOTMGR_PRIVATE_H
#define HARK_BOTMGR_PRIVATE_H
#include <pthread.h>
#include <sodium.h>

#include "hark/botmgr.h"
#include "hark/store.h"

/* One bot this process started. Guarded by botmgr.lock. */
struct bot_entry {
    int64_t meeting_id, user_id;
    char handle[BOT_HANDLE_MAX];     /* "" once the process is reaped */
    unsigned char token_hash[crypto_generichash_BYTES];
    int linked;                      /* its token was used */
    struct botmgr_link *link;        /* open link, NULL otherwise */
    int stop_requested;
    int64_t spawned_ms, stop_ms;
    int rtmp_port;                   /* 0: none */
    struct bot_entry *next;
};

struct botmgr {
    struct botmgr_config cfg;
    char *hark_path, *link_host, *rtmp_host;
    struct bot_driver *driver;
    struct pipeline *pipeline;
    struct notify notify;
    int link_port;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct bot_entry *bots;
    unsigned char *ports_used;       /* rtmp_port_count flags */
    pthread_t thread;
    int running, stopping;
    struct metric *m_running, *m_started, *m_failed; /* NULL without metrics */
};

struct botmgr_link {
    struct botmgr *m;
    int64_t meeting_id, user_id;
    struct pipeline_run *run;
    botmgr_stop_fn *stop;
    void *stop_arg;
    int ended;                       /* end or fail reported */
};

/* The bot entry of a meeting; under m->lock. NULL when none. */
struct bot_entry *botmgr_entry_find(struct botmgr *m, int64_t meeting_id);
/* Unlinks and frees e, releasing its port; under m->lock. */
void botmgr_entry_remove(struct botmgr *m, struct bot_entry *e);

/* The failure_stage a meeting in `status` fails at. */
const char *botmgr_stage_of(const char *status);
/* Ends meeting id whose bot is gone: transcribes what its log holds (when
 * run is NULL a run is opened for it), then completes it when the user had
 * asked it to stop, else fails it with `detail` at its stage. */
void botmgr_settle(struct botmgr *m, int64_t id, int64_t user_id, struct pipeline_run *run,
                   const char *detail);

#endif
