#!/bin/sh
# Opt-in (slow, needs the Debian archive): `bulkhead template install
# debian-12` builds a TemplateVM with debootstrap --variant=minbase, an
# AppVM runs on it, and the temporary tree is gone.  Run with
# BULKHEAD_TEST_DEBIAN=1 (about 5-10 minutes).
. "$(dirname "$0")/../lib.sh"

has() { printf '%s\n' "$1" | grep -q -- "$2"; }
if [ "${BULKHEAD_TEST_DEBIAN:-}" != 1 ] || [ "$(id -u)" != 0 ]; then
    echo "# skipped: set BULKHEAD_TEST_DEBIAN=1 (as root) to run"
    echo "0 passed, 0 failed"
    exit 0
fi

tmproot
mkdir -p "$ROOT/bin"
for f in bulkhead bulkhead-launcher busd vm-manager storage-manager \
         rpc-router bulkhead-agent; do
    cp "$BH_BIN/$f" "$ROOT/bin/" || { echo "missing $f"; exit 1; }
done
chmod 755 "$ROOT/bin"
BH_BIN=$ROOT/bin
"$BH_TOP/scripts/prepare-root" "$ROOT" >/dev/null
for f in "$ROOT"/etc/bulkhead/services.d/*.conf; do
    case $(basename "$f") in
    busd.conf | vm-manager.conf | storage-manager.conf | rpc-router.conf) ;;
    *) rm -f "$f" ;;
    esac
done
qube_cleanup() {
    for r in "$ROOT"/run/bulkhead/qubes/*.pid; do
        [ -e "$r" ] || continue
        kill -9 "$(awk '$1 == "pid" {print $3}' "$r")" 2>/dev/null
    done
    return 0
}
at_cleanup qube_cleanup
"$BH_BIN/bulkhead-launcher" --root "$ROOT" >>"$ROOT/launcher.log" 2>&1 &
LAUNCHER_PID=$!
track_pid "$LAUNCHER_PID"
check "the system boots" wait_for 20 all_services_up

check "template install debian-12" bh template install debian-12
out=$(bh template list)
check "template list shows it: $out" has "$out" "^debian-12  *debian-12 "
check "the debootstrap tree is gone" \
    test -z "$(ls -A "$ROOT/var/tmp" 2>/dev/null)"
check "create deb --template debian-12" \
    bh create deb --template debian-12 --label green
check "start deb" bh start deb
out=$(bh run deb -- cat /etc/debian_version 2>&1)
check "it runs Debian 12: $out" has "$out" "^12"
out=$(bh run deb -- id -un 2>&1)
check "commands run as user: $out" test "$out" = user
out=$(bh run deb -- sh -c 'echo hi > ~/f && cat ~/f' 2>&1)
check "the home is writable: $out" test "$out" = hi
bh shutdown deb --wait >/dev/null
finish
