#!/usr/bin/env bash
# A `file` bot on jfk.wav paced in real time, end to end (issue 5,
# acceptance 1 and 4): the bot process links back, the meeting goes
# requested -> joining -> active -> completed (stopped, reason_detail
# source_ended); the transcript is ordered, non-overlapping, ids unique;
# the same final segments arrived on /ws (event ids increasing) and at a
# webhook receiver (valid signatures, each event_id once); a recording is
# kept. Then a bot killed with SIGKILL fails its meeting (bot_lost, stage
# active) within 10 s, DELETE /bots stops a running bot, and a bot still
# running when hark stops ends its meeting failed (server_shutdown) with
# every received second transcribed.
. "$(dirname "$0")/lib.sh"
MODEL=${HARK_TEST_MODEL:-$HARK_ROOT/build/models/test.en.bin}
VAD=$HARK_SHARED/data/for-tests-silero-v6.2.0-ggml.bin
[ -f "$MODEL" ] || fail "test model $MODEL missing (make all generates it)"
SRC=$TMPDIR/src
mkdir -p "$SRC"
cp "$HARK_SHARED/data/jfk.wav" "$SRC/jfk.wav"
# 33 s: long enough to kill or stop the bot while it talks
repeat_wav "$SRC/jfk.wav" "$SRC/long.wav" 3
start_hark --model "$MODEL" --vad-model "$VAD" --asr-decoders 1 --asr-threads 1 \
    --file-source-dir "$SRC" --webhook-allow-private true --webhook-retry-schedule 1,1,1
export PORT SRC HARK_ADMIN_API_KEY
cd "$HARK_ROOT/tests/integ"
/usr/bin/python3 - <<'PY' || fail "file bot scenario failed (see above)"
import os, subprocess, time
from meetings import *

SRC = os.environ["SRC"]
uid, key = new_user("bots@example.com")
rx = Receiver("t0037-secret")
st, body = call("PUT", "/user/webhook", {"webhook_url": rx.url, "webhook_secret": "t0037-secret",
                "webhook_events": {"meeting.status_change": True, "meeting.completed": True,
                                   "transcript.segment": True}}, key=key)
assert st == 200, (st, body)

# every /ws message and every API answer below is checked against Vexa's
# contract (meetings.py, contract.py)
# --- acceptance 1: a file bot in real time -----------------------------------
st, m = call("POST", "/bots", {"platform": "file", "native_meeting_id": "jfk",
             "source_url": "file://" + SRC + "/jfk.wav", "realtime": True}, key=key,
             template="/bots")
assert st == 201, (st, m)
sub = Subscriber(key, [{"platform": "file", "native_id": "jfk"}], last_event_id=1)
m = wait_status(key, "file", "jfk", ("completed", "failed"), 90)
assert m["status"] == "completed", m
assert m["completion_reason"] == "stopped" and m["data"]["reason_detail"] == "source_ended", m
assert m["start_time"] and m["end_time"], m
assert abs(m["data"]["audio_received_s"] - 11.0) < 0.1, m["data"]
assert m["data"]["audio_transcribed_s"] == m["data"]["audio_received_s"], m["data"]

st, tr = call("GET", "/transcripts/file/jfk", key=key,
              template="/transcripts/{platform}/{native_meeting_id}")
assert st == 200, (st, tr)
segs = tr["segments"]
assert segs, "no segments: the test model emits text, so a transcript must exist"
ids = check_transcript(segs)
assert all(s["completed"] for s in segs), segs

time.sleep(1.0)  # the last /ws messages and webhook attempts
sub.close()
msgs = sub.messages
event_ids = [x["event_id"] for x in msgs]
assert event_ids == sorted(event_ids) and len(set(event_ids)) == len(event_ids), event_ids
statuses = [x["payload"]["status"] for x in msgs if x["type"] == "meeting.status"]
assert statuses[-1] == "completed" and "active" in statuses, statuses
final_ws = {x["segment_id"] for x in msgs
            if x["type"] == "transcription_segment" and x["completed"]}
assert final_ws == set(ids), (sorted(final_ws), ids)
assert all(x["event"] == "transcript.segment" for x in msgs if x["type"] == "transcription_segment")

deadline = time.time() + 20
while time.time() < deadline and len(rx.of_type("meeting.completed")) < 1:
    time.sleep(0.2)
assert all(e["_signature_ok"] for e in rx.events), "a webhook failed its signature"
evids = [e["event_id"] for e in rx.events]
assert len(evids) == len(set(evids)), ("an event_id came twice", evids)
changes = [(e["data"]["status_change"]["from"], e["data"]["status_change"]["to"])
           for e in rx.of_type("meeting.status_change")]
assert changes == [("requested", "joining"), ("joining", "active"), ("active", "completed")], changes
hooked = {e["data"]["segment"]["segment_id"] for e in rx.of_type("transcript.segment")}
assert hooked == set(ids), (hooked, ids)
assert len(rx.of_type("meeting.completed")) == 1

st, rec = call("GET", "/recordings/file/jfk", key=key)
assert st == 200 and rec[:4] == b"OggS", (st, rec[:40])

# --- acceptance 4: SIGKILL of a running bot -----------------------------------
st, m = call("POST", "/bots", {"platform": "file", "native_meeting_id": "killed",
             "source_url": "file://" + SRC + "/long.wav"}, key=key)
assert st == 201, (st, m)
wait_status(key, "file", "killed", ("active",), 30)
time.sleep(2)
pids = subprocess.run(["pgrep", "-f", "hark bot .*--meeting %d " % m["id"]],
                      capture_output=True, text=True).stdout.split()
assert len(pids) == 1, pids
t0 = time.time()
subprocess.run(["kill", "-9", pids[0]], check=True)
m = wait_status(key, "file", "killed", ("failed", "completed"), 10)
took = time.time() - t0
assert m["status"] == "failed" and m["failure_stage"] == "active", m
assert m["data"]["reason_detail"] == "bot_lost", m
assert m["data"]["audio_transcribed_s"] == m["data"]["audio_received_s"] > 1, m["data"]
print("bot_lost after %.2f s" % took)
st, text = call("GET", "/metrics")
metrics = dict(l.rsplit(" ", 1) for l in text.decode().splitlines() if l and l[0] != "#")
assert float(metrics["hark_meeting_audio_seconds_total"]) > 11, metrics
assert float(metrics["hark_meeting_segments_total"]) >= len(ids), metrics
assert float(metrics['hark_bots_failed_total{reason="bot_lost"}']) == 1, metrics
assert float(metrics["hark_bots_started_total"]) == 2, metrics

# --- DELETE /bots stops a running bot; it leaves within 2 s -------------------
st, m = call("POST", "/bots", {"platform": "file", "native_meeting_id": "stopped",
             "source_url": "file://" + SRC + "/long.wav"}, key=key)
assert st == 201, (st, m)
wait_status(key, "file", "stopped", ("active",), 30)
st, body = call("DELETE", "/bots/file/stopped", key=key,
                template="/bots/{platform}/{native_meeting_id}")
assert st == 200, (st, body)
m = wait_status(key, "file", "stopped", ("completed", "failed"), 15)
assert m["status"] == "completed" and m["data"]["reason_detail"] == "stopped_by_user", m
time.sleep(2.5)
left = subprocess.run(["pgrep", "-f", "hark bot .*--meeting %d " % m["id"]],
                      capture_output=True, text=True).stdout.split()
assert not left, ("bot still running", left)

# --- a bot still running when hark stops -----------------------------------
st, m = call("POST", "/bots", {"platform": "file", "native_meeting_id": "shutdown",
             "source_url": "file://" + SRC + "/long.wav"}, key=key)
assert st == 201, (st, m)
wait_status(key, "file", "shutdown", ("active",), 30)
time.sleep(1.5)  # some audio on its way
open(os.environ["TMPDIR"] + "/key", "w").write(key)
PY
stop_hark
pgrep -f "hark bot .*--link 127.0.0.1:$PORT " && fail "a bot outlived hark serve"
start_hark --model "$MODEL" --vad-model "$VAD" --asr-decoders 1 --asr-threads 1 \
    --file-source-dir "$SRC"
/usr/bin/python3 - <<'PY' || fail "the meeting of a bot running at shutdown did not end right"
import os
from meetings import *
key = open(os.environ["TMPDIR"] + "/key").read()
m = meeting(key, "file", "shutdown")
assert m["status"] == "failed" and m["failure_stage"] == "active", m
assert m["data"]["reason_detail"] == "server_shutdown", m
assert m["data"]["audio_transcribed_s"] == m["data"]["audio_received_s"], m["data"]
PY
stop_hark
