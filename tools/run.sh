#!/usr/bin/env bash
# make run: start `hark serve` with a data dir under the repo, a developer
# user and token on first run, and print how to call it.
set -euo pipefail
hark=${1:?usage: tools/run.sh PATH_TO_HARK}
top=$(cd "$(dirname "$0")/.." && pwd)
data=${HARK_DATA:-$top/var}
listen=${HARK_LISTEN:-127.0.0.1:8056}
mkdir -p "$data"
chmod 700 "$data"

if [ ! -s "$data/dev-token" ]; then
    id=$("$hark" admin --data "$data" user create --email dev@localhost --name Developer |
         sed -n 's/.* id=\([0-9]*\) .*/\1/p')
    (umask 077 && "$hark" admin --data "$data" token --user "$id" --name make-run \
        2>/dev/null > "$data/dev-token")
fi
token=$(cat "$data/dev-token")

# A real model if there is one (HARK_MODEL, or `hark models download NAME
# --dir var/models`); otherwise the random-weight test model, loudly.
installed=("$data"/models/ggml-*.bin)
[ -f "${installed[0]}" ] || installed=()
model=${HARK_MODEL:-${installed[0]:-}}
if [ -z "$model" ]; then
    model=$top/build/models/test.en.bin
    cat >&2 <<WARN

  ******************************************************************
  *  WARNING: no Whisper model found. Serving with a RANDOM-WEIGHT  *
  *  test model: transcripts are gibberish, not your words.         *
  *  Install a real one:  build/release/hark models download base.en *
  *                         --dir var/models   (then make run again) *
  ******************************************************************

WARN
fi

cat <<MSG

Hark is starting on http://$listen (data in $data). Try:
  curl -s http://$listen/healthz
  curl -s -H "X-API-Key: $token" http://$listen/auth/me
  curl -s -H "X-API-Key: $token" -F file=@../shared/data/jfk.wav http://$listen/v1/audio/transcriptions
A meeting bot on a file (files under $data/files; jfk.wav is there):
  curl -s -H "X-API-Key: $token" -H 'Content-Type: application/json' http://$listen/bots -d '{"platform":"file","native_meeting_id":"demo","source_url":"file://$data/files/jfk.wav"}'
  curl -s -H "X-API-Key: $token" http://$listen/transcripts/file/demo

MSG
mkdir -p "$data/files"
[ -f "$data/files/jfk.wav" ] || cp "$top/../shared/data/jfk.wav" "$data/files/" 2>/dev/null || true
vad=$top/../shared/data/for-tests-silero-v6.2.0-ggml.bin
[ -f "$vad" ] && export HARK_VAD_MODEL=${HARK_VAD_MODEL:-$vad}
exec "$hark" serve --data "$data" --listen "$listen" --model "$model" \
    --file-source-dir "${HARK_FILE_SOURCE_DIR:-$data/files}"
