#!/bin/sh
# The layer check's own test: against fixture/bad it must fail and name every
# violation by file:line; against fixture/good (only allowed arrows, and no
# node/base, node/net or witness/ folder at all) it must pass. The fixtures
# are text for grep, never compiled.
set -u
here=$(cd "$(dirname "$0")" && pwd)
check="$here/check_layers.sh"
fail() { echo "selftest: $*" >&2; exit 1; }

out=$(sh "$check" "$here/fixture/bad")
rc=$?
[ "$rc" -eq 1 ] || fail "fixture/bad: exit $rc, want 1; it said:
$out"
for want in \
    'node/base/events.c:3: layer violation: node/base must not include "node/api/api.h"' \
    'node/net/http.c:2: layer violation: node/net must not include "node/raft/raft.h"' \
    'node/raft/repl.c:4: layer violation: node/raft must not include "node/witness/witness.h"' \
    'node/deploy/plan.c:2: layer violation: node/deploy must not include "node/api/routes.h"' \
    'ctl/main.c:3: layer violation: ctl must not include "node/node.h"' \
    'consensus/core.c:2: layer violation: consensus must not include <uv.h>' \
    'pipeline/core/judge.c:3: layer violation: pipeline/core must not include "pipeline/exec/probe.h"' \
    'wire/scan.h:2: layer violation: wire must not include <nng/nng.h>' \
    'wire/scan.h:3: layer violation: wire must not include <curl/curl.h>' \
    'node/witness/episodes.c:2: layer violation: node must not include "../api/api.h"' \
    'node/deploy/plan.c:3: layer violation: node/deploy must not include "node/chaos/watch.h"' \
    'node/chaos/watch.c:2: layer violation: node/chaos must not include "node/api/api.h"'; do
    printf '%s\n' "$out" | grep -qF "$want" || fail "fixture/bad: missing
  $want
in:
$out"
done
n=$(printf '%s\n' "$out" | grep -c 'layer violation')
[ "$n" -eq 12 ] || fail "fixture/bad: $n violations, want 12:
$out"

out=$(sh "$check" "$here/fixture/good")
rc=$?
[ "$rc" -eq 0 ] || fail "fixture/good: exit $rc, want 0; it said:
$out"
echo "selftest: ok"
