# SPDX-License-Identifier: GPL-2.0
"""The ONE list of drgn's known defects that tests/vm/drgn_diff.py accepts as the reason
kstuck and drgn (Debian sid's python3-drgn 0.3.0; the 0.0.22 entries apply only to 0.0.22) disagree on a dump.

Each entry is narrow: the kernel (by its type information, not a version number), the
dump format and the kind of difference it covers, and it must show that the difference
is drgn's (e.g. drgn raised, or drgn's answer is provably wrong), never "ignore all".
A difference no entry explains fails the dump's drgn-diff test. Where the harness can
work around a defect (flattened format, QEMU's note pids, QEMU's empty utsname) it does
so in drgn_diff.py / drgn_view.py instead of listing it here.
"""
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class KnownDefect:
    id: str
    reason: str
    kinds: frozenset                        # difference kinds (drgn_diff.diff_views "what")
    applies: Callable                        # (env) -> bool: the kernel / dump it is known on
    matches: Callable                        # (difference, env, drgn view) -> bool: this is that defect


def _lost_pc_after_irq_stack(diff, env, view):
    """drgn agrees with kstuck frame for frame up to an interrupt handler's C body (which
    ran on the hardirq stack), then stops because it has no pc for the next frame, where
    kstuck continues with the handler's asm entry (asm_<handler>) on the interrupted stack."""
    stop = diff.get("drgn_stop") or ""
    n = len(diff.get("drgn", []))
    if not diff.get("same_prefix") or "program counter is not known" not in stop or not 0 < n < len(diff["kstuck"]):
        return False
    return diff["kstuck"][n] == "asm_" + diff["drgn"][n - 1]


def _orc_type_unknown(diff, env, view):
    """drgn raised on its ORC decoder and gave no trace at all."""
    return "unknown ORC entry type" in (diff.get("drgn_error") or "") and not diff.get("drgn")


def _module_frame_unnamed(diff, env, view):
    """drgn's frames equal kstuck's up to the first frame in a module, where drgn has no
    name for the same pc (or no frame) and ends, after at most one more frame with pc 0
    (what it unwinds from a module frame it has no unwind data for: seen on 6.12)."""
    i, dn = diff.get("first", 0), diff.get("drgn", [])
    mods, kp, dp = diff.get("kstuck_modules", []), diff.get("kstuck_pcs", []), diff.get("drgn_pcs", [])
    if i >= len(mods) or not mods[i] or len(dn) > i + 2:
        return False
    if any(n != "?" or int(pc or "0", 16) != 0 for n, pc in zip(dn[i + 1:], dp[i + 1:])):
        return False
    return i == len(dn) or (dn[i] == "?" and dp[i] == kp[i])


def _excluded_page_gap(diff, env, view):
    """drgn could not read a page the dump lacks (its FaultError says 'Excluded page'),
    either for this very stack (no frame at all), or for the struct module of the module
    the stack enters (drgn logged 'ignoring module: ... Excluded page' and names the
    frames from the first module frame on '?', at kstuck's pc)."""
    err = diff.get("drgn_error") or ""
    if "Excluded page" in err and not diff.get("drgn"):
        return True
    ignored = any("ignoring module" in p and "Excluded page" in p for p in view.get("problems", []))
    i, dn = diff.get("first", 0), diff.get("drgn", [])
    mods, kp, dp = diff.get("kstuck_modules", []), diff.get("kstuck_pcs", []), diff.get("drgn_pcs", [])
    return (ignored and i < len(mods) and bool(mods[i]) and i < len(dn) and dn[i] == "?"
            and i < len(dp) and dp[i] == kp[i] and all(n == "?" for n in dn[i:]))


def _kstuck_caller_is_proven(diff, env):
    """kstuck's frame #1 is a return address in the vmlinux right after a direct call to
    the start of frame #0's function (what kstuck's guess takes), with frame #0 in the
    vmlinux."""
    kp, mods, offs = diff.get("kstuck_pcs", []), diff.get("kstuck_modules", []), diff.get("kstuck_offsets", [])
    if len(kp) < 2 or any(mods[:2]) or not offs or offs[0] is None:
        return False
    return env.direct_call_target(int(kp[1], 16)) == int(kp[0], 16) - offs[0]


def _frame_pointer_guess_after_undefined_orc(diff, env, view):
    """drgn agrees with kstuck on frame #0, whose pc the vmlinux's ORC marks undefined;
    drgn then has no unwind rule (it uses DWARF CFI, and for asm without CFI its ORC
    reader returns "not found" for an undefined entry) and falls back to frame pointers on
    a kernel built without them: frame #1 is a pc in no function. kstuck's frame #1 is
    proven (_kstuck_caller_is_proven), or kstuck has no frame #1 (no such call on the
    stack, e.g. a thunk reached by a jump: it stops where ORC does)."""
    dn, kn = diff.get("drgn", []), diff.get("kstuck", [])
    kp, dp = diff.get("kstuck_pcs", []), diff.get("drgn_pcs", [])
    mods, offs = diff.get("kstuck_modules", []), diff.get("kstuck_offsets", [])
    if diff.get("first") != 1 or not kn or len(dn) < 2 or any(n != "?" for n in dn[1:]):
        return False
    if any(mods[:1]) or not offs or offs[0] is None or env.orc_kind(int(kp[0], 16)) != "undefined":
        return False
    return len(kn) == 1 or (dp[1] != kp[1] and _kstuck_caller_is_proven(diff, env))


def _end_hint_inside_a_function(diff, env, view):
    """drgn's trace ends at frame #0 because the vmlinux's ORC calls its pc the end of the
    stack; kstuck goes on to a proven caller (_kstuck_caller_is_proven)."""
    if diff.get("first") != 1 or len(diff.get("drgn", [])) != 1 or len(diff.get("kstuck", [])) < 2:
        return False
    return env.orc_kind(int(diff["kstuck_pcs"][0], 16)) == "end" and _kstuck_caller_is_proven(diff, env)


DEFECTS = [
    KnownDefect(
        id="drgn-0.0.22-physical-only-elf",
        reason="QEMU's dump-guest-memory with paging:false writes an ELF file whose PT_LOAD segments "
               "map physical memory only (vaddr 0). drgn 0.0.22 opens it but cannot translate the "
               "kernel's page-table address ('recursive address translation; page table may be missing "
               "from core dump'), and Debian 12's makedumpfile refuses it as input ('Can't get the "
               "number of PT_LOAD'), so the harness cannot convert it. Accepted only for an ELF dump "
               "without any kernel virtual address and that exact drgn error; the target suite compares "
               "the kdump-zlib dump of the same live guest taken just before.",
        kinds=frozenset({"dump-unreadable"}),
        applies=lambda env: env.container == "elf",
        matches=lambda diff, env, view: diff.get("physical_only_elf")
        and "recursive address translation" in diff.get("drgn_error", "")),
    KnownDefect(
        id="drgn-0.0.22-orc-v6.3-layout",
        reason="drgn 0.0.22 decodes only the ORC entry layout of Linux <= 6.2. Since Linux commit "
               "ffb1b4a41016 (\"x86/unwind/orc: Add 'signal' field to ORC metadata\", v6.3) and "
               "fb799447ae29 (v6.4, type:3) the bits moved; drgn prefers DWARF CFI, but where only ORC "
               "describes the code (entry_SYSCALL_64 and the other asm entries) it raises 'unknown ORC "
               "entry type 3' and returns no trace at all (seen on 6.12 and 7.3: every user task's "
               "stack). Accepted only on a kernel whose struct orc_entry has 'signal', and only when "
               "drgn raised that error.",
        kinds=frozenset({"cpu-stack", "task-stack"}),
        applies=lambda env: env.drgn == "0.0.22" and env.has_member("struct orc_entry", "signal"),
        matches=_orc_type_unknown),
    KnownDefect(
        id="drgn-0.0.22-module-memory",
        reason="drgn 0.0.22 finds loaded modules through struct module's core_layout; Linux commit "
               "ac3b43283923 (\"module: replace module_layout with module_memory\", v6.4) replaced it "
               "with mem[], so drgn loads no module's symbols or debug info: a frame in a module has no "
               "name and drgn cannot unwind past it. Accepted only on a kernel whose struct module has "
               "no core_layout, and only when drgn agrees with kstuck up to that frame (same pc).",
        kinds=frozenset({"cpu-stack", "task-stack"}),
        applies=lambda env: (env.drgn == "0.0.22" and env.has_member("struct module", "mem")
                             and not env.has_member("struct module", "core_layout")),
        matches=_module_frame_unnamed),
    KnownDefect(
        id="drgn-0.0.22-irq-stack-return",
        reason="drgn 0.0.22 cannot unwind out of an IDT handler that ran on the hardirq stack "
               "(call_on_irqstack: the previous stack pointer is stored on the IRQ stack): the frame "
               "after e.g. sysvec_apic_timer_interrupt gets no program counter and the trace ends there "
               "(seen on 6.1 QEMU dumps: 'LookupError: program counter is not known'). kstuck goes on "
               "through asm_sysvec_apic_timer_interrupt into the interrupted task, like the kernel's own "
               "backtraces. Accepted only when drgn's frames equal kstuck's up to that handler and "
               "kstuck's next frame is the handler's asm_ entry.",
        kinds=frozenset({"cpu-stack", "task-stack"}),
        applies=lambda env: env.drgn == "0.0.22",
        matches=_lost_pc_after_irq_stack),
]


DEFECTS.append(KnownDefect(
    id="drgn-undefined-orc-frame-pointer-fallback",
    reason="drgn (0.3.0 as well as 0.0.22) unwinds kernel code by DWARF CFI, and by ORC where the vmlinux "
           "has no CFI (asm such as the retpoline __x86_indirect_thunk_*, whose first instructions objtool "
           "marks UNWIND_HINT_UNDEFINED since Linux 6.4). drgn's ORC reader returns 'not found' for an "
           "undefined entry, and drgn then guesses with frame pointers, which Debian's kernels do not keep: "
           "its next pc is in no function ('?'). Seen in CI on a 7.3 QEMU dump: CPU 0 in the timer tick, "
           "kstuck's frame #1 sched_tick (which calls task_tick through __x86_indirect_thunk_rax), drgn's "
           "'?'. Accepted only "
           "when the vmlinux's own ORC marks kstuck's (and drgn's) frame #0 undefined, drgn names every "
           "frame after it '?', and kstuck's frame #1 follows a direct call to frame #0's function in the "
           "vmlinux's code, or kstuck stopped there (no such call on the stack: it claims no caller).",
    kinds=frozenset({"cpu-stack", "task-stack"}),
    applies=lambda env: env.vmlinux is not None,
    matches=_frame_pointer_guess_after_undefined_orc))


DEFECTS.append(KnownDefect(
    id="orc-end-hint-inside-a-thunk",
    reason="Not drgn's defect: the kernel's own annotation. Up to Linux 6.3 objtool's UNWIND_HINT_EMPTY, "
           "on asm without unwind information such as the retpoline __x86_indirect_thunk_* of 6.1 and "
           "5.10, reads as 'end of stack' in ORC: drgn (and the kernel's own unwinder) stop there. A CPU "
           "stopped inside such a thunk still has its caller's return address on the stack; kstuck takes "
           "the first stack word that follows a direct call to the thunk and marks the frames after it "
           "unreliable. Accepted only when the vmlinux's ORC says 'end' at frame #0, drgn's trace is that "
           "one frame, and kstuck's frame #1 follows a direct call to frame #0's function in the "
           "vmlinux's code.",
    kinds=frozenset({"cpu-stack", "task-stack"}),
    applies=lambda env: env.vmlinux is not None,
    matches=_end_hint_inside_a_function))


# Not drgn's defects: the dump's own gaps, accepted only where kstuck's report says the dump
# lacks pages too (env.kstuck_excluded), so neither tool passes a gap off as data.
DEFECTS.append(KnownDefect(
    id="dump-excluded-pages",
    reason="makedumpfile -d 31 (Debian 13's 1.7.6 and sid's 1.7.8 alike) leaves out some pages of live slab "
           "objects on 7.x kernels: the second page of task_structs, IDR nodes, struct module. drgn reads "
           "some fields kstuck does not need from those pages and stops with 'Excluded page' (a task's "
           "stack, or a module it then ignores, so it names that module's frames '?'). Accepted only when "
           "drgn's own error or log names an excluded page and kstuck's report lists pages excluded from "
           "the dump among its problems.",
    kinds=frozenset({"cpu-stack", "task-stack"}),
    applies=lambda env: env.kstuck_excluded,
    matches=_excluded_page_gap))


def explain(diff, env, view):
    """The id of the known defect that explains a difference, or None."""
    for d in DEFECTS:
        if diff.get("what") in d.kinds and d.applies(env) and d.matches(diff, env, view):
            return d.id
    return None


def _pc_from_no_registers(diff, env, view):
    """kstuck has no stack for a running task whose CPU saved no registers; drgn gives one
    frame named '?' at a pc that is no kernel text address at all."""
    pcs = diff.get("drgn_pcs", [])
    return (not diff.get("kstuck") and diff.get("drgn") == ["?"] and len(pcs) == 1
            and not 0xffffffff80000000 <= int(pcs[0] or "0", 16) < 0xffffffffff000000)


DEFECTS.append(KnownDefect(
    id="drgn-stack-of-cpu-without-note",
    reason="A CPU that never answered the crash NMI (the kmod_safety panic holds one inside an NMI "
           "handler) leaves no register note in the kdump. kstuck reports that CPU's registers as "
           "missing and gives its running task no stack; drgn 0.3.0 still returns one frame for that "
           "task, at a pc outside the kernel's text (a direct-map address: seen 0xffff896bfc3a3440), "
           "which no CPU executes. Accepted only for that one frame, named '?', at a non-text pc, "
           "where kstuck has no frame at all.",
    kinds=frozenset({"cpu-stack", "task-stack"}),
    applies=lambda env: True,
    matches=_pc_from_no_registers))


def _new_task_first_frame(diff, env, view):
    """A task that never ran: kstuck's one frame is the fork return, drgn's is '?' at the
    same pc."""
    kp, dp = diff.get("kstuck_pcs", []), diff.get("drgn_pcs", [])
    return (diff.get("kstuck") in (["ret_from_fork"], ["ret_from_fork_asm"]) and diff.get("drgn") == ["?"]
            and len(kp) == 1 and kp == dp and diff.get("first") == 0)


DEFECTS.append(KnownDefect(
    id="drgn-new-task-return-address",
    reason="A task forked but never scheduled (the witness suite's shell forks one as the panic comes) "
           "has thread.sp at the inactive_task_frame copy_thread() wrote, whose ret_addr is "
           "ret_from_fork's (6.5+: ret_from_fork_asm's) first byte: __switch_to_asm will 'return' "
           "there, nothing ever called it. drgn 0.3.0 symbolizes every non-interrupted frame at pc - 1 "
           "('could not find symbol containing 0xffffffff810032cf', the gap before ret_from_fork on "
           "6.1) and names the frame '?'. Accepted only for that single frame, at the same pc in both "
           "tools, where kstuck names it the fork return.",
    kinds=frozenset({"task-stack"}),
    applies=lambda env: True,
    matches=_new_task_first_frame))
