# SPDX-License-Identifier: GPL-2.0
"""Witness: the CPUs that only watched. Each case is one in-guest kdump cycle
(tests/vm/kdump.py, guest script tests/vm/guest/witness_kdump.sh) that also takes a
QEMU dump of the same live state just before the sysrq-c panic from CPU 0; both dumps
are checked, and each is compared with drgn (tests/vm/drgn_diff.py).

- idle: a healthy guest with wakeups in flight between CPUs 0 and 1 panics on CPU 0.
  The panicking CPU is a witness, not a suspect: `kstuck hang` must give no verdict
  (NONE), whatever is queued on it; on the kdump its stack must reach the sysrq handler
  that panicked, run by the panicking shell (KSTUCK-TRUTH panicker).
- offline: CPU 1 is offlined before kstuck_scenario starts (IRQs-off spinner on CPU 3,
  xcall waiter on CPU 2, a mutex owner and waiter). kdump has no register note for the
  offline CPU, so notes taken by index would shift onto the wrong CPUs: every online
  CPU's registers must be its own (the register note whose pid is the CPU's current
  task, drgn's per-CPU crash_notes), and its current task and stack right.

Re-check kept dumps without booting: python3 -m tests.vm.suites.witness --check BUILD [CLI]
"""
import json
import subprocess
import sys
from pathlib import Path

from tests.vm import drgn_diff, dump_check, kdump, rig
from tests.vm.rig import RigError, TestResult
from tests.vm.suites import hang as hang_suite
from tests.vm.suites import kdump as kdump_suite

CASES = ("idle", "offline")
GUEST_CHECKS = {"idle": ("crashkernel-reserved", "kexec-load", "kexec-crash-loaded", "witness-started",
                         "host-dump-taken"),
                "offline": ("crashkernel-reserved", "kexec-load", "kexec-crash-loaded", "cpu1-offline",
                            "scenario-insmod", "witness-started", "host-dump-taken")}


def _int(truth, key, default=-1):
    try:
        return int(truth.get(key, default))
    except ValueError:
        return default


def _functions(stack):
    return [f.get("function") or "" for f in (stack or {}).get("frames", [])]


def check_notes(name, fmt, dump, case, truth):
    """The dump's own register notes: QEMU writes one per vCPU; kdump one per CPU that
    was online at the panic (3 with CPU 1 offline), with the panicking shell's pid."""
    try:
        info = dump_check.read_dump(dump)
    except (dump_check.DumpFormatError, OSError) as e:
        return [TestResult(f"{name}-container", False, str(e))], None
    pids = [p for p, _ in info.prstatus]
    want = 3 if case == "offline" and fmt == "kdump" else 4
    out = [TestResult(f"{name}-register-notes", len(pids) == want, f"note pids={pids}, want {want} notes")]
    if fmt == "kdump":
        panicker = _int(truth, "panicker.pid")
        out.append(TestResult(f"{name}-panicker-note", panicker in pids, f"note pids={pids} panicker={panicker}"))
    return out, info


def check_registers(name, fmt, report, info, truth):
    """Each CPU's registers are the ones saved for it: on a kdump, the note whose pid is
    that CPU's current task (every non-idle CPU); on a QEMU dump, vCPU N's note."""
    out = []
    cpus = {c.get("cpu"): c for c in report.get("cpus", [])}
    notes = info.prstatus if info else []
    bad, checked = [], 0
    # A kdump's idle CPUs all have pid 0 in their notes: only a CPU running a task is
    # matched by pid here (drgn's per-CPU crash_notes check the idle ones, drgn-diff-*).
    want = len(cpus) if fmt == "qemu" else sum(1 for c in cpus.values() if c.get("pid"))
    for cpu, c in sorted(cpus.items()):
        if fmt == "qemu":
            note = notes[cpu] if cpu is not None and cpu < len(notes) else None
        else:
            pid = c.get("pid")
            match = [n for n in notes if n[0] == pid] if pid else []
            note = match[0] if len(match) == 1 else None
        if note is None:
            continue
        checked += 1
        if not c.get("has_registers") or int(str(c.get("rip", "0")), 16) != note[1]:
            bad.append(f"cpu {cpu} pid {c.get('pid')}: rip={c.get('rip')} note rip={note[1]:#x}")
    out.append(TestResult(f"{name}-registers-by-identity", not bad and checked == want and want >= 1,
                          f"{checked} of {want} CPUs checked against their own note; "
                          + ("; ".join(bad) or "all match")))
    return out


def check_idle(name, fmt, hang, analyze, truth):
    out = [TestResult(f"{name}-hang-no-verdict", hang.get("verdict") == "NONE",
                      f"verdict={hang.get('verdict')} reason={hang.get('reason')} root_cause={hang.get('root_cause')}")]
    queued = [n for n in hang.get("nodes", []) if n.get("kind") == "xcall" and n.get("target_cpu") == 0]
    cpu0 = next((n for n in hang.get("nodes", []) if n.get("id") == "cpu:0"), {})
    out.append(TestResult(f"{name}-panicking-cpu-not-root-cause", hang.get("root_cause") != "cpu:0"
                          and not any(e.get("to") == "cpu:0" and e.get("kind") == "waits_for"
                                      for e in hang.get("edges", [])),
                          f"cpu:0 irqs_off={cpu0.get('irqs_off')} doing={cpu0.get('doing')}; "
                          f"{len(queued)} xcalls queued on CPU 0: {[n.get('func') for n in queued][:4]}"))
    if fmt != "qemu":
        c0 = next((c for c in analyze.get("cpus", []) if c.get("cpu") == 0), {})
        fns = _functions(c0.get("stack"))
        panicker = _int(truth, "panicker.pid")
        out.append(TestResult(f"{name}-panicking-cpu", c0.get("pid") == panicker and "sysrq_handle_crash" in fns,
                              f"cpu 0: pid={c0.get('pid')} (panicker {panicker}) stack={fns[:8]}"))
    return out


def check_offline(name, fmt, hang, analyze, truth):
    cpus = {c.get("cpu"): c for c in analyze.get("cpus", [])}
    out = [TestResult(f"{name}-online-cpus", sorted(cpus) == [0, 2, 3] and all(c.get("has_registers")
                                                                            for c in cpus.values()),
                      f"cpus={sorted(cpus)} has_registers={[c.get('has_registers') for c in cpus.values()]}")]
    for role, fn in (("irqoff_spinner", "kstuck_scenario_irqoff_spin"), ("xcall_waiter", "smp_call_function_single")):
        cpu, pid = _int(truth, f"{role}.cpu"), _int(truth, f"{role}.pid")
        c = cpus.get(cpu, {})
        fns = _functions(c.get("stack"))
        ok_fn = rig.in_xcall_wait(fns) if role == "xcall_waiter" else fn in fns
        out.append(TestResult(f"{name}-{role}-cpu", c.get("pid") == pid and ok_fn,
                              f"cpu {cpu}: pid={c.get('pid')} (truth {pid}) stack={fns[:6]}"))
    if fmt != "qemu":
        c0 = cpus.get(0, {})
        fns = _functions(c0.get("stack"))
        panicker = _int(truth, "panicker.pid")
        out.append(TestResult(f"{name}-panicking-cpu", c0.get("pid") == panicker and "sysrq_handle_crash" in fns,
                              f"cpu 0: pid={c0.get('pid')} (panicker {panicker}) stack={fns[:8]}"))
    out += [TestResult(f"{name}-hang-{r.name}", r.passed, r.detail) for r in hang_suite.check_xcall(hang, truth)]
    out += kdump_suite.check_hang_mutex(name, hang, truth)
    return out


def check_dump(ctx_or_none, name, case, fmt, dump, cli, vmlinux, module_dir, truth):
    out, info = check_notes(name, fmt, dump, case, truth)
    analyze, detail = kdump_suite.run_cli(cli, "analyze", vmlinux, module_dir, dump)
    out.append(TestResult(f"{name}-analyze-runs", analyze is not None, detail))
    hang, detail = kdump_suite.run_cli(cli, "hang", vmlinux, module_dir, dump)
    out.append(TestResult(f"{name}-hang-runs", hang is not None, f"{detail} verdict={hang and hang.get('verdict')}"))
    if analyze is None or hang is None:
        return out
    out += check_registers(name, fmt, analyze, info, truth)
    out += (check_idle if case == "idle" else check_offline)(name, fmt, hang, analyze, truth)
    out += drgn_diff.compare(ctx_or_none, dump, vmlinux, module_dir, label=name, cli=cli)
    if name == "offline-qemu":
        # The differential itself must be able to fail: kstuck's answers altered on this
        # real dump (it has a mutex with an owner and a waiter) each give a difference.
        out.append(drgn_diff.selftest_result(dump, vmlinux, module_dir, cli, name))
    return out


def check_case(case, cycle_dir, cli, kernel, module_dir, ctx=None):
    truth = json.loads((cycle_dir / "truth.json").read_text())
    out = []
    for fmt in ("qemu", "kdump"):
        dump = cycle_dir / f"vmcore.{fmt}"
        if dump.exists():
            out += check_dump(ctx, f"{case}-{fmt}", case, fmt, dump, cli, kernel.vmlinux, module_dir, truth)
        else:
            out.append(TestResult(f"{case}-{fmt}-dump", False, f"no {dump.name}"))
    return out


def run(ctx):
    results = []
    art = kdump.prepare(ctx.kernel, ctx.build)
    module_dir = art.scenarios[0].parent
    for case in CASES:
        cycle_dir = ctx.out / f"witness-{case}"
        try:
            r = kdump.kdump_cycle(art, cycle_dir, panic="sysrq", scenarios=0, qemu_dump=True, formats=("kdump",),
                                  nmi=False, suite="witness_kdump", module="none",
                                  append_extra=f"kstuck.witness={case}")
        except RigError as e:
            results.append(TestResult(f"{case}-kdump-cycle", False, str(e)))
            continue
        (cycle_dir / "truth.json").write_text(json.dumps(r.truth, indent=1, sort_keys=True))
        results += [TestResult(f"{case}-guest-{t.name}", t.passed, t.detail) for t in r.tests]
        seen = {t.name for t in r.tests}
        results += [TestResult(f"{case}-guest-{n}", False, "line missing from the console")
                    for n in GUEST_CHECKS[case] if n not in seen]
        results.append(TestResult(f"{case}-capture-kdump", "kdump" in r.dumps
                                  and r.capture.get("kdump", "").startswith("rc=0"),
                                  r.capture.get("kdump", "no KSTUCK-CAPTURE line")))
        results += check_case(case, cycle_dir, ctx.kstuck_cli, ctx.kernel, module_dir, ctx)
    return results


def main():
    """Re-checks kept cycles: python3 -m tests.vm.suites.witness --check BUILD [CLI]."""
    build = Path(sys.argv[2])
    cli = Path(sys.argv[3]) if len(sys.argv) > 3 else build / "release" / "cli" / "kstuck"
    kernel = rig.fetch_kernel()
    failed = 0
    for case in CASES:
        cycle_dir = build / "vm-out" / f"witness-{case}"
        if not (cycle_dir / "truth.json").exists():
            continue
        for r in check_case(case, cycle_dir, cli, kernel, build / "scenarios" / kernel.kver):
            failed += not r.passed
            print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--check":
    sys.exit(main())
