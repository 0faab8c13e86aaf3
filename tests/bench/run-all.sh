#!/usr/bin/env bash
# Runs every benchmark program built in BUILD_DIR, one after another (they
# share the machine, so never in parallel). Extra arguments (e.g.
# --seconds 5) are passed to each, so with BENCH_ONLY, a comma list of
# names without the bench_ prefix (e.g. BENCH_ONLY=drills), only those run:
# the programs take different flags. bench_drills (time to recover per
# fault kind, issue 12) takes --runs N (default 10) and --kinds.
# bench_compare_etcd (Chimera beside etcd, issue 15) takes --runs,
# --seconds, --pairs, --only, --json; it exits 77, counted as skipped, when etcd is
# not installed (tests/bench/install-etcd.sh installs it). The
# benchmarks print figures and judge nothing: a failure here means a
# federation could not be set up or did not recover at all.
# Every benchmark, with its flags (tests/bench/*.c; a new one is picked
# up by its name, bench_*):
#   bench_compare_etcd [--runs N] [--seconds S] [--pairs N] [--only LIST] [--json] [--curl]
#   bench_drills [--runs N] [--kinds leader,isolate,service,release] [--seed S]
#   bench_events_stream [--seconds N] [--streams a,b,c]
#   bench_failover [--rounds N] [--pause-rounds N] [--minority-rounds N] [--seed S]
#   bench_handover [--rounds N]
#   bench_http_state [--seconds N] [--concurrency a,b,c]
#   bench_idle [--seconds N]
#   bench_ledger [--nodes N] [--seconds N] [--writers a,b,c] [--batch-writers a,b] [--curl]
#   bench_ledger_store [--dir DIR] [--entries N] [--payload BYTES]
#   bench_loop_stall [--seconds N] [--readers a,b,c]
#   bench_rollback [--runs N]
#   bench_transport_floor [--seconds N] [--size BYTES] [--window a,b] [--paced R]
#   usage: [BENCH_ONLY=a,b] tests/bench/run-all.sh BUILD_DIR [ARGS...]
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [ARGS...]" >&2
  exit 2
fi
build=$1
shift

shopt -s nullglob
progs=()
only=",${BENCH_ONLY:-},"
for p in "$build"/bench_*; do
  name=$(basename "$p")
  [[ -n ${BENCH_ONLY:-} && $only != *",${name#bench_},"* ]] && continue
  [[ -f $p && -x $p ]] && progs+=("$p")
done
if [[ ${#progs[@]} -eq 0 ]]; then
  echo "$0: no bench_* programs${BENCH_ONLY:+ named $BENCH_ONLY} in $build (build it first: make build)" >&2
  exit 1
fi

failed=()
for p in "${progs[@]}"; do
  echo "=== $(basename "$p")"
  rc=0
  "$p" "$@" || rc=$?
  if [[ $rc -eq 77 ]]; then
    echo "(skipped)"
  elif [[ $rc -ne 0 ]]; then
    failed+=("$(basename "$p")")
  fi
  echo
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "$0: failed: ${failed[*]}" >&2
  exit 1
fi
