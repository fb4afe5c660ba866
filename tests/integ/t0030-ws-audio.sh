#!/usr/bin/env bash
# /ws/audio speaks WhisperLive's push protocol: SERVER_READY first, then
# {uid, segments:[{start, end, text, completed}]} with times as 3-decimal
# strings that never go back and completed segments that never change;
# END_OF_AUDIO flushes and closes normally; audio_format int16 works; a bad
# first message gets status ERROR and a close; no or a bad key is 401; a
# full streamer answers WAIT; the no-key listener (--whisperlive-listen)
# serves whisperlive_user with the speaker extension; stopping hark sends
# DISCONNECT to live streams.
. "$(dirname "$0")/lib.sh"
MODEL=${HARK_TEST_MODEL:-$HARK_ROOT/build/models/test.en.bin}
VAD=$HARK_SHARED/data/for-tests-silero-v6.2.0-ggml.bin
JFK=$HARK_SHARED/data/jfk.wav
[ -f "$MODEL" ] || fail "test model $MODEL missing (make all generates it)"
WLPORT=$(free_port)
start_hark --model "$MODEL" --vad-model "$VAD" --asr-decoders 1 --asr-threads 1 \
    --max-streams 2 --whisperlive-listen "127.0.0.1:$WLPORT" \
    --whisperlive-user wl@example.com
grep -q 'whisperlive_user not found yet' "$HARK_LOG" || fail "no warning for a missing user"

ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
http POST /admin/users "${ADMIN[@]}" -d '{"email":"wl@example.com","max_concurrent_bots":20}'
expect_status 201
http POST /admin/users/1/tokens "${ADMIN[@]}"
expect_status 201
TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")
http POST '/admin/users/1/tokens?scope=tx' "${ADMIN[@]}"
expect_status 201
TX_TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")

cat > "$TMPDIR/wl.py" <<'PY'
import array, json, re, sys, threading, time, uuid, wave
import websocket

TIME = re.compile(r"^\d+\.\d{3}$")

def jfk(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return array.array("h", w.readframes(w.getnframes()))

def f32(samples):
    return array.array("f", [x / 32768.0 for x in samples]).tobytes()

def connect(url, headers=None):
    return websocket.create_connection(url, header=headers or [], timeout=60)

def recv(ws):
    """(opcode, payload) of the next message; a close gives (8, code)."""
    op, data = ws.recv_data(control_frame=False)
    if op == websocket.ABNF.OPCODE_CLOSE:
        return op, int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    return op, data.decode() if op == websocket.ABNF.OPCODE_TEXT else data

def expect_ready(ws, uid):
    op, msg = recv(ws)
    assert op == websocket.ABNF.OPCODE_TEXT, (op, msg)
    m = json.loads(msg)
    assert m == {"uid": uid, "message": "SERVER_READY", "backend": "faster_whisper"}, m

def check_segments(msgs, uid, speaker=None):
    """Every segments message well-formed; times never go back; a completed
    segment never changes once sent."""
    assert msgs, "no segments message"
    done = {}
    prev_start = -1.0
    for m in msgs:
        assert set(m) == {"uid", "segments"} and m["uid"] == uid, m
        segs = m["segments"]
        assert segs, m
        for i, s in enumerate(segs):
            keys = {"start", "end", "text", "completed"} | ({"speaker"} if speaker else set())
            assert set(s) == keys, s
            assert TIME.match(s["start"]) and TIME.match(s["end"]), s
            assert float(s["start"]) <= float(s["end"]), s
            assert isinstance(s["text"], str) and isinstance(s["completed"], bool), s
            if speaker:
                assert s["speaker"] == speaker, s
            if not s["completed"]:
                assert i == len(segs) - 1, ("incomplete segment not last", m)
            elif s["start"] in done:
                assert done[s["start"]] == s, ("completed segment changed", done[s["start"]], s)
            else:
                assert float(s["start"]) >= prev_start, ("time went back", s)
                prev_start = float(s["start"])
                done[s["start"]] = s
        starts = [float(s["start"]) for s in segs]
        assert starts == sorted(starts), ("segments out of order", m)
    return done

def push(url, headers=None, fmt="float32", speaker=None, pace=4.0):
    uid = str(uuid.uuid4())
    ws = connect(url, headers)
    opts = {"uid": uid, "language": "en", "task": "transcribe", "model": "small",
            "use_vad": True, "send_last_n_segments": 10}
    if fmt != "float32":
        opts["audio_format"] = fmt
    if speaker:
        opts["speaker"] = speaker
    ws.send(json.dumps(opts))
    expect_ready(ws, uid)
    msgs, closed = [], []
    def reader():
        while True:
            op, msg = recv(ws)
            if op == websocket.ABNF.OPCODE_CLOSE:
                closed.append(msg)
                return
            assert op == websocket.ABNF.OPCODE_TEXT, (op, msg)
            msgs.append(json.loads(msg))
    t = threading.Thread(target=reader)
    t.start()
    pcm = jfk(sys.argv[2])
    chunk = 4096
    for off in range(0, len(pcm), chunk):
        part = pcm[off:off + chunk]
        data = f32(part) if fmt == "float32" else part.tobytes()
        ws.send_binary(data)
        time.sleep(chunk / 16000.0 / pace)
    ws.send_binary(b"END_OF_AUDIO")
    t.join(60)
    assert not t.is_alive(), "no close after END_OF_AUDIO"
    assert closed == [1000], closed
    done = check_segments(msgs, uid, speaker)
    assert done, "no completed segment"
    last = msgs[-1]["segments"]
    assert last[-1]["completed"], ("an incomplete segment is left after the end", last)
    return msgs

def bad_first(url, headers, first, want_uid, want):
    ws = connect(url, headers)
    ws.send(first)
    op, msg = recv(ws)
    m = json.loads(msg)
    assert m["uid"] == want_uid and m["status"] == "ERROR" and want in m["message"], m
    op, code = recv(ws)
    assert op == websocket.ABNF.OPCODE_CLOSE and code == 1008, (op, code)

def rejected(url, headers, status):
    try:
        connect(url, headers)
    except websocket.WebSocketBadStatusException as e:
        assert e.status_code == status, e
        return
    raise AssertionError("connected without a valid key")

def main():
    mode, port, wlport, token, tx = sys.argv[1], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
    api = "ws://127.0.0.1:%s/ws/audio" % port
    root = "ws://127.0.0.1:%s" % wlport
    key = ["X-API-Key: " + token]
    if mode == "api":
        push(api, key)
        push(api + "?api_key=" + token, None, fmt="int16")
        bad_first(api, key, "not json", "", "JSON object")
        bad_first(api, key, json.dumps({"uid": "u-bad", "task": "dance"}), "u-bad", "task")
        bad_first(api, key, json.dumps({"uid": "u-fmt", "audio_format": "mp3"}), "u-fmt",
                  "audio_format")
        rejected(api, None, 401)
        rejected(api, ["X-API-Key: nope"], 401)
        rejected(api, ["X-API-Key: " + tx], 403)
        # A binary message that is not whole samples: ERROR, then a close.
        ws = connect(api, key)
        ws.send(json.dumps({"uid": "u-odd"}))
        expect_ready(ws, "u-odd")
        ws.send_binary(b"\0\0\0\0\0")
        op, msg = recv(ws)
        m = json.loads(msg)
        assert m["status"] == "ERROR" and "whole number of samples" in m["message"], m
        op, code = recv(ws)
        assert op == websocket.ABNF.OPCODE_CLOSE and code == 1003, (op, code)
    elif mode == "full":
        # Two streams hold both slots; a third is told to WAIT, then closed.
        # A stream closed by the earlier cases frees its slot only when its
        # last decode ends: while that drains, a new stream is told to WAIT.
        held = []
        for i in range(2):
            for _ in range(100):
                ws = connect(api, key)
                ws.send(json.dumps({"uid": "hold-%d" % i}))
                op, msg = recv(ws)
                m = json.loads(msg)
                if m.get("status") != "WAIT":
                    break
                ws.close()
                time.sleep(0.2)
            assert m == {"uid": "hold-%d" % i, "message": "SERVER_READY",
                         "backend": "faster_whisper"}, m
            held.append(ws)
        ws = connect(root)
        ws.send(json.dumps({"uid": "third"}))
        op, msg = recv(ws)
        m = json.loads(msg)
        assert m["uid"] == "third" and m["status"] == "WAIT", m
        assert isinstance(m["message"], float) and m["message"] > 0, m
        op, code = recv(ws)
        assert op == websocket.ABNF.OPCODE_CLOSE, (op, code)
        for h in held:
            h.send_binary(b"END_OF_AUDIO")
            while recv(h)[0] != websocket.ABNF.OPCODE_CLOSE:
                pass
    elif mode == "listener":
        msgs = push(root, None, speaker="Alice")
        # The speaker extension per message: later audio is Bob's.
        uid = "turns"
        ws = connect(root)
        ws.send(json.dumps({"uid": uid, "speaker": "Alice"}))
        expect_ready(ws, uid)
        pcm = jfk(sys.argv[2])
        half = len(pcm) // 2
        ws.send_binary(f32(pcm[:half]))
        ws.send(json.dumps({"speaker": "Bob"}))
        ws.send_binary(f32(pcm[half:]))
        ws.send("END_OF_AUDIO")
        msgs = []
        while True:
            op, msg = recv(ws)
            if op == websocket.ABNF.OPCODE_CLOSE:
                break
            msgs.append(json.loads(msg))
        speakers = {s.get("speaker") for m in msgs for s in m["segments"]}
        assert speakers <= {"Alice", "Bob"} and "Alice" in speakers, speakers
    elif mode == "hold":
        ws = connect(root)
        ws.send(json.dumps({"uid": "held"}))
        expect_ready(ws, "held")
        open(sys.argv[7], "w").close()
        while True:
            op, msg = recv(ws)
            if op == websocket.ABNF.OPCODE_CLOSE:
                assert msg == 1001, msg
                break
            m = json.loads(msg)
            if m.get("message") == "DISCONNECT":
                assert m == {"uid": "held", "message": "DISCONNECT"}, m
                open(sys.argv[7] + ".disconnect", "w").close()
        assert __import__("os").path.exists(sys.argv[7] + ".disconnect"), "no DISCONNECT"

main()
PY
wl() { python3 "$TMPDIR/wl.py" "$1" "$JFK" "$PORT" "$WLPORT" "$TOKEN" "$TX_TOKEN" "${2:-}"; }
wl api || fail "/ws/audio scenarios"
wl full || fail "WAIT when the streamer is full"
wl listener || fail "the whisperlive_listen listener"

# A second user cannot be reached through the listener: it is only ever
# whisperlive_user's. An unknown user makes the listener answer 503.
grep -q 'msg="stream open".*user_id=1 uid="turns"' "$HARK_LOG" || fail "listener stream not owned by user 1"
# Its meeting is stored with the same speaker turns.
http GET /transcripts/stream/turns -H "X-API-Key: $TOKEN"
expect_status 200
expect_json '{s["speaker"] for s in j["segments"]} <= {"Alice", "Bob"} and "Alice" in {s["speaker"] for s in j["segments"]} and all(s["segment_id"].split(":")[1] == s["speaker"] for s in j["segments"])'
expect_json 'j["status"] == "completed"'

# Stopping hark: a live stream hears DISCONNECT, then a 1001 close.
wl hold "$TMPDIR/held" &
HOLD=$!
on_exit "stop_bg $HOLD"
for ((i = 0; i < 100; i++)); do
    [ -e "$TMPDIR/held" ] && break
    sleep 0.1
done
[ -e "$TMPDIR/held" ] || fail "held stream did not start"
stop_hark
wait "$HOLD" || fail "no DISCONNECT on shutdown"

# The listener's user is checked per connection: a missing one is 503.
start_hark --model "$MODEL" --whisperlive-listen "127.0.0.1:$WLPORT" \
    --whisperlive-user nobody@example.com
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Connection: Upgrade' \
    -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "http://127.0.0.1:$WLPORT/") || true
[ "$code" = 503 ] || fail "listener with an unknown user answered $code, not 503"
stop_hark
echo "ok"
