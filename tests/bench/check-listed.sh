#!/usr/bin/env bash
# Every benchmark program (tests/bench/NAME.c, built as bench_NAME) is
# named in tests/bench/run-all.sh's list and in the README, so that a new
# one is not run and read about by nobody. Prints each one missing, with
# where, and exits 1.
#   usage: tests/bench/check-listed.sh [SOURCE_DIR]
set -euo pipefail
root=${1:-$(dirname "$0")/../..}
missing=0
for src in "$root"/tests/bench/*.c; do
  name=bench_$(basename "$src" .c)
  for doc in tests/bench/run-all.sh README.md; do
    if ! grep -q "${name}\b" "$root/$doc"; then
      echo "$doc: $name (tests/bench/$(basename "$src")) is not mentioned" >&2
      missing=1
    fi
  done
done
exit $missing
