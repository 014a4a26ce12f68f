#!/bin/sh
# Seamless GUI without a qube: two "qubes" are gui-agents on their own Xvfb
# servers (running as their domains' uids), gui-daemon draws on a third
# Xvfb (the dom0 display); the three talk over real shm vchans.  Also the
# hostile agent, a flood beside a well-behaved qube, and the ask dialog.
# Needs root (to run the agents as their domains' uids), Xvfb and xterm.
. "$(dirname "$0")/../lib.sh"

command -v Xvfb >/dev/null || { echo "# no Xvfb: skipped"; finish; exit; }
tmproot
P=$BH_TESTBIN/gui-probe
TC=$BH_TESTBIN/gui-testclient

# A display number nobody uses (lock file and socket both absent).
free_display() {
    _n=${1:-90}
    while [ -e /tmp/.X$_n-lock ] || [ -e /tmp/.X11-unix/X$_n ]; do
        _n=$((_n + 1))
    done
    echo $_n
}

start_xvfb() {                  # start_xvfb N WxH
    Xvfb ":$1" -screen 0 "${2}x24" -nolisten tcp >"$ROOT/xvfb$1.log" 2>&1 &
    track_pid $!
    wait_for 10 test -S "/tmp/.X11-unix/X$1"
}

uid_of() { echo $((100000 + $1 * 65536)); }

# as_domain QID CMD...: runs CMD as that domain's base uid.
as_domain() {
    _u=$(uid_of "$1")
    shift
    BULKHEAD_VCHAN_DOMID=$(( (_u - 100000) / 65536 )) \
        setpriv --reuid="$_u" --regid="$_u" --clear-groups "$@"
}

GA=$(free_display 90); start_xvfb "$GA" 1024x768
GB=$(free_display $((GA + 1))); start_xvfb "$GB" 1024x768
D0=$(free_display $((GB + 1))); start_xvfb "$D0" 1280x1024
d0() { DISPLAY=:$D0 "$@"; }

start_daemon() {
    "$BH_BIN/gui-daemon" --display ":$D0" --qube work:5:blue \
        --qube personal:6:green --qube hostile:7:red --clipboard local \
        >>"$ROOT/daemon.log" 2>&1 &
    DAEMON=$!
    track_pid $DAEMON
}
start_daemon
check "gui-daemon is ready (sandboxed)" wait_for 5 grep -q ready "$ROOT/daemon.log"

# ---- one window of qube "work" ------------------------------------------
DISPLAY=:$GA "$TC" --title hello --color 00ff00 --geometry 200x150+100+100 \
    --log "$ROOT/a.log" --own-clipboard "secret from work" &
TCA=$!
track_pid $TCA
as_domain 5 "$BH_BIN/bulkhead-gui-agent" --display ":$GA" >"$ROOT/agent-a.log" 2>&1 &
AGA=$!
track_pid $AGA
check "[work] hello appears on the dom0 display" wait_for 5 d0 "$P" find "[work] hello"
read -r WIN X Y W H <<EOF2
$(d0 "$P" find "[work] hello")
EOF2
check "exactly one host window for it" [ "$(d0 "$P" count hello)" = 1 ]
check "framed: size is content + frame" [ "$W" = 208 ] && [ "$H" = 174 ]
check "left frame pixel is the blue label" [ "$(d0 "$P" pixel $((X + 1)) $((Y + 60)))" = 3465a4 ]
check "title bar pixel is the blue label" [ "$(d0 "$P" pixel $((X + W - 3)) $((Y + 3)))" = 3465a4 ]
check "bottom frame pixel is the blue label" [ "$(d0 "$P" pixel $((X + 50)) $((Y + H - 2)))" = 3465a4 ]
check "content shows the client's green" wait_for 3 sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((X + 100)) $((Y + 90)))\" = 00ff00 ]"
check "WM_NAME and _NET_WM_NAME are prefixed" sh -c "[ \"\$(DISPLAY=:$D0 $P prop $WIN WM_NAME)\" = '[work] hello' ] && [ \"\$(DISPLAY=:$D0 $P prop $WIN _NET_WM_NAME)\" = '[work] hello' ]"
check "WM_CLASS names the qube" [ "$(d0 "$P" prop "$WIN" WM_CLASS)" = "work,work" ]

# ---- input -----------------------------------------------------------------
d0 "$P" click $((X + 60)) $((Y + 60))
check "a click reaches the guest client" wait_for 3 grep -q "^button 1 56 40" "$ROOT/a.log"
d0 "$P" type "hi"
check "typing into the host window reaches the guest client" wait_for 3 sh -c "grep -q '^key 43' '$ROOT/a.log' && grep -q '^key 31' '$ROOT/a.log'"
d0 "$P" synthetic-key "$WIN" 38
sleep 0.2
check_fails "a synthetic (SendEvent) key is dropped" grep -q "^key 38" "$ROOT/a.log"

# ---- resize both ways ------------------------------------------------------
d0 "$P" configure "$WIN" 300 200 408 324
check "resize on dom0 reaches the guest (400x300)" wait_for 3 grep -q "^size 400 300" "$ROOT/a.log"
GWIN=$(DISPLAY=:$GA "$P" find hello | cut -d' ' -f1)
DISPLAY=:$GA "$P" configure "$GWIN" 304 220 300 200
check "resize in the guest reaches dom0 (300x200 + frame)" wait_for 3 sh -c "DISPLAY=:$D0 $P find '[work] hello' | grep -q ' 308 224\$'"
read -r WIN X Y W H <<EOF2
$(d0 "$P" find "[work] hello")
EOF2
check "content repainted after the resize" wait_for 3 sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((X + 250)) $((Y + 150)))\" = 00ff00 ]"

# ---- a second qube beside it --------------------------------------------------
DISPLAY=:$GB "$TC" --title other --color ff00ff --geometry 250x120+700+100 \
    --log "$ROOT/b.log" --min 100x50 &
TCB=$!
track_pid $TCB
as_domain 6 "$BH_BIN/bulkhead-gui-agent" --display ":$GB" >"$ROOT/agent-b.log" 2>&1 &
track_pid $!
check "[personal] other appears" wait_for 5 d0 "$P" find "[personal] other"
read -r WINB XB YB WB HB <<EOF2
$(d0 "$P" find "[personal] other")
EOF2
check "its minimum size hint reaches the host window, frame added" [ "$(d0 "$P" min-size "$WINB")" = "108 74" ]
check "its frame is the green label" [ "$(d0 "$P" pixel $((XB + 1)) $((YB + 50)))" = 73d216 ]
check "its content is its magenta" wait_for 3 sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((XB + 100)) $((YB + 70)))\" = ff00ff ]"
check "the two windows sit side by side" [ $((X + W)) -le "$XB" ]
check "work's frame is still blue" [ "$(d0 "$P" pixel $((X + 1)) $((Y + 60)))" = 3465a4 ]
d0 "$P" shot "$ROOT/screen.ppm"
check "screenshot saved ($ROOT/screen.ppm)" [ -s "$ROOT/screen.ppm" ]

# ---- Ctrl-Shift-C / Ctrl-Shift-V (clipboard = local: the stand-in for
# clipboard-broker, one-shot, no policy) ------------------------------------
d0 "$P" click $((X + 40)) $((Y + 40))
d0 "$P" ctrl-shift c
check "Ctrl-Shift-C copies the focused qube's CLIPBOARD to dom0" wait_for 3 grep -q "work: copied 16 bytes" "$ROOT/daemon.log"
check_fails "the qube never sees Ctrl-Shift-C" grep -q "^key 54 5" "$ROOT/a.log"
check_fails "nothing reached the other qube before the paste" sh -c "DISPLAY=:$GB $P clip-get | grep -q secret"
d0 "$P" click $((XB + 40)) $((YB + 40))
d0 "$P" ctrl-shift v
check "Ctrl-Shift-V pastes into the focused qube's CLIPBOARD" wait_for 3 sh -c "DISPLAY=:$GB $P clip-get | grep -qx 'secret from work'"
d0 "$P" ctrl-shift v
sleep 0.2
check "the global clipboard is one-shot" [ "$(grep -c 'personal: pasted' "$ROOT/daemon.log")" = 1 ]
# The agents keep the qube's file clipboard (bulkhead-clipboard, what
# clipboard-broker reads and writes) in step with the X CLIPBOARD.
CFA=/tmp/.bulkhead-clipboard-$(uid_of 5)
CFB=/tmp/.bulkhead-clipboard-$(uid_of 6)
at_cleanup "rm -f '$CFA' '$CFB'"
check "Ctrl-Shift-C also left the text in work's clipboard file" grep -qx "secret from work" "$CFA"
check "the paste also landed in personal's clipboard file" grep -qx "secret from work" "$CFB"
as_domain 6 sh -c "printf 'from the broker' >'$CFB.new' && mv '$CFB.new' '$CFB'"
check "a clipboard file set in the qube becomes its X CLIPBOARD" wait_for 3 sh -c "DISPLAY=:$GB $P clip-get | grep -qx 'from the broker'"

# ---- gui-daemon restarts: the agents reconnect and re-send their windows --
kill -TERM "$DAEMON"
wait "$DAEMON"
check_fails "the windows go with the daemon" d0 "$P" find "[work] hello"
start_daemon
check "after a daemon restart, work's window is back" wait_for 5 d0 "$P" find "[work] hello"
check "...and personal's" wait_for 5 d0 "$P" find "[personal] other"
check "...with its content" wait_for 3 sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((X + 100)) $((Y + 90)))\" = 00ff00 ]"
read -r WIN X Y W H <<EOF2
$(d0 "$P" find "[work] hello")
EOF2
read -r WINB XB YB WB HB <<EOF2
$(d0 "$P" find "[personal] other")
EOF2

# ---- a hostile qube ------------------------------------------------------------
as_domain 7 env DISPLAY=:$D0 "$BH_TESTBIN/gui-hostile" hostile cc0000 \
    >"$ROOT/hostile.out" 2>&1
while read -r res rest; do
    case $res in
        ok) pass "${rest#- }" ;;
        FAIL) fail "${rest#- }" ;;
    esac
done <"$ROOT/hostile.out"
check "gui-daemon survived the hostile qube" kill -0 "$DAEMON"
check "work's window unaffected (frame blue, content green)" sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((X + 1)) $((Y + 60)))\" = 3465a4 ] && [ \"\$(DISPLAY=:$D0 $P pixel $((X + 150)) $((Y + 100)))\" = 00ff00 ]"
check "personal's window unaffected" [ "$(d0 "$P" pixel $((XB + 100)) $((YB + 70)))" = ff00ff ]

# A flood from the hostile qube while the user works in another.
as_domain 7 env DISPLAY=:$D0 "$BH_TESTBIN/gui-hostile" hostile cc0000 \
    flood 60000 >"$ROOT/flood.out" 2>&1 &
FLOOD=$!
track_pid $FLOOD
sleep 0.3
d0 "$P" click $((X + 30)) $((Y + 30))
check "during a flood, another qube still gets its input" wait_for 3 grep -q "^button 1 26 10" "$ROOT/a.log"
wait $FLOOD
check "the flooding qube was throttled, not dropped" grep -q "^ok" "$ROOT/flood.out"
check "the daemon logged the throttle" grep -q "messages/s, reading paused" "$ROOT/daemon.log"

as_domain 7 env DISPLAY=:$D0 "$BH_TESTBIN/gui-hostile" hostile cc0000 \
    paint-flood 800 >"$ROOT/pflood.out" 2>&1
check "a qube painting over its budget is paused, then served" grep -q "^ok" "$ROOT/pflood.out"
check "the daemon logged the paint budget" grep -q "screens painted/s, reading paused" "$ROOT/daemon.log"
check "work's window still intact after the paint flood" sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((X + 1)) $((Y + 60)))\" = 3465a4 ]"

# ---- close from either side ---------------------------------------------------
d0 "$P" close "$WINB"
check "closing on dom0 closes the guest client" wait_for 3 grep -q "^close" "$ROOT/b.log"
check "...and its host window goes" wait_for 3 sh -c "! DISPLAY=:$D0 $P find '[personal] other' >/dev/null"
kill "$TCA"
check "a guest window closed in the qube disappears on dom0" wait_for 3 sh -c "! DISPLAY=:$D0 $P find '[work] hello' >/dev/null"

# ---- xterm: typing a command into a qube's terminal -----------------------------
if command -v xterm >/dev/null; then
    mkdir -p "$ROOT/home"
    (cd "$ROOT/home" && DISPLAY=:$GA exec xterm -geometry 60x10+50+50 -T term -e sh 2>"$ROOT/xterm.log") &
    track_pid $!
    if wait_for 5 d0 "$P" find "[work] term"; then
        read -r WT XT YT WWT HT <<EOF2
$(d0 "$P" find "[work] term")
EOF2
        sleep 0.5
        d0 "$P" click $((XT + 40)) $((YT + 40))
        d0 "$P" type "echo hi >typed
"
        check "typing 'echo hi >typed' into xterm's host window runs it in the qube" wait_for 3 grep -qx hi "$ROOT/home/typed"
    else
        fail "xterm's window appears as [work] term"
    fi
fi

# ---- the ask dialog --------------------------------------------------------------
d0 "$BH_BIN/bulkhead-ask-gui" --source work --service qubes.Filecopy \
    --target personal --target vault --default vault >"$ROOT/ask.out" &
ASK=$!
track_pid $ASK
check "the ask dialog appears" wait_for 3 d0 "$P" find "bulkhead: ask"
read -r AW AX AY AWW AH <<EOF2
$(d0 "$P" find "bulkhead: ask")
EOF2
d0 "$P" type "
"
d0 "$P" click $((AX + AWW - 65)) $((AY + AH - 26))
sleep 0.2
check "an immediate Enter and click do not approve" kill -0 $ASK
sleep 1
d0 "$P" click $((AX + AWW - 65)) $((AY + AH - 26))
wait $ASK
check "a click on Allow after the delay approves the default target" [ "$(cat "$ROOT/ask.out")" = "allow vault" ]
d0 "$BH_BIN/bulkhead-ask-gui" --source work --service qubes.Filecopy \
    --target personal >"$ROOT/ask2.out" &
ASK=$!
track_pid $ASK
wait_for 3 d0 "$P" find "bulkhead: ask"
sleep 1.1
read -r AW AX AY AWW AH <<EOF2
$(d0 "$P" find "bulkhead: ask")
EOF2
d0 "$P" close "$AW"
wait $ASK
check "closing the dialog denies" [ "$(cat "$ROOT/ask2.out")" = deny ]
d0 "$BH_BIN/bulkhead-ask-gui" --source work --service qubes.Filecopy \
    --target personal --timeout 1 >"$ROOT/ask3.out"
check "no answer before the timeout denies" [ "$(cat "$ROOT/ask3.out")" = deny ]
check_fails "bad target names are refused (usage)" d0 "$BH_BIN/bulkhead-ask-gui" \
    --source work --service s --target 'x y' 2>/dev/null

check "gui-daemon still running at the end" kill -0 "$DAEMON"
finish
