#!/bin/sh
# Integration tests of busd + libbus alone (no launcher): a temp root, busd
# started directly, tiny test peers (build/tests/bus-peer) as services.
. "$(dirname "$0")/../lib.sh"

tmproot
. "$BH_TOP/tests/bus/lib.sh"

# --- start, readiness, directory layout ---
start_busd
check "busd signals readiness and binds both slots" \
    test -S "$RUNBUS/bus-echo/0.sock" -a -S "$RUNBUS/bus-echo/1.sock"
check "admin socket and events socket exist" \
    test -S "$RUNBUS/admin/sock" -a -S "$RUNBUS/admin/events"
check "service dir is 02710, admin dir 0700" \
    test "$(stat -c %a "$RUNBUS/bus-echo"):$(stat -c %a "$RUNBUS/admin")" = "2710:700"

# --- request / reply ---
start_echo bus-echo
check "request/reply through busd" out_is "$(call bus-echo --count 3)" \
"pong bus-echo 1
pong bus-echo 2
pong bus-echo 3"
check "busd itself answers Ping" out_is "$(call busd)" "pong busd 1"

# --- admin socket: many REQ clients at once ---
for i in 1 2 3 4 5 6; do
    "$PEER" admin-call bus-echo >"$ROOT/admin.$i" 2>&1 &
done
wait_for 5 sh -c "cat $ROOT/admin.* | grep -c 'pong bus-echo' | grep -qx 6"
check "six concurrent admin clients all answered" \
    test "$(cat "$ROOT"/admin.* | grep -c 'pong bus-echo')" = 6

# --- denied routes ---
check "denied route refused with DENIED" \
    out_has "$(call launcher)" "error DENIED"
check "denial logged with src, dst and type" \
    log_has "denied: bus-client -> launcher ping"

# --- hostile bytes ---
"$PEER" garbage "$RUNBUS/bus-echo/1.sock" --count 50 2>>"$ROOT/peer.log"
python3 - "$RUNBUS/bus-client/1.sock" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(os.urandom(4096))
s.close()
PY
# Raw bytes on the admin sockets: no SP handshake, a handshake for the
# wrong protocol, and a valid REQ handshake followed by a frame that claims
# to be larger than NN_RCVMAXSIZE.  (NOT covered, a known nanomsg 1.1.5
# defect: after a valid handshake, a frame whose type byte is not 1 trips
# nn_assert in src/transports/ipc/sipc.c and aborts the receiving process;
# see bus/README.md "Known limits".)
for sock in "$RUNBUS/admin/sock" "$RUNBUS/admin/events"; do
    python3 - "$sock" <<'PY'
import os, socket, struct, sys
def send(b):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    try:
        s.sendall(b)
    except OSError:
        pass
    s.close()
send(os.urandom(2048))
send(b"\x00SP\x00\x00\x10\x00\x00" + os.urandom(512))
send(b"\x00SP\x00\x00\x30\x00\x00" + b"\x01" + struct.pack(">Q", 1 << 40)
     + os.urandom(512))
PY
done
check "random frames were logged and dropped" log_has "dropping bad frame"
check "busd survives random bytes (slots and admin sockets)" kill -0 "$BUSD_PID"
check "admin socket still answers after random bytes" \
    out_is "$("$PEER" admin-call bus-echo 2>>"$ROOT/peer.log")" "pong bus-echo 0"
check "still routing after random bytes" \
    out_is "$(call bus-echo)" "pong bus-echo 1"

# --- events ---
"$PEER" listen bus-client --timeout 3000 >"$ROOT/ev.client" 2>&1 &
L1=$!
"$PEER" listen admin-events --timeout 3000 >"$ROOT/ev.admin" 2>&1 &
L2=$!
sleep 0.3
# slot 0 is taken by the running bus-echo: publish through slot 1 (frames
# from either slot carry the service's identity)
BULKHEAD_BUS_SOCK="$RUNBUS/bus-echo/1.sock" "$PEER" publish bus-echo \
    2>>"$ROOT/peer.log"
wait $L1 $L2
check "event fanned out to the subscribed service" \
    grep -q "got ping from bus-echo" "$ROOT/ev.client"
check "event reaches the admin events socket" \
    grep -q "got ping from bus-echo" "$ROOT/ev.admin"

# --- queueing while the destination is down, then delivery ---
# (give nanomsg a moment to see the disconnect: a frame sent in the very
# instant a peer dies can vanish in the dead pipe -- the caller then gets
# DEADLINE and a retry delivers it, see the fault suite)
kill -TERM "$ECHO_PID"; wait "$ECHO_PID" 2>/dev/null
sleep 0.3
call bus-echo --timeout 5000 >"$ROOT/queued.out" &
Q=$!
sleep 0.5
start_echo bus-echo
wait $Q
check "request queued while down is delivered on restart" \
    out_is "$(cat "$ROOT/queued.out")" "pong bus-echo 1"

# --- deadline ---
kill -TERM "$ECHO_PID"; wait "$ECHO_PID" 2>/dev/null
out=$(call bus-echo --timeout 400)
check "no service: caller gets DEADLINE, not silence" \
    out_has "$out" "DEADLINE"
check "expiry logged" log_has "deadline: bus-client"

# --- swap through the two slots ---
start_echo bus-echo --tag old
OLD=$ECHO_PID
BULKHEAD_BUS_SOCK="$RUNBUS/bus-echo/1.sock" start_echo bus-echo --tag new
NEW=$ECHO_PID
check "before the switch, slot 0 serves" out_is "$(call bus-echo)" "pong old 1"
check "launcher switches to slot 1" \
    out_is "$("$PEER" switch bus-echo 1 2>>"$ROOT/peer.log")" "ok"
check "after the switch, slot 1 serves" out_is "$(call bus-echo)" "pong new 1"
check "a service other than the launcher may not switch" \
    out_has "$("$PEER" switch bus-echo 0 --as bus-client 2>>"$ROOT/peer.log")" \
    "error DENIED"
kill -TERM "$OLD"; wait "$OLD" 2>/dev/null
"$PEER" switch bus-echo 0 >/dev/null 2>&1
kill -TERM "$NEW"; wait "$NEW" 2>/dev/null

# --- busd kill -9 and restart: clients reconnect, a retried call works ---
start_echo bus-echo
check "serving before busd dies" out_is "$(call bus-echo)" "pong bus-echo 1"
kill -KILL "$BUSD_PID"; wait "$BUSD_PID" 2>/dev/null
call bus-echo --timeout 8000 --retry 300 >"$ROOT/retry.out" &
R=$!
sleep 0.7
start_busd
wait $R
check "after busd kill -9 + restart a retried request succeeds" \
    out_is "$(cat "$ROOT/retry.out")" "pong bus-echo 1"
check "the service reconnected by itself" \
    out_is "$(call bus-echo)" "pong bus-echo 1"

# --- fault injection through the CLI ---
bh fault list >/dev/null 2>"$ROOT/fault.err"
check "faults refused unless --allow-faults (exit 1)" test $? -eq 1
check "refusal says why" grep -q "allow-faults" "$ROOT/fault.err"
stop_busd
start_busd --allow-faults
check "fault add drop" quiet bh fault add bus-client bus-echo ping drop
check "fault add rejects a bad action (exit 2)" \
    sh -c "$BH_BIN/bulkhead --root $ROOT fault add a b explode 2>/dev/null; test \$? -eq 2"
check "fault list shows it" sh -c "$BH_BIN/bulkhead --root $ROOT fault list | grep -q 'bus-client.*bus-echo.*drop'"
check "dropped request ends in DEADLINE" \
    out_has "$(call bus-echo --timeout 500)" "DEADLINE"
check "injected fault logged" log_has "fault: drop bus-client -> bus-echo ping"
check "fault clear" quiet bh fault clear
check "delivery works again after clear" out_is "$(call bus-echo)" "pong bus-echo 1"
bh fault add bus-client bus-echo ping drop --probability 0.3 >/dev/null
out=$(call bus-echo --count 40 --timeout 8000 --retry 150)
check "40 retried calls through a 30% drop: all answered, none lost" \
    test "$(printf '%s\n' "$out" | grep -c '^pong bus-echo')" = 40
bh fault clear >/dev/null
bh fault add bus-echo bus-client pong drop --probability 0.3 >/dev/null
out=$(call bus-echo --count 40 --timeout 8000 --retry 150)
check "40 retried calls through 30% dropped replies: all answered" \
    test "$(printf '%s\n' "$out" | grep -c '^pong bus-echo')" = 40
bh fault clear >/dev/null
bh fault add bus-client bus-echo duplicate >/dev/null
check "duplicated request answered once (reply cache)" \
    out_is "$(call bus-echo)" "pong bus-echo 1"
bh fault clear >/dev/null
bh fault add bus-client bus-echo delay 300 >/dev/null
check "delayed request still answered" \
    out_is "$(call bus-echo --timeout 3000)" "pong bus-echo 1"
bh fault clear >/dev/null
bh fault add bus-client bus-echo corrupt >/dev/null
check "corrupted request: caller sees DEADLINE, busd and service survive" \
    out_has "$(call bus-echo --timeout 500)" "DEADLINE"
bh fault clear >/dev/null
check "service still answers after corrupt frames" \
    out_is "$(call bus-echo)" "pong bus-echo 1"

# --- signals ---
kill -HUP "$BUSD_PID"
sleep 0.2
check "SIGHUP reloads routes (inside the sandbox)" log_has "routes: .* rules from"
check "busd alive after SIGHUP" kill -0 "$BUSD_PID"
stop_busd
check "busd exits 0 on SIGTERM" test $? -eq 0
check "CLI says not running (exit 3)" \
    sh -c "$BH_BIN/bulkhead --root $ROOT fault list 2>/dev/null; test \$? -eq 3"

finish
