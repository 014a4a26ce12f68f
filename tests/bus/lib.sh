# Helpers for the bus suites (tests/integration/bus.sh, tests/fault/bus.sh):
# busd started directly in the suite's temp root, test peers as services.
# Source after tests/lib.sh and tmproot.

PEER="$BH_TESTBIN/bus-peer"
RUNBUS="$ROOT/run/bulkhead/bus"
BUSD_PID=""
ECHO_PID=""
mkdir -p "$ROOT/etc/bulkhead"
cp "$BH_TOP/policy/bus.routes" "$ROOT/etc/bulkhead/bus.routes"

# start_busd [OPTIONS]: starts busd and waits for its readiness newline.
start_busd() {
    rm -f "$ROOT/ready"
    mkfifo "$ROOT/ready"
    BULKHEAD_NOTIFY_FD=3 "$BH_BIN/busd" --root "$ROOT" "$@" \
        3>"$ROOT/ready" >>"$ROOT/busd.log" 2>&1 &
    BUSD_PID=$!
    track_pid "$BUSD_PID"
    read -r _ready <"$ROOT/ready"
}

stop_busd() { kill -TERM "$BUSD_PID"; wait "$BUSD_PID"; }

# start_echo NAME [ARGS]: a service answering Ping; sets ECHO_PID.
start_echo() {
    "$PEER" serve "$@" >>"$ROOT/echo.log" 2>&1 &
    ECHO_PID=$!
    track_pid "$ECHO_PID"
}

call() { "$PEER" call bus-client "$@" 2>>"$ROOT/peer.log"; }
log_has() { grep -q -- "$1" "$ROOT/busd.log"; }
quiet() { "$@" >/dev/null; }
out_is() { [ "$1" = "$2" ] || { echo "# got '$1', want '$2'"; return 1; }; }
out_has() { case "$1" in *"$2"*) return 0;; esac; echo "# got '$1'"; return 1; }
# pongs FILE: how many calls in FILE were answered
pongs() { grep -c '^pong ' "$1"; }
