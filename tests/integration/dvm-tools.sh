#!/bin/sh
# The disposable tools (issue 11, guest/dvm/README.md) end to end: a
# qube_system with policyd; default-dvm on a Debian template (the cached
# tree of scripts/debian-test-tree, which has pdftoppm) with the handlers
# shipped in /run/bulkhead/bin/rpc (viewers from bulkhead-dvm-install); a source qube `work` on minimal.
#   bulkhead-open-in-dvm: view-only, edit and return confirmed / declined
#   (by the GUI viewer: the disposable's own Xvfb), a type with only a
#   headless viewer, no viewer for a type; the disposables are gone.
#   bulkhead-convert-pdf: a PDF made here (4 pages, text and an image):
#   same page count and sizes, no text layer, pixels like the original's
#   rendering, the original archived; bulkhead-convert-img: a PNG exactly.
#   Hostile disposables (a handler on minimal answering oversized pages,
#   truncated data, too many pages, garbage, trailing data, nothing, a
#   failure, silence; for open: a 2 GiB size, fewer or more bytes than
#   announced, garbage): refused, nothing written, the original in place.
# Needs root, the Debian tree, python3 and poppler-utils on the host.
. "$(dirname "$0")/../lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "# skipped: needs root"; finish; exit
fi
for t in pdfinfo pdftotext pdftoppm python3; do
    command -v $t >/dev/null || { echo "# no $t: skipped"; finish; exit; }
done
TREE=$("$BH_TOP/scripts/debian-test-tree") || {
    echo "# no Debian test tree: skipped"; finish; exit; }
H=$BH_TOP/tests/dvm

has() { printf '%s\n' "$1" | grep -q -- "$2"; }
# Disposables that are not preloads waiting to be handed out.
strays() {
    for f in "$ROOT"/var/lib/bulkhead/qubes/disp*.conf; do
        [ -e "$f" ] || continue
        grep -q '^feature.preloaded = 1' "$f" || basename "$f" .conf
    done
}
no_strays() { [ -z "$(strays)" ]; }
w() { bh run work -- "$@"; }
put() { bh run -p work -- sh -c "cat > $1" <"$2"; }     # put QUBEPATH HOSTFILE
get() { bh run work -- cat "$1" >"$2"; }                # get QUBEPATH HOSTFILE

tmproot
qube_system vm-manager storage-manager rpc-router policyd
cat >"$ROOT/etc/bulkhead/policy.d/10-test.policy" <<'POL'
qubes.PdfConvert  *  work  @dispvm:hostile-dvm  allow
qubes.OpenInVM    *  work  @dispvm:hostile-dvm  allow
qubes.PdfConvert  *  work  @dispvm              allow
qubes.ImgConvert  *  work  @dispvm              allow
POL
check "the system boots (storage, rpc-router, policyd, vm-manager)" \
    qube_system_start

# --- templates ----------------------------------------------------------------
bh template install minimal >/dev/null
check "the Debian tree imports as a template" \
    bh template import deb "$TREE"
bh start deb >/dev/null
# The Debian qubes have a display (the agent starts Xvfb): gui.txt is the
# viewer for .txt, proven by reaching the X server; .csv has only a
# headless viewer, the fallback.
cat >"$ROOT/viewers" <<'EOF2'
gui.txt = sh -c 'xdpyinfo >/dev/null && sed -i s/original/changed-in-gui/ "$1"' sh
viewer.txt = sed -i s/original/changed-headless/
viewer.csv = sed -i s/original/changed-headless/
EOF2
check "a fresh template serves the handlers bulkhead ships (no setup step)" \
    bh run deb -- sh -c '! test -e /etc/bulkhead/rpc/qubes.PdfConvert &&
        test -x /run/bulkhead/bin/rpc/qubes.PdfConvert &&
        test -x /run/bulkhead/bin/rpc/qubes.OpenInVM'
bh run -u root deb -- /run/bulkhead/bin/bulkhead-dvm-install >/dev/null
bh run -p -u root deb -- sh -c 'cat >> /etc/bulkhead/dvm-open.conf' \
    <"$ROOT/viewers" >/dev/null
check "bulkhead-dvm-install wrote the viewer configuration" \
    bh run deb -- test -s /etc/bulkhead/dvm-open.conf
bh shutdown --wait deb >/dev/null
bh create default-dvm --template deb --label red \
    --prop template_for_dispvms=true --prop netvm=none >/dev/null
# The hostile handler, on minimal: its answer is chosen by MODE=... in the
# "PDF" it gets.  printf octal escapes write the little-endian fields.
bh start minimal >/dev/null
bh run -p -u root minimal -- sh -c \
    'cat > /etc/bulkhead/rpc/qubes.PdfConvert; chmod 755 /etc/bulkhead/rpc/qubes.PdfConvert' \
    <"$H/hostile-handler" >/dev/null
bh run -p -u root minimal -- sh -c \
    'cat > /etc/bulkhead/rpc/qubes.OpenInVM; chmod 755 /etc/bulkhead/rpc/qubes.OpenInVM' \
    <"$H/hostile-open-handler" >/dev/null
bh shutdown --wait minimal >/dev/null
bh create hostile-dvm --template minimal --label red \
    --prop template_for_dispvms=true --prop netvm=none >/dev/null
bh create work --template minimal --label blue --prop netvm=none >/dev/null
bh start work >/dev/null
qube_system_note_cgroup

# --- open in a disposable -------------------------------------------------------
w sh -c 'echo "the original text" > ~/notes.txt; chmod 640 ~/notes.txt'
out=$(bh run work -- bulkhead-open-in-dvm --view-only notes.txt 2>&1); rc=$?
check "open --view-only: exit 0 ($rc: $out)" [ "$rc" = 0 ]
check "  ... the file is unchanged (the viewer edited its copy)" \
    [ "$(w cat notes.txt)" = "the original text" ]
check "  ... and no disposable is left" wait_for 15 no_strays
out=$(printf 'n\n' | bh run -p work -- bulkhead-open-in-dvm notes.txt 2>&1)
rc=$?
check "open, edited there, declined: exit 0, asked ($out)" \
    sh -c "[ $rc = 0 ] && echo '$out' | grep -q 'Replace it'"
check "  ... the original is kept" \
    [ "$(w cat notes.txt)" = "the original text" ]
check "  ... no temporary left beside it" \
    [ "$(w sh -c 'ls -a ~ | grep -c notes')" = 1 ]
out=$(printf 'y\n' | bh run -p work -- bulkhead-open-in-dvm notes.txt 2>&1)
rc=$?
check "open, edited there, confirmed: exit 0 ($out)" \
    sh -c "[ $rc = 0 ] && echo '$out' | grep -q replaced"
check "  ... the file is the disposable's version, from its GUI viewer" \
    [ "$(w cat notes.txt)" = "the changed-in-gui text" ]
check "  ... with its mode kept (640)" \
    [ "$(w stat -c %a notes.txt)" = 640 ]
check "  ... and no disposable is left" wait_for 15 no_strays
w sh -c 'echo "original,1" > ~/t.csv'
out=$(printf 'y\n' | bh run -p work -- bulkhead-open-in-dvm t.csv 2>&1)
check "a type with only a headless viewer: that one edits it ($out)" \
    [ "$(w cat t.csv)" = "changed-headless,1" ]
w sh -c 'echo data > ~/x.unknown'
out=$(bh run work -- bulkhead-open-in-dvm x.unknown 2>&1); rc=$?
check "no viewer configured for the type: exit 1, says so ($out)" \
    sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'no viewer'"
check "  ... no disposable is left" wait_for 15 no_strays

# --- convert a PDF --------------------------------------------------------------
python3 "$H/mkpdf.py" "$ROOT/doc.pdf" 4
put doc.pdf "$ROOT/doc.pdf"
out=$(bh run work -- bulkhead-convert-pdf doc.pdf 2>&1); rc=$?
check "convert-pdf: exit 0 ($rc: $out)" [ "$rc" = 0 ]
get doc.trusted.pdf "$ROOT/trusted.pdf"
check "  ... the original moved to ~/QubesUntrustedPDFs/" \
    w sh -c 'test -f QubesUntrustedPDFs/doc.pdf && ! test -e doc.pdf'
info() { pdfinfo "$1" | awk -F': *' "/^$2/ {print \$2}"; }
check "  ... same page count ($(info "$ROOT/trusted.pdf" Pages))" \
    [ "$(info "$ROOT/trusted.pdf" Pages)" = 4 ]
check "  ... same page size ($(info "$ROOT/trusted.pdf" 'Page size'))" \
    [ "$(info "$ROOT/trusted.pdf" 'Page size')" = \
      "$(info "$ROOT/doc.pdf" 'Page size')" ]
check "  ... the original has a text layer" \
    sh -c "pdftotext '$ROOT/doc.pdf' - | grep -q Secret"
check "  ... the result has none" \
    sh -c "[ -z \"\$(pdftotext '$ROOT/trusted.pdf' - | tr -d '[:space:]')\" ]"
check_fails "  ... no fonts in it" grep -aq /Font "$ROOT/trusted.pdf"
pdftoppm -r 20 "$ROOT/doc.pdf" "$ROOT/a"
pdftoppm -r 20 "$ROOT/trusted.pdf" "$ROOT/b"
for p in 1 2 3 4; do
    d=$(python3 "$H/imgcmp.py" "$ROOT/a-$p.ppm" "$ROOT/b-$p.ppm" 6 2>&1)
    check "  ... page $p looks like the original (mean diff $d)" \
        python3 "$H/imgcmp.py" "$ROOT/a-$p.ppm" "$ROOT/b-$p.ppm" 6
done
check "  ... no disposable is left" wait_for 15 no_strays

# --- convert an image -------------------------------------------------------------
python3 "$H/mkpng.py" "$ROOT/pic.png"
put pic.png "$ROOT/pic.png"
out=$(bh run work -- bulkhead-convert-img pic.png 2>&1); rc=$?
check "convert-img: exit 0 ($rc: $out)" [ "$rc" = 0 ]
get pic.trusted.png "$ROOT/pic.trusted.png"
check "  ... the pixels are exactly the original's" \
    python3 "$H/imgcmp.py" "$ROOT/pic.png" "$ROOT/pic.trusted.png" 0
check "  ... the original moved to ~/QubesUntrustedImages/" \
    w test -f QubesUntrustedImages/pic.png

# --- hostile disposables ------------------------------------------------------------
for m in oversize bigpage truncated toomany garbage trailing nothing fails \
         stall; do
    w sh -c "echo '%PDF-1.4 MODE=$m' > h-$m.pdf"
    out=$(bh run work -- env BULKHEAD_DVM_TIMEOUT=2 \
          bulkhead-convert-pdf --dispvm hostile-dvm h-$m.pdf 2>&1)
    rc=$?
    check "hostile answer '$m' refused: exit 1 ($rc: $out)" \
        sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'not converted'"
    check "  ... nothing written, the original in place" \
        [ "$(w sh -c "ls -a ~ | grep h-$m")" = "h-$m.pdf" ]
done
open_unchanged() {
    [ "$(w cat o-$1.txt)" = "keep me MODE=$1" ] &&
        [ "$(w sh -c "ls -a | grep -c o-$1")" = 1 ]
}
for m in huge short long garbage; do
    w sh -c "echo 'keep me MODE=$m' > o-$m.txt"
    out=$(printf 'y\n' | bh run -p work -- bulkhead-open-in-dvm --dispvm hostile-dvm o-$m.txt 2>&1)
    rc=$?
    check "hostile open answer '$m' refused: exit 1 ($rc: $out)" \
        sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'file is unchanged'"
    check "  ... the file is unchanged, no temporary left" open_unchanged $m
done
check "no disposable is left" wait_for 15 no_strays

finish
