"""Helpers for the meeting scenarios (t0037, t0038): the API over HTTP, a
/ws subscriber, a signed-webhook receiver. Only 127.0.0.1."""
import hashlib, hmac, http.server, json, os, threading, time, urllib.request, urllib.error
import websocket

import contract

API_DOC, WS_DOC = contract.load(), contract.ws_load()

BASE = "http://127.0.0.1:%s" % os.environ["PORT"]
ADMIN = os.environ["HARK_ADMIN_API_KEY"]


def call(method, path, body=None, key=None, admin=False, template=None):
    """(status, parsed JSON or raw bytes) of one request. With template (the
    contract's path), a JSON answer must validate against Vexa's contract."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("X-API-Key", key)
    if admin:
        req.add_header("X-Admin-API-Key", ADMIN)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw, status, ctype = r.read(), r.status, r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        raw, status, ctype = e.read(), e.code, e.headers.get("Content-Type", "")
    body = json.loads(raw) if "json" in ctype and raw else raw
    if template:
        contract.validate(API_DOC, method, template, status, body)
    return status, body


def new_user(email):
    """(user id, API key) of a new user."""
    st, u = call("POST", "/admin/users", {"email": email}, admin=True)
    assert st == 201, (st, u)
    st, t = call("POST", "/admin/users/%d/tokens" % u["id"], admin=True)
    assert st == 201, (st, t)
    return u["id"], t["token"]


def meeting(key, platform, native):
    st, body = call("GET", "/meetings?platform=%s" % platform, key=key, template="/meetings")
    assert st == 200, (st, body)
    for m in body["meetings"]:
        if m["native_meeting_id"] == native:
            return m
    raise AssertionError("no meeting %s/%s" % (platform, native))


def wait_status(key, platform, native, statuses, timeout):
    """The meeting once its status is in statuses; fails after timeout s."""
    end = time.time() + timeout
    while True:
        m = meeting(key, platform, native)
        if m["status"] in statuses:
            return m
        assert time.time() < end, "status still %s after %ss: %s" % (m["status"], timeout, m)
        time.sleep(0.1)


def check_transcript(segments):
    """Ordered by start, non-overlapping, ids unique; returns the ids."""
    ids = [s["segment_id"] for s in segments]
    assert len(ids) == len(set(ids)), ("duplicate ids", ids)
    for a, b in zip(segments, segments[1:]):
        assert a["start"] <= b["start"], ("not ordered", a, b)
        assert a["end"] <= b["start"] + 1e-3, ("overlap", a, b)
    for s in segments:
        assert s["start"] <= s["end"], s
    return ids


class Subscriber(threading.Thread):
    """A /ws client subscribed to meetings, keeping every message."""

    def __init__(self, key, meetings, last_event_id=None):
        super().__init__(daemon=True)
        self.ws = websocket.create_connection(BASE.replace("http", "ws") + "/ws",
                                              header=["X-API-Key: " + key], timeout=120)
        sub = {"action": "subscribe", "meetings": meetings}
        if last_event_id is not None:
            sub["last_event_id"] = last_event_id
        self.ws.send(json.dumps(sub))
        ack = json.loads(self.ws.recv())
        assert ack["type"] == "subscribed" and ack["meetings"], ack
        contract.ws_validate(WS_DOC, ack)
        self.messages = []
        self.start()

    def run(self):
        try:
            while True:
                m = json.loads(self.ws.recv())
                contract.ws_validate(WS_DOC, m)  # a bad one ends the list early
                self.messages.append(m)
        except Exception:
            pass

    def close(self):
        self.ws.close()


class Receiver:
    """A webhook endpoint that checks Vexa's signature on every delivery."""

    def __init__(self, secret):
        self.events, secret_b = [], secret.encode()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ts = self.headers.get("X-Webhook-Timestamp", "")
                mac = hmac.new(secret_b, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                env = json.loads(body)
                env["_signature_ok"] = hmac.compare_digest(
                    self.headers.get("X-Webhook-Signature", ""), "sha256=" + mac)
                outer.events.append(env)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_type(self, t):
        return [e for e in self.events if e["event_type"] == t]
