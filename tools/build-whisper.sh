#!/usr/bin/env bash
# Builds whisper.cpp v1.9.1 as static libraries from the npm package
# nodejs-whisper@0.3.1, the only channel this project may take it from.
# Usage: tools/build-whisper.sh OUTDIR [portable=0|1] [cuda=0|1]
# CUDA_ARCHS (cuda=1 only) is CMake's CUDA_ARCHITECTURES list: ggml's own
# default compiles seven architectures, which takes hours on a small box;
# ours covers Turing and later (PTX for 7.5, JIT-compiled on newer cards on
# first use; native code for Ampere 8.6). Set it to your card, e.g. "89-real".
# Idempotent: a stamp file keyed on the flags makes a second run a no-op.
set -euo pipefail

PKG=nodejs-whisper@0.3.1
SHA256=92041caf2b26c74b7f489fedf37bd093f216eebd61df512045ec2d19d0531d37

out=${1:?usage: build-whisper.sh OUTDIR [portable] [cuda]}
portable=${2:-0}
cuda=${3:-0}
mkdir -p "$out"
out=$(cd "$out" && pwd)
archs=${CUDA_ARCHS:-75-virtual;86-real}
stamp="$out/.stamp-$SHA256-p$portable-c$cuda"
[ "$cuda" = 1 ] && stamp="$stamp-${archs//;/_}"
[ -f "$stamp" ] && exit 0

tgz="$out/nodejs-whisper-0.3.1.tgz"
if [ ! -f "$tgz" ] || ! echo "$SHA256  $tgz" | sha256sum -c --status; then
    echo "whisper: fetching $PKG from the npm registry"
    (cd "$out" && npm pack --silent "$PKG" >/dev/null 2>&1) || {
        echo "whisper: npm pack $PKG failed (is the npm registry reachable?)" >&2; exit 1; }
fi
if ! echo "$SHA256  $tgz" | sha256sum -c --status; then
    echo "whisper: sha256 mismatch for $tgz, refusing to build" >&2
    rm -f "$tgz"; exit 1
fi

src="$out/src"
if [ ! -f "$src/CMakeLists.txt" ]; then
    rm -rf "$out/package" "$src"
    tar xzf "$tgz" -C "$out" package/cpp/whisper.cpp
    mv "$out/package/cpp/whisper.cpp" "$src"
    rm -rf "$out/package"
fi

flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
       -DWHISPER_BUILD_TESTS=OFF -DWHISPER_BUILD_SERVER=OFF
       -DWHISPER_BUILD_EXAMPLES=ON -DGGML_OPENMP=OFF
       -DCMAKE_POSITION_INDEPENDENT_CODE=ON)
if [ "$portable" = 1 ]; then
    # Baseline x86-64 with AVX2, what container images ship.
    flags+=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON)
else
    flags+=(-DGGML_NATIVE=ON)
fi
[ "$cuda" = 1 ] && flags+=(-DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=$archs")

bld="$out/build-p$portable-c$cuda"
cmake -S "$src" -B "$bld" "${flags[@]}" >"$out/cmake.log" 2>&1 || {
    tail -30 "$out/cmake.log" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
cmake --build "$bld" -j "$jobs" --target whisper whisper-cli >"$out/build.log" 2>&1 || {
    tail -40 "$out/build.log" >&2; exit 1; }

# Stable paths for our Makefile, whatever cmake's layout.
inst="$out/p$portable-c$cuda"
rm -rf "$inst"; mkdir -p "$inst/lib" "$inst/include" "$inst/bin"
find "$bld" -name '*.a' -exec cp {} "$inst/lib/" \;
cp "$src/include/whisper.h" "$inst/include/"
cp "$src"/ggml/include/*.h "$inst/include/"
cp "$bld/bin/whisper-cli" "$inst/bin/"
rm -f "$out"/.stamp-*-p$portable-c$cuda*
touch "$stamp"
echo "whisper: built static libraries in $inst/lib"
