#!/usr/bin/env bash
# Makes the compose federation's secrets (README "Docker compose"): a cluster
# key and an admin token, outside the source tree, and a .env file beside
# docker-compose.yml that tells compose where they are and which uid the
# nodes run as (the uid that owns them: chimerad refuses secret files that
# are not its user's own, mode 0600). Idempotent: existing secrets are kept.
#
#   deploy/compose-secrets.sh [DIR]    DIR default: $CHIMERA_SECRETS_DIR, else
#                                      ~/.config/chimera-compose
#   CHIMERA_ENV_FILE    where the settings go (default .env beside docker-compose.yml)
#
# As root the files are given to uid 10001, the image's user (the nodes never
# run as root); root still reads them for chimeractl on the host. Otherwise
# they stay yours and the nodes run with your uid.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${CHIMERA_SECRETS_DIR:-${HOME:-/root}/.config/chimera-compose}}
case "$dir" in
/*) ;;
*) dir="$PWD/$dir" ;;
esac
case "$dir/" in
"$root"/*)
    echo "compose-secrets: $dir is inside the source tree; secrets go outside it" >&2
    exit 2
    ;;
esac

# 32 random bytes as 64 hex digits: what `chimeractl keygen` writes.
hex32() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

mkdir -p "$dir"
chmod 700 "$dir"
made=""
for f in cluster.key admin.token; do
    if [ ! -s "$dir/$f" ]; then
        (umask 077 && hex32 >"$dir/$f" && echo >>"$dir/$f")
        made="$made $f"
    fi
    chmod 600 "$dir/$f"
done
if [ "$(id -u)" -eq 0 ]; then
    uid=10001 gid=10001
    chown "$uid:$gid" "$dir" "$dir/cluster.key" "$dir/admin.token"
else
    uid=$(id -u) gid=$(id -g)
fi
env=${CHIMERA_ENV_FILE:-$root/.env}
printf '# Written by deploy/compose-secrets.sh; not a secret, never committed.\n' >"$env"
printf 'COMPOSE_PROJECT_NAME=chimera\nCHIMERA_SECRETS_DIR=%s\nCHIMERA_UID=%s\nCHIMERA_GID=%s\n' \
    "$dir" "$uid" "$gid" >>"$env"
[ -z "$made" ] || echo "compose-secrets: made$made in $dir"
echo "compose-secrets: $env points compose at $dir (nodes run as uid $uid)"
echo "chimeractl on the host:"
echo "  export CHIMERA_ADDR=127.0.0.1:8201,127.0.0.1:8202,127.0.0.1:8203,127.0.0.1:8204,127.0.0.1:8205"
echo "  export CHIMERA_ADMIN_TOKEN_FILE=$dir/admin.token"
