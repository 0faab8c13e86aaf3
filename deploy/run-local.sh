#!/usr/bin/env bash
# Starts a local federation on 127.0.0.1 and keeps it in the foreground as
# its supervisor: a node that exits (a kill_node fault, a crash, kill -9) is
# started again after a backoff, as compose's `restart: unless-stopped`
# would. Ctrl-C stops every node cleanly and restarts none. Used by `make run`.
#
#   deploy/run-local.sh [BUILD]                start the federation (BUILD: build dir, default build)
#   deploy/run-local.sh stop NODE              stop one node (n2) on purpose: its supervisor leaves
#                                              it down until `restart` (like docker stop)
#   deploy/run-local.sh restart NODE           start one node of a running federation again: through
#                                              its supervisor when one runs, else in the background
#                                              with the command line and environment its federation
#                                              gave it; "already running" when it runs
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
# data directories), nI.log, env (the exports that point chimeractl at it),
# federation (what `restart` needs to start a node as this script did),
# supervisor (the pid of the run-local supervising it) and, while asked,
# nI.stopped (stopped on purpose) and nI.start (start it now).
set -euo pipefail

mode=start
case "${1:-}" in
-h | --help | help)
    # The commands and variables at the top of this file.
    sed -n '/^#   deploy/,/^#   CHIMERA_STATE_DIR/{s/^#//;s/^   //;p;}' "$0"
    exit 0
    ;;
esac
if [ "${1:-}" = paths ]; then
    mode=paths
    shift
elif [ "${1:-}" = restart ] || [ "${1:-}" = stop ]; then
    mode=$1
    node=${2:-}
    case "$node" in
    n[1-9] | n[1-9][0-9]) ;;
    *)
        echo "run-local: $mode needs a node id (n1, n2, ...), got '${node}'" >&2
        exit 2
        ;;
    esac
    shift 2
    if [ $# -gt 0 ]; then
        echo "run-local: $mode takes only a node id (the build directory is the federation's)" >&2
        exit 2
    fi
fi
# A shell without job control (a script, `make run &` from one) starts a
# background command with SIGINT ignored, and bash cannot trap a signal
# ignored on entry: the supervisor would not hear an interrupt at all. It
# starts itself again with SIGINT restored (GNU env, coreutils 8.31 or
# later), so that `kill -INT` stops it as Ctrl-C does; without such an env,
# SIGTERM does (say so below).
if [ "$mode" = start ] && [ -n "$(trap -p INT)" ] && [ -z "${RUN_LOCAL_SIGINT_RESTORED:-}" ] &&
    env --default-signal=INT true 2>/dev/null; then
    RUN_LOCAL_SIGINT_RESTORED=1 exec env --default-signal=INT "$BASH" "$0" "$@"
fi
unset RUN_LOCAL_SIGINT_RESTORED
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
# A mistyped command (restrat n2) would otherwise be taken for a build
# directory and start a federation from it, leaving its state behind.
if [ "$mode" = start ]; then
    usage="usage: run-local.sh [BUILD] | stop NODE | restart NODE | paths"
    if [ $# -gt 0 ] && [ ! -d "$bin" ]; then
        echo "run-local: unknown command '$build': neither stop, restart, paths nor a build directory ($usage)" >&2
        exit 2
    fi
    if [ $# -gt 1 ]; then
        echo "run-local: unexpected argument '$2' ($usage)" >&2
        exit 2
    fi
    if [ ! -x "$bin/chimerad" ]; then
        echo "run-local: no chimerad in $bin: build it first (make run does, or make programs)" >&2
        exit 2
    fi
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

# What a command for this federation needs before it (the hints name
# commands to paste; without it they would reach the default federation).
restart_env=""
[ -z "${CHIMERA_STATE_DIR:-}" ] || restart_env="CHIMERA_STATE_DIR=$(shown "$state") "
[ "$base" = 7100 ] || restart_env="${restart_env}CHIMERA_BASE_PORT=$base "

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
    # kill_node is a fault kind here (the drills leader-loss, node-restart):
    # this script restarts the node it kills. The injector itself stays off.
    PATH="$bin:$PATH" CHIMERA_CHAOS_FAULTS=${CHIMERA_CHAOS_FAULTS:-$all_faults} setsid "$bin/chimerad" --id "n$i" --listen "tcp://127.0.0.1:$((base + i))" \
        --http "127.0.0.1:$((base + 1000 + i))" --peers "$peers" \
        --data "$fed/data/n$i" --cluster-key-file "$state/cluster.key" \
        --admin-token-file "$state/admin.token" </dev/null >>"$fed/n$i.log" 2>&1 &
}

readonly all_faults=kill_service,pause_service,isolate_node,delay_messages,kill_node

live() { curl -fs "http://127.0.0.1:$((base + 1000 + $1))/health/live" >/dev/null; }

# The pid of the run-local supervising this federation, if one runs.
supervisor_pid() {
    local pid
    pid=$(cat "$fed/supervisor" 2>/dev/null) || return 1
    [ -n "$pid" ] && grep -qaF run-local "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

# Waits (15 s at most) until node i answers; exits 1 saying why when it
# does not. pid: the process to watch when it is ours, else "".
await_live() {
    local i=$1 pid=$2 from=$3 rc
    local deadline=$((SECONDS + 15))
    until live "$i"; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" && rc=0 || rc=$?
            echo "run-local: $node failed to start (exit status $rc)" >&2
            tell_log "$i" "$from"
            exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "run-local: $node did not answer on 127.0.0.1:$((base + 1000 + i)) within 15 s" >&2
            tell_log "$i" "$from"
            exit 1
        fi
        sleep 0.1
    done
}

if [ "$mode" = restart ] || [ "$mode" = stop ]; then
    if [ ! -s "$fed/federation" ]; then
        # The usual slip: a federation started with CHIMERA_BASE_PORT, and
        # stop or restart asked without it. Name the ones there are.
        others=""
        [ "$fed" = "$state" ] || [ ! -s "$state/federation" ] || others="7100"
        for f in "$state"/[0-9]*/federation; do
            [ -s "$f" ] || continue
            p=${f%/federation}
            p=${p##*/}
            [ "$p" = "$base" ] || others="${others:+$others }$p"
        done
        if [ -n "$others" ]; then
            echo "run-local: no federation was started in $fed (CHIMERA_BASE_PORT=$base); $(shown "$state") has one on CHIMERA_BASE_PORT=${others// /, }: set it as when it was started (CHIMERA_BASE_PORT=${others%% *} $(shown "$0") $mode $node)" >&2
        else
            echo "run-local: no federation was started in $fed (CHIMERA_BASE_PORT=$base); start it with make run" >&2
        fi
        exit 1
    fi
    # shellcheck source=/dev/null
    . "$fed/federation"
    i=${node#n}
    if [ "$i" -gt "$nodes" ]; then
        echo "run-local: the federation in $fed has $nodes nodes; there is no $node" >&2
        exit 2
    fi
fi

if [ "$mode" = stop ]; then
    # The mark first: the supervisor sees it when the node exits.
    : >"$fed/$node.stopped"
    rm -f "$fed/$node.start"
    if ! pid=$(node_pid "$i"); then
        echo "$node is not running; it stays down until: ${restart_env}$(shown "$0") restart $node"
        exit 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "run-local: $node (pid $pid) did not stop within 30 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.1
    done
    echo "$node stopped (pid $pid); it stays down until: ${restart_env}$(shown "$0") restart $node"
    exit 0
fi

if [ "$mode" = restart ]; then
    if pid=$(node_pid "$i"); then
        rm -f "$fed/$node.stopped"
        echo "$node is already running (pid $pid)"
        exit 0
    fi
    from=$(log_size "$i")
    if sup=$(supervisor_pid); then
        # Its supervisor starts it (now, whatever its backoff), so that it
        # keeps restarting it.
        rm -f "$fed/$node.stopped"
        : >"$fed/$node.start"
        await_live "$i" "" "$from"
        echo "$node restarted by run-local (pid $sup) as pid $(node_pid "$i" || echo '?'), log: $fed/n$i.log"
        exit 0
    fi
    rm -f "$fed/$node.stopped"
    start_node "$i"
    pid=$!
    await_live "$i" "$pid" "$from"
    echo "$node restarted (pid $pid), log: $fed/n$i.log"
    exit 0
fi

nodes=${CHIMERA_NODES:-3}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Refused before anything is made: a refusal leaves no empty state or
# federation directory behind, and an existing federation's as it was.
peers=""
for i in $(seq 1 "$nodes"); do
    for p in $((base + i)) $((base + 1000 + i)); do
        if port_busy "$p"; then
            if sup=$(supervisor_pid); then
                echo "run-local: this federation already runs (run-local pid $sup, port $p is one of its nodes'); Ctrl-C there stops it, or set CHIMERA_BASE_PORT to start another" >&2
            elif pid=$(node_pid "$i"); then
                # Its run-local was killed: the nodes outlive it.
                echo "run-local: n$i of this federation still runs (pid $pid) with no run-local supervising it; stop its nodes (${restart_env}$(shown "$0") stop n$i, ...) and start it again, or set CHIMERA_BASE_PORT to start another" >&2
            else
                echo "run-local: port $p is already in use; is a federation already running? (set CHIMERA_BASE_PORT)" >&2
            fi
            exit 1
        fi
    done
    peers="${peers:+$peers,}n$i=tcp://127.0.0.1:$((base + i))"
done
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

printf 'nodes=%q\nbin=%q\npeers=%q\n' "$nodes" "$bin" "$peers" >"$fed/federation"
# What an earlier run was asked means nothing to this one.
rm -f "$fed"/n*.stopped "$fed"/n*.start
echo $$ >"$fed/supervisor"

pids=()
# The leader the first node that answers names; false when none does.
leader_id() {
    local i id
    for i in $(seq 1 "$nodes"); do
        id=$(curl -fs --max-time 1 "http://127.0.0.1:$((base + 1000 + i))/federation/state" 2>/dev/null |
            grep -o '"leader":"[^"]*"' | head -n 1 | cut -d'"' -f4) || true
        [ -z "$id" ] || {
            echo "$id"
            return 0
        }
    done
    return 1
}

# Waits for the processes (30 s at most, then SIGKILL). Nodes restarted by
# hand are not this shell's children: poll them.
await_exit() {
    local deadline=$((SECONDS + 30)) pid
    for pid in "$@"; do
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
}

stop_all() {
    local code=$1
    trap - INT TERM HUP
    # The followers first, the leader last: a leader stopped first hands
    # leadership to a follower (SIGTERM), which, stopped next, hands it on,
    # each hand-over an election and read-only records in the ledger.
    local leader run=() last=() i pid
    leader=$(leader_id) || leader=""
    for i in $(seq 1 "$nodes"); do
        pid=$(node_pid "$i") || pid=${pids[$((i - 1))]:-}
        if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then continue; fi
        if [ "n$i" = "$leader" ]; then last=("$pid"); else run+=("$pid"); fi
    done
    echo
    local s=s
    [ $((${#run[@]} + ${#last[@]})) != 1 ] || s=
    echo "stopping $((${#run[@]} + ${#last[@]})) node$s..."
    [ ${#run[@]} = 0 ] || kill -TERM "${run[@]}" 2>/dev/null || true
    await_exit "${run[@]}"
    [ ${#last[@]} = 0 ] || kill -TERM "${last[@]}" 2>/dev/null || true
    await_exit "${last[@]}"
    wait 2>/dev/null || true
    rm -f "$fed/supervisor" "$fed"/n*.stopped "$fed"/n*.start
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
# Every node's address: chimeractl tries them in order, so it still works
# with n1 down.
addrs=""
for i in $(seq 1 "$nodes"); do
    addrs="${addrs:+$addrs,}127.0.0.1:$((base + 1000 + i))"
done
# shellcheck disable=SC2016 # $PATH expands when the file is sourced
printf 'export PATH="%s:$PATH"\nexport CHIMERA_ADDR=%s CHIMERA_ADMIN_TOKEN_FILE=%s\n' \
    "$bin" "$addrs" "$state/admin.token" >"$fed/env"
echo
echo "Console: http://127.0.0.1:$((base + 1001))/ui/ (every node serves it; the admin token for its buttons is in $(shown "$state/admin.token"))"
echo
echo "For chimeractl in another terminal, paste (or: . $(shown "$fed/env")):"
sed 's/^/  /' "$fed/env"
echo
echo "Try:  chimeractl events --follow"
echo "      chimeractl deploy deploy/examples/demo-bad-health.json --wait   # fails, rolls back to the stable release"
echo "      curl -s http://127.0.0.1:$((base + 1001))/metrics"
echo "      chimeractl drill run leader-loss   # kills the leader; run-local starts it again"
echo "      kill -9 \$(cat $(shown "$fed/data/n2/LOCK"))   # n2 dies; run-local starts it again"
echo "      ${restart_env}deploy/run-local.sh stop n2     # stop n2 on purpose (restart n2: back)"
echo "Press Ctrl-C to stop every node; in the background: kill $$ (run-local's pid, in $(shown "$fed/supervisor")), or kill make run's pid (make passes SIGTERM on)."

# ---- the supervisor --------------------------------------------------------
# A node that exits is started again after a backoff: 1 s, doubled each time
# it dies within 10 s of its start, at most 30 s; one that ran longer starts
# over at 1 s. One stopped with `stop` stays down until `restart`, which also
# starts a node waiting out its backoff at once. Ctrl-C (stop_all) ends the
# loop: nothing is restarted then.
readonly min_delay=1 max_delay=30 steady_ms=10000
now_ms() { now=${EPOCHREALTIME//[!0-9]/}; now=$((now / 1000)); }
delay=() since=() due=()
now_ms
for i in $(seq 1 "$nodes"); do
    delay+=("$min_delay")
    since+=("$now")
    due+=("")
done

# Node i exited with status rc: say so and schedule its restart.
exited() {
    local i=$1 rc=$2 how k=$(($1 - 1))
    pids[k]=""
    if [ "$rc" -gt 128 ]; then
        how="was killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
    else
        how="exited with status $rc"
    fi
    if [ -e "$fed/n$i.stopped" ]; then
        echo "run-local: n$i $how (stopped on purpose); not restarting it (restart it: ${restart_env}deploy/run-local.sh restart n$i)" >&2
        return
    fi
    now_ms
    if [ $((now - since[k])) -ge $steady_ms ]; then delay[k]=$min_delay; fi
    due[k]=$((now + delay[k] * 1000))
    echo "run-local: n$i $how; restarting it in ${delay[k]}s (log: $(shown "$fed/n$i.log"))" >&2
    delay[k]=$((delay[k] * 2 > max_delay ? max_delay : delay[k] * 2))
}

# Starts node i again, as the federation did.
again() {
    local i=$1 k=$(($1 - 1))
    rm -f "$fed/n$i.start" "$fed/n$i.stopped"
    due[k]=""
    start_node "$i"
    pids[k]=$!
    now_ms
    since[k]=$now
    echo "run-local: n$i started again (pid ${pids[k]})" >&2
}

ticker=""
while :; do
    for i in $(seq 1 "$nodes"); do
        k=$((i - 1))
        pid=${pids[k]}
        if [ -n "$pid" ]; then
            kill -0 "$pid" 2>/dev/null && continue
            wait "$pid" && rc=0 || rc=$?
            exited "$i" "$rc"
        fi
        # A node someone started by hand while it was down is left alone.
        node_pid "$i" >/dev/null && continue
        if [ -e "$fed/n$i.start" ]; then
            again "$i"
        elif [ -n "${due[k]}" ] && [ ! -e "$fed/n$i.stopped" ]; then
            now_ms
            [ "$now" -lt "${due[k]}" ] || again "$i"
        fi
    done
    # Wake at the next tick or as soon as a node exits.
    if [ -z "$ticker" ] || ! kill -0 "$ticker" 2>/dev/null; then
        sleep 0.5 &
        ticker=$!
    fi
    wait -n 2>/dev/null || true
done
