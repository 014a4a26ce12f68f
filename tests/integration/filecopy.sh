#!/bin/bash
# bulkhead-pack | bulkhead-unpack as programs: a round trip with holes,
# mtimes and modes; the sender cut off mid-file and the receiver killed
# mid-file leave no partial file; exit statuses and one-line messages.
. "$(dirname "$0")/../lib.sh"

tmproot
PACK=$BH_BIN/bulkhead-pack
UNPACK=$BH_BIN/bulkhead-unpack
S=$ROOT/src
D=$ROOT/in
mkdir -p "$S/t/sub/deeper" "$D"
echo hello >"$S/t/a"
: >"$S/t/empty"
head -c 100000 /dev/urandom >"$S/t/sub/rand"
ln -s ../a "$S/t/sub/up"
truncate -s 64M "$S/t/sparse"
printf x | dd of="$S/t/sparse" bs=1 seek=30000000 conv=notrunc 2>/dev/null
chmod 0640 "$S/t/a"
chmod 0750 "$S/t/sub"
touch -d '2001-02-03 04:05:06.789' "$S/t/sub/deeper"

listing() { # DIR: relative name, type, mode, size, mtime of every entry
    (cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | sort)
}

(cd "$S" && "$PACK" t) | "$UNPACK" "$D"
check "round trip exits 0" [ "${PIPESTATUS[1]}" = 0 ]
check "same names, modes, sizes, mtimes, links" \
    [ "$(listing "$S/t")" = "$(listing "$D/t")" ]
check "same contents" cmp -s "$S/t/sub/rand" "$D/t/sub/rand"
check "sparse file stays sparse" [ "$(du -k "$D/t/sparse" | cut -f1)" -lt 1024 ]

# A 20 MiB file whose stream stops half way: the receiver waits with a
# hidden partial file, then the sender goes away.
head -c 20000000 /dev/urandom >"$S/big"
(cd "$S" && "$PACK" big) >"$ROOT/big.stream"
partial_there() { ls -A "$1" | grep -q '^\.bulkhead-partial\.'; }

cut_off() { # DIR SIGNAL-FOR-RECEIVER|close
    mkdir -p "$1"
    mkfifo "$ROOT/fifo"
    "$UNPACK" "$1" <"$ROOT/fifo" 2>"$ROOT/err" &
    upid=$!
    track_pid "$upid"
    exec 3>"$ROOT/fifo"
    head -c 10000000 "$ROOT/big.stream" >&3
    wait_for 5 partial_there "$1"
    check "partial file is hidden while receiving ($2)" partial_there "$1"
    check "no visible name while receiving ($2)" [ ! -e "$1/big" ]
    if [ "$2" = close ]; then exec 3>&-; else kill "-$2" "$upid"; fi
    wait "$upid"
    rc=$?
    exec 3>&- 2>/dev/null
    rm -f "$ROOT/fifo"
}

cut_off "$ROOT/cut" close
check "sender gone: exit 10 (truncated)" [ "$rc" = 10 ]
check "sender gone: one line on stderr" [ "$(wc -l <"$ROOT/err")" = 1 ]
check "sender gone: nothing left" [ -z "$(ls -A "$ROOT/cut")" ]
cut_off "$ROOT/term" TERM
check "receiver killed: partial removed" [ -z "$(ls -A "$ROOT/term")" ]

mkdir "$ROOT/g"
printf 'garbage!garbage!' | "$UNPACK" "$ROOT/g" 2>"$ROOT/err"
check "garbage: exit 11" [ $? = 11 ]
check "garbage: one refusal line" grep -q '^bulkhead-unpack: refused: ' "$ROOT/err"

mkdir -p "$ROOT/three/x" "$ROOT/lim"
touch "$ROOT/three/x/1" "$ROOT/three/x/2" "$ROOT/three/x/3"
(cd "$ROOT/three" && "$PACK" x) | "$UNPACK" --max-files 3 "$ROOT/lim" 2>/dev/null
check "over --max-files: exit 30" [ "${PIPESTATUS[1]}" = 30 ]

mkfifo "$S/t/fifo"
(cd "$S" && "$PACK" t) >"$ROOT/out" 2>"$ROOT/err"
check "FIFO at the source: exit 2" [ $? = 2 ]
check "FIFO at the source: nothing written" [ ! -s "$ROOT/out" ]
check "FIFO at the source: says why" grep -q 'is a FIFO' "$ROOT/err"

"$UNPACK" >/dev/null 2>&1
check "no DIR: exit 100" [ $? = 100 ]
check "seccomp table printable" sh -c "'$UNPACK' --print-seccomp | grep -qx openat2"

finish
