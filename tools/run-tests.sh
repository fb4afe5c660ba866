#!/usr/bin/env bash
# Runs one kind of test and adds up the results; the Makefile's unit, integ,
# tsan and fuzz-replay targets call it.
#   run-tests.sh unit  O BIN...       cmocka suites built on tests/unit/harness.c
#   run-tests.sh integ O              every tests/integ/tNNNN-*.sh against O/hark
#   run-tests.sh fuzz  FUZZ_O BIN...  replays tests/fuzz/corpus/NAME/* through fuzz_NAME
# Prints "ok", "FAIL" or "skip" per suite, script or fuzz target (with the
# tail of its output when it failed), then "MODE: N passed, N failed" (and
# ", N skipped" if any). Appends "MODE passed failed skipped" to $HARK_TOTALS
# when that is set. Exits 1 if anything failed.
#
# Environment: HARK_TEST_FILTER runs only the unit tests and integ scripts
# whose names contain it; HARK_TEST_TIMEOUT overrides the time limit in
# seconds for one suite, script or fuzz target (unit and fuzz 600, integ 300).
# Each integ script runs with HARK_BIN (O/hark), HARK_ROOT (this repository),
# HARK_SHARED (../shared next to it) and a fresh TMPDIR under O/integ-tmp, all
# absolute; it exits 0 to pass, 77 to skip (only when an optional external
# tool is missing) and anything else to fail.
set -uo pipefail # not -e: one failing test must not end the run

usage() { echo "usage: $0 unit|integ|fuzz DIR [BIN...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
mode=$1
out=$(realpath -m "$2")
shift 2
bins=()
for b in "$@"; do bins+=("$(realpath -m "$b")"); done

root=$(cd "$(dirname "$0")/.." && pwd)
# Test data (jfk.wav, the test and VAD models) lives in ../shared/data; unit
# suites read it through HARK_TEST_DATA.
export HARK_TEST_DATA=${HARK_TEST_DATA:-$(realpath -m "$root/../shared/data")}
# The random-weight test model `make all` generates (docs/models.md).
export HARK_TEST_MODEL=${HARK_TEST_MODEL:-$root/build/models/test.en.bin}
export HARK_GEN_MODEL=${HARK_GEN_MODEL:-$root/build/release/gen-random-model}
cd "$root" || exit 2

passed=0 failed=0 skipped=0
current= # process group of the test running now

# Kills what is left of the current test's process group.
kill_current() {
    [ -n "$current" ] && kill -KILL -- "-$current" 2>/dev/null
    current=
}
trap 'kill_current; exit 130' INT
trap 'kill_current; exit 143' TERM

# run_limited LIMIT LOG CMD...: runs CMD with output to LOG, stdin from
# /dev/null, killed after LIMIT seconds. timeout puts CMD in a process group
# of its own, so anything CMD started and did not stop is found afterwards;
# that is killed and turned into a failure (exit 125), since a test must clean
# up after itself. Returns CMD's status, or 124/137 on timeout.
run_limited() {
    local limit=$1 log=$2 rc i
    shift 2
    timeout -k 5 "$limit" "$@" </dev/null >"$log" 2>&1 &
    current=$!
    wait "$current" 2>/dev/null # bash would report a crash itself
    rc=$?
    # A loaded machine (sanitizer builds exit slowly) gets 10 s; what is
    # still listed after that was left behind.
    for ((i = 0; i < 100; i++)); do
        kill -0 -- "-$current" 2>/dev/null || { current=; return "$rc"; }
        sleep 0.1
    done
    local left
    left=$(pgrep -a -g "$current") || { current=; return "$rc"; }
    {
        echo "run-tests: processes left running after the test ended (killed):"
        echo "$left"
    } >>"$log" 2>&1
    kill_current
    [ "$rc" -eq 0 ] && rc=125
    return "$rc"
}

# Indents lines of a test's output under its result line.
show() { sed 's/^/    | /'; }

describe_status() {
    case $1 in
        124|137) echo "timed out after ${2}s" ;;
        125) echo "left processes running" ;;
        *) if [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"; else echo "exit status $1"; fi ;;
    esac
}

run_unit() {
    local limit=${HARK_TEST_TIMEOUT:-600} tmp="$out/unit-tmp" logs="$out/unit-logs"
    local bin name log rc result p f
    rm -rf "$tmp" "$logs"
    mkdir -p "$tmp" "$logs"
    for bin in "${bins[@]}"; do
        name=$(basename "$bin")
        log="$logs/$name.log"
        run_limited "$limit" "$log" env TMPDIR="$tmp" "$bin"
        rc=$?
        result=$(grep -E '^RESULT [^ ]+ passed=[0-9]+ failed=[0-9]+$' "$log" | tail -n 1)
        if [ -z "$result" ]; then
            failed=$((failed + 1))
            echo "FAIL $name (no RESULT line; $(describe_status "$rc" "$limit"))"
            tail -n 40 "$log" | show
            continue
        fi
        p=${result#* passed=}
        p=${p%% *}
        f=${result##*failed=}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            # e.g. a sanitizer report after the last test
            f=1
            echo "FAIL $name ($p passed, then $(describe_status "$rc" "$limit"))"
            grep -v -E '^  ok   ' "$log" | tail -n 60 | show
        elif [ "$f" -ne 0 ]; then
            echo "FAIL $name ($f of $((p + f)) failed)"
            grep -v -E '^  ok   ' "$log" | head -n 200 | show
        else
            echo "ok   $name ($p tests)"
        fi
        passed=$((passed + p))
        failed=$((failed + f))
    done
}

run_integ() {
    local limit=${HARK_TEST_TIMEOUT:-300} tmp="$out/integ-tmp" shared
    local script name dir log rc
    shared=$(realpath -m "$root/../shared")
    rm -rf "$tmp"
    mkdir -p "$tmp"
    for script in tests/integ/t[0-9][0-9][0-9][0-9]-*.sh; do
        [ -e "$script" ] || continue
        name=$(basename "$script" .sh)
        [[ -n ${HARK_TEST_FILTER:-} && $name != *"$HARK_TEST_FILTER"* ]] && continue
        dir="$tmp/$name"
        log="$tmp/$name.log"
        mkdir -p "$dir"
        run_limited "$limit" "$log" env HARK_BIN="$out/hark" HARK_ROOT="$root" \
            HARK_SHARED="$shared" TMPDIR="$dir" bash "$script"
        rc=$?
        case $rc in
            0)
                passed=$((passed + 1))
                echo "ok   $name"
                rm -rf "$dir" "$log"
                ;;
            77)
                skipped=$((skipped + 1))
                echo "skip $name: $(tail -n 1 "$log")"
                ;;
            *)
                failed=$((failed + 1))
                echo "FAIL $name ($(describe_status "$rc" "$limit"); log $log)"
                tail -n 40 "$log" | show
                ;;
        esac
    done
}

run_fuzz() {
    local limit=${HARK_TEST_TIMEOUT:-600} logs="$out/replay-logs"
    local bin name corpus log rc files
    rm -rf "$logs"
    mkdir -p "$logs"
    for bin in "${bins[@]}"; do
        name=$(basename "$bin")
        corpus=tests/fuzz/corpus/${name#fuzz_}
        log="$logs/$name.log"
        files=()
        if [ -d "$corpus" ]; then
            mapfile -d '' -t files < <(find "$corpus" -maxdepth 1 -type f -print0 | sort -z)
        fi
        # With no file arguments libFuzzer would start fuzzing instead.
        if [ ${#files[@]} -eq 0 ]; then
            failed=$((failed + 1))
            echo "FAIL $name (no seed files in $corpus)"
            continue
        fi
        mkdir -p "$logs/$name.artifacts"
        # File arguments: libFuzzer runs each input once and exits.
        run_limited "$limit" "$log" "$bin" -timeout=30 \
            -artifact_prefix="$logs/$name.artifacts/" "${files[@]}"
        rc=$?
        if [ "$rc" -eq 0 ]; then
            passed=$((passed + 1))
            echo "ok   $name (${#files[@]} inputs)"
        else
            failed=$((failed + 1))
            echo "FAIL $name ($(describe_status "$rc" "$limit"); log $log)"
            fuzz_report "$log" | show
        fi
    done
}

# The input that failed and the report up to its SUMMARY line, without the
# shadow-byte map; the tail of the log if there is no report.
fuzz_report() {
    local report
    report=$(awk '/^Running: / { input = $0 }
        !found && /ERROR: |runtime error:|deadly signal|ALARM: working on the last Unit|out-of-memory/ {
            found = 1; if (input != "") print input }
        found && n < 40 { print; n++ }
        found && /^SUMMARY: / { exit }' "$1")
    if [ -n "$report" ]; then echo "$report"; else tail -n 40 "$1"; fi
}

case $mode in
    unit) run_unit ;;
    integ) run_integ ;;
    fuzz) run_fuzz ;;
    *) usage ;;
esac

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$mode: $summary"
if [ -n "${HARK_TOTALS:-}" ]; then
    echo "$mode $passed $failed $skipped" >>"$HARK_TOTALS"
fi
[ "$failed" -eq 0 ]
