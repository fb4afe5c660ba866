#!/usr/bin/env bash
# The meetings REST surface, Vexa-compatible: POST /bots for Hark's
# platforms (file, stream, rtmp) and a clear refusal for browser ones,
# GET /bots/status, PUT /bots/.../config, DELETE /bots/..., GET /meetings,
# PATCH and DELETE /meetings/..., GET /transcripts/... (ordered segments,
# absolute UTC times, ?since=). Limits: 409 for a second bot in one meeting,
# 429 past max_concurrent_bots, 422 naming the field. Every response body
# is checked against Vexa's contract (tests/integ/contract.py). file://
# sources only from file_source_dir, symbolic links resolved.
. "$(dirname "$0")/lib.sh"
SRC=$(realpath "$TMPDIR")/audio
mkdir -p "$SRC/sub" "$SRC-b"
printf 'RIFF' > "$SRC/call-1.wav"
printf 'RIFF' > "$SRC-b/secret.wav"
ln -s "$SRC-b/secret.wav" "$SRC/escape.wav"
ln -s call-1.wav "$SRC/alias.wav"
start_hark --file-source-dir "$SRC"
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
http POST /admin/users "${ADMIN[@]}" -d '{"email":"bots@example.com","max_concurrent_bots":3}'
expect_status 201
USER_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
http POST "/admin/users/$USER_ID/tokens?scopes=bot,tx" "${ADMIN[@]}"
expect_status 201
TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
http POST "/admin/users/$USER_ID/tokens?scope=tx" "${ADMIN[@]}"
expect_status 201
TX_TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
K=(-H "X-API-Key: $TOKEN" -H 'Content-Type: application/json')

# ej EXPR: expect_json, with EXPR free to span lines.
ej() { expect_json "($1)"; }
# contract METHOD TEMPLATE: the last response validates for its status.
contract() {
    local why
    why=$(python3 "$HARK_ROOT/tests/integ/contract.py" "$1" "$2" "$STATUS" <<<"$BODY") ||
        fail "$_lib_request: not Vexa's contract for $STATUS: $why; body: $BODY"
}
B=/bots/{platform}/{native_meeting_id}
M=/meetings/{platform}/{native_meeting_id}
T=/transcripts/{platform}/{native_meeting_id}

http POST /bots -H 'Content-Type: application/json' -d '{"platform":"file"}'
expect_status 401

# --- POST /bots: Hark's platforms ---------------------------------------
http POST /bots "${K[@]}" -d '{"platform":"file","native_meeting_id":"call-1",
    "source_url":"file://'"$SRC"'/sub/../alias.wav","realtime":false,"bot_name":"Hark",
    "language":"en","task":"transcribe"}'
expect_status 201
contract post /bots
ej 'j["status"] == "requested" and j["platform"] == "file" and j["native_meeting_id"] == "call-1"
    and j["user_id"] == '"$USER_ID"' and j["constructed_meeting_url"] == "file://'"$SRC"'/call-1.wav"
    and j["data"]["source_url"] == "file://'"$SRC"'/call-1.wav"
    and j["data"]["realtime"] is False and j["data"]["bot_name"] == "Hark" and j["start_time"] is None
    and j["completion_reason"] is None'
FIRST_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")

http POST /bots "${K[@]}" -d '{"platform":"file","native_meeting_id":"call-1","source_url":"https://example.com/a.mp3"}'
expect_status 409
contract post /bots
ej '"call-1" in j["detail"] and j["error"]["code"] == "bot_already_active"'

http POST /bots "${K[@]}" -d '{"platform":"stream","native_meeting_id":"live-1"}'
expect_status 201
contract post /bots
ej 'j["constructed_meeting_url"] is None and j["data"] == {}'

http POST /bots "${K[@]}" -d '{"platform":"rtmp","native_meeting_id":"show"}'
expect_status 201
contract post /bots
ej 're.fullmatch(r"rtmp://127\.0\.0\.1:19350/live/[0-9a-f]{32}", j["constructed_meeting_url"])
    and j["constructed_meeting_url"].endswith(j["data"]["rtmp_key"])'

http POST /bots "${K[@]}" -d '{"platform":"stream","native_meeting_id":"one-too-many"}'
expect_status 429
contract post /bots
ej '"max_concurrent_bots = 3" in j["detail"] and j["error"]["code"] == "max_concurrent_bots"'

# --- 422: every problem named, FastAPI style --------------------------------
for body in '{"platform":"skype","native_meeting_id":"x"}|body platform' \
            '{"native_meeting_id":"x"}|body platform' \
            '{"platform":"stream"}|body native_meeting_id' \
            '{"platform":"stream","native_meeting_id":"bad id/.."}|body native_meeting_id' \
            '{"platform":"google_meet","native_meeting_id":"not a meet id"}|body native_meeting_id' \
            '{"platform":"teams","native_meeting_id":"123"}|body native_meeting_id' \
            '{"platform":"file","native_meeting_id":"f"}|body source_url' \
            '{"platform":"file","native_meeting_id":"f","source_url":"ftp://x/y"}|body source_url' \
            '{"platform":"stream","native_meeting_id":"s","task":"sing"}|body task' \
            '{"platform":"stream","native_meeting_id":"s","language":7}|body language' \
            '{"platform":5,"native_meeting_id":"s"}|body platform'; do
    http POST /bots "${K[@]}" -d "${body%|*}"
    expect_status 422
    contract post /bots
    loc=${body#*|}
    ej 'any(e["loc"] == "'"$loc"'".split() for e in j["detail"]) and j["error"]["code"] == "validation_error"'
done
http POST /bots "${K[@]}" -d '{"platform":'
expect_status 422
contract post /bots

# --- file:// sources: inside file_source_dir only -----------------------------
# file_422 PATH MESSAGE_PART: POST /bots with file://PATH answers 422 at
# body.source_url saying why.
file_422() {
    http POST /bots "${K[@]}" -d '{"platform":"file","native_meeting_id":"f","source_url":"file://'"$1"'"}'
    expect_status 422
    contract post /bots
    ej 'j["detail"][0]["loc"] == ["body", "source_url"] and "'"$2"'" in j["detail"][0]["msg"]'
}
file_422 "$SRC-b/secret.wav" "outside file_source_dir"      # a sibling sharing the prefix
file_422 /etc/passwd "outside file_source_dir"
file_422 /etc/no-such-file "outside file_source_dir"        # not told whether it exists
file_422 "$SRC/../audio-b/secret.wav" "outside file_source_dir"
file_422 "$SRC/escape.wav" "leads outside file_source_dir"  # a symlink out of it
file_422 "$SRC/missing.wav" "No such file"
file_422 "$SRC/sub" "Not a regular file"
file_422 "$SRC/call%2D1.wav" "Percent-encoding is not supported"
http POST /bots "${K[@]}" -d '{"platform":"file","native_meeting_id":"f","source_url":"file://localhost'"$SRC"'/call-1.wav"}'
expect_status 422
ej 'j["detail"][0]["loc"] == ["body", "source_url"]'

# --- browser platforms: valid ids, clearly refused ---------------------------
for body in '{"platform":"google_meet","native_meeting_id":"abc-defg-hij"}' \
            '{"platform":"teams","native_meeting_id":"1234567890123"}' \
            '{"platform":"zoom","native_meeting_id":"12345678901"}'; do
    http POST /bots "${K[@]}" -d "$body"
    expect_status 403
    contract post /bots
    ej '"Browser bots are not enabled" in j["detail"] and j["error"]["code"] == "browser_bots_disabled"'
done

# --- GET /bots/status --------------------------------------------------------
http GET /bots/status "${K[@]}"
expect_status 200
contract get /bots/status
ej 'sorted(b["native_meeting_id"] for b in j["running_bots"]) == ["call-1", "live-1", "show"]
    and all(b["status"] == "requested" for b in j["running_bots"]) and j["count"] == 3'

# --- PUT /bots/.../config ----------------------------------------------------
http PUT /bots/stream/live-1/config "${K[@]}" -d '{"language":"de","task":"translate"}'
expect_status 202
contract put $B/config
ej 'j["message"]'
http PUT /bots/stream/live-1/config "${K[@]}" -d '{"task":"sing"}'
expect_status 422
contract put $B/config
ej 'j["detail"][0]["loc"] == ["body", "task"]'
http PUT /bots/stream/live-1/config "${K[@]}" -d '{"speed":2}'
expect_status 422
contract put $B/config
http PUT /bots/stream/nobody/config "${K[@]}" -d '{"language":"de"}'
expect_status 404
contract put $B/config
http PUT /bots/skype/live-1/config "${K[@]}" -d '{"language":"de"}'
expect_status 422
contract put $B/config
ej 'j["detail"][0]["loc"] == ["path", "platform"]'

# --- DELETE /bots: a bot that never started completes at once ----------------
http DELETE /bots/file/call-1 "${K[@]}"
expect_status 200
contract delete $B
ej 'j["status"] == "completed" and j["completion_reason"] == "stopped"
    and j["data"]["reason_detail"] == "stopped_before_start" and j["end_time"] and j["failure_stage"] is None'
http DELETE /bots/file/call-1 "${K[@]}"
expect_status 200
contract delete $B
ej 'j["message"] == "Meeting already completed." and j["status"] == "completed"'
http DELETE /bots/file/never "${K[@]}"
expect_status 404
contract delete $B
http DELETE /bots/file/bad%20id "${K[@]}"
expect_status 422
contract delete $B
ej 'j["detail"][0]["loc"] == ["path", "native_meeting_id"]'

# The slot is free again, and the same room can be met again.
http POST /bots "${K[@]}" -d '{"platform":"file","native_meeting_id":"call-1","source_url":"https://example.com/a.mp3"}'
expect_status 201
contract post /bots
ej 'j["id"] > '"$FIRST_ID"' and j["data"]["realtime"] is True'
SECOND_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
http POST /bots "${K[@]}" -d '{"platform":"stream","native_meeting_id":"one-too-many"}'
expect_status 429

# --- GET /meetings -----------------------------------------------------------
http GET /meetings "${K[@]}"
expect_status 200
contract get /meetings
ej '[m["id"] for m in j["meetings"]] == sorted((m["id"] for m in j["meetings"]), reverse=True)
    and len(j["meetings"]) == 4 and [m["data"].get("language") for m in j["meetings"] if m["native_meeting_id"] == "live-1"] == ["de"]'
http GET '/meetings?status=completed' "${K[@]}"
expect_status 200
contract get /meetings
ej '[m["id"] for m in j["meetings"]] == ['"$FIRST_ID"']'
http GET '/meetings?platform=rtmp&limit=5' "${K[@]}"
expect_status 200
ej '[m["native_meeting_id"] for m in j["meetings"]] == ["show"]'
http GET '/meetings?limit=1&offset=1' "${K[@]}"
expect_status 200
ej 'len(j["meetings"]) == 1'
http GET '/meetings?platform=skype' "${K[@]}"
expect_status 422
ej 'j["detail"][0]["loc"] == ["query", "platform"]'
http GET '/meetings?limit=lots' "${K[@]}"
expect_status 422
ej 'j["detail"][0]["loc"] == ["query", "limit"]'

# --- scopes, as Vexa: tx reads meetings, only bot manages bots ---------------
http GET /meetings -H "X-API-Key: $TX_TOKEN"
expect_status 200
http POST /bots -H "X-API-Key: $TX_TOKEN" -H 'Content-Type: application/json' -d '{"platform":"stream","native_meeting_id":"s"}'
expect_status 403

# --- PATCH /meetings ---------------------------------------------------------
http PATCH /meetings/file/call-1 "${K[@]}" -d '{"data":{"name":"Standup","participants":["Anna","Ben"],
    "languages":["en"],"notes":"weekly","bot_name":"ignored","extra":1}}'
expect_status 200
contract patch $M
ej 'j["id"] == '"$SECOND_ID"' and j["data"]["name"] == "Standup" and j["data"]["participants"] == ["Anna", "Ben"]
    and j["data"]["notes"] == "weekly" and "extra" not in j["data"] and j["data"]["source_url"] == "https://example.com/a.mp3"'
http PATCH /meetings/file/call-1 "${K[@]}" -d '{"name":"x"}'
expect_status 422
contract patch $M
ej 'j["detail"][0]["loc"] == ["body", "data"]'
http PATCH /meetings/file/call-1 "${K[@]}" -d '{"data":{"participants":"Anna"}}'
expect_status 422
ej 'j["detail"][0]["loc"] == ["body", "data", "participants"]'
http PATCH /meetings/file/nobody "${K[@]}" -d '{"data":{"name":"x"}}'
expect_status 404
contract patch $M

# --- GET /transcripts: ordered, absolute times, since --------------------------
http GET /transcripts/stream/live-1 "${K[@]}"
expect_status 200
contract get $T
ej 'j["segments"] == [] and j["status"] == "requested" and j["platform"] == "stream"'
# The collector is not built yet: segments go straight into the store file.
python3 - "$DATA/hark.db" "$SECOND_ID" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
m = int(sys.argv[2])
rows = [("%d:Anna:2000" % m, "Anna", 2000, 3500, "Second.", "en", 1, 1700000000000),
        ("%d:Ben:500" % m, "Ben", 500, 1800, "First.", "en", 1, 1800000000000),
        ("%d::4000" % m, "", 4000, 4200, "Partial", None, 0, 1800000000000)]
for r in rows:
    db.execute("INSERT INTO segments(id, meeting_id, speaker, start_ms, end_ms, text, language,"
               " completed, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
               (r[0], m) + r[1:] + (r[7],))
db.commit()
EOF
http GET /transcripts/file/call-1 "${K[@]}"
expect_status 200
contract get $T
ej '[s["text"] for s in j["segments"]] == ["First.", "Second.", "Partial"]
    and j["segments"][0]["speaker"] == "Ben" and j["segments"][0]["start"] == 0.5 and j["segments"][0]["end"] == 1.8
    and j["segments"][2]["speaker"] is None and j["segments"][2]["language"] is None and j["segments"][2]["completed"] is False
    and j["notes"] == "weekly" and j["data"]["name"] == "Standup"'
python3 - "$BODY" <<'EOF' || fail "absolute times do not follow the meeting's start"
import datetime, json, sys
j = json.loads(sys.argv[1])
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
http_created = None
for s in j["segments"]:
    d = (t(s["absolute_end_time"]) - t(s["absolute_start_time"])).total_seconds()
    assert abs(d - (s["end"] - s["start"])) < 1e-6, s
first = j["segments"][0]
base = t(first["absolute_start_time"]) - datetime.timedelta(seconds=first["start"])
assert all(abs((t(s["absolute_start_time"]) - base).total_seconds() - s["start"]) < 1e-6 for s in j["segments"])
EOF
http GET "/transcripts/file/call-1?since=2027-01-01T00:00:00Z" "${K[@]}"
expect_status 200
contract get $T
ej '[s["text"] for s in j["segments"]] == ["First.", "Partial"]'
http GET "/transcripts/file/call-1?since=yesterday" "${K[@]}"
expect_status 422
contract get $T
ej 'j["detail"][0]["loc"] == ["query", "since"]'
http GET /transcripts/file/nobody "${K[@]}"
expect_status 404
contract get $T
ej 'j["detail"] == "Meeting not found for platform file and ID nobody"'

# --- DELETE /meetings: only finished ones; keeps an anonymous stub ------------
http DELETE /meetings/file/call-1 "${K[@]}"
expect_status 409
contract delete $M
http DELETE /bots/file/call-1 "${K[@]}"
expect_status 200
http DELETE /meetings/file/call-1 "${K[@]}"
expect_status 200
contract delete $M
ej '"deleted" in j["message"]'
[ "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from segments").fetchone()[0])' "$DATA/hark.db")" = 0 ] ||
    fail "segments survived DELETE /meetings"
http GET /transcripts/file/call-1 "${K[@]}"
expect_status 200
ej 'j["id"] == '"$FIRST_ID"' and j["segments"] == []' # the older meeting in that room
http DELETE /meetings/file/call-1 "${K[@]}"
expect_status 200
http DELETE /meetings/file/call-1 "${K[@]}"
expect_status 404
contract delete $M
http GET /meetings "${K[@]}"
expect_status 200
contract get /meetings
ej 'sum(1 for m in j["meetings"] if m["native_meeting_id"] is None and m["data"].get("redacted") is True
    and "name" not in m["data"] and m["status"] == "completed") == 2 and len(j["meetings"]) == 4'
stop_hark

# Without file_source_dir no file:// source is accepted, even one that exists.
start_hark
http POST /bots "${K[@]}" -d '{"platform":"file","native_meeting_id":"f","source_url":"file://'"$SRC"'/call-1.wav"}'
expect_status 422
contract post /bots
ej 'j["detail"][0]["loc"] == ["body", "source_url"] and "disabled" in j["detail"][0]["msg"]'
stop_hark
