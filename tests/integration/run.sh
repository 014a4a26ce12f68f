#!/bin/sh
# The guest agent, rpc-router and `bulkhead run` end to end, without
# vm-manager: busd, rpc-router (sandboxed) and bulkhead-agent processes
# running as qube uids (100000 + qid*65536, no namespaces), a fake
# vm-manager (tests/guest/fake_vm.c) attaching them.  vm-manager's own
# suite (qubes.sh) covers the same path inside real ns qubes.
. "$(dirname "$0")/../lib.sh"

[ "$(id -u)" = 0 ] || { echo "# skipped: needs root (setpriv to qube uids)"; echo "0 passed, 0 failed"; exit 0; }
command -v setpriv >/dev/null || { echo "# skipped: no setpriv"; echo "0 passed, 0 failed"; exit 0; }

tmproot
"$BH_TOP/scripts/prepare-root" "$ROOT" >/dev/null
FAKEVM="$BH_TESTBIN/guest-fake-vm"
HOSTILE="$BH_TESTBIN/guest-hostile-agent"

start_busd() {
    "$BH_BIN/busd" --root "$ROOT" --service rpc-router --service vm-manager \
        >>"$ROOT/busd.log" 2>&1 &
    track_pid $!
    wait_for 5 test -S "$ROOT/run/bulkhead/bus/rpc-router/0.sock"
}
start_router() {
    "$BH_BIN/rpc-router" --root "$ROOT" >>"$ROOT/rr.log" 2>&1 &
    RR_PID=$!
    track_pid $RR_PID
}
qube_uid() { echo $((100000 + $1 * 65536)); }
# start_agent NAME QID: a qube "root" directory with its own passwd, and
# the agent running as the qube's uid.
start_agent() {
    _u=$(qube_uid "$2")
    mkdir -p "$ROOT/run/bulkhead/vchan/$2" "$ROOT/q/$1/etc" "$ROOT/q/$1/home"
    chown "$_u:$_u" "$ROOT/run/bulkhead/vchan/$2" "$ROOT/q/$1/home"
    echo "user:x:$_u:$_u:User:$ROOT/q/$1/home:/bin/sh" >"$ROOT/q/$1/etc/passwd"
    echo "user:x:$_u:" >"$ROOT/q/$1/etc/group"
    setpriv --reuid="$_u" --regid="$_u" --clear-groups env \
        BULKHEAD_ROOT="$ROOT" BULKHEAD_VCHAN_DOMID="$2" BULKHEAD_QUBE="$1" \
        BULKHEAD_AGENT_ETC_ROOT="$ROOT/q/$1" "$BH_BIN/bulkhead-agent" \
        >>"$ROOT/agent-$1.log" 2>&1 &
    eval "AGENT_$1=$!"
    track_pid $!
}
attach() { BULKHEAD_ROOT="$ROOT" "$FAKEVM" attach "$1" "$2" >/dev/null; }
run() { bh run "$@"; }

start_busd
start_router
start_agent work 5
check "agent says hello: AgentReady" attach work 5

out=$(run work -- sh -c 'echo hello; id -u' 2>/dev/null)
check "stdout relayed" [ "$out" = "hello
$(qube_uid 5)" ]
err=$(run work -- sh -c 'echo oops >&2' 2>&1 >/dev/null)
check "stderr relayed" [ "$err" = "oops" ]
run work -- sh -c 'exit 7'; rc=$?
check "exit status passed through" [ $rc = 7 ]
run work -- sh -c 'kill -KILL $$'; rc=$?
check "killed by a signal: 128+N" [ $rc = 137 ]
out=$(echo "stdin text" | run work --pass-io -- tr a-z A-Z)
check "--pass-io relays stdin" [ "$out" = "STDIN TEXT" ]
out=$(echo "not for the qube" | run work -- sh -c 'cat; echo end')
check "without --pass-io stdin is at EOF" [ "$out" = "end" ]
out=$(head -c 3000000 /dev/zero | run work -p -- wc -c)
check "3 MB through stdin" [ "$out" = "3000000" ]
out=$(run work -- sh -c 'head -c 5000000 /dev/zero' | wc -c)
check "5 MB through stdout" [ "$out" = "5000000" ]
out=$(run work -- sh -c 'echo $HOME; pwd; echo $BULKHEAD_QUBE')
check "home, cwd and qube name" [ "$out" = "$ROOT/q/work/home
$ROOT/q/work/home
work" ]
run work -- /no/such/cmd 2>/dev/null; rc=$?
check "command not found: 127" [ $rc = 127 ]
run work --user nobody -- true 2>/dev/null; rc=$?
check "unknown user refused: 1" [ $rc = 1 ]
run nosuch -- true 2>/dev/null; rc=$?
check "unknown qube refused: 1" [ $rc = 1 ]
err=$(run nosuch -- true 2>&1)
check "one clear error line" [ "$(printf '%s\n' "$err" | wc -l)" = 1 ]
run work 2>/dev/null; rc=$?
check "no command: usage (2)" [ $rc = 2 ]

# Several commands at once.
out=$(for i in 1 2 3 4 5 6; do run work -- sh -c "sleep 0.2; echo $i" & done; wait)
check "concurrent runs" [ "$(printf '%s\n' "$out" | sort | tr -d '\n')" = "123456" ]

# Hostile agents lose their channel; rpc-router and the others carry on.
n=10
for mode in garbage oversize prehello flood; do
    n=$((n + 1))
    mkdir -p "$ROOT/run/bulkhead/vchan/$n"
    chown "$(qube_uid $n):$(qube_uid $n)" "$ROOT/run/bulkhead/vchan/$n"
    BULKHEAD_ROOT="$ROOT" "$FAKEVM" attach "bad$n" "$n" >/dev/null 2>&1 &
    fv=$!
    setpriv --reuid="$(qube_uid $n)" --regid="$(qube_uid $n)" --clear-groups \
        env BULKHEAD_ROOT="$ROOT" BULKHEAD_VCHAN_DOMID="$n" \
        "$HOSTILE" "$mode" >>"$ROOT/hostile.log" 2>&1
    check "$mode agent: its channel is dropped" [ $? = 0 ]
    kill $fv 2>/dev/null; wait $fv 2>/dev/null
    check "$mode agent: rpc-router alive, others fine" \
        [ "$(run work -- echo still)" = "still" ]
done
check "hostile channels logged" grep -q "dropping its channel" "$ROOT/rr.log"

# rpc-router restarts: a running command carries on (its channel is
# between the agent and the CLI), the agent reconnects, commands work again.
run work -- sh -c 'sleep 1; echo finished' >"$ROOT/during-restart.out" 2>&1 &
inflight=$!
sleep 0.3
kill -KILL "$RR_PID"
start_router
wait $inflight
rc=$?
check "a command survives an rpc-router crash" \
    [ "$rc:$(cat "$ROOT/during-restart.out")" = "0:finished" ]
check "after an rpc-router restart the agent is back" \
    wait_for 10 sh -c "[ \"\$('$BH_BIN/bulkhead' --root '$ROOT' run work -- echo back 2>/dev/null)\" = back ]"

# As pid 1 of a pid namespace: orphans are reaped; SIGTERM ends every
# process and the agent.
if unshare --help 2>/dev/null | grep -q -- --pid; then
    u7=$(qube_uid 7)
    mkdir -p "$ROOT/run/bulkhead/vchan/7" "$ROOT/q/init/etc" "$ROOT/q/init/home"
    chown "$u7:$u7" "$ROOT/run/bulkhead/vchan/7" "$ROOT/q/init/home"
    echo "user:x:$u7:$u7::$ROOT/q/init/home:/bin/sh" >"$ROOT/q/init/etc/passwd"
    BULKHEAD_ROOT="$ROOT" "$FAKEVM" attach init 7 >/dev/null &
    fv=$!
    unshare --pid --fork setpriv --reuid="$u7" --regid="$u7" --clear-groups \
        env BULKHEAD_ROOT="$ROOT" BULKHEAD_VCHAN_DOMID=7 BULKHEAD_QUBE=init \
        BULKHEAD_AGENT_ETC_ROOT="$ROOT/q/init" "$BH_BIN/bulkhead-agent" \
        >>"$ROOT/agent-init.log" 2>&1 &
    us=$!
    track_pid $us
    wait $fv
    check "pid 1 agent: ready" [ $? = 0 ]
    init_pid=$(pgrep -P "$us" | head -1)
    run init -- sh -c 'for i in 1 2 3; do sleep 0.1 & done; exit 0'
    sleep 0.5
    zombies=$(ps -o stat= --ppid "$init_pid" 2>/dev/null | grep -c Z)
    check "pid 1 agent: orphans are reaped" [ "$zombies" = 0 ]
    check "pid 1 agent: it is init" grep -q "as init" "$ROOT/agent-init.log"
    run init -- sh -c 'sleep 60 </dev/null >/dev/null 2>&1 &' 
    kill -TERM "$init_pid"
    check "pid 1 agent: SIGTERM ends it" wait_for 10 sh -c "! kill -0 $init_pid"
    # The kernel kills the rest of the pid namespace after its init, a
    # moment later.
    check "pid 1 agent: and every process" \
        wait_for 5 sh -c "[ -z \"\$(pgrep -u $u7)\" ]"
else
    echo "# skipped pid 1 tests: unshare without --pid"
fi

# Shutdown: the agent ends its commands and exits.
run work -- sleep 30 >/dev/null 2>&1 &
sleeper=$!
sleep 0.3
out=$(BULKHEAD_ROOT="$ROOT" "$FAKEVM" shutdown work)
check "shutdown: AgentGone" [ "${out#gone work }" != "$out" ]
eval "ap=\$AGENT_work"
check "shutdown: the agent exited" wait_for 5 sh -c "! kill -0 $ap"
wait $sleeper; rc=$?
check "shutdown: the running command was ended" [ $rc != 0 ]
run work -- true 2>/dev/null; rc=$?
check "after shutdown: refused" [ $rc = 1 ]

finish
