#!/usr/bin/env python3
"""mkpng.py OUT.png: a 97x61 RGB test PNG (a gradient with a diagonal),
for tests/integration/dvm-tools.sh.  Standard library only."""
import struct
import sys
import zlib

w, h = 97, 61
raw = bytearray()
for y in range(h):
    raw.append(0)
    for x in range(w):
        raw += bytes((x * 2, y * 4, 255 if x == y else (x * y) % 256))


def chunk(t, body):
    return (struct.pack(">I", len(body)) + t + body +
            struct.pack(">I", zlib.crc32(t + body) & 0xffffffff))


with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))
