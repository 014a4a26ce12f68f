#!/bin/bash
# vchan's xen transport between two real Xen domains, through the public
# API (tests/xen/vchan_peer.c): a message each way, a stream, 1000 round
# trips; then buffer sharing by grant references (vchan_peer_share.c).
# Three ways to run, first that applies:
#
#  1. On a Xen dom0 (/dev/xen/gntalloc present) with a running domU:
#       VCHAN_DOMU=name VCHAN_DOMU_EXEC='ssh root@domu' tests/xen/vchan-two-domain.sh
#     VCHAN_DOMU_EXEC is a command prefix that runs a program in the domU,
#     which must already hold build/tests/vchan-peer (static) at
#     ${VCHAN_DOMU_PEER:-/usr/local/bin/vchan-peer}.
#  2. Nested under QEMU with ../shared/xen-nested (Xen 4.17 from Debian
#     packages, about 30 s on an idle machine): BULKHEAD_XEN_NESTED=1.
#     Needs qemu-system-x86_64 and downloads the Xen packages once.
#  3. Otherwise: skip (0 passed, 0 failed).
#
# Last line: "N passed, N failed" (scripts/run-tests reads it).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
pass=0
fail=0
check() { # DESC RC
    if [ "$2" -eq 0 ]; then pass=$((pass + 1)); echo "ok - $1"
    else fail=$((fail + 1)); echo "FAIL - $1"; fi
}
done_() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

# The peer as one static binary, and as one relocatable object for the
# nested harness (which links a single input against Debian's libxen).
srcs="tests/xen/vchan_peer.c tests/xen/vchan_peer_share.c vchan/vchan.c
      vchan/ring.c vchan/rendezvous.c vchan/shm.c vchan/xen.c vchan/share.c
      vchan/share_xen.c lib/log.c lib/paths.c lib/atomicfile.c"
build_peer() { # OUT-DIR
    local d=$1 f objs=""
    mkdir -p "$d"
    for f in $srcs; do
        gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I. -c "$f" -o "$d/$(basename "$f" .c).o" || return 1
        objs="$objs $d/$(basename "$f" .c).o"
    done
    ld -r -o "$d/vchan-peer.o" $objs || return 1
    gcc -static -o "$d/vchan-peer" "$d/vchan-peer.o" -lxenvchan -lxengnttab \
        -lxenevtchn -lxenstore -lxentoolcore -lxentoollog -lxencall 2>/dev/null ||
        gcc -o "$d/vchan-peer" "$d/vchan-peer.o" -lxenvchan -lxengnttab -lxenstore
}

out=$(mktemp -d /tmp/bhx.XXXXXX)
trap 'rm -rf "$out"' EXIT
build_peer "$out"
check "vchan-peer builds and links against libxenvchan" $?

if [ -e /dev/xen/gntalloc ] && [ -n "${VCHAN_DOMU:-}" ]; then
    domid=$(xl domid "$VCHAN_DOMU") || { check "xl domid $VCHAN_DOMU" 1; done_; }
    "$out/vchan-peer" server "$domid" - 64 > "$out/server.log" 2>&1 &
    spid=$!
    sleep 1
    timeout 120 ${VCHAN_DOMU_EXEC} "${VCHAN_DOMU_PEER:-/usr/local/bin/vchan-peer}" client 0 > "$out/client.log" 2>&1
    check "client in $VCHAN_DOMU (domain $domid) exchanges, streams, pings" $?
    wait "$spid"
    check "server in dom0" $?
    cat "$out/server.log" "$out/client.log"
    done_
fi

if [ "${BULKHEAD_XEN_NESTED:-0}" = 1 ] && command -v qemu-system-x86_64 >/dev/null; then
    harness=${XEN_NESTED:-$top/../shared/xen-nested/xen-vchan-smoke.sh}
    # The harness's work dir (its default unless W is set): the whole
    # console is there, with vchan's own log lines from dom0.
    export W=${W:-/tmp/xen-nested}
    VCHAN_SRC="$out/vchan-peer.o" "$harness" > "$out/nested.log" 2>&1
    rc=$?
    grep -E 'vchan: share' "$W/console.log" >> "$out/nested.log"
    grep -E 'SERVER:|CLIENT:|RESULT:|vchan: share|build .* boot' "$out/nested.log"
    check "nested Xen: dom0 server <-> domU client over the xen transport" $rc
    # Buffer sharing by grant references (tests/xen/vchan_peer_share.c).
    has() { grep -q -- "$1" "$out/nested.log"; }
    has 'SERVER: buffer tag 1: 3145728 bytes verified'
    check "domU shares 3 MiB by grant refs, dom0 reads every byte" $?
    has 'SERVER: rectangle rows 100..299 published, updated'
    check "a rewritten rectangle reaches dom0 after publish + update" $?
    has 'refused: page count does not match the size' &&
        has 'refused: page count 0 or over the per-buffer limit' &&
        has 'SERVER: hostile frame tag 3 refused'
    check "hostile SHARE frames (npages vs size, over the limit) refused" $?
    has 'SERVER: after them buffer 1 unchanged'
    check "refused frames change nothing; the next buffer still comes" $?
    has 'SERVER: released by the sender'
    check "release unmaps in dom0" $?
    has 'side channel with dom[0-9]* broken: bad magic' &&
        has 'SERVER: garbage framing: sharing from the peer stops'
    check "garbage framing stops sharing, the data ring goes on" $?
    has 'SERVER: shared buffers: all checks passed' &&
        has 'CLIENT: buffer sharing steps done'
    check "buffer sharing: both sides finished" $?
    done_
fi

if [ -e /dev/xen/gntalloc ]; then
    echo "skip: Xen here, but no VCHAN_DOMU given (see the header)"
else
    echo "skip: no Xen (/dev/xen/gntalloc missing); BULKHEAD_XEN_NESTED=1 runs it nested under QEMU"
fi
done_
