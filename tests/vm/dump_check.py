# SPDX-License-Identifier: GPL-2.0
"""Reads the container of a dump file independently of kstuck's analysis core, so the
rig can prove a file is a real dump before kstuck is asked about it: its format
(kdump-compressed, makedumpfile's flattened stream of it, ELF), the utsname release in
its header, its VMCOREINFO and its per-CPU crash notes (NT_PRSTATUS pid and RIP).

Bounded parsing of untrusted bytes: every offset is checked against the data."""
import struct
from dataclasses import dataclass, field
from pathlib import Path

FLAT_SIGNATURE = b"makedumpfile\0\0\0\0"
KDUMP_SIGNATURE = b"KDUMP   "
NT_PRSTATUS = 1
# struct elf_prstatus on x86_64: pr_pid after siginfo(12)+cursig(2)+pad(2)+sigpend(8)+sighold(8);
# pr_reg (struct user_regs_struct, 27 longs) after pid/ppid/pgrp/sid + 4 timevals.
PRSTATUS_PID = 32
PRSTATUS_REGS = 112
USER_REGS_RIP = 16 * 8


# disk_dump_header.status bits (makedumpfile's diskdump_mod.h).
COMPRESSION_FLAGS = ((0x1, "zlib"), (0x2, "lzo"), (0x4, "snappy"), (0x20, "zstd"))


class DumpFormatError(Exception):
    """The file is not a dump of a kind the rig understands, or it is cut short."""


@dataclass
class DumpInfo:
    fmt: str                                    # "kdump", "flattened-kdump", "elf"
    release: str = ""                           # utsname release from the kdump header ("" for ELF)
    vmcoreinfo: dict = field(default_factory=dict)
    prstatus: list = field(default_factory=list)  # [(pid, rip)] in note order (= CPU order)
    dump_level: int = -1                        # makedumpfile -d level (kdump formats only)
    compression: str = ""                       # the header's DUMP_DH_COMPRESSED_* flag (kdump formats only)


def _unflatten(data, limit=1 << 34):
    """Reassembles makedumpfile's flattened stream: a 4 KiB header, then
    {be64 offset, be64 size, bytes} records until an offset of -1."""
    out = bytearray()
    pos = 4096
    while pos + 16 <= len(data):
        off, size = struct.unpack_from(">qq", data, pos)
        if off < 0:
            break
        if size < 0 or off + size > limit or pos + 16 + size > len(data):
            raise DumpFormatError(f"flattened record at {pos} is out of bounds")
        if len(out) < off + size:
            out.extend(b"\0" * (off + size - len(out)))
        out[off:off + size] = data[pos + 16:pos + 16 + size]
        pos += 16 + size
    return bytes(out)


def elf_notes(blob):
    """Yields (name, type, desc) of an ELF note sequence, bounded (also used by drgn_view)."""
    pos = 0
    for _ in range(4096):
        if pos + 12 > len(blob):
            return
        namesz, descsz, ntype = struct.unpack_from("<III", blob, pos)
        pos += 12
        name_end = pos + ((namesz + 3) & ~3)
        desc_end = name_end + ((descsz + 3) & ~3)
        if desc_end > len(blob) or namesz == 0 and descsz == 0 and ntype == 0:
            return
        yield blob[pos:pos + namesz].rstrip(b"\0"), ntype, blob[name_end:name_end + descsz]
        pos = desc_end


def _parse_notes(info, blob):
    for name, ntype, desc in elf_notes(blob):
        if name == b"CORE" and ntype == NT_PRSTATUS and len(desc) >= PRSTATUS_REGS + USER_REGS_RIP + 8:
            pid = struct.unpack_from("<i", desc, PRSTATUS_PID)[0]
            rip = struct.unpack_from("<Q", desc, PRSTATUS_REGS + USER_REGS_RIP)[0]
            info.prstatus.append((pid, rip))
        elif name == b"VMCOREINFO":
            _parse_vmcoreinfo(info, desc)


def _parse_vmcoreinfo(info, raw):
    for line in raw.split(b"\n"):
        if b"=" in line:
            k, v = line.split(b"=", 1)
            info.vmcoreinfo.setdefault(k.decode(errors="replace"), v.decode(errors="replace"))


def _read_kdump(data, info):
    # struct disk_dump_header: signature[8], header_version, utsname (6 x 65), timeval,
    # status, block_size ...; struct kdump_sub_header sits in block 1.
    if len(data) < 464:
        raise DumpFormatError("kdump header cut short")
    info.release = data[8 + 4 + 2 * 65:8 + 4 + 3 * 65].split(b"\0")[0].decode(errors="replace")
    status = struct.unpack_from("<i", data, 424)[0]
    info.compression = ",".join(n for bit, n in COMPRESSION_FLAGS if status & bit) or "none"
    block_size = struct.unpack_from("<i", data, 428)[0]
    if block_size <= 0 or block_size > 1 << 20 or len(data) < block_size + 104:
        raise DumpFormatError(f"bad block_size {block_size}")
    sub = block_size
    info.dump_level = struct.unpack_from("<i", data, sub + 8)[0]
    off_info, size_info, off_note, size_note = struct.unpack_from("<qQqQ", data, sub + 32)
    for off, size in ((off_info, size_info), (off_note, size_note)):
        if off < 0 or size > 1 << 24 or off + size > len(data):
            raise DumpFormatError(f"note region {off:#x}+{size:#x} out of bounds")
    if size_note:
        _parse_notes(info, data[off_note:off_note + size_note])
    if size_info and not info.vmcoreinfo:
        _parse_vmcoreinfo(info, data[off_info:off_info + size_info])


def _read_elf(path, info):
    with open(path, "rb") as f:
        eh = f.read(64)
        if len(eh) < 64 or eh[4] != 2:
            raise DumpFormatError("not a 64-bit ELF core")
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        if phentsize < 56 or phnum > 1 << 16:
            raise DumpFormatError("bad program headers")
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
        for i in range(phnum):
            ptype, _flags, off, _va, _pa, filesz = struct.unpack_from("<IIQQQQ", ph, i * phentsize)
            if ptype == 4 and filesz < 1 << 24:  # PT_NOTE
                f.seek(off)
                _parse_notes(info, f.read(filesz))


def read_dump(path):
    """DumpInfo of a dump file; raises DumpFormatError when it is none."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"\x7fELF"):
        info = DumpInfo("elf")
        _read_elf(path, info)
        return info
    data = path.read_bytes()
    if data.startswith(FLAT_SIGNATURE):
        data = _unflatten(data)
        if not data.startswith(KDUMP_SIGNATURE):
            raise DumpFormatError("flattened stream does not hold a kdump-compressed dump")
        info = DumpInfo("flattened-kdump")
    elif data.startswith(KDUMP_SIGNATURE):
        info = DumpInfo("kdump")
    else:
        raise DumpFormatError(f"unknown signature {head[:8]!r}")
    _read_kdump(data, info)
    return info
