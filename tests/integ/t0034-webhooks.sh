#!/usr/bin/env bash
# Webhook delivery end to end, driven by `hark webhook test` (the same queue
# meeting events use) against a receiver on 127.0.0.1 that checks every
# signature: delivered once with a valid signature; 500, 500, 200 delivered
# on the third attempt; a receiver that is down is retried across a kill -9
# of hark and delivered once after the restart; a loopback target is refused
# when it is saved and when it is sent unless webhook_allow_private = true.
. "$(dirname "$0")/lib.sh"
SECRET='s3cret-for-t0034'
RPORT=$(free_port)
RLOG=$TMPDIR/received.log
FAILS=$TMPDIR/fail-next
RPID=

cat >"$TMPDIR/receiver.py" <<'EOF'
import hashlib, hmac, http.server, json, sys, time
port, secret, log, fails = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3], sys.argv[4]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Webhook-Timestamp", "")
        mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = (hmac.compare_digest(self.headers.get("X-Webhook-Signature", ""), "sha256=" + mac)
              and abs(time.time() - int(ts or 0)) <= 300
              and self.headers.get("Content-Type") == "application/json")
        env = json.loads(body)
        ok = ok and env["api_version"] == "2026-03-01" and env["event_id"].startswith("evt_")
        try:
            n = int(open(fails).read() or 0)
        except FileNotFoundError:
            n = 0
        status = 500 if n > 0 else 200
        if n > 0:
            open(fails, "w").write(str(n - 1))
        with open(log, "a") as f:
            f.write("%s %s %d %s\n" % (env["event_id"], env["event_type"], status, "valid" if ok else "INVALID"))
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF

start_receiver() {
    python3 "$TMPDIR/receiver.py" "$RPORT" "$SECRET" "$RLOG" "$FAILS" &
    RPID=$!
    for ((i = 0; i < 50; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$RPORT/" && return 0
        sleep 0.1
    done
    fail "the receiver did not start"
}
stop_receiver() { kill "$RPID" 2>/dev/null || true; wait "$RPID" 2>/dev/null || true; RPID=; }
on_exit '[ -z "$RPID" ] || stop_receiver'

hook() { "$HARK_BIN" webhook --log-level warn --data "$DATA" "$@"; }
received() { grep -c "^$1 " "$RLOG" 2>/dev/null || true; }
# wait_for SECONDS COMMAND...: polls every 0.2 s until COMMAND succeeds.
wait_for() {
    local n=$(($1 * 5)) i
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}
delivery_field() { # EVENT_ID COLUMN: a column of `hark webhook deliveries` for that event
    hook deliveries | awk -F'\t' -v e="$1" -v c="$2" '$3 == e { print $c }'
}
is_status() { [ "$(delivery_field "$1" 5)" = "$2" ]; }

mkdir -p "$DATA"
USER_ID=$("$HARK_BIN" admin --data "$DATA" user create --email hooks@example.com |
          sed -n 's/.* id=\([0-9]*\) .*/\1/p')
[ -n "$USER_ID" ] || fail "no user id"
URL="http://127.0.0.1:$RPORT/hook"

# A loopback URL is refused when it is saved, unless private targets are allowed.
if hook set --user "$USER_ID" --url "$URL" --secret "$SECRET" 2>"$TMPDIR/err"; then
    fail "a loopback webhook URL was accepted with webhook_allow_private = false"
fi
grep -q 'loopback' "$TMPDIR/err" || fail "refusal names no reason: $(cat "$TMPDIR/err")"
hook --webhook-allow-private true set --user "$USER_ID" --url "$URL" --secret "$SECRET" >/dev/null
hook test --user 999 2>/dev/null && fail "a test event for a user without webhook succeeded"

# 1. Delivered once, signed.
start_receiver
start_hark --webhook-allow-private true --webhook-retry-schedule 1,1,1
EV=$(hook test --user "$USER_ID")
[[ $EV =~ ^evt_[0-9a-f]{32}$ ]] || fail "test printed no event id: $EV"
wait_for 10 is_status "$EV" delivered || fail "event $EV was not delivered"
sleep 1.5
[ "$(received "$EV")" = 1 ] || fail "event $EV arrived $(received "$EV") times, not once"
grep -q "^$EV webhook.test 200 valid$" "$RLOG" || fail "bad delivery: $(cat "$RLOG")"

# 2. 500, 500, then 200: delivered on the third attempt.
echo 2 >"$FAILS"
EV=$(hook test --user "$USER_ID")
wait_for 15 is_status "$EV" delivered || fail "event $EV was not delivered after two 500s"
[ "$(grep "^$EV " "$RLOG" | awk '{print $3}' | tr '\n' ' ')" = "500 500 200 " ] ||
    fail "attempts of $EV: $(grep "^$EV " "$RLOG")"
grep "^$EV " "$RLOG" | grep -vq ' valid$' && fail "an attempt was not validly signed"
[ "$(delivery_field "$EV" 6)" = attempts=3 ] || fail "attempts: $(delivery_field "$EV" 6)"

# 3. Receiver down; hark killed mid-retries; delivered once after the restart.
stop_hark
stop_receiver
start_hark --webhook-allow-private true --webhook-retry-schedule 2,2,2,2,2,2,2,2,2,2,2,2
EV=$(hook test --user "$USER_ID")
attempted() { [ "$(delivery_field "$EV" 6)" != attempts=0 ] && [ -n "$(delivery_field "$EV" 6)" ] &&
              [ "$(delivery_field "$EV" 5)" = pending ] && [ -n "$(delivery_field "$EV" 9)" ]; }
wait_for 10 attempted || fail "no failed attempt of $EV recorded: $(hook deliveries | head -3)"
kill -KILL "$HARK_PID"
wait "$HARK_PID" 2>/dev/null || true
HARK_PID=
[ "$(received "$EV")" = 0 ] || fail "event $EV arrived while the receiver was down"
start_receiver
start_hark --webhook-allow-private true --webhook-retry-schedule 2,2,2,2,2,2,2,2,2,2,2,2
wait_for 20 is_status "$EV" delivered || fail "event $EV was not delivered after the restart"
sleep 1.5
[ "$(received "$EV")" = 1 ] || fail "event $EV arrived $(received "$EV") times after restart"

# 4. With private targets refused, the stored loopback URL is refused at send
#    time too: dead-lettered at once, never connected to.
stop_hark
start_hark --webhook-retry-schedule 1,1,1
EV=$(hook test --user "$USER_ID")
wait_for 10 is_status "$EV" dead || fail "event $EV to a loopback target was not dead-lettered"
[ "$(received "$EV")" = 0 ] || fail "a refused target was sent event $EV"
[ "$(delivery_field "$EV" 6)" = attempts=1 ] || fail "refused target retried"
delivery_field "$EV" 9 | grep -q 'target refused' || fail "reason: $(delivery_field "$EV" 9)"
hook deliveries --status dead | grep -q "$EV" || fail "dead letters do not list $EV"
stop_hark
echo "t0034: ok"
