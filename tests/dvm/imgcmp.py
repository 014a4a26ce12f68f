#!/usr/bin/env python3
"""imgcmp.py A B MAXDIFF: compares two images of the same size, PPM (P6)
or PNG (8-bit RGB/RGBA/gray, any filters, not interlaced); exits 0 when
the mean absolute difference per channel is at most MAXDIFF (0..255),
printing it.  For tests/integration/dvm-tools.sh.  Standard library
only."""
import struct
import sys
import zlib


def read_ppm(data):
    parts, i = [], 2
    while len(parts) < 3:
        while data[i:i + 1].isspace():
            i += 1
        if data[i:i + 1] == b"#":
            i = data.index(b"\n", i)
            continue
        j = i
        while data[j:j + 1].isdigit():
            j += 1
        parts.append(int(data[i:j]))
        i = j
    w, h, _ = parts
    return w, h, data[i + 1:i + 1 + w * h * 3]


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def read_png(data):
    pos, idat = 8, b""
    while pos < len(data):
        n, t = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if t == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
        elif t == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and inter == 0, "unsupported PNG"
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw, stride = zlib.decompress(idat), w * bpp
    prev, out = bytearray(stride), bytearray()
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            line[x] = (line[x] + (0, a, b, (a + b) // 2, paeth(a, b, c))[f]) & 255
        for x in range(w):
            px = line[x * bpp:(x + 1) * bpp]
            out += bytes(px[:3]) if bpp >= 3 else bytes((px[0],) * 3)
        prev = line
    return w, h, bytes(out)


def read(path):
    data = open(path, "rb").read()
    return read_png(data) if data[:4] == b"\x89PNG" else read_ppm(data)


def main():
    (wa, ha, a), (wb, hb, b) = read(sys.argv[1]), read(sys.argv[2])
    if (wa, ha) != (wb, hb):
        print("sizes differ: %dx%d %dx%d" % (wa, ha, wb, hb))
        sys.exit(1)
    diff = sum(abs(x - y) for x, y in zip(a, b)) / max(len(a), 1)
    print("%.2f" % diff)
    sys.exit(0 if diff <= float(sys.argv[3]) else 1)


main()
