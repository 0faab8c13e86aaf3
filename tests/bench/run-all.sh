#!/usr/bin/env bash
# Runs every benchmark program built in BUILD_DIR, one after another (they
# share the machine, so never in parallel). Extra arguments (e.g.
# --seconds 5) are passed to each. The benchmarks print figures and judge
# nothing: a failure here means a federation could not be set up.
#   usage: tests/bench/run-all.sh BUILD_DIR [ARGS...]
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [ARGS...]" >&2
  exit 2
fi
build=$1
shift

shopt -s nullglob
progs=()
for p in "$build"/bench_*; do
  [[ -f $p && -x $p ]] && progs+=("$p")
done
if [[ ${#progs[@]} -eq 0 ]]; then
  echo "$0: no bench_* programs in $build (build it first: make build)" >&2
  exit 1
fi

failed=()
for p in "${progs[@]}"; do
  echo "=== $(basename "$p")"
  if ! "$p" "$@"; then
    failed+=("$(basename "$p")")
  fi
  echo
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "$0: failed: ${failed[*]}" >&2
  exit 1
fi
