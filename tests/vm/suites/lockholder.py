# SPDX-License-Identifier: GPL-2.0
"""Lockholder: spinlock holders found from code. kstuck_scenario_spinstatic takes a static
DEFINE_SPINLOCK with spin_lock() on CPU 2 and calls smp_call_function_single(3, ...,
wait=1) while CPU 3 spins on the same lock in spin_lock_irqsave(): both CPUs are wedged.
The lock's address is an immediate/RIP-relative operand at every use, in no register or
stack slot. kstuck_scenario_spinmember does the same with the lock inside a kmalloc'ed
struct reached through a pointer (base + offset).

Each scenario is dumped twice: a QMP dump of the live guest (hang_spinstatic.sh,
hang_spinmember.sh) and an in-guest kdump (kexec + makedumpfile -d 31, tests/vm/kdump.py).
`kstuck hang --json` on each must give DEADLOCK, inferred (its spinlock holder is a
deduction), with a cycle through both CPUs and the lock, both tasks named, the holder edge
from CPU 2's code (the lock call in kstuck_spinstatic_hold, the address recovered, no
unlock before the return address), and the waiter's lock from the lock call it has not
returned from. Every dump also goes through the drgn differential.

Re-check kept dumps without booting: python3 -m tests.vm.suites.lockholder --check BUILD [CLI]
"""
import json
import re
import sys
from pathlib import Path

from tests.vm import drgn_diff, kdump
from tests.vm.rig import RigError, TestResult
from tests.vm.suites import hang as hang_suite

# (name, module, guest script)
SCENARIOS = [("spinstatic", "kstuck_scenario_spinstatic", "hang_spinstatic"),
             ("spinmember", "kstuck_scenario_spinmember", "hang_spinmember")]


def _edges(report, frm, to, kind):
    return [e for e in report.get("edges", []) if e.get("from") == frm and e.get("to") == to and e.get("kind") == kind]


def _inferred(e):
    return bool(e.get("inferred")) or e.get("confidence") == "inferred"


def check_spin(report, truth, variant):
    """The checks of one dump of the spinstatic/spinmember deadlock against its truth."""
    out = []
    h = hang_suite._h
    hpid, wpid = int(truth.get("spinstatic_holder.pid", -1)), int(truth.get("spinstatic_waiter.pid", -2))
    hcpu, wcpu = int(truth.get("spinstatic_holder.cpu", 2)), int(truth.get("spinstatic_waiter.cpu", 3))
    lock = h(truth.get("spinstatic_holder.lock", "0"))
    nodes = hang_suite._nodes(report)
    lock_node = next((n for n in nodes.values() if n["kind"] == "spinlock" and h(n.get("address", "0") or "0") == lock), {})
    hc, wc, ln = f"cpu:{hcpu}", f"cpu:{wcpu}", lock_node.get("id")

    verdict, text = report.get("verdict"), report.get("verdict_text")
    # DEADLOCK, and inferred: its holder edge is a deduction. Before the verdict confidence
    # landed (no verdict_text/confidence in the JSON) the cycle and edges below carry it.
    if text is not None or report.get("confidence") is not None:
        ok = verdict == "DEADLOCK" and (text == "DEADLOCK (inferred)" or report.get("confidence") == "inferred")
    else:
        ok = verdict == "DEADLOCK"
    out.append(TestResult("verdict-deadlock-inferred", ok,
                          f"verdict={verdict} text={text} confidence={report.get('confidence')} "
                          f"reason={report.get('reason')}"[:300]))
    out.append(TestResult("lock-node", bool(lock_node) and (variant != "spinstatic" or
                                                             lock_node.get("symbol", "").startswith("kstuck_static_lock")),
                          f"want spinlock at {lock:#x}: {json.dumps(lock_node)[:200]}"))
    cycle = report.get("cycle", [])
    out.append(TestResult("cycle-both-cpus-and-lock", hc in cycle and wc in cycle and ln in cycle,
                          f"cycle={cycle} want {hc}, {wc}, {ln}"))
    out.append(TestResult("both-tasks-named", nodes.get(hc, {}).get("pid") == hpid and nodes.get(wc, {}).get("pid") == wpid,
                          f"{hc} pid={nodes.get(hc, {}).get('pid')} want {hpid}; "
                          f"{wc} pid={nodes.get(wc, {}).get('pid')} want {wpid}"))
    # The holder from CPU 2's code: the lock call in kstuck_spinstatic_hold, no unlock before
    # the return address, and how the address was recovered.
    owned = [e for e in report.get("edges", []) if e.get("from") == ln and e.get("kind") == "owned_by"]
    held = [e for e in owned if e.get("to") == hc]
    ev = held[0].get("evidence", "") if held else ""
    w = _edges(report, wc, ln, "waits_for")
    wev = w[0].get("evidence", "") if w else ""
    # Static: an immediate or RIP-relative operand. Member: a register whose value in the
    # frame is known and unchanged to the pc, and base + offset on at least one side.
    if variant == "spinstatic":
        how_ok = all("address immediate" in x or "address RIP-relative" in x for x in (ev, wev))
    else:
        how_ok = all(re.search(r"address r\w+(\+0x[0-9a-f]+)? \(r\w+ = 0x[0-9a-f]+, kept unchanged to the pc", x)
                     for x in (ev, wev)) and any(re.search(r"address r\w+\+0x[0-9a-f]+ ", x) for x in (ev, wev))
    out.append(TestResult("lock-address-recovered", how_ok, f"holder: {ev[:300]} | waiter: {wev[:300]}"))
    out.append(TestResult("holder-from-code", len(owned) == 1 and len(held) == 1 and _inferred(held[0])
                          and "spin_lock(" in ev and "at kstuck_spinstatic_hold+" in ev
                          and "no unlock before the return address" in ev,
                          json.dumps(owned)[:600]))
    out.append(TestResult("waiter-lock-from-code", len(w) == 1 and "spin_lock_irqsave(" in wev and "has not returned" in wev,
                          json.dumps(w)[:400]))
    return out


def _check(name, variant, cli, vmlinux, module_dir, dump, truth):
    report, err = hang_suite.analyse(cli, vmlinux, module_dir, dump)
    if report is None:
        return [TestResult(f"{name}-hang-runs", False, err)]
    out = [TestResult(f"{name}-hang-runs", True, f"verdict={report.get('verdict')} reason={report.get('reason')}"[:300])]
    return out + [TestResult(f"{name}-{r.name}", r.passed, r.detail) for r in check_spin(report, truth, variant)]


def run(ctx):
    results = []
    module_dir = ctx.scenarios[0].parent if ctx.scenarios else None
    (ctx.out / "lockholder.vmlinux").write_text(str(ctx.kernel.vmlinux))
    for variant, module, script in SCENARIOS:
        # The QMP dump of the live guest.
        try:
            guest_results, truth, dump = ctx.boot_and_dump(script)
            results += guest_results
            if dump:
                results += _check(f"{variant}-qemu", variant, ctx.kstuck_cli, ctx.kernel.vmlinux, module_dir, dump, truth)
                results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, module_dir, label=f"{variant}-qemu")
            else:
                results.append(TestResult(f"{variant}-qemu-dump", False, "the guest asked for no dump"))
        except RigError as e:
            results.append(TestResult(f"{variant}-qemu-boot", False, str(e)))
        # The in-guest kdump: sysrq c into the capture kernel, makedumpfile -c -d 31.
        try:
            art = kdump.prepare(ctx.kernel, ctx.build)
            cycle_dir = ctx.out / f"lockholder-kdump-{variant}"
            r = kdump.kdump_cycle(art, cycle_dir, panic="sysrq", scenarios=0, qemu_dump=False, formats=("kdump",),
                                  module=module)
            (cycle_dir / "truth.json").write_text(json.dumps(r.truth, indent=1, sort_keys=True))
            results += [TestResult(f"{variant}-kdump-guest-{t.name}", t.passed, t.detail) for t in r.tests]
            if "kdump" in r.dumps:
                moddir = art.scenarios[0].parent
                results += _check(f"{variant}-kdump", variant, ctx.kstuck_cli, ctx.kernel.vmlinux, moddir,
                                  r.dumps["kdump"], r.truth)
                results += drgn_diff.compare(ctx, r.dumps["kdump"], ctx.kernel.vmlinux, moddir,
                                             label=f"{variant}-kdump")
            else:
                results.append(TestResult(f"{variant}-kdump-capture", False, json.dumps(r.capture)[:300]))
        except RigError as e:
            results.append(TestResult(f"{variant}-kdump-cycle", False, str(e)))
    return results


def main():
    """Re-checks kept dumps: python3 -m tests.vm.suites.lockholder --check BUILD [CLI]."""
    build = Path(sys.argv[2])
    cli = Path(sys.argv[3]) if len(sys.argv) > 3 else build / "release" / "cli" / "kstuck"
    out = build / "vm-out"
    vmlinux = Path((out / "lockholder.vmlinux").read_text().strip())
    moddir = build / "scenarios" / vmlinux.parent.name
    failed = 0
    for variant, _, script in SCENARIOS:
        kept = [(f"{variant}-qemu", out / f"{script}.vmcore", out / f"{script}.truth.json"),
                (f"{variant}-kdump", out / f"lockholder-kdump-{variant}" / "vmcore.kdump",
                 out / f"lockholder-kdump-{variant}" / "truth.json")]
        for name, dump, truth in kept:
            if not dump.exists():
                print(f"SKIP {name}: no {dump}")
                continue
            for r in _check(name, variant, cli, vmlinux, moddir, dump, json.loads(truth.read_text())):
                failed += not r.passed
                print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--check":
        sys.exit(main())
    print(__doc__)
