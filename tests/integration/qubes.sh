#!/bin/sh
# Integration suite of vm-manager with the whole qube stack: launcher,
# busd, storage-manager, rpc-router, the agent.  Under a temp --root it
# walks the user flow of issue 4 (template install, create, start, run,
# ls, shutdown), then persistence (~ survives, /etc does not), template
# changes (reach an AppVM at its next start, never while it runs), kill -9
# of vm-manager and storage-manager while qubes run, isolation (host
# processes, mounts, other qubes' files), the memory limit, pause, events,
# autostart, and refusals that must change nothing.  Needs root.
. "$(dirname "$0")/../lib.sh"

has() { printf '%s\n' "$1" | grep -q -- "$2"; }
state() { bh ls --format json | tr '{' '\n' | grep "\"name\":\"$1\"" |
          sed 's/.*"state":"\([A-Za-z]*\)".*/\1/'; }
is_state() { [ "$(state "$1")" = "$2" ]; }
svc_pid() { bh service list | awk -v s="$1" '$1 == s {print $3}'; }
svc_up() { bh service list | awk -v s="$1" '$1 == s {print $2}' | grep -qx up; }
init_pid() { bh ls --format json | tr '{' '\n' | grep "\"name\":\"$1\"" |
             sed 's/.*"pid":\([0-9]*\).*/\1/'; }

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root (namespaces, cgroups, idmapped mounts)"
    echo "0 passed, 0 failed"
    exit 0
fi

tmproot
# Only the services a qube needs: the others have their own suites.
qube_system vm-manager storage-manager rpc-router
check "the system boots (busd, storage, rpc-router, vm-manager)" \
    qube_system_start

# --- the user flow of issue 4 ---------------------------------------------
check "template install minimal" bh template install minimal
check "create work --template minimal --label blue" \
    bh create work --template minimal --label blue
check "start work" bh start work
check "work is Running after start" is_state work Running
CG_GROUP=$(awk '$1 == "cgroup_group" {print $3}' \
    "$ROOT/run/bulkhead/qubes/work.pid")
out=$(bh run work -- sh -c 'echo hello > ~/notes.txt; id -un; hostname')
check "run: id -un is user, hostname is work (got: $(echo $out))" \
    [ "$out" = "user
work" ]
ls_out=$(bh ls)
check "ls shows work Running with its template and label" \
    has "$ls_out" "^work  *AppVM  *Running  *minimal .* blue"
check "ls says the ns backend is kernel-shared isolation" \
    has "$ls_out" "kernel-shared isolation"
bh run -u root work -- sh -c 'echo scratch > /etc/scratch' >/dev/null
check "shutdown work --wait" bh shutdown work --wait
check "work is Halted after shutdown --wait" is_state work Halted

# --- persistence: private survives, root is reset -------------------------
bh start work >/dev/null
check "~/notes.txt survives a restart" \
    [ "$(bh run work -- cat /home/user/notes.txt)" = hello ]
check_fails "/etc/scratch (root volume) is gone after a restart" \
    bh run work -- test -e /etc/scratch

# --- template changes reach AppVMs at their next start --------------------
check "start the template" bh start minimal
bh run -u root minimal -- sh -c \
    'printf "#!/bin/sh\necho newtool\n" > /usr/bin/newtool; chmod 755 /usr/bin/newtool'
check "the template sees its new tool" \
    [ "$(bh run minimal -- newtool)" = newtool ]
check_fails "a running AppVM does not see it (template running)" \
    bh run work -- test -e /usr/bin/newtool
bh shutdown --wait minimal >/dev/null
check_fails "a running AppVM does not see it (template stopped)" \
    bh run work -- test -e /usr/bin/newtool
bh shutdown --wait work >/dev/null
bh start work >/dev/null
check "after its restart the AppVM has it" \
    [ "$(bh run work -- newtool)" = newtool ]

# --- isolation ---------------------------------------------------------------
bh create other --template minimal --label red >/dev/null
bh start other >/dev/null
bh run other -- sh -c 'echo secret > ~/other-secret' >/dev/null
n=$(bh run -u root work -- sh -c 'ls /proc | grep -c "^[0-9]"')
check "root in work sees only its own processes ($n)" [ "$n" -lt 20 ]
check_fails "root in work cannot see the launcher's pid" \
    bh run -u root work -- test -e "/proc/$LAUNCHER_PID/status"
check_fails "root in work cannot see host mounts (the bulkhead root)" \
    bh run -u root work -- grep -q "$ROOT" /proc/mounts
check_fails "root in work cannot see host mounts (/work, /etc/hostname)" \
    bh run -u root work -- grep -qE ' /work | /etc/hostname ' /proc/mounts
check_fails "root in work cannot find other's files" \
    bh run -u root work -- sh -c 'find / -xdev -name other-secret 2>/dev/null | grep -q .'
wpid=$(init_pid work)
uid=$(awk '/^Uid:/ {print $2}' "/proc/$wpid/status")
check "root of work is an unprivileged uid on the host ($uid)" \
    [ "$uid" -ge 100000 ]
check "files of the template show canonical owners inside (root)" \
    [ "$(bh run work -- stat -c %u /bin/busybox)" = 0 ]
check "the user's home is owned by user inside" \
    [ "$(bh run work -- stat -c %U /home/user)" = user ]

# --- memory limit -------------------------------------------------------------
bh shutdown --wait work >/dev/null
check "prefs work memory 64" bh prefs work memory 64
check "prefs reads it back" [ "$(bh prefs work memory)" = 64 ]
bh start work >/dev/null
out=$(bh run -u root work -- sh -c \
    'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived ${#x}' 2>&1)
check_fails "a qube cannot exceed its memory limit (got: $out)" \
    has "$out" survived
check "the qube still runs after the OOM kill" \
    [ "$(bh run work -- echo alive)" = alive ]
mem_limit() { cat /sys/fs/cgroup/memory/"$CG_GROUP"/work/memory.limit_in_bytes \
              /sys/fs/cgroup/"$CG_GROUP"/work/memory.max 2>/dev/null | head -1; }
bh prefs work memory 96 >/dev/null
check "memory raised on a running qube applies at once ($(mem_limit))" \
    [ "$(mem_limit)" = $((96 << 20)) ]

# --- pause, events -----------------------------------------------------------------
"$BH_BIN/bulkhead" --root "$ROOT" events >"$ROOT/events.txt" 2>&1 &
EV_PID=$!
track_pid "$EV_PID"
sleep 0.3
check "pause work" bh pause work
check "work is Paused" is_state work Paused
check "unpause work" bh unpause work
check "run works after unpause" [ "$(bh run work -- echo back)" = back ]
sleep 0.3
check "events: domain-paused and domain-unpaused published" \
    sh -c "grep -q domain-paused '$ROOT/events.txt' && grep -q domain-unpaused '$ROOT/events.txt'"

# --- kill -9 of vm-manager and storage-manager while qubes run ----------------
wpid=$(init_pid work)
opid=$(init_pid other)
kill -9 "$(svc_pid vm-manager)" "$(svc_pid storage-manager)"
sleep 0.2
check "qubes keep running while vm-manager is down" \
    sh -c "kill -0 $wpid && kill -0 $opid"
check "vm-manager comes back" wait_for 10 svc_up vm-manager
check "storage-manager comes back" wait_for 10 svc_up storage-manager
check "ls right after the restart: work Running" is_state work Running
check "ls right after the restart: other Running" is_state other Running
check "the same init (re-adopted, pid $wpid)" [ "$(init_pid work)" = "$wpid" ]
check "run still works" [ "$(bh run work -- cat /home/user/notes.txt)" = hello ]
check "shutdown of a re-adopted qube" bh shutdown --wait work
check "~ survives that stop too" sh -c \
    "$BH_BIN/bulkhead --root $ROOT start work && [ \"\$($BH_BIN/bulkhead --root $ROOT run work -- cat /home/user/notes.txt)\" = hello ]"
check "kill other" bh kill other
check "other is Halted after kill" is_state other Halted

# --- refusals change nothing -----------------------------------------------------
before=$(bh ls --format json)
files=$(ls "$ROOT/var/lib/bulkhead/qubes")
one_line() { [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ]; }
err=$(bh create 9bad --template minimal --label red 2>&1); rc=$?
check "a bad name fails with exit 2 (rc $rc)" [ "$rc" -eq 2 ]
check "  ... in one line: $err" one_line "$err"
check "  ... and names the rule" has "$err" "not a valid qube name"
err=$(bh create x --template nosuch --label red 2>&1); rc=$?
check "an unknown template fails clearly (rc $rc): $err" has "$err" nosuch
err=$(bh remove minimal 2>&1); rc=$?
check "removing a template in use fails clearly (rc $rc): $err" \
    has "$err" "in use"
check_fails "a label outside the set is refused" \
    bh create y --template minimal --label pink
check_fails "netvm must provide network" bh prefs work netvm minimal
check_fails "the template of a running qube cannot change" \
    bh prefs work template minimal
err=$(bh start nosuch 2>&1); rc=$?
check "unknown qube: exit 1 ($rc), one line: $err" \
    sh -c "[ $rc -eq 1 ]"
check "  ... naming the qube" has "$err" "no such qube 'nosuch'"
check "nothing changed: same qubes" [ "$(bh ls --format json | sed 's/"state":"[A-Za-z]*"//g; s/"pid":[0-9]*//g')" = \
    "$(printf '%s' "$before" | sed 's/"state":"[A-Za-z]*"//g; s/"pid":[0-9]*//g')" ]
check "nothing changed: same database files" \
    [ "$(ls "$ROOT/var/lib/bulkhead/qubes")" = "$files" ]

# --- tags, features, remove, autostart ------------------------------------------
check "tags add" bh tags other add project-x
check "tags list" [ "$(bh tags other)" = project-x ]
check "features set" bh features other gui 1
check "features get" [ "$(bh features other gui)" = 1 ]
check "remove other" bh remove other
check_fails "other is gone" bh prefs other label
# --- a netvm in use stops only with --force ---------------------------------------
bh create netq --template minimal --label orange --prop provides_network=true \
    --prop netvm=none >/dev/null
check "work can take netq as netvm" bh prefs work netvm netq
bh start netq >/dev/null
bh start work >/dev/null 2>&1
check_fails "shutdown of a netvm in use is refused" bh shutdown --wait netq
check "shutdown --force stops it" bh shutdown --wait --force netq
bh shutdown --wait work >/dev/null
check "starting work starts its netvm netq too" bh start work
check "  ... netq is up" wait_for 10 is_state netq Running
bh shutdown --wait --force netq >/dev/null
check "prefs --default puts netvm back" bh prefs work netvm --default
check "default netvm is none without sys-firewall" \
    [ "$(bh prefs work netvm)" = none ]
bh shutdown --wait work >/dev/null

# --- disposables ---------------------------------------------------------------------
bh create dvm --template minimal --label red --prop template_for_dispvms=true \
    --prop netvm=none >/dev/null
d=$(bh create --class DispVM --template dvm)
check "a DispVM created without a name gets one ($d)" \
    sh -c "echo '$d' | grep -qx 'disp[0-9]*'"
check "  ... inherits its template's label" [ "$(bh prefs "$d" label)" = red ]
check "  ... starts and runs" sh -c \
    "$BH_BIN/bulkhead --root $ROOT start $d &&
     [ \"\$($BH_BIN/bulkhead --root $ROOT run $d -- echo disp)\" = disp ]"
check "  ... shutdown --wait" bh shutdown --wait "$d"
check "  ... a named disposable stays (no auto_cleanup)" \
    sh -c "$BH_BIN/bulkhead --root $ROOT ls | grep -q '^$d '"
check "  ... remove" bh remove "$d"
d=$(bh create --class DispVM --template dvm --prop auto_cleanup=true)
check "a halted auto_cleanup disposable goes away ($d)" wait_for 10 sh -c \
    "! $BH_BIN/bulkhead --root $ROOT ls | grep -q '^$d '"
check_fails "auto_cleanup is for DispVMs only" \
    bh create notdisp --template minimal --label red --prop auto_cleanup=true

check "autostart on" bh prefs work autostart true
bh shutdown --wait work >/dev/null
bh service restart vm-manager >/dev/null
check "an autostart qube starts with vm-manager" wait_for 15 is_state work Running
check "the database file is human-readable" \
    grep -qx "label = blue" "$ROOT/var/lib/bulkhead/qubes/work.conf"
bh start netq >/dev/null
check "shutdown --all --wait stops every qube" bh shutdown --all --wait
check "  ... work Halted" is_state work Halted
check "  ... netq Halted" is_state netq Halted
check "  ... dom0 still Running" is_state dom0 Running

# --- an agent that never says hello: start fails, nothing is left --------------
printf '#!/bin/sh\nexec sleep 1000\n' >"$ROOT/bin/mute-agent"
chmod 755 "$ROOT/bin/mute-agent"
printf 'agent = %s\nstart_timeout_ms = 1500\n' "$ROOT/bin/mute-agent" \
    >"$ROOT/etc/bulkhead/vm-manager.conf"
bh prefs work autostart false >/dev/null
bh service restart vm-manager >/dev/null
wait_for 10 svc_up vm-manager
err=$(bh start work 2>&1); rc=$?
check "start fails when the agent is not ready in time (rc $rc): $err" \
    has "$err" "did not become ready"
check "  ... and the qube is Halted" wait_for 10 is_state work Halted
check "  ... its run record is gone" \
    [ ! -e "$ROOT/run/bulkhead/qubes/work.pid" ]
check "  ... and its cgroup too" \
    sh -c "! ls -d /sys/fs/cgroup/*/$CG_GROUP/work 2>/dev/null | grep -q ."
rm -f "$ROOT/etc/bulkhead/vm-manager.conf"

finish
