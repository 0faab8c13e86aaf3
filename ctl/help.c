/* chimeractl's help: the global text, one page per command (`chimeractl
 * help deploy`, `chimeractl deploy --help`), the exit-code table, and "did
 * you mean" for a mistyped command. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

struct page {
    const char *name;     /* "deploy", "ledger verify" */
    const char *summary;  /* one line, for the global help */
    const char *synopsis; /* after "Usage: chimeractl " */
    const char *body;     /* what it does, its options with defaults, an example */
    const char *exits;    /* its exit codes */
};

#define COMMON_EXITS                                                                               \
    "  0 ok; 5 cannot connect (no endpoint answered); 6 auth refused (401/403);\n"                 \
    "  7 unavailable (503: read-only, no leader); 3 another error status;\n"                       \
    "  1 an answer that could not be used; 2 usage error\n"

static const struct page pages[] = {
    {"status", "federation state, every member's release, health and ports", "status",
     "The federation as the node behind --addr sees it (leader, term, quorum,\n"
     "read-only, ledger, release), then one row per member: role, liveness,\n"
     "last contact, HTTP address, the release it runs, its health and its\n"
     "services' ports. Each member's own HTTP address is asked too, at once and\n"
     "briefly (at most 1s); a member that does not answer shows \"unreachable\".\n"
     "A scriptable health check: exits 7 when the node asked is read-only or\n"
     "knows no leader.\n"
     "\n"
     "Options:\n"
     "  --json   the node's /federation/state, plus \"members\": what each member\n"
     "           answered ({\"node\",\"http\",\"reachable\",\"release\",\"error\"})\n"
     "\n"
     "Example:\n"
     "  chimeractl status && echo healthy\n",
     "  0 the node has a quorum-backed leader and is not read-only;\n"
     "  7 it is read-only or knows no leader (the table is printed all the same);\n"
     "  5 cannot connect; 1 an answer that could not be used; 2 usage error\n"},
    {"events", "recent events, oldest first; --follow streams them",
     "events [--limit N] [--since SEQ] [--follow]",
     "Recent events of the node behind --addr, oldest first (each node keeps its\n"
     "own last 1000; see README \"Events\" for every kind).\n"
     "\n"
     "Options:\n"
     "  -n, --limit N how many (default 50, at most 1000)\n"
     "  --since SEQ   only those after sequence number SEQ\n"
     "  -f, --follow  then print events as they happen (GET /events/stream) until\n"
     "                Ctrl-C; reconnects after a restart or a lost connection and\n"
     "                resumes after the last event printed (Last-Event-ID)\n"
     "  --json        one object per line\n"
     "\n"
     "Example:\n"
     "  chimeractl events --limit 20\n",
     COMMON_EXITS},
    {"keygen", "a new cluster key or admin token (64 hex digits)", "keygen [--out FILE]",
     "A new random cluster key, printed or written to FILE (created with mode\n"
     "0600, never overwritten). Also a good admin or read token. Offline: no\n"
     "node is asked. Use --out: chimerad refuses key and token files that others\n"
     "may read, which a shell redirection (keygen > FILE) makes under most umasks.\n"
     "\n"
     "Options:\n"
     "  --out FILE   write the key there instead of stdout (default: stdout)\n"
     "\n"
     "Example:\n"
     "  chimeractl keygen --out .chimera/cluster.key\n",
     "  0 written; 1 the file exists or cannot be written; 2 usage error\n"},
    {"version", "client version, and the server's", "version [--client] [--json]",
     "The version of this chimeractl and, unless --client, the version and id\n"
     "of the node behind --addr (from GET /federation/state).\n"
     "\n"
     "Options:\n"
     "  --client   only the client's version; no node is asked\n"
     "  --json     {\"client\":{\"version\"},\"server\":{\"version\",\"node\",\"addr\"}}\n"
     "\n"
     "Example:\n"
     "  chimeractl version\n",
     "  0 ok (the client's version is printed even when the node is not\n"
     "  reached); 5 cannot connect; 6, 7, 3, 1 as for every command; 2 usage\n"},
    {"ledger", "the ledger: show, tail, head, note, verify",
     "ledger show|tail|head|note|verify ...",
     "Subcommands (chimeractl help ledger SUBCOMMAND for each):\n"
     "  ledger show INDEX                 one entry, its payload decoded\n"
     "  ledger tail [-n N] [--follow]     the last N entries, one line each\n"
     "  ledger head                       head, committed index, last checkpoint\n"
     "  ledger note TEXT... | -           commit operator notes (admin token)\n"
     "  ledger verify --data DIR          check a ledger's files offline\n",
     "  see each subcommand\n"},
    {"ledger show", "one ledger entry", "ledger show INDEX",
     "One entry of the node's ledger: index, term, type, time (UTC), author,\n"
     "hash, prev_hash, the checkpoint covering it, and the payload decoded from\n"
     "msgpack.\n"
     "\n"
     "Options:\n"
     "  --json   the node's entry object plus \"payload_decoded\"\n"
     "\n"
     "Example:\n"
     "  chimeractl ledger show 42\n",
     "  0 ok; 4 no entry at INDEX (beyond the node's head); 5 cannot connect;\n"
     "  1 an answer that could not be used; 2 usage error\n"},
    {"ledger tail", "the last entries, one line each", "ledger tail [-n N] [--follow]",
     "The last N entries of the node's ledger, one line each.\n"
     "\n"
     "Options:\n"
     "  -n N          how many (default 10, at most 1000000)\n"
     "  -f, --follow  print new entries as they appear, until Ctrl-C (polls\n"
     "                every 300ms; says so when the node replaced entries)\n"
     "  --json        one entry object per line, with \"payload_decoded\"\n"
     "\n"
     "Example:\n"
     "  chimeractl ledger tail -n 20 --follow\n",
     COMMON_EXITS},
    {"ledger head", "the ledger head and last checkpoint", "ledger head",
     "The node's ledger head (index, term, hash), its committed index and its\n"
     "last checkpoint with the signers.\n"
     "\n"
     "Options:\n"
     "  --json   the head object as the node sent it\n"
     "\n"
     "Example:\n"
     "  chimeractl ledger head\n",
     COMMON_EXITS},
    {"ledger note", "commit operator notes to the ledger", "ledger note TEXT... | ledger note -",
     "Commits operator notes (ledger entries of type note) through the leader,\n"
     "with the admin token (--token-file or CHIMERA_ADMIN_TOKEN_FILE). Each TEXT\n"
     "argument is one note; with -, each non-empty line of stdin is one. All of\n"
     "them go in one batch (at most 256 notes, each 1 to 4096 bytes) and are\n"
     "committed together. A follower's redirect to the leader is followed.\n"
     "Prints the indexes the notes were committed at.\n"
     "\n"
     "Options:\n"
     "  --json   the node's answer {\"first_index\",\"last_index\",\"term\"}\n"
     "\n"
     "Examples:\n"
     "  chimeractl ledger note \"restarted n3 after a kernel panic\"\n"
     "  printf 'drill start\\ndrill end\\n' | chimeractl ledger note -\n",
     "  0 committed; 6 auth refused (no or wrong token); 7 unavailable (read-only,\n"
     "  or leadership lost before the commit: the notes may or may not be\n"
     "  committed); 3 refused otherwise (400); 5 cannot connect; 2 usage error\n"},
    {"ledger verify", "check a ledger's files offline",
     "ledger verify --data DIR [--pubkey HEX ...] [--json]",
     "Checks a ledger offline (a stopped node's data directory, or a copy):\n"
     "framing, CRCs, the hash chain and checkpoint signatures (by the pinned\n"
     "--pubkey keys, else by the keys its membership entries record). Reports\n"
     "the first bad index and byte offset, and entries verified per second.\n"
     "\n"
     "Options:\n"
     "  --data DIR     a data directory (its ledger/) or a ledger directory\n"
     "  --pubkey HEX   pin a signer's Ed25519 public key (repeatable; default:\n"
     "                 the keys recorded in the ledger)\n"
     "  --json         the report as an object\n"
     "\n"
     "Example:\n"
     "  chimeractl ledger verify --data .chimera/data/n1\n",
     "  0 ok; 3 torn tail (a crash cut the last write; the node repairs it at\n"
     "  start); 4 tampered or forked; 8 the directory belongs to a running\n"
     "  chimerad; 1 unreadable; 2 usage error\n"},
    {"deploy", "submit a release manifest to the leader",
     "deploy FILE|- [--dry-run] [--wait] [--timeout DURATION]",
     "Submits a release manifest (FILE, or - for stdin) to the leader with the\n"
     "admin token. The manifest is checked locally first, then sent byte for\n"
     "byte. Prints the plan (simulation issues, healing, certification) and\n"
     "the deployment id.\n"
     "\n"
     "Options:\n"
     "  --dry-run            only the plan; nothing is deployed (nor healed: what\n"
     "                       healing would run is listed, and a release it would\n"
     "                       mend counts as certified)\n"
     "  --wait               follow the rollout per stage and node until it is\n"
     "                       stable or reverted\n"
     "  --timeout DURATION   how long --wait waits (default 10m; 90s, 5m, 1h)\n"
     "  --json               the node's answer; with --wait, one object per\n"
     "                       change, then the final deployment\n"
     "\n"
     "Example:\n"
     "  chimeractl deploy deploy/examples/demo-good.json --wait --timeout 5m\n",
     "  0 stable (or submitted, without --wait; a dry run: certified, or once\n"
     "  its healing has run); 1 failed with no rollback, or an\n"
     "  answer not understood; 2 rejected before deploying (invalid manifest,\n"
     "  not certified (422), another deployment in progress or already stable\n"
     "  (409), a dry run that would be rejected, usage error); 3 failed and\n"
     "  reverted to the last stable release; 5 cannot connect; 6 auth refused;\n"
     "  7 unavailable (read-only); 9 --timeout passed\n"},
    {"deployments", "every deployment, newest first", "deployments",
     "Every deployment the leader knows, newest first; the current one and the\n"
     "stable one are marked.\n"
     "\n"
     "Options:\n"
     "  --json   the node's answer\n"
     "\n"
     "Example:\n"
     "  chimeractl deployments\n",
     COMMON_EXITS},
    {"deployment", "one deployment; --watch follows it",
     "deployment ID [--watch] [--timeout DURATION]",
     "One deployment: stage, every node's release and health, events.\n"
     "\n"
     "Options:\n"
     "  -w, --watch          print changes until it ends\n"
     "  --timeout DURATION   how long --watch watches (default: no limit)\n"
     "  --json               the node's answer (with --watch: the final object)\n"
     "\n"
     "Example:\n"
     "  chimeractl deployment d-93ba58e3 --watch\n",
     "  0 ok (--watch: it ended stable, superseded, or reverted for a rollback);\n"
     "  1 --watch: it failed; 4 no such deployment; 9 --timeout passed;\n"
     "  5 cannot connect; 2 usage error\n"},
    {"rollback", "roll every node back to the previous stable release",
     "rollback [--to VERSION] [--wait] [--timeout DURATION]",
     "Rolls every node back, through the leader, with the admin token: to the\n"
     "stable release before the current one (like `kubectl rollout undo`; while a\n"
     "deployment is unfinished or failed, to the last stable one), or to an\n"
     "earlier stable VERSION. A manual rollback rolls out in waves, under the\n"
     "max_parallel of the release it goes back to; members that are down are\n"
     "passed over and apply it when they come back.\n"
     "\n"
     "Options:\n"
     "  --to VERSION         an earlier stable version (default: the previous one)\n"
     "  --wait               wait until every node runs it\n"
     "  --timeout DURATION   how long --wait waits (default 10m)\n"
     "  --json               the node's answer\n"
     "\n"
     "Example:\n"
     "  chimeractl rollback --to 1.0.0 --wait\n",
     "  0 started (with --wait: done); 2 refused (nothing to roll back to, already\n"
     "  running it, no stable release with that version; usage error); 1 --wait:\n"
     "  the rollback failed; 5 cannot connect; 6 auth refused; 7 unavailable;\n"
     "  9 --timeout passed\n"},
    {"drill", "chaos drills: validate, list, run, history", "drill validate|list|run|history ...",
     "Chaos drills: JSON files shaped like a Chaos Toolkit experiment (a\n"
     "steady-state hypothesis, a method of faults, deploys and pauses with an\n"
     "SLO per fault, rollbacks that always run); README \"Drills\" has the format.\n"
     "Subcommands (chimeractl help drill SUBCOMMAND for each):\n"
     "  drill validate FILE|NAME     check a drill file offline\n"
     "  drill list                   the built-in drills (deploy/drills)\n"
     "  drill run FILE|NAME          run a drill against the federation\n"
     "  drill history                past drills from the ledger, notarized\n",
     "  see each subcommand\n"},
    {"drill validate", "check a drill file offline", "drill validate FILE|NAME [--json]",
     "Validates a drill file, or a built-in drill by NAME, without asking any\n"
     "node: every error names its JSON path (\"method[0].provider.kind\") and\n"
     "what is expected. A deploy action's manifest file is checked too.\n"
     "Prints the drill's probes, method and rollbacks.\n"
     "\n"
     "FILE|NAME: a path (with a '/' or ending in .json, or an existing file),\n"
     "else a built-in drill from $CHIMERA_DRILLS_DIR, the installed\n"
     "share/chimera/drills, or the source tree chimeractl was built from.\n"
     "\n"
     "Options:\n"
     "  --json   {\"valid\": true, \"file\", \"drill\"} with every default filled in,\n"
     "           or {\"valid\": false, \"file\", \"path\", \"error\"} (exit 2)\n"
     "\n"
     "Examples:\n"
     "  chimeractl drill validate leader-loss\n"
     "  chimeractl drill validate ./my-drill.json --json\n",
     "  0 valid; 2 invalid drill (its JSON path and the reason are printed), no\n"
     "  such built-in drill, or usage error; 1 the file cannot be read\n"},
    {"drill list", "the built-in drills", "drill list [--json]",
     "The built-in drills (leader-loss, minority-partition, service-crash,\n"
     "bad-release, node-restart): name, title and method. Offline.\n"
     "\n"
     "Options:\n"
     "  --json   [{\"name\", \"file\", \"title\", \"valid\", \"method\"}]\n"
     "\n"
     "Example:\n"
     "  chimeractl drill list\n",
     "  0 ok; 1 no built-in drills found (set CHIMERA_DRILLS_DIR); 2 usage error\n"},
    {"drill run", "run a drill against the federation",
     "drill run FILE|NAME [--journal FILE] [--restart-cmd CMD] [--json] [--verbose]",
     "Runs a drill against the federation behind --addr, with the admin token:\n"
     "checks the steady-state hypothesis and refuses to start unless it holds;\n"
     "runs the method, showing progress; for each fault measures the time to\n"
     "detect (the SLO's probes fail) and to recover (they hold again); checks\n"
     "the hypothesis after; always runs the rollbacks; prints the report and\n"
     "writes the JSON journal with its BLAKE2b digest, and records the result\n"
     "in the ledger (POST /drills; a note on a node without it), then waits a\n"
     "few seconds at most for the checkpoint whose quorum of witness\n"
     "signatures notarizes it and names it and its signers. Faults need the\n"
     "node's chaos endpoints (POST\n"
     "/chaos/inject); a federation without them refuses such a drill before it\n"
     "starts.\n"
     "\n"
     "Options:\n"
     "  --journal FILE      where the journal goes (default journal.json, as\n"
     "                      Chaos Toolkit's)\n"
     "  --restart-cmd CMD   how the restart_nodes rollback restarts a killed\n"
     "                      node: a shell command, {node} replaced by its id\n"
     "                      (default: none; a supervisor restarts nodes)\n"
     "  --json              the journal on stdout instead of the report\n"
     "  --verbose, -v       also say when a mutation is sent on to the leader\n"
     "\n"
     "Example:\n"
     "  chimeractl drill run service-crash --journal /tmp/service-crash.json\n",
     "  0 held: every SLO met, the steady state held before and after;\n"
     "  10 deviated: a recovery missed its SLO, or the steady state was lost;\n"
     "  11 could not run: the steady state did not hold at the start, a step\n"
     "  was refused (no chaos endpoints), or the run was interrupted;\n"
     "  12 held, but a rollback failed: a fault or a stopped node may remain\n"
     "  (stderr and the report's Rollbacks say which);\n"
     "  2 invalid drill or usage error; 5 no node answered at the start; 6 the\n"
     "  node refused to be read, or refused the admin token of a mutation\n"
     "  (the report and journal are still written)\n"},
    {"drill history", "past drills from the ledger", "drill history [--json]",
     "Every drill result recorded in the node's ledger (GET /drills, and the\n"
     "notes older versions of `drill run` committed), oldest first: index,\n"
     "time, verdict, the checkpoint whose quorum of witness signatures\n"
     "notarizes it and its signers, the journal's BLAKE2b digest, the title and\n"
     "each fault's time to recover against its SLO.\n"
     "\n"
     "Options:\n"
     "  --json   [{\"index\", \"time_ms\", \"title\", \"verdict\", \"digest\",\n"
     "           \"results\", \"checkpoint\", \"recorded_as\", ...}] (checkpoint\n"
     "           null until one notarizes it; a drill record adds its faults\n"
     "           and \"notarization\": {\"checkpoint\", \"signers\", \"quorum\"})\n"
     "\n"
     "Example:\n"
     "  chimeractl drill history\n",
     COMMON_EXITS},
    {"chaos", "the chaos injector: status, enable, disable, stop, inject",
     "chaos status|enable|disable|stop|inject ...",
     "The chaos injector (README \"Chaos\"): off unless chimerad runs with\n"
     "--chaos-enabled; the leader decides, every fault is a ledger entry, its\n"
     "target heals it at expiry on its own.\n"
     "\n"
     "Subcommands (chimeractl help chaos SUBCOMMAND for each):\n"
     "  chaos status                 settings, the active fault, the history\n"
     "  chaos stop                   the kill switch: heal every fault now\n"
     "  chaos disable                the same as stop (the injector stays off)\n"
     "  chaos enable                 lift the kill switch\n"
     "  chaos inject KIND --target NODE ...   an operator's fault\n",
     COMMON_EXITS},
    {"chaos status", "settings, the active fault, the history", "chaos status [--json]",
     "GET /chaos of the node behind --addr: the injector's settings, whether the\n"
     "kill switch is on, the active fault, the faults applied on that node and\n"
     "the last chaos records of the ledger.\n"
     "\n"
     "Options:\n"
     "  --json   {\"settings\", \"stopped\", \"active\", \"applied_here\", \"history\"}\n"
     "\n"
     "Example:\n"
     "  chimeractl chaos status\n",
     COMMON_EXITS},
    {"chaos stop", "the kill switch: heal every fault now", "chaos stop [--json]",
     "POST /chaos/stop with the admin token: the node asked heals every fault\n"
     "applied on it at once, even when it is read-only (the one mutation a\n"
     "read-only node accepts); then the stop is committed through the leader,\n"
     "so that every node heals and the injector stays off until `chaos enable`.\n"
     "A node cut off from the leader heals itself and says the stop was not\n"
     "recorded: send it to a node on the majority side too.\n"
     "\n"
     "Options:\n"
     "  --json   {\"healed_here\", \"stopped\", \"index\" | \"warning\"}\n"
     "\n"
     "Example:\n"
     "  chimeractl --addr 127.0.0.1:8102 chaos stop\n",
     COMMON_EXITS},
    {"chaos disable", "the same as chaos stop", "chaos disable [--json]",
     "The kill switch (see chimeractl help chaos stop): heals every fault and\n"
     "keeps the injector off until `chaos enable`.\n",
     COMMON_EXITS},
    {"chaos enable", "lift the kill switch", "chaos enable [--json]",
     "POST /chaos/enable with the admin token: commits an enable record, after\n"
     "which the injector (when chimerad runs with --chaos-enabled) and operators'\n"
     "faults may inject again.\n"
     "\n"
     "Options:\n"
     "  --json   {\"stopped\": false, \"index\"}\n",
     COMMON_EXITS},
    {"chaos inject", "an operator's fault",
     "chaos inject KIND --target NODE [--service S] [--peer P] [--delay D]\n"
     "       [--duration D] [--force] [--json]",
     "POST /chaos/inject with the admin token, through the leader: a fault of\n"
     "KIND (kill_service, pause_service, isolate_node, delay_messages,\n"
     "kill_node) on NODE, under the injector's safety rules (one active fault,\n"
     "no rollout running, every member healthy, a spare vote, not excluded)\n"
     "unless --force. A refusal says the rule and exits 8.\n"
     "\n"
     "Options:\n"
     "  --target NODE   the node that applies it: a node id, or leader, follower\n"
     "                  (an alive member but the leader) or any (an alive follower\n"
     "                  if there is one), picked from the leader's view of the\n"
     "                  members as drill run picks them, and printed first\n"
     "  --service S     kill_service, pause_service: the service\n"
     "  --peer P        isolate_node: from this peer only (default: from all)\n"
     "  --delay D       delay_messages: by how much (200ms, 1s)\n"
     "  --duration D    how long (90s, 1500ms, 2m; default and maximum: the\n"
     "                  node's --chaos-max-duration)\n"
     "  --force         past the safety rules\n"
     "  --json          {\"fault\": {...}, \"index\"}\n"
     "\n"
     "Example:\n"
     "  chimeractl chaos inject kill_service --target n2 --service web --duration 30s\n"
     "  chimeractl chaos inject isolate_node --target follower --duration 20s\n",
     "  0 injected (committed); 8 refused by a safety rule (409), or no node to\n"
     "  pick for a selector; 3 a malformed request (400); 5, 6, 7, 1, 2 as for\n"
     "  every command\n"},
    {"recovery", "every member's recovery watchtower: restarts, causes, MTTR", "recovery [--json]",
     "The recovery watchtower of every member (README \"Recovery watchtower\"):\n"
     "the node behind --addr names the members, and each member's own GET\n"
     "/recovery is asked (--timeout-ms each). One row per node and service: its\n"
     "state (healthy, starting, unhealthy, down, FAILED), the restarts the\n"
     "watchtower made since the node started, the last failure's cause, and the\n"
     "time to recover (p50 of the last 32 recoveries, and the longest). A\n"
     "service marked failed after a crash loop is listed again below the table.\n"
     "A member that does not answer is shown \"unreachable\".\n"
     "\n"
     "Options:\n"
     "  --json   {\"members\": [{\"node\", \"http\", \"reachable\", \"recovery\"\n"
     "           (that node's GET /recovery) | \"error\"}]}\n"
     "\n"
     "Example:\n"
     "  chimeractl recovery\n",
     "  0 ok (failed services are shown, not an error); 4 the node asked has no\n"
     "  /recovery (an older chimerad); 5 cannot connect; 6 auth refused;\n"
     "  7 unavailable (503); 3 another error status; 1 an answer that could\n"
     "  not be used; 2 usage error\n"},
    {"leader", "move leadership to another member (etcdctl move-leader)",
     "leader transfer [--to ID] [--json]",
     "POST /leader/transfer: the leader hands leadership to member ID (default:\n"
     "the follower with the longest log among those heard within an election\n"
     "timeout) and answers once ID leads, in the next term, without waiting for\n"
     "an election timeout (Raft's leadership transfer, dissertation section 3.10).\n"
     "Meanwhile it refuses new writes (503 \"leadership transfer in progress\");\n"
     "if the target has not taken over within an election timeout, the leader\n"
     "leads on. A follower's 307 is followed to the leader. Needs the admin\n"
     "token. chimerad does the same by itself on SIGTERM when it leads.\n"
     "\n"
     "When ID leads already, nothing is done and it says so (\"n2 is already the\n"
     "leader (term 4); nothing was done\"), exit 0: what was asked holds (as\n"
     "etcdctl move-leader to the leader itself).\n"
     "\n"
     "Options:\n"
     "  --to ID   the member to hand over to\n"
     "  --json    {\"from\", \"to\", \"term\"}; ID leading already adds\n"
     "            \"transferred\": false\n"
     "\n"
     "Example:\n"
     "  chimeractl leader transfer --to n2\n",
     "  0 ID leads (also when it led already: nothing was done); 8 refused\n"
     "  (409: ID is not a member or has not been heard within an election\n"
     "  timeout, or a transfer is already running);\n"
     "  7 the transfer failed or no leader is known (503); 4 the node has no\n"
     "  /leader/transfer (an older chimerad); 5, 6, 3, 1, 2 as for every command\n"},
    {"health", "one liveness (or readiness) probe of a node", "health [--live|--ready] [--json]",
     "One GET /health/live (with --ready: /health/ready) of the node behind\n"
     "--addr (the first endpoint that answers), answered by the exit status:\n"
     "what a container's HEALTHCHECK or a supervisor runs (no curl needed).\n"
     "No retry: the caller decides how often to ask. Prints one line: the\n"
     "endpoint, the node and its state (with --ready, the reason it is not).\n"
     "\n"
     "Options:\n"
     "  --live    is the process serving? (the default)\n"
     "  --ready   does it know a quorum-backed leader, is it writable, is its\n"
     "            release healthy?\n"
     "  --json    the node's answer\n"
     "\n"
     "Example:\n"
     "  chimeractl --addr 127.0.0.1:8080 --timeout-ms 2000 health\n",
     "  0 live (ready); 7 not ready (503, the reason printed); 5 cannot\n"
     "  connect; 3 another error status; 2 usage error\n"},
    {"help", "help for a command", "help [COMMAND [SUBCOMMAND]] | help exit-codes",
     "The help of a command (the same as COMMAND --help), or the exit-code\n"
     "table with `help exit-codes`.\n"
     "\n"
     "Example:\n"
     "  chimeractl help ledger verify\n",
     "  0 ok; 2 no such command\n"},
};

static const char exit_table[] =
    "Exit codes (every command):\n"
    "  0  ok; leader transfer --to ID: ID leads (also when it led already)\n"
    "  1  failed: an answer that could not be used, an I/O error; deploy --wait: failed\n"
    "     with no rollback; deployment --watch, rollback --wait: it failed\n"
    "  2  usage error (unknown command or option, bad value, invalid --addr, no\n"
    "     admin token given for a mutation);\n"
    "     deploy: rejected before deploying (400, 422, 409, a rejected dry run);\n"
    "     rollback: refused (409, 404)\n"
    "  3  the node answered with another error status (400, 422, 5xx but 503);\n"
    "     deploy --wait: failed and reverted; ledger verify: torn tail\n"
    "  4  not found (404; ledger show: no entry at INDEX); ledger verify: tampered\n"
    "     or forked\n"
    "  5  cannot connect: no endpoint of --addr answered\n"
    "  6  auth refused (401, 403): the node refused the admin token (wrong, or the\n"
    "     node has none)\n"
    "  7  unavailable (503): the node is read-only or has no leader; status: the\n"
    "     node asked is read-only or knows no leader\n"
    "  8  conflict (409; deploy and rollback keep 2); ledger verify: the directory\n"
    "     belongs to a running chimerad\n"
    "  9  timeout: the --timeout of --wait or --watch passed\n"
    "  10 drill run: deviated (a recovery missed its SLO, the steady state was lost)\n"
    "  11 drill run: could not run (no steady state at the start, a step refused)\n"
    "  12 drill run: held, but a rollback failed (heal or restart_nodes): a fault or\n"
    "     a stopped node may remain\n";

static const struct page *find(const char *name)
{
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (strcmp(pages[i].name, name) == 0)
            return &pages[i];
    return NULL;
}

void ctl_help_global(FILE *f)
{
    fputs("Usage: chimeractl [global options] <command> [command options]\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (!strchr(pages[i].name, ' '))
            fprintf(f, "  %-13s %s\n", pages[i].name, pages[i].summary);
    fputs("\n"
          "Global options (before or after the command):\n"
          "  --addr HOST:PORT[,HOST:PORT...]\n"
          "                  node HTTP endpoints, tried in order until one answers\n"
          "                  (env CHIMERA_ADDR; default 127.0.0.1:8100 then :8101..:8103,\n"
          "                  a single chimerad and `make run`'s nodes); http(s)://\n"
          "                  URLs work too\n"
          "  --json          machine-readable output\n"
          "  --timeout-ms N  per-request timeout (default 3000)\n"
          "  --token-file F  admin token for mutations (deploy, rollback, ledger note,\n"
          "                  drill run, chaos, leader transfer;\n"
          "                  env CHIMERA_ADMIN_TOKEN_FILE)\n"
          "  -h, --help      this text (COMMAND --help: that command's)\n"
          "  --version       print the client's version\n"
          "\n"
          "`chimeractl help COMMAND` (or COMMAND --help) for a command's options,\n"
          "examples and exit codes; `chimeractl help exit-codes` for the table:\n"
          "0 ok, 1 failed, 2 usage, 3 error status, 4 not found, 5 cannot connect,\n"
          "6 auth refused, 7 unavailable, 8 conflict, 9 timeout, 10 drill deviated,\n"
          "11 drill could not run, 12 drill held but a rollback failed.\n",
          f);
}

static void print_page(const struct page *p)
{
    printf("Usage: chimeractl %s\n\n%s\n\n%s\nExit codes:\n%s", p->synopsis, p->summary, p->body,
           p->exits);
    printf("\nGlobal options (--addr, --json, --timeout-ms, --token-file): chimeractl --help\n");
}

static const char *const top_names[] = {"status", "events",      "keygen",     "version",  "ledger",
                                        "deploy", "deployments", "deployment", "rollback", "drill",
                                        "chaos",  "recovery",    "health",     "leader",   "help"};
static const char *const ledger_names[] = {"show", "tail", "head", "note", "verify"};
static const char *const drill_names[] = {"validate", "list", "run", "history"};

static const char *const chaos_names[] = {"status", "enable", "disable", "stop", "inject"};

int ctl_help(int n, char **words)
{
    if (n == 0) {
        ctl_help_global(stdout);
        return CTL_OK;
    }
    if (strcmp(words[0], "exit-codes") == 0) {
        fputs(exit_table, stdout);
        return CTL_OK;
    }
    if (!find(words[0]))
        return ctl_unknown_command(words[0]);
    bool drill = strcmp(words[0], "drill") == 0, chaos = strcmp(words[0], "chaos") == 0;
    if ((strcmp(words[0], "ledger") == 0 || drill || chaos) && n > 1) {
        char name[64];
        snprintf(name, sizeof name, "%s %s", words[0], words[1]);
        if (!find(name))
            return drill   ? ctl_unknown("drill command", words[1], drill_names,
                                         sizeof drill_names / sizeof drill_names[0])
                   : chaos ? ctl_unknown("chaos command", words[1], chaos_names,
                                         sizeof chaos_names / sizeof chaos_names[0])
                           : ctl_unknown_ledger_command(words[1]);
        print_page(find(name));
        return CTL_OK;
    }
    print_page(find(words[0]));
    return CTL_OK;
}

/* Edit distance counting a swap of two neighbours as one edit ("shwo"),
 * like git's suggestions (optimal string alignment). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *ctl_nearest(const char *word, const char *const *names, size_t n)
{
    size_t limit = strlen(word) <= 4 ? 1 : 2, best = limit + 1;
    const char *found = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, names[i]);
        /* A prefix ("deploym") is a near miss whatever its length. */
        if (strlen(word) >= 3 && strncmp(word, names[i], strlen(word)) == 0 && d > 0)
            d = d < limit ? d : limit;
        if (d < best) {
            best = d;
            found = names[i];
        }
    }
    return found;
}

int ctl_unknown_command(const char *word)
{
    return ctl_unknown("command", word, top_names, sizeof top_names / sizeof top_names[0]);
}

int ctl_unknown_ledger_command(const char *word)
{
    return ctl_unknown("ledger command", word, ledger_names,
                       sizeof ledger_names / sizeof ledger_names[0]);
}

/* The one way a word is refused: "chimeractl: [CMD: ]WHAT 'x'; did you
 * mean 'y'? (see chimeractl PAGE --help)". lead is "" or the command; page
 * the help page's name (length 0: the global help). */
static int say_unknown(const char *lead, const char *what, const char *word, const char *near,
                       int pagelen, const char *page)
{
    fprintf(stderr, "chimeractl: %s%s%s '%s'%s%s%s (see chimeractl %.*s%s--help)\n", lead,
            *lead ? ": " : "", what, word, near ? "; did you mean '" : "", near ? near : "",
            near ? "'?" : "", pagelen, page, pagelen ? " " : "");
    return CTL_USAGE;
}

int ctl_unknown(const char *what, const char *word, const char *const *names, size_t n)
{
    char unknown[64];
    snprintf(unknown, sizeof unknown, "unknown %s", what);
    /* A subcommand's list is on its command's page: "ledger command" is
     * chimeractl ledger --help. */
    const char *space = strchr(what, ' ');
    return say_unknown("", unknown, word, ctl_nearest(word, names, n),
                       space ? (int)(space - what) : 0, what);
}

int ctl_unknown_meant(const char *what, const char *word, const char *how)
{
    fprintf(stderr, "chimeractl: unknown %s '%s'; %s\n", what, word, how);
    return CTL_USAGE;
}

/* Global options are taken before or after the command, so a near miss of
 * one reaches the command's parser. */
static const char *const global_options[] = {"--addr",       "--json", "--timeout-ms",
                                             "--token-file", "--help", "--version"};

#define MAX_OPTIONS 48
#define OPTION_MAX 32

/* The option at s ("--wait", "-f"), copied into names[*n]; its length, 0
 * when s holds none. */
static size_t take_option(const char *s, char names[][OPTION_MAX], size_t *n)
{
    size_t len = strspn(s, "-");
    if (len < 1 || len > 2 ||
        !((s[len] >= 'a' && s[len] <= 'z') || (s[len] >= 'A' && s[len] <= 'Z')))
        return 0;
    len += strspn(s + len, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
    if (*n < MAX_OPTIONS && len < OPTION_MAX) {
        memcpy(names[*n], s, len);
        names[(*n)++][len] = '\0';
    }
    return len;
}

/* The options page p names: those of its synopsis, and the ones that begin
 * a line of its Options ("  -f, --follow  then ..."); the page is the one
 * list, so a suggestion never names an option the help does not. */
static size_t page_options(const struct page *p, char names[][OPTION_MAX])
{
    size_t n = 0;
    for (const char *s = p->synopsis; *s; s++) {
        size_t len = s == p->synopsis || strchr(" [|", s[-1]) ? take_option(s, names, &n) : 0;
        s += len ? len - 1 : 0;
    }
    const char *l = strstr(p->body, "Options:\n");
    while (l && (l = strchr(l, '\n')) && *++l && *l != '\n') {
        const char *s = l + strspn(l, " ");
        for (size_t len; (len = take_option(s, names, &n)) > 0 && strncmp(s + len, ", ", 2) == 0;)
            s += len + 2;
    }
    return n;
}

const char *ctl_nearest_option(const char *cmd, const char *word)
{
    static char names[MAX_OPTIONS][OPTION_MAX];
    const struct page *p = find(cmd);
    size_t n = p ? page_options(p, names) : 0;
    for (size_t i = 0; i < sizeof global_options / sizeof global_options[0]; i++)
        take_option(global_options[i], names, &n);
    /* "--timeout=5m" is the option --timeout with a value. */
    char name[OPTION_MAX];
    size_t len = strcspn(word, "=");
    if (len >= sizeof name || len < 3) /* "-x": too short to guess from */
        return NULL;
    memcpy(name, word, len);
    name[len] = '\0';
    const char *list[MAX_OPTIONS];
    for (size_t i = 0; i < n; i++)
        list[i] = names[i];
    return ctl_nearest(name, list, n);
}

int ctl_bad_argument(const char *cmd, const char *arg)
{
    /* "-1" is a value, not an option (ledger show -1). */
    bool option = arg[0] == '-' && (arg[1] == '-' || isalpha((unsigned char)arg[1]));
    return say_unknown(cmd, option ? "unknown option" : "unexpected argument", arg,
                       option ? ctl_nearest_option(cmd, arg) : NULL, (int)strlen(cmd), cmd);
}
