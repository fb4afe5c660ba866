#!/usr/bin/env bash
# HTTP benchmarks: wrk -t2 -c100 -d10s against hark serve's GET /healthz and
# an authenticated GET /admin/users, and against bare libmicrohttpd (the
# peer) on the same machine in the same run. Prints `name value unit` lines.
set -euo pipefail
hark=${1:?usage: bench/http.sh PATH_TO_HARK}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/hark-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
duration=${BENCH_DURATION:-10s}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }

run_wrk() { # name url [headers...]
    local name=$1 url=$2; shift 2
    local line
    line=$(wrk -t2 -c100 -d"$duration" -s "$here/wrk-report.lua" "$@" "$url" | grep '^rps=')
    eval "$(tr ' ' '\n' <<<"$line" | sed 's/^/local /')"
    echo "${name}_rps $rps req/s"
    echo "${name}_p50 $p50_ms ms"
    echo "${name}_p95 $p95_ms ms"
    echo "${name}_p99 $p99_ms ms"
    echo "${name}_errors $errors count"
}

key=bench-admin-key-0123456789
hp=$(port)
HARK_ADMIN_API_KEY=$key "$hark" serve --listen "127.0.0.1:$hp" --data "$tmp/data" \
    --access-log false --log-level warn >"$tmp/hark.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$hp/healthz"
for i in $(seq 1 20); do
    curl -s -o /dev/null -X POST -H "X-Admin-API-Key: $key" -d "{\"email\":\"u$i@example.com\"}" \
        "http://127.0.0.1:$hp/admin/users"
done

cc -O2 -Wall -Werror -o "$tmp/mhd_peer" "$here/mhd_peer.c" $(pkg-config --cflags --libs libmicrohttpd)
pp=$(port)
"$tmp/mhd_peer" "$pp" 2 &
pids+=($!)
wait_up "http://127.0.0.1:$pp/"

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), wrk -t2 -c100 -d$duration"
run_wrk peer_mhd_static "http://127.0.0.1:$pp/"
run_wrk hark_healthz "http://127.0.0.1:$hp/healthz"
run_wrk hark_admin_users "http://127.0.0.1:$hp/admin/users?limit=20" -H "X-Admin-API-Key: $key"
