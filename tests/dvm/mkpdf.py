#!/usr/bin/env python3
"""mkpdf.py OUT.pdf PAGES [W_PT H_PT]: a test PDF with, on every page, a
line of text (Helvetica, a base-14 font, so nothing to embed: the text
layer pdftotext finds) and an RGB image (a gradient with a page-numbered
band, Flate-compressed), for tests/integration/dvm-tools.sh and the dvm
benchmark.  Standard library only."""
import sys
import zlib


def image(n):
    w, h = 120, 80
    rows = bytearray()
    for y in range(h):
        for x in range(w):
            band = (y // 10) == (n % 8)
            rows += bytes((x * 2 % 256, y * 3 % 256, 200 if band else 40))
    return w, h, zlib.compress(bytes(rows))


def main():
    out, pages = sys.argv[1], int(sys.argv[2])
    pw, ph = (float(sys.argv[3]), float(sys.argv[4])) if len(sys.argv) > 4 \
        else (612.0, 792.0)
    objs = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
            3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    kids = []
    for i in range(pages):
        base = 4 + 3 * i
        w, h, data = image(i)
        objs[base] = (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d"
                      b" /ColorSpace /DeviceRGB /BitsPerComponent 8"
                      b" /Filter /FlateDecode /Length %d >>\nstream\n"
                      % (w, h, len(data)) + data + b"\nendstream")
        text = ("BT /F1 28 Tf 72 %d Td (Secret page %d of %d) Tj ET\n"
                "q 300 0 0 200 72 %d cm /Im0 Do Q\n"
                % (ph - 120, i + 1, pages, ph - 400)).encode()
        objs[base + 1] = (b"<< /Length %d >>\nstream\n" % len(text) + text +
                          b"endstream")
        objs[base + 2] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g]"
                          b" /Resources << /Font << /F1 3 0 R >> /XObject <<"
                          b" /Im0 %d 0 R >> >> /Contents %d 0 R >>"
                          % (pw, ph, base, base + 1))
        kids.append(b"%d 0 R" % (base + 2))
    objs[2] = (b"<< /Type /Pages /Kids [" + b" ".join(kids) +
               b"] /Count %d >>" % pages)
    body = bytearray(b"%PDF-1.4\n")
    offs = {}
    for n in sorted(objs):
        offs[n] = len(body)
        body += b"%d 0 obj\n" % n + objs[n] + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for n in sorted(objs):
        body += b"%010d 00000 n \n" % offs[n]
    body += (b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
             % (len(objs) + 1, xref))
    with open(out, "wb") as f:
        f.write(body)


main()
