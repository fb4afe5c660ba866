#!/usr/bin/env bash
# 10,000 idle connections opened at once: the server caps them by config
# (max_connections, max_connections_per_ip), closes the excess at once,
# keeps serving other clients while the flood is open, and serves the
# flood's own address again once its sockets close. The idle timeout is
# long here so every early close is the caps' doing, not the timeout's.
. "$(dirname "$0")/lib.sh"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 10100 ] || { echo "skip: need 10100 fds, have $(ulimit -n)"; exit 77; }
start_hark --max-connections 2000 --max-connections-per-ip 1000 --idle-timeout 60s --access-log false

python3 - "$PORT" "$TMPDIR/flood.ready" "$TMPDIR/flood.done" > "$TMPDIR/flood.out" <<'PY' &
import os, socket, sys, time
port, ready, done = int(sys.argv[1]), sys.argv[2], sys.argv[3]
socks, refused = [], 0
for i in range(10000):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect_ex(("127.0.0.1", port))
    except OSError:
        refused += 1
        s.close()
        continue
    socks.append(s)
# Count the ones the server closed: a read returns b"" (EOF) or a reset.
# Slow builds (sanitizers) take longer to get through the backlog, so wait
# for the count, bounded, rather than for a fixed time.
closed, gone = 0, set()
deadline = time.time() + 30
while closed < 8000 and time.time() < deadline:
    time.sleep(0.5)
    for i, s in enumerate(socks):
        if i in gone:
            continue
        try:
            if s.recv(1) == b"":
                gone.add(i)
        except BlockingIOError:
            pass
        except OSError:
            gone.add(i)
    closed = len(gone)
print(f"opened={len(socks)} refused={refused} closed_by_server={closed}")
sys.stdout.flush()
open(ready, "w").close()
deadline = time.time() + 30
while not os.path.exists(done) and time.time() < deadline:
    time.sleep(0.1)
for s in socks:
    s.close()
PY
flood=$!
on_exit "stop_bg $flood"
for ((i = 0; i < 600; i++)); do [ -f "$TMPDIR/flood.ready" ] && break; sleep 0.1; done
[ -f "$TMPDIR/flood.ready" ] || fail "flood client did not finish opening"
cat "$TMPDIR/flood.out"
closed=$(sed -n 's/.*closed_by_server=\([0-9]*\).*/\1/p' "$TMPDIR/flood.out")
[ "${closed:-0}" -ge 8000 ] || fail "server did not close the connections past its cap ($closed)"

# Another client address keeps being served while the flood holds its cap.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --interface 127.0.0.2 \
       "http://127.0.0.1:$PORT/healthz") || true
[ "$code" = 200 ] || fail "/healthz from 127.0.0.2 during the flood answered $code"
touch "$TMPDIR/flood.done"
wait "$flood" || true

# The flood's own address is served again once its idle sockets are gone.
for ((i = 0; i < 100; i++)); do
    http GET /healthz
    [ "$STATUS" = 200 ] && break
    sleep 0.1
done
expect_status 200
http GET /metrics
expect_status 200
stop_hark
