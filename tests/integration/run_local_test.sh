#!/usr/bin/env bash
# Integration: deploy/run-local.sh as `make run` uses it, on real chimerad
# processes, in a state directory of its own (CHIMERA_STATE_DIR) on free
# ports. Every wait has a deadline; whatever the test started is stopped on
# exit, however it exits.
#
#   run_local_test.sh BUILD_DIR
#
# - the default federation keeps .chimera/data/nI; another base port gets
#   .chimera/<port>/ (paths);
# - `cmake --install` puts chimerad, chimeractl and chimera-demo in PREFIX/bin,
#   and that chimeractl finds the built-in drills in PREFIX/share;
# - a port in use is refused before anything is made: no state directory
#   or STATE/<port>/ is left behind, and a running federation's is left as
#   it was;
# - --help prints the commands; a mistyped command (restrat) is refused,
#   not taken for a build directory; a second run-local on a running federation's ports names it,
#   or the node that outlived its killed run-local and how to stop it;
# - a node that fails to start makes run-local exit 1, naming it and why;
# - two federations with different base ports run side by side, each on its
#   own data directories, and each one's env file points chimeractl at it;
# - a node killed with -9 is started again by run-local (its supervisor)
#   and the federation has a leader again; it runs its service again; so
#   is one a kill_node fault made exit with status 75;
# - `stop nI` without the base port a federation was started with names it;
# - `run-local.sh stop nI` stops a node that run-local then leaves down,
#   naming the restart with the federation's variables,
#   until `run-local.sh restart nI` has run-local start it; restart says
#   "already running" for a running node;
# - run-local stops every node on SIGTERM, the restarted one included, and
#   restarts none of them, the leader last: the stop writes no entry;
# - started in the background with SIGINT ignored (as a script's `make run &`
#   is), run-local still stops every node on SIGINT.
set -uo pipefail
# Functions run through wait_for and trap; `ok` never fails.
# shellcheck disable=SC2317,SC2015

build=$(cd "${1:?usage: run_local_test.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
run_local=$src/deploy/run-local.sh
tmp=$(mktemp -d /tmp/chimera-runlocal-XXXXXX)
export CHIMERA_STATE_DIR=$tmp/state
unset CHIMERA_NODES CHIMERA_BASE_PORT CHIMERA_ADDR CHIMERA_ADMIN_TOKEN_FILE
failures=0
bg=() # run-local processes started in the background

cleanup() {
    local pid
    for pid in "${bg[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    local deadline=$((SECONDS + 30))
    for pid in "${bg[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    done
    # Anything of ours still running: nodes (their command line names tmp)
    # and services (their environment does).
    grep -lsF -- "$tmp" /proc/[0-9]*/cmdline /proc/[0-9]*/environ | cut -d/ -f3 | sort -u |
        while read -r pid; do
            [ "$pid" = $$ ] || kill -KILL "$pid" 2>/dev/null
        done
    if [ "$failures" = 0 ]; then rm -rf "$tmp"; else echo "kept $tmp" >&2; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
ok() { echo "ok: $*"; }

# wait_for SECONDS COMMAND...: until COMMAND succeeds; false after SECONDS.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A base port whose NNG and HTTP ports for 3 nodes are free.
pick_base() {
    local b p busy
    while :; do
        b=$((20000 + (RANDOM % 900) * 10))
        busy=0
        for p in $((b + 1)) $((b + 2)) $((b + 3)) $((b + 1001)) $((b + 1002)) $((b + 1003)); do
            port_busy "$p" && busy=1
        done
        [ $busy = 1 ] || { echo "$b"; return; }
    done
}

# The pid of the chimerad holding DATA's lock, if one runs.
holder() {
    local pid
    pid=$(cat "$1/LOCK" 2>/dev/null) && [ -n "$pid" ] &&
        grep -qaF -- "$1" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}
# The pids of the services a node on DATA started (they carry its mark).
services_of() {
    # grep fails on environ files it may not read, or of processes gone.
    { grep -lsxzF -- "CHIMERA_SERVICE_OWNER=$1" /proc/[0-9]*/environ || true; } | cut -d/ -f3
}
has_new_service() { local s; s=$(services_of "$1") && [ -n "$s" ] && ! grep -qx -- "$2" <<<"$s"; }
ready() { grep -q "Press Ctrl-C" "$1" || ! kill -0 "$2" 2>/dev/null; }
is_gone() { ! kill -0 "$1" 2>/dev/null; }

# start_federation BASE NODES OUT: run-local in the background until it
# says it is ready; its pid in $started.
start_federation() {
    CHIMERA_BASE_PORT=$1 CHIMERA_NODES=$2 "$run_local" "$build" >"$3" 2>&1 &
    started=$!
    bg+=("$started")
    wait_for 120 ready "$3" "$started" && grep -q "Press Ctrl-C" "$3"
}

# ---- paths: the default federation keeps today's, another has its own ---
paths=$(CHIMERA_BASE_PORT=7100 "$run_local" paths)
grep -qx "data: $CHIMERA_STATE_DIR/data/nI" <<<"$paths" &&
    grep -qx "logs: $CHIMERA_STATE_DIR/nI.log" <<<"$paths" &&
    ok "base 7100 keeps STATE/data/nI and STATE/nI.log" ||
    fail "base 7100 paths: $paths"
paths=$(CHIMERA_BASE_PORT=7200 "$run_local" paths)
grep -qx "data: $CHIMERA_STATE_DIR/7200/data/nI" <<<"$paths" &&
    ok "base 7200 gets STATE/7200/data/nI" || fail "base 7200 paths: $paths"

# ---- a mistyped command is not taken for a build directory ----------------
base0=$(pick_base)
out=$(CHIMERA_BASE_PORT=$base0 timeout 60 "$run_local" restrat n2 2>&1)
rc=$?
if [ $rc = 2 ] && grep -q "unknown command 'restrat'" <<<"$out" &&
    [ ! -e "$CHIMERA_STATE_DIR/$base0" ]; then
    ok "run-local restrat n2: exit 2, the command named, nothing started or created"
else
    fail "run-local restrat n2 exited $rc: $out; $(ls "$CHIMERA_STATE_DIR/$base0" 2>&1)"
fi

# ---- a port in use: refused, and nothing made for it ----------------------
# (in a state directory not made yet: neither it nor STATE/<port>/ is left)
base0=$(pick_base)
"$build/chimera-demo" --port $((base0 + 1002)) >/dev/null 2>&1 &
squatter=$!
bg+=("$squatter")
if wait_for 30 port_busy $((base0 + 1002)); then
    out=$(CHIMERA_STATE_DIR=$tmp/fresh CHIMERA_BASE_PORT=$base0 timeout 60 "$run_local" "$build" 2>&1)
    rc=$?
    if [ $rc = 1 ] && grep -q "port $((base0 + 1002)) is already in use" <<<"$out" &&
        [ ! -e "$tmp/fresh" ]; then
        ok "a port in use: exit 1, the port named, no state or federation directory left"
    else
        fail "run-local with port $((base0 + 1002)) in use exited $rc: $out; left: $(find "$tmp/fresh" 2>&1 | tr '\n' ' ')"
    fi
else
    fail "chimera-demo did not listen on $((base0 + 1002))"
fi
kill -TERM "$squatter" 2>/dev/null

# ---- --help prints the commands and variables, and starts nothing ---------
out=$("$run_local" --help 2>&1)
rc=$?
[ $rc = 0 ] && grep -q "run-local.sh stop NODE" <<<"$out" && grep -q "^CHIMERA_BASE_PORT" <<<"$out" &&
    ok "run-local --help: exit 0, the commands and variables" || fail "run-local --help exited $rc: $out"

# ---- make install: the three programs in PREFIX/bin ---------------------
if cmake --install "$build" --prefix "$tmp/prefix" >/dev/null &&
    [ -x "$tmp/prefix/bin/chimerad" ] && [ -x "$tmp/prefix/bin/chimeractl" ] &&
    [ -x "$tmp/prefix/bin/chimera-demo" ]; then
    ok "cmake --install puts chimerad, chimeractl, chimera-demo in PREFIX/bin"
else
    fail "cmake --install: $(ls "$tmp/prefix/bin" 2>&1)"
fi
# Its chimeractl finds the drills installed beside it, whatever prefix the
# build was configured with (make install PREFIX=... installs elsewhere).
out=$(cd "$tmp" && CHIMERA_DRILLS_DIR='' "$tmp/prefix/bin/chimeractl" drill validate leader-loss 2>&1)
grep -q "^$tmp/prefix/share/chimera/drills/leader-loss.json: valid drill" <<<"$out" &&
    ok "the installed chimeractl finds the drills installed beside it" ||
    fail "the installed chimeractl's leader-loss: $out"

# ---- a node that fails to start: exit 1, its name and why ---------------
base0=$(pick_base)
mkdir -p "$CHIMERA_STATE_DIR/$base0/data"
: >"$CHIMERA_STATE_DIR/$base0/data/n2" # a file where n2's data directory goes
CHIMERA_BASE_PORT=$base0 CHIMERA_NODES=2 timeout 60 "$run_local" "$build" >"$tmp/fail.out" 2>&1
rc=$?
if [ $rc = 1 ] && grep -q "n2 failed to start (exit status 2)" "$tmp/fail.out" &&
    grep -q "data/n2 exists and is not a directory" "$tmp/fail.out"; then
    ok "a node that fails to start: exit 1, named, with the end of its log"
else
    fail "run-local with a broken n2 exited $rc: $(cat "$tmp/fail.out")"
fi
[ -z "$(holder "$CHIMERA_STATE_DIR/$base0/data/n1")" ] && ok "n1 was stopped" ||
    fail "n1 still runs after run-local failed"

# ---- two federations side by side ----------------------------------------
base_a=$(pick_base)
start_federation "$base_a" 2 "$tmp/a.out" || fail "federation A did not start: $(cat "$tmp/a.out")"
pid_a=$started
# A second run-local on the same ports says which one runs it, and leaves
# A's directory as it was.
listing() { (cd "$1" && find . -path ./data -prune -o -printf '%p %m\n' | sort); }
before=$(listing "$CHIMERA_STATE_DIR/$base_a")
out=$(CHIMERA_BASE_PORT=$base_a CHIMERA_NODES=2 timeout 60 "$run_local" "$build" 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "this federation already runs (run-local pid $pid_a," <<<"$out" &&
    ok "a second run-local on A's ports: exit 1, names A's (pid $pid_a)" ||
    fail "a second run-local on A's ports exited $rc: $out"
[ "$(listing "$CHIMERA_STATE_DIR/$base_a")" = "$before" ] &&
    ok "the refused run-local left A's directory as it was" ||
    fail "A's directory after the refused run-local: $(listing "$CHIMERA_STATE_DIR/$base_a")"
base_b=$(pick_base)
start_federation "$base_b" 1 "$tmp/b.out" || fail "federation B did not start: $(cat "$tmp/b.out")"
pid_b=$started
data_a=$CHIMERA_STATE_DIR/$base_a/data
data_b=$CHIMERA_STATE_DIR/$base_b/data
n1_a=$(holder "$data_a/n1")
n1_b=$(holder "$data_b/n1")
if [ -n "$n1_a" ] && [ -n "$n1_b" ] && [ "$n1_a" != "$n1_b" ]; then
    ok "A's n1 (pid $n1_a) and B's n1 (pid $n1_b) run on data directories of their own"
else
    fail "data directories: A n1 '$n1_a', B n1 '$n1_b'"
fi
# Each env file points chimeractl at its own federation.
for fed in "$base_a" "$base_b"; do
    # shellcheck source=/dev/null
    if out=$(. "$CHIMERA_STATE_DIR/$fed/env" && cd "$tmp" && chimeractl status 2>&1) &&
        grep -q "127.0.0.1:$((fed + 1001))" <<<"$out"; then
        ok "federation on $fed: . env; chimeractl status reaches it"
    else
        fail "federation on $fed: chimeractl status with its env: $out"
    fi
done

# ---- the supervisor: a node killed with -9 comes back by itself ----------
restarted() { local p; p=$(holder "$1") && [ "$p" != "$2" ]; }
has_leader() {
    curl -fs "http://127.0.0.1:$(($1 + 1001))/health/ready" >/dev/null &&
        curl -fs "http://127.0.0.1:$(($1 + 1002))/health/ready" >/dev/null
}
said() { grep -qF -- "$2" "$1"; }
n2=$(holder "$data_a/n2")
svc=$(services_of "$data_a/n2")
if [ -z "$n2" ] || [ -z "$svc" ]; then
    fail "A's n2 (pid '$n2') runs no service ('$svc')"
else
    kill -KILL "$n2"
    if wait_for 60 restarted "$data_a/n2" "$n2" && wait_for 60 has_leader "$base_a"; then
        ok "kill -9 n2: run-local started it again (pid $(holder "$data_a/n2")) and the federation has a leader"
    else
        fail "n2 was not back with a leader after kill -9: $(tail -n 5 "$tmp/a.out")"
    fi
    said "$tmp/a.out" "run-local: n2 was killed by signal 9 (KILL); restarting it in 1s" &&
        said "$tmp/a.out" "run-local: n2 started again (pid" &&
        ok "run-local said n2 was killed and restarted" ||
        fail "run-local's output about n2: $(tail -n 5 "$tmp/a.out")"
    if wait_for 60 has_new_service "$data_a/n2" "$svc"; then
        ok "the restarted n2 runs its service again ($(services_of "$data_a/n2" | tr '\n' ' '))"
    else
        fail "the restarted n2 runs no new service (before: $svc; now: $(services_of "$data_a/n2" | tr '\n' ' ')): $(tail -n 20 "$CHIMERA_STATE_DIR/$base_a/n2.log")"
    fi
    is_gone "$svc" || wait_for 30 is_gone "$svc" || fail "the killed n2's service $svc still runs"
fi
# A kill_node fault: the node exits with status 75, and comes back too.
n2=$(holder "$data_a/n2")
# shellcheck source=/dev/null
if out=$(. "$CHIMERA_STATE_DIR/$base_a/env" && cd "$tmp" &&
    chimeractl chaos inject kill_node --target n2 --force --duration 5s 2>&1) &&
    wait_for 60 said "$tmp/a.out" "run-local: n2 exited with status 75; restarting it in" &&
    wait_for 60 restarted "$data_a/n2" "$n2" && wait_for 60 has_leader "$base_a"; then
    ok "a kill_node fault: n2 exited with status 75, run-local started it again, a leader"
else
    fail "kill_node on n2 ($out): $(tail -n 5 "$tmp/a.out")"
fi
out=$(CHIMERA_BASE_PORT=$base_a timeout 60 "$run_local" restart n2 2>&1) &&
    grep -q "n2 is already running (pid $(holder "$data_a/n2"))" <<<"$out" &&
    ok "restart n2 while its supervisor runs it: $out" || fail "restart of a running n2: $out"

# ---- stop without the base port it was started with names the one there is ---
out=$(timeout 60 "$run_local" stop n2 2>&1)
rc=$?
[ $rc = 1 ] && grep -qF "one on CHIMERA_BASE_PORT=" <<<"$out" && grep -qF "$base_a" <<<"$out" &&
    [ -n "$(holder "$data_a/n2")" ] &&
    ok "stop n2 without CHIMERA_BASE_PORT: exit 1, names $base_a, n2 left running" ||
    fail "stop n2 without CHIMERA_BASE_PORT exited $rc: $out"

# ---- stop one node on purpose: it stays down until restart ------------------
n2=$(holder "$data_a/n2")
# The restart it names is this federation's, not the default one's.
if out=$(CHIMERA_BASE_PORT=$base_a timeout 60 "$run_local" stop n2 2>&1) &&
    grep -qF "stays down until: CHIMERA_STATE_DIR=$CHIMERA_STATE_DIR CHIMERA_BASE_PORT=$base_a " <<<"$out" &&
    wait_for 30 said "$tmp/a.out" "n2 exited with status 0 (stopped on purpose); not restarting it" &&
    [ -z "$(holder "$data_a/n2")" ]; then
    ok "stop n2: $out; run-local leaves it down"
else
    fail "stop n2 ($out); run-local said: $(tail -n 3 "$tmp/a.out"); n2 '$(holder "$data_a/n2")'"
fi
if out=$(CHIMERA_BASE_PORT=$base_a timeout 60 "$run_local" restart n2 2>&1) &&
    restarted "$data_a/n2" "$n2" && grep -q "n2 restarted by run-local (pid $pid_a)" <<<"$out"; then
    ok "restart n2: $out"
else
    fail "restart n2 after stop: $out"
fi

# ---- SIGTERM stops every node, the restarted one included -----------------
# ... and writes nothing on the way: the leader is stopped last, so no
# hand-over elects another (each an election in the ledger).
head_of() { curl -fs "http://127.0.0.1:$((base_a + 1000 + $1))/ledger/head" | grep -o '"index":[0-9]*' | head -n 1 | cut -d: -f2; }
settled() {
    curl -fs "http://127.0.0.1:$((base_a + 1001))/health/ready" >/dev/null &&
        curl -fs "http://127.0.0.1:$((base_a + 1002))/health/ready" >/dev/null &&
        [ -n "$(head_of 1)" ] && [ "$(head_of 1)" = "$(head_of 2)" ]
}
wait_for 60 settled || fail "federation A's heads never agreed: n1 $(head_of 1), n2 $(head_of 2)"
head_a=$(head_of 1)
n2=$(holder "$data_a/n2")
kill -TERM "$pid_a"
wait_for 60 is_gone "$pid_a" || fail "run-local A did not exit after SIGTERM"
wait "$pid_a"
rc=$?
if [ $rc = 0 ] && [ -z "$(holder "$data_a/n1")" ] && [ -z "$(holder "$data_a/n2")" ] &&
    ! sed -n '/^stopping /,$p' "$tmp/a.out" | grep -q "restarting it"; then
    ok "SIGTERM: run-local A exited 0, stopped n1 and the restarted n2 (pid ${n2:-?}), restarted none"
else
    fail "after SIGTERM: exit $rc, n1 '$(holder "$data_a/n1")', n2 '$(holder "$data_a/n2")'"
fi
for i in 1 2; do
    last=$(cd "$tmp" && "$build/chimeractl" ledger verify --data "$data_a/n$i" --json | grep -o '"last_index": *[0-9]*' | grep -o '[0-9]*$')
    [ "$last" = "$head_a" ] && ok "n$i's ledger ends where it did before the stop ($head_a)" ||
        fail "n$i's ledger ends at ${last:-?} after the stop, at $head_a before"
done

# ---- a run-local killed outright: its nodes outlive it ----------------------
# make run again names the node still running and how to stop it.
kill -KILL "$pid_b"
wait "$pid_b" 2>/dev/null
n1=$(holder "$data_b/n1")
out=$(CHIMERA_BASE_PORT=$base_b CHIMERA_NODES=1 timeout 60 "$run_local" "$build" 2>&1)
rc=$?
if [ $rc = 1 ] && [ -n "$n1" ] &&
    grep -qF "n1 of this federation still runs (pid $n1) with no run-local supervising it" <<<"$out" &&
    grep -qF "CHIMERA_BASE_PORT=$base_b " <<<"$out"; then
    ok "make run after its run-local was killed: exit 1, names n1 (pid $n1) and how to stop it"
else
    fail "run-local on B's ports after B's run-local was killed exited $rc: $out"
fi
CHIMERA_BASE_PORT=$base_b timeout 60 "$run_local" stop n1 >/dev/null 2>&1

# ---- started in the background from a script: SIGINT ignored on entry -----
# (a shell without job control starts background commands so, and bash
# cannot trap a signal ignored on entry): an interrupt still stops it.
base_c=$(pick_base)
(
    trap '' INT
    CHIMERA_BASE_PORT=$base_c CHIMERA_NODES=1 exec "$run_local" "$build"
) >"$tmp/c.out" 2>&1 &
pid_c=$!
bg+=("$pid_c")
if wait_for 120 ready "$tmp/c.out" "$pid_c" &&
    n1=$(holder "$CHIMERA_STATE_DIR/$base_c/data/n1"); then
    kill -INT "$pid_c"
    wait_for 60 is_gone "$pid_c" && wait "$pid_c"
    rc=$?
    [ $rc = 0 ] && [ -z "$(holder "$CHIMERA_STATE_DIR/$base_c/data/n1")" ] &&
        grep -q "^stopped.$" "$tmp/c.out" &&
        ok "SIGINT to a run-local started with it ignored: exit 0, n1 (pid $n1) stopped" ||
        fail "SIGINT to a run-local started with it ignored: exit $rc, n1 '$(holder "$CHIMERA_STATE_DIR/$base_c/data/n1")': $(tail -n 3 "$tmp/c.out")"
else
    fail "federation C did not start: $(cat "$tmp/c.out")"
fi

[ "$failures" = 0 ] && echo "run_local_test: all passed" || echo "run_local_test: $failures failed" >&2
exit $((failures > 0))
