# SPDX-License-Identifier: GPL-2.0
"""What the vmlinux file says about a kernel text address: its bytes and the kind of its
ORC entry. The drgn differential's known-defect entries use it to show that a difference
is drgn's, from the kernel's own build output rather than from either tool's answer."""
import bisect
import struct
from pathlib import Path

SHT_NOBITS = 8
PT_LOAD = 1


class VmlinuxText:
    """Lazily reads the section and program headers of one vmlinux (ELF64, little endian)."""

    def __init__(self, path):
        self.path = Path(path)
        self._sections = None
        self._orc = None

    def _headers(self):
        if self._sections is not None:
            return
        with open(self.path, "rb") as f:
            eh = f.read(64)
            if eh[:4] != b"\x7fELF" or eh[4] != 2 or eh[5] != 1:
                raise ValueError(f"{self.path}: not a little-endian ELF64 file")
            phoff, shoff = struct.unpack_from("<QQ", eh, 32)
            phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", eh, 54)
            f.seek(shoff)
            sh = f.read(shentsize * shnum)
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
            rows = [struct.unpack_from("<IIQQQQ", sh, i * shentsize) for i in range(shnum)]
            f.seek(rows[shstrndx][4])
            names = f.read(rows[shstrndx][5])
        self._sections = {}
        for name_off, stype, _flags, addr, off, size in rows:
            name = names[name_off:names.index(b"\0", name_off)].decode()
            self._sections[name] = (stype, addr, off, size)
        self._loads = []
        for i in range(phnum):
            ptype, _fl, off, vaddr, _paddr, filesz = struct.unpack_from("<IIQQQQ", ph, i * phentsize)
            if ptype == PT_LOAD:
                self._loads.append((vaddr, off, filesz))

    def read(self, va, n):
        """n bytes of the file's image at virtual address va, or None outside PT_LOADs."""
        self._headers()
        for vaddr, off, filesz in self._loads:
            if vaddr <= va and va + n <= vaddr + filesz:
                with open(self.path, "rb") as f:
                    f.seek(off + va - vaddr)
                    return f.read(n)
        return None

    def _section(self, name):
        self._headers()
        s = self._sections.get(name)
        if s is None or s[0] == SHT_NOBITS:
            raise ValueError(f"{self.path}: no {name} section")
        with open(self.path, "rb") as f:
            f.seek(s[2])
            return s[1], f.read(s[3])

    def orc_kind(self, pc, orc_members):
        """'undefined', 'end' or 'defined': the ORC entry that covers pc, decoded with the
        layout the kernel's struct orc_entry members name (orc_members, from its type
        information): 'type' and no 'end' is the layout of Linux 6.4+ (type 0 undefined,
        1 end of stack); 'end' is the older one (sp_reg 0 without 'end' is undefined, the
        'end' bit after 'signal' where that exists). None where pc has no entry."""
        if self._orc is None:
            ip_base, ips = self._section(".orc_unwind_ip")
            _, entries = self._section(".orc_unwind")
            n = min(len(ips) // 4, len(entries) // 6)
            offsets = struct.unpack_from(f"<{n}i", ips)
            table = sorted((ip_base + 4 * i + offsets[i], i) for i in range(n))
            self._orc = ([ip for ip, _ in table], [i for _, i in table], entries)
        keys, index, entries = self._orc
        at = bisect.bisect_right(keys, pc) - 1
        if at < 0:
            return None
        flags, = struct.unpack_from("<H", entries, 6 * index[at] + 4)
        if "end" not in orc_members:
            kind = (flags >> 8) & 7
            return {0: "undefined", 1: "end"}.get(kind, "defined")
        end = (flags >> (11 if "signal" in orc_members else 10)) & 1
        if end:
            return "end"
        return "undefined" if flags & 0xf == 0 else "defined"

    def direct_call_target(self, return_address):
        """The target of the 5-byte direct call (e8 rel32) that ends at return_address, or
        None where the bytes before it are no such call."""
        code = self.read(return_address - 5, 5)
        if not code or code[0] != 0xe8:
            return None
        rel, = struct.unpack_from("<i", code, 1)
        return (return_address + rel) & ((1 << 64) - 1)
