# SPDX-License-Identifier: GPL-2.0
"""NMI collector: the guest's checks (nmi.sh), then the host checks the JSON the guest
printed against the scenario's KSTUCK-TRUTH, reads the records back out of a vmcore
with 'kstuck nmi show --vmcore', and boots once more to see the watchdog panic the
guest (nmi_panic.sh) with its snapshots in the dump of the panicked machine."""
import base64
import json
import re
import subprocess

from tests.vm import drgn_diff
from tests.vm.rig import RigError, TestResult, printed_block

# Kernel complaints that fail the suite. Soft-lockup, RCU-stall and the "unknown NMI"
# reports are what the wedge scenarios and inject-nmi are expected to cause.
PROBLEMS = re.compile(r"(Oops|general protection|kernel BUG|BUG: (?!soft lockup)|WARNING:|"
                      r"RIP: .*(nmi_dump|kstuck_wd)|Call Trace:\n.*nmi_dump)")


def _between(user_text, kind, tag):
    """The block the guest printed between the BEGIN and END lines of kind and tag."""
    block = printed_block(user_text, f"KSTUCK-NMI-{kind}-BEGIN {tag}", f"KSTUCK-NMI-{kind}-END {tag}")
    if block is None:
        raise RigError(f"guest printed no {kind} {tag}")
    return block


def _functions(cpu):
    return [f.get("function", "") for f in cpu.get("frames", [])]


def _cpu(snap, n):
    for c in snap["cpus"]:
        if c["cpu"] == n:
            return c
    return {}


def _check_wedge(name, snap, truth, trigger):
    """The snapshot shows CPU 3 in the spinner with IRQs off and CPU 2 in the xcall."""
    c3, c2 = _cpu(snap, 3), _cpu(snap, 2)
    ok = (snap["trigger"] == trigger and snap["requested"] == 4 and snap["answered"] == 4 and
          c3.get("answered") and c3.get("irqs_enabled") is False and
          "kstuck_scenario_irqoff_spin" in _functions(c3) and
          str(c3.get("pid")) == truth.get("irqoff_spinner.pid") and
          # 7.x: smp_call_function_single() tail-calls __smp_call_function_single().
          {"smp_call_function_single", "__smp_call_function_single"} & set(_functions(c2)) and
          str(c2.get("pid")) == truth.get("xcall_waiter.pid"))
    detail = (f"seq={snap['seq']} trigger={snap['trigger']} answered={snap['answered']}/{snap['requested']} "
              f"cpu3=pid {c3.get('pid')} {c3.get('context')} {_functions(c3)[:3]} "
              f"cpu2=pid {c2.get('pid')} {_functions(c2)[:4]} truth spinner={truth.get('irqoff_spinner.pid')} "
              f"xcall={truth.get('xcall_waiter.pid')}")
    return TestResult(name, bool(ok), detail)


def _show_vmcore(ctx, dump):
    p = subprocess.run([str(ctx.kstuck_cli), "nmi", "show", "--vmcore", str(dump), "--vmlinux",
                        str(ctx.kernel.vmlinux), "--all", "--json", "--no-lines"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    if p.returncode != 0:
        raise RigError(f"kstuck nmi show --vmcore: exit {p.returncode}: {p.stderr.strip()[-300:]}")
    return json.loads(p.stdout)


def _problems(text):
    return [m.group(0) for m in PROBLEMS.finditer(text)]


def run_main(ctx):
    results = []
    dump = ctx.out / "nmi.vmcore"
    with ctx.boot("nmi") as g:
        words = g.next_request(900)
        if words[:1] == ["nmi"]:
            g.inject_nmi()
            g.reply("ok")
        else:
            g.reply("unexpected")
        words = g.next_request(900)
        if words[:1] == ["dump"]:
            g.dump(dump)
            g.reply("ok")
        else:
            g.reply("unexpected")
        g.wait_for(r"^KSTUCK-DONE", 180, user=True)
        results += g.results()
        text = g.text()
        user = g.user_text()
        truth = g.truth()

    cap = json.loads(_between(user, "JSON", "capture"))
    results.append(_check_wedge("nmi-json-capture-matches-truth", cap["snapshots"][-1], truth, "on-demand"))
    unk = json.loads(_between(user, "JSON", "unknown"))["snapshots"][-1]
    results.append(_check_wedge("nmi-json-external-nmi-matches-truth", unk, truth, "unknown-nmi"))
    c0 = _cpu(unk, 0)
    results.append(TestResult("nmi-external-nmi-cpu0-self", "self" in c0.get("status", "") and unk["initiator_cpu"] == 0,
                              f"cpu0 status={c0.get('status')} initiator={unk['initiator_cpu']}"))

    # The fixture candidates of this boot (tests/fixtures/nmi_dump_v1.* came from one).
    (ctx.out / "nmi_dump_v1.bin").write_bytes(base64.b64decode(_between(user, "FIXTURE", "bin")))
    (ctx.out / "nmi_dump_v1.kallsyms").write_text(_between(user, "FIXTURE", "kallsyms"))

    m = re.search(r"KSTUCK-INFO: final_capture snapshot (\d+): (\d+)/(\d+)", user)
    if not m or not dump.exists():
        results.append(TestResult("nmi-vmcore-holds-records", False, "no final capture or no dump"))
    else:
        seq = int(m.group(1))
        hist = _show_vmcore(ctx, dump)
        snaps = {s["seq"]: s for s in hist["snapshots"]}
        s = snaps.get(seq)
        ok = s is not None and s["complete"]
        detail = f"dump snapshots={sorted(snaps)} final={seq}"
        if ok:
            r = _check_wedge("nmi-vmcore-holds-records", s, truth, "on-demand")
            sym = [f["symbol"] for f in _cpu(s, 3).get("frames", [])]
            ok = r.passed and any("[kstuck_scenario]" in x for x in sym)
            detail = r.detail + f" symbols={sym[:2]} " + detail
        results.append(TestResult("nmi-vmcore-holds-records", ok, detail))
    if dump.exists():
        results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, ctx.scenarios[0].parent, label="nmi")
    probs = _problems(text)
    results.append(TestResult("nmi-console-clean", not probs, " | ".join(probs[:5])))
    return results


def check_watchdog_panic_verdict(ctx, dump):
    """The watchdog panicked because CPU 3 spun with IRQs off; nothing waits on it yet.
    The panic stopped CPU 3 by NMI (it took no reboot IPI): its interrupted context has
    IRQs off and its timer is overdue, so hang must blame it, not call the dump clean,
    and never blame CPU 1, which merely panicked."""
    from tests.vm.suites import kdump as kdump_suite  # kdump imports this module's helpers
    hang, detail = kdump_suite.run_cli(ctx.kstuck_cli, "hang", ctx.kernel.vmlinux, ctx.scenarios[0].parent, dump)
    if hang is None:
        return [TestResult("nmi-panic-hang-runs", False, detail)]
    root = next((n for n in hang.get("nodes", []) if n.get("id") == hang.get("root_cause")), {})
    return [TestResult("nmi-panic-hang-runs", True, detail),
            TestResult("nmi-panic-hang-stuck-at-stalled-cpu",
                       hang.get("verdict") == "STUCK" and hang.get("root_cause") == "cpu:3" and
                       root.get("irqs_off") is True and root.get("stopped_by_panic") is True,
                       f"verdict={hang.get('verdict')} root_cause={hang.get('root_cause')} "
                       f"reason={str(hang.get('reason'))[:300]}")]


def run_panic(ctx):
    results = []
    dump = ctx.out / "nmi_panic.vmcore"
    # panic=0 (after the rig's panic=-1) keeps the panicked guest up for a dump.
    with ctx.boot("nmi_panic", append="panic=0") as g:
        m = g.wait_for(r"Kernel panic - not syncing: kstuck watchdog: CPU (\d+) stalled for (\d+) ms \(snapshot (\d+)\)",
                       180)
        results.append(TestResult("nmi-watchdog-panic", m.group(1) == "3", m.group(0)))
        g.wait_for(r"end Kernel panic", 60)
        g.dump(dump)
        text = g.text()
    w = re.search(r"watchdog: CPU 3 silent for (\d+) ms \(threshold 2000 ms\): snapshot (\d+), (\d+)/(\d+)", text)
    results.append(TestResult("nmi-watchdog-panic-capture-first",
                              bool(w) and 2000 <= int(w.group(1)) < 4500 and w.group(3) == w.group(4) == "4",
                              w.group(0) if w else "no watchdog capture line"))
    hist = _show_vmcore(ctx, dump)
    snaps = hist["snapshots"]
    wd = [s for s in snaps if s["trigger"] == "watchdog"]
    pn = [s for s in snaps if s["trigger"] == "panic"]
    ok = bool(wd) and wd[-1].get("stalled_cpu") == 3 and wd[-1]["answered"] == 4 and \
        "kstuck_scenario_irqoff_spin" in _functions(_cpu(wd[-1], 3))
    results.append(TestResult("nmi-panic-vmcore-has-watchdog-snapshot", ok,
                              f"watchdog snapshots={[(s['seq'], s['answered']) for s in wd]}"))
    self_cpu = [c for s in pn for c in s["cpus"] if "self" in c.get("status", "")]
    ok = bool(pn) and bool(self_cpu) and "panic" in _functions(self_cpu[-1])
    results.append(TestResult("nmi-panic-notifier-snapshot", ok,
                              f"panic snapshots={[(s['seq'], s['answered'], s['requested']) for s in pn]} "
                              f"self={[_functions(c)[:6] for c in self_cpu][-1:]}"))
    results += check_watchdog_panic_verdict(ctx, dump)
    # panic() without kdump: smp_send_stop() took CPUs 0, 2, 3 out of cpu_online_mask, and
    # QEMU saved their registers. kstuck lists them as stopped and unwinds their tasks from
    # those notes; drgn must agree on every CPU and task.
    results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, ctx.scenarios[0].parent, label="nmi_panic")
    return results


def run(ctx):
    results = []
    for part in (run_main, run_panic):
        try:
            results += part(ctx)
        except RigError as e:
            results.append(TestResult(part.__name__, False, str(e)))
    return results
