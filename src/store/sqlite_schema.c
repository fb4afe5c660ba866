/* sqlite_schema.c — the SQLite schema, as numbered migrations.
 *
 * Rules, because a released migration has already run on someone's data:
 * - never edit a released entry; a change is a new entry appended below;
 * - each entry runs inside one transaction together with its row in
 *   schema_migrations, so it applies entirely or not at all;
 * - times are INTEGER Unix milliseconds; JSON columns are TEXT checked with
 *   json_valid() so malformed JSON is refused at the door;
 * - status-like columns are free TEXT, not CHECK (x IN (...)): adding a
 *   state later would otherwise mean rebuilding the table in SQLite;
 * - surrogate keys use AUTOINCREMENT so a deleted row's id (a token id an
 *   admin once revoked, a user id in an old log) is never handed out again,
 *   as a PostgreSQL identity column behaves;
 * - tables are STRICT so a value of the wrong type is an error, not a
 *   silent conversion.
 * Every foreign key column is the leading column of some index, so a
 * cascading delete does not scan the child table. */
#include "store_backend.h"

const char *const store_sqlite_migrations[] = {
    /* 1: the tables DESIGN.md §5 lists. */
    "CREATE TABLE settings (\n"
    "    key   TEXT NOT NULL PRIMARY KEY,\n"
    "    value TEXT NOT NULL\n"
    ") STRICT;\n"

    "CREATE TABLE users (\n"
    "    id                  INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    email               TEXT NOT NULL UNIQUE COLLATE NOCASE,\n"
    "    name                TEXT,\n"
    "    max_concurrent_bots INTEGER NOT NULL DEFAULT 3 CHECK (max_concurrent_bots >= 0),\n"
    "    data                TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),\n"
    "    created_at          INTEGER NOT NULL\n"
    ") STRICT;\n"

    /* hash: keyed BLAKE2b of the token; the token itself is never stored. */
    "CREATE TABLE api_tokens (\n"
    "    id           INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "    hash         BLOB NOT NULL UNIQUE,\n"
    "    scopes       TEXT NOT NULL DEFAULT '',\n"
    "    name         TEXT,\n"
    "    created_at   INTEGER NOT NULL,\n"
    "    last_used_at INTEGER,\n"
    "    expires_at   INTEGER\n"
    ") STRICT;\n"
    "CREATE INDEX api_tokens_user ON api_tokens(user_id);\n"

    /* Not unique on (user, platform, native id): a user may meet in the same
     * room again once the earlier meeting has ended. */
    "CREATE TABLE meetings (\n"
    "    id                      INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    user_id                 INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "    platform                TEXT NOT NULL,\n"
    "    native_meeting_id       TEXT NOT NULL,\n"
    "    constructed_meeting_url TEXT,\n"
    "    status                  TEXT NOT NULL DEFAULT 'requested',\n"
    "    bot_container_id        TEXT,\n"
    "    start_time              INTEGER,\n"
    "    end_time                INTEGER,\n"
    "    completion_reason       TEXT,\n"
    "    failure_stage           TEXT,\n"
    "    data                    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),\n"
    "    created_at              INTEGER NOT NULL,\n"
    "    updated_at              INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX meetings_user_native ON meetings(user_id, platform, native_meeting_id);\n"

    "CREATE TABLE bots (\n"
    "    id           INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    meeting_id   INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,\n"
    "    driver       TEXT NOT NULL,\n"
    "    handle       TEXT,\n"
    "    state        TEXT NOT NULL,\n"
    "    heartbeat_at INTEGER,\n"
    "    created_at   INTEGER NOT NULL,\n"
    "    updated_at   INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX bots_meeting ON bots(meeting_id);\n"

    /* id is the stable segment id "{meeting}:{speaker}:{start_ms}", so a
     * re-sent segment is an upsert on the primary key, never a duplicate. */
    "CREATE TABLE segments (\n"
    "    id         TEXT NOT NULL PRIMARY KEY,\n"
    "    meeting_id INTEGER NOT NULL REFERENCES meetings(id) ON DELETE CASCADE,\n"
    "    speaker    TEXT NOT NULL DEFAULT '',\n"
    "    start_ms   INTEGER NOT NULL,\n"
    "    end_ms     INTEGER NOT NULL,\n"
    "    text       TEXT NOT NULL,\n"
    "    language   TEXT,\n"
    "    completed  INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),\n"
    "    words      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(words)),\n"
    "    created_at INTEGER NOT NULL,\n"
    "    updated_at INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX segments_meeting_start ON segments(meeting_id, start_ms);\n"

    /* secret: the HMAC key deliveries are signed with, so it must be kept
     * in the clear (unlike API tokens). */
    "CREATE TABLE webhooks (\n"
    "    id         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n"
    "    url        TEXT NOT NULL,\n"
    "    secret     TEXT,\n"
    "    events     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events)),\n"
    "    created_at INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX webhooks_user ON webhooks(user_id);\n"

    /* No foreign key on webhook_id: a delivery outlives a webhook that is
     * replaced or removed, so the dead-letter record stays. */
    "CREATE TABLE webhook_deliveries (\n"
    "    id              INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    webhook_id      INTEGER NOT NULL,\n"
    "    event_id        TEXT NOT NULL UNIQUE,\n"
    "    event_type      TEXT NOT NULL,\n"
    "    body            TEXT NOT NULL,\n"
    "    attempts        INTEGER NOT NULL DEFAULT 0,\n"
    "    next_attempt_at INTEGER,\n"
    "    status          TEXT NOT NULL DEFAULT 'pending',\n"
    "    last_error      TEXT,\n"
    "    created_at      INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id);\n"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);\n"

    "CREATE TABLE jobs (\n"
    "    id         INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    user_id    INTEGER NOT NULL,\n"
    "    kind       TEXT NOT NULL,\n"
    "    status     TEXT NOT NULL,\n"
    "    params     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),\n"
    "    result     TEXT,\n"
    "    error      TEXT,\n"
    "    created_at INTEGER NOT NULL,\n"
    "    updated_at INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX jobs_user ON jobs(user_id, created_at);\n"
    "CREATE INDEX jobs_status ON jobs(status, created_at);\n"

    /* Small fixed-size rows looked up by (series, time range): the case
     * WITHOUT ROWID is made for. */
    "CREATE TABLE metrics_samples (\n"
    "    series TEXT NOT NULL,\n"
    "    ts     INTEGER NOT NULL,\n"
    "    value  REAL NOT NULL,\n"
    "    PRIMARY KEY (series, ts)\n"
    ") STRICT, WITHOUT ROWID;\n",

    /* 2: one event fans out to every webhook of its user, so event_id is
     * unique per webhook, not globally. SQLite cannot change a constraint in
     * place: the table is rebuilt (nothing references it). last_status and
     * updated_at record the outcome of the latest attempt for dead-letter
     * inspection. The unique index leads with webhook_id, so it also serves
     * lookups by webhook. */
    "CREATE TABLE webhook_deliveries_v2 (\n"
    "    id              INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    webhook_id      INTEGER NOT NULL,\n"
    "    event_id        TEXT NOT NULL,\n"
    "    event_type      TEXT NOT NULL,\n"
    "    body            TEXT NOT NULL,\n"
    "    attempts        INTEGER NOT NULL DEFAULT 0,\n"
    "    next_attempt_at INTEGER,\n"
    "    status          TEXT NOT NULL DEFAULT 'pending',\n"
    "    last_error      TEXT,\n"
    "    last_status     INTEGER,\n"
    "    created_at      INTEGER NOT NULL,\n"
    "    updated_at      INTEGER NOT NULL,\n"
    "    UNIQUE (webhook_id, event_id)\n"
    ") STRICT;\n"
    "INSERT INTO webhook_deliveries_v2(id, webhook_id, event_id, event_type, body, attempts,\n"
    "    next_attempt_at, status, last_error, created_at, updated_at)\n"
    "  SELECT id, webhook_id, event_id, event_type, body, attempts, next_attempt_at, status,\n"
    "    last_error, created_at, created_at FROM webhook_deliveries;\n"
    "DROP TABLE webhook_deliveries;\n"
    "ALTER TABLE webhook_deliveries_v2 RENAME TO webhook_deliveries;\n"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);\n",
};

const size_t store_sqlite_migration_count =
    sizeof store_sqlite_migrations / sizeof *store_sqlite_migrations;
