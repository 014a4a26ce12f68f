#!/bin/sh
# Integration suite of disposables (issue 5) with the whole qube stack
# (launcher, busd, storage-manager, rpc-router, vm-manager, agent) under a
# temp --root: `run --dispvm` (name, root from the template's template,
# private as a copy-on-write view of the disposable template's, exit
# status, --pass-io, removal with all its storage), --dispvm=T and the
# default_dispvm preference, refusals, preloaded disposables (handed out,
# refilled, dropped when their template changes), named disposables
# (settings kept, pristine storage at every start), and what must leave
# nothing behind: the command killed, kill -9 of the CLI, kill -9 of the
# qube's init, and a crash of the whole system mid-run (next boot).  Then
# template switching of a halted AppVM (private data kept, switching back).
# Needs root.
. "$(dirname "$0")/../lib.sh"

has() { printf '%s\n' "$1" | grep -q -- "$2"; }
state() { bh ls --format json | tr '{' '\n' | grep "\"name\":\"$1\"" |
          sed 's/.*"state":"\([A-Za-z]*\)".*/\1/'; }
is_state() { [ "$(state "$1")" = "$2" ]; }
exists() { [ -e "$ROOT/var/lib/bulkhead/qubes/$1.conf" ]; }
# Nothing of qube $1 anywhere: database, volumes, run record, listing.
gone() {
    ! exists "$1" && [ ! -e "$POOL/qubes/$1" ] &&
        [ ! -e "$ROOT/run/bulkhead/qubes/$1.pid" ] &&
        ! bh ls 2>/dev/null | grep -q "^$1 "
}
# dispN qubes that are not preloads waiting to be handed out.
strays() {
    for f in "$ROOT"/var/lib/bulkhead/qubes/disp*.conf; do
        [ -e "$f" ] || continue
        grep -q '^feature.preloaded = 1' "$f" || basename "$f" .conf
    done
}
no_strays() { [ -z "$(strays)" ]; }
# The preloaded disposable of default-dvm (other templates have their own).
preload() {
    for f in "$ROOT"/var/lib/bulkhead/qubes/disp*.conf; do
        [ -e "$f" ] && grep -q '^feature.preloaded = 1' "$f" &&
            grep -q '^template = default-dvm$' "$f" &&
            basename "$f" .conf && return 0
    done
    return 1
}
preload_running() { p=$(preload) && is_state "$p" Running; }

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root (namespaces, cgroups, idmapped mounts)"
    echo "0 passed, 0 failed"
    exit 0
fi

tmproot
qube_system vm-manager storage-manager rpc-router
POOL=$ROOT/var/lib/bulkhead/pools/default
kill_qubes() {
    for r in "$ROOT"/run/bulkhead/qubes/*.pid; do
        [ -e "$r" ] || continue
        kill -9 "$(awk '$1 == "pid" {print $3}' "$r")" 2>/dev/null
    done
    return 0
}
# `run --dispvm` processes of this suite (the CLI and its detached guard
# carry our root in their arguments): by pid, never by name.
our_cli_pids() {
    ps -eo pid=,args= | awk -v r="$ROOT" 'index($0, r "/bin/bulkhead --root " r " run --dispvm") {print $1}'
}
at_cleanup 'for p in $(our_cli_pids); do kill -9 $p; done'
boot_stack() { qube_system_start; }
check "the system boots" boot_stack

# --- setup: a template and a disposable template with a marker ---------------
check "template install minimal" bh template install minimal
check "create default-dvm (template_for_dispvms)" \
    bh create default-dvm --template minimal --label red \
    --prop template_for_dispvms=true --prop netvm=none
bh start default-dvm >/dev/null
bh run default-dvm -- sh -c 'echo from-dvm > ~/marker' >/dev/null
bh shutdown --wait default-dvm >/dev/null
check "default-dvm's private holds the marker" \
    [ "$(bh volume revisions default-dvm:private | wc -l)" -ge 2 ]

# --- run --dispvm ----------------------------------------------------------
out=$(bh run --dispvm -- sh -c 'hostname; cat ~/marker; id -un;
      test -x /bin/busybox && echo has-root;
      echo scratch > ~/new; echo ok' 2>&1)
d=$(printf '%s\n' "$out" | head -n 1)
check "run --dispvm runs in a fresh dispN ($d)" \
    sh -c "echo '$d' | grep -qx 'disp[0-9]*'"
check "  ... its private starts from default-dvm's (marker)" \
    has "$out" "^from-dvm$"
check "  ... as user" has "$out" "^user$"
check "  ... on the template's root (minimal)" has "$out" "^has-root$"
check "  ... its home is writable" has "$out" "^ok$"
check "  ... and afterwards it is gone with all its storage" \
    wait_for 10 gone "$d"
check "  ... no database entry, volume or run record left" no_strays
bh start default-dvm >/dev/null
out=$(bh run default-dvm -- sh -c 'ls ~; cat ~/marker' 2>&1)
bh shutdown --wait default-dvm >/dev/null
check_fails "the disposable's writes never reached default-dvm: $(echo $out)" \
    has "$out" "^new$"
check "  ... whose marker is intact" has "$out" "^from-dvm$"

bh run --dispvm -- sh -c 'exit 7' >/dev/null 2>&1; rc=$?
check "the exit status is the command's (7, got $rc)" [ "$rc" = 7 ]
out=$(echo piped | bh run --dispvm --pass-io -- cat 2>&1)
check "--pass-io relays stdin ($out)" [ "$out" = piped ]
out=$(echo piped | bh run --dispvm -- cat 2>&1)
check "without --pass-io the command reads EOF ($out)" [ -z "$out" ]

# --- preloaded disposables ---------------------------------------------------
check "a preloaded disposable is kept ready after use" \
    wait_for 15 preload_running
p=$(preload)
ppid=$(awk '$1 == "pid" {print $3}' "$ROOT/run/bulkhead/qubes/$p.pid")
out=$(bh run --dispvm -- hostname 2>&1)
check "the next run --dispvm is the preload ($p = $out)" [ "$out" = "$p" ]
check "  ... which is gone afterwards" wait_for 10 gone "$p"
check "  ... and replaced by a new preload" wait_for 15 preload_running
check_fails "  ... a new qube (names are dispQID and may recur; not init $ppid)" \
    [ "$(awk '$1 == "pid" {print $3}' "$ROOT/run/bulkhead/qubes/$(preload).pid")" = "$ppid" ]
p=$(preload)
bh start default-dvm >/dev/null
bh run default-dvm -- sh -c 'echo changed > ~/marker' >/dev/null
bh shutdown --wait default-dvm >/dev/null
check "a change of default-dvm's private drops the stale preload ($p)" \
    wait_for 10 gone "$p"
wait_for 15 preload_running
out=$(bh run --dispvm -- cat /home/user/marker 2>&1)
check "  ... the next disposable sees the change ($out)" [ "$out" = changed ]

# --- choosing the disposable template ---------------------------------------------
bh create other-dvm --template minimal --label green \
    --prop template_for_dispvms=true --prop netvm=none >/dev/null
bh start other-dvm >/dev/null
bh run other-dvm -- sh -c 'echo from-other > ~/marker' >/dev/null
bh shutdown --wait other-dvm >/dev/null
out=$(bh run --dispvm=other-dvm -- cat /home/user/marker 2>&1)
check "--dispvm=other-dvm uses that template ($out)" [ "$out" = from-other ]
check "prefs --global default_dispvm other-dvm" \
    bh prefs --global default_dispvm other-dvm
out=$(bh run --dispvm -- cat /home/user/marker 2>&1)
check "  ... then plain --dispvm uses it ($out)" [ "$out" = from-other ]
bh prefs --global default_dispvm --default >/dev/null
err=$(bh run --dispvm=nosuch -- true 2>&1); rc=$?
check "an unknown disposable template is refused (rc $rc): $err" \
    [ "$rc" = 1 ]
check "  ... naming it" has "$err" nosuch
bh create work --template minimal --label blue --prop netvm=none >/dev/null
err=$(bh run --dispvm=work -- true 2>&1); rc=$?
check "an AppVM without template_for_dispvms is refused (rc $rc): $err" \
    [ "$rc" = 1 ]
check "  ... saying why" has "$err" "not a disposable template"
check "refusals leave no disposable behind" no_strays

# --- named disposables (sys-usb style) ---------------------------------------------
check "create sys-usb --class DispVM --template default-dvm" \
    bh create sys-usb --class DispVM --template default-dvm
check "  ... its settings can be changed" bh prefs sys-usb memory 300
bh start sys-usb >/dev/null
out=$(bh run sys-usb -- sh -c 'cat ~/marker; echo dirty > ~/junk' 2>&1)
bh run -u root sys-usb -- sh -c 'echo dirty > /etc/junk' >/dev/null 2>&1
check "  ... starts from default-dvm's private ($out)" has "$out" changed
check "  ... shutdown --wait" bh shutdown --wait sys-usb
check "  ... it is still there after halting (no auto_cleanup)" \
    exists sys-usb
bh start sys-usb >/dev/null
out=$(bh run sys-usb -- sh -c 'ls ~/junk /etc/junk 2>&1; cat ~/marker' 2>&1)
check_fails "  ... next start is pristine (no ~/junk, no /etc/junk)" \
    has "$out" "^/.*junk$"
check "  ... and still has default-dvm's private" has "$out" "^changed$"
check "  ... settings kept (memory $(bh prefs sys-usb memory))" \
    [ "$(bh prefs sys-usb memory)" = 300 ]
bh shutdown --wait sys-usb >/dev/null

# --- nothing left behind -------------------------------------------------------------
wait_for 15 preload_running
out=$(bh run --dispvm -- sh -c 'hostname; kill -9 $$' 2>&1); rc=$?
d=$(printf '%s\n' "$out" | head -n 1)
check "a command killed by SIGKILL: status 137 ($rc)" [ "$rc" = 137 ]
check "  ... its disposable $d is gone" wait_for 10 gone "$d"

wait_for 15 preload_running
p=$(preload)
"$BH_BIN/bulkhead" --root "$ROOT" run --dispvm -- sleep 100 >/dev/null 2>&1 &
cli=$!
wait_for 10 sh -c "! grep -q '^feature.preloaded' '$ROOT/var/lib/bulkhead/qubes/$p.conf'"
sleep 0.3
check "kill -9 of the CLI mid-run ($p running sleep)" kill -9 "$cli"
wait "$cli" 2>/dev/null
check "  ... its disposable $p is killed and removed (the guard)" \
    wait_for 10 gone "$p"

wait_for 15 preload_running
p=$(preload)
"$BH_BIN/bulkhead" --root "$ROOT" run --dispvm -- sleep 100 >/dev/null 2>&1 &
cli=$!
wait_for 10 sh -c "! grep -q '^feature.preloaded' '$ROOT/var/lib/bulkhead/qubes/$p.conf'"
sleep 0.3
ipid=$(awk '$1 == "pid" {print $3}' "$ROOT/run/bulkhead/qubes/$p.pid")
check "kill -9 of the qube's init mid-run ($p, pid $ipid)" kill -9 "$ipid"
wait "$cli"; rc=$?
check "  ... the CLI fails (rc $rc)" [ "$rc" != 0 ]
check "  ... the disposable is removed" wait_for 10 gone "$p"

# A crash of the whole system mid-run: every process of the system dies
# at once (launcher, services, qubes, the CLI and its guard), then boot.
wait_for 15 preload_running
p=$(preload)
"$BH_BIN/bulkhead" --root "$ROOT" run --dispvm -- sleep 100 >/dev/null 2>&1 &
cli=$!
wait_for 10 sh -c "! grep -q '^feature.preloaded' '$ROOT/var/lib/bulkhead/qubes/$p.conf'"
sleep 0.3
svcs=$(bh service list | awk 'NR > 1 {print $3}')
for pid in $(our_cli_pids) $LAUNCHER_PID $svcs; do kill -9 "$pid" 2>/dev/null; done
kill_qubes
wait "$cli" 2>/dev/null
sleep 0.5
check "crash mid-run: $p and a preload were on disk" \
    sh -c "ls '$ROOT/var/lib/bulkhead/qubes/' | grep -q disp"
check "  ... the system boots again" boot_stack
check "  ... no disposable is left after the boot" wait_for 10 sh -c \
    "! ls '$ROOT/var/lib/bulkhead/qubes/' | grep -q '^disp'"
check "  ... no disposable storage either" \
    sh -c "! ls '$POOL/qubes/' | grep -q '^disp'"
check "  ... no run record" sh -c "! ls '$ROOT/run/bulkhead/qubes/' | grep -q '^disp'"
out=$(bh run --dispvm -- echo again 2>&1)
check "  ... and run --dispvm works again ($out)" [ "$out" = again ]

# --- template switching of a halted AppVM ------------------------------------
SRC=$ROOT/alt-src
mkdir -p "$SRC/bin" "$SRC/etc"
cp "$(readlink -f "$(command -v busybox 2>/dev/null || echo /bin/busybox)")" \
    "$SRC/bin/busybox"
for a in sh cat echo ls id hostname sleep; do ln -s busybox "$SRC/bin/$a"; done
echo alt-template > "$SRC/etc/marker"
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n' \
    > "$SRC/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' > "$SRC/etc/group"
tar -C "$SRC" -czf "$ROOT/alt.tgz" .
check "template import alt (a busybox tarball with a marker)" \
    bh template import alt "$ROOT/alt.tgz"
bh start work >/dev/null
bh run work -- sh -c 'echo mine > ~/data' >/dev/null
bh shutdown --wait work >/dev/null
check "prefs work template alt (halted)" bh prefs work template alt
bh start work >/dev/null
out=$(bh run work -- sh -c 'cat /etc/marker; cat ~/data' 2>&1)
check "work now runs on alt: $(echo $out)" has "$out" "^alt-template$"
check "  ... with its private data kept" has "$out" "^mine$"
bh shutdown --wait work >/dev/null
check "prefs work template minimal (back)" bh prefs work template minimal
bh start work >/dev/null
out=$(bh run work -- sh -c 'cat /etc/marker 2>&1; cat ~/data' 2>&1)
check_fails "back on minimal: no alt marker: $(echo $out)" \
    has "$out" "^alt-template$"
check "  ... data kept" has "$out" "^mine$"
bh shutdown --wait work >/dev/null

# --- software installed once in the template reaches every AppVM ---------
bh create work2 --template minimal --label blue --prop netvm=none >/dev/null
bh start minimal >/dev/null
bh run -u root minimal -- sh -c 'printf "#!/bin/sh\necho vim-1.0\n" > /usr/bin/vim && chmod 755 /usr/bin/vim' >/dev/null
bh shutdown --wait minimal >/dev/null
bh start work >/dev/null
bh start work2 >/dev/null
check "installed once in minimal, work has it" \
    [ "$(bh run work -- vim 2>&1)" = vim-1.0 ]
check "  ... and work2 too" [ "$(bh run work2 -- vim 2>&1)" = vim-1.0 ]
bh shutdown --all --wait >/dev/null 2>&1
finish
