#!/usr/bin/env bash
# Configuration: file < HARK_* environment < flags; unknown keys and bad
# values are errors naming the key, file and line; docs/configuration.md is
# exactly what `hark config --doc` prints.
. "$(dirname "$0")/lib.sh"
unset HARK_ADMIN_API_KEY
conf=$TMPDIR/hark.conf
printf '# test\nlisten = 127.0.0.1:1111\nhttp_threads = 3\nmax_body_bytes = 2M\n' > "$conf"

out=$("$HARK_BIN" config --config "$conf")
grep -q '^listen = 127.0.0.1:1111 .*hark.conf:2' <<<"$out" || fail "file value/origin: $out"
out=$(HARK_LISTEN=127.0.0.1:2222 "$HARK_BIN" config --config "$conf")
grep -q '^listen = 127.0.0.1:2222 .*env' <<<"$out" || fail "env must beat file: $out"
out=$(HARK_LISTEN=127.0.0.1:2222 "$HARK_BIN" config --config "$conf" --listen 127.0.0.1:3333)
grep -q '^listen = 127.0.0.1:3333 .*flag' <<<"$out" || fail "flag must beat env: $out"
out=$(HARK_CONFIG=$conf "$HARK_BIN" config)
grep -q '^http_threads = 3 ' <<<"$out" || fail "HARK_CONFIG not read: $out"

printf 'listen = 127.0.0.1:1\nlisten_port = 9\n' > "$TMPDIR/bad.conf"
rc=0; err=$("$HARK_BIN" serve --config "$TMPDIR/bad.conf" 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "unknown key: exit $rc"
grep -q 'bad.conf' <<<"$err" && grep -q ':2\|line 2' <<<"$err" && grep -q 'listen_port' <<<"$err" \
    || fail "unknown key error must name file, line and key: $err"

printf 'http_threads = many\n' > "$TMPDIR/bad2.conf"
rc=0; err=$("$HARK_BIN" serve --config "$TMPDIR/bad2.conf" 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q 'http_threads' <<<"$err" || fail "bad value: exit $rc: $err"
rc=0; err=$("$HARK_BIN" serve --http-threads 0 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q 'http_threads' <<<"$err" || fail "out of range flag: exit $rc: $err"
rc=0; err=$("$HARK_BIN" serve --no-such-flag 1 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "unknown flag: exit $rc: $err"
rc=0; err=$(HARK_LOG_LEVEL=loud "$HARK_BIN" serve 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q 'log_level' <<<"$err" || fail "bad log level: exit $rc: $err"
rc=0; err=$("$HARK_BIN" serve --listen 999.1.1.1:80 --data "$TMPDIR/d" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q '999.1.1.1:80' <<<"$err" || fail "bad listen address: exit $rc: $err"

"$HARK_BIN" config --doc > "$TMPDIR/doc.md"
python3 - "$HARK_ROOT/docs/configuration.md" "$TMPDIR/doc.md" <<'PY' || fail "docs/configuration.md is out of date: regenerate its table with hark config --doc"
import sys
doc, table = open(sys.argv[1]).read(), open(sys.argv[2]).read().strip()
sys.exit(0 if table in doc else 1)
PY
