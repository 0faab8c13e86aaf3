#!/bin/sh
# promtool on deploy/prometheus (CTest: monitoring.promtool_*):
#
#   tests/monitoring/promtool.sh config SRC   every scrape config (and the rules it loads) is valid
#   tests/monitoring/promtool.sh rules SRC    the alert rules are valid
#   tests/monitoring/promtool.sh test SRC     the rules' unit tests (deploy/prometheus/tests) pass
#
# Exits 77 (skipped) when promtool is not on PATH, unless
# CHIMERA_REQUIRE_PROMETHEUS=1 (CI): then that is a failure.
set -eu
mode=${1:?config, rules or test}
dir=${2:?the source tree}/deploy/prometheus
if ! command -v promtool >/dev/null 2>&1; then
    if [ "${CHIMERA_REQUIRE_PROMETHEUS:-0}" = 1 ]; then
        echo "promtool.sh: promtool is not on PATH (deploy/install-test-deps.sh installs prometheus)" >&2
        exit 1
    fi
    echo "promtool.sh: skipped: promtool is not on PATH"
    exit 77
fi
case "$mode" in
config) promtool check config "$dir"/prometheus*.yml ;;
rules) promtool check rules "$dir"/alerts.yml ;;
test) promtool test rules "$dir"/tests/*.yml ;;
*)
    echo "promtool.sh: unknown mode '$mode' (config, rules or test)" >&2
    exit 2
    ;;
esac
