#!/usr/bin/env bash
# hark transcribe on jfk.wav with the random-weight test model: every format
# is well-formed, timestamps are monotonic, the same input gives the same
# output twice (offline and through the streaming path with --fast), and
# bad input / missing model fail with a clear message and status.
. "$(dirname "$0")/lib.sh"
MODEL=${HARK_TEST_MODEL:-$HARK_ROOT/build/models/test.en.bin}
VAD=$HARK_SHARED/data/for-tests-silero-v6.2.0-ggml.bin
JFK=$HARK_SHARED/data/jfk.wav
[ -f "$MODEL" ] || fail "test model $MODEL missing (make all generates it)"
hark_t() { "$HARK_BIN" transcribe "$@" --model "$MODEL" --asr-threads 1 --log-level error; }

hark_t "$JFK" --format verbose_json > "$TMPDIR/v1.json"
hark_t "$JFK" --format verbose_json > "$TMPDIR/v2.json"
cmp -s "$TMPDIR/v1.json" "$TMPDIR/v2.json" || fail "offline output differs between two runs"
python3 - "$TMPDIR/v1.json" <<'PY' || fail "verbose_json is not well-formed"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["task"] == "transcribe" and j["language"] == "english", j
assert abs(j["duration"] - 11.0) < 0.01, j["duration"]
segs = j["segments"]
assert segs and j["text"].strip(), "no text decoded"
prev = 0.0
for i, s in enumerate(segs):
    assert s["id"] == i and 0 <= s["start"] <= s["end"] <= j["duration"] + 0.01, s
    assert s["start"] >= prev - 1e-9, ("segments go back in time", s)
    prev = s["start"]
wprev = 0.0
for w in j["words"]:
    assert w["start"] <= w["end"] and w["start"] >= wprev - 1e-9, w
    wprev = w["start"]
PY

for f in json text srt vtt; do
    hark_t "$JFK" --format "$f" > "$TMPDIR/out.$f" || fail "--format $f failed"
done
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["text"]' "$TMPDIR/out.json" || fail "json"
head -1 "$TMPDIR/out.vtt" | grep -qx WEBVTT || fail "vtt header"
grep -Eq '^00:00:[0-9]{2},[0-9]{3} --> 00:00:[0-9]{2},[0-9]{3}$' "$TMPDIR/out.srt" || fail "srt cue times"
[ -s "$TMPDIR/out.text" ] || fail "text output empty"

hark_t "$JFK" --stream --fast --vad-model "$VAD" > "$TMPDIR/s1.jsonl"
hark_t "$JFK" --stream --fast --vad-model "$VAD" > "$TMPDIR/s2.jsonl"
cmp -s "$TMPDIR/s1.jsonl" "$TMPDIR/s2.jsonl" || fail "streaming output differs between two runs"
python3 - "$TMPDIR/s1.jsonl" <<'PY' || fail "stream events are not well-formed"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
assert ev[-1] == {"type": "end"}, ev[-1]
segs = [e for e in ev if e["type"] == "segment" and e["final"]]
assert segs, "no segment confirmed"
ids = [s["id"] for s in segs]
assert len(ids) == len(set(ids)), "final segment ids repeat"
prev_end = 0.0
for s in segs:
    assert s["start"] <= s["end"] and s["start"] >= prev_end - 1e-9, ("overlap or reversal", s)
    assert s["id"] == "file::%d" % round(s["start"] * 1000), s
    prev_end = s["end"]
# An update (final false) comes before its segment completes, under the
# same id, and only ever appends confirmed words.
final = {s["id"]: s for s in segs}
last = {}
for e in ev:
    if e["type"] != "segment":
        continue
    assert e["id"] in final, ("update of a segment that never completed", e)
    assert e["id"] not in last or last[e["id"]]["final"] is False, ("update after final", e)
    assert e["start"] == final[e["id"]]["start"], e
    if e["id"] in last:
        assert e["text"].startswith(last[e["id"]]["text"]), ("confirmed text changed", last[e["id"]], e)
    last[e["id"]] = e
PY
# Without VAD too, and in real time (timing varies, structure must not).
hark_t "$JFK" --stream --fast > "$TMPDIR/s3.jsonl" || fail "stream without VAD"
grep -q '"type":"segment"' "$TMPDIR/s3.jsonl" || fail "no segment without VAD"

head -c 5000 /dev/urandom > "$TMPDIR/noise.wav"
rc=0; err=$(hark_t "$TMPDIR/noise.wav" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -qi "audio" <<<"$err" || fail "bad audio: exit $rc: $err"
rc=0; err=$(hark_t "$TMPDIR/none.wav" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "missing file: exit $rc"
rc=0; err=$("$HARK_BIN" transcribe "$JFK" 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "no model" <<<"$err" || fail "no model: exit $rc: $err"
rc=0; err=$("$HARK_BIN" transcribe "$JFK" --model "$HARK_SHARED/data/jfk.wav" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "a WAV as model: exit $rc: $err"
rc=0; hark_t "$JFK" --format xml >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "unknown format: exit $rc"
