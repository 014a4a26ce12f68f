#!/bin/sh
# scripts/install into a temporary DESTDIR: the layout, the unit's
# ExecStart, and an installed launcher that resolves bare exec names in its
# own directory (`bulkhead-launcher --check` against the installed config).
. "$(dirname "$0")/../lib.sh"

has() { printf "%s\n" "$1" | grep -q -- "$2"; }

tmproot
D=$ROOT/dest
out=$("$BH_TOP/scripts/install" --destdir "$D" --prefix /usr 2>&1)
check "install succeeds ($out)" [ -x "$D/usr/lib/bulkhead/bin/bulkhead-launcher" ]
check "busd is installed beside the launcher" [ -x "$D/usr/lib/bulkhead/bin/busd" ]
check "the CLI is in /usr/bin" [ -x "$D/usr/bin/bulkhead" ]
check "no benchmarks are installed" sh -c "! ls '$D/usr/lib/bulkhead/bin' | grep -q '^bench-'"
check "services.d is installed" [ -f "$D/etc/bulkhead/services.d/busd.conf" ]
check "bus.routes is installed" [ -f "$D/etc/bulkhead/bus.routes" ]
check "the systemd unit is installed" [ -f "$D/lib/systemd/system/bulkhead.service" ]
check "ExecStart points into the prefix" \
    grep -q '^ExecStart=/usr/lib/bulkhead/bin/bulkhead-launcher' "$D/lib/systemd/system/bulkhead.service"
check "the source-lines manifest names busd's files" grep -q '^bus/busd.c [0-9]' "$D/usr/lib/bulkhead/source-lines"

# Another prefix rewrites the unit.
"$BH_TOP/scripts/install" --destdir "$D/opt" --prefix /opt/bh >/dev/null
check "--prefix rewrites ExecStart" \
    grep -q '^ExecStart=/opt/bh/lib/bulkhead/bin/bulkhead-launcher' "$D/opt/lib/systemd/system/bulkhead.service"

# The admin's files are kept on reinstall; code configs are refreshed.
echo "# mine" >"$D/etc/bulkhead/policy.d/mine.policy"
echo "exec = nonsense" >"$D/etc/bulkhead/services.d/busd.conf"
"$BH_TOP/scripts/install" --destdir "$D" >/dev/null
check "reinstall keeps the admin's policy files" [ -f "$D/etc/bulkhead/policy.d/mine.policy" ]
check "reinstall refreshes services.d" grep -q '^exec = busd' "$D/etc/bulkhead/services.d/busd.conf"

# The installed launcher reads the installed config (bare names resolve in
# its own directory).
out=$("$D/usr/lib/bulkhead/bin/bulkhead-launcher" --root "$D" --check 2>&1)
check "installed launcher parses the installed services.d" has "$out" '^busd '
check_fails "unknown option exits non-zero" "$BH_TOP/scripts/install" --bogus
finish
