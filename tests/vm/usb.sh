#!/bin/bash
# tests/vm/usb.sh: USB through sys-usb, inside a QEMU VM (software
# emulation: this host's kernel has no USB).  Debian's kernel (fetched with
# `apt-get download` into a cache outside the repo, $BULKHEAD_VM_CACHE,
# default ~/.cache/bulkhead-vm; nothing downloaded is committed), busybox,
# bulkhead's dom0 binaries with their shared libraries and the static
# in-qube tools (copied from build/bin); an emulated xHCI with usb-storage
# (a random disk image whose md5 the guest checks) and usb-kbd.  Two guest
# parts, in this order (USB_VM_PHASES="helpers system" by default):
# tests/vm/guest/usb.sh drives the helper bulkhead-usb alone (listing, the
# benchmark's direct baseline, the handler refusing an unprepared device);
# tests/vm/guest/system.sh runs bulkhead itself (launcher and services on the ns backend, sys-usb
# and work) through its CLI.  The guest asks for QEMU monitor commands
# (device_del/device_add) with "MONITOR ..." lines.  Skips cleanly
# (0 passed, 0 failed) without qemu or without the kernel package.
#
#   tests/vm/usb.sh           the test (~1.5 min on 2 shared cores)
#   tests/vm/usb.sh --bench   the same run, then the benchmark table
#                             (bench/usb/run calls this; --json for JSON)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${BULKHEAD_VM_CACHE:-$HOME/.cache/bulkhead-vm}
MODE=test
JSON=0
for a in "$@"; do
  case $a in --bench) MODE=bench ;; --json) JSON=1 ;; esac
done
say() { echo "== $*" >&2; }
skip() { echo "skipped: $*"; echo "0 passed, 0 failed"; exit 0; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (scripts/setup installs qemu-system-x86)"
[ -x "$TOP/build/bin/bulkhead-usb" ] || { echo "build/bin/bulkhead-usb missing: run ninja"; echo "0 passed, 1 failed"; exit 1; }

# ---- Debian's kernel and busybox, cached
mkdir -p "$CACHE" || skip "cannot create $CACHE"
cd "$CACHE" || exit 1
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -1)
[ -n "$KPKG" ] || KPKG=$(ls linux-image-*.deb 2>/dev/null | head -1 | sed 's/_.*//')
[ -n "$KPKG" ] || skip "no kernel package known to apt"
if [ ! -f "$KPKG.extracted" ]; then
  if ! ls ${KPKG}_*.deb >/dev/null 2>&1 || ! ls busybox-static_*.deb >/dev/null 2>&1; then
    say "downloading $KPKG busybox-static into $CACHE"
    apt-get download "$KPKG" busybox-static >/dev/null 2>&1 || skip "apt-get download failed (offline?)"
  fi
  rm -rf kpkg bb; mkdir -p kpkg bb
  dpkg-deb -x "$(ls ${KPKG}_*.deb | head -1)" kpkg && dpkg-deb -x "$(ls busybox-static_*.deb | head -1)" bb || exit 1
  touch "$KPKG.extracted"
fi
KV=$(ls kpkg/lib/modules | head -1)

W=$(mktemp -d /tmp/bhvm.XXXXXX)
QPID=""
cleanup() { [ -n "$QPID" ] && kill "$QPID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

# ---- initramfs
R=$W/root
mkdir -p $R/bin $R/mod $R/proc $R/sys $R/dev $R/tmp $R/run $R/etc $R/lib64 \
  $R/lib/x86_64-linux-gnu $R/bh/bin
cp bb/bin/busybox "$TOP/build/bin/bulkhead-usb" $R/bin/
cp "$TOP/tests/vm/guest/usb.sh" $R/test.sh
cp "$TOP/tests/vm/guest/system.sh" $R/system.sh
echo "${USB_VM_PHASES:-helpers system}" > $R/phases
# bulkhead itself, as tests/xen/qubes.sh puts it into its dom0: the dom0
# binaries with their shared libraries (this host's Debian 12 = the VM's
# userland ABI), the static in-qube tools, a prepared root under /bh.
for f in bulkhead bulkhead-launcher busd vm-manager storage-manager rpc-router policyd usb-proxy; do
  cp "$TOP/build/bin/$f" $R/bh/bin/ || { echo "build/bin/$f missing: run ninja"; echo "0 passed, 1 failed"; exit 1; }
done
mkdir -p $R/bh/bin/guest
cp "$TOP/build/bin/guest/bulkhead-agent" "$TOP/build/bin/guest/bulkhead-usb" \
  "$TOP/build/bin/guest/bulkhead-call" $R/bh/bin/guest/
# sys-usb's qubes.USB handler (the agent runs rpc/root/ as the qube's root)
mkdir -p $R/bh/bin/guest/rpc/root
cp "$TOP/build/bin/guest/rpc/root/qubes.USB" $R/bh/bin/guest/rpc/root/
for l in $(for b in $R/bh/bin/*; do [ -f $b ] && ldd $b; done | awk '$3 ~ /^\// {print $3}' | sort -u) \
         /lib/x86_64-linux-gnu/libgcc_s.so.1; do
  cp -L $l $R/lib/x86_64-linux-gnu/
done
cp -L /lib64/ld-linux-x86-64.so.2 $R/lib64/
strip $R/bh/bin/* $R/bh/bin/guest/* $R/lib/x86_64-linux-gnu/* 2>/dev/null
echo 'root:x:0:0:root:/:/bin/sh' > $R/etc/passwd
echo 'root:x:0:' > $R/etc/group
mkdir -p $R/bh/root
"$TOP/scripts/prepare-root" $R/bh/root >/dev/null
for f in $R/bh/root/etc/bulkhead/services.d/*.conf; do
  case $(basename "$f") in
  busd.conf | vm-manager.conf | storage-manager.conf | rpc-router.conf | policyd.conf | usb-proxy.conf) ;;
  *) rm -f "$f" ;;
  esac
done
MODS="usb-common usbcore xhci-hcd xhci-pci scsi_common scsi_mod crc64 crc64_rocksoft_generic
crc64-rocksoft crct10dif_common crct10dif_generic crc-t10dif t10-pi sd_mod usb-storage hid
hid-generic usbhid evdev usbip-core usbip-host vhci-hcd overlay loop crc16 mbcache jbd2 crc32c_generic ext4"
for m in $MODS; do
  f=$(find kpkg/lib/modules/$KV/kernel -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -1)
  [ -n "$f" ] || { echo "module $m not found in $KPKG"; echo "0 passed, 1 failed"; exit 1; }
  case "$f" in *.xz) xz -dc "$f" > $R/mod/$m.ko ;; *.zst) zstd -qdc "$f" > $R/mod/$m.ko ;; *) cp "$f" $R/mod/ ;; esac
  echo $m >> $R/mod/order
done
# /init moves everything onto a tmpfs and switches root to it: the
# initramfs itself is rootfs, which has no parent mount, and pivot_root
# (a qube's last step on the ns backend) refuses such a root.
cat > $R/init <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /newroot
/bin/busybox mount -t tmpfs -o mode=0755 tmpfs /newroot
/bin/busybox cp -a /bin /bh /dev /etc /lib /lib64 /mod /proc /run /sys /tmp /newroot/
/bin/busybox cp /test.sh /system.sh /phases /expected.md5 /disk.mb /bench.runs /init2 /newroot/
exec /bin/busybox switch_root /newroot /init2
EOF
cat > $R/init2 <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp; mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /dev/pts /sys/fs/cgroup; mount -t devpts devpts /dev/pts
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for m in $(cat /mod/order); do insmod /mod/$m.ko || echo "INSMOD-FAIL $m"; done
# bulkhead's root on ext4 (a loop file): the ns backend wants idmapped
# mounts and user xattrs for its overlays, which this kernel's tmpfs lacks
dd if=/dev/zero of=/tmp/bh.img bs=1M seek=256 count=0 2>/dev/null
L=$(losetup -f) && losetup $L /tmp/bh.img && mke2fs -q $L && mkdir -p /mnt &&
  mount -t ext4 $L /mnt && cp -a /bh/root/. /mnt/ && umount /mnt && mount -t ext4 $L /bh/root ||
  echo "FAIL - bulkhead's root on ext4"
for p in $(cat /phases); do
  case $p in system) sh /system.sh ;; helpers) sh /test.sh ;; esac
done
echo "GUEST-DONE"
sync
poweroff -f
EOF
chmod +x $R/init $R/init2
SIZE_MB=16; RUNS=1
[ $MODE = bench ] && { SIZE_MB=32; RUNS=3; }
echo $RUNS > $R/bench.runs
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > $W/disk.img
md5sum < $W/disk.img | cut -d' ' -f1 > $R/expected.md5
echo $SIZE_MB > $R/disk.mb
(cd $R && find . | "$CACHE/bb/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) > $W/initrd.gz

# ---- boot; unplug the storage through the monitor when asked
ACCEL=tcg
[ -w /dev/kvm ] && ACCEL=kvm
say "booting the VM ($ACCEL, $KV)"
mkfifo $W/mon.in $W/mon.out
cat $W/mon.out > $W/mon.log &
timeout 240 qemu-system-x86_64 -accel $ACCEL -smp ${USB_VM_SMP:-1} -m 768 -nographic -no-reboot \
  -kernel kpkg/boot/vmlinuz-$KV -initrd $W/initrd.gz \
  -append "console=ttyS0 quiet panic=-1" \
  -device qemu-xhci -device usb-kbd -device usb-storage,drive=d,id=stor \
  -drive if=none,id=d,file=$W/disk.img,format=raw,readonly=on \
  -drive if=none,id=d2,file=$W/disk.img,format=raw,readonly=on \
  -drive if=none,id=d3,file=$W/disk.img,format=raw,readonly=on \
  -monitor pipe:$W/mon > $W/console.log 2>&1 &
QPID=$!
exec 9> $W/mon.in
# The guest asks for monitor commands with "MONITOR CMD" lines (only
# device_del/device_add of the test's own ids are passed on).
sent=0
while kill -0 $QPID 2>/dev/null; do
  n=$(tr -d '\r' < $W/console.log | grep -ac '^MONITOR device_\(del\|add\) [a-z0-9,=-]*$')
  while [ "$sent" -lt "$n" ]; do
    sent=$((sent + 1))
    tr -d '\r' < $W/console.log | grep -a '^MONITOR device_\(del\|add\) [a-z0-9,=-]*$' |
      sed -n "${sent}p" | sed 's/^MONITOR //' >&9
  done
  sleep 0.5
done
exec 9>&-
wait $QPID
QPID=""
tr -d '\r' < $W/console.log > $W/c.log
cp $W/c.log "$CACHE/usb-last-console.log"   # for a look after the run
# in bench mode the test's own lines go to stderr: stdout is the table/JSON
[ $MODE = bench ] && exec 3>&1 1>&2
grep -aE '^(ok|FAIL) - |^== |^  [0-9a-zA-Z]' $W/c.log
if ! grep -aq GUEST-DONE $W/c.log; then
  echo "FAIL - the guest did not finish; console tail:"; tail -40 $W/c.log
fi
P=$(grep -ac '^ok - ' $W/c.log)
F=$(grep -ac '^FAIL - ' $W/c.log)
grep -aq GUEST-DONE $W/c.log || F=$((F + 1))

if [ $MODE = bench ]; then
  exec 1>&3
  # BENCH LABEL MB T0 T1 -> median MiB/s per label
  med() { grep -a "^BENCH $1 " $W/c.log | awk '{ printf "%.3f\n", $3 / ($5 - $4) }' | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }'; }
  D=$(med direct); B=$(med bulkhead)
  RATIOB=$(awk -v v=$B -v d=$D 'BEGIN { if (d > 0) printf "%.3f", v / d; else print 0 }')
  if [ $JSON = 1 ]; then
    printf '{"vchan_mb_per_s": %s, "direct_mb_per_s": %s, "ratio_vchan_over_direct": %s, "disk_mb": %s, "runs": %s, "accel": "%s"}\n' "$B" "$D" "$RATIOB" "$SIZE_MB" "$RUNS" "$ACCEL"
  else
    echo "read throughput of the attached usb-storage (QEMU $ACCEL emulation, ${SIZE_MB} MiB O_DIRECT, median of $RUNS)"
    printf '%-40s %10s\n' path "MiB/s"
    printf '%-44s %10s\n' "direct socketpair (kernel path alone)" "$D"
    printf '%-44s %10s\n' "bulkhead usb attach (qubes.USB over vchan)" "$B"
    printf '%-44s %10s\n' "ratio vchan/direct" "$RATIOB"
  fi
fi
if [ $MODE = test ]; then echo "$P passed, $F failed"; else echo "$P passed, $F failed" >&2; fi
[ "$F" = 0 ]
