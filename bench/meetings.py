"""End-to-end meeting benchmarks (issue 5). Prints `name value unit` lines.

  python3 bench/meetings.py PORT API_KEY JFK_WAV SRC_DIR

Against a running `hark serve` (bench/meetings.sh starts one):
  1. e2e latency with N = 1 and 8 concurrent `stream` meetings: each client
     creates its meeting (POST /bots), subscribes on /ws, then pushes "jfk
     with pauses" (jfk.wav + 2 s of silence, 3 times) over /ws/audio in
     real time, 100 ms per message. For every segment, latency = wall time
     its transcription_segment arrived on /ws - wall time the audio of its
     end was sent, taken at the first message with completed = true.
  2. spawn: POST /bots (file, jfk.wav, real time) -> the meeting's status
     is "active" (polled every 5 ms), p50 over 10 bots, each stopped.
"""
import array, json, os, statistics, sys, threading, time, urllib.request, wave
import websocket

PORT, KEY, JFK, SRC = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
BASE = "http://127.0.0.1:%s" % PORT
CHUNK = 1600


def call(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("X-API-Key", KEY)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def audio():
    with wave.open(JFK, "rb") as w:
        pcm = array.array("h", w.readframes(w.getnframes()))
    one = array.array("f", [x / 32768.0 for x in pcm]) + array.array("f", [0.0]) * 32000
    return one * 3


def drain(ws):
    """Reads (and drops) the WhisperLive segments messages until the close."""
    try:
        while True:
            ws.recv()
    except Exception:
        pass


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float("nan")


class Client(threading.Thread):
    def __init__(self, uid, pcm):
        super().__init__(daemon=True)
        self.uid, self.pcm = uid, pcm
        self.confirmed, self.t0 = {}, None
        st, m = call("POST", "/bots", {"platform": "stream", "native_meeting_id": uid})
        assert st == 201, (st, m)
        self.live = websocket.create_connection("ws://127.0.0.1:%s/ws" % PORT,
                                                header=["X-API-Key: " + KEY], timeout=300)
        self.live.send(json.dumps({"action": "subscribe",
                                   "meetings": [{"platform": "stream", "native_id": uid}]}))
        assert json.loads(self.live.recv())["type"] == "subscribed"
        threading.Thread(target=self.read_live, daemon=True).start()

    def read_live(self):
        try:
            while True:
                m = json.loads(self.live.recv())
                now = time.time()
                if m.get("type") != "transcription_segment":
                    continue
                if m["completed"]:
                    self.confirmed.setdefault(m["segment_id"], (now, float(m["end_time"])))
        except Exception:
            pass

    def run(self):
        ws = websocket.create_connection("ws://127.0.0.1:%s/ws/audio" % PORT,
                                         header=["X-API-Key: " + KEY], timeout=300)
        ws.send(json.dumps({"uid": self.uid, "language": "en", "task": "transcribe"}))
        assert json.loads(ws.recv())["message"] == "SERVER_READY"
        threading.Thread(target=drain, args=(ws,), daemon=True).start()
        self.t0 = time.time()
        for i in range(0, len(self.pcm), CHUNK):
            due = self.t0 + i / 16000.0
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            ws.send_binary(self.pcm[i:i + CHUNK].tobytes())
        ws.send_binary(b"END_OF_AUDIO")
        deadline = time.time() + 60
        while time.time() < deadline:
            st, m = call("GET", "/meetings?platform=stream")
            if any(x["native_meeting_id"] == self.uid and x["status"] in ("completed", "failed")
                   for x in m["meetings"]):
                break
            time.sleep(0.2)
        time.sleep(0.5)
        self.live.close()

    def latencies(self, table):
        # the audio of time t (from the first sample) was sent at t0 + t
        return [now - (self.t0 + end) for now, end in table.values()]


def e2e(n, pcm, tag):
    clients = [Client("bench-%s-%d-%d" % (tag, n, i), pcm) for i in range(n)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    conf = [x for c in clients for x in c.latencies(c.confirmed)]
    print("e2e_%dstreams_confirmed_p50 %.3f s" % (n, pct(conf, 50)))
    print("e2e_%dstreams_confirmed_p95 %.3f s" % (n, pct(conf, 95)))
    print("e2e_%dstreams_segments %d count" % (n, len(conf)))
    sys.stdout.flush()


def spawn(runs):
    times = []
    for i in range(runs):
        native = "spawn-%d-%d" % (os.getpid(), i)
        t0 = time.time()
        st, m = call("POST", "/bots", {"platform": "file", "native_meeting_id": native,
                     "source_url": "file://" + os.path.join(SRC, "jfk.wav"), "realtime": True})
        assert st == 201, (st, m)
        while True:
            st, b = call("GET", "/bots/status")
            mine = [x for x in b["running_bots"] if x.get("native_meeting_id") == native]
            if mine and mine[0].get("status") == "active":
                break
            if time.time() - t0 > 30:
                raise SystemExit("bot %s never became active" % native)
            time.sleep(0.005)
        times.append(time.time() - t0)
        call("DELETE", "/bots/file/" + native)
        time.sleep(0.5)
    print("spawn_to_active_p50 %.3f s" % pct(times, 50))
    print("spawn_to_active_max %.3f s" % max(times))


pcm = audio()
parts = os.environ.get("BENCH_PARTS", "spawn e2e1 e2e8").split()
if "spawn" in parts:
    spawn(10)
for n in (1, 8):
    if "e2e%d" % n in parts:
        e2e(n, pcm, str(os.getpid()))
