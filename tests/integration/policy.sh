#!/bin/bash
# bulkhead policy lint / eval, the command-line side of the policy library:
# exit codes, FILE:LINE: messages, the default policy.d directory under the
# root, the qube database fallback, a broken file skipped by eval.
. "$(dirname "$0")/../lib.sh"
tmproot

pd=$ROOT/etc/bulkhead/policy.d
mkdir -p "$pd" "$ROOT/var/lib/bulkhead/qubes"
cp "$BH_TOP/policy/default/90-default.policy" "$pd/"
sys=$ROOT/qubes.system
cat >"$sys" <<'SYS'
dom0 AdminVM
work AppVM tag=work default_dispvm=dvm running=1
personal AppVM default_dispvm=dvm
vault AppVM
dvm AppVM template_for_dispvms=1
fedora TemplateVM
sys-net AppVM
SYS

out() { [ "$("$@" 2>/dev/null)" = "$EXPECT" ]; }

check "default policy lints clean" bh policy lint
check "lint of one file" bh policy lint "$pd/90-default.policy"
EXPECT="ask" check "Filecopy asks" out bh policy eval --system "$sys" \
    qubes.Filecopy work personal
EXPECT="deny" check "VMShell is denied" out bh policy eval --system "$sys" \
    qubes.VMShell work personal
EXPECT="allow target=@dispvm:dvm" check "OpenInVM to @dispvm" \
    out bh policy eval --system "$sys" qubes.OpenInVM work @dispvm
EXPECT="allow target=sys-net" check "UpdatesProxy from a template" \
    out bh policy eval --system "$sys" qubes.UpdatesProxy+ fedora ""
mkdir -p "$ROOT/extra"
echo "my.Service * work @anyvm allow user=root" >"$ROOT/extra/50-x.policy"
EXPECT="allow target=personal user=root" check "user= is printed" \
    out bh policy eval --system "$sys" --policy-dir "$ROOT/extra" \
    my.Service work personal

cat >"$pd/30-user.policy" <<'POL'
qubes.Filecopy * vault @anyvm deny
qubes.Filecopy * @tag:work @anyvm ask default_target=personal
POL
EXPECT="deny" check "user rule before the defaults" out \
    bh policy eval --system "$sys" qubes.Filecopy vault work
EXPECT="ask default_target=personal" check "ask default_target printed" \
    out bh policy eval --system "$sys" qubes.Filecopy work @default
bh policy eval -v --system "$sys" qubes.Filecopy work @default \
    2>"$ROOT/v.err" >/dev/null
check "-v names the rule" grep -q "30-user.policy:2" "$ROOT/v.err"
check "-v lists the choices" grep -q "^targets: .*personal" "$ROOT/v.err"

# a broken file: lint exits 2 with FILE:LINE:, eval skips it and exits 2
cat >"$pd/20-broken.policy" <<'POL'
qubes.Filecopy * @anyvm @anyvm allow target=personal
qubes.Filecopy * @anyvm @anyvm allow notify=maybe
POL
bh policy lint >"$ROOT/lint.out"
check "lint exits 2 on an error" test $? -eq 2
check "lint prints FILE:LINE: message" grep -qx \
    "$pd/20-broken.policy:2: 'notify' is 'maybe', but can be only 'yes' or 'no'" \
    "$ROOT/lint.out"
EXPECT="deny" check "eval skips the broken file" out \
    bh policy eval --system "$sys" qubes.Filecopy vault work
bh policy eval --system "$sys" qubes.Filecopy vault work >/dev/null 2>&1
check "eval exits 2 on a policy error" test $? -eq 2
rm "$pd/20-broken.policy"

# usage errors
check_fails "bad call name" bh policy eval --system "$sys" "a b" work vault
check_fails "missing arguments" bh policy eval --system "$sys" qubes.X work
bh policy eval --system /nonexistent qubes.X work vault 2>/dev/null
check "missing --system file: exit 2" test $? -eq 2

# without --system: vm-manager's database files
printf 'name = work\nclass = AppVM\ntags = work\n' \
    >"$ROOT/var/lib/bulkhead/qubes/work.conf"
printf 'name = dvm\nclass = AppVM\ntemplate_for_dispvms = True\n' \
    >"$ROOT/var/lib/bulkhead/qubes/dvm.conf"
printf 'default_dispvm = dvm\n' >"$ROOT/var/lib/bulkhead/global-prefs.conf"
EXPECT="allow target=@dispvm:dvm" check "live qubes from the database" \
    out bh policy eval qubes.OpenInVM work @dispvm
rm -r "$ROOT/var/lib/bulkhead/qubes"
bh policy eval qubes.OpenInVM work @dispvm >/dev/null 2>&1
check "no database: exit 3" test $? -eq 3

# --format json
cat >"$pd/30-user.policy" <<'POL'
qubes.Filecopy * @tag:work @anyvm ask default_target=personal
POL
bh --format json policy eval --system "$sys" qubes.Filecopy work @default \
    >"$ROOT/eval.json" 2>/dev/null
check "eval --format json: action and default" grep -q \
    '^{"action":"ask","target":"","default_target":"personal"' "$ROOT/eval.json"
check "eval --format json: choices" grep -q \
    '"targets":\[.*"personal".*\]' "$ROOT/eval.json"
bh policy lint --format json >"$ROOT/lint.json"
check "lint --format json" grep -q '^{"valid":true,"rules":[0-9]*,"errors":\[\]}$' \
    "$ROOT/lint.json"
finish
