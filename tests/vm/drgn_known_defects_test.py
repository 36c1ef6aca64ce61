#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The known-defect entry for drgn's frame-pointer guess after an undefined ORC entry:
it explains exactly that difference, decided from a vmlinux (a small ELF file built here
with the sections the kernel's has), and nothing near it."""
import json
import struct
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.vm import drgn_known_defects  # noqa: E402
from tests.vm.drgn_diff import Env  # noqa: E402
from tests.vm.vmlinux_text import VmlinuxText  # noqa: E402

TEXT = 0xffffffff81000000
CALLER = TEXT + 0x100           # sched_tick
THUNK = TEXT + 0x200            # __x86_indirect_thunk_rax
CALL_AT = CALLER + 0x9e         # call THUNK; returns to CALLER + 0xa3
RETURN = CALL_AT + 5
SLIDE = 0x9200000              # KASLR: runtime = link-time + SLIDE
NEW_LAYOUT = ["sp_offset", "bp_offset", "sp_reg", "bp_reg", "type", "signal"]
OLD_LAYOUT = ["sp_offset", "bp_offset", "sp_reg", "bp_reg", "type", "end"]


def _elf(path, orc_rows, new_layout=True):
    """An ELF64 file: one PT_LOAD of .text (with CALL_AT calling THUNK), and the ORC
    tables for orc_rows [(ip, kind)] in the 6.4+ or the older entry layout."""
    text = bytearray(b"\x90" * 0x400)
    text[CALL_AT - TEXT:CALL_AT - TEXT + 5] = b"\xe8" + struct.pack("<i", THUNK - RETURN)
    orc_ip_addr = TEXT + 0x1000
    ips = b"".join(struct.pack("<i", ip - (orc_ip_addr + 4 * i)) for i, (ip, _) in enumerate(orc_rows))
    flags = {"undefined": 0, "end": 1 << 8, "call": 2 << 8} if new_layout else {
        "undefined": 0, "end": 1 << 10, "call": 5}
    entries = b"".join(struct.pack("<hhH", 8, 0, flags[kind]) for _, kind in orc_rows)
    names = b"\0.text\0.orc_unwind_ip\0.orc_unwind\0.shstrtab\0"
    body = [(b".text", 1, TEXT, bytes(text)), (b".orc_unwind_ip", 1, orc_ip_addr, ips),
            (b".orc_unwind", 1, orc_ip_addr + 0x1000, entries), (b".shstrtab", 3, 0, names)]
    data, offsets, off = b"", [], 64 + 56
    for _, _, _, blob in body:
        offsets.append(off + len(data))
        data += blob
    shoff = off + len(data)
    sh = b"\0" * 64
    for (name, stype, addr, blob), o in zip(body, offsets):
        sh += struct.pack("<IIQQQQIIQQ", names.index(b"\0" + name + b"\0") + 1, stype, 0, addr, o, len(blob), 0, 0, 1, 0)
    eh = (b"\x7fELF\x02\x01\x01" + b"\0" * 9
          + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, TEXT, 64, shoff, 0, 64, 56, 1, 64, len(body) + 1, len(body)))
    ph = struct.pack("<IIQQQQQQ", 1, 5, offsets[0], TEXT, TEXT, len(text), len(text), 0x1000)
    Path(path).write_bytes(eh + ph + data + sh)


def _diff(**over):
    d = {"what": "cpu-stack", "key": 0, "first": 1, "same_prefix": False,
         "kstuck": ["__x86_indirect_thunk_rax", "sched_tick", "update_process_times", "tick_nohz_handler"],
         "drgn": ["__x86_indirect_thunk_rax", "?"],
         "kstuck_pcs": [hex(THUNK + SLIDE), hex(RETURN + SLIDE), hex(TEXT + SLIDE + 0x300), hex(TEXT + SLIDE + 0x380)],
         "drgn_pcs": [hex(THUNK + SLIDE), "0xffff8880deadbeef"],
         "kstuck_modules": ["", "", "", ""], "kstuck_offsets": [0, 0xa3, 0x10, 0x20]}
    d.update(over)
    return d


class UndefinedOrcFramePointerGuess(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.vmlinux = Path(self.tmp.name) / "vmlinux"
        _elf(self.vmlinux, [(TEXT, "call"), (THUNK, "undefined"), (THUNK + 10, "call"), (THUNK + 0x20, "call")])
        self.env = Env("kdump", True, "7.3", {"struct orc_entry": NEW_LAYOUT}, "0.3.0", (), self.vmlinux, SLIDE)

    def tearDown(self):
        self.tmp.cleanup()

    def explain(self, diff, env=None):
        return drgn_known_defects.explain(diff, env or self.env, {})

    def test_the_ci_difference_is_explained(self):
        self.assertEqual(self.explain(_diff()), "drgn-undefined-orc-frame-pointer-fallback")
        self.assertEqual(self.explain(_diff(what="task-stack", key="0 swapper/0")),
                         "drgn-undefined-orc-frame-pointer-fallback")

    def test_inside_the_undefined_range_too(self):
        self.assertEqual(self.explain(_diff(kstuck_pcs=[hex(THUNK + SLIDE + 6)] + _diff()["kstuck_pcs"][1:],
                                            drgn_pcs=[hex(THUNK + SLIDE + 6), "0x1"], kstuck_offsets=[6, 0xa3, 0, 0])),
                         "drgn-undefined-orc-frame-pointer-fallback")

    def test_kstuck_stopping_on_the_undefined_entry_is_explained(self):
        d = _diff(kstuck=["__x86_indirect_thunk_rax"], kstuck_pcs=[hex(THUNK + SLIDE)], kstuck_modules=[""],
                  kstuck_offsets=[0])
        self.assertEqual(self.explain(d), "drgn-undefined-orc-frame-pointer-fallback")
        d.update(kstuck_pcs=[hex(THUNK + SLIDE + 10)], kstuck_offsets=[10])
        self.assertIsNone(self.explain(d))

    def test_a_defined_orc_entry_is_not_explained(self):
        d = _diff(kstuck_pcs=[hex(THUNK + SLIDE + 10)] + _diff()["kstuck_pcs"][1:], kstuck_offsets=[10, 0xa3, 0, 0])
        self.assertIsNone(self.explain(d))

    def test_kstuck_frame_one_must_follow_a_call_to_frame_zero(self):
        self.assertIsNone(self.explain(_diff(kstuck_pcs=[hex(THUNK + SLIDE), hex(RETURN + SLIDE + 1), "0x0", "0x0"])))
        self.assertIsNone(self.explain(_diff(kstuck_offsets=[4, 0xa3, 0, 0])))

    def test_drgn_naming_a_function_is_not_explained(self):
        self.assertIsNone(self.explain(_diff(drgn=["__x86_indirect_thunk_rax", "sched_tick"])))
        self.assertIsNone(self.explain(_diff(drgn=["__x86_indirect_thunk_rax", "?", "do_idle"],
                                             drgn_pcs=[hex(THUNK + SLIDE), "0x1", "0x2"])))

    def test_other_shapes_are_not_explained(self):
        self.assertIsNone(self.explain(_diff(first=0)))
        self.assertIsNone(self.explain(_diff(first=2)))
        self.assertIsNone(self.explain(_diff(kstuck_modules=["kstuck_scenario", "", "", ""])))
        self.assertIsNone(self.explain(_diff(drgn_pcs=[hex(THUNK + SLIDE), hex(RETURN + SLIDE)])))
        self.assertIsNone(self.explain(_diff(what="lock-owner")))

    def test_the_report_can_hold_the_env(self):
        self.assertIn(str(self.vmlinux), json.dumps(self.env.as_json()))

    def test_without_the_vmlinux_the_layout_or_the_kaslr_offset_nothing_is_explained(self):
        facts = {"struct orc_entry": NEW_LAYOUT}
        self.assertIsNone(self.explain(_diff(), Env("kdump", True, "7.3", facts, "0.3.0", (), self.vmlinux)))
        self.assertIsNone(self.explain(_diff(), Env("kdump", True, "7.3", facts, "0.3.0", (), self.vmlinux, 0)))
        self.assertIsNone(self.explain(_diff(), Env("kdump", True, "7.3", {"struct orc_entry": NEW_LAYOUT})))
        self.assertIsNone(self.explain(_diff(), Env("kdump", True, "7.3", {}, "0.3.0", (), self.vmlinux, SLIDE)))


class EndOfStackHintInAThunk(unittest.TestCase):
    """6.1: the thunk is UNWIND_HINT_EMPTY ('end'); drgn stops at frame #0, kstuck goes on."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        vmlinux = Path(self.tmp.name) / "vmlinux"
        _elf(vmlinux, [(TEXT, "call"), (THUNK, "end"), (THUNK + 0x20, "call")], new_layout=False)
        self.env = Env("kdump", True, "6.1", {"struct orc_entry": OLD_LAYOUT}, "0.3.0", (), vmlinux, SLIDE)

    def tearDown(self):
        self.tmp.cleanup()

    def test_drgn_stopping_where_kstuck_has_a_proven_caller_is_explained(self):
        d = _diff(drgn=["__x86_indirect_thunk_rax"], drgn_pcs=[hex(THUNK + SLIDE)], same_prefix=True,
                  kstuck_pcs=[hex(THUNK + SLIDE + 9)] + _diff()["kstuck_pcs"][1:], kstuck_offsets=[9, 0xa3, 0, 0])
        self.assertEqual(drgn_known_defects.explain(d, self.env, {}), "orc-end-hint-inside-a-thunk")
        # not when kstuck's frame #1 follows no call to the thunk, nor when drgn gave more
        bad = dict(d, kstuck_pcs=[d["kstuck_pcs"][0], hex(RETURN + SLIDE + 2)] + d["kstuck_pcs"][2:])
        self.assertIsNone(drgn_known_defects.explain(bad, self.env, {}))
        self.assertIsNone(drgn_known_defects.explain(dict(d, drgn=["__x86_indirect_thunk_rax", "?"]), self.env, {}))
        # nor where ORC is defined at frame #0
        moved = dict(d, kstuck_pcs=[hex(THUNK + SLIDE + 0x20)] + d["kstuck_pcs"][1:], kstuck_offsets=[0x20, 0, 0, 0])
        self.assertIsNone(drgn_known_defects.explain(moved, self.env, {}))


class OrcKinds(unittest.TestCase):
    def test_both_layouts(self):
        with tempfile.TemporaryDirectory() as tmp:
            new, old = Path(tmp) / "new", Path(tmp) / "old"
            rows = [(TEXT, "call"), (THUNK, "undefined"), (THUNK + 10, "end"), (THUNK + 0x20, "call")]
            _elf(new, rows)
            _elf(old, rows, new_layout=False)
            for path, layout in ((new, NEW_LAYOUT), (old, OLD_LAYOUT)):
                v = VmlinuxText(path)
                self.assertIsNone(v.orc_kind(TEXT - 1, layout))
                self.assertEqual([v.orc_kind(pc, layout) for pc in (TEXT, THUNK + 3, THUNK + 10, THUNK + 0x40)],
                                 ["defined", "undefined", "end", "defined"], path.name)
            v = VmlinuxText(new)
            self.assertEqual(v.direct_call_target(RETURN), THUNK)
            self.assertIsNone(v.direct_call_target(RETURN + 1))
            self.assertIsNone(v.direct_call_target(TEXT + 0x10000))


if __name__ == "__main__":
    unittest.main()
