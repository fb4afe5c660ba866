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

cat <<MSG

Hark is starting on http://$listen (data in $data). Try:
  curl -s http://$listen/healthz
  curl -s -H "X-API-Key: $token" http://$listen/auth/me

MSG
exec "$hark" serve --data "$data" --listen "$listen"
