# SPDX-License-Identifier: GPL-2.0
"""Live (issue 16): `kstuck hang --live` and the other --live commands inside one guest:
without kstuck.ko (running CPUs unknown, the rest works), an idle guest (no verdict),
60 s of hang --live in a loop during the trace torture (no oops, every run exits 0/3 or
with a clear error), the foundation scenario live (STUCK at the IRQs-off CPU, with the
xcall waiter and the mutex waiter) and the mixed cycle live (DEADLOCK). After each live
report the host takes a QMP dump right away and `kstuck hang` on it must give the same
verdict and signature (the signature for DEADLOCK and STUCK). A second short boot with
lockdown=confidentiality: /proc/kcore is refused and kstuck says so in one line, exit 1.
"""
import json
import os
import re
import subprocess
import time

from tests.vm import drgn_diff, rig
from tests.vm.rig import RigError, TestResult
from tests.vm.suites import hang as hang_suite

TORTURE_SECONDS = int(os.environ.get("KSTUCK_LIVE_TORTURE_SECONDS", "60"))
# The trace torture patches kernel text in loops: single-threaded TCG, as the trace suite.
ACCEL = os.environ.get("KSTUCK_LIVE_ACCEL", "tcg,thread=single")
REPORTS = ["live_idle", "live_foundation", "live_mixed"]
# The foundation and mixed scenarios wedge CPUs on purpose (RCU stalls, soft lockups);
# the torture part of the console is checked on its own below.
# The mixed scenario's smp_call_function_single() with IRQs off is the bug it builds, and
# kernel/smp.c warns about it (rig's "warning-xcall-irqs-off" class).
WEDGED = ("soft-lockup", "rcu-stall", "hung-task", "took-too-long-backtrace", "warning-xcall-irqs-off")
CONSOLE_BAD = re.compile(r"(Oops|BUG:|WARNING:|soft lockup|Kernel panic|general protection|RIP: .*kstuck|"
                         r"detected stalls)")


def dump_report(ctx, dump):
    """kstuck hang --json on the host, on the QMP dump; (report or None, detail, seconds)."""
    t = time.monotonic()
    report, err = hang_suite.analyse(ctx.kstuck_cli, ctx.kernel.vmlinux, None, dump)
    return report, err, time.monotonic() - t


def check_foundation(live, truth):
    """STUCK at the IRQs-off CPU (hang suite's xcall checks) and the mutex waiter's wait."""
    out = [TestResult(r.name.replace("xcall-", "foundation-"), r.passed, r.detail)
           for r in hang_suite.check_xcall(live, truth)]
    waiter = int(truth.get("mutex_waiter.pid", -1))
    owner = int(truth.get("mutex_owner.pid", -2))
    mutex = truth.get("mutex_waiter.mutex", "0")
    nodes = {n["id"]: n for n in live.get("nodes", [])}
    edges = [e for e in live.get("edges", []) if not e.get("transient")]
    waits = [e for e in edges if e["from"] == f"task:{waiter}" and nodes.get(e["to"], {}).get("kind") == "mutex"]
    lock = nodes.get(waits[0]["to"], {}) if waits else {}
    out.append(TestResult("foundation-mutex-waiter-waits",
                          bool(waits) and int(lock.get("address", "0"), 16) == int(mutex, 16),
                          f"edges={json.dumps(waits)[:200]} truth mutex={mutex}"))
    owned = [e for e in edges if waits and e["from"] == waits[0]["to"] and e["kind"] == "owned_by"]
    out.append(TestResult("foundation-mutex-owner", bool(owned) and owned[0]["to"] == f"task:{owner}",
                          f"owned_by={[e['to'] for e in owned]} truth owner={owner}"))
    return out


def check_live_fields(name, live):
    seq = live.get("capture_seq")
    caps = live.get("captures", [])
    ok = live.get("source") == "live" and isinstance(seq, int) and len(caps) == 2 and caps[-1] == seq
    return [TestResult(f"{name}-source-live", ok, f"source={live.get('source')} capture_seq={seq} captures={caps}")]


def run(ctx):
    results = []
    kw = {"console_allow": WEDGED} if "console_allow" in getattr(rig.Guest, "__dataclass_fields__", {}) else {}
    dumps, dump_seconds = {}, {}
    t_boot = time.monotonic()
    with ctx.boot("live", append=f"kstuck.live_torture={TORTURE_SECONDS}", accel=ACCEL, **kw) as g:
        for _ in REPORTS:
            try:
                words = g.next_request(TORTURE_SECONDS + 900)
            except RigError as e:
                results.append(TestResult("guest-requests", False, str(e)[-600:]))
                break
            if words[:1] == ["dump"] and len(words) == 2 and words[1] in REPORTS:
                t = time.monotonic()
                try:
                    dumps[words[1]] = g.dump(ctx.out / f"{words[1]}.vmcore")
                    dump_seconds[words[1]] = time.monotonic() - t
                    g.reply("ok")
                except RigError as e:
                    results.append(TestResult(f"{words[1]}-qmp-dump", False, str(e)[-300:]))
                    g.reply("failed")
            else:
                g.reply("unexpected")
                results.append(TestResult("guest-requests", False, f"unexpected request {words}"))
                break
        if "live_mixed" in dumps:
            try:
                g.wait_for(r"KSTUCK-TEST: live_mixed-dump-taken", 60, user=True)
            except RigError:
                pass
        results += g.results()
        text = g.user_text()
        console = g.text()
        truth = g.truth()
    results.append(TestResult("boot-seconds", True, f"{time.monotonic() - t_boot:.0f} s from boot to the last dump"))
    module_dir = ctx.scenarios[0].parent if ctx.scenarios else None
    for name, dump in sorted(dumps.items()):
        results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, module_dir, label=name)

    # A second, short boot: kernel lockdown refuses /proc/kcore; kstuck says so.
    t_lock = time.monotonic()
    with ctx.boot("live_lockdown", append="lockdown=confidentiality") as g:
        try:
            g.wait_for(r"^KSTUCK-DONE", 300, user=True)
        except RigError as e:
            results.append(TestResult("lockdown-guest-finished", False, str(e)[-400:]))
        results += g.results()
    results.append(TestResult("lockdown-boot-seconds", True, f"{time.monotonic() - t_lock:.0f} s"))

    # The console while hang --live raced the trace torture: no oops, WARN, BUG, stall.
    begin, end = console.find("KSTUCK-LIVE-TORTURE-BEGIN"), console.find("KSTUCK-LIVE-TORTURE-END")
    if begin >= 0 and end > begin:
        bad = [line for line in console[begin:end].splitlines() if CONSOLE_BAD.search(line)]
        results.append(TestResult("torture-console-clean", not bad,
                                  " | ".join(bad[:4]) if bad else "no oops, WARN, BUG, lockup or stall"))
    else:
        results.append(TestResult("torture-console-clean", False, "torture markers not found"))

    times = {}
    for m in re.finditer(r"^KSTUCK-LIVE-TIME: (\S+) (.*)$", text, re.M):
        times[m.group(1)] = (times.get(m.group(1), "") + " " + m.group(2)).strip()
    for name in REPORTS:
        block = rig.printed_block(text, f"KSTUCK-LIVE-BEGIN {name}", f"KSTUCK-LIVE-END {name}")
        try:
            live = json.loads(block) if block else None
        except json.JSONDecodeError as e:
            live = None
            results.append(TestResult(f"{name}-json", False, f"{e}: {block[:200]}"))
        if live is None:
            results.append(TestResult(f"{name}-live-report", False, "no live report printed"))
            continue
        results += check_live_fields(name, live)
        # The checks of the hang suite, on the edges both passes saw (the verdict's).
        stable = dict(live, edges=[e for e in live.get("edges", []) if not e.get("transient")])
        if name == "live_idle":
            results += [TestResult(f"{name}-{r.name}", r.passed, r.detail) for r in hang_suite.check_idle(stable, truth)]
        elif name == "live_foundation":
            results += check_foundation(stable, truth)
        else:
            results += [TestResult(r.name.replace("mixed-", "live_mixed-"), r.passed, r.detail)
                        for r in hang_suite.check_mixed(stable, truth)]
        transient = [e for e in live.get("edges", []) if e.get("transient")]
        results.append(TestResult(f"{name}-transient-edges-listed", live.get("transient_edges") == len(transient),
                                  f"{len(transient)} transient, {live.get('vanished_edges')} vanished"))
        dump = dumps.get(name)
        if not dump:
            results.append(TestResult(f"{name}-dump-agrees", False, "no QMP dump"))
            continue
        report, err, secs = dump_report(ctx, dump)
        if report is None:
            results.append(TestResult(f"{name}-dump-agrees", False, err))
            continue
        # A signature names a bug: compared for DEADLOCK and STUCK. NONE has none to
        # compare; a live NONE may still show a chain that can progress (an xcall queued
        # on the CPU kstuck itself runs on), a dump of the same guest moments later not.
        same = report.get("verdict") == live.get("verdict") and (
            live.get("verdict") not in ("DEADLOCK", "STUCK") or report.get("signature") == live.get("signature"))
        results.append(TestResult(f"{name}-dump-agrees", same,
                                  f"live {live.get('verdict')} {live.get('signature')!r}, dump {report.get('verdict')} "
                                  f"{report.get('signature')!r} (root {live.get('root_cause')} / {report.get('root_cause')})"))
        print(f"vm/live: KSTUCK-LIVE-BENCH {name} {times.get(name, '?')} qmp-dump-s={dump_seconds.get(name, 0):.2f} "
              f"hang-on-dump-s={secs:.2f}", flush=True)
    return results
