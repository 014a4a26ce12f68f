#!/bin/sh
# storage-service-kill: SIGKILLs the real storage-manager service at many
# instants while it releases a qube's volumes (commit of a session with
# whiteouts and an opaque directory, then a merge: revisions_to_keep 0,
# a private volume of FILES files).  After the launcher restarted it, the
# qube's next start must show exactly its last state (committed, or the
# still-open session handed out again), never a mix, and nothing is lost.
#   STORAGE_KILL_TRIALS (default 12), STORAGE_KILL_FILES (default 2000)
. "$(dirname "$0")/../lib.sh"

has() { printf '%s\n' "$1" | grep -q -- "$2"; }
svc_pid() { bh service list | awk -v s="$1" '$1 == s {print $3}'; }
svc_up() { bh service list | awk -v s="$1" '$1 == s {print $2}' | grep -qx up; }

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root"
    echo "0 passed, 0 failed"
    exit 0
fi
N=${STORAGE_KILL_TRIALS:-12}
FILES=${STORAGE_KILL_FILES:-2000}

tmproot
qube_system vm-manager storage-manager rpc-router
check "the system boots" qube_system_start
bh template install minimal >/dev/null 2>&1
check "create w" bh create w --template minimal --label red
check "revisions_to_keep 0: every commit merges" \
    bh volume config w:private revisions_to_keep 0
bh start w >/dev/null
bh run w -- sh -c "cd ~ && mkdir -p d keep/sub && i=0 &&
    while [ \$i -lt $FILES ]; do echo \$i > d/f\$i; i=\$((i + 1)); done &&
    echo k > keep/sub/k" >/dev/null
bh shutdown w --wait >/dev/null
STATE='cd ~ && echo "$(cat marker 2>/dev/null) $(ls d | wc -l) $(ls keep 2>/dev/null | tr "\n" ,) $(cat opaque/x 2>/dev/null)"'

i=1
while [ "$i" -le "$N" ]; do
    bh start w >/dev/null || { fail "trial $i: start"; i=$((i + 1)); continue; }
    # the session: a marker, a whole dir replaced (opaque), files deleted
    bh run w -- sh -c "cd ~ && echo $i > marker && rm -rf opaque keep/sub &&
        mkdir opaque && echo $i > opaque/x && rm -f d/f$i" >/dev/null
    want=$(bh run w -- sh -c "$STATE" 2>&1)
    old=$(svc_pid storage-manager)
    bh shutdown w --wait >/dev/null 2>&1 &
    sd=$!
    # spread the kills over the shutdown: 0 .. 0.5 s
    sleep "$(awk -v i="$i" -v n="$N" 'BEGIN { printf "%.3f", (i % n) / n * 0.5 }')"
    kill -9 "$old" 2>/dev/null
    wait "$sd"
    restarted() { [ "$(svc_pid storage-manager)" != "$old" ] && svc_up storage-manager; }
    # 5 deaths within 60 s mark a service failed (launcher crash-loop
    # guard): forgive it as an operator would
    if ! wait_for 10 restarted; then
        bh service restart storage-manager >/dev/null 2>&1
        wait_for 10 restarted || fail "trial $i: storage-manager not restarted"
    fi
    wait_for 10 sh -c "'$BH_BIN/bulkhead' --root '$ROOT' ls | grep -q '^w .*Halted'" ||
        bh kill w >/dev/null 2>&1
    bh start w >/dev/null 2>&1 || { sleep 1; bh start w >/dev/null 2>&1; }
    got=$(bh run w -- sh -c "$STATE" 2>&1)
    check "trial $i: the qube's last state is intact ($got)" test "$got" = "$want"
    bh shutdown w --wait >/dev/null 2>&1
    i=$((i + 1))
done
bh start w >/dev/null
got=$(bh run w -- sh -c "$STATE" 2>&1)
check "after all trials: $got" has "$got" "^$N "
bh shutdown w --wait >/dev/null
out=$(bh volume revisions w:private | tail -n +2 | wc -l)
check "revisions_to_keep 0 holds: one layer ($out)" test "$out" = 1
finish
