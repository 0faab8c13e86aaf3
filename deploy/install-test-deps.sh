#!/usr/bin/env bash
# What the tests need beyond install-deps.sh: Docker and docker-compose from
# Debian, debootstrap for the base images (deploy/base-image.sh) and a running
# Docker engine for the end-to-end test (tests/e2e); Chromium and
# playwright-core (npm ci in tests/browser) for the console's browser tests;
# Prometheus (the server and promtool) for the alert rules. Idempotent and quiet
# when everything is there; `make run` does not call it, `make test` does.
#
#   deploy/install-test-deps.sh          install what is missing, start dockerd if none answers
#   CHIMERA_DOCKERD_LOG=FILE             where a dockerd started here logs (default
#                                        /var/log/chimera-dockerd.log)
#
# A Docker engine that already answers is used as it is. Otherwise dockerd
# is started here, in the background, as root (CI runs as root; a developer
# without root gets told what to run). It is left running: the engine's
# image cache is what makes the next build fast. Its pid is written to
# /run/chimera-dockerd.pid so that whoever wants can stop it.
set -euo pipefail

pkgs=(docker.io docker-compose debootstrap jq chromium prometheus)
missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-test-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The console's browser tests (tests/browser): playwright-core from the npm
# registry, at the version package-lock.json pins (node and npm are the
# machine's). A failure here fails nothing else: the browser test then
# skips, or fails where CI requires it (CHIMERA_REQUIRE_BROWSER=1).
browser_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "install-test-deps: no npm: the console's browser tests will be skipped" >&2
    elif ! (cd "$browser_tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
        echo "install-test-deps: npm ci in $browser_tests failed: the browser tests cannot run" >&2
    else
        echo "install-test-deps: installed playwright-core in $browser_tests/node_modules"
    fi
fi

# The engine: answering already (a service, a developer's), or started here.
if docker info >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: no Docker engine answers; start one (sudo systemctl start docker," >&2
    echo "or as root: dockerd &) and make sure you may use it (the docker group)" >&2
    # Where CI requires the e2e test, that is a failure; elsewhere it is skipped.
    [ "${CHIMERA_REQUIRE_DOCKER:-0}" = 1 ] && exit 1
    echo "install-test-deps: the e2e test will be skipped" >&2
    exit 0
fi
log=${CHIMERA_DOCKERD_LOG:-/var/log/chimera-dockerd.log}
echo "install-test-deps: starting dockerd (log: $log)"
# The Debian package's own daemon, whatever `docker` the PATH finds first.
dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
setsid "$dockerd" </dev/null >>"$log" 2>&1 &
echo $! >/run/chimera-dockerd.pid
deadline=$((SECONDS + 60))
until docker info >/dev/null 2>&1; do
    if ! kill -0 "$(cat /run/chimera-dockerd.pid)" 2>/dev/null; then
        echo "install-test-deps: dockerd exited; the end of $log:" >&2
        tail -n 20 "$log" | sed 's/^/    /' >&2
        exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
        echo "install-test-deps: dockerd did not answer within 60 s; see $log" >&2
        exit 1
    fi
    sleep 0.2
done
echo "install-test-deps: dockerd is up ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))"
