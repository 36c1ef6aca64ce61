#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes a small, well-formed kdump-compressed vmcore (x86-64 disk_dump_header v6, two CPU
register notes, VMCOREINFO as a note and in the sub-header, 16 pages: zlib, plain and a
shared zero page) and its ELF note area alone: the fuzzers' seeds.

usage: make_seed_dump.py OUT_DIR   (writes OUT_DIR/seed.kdump and OUT_DIR/seed.notes)
"""
import struct
import sys
import zlib
from pathlib import Path

BS = 4096
NPAGES = 16
MAX_MAPNR = 64


def note(name, ntype, desc):
    n = name.encode() + b"\0"
    pad = lambda b: b + bytes(-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


def prstatus(pid, rip, rsp):
    regs = [0] * 27
    regs[16], regs[17], regs[18], regs[19], regs[20] = rip, 0x10, 0x246, rsp, 0x18  # rip cs eflags rsp ss
    return bytes(32) + struct.pack("<i", pid) + bytes(76) + struct.pack("<27Q", *regs) + bytes(8)


def build():
    vmcoreinfo = (b"OSRELEASE=6.1.0-kstuck-fuzz\nPAGESIZE=4096\nKERNELOFFSET=0\n"
                  b"SYMBOL(init_top_pgt)=ffffffff82a0a000\nNUMBER(phys_base)=0\n"
                  b"SYMBOL(_stext)=ffffffff81000000\nNUMBER(pgtable_l5_enabled)=0\n")
    notes = (note("CORE", 1, prstatus(1, 0xffffffff81000100, 0xffffc90000003f00)) +
             note("CORE", 1, prstatus(2, 0xffffffff81000200, 0xffffc90000013f00)) +
             note("VMCOREINFO", 0, vmcoreinfo))
    note_off, vi_off = BS + 512, BS + 3072
    assert note_off + len(notes) <= vi_off and vi_off + len(vmcoreinfo) <= 2 * BS

    head = bytearray(BS)
    head[0:8] = b"KDUMP   "
    struct.pack_into("<i", head, 8, 6)
    for i, s in enumerate((b"Linux", b"fuzz", b"6.1.0-kstuck-fuzz", b"#1 SMP", b"x86_64", b"")):
        head[12 + 65 * i:12 + 65 * i + len(s)] = s
    struct.pack_into("<iiIIIIIIii", head, 424, 0, BS, 1, 2, MAX_MAPNR, MAX_MAPNR, 0, NPAGES, 0, 2)
    sub = bytearray(BS)
    struct.pack_into("<QiiQQQQQQ", sub, 0, 0, 31, 0, 0, MAX_MAPNR, vi_off, len(vmcoreinfo), note_off, len(notes))
    struct.pack_into("<QQQQQ", sub, 64, 0, 0, 0, MAX_MAPNR, MAX_MAPNR)
    sub[note_off - BS:note_off - BS + len(notes)] = notes
    sub[vi_off - BS:vi_off - BS + len(vmcoreinfo)] = vmcoreinfo
    bitmap1 = bytearray(BS)
    bitmap1[0:MAX_MAPNR // 8] = b"\xff" * (MAX_MAPNR // 8)
    bitmap2 = bytearray(BS)
    bitmap2[0:NPAGES // 8] = b"\xff" * (NPAGES // 8)

    data_off = 4 * BS + BS  # header, sub-header, two bitmap blocks, one block of descriptors
    descs, data = bytearray(), bytearray()
    zero = None
    for pfn in range(NPAGES):
        page = bytes([(pfn * 7 + i) & 0xff for i in range(64)]) * (BS // 64)
        if pfn % 5 == 4:  # zero pages share one copy, as makedumpfile writes them
            page = bytes(BS)
            if zero is None:
                zero = (data_off + len(data), zlib.compress(page))
                data += zero[1]
            descs += struct.pack("<QIIQ", zero[0], len(zero[1]), 1, 0)
            continue
        if pfn % 3 == 2:  # stored plain
            descs += struct.pack("<QIIQ", data_off + len(data), BS, 0, 0)
            data += page
        else:
            z = zlib.compress(page)
            descs += struct.pack("<QIIQ", data_off + len(data), len(z), 1, 0)
            data += z
    descs += bytes(BS - len(descs))
    return bytes(head + sub + bitmap1 + bitmap2 + descs + data), notes


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    dump, notes = build()
    (out / "seed.kdump").write_bytes(dump)
    (out / "seed.notes").write_bytes(notes)


if __name__ == "__main__":
    main()
