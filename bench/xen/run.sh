#!/bin/bash
# bench/xen: start-to-ready of a qube and the exec stream (vchan) between
# dom0 and the qube, on the xen backend inside real Xen nested under QEMU
# TCG (tests/xen/qubes.sh, which prints "# bench" lines), beside the same
# figures for the ns backend on this host, measured the same way (the CLI:
# `bulkhead start`, `bulkhead run -- dd ... | wc -c`, `bulkhead run -- true`)
# in the same run.  The Xen figures are emulation figures: they say nothing
# about real hardware.  Needs root and qemu-system-x86_64.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
json=0
[ "${1:-}" = --json ] && json=1
now_ms() { date +%s%3N; }

# ---- ns on the host -----------------------------------------------------
R=$(mktemp -d /tmp/bhb.XXXXXX)
chmod 755 "$R"
B=$R/bin
mkdir -p "$B"
for f in bulkhead bulkhead-launcher busd vm-manager storage-manager rpc-router bulkhead-agent; do
    cp build/bin/$f "$B/"; done
chmod 755 "$B"
scripts/prepare-root "$R" >/dev/null
for f in "$R"/etc/bulkhead/services.d/*.conf; do
    case $(basename "$f") in
    busd.conf | vm-manager.conf | storage-manager.conf | rpc-router.conf) ;;
    *) rm -f "$f" ;;
    esac
done
"$B/bulkhead-launcher" --root "$R" > "$R/launcher.log" 2>&1 &
lp=$!
bh() { "$B/bulkhead" --root "$R" "$@"; }
for _ in $(seq 100); do
    o=$(bh service list 2>/dev/null) && [ -n "$o" ] && ! echo "$o" | tail -n +2 | grep -qv ' up ' && break
    sleep 0.1
done
bh template install minimal >/dev/null 2>&1
bh create bq --template minimal --label red >/dev/null 2>&1
t0=$(now_ms); bh start bq >/dev/null 2>&1; t1=$(now_ms)
n=$(bh run bq -- dd if=/dev/zero bs=65536 count=256 2>/dev/null | wc -c); t2=$(now_ms)
bh run bq -- true; t3=$(now_ms)
bh kill bq >/dev/null 2>&1
sleep 0.5
kill -TERM $lp; wait $lp 2>/dev/null
for r in "$R"/run/bulkhead/qubes/*.pid; do
    [ -e "$r" ] && kill -9 "$(awk '$1 == "pid" {print $3}' "$r")" 2>/dev/null; done
awk -v r="$R" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
rm -rf "$R"
ns_start=$((t1 - t0))
ns_mbps=$(awk -v n="$n" -v d=$((t2 - t1)) 'BEGIN {printf "%.1f", n / 1048576 / (d / 1000)}')
ns_true=$((t3 - t2))

# ---- xen, nested ------------------------------------------------------------
out=$(tests/xen/qubes.sh 2>&1)
fig() { echo "$out" | sed -n "s/^# bench $1 //p" | head -1; }
x_start=$(fig xen_start_ready_ms_work)
x_mbps=$(fig xen_exec_stream_mb_per_s)
x_true=$(fig xen_run_true_ms)
wall=$(echo "$out" | sed -n 's/^# wall time: .*total \([0-9]*\) s/\1/p')
verdict=$(echo "$out" | tail -1)
x_start=${x_start:-0}; x_mbps=${x_mbps:-0}; x_true=${x_true:-0}

if [ $json = 1 ]; then
    printf '{"ns_start_ready_ms": %s, "ns_exec_stream_mb_per_s": %s, "ns_run_true_ms": %s, ' \
        "$ns_start" "$ns_mbps" "$ns_true"
    printf '"xen_tcg_start_ready_ms": %s, "xen_tcg_exec_stream_mb_per_s": %s, "xen_tcg_run_true_ms": %s, ' \
        "$x_start" "$x_mbps" "$x_true"
    printf '"xen_nested_test_wall_s": %s}\n' "${wall:-0}"
    exit 0
fi
printf '%-34s %14s %20s\n' "figure" "ns (host)" "xen (nested, TCG)"
printf '%-34s %14s %20s\n' "start to ready, ms" "$ns_start" "$x_start"
printf '%-34s %14s %20s\n' "exec stream 16 MiB, MB/s" "$ns_mbps" "$x_mbps"
printf '%-34s %14s %20s\n' "run -- true, ms" "$ns_true" "$x_true"
echo "xen figures are under QEMU software emulation: they say nothing about hardware."
echo "nested test: ${wall:-?} s, $verdict"
