# SPDX-License-Identifier: GPL-2.0
"""kstuck.ko is safe to load on a production kernel (issue 14). Two boots:

main (kmod_safety.sh): CPU hotplug under the watchdog at 100 ms --panic (no false stall,
a CPU back online is watched again), a wedge of every CPU in turn (each caught), the host
pausing the VM for 3 s with QMP stop/cont and with SIGSTOP/SIGCONT of QEMU (no capture,
no panic), a storm of 200 inject-nmi in 10 s (rate-limited, counted, the first hang
snapshot kept in the pinned slot, every capture complete without waiting in NMI
context), the ioctl checks (kmod_safety_probe.c) and unload.

panic (kmod_safety_kdump.sh): a panic while a capture is in flight, with
crash_kexec_post_notifiers so kstuck's panic notifier runs first; kdump must complete
and the vmcore hold a panic snapshot whose stopped CPUs are not called offline.

The rig's console check (tests/vm/rig.py) fails either boot on a WARNING, BUG, Oops,
lockup, "took too long" or kernel address printed by kstuck.ko."""
import json
import os
import re
import signal
import time

from tests.vm import drgn_diff, kdump
from tests.vm.rig import RigError, TestResult, printed_block
from tests.vm.suites.nmi import _functions, _show_vmcore


def _serve(g, timeout=900):
    """Answers the guest's host requests until it is done."""
    while True:
        try:
            words = g.next_request(timeout)
        except RigError:
            if not g.alive() or "KSTUCK-DONE" in g.user_text():
                return
            raise
        if words[:1] == ["pause"]:
            qmp = g.connect_qmp()
            qmp.execute("stop")
            time.sleep(float(words[1]))
            qmp.execute("cont")
            g.reply("ok")
        elif words[:1] == ["sigstop"]:
            os.kill(g.proc.pid, signal.SIGSTOP)
            time.sleep(float(words[1]))
            os.kill(g.proc.pid, signal.SIGCONT)
            g.reply("ok")
        elif words[:1] == ["storm"]:
            n, secs = int(words[1]), float(words[2])
            t0 = time.monotonic()
            for i in range(n):
                g.inject_nmi()
                delay = t0 + (i + 1) * secs / n - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            g.storm_secs = time.monotonic() - t0
            g.reply("ok")
        else:
            g.reply("unexpected")


def run_main(ctx):
    results = []
    # no_timer_check: a busy TCG host failed 6.1's IO-APIC timer check ("IO-APIC + timer
    # doesn't work!" panic at boot).
    # KSTUCK_SAFETY_APPEND: more command line for the main boot (e.g. kstuck.safety_skip=hotplug).
    with ctx.boot("kmod_safety", append=f"no_timer_check {os.environ.get('KSTUCK_SAFETY_APPEND', '')}".strip()) as g:
        g.storm_secs = None
        try:
            _serve(g)
            g.wait_for(r"^KSTUCK-DONE", 120, user=True)
        except RigError as e:
            # What ran before the guest died (a false stall panics it) still counts.
            results += g.results()
            results.append(TestResult("safety-main-boot-completed", False, str(e)[-1500:]))
            return results
        results += g.results()
        user = g.user_text()
        text = g.text()
        storm_secs = g.storm_secs
    m = [line for line in user.splitlines() if line.startswith("KSTUCK-INFO: first hang snapshot")]
    first_seq = int(m[0].split()[-1]) if m and m[0].split()[-1].isdigit() else None
    block = printed_block(user, "KSTUCK-SAFETY-JSON-BEGIN storm", "KSTUCK-SAFETY-JSON-END storm")
    try:
        hist = json.loads(block) if block else None
    except ValueError:
        hist = None
    if not hist:
        results.append(TestResult("safety-storm-history", False, f"no JSON history: {str(block)[:300]}"))
        return results
    counts = hist.get("unknown_nmis", {})
    seen, captured = counts.get("seen", 0), counts.get("captured", 0)
    limited, busy = counts.get("ratelimited", 0), counts.get("busy", 0)
    # At most one capture per second: the 10 s storm (plus its ramp) gives at most 12.
    secs = storm_secs or 10
    ok = seen >= 190 and 1 <= captured <= int(secs) + 2 and seen == captured + limited + busy
    results.append(TestResult("safety-storm-rate-limited-and-counted", ok,
                              f"storm {secs:.1f}s: {counts}"))
    unk = [s for s in hist["snapshots"] if s["trigger"] == "unknown-nmi"]
    ok = bool(unk) and all(s["complete"] and s["answered"] == s["requested"] == 4 for s in unk)
    results.append(TestResult("safety-storm-captures-complete-without-waiting", ok,
                              f"{[(s['seq'], s['answered'], s['requested'], s['complete']) for s in unk]}"))
    seqs = [s["seq"] for s in hist["snapshots"]]
    first = [s for s in hist["snapshots"] if s["seq"] == first_seq]
    ok = hist.get("pinned_slots") == 1 and bool(first) and first[0]["trigger"] == "watchdog"
    results.append(TestResult("safety-storm-first-hang-snapshot-kept", ok,
                              f"first={first_seq} kept={seqs} pinned_slots={hist.get('pinned_slots')} "
                              f"write_seq={hist.get('write_seq')}"))
    # kstuck's handlers wait for nobody; what TCG on a loaded host adds stays far below the
    # 500 ms the old external-NMI handler could wait (see rig.CONSOLE_CLASSES).
    took = [float(m.group(1)) for m in re.finditer(r"\[kstuck\]\) took too long to run: ([\d.]+) msecs", text)]
    results.append(TestResult("safety-nmi-handlers-never-wait", all(t < 250 for t in took),
                              f"kstuck handler 'took too long' lines (ms): {took}"))
    return results


def run_panic(ctx):
    results = []
    art = kdump.prepare(ctx.kernel, ctx.build, binaries=[ctx.kstuck_cli])
    cycle_dir = ctx.out / "kmod_safety_kdump"
    r = kdump.kdump_cycle(art, cycle_dir, panic="sysrq", scenarios=0, qemu_dump=False, formats=("kdump",),
                          suite="kmod_safety_kdump", timeout=420,
                          append_extra="crash_kexec_post_notifiers no_timer_check")
    results += r.tests
    # kdump_cycle's guest is a rig.Guest too: the rig's console check covers it.
    dump = r.dumps.get("kdump")
    results.append(TestResult("safety-panic-in-flight-kdump-completed", dump is not None,
                              f"capture={r.capture} seconds={r.seconds}"))
    if not dump:
        return results
    hist = _show_vmcore(ctx, dump)
    snaps = hist["snapshots"]
    pn = [s for s in snaps if s["trigger"] == "panic"]
    od = [s for s in snaps if s["trigger"] == "on-demand"]
    detail = f"snapshots={[(s['seq'], s['trigger'], s['complete'], s['answered'], s['requested']) for s in snaps]}"
    results.append(TestResult("safety-panic-ended-capture-in-flight",
                              bool(od) and od[-1]["complete"] and
                              "timed-out" in next((c["status"] for c in od[-1]["cpus"] if c["cpu"] == 3), ""),
                              detail))
    ok = False
    if pn:
        p = pn[-1]
        selfc = [c for c in p["cpus"] if "self" in c.get("status", "")]
        others = [c for c in p["cpus"] if "self" not in c.get("status", "")]
        ok = (p["complete"] and bool(selfc) and "panic" in _functions(selfc[0]) and
              all("offline" not in c["status"] and "stopped-by-panic" in c["status"] for c in others) and
              len(others) == 3)
        detail += f" panic cpus={[(c['cpu'], c['status'], _functions(c)[:3]) for c in p['cpus']]}"
    results.append(TestResult("safety-panic-snapshot-stopped-not-offline", ok, detail))
    # CPU 3 sits in an NMI handler through the panic: it saves no crash note. kstuck says
    # its registers are missing; drgn still names a frame (a listed drgn defect).
    results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, art.scenarios[0].parent if art.scenarios else None,
                                 label="kmod_safety_kdump")
    return results


def run(ctx):
    results = []
    for part in (run_main, run_panic):
        t = time.monotonic()
        try:
            results += part(ctx)
        except RigError as e:
            results.append(TestResult(part.__name__, False, str(e)))
        print(f"kmod_safety: {part.__name__} took {time.monotonic() - t:.0f}s", flush=True)
    return results
