# Shared helpers for the shell integration suites (tests/integration/*.sh).
# Source it first thing:   . "$(dirname "$0")/../lib.sh"
#
# Gives each suite a throw-away root (BULKHEAD_ROOT), `check`, process
# tracking by pid (never by name), cleanup of what the suite started, and
# the closing line "N passed, N failed" that scripts/run-tests reads.

set -u

BH_TOP=$(cd "$(dirname "$0")/../.." && pwd)
BH_BIN=${BH_BIN:-$BH_TOP/build/bin}
BH_TESTBIN=${BH_TESTBIN:-$BH_TOP/build/tests}
T_PASS=0
T_FAIL=0
T_PIDS=""
T_CLEANUPS=""
LAUNCHER_PID=""

# A fresh root under /tmp: short, because unix socket paths are limited to
# 107 bytes and the deepest bus socket sits 5 levels below it.
tmproot() {
    ROOT=$(mktemp -d /tmp/bh.XXXXXX)
    chmod 755 "$ROOT"
    export BULKHEAD_ROOT="$ROOT"
}

pass() { T_PASS=$((T_PASS + 1)); echo "ok - $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL - $*"; }

# check DESCRIPTION COMMAND...: runs COMMAND, counts a pass when it exits 0.
check() {
    _desc=$1
    shift
    if "$@"; then pass "$_desc"; else fail "$_desc"; fi
}

# check_fails DESCRIPTION COMMAND...: counts a pass when COMMAND fails.
check_fails() {
    _desc=$1
    shift
    if "$@"; then fail "$_desc"; else pass "$_desc"; fi
}

# wait_for SECONDS COMMAND...: polls COMMAND every 50 ms until it succeeds.
wait_for() {
    _limit=$(( $1 * 20 ))
    shift
    _i=0
    while [ $_i -lt $_limit ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.05
        _i=$((_i + 1))
    done
    return 1
}

track_pid() { T_PIDS="$T_PIDS $1"; }
# at_cleanup 'shell code': run at exit, last registered first.
at_cleanup() { T_CLEANUPS="$1
$T_CLEANUPS"; }

bh() { "$BH_BIN/bulkhead" --root "$ROOT" "$@"; }

# boot [LAUNCHER OPTIONS...]: installs the default config under $ROOT and
# starts the launcher in the background; waits until every service is up.
boot() {
    "$BH_TOP/scripts/prepare-root" "$ROOT" >/dev/null
    "$BH_BIN/bulkhead-launcher" --root "$ROOT" "$@" \
        >>"$ROOT/launcher.log" 2>&1 &
    LAUNCHER_PID=$!
    track_pid "$LAUNCHER_PID"
    wait_for 20 all_services_up
}

all_services_up() {
    _out=$(bh service list 2>/dev/null) || return 1
    [ -n "$_out" ] || return 1
    ! printf '%s\n' "$_out" | tail -n +2 | grep -qv ' up '
}

_stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    _i=0
    while kill -0 "$1" 2>/dev/null && [ $_i -lt 100 ]; do
        sleep 0.05
        _i=$((_i + 1))
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# Unmounts whatever the suite left mounted under $ROOT, deepest first.
_umount_under_root() {
    [ -n "${ROOT:-}" ] || return 0
    awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
}

t_cleanup() {
    _rc=$?
    printf '%s\n' "$T_CLEANUPS" | while IFS= read -r c; do
        [ -n "$c" ] && eval "$c"
    done
    for p in $T_PIDS; do _stop_pid "$p"; done
    if [ -n "${ROOT:-}" ] && [ -d "$ROOT" ]; then
        if [ -n "${KEEP_ROOT:-}" ]; then
            echo "# kept $ROOT"
        else
            _umount_under_root
            rm -rf "$ROOT"
        fi
    fi
    exit $_rc
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

# finish: prints the closing summary and sets the exit status.
finish() {
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}

# ---- a whole qube system under $ROOT ----------------------------------------
# qube_system SERVICE...: lays out $ROOT with busd and only the named
# services, on private copies of the binaries (the shared build tree may be
# relinked while a suite runs) including the directory of static in-qube
# tools vm-manager binds at /run/bulkhead/bin, and registers the cleanup of
# qubes (they outlive services by design).  Then qube_system_start boots it.
CG_GROUP=""
qube_system() {
    mkdir -p "$ROOT/bin"
    for f in bulkhead bulkhead-launcher busd bulkhead-agent "$@"; do
        cp "$BH_BIN/$f" "$ROOT/bin/" || { echo "missing $f"; exit 1; }
    done
    if [ -d "$BH_BIN/guest" ]; then cp -r "$BH_BIN/guest" "$ROOT/bin/guest"; fi
    chmod -R a+rX "$ROOT/bin"
    BH_BIN=$ROOT/bin
    LOG=$ROOT/launcher.log
    "$BH_TOP/scripts/prepare-root" "$ROOT" >/dev/null
    for _f in "$ROOT"/etc/bulkhead/services.d/*.conf; do
        _s=$(basename "$_f" .conf)
        case " busd $* " in *" $_s "*) ;; *) rm -f "$_f" ;; esac
    done
    at_cleanup qube_system_cleanup
}

qube_system_start() {
    "$BH_BIN/bulkhead-launcher" --root "$ROOT" "$@" >>"$LOG" 2>&1 &
    LAUNCHER_PID=$!
    track_pid "$LAUNCHER_PID"
    wait_for 30 all_services_up
}

# Remembers the cgroup group of the suite's qubes (named after the root) so
# the cleanup can remove it even when every run record is gone.
qube_system_note_cgroup() {
    for _r in "$ROOT"/run/bulkhead/qubes/*.pid; do
        [ -e "$_r" ] || continue
        CG_GROUP=$(awk '$1 == "cgroup_group" {print $3}' "$_r")
        [ -n "$CG_GROUP" ] && return 0
    done
    return 0
}

qube_system_cleanup() {
    qube_system_note_cgroup
    # Services first: a vm-manager still running would replace the qubes
    # killed below (preloaded disposables, autostart).
    [ -n "$LAUNCHER_PID" ] && _stop_pid "$LAUNCHER_PID"
    for _r in "$ROOT"/run/bulkhead/qubes/*.pid; do
        [ -e "$_r" ] || continue
        kill -9 "$(awk '$1 == "pid" {print $3}' "$_r")" 2>/dev/null
    done
    sleep 0.2
    [ -n "$CG_GROUP" ] || return 0
    for _d in /sys/fs/cgroup/*/"$CG_GROUP" /sys/fs/cgroup/"$CG_GROUP"; do
        [ -d "$_d" ] || continue
        for _q in "$_d"/*/; do
            [ -d "$_q" ] && xargs -r kill -9 <"$_q/cgroup.procs" 2>/dev/null
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                [ -d "$_q" ] && ! rmdir "$_q" 2>/dev/null && sleep 0.1
            done
        done
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [ -d "$_d" ] && ! rmdir "$_d" 2>/dev/null && sleep 0.1
        done
    done
    return 0
}
