#!/bin/sh
# Seamless GUI inside real qubes (issue 9): a qube_system with gui-daemon on
# a test-made Xvfb (the dom0 display), qubes of a Debian template with X
# (the cached tree of scripts/debian-test-tree), whose agents start Xvfb and
# bulkhead-gui-agent themselves.  An xterm in a qube appears framed in the
# label colour as `[qube] ...`, typing into it runs a command in the qube,
# resize and close from both sides, two qubes side by side, the qube cannot
# reach dom0's X server, windows vanish with their qube, Ctrl-Shift-C/V
# through clipboard-broker under policy (allow, deny), and the policy `ask`
# dialog through `bulkhead prompt --gui`.  Needs root, Xvfb and the tree.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root"; finish; exit
fi
command -v Xvfb >/dev/null || { echo "# no Xvfb: skipped"; finish; exit; }
TREE=$("$BH_TOP/scripts/debian-test-tree") || {
    echo "# no Debian test tree: skipped"; finish; exit; }
P=$BH_TESTBIN/gui-probe
[ -x "$BH_TESTBIN/guest/gui-probe" ] || { echo "# no static test tools: skipped"; finish; exit; }

tmproot
free_display() {
    _n=${1:-120}
    while [ -e /tmp/.X$_n-lock ] || [ -e /tmp/.X11-unix/X$_n ]; do
        _n=$((_n + 1))
    done
    echo $_n
}
D0=$(free_display 120)
Xvfb ":$D0" -screen 0 1280x800x24 -nolisten tcp >"$ROOT/xvfb.log" 2>&1 &
track_pid $!
wait_for 10 test -S "/tmp/.X11-unix/X$D0" || { fail "dom0 Xvfb"; finish; exit; }
d0() { DISPLAY=:$D0 "$@"; }

qube_system vm-manager storage-manager rpc-router policyd clipboard-broker \
    gui-daemon bulkhead-ask-gui
cat >"$ROOT/etc/bulkhead/gui-daemon.conf" <<EOF
display = :$D0
qubes = bus
clipboard = broker
EOF
cat >"$ROOT/etc/bulkhead/policy.d/10-test.policy" <<'POL'
qubes.ClipboardPaste  *  untrusted  work      deny
qubes.ClipboardPaste  *  @anyvm     @anyvm    allow
test.Ask              *  work       @anyvm    ask default_target=personal
POL
if qube_system_start; then
    pass "the system boots with gui-daemon on the test display"
else
    fail "the system boots with gui-daemon on the test display"
    grep -v deadline "$LOG" | tail -20; finish; exit
fi
check "gui-daemon is up (not idle)" grep -q "gui-daemon.*ready on :$D0" "$LOG"

bh template import deb "$TREE" >/dev/null
bh create work --template deb --label blue >/dev/null
bh create personal --template deb --label green >/dev/null
bh create untrusted --template deb --label red >/dev/null
for q in work personal untrusted; do bh start "$q" >/dev/null; done
qube_system_note_cgroup

# wait_secs SECONDS COMMAND...: like wait_for, by the clock (for commands
# that themselves take a while, such as `bulkhead run`).
wait_secs() {
    _end=$(( $(date +%s) + $1 ))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$_end" ] || return 1
        sleep 0.2
    done
}

# run_x QUBE CMD...: an X client in the qube, detached from `bulkhead run`.
run_x() {
    _q=$1; shift
    bh run "$_q" -- sh -c "DISPLAY=:0 setsid $* </dev/null >/dev/null 2>&1 &"
}
qx() { _q=$1; shift; bh run "$_q" -- sh -c "DISPLAY=:0 $*"; }

check "the agent started the qube's own X server" wait_secs 15 qx work "xdpyinfo >/dev/null"
check "the qube's /tmp/.X11-unix is its own (no dom0 socket X$D0)" \
    bh run work -- sh -c "[ -S /tmp/.X11-unix/X0 ] && [ ! -e /tmp/.X11-unix/X$D0 ]"
check_fails "the qube cannot reach dom0's X server (:$D0)" \
    bh run work -- sh -c "DISPLAY=:$D0 xdpyinfo >/dev/null 2>&1"
check_fails "nor over TCP (own network namespace)" \
    bh run work -- sh -c "DISPLAY=127.0.0.1:$D0 xdpyinfo >/dev/null 2>&1"

# A qube with feature gui = 0 gets neither X nor a GUI channel.
bh create quiet --template deb --label gray >/dev/null
bh features quiet gui 0 >/dev/null
bh start quiet >/dev/null
sleep 1
check_fails "feature gui = 0: no X server in the qube" qx quiet "xdpyinfo >/dev/null 2>&1"
check "...and no GUI channel offered" grep -q "quiet: feature gui = 0: no GUI channel" "$LOG"
bh kill quiet >/dev/null 2>&1

# ---- an xterm in work -------------------------------------------------------
run_x work xterm -geometry 60x10+40+60 -T term -e sh
check "[work] term appears on the dom0 display" wait_for 15 d0 "$P" find "[work] term"
# frame_is TITLE RRGGBB: the window's left edge, title bar and bottom edge
# are that colour (read again each time: xterm may still resize itself).
px() { d0 "$P" pixel "$1" "$2"; }
frame_is() {
    read -r _w _x _y _ww _hh <<EOF3
$(d0 "$P" find "$1")
EOF3
    [ -n "$_hh" ] || return 1
    FRAME="$(px $((_x + 1)) $((_y + 60))) $(px $((_x + _ww - 3)) $((_y + 3))) $(px $((_x + 50)) $((_y + _hh - 2)))"
    [ "$FRAME" = "$2 $2 $2" ]
}
FRAME=
check "frame pixels (left edge, title bar, bottom edge) are work's blue" \
    wait_for 10 frame_is "[work] term" 3465a4
[ "$FRAME" = "3465a4 3465a4 3465a4" ] || echo "# frame pixels: $FRAME"
read -r WIN X Y W H <<EOF2
$(d0 "$P" find "[work] term")
EOF2
check "exactly one host window for it" [ "$(d0 "$P" count "[work] term")" = 1 ]
check "WM_NAME is '[work] term'" [ "$(d0 "$P" prop "$WIN" WM_NAME)" = "[work] term" ]
sleep 1
# focus WIN X Y: click, then wait until gui-daemon has given WIN the X
# focus (keys sent before that would go to the previously focused qube).
focus_is() { [ "$(d0 "$P" focus)" = "$1" ]; }
# A click that lands while the machine is loaded can be lost (the daemon
# had not mapped or raised the window yet): click again, up to 3 times.
focus() {
    for _t in 1 2 3; do
        d0 "$P" click "$2" "$3"
        wait_for 5 focus_is "$1" && return 0
    done
    echo "# focus: $1 never got the focus by a click at $2,$3 (now: $(d0 "$P" focus)); windows:"
    d0 "$P" list | sed 's/^/#   /'
    return 1
}
focus "$WIN" $((X + 40)) $((Y + 40))
d0 "$P" type "echo hi > ~/typed
"
check "'echo hi > ~/typed' typed into the host window ran in work" \
    wait_secs 15 sh -c "$BH_BIN/bulkhead --root $ROOT run work -- cat /home/user/typed | grep -qx hi"

# ---- resize and close from both sides ----------------------------------------
# The qube gets static copies of the X test tools (the template has libxcb
# only), passed in through `bulkhead run`.
for q in work personal untrusted; do
    for t in gui-probe gui-testclient; do
        bh run --pass-io "$q" -- sh -c "cat >/tmp/$t && chmod 755 /tmp/$t" \
            <"$BH_TESTBIN/guest/$t"
    done
done
# gsize_is QUBE TITLE WxH; gone QUBE TITLE; clip_is QUBE TEXT; no_host TITLE
gsize_is() { [ "$(qx "$1" "/tmp/gui-probe find $2" | awk '{print $4 "x" $5}')" = "$3" ]; }
gone() { ! qx "$1" "/tmp/gui-probe find $2" >/dev/null 2>&1; }
clip_is() { [ "$(bh run "$1" -- cat /tmp/.bulkhead-clipboard-1000 2>/dev/null)" = "$2" ]; }
no_host() { ! d0 "$P" find "$1" >/dev/null 2>&1; }
has_host() { d0 "$P" find "$1" >/dev/null 2>&1; }
held_from() { bh clipboard show | grep -q "from $1"; }
xclip_is() { [ "$(qx "$1" "/tmp/gui-probe clip-get")" = "$2" ]; }
d0 "$P" configure "$WIN" 60 80 508 324
check "a resize on dom0 reaches the qube's xterm (500x300)" \
    wait_secs 15 gsize_is work term 500x300
GWIN=$(qx work "/tmp/gui-probe find term" | cut -d' ' -f1)
qx work "/tmp/gui-probe configure $GWIN 100 120 400 200"
check "a resize in the qube reaches dom0 (400x200 + frame)" \
    wait_for 10 sh -c "DISPLAY=:$D0 $P find '[work] term' | grep -q ' 408 224\$'"
d0 "$P" close "$WIN"
check "closing on dom0 ends the xterm in the qube" wait_secs 15 gone work term
check "...and its host window goes" wait_for 10 no_host "[work] term"
run_x work xterm -geometry 40x8+40+60 -T term2 -e sh
check "a second xterm appears" wait_for 15 d0 "$P" find "[work] term2"
GWIN=$(qx work "/tmp/gui-probe find term2" | cut -d' ' -f1)
qx work "/tmp/gui-probe close $GWIN"
check "closed inside the qube, it disappears on dom0" \
    wait_for 10 no_host "[work] term2"

# ---- two qubes side by side, and Ctrl-Shift-C / V through clipboard-broker --
run_x work /tmp/gui-testclient --title cw --color 00ff00 --geometry 300x200+20+40 \
    --own-clipboard "\"secret from work\""
run_x personal /tmp/gui-testclient --title cp --color ff00ff --geometry 300x200+500+40
run_x untrusted /tmp/gui-testclient --title cu --color ffff00 --geometry 300x200+20+400 \
    --own-clipboard "\"click this link\""
check "work's window appears" wait_for 15 d0 "$P" find "[work] cw"
check "personal's window appears" wait_for 15 d0 "$P" find "[personal] cp"
check "untrusted's window appears" wait_for 15 d0 "$P" find "[untrusted] cu"
read -r WA XA YA WWA HA <<EOF2
$(d0 "$P" find "[work] cw")
EOF2
read -r WB XB YB WWB HB <<EOF2
$(d0 "$P" find "[personal] cp")
EOF2
read -r WU XU YU WWU HU <<EOF2
$(d0 "$P" find "[untrusted] cu")
EOF2
check "side by side: work's left of personal's" [ $((XA + WWA)) -le "$XB" ]
check "work's frame is blue" [ "$(d0 "$P" pixel $((XA + 1)) $((YA + 50)))" = 3465a4 ]
check "personal's frame is green" [ "$(d0 "$P" pixel $((XB + 1)) $((YB + 50)))" = 73d216 ]
check "untrusted's frame is red" [ "$(d0 "$P" pixel $((XU + 1)) $((YU + 50)))" = cc0000 ]
check "work's content is its green" wait_for 10 sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((XA + 150)) $((YA + 100)))\" = 00ff00 ]"
check "personal's content is its magenta" wait_for 10 sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((XB + 150)) $((YB + 100)))\" = ff00ff ]"
run_x personal xterm -geometry 60x12+500+400 -T notes -e sh
check "an xterm of personal beside them" wait_for 15 d0 "$P" find "[personal] notes"
# xterm maps at 0,0 and moves itself to +500+400: the move must follow, or
# the window would cover work's and take the clicks below.
at_is() { d0 "$P" find "$1" | awk '{print $2 "," $3}' | grep -qx "$2"; }
check "...at the place its qube gave it (frame at 496,380)" \
    wait_for 10 at_is "[personal] notes" 496,380
sleep 1
d0 "$P" shot "$ROOT/screen.ppm"
clipfile() { bh run "$1" -- cat /tmp/.bulkhead-clipboard-1000 2>/dev/null; }
focus "$WA" $((XA + 40)) $((YA + 40))
d0 "$P" ctrl-shift c
check "Ctrl-Shift-C in work: clipboard-broker holds work's text" \
    wait_secs 15 held_from work
focus "$WB" $((XB + 40)) $((YB + 40))
d0 "$P" ctrl-shift v
check "Ctrl-Shift-V in personal (policy allow): the text arrives" \
    wait_secs 15 clip_is personal "secret from work"
check "policyd allowed work -> personal" grep -q "ClipboardPaste+ from work to personal: allow" "$LOG"
check "...and becomes personal's X CLIPBOARD" \
    wait_secs 15 xclip_is personal "secret from work"
focus "$WU" $((XU + 40)) $((YU + 40))
d0 "$P" ctrl-shift c
check "Ctrl-Shift-C in untrusted: the broker holds its text" \
    wait_secs 15 held_from untrusted
focus "$WA" $((XA + 40)) $((YA + 40))
d0 "$P" ctrl-shift v
check "Ctrl-Shift-V in work: policyd denies untrusted -> work" \
    wait_for 15 grep -q "ClipboardPaste+ from untrusted to work: deny" "$LOG"
check_fails "...nothing arrives in work" \
    clip_is work "click this link"
check "...the broker still holds untrusted's text (not pasted)" held_from untrusted

# ---- the policy ask dialog: `bulkhead prompt --gui` ----------------------------
bh run -u root personal -- sh -c 'printf "#!/bin/sh\necho \"asked-ok from \$QREXEC_REMOTE_DOMAIN\"\n" \
    >/etc/bulkhead/rpc/test.Ask && chmod 755 /etc/bulkhead/rpc/test.Ask'
bh prompt --gui --once --display ":$D0" >"$ROOT/prompt.out" 2>&1 &
PP=$!
track_pid $PP
sleep 0.5
bh run work -- bulkhead-call personal test.Ask </dev/null >"$ROOT/call.out" 2>&1 &
CALL=$!
track_pid $CALL
check "the ask dialog appears on the dom0 display" wait_for 10 d0 "$P" find "bulkhead: ask"
read -r AW AX AY AWW AH <<EOF2
$(d0 "$P" find "bulkhead: ask")
EOF2
d0 "$P" type "
"
d0 "$P" click $((AX + AWW - 65)) $((AY + AH - 26))
sleep 0.3
check "an immediate Enter and click do not approve" has_host "bulkhead: ask"
sleep 1
d0 "$P" click $((AX + AWW - 65)) $((AY + AH - 26))
wait $CALL
check "a click on Allow after the delay approves: the call ran in personal" \
    grep -q "asked-ok from work" "$ROOT/call.out"
wait $PP
check "the prompt agent says allowed" grep -q "allowed" "$ROOT/prompt.out"
# Closing the dialog denies: the call is refused.
bh prompt --gui --once --display ":$D0" >"$ROOT/prompt2.out" 2>&1 &
PP=$!
track_pid $PP
sleep 0.5
bh run work -- bulkhead-call personal test.Ask </dev/null >"$ROOT/call2.out" 2>&1 &
CALL=$!
track_pid $CALL
wait_for 10 has_host "bulkhead: ask"
sleep 1.1
read -r AW AX AY AWW AH <<EOF2
$(d0 "$P" find "bulkhead: ask")
EOF2
d0 "$P" close "$AW"
wait $CALL
check_fails "closing the dialog denies: the call did not run" grep -q "asked-ok" "$ROOT/call2.out"
check "...refused: denied by the user" grep -q "denied by the user" "$ROOT/call2.out"
wait $PP

# ---- gui-daemon restarts: it lists the running qubes again, agents re-send ---
bh service restart gui-daemon >/dev/null
check "after a gui-daemon restart, work's window is back" wait_for 15 has_host "[work] cw"
check "...and untrusted's, still red" wait_for 10 sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((XU + 1)) $((YU + 50)))\" = cc0000 ]"

# ---- a label changed while the qube runs recolours its windows now ---------
upx() { [ "$(d0 "$P" pixel $((XU + 1)) $((YU + 50))) $(d0 "$P" pixel $((XU + 60)) $((YU + 3)))" = "$1 $1" ]; }
bh prefs untrusted label orange >/dev/null
check "label orange on running untrusted: frame and title bar turn orange" \
    wait_for 10 upx f57900
check "...its content is repainted (still its yellow)" \
    wait_for 10 sh -c "[ \"\$(DISPLAY=:$D0 $P pixel $((XU + 150)) $((YU + 100)))\" = ffff00 ]"
check "...work's frame stays blue" [ "$(d0 "$P" pixel $((XA + 1)) $((YA + 50)))" = 3465a4 ]
bh prefs untrusted label red >/dev/null
check "back to red" wait_for 10 upx cc0000

# ---- windows vanish with their qube ----------------------------------------------
bh kill personal >/dev/null 2>&1 || bh shutdown personal >/dev/null 2>&1
check "personal stopped: its window is gone" wait_for 10 no_host "[personal] cp"
check "work's window stays" has_host "[work] cw"
bh start personal >/dev/null
wait_secs 15 qx personal "xdpyinfo >/dev/null"
run_x personal xterm -geometry 30x5+500+40 -T back -e sh
check "personal started again: a new window of it appears" wait_for 15 d0 "$P" find "[personal] back"
check "gui-daemon still up" sh -c "$BH_BIN/bulkhead --root $ROOT service list | grep -q '^gui-daemon .* up '"

# The screenshot for the notes: PNG next to the PPM (python3's zlib).
python3 - "$ROOT/screen.ppm" "${GUI_SHOT:-$ROOT/screen.png}" <<'PY' && pass "screenshot saved (${GUI_SHOT:-$ROOT/screen.png})"
import sys, zlib, struct
d = open(sys.argv[1], 'rb').read()
parts = d.split(b'\n', 3)
w, h = map(int, parts[1].split()); px = parts[3]
raw = b''.join(b'\0' + px[y*w*3:(y+1)*w*3] for y in range(h))
def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
open(sys.argv[2], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))
PY

finish
