/* hark webhook — set a user's webhook, send it a test event and inspect the
 * delivery queue, straight in the store. Publishing from here is safe while
 * `hark serve` runs on the same data dir: the queue is the store, and the
 * server's delivery thread picks the event up within a poll interval. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "bin.h"
#include "hark/buf.h"
#include "hark/config.h"
#include "hark/json.h"
#include "hark/mem.h"
#include "hark/store.h"
#include "hark/webhook_queue.h"

static int webhook_usage(void)
{
    fprintf(stderr,
            "usage: hark webhook [--data DIR] set --user ID --url URL [--secret S] "
            "[--events a,b]\n"
            "       hark webhook [--data DIR] test --user ID\n"
            "       hark webhook [--data DIR] deliveries [--status pending|delivered|dead] "
            "[--limit N]\n");
    return 2;
}

int settings_webhooks(const struct config *c, struct webhook_queue_config *out)
{
    struct webhook_queue_config wc = webhook_queue_config_default();
    wc.allow_private = config_get_bool(c, "webhook_allow_private");
    wc.timeout_ms = (int)config_get_int(c, "webhook_timeout");
    const char *text = config_get_str(c, "webhook_retry_schedule");
    if (webhook_schedule_parse(text ? text : "", &wc.schedule)) {
        fprintf(stderr,
                "hark: webhook_retry_schedule must be up to %d comma-separated whole "
                "seconds, each at most 30 days (from %s)\n",
                WEBHOOK_RETRIES_MAX, config_origin(c, "webhook_retry_schedule"));
        return 2;
    }
    *out = wc;
    return 0;
}

static const char *opt(int argc, char **argv, int from, const char *name)
{
    for (int i = from; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return NULL;
}

static int parse_id(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || errno || *end || end == s || v < 1)
        return -1;
    *out = v;
    return 0;
}

/* "a,b" → ["a","b"]; *out freed with hark_free(). */
static int events_json(const char *list, char **out)
{
    *out = NULL;
    struct json_object *arr = json_object_new_array();
    int rc = arr ? 0 : HARK_ENOMEM;
    for (const char *p = list; !rc && *p;) {
        size_t n = strcspn(p, ",");
        struct json_object *name = n ? json_object_new_string_len(p, (int)n) : NULL;
        if (n && (!name || json_object_array_add(arr, name))) {
            json_object_put(name);
            rc = HARK_ENOMEM;
        }
        p += n + (p[n] == ',');
    }
    struct hbuf b;
    hbuf_init(&b, 0);
    if (!rc)
        rc = json_append(&b, arr);
    json_object_put(arr);
    if (!rc && !(*out = hbuf_take(&b)))
        rc = HARK_ENOMEM;
    hbuf_release(&b);
    return rc;
}

static int hook_set(struct store *st, const struct config *c, int argc, char **argv, int i)
{
    int64_t user;
    const char *url = opt(argc, argv, i, "--url"), *events = opt(argc, argv, i, "--events");
    if (parse_id(opt(argc, argv, i, "--user"), &user) || !url)
        return webhook_usage();
    char why[160];
    if (webhook_url_check(url, config_get_bool(c, "webhook_allow_private"), why, sizeof why)) {
        fprintf(stderr, "hark webhook: URL refused: %s\n", why);
        return 1;
    }
    char *ev = NULL;
    if (events && events_json(events, &ev)) {
        fprintf(stderr, "hark webhook: out of memory\n");
        return 1;
    }
    struct store_webhook w;
    int rc = store_webhook_set(st, user, url, opt(argc, argv, i, "--secret"), ev, &w);
    hark_free(ev);
    if (rc) {
        fprintf(stderr, "hark webhook: cannot set the webhook: %s\n",
                rc == HARK_ENOENT ? "no such user" : hark_strerror(rc));
        return 1;
    }
    printf("webhook id=%" PRId64 " user_id=%" PRId64 " events=%s\n", w.id, w.user_id,
           w.events_json);
    store_webhook_release(&w);
    return 0;
}

/* Publishes webhook.test through the same queue meeting events use. */
static int hook_test(struct store *st, const struct config *c, int argc, char **argv, int i)
{
    int64_t user;
    if (parse_id(opt(argc, argv, i, "--user"), &user))
        return webhook_usage();
    struct webhook_queue_config wc;
    struct webhook_queue *q = NULL;
    int rc = settings_webhooks(c, &wc);
    if (rc)
        return rc;
    char id[WEBHOOK_EVENT_ID_SIZE], data[96];
    snprintf(data, sizeof data, "{\"user_id\":%" PRId64 ",\"message\":\"test event from hark\"}",
             user);
    size_t n = 0;
    rc = webhook_event_id(id);
    if (!rc)
        rc = webhook_queue_new(&wc, st, &q);
    if (!rc)
        rc = webhook_queue_publish(q, user, WEBHOOK_EVENT_TEST, data, id, &n);
    webhook_queue_free(q);
    if (rc) {
        fprintf(stderr, "hark webhook: cannot queue the test event: %s\n", hark_strerror(rc));
        return 1;
    }
    if (!n) {
        fprintf(stderr, "hark webhook: user %" PRId64 " has no webhook\n", user);
        return 1;
    }
    printf("%s\n", id);
    return 0;
}

static int hook_deliveries(struct store *st, int argc, char **argv, int i)
{
    const char *status = opt(argc, argv, i, "--status"), *limit_s = opt(argc, argv, i, "--limit");
    int64_t limit = 100;
    if (limit_s && parse_id(limit_s, &limit))
        return webhook_usage();
    struct store_delivery *ds;
    size_t n;
    int rc = store_delivery_list(st, status, 0, (size_t)limit, &ds, &n);
    if (rc) {
        fprintf(stderr, "hark webhook: cannot list deliveries: %s\n", hark_strerror(rc));
        return 1;
    }
    for (size_t k = 0; k < n; k++)
        printf("%" PRId64 "\t%" PRId64 "\t%s\t%s\t%s\tattempts=%d\tnext=%" PRId64
               "\tlast_status=%d\t%s\n",
               ds[k].id, ds[k].webhook_id, ds[k].event_id, ds[k].event_type, ds[k].status,
               ds[k].attempts, ds[k].next_attempt_at_ms, ds[k].last_status,
               ds[k].last_error ? ds[k].last_error : "");
    store_delivery_list_free(ds, n);
    return 0;
}

int cmd_webhook(int argc, char **argv)
{
    struct config *c;
    int argi = 1;
    int rc = settings_load(argc, argv, &argi, &c);
    if (rc)
        return rc;
    struct store *st = NULL;
    if (argi >= argc)
        rc = webhook_usage();
    else if (settings_open_store(c, &st))
        rc = 1;
    else if (!strcmp(argv[argi], "set"))
        rc = hook_set(st, c, argc, argv, argi + 1);
    else if (!strcmp(argv[argi], "test"))
        rc = hook_test(st, c, argc, argv, argi + 1);
    else if (!strcmp(argv[argi], "deliveries"))
        rc = hook_deliveries(st, argc, argv, argi + 1);
    else
        rc = webhook_usage();
    store_free(st);
    config_free(c);
    return rc;
}
