#!/usr/bin/env bash
# `hark admin` manages users and tokens straight in the store (a token it
# prints works against the server), and `hark backup` takes an online,
# consistent copy while the server is writing, refusing to overwrite.
. "$(dirname "$0")/lib.sh"
mkdir -p "$DATA"
out=$("$HARK_BIN" admin --data "$DATA" user create --email cli@example.com --name Cli --max-bots 4)
grep -q '^created user id=1 email=cli@example.com max_concurrent_bots=4' <<<"$out" || fail "create: $out"
out=$("$HARK_BIN" admin --data "$DATA" user create --email cli@example.com)
grep -q '^exists user id=1' <<<"$out" || fail "second create: $out"
"$HARK_BIN" admin --data "$DATA" user list | grep -q $'^1\tcli@example.com\tCli\t4$' || fail "list"
TOKEN=$("$HARK_BIN" admin --data "$DATA" token --user 1 --scopes tx 2>/dev/null)
[[ $TOKEN == hk_* ]] || fail "token: $TOKEN"
rc=0; "$HARK_BIN" admin --data "$DATA" token --user 99 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "token for a missing user: exit $rc"
rc=0; "$HARK_BIN" admin --data "$DATA" token --user 1 --scopes root 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "unknown scope: exit $rc"
rc=0; "$HARK_BIN" admin --data "$DATA" frobnicate 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "unknown admin command: exit $rc"

start_hark --access-log false
http GET /auth/me -H "X-API-Key: $TOKEN"
expect_status 200
expect_json 'j["email"] == "cli@example.com" and j["scopes"] == ["tx"]'

# writers keep going while the backup runs
( for i in $(seq 1 200); do
      curl -s -o /dev/null -X POST -H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" \
           -d "{\"email\":\"u$i@example.com\"}" "http://127.0.0.1:$PORT/admin/users"
  done ) &
writers=$!
on_exit "stop_bg $writers"
sleep 0.2
"$HARK_BIN" backup --data "$DATA" "$TMPDIR/backup.db" >/dev/null || fail "backup failed"
wait "$writers"
[ "$(sqlite3 "$TMPDIR/backup.db" 'PRAGMA integrity_check')" = ok ] || fail "backup not consistent"
n=$(sqlite3 "$TMPDIR/backup.db" 'select count(*) from users')
[ "$n" -ge 1 ] && [ "$n" -le 201 ] || fail "backup user count $n"
rc=0; "$HARK_BIN" backup --data "$DATA" "$TMPDIR/backup.db" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "backup over an existing file: exit $rc"
stop_hark

# restore: the copy serves as a data dir of its own, with the same secrets
mkdir -p "$TMPDIR/restored"
cp "$TMPDIR/backup.db" "$TMPDIR/restored/hark.db"
DATA=$TMPDIR/restored
PORT=
start_hark
http GET /auth/me -H "X-API-Key: $TOKEN"
expect_status 200
stop_hark
