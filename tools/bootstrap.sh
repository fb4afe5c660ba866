#!/usr/bin/env bash
# Installs the Debian 12 packages Hark needs to build, test, check and bench,
# and only those that are missing. `make run` and `make test` call it every
# time, so when nothing is missing it prints nothing and returns at once.
# As root it installs them; otherwise it prints the command to run as root.
set -euo pipefail

packages=(
    # build
    gcc
    make
    cmake
    pkg-config
    git
    ca-certificates
    # libraries hark links against
    libmicrohttpd-dev
    libjson-c-dev
    libsqlite3-dev
    libsodium-dev
    uuid-dev
    libsndfile1-dev
    libsoxr-dev
    libopus-dev
    libogg-dev
    libcurl4-openssl-dev
    # run time: `hark bot` decodes RTMP through an ffmpeg child (docs/sources.md)
    ffmpeg
    # tests: cmocka, clang with libFuzzer and the sanitizer runtimes, and the
    # tools integration scripts call (promtool ships in prometheus; procps
    # gives ps/pkill)
    libcmocka-dev
    clang
    libclang-rt-14-dev
    curl
    python3
    python3-websocket
    python3-jsonschema
    prometheus
    sqlite3
    procps
    # make check
    cppcheck
    clang-tidy
    # make bench
    wrk
)

# dpkg-query fails when it has never heard of a package; what it prints for
# the others is still right, so its status is not what decides.
declare -A have=()
while read -r p status; do
    [ "$status" = "install ok installed" ] && have[$p]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null)
missing=()
for p in "${packages[@]}"; do
    [ -n "${have[$p]:-}" ] || missing+=("$p")
done
# whisper.cpp comes from an npm package. Any node/npm on PATH will do (e.g.
# NodeSource's nodejs, which bundles npm and conflicts with Debian's npm), so
# Debian's are installed only when the command itself is absent.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

[ ${#missing[@]} -eq 0 ] && exit 0

install_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
    echo "bootstrap: run as root:  $install_cmd" >&2
    exit 1
fi

echo "bootstrap: installing ${missing[*]}"
# prometheus is here only for promtool: its maintainer scripts must not start
# the daemon. policy-rc.d is Debian's switch for that, honoured by both
# invoke-rc.d and deb-systemd-invoke; an existing one (containers ship one)
# is left alone.
policy=/usr/sbin/policy-rc.d
if [[ " ${missing[*]} " == *" prometheus "* && ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, from hark tools/bootstrap.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [[ " ${missing[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 ||
        echo "bootstrap: could not disable prometheus.service (only promtool is needed)" >&2
fi

for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "bootstrap: $tool still missing after install" >&2; exit 1; }
done
echo "bootstrap: done"
