# Runs inside the QEMU VM (busybox sh, as pid 1's child) made by
# tests/vm/usb.sh: Debian's kernel, an emulated xHCI with usb-storage
# (disk.img, known content) and usb-kbd.  "sys-usb" and "work" are two
# processes in their own mount/UTS namespaces talking over a vchan (shm
# transport), each running the real static bulkhead-usb.
# Prints "ok - ..." / "FAIL - ..." lines and "BENCH key value" lines.
VHCI=/sys/devices/platform/vhci_hcd.0
HOSTDRV=/sys/bus/usb/drivers/usbip-host
EXP=$(cat /expected.md5)
SIZE_MB=$(cat /disk.mb)
export BULKHEAD_ROOT=/tmp/bhroot
mkdir -p $BULKHEAD_ROOT/run/bulkhead/vchan

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
port_free() { grep -qE "^(hs|ss) +0*$1 +004 " $VHCI/status; }
gone() { [ ! -d /proc/$1 ] || grep -q ' Z ' /proc/$1/stat; }
md5_of() { dd if=/dev/$1 bs=1M count=$SIZE_MB 2>/dev/null | md5sum | cut -d' ' -f1; }

# sys-usb: export STOR to domain 0 on VPORT; work: import it
SYSUSB="unshare -m -u"
WORK="unshare -m -u"
attach() { # VPORT: one retry after a clean-up (TCG under load: the
  # target's enumeration can time out, "can't set config, error -110")
  try_attach $1 && return 0
  echo "  attach on vchan port $1 failed once; cleaning up and retrying"
  cleanup_attach
  try_attach $(( $1 + 100 ))
}
cleanup_attach() {
  [ -n "${PORT:-}" ] && bulkhead-usb detach $PORT 2>/dev/null
  for p in ${IMPPUMP:-} ${EXPPUMP:-}; do kill -9 $p 2>/dev/null; done
  bulkhead-usb release $STOR 2>/dev/null
  waitfor 20 no_vhci_blk; waitfor 20 on_usb_storage
  PORT=""; IMPPUMP=""; EXPPUMP=""
}
try_attach() { # VPORT -> sets PORT, EXPPUMP, IMPPUMP
  vport=$1
  rm -f /tmp/exp.log /tmp/imp.log
  e=$(BULKHEAD_USB_LOG=/tmp/exp.log $SYSUSB bulkhead-usb export $STOR 0 $vport) || { echo "  export: $e"; return 1; }
  set -- $e
  DEVID=$3; SPEED=$4
  i=$(BULKHEAD_USB_LOG=/tmp/imp.log $WORK bulkhead-usb import 0 $vport $DEVID $SPEED) || { echo "  import: $i"; return 1; }
  PORT=${i#ATTACHED }
  waitfor 5 grep -q 'pump pid' /tmp/imp.log
  waitfor 5 grep -q 'pump pid' /tmp/exp.log
  IMPPUMP=$(sed -n 's/.*pump pid \([0-9]*\).*/\1/p' /tmp/imp.log)
  EXPPUMP=$(sed -n 's/.*pump pid \([0-9]*\).*/\1/p' /tmp/exp.log)
  waitfor 30 have_blk vhci_hcd
}
released() { # everything back: vhci disk gone, port free, pumps gone, device on usb-storage, match_busid clear
  waitfor 20 no_vhci_blk && waitfor 10 port_free $PORT && waitfor 10 gone $IMPPUMP &&
    waitfor 10 gone $EXPPUMP && waitfor 20 on_usb_storage && no_match
}

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

echo "== attach $STOR to work through the vchan"
VP=7001
if attach $VP; then
  SD=$(blk_on vhci_hcd)
  pass "a disk appeared on vhci_hcd in work (/dev/$SD, port $PORT)"
  check "its content matches disk.img" [ "$(md5_of $SD)" = "$EXP" ]
  check "the device is bound to usbip-host in sys-usb" [ "$(drv_of $STOR)" = usbip-host ]
  check "devid came out of band (busnum<<16|devnum)" [ "$DEVID" = $(( $(cat /sys/bus/usb/devices/$STOR/busnum) * 65536 + $(cat /sys/bus/usb/devices/$STOR/devnum) )) ]
else
  fail "no disk on vhci_hcd after attach"; cat /tmp/exp.log /tmp/imp.log; dmesg | tail -20
fi

echo "== benchmark: vchan path"
bench() { # DEV LABEL
  echo 3 > /proc/sys/vm/drop_caches
  d0=$(t)
  dd if=/dev/$1 of=/dev/null bs=1M count=$SIZE_MB iflag=direct 2>/dev/null || dd if=/dev/$1 of=/dev/null bs=1M count=$SIZE_MB 2>/dev/null
  d1=$(t)
  echo "BENCH $2 $SIZE_MB $d0 $d1"
}
[ -n "${SD:-}" ] && for r in $(seq $(cat /bench.runs)); do bench $SD vchan; done

echo "== detach from work"
bulkhead-usb detach $PORT
check "detach releases the port, ends both pumps and gives $STOR back to usb-storage (match_busid cleared)" released
check "the local disk still has the right content" [ "$(md5_of $(blk_on pci0000))" = "$EXP" ]

echo "== benchmark: direct socketpair (kernel path alone)"
if d=$(bulkhead-usb direct $STOR); then
  DPORT=${d#ATTACHED }
  if waitfor 30 have_blk vhci_hcd; then
    for r in $(seq $(cat /bench.runs)); do bench $(blk_on vhci_hcd) direct; done
  fi
  bulkhead-usb detach $DPORT
  waitfor 20 no_vhci_blk
  bulkhead-usb release $STOR
  waitfor 20 on_usb_storage
fi
check "after the direct run $STOR is back on usb-storage" on_usb_storage

echo "== the pump in work is killed"
VP=7002
if attach $VP; then
  kill -9 $IMPPUMP
  check "killing work's pump releases everything" released
else fail "attach for the pump kill"; fi

echo "== the pump in sys-usb is killed"
VP=7003
if attach $VP; then
  kill -9 $EXPPUMP
  check "killing sys-usb's pump releases everything" released
else fail "attach for the sys-usb pump kill"; fi

echo "== release from sys-usb's side"
VP=7004
if attach $VP; then
  bulkhead-usb release $STOR
  check "release in sys-usb detaches work and gives the device back" released
else fail "attach for release"; fi

echo "== the kernel refuses nothing odd: keyboard through the vchan"
VP=7005
S=$STOR; STOR=$KBD
kbd_on_vhci() { for d in /sys/bus/usb/devices/*:1.0; do case "$(readlink -f $d)" in *vhci_hcd*) [ "$(basename "$(readlink $d/driver)")" = usbhid ] && return 0;; esac; done; return 1; }
rm -f /tmp/exp.log /tmp/imp.log
e=$(BULKHEAD_USB_LOG=/tmp/exp.log bulkhead-usb export $KBD 0 $VP) && set -- $e &&
  i=$(BULKHEAD_USB_LOG=/tmp/imp.log bulkhead-usb import 0 $VP $3 $4)
check "a full-speed keyboard attaches on a high-speed vhci port and binds usbhid" waitfor 20 kbd_on_vhci
KP=${i#ATTACHED }
bulkhead-usb detach $KP
kbd_back() { [ "$(drv_of $KBD)" = usb ] && ! grep -q "$KBD" $HOSTDRV/match_busid; }
check "keyboard back on its driver after detach" waitfor 20 kbd_back
STOR=$S

echo "== unplug (QEMU monitor device_del) while attached"
VP=7006
if attach $VP; then
  echo "MONITOR device_del stor"
  unplugged() { [ ! -e /sys/bus/usb/devices/$STOR ]; }
  check "device unplugged from the xHCI" waitfor 30 unplugged
  waitfor 20 no_vhci_blk && waitfor 10 port_free $PORT && waitfor 10 gone $IMPPUMP && waitfor 10 gone $EXPPUMP
  check "after unplug: vhci disk gone, port $PORT free, pumps gone" [ $? = 0 ]
  # A del while the stub is being torn down leaves the entry marked
  # removed (usbip-host skips such entries): what matters is that the
  # next device on that port is not grabbed by usbip-host.
  echo "  match_busid after unplug: [$(cat $HOSTDRV/match_busid | tr '\n' ' ')]"
  echo "MONITOR device_add usb-storage,drive=d2,id=stor2"; echo stor2 > /tmp/storage-qdev
  newdev() { for d in /sys/bus/usb/devices/*; do [ -e $d/idVendor ] && [ "$(cat $d/idVendor):$(cat $d/idProduct)" = 46f4:0001 ] && { echo ${d##*/}; return 0; }; done; return 1; }
  waitfor 30 newdev >/dev/null
  NEW=$(newdev)
  storage_driver() { [ "$(drv_of $NEW)" = usb ] && have_blk pci0000; }
  check "a device plugged in after the unplug (bus id $NEW) gets its own driver, not usbip-host" waitfor 20 storage_driver
else fail "attach for unplug"; fi
