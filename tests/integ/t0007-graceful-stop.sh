#!/usr/bin/env bash
# SIGTERM stops hark serve cleanly: a request in flight (its body still
# arriving) completes with its answer, an open WebSocket is closed, the
# process exits 0 within 10 s, and the store is left consistent with its
# WAL checkpointed away.
. "$(dirname "$0")/lib.sh"
start_hark

python3 - "$PORT" "$HARK_ADMIN_API_KEY" "$TMPDIR/slow.out" <<'PY' &
import socket, sys, time
port, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = b'{"email":"inflight@example.com"}'
s = socket.create_connection(("127.0.0.1", port), timeout=15)
s.sendall(b"POST /admin/users HTTP/1.1\r\nHost: x\r\nX-Admin-API-Key: " + key.encode() +
          b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
          b"\r\n\r\n" + body[:5])
open(out + ".started", "w").close()
time.sleep(1.5)          # SIGTERM lands while the body is still arriving
s.sendall(body[5:])
reply = s.recv(65536).decode("latin-1")
open(out, "w").write(reply.split("\r\n", 1)[0])
PY
slow=$!
python3 - "$PORT" "$TMPDIR/ws.out" <<'PY' &
import sys, websocket
ws = websocket.create_connection(f"ws://127.0.0.1:{sys.argv[1]}/ws", timeout=15)
try:
    while True:
        op, data = ws.recv_data(control_frame=True)
        if op == 8:
            break
except Exception:
    pass
open(sys.argv[2], "w").write("closed")
PY
wsc=$!
on_exit "stop_bg $slow $wsc"
for ((i = 0; i < 50; i++)); do [ -f "$TMPDIR/slow.out.started" ] && break; sleep 0.1; done
sleep 0.3
t0=$(date +%s)
stop_hark
t1=$(date +%s)
[ $((t1 - t0)) -le 10 ] || fail "stop took $((t1 - t0)) s"
wait "$slow" || true
wait "$wsc" || true
grep -q '^HTTP/1.1 201' "$TMPDIR/slow.out" || fail "in-flight request did not complete: $(cat "$TMPDIR/slow.out" 2>/dev/null)"
grep -q closed "$TMPDIR/ws.out" || fail "WebSocket was not closed"
[ "$(sqlite3 "$DATA/hark.db" 'PRAGMA integrity_check')" = ok ] || fail "store integrity check failed"
[ "$(sqlite3 "$DATA/hark.db" "select count(*) from users where email='inflight@example.com'")" = 1 ] \
    || fail "in-flight user not stored"
[ ! -s "$DATA/hark.db-wal" ] || fail "WAL not checkpointed on close"
grep -q 'msg="stopped"' "$HARK_LOG" || fail "no clean stop logged"
