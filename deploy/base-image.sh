#!/usr/bin/env bash
# Makes the base image deploy/Dockerfile builds from, when the local Docker
# engine does not have it yet. No registry is needed (none may be reachable):
# the image is a Debian bookworm root filesystem made with debootstrap from
# the Debian mirror (the one apt uses) and imported with `docker import`.
#
#   deploy/base-image.sh               make chimera-build-base:bookworm unless it exists
#   deploy/base-image.sh --force       make it again (e.g. to pick up Debian updates)
#   deploy/base-image.sh --background  make it, unless it exists, in the background and return
#                                      at once (`make test` does, so that debootstrap, which
#                                      mostly waits on the mirror, overlaps the build and the
#                                      tests; the e2e test then waits for it)
#
#   CHIMERA_DEBIAN_MIRROR   the Debian mirror (default http://deb.debian.org/debian)
#
# The build dependencies are baked in (debootstrap --include), so `docker
# build` runs no apt and needs no network. The runtime stage of the
# Dockerfile starts FROM scratch and holds only the binaries and the
# libraries ldd names, so no runtime base is needed. Runs as root (or with
# sudo): debootstrap makes device nodes and chowns files.
set -euo pipefail

image=chimera-build-base:bookworm
# What the build stage compiles with: install-deps.sh's list without the
# tools only tests and `make run` use.
pkgs=build-essential,cmake,pkg-config,libuv1-dev,libnng-dev,libmsgpack-dev,libsodium-dev
pkgs=$pkgs,libcurl4-openssl-dev,libjansson-dev,libcmocka-dev,libhttp-parser-dev

force=0
background=0
case "${1:-}" in
--force) force=1 ;;
--background) background=1 ;;
'') ;;
-h | --help)
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "base-image: unknown argument '$1' (see deploy/base-image.sh --help)" >&2
    exit 2
    ;;
esac

if [ $force = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi

# One maker at a time: a second run (the e2e test's, while `make test`'s
# background one is under way) waits for the first, then finds the image.
lock=${TMPDIR:-/tmp}/chimera-base-image.lock
if [ $background = 1 ]; then
    log=${TMPDIR:-/tmp}/chimera-base-image.log
    echo "base-image: making $image in the background (log: $log)"
    setsid "$0" </dev/null >"$log" 2>&1 &
    exit 0
fi
exec 9>"$lock"
if ! flock -n 9; then
    echo "base-image: another run is making $image; waiting for it"
    flock 9
fi
if [ $force = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    echo "base-image: debootstrap is missing: apt-get install debootstrap (or deploy/install-test-deps.sh)" >&2
    exit 1
fi

mirror=${CHIMERA_DEBIAN_MIRROR:-http://deb.debian.org/debian}

root=$(mktemp -d /tmp/chimera-base.XXXXXX)
cleanup() { $sudo rm -rf --one-file-system "$root"; }
trap cleanup EXIT
echo "base-image: debootstrap bookworm from $mirror into $root (a few minutes)"
start=$SECONDS
if ! $sudo env PATH="/usr/sbin:/sbin:$PATH" debootstrap --variant=minbase --include="$pkgs" \
    bookworm "$root/fs" "$mirror" >"$root.log" 2>&1; then
    echo "base-image: debootstrap failed; the end of its log ($root.log):" >&2
    tail -n 20 "$root.log" | sed 's/^/    /' >&2
    exit 1
fi
# Smaller and reproducible enough: no package lists, caches or docs.
$sudo rm -rf "$root/fs/var/cache/apt/archives/"*.deb "$root/fs/var/lib/apt/lists/"* \
    "$root/fs/usr/share/doc" "$root/fs/usr/share/man" "$root/fs/usr/share/info"
$sudo tar -C "$root/fs" --numeric-owner -c . |
    docker import --change 'CMD ["/bin/bash"]' --message "debootstrap bookworm ($mirror)" - "$image" >/dev/null
rm -f "$root.log"
echo "base-image: $image made in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$image" |
    awk '{printf "%d MB", $1 / 1e6}'))"
