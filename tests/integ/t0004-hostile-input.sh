#!/usr/bin/env bash
# Hostile bytes get a clear error or a closed connection, never a crash or a
# hang: 1 MiB of random bytes, a 100 KB header (431), a body over the limit
# by Content-Length (413 JSON) and chunked (connection cut), a truncated
# chunked body, a lying Content-Length, malformed JSON (422). /healthz keeps
# answering after each.
. "$(dirname "$0")/lib.sh"
start_hark --max-body-bytes 64K --max-header-bytes 8K --idle-timeout 3s
ADMIN=(-H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')

raw() { # raw PYTHON_BYTES_EXPR [close_write]: sends bytes, prints "status|body-start"
    python3 - "$PORT" "$1" "${2:-1}" <<'PY'
import os, socket, sys
port, expr, close_write = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
data = eval(expr, {"os": os})
s = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    s.sendall(data)
except (BrokenPipeError, ConnectionResetError):
    pass
if close_write:
    try: s.shutdown(socket.SHUT_WR)
    except OSError: pass
buf = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        buf += chunk
except (ConnectionResetError, socket.timeout):
    pass
s.close()
line = buf.split(b"\r\n", 1)[0].decode("latin-1")
status = line.split(" ")[1] if line.startswith("HTTP/") else "closed"
body = buf.split(b"\r\n\r\n", 1)[1][:200].decode("latin-1") if b"\r\n\r\n" in buf else ""
print(status + "|" + body)
PY
}
alive() {
    http GET /healthz
    [ "$STATUS" = 200 ] || fail "server stopped answering after: $1"
}

out=$(raw 'os.urandom(1 << 20)')
case "$out" in 400\|*|closed\|*) ;; *) fail "random bytes gave: $out" ;; esac
alive "1 MiB of random bytes"

out=$(raw 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"')
case "$out" in 431\|*) ;; *) fail "100 KB header gave: $out (want 431)" ;; esac
alive "100 KB header"

# Just over the configured limit: Hark's own JSON 431.
out=$(raw 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"')
case "$out" in 431\|*header_too_large*) ;; *) fail "9 KB header over an 8K limit gave: $out" ;; esac
out=$(raw 'b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 7000 + b"\r\n\r\n"')
case "$out" in 200\|*) ;; *) fail "7 KB header under an 8K limit gave: $out" ;; esac
out=$(raw 'b"GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"')
case "$out" in 200\|*) ;; *) fail "absolute-form request line gave: $out" ;; esac

out=$(raw 'b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Many: a\r\n" * 20000 + b"\r\n"')
case "$out" in 431\|*) ;; *) fail "20000 header lines gave: $out (want 431)" ;; esac
alive "20000 header lines"

big=$(head -c 70000 /dev/zero | tr '\0' 'x')
http POST /admin/users "${ADMIN[@]}" --data-binary "{\"email\":\"a@b.c\",\"name\":\"$big\"}"
expect_status 413
expect_json 'j["error"]["code"] == "payload_too_large" and "65536" in j["detail"]'
alive "Content-Length over the limit"

out=$(raw 'b"POST /admin/users HTTP/1.1\r\nHost: x\r\nX-Admin-API-Key: k\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"4000\r\n" + b"a" * 0x4000 + b"\r\n") * 8 + b"0\r\n\r\n"')
case "$out" in closed\|*|413\|*|403\|*) ;; *) fail "chunked body over the limit gave: $out" ;; esac
alive "chunked body over the limit"

out=$(raw "b'POST /admin/users HTTP/1.1\r\nHost: x\r\nX-Admin-API-Key: $HARK_ADMIN_API_KEY\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"email\":\"trunc'")
case "$out" in closed\|*|400\|*) ;; *) fail "truncated chunked body gave: $out" ;; esac
alive "truncated chunked body"
http GET /admin/users/email/trunc "${ADMIN[@]}"
expect_status 404

out=$(raw "b'POST /admin/users HTTP/1.1\r\nHost: x\r\nX-Admin-API-Key: $HARK_ADMIN_API_KEY\r\nContent-Length: 500\r\n\r\n{\"email\":\"short@x.io\"}'")
case "$out" in closed\|*|400\|*) ;; *) fail "short body for Content-Length gave: $out" ;; esac
alive "body shorter than Content-Length"

for body in '{' '[]' '"str"' '12' '{"email":"n@a.io","data":{"x":NaN}}' "$(printf '{"email":"u@a.io","name":"\xff"}')" '{"email":' 'nul' '{"email":"a@b.c"} trailing' "$(printf '{"email":"a\x01@b.c"}')"; do
    http POST /admin/users "${ADMIN[@]}" --data-binary "$body"
    expect_status 422
    expect_json 'j["error"]["code"] == "validation_error" and isinstance(j["detail"], list)'
done
deep=$(python3 -c "print(\"[\" * 30000 + \"]\" * 30000)")
http POST /admin/users "${ADMIN[@]}" --data-binary "$deep"
expect_status 422
alive "malformed JSON"

out=$(raw 'b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 50')
case "$out" in 200\|*) ;; *) fail "pipelined requests gave: $out" ;; esac
alive "pipelining"
stop_hark
