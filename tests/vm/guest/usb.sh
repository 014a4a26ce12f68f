# Runs inside the QEMU VM (busybox sh, as pid 1's child) made by
# tests/vm/usb.sh: Debian's kernel, an emulated xHCI with usb-storage
# (disk.img, known content) and usb-kbd: the static bulkhead-usb alone
# (listing, the direct socketpair baseline of the benchmark, the qubes.USB
# handler refusing a device dom0 did not prepare); the data path through
# the qubes.USB call is guest/system.sh's.
# Prints "ok - ..." / "FAIL - ..." lines and "BENCH key value" lines.
VHCI=/sys/devices/platform/vhci_hcd.0
HOSTDRV=/sys/bus/usb/drivers/usbip-host
EXP=$(cat /expected.md5)
SIZE_MB=$(cat /disk.mb)
export BULKHEAD_ROOT=/tmp/bhroot

t() { cut -d' ' -f1 /proc/uptime; }
pass() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; }
check() { desc=$1; shift; if "$@"; then pass "$desc"; else fail "$desc"; fi; }
waitfor() { n=$(( $1 * 10 )); shift; while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n-1)); done; return 1; }
blk_on() {
  for sb in /sys/block/sd*; do
    [ -e "$sb" ] || continue
    case "$(readlink -f $sb)" in *"$1"*) [ "$(cat $sb/size)" != 0 ] && { echo ${sb##*/}; return 0; } ;; esac
  done
  return 1
}
have_blk() { blk_on "$1" >/dev/null; }
no_vhci_blk() { ! have_blk vhci_hcd; }
drv_of() { basename "$(readlink /sys/bus/usb/devices/$1/driver 2>/dev/null)" 2>/dev/null; }
on_usb_storage() { [ "$(drv_of $STOR)" = usb ] && have_blk pci0000; }
no_match() { ! grep -q "$STOR" $HOSTDRV/match_busid; }
md5_of() { dd if=/dev/$1 bs=1M count=$SIZE_MB 2>/dev/null | md5sum | cut -d' ' -f1; }

echo "== list"
waitfor 20 have_blk pci0000 || fail "no usb-storage disk appeared"
bulkhead-usb list > /tmp/list
sed 's/^/  /' /tmp/list
STOR=$(awk -F'\t' '$2 == "46f4:0001" { print $1 }' /tmp/list)
KBD=$(awk -F'\t' '$2 == "0627:0001" { print $1 }' /tmp/list)
check "list shows the usb-storage device ($STOR)" [ -n "$STOR" ]
check "list shows the usb keyboard ($KBD)" [ -n "$KBD" ]
check "storage listed as SuperSpeed mass storage" grep -qE "^$STOR	46f4:0001	super	.*	080650	" /tmp/list
check "keyboard listed with its HID boot-keyboard interface" grep -qE "^$KBD	0627:0001	(full|high)	.*	030101	" /tmp/list

bench() { # DEV LABEL
  echo 3 > /proc/sys/vm/drop_caches
  d0=$(t)
  dd if=/dev/$1 of=/dev/null bs=1M count=$SIZE_MB iflag=direct 2>/dev/null || dd if=/dev/$1 of=/dev/null bs=1M count=$SIZE_MB 2>/dev/null
  d1=$(t)
  echo "BENCH $2 $SIZE_MB $d0 $d1"
}

echo "== the qubes.USB handler alone refuses a device dom0 did not prepare"
out=$(bulkhead-usb export $STOR < /dev/null 2>&1); rc=$?
exp_refused() { [ $rc != 0 ] && echo "$out" | grep -q 'not prepared for export'; }
check "export of an unbound device fails and says why ($out)" exp_refused
untouched() { [ "$(drv_of $STOR)" = usb ] && no_match; }
check "it left the device on its driver, match_busid clear" untouched

echo "== the handler serves only the caller dom0 prepared the device for"
bulkhead-usb bind $STOR work
out=$(QREXEC_REMOTE_DOMAIN=other bulkhead-usb export $STOR < /dev/null 2>&1); rc=$?
check "bound for work, a call from another qube is refused" exp_refused
check "... and the device stays bound for work" [ "$(drv_of $STOR)" = usbip-host ]
QREXEC_REMOTE_DOMAIN=work bulkhead-usb export $STOR < /dev/null > /tmp/hdr 2>/tmp/exp.err; rc=$?
check "work's call gets the header first: BHU1, 12 bytes ($rc: $(cat /tmp/exp.err | tr '\n' ' '))" \
  sh -c "[ \"\$(head -c 4 /tmp/hdr)\" = BHU1 ] && [ \$(wc -c < /tmp/hdr) = 12 ]"
check "the call's stdin at EOF ends it: device back on its driver, match_busid clear" waitfor 20 untouched

echo "== benchmark: direct socketpair (kernel path alone)"
if d=$(bulkhead-usb direct $STOR); then
  DPORT=${d#ATTACHED }
  if waitfor 30 have_blk vhci_hcd; then
    check "a disk on vhci_hcd through one socketpair, content matches disk.img" [ "$(md5_of $(blk_on vhci_hcd))" = "$EXP" ]
    for r in $(seq $(cat /bench.runs)); do bench $(blk_on vhci_hcd) direct; done
  else fail "no disk on vhci_hcd after the direct attach"; fi
  bulkhead-usb detach $DPORT
  waitfor 20 no_vhci_blk
  bulkhead-usb release $STOR
  waitfor 20 on_usb_storage
fi
back_and_clear() { on_usb_storage && no_match; }
check "after the direct run $STOR is back on usb-storage, match_busid clear" back_and_clear

echo "== the kernel refuses nothing odd: keyboard through a socketpair"
kbd_on_vhci() { for d in /sys/bus/usb/devices/*:1.0; do case "$(readlink -f $d)" in *vhci_hcd*) [ "$(basename "$(readlink $d/driver)")" = usbhid ] && return 0;; esac; done; return 1; }
i=$(bulkhead-usb direct $KBD)
check "a full-speed keyboard attaches on a high-speed vhci port and binds usbhid" waitfor 20 kbd_on_vhci
bulkhead-usb detach ${i#ATTACHED }
sleep 1
bulkhead-usb release $KBD
kbd_back() { [ "$(drv_of $KBD)" = usb ] && ! grep -q "$KBD" $HOSTDRV/match_busid; }
check "keyboard back on its driver after detach and release" waitfor 20 kbd_back
