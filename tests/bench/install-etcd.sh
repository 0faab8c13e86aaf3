#!/usr/bin/env bash
# Installs Debian's etcd-server (/usr/bin/etcd) for bench_compare_etcd, which
# runs etcd side by side with Chimera. Idempotent: does nothing when etcd is
# already on PATH. Needs root and apt; the package's own service is kept from
# starting (the bench starts its own members on free ports, temp data dirs).
#   usage: tests/bench/install-etcd.sh        exit 0 installed, 1 could not
set -euo pipefail

if command -v etcd >/dev/null 2>&1; then
  echo "etcd already installed: $(command -v etcd)"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "$0: etcd is missing and installing it needs root: sudo apt-get install etcd-server" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$0: etcd is missing and there is no apt-get; install etcd 3.4+ by hand" >&2
  exit 1
fi

# Keep the package from starting a system etcd on 2379/2380 (on machines
# without systemd its init script would): deny service starts while we install,
# unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
ours=false
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  ours=true
fi
cleanup() { if $ours; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends etcd-server >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y --no-install-recommends etcd-server
fi
command -v etcd >/dev/null 2>&1 || {
  echo "$0: etcd-server installed but no etcd on PATH" >&2
  exit 1
}
echo "installed $(etcd --version 2>/dev/null | head -n 1)"
