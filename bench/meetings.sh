#!/usr/bin/env bash
# Meeting benchmarks (issue 5): end-to-end latency over /ws/audio -> /ws with
# 1 and 8 concurrent stream meetings, and bot spawn time (POST /bots ->
# active). Prints `name value unit` lines (bench/meetings.py says how each
# figure is taken).
#
#   bench/meetings.sh PATH_TO_HARK
#
# Model: random-weight tiny.en of real shape (build/models/bench-tiny.en.bin,
# `make bench` generates it), 2 decoders x 1 thread, Silero VAD.
set -euo pipefail
hark=${1:?usage: bench/meetings.sh PATH_TO_HARK}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED:-$(cd "$root/../shared" && pwd)}
model=${BENCH_MODEL:-$root/build/models/bench-tiny.en.bin}
[ -f "$model" ] || { echo "meetings.sh: $model missing (make bench generates it)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/hark-meetings-bench-XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/src" "$tmp/data"
cp "$shared/data/jfk.wav" "$tmp/src/"
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HARK_ADMIN_API_KEY=bench-admin-key-0123456789
"$hark" serve --listen "127.0.0.1:$port" --data "$tmp/data" --model "$model" \
    --vad-model "$shared/data/for-tests-silero-v6.2.0-ggml.bin" --asr-decoders 2 \
    --asr-threads 1 --max-streams 12 --file-source-dir "$tmp/src" --log-level warn \
    >"$tmp/hark.log" 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.1
done
admin=(-s -H "X-Admin-API-Key: $HARK_ADMIN_API_KEY" -H 'Content-Type: application/json')
uid=$(curl "${admin[@]}" -d '{"email":"bench@example.com","max_concurrent_bots":20}' \
      "http://127.0.0.1:$port/admin/users" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
key=$(curl "${admin[@]}" -X POST "http://127.0.0.1:$port/admin/users/$uid/tokens" |
      /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
/usr/bin/python3 "$here/meetings.py" "$port" "$key" "$shared/data/jfk.wav" "$tmp/src"
