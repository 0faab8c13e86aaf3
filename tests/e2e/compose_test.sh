#!/usr/bin/env bash
# End-to-end: the docker compose federation (docker-compose.yml) with real
# containers, killed, cut off and frozen by Docker itself (issue 13).
#
#   tests/e2e/compose_test.sh BUILD     BUILD: a build directory with chimeractl
#
# Builds the image (deploy/base-image.sh, then deploy/Dockerfile), starts the
# five nodes under a project name of its own with free loopback ports, and
# checks, each time by waiting on a condition with a deadline:
#   1. one leader; the demo release deploys and becomes stable;
#   2. docker kill of the leader's container: a new leader, the release stays
#      healthy on the others, notes posted meanwhile are acknowledged and on
#      every node, or refused; the container comes back and catches up;
#   3. docker network disconnect of two followers: they turn read-only and
#      refuse a deployment with 503 (chimeractl exit 7); the other three keep a
#      leader and commit notes; reconnected: one leader, identical heads;
#   4. docker pause of the leader past the election timeout: a new leader;
#      unpaused, the old one follows it and nothing acknowledged is lost;
#   5. the built-in drill leader-loss (its kill_node makes chimerad exit 75;
#      the restart policy brings the container back);
#   6. compose stop/start and restart: every node's ledger verifies offline,
#      one leader, the same head everywhere, the release still stable.
# Everything it made (containers, network, volumes, secrets) is removed at the
# end, also when it fails. It talks to the nodes only through their published
# 127.0.0.1 ports and `docker exec`.
#
# No Docker engine: skipped (exit 77), or a failure when CHIMERA_REQUIRE_DOCKER=1.
# CHIMERA_E2E_KEEP=1 keeps the federation after a failure, to look at it.
set -euo pipefail

build=${1:?usage: tests/e2e/compose_test.sh BUILD}
root=$(cd "$(dirname "$0")/../.." && pwd)
case "$build" in /*) ;; *) build="$PWD/$build" ;; esac
chimeractl="$build/chimeractl"
t0=$SECONDS

say() { echo "e2e [$((SECONDS - t0))s] $*"; }
fail() {
    echo "e2e FAILED: $*" >&2
    exit 1
}

if ! docker info >/dev/null 2>&1; then
    if [ "${CHIMERA_REQUIRE_DOCKER:-0}" = 1 ]; then
        fail "no Docker engine answers and CHIMERA_REQUIRE_DOCKER=1 (deploy/install-test-deps.sh starts one)"
    fi
    echo "e2e SKIPPED: no Docker engine answers (deploy/install-test-deps.sh installs and starts one)"
    exit 77
fi
for tool in jq curl; do
    command -v $tool >/dev/null || fail "$tool is missing (deploy/install-test-deps.sh)"
done

# The compose client: the plugin when there is one, else docker-compose 1.x.
if [ -n "${CHIMERA_COMPOSE:-}" ]; then
    read -r -a compose_cmd <<<"$CHIMERA_COMPOSE"
elif docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose_cmd=(docker-compose)
else
    fail "neither 'docker compose' nor docker-compose is installed"
fi
say "docker $(docker version --format '{{.Client.Version}} (client), {{.Server.Version}} (engine)'), compose: ${compose_cmd[*]} $("${compose_cmd[@]}" version --short 2>/dev/null || true)"

work=$(mktemp -d /tmp/chimera-e2e.XXXXXX)
project="chimera-e2e-$$"
export COMPOSE_PROJECT_NAME=$project
compose() {
    "${compose_cmd[@]}" -f "$root/docker-compose.yml" -f "$root/tests/e2e/docker-compose.e2e.yml" \
        --project-directory "$root" "$@"
}
# A subnet no other network on this engine uses (see docker-compose.e2e.yml).
# shellcheck disable=SC2046 # one argument per network
used=$(docker network inspect $(docker network ls -q) -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null || true)
for k in $(seq $((RANDOM % 200)) 255) $(seq 0 255); do
    case " $used " in *" 10.213.$k.0/24 "*) continue ;; esac
    export CHIMERA_E2E_NET=10.213.$k
    break
done

# Five free loopback ports for the nodes' HTTP, below the ephemeral range
# (32768 and up), where outgoing connections take theirs.
pick_ports() {
    ports=()
    local port=$((20000 + RANDOM % 12000))
    while [ ${#ports[@]} -lt 5 ]; do
        port=$((port + 1))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || ports+=("$port")
    done
    for i in 1 2 3 4 5; do export "CHIMERA_PORT_N$i=${ports[$((i - 1))]}"; done
}
pick_ports

teardown() {
    local rc=$?
    set +e
    if [ $rc -ne 0 ]; then
        echo "e2e: every node's state (role, leader, term, read_only, committed, head):" >&2
        for i in 1 2 3 4 5; do
            echo "    n$i: $(state "$i" | jq -c '[.role, .leader, .term, .read_only, .ledger.committed, .ledger.head]' 2>&1)" >&2
        done
        echo "e2e: the end of every node's log:" >&2
        for i in 1 2 3 4 5; do
            echo "---- n$i" >&2
            docker logs --tail 25 "$(cid "$i")" 2>&1 | sed 's/^/    /' >&2
        done
    fi
    if [ $rc -ne 0 ] && [ "${CHIMERA_E2E_KEEP:-0}" = 1 ]; then
        echo "e2e: kept the federation: COMPOSE_PROJECT_NAME=$project, secrets in $work" >&2
        exit $rc
    fi
    for i in 1 2 3 4 5; do docker unpause "$(cid "$i" 2>/dev/null)" >/dev/null 2>&1; done
    compose down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1
    rm -rf "$work"
    say "torn down (containers, network, volumes, secrets)"
    exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

# ---- the image -----------------------------------------------------------
s=$SECONDS
"$root/deploy/base-image.sh"
say "base image ready in $((SECONDS - s)) s"
s=$SECONDS
image=${CHIMERA_IMAGE:-chimera:local}
export CHIMERA_IMAGE=$image
DOCKER_BUILDKIT=0 docker build -q -f "$root/deploy/Dockerfile" -t "$image" "$root" >/dev/null
say "image $image built in $((SECONDS - s)) s, $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1 / 1e6}')"

# ---- secrets and start ---------------------------------------------------
CHIMERA_ENV_FILE="$work/env" "$root/deploy/compose-secrets.sh" "$work/secrets" >/dev/null
set -a
# shellcheck source=/dev/null
. "$work/env"
set +a
export COMPOSE_PROJECT_NAME=$project # not the env file's
token="$work/secrets/admin.token"
# The injector stays off (CHIMERA_CHAOS_ENABLED unset); kill_node is listed so
# that the leader-loss drill may kill the leader (it is refused unless listed).
export CHIMERA_CHAOS_FAULTS=kill_service,pause_service,isolate_node,delay_messages,kill_node
# A port taken between the probe and the start (another test, a client's
# connection): other ports, up to three times.
for attempt in 1 2 3; do
    compose up -d --no-build >/dev/null 2>"$work/up.log" && break
    grep -q 'address already in use' "$work/up.log" && [ $attempt -lt 3 ] || {
        cat "$work/up.log" >&2
        fail "compose up"
    }
    compose down --volumes --timeout 5 >/dev/null 2>&1
    pick_ports
done
say "started project $project on 127.0.0.1 ports ${ports[*]}"

cid() { compose ps -q "n$1"; }
net="${project}_federation"
http() { echo "127.0.0.1:${ports[$(($1 - 1))]}"; }
# chimeractl on the host against node i's published port, then the others'
# (a follower's 307 names the leader's address inside the network, which the
# host cannot reach: chimeractl finds the leader among --addr instead).
ctl() {
    local i=$1 k addrs
    shift
    addrs=$(http "$i")
    for k in 1 2 3 4 5; do [ "$k" = "$i" ] || addrs="$addrs,$(http "$k")"; done
    "$chimeractl" --addr "$addrs" --token-file "$token" --timeout-ms 2000 "$@"
}
state() { curl -fsS --max-time 2 "http://$(http "$1")/federation/state" 2>/dev/null; }
# Inside node i's container (works when it is cut off from every network).
in_node() {
    local i=$1
    shift
    docker exec -i "$(cid "$i")" chimeractl --timeout-ms 2000 "$@"
}

# Waits until "$@" succeeds, at most $1 seconds, polling.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "$what: not within $secs s"
        sleep 0.2
    done
    say "$what"
}

# The nodes of a list (default all) agree on one leader, which is one of
# them and says it leads; prints it.
agreed_leader() {
    local nodes=${1:-1 2 3 4 5} leader="" i s l
    for i in $nodes; do
        s=$(state "$i") || return 1
        l=$(jq -r '.leader // ""' <<<"$s")
        [ -n "$l" ] && [ "$(jq -r .read_only <<<"$s")" = false ] || return 1
        [ -z "$leader" ] || [ "$leader" = "$l" ] || return 1
        leader=$l
    done
    case " $nodes " in *" ${leader#n} "*) ;; *) return 1 ;; esac
    [ "$(state "${leader#n}" | jq -r .role)" = leader ] || return 1
    echo "${leader#n}"
}
# The leader the nodes of a list (default all) agree on, waiting for them
# to agree (an election may be under way): a bare $(agreed_leader) that
# finds none makes `set -e` end the test without a word.
leader_of() {
    local deadline=$((SECONDS + 60)) l
    until l=$(agreed_leader "$@"); do
        [ $SECONDS -lt $deadline ] || fail "no leader agreed by ${1:-all five} within 60 s"
        sleep 0.2
    done
    echo "$l"
}
# The entry at index idx of node i's ledger: its hash, or nothing.
hash_at() { curl -fsS --max-time 2 "http://$(http "$1")/ledger?from=$2&limit=1" | jq -r '(.entries // .)[0].hash // empty'; }
# Every node of the list holds the leader's committed head, the same entry
# (its hash) at the same index. Entries keep coming (checkpoints, records):
# the head the leader names once, not five snapshots that must coincide.
same_head() {
    local nodes=${1:-1 2 3 4 5} l idx want i
    l=$(agreed_leader "$nodes") || return 1
    idx=$(state "$l" | jq -r .ledger.committed) || return 1
    want=$(hash_at "$l" "$idx") || return 1
    [ -n "$want" ] || return 1
    for i in $nodes; do
        [ "$(state "$i" | jq -r .ledger.committed)" -ge "$idx" ] 2>/dev/null || return 1
        [ "$(hash_at "$i" "$idx")" = "$want" ] || return 1
    done
}
one_leader_same_head() { agreed_leader "$@" >/dev/null && same_head "$@"; }
release_healthy_on() {
    local i
    for i in $1; do
        [ "$(state "$i" | jq -r '"\(.release.version) \(.release.health)"')" = "1.0.0 healthy" ] ||
            return 1
    done
}
others() {
    local i out=""
    for i in 1 2 3 4 5; do case " $* " in *" $i "*) ;; *) out="$out $i" ;; esac; done
    echo "$out"
}
running() { [ "$(docker inspect -f '{{.State.Running}} {{.State.Paused}}' "$(cid "$1")")" = "true false" ]; }
read_only_in() { [ "$(in_node "$1" --json status 2>/dev/null | jq -r .read_only)" = true ]; }

# Notes: each acknowledged one is recorded (index and text) to be looked for
# on every node at the end of a step; a refused one is fine.
acked="$work/acked"
: >"$acked"
note() {
    local i=$1 text=$2 out
    if out=$(ctl "$i" --json ledger note "$text" 2>"$work/note.err"); then
        echo "$(jq -r .first_index <<<"$out") $text" >>"$acked"
        return 0
    fi
    return 1
}
# Posts notes to the given nodes in turn until the file $1 exists.
note_loop() {
    local stop=$1 k=0 i
    shift
    while [ ! -e "$stop" ]; do
        for i in "$@"; do
            k=$((k + 1))
            note "$i" "$project note $k via n$i" || true
        done
    done
}
# Every acknowledged note is in every node's ledger, at its index, the same
# entry everywhere.
notes_everywhere() {
    local idx text i hash first
    while read -r idx text; do
        first=""
        for i in 1 2 3 4 5; do
            hash=$(hash_at "$i" "$idx") || return 1
            [ -n "$hash" ] || return 1
            [ -z "$first" ] || [ "$first" = "$hash" ] || return 1
            first=$hash
        done
        ctl 1 ledger show "$idx" 2>/dev/null | grep -qF "$text" || return 1
    done <"$acked"
}

# ---- 1. a leader, the demo release ---------------------------------------
live() { "$chimeractl" --addr "$(http "$1")" --timeout-ms 2000 health; }
for i in 1 2 3 4 5; do wait_for 60 "n$i is live" live "$i"; done
wait_for 60 "one leader agreed by all five" agreed_leader
ctl 1 deploy "$root/deploy/examples/demo-good.json" --wait --timeout 180s >"$work/deploy.log" 2>&1 || {
    cat "$work/deploy.log" >&2
    fail "the demo release did not become stable"
}
wait_for 60 "demo 1.0.0 stable and healthy on every node" release_healthy_on "1 2 3 4 5"
note 1 "$project before the failover" || fail "a note to a healthy federation was refused: $(cat "$work/note.err")"

# ---- 2. docker kill the leader ---------------------------------------------
L=$(leader_of)
rest=$(others "$L")
restarts=$(docker inspect -f '{{.RestartCount}}' "$(cid "$L")")
rm -f "$work/stop"
# shellcheck disable=SC2086 # word lists
note_loop "$work/stop" $rest &
loop=$!
# SIGKILL to the container's chimerad, what `docker kill` sends. `docker kill`
# itself counts as an operator's stop for Docker 20.10 (Debian's), which then
# leaves the container down whatever its restart policy; a process killed
# from outside is a crash, which the policy restarts. Without root, the
# process may not be ours to kill: docker kill, and docker start after.
pid=$(docker inspect -f '{{.State.Pid}}' "$(cid "$L")")
if [ "$(id -u)" = 0 ]; then
    kill -KILL "$pid"
    say "killed n$L's container (the leader): SIGKILL to its chimerad, pid $pid on the host"
else
    docker kill "$(cid "$L")" >/dev/null
    say "killed n$L's container (the leader) with docker kill"
fi
# shellcheck disable=SC2086
new_leader_without_L() { l=$(agreed_leader "$rest") && [ "$l" != "$L" ]; }
wait_for 60 "a new leader among the other four" new_leader_without_L
wait_for 60 "the release healthy on the other four" release_healthy_on "$rest"
before=$(wc -l <"$acked")
more_acked() { [ "$(wc -l <"$acked")" -gt "$before" ]; }
wait_for 60 "notes acknowledged after the failover" more_acked
touch "$work/stop"
wait "$loop"
came_back() { running "$L" && [ "$(docker inspect -f '{{.RestartCount}}' "$(cid "$L")")" -gt "$restarts" ]; }
if [ "$(id -u)" = 0 ]; then
    wait_for 120 "n$L's container restarted by its restart policy" came_back
else
    docker start "$(cid "$L")" >/dev/null
    wait_for 60 "n$L's container started again" running "$L"
fi
wait_for 120 "n$L caught up: one leader, the same head on all five" one_leader_same_head
wait_for 60 "every acknowledged note ($(wc -l <"$acked")) on every node" notes_everywhere

# ---- 3. cut two followers off ----------------------------------------------
L=$(leader_of)
# shellcheck disable=SC2046 # the two first followers
set -- $(others "$L")
A=$1 B=$2
majority=$(others "$A" "$B")
# They come back with new addresses (docker gives the lowest free one of the
# pool, below the fixed ones of docker-compose.e2e.yml): the connections they
# had opened from the old ones are black-holed, and the transport must find
# them dead and redial (transport.pipe_stale) for their ledgers to catch up.
for i in $A $B; do
    docker network disconnect "$net" "$(cid "$i")"
done
say "disconnected n$A and n$B from $net"
wait_for 60 "n$A and n$B are read-only" eval "read_only_in $A && read_only_in $B"
for i in $A $B; do
    rc=0
    in_node "$i" --token-file /run/chimera/admin.token deploy - \
        <"$root/deploy/examples/demo-good.json" >"$work/refused.log" 2>&1 || rc=$?
    [ $rc = 7 ] || {
        cat "$work/refused.log" >&2
        fail "n$i, cut off, answered a deployment with exit $rc, not 7 (503)"
    }
done
say "n$A and n$B refuse a deployment with 503"
# shellcheck disable=SC2086
wait_for 60 "the other three keep one leader" agreed_leader "$majority"
m=$(leader_of "$majority")
note "$m" "$project during the partition" || fail "the majority refused a note"
for i in $A $B; do docker network connect --alias "n$i" "$net" "$(cid "$i")"; done
say "reconnected n$A and n$B"
wait_for 120 "one leader, identical heads on all five" one_leader_same_head
wait_for 60 "every acknowledged note on every node" notes_everywhere

# ---- 4. pause the leader ---------------------------------------------------
L=$(leader_of)
rest=$(others "$L")
note "$L" "$project before the pause" || fail "a note before the pause was refused"
docker pause "$(cid "$L")" >/dev/null
say "paused n$L's container (the leader)"
# shellcheck disable=SC2086
wait_for 60 "a new leader among the other four" new_leader_without_L
m=$(leader_of "$rest")
note "$m" "$project while n$L is paused" || fail "a note while the old leader is paused was refused"
docker unpause "$(cid "$L")" >/dev/null
say "unpaused n$L"
follows() { [ "$(state "$L" | jq -r '"\(.role) \(.leader)"')" = "follower n$m" ] ||
    { m=$(agreed_leader) && [ "$m" != "$L" ] && [ "$(state "$L" | jq -r .role)" = follower ]; }; }
wait_for 60 "n$L stepped down and follows the new leader" follows
wait_for 60 "one leader, identical heads on all five" one_leader_same_head
wait_for 60 "every acknowledged note on every node" notes_everywhere

# ---- 5. a built-in drill ---------------------------------------------------
addrs=""
for i in 1 2 3 4 5; do addrs="${addrs:+$addrs,}$(http "$i")"; done
wait_for 60 "every container healthy before the drill" eval \
    '[ "$(for i in 1 2 3 4 5; do docker inspect -f "{{.State.Health.Status}}" "$(cid $i)"; done | sort -u)" = healthy ]'
rc=0
"$chimeractl" --addr "$addrs" --token-file "$token" drill run leader-loss \
    --journal "$work/leader-loss.json" >"$work/drill.log" 2>&1 || rc=$?
sed 's/^/    /' "$work/drill.log"
[ $rc = 0 ] || fail "drill leader-loss: exit $rc (0 = held)"
say "drill leader-loss held"
wait_for 120 "after the drill: all five back, one leader, the same head" one_leader_same_head

# ---- 6. stop/start, restart: the data survives -----------------------------
compose stop --timeout 20 >/dev/null 2>&1
say "stopped every container"
for i in 1 2 3 4 5; do
    vol=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}' "$(cid "$i")")
    docker run --rm --user "$CHIMERA_UID:$CHIMERA_GID" --entrypoint chimeractl --network none \
        -v "$vol:/data" "$image" ledger verify --data /data/node >"$work/verify.log" 2>&1 || {
        cat "$work/verify.log" >&2
        fail "n$i's ledger does not verify after stop"
    }
done
say "every node's ledger verifies (chimeractl ledger verify on its volume)"
compose start >/dev/null 2>&1
wait_for 120 "started again: one leader, the same head on all five" one_leader_same_head
wait_for 60 "demo 1.0.0 healthy on every node after start" release_healthy_on "1 2 3 4 5"
compose restart --timeout 20 >/dev/null 2>&1
say "restarted every container"
wait_for 120 "after restart: one leader, the same head on all five" one_leader_same_head
wait_for 60 "every acknowledged note still on every node" notes_everywhere
say "passed in $((SECONDS - t0)) s"
