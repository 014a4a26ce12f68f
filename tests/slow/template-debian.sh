#!/bin/sh
# Slow, opt-in (`./test slow`; needs root and Debian's archive): `bulkhead
# template install debian-12` (debootstrap --variant=minbase bookworm,
# progress shown) builds a TemplateVM; a failed install (unreachable
# mirror) and an interrupted one (Ctrl-C = SIGINT to the process group
# mid-download) leave nothing behind (no template, no tree, no staged root,
# no mount); an AppVM runs on it as user with the agent and the in-qube
# tools (bound in by the ns backend); a disposable of a Debian-based
# disposable template runs too.  Prints the install time.
. "$(dirname "$0")/../lib.sh"

has() { printf '%s\n' "$1" | grep -q -- "$2"; }
if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root"
    echo "0 passed, 0 failed"
    exit 0
fi

tmproot
qube_system vm-manager storage-manager rpc-router
POOL=$ROOT/var/lib/bulkhead/pools/default
check "the system boots" qube_system_start

nothing_left() {
    ! bh template list 2>/dev/null | grep -q "^$1 " &&
        [ ! -e "$ROOT/var/lib/bulkhead/qubes/$1.conf" ] &&
        [ -z "$(ls -A "$ROOT/var/tmp" 2>/dev/null)" ] &&
        [ -z "$(ls -A "$POOL/staging" 2>/dev/null)" ] &&
        ! awk -v r="$ROOT/var/tmp" 'index($2, r) == 1' /proc/mounts | grep -q .
}

# --- a failed install ------------------------------------------------------
err=$(BULKHEAD_DEBIAN_MIRROR=http://127.0.0.1:9/debian \
      bh template install debian-12 --name deb-fail 2>&1); rc=$?
check "an install from an unreachable mirror fails (rc $rc)" [ "$rc" != 0 ]
check "  ... saying so: $(printf '%s' "$err" | tail -n 1)" has "$err" "debootstrap failed"
check "  ... and leaves nothing behind" nothing_left deb-fail

# --- an interrupted install (Ctrl-C mid-download) ------------------------------
setsid "$BH_BIN/bulkhead" --root "$ROOT" template install debian-12 \
    --name deb-int >"$ROOT/int.log" 2>&1 &
ipid=$!
track_pid "$ipid"
check "an install starts downloading (progress shown)" \
    wait_for 120 grep -q "I: Retrieving\|I: Validating" "$ROOT/int.log"
sleep 3
kill -INT -- "-$ipid"
wait "$ipid"; rc=$?
check "Ctrl-C interrupts it (rc $rc)" [ "$rc" = 130 ]
check "  ... and leaves nothing behind" nothing_left deb-int

# --- the real install ----------------------------------------------------------
t0=$(date +%s)
bh template install debian-12 >"$ROOT/install.log" 2>&1; rc=$?
t1=$(date +%s)
echo "# template install debian-12: $((t1 - t0)) s"
check "template install debian-12 (rc $rc, $((t1 - t0)) s)" [ "$rc" = 0 ]
check "  ... showed debootstrap's progress" \
    grep -q "I: Base system installed successfully" "$ROOT/install.log"
out=$(bh template list)
check "template list shows it: $(echo "$out" | grep debian)" \
    has "$out" "^debian-12  *debian-12 "
check "the debootstrap tree is gone" \
    test -z "$(ls -A "$ROOT/var/tmp" 2>/dev/null)"
check "create deb --template debian-12" \
    bh create deb --template debian-12 --label green --prop netvm=none
check "start deb" bh start deb
out=$(bh run deb -- cat /etc/debian_version 2>&1)
check "it runs Debian 12: $out" has "$out" "^12"
out=$(bh run deb -- id -un 2>&1)
check "commands run as user: $out" test "$out" = user
out=$(bh run deb -- sh -c 'echo hi > ~/f && cat ~/f' 2>&1)
check "the home is writable: $out" test "$out" = hi
out=$(bh run deb -- sh -c 'ls /run/bulkhead/bin' 2>&1)
check "the agent and the in-qube tools are there: $(echo $out)" \
    sh -c "echo '$out' | grep -q bulkhead-agent && echo '$out' | grep -q bulkhead-copy"
out=$(bh run -u root deb -- dpkg-query -W -f '${Status}' dpkg 2>&1)
check "dpkg works as root: $out" has "$out" "install ok installed"
bh shutdown deb --wait >/dev/null
check "a Debian disposable template" \
    bh create deb-dvm --template debian-12 --label red \
    --prop template_for_dispvms=true --prop netvm=none
out=$(bh run --dispvm=deb-dvm -- cat /etc/debian_version 2>&1)
check "run --dispvm=deb-dvm runs on Debian: $out" has "$out" "^12"
finish
