#!/usr/bin/env bash
# Without a configured admin key, the first start generates one, logs it
# once (admin_api_key=...) and keeps only its hash; it works, it is not shown
# again on restart, and a configured key replaces it.
. "$(dirname "$0")/lib.sh"
unset HARK_ADMIN_API_KEY
# As `make run` does: a user and token made with `hark admin` before the
# first start must not swallow the admin key generation.
"$HARK_BIN" admin --data "$DATA" user create --email first@example.com >/dev/null
"$HARK_BIN" admin --data "$DATA" token --user 1 >/dev/null 2>&1
start_hark
KEY=$(sed -n 's/.*admin_api_key=\(hk_[A-Za-z0-9_-]*\).*/\1/p' "$HARK_LOG" | head -1)
[ -n "$KEY" ] || fail "no generated admin key in the log"
http GET /admin/users -H "X-Admin-API-Key: $KEY"
expect_status 200
sqlite3 "$DATA/hark.db" .dump | grep -q "${KEY#hk_}" && fail "admin key stored in clear"
stop_hark
start_hark
[ "$(grep -c 'admin_api_key=' "$HARK_LOG")" = 1 ] || fail "admin key shown again on restart"
http GET /admin/users -H "X-Admin-API-Key: $KEY"
expect_status 200
stop_hark
HARK_ADMIN_API_KEY=configured-admin-key-42 start_hark
http GET /admin/users -H "X-Admin-API-Key: configured-admin-key-42"
expect_status 200
http GET /admin/users -H "X-Admin-API-Key: $KEY"
expect_status 403
stop_hark
