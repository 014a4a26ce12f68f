#!/bin/sh
# Integration suite of storage-manager with the qube stack (launcher, busd,
# vm-manager, rpc-router, agent) under a temp --root: template install and
# list, failed installs leave nothing, imports of a directory and of a
# tarball that AppVMs then run on, volume list/info/revisions, revert
# (refused while running, then restoring the earlier private state),
# revisions_to_keep 0, and a kill -9 of storage-manager while a qube runs
# (its session survives and is committed at the next release), and a
# template root revert reaching AppVMs at their restart.  Needs root.
. "$(dirname "$0")/../lib.sh"

has() { printf '%s\n' "$1" | grep -q -- "$2"; }
svc_pid() { bh service list | awk -v s="$1" '$1 == s {print $3}'; }
svc_up() { bh service list | awk -v s="$1" '$1 == s {print $2}' | grep -qx up; }

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root (namespaces, overlayfs)"
    echo "0 passed, 0 failed"
    exit 0
fi

tmproot
qube_system vm-manager storage-manager rpc-router
POOL=$ROOT/var/lib/bulkhead/pools/default
check "the system boots" qube_system_start

# --- templates --------------------------------------------------------------
check "template install minimal" bh template install minimal
out=$(bh template list)
check "template list shows minimal" has "$out" "^minimal  *minimal "
check "the pool is 0700" test "$(stat -c %a "$POOL")" = 700
err=$(bh template install minimal 2>&1); rc=$?
check "installing it again fails clearly (rc $rc): $err" \
    test $rc = 1 -a -n "$err"
err=$(bh template install nosuch 2>&1); rc=$?
check "an unknown flavour is a usage error (rc $rc)" test $rc = 2
check "no staged leftovers" test -z "$(ls -A "$POOL/staging")"
root_layer=$(ls -d "$POOL"/qubes/minimal/root/layers/*)
check "template files are root-owned (canonical)" \
    test "$(stat -c %u:%g "$root_layer/bin/busybox")" = 0:0
check "the user's home on a private base is uid 1000" \
    test "$(stat -c %u "$POOL"/qubes/minimal/private/layers/1/home/user)" = 1000

# a root filesystem directory, and the same as a tarball
SRC=$ROOT/srcroot
mkdir -p "$SRC/bin" "$SRC/etc"
cp /bin/busybox "$SRC/bin/busybox"
ln -s busybox "$SRC/bin/sh"
ln -s busybox "$SRC/bin/cat"
echo 'ID=imported' > "$SRC/etc/os-release"
echo 'root:x:0:0:root:/root:/bin/sh' > "$SRC/etc/passwd"
echo 'root:x:0:' > "$SRC/etc/group"
check "template import of a directory" bh template import imp "$SRC"
tar -C "$SRC" -czf "$ROOT/root.tgz" .
check "template import of a tarball" bh template import impt "$ROOT/root.tgz"
out=$(bh template list)
check "both imports are listed" has "$out" "^impt  *import "
check "an import gets the user uid 1000" \
    grep -q '^user:x:1000:' "$(ls -d "$POOL"/qubes/impt/root/layers/*)/etc/passwd"
head -c 10000 /dev/urandom > "$ROOT/bad.tgz"
err=$(bh template import bad "$ROOT/bad.tgz" 2>&1); rc=$?
check "a corrupt tarball fails clearly (rc $rc): $err" test $rc = 1
check "and leaves no template, qube or staged tree" \
    test ! -e "$POOL/qubes/bad" -a -z "$(ls -A "$POOL/staging")"
out=$(bh ls)
check_fails "bad is no qube" has "$out" "^bad "
check "an AppVM runs on the imported template" \
    bh create ai --template impt --label green
check "start ai" bh start ai
out=$(bh run ai -- cat /etc/os-release 2>&1)
check "it sees the imported root: $out" has "$out" "ID=imported"
bh shutdown ai --wait >/dev/null 2>&1

# --- revisions and revert ----------------------------------------------------
check "create work" bh create work --template minimal --label blue
check "start work" bh start work
bh run work -- sh -c 'echo one > ~/notes.txt' >/dev/null
check "shutdown work" bh shutdown work --wait
bh start work >/dev/null && bh run work -- sh -c 'echo two > ~/notes.txt'
err=$(bh volume revert work:private 2>&1); rc=$?
check "revert is refused while running (rc $rc): $err" \
    test $rc = 1 && has "$err" running
out=$(bh volume list work)
check "volume list shows the volumes in use" has "$out" "in use"
bh shutdown work --wait >/dev/null
out=$(bh volume revisions work:private)
check "two revisions above the base" \
    test "$(printf '%s\n' "$out" | tail -n +2 | wc -l)" = 3
out=$(bh volume info work:private)
check "volume info shows the space of each revision" has "$out" HOLDS
check "revert work:private" bh volume revert work:private
bh start work >/dev/null
out=$(bh run work -- cat /home/user/notes.txt 2>&1)
check "the earlier state is back: $out" test "$out" = one
bh shutdown work --wait >/dev/null
err=$(bh volume revert work:root 2>&1); rc=$?
check "an AppVM root has no revisions (rc $rc)" test $rc = 1
err=$(bh volume revert work:nosuch 2>&1); rc=$?
check "a bad volume name is a usage error (rc $rc)" test $rc = 2
check "revisions_to_keep 0 merges at once" \
    bh volume config work:private revisions_to_keep 0
out=$(bh volume revisions work:private | tail -n +2 | wc -l)
check "one layer left ($out)" test "$out" = 1
bh start work >/dev/null
out=$(bh run work -- cat /home/user/notes.txt 2>&1)
check "the merged state is what the qube saw: $out" test "$out" = one

# --- reverting a template's root: AppVMs boot on the previous software ----
check "start the template" bh start minimal
bh run minimal --user root -- sh -c 'echo v2 > /usr/bin/newtool' >/dev/null
check "shutdown the template" bh shutdown minimal --wait
bh shutdown work --wait >/dev/null 2>&1
bh start work >/dev/null
out=$(bh run work -- cat /usr/bin/newtool 2>&1)
check "an AppVM started after the commit has the new software: $out" \
    test "$out" = v2
bh shutdown work --wait >/dev/null
check "revert minimal:root" bh volume revert minimal:root
bh start work >/dev/null
check_fails "after its restart the AppVM runs the previous software" \
    bh run work -- test -e /usr/bin/newtool

# --- kill -9 of storage-manager while the qube runs ------------------------
bh run work -- sh -c 'echo three > ~/notes.txt' >/dev/null
old=$(svc_pid storage-manager)
kill -9 "$old"
restarted() { [ "$(svc_pid storage-manager)" != "$old" ] && svc_up storage-manager; }
check "storage-manager is restarted" wait_for 10 restarted
out=$(bh volume list work)
check "work's volumes are still in use after the restart" has "$out" "in use"
out=$(bh run work -- cat /home/user/notes.txt 2>&1)
check "the qube still runs on its session: $out" test "$out" = three
check "shutdown after the restart" bh shutdown work --wait
bh start work >/dev/null
out=$(bh run work -- cat /home/user/notes.txt 2>&1)
check "the session was committed: $out" test "$out" = three
bh shutdown work --wait >/dev/null
finish
