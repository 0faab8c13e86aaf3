#!/bin/sh
# The layer check: which folder may include which. Fails (exit 1) naming
# file:line for every #include that points the wrong way:
#   node/base, node/net      -> node/raft, node/witness, node/deploy, node/api
#   node/raft                -> node/witness, node/deploy, node/api
#   node/witness, node/deploy -> node/api
#   node/base, node/net, node/raft, node/witness, node/deploy -> node/chaos
#   node/chaos (the chaos shells, between api and deploy) -> node/api
#   ctl/ (chimeractl, a client of the HTTP API) -> anything of node/
#   a pure core (consensus/, pipeline/core/, wire/, witness/, chaos/) -> uv.h,
#     nng/*, curl/*, node/*, pipeline/exec/* (cores without I/O)
# and, in any of those folders, a relative "../" include (it would slip past
# the rules above). A folder that does not exist is skipped.
#
# Usage: check_layers.sh [ROOT]   (ROOT: the source tree, default: this repo)
set -u

root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -d "$root" ] || { echo "check_layers: no such folder: $root" >&2; exit 2; }
tmp=${TMPDIR:-/tmp}/check_layers.$$
trap 'rm -f "$tmp"' EXIT INT TERM

# forbid DIR REGEX WHY: no .c/.h file under ROOT/DIR includes a header whose
# path matches REGEX (an extended regex on the text between <> or "").
forbid() {
    [ -d "$root/$1" ] || return 0
    find "$root/$1" -type f \( -name '*.c' -o -name '*.h' \) | sort | while IFS= read -r f; do
        grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" "$f" |
            while IFS= read -r hit; do
                line=${hit%%:*}
                text=${hit#*:}
                echo "${f#"$root"/}:$line: layer violation: $1 must not include $(echo "$text" |
                    sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*//') ($3)"
            done
    done
}

{
    for d in node/base node/net; do
        forbid "$d" 'node/(raft|witness|deploy|api)/' \
            'a lower layer reaches up only through hooks and callbacks'
    done
    forbid node/raft 'node/(witness|deploy|api)/' \
        'a lower layer reaches up only through hooks and callbacks'
    for d in node/witness node/deploy; do
        forbid "$d" 'node/api/' 'a lower layer reaches up only through hooks and callbacks'
    done
    for d in node/base node/net node/raft node/witness node/deploy; do
        forbid "$d" 'node/chaos/' 'the chaos shells sit above; reach them through hooks'
    done
    forbid node/chaos 'node/api/' 'a lower layer reaches up only through hooks and callbacks'
    forbid ctl 'node/' 'chimeractl is a client of the HTTP API'
    for d in consensus pipeline/core wire witness chaos; do
        forbid "$d" 'uv\.h|nng/|curl/|node/|pipeline/exec/' 'a pure core does no I/O'
    done
    for d in node ctl consensus pipeline wire witness chaos; do
        forbid "$d" '\.\./' 'include from the root so the layer check sees it'
    done
} >"$tmp"

if [ -s "$tmp" ]; then
    cat "$tmp"
    echo "check_layers: $(wc -l <"$tmp" | tr -d ' ') include(s) against the layers (design.md, Layout)"
    exit 1
fi
echo "check_layers: ok"
exit 0
