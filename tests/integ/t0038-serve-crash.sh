#!/usr/bin/env bash
# kill -9 of `hark serve` mid-meeting, then a restart (issue 5, acceptance
# 3): the bot does not outlive its server; the restarted server transcribes
# what the audio log holds and ends the meeting failed (bot_lost, stage
# active); no segment is duplicated or overlaps; every audio second
# acknowledged to the bot before the kill is covered by the transcription.
. "$(dirname "$0")/lib.sh"
MODEL=${HARK_TEST_MODEL:-$HARK_ROOT/build/models/test.en.bin}
VAD=$HARK_SHARED/data/for-tests-silero-v6.2.0-ggml.bin
[ -f "$MODEL" ] || fail "test model $MODEL missing (make all generates it)"
SRC=$TMPDIR/src
mkdir -p "$SRC"
repeat_wav "$HARK_SHARED/data/jfk.wav" "$SRC/long.wav" 3
ARGS=(--model "$MODEL" --vad-model "$VAD" --asr-decoders 1 --asr-threads 1
      --file-source-dir "$SRC")
start_hark "${ARGS[@]}"
export PORT SRC HARK_ADMIN_API_KEY
cd "$HARK_ROOT/tests/integ"
/usr/bin/python3 - <<'PY' || fail "could not start the meeting"
import os, time
from meetings import *
uid, key = new_user("crash@example.com")
open(os.environ["TMPDIR"] + "/key", "w").write(key)
st, m = call("POST", "/bots", {"platform": "file", "native_meeting_id": "crash",
             "source_url": "file://" + os.environ["SRC"] + "/long.wav"}, key=key)
assert st == 201, (st, m)
wait_status(key, "file", "crash", ("active",), 30)
time.sleep(8)
PY
BOT=$(pgrep -f "hark bot .*--link 127.0.0.1:$PORT " || true)
[ -n "$BOT" ] || fail "no bot process"
kill -9 "$HARK_PID"
wait "$HARK_PID" 2>/dev/null || true
HARK_PID=
ACKED=$(sed -n 's/.*msg="audio acknowledged" meeting=[0-9]* durable_ms=\([0-9]*\).*/\1/p' \
        "$HARK_LOG" | tail -n 1)
[ -n "$ACKED" ] && [ "$ACKED" -ge 1000 ] || fail "no audio was acknowledged before the kill"
for ((i = 0; i < 50; i++)); do
    kill -0 "$BOT" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$BOT" 2>/dev/null && fail "the bot outlived its server (pid $BOT)"

start_hark "${ARGS[@]}"
export ACKED
/usr/bin/python3 - <<'PY' || fail "the meeting did not end right after the restart"
import os
from meetings import *
key = open(os.environ["TMPDIR"] + "/key").read()
m = wait_status(key, "file", "crash", ("failed", "completed"), 60)
assert m["status"] == "failed" and m["failure_stage"] == "active", m
assert m["data"]["reason_detail"] == "bot_lost", m
acked = int(os.environ["ACKED"]) / 1000.0
d = m["data"]
assert d["audio_transcribed_s"] == d["audio_received_s"] >= acked, (d, acked)
st, tr = call("GET", "/transcripts/file/crash", key=key)
assert st == 200 and tr["segments"], (st, tr)
check_transcript(tr["segments"])
assert all(s["completed"] for s in tr["segments"]), tr["segments"]
print("acked %.3f s, transcribed %.3f s, %d segments" % (acked, d["audio_transcribed_s"],
                                                          len(tr["segments"])))
PY
grep -q 'msg="resuming" meeting=' "$HARK_LOG" || fail "the restart did not resume the log"
stop_hark
