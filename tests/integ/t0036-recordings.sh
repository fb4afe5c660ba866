#!/usr/bin/env bash
# GET /recordings/{platform}/{native_meeting_id} sends the meeting's
# recording ($DATA/recordings/<id>.ogg) byte for byte as an audio/ogg
# attachment, only to its owner (scope tx); 404 "Meeting not found" for an
# unknown or another user's meeting, 404 recording_not_found while a
# meeting has none. DELETE /meetings removes the recording, a stale .tmp and
# the audio log. Nothing transcribes here: the files are planted.
. "$(dirname "$0")/lib.sh"
start_hark
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
ej() { expect_json "($1)"; }
jget() { python3 -c 'import json,sys; print(eval("j" + sys.argv[2], {"j": json.loads(sys.argv[1])}))' "$BODY" "$1"; }

# user_token EMAIL SCOPES: prints a token of a new user.
user_token() {
    http POST /admin/users "${ADMIN[@]}" -d '{"email":"'"$1"'"}'
    expect_status 201
    local id
    id=$(jget '["id"]')
    http POST "/admin/users/$id/tokens?scopes=$2" "${ADMIN[@]}"
    expect_status 201
    jget '["token"]'
}
A_TOKEN=$(user_token a@example.com bot,tx)
B_TOKEN=$(user_token b@example.com bot,tx)
A=(-H "X-API-Key: $A_TOKEN" -H 'Content-Type: application/json')
B=(-H "X-API-Key: $B_TOKEN" -H 'Content-Type: application/json')

# Two finished meetings of A's: "rec-1" with a recording, "bare" without.
for room in rec-1 bare; do
    http POST /bots "${A[@]}" -d '{"platform":"stream","native_meeting_id":"'"$room"'"}'
    expect_status 201
    http DELETE "/bots/stream/$room" "${A[@]}"
    expect_status 200
    ej 'j["status"] == "completed"'
done
http GET /transcripts/stream/rec-1 "${A[@]}"
ID=$(jget '["id"]')
mkdir -p "$DATA/recordings" "$DATA/audio"
REC=$DATA/recordings/$ID.ogg
# 3 MB that are not text (NULs, every byte value): served as they are.
python3 -c 'import os, sys; sys.stdout.buffer.write(b"OggS" + bytes(range(256)) * 12 + os.urandom(3 << 20))' > "$REC"
printf 'partial' > "$REC.tmp"
printf 'audio' > "$DATA/audio/m$ID.alog"
printf 'commit' > "$DATA/audio/m$ID.commit"

# --- the owner gets the file -------------------------------------------------
# curl by hand: the body is binary, not for $BODY.
HDR=$TMPDIR/headers
code=$(curl -sS -o "$TMPDIR/got.ogg" -D "$HDR" -w '%{http_code}' -H "X-API-Key: $A_TOKEN" \
            "http://127.0.0.1:$PORT/recordings/stream/rec-1")
[ "$code" = 200 ] || fail "GET /recordings: status $code"
cmp -s "$TMPDIR/got.ogg" "$REC" || fail "GET /recordings: body differs from $REC"
tr -d '\r' < "$HDR" > "$HDR.txt"
grep -qix 'content-type: audio/ogg' "$HDR.txt" || fail "Content-Type: $(cat "$HDR.txt")"
grep -qix "content-length: $(stat -c %s "$REC")" "$HDR.txt" || fail "Content-Length: $(cat "$HDR.txt")"
grep -qix 'content-disposition: attachment; filename="stream-rec-1.ogg"' "$HDR.txt" ||
    fail "Content-Disposition: $(cat "$HDR.txt")"
grep -q 'msg="recording served" meeting='"$ID"' bytes=' "$HARK_LOG" || fail "no served log line"

# A tx-only token reads it too; a bot-only token does not (scope as /transcripts).
TX_TOKEN=$(user_token c@example.com tx)
http GET /recordings/stream/rec-1 -H "X-API-Key: $TX_TOKEN"
expect_status 404 # c has no such meeting, but got past the scope check
BOT_TOKEN=$(user_token d@example.com bot)
http GET /recordings/stream/rec-1 -H "X-API-Key: $BOT_TOKEN"
expect_status 403
ej 'j["error"]["code"] == "insufficient_scope"'
http GET /recordings/stream/rec-1
expect_status 401

# --- 404s ------------------------------------------------------------------------
http GET /recordings/stream/rec-1 "${B[@]}"
expect_status 404
ej 'j["detail"] == "Meeting not found" and j["error"]["code"] == "not_found"'
http GET /recordings/stream/nobody "${A[@]}"
expect_status 404
ej 'j["detail"] == "Meeting not found" and j["error"]["code"] == "not_found"'
http GET /recordings/skype/rec-1 "${A[@]}"
expect_status 404
ej 'j["error"]["code"] == "not_found"'
http GET "/recordings/stream/$(printf 'x%.0s' {1..200})" "${A[@]}"
expect_status 404
ej 'j["error"]["code"] == "not_found"'
http GET /recordings/stream/bare "${A[@]}"
expect_status 404
ej 'j["detail"] == "No recording for this meeting" and j["error"]["code"] == "recording_not_found"'
http POST /recordings/stream/rec-1 "${A[@]}"
expect_status 405

# --- DELETE /meetings takes the audio with it ------------------------------------
http DELETE /meetings/stream/rec-1 "${B[@]}"
expect_status 404
[ -f "$REC" ] || fail "another user's DELETE removed the recording"
http DELETE /meetings/stream/rec-1 "${A[@]}"
expect_status 200
for f in "$REC" "$REC.tmp" "$DATA/audio/m$ID.alog" "$DATA/audio/m$ID.commit"; do
    [ ! -e "$f" ] || fail "DELETE /meetings left $f"
done
grep -q 'msg="meeting files removed" meeting='"$ID"' recording=removed recording_tmp=removed audio_log=removed' \
    "$HARK_LOG" || fail "no removal log line"
http GET /recordings/stream/rec-1 "${A[@]}"
expect_status 404
# A meeting without files deletes cleanly too.
http DELETE /meetings/stream/bare "${A[@]}"
expect_status 200
grep -q 'msg="meeting files removed" meeting=[0-9]* recording=absent recording_tmp=absent audio_log=removed' \
    "$HARK_LOG" || fail "no removal log line for a meeting without files"
stop_hark
