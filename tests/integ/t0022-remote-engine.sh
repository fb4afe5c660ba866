#!/usr/bin/env bash
# The remote engine against a real OpenAI-compatible server — Hark's own
# batch endpoint: hark transcribe --asr-engine remote gets segments and
# words back, offline and through the streaming path, with the key as a
# Bearer token; a bad key or a dead server is a clear failure.
. "$(dirname "$0")/lib.sh"
MODEL=${HARK_TEST_MODEL:-$HARK_ROOT/build/models/test.en.bin}
JFK=$HARK_SHARED/data/jfk.wav
start_hark --model "$MODEL" --asr-threads 1
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
http POST /admin/users "${ADMIN[@]}" -d '{"email":"remote@example.com"}'
http POST /admin/users/1/tokens "${ADMIN[@]}"
TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
remote=(--asr-engine remote --remote-url "http://127.0.0.1:$PORT/v1" --log-level error)

"$HARK_BIN" transcribe "$JFK" "${remote[@]}" --remote-key "$TOKEN" --format verbose_json \
    > "$TMPDIR/r.json" || fail "remote transcription failed"
python3 - "$TMPDIR/r.json" <<'PY' || fail "remote verbose_json malformed"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["segments"] and j["words"] and j["text"].strip(), j
assert abs(j["duration"] - 11.0) < 0.01 and j["language"] == "english", j
PY
"$HARK_BIN" transcribe "$JFK" "${remote[@]}" --remote-key "$TOKEN" --stream --fast > "$TMPDIR/r.jsonl" \
    || fail "remote streaming failed"
grep -q '"type":"segment"' "$TMPDIR/r.jsonl" || fail "no segment over the remote engine"
tail -1 "$TMPDIR/r.jsonl" | grep -qx '{"type":"end"}' || fail "remote stream did not end"

rc=0; "$HARK_BIN" transcribe "$JFK" "${remote[@]}" --remote-key hk_wrong >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "wrong key: exit $rc"
rc=0; "$HARK_BIN" transcribe "$JFK" --asr-engine remote --remote-url "http://127.0.0.1:1/v1" \
    --log-level error >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "dead server: exit $rc"
rc=0; "$HARK_BIN" transcribe "$JFK" --asr-engine remote >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "remote without remote_url: exit $rc"
stop_hark
