#!/bin/sh
# usb-proxy end to end on the host (ns backend): sys-usb and work are real
# qubes (minimal template); usb-proxy runs bulkhead-usb in them through
# rpc-router.  This host's kernel has no USB, so the listing is first empty,
# then read from a fake sysfs tree (tests/usb/sysfs-basic) copied into
# sys-usb (bulkhead.conf usb_sysfs); policy decisions and the input-device
# rule are real, and attach ends at the missing usbip-host with its one
# clear message.  The data path itself is tests/vm/usb.sh (QEMU).
. "$(dirname "$0")/../lib.sh"

has() { printf '%s\n' "$1" | grep -q -- "$2"; }
if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root (namespaces, cgroups, idmapped mounts)"
    echo "0 passed, 0 failed"
    exit 0
fi

tmproot
qube_system vm-manager storage-manager rpc-router policyd usb-proxy
# shm named explicitly: services then skip the Xen probe (an access()
# some sandboxes refuse)
export BULKHEAD_VCHAN=shm
check "the system boots (with policyd and usb-proxy)" qube_system_start

bh template install minimal >/dev/null
bh create sys-usb --template minimal --label red >/dev/null
bh create work --template minimal --label blue >/dev/null
check "start sys-usb" bh start sys-usb
check "start work" bh start work
qube_system_note_cgroup

# --- this kernel: no USB at all ----------------------------------------------
out=$(bh usb list 2>/dev/null); rc=$?
check "usb list works with whatever sysfs shows (nothing here)" \
    [ $rc = 0 ]
check "an empty list has only the header" [ "$(printf '%s\n' "$out" | grep -vc '^DEVICE')" = 0 ]

# --- a fake sysfs tree inside sys-usb ------------------------------------------
tar -C "$BH_TOP/tests/usb" -cf - sysfs-basic |
    bh run -p -u root sys-usb -- tar -xf - -C /tmp
echo "usb_sysfs = /tmp/sysfs-basic" >> "$ROOT/etc/bulkhead/bulkhead.conf"
bh service restart usb-proxy >/dev/null 2>&1
wait_for 10 sh -c "bh usb list 2>/dev/null | grep -q sys-usb:2-1"
out=$(bh usb list 2>&1)
echo "$out" | sed 's/^/# /'
check "list shows the storage device" has "$out" "^sys-usb:2-1 .*46f4:0001 .*super"
check "list shows the keyboard as an input device" has "$out" "^sys-usb:1-1 .*0627:0001.*input: keyboard"
check "list shows the mouse as an input device" has "$out" "^sys-usb:1-2.1 .*input: mouse"
check "root hubs and interfaces are not listed" [ "$(printf '%s\n' "$out" | grep -c 'usb1\|:1\.0')" = 0 ]
json=$(bh usb list --format json 2>/dev/null || bh --format json usb list)
check "json listing" has "$json" '"device":"sys-usb:2-1"'

# --- policy and the input-device rule --------------------------------------------
err=$(bh usb attach work sys-usb:1-1 2>&1); rc=$?
check "keyboard refused by the default policy (ask, any device)" [ $rc != 0 ]
check "the refusal says why (BadUSB, the rule to write)" \
    has "$err" "is a keyboard.*BadUSB.*qubes.USB +1-1 work sys-usb allow"
check "one line" [ "$(printf '%s\n' "$err" | wc -l)" = 1 ]
err=$(bh usb attach work sys-usb:2-1 2>&1); rc=$?
check "storage passes usb-proxy's pre-check (ask) and fails at the kernel (bind), before any call" [ $rc != 0 ]
check "one clear message: no usbip-host here" has "$err" "USB passthrough is not available: .*no usbip-host"
check "that is one line" [ "$(printf '%s\n' "$err" | wc -l)" = 1 ]

P=$ROOT/etc/bulkhead/policy.d/30-usb.policy
printf 'qubes.USB +1-1 work sys-usb allow\nqubes.USB * work sys-usb deny\n' > "$P"
bh service restart policyd >/dev/null 2>&1
wait_for 10 all_services_up
err=$(bh usb attach work sys-usb:1-1 2>&1)
check "an explicit rule lets the keyboard through policy (to the kernel)" \
    has "$err" "no usbip-host"
err=$(bh usb attach work sys-usb:2-1 2>&1)
check "a deny rule refuses the storage, naming the rule" \
    has "$err" "policy denies qubes.USB+2-1 from work to sys-usb (.*30-usb.policy:2)"
rm -f "$P"
bh service restart policyd >/dev/null 2>&1
wait_for 10 all_services_up

err=$(bh usb attach work sys-usb:9-9 2>&1)
check "unknown device refused" has "$err" "sys-usb has no device 9-9"
err=$(bh usb attach work nosuch:1-1 2>&1)
check "unknown USB qube refused" has "$err" "nosuch is not a USB qube"
err=$(bh usb attach work sys-usb:1-1x 2>&1)
check "invalid bus id refused" has "$err" "invalid bus id"
check_fails "detach with nothing attached fails" bh usb detach work

# --- persistent assignments ------------------------------------------------------
bh events > "$ROOT/usb-events.log" 2>&1 &
EVPID=$!
out=$(bh usb assign work sys-usb:46f4:0001 2>&1)
check "assign work sys-usb:46f4:0001 ($out)" has "$out" "^assigned sys-usb:46f4:0001 to work"
check "...and it says what makes it attach by itself" \
    has "$out" "qubes.USB \\* work sys-usb allow"
# the default rule asks: nobody typed this attach, so it is not placed
check "under the default rule (ask) the assignment does not attach: refused, policy asks" \
    wait_for 10 grep -q "event=refused.*busid=2-1.*policy asks" "$ROOT/usb-events.log"
kill $EVPID 2>/dev/null; wait $EVPID 2>/dev/null
check "assignment saved on disk" grep -q "work sys-usb 46f4:0001" "$ROOT/var/lib/bulkhead/usb/assignments"
out=$(bh usb assignments)
check "assignments lists it" has "$out" "work <- sys-usb:46f4:0001"
out=$(bh usb list)
check "list shows the assignment" has "$out" "^sys-usb:2-1 .*assigned: work"
bh service restart usb-proxy >/dev/null 2>&1
wait_for 10 all_services_up
check "assignments survive a usb-proxy restart" has "$(bh usb assignments)" "work <- sys-usb:46f4:0001"
check "unassign" bh usb unassign work sys-usb:46f4:0001
check "gone" [ -z "$(bh usb assignments)" ]
check_fails "bad ident refused" bh usb assign work sys-usb:46f4
check_fails "hostile serial refused" bh usb assign work "sys-usb:46f4:0001:a b"

# --- the audit says what the ns backend's sys-usb is worth ---------------------
out=$(bh audit 2>&1)
check "audit: usb-proxy's note says the ns backend is weaker than a Xen sys-usb" \
    has "$out" "weaker than a Xen sys-usb with the controllers passed through"

# --- sys-usb down ----------------------------------------------------------------
bh shutdown --wait sys-usb >/dev/null
out=$(bh usb list 2>&1)
check "with sys-usb halted the list is empty and says why" has "$out" "sys-usb"
finish
