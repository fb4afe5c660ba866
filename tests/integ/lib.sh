# lib.sh — shared helpers for tests/integ/tNNNN-*.sh. Each script is one
# scenario and begins with
#     . "$(dirname "$0")/lib.sh"
# which turns on `set -euo pipefail` and an exit trap that stops what the
# script started. tools/run-tests.sh runs scripts with HARK_BIN, HARK_ROOT,
# HARK_SHARED and a fresh TMPDIR; a script run by hand (bash tests/integ/...)
# gets build/release/hark and a new directory under /tmp, kept if it fails.
#
# Variables scripts read:
#   PORT       port of the hark started by start_hark (set it first to choose)
#   DATA       $TMPDIR/data, hark's --data directory
#   HARK_LOG   $TMPDIR/hark.log, hark's stdout and stderr (appended on restart)
#   HARK_PID   pid of the running hark, empty when none
#   BODY STATUS BODY_FILE  response body, HTTP status ("000" when the
#              connection failed) and the file holding the body, set by http
#   HARK_ADMIN_API_KEY  exported as test-admin-key-0123456789 unless already
#              set; unset it before start_hark to test key generation.
# Nothing here listens anywhere but 127.0.0.1.
set -euo pipefail
# Debian's python3 carries the modules the scenarios import (python3-websocket,
# python3-jsonschema); a python earlier on PATH (pyenv, a venv) may not.
export PATH=/usr/bin:$PATH

if [ -z "${HARK_BIN:-}" ]; then
    HARK_ROOT=${HARK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
    HARK_BIN=$HARK_ROOT/build/release/hark
    HARK_SHARED=${HARK_SHARED:-$(realpath -m "$HARK_ROOT/../shared")}
    TMPDIR=$(mktemp -d /tmp/hark-integ-XXXXXX)
    _lib_own_tmp=1
    echo "lib.sh: TMPDIR=$TMPDIR" >&2
fi
export HARK_BIN HARK_ROOT HARK_SHARED TMPDIR
export HARK_ADMIN_API_KEY=${HARK_ADMIN_API_KEY-test-admin-key-0123456789}

DATA=$TMPDIR/data
HARK_LOG=$TMPDIR/hark.log
BODY_FILE=$TMPDIR/http-body
HARK_PID=
PORT=${PORT:-}
BODY=
STATUS=
_lib_request=
_lib_on_exit_cmds=()

_lib_clip() { # first 2000 bytes of $1, for messages
    if [ ${#1} -gt 2000 ]; then printf '%s...' "${1:0:2000}"; else printf '%s' "$1"; fi
}

_lib_sanitizer_report() { # prints sanitizer reports from hark's log, if any
    [ -f "$HARK_LOG" ] || return 1
    grep -E -A 30 'ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$HARK_LOG"
}

# fail MESSAGE...: prints the message (and the end of hark's log) and exits 1.
# Inside $(...) it only ends the subshell: test the result there instead.
fail() {
    echo "FAIL: $*" >&2
    if [ -s "$HARK_LOG" ]; then
        echo "--- last lines of $HARK_LOG:" >&2
        tail -n 20 "$HARK_LOG" >&2
    fi
    exit 1
}

# on_exit COMMAND: runs COMMAND (a string, eval'd) when the script exits,
# before hark is stopped; the last registered runs first. Use it for anything
# else a script starts, e.g. on_exit "kill $pid".
on_exit() { _lib_on_exit_cmds+=("$1"); }

# stop_bg PID...: SIGTERM to each background child, then waits for it (SIGKILL
# after 5 s). Killing without waiting lets a slow exit on a loaded machine
# outlive the script, which run-tests.sh counts as a leftover process.
stop_bg() {
    local pid i
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

_lib_exit() {
    local rc=$? i
    for ((i = ${#_lib_on_exit_cmds[@]} - 1; i >= 0; i--)); do
        eval "${_lib_on_exit_cmds[i]}" || true
    done
    if [ -n "$HARK_PID" ]; then
        kill -TERM "$HARK_PID" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$HARK_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$HARK_PID" 2>/dev/null || true
        wait "$HARK_PID" 2>/dev/null || true
    fi
    if _lib_sanitizer_report >&2; then
        echo "FAIL: sanitizer report in $HARK_LOG (above)" >&2
        rc=1
    fi
    if [ "$rc" -eq 0 ] && [ -n "${_lib_own_tmp:-}" ]; then rm -rf "$TMPDIR"; fi
    exit "$rc"
}
trap _lib_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND (status $?)" >&2' ERR

# repeat_wav SRC DST TIMES: DST is the WAV file SRC played TIMES times over.
repeat_wav() {
    /usr/bin/python3 - "$@" <<'PY'
import sys, wave
with wave.open(sys.argv[1], "rb") as r:
    params, frames = r.getparams(), r.readframes(r.getnframes())
with wave.open(sys.argv[2], "wb") as w:
    w.setparams(params)
    w.writeframes(frames * int(sys.argv[3]))
PY
}

# free_port: prints a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_hark [ARGS...]: starts `hark serve` on 127.0.0.1:$PORT (a free port
# unless PORT is set) with --data $DATA plus ARGS, in the background, and
# waits up to 10 s for GET /healthz to answer 200. One hark at a time.
start_hark() {
    local i code rc
    [ -z "$HARK_PID" ] || fail "start_hark: hark is already running (pid $HARK_PID)"
    [ -x "$HARK_BIN" ] || fail "start_hark: $HARK_BIN is not built"
    [ -n "$PORT" ] || PORT=$(free_port)
    mkdir -p "$DATA"
    "$HARK_BIN" serve --listen "127.0.0.1:$PORT" --data "$DATA" "$@" >>"$HARK_LOG" 2>&1 &
    HARK_PID=$!
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$HARK_PID" 2>/dev/null; then
            rc=0
            wait "$HARK_PID" || rc=$?
            HARK_PID=
            fail "start_hark: hark exited with status $rc during start-up"
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
                    "http://127.0.0.1:$PORT/healthz") || true
        [ "$code" = 200 ] && return 0
        sleep 0.1
    done
    fail "start_hark: GET /healthz did not answer 200 within 10 s (last status $code)"
}

# stop_hark: sends SIGTERM and waits up to 10 s; fails unless hark exits, with
# status 0, and without a sanitizer report.
stop_hark() {
    local i rc=0
    [ -n "$HARK_PID" ] || fail "stop_hark: hark is not running"
    kill -TERM "$HARK_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$HARK_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$HARK_PID" 2>/dev/null; then
        kill -KILL "$HARK_PID" 2>/dev/null || true
        wait "$HARK_PID" 2>/dev/null || true
        HARK_PID=
        fail "stop_hark: hark still running 10 s after SIGTERM"
    fi
    wait "$HARK_PID" || rc=$?
    HARK_PID=
    [ "$rc" -eq 0 ] || fail "stop_hark: hark exited with status $rc after SIGTERM"
    if _lib_sanitizer_report >&2; then
        fail "stop_hark: sanitizer report in $HARK_LOG (above)"
    fi
}

# http METHOD PATH [CURL_ARGS...]: one request to 127.0.0.1:$PORT. Sets
# STATUS and BODY; never fails by itself (a refused connection is STATUS 000),
# so follow it with expect_status. Example:
#   http POST /bots -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d '{...}'
http() {
    local method=$1 path=$2
    shift 2
    local how=(-X "$method")
    [ "$method" = HEAD ] && how=(--head)
    _lib_request="$method $path"
    rm -f "$BODY_FILE"
    STATUS=$(curl -sS --max-time 30 "${how[@]}" -o "$BODY_FILE" -w '%{http_code}' "$@" \
                  "http://127.0.0.1:$PORT$path") || true
    STATUS=${STATUS:-000}
    BODY=$(cat "$BODY_FILE" 2>/dev/null) || BODY=
}

# expect_status N: fails unless the last http request answered N.
expect_status() {
    [ "$STATUS" = "$1" ] ||
        fail "$_lib_request: expected status $1, got $STATUS; body: $(_lib_clip "$BODY")"
}

# expect_json EXPR: fails unless the Python expression EXPR is true, with j
# the last response body parsed as JSON (and re imported). Example:
#   expect_json 'j["detail"] == "Missing API key"'
expect_json() {
    local why
    why=$(python3 -c '
import json, re, sys
expr = sys.argv[1]
try:
    j = json.loads(sys.stdin.read())
except ValueError as e:
    print("body is not JSON (%s)" % e)
    sys.exit(1)
try:
    ok = eval(expr, {"j": j, "re": re})
except Exception as e:
    print("%s raised %s: %s" % (expr, type(e).__name__, e))
    sys.exit(1)
if not ok:
    print("%s is false" % expr)
    sys.exit(1)
' "$1" <<<"$BODY") || fail "$_lib_request: $why; body: $(_lib_clip "$BODY")"
}

# admin_key: prints the admin API key: $HARK_ADMIN_API_KEY when set, else the
# one hark logged as admin_api_key=... on its first start. Returns 1 if there
# is none; use it as KEY=$(admin_key) so that set -e sees the failure.
admin_key() {
    local k
    if [ -n "${HARK_ADMIN_API_KEY:-}" ]; then
        echo "$HARK_ADMIN_API_KEY"
        return 0
    fi
    k=$(sed -nE 's/.*admin_api_key="?([^" ]+).*/\1/p;T;q' "$HARK_LOG" 2>/dev/null) || true
    [ -n "$k" ] || { echo "admin_key: no admin_api_key= line in $HARK_LOG" >&2; return 1; }
    echo "$k"
}
