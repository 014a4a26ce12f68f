#!/usr/bin/env python3
"""Writes the golden fake sysfs trees under tests/usb/ (run once; the
trees are committed).  Real sysfs has symlinks into /sys/devices; plain
directories read the same through usbdev.c.  Layout: TREE/bus/usb/devices/."""
import os, shutil, sys

HERE = os.path.dirname(os.path.abspath(__file__))

def dev(root, busid, attrs, ifaces=()):
    d = os.path.join(root, "bus/usb/devices", busid)
    os.makedirs(d, exist_ok=True)
    for k, v in attrs.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v if isinstance(v, bytes) else (v + "\n").encode())
    for i, (c, s, p) in enumerate(ifaces):
        idir = os.path.join(d, "%s:1.%d" % (busid, i))
        os.makedirs(idir, exist_ok=True)
        for k, v in (("bInterfaceClass", c), ("bInterfaceSubClass", s),
                     ("bInterfaceProtocol", p), ("bInterfaceNumber", "%02x" % i)):
            with open(os.path.join(idir, k), "w") as f:
                f.write(v + "\n")

def std(vid, pid, bus, devn, speed, cls="00", **strings):
    a = {"idVendor": vid, "idProduct": pid, "busnum": str(bus),
         "devnum": str(devn), "speed": speed, "bDeviceClass": cls}
    a.update(strings)
    return a

def basic(root):
    # root hubs (skipped) and their interfaces
    dev(root, "usb1", std("1d6b", "0002", 1, 1, "480", "09", product="xHCI Host Controller"), [("09", "00", "00")])
    dev(root, "usb2", std("1d6b", "0003", 2, 1, "5000", "09"), [("09", "00", "00")])
    # QEMU's usb-kbd and usb-storage, as on the test VM
    dev(root, "1-1", std("0627", "0001", 1, 2, "12", manufacturer="QEMU", product="QEMU USB Keyboard", serial="68284-0000:00:04.0-1"), [("03", "01", "01")])
    dev(root, "2-1", std("46f4", "0001", 2, 2, "5000", manufacturer="QEMU", product="QEMU USB HARDDRIVE", serial="1-0000:00:04.0-2"), [("08", "06", "50")])
    # behind a hub: a mouse, a composite keyboard+mouse receiver, a webcam
    dev(root, "1-2", std("05e3", "0608", 1, 3, "480", "09", product="USB2.0 Hub"), [("09", "00", "00")])
    dev(root, "1-2.1", std("046d", "c077", 1, 4, "1.5", manufacturer="Logitech", product="USB Optical Mouse"), [("03", "01", "02")])
    dev(root, "1-2.10", std("046d", "c52b", 1, 6, "12", manufacturer="Logitech", product="USB Receiver"), [("03", "01", "01"), ("03", "01", "02"), ("03", "00", "00")])
    dev(root, "1-2.2", std("0c45", "6366", 1, 5, "480", "ef", product="Webcam"), [("0e", "01", "00"), ("0e", "02", "00"), ("01", "01", "00")])

def hostile(root):
    # control bytes, an escape sequence, a tab (would split fields), DEL, C1
    dev(root, "1-1", std("1234", "5678", 1, 2, "480",
        manufacturer=b"Evil\x1b[31mCorp\x07\n", product=b"tab\there\x7fdel\xc2\x85c1\n",
        serial=b"SER\x00IAL\n"), [("08", "06", "50")])
    # invalid UTF-8: lone continuation, overlong '/', surrogate, > U+10FFFF,
    # truncated sequence; and valid UTF-8 kept (e-acute, CJK, emoji)
    dev(root, "1-2", std("abcd", "ef01", 1, 3, "480",
        manufacturer=b"\x80bad\xc0\xafover\xed\xa0\x80sur\xf4\x90\x80\x80big\xe2\x82\n",
        product="Caf\u00e9 \u4e2d\u6587 \U0001F600".encode() + b"\n",
        serial=b"\xe2\x80\xaeRTL-override\xe2\x80\x8bzw\n"), [("08", "06", "50")])
    # overlong strings (devices may report 255 bytes; we keep 64)
    dev(root, "1-3", std("1111", "2222", 1, 4, "12",
        manufacturer=("M" * 300).encode(), product=("\u00e9" * 40).encode() + b"\n",
        serial=("9" * 255) + ""), [("07", "01", "02")])
    # malformed devices: skipped entirely
    dev(root, "1-4", std("zzzz", "0001", 1, 5, "480"))                 # bad vendor
    dev(root, "1-5", std("12345", "0001", 1, 6, "480"))                # vendor too long
    dev(root, "1-6", {"idVendor": "1234", "idProduct": "0001", "busnum": "1", "speed": "480"})  # no devnum
    dev(root, "1-7", std("1234", "0001", 0, 7, "480"))                 # busnum 0
    dev(root, "1-8", std("-1", "0001", 1, 8, "480"))                   # negative
    # names that are not bus ids: skipped before anything is read
    for name in ("1-9;rm -rf", "..1-1", "01-1", "1-0", "1-256", "1-1..2", "1--1", "x-1"):
        dev(root, name, std("1234", "0002", 1, 9, "480"))
    # odd but well-formed: unknown speed, no strings, a keyboard hidden as
    # interface 2 of an otherwise mass-storage device (BadUSB)
    dev(root, "1-10", std("1234", "0003", 1, 10, "9999"), [])
    dev(root, "1-11", std("0951", "1666", 1, 11, "480", product="DataTraveler"),
        [("08", "06", "50"), ("03", "00", "00"), ("03", "01", "01")])

for name, fn in (("sysfs-basic", basic), ("sysfs-hostile", hostile)):
    root = os.path.join(HERE, name)
    shutil.rmtree(root, ignore_errors=True)
    fn(root)
os.makedirs(os.path.join(HERE, "sysfs-empty/bus/usb/devices"), exist_ok=True)
open(os.path.join(HERE, "sysfs-empty/bus/usb/devices/.keep"), "w").close()
