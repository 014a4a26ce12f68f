#!/bin/sh
# bench-usb [--json]: read throughput of a usb-storage disk attached by
# `bulkhead usb attach` (work's qubes.USB call to sys-usb: the handler's
# pump, the call's vchan, work's relay) and read inside work, beside the
# same disk through one direct socketpair (the kernel's USB/IP alone), in the same QEMU VM run (TCG emulation: the ratio is the
# figure, not the MiB/s).  Installed as build/bin/bench-usb; runs
# tests/vm/usb.sh --bench.
top=$(cd "$(dirname "$0")/../.." && pwd)
exec bash "$top/tests/vm/usb.sh" --bench "$@"
