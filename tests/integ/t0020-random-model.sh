#!/usr/bin/env bash
# gen-random-model writes a whisper model whisper.cpp loads like a real one:
# the same seed gives the same bytes and another seed other bytes, and
# whisper-cli transcribes jfk.wav with it into timestamped segments of
# ordinary words, the same way twice, with and without token timestamps.
. "$(dirname "$0")/lib.sh"
GEN=$HARK_ROOT/build/release/gen-random-model
CLI=$HARK_ROOT/build/whisper/p0-c0/bin/whisper-cli
VOCAB=$HARK_SHARED/data/for-tests-ggml-tiny.en.bin
WAV=$HARK_SHARED/data/jfk.wav
[ -x "$GEN" ] || fail "$GEN is not built"
[ -x "$CLI" ] || fail "$CLI is not built"

model=$TMPDIR/test.bin
"$GEN" --preset test --vocab-from "$VOCAB" --seed 3 --ftype f16 -o "$model" ||
    fail "gen-random-model exited $?"
"$GEN" --preset test --vocab-from "$VOCAB" --seed 3 --ftype f16 -o "$TMPDIR/again.bin"
"$GEN" --preset test --vocab-from "$VOCAB" --seed 4 --ftype f16 -o "$TMPDIR/other.bin"
cmp -s "$model" "$TMPDIR/again.bin" || fail "seed 3 twice gave different files"
! cmp -s "$model" "$TMPDIR/other.bin" || fail "seeds 3 and 4 gave the same file"
leftover=$(find "$TMPDIR" -name '*.tmp.*')
[ -z "$leftover" ] || fail "temporary files left behind: $leftover"

rc=0
"$GEN" --preset tiny --vocab-from "$VOCAB" --seed 3 --ftype f16 -o "$TMPDIR/x.bin" \
    2>"$TMPDIR/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'multilingual' "$TMPDIR/err" ||
    fail "English vocabulary for a multilingual preset: exit $rc: $(cat "$TMPDIR/err")"
rc=0
"$GEN" --preset test --vocab-from "$TMPDIR/missing.bin" --seed 3 --ftype f16 \
    -o "$TMPDIR/x.bin" 2>"$TMPDIR/err" || rc=$?
[ "$rc" = 1 ] && grep -q 'missing.bin' "$TMPDIR/err" ||
    fail "missing vocabulary file: exit $rc: $(cat "$TMPDIR/err")"
[ ! -e "$TMPDIR/x.bin" ] || fail "a failed run left $TMPDIR/x.bin"

# transcribe OUT ARGS...: whisper-cli on jfk.wav, JSON to OUT.json, its log
# to OUT.log; fails on a non-zero exit.
transcribe() {
    local out=$1
    shift
    "$CLI" -m "$model" -f "$WAV" -t 2 -oj -of "$out" "$@" >"$out.log" 2>&1 ||
        fail "whisper-cli $* exited $?: $(tail -n 5 "$out.log")"
}

transcribe "$TMPDIR/a"
grep -q 'WARN no tensors loaded' "$TMPDIR/a.log" && fail "whisper.cpp loaded no tensors"
grep -Eq 'whisper_model_load: model size += +[1-9]' "$TMPDIR/a.log" ||
    fail "no model size in the log: $(grep whisper_model_load "$TMPDIR/a.log" | tail -n 3)"
python3 - "$TMPDIR/a.json" <<'PY' || fail "transcript of jfk.wav: see above"
import json, re, sys
segs = json.load(open(sys.argv[1]))["transcription"]
words = [s for s in segs if re.search(r"[A-Za-z]", s["text"])]
if not words:
    sys.exit("no segment with words: %r" % segs)
prev = 0
for s in segs:
    t0, t1 = s["offsets"]["from"], s["offsets"]["to"]
    # jfk.wav is 11.0 s long; a segment may close a little past its end
    if not (prev <= t0 <= t1 <= 12000):
        sys.exit("implausible segment times %d..%d after %d: %r" % (t0, t1, prev, s))
    prev = t0
if words[-1]["offsets"]["to"] < 5000:
    sys.exit("the segments stop at %d ms of 11000" % words[-1]["offsets"]["to"])
print("%d segments, %d with words, last ends at %d ms"
      % (len(segs), len(words), segs[-1]["offsets"]["to"]))
PY

transcribe "$TMPDIR/b"
cmp -s "$TMPDIR/a.json" "$TMPDIR/b.json" || fail "two runs gave different transcripts"

transcribe "$TMPDIR/c" -ml 1 -bs 1
python3 - "$TMPDIR/c.json" <<'PY' || fail "-ml 1 transcript: see above"
import json, sys
segs = json.load(open(sys.argv[1]))["transcription"]
if len([s for s in segs if s["text"].strip()]) < 2:
    sys.exit("-ml 1 should split into words: %r" % segs)
PY
