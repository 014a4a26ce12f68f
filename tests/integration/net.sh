#!/bin/sh
# Integration suite of net-manager with the whole qube stack, inside
# namespaces this suite makes (never the host's network): a fake internet
# (a network namespace held by a sleeping process, with a TCP server), and
# the tree internet <- sys-net <- sys-firewall <- work, personal; vault
# offline.  Firewall rules, expiry, isolation between qubes, live
# re-wiring, and kill -9 of net-manager.  Needs root.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root"
    echo "0 passed, 0 failed"
    exit 0
fi

tmproot
qube_system vm-manager storage-manager rpc-router net-manager

# --- the fake internet: a namespace with a TCP server on 192.0.2.1 ------
unshare -n sleep 100000 &
INET=$!
track_pid "$INET"
INETNS=/proc/$INET/ns/net
# Until unshare has run, the child is still in the host's namespace:
# anything entered through $INETNS before that would touch the host.
new_netns() { [ "$(readlink "$INETNS")" != "$(readlink /proc/self/ns/net)" ]; }
wait_for 5 new_netns || { echo "the test namespace never appeared"; exit 1; }
cat > "$ROOT/server.py" <<'PY'
# The fake internet (or, with "tor", a fake Tor gateway): TCP servers that
# say who they are, a DNS responder answering every A query with one
# address, and a UDP sink that records what reaches it.
import socket, struct, sys, threading
mode = sys.argv[1]; sink = sys.argv[2]
def tcp(port, text):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, a = s.accept()
        c.sendall((text % (port, a[0]) + "\n").encode()); c.close()
def dns(port, answer):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    while True:
        q, a = s.recvfrom(512)
        if len(q) < 12: continue
        end = 12
        while end < len(q) and q[end]: end += 1 + q[end]
        question = q[12:end + 5]
        qtype = struct.unpack(">H", q[end + 1:end + 3])[0] if end + 3 <= len(q) else 0
        if qtype == 1:
            rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + socket.inet_aton(answer)
            s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + rr, a)
        else:
            s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00" + question, a)
def udp_sink(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    while True:
        d, a = s.recvfrom(2048)
        open(sink, "a").write("udp from %s\n" % a[0])
if mode == "internet":
    jobs = [(tcp, 8080, "hello-%d from %s"), (tcp, 8081, "hello-%d from %s"),
            (dns, 53, "203.0.113.9"), (udp_sink, 5000)]
else:
    jobs = [(tcp, 9040, "via-tor-%d from %s"), (dns, 5353, "198.51.100.7")]
for j in jobs:
    threading.Thread(target=j[0], args=j[1:], daemon=True).start()
threading.Event().wait()
PY
nsenter --net="$INETNS" python3 "$ROOT/server.py" internet "$ROOT/udp-sink" &
track_pid $!

check "the system boots with net-manager" qube_system_start
BHC="$BH_BIN/bulkhead --root $ROOT"

state() { bh ls --format json | tr '{' '\n' | grep "\"name\":\"$1\"" |
          sed 's/.*"state":"\([A-Za-z]*\)".*/\1/'; }
init_pid() { bh ls --format json | tr '{' '\n' | grep "\"name\":\"$1\"" |
             sed 's/.*"pid":\([0-9]*\).*/\1/'; }
qid() { bh ls --format json | tr '{' '\n' | grep "\"name\":\"$1\"" |
        sed 's/.*"qid":\([0-9]*\).*/\1/'; }
# fetch QUBE PORT: what the fake internet's server answers the qube.
fetch() { bh run "$1" -- nc -w 2 192.0.2.1 "$2" </dev/null 2>/dev/null; }
reaches() { fetch "$1" "$2" | grep -q "^hello-$2 "; }
blocked() { ! reaches "$1" "$2"; }
in_ns() { q=$1; shift; nsenter --net="/proc/$(init_pid "$q")/ns/net" "$@"; }

bh template install minimal >/dev/null
bh create sys-net --label red --template minimal \
    --prop provides_network=true --prop netvm=none >/dev/null
check_fails "a malformed uplink is refused" bh prefs sys-net uplink "netns:$INETNS ip=300.1.1.1/24"
check "prefs sys-net uplink: a veth into the fake internet" \
    bh prefs sys-net uplink "netns:$INETNS ip=192.0.2.2/24 gw=192.0.2.1"
bh create sys-firewall --label green --template minimal \
    --prop provides_network=true --prop netvm=sys-net >/dev/null
bh create work --label blue --template minimal --prop netvm=sys-firewall >/dev/null
bh create personal --label yellow --template minimal \
    --prop netvm=sys-firewall >/dev/null
bh create vault --label black --template minimal --prop netvm=none >/dev/null
for q in sys-net sys-firewall work personal vault; do bh start "$q" >/dev/null; done
qube_system_note_cgroup

# --- the tree carries traffic --------------------------------------------
check "work reaches the fake internet through sys-firewall and sys-net" \
    wait_for 15 reaches work 8080
out=$(fetch work 8080)
check "NAT: the internet sees sys-net's uplink address ($out)" \
    [ "$out" = "hello-8080 from 192.0.2.2" ]
WQ=$(qid work)
FQ=$(qid sys-firewall)
check "prefs work ip is 10.137.0.$WQ" [ "$(bh prefs work ip)" = "10.137.0.$WQ" ]
check "prefs work gateway is sys-firewall's ip" \
    [ "$(bh prefs work gateway)" = "10.137.0.$FQ" ]
check "a qube without netvm has no ip" [ -z "$(bh prefs vault ip)" ]
check "work's eth0 has 10.137.0.$WQ" \
    sh -c "$BHC run work -- ip -4 addr show eth0 | grep -q 'inet 10.137.0.$WQ/32'"
check "vault has no interface but lo" \
    sh -c "[ \"\$($BHC run vault -- ls /sys/class/net)\" = lo ]"
check_fails "vault reaches nothing" reaches vault 8080
check "the uplink end in the internet namespace is configured" \
    sh -c "nsenter --net=$INETNS ip -4 addr show bh-uplink | grep -q 192.0.2.1/24"

# --- firewall ------------------------------------------------------------
check "firewall list --raw: a new qube has a single accept" \
    [ "$(bh firewall work list --raw)" = "action=accept" ]
check "add a drop rule for port 8081 before it" \
    bh firewall work add --before 0 drop 192.0.2.1 tcp 8081
check "list --raw shows the normalised rule" \
    [ "$(bh firewall work list --raw | head -1)" = \
      "action=drop proto=tcp dst4=192.0.2.1/32 dstports=8081-8081" ]
check "the dropped port is stopped" blocked work 8081
check "other ports still pass" reaches work 8080
check "personal (no such rule) still reaches 8081" reaches personal 8081
check_fails "an invalid rule is refused" \
    bh firewall work add action=accept proto=icmp dstports=80
check "and the stored rules stay as they were" \
    [ "$(bh firewall work list --raw | wc -l)" = 2 ]
check "del 0 removes it" bh firewall work del 0
check "port 8081 passes again" reaches work 8081
check "an expiring drop rule" \
    bh firewall work add --before 0 drop proto=tcp dstports=8080 expire=+3
check "is in force" blocked work 8080
sleep 3.5
check "and stops working after it expires" wait_for 5 reaches work 8080

# --- the qube cannot undo its firewall -----------------------------------
bh firewall work add --before 0 drop 192.0.2.1 tcp 8081 >/dev/null
in_ns work nft flush ruleset 2>/dev/null
in_ns work ip route flush table main 2>/dev/null
in_ns work ip link set eth0 down 2>/dev/null
in_ns work ip link set eth0 up 2>/dev/null
in_ns work ip route add 10.137.0.0/24 dev eth0 2>/dev/null
check "with its own nftables flushed and routes rewritten, work still cannot pass" \
    sh -c "! $BHC run -u root work -- sh -c 'ip route add default dev eth0 2>/dev/null; nc -w 2 192.0.2.1 8081 </dev/null' | grep -q hello"
bh firewall work reset >/dev/null

# --- isolation between qubes ---------------------------------------------
PQ=$(qid personal)
bh run personal -- sh -c 'nohup nc -lk -p 9000 -e echo secret >/dev/null 2>&1 &' >/dev/null 2>&1
check_fails "work cannot reach personal's address" \
    sh -c "$BHC run work -- nc -w 2 10.137.0.$PQ 9000 </dev/null | grep -q secret"

# --- live re-wiring, netvm none, loops, netvm shutdown --------------------
bh create vpn-a --label purple --template minimal \
    --prop provides_network=true --prop netvm=sys-firewall >/dev/null
bh start vpn-a >/dev/null
VQ=$(qid vpn-a)
check "prefs work netvm vpn-a while work runs" bh prefs work netvm vpn-a
check "work is re-wired below vpn-a" wait_for 10 in_ns vpn-a ip link show "vif$WQ"
check "and no longer below sys-firewall" \
    wait_for 10 sh -c "! nsenter --net=/proc/$(init_pid sys-firewall)/ns/net ip link show vif$WQ"
check "work still reaches the internet, through vpn-a" wait_for 10 reaches work 8080
check "its gateway is now vpn-a's address" \
    [ "$(bh prefs work gateway)" = "10.137.0.$VQ" ]
check_fails "a netvm loop is refused" bh prefs sys-firewall netvm vpn-a
check_fails "a netvm in use cannot be shut down" bh shutdown vpn-a
check "prefs work netvm none" bh prefs work netvm none
check "work is left with lo only" wait_for 10 sh -c \
    "[ \"\$($BHC run work -- ls /sys/class/net)\" = lo ]"
check_fails "and reaches nothing" reaches work 8080
check "back below sys-firewall" bh prefs work netvm sys-firewall
check "and online again" wait_for 10 reaches work 8080
bh prefs personal netvm vpn-a >/dev/null
check "with --force a netvm in use shuts down" bh shutdown --force --wait vpn-a
check_fails "and its clients lose network, visibly" reaches personal 8080
bh prefs personal netvm sys-firewall >/dev/null
check "until they are wired elsewhere" wait_for 10 reaches personal 8080

# --- virtual DNS, VPN chaining, Tor gateway ------------------------------
resolves() { bh run "$1" -- nslookup name.test 10.139.1.1 2>/dev/null | grep -q "$2"; }
udp_leaks() { rm -f "$ROOT/udp-sink"
              bh run "$1" -- tftp -g -r x -l /tmp/x 192.0.2.1 5000 >/dev/null 2>&1
              sleep 0.3; [ -s "$ROOT/udp-sink" ]; }
check "virtual DNS 10.139.1.1 reaches sys-net's uplink resolver" \
    wait_for 10 resolves work 203.0.113.9
check "plain UDP passes a plain netvm (control)" udp_leaks work

bh create vpn-b --label purple --template minimal \
    --prop provides_network=true --prop netvm=sys-firewall >/dev/null
bh start vpn-a >/dev/null
bh start vpn-b >/dev/null
# Each VPN qube may only reach its own endpoint (enforced in sys-firewall).
bh firewall vpn-a reset >/dev/null; bh firewall vpn-a del 0 >/dev/null
bh firewall vpn-a add accept 192.0.2.1 tcp 8081 >/dev/null
bh firewall vpn-b reset >/dev/null; bh firewall vpn-b del 0 >/dev/null
bh firewall vpn-b add accept 192.0.2.1 tcp 8080 >/dev/null
bh prefs work netvm vpn-a >/dev/null
bh prefs personal netvm vpn-b >/dev/null
check "work -> vpn-a -> sys-firewall -> sys-net reaches vpn-a's endpoint" \
    wait_for 10 reaches work 8081
check "and nothing else: no leak around vpn-a" blocked work 8080
check "personal behind vpn-b reaches vpn-b's endpoint" wait_for 10 reaches personal 8080
check "and not vpn-a's" blocked personal 8081
bh prefs work netvm sys-firewall >/dev/null
bh prefs personal netvm sys-firewall >/dev/null
bh shutdown --wait vpn-a >/dev/null; bh shutdown --wait vpn-b >/dev/null

bh create tor --label purple --template minimal \
    --prop provides_network=true --prop netvm=sys-firewall >/dev/null
bh features tor tor-gateway 1 >/dev/null
bh start tor >/dev/null
nsenter --net="/proc/$(init_pid tor)/ns/net" python3 "$ROOT/server.py" tor "$ROOT/udp-sink" &
track_pid $!
bh prefs work netvm tor >/dev/null
out=""
wait_for 10 sh -c "$BHC run work -- nc -w 2 192.0.2.1 8080 </dev/null | grep -q via-tor"
out=$(fetch work 8080)
check "behind the Tor gateway, TCP goes to its transparent port ($out)" \
    sh -c "echo '$out' | grep -q '^via-tor-9040 from 10.137.0.$WQ'"
check "DNS goes to the gateway's DNS port" resolves work 198.51.100.7
check_fails "other UDP goes nowhere" udp_leaks work
check "a qube not behind it is unaffected" reaches personal 8080
bh prefs work netvm sys-firewall >/dev/null
check "work leaves the gateway" wait_for 10 reaches work 8080

# --- sys-firewall restarted while its qubes run --------------------------
bh shutdown --force --wait sys-firewall >/dev/null
check_fails "with sys-firewall down, work is offline" reaches work 8080
check "sys-firewall starts again" bh start sys-firewall
check "and work is wired below the new sys-firewall, online again" \
    wait_for 15 reaches work 8080

# --- kill -9 net-manager: traffic keeps flowing, state is adopted --------
nm=$(bh service list | awk '$1 == "net-manager" {print $3}')
kill -9 "$nm"
check "traffic flows while net-manager is down" reaches work 8080
check "net-manager comes back" wait_for 20 sh -c \
    "$BHC service list | awk '\$1 == \"net-manager\" && \$2 == \"up\" && \$3 != $nm' | grep -q ."
sleep 1
check "and after it: still flowing" reaches work 8080
jumps=$(in_ns sys-firewall nft list map inet bulkhead vifs 2>/dev/null |
        grep -o "\"vif$WQ\"" | wc -l)
check "the adopted tree has one jump for work, not two ($jumps)" [ "$jumps" = 1 ]
chains=$(in_ns sys-firewall nft list table inet bulkhead 2>/dev/null |
         grep -c "chain qube-$WQ {")
check "and one firewall chain for it ($chains)" [ "$chains" = 1 ]

finish
