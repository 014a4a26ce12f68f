#!/bin/sh
# Integration suite of template updates (issue 11, guest/updates/): a real
# Debian template (the cached tree of scripts/debian-test-tree, imported)
# updated from a local package repository served by busybox httpd inside a
# test-made "internet" namespace, which only sys-net reaches (net-manager's
# netns uplink).  The template reaches it only through its updates proxy
# port -> qubes.UpdatesProxy -> bulkhead-updates-proxy in sys-net.
# `update --check` reports the update, `update` installs it, an AppVM sees
# it after a restart and `ls` marks it outdated before; the template has
# no direct way out; the proxy refuses what it must; a failing upgrade
# leaves the old root.  Needs root.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root"
    echo "0 passed, 0 failed"
    exit 0
fi
for t in dpkg-deb sha256sum busybox; do
    command -v $t >/dev/null || { echo "# skipped: no $t"; echo "0 passed, 0 failed"; exit 0; }
done
TREE=$("$(dirname "$0")/../../scripts/debian-test-tree") || {
    echo "# skipped: no Debian test tree"; echo "0 passed, 0 failed"; exit 0; }

tmproot
qube_system vm-manager storage-manager rpc-router policyd net-manager \
    update-check
# The periodic check stays off until its own part at the end.
echo "update_check_interval_s = 0" >>"$ROOT/etc/bulkhead/bulkhead.conf"

# --- the package repository: bh-hello 1.0, 2.0, and 3.0 whose postinst fails
mkdeb() { # mkdeb VERSION [failing]
    d=$ROOT/pkg/bh-hello-$1
    mkdir -p "$d/DEBIAN" "$d/usr/share/bh-hello"
    printf 'Package: bh-hello\nVersion: %s\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: bulkhead update test\n' \
        "$1" >"$d/DEBIAN/control"
    echo "$1" >"$d/usr/share/bh-hello/version"
    if [ -n "${2:-}" ]; then
        printf '#!/bin/sh\necho "bh-hello postinst fails on purpose" >&2\nexit 1\n' >"$d/DEBIAN/postinst"
        chmod 755 "$d/DEBIAN/postinst"
    fi
    dpkg-deb --root-owner-group -b "$d" "$ROOT/pkg/bh-hello_$1_all.deb" >/dev/null
}
# publish VERSION: the repository offers that version only (a flat
# repository: Packages and an unsigned Release; the template trusts it).
publish() {
    r=$ROOT/www/repo
    mkdir -p "$r"
    rm -f "$r"/*.deb
    cp "$ROOT/pkg/bh-hello_$1_all.deb" "$r/"
    f=bh-hello_$1_all.deb
    { dpkg-deb -f "$r/$f"
      echo "Filename: ./$f"
      echo "Size: $(stat -c %s "$r/$f")"
      echo "SHA256: $(sha256sum "$r/$f" | cut -d' ' -f1)"
      echo; } >"$r/Packages"
    { echo "Origin: bulkhead-test"; echo "Label: bulkhead-test"
      echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
      echo "SHA256:"
      echo " $(sha256sum "$r/Packages" | cut -d' ' -f1) $(stat -c %s "$r/Packages") Packages"
    } >"$r/Release"
}
mkdeb 1.0; mkdeb 2.0; mkdeb 3.0 failing
publish 1.0

# --- the fake internet: a namespace with busybox httpd on port 80 ----------
unshare -n sleep 100000 &
INET=$!
track_pid "$INET"
INETNS=/proc/$INET/ns/net
# Only once unshare has run is the namespace the sleeper's own: before
# that, nsenter would start the server in the host's namespace.
new_ns() { [ "$(readlink "$INETNS")" != "$(readlink /proc/self/ns/net)" ]; }
wait_for 10 new_ns || { echo "# no internet namespace"; exit 1; }
nsenter --net="$INETNS" busybox httpd -f -p 80 -h "$ROOT/www" &
track_pid $!
# A DNS responder: *.evil.example points into the qube network (a
# rebinding attempt), every other name at the repository.
cat >"$ROOT/dns.py" <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 53))
while True:
    q, a = s.recvfrom(512)
    if len(q) < 12: continue
    end, labels = 12, []
    while end < len(q) and q[end]:
        labels.append(q[end + 1:end + 1 + q[end]].decode("ascii", "replace")); end += 1 + q[end]
    question = q[12:end + 5]
    qtype = struct.unpack(">H", q[end + 1:end + 3])[0] if end + 3 <= len(q) else 0
    ip = "10.137.0.1" if ".".join(labels).endswith("evil.example") else "192.0.2.1"
    if qtype == 1:
        rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 5, 4) + socket.inet_aton(ip)
        s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + rr, a)
    else:
        s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00" + question, a)
PY
nsenter --net="$INETNS" python3 "$ROOT/dns.py" &
track_pid $!
# Plain HTTP on 443 too: enough to see a CONNECT tunnel carry bytes.
nsenter --net="$INETNS" busybox httpd -f -p 443 -h "$ROOT/www" &
track_pid $!

check "the system boots with net-manager" qube_system_start
BHC="$BH_BIN/bulkhead --root $ROOT"

bh template install minimal >/dev/null
bh create sys-net --label red --template minimal \
    --prop provides_network=true --prop netvm=none >/dev/null
bh prefs sys-net uplink "netns:$INETNS ip=192.0.2.2/24 gw=192.0.2.1" >/dev/null
bh start sys-net >/dev/null
qube_system_note_cgroup
check "sys-net reaches the repository" wait_for 15 sh -c \
    "$BHC run sys-net -- wget -q -O - http://192.0.2.1/repo/Release | grep -q bulkhead-test"

t0=$(date +%s)
check "the cached Debian tree imports as template 'debian'" \
    sh -c "$BHC template import debian '$TREE' >/dev/null"
echo "# import: $(( $(date +%s) - t0 )) s"
bh prefs debian netvm none >/dev/null
nv=$(bh prefs debian netvm)
check "debian has netvm none ('$nv')" [ -z "$nv" -o "$nv" = none ]
bh start debian >/dev/null
# The test repository only, and bh-hello 1.0 installed from its .deb.
bh run -u root debian -- sh -c '
    rm -f /etc/apt/sources.list.d/*
    echo "deb [trusted=yes] http://192.0.2.1/repo ./" >/etc/apt/sources.list' >/dev/null
bh run -p -u root debian -- sh -c 'cat >/tmp/h.deb && dpkg -i /tmp/h.deb >/dev/null && rm /tmp/h.deb' \
    <"$ROOT/pkg/bh-hello_1.0_all.deb"
check "bh-hello 1.0 is installed in the template" \
    [ "$(bh run debian -- cat /usr/share/bh-hello/version)" = 1.0 ]

# --- the template's way out is the proxy only ----------------------------
check "the agent wrote apt's proxy setting in the template" \
    bh run debian -- grep -q 127.0.0.1:8082 /etc/apt/apt.conf.d/01bulkhead-updates-proxy
check "the template has no interface but lo" \
    [ "$(bh run debian -- ls /sys/class/net)" = lo ]
check_fails "the template cannot reach the internet namespace directly" \
    bh run debian -- timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.1/80'
# proxy REQUEST: what the updates proxy port answers (first line).
proxy() {
    printf '%s\r\nUser-Agent: t\r\n\r\n' "$1" |
        bh run -p debian -- timeout 20 bash -c \
        'exec 3<>/dev/tcp/127.0.0.1/8082; cat >&3; head -1 <&3' | tr -d '\r'
}
out=$(proxy "GET http://192.0.2.1/repo/Release HTTP/1.1")
check "a GET through the proxy port reaches the repository ($out)" \
    [ "$out" = "HTTP/1.0 200 OK" -o "$out" = "HTTP/1.1 200 OK" ]
out=$(proxy "GET http://repo.example.org/repo/Release HTTP/1.1")
check "a host name is resolved by sys-net's DNS ($out)" \
    [ "$out" = "HTTP/1.0 200 OK" -o "$out" = "HTTP/1.1 200 OK" ]
out=$(proxy "GET http://rebind.evil.example/ HTTP/1.1")
check "a name resolving into the qube network is refused ($out)" \
    [ "$out" = "HTTP/1.1 403 Forbidden" ]
out=$(proxy "POST http://192.0.2.1/repo/Release HTTP/1.1")
check "the proxy refuses POST ($out)" [ "$out" = "HTTP/1.1 403 Forbidden" ]
out=$(proxy "CONNECT 192.0.2.1:80 HTTP/1.1")
check "the proxy refuses CONNECT to port 80 ($out)" \
    [ "$out" = "HTTP/1.1 403 Forbidden" ]
out=$(proxy "GET http://192.0.2.1:8080/repo/Release HTTP/1.1")
check "the proxy refuses another port ($out)" \
    [ "$out" = "HTTP/1.1 403 Forbidden" ]
out=$(printf 'CONNECT 192.0.2.1:443 HTTP/1.1\r\n\r\nGET /repo/Release HTTP/1.0\r\n\r\n' |
    bh run -p debian -- timeout 20 bash -c \
    'exec 3<>/dev/tcp/127.0.0.1/8082; cat >&3; cat <&3' | tr -d '\r')
check "CONNECT to port 443 is a tunnel (the bytes reach the server)" \
    sh -c "echo '$out' | head -1 | grep -q '^HTTP/1.1 200 Connection established' &&
           echo '$out' | grep -q '^Label: bulkhead-test'"
# An allowlist in sys-net (/rw/config/updates-proxy.allow) that does not
# name the repository.
bh run -u root sys-net -- sh -c \
    'mkdir -p /rw/config && echo .debian.org >/rw/config/updates-proxy.allow'
out=$(proxy "GET http://192.0.2.1/repo/Release HTTP/1.1")
check "a host outside sys-net's allowlist is refused ($out)" \
    [ "$out" = "HTTP/1.1 403 Forbidden" ]
bh run -u root sys-net -- rm /rw/config/updates-proxy.allow
SQ=$(bh prefs sys-net ip)
out=$(proxy "GET http://$SQ/ HTTP/1.1")
check "the proxy refuses the qube network ($SQ: $out)" \
    [ "$out" = "HTTP/1.1 403 Forbidden" ]
out=$(proxy "GET http://127.0.0.1/ HTTP/1.1")
check "the proxy refuses sys-net's own loopback ($out)" \
    [ "$out" = "HTTP/1.1 403 Forbidden" ]
bh shutdown --wait debian >/dev/null

# --- check, update, the AppVM ------------------------------------------------
publish 2.0
out=$(bh update --check debian 2>&1)
echo "$out" | sed 's/^/# /'
check "update --check reports bh-hello 1.0 -> 2.0" \
    sh -c "echo '$out' | grep -q 'debian: 1 update available' &&
           echo '$out' | grep -q 'bh-hello 1.0 -> 2.0'"
check "the check recorded updates-available=1 on debian" \
    [ "$(bh features debian updates-available)" = 1 ]
check "the check left the template halted" \
    sh -c "$BHC ls debian | grep -q ' Halted '"
out=$(bh update minimal 2>&1)
check "minimal: nothing to do ($out)" \
    sh -c "echo '$out' | grep -q 'no package manager'"

bh create work --template debian --label blue --prop netvm=none >/dev/null
bh start work >/dev/null
check "the AppVM has no proxy setting (nothing listens on its port)" \
    bh run work -- test ! -e /etc/apt/apt.conf.d/01bulkhead-updates-proxy
check "the AppVM runs bh-hello 1.0" \
    [ "$(bh run work -- cat /usr/share/bh-hello/version)" = 1.0 ]
check "an AppVM cannot use qubes.UpdatesProxy (policy: templates only)" \
    sh -c "$BHC run work -- bulkhead-call @default qubes.UpdatesProxy </dev/null; [ \$? = 126 ]"
check_fails "ls: work is not outdated before the update" \
    sh -c "$BHC ls | grep -q '^work .*debian\*'"

out=$(bh update debian 2>&1)
rc=$?
echo "$out" | sed 's/^/# /' | tail -8
check "update exits 0 ($rc)" [ "$rc" = 0 ]
check "update reports what changed" \
    sh -c "echo '$out' | grep -q 'debian: updated, 1 package changed' &&
           echo '$out' | grep -q 'bh-hello 1.0 -> 2.0'"
check "update showed the template's progress" \
    sh -c "echo '$out' | grep -q '^\[debian\] .*Unpacking bh-hello'"
check "the template is halted again" sh -c "$BHC ls debian | grep -q ' Halted '"
check_fails "after the update, updates-available is unset" \
    sh -c "$BHC features debian | grep -q updates-available"
check "ls marks work as running on an outdated template root" \
    sh -c "$BHC ls | grep -q '^work .*debian\*' && $BHC ls | grep -q 'outdated'"
check "work still runs 1.0 until its restart" \
    [ "$(bh run work -- cat /usr/share/bh-hello/version)" = 1.0 ]
bh shutdown --wait work >/dev/null
bh start work >/dev/null
check "after a restart work sees bh-hello 2.0" \
    [ "$(bh run work -- cat /usr/share/bh-hello/version)" = 2.0 ]
check_fails "ls: work is no longer outdated" \
    sh -c "$BHC ls | grep -q '^work .*debian\*'"

# --- a failing upgrade leaves the old root ----------------------------------
# The newest revision of the template's root (listed first).
top() { bh volume revisions debian:root | awk '$1 ~ /^[0-9]+$/ {print $1; exit}'; }
before=$(top)

publish 3.0
out=$(bh update debian 2>&1)
rc=$?
echo "$out" | sed 's/^/# /' | tail -6
check "a failing upgrade exits 1 ($rc)" [ "$rc" = 1 ]
check "it says FAILED and that the root was reverted" \
    sh -c "echo '$out' | grep -q 'debian: FAILED' &&
           echo '$out' | grep -q 'root reverted'"
check "the template's newest root revision is the one before ($before = $(top))" \
    [ "$before" = "$(top)" ]
check_fails "ls: work is not outdated by a reverted update" \
    sh -c "$BHC ls | grep -q '^work .*debian\*'"
bh start debian >/dev/null
check "the template still has bh-hello 2.0 installed cleanly" \
    sh -c "[ \"\$($BHC run debian -- dpkg-query -W -f '\${Version} \${Status}' bh-hello)\" = '2.0 install ok installed' ]"
bh shutdown --wait debian >/dev/null

# --- the periodic check (update-check service) --------------------------
# 3.0 is still offered (its postinst fails): a check reports it.
bh features debian updates-available --unset >/dev/null
bh events >"$ROOT/events.out" 2>&1 &
track_pid $!
sed -i 's/^update_check_interval_s = .*/update_check_interval_s = 2/' \
    "$ROOT/etc/bulkhead/bulkhead.conf"
bh service restart update-check >/dev/null
check "the periodic check sets updates-available on debian" \
    wait_for 60 sh -c "[ \"\$($BHC features debian updates-available)\" = 1 ]"
check "bulkhead events showed the change" \
    grep -q "domain-feature-set.*updates-available" "$ROOT/events.out"
sed -i 's/^update_check_interval_s = .*/update_check_interval_s = 0/' \
    "$ROOT/etc/bulkhead/bulkhead.conf"
bh service restart update-check >/dev/null
check "the periodic check left the template halted" \
    wait_for 60 sh -c "$BHC ls debian | grep -q ' Halted '"
check "update-check was never killed by its sandbox" \
    sh -c "! grep -i 'update-check.*seccomp' '$LOG'"

finish
