# SPDX-License-Identifier: GPL-2.0
"""Trace: listings, input errors, exact syscall counts, function events (also in NMI),
and the seed's torture: enable/teardown loops racing listings and NMI captures for
three minutes of guest time, then a clean unload and a quiet console."""
import os
import re

from tests.vm.rig import RigError, TestResult

TORTURE_SECONDS = int(os.environ.get("KSTUCK_TORTURE_SECONDS", "180"))
ACCEL = os.environ.get("KSTUCK_TRACE_ACCEL", "tcg,thread=single")


def run(ctx):
    results = []
    # Single-threaded TCG: with one host thread per vCPU, QEMU 7.2 kept two vCPUs
    # looping on an int3 that text_poke had already replaced by a nop (memory showed the
    # nop, no patcher was running): an emulator race, not a guest one. See the report.
    append = f"kstuck.torture={TORTURE_SECONDS}"
    if os.environ.get("KSTUCK_TRACE_TORTURE_MODE") == "tracefs":
        append += " kstuck.torture_mode=tracefs"
    with ctx.boot("trace", append=append, accel=ACCEL) as g:
        words = g.next_request(600)
        if words[:1] == ["nmi"]:
            # The unknown NMI's "Uhhuh" printk runs inside the NMI: the traced printk sees it.
            g.inject_nmi()
            g.reply("ok")
        else:
            g.reply("unexpected")
            results.append(TestResult("host-request", False, f"unexpected request {words}"))
        try:
            g.wait_for(r"^KSTUCK-DONE", TORTURE_SECONDS + 900, user=True)
        except RigError as e:
            results.append(TestResult("guest-finished", False, str(e)[-800:]))
        results += g.results()
        problems = g.console_problems()
        results.append(TestResult("console-clean", not problems,
                                  " | ".join(problems[:5]) if problems else "no oops, WARN, BUG or soft lockup"))
        for m in re.finditer(r"^KSTUCK-TRACE-\S+ .*$", g.user_text(), re.M):
            print(f"vm/trace: {m.group(0)}", flush=True)
    return results
