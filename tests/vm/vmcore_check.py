# SPDX-License-Identifier: GPL-2.0
"""Cheap checks of a vmcore file's container, for the rig's own tests (the real
reader is kstuck's analysis core)."""
import struct
from pathlib import Path

FLAT_SIGNATURE = b"makedumpfile\0\0\0\0"


def describe(path):
    """Returns (format, vmcoreinfo bytes or b'') of a kdump or flattened-kdump file."""
    data = Path(path).read_bytes()
    fmt = "unknown"
    if data.startswith(FLAT_SIGNATURE):
        # Flattened: a 4 KiB header, then {be64 offset, be64 size, data} records.
        fmt = "flattened"
        pos = 4096
        first = None
        while pos + 16 <= len(data):
            off, size = struct.unpack_from(">qq", data, pos)
            if off < 0:
                break
            if off == 0:
                first = data[pos + 16:pos + 16 + 8]
            pos += 16 + size
        if first == b"KDUMP   ":
            fmt = "flattened-kdump"
    elif data.startswith(b"KDUMP   "):
        fmt = "kdump"
    elif data.startswith(b"\x7fELF"):
        fmt = "elf"
    start = data.find(b"OSRELEASE=")
    info = b""
    if start >= 0:
        end = data.find(b"\0", start)
        info = data[start:end if end > start else start + 8192]
    return fmt, info
