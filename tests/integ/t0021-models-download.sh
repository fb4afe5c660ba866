#!/usr/bin/env bash
# `hark models download` installs a model only when its SHA-256 matches (the
# pinned --sha256 or the catalog's), and a refused, failed, cut-off or
# interrupted download leaves no file behind. Served from 127.0.0.1 by
# python3 -m http.server (plain http is allowed to loopback only).
. "$(dirname "$0")/lib.sh"

SRV=$TMPDIR/srv
mkdir -p "$SRV"
head -c 3000000 /dev/urandom >"$SRV/ggml-tiny.en.bin"
cp "$SRV/ggml-tiny.en.bin" "$SRV/ggml-truncated.bin"
cp "$SRV/ggml-tiny.en.bin" "$SRV/ggml-stall.bin"
DIGEST=$(sha256sum "$SRV/ggml-tiny.en.bin" | cut -d' ' -f1)
OTHER=$(printf x | sha256sum | cut -d' ' -f1)
CATALOG_TINY_EN=921e4cf8686fdd993dcd081a5da5b6c365bfde1162e72b08d75ac75289920b1f

# wait_http PORT: until something answers on 127.0.0.1:PORT
wait_http() {
    local i
    for ((i = 0; i < 100; i++)); do
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    fail "no HTTP server on port $1"
}

P1=$(free_port)
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$SRV" "$P1" >"$TMPDIR/http.log" 2>&1 &
on_exit "stop_bg $!"
wait_http "$P1"

# A server that cuts ggml-truncated.bin short and stalls in ggml-stall.bin.
P2=$(free_port)
cat >"$TMPDIR/bad_server.py" <<'EOF'
import http.server, os, sys, time
root, port = sys.argv[1], int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        path = os.path.join(root, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        if "stall" in self.path:
            time.sleep(30)
        self.close_connection = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
/usr/bin/python3 "$TMPDIR/bad_server.py" "$SRV" "$P2" >"$TMPDIR/bad.log" 2>&1 &
on_exit "stop_bg $!"
wait_http "$P2"

# models ARGS...: runs hark models; RC, OUT and ERR hold the outcome.
models() {
    RC=0
    "$HARK_BIN" models "$@" >"$TMPDIR/out" 2>"$TMPDIR/err" || RC=$?
    OUT=$(cat "$TMPDIR/out")
    ERR=$(cat "$TMPDIR/err")
    cat "$TMPDIR/out" "$TMPDIR/err" >>"$HARK_LOG"
}
# empty DIR: fails unless DIR holds nothing (no model, no temporary file)
empty() {
    [ -z "$(ls -A "$1" 2>/dev/null)" ] || fail "$1 is not empty: $(ls -A "$1")"
}

# a pinned digest that matches: installed, byte for byte
models download tiny.en --base-url "http://127.0.0.1:$P1" --sha256 "$DIGEST" --dir "$TMPDIR/m"
[ "$RC" = 0 ] || fail "download: exit $RC: $ERR"
cmp -s "$SRV/ggml-tiny.en.bin" "$TMPDIR/m/ggml-tiny.en.bin" || fail "installed file differs"
grep -q "installed $TMPDIR/m/ggml-tiny.en.bin" <<<"$OUT" || fail "download said: $OUT"
grep -q "sha256 $DIGEST" <<<"$OUT" || fail "no sha256 line: $OUT"
[ "$(ls -A "$TMPDIR/m")" = ggml-tiny.en.bin ] || fail "left behind: $(ls -A "$TMPDIR/m")"
[ "$(stat -c %a "$TMPDIR/m/ggml-tiny.en.bin")" = 644 ] || fail "mode of the model"

# again: recognised by its digest, nothing fetched
models download tiny.en --base-url "http://127.0.0.1:$P1" --sha256 "$DIGEST" --dir "$TMPDIR/m"
[ "$RC" = 0 ] || fail "second download: exit $RC: $ERR"
grep -q "already installed" <<<"$OUT" || fail "second download said: $OUT"
[ "$(grep -c 'ggml-tiny.en.bin' "$TMPDIR/http.log")" = 1 ] || fail "fetched twice"

models list --dir "$TMPDIR/m"
grep -Eq '^tiny\.en +74\.1 MiB  installed$' <<<"$OUT" || fail "list: $OUT"
grep -Eq '^large-v3-turbo-q8_0 ' <<<"$OUT" || fail "list lacks large-v3-turbo-q8_0: $OUT"
[ "$(grep -c installed <<<"$OUT")" = 1 ] || fail "list: $OUT"

# a pinned digest that does not match: refused, nothing left
models download tiny.en --base-url "http://127.0.0.1:$P1" --sha256 "$OTHER" --dir "$TMPDIR/m2"
[ "$RC" = 1 ] || fail "wrong --sha256: exit $RC"
grep -q "sha256 mismatch" <<<"$ERR" || fail "wrong --sha256 said: $ERR"
empty "$TMPDIR/m2"

# no pin: the catalog's digest for tiny.en applies, and this file is not it
models download tiny.en --base-url "http://127.0.0.1:$P1" --dir "$TMPDIR/m3"
[ "$RC" = 1 ] || fail "catalog digest: exit $RC"
grep -q "expected $CATALOG_TINY_EN, got $DIGEST" <<<"$ERR" || fail "catalog digest said: $ERR"
empty "$TMPDIR/m3"

# the default directory is the data dir's models/
models download tiny.en --data "$TMPDIR/data" --base-url "http://127.0.0.1:$P1" \
    --sha256 "${DIGEST^^}"
[ "$RC" = 0 ] || fail "download into the data dir: exit $RC: $ERR"
cmp -s "$SRV/ggml-tiny.en.bin" "$TMPDIR/data/models/ggml-tiny.en.bin" || fail "data dir copy"

# a different file in the way is kept, not replaced
mkdir -p "$TMPDIR/m4"
echo mine >"$TMPDIR/m4/ggml-tiny.en.bin"
models download tiny.en --base-url "http://127.0.0.1:$P1" --sha256 "$DIGEST" --dir "$TMPDIR/m4"
[ "$RC" = 1 ] || fail "file in the way: exit $RC"
grep -q "remove it to download again" <<<"$ERR" || fail "file in the way said: $ERR"
[ "$(cat "$TMPDIR/m4/ggml-tiny.en.bin")" = mine ] || fail "file in the way was replaced"

# 404: a clear error, nothing left
models download base --base-url "http://127.0.0.1:$P1" --dir "$TMPDIR/m5"
[ "$RC" = 1 ] || fail "404: exit $RC"
grep -q "no such model file at http://127.0.0.1:$P1/ggml-base.bin (HTTP 404)" <<<"$ERR" ||
    fail "404 said: $ERR"
empty "$TMPDIR/m5"

# the connection drops halfway: no partial file
models download truncated --base-url "http://127.0.0.1:$P2" --sha256 "$DIGEST" --dir "$TMPDIR/m6"
[ "$RC" = 1 ] || fail "truncated: exit $RC"
grep -q "failed after 1500000 bytes" <<<"$ERR" || fail "truncated said: $ERR"
empty "$TMPDIR/m6"

# Ctrl-C while the server stalls: exit 130, no partial file
"$HARK_BIN" models download stall --base-url "http://127.0.0.1:$P2" --sha256 "$DIGEST" \
    --dir "$TMPDIR/m7" >"$TMPDIR/out" 2>"$TMPDIR/err" &
pid=$!
on_exit "stop_bg $pid"
for ((i = 0; i < 100; i++)); do
    [ -n "$(ls -A "$TMPDIR/m7" 2>/dev/null)" ] && break
    sleep 0.1
done
sleep 0.5
kill -INT "$pid"
RC=0
wait "$pid" || RC=$?
cat "$TMPDIR/out" "$TMPDIR/err" >>"$HARK_LOG"
[ "$RC" = 130 ] || fail "interrupted: exit $RC: $(cat "$TMPDIR/err")"
grep -q "interrupted; nothing was installed" "$TMPDIR/err" || fail "interrupted said: $(cat "$TMPDIR/err")"
empty "$TMPDIR/m7"

# plain http anywhere but loopback, unknown names, bad digests: usage errors
# before any connection is made
for url in http://example.com http://127.0.0.1:80@example.com ftp://127.0.0.1/m; do
    models download tiny.en --base-url "$url" --dir "$TMPDIR/m8"
    [ "$RC" = 2 ] || fail "--base-url $url: exit $RC"
done
models download tiny.en --base-url http://example.com --dir "$TMPDIR/m8"
grep -q "over https" <<<"$ERR" || fail "http refusal said: $ERR"
models download no-such-model --base-url "http://127.0.0.1:$P1" --dir "$TMPDIR/m8"
[ "$RC" = 2 ] || fail "unknown model: exit $RC"
models download ../etc --sha256 "$DIGEST" --base-url "http://127.0.0.1:$P1" --dir "$TMPDIR/m8"
[ "$RC" = 2 ] || fail "path in the name: exit $RC"
models download tiny.en --sha256 1234 --base-url "http://127.0.0.1:$P1" --dir "$TMPDIR/m8"
[ "$RC" = 2 ] || fail "short --sha256: exit $RC"
models download
[ "$RC" = 2 ] || fail "no name: exit $RC"
empty "$TMPDIR/m8"
