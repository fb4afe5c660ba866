#!/usr/bin/env bash
# PUT /user/webhook as Vexa's (200 UserResponse, secret never echoed; 422 for
# a bad body or URL; a loopback URL refused unless webhook_allow_private),
# and the meeting webhooks the API's own status changes produce: stopping a
# requested bot sends meeting.status_change for requested->stopping and
# stopping->completed plus one meeting.completed, each event_id once, every
# delivery validly signed, payloads in Vexa's {meeting, status_change} shape.
. "$(dirname "$0")/lib.sh"
SECRET='s3cret-for-t0035'
RPORT=$(free_port)
RLOG=$TMPDIR/received.jsonl
RPID=

cat >"$TMPDIR/receiver.py" <<'EOF'
import hashlib, hmac, http.server, json, sys, time
port, secret, log = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Webhook-Timestamp", "")
        mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = (hmac.compare_digest(self.headers.get("X-Webhook-Signature", ""), "sha256=" + mac)
              and abs(time.time() - int(ts or 0)) <= 300
              and self.headers.get("Content-Type") == "application/json")
        env = json.loads(body)
        env["_signature_ok"] = ok
        with open(log, "a") as f:
            f.write(json.dumps(env) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
python3 "$TMPDIR/receiver.py" "$RPORT" "$SECRET" "$RLOG" &
RPID=$!
on_exit 'stop_bg "$RPID"'
for ((i = 0; i < 50; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$RPORT/" && break
    sleep 0.1
done
: >"$RLOG"

ej() { expect_json "($1)"; }
contract() {
    local why
    why=$(python3 "$HARK_ROOT/tests/integ/contract.py" "$1" "$2" "$STATUS" <<<"$BODY") ||
        fail "$_lib_request: not Vexa's contract for $STATUS: $why; body: $BODY"
}
# events PYTHON_EXPR: prints e["event_type"] etc. for each received event e
# that satisfies the expression, one line each.
events() {
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if eval(sys.argv[2], {"e": e}):
        print(e["event_id"], e["event_type"], e["data"]["status_change"]["from"],
              e["data"]["status_change"]["to"], "valid" if e["_signature_ok"] else "INVALID")
' "$RLOG" "$1"
}
# wait_events N EXPR: waits up to 10 s for N received events matching EXPR.
wait_events() {
    local i
    for ((i = 0; i < 50; i++)); do
        [ "$(events "$2" | wc -l)" -ge "$1" ] && return 0
        sleep 0.2
    done
    return 1
}

URL="http://127.0.0.1:$RPORT/hook"
BODY_OK='{"webhook_url":"'"$URL"'","webhook_secret":"'"$SECRET"'",
          "webhook_events":{"meeting.status_change":true,"meeting.completed":true,"bot.failed":null}}'

# --- With private targets refused (the default) -------------------------
start_hark --webhook-retry-schedule 1,1,1
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
http POST /admin/users "${ADMIN[@]}" -d '{"email":"hooks@example.com","name":"Hooks"}'
expect_status 201
USER_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
http POST "/admin/users/$USER_ID/tokens?scopes=bot,tx" "${ADMIN[@]}"
expect_status 201
TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
K=(-H "X-API-Key: $TOKEN" -H 'Content-Type: application/json')

http PUT /user/webhook -H 'Content-Type: application/json' -d "$BODY_OK"
expect_status 401
http PUT /user/webhook "${K[@]}" -d "$BODY_OK"
expect_status 400
contract put /user/webhook
ej 'j["error"]["code"] == "webhook_url_refused" and "loopback" in j["detail"]'

# Bad bodies: FastAPI's 422 naming the field.
http PUT /user/webhook "${K[@]}" -d '{"webhook_secret":"x"}'
expect_status 422
contract put /user/webhook
ej 'j["detail"][0]["loc"] == ["body", "webhook_url"] and j["detail"][0]["type"] == "missing"'
for bad in 'ftp://example.com/hook' 'not a url' 'http://user@example.com/hook'; do
    http PUT /user/webhook "${K[@]}" -d '{"webhook_url":"'"$bad"'"}'
    expect_status 422
    contract put /user/webhook
    ej 'j["detail"][0]["loc"] == ["body", "webhook_url"] and j["detail"][0]["type"] == "url_parsing"'
done
http PUT /user/webhook "${K[@]}" -d '{"webhook_url":"https://example.com/h","webhook_events":{"meeting.completed":"yes"}}'
expect_status 422
ej 'j["detail"][0]["loc"] == ["body", "webhook_events"]'
http PUT /user/webhook "${K[@]}" -d '{"webhook_url":"https://example.com/h","webhook_secret":5}'
expect_status 422
ej 'j["detail"][0]["loc"] == ["body", "webhook_secret"]'
http PUT /user/webhook "${K[@]}" -d '{"webhook_url":'
expect_status 422
contract put /user/webhook
stop_hark

# --- Private targets allowed: deliveries to the local receiver ------------
start_hark --webhook-allow-private true --webhook-retry-schedule 1,1,1
http PUT /user/webhook "${K[@]}" -d "$BODY_OK"
expect_status 200
contract put /user/webhook
ej 'j["id"] == '"$USER_ID"' and j["email"] == "hooks@example.com" and j["name"] == "Hooks"
    and isinstance(j["max_concurrent_bots"], int) and j["data"]["webhook_url"] == "'"$URL"'"
    and j["data"]["webhook_events"]["meeting.status_change"] is True'
grep -q "$SECRET" <<<"$BODY" && fail "PUT /user/webhook echoed the secret: $BODY"

http POST /bots "${K[@]}" -d '{"platform":"file","native_meeting_id":"hooked-1",
    "source_url":"https://example.com/hooked-1.wav"}'
expect_status 201
MID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
http DELETE /bots/file/hooked-1 "${K[@]}"
expect_status 200
ej 'j["status"] == "completed"'
M="e['data']['meeting']['id'] == $MID"
wait_events 3 "$M" || fail "expected 3 events for meeting $MID, got: $(events "$M")"
sleep 2 # anything duplicated would arrive by now (retry schedule 1 s)
GOT=$(events "$M" | sort -k2,2 -k3,3)
[ "$(wc -l <<<"$GOT")" = 3 ] || fail "events for meeting $MID: $GOT"
grep -q ' INVALID$' <<<"$GOT" && fail "a delivery was not validly signed: $GOT"
[ "$(awk '{print $1}' <<<"$GOT" | sort -u | wc -l)" = 3 ] || fail "an event_id arrived twice: $GOT"
grep -Eq '^evt_[0-9a-f]{32} meeting.completed stopping completed valid$' <<<"$GOT" ||
    fail "no meeting.completed: $GOT"
grep -Eq '^evt_[0-9a-f]{32} meeting.status_change requested stopping valid$' <<<"$GOT" ||
    fail "no requested->stopping: $GOT"
grep -Eq '^evt_[0-9a-f]{32} meeting.status_change stopping completed valid$' <<<"$GOT" ||
    fail "no stopping->completed: $GOT"
python3 - "$RLOG" "$MID" <<'EOF' || fail "payload shape"
import datetime, json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    m, c = e["data"]["meeting"], e["data"]["status_change"]
    if m["id"] != int(sys.argv[2]):
        continue
    assert e["api_version"] == "2026-03-01", e
    datetime.datetime.fromisoformat(e["created_at"].replace("Z", "+00:00"))
    for k in ("user_id", "platform", "native_meeting_id", "constructed_meeting_url", "status",
              "start_time", "end_time", "data", "created_at", "updated_at"):
        assert k in m, (k, e)
    assert m["platform"] == "file" and m["native_meeting_id"] == "hooked-1", e
    assert m["status"] == c["to"], e
    assert c["transition_source"] == "user", e
    datetime.datetime.fromisoformat(c["timestamp"].replace("Z", "+00:00"))
    if c["to"] == "completed":
        assert c["reason"] == "stopped" and m["completion_reason"] == "stopped", e
EOF

# Stopping again changes nothing and sends nothing.
http DELETE /bots/file/hooked-1 "${K[@]}"
expect_status 200
sleep 1.5
[ "$(events "$M" | wc -l)" = 3 ] || fail "a second stop sent events: $(events "$M")"

# Without webhook_events, Vexa's default: only meeting.completed.
http PUT /user/webhook "${K[@]}" -d '{"webhook_url":"'"$URL"'","webhook_secret":"'"$SECRET"'"}'
expect_status 200
ej '"webhook_events" not in j["data"]'
http POST /bots "${K[@]}" -d '{"platform":"file","native_meeting_id":"hooked-2",
    "source_url":"https://example.com/hooked-2.wav"}'
expect_status 201
MID2=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
http DELETE /bots/file/hooked-2 "${K[@]}"
expect_status 200
M2="e['data']['meeting']['id'] == $MID2"
wait_events 1 "$M2" || fail "no event for meeting $MID2"
sleep 1.5
GOT=$(events "$M2")
[ "$(wc -l <<<"$GOT")" = 1 ] && grep -q ' meeting.completed stopping completed valid$' <<<"$GOT" ||
    fail "default events for meeting $MID2: $GOT"
stop_hark
echo "t0035: ok"
