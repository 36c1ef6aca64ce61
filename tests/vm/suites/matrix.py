# SPDX-License-Identifier: GPL-2.0
"""The kernel matrix: every kernel a support engineer meets (Debian's 5.10, 6.1, 6.12,
7.2 and 7.3, cloud and PREEMPT_RT) through the same checks.

Per kernel (fetched into the cache by scripts/fetch-kernel, modules built with its own
headers and kbuild tools), one boot per scenario, each folding everything into it: the
live checks, then a QMP kdump-zlib dump of the live state, then sysrq c into an in-guest
kdump (makedumpfile -c -d 31):
- foundation (kstuck_scenario: CPU 3 spins with IRQs off, CPU 2 waits in an xcall to
  it, a task sleeps on a mutex): kstuck.ko loads, an external NMI and a live
  `kstuck nmi capture` catch the wedged CPU; on both dumps `kstuck analyze`, `kstuck
  hang` and `kstuck nmi show` are checked against the scenario's KSTUCK-TRUTH;
- ABBA (two tasks, two mutexes, crash_kexec_post_notifiers) and the mixed cycle (an
  xcall and a spinlock with IRQs off): `kstuck hang` must give the DEADLOCK cycle of the
  truth on both dumps, `kstuck analyze` must run and name the release.
Where tests/vm/drgn_diff.py exists it compares kstuck with drgn on every dump.

A check that fails because a reader is not right on a kernel yet FAILS: nothing here is
skipped or expected to fail. KSTUCK_MATRIX=trixie-backports:cloud,bullseye:cloud (say)
limits a development run to some kernels; KSTUCK_MATRIX_SCENARIOS=foundation to some
scenarios. Each kernel's time is printed.
"""
import json
import os
import time

from tests.vm import kdump, rig
from tests.vm.rig import RigError, TestResult, printed_block
from tests.vm.suites import hang as hang_suite
from tests.vm.suites import kdump as kdump_suite
from tests.vm.suites import nmi as nmi_suite

try:
    from tests.vm import drgn_diff
except ImportError:  # the differential is another engineer's; the matrix runs without it
    drgn_diff = None

# One line per kernel: its SUITE:FLAVOUR and the scenarios it runs. A new kernel costs
# one line here. Where a kernel adds nothing new to a scenario, it runs a smaller set:
# - bookworm:cloud (6.1): the kdump suite takes its foundation cycle (QMP, -c, -F, ELF)
#   and its ABBA and mixed kdumps, the hang suite their QMP dumps: only the live NMI
#   capture of the foundation boot is new here;
# - trixie:cloud (6.12): the kdump suite takes its foundation cycle: ABBA and mixed here;
# - sid:cloud (7.2): the same layouts as 7.3 (trixie-backports), one release earlier:
#   the foundation boot only, and nothing when its release is 7.3's.
MATRIX = (
    ("trixie-backports:cloud", ("foundation", "abba", "mixed")),
    ("trixie:rt", ("foundation", "abba", "mixed")),
    ("bookworm:rt", ("foundation", "abba", "mixed")),
    ("bullseye:cloud", ("foundation", "abba", "mixed")),
    ("trixie:cloud", ("abba", "mixed")),
    ("bookworm:cloud", ("foundation",)),
    ("sid:cloud", ("foundation",)),
)
# Device interrupts stay off the CPUs the scenarios wedge (the control port's reply to
# the guest was lost on 7.3 with CPUs 2 and 3 both spinning with IRQs off); no IO-APIC
# timer check (5.10 panicked "IO-APIC + timer doesn't work!" under TCG on a busy host).
# No transparent huge pages: khugepaged's TLB flush towards the wedged CPU stalled CPU 0,
# and the guest's script with it, on 6.1 (the nmi suite switches them off the same way).
APPEND = "irqaffinity=0,1 no_timer_check transparent_hugepage=never"
# The scenario module, its extra command line and its hang check (for the deadlocks:
# the kdump suite's table, so both suites check a cycle the same way).
SCENARIOS = {
    "foundation": ("kstuck_scenario", "kstuck.live_nmi=1", None),
    "abba": kdump_suite.SCENARIO_CYCLES["abba"],
    "mixed": kdump_suite.SCENARIO_CYCLES["mixed"],
}


def _label(kernel, spec):
    """'7.3-cloud', '6.12-rt': the kernel's major.minor and flavour."""
    return f"{kdump_suite._label(kernel.kver)}-{spec.split(':')[1]}"


def _check_live_nmi(name, console, truth):
    """The live `kstuck nmi capture --json` the guest printed: every CPU answered, CPU 3
    in the IRQs-off spinner, CPU 2 in the xcall (the nmi suite's check)."""
    block = printed_block(rig.deinterleave(console), "KSTUCK-NMI-JSON-BEGIN live", "KSTUCK-NMI-JSON-END live")
    if block is None:
        return [TestResult(f"{name}-live-nmi-capture", False, "the guest printed no live capture")]
    try:
        snap = json.loads(block)["snapshots"][-1]
    except (ValueError, KeyError, IndexError) as e:
        return [TestResult(f"{name}-live-nmi-capture", False, f"{e}: {block[:300]!r}")]
    return [nmi_suite._check_wedge(f"{name}-live-nmi-capture", snap, truth, "on-demand")]


def _check_deadlock_dump(name, kind, fmt, dump, cli, kernel, module_dir, truth):
    """A deadlock scenario's dump: a real dump of this kernel; analyze runs and names the
    release; hang gives the truth's cycle."""
    out = kdump_suite.check_container(name, fmt, dump, kernel.kver, truth, kind)
    report, detail = kdump_suite.run_cli(cli, "analyze", kernel.vmlinux, module_dir, dump)
    release = report and report.get("system", {}).get("release")
    out.append(TestResult(f"{name}-analyze-release", release == kernel.kver, f"{detail} release={release}"))
    report, detail = kdump_suite.run_cli(cli, "hang", kernel.vmlinux, module_dir, dump)
    out.append(TestResult(f"{name}-hang-runs", report is not None,
                          f"{detail} verdict={report and report.get('verdict')}"))
    if report is not None:
        out += [TestResult(f"{name}-{r.name}", r.passed, r.detail) for r in SCENARIOS[kind][2](report, truth)]
    return out


def _check_same_signature(name, dumps, cli, kernel, module_dir):
    """The QMP dump and the kdump of one hang are the same hang: the same verdict and
    signature, though makedumpfile -d 31 leaves pages out of the kdump (on 7.x even live
    slab objects: a task_struct page, a cycle task's state)."""
    if "qemu" not in dumps or "kdump" not in dumps:
        return []
    got, reports = {}, {}
    for fmt in ("qemu", "kdump"):
        report, _ = kdump_suite.run_cli(cli, "hang", kernel.vmlinux, module_dir, dumps[fmt])
        reports[fmt] = report or {}
        got[fmt] = reports[fmt].get("verdict"), reports[fmt].get("signature")
    # The signature names the functions the chain's tasks wait in. A kdump that lost a
    # chain task's stack (its thread.sp on a page makedumpfile left out: 7.3) says so
    # (partial, the task without a stack) and may then differ; the verdict may not.
    k = reports["kdump"]
    ids = set(k.get("cycle") or k.get("chain") or [])
    lost = [n["id"] for n in k.get("nodes", []) if n.get("id") in ids and n.get("kind") == "task" and not n.get("stack")]
    ok = bool(got["qemu"][1]) and (got["qemu"] == got["kdump"] or
                                   (got["qemu"][0] == got["kdump"][0] and k.get("partial") is True and bool(lost)))
    return [TestResult(f"{name}-kdump-same-signature-as-qemu", ok,
                       f"qemu {got['qemu']} kdump {got['kdump']}" +
                       (f"; the kdump lacks the stacks of {lost} (partial)" if lost else ""))]


def _drgn(ctx, dumps, kernel, module_dir, label):
    if drgn_diff is None:
        return []
    out = []
    for fmt, dump in sorted(dumps.items()):
        out += drgn_diff.compare(ctx, dump, kernel.vmlinux, module_dir, label=f"{label}-{fmt}")
    return out


def run_scenario(ctx, art, label, kind):
    """One boot of one scenario on one kernel: live checks, QMP dump, in-guest kdump."""
    module, extra, _ = SCENARIOS[kind]
    name = f"{label}-{kind}"
    cycle_dir = ctx.out / "matrix" / name
    r = kdump.kdump_cycle(art, cycle_dir, panic="sysrq", scenarios=7 if kind == "foundation" else 0,
                          qemu_dump=True, formats=("kdump",), nmi=kind == "foundation", module=module,
                          append_extra=f"{extra} {APPEND}".strip())
    cycle_dir.mkdir(parents=True, exist_ok=True)
    (cycle_dir / "truth.json").write_text(json.dumps(r.truth, indent=1, sort_keys=True))
    (cycle_dir / "console.log").write_text(r.console)
    out = [TestResult(f"{name}-guest-{t.name}", t.passed, t.detail) for t in r.tests]
    seen = {t.name for t in r.tests}
    required = kdump_suite.GUEST_CHECKS + ("host-dump-taken",) + (("nmi-injected",) if kind == "foundation" else ())
    out += [TestResult(f"{name}-guest-{n}", False, "line missing from the console") for n in required if n not in seen]
    out.append(TestResult(f"{name}-capture-kdump", "kdump" in r.dumps and r.capture.get("kdump", "").startswith("rc=0"),
                          r.capture.get("kdump", "no KSTUCK-CAPTURE line")))
    problems = nmi_suite._problems(r.console)
    if kind == "mixed":
        # The holder calls smp_call_function_single with IRQs off, which is the bug the
        # scenario builds: the kernel's own warning about it (kernel/smp.c) is expected.
        smp_warn = [ln for ln in r.console.splitlines() if "WARNING:" in ln and "kernel/smp.c" in ln]
        kept, n = [], len(smp_warn)
        for p in problems:
            if p == "WARNING:" and n:
                n -= 1
                continue
            kept.append(p)
        problems = kept
    out.append(TestResult(f"{name}-no-kernel-complaints", not problems, "; ".join(problems)[:400]))
    module_dir = art.scenarios[0].parent
    if kind == "foundation":
        out += _check_live_nmi(name, r.console, r.truth)
        # The kdump suite's checks of its own foundation cycle: container, analyze,
        # hang (xcall + mutex) and nmi show, on vmcore.qemu and vmcore.kdump.
        out += kdump_suite.check_cycle(name, cycle_dir, ctx.kstuck_cli, art.kernel, module_dir, "sysrq")
    else:
        for fmt in ("qemu", "kdump"):
            if fmt in r.dumps:
                out += _check_deadlock_dump(f"{name}-{fmt}", kind, fmt, r.dumps[fmt], ctx.kstuck_cli, art.kernel,
                                            module_dir, r.truth)
        if extra == "crash_kexec_post_notifiers" and "kdump" in r.dumps:
            out += kdump_suite.check_panic_snapshot(f"{name}-kdump", ctx.kstuck_cli, art.kernel.vmlinux,
                                                    r.dumps["kdump"])
    out += _check_same_signature(name, r.dumps, ctx.kstuck_cli, art.kernel, module_dir)
    # The kdump suite's checks may already hold drgn's differential of a dump.
    done = {x.name for x in out if x.name.startswith("drgn-diff-")}
    out += _drgn(ctx, {f: d for f, d in r.dumps.items() if f"drgn-diff-{name}-{f}" not in done}, art.kernel,
                 module_dir, name)
    out.append(TestResult(f"{name}-cycle-time", r.seconds.get("total", 999) < 240, json.dumps(r.seconds)))
    return out


def _selected(env, values):
    want = [x for x in os.environ.get(env, "").split(",") if x]
    return [v for v in values if not want or v in want]


def run(ctx):
    results = []
    timings = []
    releases = {}
    for spec, kinds in MATRIX:
        if not _selected("KSTUCK_MATRIX", [spec]):
            continue
        t0 = time.monotonic()
        first = len(results)
        try:
            kernel = rig.fetch_kernel(spec)
        except RigError as e:
            results.append(TestResult(f"{spec}-fetch", False, str(e)))
            continue
        label = _label(kernel, spec)
        if spec == "sid:cloud" and kdump_suite._label(kernel.kver) in releases.values():
            # sid's kernel is the same release as another row's: it adds nothing new.
            results.append(TestResult(f"{label}-same-as-{[s for s, v in releases.items() if v == kdump_suite._label(kernel.kver)][0]}",
                                      True, f"{kernel.kver}: not run twice"))
            continue
        releases[spec] = kdump_suite._label(kernel.kver)
        try:
            art = kdump.prepare(kernel, ctx.build, binaries=[ctx.kstuck_cli])
        except RigError as e:
            results.append(TestResult(f"{label}-build", False, str(e)))
            continue
        results.append(TestResult(f"{label}-build", True, f"{kernel.kver}: kstuck.ko + {len(art.scenarios)} scenario "
                                                            f"modules in {time.monotonic() - t0:.0f}s"))
        for kind in _selected("KSTUCK_MATRIX_SCENARIOS", kinds):
            try:
                results += run_scenario(ctx, art, label, kind)
            except RigError as e:
                results.append(TestResult(f"{label}-{kind}-cycle", False, str(e)))
        took = time.monotonic() - t0
        timings.append(f"{label} {took:.0f}s")
        mine = results[first:]
        bad = [r.name for r in mine if not r.passed]
        print(f"vm: matrix {label} ({kernel.kver}) took {took:.0f}s: {len(mine) - len(bad)} passed, {len(bad)} failed"
              f"{': ' + ' '.join(bad) if bad else ''}", flush=True)
    if timings:
        results.append(TestResult("timings", True, ", ".join(timings)))
    return results
