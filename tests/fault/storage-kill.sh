#!/bin/sh
# storage-kill: SIGKILLs a real process at random instants of a commit that
# merges (revisions_to_keep 0: hard-link copy of a base of FILES files,
# apply of a session with whiteouts and an opaque directory, syncfs,
# manifest switch, trash) and checks after recovery that the volume shows
# exactly its old or its new state (hashed through a read-only overlayfs
# mount, independently of the driver's own code), that no stray layer is
# left, and that a retried release ends in the new state.
#
#   STORAGE_KILL_TRIALS (default 12), STORAGE_KILL_FILES (default 2000)
. "$(dirname "$0")/../lib.sh"

tmproot
[ -x "$BH_TESTBIN/storage-tool" ] ||
    { echo "storage-kill: $BH_TESTBIN/storage-tool missing (ninja)"; exit 1; }
# A private copy: the build tree is shared and may be relinked meanwhile.
cp "$BH_TESTBIN/storage-tool" "$ROOT/storage-tool"
T=$ROOT/storage-tool
N=${STORAGE_KILL_TRIALS:-12}
FILES=${STORAGE_KILL_FILES:-2000}
mkdir -p "$ROOT/empty" "$ROOT/v" "$ROOT/m"

# Listing + content hash of the tree in the current directory.
HASH='{ find . -printf "%p %y %m %U %G %s %l\n" | LC_ALL=C sort;
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum; } |
      md5sum | cut -d" " -f1'

view() { # POOL: hash of t:private's committed state
    _low=$("$T" "$1" lowers t private) || return 1
    mount -t overlay overlay -o "ro,lowerdir=$_low:$ROOT/empty" "$ROOT/v" ||
        return 1
    _h=$(cd "$ROOT/v" && eval "$HASH")
    umount "$ROOT/v"
    echo "$_h"
}

FILL="mkdir keep keep/sub; i=0; while [ \$i -lt 30 ]; do mkdir d\$i;
      i=\$((i + 1)); done; i=0; while [ \$i -lt $FILES ]; do
      echo \$i > d\$((i % 30))/f\$i; i=\$((i + 1)); done; echo k > keep/sub/k"
CHANGE="rm -r d1 && mkdir d1 && echo new > d1/new && rm d2/f2 d3/f3 &&
        rm -r keep && echo file > keep && i=4; while [ \$i -lt 600 ]; do
        echo changed >> d\$((i % 30))/f\$i; i=\$((i + 7)); done &&
        { $HASH; } > $ROOT/new.hash"

setup() { # POOL: t with a committed base of FILES files, a session open
    "$T" "$1" create t TemplateVM "" 0 &&
    "$T" "$1" session t private "$ROOT/m" "$FILL" &&
    "$T" "$1" release t commit &&
    "$T" "$1" session t private "$ROOT/m" "$CHANGE"
}

# Calibrate: how long does the release take unkilled?  (twice: the first
# run is colder; the kills are spread over the faster one)
dur=
for c in a b; do
    P=$ROOT/p0$c
    setup "$P" || { echo "storage-kill: setup failed"; exit 1; }
    t0=$(date +%s%N)
    "$T" "$P" release t commit
    d=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ -z "$dur" ] || [ "$d" -lt "$dur" ] && dur=$d
    check "calibration run $c ends in the new state" \
        test "$(view "$P")" = "$(cat "$ROOT/new.hash")"
    rm -rf "$P"
done
echo "# release with merge of $FILES files: $dur ms; $N kills in [0, $dur] ms"

i=1
while [ "$i" -le "$N" ]; do
    P=$ROOT/p$i
    setup "$P" || { fail "trial $i: setup"; i=$((i + 1)); continue; }
    old=$(view "$P")
    new=$(cat "$ROOT/new.hash")
    # spread the kills over the whole release: 0, 1/N, 2/N ... of it
    delay=$(awk -v i="$i" -v n="$N" -v d="$dur" \
        'BEGIN { printf "%.3f", ((i * 7) % n) / n * d / 1000 }')
    "$T" "$P" release t commit &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null && killed=killed || killed=finished
    wait "$pid" 2>/dev/null
    "$T" "$P" recover
    got=$(view "$P")
    if [ "$got" = "$old" ]; then state=old
    elif [ "$got" = "$new" ]; then state=new
    else state=MIXED; fi
    check "trial $i ($killed at ${delay}s): $state state" \
        test "$state" != MIXED
    check "trial $i: no stray layers" "$T" "$P" check t private
    "$T" "$P" release t commit
    check "trial $i: retried release gives the new state" \
        test "$(view "$P")" = "$new"
    rm -rf "$P"
    i=$((i + 1))
done
finish
