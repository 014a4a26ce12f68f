#!/bin/sh
# Fault suite for the bus: streams of retried requests while busd is
# killed mid-stream, while the service is killed and restarted, and through
# injected drop/duplicate/delay/corrupt faults.  Every request must end
# answered (retries reuse their id; the service's reply cache answers
# duplicates once) -- never a hang, never a silent loss.
. "$(dirname "$0")/../lib.sh"

tmproot
. "$BH_TOP/tests/bus/lib.sh"

N=60
stream() { # stream OUTFILE: N calls, each retried every 200 ms for 10 s
    call bus-echo --count $N --timeout 10000 --retry 200 >"$1"
}

start_busd --allow-faults
start_echo bus-echo
stream "$ROOT/s0"
check "baseline: a stream of $N calls, $N/$N answered" \
    test "$(pongs "$ROOT/s0")" = $N

# --- busd kill -9 twice during a stream ---
stream "$ROOT/s1" &
S=$!
sleep 0.3
kill -KILL "$BUSD_PID"; wait "$BUSD_PID" 2>/dev/null
sleep 0.3
start_busd --allow-faults
sleep 0.3
kill -KILL "$BUSD_PID"; wait "$BUSD_PID" 2>/dev/null
start_busd --allow-faults
wait $S
check "busd killed twice mid-stream: $N/$N answered" \
    test "$(pongs "$ROOT/s1")" = $N

# --- the service killed and restarted during a stream ---
stream "$ROOT/s2" &
S=$!
sleep 0.3
kill -KILL "$ECHO_PID"; wait "$ECHO_PID" 2>/dev/null
sleep 0.5
start_echo bus-echo
wait $S
check "service killed mid-stream: $N/$N answered" \
    test "$(pongs "$ROOT/s2")" = $N

# --- injected faults on both directions ---
quiet bh fault add bus-client bus-echo ping drop --probability 0.2
quiet bh fault add bus-echo bus-client pong drop --probability 0.2
quiet bh fault add bus-client bus-echo ping duplicate --probability 0.3
quiet bh fault add bus-echo bus-client pong delay 50 --probability 0.3
stream "$ROOT/s3"
check "drop/duplicate/delay on requests and replies: $N/$N answered" \
    test "$(pongs "$ROOT/s3")" = $N
check "every injected fault was logged" log_has "fault: duplicate bus-client -> bus-echo ping"
quiet bh fault clear

quiet bh fault add bus-client bus-echo ping corrupt --probability 0.3
stream "$ROOT/s4"
check "30% corrupted requests: $N/$N answered" \
    test "$(pongs "$ROOT/s4")" = $N
check "the service dropped the corrupted frames and survived" \
    kill -0 "$ECHO_PID"
quiet bh fault clear

# --- no retries: losses surface as DEADLINE errors, never hangs ---
quiet bh fault add bus-client bus-echo ping drop --probability 0.5
call bus-echo --count 20 --timeout 300 >"$ROOT/s5"
answered=$(pongs "$ROOT/s5")
deadlines=$(grep -c 'DEADLINE\|^timeout' "$ROOT/s5")
check "without retries every call ends: answered ($answered) + deadline ($deadlines) = 20" \
    test $((answered + deadlines)) = 20
quiet bh fault clear

finish
