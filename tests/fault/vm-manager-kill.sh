#!/bin/sh
# Fault suite for vm-manager: kill -9 in the middle of starts and of
# shutdowns, three rounds.  After each restart every qube must be either
# Running (re-adopted, and usable) or Halted (and startable); no qube is
# lost, none is stuck, and at the end nothing is left running.  Needs root.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root"
    echo "0 passed, 0 failed"
    exit 0
fi

state() { bh ls --format json | tr '{' '\n' | grep "\"name\":\"$1\"" |
          sed 's/.*"state":"\([A-Za-z]*\)".*/\1/'; }
svc_pid() { bh service list | awk -v s="$1" '$1 == s {print $3}'; }
svc_up() { bh service list | awk -v s="$1" '$1 == s {print $2}' | grep -qx up; }
vm_back() {
    # the launcher throttles crash loops: revive it if it gave up
    if bh service list | awk '$1 == "vm-manager" {print $2}' | grep -qx failed
    then bh service restart vm-manager >/dev/null; fi
    svc_up vm-manager && bh ls >/dev/null 2>&1
}
settled() { # every qube Running or Halted
    for q in $QUBES; do
        case $(state "$q") in Running | Halted) ;; *) return 1 ;; esac
    done
}

tmproot
qube_system vm-manager storage-manager rpc-router
check "the system boots" qube_system_start

QUBES="q1 q2 q3 q4"
bh template install minimal >/dev/null
for q in $QUBES; do bh create "$q" --template minimal --label green; done

for round in 1 2 3; do
    jobs=""
    for q in $QUBES; do
        bh start "$q" >/dev/null 2>&1 &
        jobs="$jobs $!"
    done
    sleep 0.$((round * 2))
    kill -9 "$(svc_pid vm-manager)"
    for j in $jobs; do wait "$j"; done
    check "round $round: vm-manager is back after a kill during starts" \
        wait_for 20 vm_back
    check "round $round: every qube Running or Halted" wait_for 10 settled
    for q in $QUBES; do
        [ "$(state "$q")" = Halted ] && bh start "$q" >/dev/null 2>&1
    done
    ok=0
    for q in $QUBES; do
        [ "$(bh run "$q" -- echo up 2>/dev/null)" = up ] && ok=$((ok + 1))
    done
    check "round $round: all 4 qubes usable ($ok)" [ "$ok" -eq 4 ]
    bh shutdown --all --wait >/dev/null 2>&1 &
    j=$!
    sleep 0.1
    kill -9 "$(svc_pid vm-manager)"
    wait "$j"
    check "round $round: vm-manager is back after a kill during shutdowns" \
        wait_for 20 vm_back
    check "round $round: settled again" wait_for 15 settled
    check "round $round: shutdown --all completes" bh shutdown --all --wait
    left=$(ls "$ROOT"/run/bulkhead/qubes/*.pid 2>/dev/null | wc -l)
    check "round $round: no run record left ($left)" [ "$left" -eq 0 ]
done
check "no qube was lost" [ "$(bh ls | grep -c '^q[1-4] ')" -eq 4 ]

finish
