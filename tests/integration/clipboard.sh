#!/bin/sh
# Integration suite of the global clipboard (issue 6): real ns qubes under a
# temp --root with clipboard-broker, policyd and rpc-router.  Copy from a
# qube, show (never the text), paste after qubes.ClipboardPaste policy
# (allow, deny), one-shot clearing, oversize and invalid UTF-8 refused
# with the held clipboard unchanged.  Needs root.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root"
    echo "0 passed, 0 failed"
    exit 0
fi

tmproot
qube_system vm-manager storage-manager rpc-router policyd clipboard-broker
cat >"$ROOT/etc/bulkhead/policy.d/10-test.policy" <<'POL'
qubes.ClipboardPaste  *  untrusted  work      deny
qubes.ClipboardPaste  *  @anyvm     @anyvm    allow
POL
check "the system boots with clipboard-broker" qube_system_start

CLIP=/run/bulkhead/bin/bulkhead-clipboard
bh template install minimal >/dev/null
for q in work personal untrusted; do
    bh create "$q" --template minimal --label blue >/dev/null
    bh start "$q" >/dev/null
done
qube_system_note_cgroup
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
set_clip() { printf '%s' "$2" | bh run --pass-io "$1" -- "$CLIP" set; }
get_clip() { bh run "$1" -- "$CLIP" get; }

check "a qube sets its own clipboard" set_clip work "meet at noon"
check "and reads it back" [ "$(get_clip work)" = "meet at noon" ]
check "copy work's clipboard into the global one" bh clipboard copy work
show=$(bh clipboard show)
check "show gives source and size ($show)" has "$show" '^12 bytes from work'
check_fails "show never prints the text" has "$show" noon
check "paste into personal (allowed)" bh clipboard paste personal
check "personal has the text" [ "$(get_clip personal)" = "meet at noon" ]
check "the global clipboard is empty after a paste" \
    sh -c "bh() { $BH_BIN/bulkhead --root $ROOT \"\$@\"; }; bh clipboard show | grep -q empty"
check_fails "a second paste has nothing to give" bh clipboard paste untrusted
check "untrusted's clipboard is untouched" [ -z "$(get_clip untrusted)" ]

set_clip untrusted "click this link" >/dev/null
bh clipboard copy untrusted >/dev/null
out=$(bh clipboard paste work 2>&1)
check "policy deny: untrusted -> work refused ($out)" has "$out" 'policy denies'
check "work's clipboard unchanged" [ "$(get_clip work)" = "meet at noon" ]
check "a denied paste keeps the global clipboard" \
    sh -c "$BH_BIN/bulkhead --root $ROOT clipboard show | grep -q 'from untrusted'"

# A hostile qube writes its clipboard file directly, past the tool's limit.
bh run untrusted -- sh -c \
    "yes a | head -c 300000 > /tmp/.bulkhead-clipboard-1000" >/dev/null
out=$(bh clipboard copy untrusted 2>&1)
check "an oversize clipboard is refused ($out)" has "$out" 'larger than 256 KiB'
bh run untrusted -- sh -c "printf 'ok\\377\\376' > /tmp/.bulkhead-clipboard-1000" >/dev/null
out=$(bh clipboard copy untrusted 2>&1)
check "invalid UTF-8 is refused ($out)" has "$out" 'not UTF-8'
check "and the held clipboard is still the last good one" \
    sh -c "$BH_BIN/bulkhead --root $ROOT clipboard show | grep -q '^15 bytes from untrusted'"
check_fails "dom0 is not a clipboard source" bh clipboard copy dom0

finish
