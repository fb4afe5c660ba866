#!/usr/bin/env bash
# Users never see each other's meetings: on every meetings route user B
# gets for user A's meeting exactly what B gets for a meeting that does not
# exist (404, same error code), lists never show it, B's writes leave it
# untouched, and A's bots neither block B's nor count against B's limit.
. "$(dirname "$0")/lib.sh"
start_hark
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
ej() { expect_json "($1)"; }
jget() { python3 -c 'import json,sys; print(eval("j" + sys.argv[2], {"j": json.loads(sys.argv[1])}))' "$BODY" "$1"; }

# user_token EMAIL: creates a user allowed 2 bots and prints a bot+tx token.
user_token() {
    http POST /admin/users "${ADMIN[@]}" -d '{"email":"'"$1"'","max_concurrent_bots":2}'
    expect_status 201
    local id
    id=$(jget '["id"]')
    http POST "/admin/users/$id/tokens?scopes=bot,tx" "${ADMIN[@]}"
    expect_status 201
    jget '["token"]'
}
A_TOKEN=$(user_token a@example.com)
B_TOKEN=$(user_token b@example.com)
A=(-H "X-API-Key: $A_TOKEN" -H 'Content-Type: application/json')
B=(-H "X-API-Key: $B_TOKEN" -H 'Content-Type: application/json')

# A: one meeting in progress, one finished with a transcript.
http POST /bots "${A[@]}" -d '{"platform":"stream","native_meeting_id":"room"}'
expect_status 201
A_ROOM=$(jget '["id"]')
http POST /bots "${A[@]}" -d '{"platform":"file","native_meeting_id":"done","source_url":"https://example.com/x.wav"}'
expect_status 201
A_DONE=$(jget '["id"]')
http PATCH /meetings/file/done "${A[@]}" -d '{"data":{"name":"A private"}}'
expect_status 200
http DELETE /bots/file/done "${A[@]}"
expect_status 200
python3 - "$DATA/hark.db" "$A_DONE" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=10)
db.execute("INSERT INTO segments(id, meeting_id, speaker, start_ms, end_ms, text, created_at,"
           " updated_at) VALUES ('a-seg', ?, 'Anna', 0, 900, 'A said this', 1, 1)",
           (int(sys.argv[2]),))
db.commit()
EOF
# ... and a recording, which A can fetch.
mkdir -p "$DATA/recordings"
printf 'OggS A only' > "$DATA/recordings/$A_DONE.ogg"
http GET /recordings/file/done "${A[@]}"
expect_status 200
[ "$BODY" = "OggS A only" ] || fail "A's recording: $BODY"

# expect_same_404 METHOD PATH_OF_A PATH_MISSING [CURL_ARGS...]: B's answer
# for A's meeting is the answer for a meeting nobody has.
expect_same_404() {
    local method=$1 theirs=$2 missing=$3 code
    shift 3
    http "$method" "$missing" "${B[@]}" "$@"
    expect_status 404
    code=$(jget '["error"]["code"]')
    http "$method" "$theirs" "${B[@]}" "$@"
    expect_status 404
    ej 'j["error"]["code"] == "'"$code"'"'
}
for m in "stream/room" "file/done"; do
    expect_same_404 GET "/transcripts/$m" /transcripts/stream/nobody
    expect_same_404 GET "/recordings/$m" /recordings/stream/nobody
    expect_same_404 PATCH "/meetings/$m" /meetings/stream/nobody -d '{"data":{"name":"B was here"}}'
    expect_same_404 DELETE "/meetings/$m" /meetings/stream/nobody
    expect_same_404 PUT "/bots/$m/config" /bots/stream/nobody/config -d '{"language":"de"}'
    expect_same_404 DELETE "/bots/$m" /bots/stream/nobody
done

http GET /meetings "${B[@]}"
expect_status 200
ej 'j["meetings"] == []'
for q in '?status=requested' '?status=completed' '?platform=stream' '?platform=file'; do
    http GET "/meetings$q" "${B[@]}"
    expect_status 200
    ej 'j["meetings"] == []'
done
http GET /bots/status "${B[@]}"
expect_status 200
ej 'j["running_bots"] == [] and j["count"] == 0'

# A's bot in "room" does not stop B using a room of that name, and A's
# bots are not counted against B's limit of 2.
http POST /bots "${B[@]}" -d '{"platform":"stream","native_meeting_id":"room"}'
expect_status 201
B_ROOM=$(jget '["id"]')
ej 'j["id"] != '"$A_ROOM"
http POST /bots "${B[@]}" -d '{"platform":"stream","native_meeting_id":"other"}'
expect_status 201
http POST /bots "${B[@]}" -d '{"platform":"stream","native_meeting_id":"third"}'
expect_status 429
http GET /transcripts/stream/room "${B[@]}"
expect_status 200
ej 'j["id"] == '"$B_ROOM"' and j["segments"] == []'
http DELETE /bots/stream/room "${B[@]}"
expect_status 200
ej 'j["id"] == '"$B_ROOM"' and j["status"] == "completed"'
http GET /bots/status "${B[@]}"
ej '[b["native_meeting_id"] for b in j["running_bots"]] == ["other"]'

# A sees all of A's and none of B's, untouched by B.
http GET /meetings "${A[@]}"
expect_status 200
ej 'sorted(m["id"] for m in j["meetings"]) == sorted(['"$A_ROOM, $A_DONE"'])'
http GET /bots/status "${A[@]}"
ej '[b["meeting_id"] for b in j["running_bots"]] == ['"$A_ROOM"'] and j["running_bots"][0]["status"] == "requested"'
http GET /transcripts/file/done "${A[@]}"
expect_status 200
ej '[s["text"] for s in j["segments"]] == ["A said this"] and j["data"]["name"] == "A private"'
http GET /transcripts/stream/room "${A[@]}"
expect_status 200
ej 'j["id"] == '"$A_ROOM"' and j["status"] == "requested" and "language" not in j["data"]'
http DELETE /meetings/file/done "${A[@]}"
expect_status 200
[ ! -e "$DATA/recordings/$A_DONE.ogg" ] || fail "DELETE /meetings left A's recording"
stop_hark
