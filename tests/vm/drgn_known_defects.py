# SPDX-License-Identifier: GPL-2.0
"""The ONE list of drgn's known defects that tests/vm/drgn_diff.py accepts as the reason
kstuck and drgn (Debian's python3-drgn 0.0.22) disagree on a dump.

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


DEFECTS = [
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
        applies=lambda env: True,
        matches=_lost_pc_after_irq_stack),
]


def explain(diff, env, view):
    """The id of the known defect that explains a difference, or None."""
    for d in DEFECTS:
        if diff.get("what") in d.kinds and d.applies(env) and d.matches(diff, env, view):
            return d.id
    return None
