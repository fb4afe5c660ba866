#!/usr/bin/env bash
# Enforces the layering in STYLE.md: core <- audio, asr, store, queue <- http,
# bot, ops <- bin. A file may include "hark/X.h" only if X belongs to its own
# layer or a lower one. Checks src/<layer>/ (recursively, .c and .h) and
# include/hark/*.h.
# Usage: tools/check-layers.sh [ROOT]   (ROOT defaults to this repository)
# Prints one line per violation and exits 1 if there is any.
set -euo pipefail

root=${1:-"$(dirname "$0")/.."}
cd "$root"

declare -A rank=([core]=0 [audio]=1 [asr]=1 [store]=1 [queue]=1
                 [http]=2 [bot]=2 [ops]=2 [bin]=3)
layers=(core audio asr store queue http bot ops bin)

# Headers whose layer the rules below would get wrong: name without .h ->
# layer. Without an entry, hark/X.h belongs to the layer of src/*/X.c, else
# of src/*/X_*.c or X-*.c, else to layer X if there is one, else of
# src/*/X*.c, else to core (headers with no implementation, like banned.h).
declare -A LAYER_OF=()

declare -A cache=()
errors=0

# Layers with a source file matching the glob; prints them space-separated.
layers_with() {
    local l found=()
    for l in "${layers[@]}"; do
        compgen -G "src/$l/$1" >/dev/null && found+=("$l")
    done
    echo "${found[*]}"
}

# Sets REPLY to the layer of hark/$1.h, or to "?" (reported once) when the
# sources do not say which.
header_layer() {
    local x=$1 pat hits
    if [ -n "${cache[$x]:-}" ]; then REPLY=${cache[$x]}; return; fi
    REPLY=${LAYER_OF[$x]:-}
    for pat in "$x.c" "${x}[_-]*.c" LAYER "$x*.c"; do
        [ -n "$REPLY" ] && break
        if [ "$pat" = LAYER ]; then
            if [ -n "${rank[$x]:-}" ]; then REPLY=$x; fi
            continue
        fi
        hits=$(layers_with "$pat")
        if [ "$hits" != "${hits%% *}" ]; then
            echo "hark/$x.h: implemented in several layers ($hits); add it to LAYER_OF in $0"
            errors=$((errors + 1))
            REPLY="?"
        else
            REPLY=$hits
        fi
    done
    REPLY=${REPLY:-core}
    cache[$x]=$REPLY
}

check_file() {
    local file=$1 layer=$2 x
    while read -r x; do
        header_layer "$x"
        [ "$REPLY" = "?" ] && continue
        if [ "${rank[$REPLY]}" -gt "${rank[$layer]}" ]; then
            echo "$file includes hark/$x.h ($REPLY) from layer $layer"
            errors=$((errors + 1))
        fi
    done < <(sed -nE 's@^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]hark/([A-Za-z0-9_.-]+)\.h[">].*@\1@p' "$file")
}

for dir in src/*/; do
    l=$(basename "$dir")
    if [ -z "${rank[$l]:-}" ]; then
        echo "src/$l: not a layer (layers: ${layers[*]})"
        errors=$((errors + 1))
    fi
done
for f in src/*.[ch]; do
    [ -e "$f" ] || continue
    echo "$f: outside any layer directory"
    errors=$((errors + 1))
done

for l in "${layers[@]}"; do
    [ -d "src/$l" ] || continue
    while IFS= read -r -d '' f; do
        check_file "$f" "$l"
    done < <(find "src/$l" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
done
for f in include/hark/*.h; do
    [ -e "$f" ] || continue
    x=$(basename "$f" .h)
    header_layer "$x"
    if [ "$REPLY" != "?" ]; then check_file "$f" "$REPLY"; fi
done

[ "$errors" -eq 0 ]
