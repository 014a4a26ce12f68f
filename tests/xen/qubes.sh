#!/bin/bash
# bulkhead on real Xen, nested under QEMU (software emulation; see
# ../shared/xen-nested/README.md for the technique this follows).
#
# On the host: the xen backend refuses cleanly without Xen ("no Xen: ...").
# Then it builds, from Debian packages only (apt-get download into a cache
# outside the repository, unpacked with dpkg-deb -x; nothing installed):
#   - dom0: Xen 4.17 + Debian's kernel + a busybox initramfs with Xen's
#     toolstack daemons (xenstored, xenconsoled) and bulkhead's own dom0
#     binaries (launcher, busd, vm-manager, storage-manager, rpc-router,
#     policyd, clipboard-broker, the CLI) with their shared libraries, and a
#     prepared bulkhead root;
#   - qubes: the same Debian kernel and bulkhead's qube initramfs
#     (scripts/xen-qube-initramfs: busybox, the Xen modules, the static
#     bulkhead-agent on the xen vchan transport).
# Inside real Xen, dom0's /init runs tests/xen/dom0/test.sh: the launcher
# and services come up, two qubes on the xen backend start (PV domains made
# by vm-manager through libxenlight) from the template's images
# (storage-manager's file driver: root read-only + a copy-on-write upper on
# volatile, private persistent), a command runs in each with its output
# and exit status, a file is copied from one to the other under an allow
# policy and refused under deny, text goes from work's clipboard through
# dom0's clipboard-broker into personal's (the other way refused under a
# deny rule), vm-manager is restarted while they run and
# finds them again, both shut down, and a restarted qube finds its private
# data again.  The verdict leaves the VM by QEMU's
# isa-debug-exit port; the check lines come over the serial console.
#
# Needs qemu-system-x86_64 (scripts/setup installs it), apt-get, xz, gzip,
# cpio-capable busybox (from the package).  Skips cleanly without qemu.
# BULKHEAD_XEN_CACHE (default /var/cache/bulkhead-xen, else $TMPDIR) keeps
# the packages between runs.  Last line: "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
P=0
F=0
ok() { P=$((P + 1)); echo "ok - $*"; }
no() { F=$((F + 1)); echo "FAIL - $*"; }
finish() { echo "$P passed, $F failed"; exit $([ "$F" -eq 0 ] && echo 0 || echo 1); }
t0=$(date +%s)

W=$(mktemp -d /tmp/bhxen.XXXXXX)
keep=${BULKHEAD_XEN_KEEP:-0}
cleanup() {
    awk -v r="$W" 'index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null; done
    [ "$keep" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
# Private copies: the build tree is shared and may be relinked meanwhile.
B=$W/bin
mkdir -p $B && chmod 755 "$W" $B  # services run as their own uids
for f in bulkhead bulkhead-launcher busd vm-manager storage-manager rpc-router policyd clipboard-broker bulkhead-xen-block bulkhead-agent; do
    cp build/bin/$f $B/ 2>/dev/null || { no "build/bin/$f is built (run ninja)"; finish; }
done
cp -r build/bin/guest $B/guest || { no "build/bin/guest is built (run ninja)"; finish; }

# ---- 1. on the host: no Xen here, one clear message ----------------------
host_check() {
    local R=$W/hostroot log out
    mkdir -p "$R" && chmod 755 "$R"
    scripts/prepare-root "$R" >/dev/null
    for f in "$R"/etc/bulkhead/services.d/*.conf; do
        case $(basename "$f") in
        busd.conf | vm-manager.conf | storage-manager.conf | rpc-router.conf) ;;
        *) rm -f "$f" ;;
        esac
    done
    $B/bulkhead-launcher --root "$R" > "$R/launcher.log" 2>&1 &
    local lp=$! i=0
    until $B/bulkhead --root "$R" service list 2>/dev/null | tail -n +2 |
          grep -q ' up ' && ! $B/bulkhead --root "$R" service list |
          tail -n +2 | grep -qv ' up '; do
        i=$((i + 1)); [ $i -gt 200 ] && break; sleep 0.1
    done
    $B/bulkhead --root "$R" template install minimal >/dev/null 2>&1
    # The file driver needs no Xen: the template's root as an image.
    img=$($B/bulkhead --root "$R" template export-image minimal 2>&1)
    img2=$($B/bulkhead --root "$R" template export-image minimal 2>&1)
    export_ok=no
    [ -s "${img%% *}" ] && [ "$img" = "$img2" ] &&
        debugfs -R 'cat /etc/os-release' "${img%% *}" 2>/dev/null | grep -q 'bulkhead minimal' &&
        export_ok=yes
    echo "# template export-image: $img"
    $B/bulkhead --root "$R" create hx --template minimal --label red \
        --prop virt_mode=xen >/dev/null 2>&1
    out=$($B/bulkhead --root "$R" start hx 2>&1)
    kill -TERM $lp 2>/dev/null; wait $lp 2>/dev/null
    echo "$out" | grep -q 'no Xen:'
}
if [ "$(id -u)" = 0 ] && [ ! -e /proc/xen/capabilities ]; then
    if host_check; then ok "host without Xen: starting a xen qube fails with 'no Xen: ...'"
    else no "host without Xen: starting a xen qube fails with 'no Xen: ...'"; fi
    if [ "$export_ok" = yes ]; then ok "template export-image: the root as an ext4 image (once per revision)"
    else no "template export-image: the root as an ext4 image (got: $img / $img2)"; fi
fi

if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "skip nested Xen: qemu-system-x86_64 missing (scripts/setup installs qemu-system-x86)"
    finish
fi

# ---- 2. packages (cached, never in the repository) ------------------------
C=${BULKHEAD_XEN_CACHE:-/var/cache/bulkhead-xen}
mkdir -p "$C" 2>/dev/null && [ -w "$C" ] || C=${TMPDIR:-/tmp}/bulkhead-xen
mkdir -p "$C/debs"
KVER=${KVER:-$(apt-cache depends linux-image-amd64 2>/dev/null |
               sed -n 's/.*Depends: linux-image-\(.*\)$/\1/p' | head -n1)}
KVER=${KVER:-6.1.0-56-amd64}
pkgs="xen-hypervisor-4.17-amd64 linux-image-$KVER busybox-static xen-utils-4.17
      xenstore-utils libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1
      libxenforeignmemory1 libxengnttab1 libxenstore4 libxentoolcore1
      libxentoollog1 libxenhypfs1 libyajl2"
if [ ! -e "$C/.unpacked-$KVER" ]; then
    (cd "$C/debs" && apt-get download $pkgs 2>&1 | grep -v 'unsandboxed')
    rm -rf "$C/x" "$C/u" && mkdir "$C/x" "$C/u"
    for d in "$C"/debs/xen-hypervisor-*.deb "$C"/debs/linux-image-$KVER*.deb "$C"/debs/busybox-static_*.deb; do
        dpkg-deb -x "$d" "$C/x"; done
    for d in "$C"/debs/xen-utils-4.17_*.deb "$C"/debs/xenstore-utils_*.deb "$C"/debs/lib*.deb; do
        dpkg-deb -x "$d" "$C/u"; done
    zcat "$C"/x/boot/xen-4.17-amd64.gz > "$C/xen"
    # A domU kernel un-xz'd and re-gzipped: libxenguest's xz is slow under TCG.
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$C/x/boot/vmlinuz-$KVER" | head -1 | cut -d: -f1)
    tail -c +$((off + 1)) "$C/x/boot/vmlinuz-$KVER" | xz -dc 2>/dev/null | gzip -1 > "$C/vmlinux.gz"
    touch "$C/.unpacked-$KVER"
fi
[ -s "$C/xen" ] && [ -s "$C/vmlinux.gz" ] && ok "Xen 4.17 and kernel $KVER from Debian packages (cache $C)" ||
    { no "Xen packages fetched and unpacked into $C"; finish; }
BB=$C/x/bin/busybox
MOD=$C/x/lib/modules/$KVER/kernel/drivers/xen

# ---- 3. the qube initramfs --------------------------------------------------
if scripts/xen-qube-initramfs --busybox "$BB" --modules "$MOD" \
       --agent $B/bulkhead-agent --tools $B/guest --out "$W/qube.cpio.gz" >/dev/null; then
    ok "qube initramfs built (busybox, Xen, block, ext4 and overlay modules, bulkhead-agent and tools)"
else
    no "qube initramfs built"; finish
fi

# ---- 4. dom0 initramfs --------------------------------------------------------
D=$W/dom0
mkdir -p $D/{bin,sbin,proc,sys,dev,tmp,mods,etc/xen,boot,run,var/lib,var/log,lib64,lib/x86_64-linux-gnu,usr/lib/x86_64-linux-gnu,usr/lib/xen-4.17/bin,usr/bin,usr/lib/bulkhead/bin,bh}
ln -s ../run $D/var/run
cp "$BB" $D/bin/ && for a in $("$BB" --list); do [ -e $D/bin/$a ] || ln -s busybox $D/bin/$a; done
for m in xen-privcmd xenfs/xenfs xen-evtchn xen-gntdev xen-gntalloc; do cp $MOD/$m.ko $D/mods/; done
# Qubes' disks: loop devices over the file driver's images, served by blkback.
cp $MOD/../block/loop.ko $MOD/../block/xen-blkback/xen-blkback.ko $D/mods/
# storage-manager makes images with mke2fs (e2fsprogs, from scripts/setup).
cp "$(command -v mke2fs || echo /sbin/mke2fs)" $D/sbin/mke2fs
for b in xl xenstored xenconsoled xen-init-dom0 xenconsole libxl-save-helper xenstore-control; do
    cp $C/u/usr/lib/xen-4.17/bin/$b $D/usr/lib/xen-4.17/bin/; done
cp -a $C/u/usr/bin/xenstore* $D/usr/bin/
cp -a $C/u/usr/lib/x86_64-linux-gnu/*.so* $D/usr/lib/x86_64-linux-gnu/
for f in bulkhead bulkhead-launcher busd vm-manager storage-manager rpc-router policyd clipboard-broker bulkhead-xen-block; do
    cp $B/$f $D/usr/lib/bulkhead/bin/; done
ln -s ../lib/bulkhead/bin/bulkhead $D/usr/bin/bulkhead
# host (Debian 12) shared libraries of the Xen tools and of bulkhead's dom0
# binaries (protobuf-c, nanomsg, seccomp, cap-ng), + libgcc_s.
libs=$(for b in $D/usr/lib/xen-4.17/bin/* $D/usr/lib/bulkhead/bin/* $D/sbin/mke2fs; do
           LD_LIBRARY_PATH=$C/u/usr/lib/x86_64-linux-gnu ldd $b; done |
       awk '$3 ~ /^\/lib|^\/usr\/lib/ && $3 !~ /bulkhead-xen|\/tmp\// {print $3}' | sort -u)
for l in $libs /lib/x86_64-linux-gnu/libgcc_s.so.1; do cp -L $l $D/lib/x86_64-linux-gnu/; done
cp -L /lib64/ld-linux-x86-64.so.2 $D/lib64/
strip $D/usr/lib/x86_64-linux-gnu/*.so* $D/usr/lib/bulkhead/bin/* $D/sbin/mke2fs 2>/dev/null
: > $D/etc/xen/xl.conf
echo 'root:x:0:0:root:/:/bin/sh' > $D/etc/passwd
echo 'root:x:0:' > $D/etc/group
cp "$C/vmlinux.gz" "$W/qube.cpio.gz" $D/boot/
# bulkhead's root: the five services qubes and their RPC need, and
# clipboard-broker; Xen settings.
scripts/prepare-root $D/bh >/dev/null
for f in $D/bh/etc/bulkhead/services.d/*.conf; do
    case $(basename "$f") in
    busd.conf | vm-manager.conf | storage-manager.conf | rpc-router.conf | policyd.conf | clipboard-broker.conf) ;;
    *) rm -f "$f" ;;
    esac
done
cat > $D/bh/etc/bulkhead/policy.d/10-xen-test.policy <<EOF
qubes.Filecopy  *  work      personal  allow
qubes.Filecopy  *  personal  work      deny
qubes.ClipboardPaste  *  personal  work  deny
EOF
# rpc-router holds the dom0 end of every qube's vchan: with the xen
# transport that is /dev/xen/{gntalloc,evtchn,gntdev,xenbus}; dom0's init
# gives them to the Xen device group (99990, rpc-router's `groups`), as a
# udev rule would on a real host (README-xen.md).  No capability.
cat >> $D/bh/etc/bulkhead/bulkhead.conf <<EOF
# Xen qubes (tests/xen/qubes.sh): PV, as TCG gives no HVM to nested Xen.
xen_type = pv
xen_kernel = /boot/vmlinux.gz
xen_initramfs = /boot/qube.cpio.gz
xen_cmdline = loglevel=3
EOF
cat > $D/bh/etc/bulkhead/vm-manager.conf <<EOF
start_timeout_ms = 180000
shutdown_timeout_ms = 60000
EOF
cp tests/xen/dom0/test.sh $D/test.sh
# BULKHEAD_XEN_SECCOMP_LOG=1: dom0 services log (not die of) syscalls
# outside their filters, for finding what libxl needs.
echo "SECCOMP_LOG=${BULKHEAD_XEN_SECCOMP_LOG:-}" > $D/test.env
echo "STREAMS=${BULKHEAD_XEN_STREAMS:-0}" >> $D/test.env
echo "DIAG=${BULKHEAD_XEN_DIAG:-}" >> $D/test.env
cp tests/xen/dom0/init $D/init
chmod 755 $D/init $D/test.sh
(cd $D && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) > $W/dom0.cpio.gz
ok "dom0 initramfs built ($(du -m $W/dom0.cpio.gz | cut -f1) MiB: Xen toolstack + bulkhead dom0 services)"
t_built=$(date +%s)

# ---- 5. boot real Xen and run the dom0 test --------------------------------
# -cpu qemu64, not max: with max, glibc in dom0 picks its AVX2 string
# and memory functions, which run on QEMU 7.2's new TCG AVX emulation; the
# flakes seen with max (a kernel image that failed to inflate in libxc, a
# first qube dying before its first console line, a mutex found corrupt
# in nanomsg, a short exec stream) all look like userland memory
# corruption, and none was seen with qemu64 (README-xen.md).
# BULKHEAD_XEN_CPU overrides (e.g. max, to reproduce).
timeout "${BULKHEAD_XEN_TIMEOUT:-540}" qemu-system-x86_64 -accel tcg -cpu "${BULKHEAD_XEN_CPU:-qemu64}" -m 2048 -smp 2 \
    -nographic -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -kernel "$C/xen" \
    -append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M smap=0 loglvl=warning guest_loglvl=warning noreboot" \
    -initrd "$C/x/boot/vmlinuz-$KVER console=hvc0 earlyprintk=xen loglevel=3,$W/dom0.cpio.gz" \
    </dev/null > "$W/console.log" 2>&1
rc=$?
t_end=$(date +%s)
tr -d '\r' < "$W/console.log" > "$W/console.txt"
grep -E '^(ok|FAIL) - ' "$W/console.txt" | sed 's/^/  [xen dom0] /'
grep -E '^# (bench|stream) ' "$W/console.txt"
n_ok=$(grep -c '^ok - ' "$W/console.txt")
n_fail=$(grep -c '^FAIL - ' "$W/console.txt")
P=$((P + n_ok))
F=$((F + n_fail))
if grep -q '^DOM0-TEST: done' "$W/console.txt" && [ "$rc" = 1 ]; then
    ok "inside Xen: dom0 test done, verdict PASS by isa-debug-exit"
else
    no "inside Xen: dom0 test finished with PASS (qemu rc=$rc: 1 pass, 3 fail, 124 timeout)"
    echo "----- console (last 60 lines)"; tail -60 "$W/console.txt"
    cp "$W/console.txt" /tmp/bulkhead-xen-console.log 2>/dev/null &&
        echo "(whole console: /tmp/bulkhead-xen-console.log)"
fi
echo "# wall time: build $((t_built - t0)) s, boot+test $((t_end - t_built)) s, total $((t_end - t0)) s"
finish
