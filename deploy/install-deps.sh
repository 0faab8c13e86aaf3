#!/usr/bin/env bash
# Installs the Debian packages Chimera builds and tests with. Idempotent, and
# quiet when everything is already there.
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libuv1-dev libnng-dev libmsgpack-dev libsodium-dev
      libcurl4-openssl-dev libjansson-dev libcmocka-dev libhttp-parser-dev
      curl iproute2 procps)

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
