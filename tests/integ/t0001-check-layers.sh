# tools/check-layers.sh passes on the real tree, names the file, header and
# layers of a lower layer including a higher one (from src/ and from
# include/hark/), and lets a layer include its own, lower and sibling layers.
. "$(dirname "$0")/lib.sh"

check=$HARK_ROOT/tools/check-layers.sh

out=$("$check" "$HARK_ROOT" 2>&1) || fail "check-layers fails on the real tree: $out"

fake=$TMPDIR/tree
mkdir -p "$fake/include/hark" "$fake/src/core" "$fake/src/store" "$fake/src/audio" \
         "$fake/src/http" "$fake/src/bin"
for h in error banned store alog ws; do
    echo '#include "hark/error.h"' >"$fake/include/hark/$h.h"
done
echo '#include "hark/error.h"' >"$fake/src/core/error.c"
echo '#include "hark/alog.h"' >"$fake/src/audio/alog.c"
echo '#include "hark/ws.h"' >"$fake/src/http/ws_frame.c"
printf '#include "hark/store.h"\n#include "hark/alog.h"\n#include "hark/error.h"\n' \
    >"$fake/src/store/store_sqlite.c"
printf '#include <hark/ws.h>\n#include "hark/store.h"\n' >"$fake/src/bin/main.c"

out=$("$check" "$fake" 2>&1) || fail "check-layers rejects a well-layered tree: $out"

printf '#include "hark/banned.h"\n  #  include "hark/ws.h"\n' >"$fake/src/core/log.c"
printf '#include "hark/error.h"\n#include "hark/store.h"\n' >"$fake/include/hark/banned.h"
rc=0
out=$("$check" "$fake" 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "check-layers exited $rc on a bad include, want 1: $out"
want='src/core/log.c includes hark/ws.h (http) from layer core
include/hark/banned.h includes hark/store.h (store) from layer core'
[ "$out" = "$want" ] || fail "check-layers printed:
$out
want:
$want"
