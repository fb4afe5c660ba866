#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hark/clock.h"
#include "hark/error.h"
#include "hark/mem.h"
#include "hark/store.h"
#include "hark/webhook_queue.h"

/* A fixed clock: the store takes every time as an argument. */
#define T0 ((int64_t)1767225600000)
#define LEASE 30000

static const char *tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", harness_tmpdir(), name);
    return buf;
}

static struct store *open_named(const char *name)
{
    char path[512];
    struct store_config c = store_config_default();
    c.url = tmp_path(path, sizeof path, name);
    struct store *s = NULL;
    assert_int_equal(store_open(&c, &s), 0);
    return s;
}

static void raw_exec(const char *name, const char *sql)
{
    char path[512];
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(tmp_path(path, sizeof path, name), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t new_user(struct store *s, const char *email)
{
    struct store_user u;
    assert_int_equal(store_user_create(s, email, NULL, 3, NULL, &u, NULL), 0);
    int64_t id = u.id;
    store_user_release(&u);
    return id;
}

static int64_t new_hook(struct store *s, int64_t user, const char *events)
{
    struct store_webhook w;
    assert_int_equal(store_webhook_set(s, user, "https://hooks.example.com/h", "sek", events, &w),
                     0);
    int64_t id = w.id;
    store_webhook_release(&w);
    return id;
}

static struct webhook_queue *queue_with(struct store *s, const int64_t *delays_ms, int n)
{
    struct webhook_queue_config c = webhook_queue_config_default();
    c.schedule.retries = n;
    c.schedule.jitter_permille = 0;
    for (int i = 0; i < n; i++)
        c.schedule.delay_ms[i] = delays_ms[i];
    struct webhook_queue *q = NULL;
    assert_int_equal(webhook_queue_new(&c, s, &q), 0);
    return q;
}

static size_t count(struct store *s, const char *status)
{
    struct store_delivery *ds;
    size_t n;
    assert_int_equal(store_delivery_list(s, status, 0, 1000, &ds, &n), 0);
    store_delivery_list_free(ds, n);
    return n;
}

static void enqueue_is_idempotent_per_webhook_and_event(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t u = new_user(s, "a@example.com"), v = new_user(s, "b@example.com");
    int64_t h1 = new_hook(s, u, NULL), h2 = new_hook(s, v, NULL);
    int created = -1;
    assert_int_equal(store_delivery_enqueue(s, h1, "evt_1", "meeting.completed", "{\"a\":1}", T0,
                                            &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(store_delivery_enqueue(s, h1, "evt_1", "meeting.completed", "{\"a\":2}", T0,
                                            &created), 0);
    assert_int_equal(created, 0);
    /* The same event for another webhook is a delivery of its own. */
    assert_int_equal(store_delivery_enqueue(s, h2, "evt_1", "meeting.completed", "{\"a\":1}", T0,
                                            &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(count(s, "pending"), 2);
    struct store_delivery d;
    assert_int_equal(store_delivery_claim(s, T0, LEASE, &d), 0);
    assert_string_equal(d.body, "{\"a\":1}"); /* the first body wins */
    assert_string_equal(d.url, "https://hooks.example.com/h");
    assert_string_equal(d.secret, "sek");
    assert_int_equal(d.attempts, 1);
    store_delivery_release(&d);
    store_free(s);
}

static void claim_leases_the_row_until_the_lease_runs_out(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t h = new_hook(s, new_user(s, "a@example.com"), NULL);
    assert_int_equal(store_delivery_enqueue(s, h, "evt_1", "meeting.completed", "{}", T0, NULL),
                     0);
    struct store_delivery a, b;
    assert_int_equal(store_delivery_claim(s, T0 - 1, LEASE, &a), HARK_ENOENT); /* not due */
    assert_int_equal(store_delivery_claim(s, T0, LEASE, &a), 0);
    assert_int_equal(a.next_attempt_at_ms, T0 + LEASE);
    /* A second sender, thread or process, finds nothing while it is leased. */
    assert_int_equal(store_delivery_claim(s, T0 + LEASE - 1, LEASE, &b), HARK_ENOENT);
    /* The first sender died: once the lease is out the row is due again. */
    assert_int_equal(store_delivery_claim(s, T0 + LEASE, LEASE, &b), 0);
    assert_int_equal(b.id, a.id);
    assert_int_equal(b.attempts, 2);
    /* The late first sender no longer holds the row... */
    assert_int_equal(store_delivery_succeed(s, a.id, a.attempts, 200, T0 + LEASE), HARK_ENOENT);
    assert_int_equal(store_delivery_fail(s, a.id, a.attempts, 500, "x", T0 + 1, T0 + LEASE),
                     HARK_ENOENT);
    /* ...the current one does, once. */
    assert_int_equal(store_delivery_succeed(s, b.id, b.attempts, 204, T0 + LEASE + 5), 0);
    assert_int_equal(store_delivery_succeed(s, b.id, b.attempts, 204, T0 + LEASE + 6),
                     HARK_ENOENT);
    assert_int_equal(count(s, "delivered"), 1);
    store_delivery_release(&a);
    store_delivery_release(&b);
    assert_int_equal(store_delivery_claim(s, T0 + 10 * LEASE, LEASE, &b), HARK_ENOENT);
    store_free(s);
}

static void unclaim_hands_an_unsent_attempt_back_uncounted(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t h = new_hook(s, new_user(s, "a@example.com"), NULL);
    assert_int_equal(store_delivery_enqueue(s, h, "evt_1", "meeting.completed", "{}", T0, NULL),
                     0);
    struct store_delivery d;
    assert_int_equal(store_delivery_claim(s, T0, LEASE, &d), 0);
    assert_int_equal(store_delivery_unclaim(s, d.id, d.attempts, T0 + 1), 0);
    store_delivery_release(&d);
    assert_int_equal(store_delivery_claim(s, T0 + 1, LEASE, &d), 0);
    assert_int_equal(d.attempts, 1);
    store_delivery_release(&d);
    store_free(s);
}

static void failures_follow_the_schedule_then_dead_letter(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t h = new_hook(s, new_user(s, "a@example.com"), NULL);
    static const int64_t delays[] = {1000, 5000};
    struct webhook_queue *q = queue_with(s, delays, 2);
    assert_int_equal(store_delivery_enqueue(s, h, "evt_1", "meeting.completed", "{}", T0, NULL),
                     0);
    const struct webhook_outcome e500 = {.http_status = 500};
    struct store_delivery d;
    enum webhook_settled how;
    int64_t now = T0;
    /* Attempt 1 fails: due again 1 s later, not before. */
    assert_int_equal(store_delivery_claim(s, now, LEASE, &d), 0);
    assert_int_equal(webhook_queue_settle(q, &d, &e500, now, &how), 0);
    assert_int_equal(how, WEBHOOK_SETTLED_RETRY);
    store_delivery_release(&d);
    assert_int_equal(store_delivery_claim(s, now + 999, LEASE, &d), HARK_ENOENT);
    now += 1000;
    /* Attempt 2 times out: due again 5 s later. */
    assert_int_equal(store_delivery_claim(s, now, LEASE, &d), 0);
    assert_int_equal(d.attempts, 2);
    assert_int_equal(d.last_status, 500);
    assert_string_equal(d.last_error, "HTTP 500");
    const struct webhook_outcome timeout = {.transport_error = 1, .error = "timed out"};
    assert_int_equal(webhook_queue_settle(q, &d, &timeout, now, &how), 0);
    assert_int_equal(how, WEBHOOK_SETTLED_RETRY);
    store_delivery_release(&d);
    assert_int_equal(store_delivery_claim(s, now + 4999, LEASE, &d), HARK_ENOENT);
    now += 5000;
    /* Attempt 3, the last the schedule allows, fails: dead letter. */
    assert_int_equal(store_delivery_claim(s, now, LEASE, &d), 0);
    assert_int_equal(webhook_queue_settle(q, &d, &e500, now, &how), 0);
    assert_int_equal(how, WEBHOOK_SETTLED_DEAD);
    store_delivery_release(&d);
    assert_int_equal(store_delivery_claim(s, now + 100LL * LEASE, LEASE, &d), HARK_ENOENT);
    struct store_delivery *dead;
    size_t n;
    assert_int_equal(store_delivery_list(s, "dead", 0, 10, &dead, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(dead[0].event_id, "evt_1");
    assert_int_equal(dead[0].attempts, 3);
    assert_int_equal(dead[0].next_attempt_at_ms, 0);
    store_delivery_list_free(dead, n);
    webhook_queue_free(q);
    store_free(s);
}

static void settle_sorts_outcomes(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t h = new_hook(s, new_user(s, "a@example.com"), NULL);
    static const int64_t delays[] = {1000, 1000, 1000};
    struct webhook_queue *q = queue_with(s, delays, 3);
    static const struct {
        struct webhook_outcome o;
        enum webhook_settled want;
    } cases[] = {
        {{.http_status = 200}, WEBHOOK_SETTLED_DELIVERED},
        {{.http_status = 204}, WEBHOOK_SETTLED_DELIVERED},
        {{.http_status = 429}, WEBHOOK_SETTLED_RETRY},
        {{.http_status = 503}, WEBHOOK_SETTLED_RETRY},
        {{.http_status = 404}, WEBHOOK_SETTLED_DEAD},
        {{.http_status = 302}, WEBHOOK_SETTLED_DEAD}, /* redirects are not followed */
        {{.transport_error = 1}, WEBHOOK_SETTLED_RETRY},
        {{.final = 1, .error = "target refused"}, WEBHOOK_SETTLED_DEAD},
        {{.http_status = 200, .final = 1}, WEBHOOK_SETTLED_DEAD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char id[32];
        snprintf(id, sizeof id, "evt_%zu", i);
        assert_int_equal(store_delivery_enqueue(s, h, id, "meeting.completed", "{}", T0, NULL), 0);
        struct store_delivery d;
        assert_int_equal(store_delivery_claim(s, T0, LEASE, &d), 0);
        assert_string_equal(d.event_id, id);
        enum webhook_settled how;
        assert_int_equal(webhook_queue_settle(q, &d, &cases[i].o, T0, &how), 0);
        assert_int_equal(how, cases[i].want);
        store_delivery_release(&d);
    }
    webhook_queue_free(q);
    store_free(s);
}

static void queued_and_leased_deliveries_survive_reopening_the_store(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t h = new_hook(s, new_user(s, "a@example.com"), NULL);
    assert_int_equal(store_delivery_enqueue(s, h, "evt_a", "meeting.completed", "{}", T0, NULL),
                     0);
    assert_int_equal(store_delivery_enqueue(s, h, "evt_b", "meeting.completed", "{}", T0 + 1,
                                            NULL), 0);
    struct store_delivery d;
    assert_int_equal(store_delivery_claim(s, T0, LEASE, &d), 0); /* evt_a, then a "crash" */
    assert_string_equal(d.event_id, "evt_a");
    store_delivery_release(&d);
    store_free(s);

    s = open_named("db");
    assert_int_equal(store_delivery_claim(s, T0 + 1, LEASE, &d), 0);
    assert_string_equal(d.event_id, "evt_b");
    assert_int_equal(d.attempts, 1);
    store_delivery_release(&d);
    assert_int_equal(store_delivery_claim(s, T0 + LEASE - 1, LEASE, &d), HARK_ENOENT);
    assert_int_equal(store_delivery_claim(s, T0 + LEASE, LEASE, &d), 0);
    assert_string_equal(d.event_id, "evt_a");
    assert_int_equal(d.attempts, 2);
    store_delivery_release(&d);
    store_free(s);
}

static void publish_fans_out_to_the_webhooks_that_want_the_event(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t u = new_user(s, "a@example.com"), other = new_user(s, "b@example.com");
    int64_t dflt = new_hook(s, u, NULL); /* names no event: meeting.completed only */
    new_hook(s, other, "{\"meeting.completed\":true}");
    /* A second webhook of the same user (the store allows several rows). */
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO webhooks(user_id, url, events, created_at) VALUES (%lld, "
             "'https://b.example.com/', '{\"meeting.completed\":true,"
             "\"transcript.segment\":true,\"meeting.status_change\":false}', 1)",
             (long long)u);
    raw_exec("db", sql);
    struct webhook_queue *q = queue_with(s, NULL, 0);
    size_t n = 99;
    assert_int_equal(webhook_queue_publish(q, u, "meeting.completed", "{\"meeting\":{\"id\":7}}",
                                           "evt_m7_done", &n), 0);
    assert_int_equal(n, 2);
    /* Publishing the same event again queues nothing twice. */
    assert_int_equal(webhook_queue_publish(q, u, "meeting.completed", "{\"meeting\":{\"id\":7}}",
                                           "evt_m7_done", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(webhook_queue_publish(q, u, "transcript.segment", "{}", NULL, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(webhook_queue_publish(q, u, "meeting.status_change", "{}", NULL, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(webhook_queue_publish(q, u, WEBHOOK_EVENT_TEST, "{}", NULL, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(count(s, "pending"), 5);

    struct store_delivery *ds;
    size_t k;
    assert_int_equal(store_delivery_list(s, NULL, 0, 100, &ds, &k), 0);
    int found = 0;
    for (size_t i = 0; i < k; i++) {
        assert_int_equal(ds[i].user_id, u);
        if (ds[i].webhook_id == dflt && !strcmp(ds[i].event_type, "meeting.completed")) {
            found = 1;
            assert_non_null(strstr(ds[i].body, "{\"event_id\":\"evt_m7_done\",\"event_type\":"
                                               "\"meeting.completed\",\"api_version\":\""));
            assert_non_null(strstr(ds[i].body, "\"data\":{\"meeting\":{\"id\":7}}}"));
        }
    }
    assert_true(found);
    store_delivery_list_free(ds, k);
    assert_int_equal(webhook_queue_publish(q, u, "meeting.completed", "[1]", NULL, &n),
                     HARK_EINVAL);
    assert_int_equal(webhook_queue_publish(q, u, "meeting.completed", "{", NULL, &n),
                     HARK_EINVAL);
    assert_int_equal(webhook_queue_publish(q, u, "meeting.completed", "{} {}", NULL, &n),
                     HARK_EINVAL);
    assert_int_equal(webhook_queue_publish(q, u, "Bad Type", "{}", NULL, &n), HARK_EINVAL);
    /* A user without webhooks: nothing to do, not an error. */
    assert_int_equal(webhook_queue_publish(q, 999, "meeting.completed", "{}", NULL, &n), 0);
    assert_int_equal(n, 0);
    webhook_queue_free(q);
    store_free(s);
}

static void webhook_set_replaces_the_users_webhook_in_place(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t u = new_user(s, "a@example.com");
    struct store_webhook w;
    assert_int_equal(store_webhook_set(s, u, "https://one.example.com/", NULL, NULL, &w), 0);
    int64_t id = w.id;
    assert_null(w.secret);
    assert_string_equal(w.events_json, "[]");
    store_webhook_release(&w);
    assert_int_equal(store_webhook_set(s, u, "https://two.example.com/", "s2",
                                       "[\"meeting.completed\"]", &w), 0);
    assert_int_equal(w.id, id);
    store_webhook_release(&w);
    assert_int_equal(store_webhook_get(s, u, &w), 0);
    assert_string_equal(w.url, "https://two.example.com/");
    assert_string_equal(w.secret, "s2");
    store_webhook_release(&w);
    assert_int_equal(store_webhook_set(s, 999, "https://x.example.com/", NULL, NULL, &w),
                     HARK_ENOENT);
    assert_int_equal(store_webhook_set(s, u, "https://x.example.com/", NULL, "{bad", &w),
                     HARK_EINVAL);
    assert_int_equal(store_webhook_get(s, 999, &w), HARK_ENOENT);
    store_free(s);
}

static void delivery_of_a_removed_webhook_has_no_url(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t h = new_hook(s, new_user(s, "a@example.com"), NULL);
    assert_int_equal(store_delivery_enqueue(s, h, "evt_1", "meeting.completed", "{}", T0, NULL),
                     0);
    raw_exec("db", "DELETE FROM webhooks");
    struct store_delivery d;
    assert_int_equal(store_delivery_claim(s, T0, LEASE, &d), 0);
    assert_null(d.url);
    assert_int_equal(d.user_id, 0);
    store_delivery_release(&d);
    store_free(s);
}

/* A database written by a binary that knew only migration 1 keeps its
 * queued delivery, and then takes the same event for a second webhook. */
static void migration_2_keeps_deliveries_and_scopes_event_ids_per_webhook(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t h = new_hook(s, new_user(s, "a@example.com"), NULL);
    int64_t h2 = new_hook(s, new_user(s, "b@example.com"), NULL);
    store_free(s);
    char sql[1024];
    /* Back to version 1's table, as an older binary left it. */
    snprintf(sql, sizeof sql,
             "DROP TABLE webhook_deliveries;"
             "CREATE TABLE webhook_deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT,"
             " webhook_id INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE,"
             " event_type TEXT NOT NULL, body TEXT NOT NULL,"
             " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER,"
             " status TEXT NOT NULL DEFAULT 'pending', last_error TEXT,"
             " created_at INTEGER NOT NULL) STRICT;"
             "INSERT INTO webhook_deliveries(webhook_id, event_id, event_type, body, attempts,"
             " next_attempt_at, created_at) VALUES (%lld, 'evt_old', 'meeting.completed', '{}',"
             " 1, %lld, 5);"
             "DELETE FROM schema_migrations WHERE version > 1;",
             (long long)h, (long long)T0);
    raw_exec("db", sql);
    s = open_named("db");
    int v = 0;
    assert_int_equal(store_schema_version(s, &v), 0);
    assert_int_equal(v, 2);
    struct store_delivery d;
    assert_int_equal(store_delivery_claim(s, T0, LEASE, &d), 0);
    assert_string_equal(d.event_id, "evt_old");
    assert_int_equal(d.attempts, 2);
    assert_int_equal(d.created_at_ms, 5);
    store_delivery_release(&d);
    int created = 0;
    assert_int_equal(store_delivery_enqueue(s, h2, "evt_old", "meeting.completed", "{}", T0,
                                            &created), 0);
    assert_int_equal(created, 1);
    store_free(s);
}

static void schedule_text_parses_seconds(void **state)
{
    (void)state;
    struct webhook_schedule s = webhook_schedule_default();
    assert_int_equal(webhook_schedule_parse("60,300,1800,7200", &s), 0);
    assert_int_equal(s.retries, 4);
    assert_int_equal(s.delay_ms[3], 7200000);
    assert_int_equal(s.jitter_permille, 100); /* kept */
    assert_int_equal(webhook_schedule_parse(" 1 , 2,3 ", &s), 0);
    assert_int_equal(s.retries, 3);
    assert_int_equal(s.delay_ms[1], 2000);
    assert_int_equal(webhook_schedule_parse("", &s), 0);
    assert_int_equal(s.retries, 0);
    static const char *const bad[] = {"1,", ",1", "1,,2", "-1", "1.5", "1s", "2592001",
                                      "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s.retries = 7;
        assert_int_equal(webhook_schedule_parse(bad[i], &s), HARK_EINVAL);
        assert_int_equal(s.retries, 7); /* untouched */
    }
    assert_int_equal(webhook_schedule_parse("2592000", &s), 0);
}

static void arguments_are_checked(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    struct store_delivery d;
    assert_int_equal(store_delivery_enqueue(s, 1, "", "t", "{}", T0, NULL), HARK_EINVAL);
    assert_int_equal(store_delivery_enqueue(s, 1, "e", "t", "{}", -1, NULL), HARK_EINVAL);
    assert_int_equal(store_delivery_claim(s, T0, 0, &d), HARK_EINVAL);
    assert_int_equal(store_delivery_claim(NULL, T0, LEASE, &d), HARK_EINVAL);
    assert_int_equal(store_delivery_succeed(s, 1, 0, 200, T0), HARK_EINVAL);
    assert_int_equal(store_delivery_list(s, "", 0, 1, NULL, NULL), HARK_EINVAL);
    struct webhook_queue_config c = webhook_queue_config_default();
    struct webhook_queue *q = (void *)1;
    c.timeout_ms = 0;
    assert_int_equal(webhook_queue_new(&c, s, &q), HARK_EINVAL);
    assert_null(q);
    store_free(s);
}

/* The thread starts, finds nothing due, and stops promptly. */
static void queue_thread_starts_and_stops(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    struct webhook_queue *q = queue_with(s, NULL, 0);
    assert_int_equal(webhook_queue_start(q), 0);
    assert_int_equal(webhook_queue_start(q), HARK_EINVAL);
    webhook_queue_free(q);
    store_free(s);
}

static void publish_survives_allocation_failures(void **state)
{
    (void)state;
    struct store *s = open_named("db");
    int64_t u = new_user(s, "a@example.com");
    new_hook(s, u, "[\"meeting.completed\"]");
    struct webhook_queue *q = queue_with(s, NULL, 0);
    int ok = 0;
    for (long i = 0; i < 5000 && !ok; i++) {
        char id[32];
        snprintf(id, sizeof id, "evt_%ld", i);
        size_t n = 0;
        hark_mem_fail_after(i);
        int rc = webhook_queue_publish(q, u, "meeting.completed", "{\"a\":[1,2]}", id, &n);
        hark_mem_fail_after(-1);
        if (!rc) {
            ok = 1;
            assert_int_equal(n, 1);
        } else {
            if (rc != HARK_ENOMEM)
                fprintf(stderr, "i=%ld rc=%d\n", i, rc);
            assert_int_equal(rc, HARK_ENOMEM);
        }
    }
    assert_true(ok);
    webhook_queue_free(q);
    store_free(s);
}

/* A one-request-at-a-time HTTP receiver on 127.0.0.1: keeps the last request
 * and answers 200, or never answers when `hang` is set. */
struct receiver {
    int fd;
    int port;
    int hang;
    atomic_int accepted;
    atomic_int done;
    char request[8192];
    pthread_t thread;
};

static void *receiver_run(void *arg)
{
    struct receiver *r = arg;
    while (!atomic_load(&r->done)) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0)
            break;
        atomic_fetch_add(&r->accepted, 1);
        if (r->hang) {
            char b[256];
            while (read(c, b, sizeof b) > 0) /* until the sender gives up */
                ;
            close(c);
            continue;
        }
        size_t n = 0;
        ssize_t k;
        /* Head and body arrive within a read or two; the body ends in '}'. */
        while (n < sizeof r->request - 1 &&
               (k = read(c, r->request + n, sizeof r->request - 1 - n)) > 0) {
            n += (size_t)k;
            r->request[n] = '\0';
            if (n && r->request[n - 1] == '}')
                break;
        }
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssize_t sent = write(c, ok, sizeof ok - 1); /* a short write fails the test's wait */
        (void)sent;
        close(c);
    }
    return NULL;
}

static void receiver_start(struct receiver *r, int hang)
{
    memset(r, 0, sizeof *r);
    r->hang = hang;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(r->fd, 8), 0);
    assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &len), 0);
    r->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&r->thread, NULL, receiver_run, r), 0);
}

static void receiver_stop(struct receiver *r)
{
    atomic_store(&r->done, 1);
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->thread, NULL);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Status of the newest delivery, waiting up to 5 s for it to become want. */
static int wait_status(struct store *s, const char *want)
{
    for (int i = 0; i < 250; i++) {
        struct store_delivery *ds;
        size_t n;
        assert_int_equal(store_delivery_list(s, NULL, 0, 1, &ds, &n), 0);
        int hit = n == 1 && !strcmp(ds[0].status, want);
        store_delivery_list_free(ds, n);
        if (hit)
            return 1;
        sleep_ms(20);
    }
    return 0;
}

/* Copies header `name`'s value out of a raw request. */
static void header_value(const char *req, const char *name, char *out, size_t size)
{
    const char *p = strcasestr(req, name);
    assert_non_null(p);
    p += strlen(name);
    size_t n = strcspn(p, "\r\n");
    assert_true(n < size);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void the_thread_delivers_a_signed_request(void **state)
{
    (void)state;
    struct receiver r;
    receiver_start(&r, 0);
    struct store *s = open_named("db");
    int64_t u = new_user(s, "a@example.com");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    struct store_webhook w;
    assert_int_equal(store_webhook_set(s, u, url, "sek", NULL, &w), 0);
    store_webhook_release(&w);
    struct webhook_queue_config c = webhook_queue_config_default();
    c.allow_private = 1;
    struct webhook_queue *q = NULL;
    assert_int_equal(webhook_queue_new(&c, s, &q), 0);
    assert_int_equal(webhook_queue_start(q), 0);
    size_t n = 0;
    assert_int_equal(webhook_queue_publish(q, u, "meeting.completed", "{\"x\":1}", "evt_t1", &n),
                     0);
    assert_int_equal(n, 1);
    assert_true(wait_status(s, "delivered"));
    webhook_queue_free(q);
    receiver_stop(&r);
    char ts[32], sig[WEBHOOK_SIGNATURE_SIZE + 8];
    header_value(r.request, "X-Webhook-Timestamp: ", ts, sizeof ts);
    header_value(r.request, "X-Webhook-Signature: ", sig, sizeof sig);
    const char *body = strstr(r.request, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_non_null(strstr(body, "\"event_id\":\"evt_t1\""));
    assert_int_equal(webhook_verify("sek", ts, sig, body, strlen(body), clock_now_ms() / 1000,
                                    WEBHOOK_TOLERANCE_S), 0);
    assert_null(strcasestr(r.request, "Expect:"));
    store_free(s);
}

/* Stopping the queue cuts an attempt short and gives it back uncounted, so
 * a stop never waits out webhook_timeout nor spends a retry. */
static void stop_hands_an_attempt_in_flight_back(void **state)
{
    (void)state;
    struct receiver r;
    receiver_start(&r, 1);
    struct store *s = open_named("db");
    int64_t u = new_user(s, "a@example.com");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    struct store_webhook w;
    assert_int_equal(store_webhook_set(s, u, url, NULL, NULL, &w), 0);
    store_webhook_release(&w);
    struct webhook_queue_config c = webhook_queue_config_default();
    c.allow_private = 1;
    c.timeout_ms = 60000;
    struct webhook_queue *q = NULL;
    assert_int_equal(webhook_queue_new(&c, s, &q), 0);
    assert_int_equal(webhook_queue_start(q), 0);
    assert_int_equal(webhook_queue_publish(q, u, "meeting.completed", "{}", "evt_t2", NULL), 0);
    for (int i = 0; i < 250 && !atomic_load(&r.accepted); i++)
        sleep_ms(20);
    assert_int_equal(atomic_load(&r.accepted), 1);
    int64_t t = clock_mono_ms();
    webhook_queue_free(q);
    assert_true(clock_mono_ms() - t < 5000);
    receiver_stop(&r);
    struct store_delivery d;
    assert_int_equal(store_delivery_claim(s, clock_now_ms(), LEASE, &d), 0);
    assert_string_equal(d.event_id, "evt_t2");
    assert_int_equal(d.attempts, 1); /* the cut-short attempt was not counted */
    store_delivery_release(&d);
    store_free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(enqueue_is_idempotent_per_webhook_and_event),
    cmocka_unit_test(claim_leases_the_row_until_the_lease_runs_out),
    cmocka_unit_test(unclaim_hands_an_unsent_attempt_back_uncounted),
    cmocka_unit_test(failures_follow_the_schedule_then_dead_letter),
    cmocka_unit_test(settle_sorts_outcomes),
    cmocka_unit_test(queued_and_leased_deliveries_survive_reopening_the_store),
    cmocka_unit_test(publish_fans_out_to_the_webhooks_that_want_the_event),
    cmocka_unit_test(webhook_set_replaces_the_users_webhook_in_place),
    cmocka_unit_test(delivery_of_a_removed_webhook_has_no_url),
    cmocka_unit_test(migration_2_keeps_deliveries_and_scopes_event_ids_per_webhook),
    cmocka_unit_test(schedule_text_parses_seconds),
    cmocka_unit_test(arguments_are_checked),
    cmocka_unit_test(queue_thread_starts_and_stops),
    cmocka_unit_test(publish_survives_allocation_failures),
    cmocka_unit_test(the_thread_delivers_a_signed_request),
    cmocka_unit_test(stop_hands_an_attempt_in_flight_back),
};

HARNESS_MAIN(tests)
