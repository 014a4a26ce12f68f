#!/bin/sh
# Integration suite of bulkhead-launcher: boots the launcher with busd and
# test-only echo-services under a temp --root and checks supervision,
# readiness order, restarts, the seccomp kill report, crash-loop
# throttling, swap (with and without rollback) under load, busd restart,
# audit, and a clean shutdown.
. "$(dirname "$0")/../lib.sh"

has() { printf "%s\n" "$1" | grep -q -- "$2"; }

tmproot
# Private copies of the binaries: the build tree is shared and may be
# relinked under our feet while the suite runs.
mkdir -p "$ROOT/bin"
for f in bulkhead bulkhead-launcher busd; do cp "$BH_BIN/$f" "$ROOT/bin/"; done
cp "$BH_TESTBIN/echo-service" "$BH_TESTBIN/bus-peer" "$ROOT/bin/"
chmod 755 "$ROOT/bin"
BH_BIN=$ROOT/bin
ECHO=$ROOT/bin/echo-service
PEER=$ROOT/bin/bus-peer
LOG=$ROOT/launcher.log
SVCD=$ROOT/etc/bulkhead/services.d

# --- the system under test: busd + echo services of our own ---------------
"$BH_TOP/scripts/prepare-root" "$ROOT" >/dev/null
find "$SVCD" -name '*.conf' ! -name busd.conf -delete
cat >"$SVCD/echo-a.conf" <<EOF
exec = $ECHO
namespaces = mount ipc uts net
ready_timeout_ms = 1500
source = tests/services
notes = test-only service
EOF
cat >"$SVCD/echo-b.conf" <<EOF
exec = $ECHO --slow-ready 300
after = echo-a
EOF
cat >"$SVCD/echo-bad.conf" <<EOF
exec = $ECHO --violate
restart = never
EOF
cat >"$SVCD/crashy.conf" <<EOF
exec = $ECHO --exit-at-start 3
EOF
cat >"$SVCD/ghost.conf" <<EOF
exec = /nonexistent/ghost-service
EOF
cat >>"$ROOT/etc/bulkhead/bus.routes" <<'EOF'
# launcher.sh test routes
tester    echo-a    ping,echo_request
admin     echo-a    ping
admin     echo-b    ping
EOF

# Field N of NAME's line in `service list` (2 = state, 3 = pid).
field() { bh service list 2>/dev/null | awk -v n="$1" -v f="$2" '$1 == n {print $f}'; }
state_is() { [ "$(field "$1" 2)" = "$2" ]; }
ping_a() { "$PEER" call tester echo-a --timeout 3000 --retry 300 | grep -q '^pong echo-a'; }

"$BH_BIN/bulkhead-launcher" --root "$ROOT" >>"$LOG" 2>&1 &
LAUNCHER_PID=$!
track_pid "$LAUNCHER_PID"

check "echo-a and echo-b come up" wait_for 20 sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' service list | grep -q '^echo-b  *up'"
check "busd is up" state_is busd up
check "echo-a is up" state_is echo-a up

# Readiness order: echo-b (after = echo-a) started only once echo-a was ready.
a_ready=$(grep -n 'echo-a: starting -> up' "$LOG" | head -1 | cut -d: -f1)
b_start=$(grep -n 'echo-b: started pid' "$LOG" | head -1 | cut -d: -f1)
check "echo-b starts after echo-a is ready" [ "${a_ready:-99999}" -lt "${b_start:-0}" ]
busd_ready=$(grep -n 'busd: starting -> up' "$LOG" | head -1 | cut -d: -f1)
a_start=$(grep -n 'echo-a: started pid' "$LOG" | head -1 | cut -d: -f1)
check "services start after busd is ready" [ "${busd_ready:-99999}" -lt "${a_start:-0}" ]

# Own uid per service, no capabilities, no_new_privs.
a_pid=$(field echo-a 3)
a_uid=$(field echo-a 4)
check "echo-a runs as its own uid" \
    grep -q "^Uid:	$a_uid	$a_uid	$a_uid	$a_uid" "/proc/$a_pid/status"
check "echo-a has no capabilities" grep -q "^CapEff:	0000000000000000" "/proc/$a_pid/status"
check "echo-a has no_new_privs" grep -q "^NoNewPrivs:	1" "/proc/$a_pid/status"
check "echo-a has seccomp on" grep -q "^Seccomp:	2" "/proc/$a_pid/status"
check "echo-a has its own mount namespace" \
    [ "$(readlink /proc/$a_pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]
check "echo-a has its own network namespace" \
    [ "$(readlink /proc/$a_pid/ns/net)" != "$(readlink /proc/self/ns/net)" ]
check "echo-a and busd have different uids" [ "$a_uid" != "$(field busd 4)" ]
check "bus dir is owned by busd, group echo-a, mode 2710" \
    [ "$(stat -c '%u %g %a' "$ROOT/run/bulkhead/bus/echo-a")" = "$(field busd 4) $a_uid 2710" ]

# --- request/reply through busd; a denied route ---------------------------
check "request/reply through busd" ping_a
out=$("$PEER" call tester echo-b --timeout 2000)
check "a route not in bus.routes is refused" has "$out" DENIED
check "the denial is logged" grep -q 'denied: tester -> echo-b ping' "$LOG"

# --- seccomp kill is reported ----------------------------------------------
check "echo-bad is killed (down, restart = never)" wait_for 10 state_is echo-bad down
check "service list says why: seccomp, syscall ptrace" sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' service list | grep '^echo-bad' | grep -q 'seccomp: killed by SIGSYS (syscall ptrace)'"

# --- crash loop ends failed --------------------------------------------------
check "a crash-looping service ends failed" wait_for 30 state_is crashy failed
check "its last exit is recorded" sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' service list | grep '^crashy' | grep -q 'exit 3'"
check "the launcher reported it" grep -q 'crashy: FAILED' "$LOG"
check "a service whose binary is missing ends failed" wait_for 30 state_is ghost failed
check "with the exec error as its cause" sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' service list | grep '^ghost' | grep -q 'setup: exec /nonexistent/ghost-service: No such file'"
bh service restart crashy >/dev/null
check "service restart revives a failed service" \
    sh -c "grep -c 'crashy: failed -> starting' '$LOG' | grep -q 1"

# --- state changes are published as events ------------------------------
"$BH_BIN/bulkhead" --root "$ROOT" events >"$ROOT/events.out" 2>&1 &
EPID=$!
track_pid "$EPID"
sleep 0.3

# --- kill -9 of a service -----------------------------------------------------
kill -9 "$a_pid"
check "a killed service is restarted" wait_for 10 sh -c \
    "p=\$('$BH_BIN/bulkhead' --root '$ROOT' service list | awk '\$1==\"echo-a\" && \$2==\"up\" {print \$3}'); [ -n \"\$p\" ] && [ \"\$p\" != $a_pid ]"
check "and serves again" ping_a
check "its last exit says signal 9" sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' service list | grep '^echo-a' | grep -q 'signal 9 (KILL)'"
check "the restart was published as service_event" wait_for 5 \
    grep -q 'service_event.*echo-a' "$ROOT/events.out"
kill "$EPID" 2>/dev/null
check "bulkhead service kill works too" sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' service kill echo-b | grep -q 'sent signal 9'"
check "echo-b is back" wait_for 10 state_is echo-b up

# --- steady stream: COUNT EchoRequests 20 ms apart, retried (same id) ------
stream() { # stream FILE COUNT [RETRY_MS]
    "$ECHO" call tester echo-a --count "$2" --interval-ms 20 \
        --retry "${3:-250}" --timeout 10000 >"$1" 2>/dev/null
}
replies() { grep -c '^reply' "$1"; }

# --- kill -9 of busd: restarted, clients reconnect, retried calls all land --
busd_pid=$(field busd 3)
stream "$ROOT/busd-stream" 150 &
SPID=$!
sleep 1
kill -9 "$busd_pid"
wait "$SPID"
rc=$?
check "busd is restarted" wait_for 10 sh -c \
    "p=\$('$BH_BIN/bulkhead' --root '$ROOT' service list | awk '\$1==\"busd\" && \$2==\"up\" {print \$3}'); [ -n \"\$p\" ] && [ \"\$p\" != $busd_pid ]"
check "requests retried across a busd restart are all answered ($(replies "$ROOT/busd-stream")/150)" \
    [ "$rc" -eq 0 ] && [ "$(replies "$ROOT/busd-stream")" -eq 150 ]
check "clients reconnect after busd restart" ping_a

# --- swap under a steady stream -----------------------------------------------
cp "$ECHO" "$ROOT/echo-service.v2"
chmod 755 "$ROOT/echo-service.v2"
old_pid=$(field echo-a 3)
stream "$ROOT/swap-stream" 150 &
SPID=$!
sleep 1
out=$(bh service swap echo-a --exec "$ROOT/echo-service.v2" 2>&1)
check "swap succeeds ($out)" has "$out" swapped
new_pid=$(field echo-a 3)
wait "$SPID"
rc=$?
check "no request lost during the swap ($(replies "$ROOT/swap-stream")/150)" \
    [ "$rc" -eq 0 ] && [ "$(replies "$ROOT/swap-stream")" -eq 150 ]
check "the stream was answered by the old instance first" \
    [ "$(grep '^reply' "$ROOT/swap-stream" | head -1 | cut -d' ' -f4)" = "$old_pid" ]
check "and by the new instance after the switch" \
    [ "$(grep '^reply' "$ROOT/swap-stream" | tail -1 | cut -d' ' -f4)" = "$new_pid" ]
check "echo-a now runs the new binary" sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' service list --format json | grep -q 'echo-service.v2'"
check "the old instance is gone" wait_for 10 sh -c "! kill -0 $old_pid 2>/dev/null"
check "the new instance serves" ping_a

# busd restart after a swap: the launcher re-points busd to slot 1.
busd_pid=$(field busd 3)
kill -9 "$busd_pid"
check "busd restarted after a swap" wait_for 10 sh -c \
    "p=\$('$BH_BIN/bulkhead' --root '$ROOT' service list | awk '\$1==\"busd\" && \$2==\"up\" {print \$3}'); [ -n \"\$p\" ] && [ \"\$p\" != $busd_pid ]"
check "the swapped service is reachable after busd restarts" ping_a

# A second swap (back to slot 0) with no retries at all: busd queues what
# arrives while the switch happens, nothing is lost even without a retry.
old_pid=$(field echo-a 3)
stream "$ROOT/swap2-stream" 100 0 &
SPID=$!
sleep 0.7
out=$(bh service swap echo-a --exec "$ECHO" 2>&1)
check "swap back succeeds ($out)" has "$out" "slot 0"
wait "$SPID"
rc=$?
check "no request lost without retries either ($(replies "$ROOT/swap2-stream")/100)" \
    [ "$rc" -eq 0 ] && [ "$(replies "$ROOT/swap2-stream")" -eq 100 ]


# --- swap rollback ---------------------------------------------------------------
cur_pid=$(field echo-a 3)
check_fails "a swap to a binary that never becomes ready fails" \
    bh service swap echo-a --exec /bin/false
check "the old instance keeps serving" [ "$(field echo-a 3)" = "$cur_pid" ]
check "and answers" ping_a
printf '#!/bin/sh\nexec %s --never-ready "$@"\n' "$ECHO" >"$ROOT/bin/never-ready"
chmod 755 "$ROOT/bin/never-ready"
out=$(bh service swap echo-a --exec "$ROOT/bin/never-ready" 2>&1)
check "a swap to a binary that is never ready times out ($out)" \
    has "$out" "not ready in time"
check "the old instance still serves" [ "$(field echo-a 3)" = "$cur_pid" ]
check "and answers after the timeout" ping_a
check_fails "swap of an unknown service is refused" \
    bh service swap nosuch --exec /bin/true
check_fails "restart of an unknown service is refused" bh service restart nosuch

# --- audit ---------------------------------------------------------------------------
sum=$(sha256sum "$ECHO" | cut -d' ' -f1)
out=$(bh audit echo-b)
check "audit shows the binary's sha256" has "$out" "$sum"
check "audit lists syscall names" has "$out" futex
check "audit lists routes received" has "$out" 'admin: ping'
check "audit --format json is valid JSON with every service" sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' audit --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d[\"services\"]) == 7 and d[\"services\"][0][\"name\"] == \"launcher\", d; a=[s for s in d[\"services\"] if s[\"name\"]==\"echo-a\"][0]; assert a[\"source_lines\"] > 50 and \"net\" in a[\"namespaces\"] and a[\"syscalls\"]'"
out=$(bh audit launcher)
check "audit launcher describes the supervisor and its agent" has "$out" "bus agent"
check "service list --format json is valid JSON" sh -c \
    "'$BH_BIN/bulkhead' --root '$ROOT' service list --format json | python3 -c 'import json,sys; json.load(sys.stdin)'"

check_fails "fault injection is refused without --allow-faults" bh fault list

# --- SIGHUP: apply services.d changes without restarting the rest ----------
a_pid=$(field echo-a 3)
b_pid=$(field echo-b 3)
echo "restart = always" >"$SVCD/broken.conf"
kill -HUP "$LAUNCHER_PID"
check "a broken services.d is refused on reload" wait_for 5 \
    grep -q 'reload refused, the running configuration stays' "$LOG"
check "and nothing was restarted" [ "$(field echo-a 3)" = "$a_pid" ]
rm -f "$SVCD/broken.conf"
cat >"$SVCD/echo-c.conf" <<EOF
exec = $ECHO
EOF
echo "tester    echo-c    echo_request" >>"$ROOT/etc/bulkhead/bus.routes"
echo "notes = changed" >>"$SVCD/echo-b.conf"
rm -f "$SVCD/crashy.conf"
kill -HUP "$LAUNCHER_PID"
check "a new service starts on reload" wait_for 10 state_is echo-c up
check "and serves" wait_for 5 sh -c \
    "'$ECHO' call tester echo-c --retry 300 --timeout 3000 | grep -q '^reply 1 echo-c'"
check "a changed service is restarted" wait_for 10 sh -c \
    "p=\$('$BH_BIN/bulkhead' --root '$ROOT' service list | awk '\$1==\"echo-b\" && \$2==\"up\" {print \$3}'); [ -n \"\$p\" ] && [ \"\$p\" != $b_pid ]"
check "an unchanged one is not (and stays swapped)" [ "$(field echo-a 3)" = "$a_pid" ]
check "a removed service is forgotten" wait_for 5 sh -c \
    "! '$BH_BIN/bulkhead' --root '$ROOT' service list | grep -q '^crashy'"

# --- clean shutdown --------------------------------------------------------------------
pids=$(bh service list | awk 'NR>1 && $3 != 0 {print $3}')
kill -TERM "$LAUNCHER_PID"
check "the launcher exits on SIGTERM" wait_for 15 sh -c "! kill -0 $LAUNCHER_PID 2>/dev/null"
alive=""
for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
check "every service is stopped (left:$alive)" [ -z "$alive" ]
check "clean stops, in reverse order (busd last)" sh -c \
    "tail -3 '$LOG' | grep -q 'busd: stopping -> down'"

# --- --allow-faults is passed through to busd ----------------------------------
find "$SVCD" -name '*.conf' ! -name busd.conf -delete
"$BH_BIN/bulkhead-launcher" --root "$ROOT" --allow-faults >>"$LOG" 2>&1 &
LAUNCHER_PID=$!
track_pid "$LAUNCHER_PID"
check "boot with --allow-faults" wait_for 10 state_is busd up
check "busd got --allow-faults" sh -c \
    "tr '\\0' ' ' </proc/$(field busd 3)/cmdline | grep -q -- --allow-faults"
check "bulkhead fault list works" bh fault list

# --- one launcher per root; a crashed launcher leaves no orphans ------------
out=$("$BH_BIN/bulkhead-launcher" --root "$ROOT" 2>&1)
check "a second launcher on the same root is refused ($out)" \
    has "$out" "another launcher (pid $LAUNCHER_PID) runs on this root"
busd_pid=$(field busd 3)
kill -9 "$LAUNCHER_PID"
check "services die with a crashed launcher" wait_for 5 sh -c "! kill -0 $busd_pid 2>/dev/null"
"$BH_BIN/bulkhead-launcher" --root "$ROOT" >>"$LOG" 2>&1 &
LAUNCHER_PID=$!
track_pid "$LAUNCHER_PID"
check "a new launcher boots on the same root" wait_for 10 state_is busd up

finish
