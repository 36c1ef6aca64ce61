# SPDX-License-Identifier: GPL-2.0
"""Analyze: the stuck scenario guest (IRQs-off spinner, xcall waiter, mutex owner and
waiter, kstuck.ko loaded and snapshotting at an external NMI) is dumped through QMP,
once with KASLR and once with nokaslr; `kstuck analyze --json`, `kstuck bt` and
`kstuck tasks` run on each dump on the host and are compared with the ground truth
the scenario printed (KSTUCK-TRUTH lines).

Re-check kept dumps without booting: python3 -m tests.vm.suites.analyze --check BUILD [CLI]
"""
import json
import subprocess
import sys
import time
from pathlib import Path

from tests.vm import drgn_diff, rig
from tests.vm.rig import RigError, TestResult

# no_timer_check: under TCG on a loaded host the IO-APIC timer check can time out and
# panic the boot ("IO-APIC + timer doesn't work!"), seen once here; it tests nothing of ours.
BOOTS = [("analyze", "no_timer_check"), ("analyze_nokaslr", "nokaslr no_timer_check")]



def run_cli(cli, vmlinux, dump, *args, timeout=300):
    """Runs `kstuck ARGS...` on the dump; returns (stdout, stderr, rc, seconds)."""
    cmd = [str(cli), args[0], str(dump), "--vmlinux", str(vmlinux), *args[1:]]
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "", f"timed out after {timeout}s", -1, timeout
    return p.stdout, p.stderr, p.returncode, time.monotonic() - t


def _functions(stack):
    return [f.get("function", "") for f in (stack or {}).get("frames", [])]


def _int(truth, key):
    try:
        return int(truth.get(key, "-1"))
    except ValueError:
        return -1


def spin_loop_lines():
    """Line numbers of kstuck_scenario_irqoff_spin's loop (its condition, its cpu_relax()),
    read from the scenario source so an edit there cannot leave a stale number here."""
    src = (Path(__file__).resolve().parents[1] / "scenarios" / "kstuck_scenario.c").read_text().splitlines()
    start = next(i for i, line in enumerate(src) if "void kstuck_scenario_irqoff_spin(void)" in line)
    cond = next(i for i in range(start, len(src)) if "while (ktime_get_mono_fast_ns() < end" in src[i])
    relax = next(i for i in range(cond, len(src)) if "cpu_relax();" in src[i])
    return cond + 1, relax + 1


def check_dump(name, cli, vmlinux, kver, dump, truth, kaslr, module_dirs=()):
    out = []
    module_args = [a for d in module_dirs for a in ("--module-dir", str(d))]
    stdout, stderr, rc, secs = run_cli(cli, vmlinux, dump, "analyze", "--json", *module_args)
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        return [TestResult(f"{name}-analyze-runs", False, f"rc={rc} {stderr.strip()[-300:]} {stdout[:200]}")]
    out.append(TestResult(f"{name}-analyze-runs", rc == 0 and report.get("schema") == "kstuck.analyze"
                          and report.get("version", {}).get("major") == 1,
                          f"rc={rc} {secs:.2f}s schema={report.get('schema')} {report.get('version')}"))
    system = report.get("system", {})
    out.append(TestResult(f"{name}-release", system.get("release") == kver, f"release={system.get('release')}"))
    kaslr_off = system.get("source", {}).get("kaslr", "?")
    out.append(TestResult(f"{name}-kaslr-offset", (kaslr_off not in ("0x0", "?")) == kaslr and kaslr_off != "?",
                          f"kaslr={kaslr_off} expected {'nonzero' if kaslr else 'zero'}"))
    log = " ".join(r.get("text", "") for r in system.get("log_tail", []))
    out.append(TestResult(f"{name}-log-tail-has-truth", "KSTUCK-TRUTH: mutex_waiter" in log,
                          f"{len(system.get('log_tail', []))} lines"))
    cpus = {c.get("cpu"): c for c in report.get("cpus", [])}
    out.append(TestResult(f"{name}-all-cpus", sorted(cpus) == [0, 1, 2, 3], f"cpus={sorted(cpus)}"))

    spin_cpu, spin_pid = _int(truth, "irqoff_spinner.cpu"), _int(truth, "irqoff_spinner.pid")
    c = cpus.get(spin_cpu, {})
    frames = (c.get("stack") or {}).get("frames", [])
    # The spinner loops calling ktime_get_mono_fast_ns(): the CPU may be stopped in a
    # callee (read_hpet), so the spinning function is the first frame of the module.
    spin = next((f for f in frames if f.get("module")), {})
    out.append(TestResult(f"{name}-irqoff-cpu",
                          c.get("pid") == spin_pid and c.get("irqs_off") is True
                          and spin.get("function") == "kstuck_scenario_irqoff_spin"
                          and spin.get("module") == "kstuck_scenario"
                          and spin.get("symbol", "").endswith(" [kstuck_scenario]"),
                          f"cpu {spin_cpu}: pid={c.get('pid')} (truth {spin_pid}) irqs_off={c.get('irqs_off')} "
                          f"frames={[f.get('symbol') for f in frames[:3]]}"))
    if module_dirs:
        # file:line from kstuck_scenario.ko: a return address is the loop's call of
        # ktime_get_mono_fast_ns(); a CPU stopped in the function itself may be on cpu_relax().
        cond, relax = spin_loop_lines()
        want = {f"kstuck_scenario.c:{cond}"} | ({f"kstuck_scenario.c:{relax}"} if spin.get("exact") else set())
        refused = [p for p in report.get("problems", []) if p.startswith("--module-dir: kstuck_scenario:")]
        out.append(TestResult(f"{name}-irqoff-module-source-line",
                              spin.get("source") in want and not refused,
                              f"{spin.get('symbol')} exact={spin.get('exact')} source={spin.get('source')} "
                              f"want {sorted(want)} problems={refused}"))
    fns = _functions(c.get("stack"))
    out.append(TestResult(f"{name}-irqoff-cpu-stack-complete",
                          (c.get("stack") or {}).get("complete") is True and fns[-2:] == ["kthread", "ret_from_fork"],
                          f"stop={(c.get('stack') or {}).get('stop')} fns={fns}"))

    x_cpu, x_pid = _int(truth, "xcall_waiter.cpu"), _int(truth, "xcall_waiter.pid")
    c = cpus.get(x_cpu, {})
    fns = _functions(c.get("stack"))
    out.append(TestResult(f"{name}-xcall-cpu",
                          c.get("pid") == x_pid and rig.in_xcall_wait(fns)
                          and "kstuck_scenario_xcaller" in fns,
                          f"cpu {x_cpu}: pid={c.get('pid')} (truth {x_pid}) stack={fns[:6]}"))

    tasks = {t.get("pid"): t for t in report.get("tasks", []) if t.get("pid")}
    groups = report.get("groups", [])

    def task_stack(pid):
        t = tasks.get(pid, {})
        g = t.get("group")
        return _functions(groups[g]["stack"]) if isinstance(g, int) and g < len(groups) else []

    w_pid, o_pid = _int(truth, "mutex_waiter.pid"), _int(truth, "mutex_owner.pid")
    w = tasks.get(w_pid, {})
    wf = task_stack(w_pid)
    out.append(TestResult(f"{name}-mutex-waiter",
                          w.get("state") == "D" and w.get("comm") == truth.get("mutex_waiter.comm")
                          and any(f.startswith("__mutex_lock") or f == "mutex_lock" for f in wf)
                          and "kstuck_scenario_mutex_waiter" in wf and wf[:1] == ["__schedule"],
                          f"pid {w_pid}: state={w.get('state')} comm={w.get('comm')} stack={wf}"))
    d = [x.get("pid") for x in report.get("d_state", [])]
    since = w.get("since_ran_ns")
    out.append(TestResult(f"{name}-mutex-waiter-in-d-list-with-wait",
                          w_pid in d and isinstance(since, int) and 1_000_000 < since < 600_000_000_000,
                          f"d_state={d} since_ran_ns={since}"))
    o = tasks.get(o_pid, {})
    of = task_stack(o_pid)
    out.append(TestResult(f"{name}-mutex-owner",
                          o.get("comm") == truth.get("mutex_owner.comm")
                          and any(f.startswith("msleep") for f in of) and "kstuck_scenario_mutex_owner" in of,
                          f"pid {o_pid}: state={o.get('state')} comm={o.get('comm')} stack={of}"))
    # Every sleeping task's stack should unwind to its end; a few may not (user tasks mid-exec).
    n_groups = len(groups)
    incomplete = [g for g in groups if not g["stack"].get("complete")]
    out.append(TestResult(f"{name}-stacks-unwind-completely", len(tasks) > 50 and len(incomplete) == 0,
                          f"{len(report.get('tasks', []))} tasks, {n_groups} groups, incomplete="
                          f"{[(g['pids'][:3], g['stack'].get('stop'), g['stack'].get('stop_detail')) for g in incomplete][:3]}"))

    nmi = report.get("nmi", {})
    snaps = [s for s in nmi.get("snapshots", []) if s.get("trigger") == "unknown-nmi"]
    snap = snaps[-1] if snaps else {}
    ncpus = {c.get("cpu"): c for c in snap.get("cpus", [])}
    sc = ncpus.get(spin_cpu, {})
    sfns = [f.get("function") for f in sc.get("frames", [])]
    out.append(TestResult(f"{name}-nmi-records",
                          nmi.get("module_loaded") is True and snap.get("answered") == 4
                          and sc.get("pid") == spin_pid and sc.get("irqs_off") is True
                          and "kstuck_scenario_irqoff_spin" in sfns,
                          f"status={nmi.get('status')} snapshots={len(nmi.get('snapshots', []))} "
                          f"answered={snap.get('answered')} cpu{spin_cpu} pid={sc.get('pid')} frames={sfns[:4]}"))
    xc = ncpus.get(x_cpu, {})
    xfns = [f.get("function") for f in xc.get("frames", [])]
    out.append(TestResult(f"{name}-nmi-records-xcall-cpu",
                          xc.get("pid") == x_pid and rig.in_xcall_wait(xfns), f"frames={xfns[:6]}"))

    # Focused views: bt by pid and by CPU, tasks filtered by state.
    stdout, stderr, rc, _ = run_cli(cli, vmlinux, dump, "bt", str(w_pid))
    out.append(TestResult(f"{name}-bt-pid", rc == 0 and "__mutex_lock" in stdout and f"pid {w_pid}" in stdout,
                          (stdout or stderr).replace("\n", " | ")[:300]))
    stdout, stderr, rc, _ = run_cli(cli, vmlinux, dump, "bt", "--cpu", str(spin_cpu))
    out.append(TestResult(f"{name}-bt-cpu", rc == 0 and "kstuck_scenario_irqoff_spin+" in stdout
                          and "[kstuck_scenario]" in stdout and "IRQs OFF" in stdout,
                          (stdout or stderr).replace("\n", " | ")[:300]))
    stdout, stderr, rc, _ = run_cli(cli, vmlinux, dump, "bt", "--cpu", str(x_cpu), "--lines")
    out.append(TestResult(f"{name}-bt-lines", rc == 0 and "kernel/smp.c:" in stdout and "kernel/kthread.c:" in stdout,
                          (stdout or stderr).replace("\n", " | ")[:300]))
    stdout, stderr, rc, _ = run_cli(cli, vmlinux, dump, "tasks", "--state", "D")
    lines = [line for line in stdout.splitlines()[1:] if line.strip() and not line.startswith("!")]
    out.append(TestResult(f"{name}-tasks-d", rc == 0 and any(line.split()[0] == str(w_pid) for line in lines)
                          and all(line.split()[2] == "D" for line in lines),
                          " | ".join(lines)[:300]))
    return out


def run(ctx):
    results = []
    (ctx.out / "analyze.vmlinux").write_text(str(ctx.kernel.vmlinux))
    for name, append in BOOTS:
        try:
            guest_results, truth, dump = ctx.boot_and_dump(name, append)
        except RigError as e:
            results.append(TestResult(f"{name}-boot", False, str(e)))
            continue
        results += guest_results
        if dump:
            results += check_dump(name, ctx.kstuck_cli, ctx.kernel.vmlinux, ctx.kernel.kver, dump, truth,
                                  kaslr="nokaslr" not in append,
                                  module_dirs=[ctx.kstuck_ko.parent, *{s.parent for s in ctx.scenarios}])
            results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, ctx.scenarios[0].parent, label=name)
    return results


def main():
    build = Path(sys.argv[2])
    cli = Path(sys.argv[3]) if len(sys.argv) > 3 else build / "release" / "cli" / "kstuck"
    vmlinux = Path((build / "vm-out" / "analyze.vmlinux").read_text().strip())
    failed = 0
    for name, append in BOOTS:
        dump = build / "vm-out" / f"{name}.vmcore"
        if not dump.exists():
            continue
        truth = json.loads((build / "vm-out" / f"{name}.truth.json").read_text())
        kver = vmlinux.parent.name
        module_dirs = [d for d in (build / "kmod" / kver, build / "scenarios" / kver) if d.is_dir()]
        for r in check_dump(name, cli, vmlinux, kver, dump, truth, kaslr="nokaslr" not in append,
                            module_dirs=module_dirs):
            failed += not r.passed
            print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}")
    return 1 if failed else 0


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--check":
    sys.exit(main())
