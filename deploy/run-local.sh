#!/usr/bin/env bash
# Starts a local 3-node federation on 127.0.0.1 and keeps it in the
# foreground; Ctrl-C stops every node cleanly. Used by `make run`.
#   CHIMERA_NODES      number of nodes (default 3)
#   CHIMERA_BASE_PORT  node i listens on BASE+i (NNG) and BASE+1000+i (HTTP); default 7100
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/$build"
state="$root/.chimera"
nodes=${CHIMERA_NODES:-3}
base=${CHIMERA_BASE_PORT:-7100}

mkdir -p "$state"
chmod 700 "$state"
# Secrets are made here, on first run, and never committed (.gitignore).
if [ ! -s "$state/cluster.key" ]; then
    "$bin/chimeractl" keygen --out "$state/cluster.key"
    echo "generated a cluster key in $state/cluster.key"
fi
if [ ! -s "$state/admin.token" ]; then
    (umask 077 && "$bin/chimeractl" keygen > "$state/admin.token")
    echo "generated an admin token in $state/admin.token"
fi

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

# The nodes find chimera-demo (built beside them) for the demo releases.
export PATH="$bin:$PATH"

pids=()
stop_all() {
    trap - INT TERM
    echo
    echo "stopping ${#pids[@]} nodes..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    echo "stopped."
    exit 0
}
trap stop_all INT TERM

for i in $(seq 1 "$nodes"); do
    "$bin/chimerad" --id "n$i" --listen "tcp://127.0.0.1:$((base + i))" \
        --http "127.0.0.1:$((base + 1000 + i))" --peers "$peers" \
        --data "$state/data/n$i" --cluster-key-file "$state/cluster.key" \
        --admin-token-file "$state/admin.token" >>"$state/n$i.log" 2>&1 &
    pids+=($!)
done

# Wait (with a deadline) until every node answers and sees all members alive.
deadline=$((SECONDS + 15))
for i in $(seq 1 "$nodes"); do
    until curl -fs "http://127.0.0.1:$((base + 1000 + i))/health/live" >/dev/null; do
        if ! kill -0 "${pids[$((i - 1))]}" 2>/dev/null; then
            echo "run-local: node n$i exited; its log:" >&2
            tail -n 20 "$state/n$i.log" >&2
            stop_all
        fi
        [ $SECONDS -lt $deadline ] || { echo "run-local: n$i did not answer in time" >&2; stop_all; }
        sleep 0.1
    done
done
until [ "$("$bin/chimeractl" --addr "127.0.0.1:$((base + 1001))" status --json 2>/dev/null |
            grep -c '"alive"')" -ge "$nodes" ] || [ $SECONDS -ge $deadline ]; do
    sleep 0.1
done

echo
echo "Chimera federation of $nodes nodes is running:"
for i in $(seq 1 "$nodes"); do
    echo "  n$i  http://127.0.0.1:$((base + 1000 + i))/federation/state   log: $state/n$i.log"
done
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
echo
echo "Try:  $build/chimeractl --addr 127.0.0.1:$((base + 1001)) events --follow"
echo "      $build/chimeractl --addr 127.0.0.1:$((base + 1001)) --token-file .chimera/admin.token \\"
echo "          deploy deploy/examples/demo-bad-health.json --wait    # fails, rolls back to 1.0.0"
echo "      curl -s http://127.0.0.1:$((base + 1001))/metrics"
echo "Press Ctrl-C to stop every node."

# Stay in the foreground; report a node that dies on its own.
while :; do
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "run-local: node n$((i + 1)) exited; see $state/n$((i + 1)).log" >&2
            unset 'pids[i]'
        fi
    done
    [ ${#pids[@]} -gt 0 ] || exit 1
    sleep 1 &
    wait $! || true
done
