# SPDX-License-Identifier: GPL-2.0
"""Hang: dumps of real hangs (ABBA mutexes, an rwsem/mutex deadlock with a second rwsem waiter, an xcall towards an IRQs-off CPU, the seed's
xcall-vs-spinlock cycle, a mutex owner that is runnable but never runs, one whose remote
wakeup waits on the IRQs-off CPU's call_single_queue, a healthy idle guest), each analysed by `kstuck hang --json`
and compared with the ground truth the scenario printed.

One boot per scenario (a wedged guest cannot be un-wedged): each boot is dumped as
soon as its truth is printed, then killed. Run the checks alone on kept dumps with
`python3 -m tests.vm.suites.hang --check BUILD`.
"""
import json
import subprocess
import sys
from pathlib import Path

from tests.vm import drgn_diff
from tests.vm.rig import RigError, TestResult

SCENARIOS = ["hang_abba", "hang_rwsem", "hang_xcall", "hang_mixed", "hang_starve", "hang_wakelist", "hang_idle"]



def analyse(cli, vmlinux, module_dir, dump):
    """Runs kstuck hang --json on a dump; returns (report dict or None, stderr text)."""
    cmd = [str(cli), "hang", str(dump), "--vmlinux", str(vmlinux), "--json"]
    if module_dir:
        cmd += ["--module-dir", str(module_dir)]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None, "kstuck hang timed out"
    try:
        return json.loads(p.stdout), p.stderr
    except json.JSONDecodeError:
        return None, f"exit {p.returncode}: {p.stderr.strip()[-300:]} {p.stdout[:200]}"


def _nodes(report):
    return {n["id"]: n for n in report.get("nodes", [])}


def _cycle_nodes(report):
    nodes = _nodes(report)
    return [nodes[i] for i in report.get("cycle", []) if i in nodes]


def _h(v):
    """Normalises an address string from the kernel log (%px, no 0x) or the report."""
    return int(str(v), 16)


def check_abba(report, truth):
    out = []
    out.append(TestResult("abba-verdict-deadlock", report.get("verdict") == "DEADLOCK",
                          f"verdict={report.get('verdict')}"))
    cyc = _cycle_nodes(report)
    tasks = [n for n in cyc if n["kind"] == "task"]
    locks = [n for n in cyc if n["kind"] == "mutex"]
    want_pids = {int(truth.get("abba_first.pid", -1)), int(truth.get("abba_second.pid", -2))}
    out.append(TestResult("abba-cycle-has-both-tasks", {t.get("pid") for t in tasks} == want_pids and len(tasks) == 2,
                          f"cycle tasks={[(t.get('pid'), t.get('comm')) for t in tasks]} truth={sorted(want_pids)}"))
    want_locks = {_h(truth.get("abba_first.holds", "0")), _h(truth.get("abba_second.holds", "0"))}
    out.append(TestResult("abba-cycle-has-both-mutexes",
                          {_h(n["address"]) for n in locks} == want_locks and len(locks) == 2,
                          f"cycle mutexes={[(n.get('address'), n.get('symbol')) for n in locks]}"))
    # In order: each task waits for the mutex its peer holds, which that peer owns.
    ok = False
    ids = report.get("cycle", [])
    nodes = _nodes(report)
    if len(ids) == 4:
        for i, nid in enumerate(ids):
            n = nodes.get(nid, {})
            if n.get("kind") != "task":
                continue
            nxt = nodes.get(ids[(i + 1) % 4], {})
            role = "abba_first" if str(n.get("pid")) == truth.get("abba_first.pid") else "abba_second"
            ok = nxt.get("kind") == "mutex" and _h(nxt.get("address", "0")) == _h(truth.get(f"{role}.waits", "0"))
            if not ok:
                break
    out.append(TestResult("abba-cycle-order", ok, " -> ".join(report.get("cycle", []))))
    # Each mutex's wait_list, in order, holds the task that waits for it.
    waiters_ok = bool(locks)
    for n in locks:
        role = "abba_first" if _h(n["address"]) == _h(truth.get("abba_first.waits", "0")) else "abba_second"
        waiters_ok = waiters_ok and n.get("waiters") == [int(truth.get(f"{role}.pid", -1))]
    out.append(TestResult("abba-mutex-waiters", waiters_ok, str([(n.get("symbol"), n.get("waiters")) for n in locks])))
    syms = {n.get("symbol") for n in locks}
    out.append(TestResult("abba-mutex-names", syms == {"kstuck_abba_mutex_a", "kstuck_abba_mutex_b"}, str(syms)))
    return out


def check_xcall(report, truth):
    out = []
    out.append(TestResult("xcall-verdict-stuck", report.get("verdict") == "STUCK", f"verdict={report.get('verdict')}"))
    nodes = report.get("nodes", [])
    target = int(truth.get("irqoff_spinner.cpu", -1))
    waiter_cpu = int(truth.get("xcall_waiter.cpu", -1))
    waiter_pid = int(truth.get("xcall_waiter.pid", -1))
    csds = [n for n in nodes if n["kind"] == "xcall" and n.get("func", "").startswith("kstuck_scenario_xcall_func")
            and n.get("target_cpu") == target]
    out.append(TestResult("xcall-csd-queued-on-target", bool(csds) and csds[0].get("queued", False),
                          json.dumps(csds[:1])[:300]))
    waiter = csds[0].get("waiter_pid") if csds else None
    out.append(TestResult("xcall-waiting-task", waiter == waiter_pid,
                          f"waiter_pid={waiter} cpu={csds[0].get('waiter_cpu') if csds else None} truth={waiter_pid}"))
    out.append(TestResult("xcall-waiting-cpu", bool(csds) and csds[0].get("waiter_cpu") == waiter_cpu,
                          f"truth cpu={waiter_cpu}"))
    cpu = next((n for n in nodes if n["kind"] == "cpu" and n.get("cpu") == target), {})
    out.append(TestResult("xcall-target-irqs-off", cpu.get("irqs_off") is True,
                          f"cpu {target}: irqs_off={cpu.get('irqs_off')} doing={cpu.get('doing')}"))
    stack = " ".join(cpu.get("stack", []))
    out.append(TestResult("xcall-target-stack", "kstuck_scenario_irqoff_spin" in stack, stack[:200]))
    chain = report.get("chain", [])
    out.append(TestResult("xcall-root-cause", report.get("root_cause") == f"cpu:{target}",
                          f"root_cause={report.get('root_cause')} chain={chain}"))
    # The whole chain: the waiting CPU, the csd, the IRQs-off CPU (also when the dump
    # caught the waiting CPU inside a timer interrupt). Other CPUs may wait on the same
    # CPU (a TLB flush to it): any of the chains into the root cause may be this one. It
    # may start earlier, at a task the waiting CPU starves (PREEMPT_RT's rcuc/2 on 6.12 rt:
    # runnable on CPU 2's runqueue behind the xcall wait), so it ends with these three.
    want = [f"cpu:{waiter_cpu}", csds[0]["id"] if csds else None, f"cpu:{target}"]
    chains = report.get("chains", [chain])
    out.append(TestResult("xcall-chain", any(c[-len(want):] == want for c in chains),
                          f"want a chain ending {want} in {chains}"))
    return out


def check_mixed(report, truth):
    out = []
    out.append(TestResult("mixed-verdict-deadlock", report.get("verdict") == "DEADLOCK",
                          f"verdict={report.get('verdict')}"))
    cyc = _cycle_nodes(report)
    cpus = {n.get("cpu") for n in cyc if n["kind"] == "cpu"}
    want = {int(truth.get("mixed_holder.cpu", -1)), int(truth.get("mixed_spinner.cpu", -2))}
    out.append(TestResult("mixed-cycle-both-cpus", cpus == want, f"cpus={sorted(c for c in cpus if c is not None)}"))
    csd = [n for n in cyc if n["kind"] == "xcall"]
    out.append(TestResult("mixed-cycle-csd", bool(csd) and csd[0].get("func", "").startswith("kstuck_mixed_xcall_func")
                          and csd[0].get("target_cpu") == int(truth.get("mixed_spinner.cpu", -1)),
                          json.dumps(csd[:1])[:300]))
    locks = [n for n in cyc if n["kind"] == "spinlock"]
    out.append(TestResult("mixed-cycle-lock", bool(locks) and _h(locks[0]["address"]) == _h(truth.get("mixed_holder.lock", "0"))
                          and locks[0].get("symbol") == "kstuck_mixed_lock", json.dumps(locks[:1])[:300]))
    return out


def check_rwsem(report, truth):
    """writer -> mutex -> reader -> rwsem -> writer, with the rwsem's waiters in order."""
    out = [TestResult("rwsem-verdict-deadlock", report.get("verdict") == "DEADLOCK",
                      f"verdict={report.get('verdict')} reason={report.get('reason')}")]
    writer, reader = int(truth.get("rw_writer.pid", -1)), int(truth.get("rw_reader.pid", -1))
    writer2 = int(truth.get("rw_writer2.pid", -1))
    sem, mutex = _h(truth.get("rw_writer.rwsem", "0")), _h(truth.get("rw_writer.mutex", "0"))
    cyc = _cycle_nodes(report)
    kinds = sorted((n["kind"], n.get("pid") or _h(n.get("address", "0"))) for n in cyc)
    want = sorted([("task", writer), ("task", reader), ("rwsem", sem), ("mutex", mutex)])
    out.append(TestResult("rwsem-cycle-both-tasks-both-locks", kinds == want, f"cycle={kinds} want={want}"))
    ids = report.get("cycle", [])
    nodes = _nodes(report)
    # In wait order: each task waits for the lock after it, each lock is owned by the task after it.
    order_ok = len(ids) == 4 and all(
        any(e.get("from") == ids[i] and e.get("to") == ids[(i + 1) % 4] for e in report.get("edges", []))
        for i in range(4))
    out.append(TestResult("rwsem-cycle-in-order", order_ok, f"cycle={ids}"))
    rw = next((n for n in nodes.values() if n["kind"] == "rwsem" and _h(n.get("address", "0")) == sem), {})
    out.append(TestResult("rwsem-waiters-in-order", rw.get("waiters") == [reader, writer2]
                          and rw.get("symbol") == "kstuck_rw_sem", json.dumps(rw)[:300]))
    owned = [e for e in report.get("edges", []) if e.get("from") == rw.get("id") and e.get("kind") == "owned_by"]
    out.append(TestResult("rwsem-writer-owner", [e.get("to") for e in owned] == [f"task:{writer}"]
                          and not owned[0].get("inferred"), json.dumps(owned)[:300]))
    return out


def _starve_truth(truth):
    """The starve scenario's spinning CPU, owner pid, waiter pid and mutex address."""
    return (int(truth.get("starve_spinner.cpu", -1)), int(truth.get("starve_owner.pid", -1)),
            int(truth.get("starve_waiter.pid", -1)), _h(truth.get("starve_owner.mutex", "0")))


def check_starve(report, truth):
    """waiter -> mutex -> owner (runnable, never running) -> the IRQs-off CPU it is queued on."""
    out = [TestResult("starve-verdict-stuck", report.get("verdict") == "STUCK", f"verdict={report.get('verdict')} "
                      f"reason={report.get('reason')}")]
    nodes = _nodes(report)
    cpu, owner_pid, waiter_pid, mutex = _starve_truth(truth)
    out.append(TestResult("starve-root-cause", report.get("root_cause") == f"cpu:{cpu}",
                          f"root_cause={report.get('root_cause')} truth cpu={cpu}"))
    mutex_ids = [i for i, n in nodes.items() if n["kind"] == "mutex" and _h(n.get("address", "0")) == mutex]
    want = [f"task:{waiter_pid}", mutex_ids[0] if mutex_ids else f"mutex:{mutex:#x}", f"task:{owner_pid}", f"cpu:{cpu}"]
    out.append(TestResult("starve-chain", report.get("chain") == want or want in report.get("chains", []),
                          f"want {want} chain={report.get('chain')}"))
    owner = nodes.get(f"task:{owner_pid}", {})
    out.append(TestResult("starve-owner-runnable-on-cpu", owner.get("state") == "R" and owner.get("runnable_on") == cpu,
                          f"owner state={owner.get('state')} runnable_on={owner.get('runnable_on')} "
                          f"queued_ns={owner.get('queued_ns')} since_ran_ns={owner.get('since_ran_ns')}"))
    edge = next((e for e in report.get("edges", []) if e.get("from") == f"task:{owner_pid}"
                 and e.get("to") == f"cpu:{cpu}" and e.get("kind") == "waits_for"), {})
    out.append(TestResult("starve-owner-edge-label", f"runnable on CPU {cpu}'s runqueue, not running for"
                          in edge.get("evidence", ""), json.dumps(edge)[:300]))
    mutex_node = nodes.get(mutex_ids[0], {}) if mutex_ids else {}
    out.append(TestResult("starve-mutex-waiter", mutex_node.get("waiters") == [waiter_pid]
                          and mutex_node.get("symbol") == "kstuck_starve_mutex", json.dumps(mutex_node)[:300]))
    cpu_node = nodes.get(f"cpu:{cpu}", {})
    stack = " ".join(cpu_node.get("stack", []))
    out.append(TestResult("starve-cpu-irqs-off-in-spinner", cpu_node.get("irqs_off") is True
                          and "kstuck_starve_spin" in stack, f"irqs_off={cpu_node.get('irqs_off')} {stack[:200]}"))
    return out


def check_wakelist(report, truth):
    """waiter -> mutex -> owner -> its TTWU wakeup entry -> the IRQs-off CPU it is queued on."""
    out = [TestResult("wakelist-verdict-stuck", report.get("verdict") == "STUCK",
                      f"verdict={report.get('verdict')} reason={report.get('reason')}")]
    nodes = _nodes(report)
    cpu, owner_pid, waiter_pid, mutex = _starve_truth(truth)
    out.append(TestResult("wakelist-owner-off-runqueue", truth.get("starve_waker.owner_on_rq") == "0"
                          and truth.get("starve_waker.owner_cpu") == str(cpu),
                          f"truth: {dict((k, v) for k, v in truth.items() if k.startswith('starve_waker'))}"))
    out.append(TestResult("wakelist-root-cause", report.get("root_cause") == f"cpu:{cpu}",
                          f"root_cause={report.get('root_cause')} truth cpu={cpu}"))
    ttwu = [i for i, n in nodes.items() if n["kind"] == "xcall" and n.get("type") == "TTWU"
            and n.get("func") == f"wake up pid {owner_pid}"]
    out.append(TestResult("wakelist-ttwu-entry-for-owner", len(ttwu) == 1 and nodes[ttwu[0]].get("target_cpu") == cpu
                          and nodes[ttwu[0]].get("queued") is True,
                          json.dumps([nodes[i] for i in ttwu])[:300] or "no TTWU xcall node for the owner"))
    mutex_ids = [i for i, n in nodes.items() if n["kind"] == "mutex" and _h(n.get("address", "0")) == mutex]
    want = [f"task:{waiter_pid}", mutex_ids[0] if mutex_ids else f"mutex:{mutex:#x}", f"task:{owner_pid}",
            ttwu[0] if ttwu else "xcall:?", f"cpu:{cpu}"]
    out.append(TestResult("wakelist-chain", report.get("chain") == want or want in report.get("chains", []),
                          f"want {want} chain={report.get('chain')}"))
    edge = next((e for e in report.get("edges", []) if e.get("from") == f"task:{owner_pid}"
                 and ttwu and e.get("to") == ttwu[0] and e.get("kind") == "waits_for"), {})
    cpu_node = nodes.get(f"cpu:{cpu}", {})
    stack = " ".join(cpu_node.get("stack", []))
    out.append(TestResult("wakelist-cpu-busy-irqs-off-in-xcall-func", cpu_node.get("irqs_off") is True
                          and cpu_node.get("idle") is False and "kstuck_starve_ipi_spin" in stack,
                          f"idle={cpu_node.get('idle')} irqs_off={cpu_node.get('irqs_off')} {stack[:200]}"))
    out.append(TestResult("wakelist-owner-edge-label", edge.get("evidence") ==
                          f"its wakeup is a TTWU entry on CPU {cpu}'s call_single_queue", json.dumps(edge)[:300]))
    return out


def check_idle(report, truth):
    out = [TestResult("idle-no-verdict", report.get("verdict") == "NONE", f"verdict={report.get('verdict')}")]
    waits = [e for e in report.get("edges", []) if e.get("kind") == "waits_for"]
    out.append(TestResult("idle-no-wait-edges", not waits, json.dumps(waits[:3])[:300]))
    return out


CHECKS = {"hang_abba": check_abba, "hang_rwsem": check_rwsem, "hang_xcall": check_xcall, "hang_mixed": check_mixed, "hang_starve": check_starve,
          "hang_wakelist": check_wakelist, "hang_idle": check_idle}


def check_dot(name, cli, vmlinux, dump):
    """--dot renders with Graphviz: a PNG comes out, and a cycle is drawn in red."""
    dot_path, png_path = dump.with_suffix(".dot"), dump.with_suffix(".png")
    p = subprocess.run([str(cli), "hang", str(dump), "--vmlinux", str(vmlinux), "--dot"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    dot_path.write_text(p.stdout)
    png_path.unlink(missing_ok=True)
    r = subprocess.run(["dot", "-Tpng", str(dot_path), "-o", str(png_path)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    ok = r.returncode == 0 and png_path.exists() and png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    size = png_path.stat().st_size if png_path.exists() else 0
    return [TestResult(f"{name}-dot-renders-png", ok and size > 1000, f"{png_path} {size} bytes {r.stdout[:200]}"),
            TestResult(f"{name}-dot-cycle-red", "color=red" in p.stdout, p.stdout[:200].replace("\n", " "))]


def check_dump(name, cli, vmlinux, module_dir, dump, truth):
    report, err = analyse(cli, vmlinux, module_dir, dump)
    if report is None:
        return [TestResult(f"{name}-analysis-runs", False, err)]
    results = [TestResult(f"{name}-analysis-runs", True, f"verdict={report.get('verdict')} "
                          f"signature={report.get('signature')}")]
    results += CHECKS[name](report, truth)
    if name in ("hang_abba", "hang_mixed"):
        results += check_dot(name, cli, vmlinux, dump)
    return results


def run(ctx):
    results = []
    module_dir = ctx.scenarios[0].parent if ctx.scenarios else None
    # --check re-runs need the same vmlinux: the cache may hold several kernels.
    (ctx.out / "hang.vmlinux").write_text(str(ctx.kernel.vmlinux))
    for name in SCENARIOS:
        try:
            guest_results, truth, dump = ctx.boot_and_dump(name)
        except RigError as e:
            results.append(TestResult(f"{name}-boot", False, str(e)))
            continue
        results += guest_results
        if dump:
            results += check_dump(name, ctx.kstuck_cli, ctx.kernel.vmlinux, module_dir, dump, truth)
            results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, module_dir, label=name)
    return results


def main():
    """Re-checks kept dumps: python3 -m tests.vm.suites.hang --check BUILD [CLI]."""
    build = Path(sys.argv[2])
    cli = Path(sys.argv[3]) if len(sys.argv) > 3 else build / "release" / "cli" / "kstuck"
    vmlinux = Path((build / "vm-out" / "hang.vmlinux").read_text().strip())
    moddir = build / "scenarios" / vmlinux.parent.name
    failed = 0
    for name in SCENARIOS:
        dump = build / "vm-out" / f"{name}.vmcore"
        if not dump.exists():
            continue
        truth = json.loads((build / "vm-out" / f"{name}.truth.json").read_text())
        for r in check_dump(name, cli, vmlinux, moddir, dump, truth):
            failed += not r.passed
            print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}")
    return 1 if failed else 0


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--check":
    sys.exit(main())
