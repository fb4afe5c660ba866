#!/usr/bin/env bash
# Transcription benchmarks (issue 4). Prints `name value unit` lines.
#
#   bench/asr.sh [--quick] PATH_TO_HARK PATH_TO_STREAM_BENCH
#
# Models: random-weight tiny.en and base.en (tools/gen-random-model; real
# shapes, so real compute per token; the words are gibberish). Audio: jfk.wav
# and "jfk with pauses" — jfk.wav followed by 2 s of silence, repeated: 46
# times (598 s) for the long recording, 5 times (65 s) for real-time clips.
#  1. peer: whisper-cli (same whisper.cpp build) vs `hark transcribe`, greedy
#     with the same parameters, 2 threads, flash attention on both; whole
#     processes (model load included), best of N runs; transcripts compared.
#  2. compute amplification: CPU seconds of one stream fed step by step
#     (stream_bench --mode fast: the windows real time would give) over CPU
#     seconds of offline decoding, same recording, same process kind.
#  3. latency: one stream fed in real time, per step size.
#  4. concurrency: most real-time streams that all keep lag < 2 s, searched
#     upwards with short runs, then confirmed with a long one.
#  5. memory: RSS with 1 stream and with the most streams.
# Streaming runs use the Silero VAD from ../shared/data. Every figure comes
# with `..._others_load` (cores used by other processes meanwhile, from
# /proc/stat): on a shared machine a figure taken under load is not one.
# --quick: tiny.en only, a 2-minute recording, short real-time runs (smoke).
# Environment: BENCH_MODELS, BENCH_PARTS (peer amp lat conc), BENCH_STEPS,
# BENCH_KS, BENCH_LAYOUTS, AMP_THREADS, AMP_EXTRAS narrow or change a run.
set -euo pipefail

quick=0
if [ "${1:-}" = --quick ]; then quick=1; shift; fi
hark=${1:?usage: bench/asr.sh [--quick] PATH_TO_HARK PATH_TO_STREAM_BENCH}
sb=${2:?usage: bench/asr.sh [--quick] PATH_TO_HARK PATH_TO_STREAM_BENCH}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED:-$(cd "$root/../shared" && pwd)}
cli=${WHISPER_CLI:-$root/build/whisper/p0-c0/bin/whisper-cli}
gen=${GEN_MODEL:-$(dirname "$hark")/gen-random-model}
models_dir=${MODELS_DIR:-$root/build/models}
jfk=$shared/data/jfk.wav
vad=$shared/data/for-tests-silero-v6.2.0-ggml.bin
tmp=$(mktemp -d /tmp/hark-asr-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if [ "$quick" = 1 ]; then
    models=${BENCH_MODELS:-tiny.en}
    long_reps=9 peer_reps=2 peer_long_reps=1 steps="500 1000 2000 3000"
    rt_seconds=20 search_seconds=15 confirm_seconds=30 ks="1 2 4 8 12 16"
else
    models=${BENCH_MODELS:-tiny.en base.en}
    long_reps=46 peer_reps=5 peer_long_reps=2 steps="500 1000 2000 3000"
    rt_seconds=65 search_seconds=60 confirm_seconds=300 ks="1 2 4 8 12 16 24 32"
fi
# Engine layouts on 2 cores: one decode at a time on two threads (Hark's
# default), or two decodes at once on one thread each.
layouts=${BENCH_LAYOUTS:-"1x2 2x1"}
steps=${BENCH_STEPS:-$steps}
ks=${BENCH_KS:-$ks}

fig() { echo "$1 $2 $3"; }

# CPU seconds used by every process so far (user, nice, system, irq,
# softirq, steal), to tell how busy the machine was around a run.
busy() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{printf "%.2f", ($2+$3+$4+$7+$8+$9)/hz}' /proc/stat; }

# timed OUT CMD...: runs CMD (stdout to OUT), sets wall, cpu and others.
timed() {
    local out=$1; shift
    local b0 b1
    b0=$(busy)
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$@" >"$out" 2>"$tmp/stderr" || {
        tail -5 "$tmp/stderr" >&2; return 1; }
    b1=$(busy)
    read -r wall u s <"$tmp/time"
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
    others=$(awk -v b0="$b0" -v b1="$b1" -v c="$cpu" -v w="$wall" \
        'BEGIN{o=(b1-b0-c)/(w>0?w:1); printf "%.2f", (o > 0 ? o : 0)}')
}

min() { awk -v a="$1" -v b="$2" 'BEGIN{print ((a == "" || b + 0 < a + 0) ? b : a)}'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN{print ((a == "" || b + 0 > a + 0) ? b : a)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", (b > 0 ? a / b : 0)}'; }
val() { awk -v k="$2" '$1==k{print $2}' "$1"; } # val FILE NAME

model_file() { echo "$models_dir/bench-$1.bin"; }

make_inputs() {
    mkdir -p "$models_dir"
    for m in $models; do
        [ -f "$(model_file "$m")" ] && continue
        "$gen" --preset "$m" --vocab-from "$shared/data/for-tests-ggml-tiny.en.bin" --seed 1 \
            --ftype f16 -o "$(model_file "$m")"
    done
    python3 - "$jfk" "$tmp" "$long_reps" <<'EOF'
import sys, wave
src, out, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
w = wave.open(src, 'rb')
assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
unit = w.readframes(w.getnframes()) + b'\0\0' * 16000 * 2
for name, n in (('long', reps), ('clip', 5)):
    o = wave.open(f'{out}/{name}.wav', 'wb')
    o.setnchannels(1); o.setsampwidth(2); o.setframerate(16000)
    o.writeframes(unit * n)
    o.close()
EOF
}

# Joined segment texts, to prove both programs decoded the same thing.
cli_text() { python3 -c 'import json,sys; print("".join(s["text"] for s in json.load(open(sys.argv[1]))["transcription"]).strip())' "$1"; }
cli_tokens() { python3 -c 'import json,sys; print(sum(1 for s in json.load(open(sys.argv[1]))["transcription"] for t in s["tokens"] if not t["text"].startswith("[_")))' "$1"; }
hark_text() { python3 -c 'import json,sys; print("".join(s["text"] for s in json.load(open(sys.argv[1]))["segments"]).strip())' "$1"; }

# peer MODEL NAME WAV REPS BEAM: whisper-cli and hark transcribe, alternating.
peer() {
    local m=$1 name=$2 wav=$3 reps=$4 beam=$5 mf
    mf=$(model_file "$m")
    local cw="" cc="" hw="" hc="" ol=""
    # best_of as Hark leaves it: whisper.cpp's default 5 for greedy; unset
    # (so 1) with beam search. It only matters on temperature fallback.
    local bo=5
    [ "$beam" -gt 1 ] && bo=1
    for _ in $(seq "$reps"); do
        timed "$tmp/cli.out" "$cli" -m "$mf" -t 2 -l en -bs "$beam" -bo "$bo" -ojf \
            -of "$tmp/cli" -np "$wav"
        cw=$(min "$cw" "$wall"); cc=$(min "$cc" "$cpu"); ol=$(max "$ol" "$others")
        timed "$tmp/hark.json" "$hark" transcribe --model "$mf" --asr-threads 2 \
            --asr-decoders 1 --language en --beam "$beam" --format verbose_json "$wav"
        hw=$(min "$hw" "$wall"); hc=$(min "$hc" "$cpu"); ol=$(max "$ol" "$others")
    done
    local p="peer_${m}_${name}"
    fig "${p}_whisper_cli_wall" "$cw" s
    fig "${p}_whisper_cli_cpu" "$cc" s
    fig "${p}_hark_wall" "$hw" s
    fig "${p}_hark_cpu" "$hc" s
    fig "${p}_hark_over_cli_wall" "$(ratio "$hw" "$cw")" x
    fig "${p}_hark_over_cli_cpu" "$(ratio "$hc" "$cc")" x
    fig "${p}_cli_text_tokens" "$(cli_tokens "$tmp/cli.json")" count
    fig "${p}_same_transcript" "$([ "$(cli_text "$tmp/cli.json")" = "$(hark_text "$tmp/hark.json")" ] && echo 1 || echo 0)" bool
    fig "${p}_others_load_max" "$ol" cores
}

# sbrun NAME ARGS...: stream_bench, its lines printed and kept in $tmp/NAME.
sbrun() {
    local name=$1; shift
    "$sb" --name "$name" "$@" >"$tmp/$name" 2>"$tmp/stderr" || { tail -5 "$tmp/stderr" >&2; return 1; }
    cat "$tmp/$name"
}

# CPU seconds are taken with one thread per decode (AMP_THREADS): with two,
# ggml's threads spin at barriers while the other is descheduled, so on a
# shared machine others' load shows up as our CPU time. Step 1000 is also run
# with two threads, next to an offline run with two, as a cross-check.
amplification() {
    local m=$1 mf p="amp_$1" th=${AMP_THREADS:-1} off off2
    mf=$(model_file "$m")
    sbrun "${p}_offline" --model "$mf" --audio "$tmp/long.wav" --mode offline --threads "$th"
    off=$(val "$tmp/${p}_offline" "${p}_offline_cpu")
    for s in $steps; do
        sbrun "${p}_step$s" --model "$mf" --audio "$tmp/long.wav" --mode fast --threads "$th" \
            --step-ms "$s" --vad "$vad"
        fig "${p}_step${s}_amplification" "$(ratio "$(val "$tmp/${p}_step$s" "${p}_step${s}_cpu")" "$off")" x
    done
    case " ${AMP_EXTRAS:-tiny.en} " in *" $m "*) ;; *) return 0 ;; esac
    # Without VAD every silence is decoded too; with language detection on
    # (no language given) whisper.cpp runs one more encoder pass per decode.
    sbrun "${p}_step1000_novad" --model "$mf" --audio "$tmp/long.wav" --mode fast \
        --threads "$th" --step-ms 1000
    fig "${p}_step1000_novad_amplification" \
        "$(ratio "$(val "$tmp/${p}_step1000_novad" "${p}_step1000_novad_cpu")" "$off")" x
    sbrun "${p}_step1000_langauto" --model "$mf" --audio "$tmp/long.wav" --mode fast \
        --threads "$th" --step-ms 1000 --vad "$vad" --language auto
    fig "${p}_step1000_langauto_amplification" \
        "$(ratio "$(val "$tmp/${p}_step1000_langauto" "${p}_step1000_langauto_cpu")" "$off")" x
    sbrun "${p}_offline_2t" --model "$mf" --audio "$tmp/long.wav" --mode offline --threads 2
    off2=$(val "$tmp/${p}_offline_2t" "${p}_offline_2t_cpu")
    sbrun "${p}_step1000_2t" --model "$mf" --audio "$tmp/long.wav" --mode fast --threads 2 \
        --step-ms 1000 --vad "$vad"
    fig "${p}_step1000_2t_amplification" \
        "$(ratio "$(val "$tmp/${p}_step1000_2t" "${p}_step1000_2t_cpu")" "$off2")" x
}

latency() {
    local m=$1 mf
    mf=$(model_file "$m")
    for s in $steps; do
        sbrun "lat_${m}_step$s" --model "$mf" --audio "$tmp/clip.wav" --mode realtime \
            --streams 1 --decoders 1 --threads 2 --step-ms "$s" --seconds "$rt_seconds" --vad "$vad"
    done
}

# rt MODEL LAYOUT K SECONDS: one real-time run; prints it, echoes nothing.
rt() {
    local m=$1 layout=$2 k=$3 secs=$4
    sbrun "rt_${m}_${layout}_k${k}_${secs}s" --model "$(model_file "$m")" --audio "$tmp/clip.wav" \
        --mode realtime --streams "$k" --decoders "${layout%x*}" --threads "${layout#*x}" \
        --step-ms 1000 --seconds "$secs" --vad "$vad"
}
rt_ok() { [ "$(val "$tmp/rt_$1_$2_k$3_$4s" "rt_$1_$2_k$3_$4s_lag_ok")" = 1.000 ]; }
# A run that failed while other processes took a quarter core or more is
# run once more: the failure may be theirs.
rt_retry() {
    rt "$@"
    rt_ok "$@" && return 0
    local o
    o=$(val "$tmp/rt_$1_$2_k$3_$4s" "rt_$1_$2_k$3_$4s_others_load")
    awk -v o="$o" 'BEGIN{exit !(o >= 0.25)}' || return 0
    echo "# retry: others used $o cores"
    rt "$@"
}

# Upwards through $ks, then bisect between the last pass and the first fail.
search() {
    local m=$1 layout=$2 best=0 fail="" k
    for k in $ks; do
        rt_retry "$m" "$layout" "$k" "$search_seconds"
        if rt_ok "$m" "$layout" "$k" "$search_seconds"; then best=$k; else fail=$k; break; fi
    done
    while [ -n "$fail" ] && [ $((fail - best)) -gt 1 ]; do
        k=$(((best + fail) / 2))
        rt_retry "$m" "$layout" "$k" "$search_seconds"
        if rt_ok "$m" "$layout" "$k" "$search_seconds"; then best=$k; else fail=$k; fi
    done
    fig "conc_${m}_${layout}_search_max" "$best" streams
    echo "$best" >"$tmp/best_${m}_$layout"
}

concurrency() {
    local m=$1 layout best=0 bl="" k
    for layout in $layouts; do
        search "$m" "$layout"
        k=$(cat "$tmp/best_${m}_$layout")
        if [ "$k" -gt "$best" ]; then best=$k; bl=$layout; fi
    done
    [ "$best" -gt 0 ] || { fig "conc_${m}_max_streams" 0 streams; return 0; }
    # Confirm over the long run; step down while it fails.
    k=$best
    while [ "$k" -gt 0 ]; do
        rt_retry "$m" "$bl" "$k" "$confirm_seconds"
        rt_ok "$m" "$bl" "$k" "$confirm_seconds" && break
        k=$((k - 1))
    done
    fig "conc_${m}_max_streams" "$k" streams
    fig "conc_${m}_layout" "$bl" decoders_x_threads
    fig "conc_${m}_duration" "$confirm_seconds" s
    [ "$k" -gt 0 ] || return 0
    # Memory: RSS after the run, 1 stream vs k streams, same layout.
    [ -f "$tmp/rt_${m}_${bl}_k1_${search_seconds}s" ] || rt "$m" "$bl" 1 "$search_seconds"
    local r1 rk
    r1=$(val "$tmp/rt_${m}_${bl}_k1_${search_seconds}s" "rt_${m}_${bl}_k1_${search_seconds}s_rss")
    rk=$(val "$tmp/rt_${m}_${bl}_k${k}_${confirm_seconds}s" "rt_${m}_${bl}_k${k}_${confirm_seconds}s_rss")
    fig "mem_${m}_rss_1_stream" "$r1" MiB
    fig "mem_${m}_rss_${k}_streams" "$rk" MiB
    if [ "$k" -gt 1 ]; then
        fig "mem_${m}_per_extra_stream" "$(awk -v a="$rk" -v b="$r1" -v k="$k" \
            'BEGIN{printf "%.2f", (a-b)/(k-1)}')" MiB
    fi
}

make_inputs
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# mode: $([ "$quick" = 1 ] && echo quick || echo full), models: $models, long recording $((long_reps * 13)) s"
parts=" ${BENCH_PARTS:-peer amp lat conc} "
for m in $models; do
    case $parts in *" peer "*) ;; *) break ;; esac
    peer "$m" jfk "$jfk" "$peer_reps" 1
    peer "$m" long "$tmp/long.wav" "$peer_long_reps" 1
    peer "$m" jfk_beam5 "$jfk" "$peer_reps" 5
done
case $parts in *" amp "*) for m in $models; do amplification "$m"; done ;; esac
case $parts in *" lat "*) for m in $models; do latency "$m"; done ;; esac
case $parts in *" conc "*) for m in $models; do concurrency "$m"; done ;; esac
echo "# done: $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
