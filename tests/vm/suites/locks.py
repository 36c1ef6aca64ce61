# SPDX-License-Identifier: GPL-2.0
"""Locks: sleeping-lock owners the kernel does not track. kstuck_scenario_rwstale leaves an
rwsem whose owner field names a reader that has released it (rwsem_set_reader_owned()
on down_read, nothing on up_read), while another reader really holds it, a writer waits
behind, and the stale reader waits for a mutex the writer holds. Believing the owner
field draws a deadlock that does not exist.

Two dumps of the same scenario: a QMP dump of the live guest (hang_rwstale.sh) and an
in-guest kdump (kexec + makedumpfile -d 31, tests/vm/kdump.py). `kstuck hang --json` on
each must show the writer waiting on the rwsem and the reader on the mutex (confirmed);
the real holder found from its code (down_read with no up_read before its return
address: rwsem -owned_by-> holder, inferred, with that evidence); the stale reader no
owner, because its own code released the lock (the rwsem's notes say so); and no
DEADLOCK: the chain reader -> mutex -> writer -> rwsem -> holder.

Re-check kept dumps without booting: python3 -m tests.vm.suites.locks --check BUILD [CLI]
"""
import json
import sys
from pathlib import Path

from tests.vm import drgn_diff, kdump
from tests.vm.rig import RigError, TestResult
from tests.vm.suites import hang as hang_suite

MODULE = "kstuck_scenario_rwstale"


def _edges(report, frm, to, kind):
    return [e for e in report.get("edges", []) if e.get("from") == frm and e.get("to") == to and e.get("kind") == kind]


def _confirmed(e):
    return not e.get("inferred") and e.get("confidence", "confirmed") == "confirmed"


def check_rwstale(report, truth):
    out = []
    h = hang_suite._h
    holder, reader = int(truth.get("rwstale_holder.pid", -1)), int(truth.get("rwstale_reader.pid", -1))
    writer = int(truth.get("rwstale_writer.pid", -1))
    sem, gate = h(truth.get("rwstale_writer.rwsem", "0")), h(truth.get("rwstale_writer.mutex", "0"))
    nodes = hang_suite._nodes(report)
    rw = next((n for n in nodes.values() if n["kind"] == "rwsem" and h(n.get("address", "0")) == sem), {})
    mx = next((n for n in nodes.values() if n["kind"] == "mutex" and h(n.get("address", "0")) == gate), {})
    w_id, r_id, h_id = f"task:{writer}", f"task:{reader}", f"task:{holder}"

    e = _edges(report, w_id, rw.get("id"), "waits_for")
    out.append(TestResult("rwstale-writer-waits-on-rwsem", len(e) == 1 and _confirmed(e[0]), json.dumps(e)[:300]))
    out.append(TestResult("rwstale-rwsem-waiters", rw.get("waiters") == [writer],
                          f"waiters={rw.get('waiters')} want [{writer}] node={json.dumps(rw)[:200]}"))
    e = _edges(report, r_id, mx.get("id"), "waits_for") + _edges(report, mx.get("id"), w_id, "owned_by")
    out.append(TestResult("rwstale-reader-waits-on-writers-mutex", len(e) == 2 and all(map(_confirmed, e)),
                          json.dumps(e)[:400]))
    # The owner field names the stale reader, whose own code released the lock: no owner.
    stale = [x for x in report.get("edges", []) if x.get("from") == rw.get("id") and x.get("kind") == "owned_by"]
    notes = " | ".join(rw.get("notes") or [])
    out.append(TestResult("rwstale-stale-reader-no-owner",
                          not any(x.get("to") == r_id for x in stale)
                          and f"pid {reader} as a reader, but it is no owner: its code released it" in notes
                          and "up_read at kstuck_rwstale_reader+0x" in notes,
                          f"owned_by={json.dumps(stale)[:300]} notes={notes[:400]}"))
    # The real holder, found from its code: rwsem -owned_by-> holder, inferred, with the
    # down_read call, the way its address was recovered and what the scan saw after it.
    e = [x for x in stale if x.get("to") == h_id]
    ev = e[0].get("evidence", "") if e else ""
    out.append(TestResult("rwstale-holder-owns-rwsem-from-code",
                          len(e) == 1 and e[0].get("inferred") and e[0].get("confidence") == "inferred"
                          and "down_read(" in ev and "at kstuck_rwstale_holder+0x" in ev
                          and "no up_read before the return address" in ev and "linear scan" in ev,
                          json.dumps(e)[:500]))
    out.append(TestResult("rwstale-holder-not-a-waiter", holder not in (rw.get("waiters") or [])
                          and not _edges(report, h_id, rw.get("id"), "waits_for"), f"holder pid {holder}"))
    # No DEADLOCK at all: the truth is the chain reader -> gate -> writer -> rwsem -> holder.
    chain = report.get("chain", [])
    out.append(TestResult("rwstale-no-deadlock", report.get("verdict") != "DEADLOCK" and not report.get("cycle"),
                          f"verdict={report.get('verdict_text')} reason={report.get('reason')} "
                          f"cycle={report.get('cycle')}"[:400]))
    out.append(TestResult("rwstale-chain-ends-at-holder",
                          chain == [r_id, mx.get("id"), w_id, rw.get("id"), h_id] and report.get("root_cause") == h_id,
                          f"chain={chain} root_cause={report.get('root_cause')} want "
                          f"{[r_id, mx.get('id'), w_id, rw.get('id'), h_id]}"[:400]))
    return out


def _check(name, cli, vmlinux, module_dir, dump, truth):
    report, err = hang_suite.analyse(cli, vmlinux, module_dir, dump)
    if report is None:
        return [TestResult(f"{name}-hang-runs", False, err)]
    out = [TestResult(f"{name}-hang-runs", True, f"verdict={report.get('verdict')} reason={report.get('reason')}"[:300])]
    return out + [TestResult(f"{name}-{r.name}", r.passed, r.detail) for r in check_rwstale(report, truth)]


def run(ctx):
    results = []
    module_dir = ctx.scenarios[0].parent if ctx.scenarios else None
    (ctx.out / "locks.vmlinux").write_text(str(ctx.kernel.vmlinux))
    # The QMP dump of the live guest.
    try:
        guest_results, truth, dump = ctx.boot_and_dump("hang_rwstale")
        results += guest_results
        if dump:
            results += _check("rwstale-qemu", ctx.kstuck_cli, ctx.kernel.vmlinux, module_dir, dump, truth)
            results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, module_dir, label="rwstale-qemu")
        else:
            results.append(TestResult("rwstale-qemu-dump", False, "the guest asked for no dump"))
    except RigError as e:
        results.append(TestResult("rwstale-qemu-boot", False, str(e)))
    # The in-guest kdump: sysrq c into the capture kernel, makedumpfile -c -d 31.
    try:
        art = kdump.prepare(ctx.kernel, ctx.build)
        cycle_dir = ctx.out / "locks-kdump-rwstale"
        r = kdump.kdump_cycle(art, cycle_dir, panic="sysrq", scenarios=0, qemu_dump=False, formats=("kdump",),
                              module=MODULE)
        (cycle_dir / "truth.json").write_text(json.dumps(r.truth, indent=1, sort_keys=True))
        results += [TestResult(f"rwstale-kdump-guest-{t.name}", t.passed, t.detail) for t in r.tests]
        if "kdump" in r.dumps:
            results += _check("rwstale-kdump", ctx.kstuck_cli, ctx.kernel.vmlinux, art.scenarios[0].parent,
                              r.dumps["kdump"], r.truth)
            results += drgn_diff.compare(ctx, r.dumps["kdump"], ctx.kernel.vmlinux, art.scenarios[0].parent,
                                         label="rwstale-kdump")
        else:
            results.append(TestResult("rwstale-kdump-capture", False, json.dumps(r.capture)[:300]))
    except RigError as e:
        results.append(TestResult("rwstale-kdump-cycle", False, str(e)))
    return results


def main():
    """Re-checks kept dumps: python3 -m tests.vm.suites.locks --check BUILD [CLI]."""
    build = Path(sys.argv[2])
    cli = Path(sys.argv[3]) if len(sys.argv) > 3 else build / "release" / "cli" / "kstuck"
    out = build / "vm-out"
    vmlinux = Path((out / "locks.vmlinux").read_text().strip())
    moddir = build / "scenarios" / vmlinux.parent.name
    failed = 0
    kept = [("rwstale-qemu", out / "hang_rwstale.vmcore", out / "hang_rwstale.truth.json"),
            ("rwstale-kdump", out / "locks-kdump-rwstale" / "vmcore.kdump", out / "locks-kdump-rwstale" / "truth.json")]
    for name, dump, truth in kept:
        if not dump.exists():
            print(f"SKIP {name}: no {dump}")
            continue
        for r in _check(name, cli, vmlinux, moddir, dump, json.loads(truth.read_text())):
            failed += not r.passed
            print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--check":
        sys.exit(main())
    print(__doc__)
