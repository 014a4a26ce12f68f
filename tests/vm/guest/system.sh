# Runs inside the QEMU VM made by tests/vm/usb.sh, before guest/usb.sh:
# bulkhead itself (launcher, busd, vm-manager, storage-manager,
# rpc-router, policyd, usb-proxy) on the ns backend, with the qubes
# sys-usb and work, driven by the CLI as a user would.  The VM's own root
# plays the host: it checks what the one shared kernel shows.
# Prints "ok - ..." / "FAIL - ..." lines.
R=/bh/root
export PATH=/bh/bin:$PATH
export BULKHEAD_VCHAN=shm
VHCI=/sys/devices/platform/vhci_hcd.0
HOSTDRV=/sys/bus/usb/drivers/usbip-host
EXP=$(cat /expected.md5)
SIZE_MB=$(cat /disk.mb)
pass() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; }
check() { desc=$1; shift; if "$@"; then pass "$desc"; else fail "$desc"; fi; }
# waitfor SECONDS CMD...: by the clock (a probe through `bulkhead run` takes a while under TCG)
waitfor() { end=$(( $(cut -d. -f1 /proc/uptime) + $1 )); shift; while :; do "$@" && return 0; [ "$(cut -d. -f1 /proc/uptime)" -ge $end ] && return 1; sleep 0.2; done; }
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
bh() { bulkhead --root $R "$@"; }
up() { o=$(bh service list 2>/dev/null) && [ -n "$o" ] && ! echo "$o" | tail -n +2 | grep -qv ' up '; }
t() { cut -d' ' -f1 /proc/uptime; }
since() { echo "$(t) $1" | awk '{printf "%.1f", $1 - $2}'; }
inq() { q=$1; shift; bh run -p -u root $q -- sh -c "$*" 2>/dev/null; }
drv_of() { basename "$(readlink /sys/bus/usb/devices/$1/driver 2>/dev/null)" 2>/dev/null; }
# the disk of a device on vhci_hcd, as work's /sys/block shows it
work_disk() { inq work 'for b in /sys/block/sd*; do case $(readlink -f $b) in *vhci_hcd*) [ "$(cat $b/size)" != 0 ] && basename $b;; esac; done' | head -1; }
work_has_disk() { [ -n "$(work_disk)" ]; }
vhci_busy() { grep -qE '^(hs|ss) +[0-9]+ +006 ' $VHCI/status; }
no_pumps() { ! for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -q 'bulkhead-usb \(import\|export\)'; }
released() { # $1 = bus id: back on its driver, match_busid clear, no vhci port in use
  waitfor 30 sh -c "[ \"\$(basename \"\$(readlink /sys/bus/usb/devices/$1/driver)\")\" = usb ]" &&
    ! grep -q "^$1\$" $HOSTDRV/match_busid && waitfor 20 sh -c "! grep -qE '^(hs|ss) +[0-9]+ +006 ' $VHCI/status"
}
QDEV=$(cat /tmp/storage-qdev 2>/dev/null || echo stor)   # QEMU id of the disk now

echo "== bulkhead in the VM (ns backend)"
T0=$(t)
bulkhead-launcher --root $R > $R/launcher.log 2>&1 &
if waitfor 90 up; then pass "launcher and services up (busd vm-manager storage-manager rpc-router policyd usb-proxy)"
else fail "launcher and services up"; tail -20 $R/launcher.log; return 0 2>/dev/null || exit 0; fi
check "template install minimal" bh template install minimal
# sys-usb is a named disposable (as in Qubes): its root and private
# volume are thrown away at each shutdown; a device that subverted it
# does not persist there
bh create default-dvm --template minimal --label red --prop template_for_dispvms=true >/dev/null
check "create sys-usb --class DispVM --template default-dvm" \
  bh create sys-usb --class DispVM --template default-dvm --label red
bh create work --template minimal --label blue >/dev/null
out=$(bh start sys-usb 2>&1); check "start sys-usb" [ $? = 0 ]; [ -n "$out" ] && echo "  $out"
out=$(bh start work 2>&1); check "start work" [ $? = 0 ]; [ -n "$out" ] && echo "  $out"
echo "  system and two qubes up in $(since $T0) s"

echo "== the controllers belong to sys-usb (mounts, file owners)"
check "sys-usb sees /sys/bus/usb/devices and /dev/bus/usb" \
  inq sys-usb 'ls /sys/bus/usb/devices | grep -q "^[0-9]-[0-9]" && ls /dev/bus/usb | grep -q .'
check "work sees an empty /sys/bus/usb and no /dev/bus/usb" \
  inq work '[ -z "$(ls /sys/bus/usb)" ] && [ ! -e /dev/bus/usb ]'
check "work cannot write usbip-host's match_busid" \
  inq work '! echo "add 9-9" > /sys/bus/usb/drivers/usbip-host/match_busid'
check "work cannot write vhci_hcd's attach outside an attach" \
  inq work '! echo "0 0 0 0" > /sys/devices/platform/vhci_hcd.0/attach'

echo "== bulkhead usb list"
out=$(bh usb list 2>&1)
echo "$out" | sed 's/^/  /'
STOR=$(echo "$out" | awk '/46f4:0001/ {print $1; exit}')
KBD=$(echo "$out" | awk '/0627:0001/ {print $1; exit}')
SB=${STOR#sys-usb:}; KB=${KBD#sys-usb:}
check "usb list shows the usb-storage ($STOR)" has "$out" "^sys-usb:[0-9.-]* .*46f4:0001 .*super"
check "usb list shows the keyboard as an input device ($KBD)" has "$out" "^sys-usb:[0-9.-]* .*0627:0001.*input: keyboard"

echo "== policy decides the qubes.USB call: a deny refuses with its reason"
# The attach is work's own call qubes.USB+BUSID to sys-usb: policyd
# decides it like any call (the default rule asks, and nobody answers
# here), so the storage gets a rule naming it
pol() { printf '%s\n' "$2" > $R/etc/bulkhead/policy.d/$1; bh service restart policyd >/dev/null 2>&1; waitfor 30 up; }
pol 20-usb-deny.policy "qubes.USB +$SB work sys-usb deny"
err=$(bh usb attach work $STOR 2>&1); rc=$?
check "attach refused under 'qubes.USB +$SB work sys-usb deny'" [ $rc != 0 ]
check "the refusal names the rule (policy's reason)" has "$err" "denies qubes.USB+$SB from work to sys-usb.*20-usb-deny.policy:1"
echo "  $err"
check "nothing bound to usbip-host after the refusal" [ "$(drv_of $SB)" = usb ]
rm -f $R/etc/bulkhead/policy.d/20-usb-deny.policy
pol 40-usb-storage.policy "qubes.USB +$SB work sys-usb allow"

echo "== attach the storage to work"
bh events > /tmp/events.log 2>&1 &
EVPID=$!
T1=$(t)
out=$(bh usb attach work $STOR 2>&1); rc=$?
check "bulkhead usb attach work $STOR" [ $rc = 0 ]; [ $rc = 0 ] || echo "  $out"
check "a disk on vhci_hcd appears in work's /sys/block" waitfor 40 work_has_disk
SD=$(work_disk)
echo "  attached in $(since $T1) s: /dev/$SD"
NODE=$(inq work "ls /dev/usb" | grep "^p[0-9]*-$SD\$")
check "its block node is in work's /dev/usb ($NODE), owned by work's root" \
  inq work "[ -b /dev/usb/$NODE ] && [ \"\$(stat -c %u /dev/usb/$NODE)\" = 0 ]"
check "read inside work, its content matches disk.img (through the vchan path)" \
  [ "$(inq work "dd if=/dev/usb/$NODE bs=1M count=$SIZE_MB 2>/dev/null | md5sum" | cut -d' ' -f1)" = "$EXP" ]
check "sys-usb has no /dev/usb (its devices are its own)" inq sys-usb '[ ! -e /dev/usb ]'
if [ "$(cat /bench.runs)" -gt 1 ] && [ -n "$NODE" ]; then   # tests/vm/usb.sh --bench
  for r in $(seq $(cat /bench.runs)); do
    inq work "t0=\$(cut -d' ' -f1 /proc/uptime)
      dd if=/dev/usb/$NODE of=/dev/null bs=1M count=$SIZE_MB iflag=direct 2>/dev/null ||
        dd if=/dev/usb/$NODE of=/dev/null bs=1M count=$SIZE_MB 2>/dev/null
      echo BENCH bulkhead $SIZE_MB \$t0 \$(cut -d' ' -f1 /proc/uptime)"
  done
fi

check "in sys-usb the device is bound to usbip-host" [ "$(drv_of $SB)" = usbip-host ]
check "rpc-router connected work's call qubes.USB+$SB to sys-usb (dom0 wired it, carries nothing)" \
  grep -q "call work -> sys-usb qubes.USB+$SB: connected to sys-usb" $R/launcher.log
check "policyd decided qubes.USB+$SB from work to sys-usb: allow" \
  grep -q "qubes.USB+$SB from work to sys-usb: allow" $R/launcher.log
out=$(bh usb list 2>&1)
check "usb list shows it attached to work" has "$out" "^$STOR .* work "
check "usb list does not offer work's vhci_hcd devices as sys-usb's" [ "$(echo "$out" | grep -c 46f4:0001)" = 1 ]
check "vhci_hcd's attach is root's again after the import" \
  [ "$(stat -c %u $VHCI/attach)" = 0 ]

kill $EVPID 2>/dev/null
check "bulkhead events shows usb-proxy's 'attached' event" grep -q "attached.*$SB.*work\|$SB.*attached" /tmp/events.log
grep -i usb /tmp/events.log | head -3 | sed 's/^/  event: /'

echo "== detach"
check "bulkhead usb detach work $STOR" bh usb detach work $STOR
check "the storage is back on its driver in sys-usb, match_busid clear, vhci port free" released $SB
check "usb list: no longer attached" sh -c "! bulkhead --root $R usb list | grep -q '^$STOR .* work '"
check "work's /dev/usb is empty again" inq work '[ -z "$(ls /dev/usb)" ]'

echo "== under the default rule (ask) the attach waits for the user's answer, as any call"
rm -f $R/etc/bulkhead/policy.d/40-usb-storage.policy
bh service restart policyd >/dev/null 2>&1; waitfor 30 up
# the user's side of a prompt agent: answers once the question is shown
answer_when_asked() { waitfor 40 grep -q "wants to call" "$1" || return 0; sleep 1.5; printf '%s\n' "$2"; }
# (the default rule's target is @anyvm: the user names sys-usb)
answer_when_asked /tmp/prompt.out sys-usb | bh prompt --once --no-tty > /tmp/prompt.out 2>&1 &
PP=$!
out=$(bh usb attach work $STOR 2>&1); rc=$?
wait $PP
check "the prompt asked about work's qubes.USB+$SB call to sys-usb" grep -q "work wants to call qubes.USB" /tmp/prompt.out
approved_attached() { [ $rc = 0 ] && waitfor 40 work_has_disk; }
if approved_attached; then pass "approved: attached, a disk in work"
else fail "approved: attached, a disk in work ($out)"; sed 's/^/  prompt: /' /tmp/prompt.out; fi
bh usb detach work $STOR >/dev/null 2>&1
check "detached: back on its driver" released $SB
pol 40-usb-storage.policy "qubes.USB +$SB work sys-usb allow"

echo "== work calling qubes.USB+$SB by itself gets nothing usable"
self_call() { inq work "/run/bulkhead/bin/bulkhead-call sys-usb qubes.USB+$SB < /dev/null 2>&1; echo rc=\$?"; }
out=$(self_call)
echo "  $(echo "$out" | tr '\n' ' ')"
self_refused() { has "$out" 'not prepared for export' && ! has "$out" 'rc=0'; }
check "the handler in sys-usb refuses: not prepared by dom0's attach" self_refused
untouched() { [ "$(drv_of $SB)" = usb ] && ! vhci_busy; }
check "the device stayed on its driver, no vhci port used" untouched

echo "== the keyboard: refused by default, allowed by a rule naming it"
err=$(bh usb attach work $KBD 2>&1); rc=$?
check "keyboard attach refused by the default policy" [ $rc != 0 ]
check "the refusal says why (BadUSB, the rule to write)" has "$err" "is a keyboard.*BadUSB.*qubes.USB +$KB work sys-usb allow"
echo "  $err"
echo "qubes.USB +$KB work sys-usb allow" > $R/etc/bulkhead/policy.d/30-usb.policy
bh service restart policyd >/dev/null 2>&1; waitfor 30 up
out=$(bh usb attach work $KBD 2>&1); rc=$?
check "with 'qubes.USB +$KB work sys-usb allow' the keyboard attaches" [ $rc = 0 ]; [ $rc = 0 ] || echo "  $out"
kbd_on_vhci() { for d in /sys/bus/usb/devices/*:1.0; do case "$(readlink -f $d)" in *vhci_hcd*) [ "$(basename "$(readlink $d/driver)")" = usbhid ] && return 0;; esac; done; return 1; }
check "usbhid binds it on vhci_hcd" waitfor 30 kbd_on_vhci
check "its input nodes (event, hidraw) are in work's /dev/usb" \
  waitfor 20 sh -c 'ls /dev/bulkhead-usb/work | grep -q "^p[0-9]*-event[0-9]*$" &&
    ls /dev/bulkhead-usb/work | grep -q "^p[0-9]*-hidraw[0-9]*$"'
echo "  work's /dev/usb: $(ls /dev/bulkhead-usb/work | tr '\n' ' ')"
bh usb detach work $KBD >/dev/null 2>&1
kbd_released() { released $KB && [ -z "$(ls /dev/bulkhead-usb/work)" ]; }
check "keyboard back on its driver after detach, its nodes gone from work" kbd_released
rm -f $R/etc/bulkhead/policy.d/30-usb.policy

echo "== killing work's pump releases everything"
if bh usb attach work $STOR >/dev/null 2>&1 && waitfor 40 work_has_disk; then
  inq work 'for p in /proc/[0-9]*; do grep -q import $p/cmdline 2>/dev/null && kill -9 ${p#/proc/}; done'
  check "after the pump's death: storage back on its driver, match_busid clear, port free" released $SB
  check "usb-proxy forgets the attachment (usb list)" sh -c "! bulkhead --root $R usb list | grep -q '^$STOR .* work '"
else fail "attach for the pump kill"; fi

echo "== killing sys-usb's pump releases everything"
if bh usb attach work $STOR >/dev/null 2>&1 && waitfor 40 work_has_disk; then
  inq sys-usb 'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = usbip-pump ] && kill -9 ${p#/proc/}; done'
  check "after sys-usb's pump died: storage back on its driver, match_busid clear, port free" released $SB
  check "no pump left in either qube" waitfor 20 no_pumps
  check "usb-proxy forgets the attachment (usb list)" sh -c "! bulkhead --root $R usb list | grep -q '^$STOR .* work '"
else fail "attach for the sys-usb pump kill"; fi

echo "== work shuts down while the storage is attached"
if bh usb attach work $STOR >/dev/null 2>&1 && waitfor 40 work_has_disk; then
  bh shutdown --wait work >/dev/null 2>&1
  check "after work's shutdown: storage back on its driver, match_busid clear, port free" released $SB
  check "usb-proxy forgets the attachment" waitfor 15 sh -c "! bulkhead --root $R usb list | grep -q '^$STOR .* work '"
  check "work's node links are gone" waitfor 15 sh -c '[ -z "$(ls /dev/bulkhead-usb/work)" ]'
  bh start work >/dev/null 2>&1
else fail "attach for the shutdown"; fi

echo "== unplug (QEMU monitor device_del) while attached"
if bh usb attach work $STOR >/dev/null 2>&1 && waitfor 40 work_has_disk; then
  echo "MONITOR device_del $QDEV"
  check "device unplugged from the xHCI" waitfor 30 sh -c "[ ! -e /sys/bus/usb/devices/$SB ]"
  check "after the unplug: work's disk gone, vhci port free" \
    waitfor 30 sh -c "! grep -qE '^(hs|ss) +[0-9]+ +006 ' $VHCI/status"
  check "no pump left in either qube" waitfor 20 no_pumps
  out=$(bh usb list 2>&1)
  check "usb list: the storage is gone, the keyboard still there" sh -c "! echo '$out' | grep -q 46f4:0001 && echo '$out' | grep -q 0627:0001"
  echo "  match_busid after unplug: [$(cat $HOSTDRV/match_busid | tr '\n' ' ')]"
else fail "attach for the unplug"; fi
echo "== a persistent assignment reacts to a plug (no CLI command)"
pol 40-usb-storage.policy "qubes.USB * work sys-usb allow"   # the new disk's bus id
check "bulkhead usb assign work sys-usb:46f4:0001" bh usb assign work sys-usb:46f4:0001
bh events > /tmp/events2.log 2>&1 &
EVPID=$!
T2=$(t)
echo "MONITOR device_add usb-storage,drive=d3,id=stor3"
check "the plugged disk is attached to work by itself, its node in work's /dev/usb" \
  waitfor 60 sh -c 'ls /dev/bulkhead-usb/work 2>/dev/null | grep -q "^p[0-9]*-sd[a-z]*$"'
echo "  plug to node in work: $(since $T2) s"
NODE=$(ls /dev/bulkhead-usb/work | grep '^p[0-9]*-sd[a-z]*$' | head -1)
check "read inside work, its content matches disk.img" \
  [ "$(inq work "dd if=/dev/usb/$NODE bs=1M count=$SIZE_MB 2>/dev/null | md5sum" | cut -d' ' -f1)" = "$EXP" ]
kill $EVPID 2>/dev/null
check "bulkhead events: usb-proxy's device-added, then attached (assignment)" \
  sh -c "grep -q 'event=device-added' /tmp/events2.log && grep -q 'event=attached.*detail=assignment' /tmp/events2.log"
bh usb unassign work sys-usb:46f4:0001 >/dev/null 2>&1
check "detach after the assignment is gone" bh usb detach work
bh shutdown --wait work >/dev/null 2>&1
bh shutdown --wait sys-usb >/dev/null 2>&1
rm -f $R/etc/bulkhead/policy.d/40-usb-storage.policy
grep "usb-proxy\|vm-manager" $R/launcher.log | grep -i "warn\|error\|denied\|seccomp" | grep -v "is a keyboard" | tail -8 | sed 's/^/  log: /'
echo "  system part done in $(since $T0) s"
