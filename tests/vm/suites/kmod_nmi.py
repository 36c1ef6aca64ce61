# SPDX-License-Identifier: GPL-2.0
"""kstuck.ko on a kernel in one short boot (tests/vm/kmod_check.py): load, an NMI capture
of an idle machine, then of CPU 3 spinning with IRQs off and CPU 2 in an xcall to it;
no kernel complaint about kstuck.ko on the console."""
import re

from tests.vm.rig import TestResult

# The wedge itself causes soft-lockup and RCU-stall reports; anything else fails.
PROBLEMS = re.compile(r"(Oops|general protection|kernel BUG|BUG: (?!soft lockup)|WARNING:|"
                      r"RIP: .*(nmi_dump|kstuck_wd|kstuck_trace))")


def run(ctx):
    with ctx.boot("kmod_nmi") as g:
        g.wait_for(r"^KSTUCK-DONE", 240, user=True)
        results = g.results()
        problems = [line for line in g.text().splitlines() if PROBLEMS.search(line)]
    results.append(TestResult("kmod-nmi-console-clean", not problems, " | ".join(problems[:3])))
    return results
