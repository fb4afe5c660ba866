#!/usr/bin/env bash
# The two live sources of issue 5, acceptance 2. stream: a client pushes
# jfk.wav over /ws/audio with the WhisperLive protocol, gets segments back,
# and the stream meeting it created completes (source_ended) with the same
# transcript stored. rtmp: POST /bots gives an ingest URL; the bot waits in
# awaiting_admission, refuses a publisher with a wrong key, and `ffmpeg -re
# -i jfk.wav -c:a aac -ar 44100 -f flv URL` ends in a
# transcript (completed, source_ended).
. "$(dirname "$0")/lib.sh"
MODEL=${HARK_TEST_MODEL:-$HARK_ROOT/build/models/test.en.bin}
VAD=$HARK_SHARED/data/for-tests-silero-v6.2.0-ggml.bin
[ -f "$MODEL" ] || fail "test model $MODEL missing (make all generates it)"
[ -x /usr/bin/ffmpeg ] || fail "ffmpeg missing: tools/bootstrap.sh installs it"
RTMP_PORT=$(free_port)
start_hark --model "$MODEL" --vad-model "$VAD" --asr-decoders 1 --asr-threads 1 \
    --rtmp-port-first "$RTMP_PORT" --rtmp-port-count 1
export PORT HARK_ADMIN_API_KEY JFK=$HARK_SHARED/data/jfk.wav
cd "$HARK_ROOT/tests/integ"
/usr/bin/python3 - <<'PY' || fail "stream and rtmp scenarios failed (see above)"
import array, json, os, re, subprocess, time, wave
import websocket
from meetings import *

uid, key = new_user("live@example.com")
JFK = os.environ["JFK"]

# --- stream: WhisperLive push over /ws/audio ---------------------------------
with wave.open(JFK, "rb") as w:
    pcm = array.array("h", w.readframes(w.getnframes()))
f32 = array.array("f", [x / 32768.0 for x in pcm]).tobytes()
ws = websocket.create_connection(BASE.replace("http", "ws") + "/ws/audio",
                                 header=["X-API-Key: " + key], timeout=60)
ws.send(json.dumps({"uid": "push-1", "language": "en", "task": "transcribe"}))
assert json.loads(ws.recv())["message"] == "SERVER_READY"
for i in range(0, len(f32), 16000):
    ws.send_binary(f32[i:i + 16000])
ws.send_binary(b"END_OF_AUDIO")
completed = {}
while True:
    op, data = ws.recv_data()
    if op == websocket.ABNF.OPCODE_CLOSE:
        break
    for s in json.loads(data).get("segments", []):
        if s["completed"]:
            completed[s["start"]] = s["text"]
assert completed, "no completed segment came back"
m = wait_status(key, "stream", "push-1", ("completed", "failed"), 30)
assert m["status"] == "completed" and m["data"]["reason_detail"] == "source_ended", m
st, tr = call("GET", "/transcripts/stream/push-1", key=key)
assert st == 200, (st, tr)
check_transcript(tr["segments"])
assert len(tr["segments"]) == len(completed), (tr["segments"], completed)

# --- rtmp: an ingest URL, a wrong key refused, then ffmpeg -re ----------------
st, m = call("POST", "/bots", {"platform": "rtmp", "native_meeting_id": "show"}, key=key)
assert st == 201, (st, m)
url = m["constructed_meeting_url"]
assert re.fullmatch(r"rtmp://127\.0\.0\.1:\d+/live/[0-9a-f]{32}", url), url
st, busy = call("POST", "/bots", {"platform": "rtmp", "native_meeting_id": "show-2"}, key=key)
assert st == 503 and busy["error"]["code"] == "rtmp_ports_exhausted", (st, busy)
wait_status(key, "rtmp", "show", ("awaiting_admission",), 30)
# FLV carries AAC or MP3 at 44.1/22.05/11.025 kHz only: a 16 kHz WAV is
# resampled on the way, as any real publisher's audio would be.
ff = ["/usr/bin/ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-i", JFK,
      "-c:a", "aac", "-ar", "44100", "-f", "flv"]
wrong = url.rsplit("/", 1)[0] + "/not-the-key"
subprocess.run(ff + [wrong], capture_output=True, timeout=30)
time.sleep(0.5)
assert meeting(key, "rtmp", "show")["status"] == "awaiting_admission"
done = subprocess.run(ff + [url], capture_output=True, timeout=60)
assert done.returncode == 0, done.stderr
m = wait_status(key, "rtmp", "show", ("completed", "failed"), 60)
assert m["status"] == "completed" and m["data"]["reason_detail"] == "source_ended", m
assert abs(m["data"]["audio_received_s"] - 11.0) < 0.5, m["data"]
st, tr = call("GET", "/transcripts/rtmp/show", key=key)
assert st == 200 and tr["segments"], (st, tr)
check_transcript(tr["segments"])
PY
stop_hark
