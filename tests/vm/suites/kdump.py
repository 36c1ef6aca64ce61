# SPDX-License-Identifier: GPL-2.0
"""Kdump: the dumps customers send, on two kernels. One in-guest kdump cycle per kernel
(Debian 12's 6.1 and Debian 13's 6.12) with the stuck scenario live: the host takes a
QEMU kdump-zlib dump, then sysrq c panics into the capture kernel, which writes
makedumpfile -c -d 31, -F -c -d 31 and -E -d 31 files. A third cycle on 6.1 panics
through the hung-task detector (hung_task_panic=1) with only the mutex scenario.

Before the panic an external NMI (QMP inject-nmi) makes kstuck.ko snapshot every CPU.
Every file is first proven a real dump (container, header utsname, VMCOREINFO
OSRELEASE, crash-note pids = the scenario's tasks on their CPUs), then `kstuck analyze
--json` and `kstuck hang --json` must find the IRQs-off CPU's stack, the csd queued to
it, its waiter and the mutex owner/waiter of the ground truth, and `kstuck nmi show`
the NMI snapshot with the same CPUs.

Re-check kept dumps without booting: python3 -m tests.vm.suites.kdump --check BUILD [CLI]
"""
import json
import shutil
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.vm import drgn_diff, dump_check, kdump, rig
from tests.vm.rig import RigError, TestResult
from tests.vm.suites import hang as hang_suite

# kdump_cycle formats per kernel: ELF too, it is small enough at -d 31 (120-180 MB).
FORMATS = ("kdump", "flat", "elf")
# The container each file must have (QEMU 7.2 always writes the flattened format).
CONTAINER = {"qemu": "flattened-kdump", "kdump": "kdump", "flat": "flattened-kdump", "elf": "elf",
             "lzo": "kdump", "zstd": "kdump"}
# The page compression each kdump-format file must declare in its header.
COMPRESSION = {"qemu": "zlib", "kdump": "zlib", "flat": "zlib", "lzo": "lzo", "zstd": "zstd"}
# Rewritten on the host from the 6.1 cycle's ELF dump: (makedumpfile option, whose
# makedumpfile: None for the host's, "trixie" for Debian 13's, which has zstd).
RECOMPRESSED = {"lzo": ("-l", None), "zstd": ("-z", "trixie")}
GUEST_CHECKS = ("crashkernel-reserved", "kstuck-insmod", "kexec-load", "kexec-crash-loaded", "scenario-insmod",
                "scenario-started")


def _label(kver):
    return ".".join(kver.split(".")[:2]).split("-")[0]


def _int(truth, key, default=-1):
    try:
        return int(truth.get(key, default))
    except ValueError:
        return default


def check_container(name, fmt, path, kver, truth, panic):
    """The file is a real dump of this kernel, taken with the scenario live."""
    out = []
    try:
        info = dump_check.read_dump(path)
    except (dump_check.DumpFormatError, OSError) as e:
        return [TestResult(f"{name}-container", False, str(e))]
    size = Path(path).stat().st_size
    out.append(TestResult(f"{name}-container", info.fmt == CONTAINER[fmt], f"format={info.fmt} bytes={size}"))
    osrel = info.vmcoreinfo.get("OSRELEASE", "")
    out.append(TestResult(f"{name}-vmcoreinfo-osrelease", osrel == kver, f"OSRELEASE={osrel}"))
    if fmt in COMPRESSION:
        out.append(TestResult(f"{name}-compression-{COMPRESSION[fmt]}", info.compression == COMPRESSION[fmt],
                              f"header status says {info.compression}"))
    if fmt in ("kdump", "flat", *RECOMPRESSED):
        # Real kdump headers carry utsname and the -d level (QEMU's header is empty).
        out.append(TestResult(f"{name}-header-release", info.release == kver, f"utsname.release={info.release!r}"))
        out.append(TestResult(f"{name}-dump-level-31", info.dump_level == 31, f"dump_level={info.dump_level}"))
    pids = [p for p, _ in info.prstatus]
    out.append(TestResult(f"{name}-crash-notes-per-cpu", len(pids) == 4, f"pids={pids}"))
    if fmt != "qemu" and len(pids) == 4 and panic == "sysrq":
        # The capture kernel's notes name the task each CPU ran when it stopped
        # (QEMU's notes carry pid = vCPU + 1 instead, so they are not checked).
        want = {_int(truth, "irqoff_spinner.cpu"): _int(truth, "irqoff_spinner.pid"),
                _int(truth, "xcall_waiter.cpu"): _int(truth, "xcall_waiter.pid")}
        bad = {c: p for c, p in want.items() if not (0 <= c < 4 and pids[c] == p)}
        out.append(TestResult(f"{name}-crash-note-pids", not bad, f"pids by cpu={pids} truth cpu->pid={want}"))
    elif fmt != "qemu" and len(pids) == 4:
        # Hung-task panic: khungtaskd panics on some CPU, the others may be idle (pid 0).
        out.append(TestResult(f"{name}-crash-note-pids", any(p > 0 for p in pids), f"pids by cpu={pids}"))
    return out


def run_cli(cli, command, kernel_vmlinux, module_dir, dump, timeout=300):
    """Runs `kstuck COMMAND DUMP --vmlinux ... --json`; returns (dict or None, detail)."""
    cmd = [str(cli), command, str(dump), "--vmlinux", str(kernel_vmlinux), "--json"]
    if module_dir:
        cmd += ["--module-dir", str(module_dir)]
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"kstuck {command} timed out after {timeout}s"
    secs = time.monotonic() - t
    try:
        return json.loads(p.stdout), f"exit={p.returncode} {secs:.1f}s"
    except json.JSONDecodeError:
        return None, f"exit {p.returncode} {secs:.1f}s: {p.stderr.strip()[-300:]} {p.stdout[:200]}"


def _functions(stack):
    return [f.get("function") or f.get("symbol", "") for f in (stack or {}).get("frames", [])]


def check_analyze(name, report, kver, truth, panic):
    out = []
    system = report.get("system", {})
    out.append(TestResult(f"{name}-analyze-release", system.get("release") == kver, f"release={system.get('release')}"))
    pm = system.get("panic_message", "") or ""
    if name.endswith("-qemu"):
        # QEMU dumped the live system before the panic: there is no panic message yet.
        out.append(TestResult(f"{name}-analyze-no-panic-message", pm == "", f"panic_message={pm[:120]!r}"))
    else:
        want = "sysrq triggered crash" if panic == "sysrq" else "hung_task: blocked tasks"
        out.append(TestResult(f"{name}-analyze-panic-message", want in pm, f"panic_message={pm[:120]!r} want {want!r}"))
        # The panicking CPU's crash note is saved inside __crash_kexec, which ORC does not
        # describe on 6.1: the stack must still reach the code that panicked.
        caller = "sysrq_handle_crash" if panic == "sysrq" else "watchdog"
        panicking = [(c.get("cpu"), _functions(c.get("stack"))) for c in report.get("cpus", [])
                     if _functions(c.get("stack"))[:1] == ["__crash_kexec"]]
        out.append(TestResult(f"{name}-analyze-panicking-cpu-stack",
                              len(panicking) == 1 and caller in [f.split(".")[0] for f in panicking[0][1]],
                              f"want {caller} below __crash_kexec: {panicking}"[:400]))
    cpus = {c.get("cpu"): c for c in report.get("cpus", [])}
    tasks = {t.get("pid"): t for t in report.get("tasks", [])}
    if panic == "sysrq":
        spin_cpu, spin_pid = _int(truth, "irqoff_spinner.cpu"), _int(truth, "irqoff_spinner.pid")
        c = cpus.get(spin_cpu, {})
        fns = _functions(c.get("stack"))
        out.append(TestResult(f"{name}-analyze-spinner-cpu",
                              c.get("pid") == spin_pid and c.get("irqs_off") is True
                              and "kstuck_scenario_irqoff_spin" in fns,
                              f"cpu {spin_cpu}: pid={c.get('pid')} (truth {spin_pid}) irqs_off={c.get('irqs_off')} "
                              f"stack={fns[:6]}"))
        x_cpu, x_pid = _int(truth, "xcall_waiter.cpu"), _int(truth, "xcall_waiter.pid")
        c = cpus.get(x_cpu, {})
        fns = _functions(c.get("stack"))
        out.append(TestResult(f"{name}-analyze-xcall-cpu",
                              c.get("pid") == x_pid and rig.in_xcall_wait(fns),
                              f"cpu {x_cpu}: pid={c.get('pid')} (truth {x_pid}) stack={fns[:6]}"))
    w_pid, o_pid = _int(truth, "mutex_waiter.pid"), _int(truth, "mutex_owner.pid")
    w = tasks.get(w_pid, {})
    # D, or '?' when the dump lacks the page with its state (makedumpfile -d 31 drops live
    # slab pages on 7.x) and the task's problems say so: unknown, never a wrong letter.
    state_lost = w.get("state") == "?" and any("excluded from dump" in p and "state" in p
                                               for p in w.get("problems", []))
    out.append(TestResult(f"{name}-analyze-mutex-waiter-D", w.get("state") == "D" or state_lost,
                          f"pid {w_pid}: state={w.get('state')} comm={w.get('comm')}"
                          + (f" ({w.get('problems')[0][:160]})" if state_lost else "")))
    out.append(TestResult(f"{name}-analyze-mutex-owner-listed", o_pid in tasks,
                          f"pid {o_pid}: {tasks.get(o_pid, {}).get('comm')}"))
    return out


def check_hang_mutex(name, report, truth):
    """task(waiter) -waits_for-> mutex(truth address) -owned_by-> task(owner)."""
    nodes = {n["id"]: n for n in report.get("nodes", [])}
    w_pid, o_pid = _int(truth, "mutex_waiter.pid"), _int(truth, "mutex_owner.pid")
    addr = int(truth.get("mutex_waiter.mutex", "0"), 16)
    waits = owner = None
    for e in report.get("edges", []):
        f, t = nodes.get(e.get("from"), {}), nodes.get(e.get("to"), {})
        if e.get("kind") == "waits_for" and f.get("pid") == w_pid and t.get("kind") == "mutex":
            waits = t
        if e.get("kind") == "owned_by" and f.get("kind") == "mutex" and int(f.get("address", "0"), 16) == addr:
            owner = t
    return [
        TestResult(f"{name}-hang-mutex-waiter", bool(waits) and int(waits.get("address", "0"), 16) == addr,
                   f"waiter {w_pid} waits for {waits and (waits.get('address'), waits.get('symbol'))} truth={addr:#x}"),
        TestResult(f"{name}-hang-mutex-owner", bool(owner) and owner.get("pid") == o_pid,
                   f"owner={owner and (owner.get('pid'), owner.get('comm'))} truth={o_pid}"),
    ]


def run_nmi_show(cli, kernel_vmlinux, dump, timeout=300):
    cmd = [str(cli), "nmi", "show", "--all", "--vmcore", str(dump), "--vmlinux", str(kernel_vmlinux), "--json"]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "kstuck nmi show timed out"
    try:
        return json.loads(p.stdout), f"exit={p.returncode}"
    except json.JSONDecodeError:
        return None, f"exit {p.returncode}: {p.stderr.strip()[-300:]} {p.stdout[:200]}"


def check_nmi(name, cli, kernel_vmlinux, dump, truth):
    """The snapshot kstuck.ko took at the injected NMI, read back from the dump: every
    CPU answered, the IRQs-off CPU ran the spinner in kstuck_scenario_irqoff_spin with
    interrupts disabled, the xcall CPU ran the waiter."""
    report, detail = run_nmi_show(cli, kernel_vmlinux, dump)
    out = [TestResult(f"{name}-nmi-show-runs", report is not None, detail)]
    if report is None:
        return out
    snaps = report.get("snapshots", [])
    snap = next((s for s in snaps if s.get("trigger") not in ("watchdog",)), None)
    out.append(TestResult(f"{name}-nmi-snapshot-complete", bool(snap) and snap.get("complete") is True
                          and snap.get("answered") == 4,
                          f"{len(snaps)} snapshots; first: trigger={snap and snap.get('trigger')} "
                          f"answered={snap and snap.get('answered')}/{snap and snap.get('requested')}"))
    if not snap:
        return out
    # Without crash_kexec_post_notifiers, panic() kexecs before the notifiers run: the
    # module's panic capture never happens, the dump holds only the earlier snapshots.
    panics = [x for x in snaps if x.get("trigger") == "panic"]
    out.append(TestResult(f"{name}-nmi-no-panic-snapshot-by-default", not panics,
                          f"triggers={[x.get('trigger') for x in snaps]}"))
    cpus = {c.get("cpu"): c for c in snap.get("cpus", [])}
    spin_cpu, spin_pid = _int(truth, "irqoff_spinner.cpu"), _int(truth, "irqoff_spinner.pid")
    c = cpus.get(spin_cpu, {})
    fns = [f.get("function", "") for f in c.get("frames", [])]
    out.append(TestResult(f"{name}-nmi-spinner-cpu", c.get("pid") == spin_pid and c.get("irqs_enabled") is False
                          and "kstuck_scenario_irqoff_spin" in fns,
                          f"cpu {spin_cpu}: pid={c.get('pid')} (truth {spin_pid}) irqs_enabled={c.get('irqs_enabled')} "
                          f"frames={fns[:6]}"))
    x_cpu, x_pid = _int(truth, "xcall_waiter.cpu"), _int(truth, "xcall_waiter.pid")
    c = cpus.get(x_cpu, {})
    fns = [f.get("function", "") for f in c.get("frames", [])]
    out.append(TestResult(f"{name}-nmi-xcall-cpu", c.get("pid") == x_pid and rig.in_xcall_wait(fns),
                          f"cpu {x_cpu}: pid={c.get('pid')} (truth {x_pid}) frames={fns[:6]}"))
    return out


def check_analysis(name, cli, kernel_vmlinux, module_dir, dump, kver, truth, panic):
    out = []
    report, detail = run_cli(cli, "analyze", kernel_vmlinux, module_dir, dump)
    out.append(TestResult(f"{name}-analyze-runs", report is not None, detail))
    if report is not None:
        out += check_analyze(name, report, kver, truth, panic)
    report, detail = run_cli(cli, "hang", kernel_vmlinux, module_dir, dump)
    out.append(TestResult(f"{name}-hang-runs", report is not None,
                          f"{detail} verdict={report and report.get('verdict')}"))
    if report is not None:
        if panic == "sysrq":
            out += [TestResult(f"{name}-hang-{r.name}", r.passed, r.detail) for r in hang_suite.check_xcall(report, truth)]
        out += check_hang_mutex(name, report, truth)
    if panic == "sysrq":
        out += check_nmi(name, cli, kernel_vmlinux, dump, truth)
    return out


def check_cycle(label, cycle_dir, cli, kernel, module_dir, panic):
    """All checks of one kept cycle folder (dumps + truth.json)."""
    truth = json.loads((cycle_dir / "truth.json").read_text())
    out = []
    for fmt in ("qemu", *FORMATS, *RECOMPRESSED):
        dump = cycle_dir / f"vmcore.{fmt}"
        if not dump.exists():
            continue
        name = f"{label}-{fmt}"
        out += check_container(name, fmt, dump, kernel.kver, truth, panic)
        out += check_analysis(name, cli, kernel.vmlinux, module_dir, dump, kernel.kver, truth, panic)
        out += drgn_diff.compare(None, dump, kernel.vmlinux, module_dir, label=name, cli=cli)
    return out


def check_panic_snapshot(name, cli, kernel_vmlinux, dump):
    """With crash_kexec_post_notifiers the panic notifier runs before kdump: the dump
    holds kstuck.ko's panic snapshot with the panicking CPU in sysrq's crash handler."""
    report, detail = run_nmi_show(cli, kernel_vmlinux, dump)
    out = [TestResult(f"{name}-nmi-show-runs", report is not None, detail)]
    if report is None:
        return out
    snaps = [x for x in report.get("snapshots", []) if x.get("trigger") == "panic"]
    out.append(TestResult(f"{name}-post-notifiers-panic-snapshot", len(snaps) == 1,
                          f"triggers={[x.get('trigger') for x in report.get('snapshots', [])]}"))
    cpus = snaps[0].get("cpus", []) if snaps else []
    stacks = {c.get("cpu"): [f.get("function", "") for f in c.get("frames", [])] for c in cpus}
    panicking = [c for c, fns in stacks.items() if "sysrq_handle_crash" in fns and "panic" in fns]
    out.append(TestResult(f"{name}-post-notifiers-panicking-cpu", len(panicking) == 1,
                          f"answered={snaps and snaps[0].get('answered')}/{snaps and snaps[0].get('requested')} "
                          f"stacks={ {c: fns[:8] for c, fns in stacks.items()} }"[:600]))
    return out


# In-guest kdumps of the hang suite's deadlocks (6.1 only): (module, extra command
# line, hang check). The ABBA cycle also runs with crash_kexec_post_notifiers.
SCENARIO_CYCLES = {
    "abba": ("kstuck_scenario_abba", "crash_kexec_post_notifiers", hang_suite.check_abba),
    "rwsem": ("kstuck_scenario_rwsem", "", hang_suite.check_rwsem),
    "mixed": ("kstuck_scenario_mixed", "", hang_suite.check_mixed),
    "wakelist": ("kstuck_scenario_starve", "kstuck.remote_wake=1", hang_suite.check_wakelist),
    "idle": ("none", "", hang_suite.check_idle),
}


def check_scenario_cycle(label, kind, cycle_dir, cli, kernel, module_dir):
    """A scenario cycle's -d 31 kdump: a real dump of this kernel, the hang suite's
    verdict and graph checks against the truth, and the panic-notifier interplay."""
    truth = json.loads((cycle_dir / "truth.json").read_text())
    dump = cycle_dir / "vmcore.kdump"
    name = f"{label}-kdump"
    out = check_container(name, "kdump", dump, kernel.kver, truth, kind)
    report, detail = run_cli(cli, "hang", kernel.vmlinux, module_dir, dump)
    out.append(TestResult(f"{name}-hang-runs", report is not None,
                          f"{detail} verdict={report and report.get('verdict')}"))
    if report is not None:
        out += [TestResult(f"{name}-{r.name}", r.passed, r.detail) for r in SCENARIO_CYCLES[kind][2](report, truth)]
    if SCENARIO_CYCLES[kind][1] == "crash_kexec_post_notifiers":
        out += check_panic_snapshot(name, cli, kernel.vmlinux, dump)
    out += drgn_diff.compare(None, dump, kernel.vmlinux, module_dir, label=name, cli=cli)
    return out


def recompress_cycle(label, elf_dump, cycle_dir, k13):
    """vmcore.lzo and vmcore.zstd beside the cycle's dumps, so check_cycle reads every
    compression Debian's makedumpfile writes (snappy is built into neither)."""
    out = []
    for fmt, (option, tool_kernel) in RECOMPRESSED.items():
        if tool_kernel and k13 is None:
            out.append(TestResult(f"{label}-recompress-{fmt}", False, "no Debian 13 makedumpfile (kernel fetch failed)"))
            continue
        try:
            tool = kdump.makedumpfile_command(k13 if tool_kernel else None)
            p = kdump.recompress(elf_dump, cycle_dir / f"vmcore.{fmt}", option, tool)
            out.append(TestResult(f"{label}-recompress-{fmt}", True, f"{p.stat().st_size} bytes"))
        except RigError as e:
            out.append(TestResult(f"{label}-recompress-{fmt}", False, str(e)))
    return out


def run_cycle(ctx, art, label, panic, scenarios, qemu_dump, formats, module="kstuck_scenario", append_extra=""):
    cycle_dir = ctx.out / f"kdump-{label}"
    r = kdump.kdump_cycle(art, cycle_dir, panic=panic, scenarios=scenarios, qemu_dump=qemu_dump, formats=formats,
                          nmi=panic == "sysrq" and module == "kstuck_scenario", module=module,
                          append_extra=append_extra)
    (cycle_dir / "truth.json").write_text(json.dumps(r.truth, indent=1, sort_keys=True))
    out = [TestResult(f"{label}-guest-{t.name}", t.passed, t.detail) for t in r.tests]
    seen = {t.name for t in r.tests}
    required = GUEST_CHECKS + (("nmi-injected",) if panic == "sysrq" and module == "kstuck_scenario" else ()) + (("host-dump-taken",) if qemu_dump else ())
    out += [TestResult(f"{label}-guest-{n}", False, "line missing from the console") for n in required
            if n not in seen]
    for fmt in formats:
        out.append(TestResult(f"{label}-capture-{fmt}", fmt in r.dumps and r.capture.get(fmt, "").startswith("rc=0"),
                              r.capture.get(fmt, "no KSTUCK-CAPTURE line")))
    out.append(TestResult(f"{label}-cycle-time", r.seconds.get("total", 999) < 240, json.dumps(r.seconds)))
    return r, cycle_dir, out


def run(ctx):
    results = []
    try:
        k13 = kdump.fetch_debian_kernel("trixie")
    except RigError as e:
        k13 = None
        results.append(TestResult("fetch-debian13-kernel", False, str(e)))
    # KSTUCK_KDUMP_KERNELS=6.12 (say) limits a development run to some kernels.
    only = [x for x in os.environ.get("KSTUCK_KDUMP_KERNELS", "").split(",") if x]
    for kernel in (ctx.kernel, k13):
        if kernel is None or only and _label(kernel.kver) not in only:
            continue
        label = _label(kernel.kver)
        try:
            art = kdump.prepare(kernel, ctx.build)
            r, cycle_dir, out = run_cycle(ctx, art, label, "sysrq", 7, True, FORMATS)
        except RigError as e:
            results.append(TestResult(f"{label}-kdump-cycle", False, str(e)))
            continue
        results += out
        if kernel is ctx.kernel and "elf" in r.dumps:
            results += recompress_cycle(label, r.dumps["elf"], cycle_dir, k13)
        results += check_cycle(label, cycle_dir, ctx.kstuck_cli, kernel, art.scenarios[0].parent, "sysrq")
        if kernel is ctx.kernel and "kdump" in r.dumps:
            # The real -d 31 kdump is the vmcore reader's unit-test fixture (kdump_target_test.cpp).
            dev = rig.CACHE / "dev"
            dev.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(r.dumps["kdump"], dev / f"kdump-d31-{label}.vmcore")
            (dev / f"kdump-d31-{label}.console.log").write_text(r.console)
        if kernel is ctx.kernel:
            # The hung-task detector as the panic: a mutex waiter blocked 5 s.
            hlabel = f"{label}-hung"
            try:
                r, cycle_dir, out = run_cycle(ctx, art, hlabel, "hung", 1, False, ("flat",))
            except RigError as e:
                results.append(TestResult(f"{hlabel}-kdump-cycle", False, str(e)))
                continue
            results += out
            w_pid = r.truth.get("mutex_waiter.pid", "?")
            blocked = f"task kstuck_mwaiter:{w_pid} blocked for more than"
            results.append(TestResult(f"{hlabel}-detector-fired", blocked in r.console
                                      and "Kernel panic - not syncing: hung_task: blocked tasks" in r.console,
                                      f"want '{blocked}' and the hung_task panic line"))
            results += check_cycle(hlabel, cycle_dir, ctx.kstuck_cli, kernel, art.scenarios[0].parent, "hung")
            for kind, (module, extra, _) in SCENARIO_CYCLES.items():
                slabel = f"{label}-{kind}"
                try:
                    r, cycle_dir, out = run_cycle(ctx, art, slabel, "sysrq", 0, False, ("kdump",), module, extra)
                except RigError as e:
                    results.append(TestResult(f"{slabel}-kdump-cycle", False, str(e)))
                    continue
                results += out
                results += check_scenario_cycle(slabel, kind, cycle_dir, ctx.kstuck_cli, kernel,
                                                art.scenarios[0].parent)
    return results


def main():
    """Re-checks kept cycles: python3 -m tests.vm.suites.kdump --check BUILD [CLI]."""
    build = Path(sys.argv[2])
    cli = Path(sys.argv[3]) if len(sys.argv) > 3 else build / "release" / "cli" / "kstuck"
    failed = 0
    for kdir in sorted((rig.CACHE / "kernel").iterdir()):
        if not (kdir / "kver").exists():
            continue
        kernel = rig.Kernel((kdir / "kver").read_text().strip(), kdir)
        label = _label(kernel.kver)
        for cycle_label, panic in ((label, "sysrq"), (f"{label}-hung", "hung")):
            cycle_dir = build / "vm-out" / f"kdump-{cycle_label}"
            if not (cycle_dir / "truth.json").exists():
                continue
            moddir = build / "scenarios" / kernel.kver
            for r in check_cycle(cycle_label, cycle_dir, cli, kernel, moddir, panic):
                failed += not r.passed
                print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}", flush=True)
        for kind in SCENARIO_CYCLES:
            cycle_dir = build / "vm-out" / f"kdump-{label}-{kind}"
            if not (cycle_dir / "truth.json").exists():
                continue
            moddir = build / "scenarios" / kernel.kver
            for r in check_scenario_cycle(f"{label}-{kind}", kind, cycle_dir, cli, kernel, moddir):
                failed += not r.passed
                print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--check":
    sys.exit(main())
