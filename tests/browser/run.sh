#!/bin/sh
# CTest's entry for the console's browser tests (README "Console"):
#   run.sh BUILD_DIR
# Runs console.test.js with node against BUILD_DIR/chimerad, headless
# Chromium at /usr/bin/chromium (CHIMERA_CHROMIUM), screenshots into
# BUILD_DIR/browser-screenshots. Exits 77 (CTest's skip) when node, Chromium
# or playwright-core (deploy/install-test-deps.sh installs them) is missing,
# unless CHIMERA_REQUIRE_BROWSER=1 (CI): then that is a failure.
set -u
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHIMERA_CHROMIUM:-/usr/bin/chromium}

missing=""
command -v node >/dev/null 2>&1 || missing="node"
[ -x "$chromium" ] || missing="${missing:+$missing, }Chromium ($chromium)"
[ -d "$here/node_modules/playwright-core" ] || missing="${missing:+$missing, }playwright-core (npm ci in tests/browser)"
if [ -n "$missing" ]; then
    echo "browser tests: missing $missing; deploy/install-test-deps.sh installs them" >&2
    if [ "${CHIMERA_REQUIRE_BROWSER:-0}" = 1 ]; then
        echo "browser tests: CHIMERA_REQUIRE_BROWSER=1: failing" >&2
        exit 1
    fi
    exit 77
fi
rm -rf "$build/browser-screenshots"
cd "$here" && exec node console.test.js "$build/chimerad" "$build/browser-screenshots"
