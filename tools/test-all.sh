#!/usr/bin/env bash
# What `make test` runs once `make deps` is done: the release build with its
# unit and integration tests, the same suites built with ASan+UBSan, then
# the fuzz corpus replay. Build output goes to build/test-logs/ and is shown
# only when a build fails.
# The last line is "N passed, N failed" (", N skipped" when some were): CI
# reads it. A step that fails to build counts as one failed test. Exits 1 if
# anything failed.
set -uo pipefail # not -e: every step runs, and the totals are always printed

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2

logs=${BUILD:-build}/test-logs
mkdir -p "$logs"
HARK_TOTALS=$(realpath "$logs/totals")
export HARK_TOTALS
: >"$HARK_TOTALS"
broken=0 # steps that failed without reporting test results

mk() { "${MAKE:-make}" --no-print-directory "$@"; }

# The compiler's and make's error messages from a build log, else its end.
build_errors() {
    local errors
    errors=$(grep -E -A 4 'error:|undefined reference|No rule to make target|\*\*\*' "$1" | head -n 60)
    if [ -n "$errors" ]; then echo "$errors"; else tail -n 40 "$1"; fi
}

# build_step NAME MAKE_ARGS...: a build; on failure shows the end of its log.
build_step() {
    local name=$1 log="$logs/$1.log" start=$SECONDS
    shift
    echo "== $name: make $* (log $log)"
    if mk "$@" >"$log" 2>&1; then
        echo "   done in $((SECONDS - start)) s"
        return 0
    fi
    echo "FAIL $name"
    build_errors "$log" | sed 's/^/    | /'
    broken=$((broken + 1))
    return 1
}

# test_step NAME CMD...: a test target, which adds its totals to
# $HARK_TOTALS; if it fails without doing so it could not run at all.
test_step() {
    local name=$1 before start=$SECONDS
    shift
    echo "== $name"
    before=$(wc -l <"$HARK_TOTALS")
    if "$@"; then
        echo "   done in $((SECONDS - start)) s"
        return 0
    fi
    if [ "$(wc -l <"$HARK_TOTALS")" -eq "$before" ]; then
        echo "FAIL $name (did not run)"
        broken=$((broken + 1))
    fi
}

if build_step release-build -j2 all; then
    test_step release-unit mk unit
    test_step release-integ mk integ
fi

san=address,undefined
san_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
         UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
if build_step asan-ubsan-build -j2 SAN=$san all; then
    test_step asan-ubsan-unit env "${san_env[@]}" "${MAKE:-make}" --no-print-directory SAN=$san unit
    test_step asan-ubsan-integ env "${san_env[@]}" "${MAKE:-make}" --no-print-directory SAN=$san integ
fi

if build_step fuzz-build -j2 fuzz-build; then
    test_step fuzz-replay mk fuzz-replay
fi

read -r passed failed skipped < <(awk '{ p += $2; f += $3; s += $4 }
                                      END { print p + 0, f + 0, s + 0 }' "$HARK_TOTALS")
failed=$((failed + broken))
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
