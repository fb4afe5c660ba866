/* sqlite_meetings.c — the SQLite backend's meetings, bots and segments.
 *
 * The statements are in sqlite_ops.c's table (ST_MEETING_*, ST_BOT_*,
 * ST_SEGMENT*); this file binds them and reads their rows. Operations whose
 * checks and writes must not be split (a limit checked then a row written,
 * a status read then moved, many segments written as one) run inside one
 * sqlite_write_txn(), so two API processes racing cannot both pass a check
 * that only one of them should. */
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hark/log.h"
#include "hark/mem.h"
#include "sqlite_private.h"

/* --- rows ------------------------------------------------------------------- */

static int text_col(sqlite3_stmt *st, int i, int required, char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        if (!required)
            return 0;
        log_error("store", "msg=\"NULL in a NOT NULL column\" column=%s",
                  sqlite3_column_name(st, i));
        return HARK_ESTORE;
    }
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t)
        return HARK_ENOMEM; /* converting the value to text ran out */
    *out = hark_strndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
    return *out ? 0 : HARK_ENOMEM;
}

static int meeting_read(sqlite3_stmt *st, void *item)
{
    struct store_meeting *m = item;
    m->id = sqlite3_column_int64(st, 0);
    m->user_id = sqlite3_column_int64(st, 1);
    m->start_time_ms = sqlite3_column_int64(st, 7);
    m->end_time_ms = sqlite3_column_int64(st, 8);
    m->created_at_ms = sqlite3_column_int64(st, 12);
    m->updated_at_ms = sqlite3_column_int64(st, 13);
    int err = text_col(st, 2, 1, &m->platform);
    if (!err)
        err = text_col(st, 3, 1, &m->native_meeting_id);
    if (!err)
        err = text_col(st, 4, 0, &m->constructed_meeting_url);
    if (!err)
        err = text_col(st, 5, 1, &m->status);
    if (!err)
        err = text_col(st, 6, 0, &m->bot_container_id);
    if (!err)
        err = text_col(st, 9, 0, &m->completion_reason);
    if (!err)
        err = text_col(st, 10, 0, &m->failure_stage);
    if (!err)
        err = text_col(st, 11, 1, &m->data_json);
    if (err)
        store_meeting_release(m);
    return err;
}

static void meeting_release(void *item) { store_meeting_release(item); }

static const struct row_type meeting_row = {sizeof(struct store_meeting), meeting_read,
                                            meeting_release};

static void segment_release(void *item)
{
    struct store_segment *g = item;
    hark_free(g->id);
    hark_free(g->speaker);
    hark_free(g->text);
    hark_free(g->language);
    hark_free(g->words_json);
    memset(g, 0, sizeof *g);
}

static int segment_read(sqlite3_stmt *st, void *item)
{
    struct store_segment *g = item;
    g->meeting_id = sqlite3_column_int64(st, 1);
    g->start_ms = sqlite3_column_int64(st, 3);
    g->end_ms = sqlite3_column_int64(st, 4);
    g->completed = sqlite3_column_int(st, 7);
    g->created_at_ms = sqlite3_column_int64(st, 9);
    g->updated_at_ms = sqlite3_column_int64(st, 10);
    int err = text_col(st, 0, 1, &g->id);
    if (!err)
        err = text_col(st, 2, 1, &g->speaker);
    if (!err)
        err = text_col(st, 5, 1, &g->text);
    if (!err)
        err = text_col(st, 6, 0, &g->language);
    if (!err)
        err = text_col(st, 8, 1, &g->words_json);
    if (err)
        segment_release(g);
    return err;
}

static const struct row_type segment_row = {sizeof(struct store_segment), segment_read,
                                            segment_release};

static int int_read(sqlite3_stmt *st, void *item)
{
    *(int64_t *)item = sqlite3_column_int64(st, 0);
    return 0;
}

static void int_release(void *item) { *(int64_t *)item = 0; }

static const struct row_type int_row = {sizeof(int64_t), int_read, int_release};

/* A status column into a fixed buffer: no allocation inside the hot
 * status path, and an over-long value is a broken row. */
struct status_item {
    char s[STORE_STATUS_MAX];
};

static int status_read(sqlite3_stmt *st, void *item)
{
    struct status_item *it = item;
    const unsigned char *t = sqlite3_column_text(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    if (!t && sqlite3_column_type(st, 0) != SQLITE_NULL)
        return HARK_ENOMEM;
    if (!t || n <= 0 || (size_t)n >= sizeof it->s) {
        log_error("store", "msg=\"meeting status unreadable\" bytes=%d", n);
        return HARK_ESTORE;
    }
    memcpy(it->s, t, (size_t)n);
    it->s[n] = '\0';
    return 0;
}

static void status_release(void *item) { memset(item, 0, sizeof(struct status_item)); }

static const struct row_type status_row = {sizeof(struct status_item), status_read,
                                           status_release};

/* What POST /bots must know before it may insert. */
struct create_check {
    int has_user;
    int64_t limit;
    int64_t unfinished;
    int duplicate;
};

static int check_read(sqlite3_stmt *st, void *item)
{
    struct create_check *c = item;
    c->has_user = sqlite3_column_type(st, 0) != SQLITE_NULL;
    c->limit = sqlite3_column_int64(st, 0);
    c->unfinished = sqlite3_column_int64(st, 1);
    c->duplicate = sqlite3_column_int(st, 2);
    return 0;
}

static void check_release(void *item) { memset(item, 0, sizeof(struct create_check)); }

static const struct row_type check_row = {sizeof(struct create_check), check_read,
                                          check_release};

/* --- meetings ------------------------------------------------------------------- */

struct create_op {
    int64_t user_id;
    const struct store_meeting_new *m;
    struct store_meeting *out;
    int *limit_out;
};

static int create_in_txn(struct sqlite_txn *t, void *arg)
{
    struct create_op *op = arg;
    const struct store_meeting_new *m = op->m;
    const struct arg check_args[] = {ARG_INT(op->user_id), ARG_TEXT(m->platform),
                                     ARG_TEXT(m->native_meeting_id)};
    struct create_check c = {0};
    int err = sqlite_txn_one(t, QUERY(ST_MEETING_CREATE_CHECK, check_args), &check_row, &c);
    if (err)
        return err;
    if (!c.has_user)
        return HARK_ENOENT;
    if (c.duplicate)
        return HARK_EEXIST;
    if (c.unfinished >= c.limit) {
        *op->limit_out = c.limit > INT32_MAX ? INT32_MAX : (int)c.limit;
        return HARK_EAGAIN;
    }
    const struct arg args[] = {ARG_INT(op->user_id),  ARG_TEXT(m->platform),
                               ARG_TEXT(m->native_meeting_id),
                               ARG_TEXT(m->constructed_meeting_url), ARG_TEXT(m->data_json),
                               ARG_NOW};
    err = sqlite_txn_one(t, QUERY(ST_MEETING_INSERT, args), &meeting_row, op->out);
    if (err)
        return err;
    const struct arg bot_args[] = {ARG_INT(op->out->id), ARG_TEXT(m->bot_driver), ARG_NOW};
    err = sqlite_txn_exec(t, QUERY(ST_BOT_INSERT, bot_args), NULL);
    if (err)
        store_meeting_release(op->out);
    return err;
}

int sqlite_meeting_create(struct store *s, int64_t user_id, const struct store_meeting_new *m,
                          struct store_meeting *out, int *limit_out)
{
    struct create_op op = {user_id, m, out, limit_out};
    int err = sqlite_write_txn(s, create_in_txn, &op);
    if (err)
        store_meeting_release(out); /* the commit itself may have failed */
    return err;
}

int sqlite_meeting_get(struct store *s, int64_t user_id, int64_t id, struct store_meeting *out)
{
    const struct arg args[] = {ARG_INT(user_id), ARG_INT(id)};
    return sqlite_read_one(s, QUERY(ST_MEETING_GET, args), &meeting_row, out);
}

int sqlite_meeting_get_native(struct store *s, int64_t user_id, const char *platform,
                              const char *native_id, struct store_meeting *out)
{
    const struct arg args[] = {ARG_INT(user_id), ARG_TEXT(platform), ARG_TEXT(native_id)};
    return sqlite_read_one(s, QUERY(ST_MEETING_GET_NATIVE, args), &meeting_row, out);
}

int sqlite_meeting_active_count(struct store *s, int64_t user_id, int64_t *out)
{
    const struct arg args[] = {ARG_INT(user_id)};
    return sqlite_read_one(s, QUERY(ST_MEETING_ACTIVE_COUNT, args), &int_row, out);
}

int sqlite_meeting_list(struct store *s, int64_t user_id, const struct store_meeting_filter *f,
                        struct store_meeting **out, size_t *n_out)
{
    /* LIMIT -1 is SQLite's "no limit". */
    int64_t limit = f->limit == 0 || f->limit > INT64_MAX ? -1 : (int64_t)f->limit;
    int64_t offset = f->offset > INT64_MAX ? INT64_MAX : (int64_t)f->offset;
    const struct arg args[] = {ARG_INT(user_id), ARG_TEXT(f->status), ARG_TEXT(f->platform),
                               ARG_INT(f->unfinished_only ? 1 : 0), ARG_INT(limit),
                               ARG_INT(offset)};
    void *items = NULL;
    int err = sqlite_read_many(s, QUERY(ST_MEETING_LIST, args), &meeting_row, &items, n_out);
    *out = items;
    return err;
}

struct status_op {
    int64_t id;
    const struct store_status_change *c;
    struct store_meeting *out;
    char *prev;
};

static int status_in_txn(struct sqlite_txn *t, void *arg)
{
    struct status_op *op = arg;
    const struct store_status_change *c = op->c;
    struct status_item cur = {{0}};
    const struct arg get_args[] = {ARG_INT(op->id)};
    int err = sqlite_txn_one(t, QUERY(ST_MEETING_STATUS_GET, get_args), &status_row, &cur);
    if (err)
        return err;
    if (c->from && strcmp(cur.s, c->from) != 0)
        return HARK_EPERM;
    if (strcmp(cur.s, c->to) != 0 && !store_meeting_transition_ok(cur.s, c->to))
        return HARK_EPERM;
    memcpy(op->prev, cur.s, sizeof cur.s);
    const struct arg args[] = {ARG_INT(op->id),
                               ARG_TEXT(c->to),
                               ARG_TEXT(c->completion_reason),
                               ARG_TEXT(c->failure_stage),
                               ARG_TEXT(c->reason_detail),
                               ARG_TEXT(c->bot_container_id),
                               ARG_NOW};
    err = sqlite_txn_one(t, QUERY(ST_MEETING_STATUS_SET, args), &meeting_row, op->out);
    if (err)
        return err;
    const struct arg bot_args[] = {ARG_INT(op->id), ARG_TEXT(c->to), ARG_NOW};
    err = sqlite_txn_exec(t, QUERY(ST_BOT_STATE_SET, bot_args), NULL);
    if (err)
        store_meeting_release(op->out);
    return err;
}

int sqlite_meeting_set_status(struct store *s, int64_t id, const struct store_status_change *c,
                              struct store_meeting *out, char prev[STORE_STATUS_MAX])
{
    struct status_op op = {id, c, out, prev};
    int err = sqlite_write_txn(s, status_in_txn, &op);
    if (err) {
        store_meeting_release(out);
        prev[0] = '\0';
    }
    return err;
}

int sqlite_meeting_patch_data(struct store *s, int64_t user_id, int64_t id,
                              const char *patch_json, struct store_meeting *out)
{
    const struct arg args[] = {ARG_INT(user_id), ARG_INT(id), ARG_TEXT(patch_json), ARG_NOW};
    return sqlite_write_one(s, QUERY(ST_MEETING_PATCH_DATA, args), NULL, &meeting_row, out,
                            NULL);
}

struct purge_op {
    int64_t user_id, id;
    struct store_meeting *out;
};

static int purge_in_txn(struct sqlite_txn *t, void *arg)
{
    struct purge_op *op = arg;
    struct status_item cur = {{0}};
    const struct arg check_args[] = {ARG_INT(op->user_id), ARG_INT(op->id)};
    int err = sqlite_txn_one(t, QUERY(ST_MEETING_PURGE_CHECK, check_args), &status_row, &cur);
    if (err)
        return err;
    if (!store_meeting_status_final(cur.s))
        return HARK_EPERM;
    const struct arg del_args[] = {ARG_INT(op->id)};
    err = sqlite_txn_exec(t, QUERY(ST_SEGMENTS_DELETE, del_args), NULL);
    if (err)
        return err;
    const struct arg args[] = {ARG_INT(op->id), ARG_NOW};
    return sqlite_txn_one(t, QUERY(ST_MEETING_ANONYMISE, args), &meeting_row, op->out);
}

int sqlite_meeting_purge(struct store *s, int64_t user_id, int64_t id, struct store_meeting *out)
{
    struct purge_op op = {user_id, id, out};
    int err = sqlite_write_txn(s, purge_in_txn, &op);
    if (err)
        store_meeting_release(out);
    return err;
}

/* --- segments ------------------------------------------------------------------- */

struct upsert_op {
    int64_t meeting_id;
    const struct store_segment_in *segs;
    size_t n;
};

static int upsert_one(struct sqlite_txn *t, int64_t meeting_id, const struct store_segment_in *g)
{
    const struct arg args[] = {ARG_TEXT(g->id),
                               ARG_INT(meeting_id),
                               ARG_TEXT(g->speaker ? g->speaker : ""),
                               ARG_INT(g->start_ms),
                               ARG_INT(g->end_ms),
                               ARG_TEXT(g->text),
                               ARG_TEXT(g->language),
                               ARG_INT(g->completed ? 1 : 0),
                               ARG_TEXT(g->words_json ? g->words_json : "[]"),
                               ARG_NOW};
    int64_t changes = 0;
    int err = sqlite_txn_exec(t, QUERY(ST_SEGMENT_UPSERT, args), &changes);
    if (err || changes)
        return err;
    /* No row changed: either a late partial for a completed segment of
     * this meeting (fine), or an id another meeting owns (refused). */
    int64_t owner = 0;
    const struct arg owner_args[] = {ARG_TEXT(g->id)};
    err = sqlite_txn_one(t, QUERY(ST_SEGMENT_OWNER, owner_args), &int_row, &owner);
    if (err)
        return err;
    return owner == meeting_id ? 0 : HARK_EEXIST;
}

static int upsert_in_txn(struct sqlite_txn *t, void *arg)
{
    struct upsert_op *op = arg;
    int err = 0;
    for (size_t i = 0; i < op->n && !err; i++)
        err = upsert_one(t, op->meeting_id, &op->segs[i]);
    return err;
}

int sqlite_segments_upsert(struct store *s, int64_t meeting_id,
                           const struct store_segment_in *segs, size_t n)
{
    struct upsert_op op = {meeting_id, segs, n};
    return sqlite_write_txn(s, upsert_in_txn, &op);
}

int sqlite_segments_delete_from(struct store *s, int64_t meeting_id, int64_t start_ms,
                                int64_t *n_out)
{
    const struct arg args[] = {ARG_INT(meeting_id), ARG_INT(start_ms)};
    return sqlite_write_exec(s, QUERY(ST_SEGMENTS_DELETE_FROM, args), n_out);
}

int sqlite_meeting_unfinished_all(struct store *s, struct store_meeting **out, size_t *n_out)
{
    void *items = NULL;
    int err = sqlite_read_many(s, ((struct query){.id = ST_MEETING_UNFINISHED_ALL}), &meeting_row, &items, n_out);
    *out = items;
    return err;
}

int sqlite_segments_list(struct store *s, int64_t meeting_id, int64_t since_ms,
                         struct store_segment **out, size_t *n_out)
{
    const struct arg args[] = {ARG_INT(meeting_id), ARG_INT(since_ms)};
    void *items = NULL;
    int err = sqlite_read_many(s, QUERY(ST_SEGMENTS_LIST, args), &segment_row, &items, n_out);
    *out = items;
    return err;
}
