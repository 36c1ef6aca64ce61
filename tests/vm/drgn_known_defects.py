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


DEFECTS = []


def explain(diff, env, view):
    """The id of the known defect that explains a difference, or None."""
    for d in DEFECTS:
        if diff.get("what") in d.kinds and d.applies(env) and d.matches(diff, env, view):
            return d.id
    return None
