#!/usr/bin/env bash
# POST /v1/audio/transcriptions speaks OpenAI's request and response shapes
# (multipart; json, text, srt, vtt, verbose_json with word/segment
# granularities; X-API-Key or Bearer), 10 concurrent uploads all complete,
# a full queue answers 503 with Retry-After, bad audio and bad fields 400,
# and GET /v1/models lists the loaded model.
. "$(dirname "$0")/lib.sh"
MODEL=${HARK_TEST_MODEL:-$HARK_ROOT/build/models/test.en.bin}
JFK=$HARK_SHARED/data/jfk.wav
start_hark --model "$MODEL" --asr-decoders 1 --asr-threads 1 --batch-queue 2
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
http POST /admin/users "${ADMIN[@]}" -d '{"email":"batch@example.com"}'
http POST /admin/users/1/tokens "${ADMIN[@]}"
expect_status 201
TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
URL=http://127.0.0.1:$PORT/v1/audio/transcriptions

http POST /v1/audio/transcriptions -F "file=@$JFK" -F model=whisper-1
expect_status 401
http POST /v1/audio/transcriptions -H "Authorization: Bearer $TOKEN" -F "file=@$JFK" -F model=whisper-1
expect_status 200
expect_json 'isinstance(j["text"], str) and j["text"].strip() and set(j) == {"text"}'
http POST /v1/audio/transcriptions -H "X-API-Key: $TOKEN" -F "file=@$JFK" -F model=whisper-1 \
    -F response_format=verbose_json -F 'timestamp_granularities[]=word' -F 'timestamp_granularities[]=segment'
expect_status 200
expect_json 'j["task"] == "transcribe" and abs(j["duration"] - 11) < 0.01 and j["segments"] and j["words"] and all(w["start"] <= w["end"] for w in j["words"])'
for f in text srt vtt; do
    http POST /v1/audio/transcriptions -H "X-API-Key: $TOKEN" -F "file=@$JFK" -F response_format=$f
    expect_status 200
done
[[ $BODY == WEBVTT* ]] || fail "vtt body"

# bad requests
http POST /v1/audio/transcriptions -H "X-API-Key: $TOKEN" -F model=whisper-1
expect_status 400
expect_json '"file" in j["detail"] and j["error"]["code"] == "invalid_request"'
head -c 20000 /dev/urandom > "$TMPDIR/noise.bin"
http POST /v1/audio/transcriptions -H "X-API-Key: $TOKEN" -F "file=@$TMPDIR/noise.bin"
expect_status 400
expect_json 'j["error"]["code"] == "invalid_audio" and j["detail"]'
http POST /v1/audio/transcriptions -H "X-API-Key: $TOKEN" -F "file=@$JFK" -F response_format=xml
expect_status 400
http POST /v1/audio/transcriptions -H "X-API-Key: $TOKEN" -F "file=@$JFK" -F 'timestamp_granularities[]=word'
expect_status 400
http POST /v1/audio/transcriptions -H "X-API-Key: $TOKEN" -F "file=@$JFK" -F temperature=7
expect_status 400
http POST /v1/audio/transcriptions -H "X-API-Key: $TOKEN" -H 'Content-Type: application/json' -d '{}'
expect_status 400

http GET /v1/models -H "X-API-Key: $TOKEN"
expect_status 200
expect_json 'j["object"] == "list" and j["data"][0]["id"] == "test.en" and j["data"][0]["object"] == "model"'

# asynchronous: POST /jobs → 202 {id, status}, then GET /jobs/{id} until done;
# another user's job is 404.
http POST /jobs -H "X-API-Key: $TOKEN" -F "file=@$JFK" -F response_format=verbose_json
expect_status 202
expect_json 'j["status"] in ("queued", "running") and isinstance(j["id"], int) and j["result"] is None'
JOB=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
for ((i = 0; i < 100; i++)); do
    http GET "/jobs/$JOB" -H "X-API-Key: $TOKEN"
    python3 -c 'import json,sys; sys.exit(json.loads(sys.argv[1])["status"] in ("completed","failed"))' "$BODY" || break
    sleep 0.1
done
expect_json 'j["status"] == "completed" and j["result"]["segments"] and j["error"] is None'
http POST /jobs -H "X-API-Key: $TOKEN" -F "file=@$TMPDIR/noise.bin" -F response_format=text
expect_status 202
BADJOB=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
for ((i = 0; i < 100; i++)); do
    http GET "/jobs/$BADJOB" -H "X-API-Key: $TOKEN"
    python3 -c 'import json,sys; sys.exit(json.loads(sys.argv[1])["status"] in ("completed","failed"))' "$BODY" || break
    sleep 0.1
done
expect_json 'j["status"] == "failed" and j["error"]'
http POST /admin/users "${ADMIN[@]}" -d '{"email":"other@example.com"}'
http POST /admin/users/2/tokens "${ADMIN[@]}"
OTHER=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
http GET "/jobs/$JOB" -H "X-API-Key: $OTHER"
expect_status 404
expect_json 'j["detail"] == "Job not found"'

# 10 concurrent uploads: with one decoder and 2 waiting slots some are
# refused with 503 + Retry-After; retried, every one completes.
pids=()
for i in $(seq 1 10); do
    ( for try in $(seq 1 60); do
          code=$(curl -s -m 30 -o "$TMPDIR/c$i.json" -D "$TMPDIR/c$i.h" -w '%{http_code}' -H "X-API-Key: $TOKEN" \
                      -F "file=@$JFK" "$URL")
          [ "$code" = 200 ] && { echo "$try" > "$TMPDIR/c$i.ok"; exit 0; }
          [ "$code" = 503 ] || { echo "status $code" > "$TMPDIR/c$i.bad"; exit 1; }
          grep -qi '^Retry-After: [0-9]' "$TMPDIR/c$i.h" || { echo "503 without Retry-After" > "$TMPDIR/c$i.bad"; exit 1; }
          sleep 0.2
      done; echo "gave up" > "$TMPDIR/c$i.bad" ) &
    pids+=($!)
done
wait "${pids[@]}"  # not a bare wait: hark itself runs in the background
ls "$TMPDIR"/c*.bad >/dev/null 2>&1 && fail "concurrent uploads: $(cat "$TMPDIR"/c*.bad | sort | uniq -c)"
[ "$(ls "$TMPDIR"/c*.ok | wc -l)" = 10 ] || fail "not all 10 uploads completed"
[ "$(cat "$TMPDIR"/c*.ok | sort -n | tail -1)" -gt 1 ] || fail "no upload was ever refused with 503: the queue bound is not exercised"
http GET /healthz
expect_status 200
stop_hark
