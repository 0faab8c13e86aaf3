#!/usr/bin/env bash
# Starts a local federation on 127.0.0.1 and keeps it in the foreground;
# Ctrl-C stops every node cleanly. Used by `make run`.
#
#   deploy/run-local.sh [BUILD]                start the federation (BUILD: build dir, default build)
#   deploy/run-local.sh restart NODE           start one node (n2) of a running federation again, in
#                                              the background, with the command line and environment
#                                              its federation gave it (CHIMERA_BASE_PORT picks which)
#   deploy/run-local.sh paths                  where this federation's data, logs and env file are
#
#   CHIMERA_NODES      number of nodes (default 3)
#   CHIMERA_BASE_PORT  node i listens on BASE+i (NNG) and BASE+1000+i (HTTP); default 7100
#   CHIMERA_STATE_DIR  where the state lives (default .chimera at the top of the tree)
#
# The cluster key and the admin token are shared by every local federation
# (STATE/cluster.key, STATE/admin.token). Each federation has a directory of
# its own, so two can run side by side: STATE itself for the default base
# port 7100, STATE/<base port> for any other. It holds data/nI (the nodes'
# data directories), nI.log, env (the exports that point chimeractl at it)
# and federation (what `restart` needs to start a node as this script did).
set -euo pipefail

mode=start
if [ "${1:-}" = paths ]; then
    mode=paths
    shift
elif [ "${1:-}" = restart ]; then
    mode=restart
    node=${2:-}
    case "$node" in
    n[1-9] | n[1-9][0-9]) ;;
    *)
        echo "run-local: restart needs a node id (n1, n2, ...), got '${node}'" >&2
        exit 2
        ;;
    esac
    shift 2
    if [ $# -gt 0 ]; then
        echo "run-local: restart takes only a node id (the build directory is the federation's)" >&2
        exit 2
    fi
fi
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$build" in
/*) bin=$build ;;
*) bin="$root/$build" ;;
esac
state=${CHIMERA_STATE_DIR:-$root/.chimera}
base=${CHIMERA_BASE_PORT:-7100}
case "$base" in
'' | *[!0-9]*)
    echo "run-local: CHIMERA_BASE_PORT must be a port number, got '$base'" >&2
    exit 2
    ;;
esac
if [ "$base" = 7100 ]; then fed=$state; else fed=$state/$base; fi
if [ "$mode" = paths ]; then
    printf 'data: %s/data/nI\nlogs: %s/nI.log\nenv:  %s/env\n' "$fed" "$fed" "$fed"
    exit 0
fi

# Node i's pid when its chimerad runs: the pid it wrote in its data
# directory's LOCK, if that process is a chimerad on that directory.
node_pid() {
    local data="$fed/data/n$1" pid
    pid=$(cat "$data/LOCK" 2>/dev/null) || return 1
    [ -n "$pid" ] && grep -qaF -- "$data" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# A path as the user may type it from here.
shown() { case "$1" in "$PWD"/*) echo "${1#"$PWD"/}" ;; *) echo "$1" ;; esac; }

log_size() { stat -c %s "$fed/n$1.log" 2>/dev/null || echo 0; }

# Says why node i failed: what it logged since `from` (bytes).
tell_log() {
    local i=$1 from=$2
    echo "run-local: the end of its log ($fed/n$i.log):" >&2
    tail -c +"$((from + 1))" "$fed/n$i.log" 2>/dev/null | tail -n 20 | sed 's/^/    /' >&2
}

# Starts node i in the background (setsid: a terminal closed later does not
# hang it up) with the environment every node of this federation gets.
start_node() {
    local i=$1
    # The nodes find chimera-demo (built beside them) for the demo releases.
    PATH="$bin:$PATH" setsid "$bin/chimerad" --id "n$i" --listen "tcp://127.0.0.1:$((base + i))" \
        --http "127.0.0.1:$((base + 1000 + i))" --peers "$peers" \
        --data "$fed/data/n$i" --cluster-key-file "$state/cluster.key" \
        --admin-token-file "$state/admin.token" </dev/null >>"$fed/n$i.log" 2>&1 &
}

live() { curl -fs "http://127.0.0.1:$((base + 1000 + $1))/health/live" >/dev/null; }

if [ "$mode" = restart ]; then
    if [ ! -s "$fed/federation" ]; then
        echo "run-local: no federation was started in $fed (CHIMERA_BASE_PORT=$base); start it with make run" >&2
        exit 1
    fi
    # shellcheck source=/dev/null
    . "$fed/federation"
    i=${node#n}
    if [ "$i" -gt "$nodes" ]; then
        echo "run-local: the federation in $fed has $nodes nodes; there is no $node" >&2
        exit 2
    fi
    if pid=$(node_pid "$i"); then
        echo "run-local: $node is running (pid $pid); stop it first: kill $pid" >&2
        exit 1
    fi
    from=$(log_size "$i")
    start_node "$i"
    pid=$!
    deadline=$((SECONDS + 15))
    until live "$i"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" && rc=0 || rc=$?
            echo "run-local: $node failed to start (exit status $rc)" >&2
            tell_log "$i" "$from"
            exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "run-local: $node did not answer on 127.0.0.1:$((base + 1000 + i)) within 15 s; it keeps running (pid $pid)" >&2
            tell_log "$i" "$from"
            exit 1
        fi
        sleep 0.1
    done
    echo "$node restarted (pid $pid), log: $fed/n$i.log"
    exit 0
fi

nodes=${CHIMERA_NODES:-3}
mkdir -p "$state" "$fed"
chmod 700 "$state" "$fed"
# Secrets are made here, on first run, and never committed (.gitignore).
if [ ! -s "$state/cluster.key" ]; then
    "$bin/chimeractl" keygen --out "$state/cluster.key"
    echo "generated a cluster key in $state/cluster.key"
fi
if [ ! -s "$state/admin.token" ]; then
    (umask 077 && "$bin/chimeractl" keygen >"$state/admin.token")
    echo "generated an admin token in $state/admin.token"
fi
# chimerad refuses key and token files others may read (a state made by an
# older version may have them 0644).
chmod 600 "$state/cluster.key" "$state/admin.token"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

peers=""
for i in $(seq 1 "$nodes"); do
    for p in $((base + i)) $((base + 1000 + i)); do
        if port_busy "$p"; then
            echo "run-local: port $p is already in use; is a federation already running? (set CHIMERA_BASE_PORT)" >&2
            exit 1
        fi
    done
    peers="${peers:+$peers,}n$i=tcp://127.0.0.1:$((base + i))"
done
printf 'nodes=%q\nbin=%q\npeers=%q\n' "$nodes" "$bin" "$peers" >"$fed/federation"

pids=()
stop_all() {
    local code=$1
    trap - INT TERM HUP
    local run=()
    for i in $(seq 1 "$nodes"); do
        pid=$(node_pid "$i") || pid=${pids[$((i - 1))]:-}
        if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then run+=("$pid"); fi
    done
    echo
    local s=s
    [ ${#run[@]} != 1 ] || s=
    echo "stopping ${#run[@]} node$s..."
    # Nodes restarted by hand are not this shell's children: poll them.
    local deadline=$((SECONDS + 30))
    for pid in "${run[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    echo "stopped."
    exit "$code"
}
trap 'stop_all 0' INT TERM HUP

# Stops everything and exits 1 when node i is no longer running.
check_started() {
    local i=$1 pid=${pids[$(($1 - 1))]} rc
    kill -0 "$pid" 2>/dev/null && return 0
    wait "$pid" && rc=0 || rc=$?
    echo "run-local: n$i failed to start (exit status $rc)" >&2
    tell_log "$i" "${sizes[$((i - 1))]}"
    stop_all 1
}

sizes=()
for i in $(seq 1 "$nodes"); do
    sizes+=("$(log_size "$i")")
    start_node "$i"
    pids+=($!)
done

# Wait (with a deadline) until every node answers and sees all members alive.
deadline=$((SECONDS + 15))
for i in $(seq 1 "$nodes"); do
    until live "$i"; do
        for k in $(seq 1 "$nodes"); do check_started "$k"; done
        if [ $SECONDS -ge $deadline ]; then
            echo "run-local: n$i did not answer on 127.0.0.1:$((base + 1000 + i)) within 15 s" >&2
            tell_log "$i" "${sizes[$((i - 1))]}"
            stop_all 1
        fi
        sleep 0.1
    done
done
until [ "$("$bin/chimeractl" --addr "127.0.0.1:$((base + 1001))" status --json 2>/dev/null |
    grep -c '"alive"')" -ge "$nodes" ] || [ $SECONDS -ge $deadline ]; do
    for k in $(seq 1 "$nodes"); do check_started "$k"; done
    sleep 0.1
done

echo
echo "Chimera federation of $nodes nodes is running:"
for i in $(seq 1 "$nodes"); do
    echo "  n$i  http://127.0.0.1:$((base + 1000 + i))/federation/state   log: $fed/n$i.log"
done
echo "  data: $fed/data/nI"
# And until a leader with a quorum is known (ready).
until curl -fs "http://127.0.0.1:$((base + 1001))/health/ready" >/dev/null || [ $SECONDS -ge $deadline ]; do
    sleep 0.1
done

ctl=("$bin/chimeractl" --addr "127.0.0.1:$((base + 1001))" --token-file "$state/admin.token")
# A first release of the demo service, unless one is already stable (a restart).
if "${ctl[@]}" status 2>/dev/null | grep -q "^release: stable=none"; then
    echo
    echo "deploying a first release: deploy/examples/demo-good.json (chimera-demo 1.0.0)"
    "${ctl[@]}" deploy "$root/deploy/examples/demo-good.json" --wait --timeout 60s ||
        echo "run-local: the first release did not become stable; see chimeractl deployments" >&2
fi
echo
"${ctl[@]}" status || true

# What makes `chimeractl` (as the README writes it) reach this federation.
# shellcheck disable=SC2016 # $PATH expands when the file is sourced
# Every node's address: chimeractl tries them in order, so it still works
# with n1 down.
addrs=""
for i in $(seq 1 "$nodes"); do
    addrs="${addrs:+$addrs,}127.0.0.1:$((base + 1000 + i))"
done
printf 'export PATH="%s:$PATH"\nexport CHIMERA_ADDR=%s CHIMERA_ADMIN_TOKEN_FILE=%s\n' \
    "$bin" "$addrs" "$state/admin.token" >"$fed/env"
echo
echo "For chimeractl in another terminal, paste (or: . $(shown "$fed/env")):"
sed 's/^/  /' "$fed/env"
echo
echo "Try:  chimeractl events --follow"
echo "      chimeractl deploy deploy/examples/demo-bad-health.json --wait   # fails, rolls back to 1.0.0"
echo "      curl -s http://127.0.0.1:$((base + 1001))/metrics"
restart_cmd() { echo "${restart_env}deploy/run-local.sh restart $1"; }
restart_env=""
[ -z "${CHIMERA_STATE_DIR:-}" ] || restart_env="CHIMERA_STATE_DIR=$(shown "$state") "
[ "$base" = 7100 ] || restart_env="${restart_env}CHIMERA_BASE_PORT=$base "
echo "      kill \$(cat $(shown "$fed/data/n2/LOCK")); $(restart_cmd n2)   # stop and restart n2"
echo "Press Ctrl-C to stop every node."

# Stay in the foreground; report a node that stops or comes back (restarted
# with `restart`), and stop once none is left.
up=()
for i in $(seq 1 "$nodes"); do up+=(1); done
while :; do
    alive=0
    for i in $(seq 1 "$nodes"); do
        if node_pid "$i" >/dev/null || kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
            alive=$((alive + 1))
            [ "${up[$((i - 1))]}" = 1 ] || echo "run-local: n$i is running again" >&2
            up[i - 1]=1
        elif [ "${up[$((i - 1))]}" = 1 ]; then
            echo "run-local: n$i exited; see $fed/n$i.log (start it again: $(restart_cmd "n$i"))" >&2
            up[i - 1]=0
        fi
    done
    if [ "$alive" = 0 ]; then
        echo "run-local: every node has exited" >&2
        exit 1
    fi
    sleep 1 &
    wait $! || true
done
