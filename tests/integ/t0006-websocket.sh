#!/usr/bin/env bash
# /ws with a real WebSocket client (python3-websocket): in-band auth as Vexa
# (missing/invalid key → error frame + close 4401), key by header or
# ?api_key=, ping/pong, invalid_json, unknown_action, subscribe validation,
# subscribe acknowledging only the caller's meetings, fragmented messages,
# and replies that validate against Vexa's ws.v1 schema.
. "$(dirname "$0")/lib.sh"
start_hark
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
http POST /admin/users "${ADMIN[@]}" -d '{"email":"ws@example.com"}'
expect_status 201
uid=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$BODY")
http POST "/admin/users/$uid/tokens" "${ADMIN[@]}"
expect_status 201
TOKEN=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$BODY")

python3 - "$PORT" "$TOKEN" "$HARK_SHARED/reference/vexa-contract/ws.v1/ws.schema.json" <<'PY' || fail "websocket scenario failed"
import json, sys
import websocket
from websocket import ABNF

port, token, schema_path = sys.argv[1], sys.argv[2], sys.argv[3]
url = f"ws://127.0.0.1:{port}/ws"
import jsonschema
schema = json.load(open(schema_path))
def check(msg, kind):
    jsonschema.validate(msg, {"$ref": f"#/$defs/{kind}", "$defs": schema["$defs"]})

def expect(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)

def recv_json(ws):
    op, data = ws.recv_data()
    expect(op == ABNF.OPCODE_TEXT, f"expected a text frame, got opcode {op}")
    return json.loads(data)

def close_code(ws):
    op, data = ws.recv_data(control_frame=True)
    while op not in (ABNF.OPCODE_CLOSE,):
        op, data = ws.recv_data(control_frame=True)
    return int.from_bytes(data[:2], "big")

# no key → missing_api_key, close 4401
ws = websocket.create_connection(url, timeout=10)
m = recv_json(ws)
expect(m == {"type": "error", "error": "missing_api_key"}, f"missing key reply {m}")
check(m, "Error")
expect(close_code(ws) == 4401, "missing key must close with 4401")
ws.close()

# bad key → invalid_api_key, close 4401 (vexa-api.md §4; not in ws.v1's enum)
ws = websocket.create_connection(url, timeout=10, header=["X-API-Key: hk_nope"])
m = recv_json(ws)
expect(m == {"type": "error", "error": "invalid_api_key"}, f"bad key reply {m}")
expect(close_code(ws) == 4401, "invalid key must close with 4401")
ws.close()

for ws in (websocket.create_connection(url, timeout=10, header=[f"X-API-Key: {token}"]),
           websocket.create_connection(url + f"?api_key={token}", timeout=10)):
    ws.send(json.dumps({"action": "ping"}))
    expect(recv_json(ws) == {"type": "pong"}, "ping → pong")
    ws.send("{not json")
    m = recv_json(ws)
    expect(m == {"type": "error", "error": "invalid_json"}, f"invalid json reply {m}")
    check(m, "Error")
    ws.send(json.dumps({"action": "dance"}))
    m = recv_json(ws)
    expect(m == {"type": "error", "error": "unknown_action"}, f"unknown action reply {m}")
    check(m, "Error")
    ws.send(json.dumps({"action": "subscribe", "meetings": []}))
    m = recv_json(ws)
    expect(m["type"] == "error" and m["error"] == "invalid_subscribe_payload", f"{m}")
    check(m, "Error")
    ws.send(json.dumps({"action": "subscribe", "meetings": [{"platform": "google_meet"}]}))
    m = recv_json(ws)
    expect(m["error"] == "invalid_subscribe_payload" and m["details"], f"{m}")
    sub = {"action": "subscribe", "meetings": [{"platform": "google_meet", "native_id": "abc-defg-hij"}]}
    check(sub, "SubscribeRequest")
    ws.send(json.dumps(sub))
    m = recv_json(ws)
    expect(m == {"type": "subscribed", "meetings": []}, f"someone else's meeting must not be acked: {m}")
    check(m, "Subscribed")
    ws.send(json.dumps({"action": "unsubscribe", "meetings": []}))
    m = recv_json(ws)
    expect(m == {"type": "unsubscribed", "meetings": []}, f"{m}")
    check(m, "Unsubscribed")
    # a fragmented text message is reassembled
    ws.send_frame(ABNF.create_frame('{"action"', ABNF.OPCODE_TEXT, fin=0))
    ws.send_frame(ABNF.create_frame(':"ping"}', ABNF.OPCODE_CONT, fin=1))
    expect(recv_json(ws) == {"type": "pong"}, "fragmented ping → pong")
    # a binary frame is not a control message
    ws.send_binary(b"\x00\x01")
    expect(recv_json(ws)["error"] == "invalid_json", "binary → invalid_json")
    ws.close()
print("websocket ok")
PY
http GET /healthz
expect_status 200
stop_hark
