#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/analyze_kdump: kstuck vs. crash 8.0.2 vs. drgn 0.0.22 on the same real kdumps
(the kdump suite's cycles: 6.1 and 6.12, makedumpfile -c, -F and -E). For every tool
and file: wall time, peak RSS, how many of three ground-truth facts it shows, and its
first error line verbatim.

Facts (from the scenario's KSTUCK-TRUTH lines): the IRQs-off CPU's stack shows
kstuck_scenario_irqoff_spin; the xcall waiter's CPU shows smp_call_function_single
and runs the waiter's pid; the mutex waiter's stack shows __mutex_lock.

Usage: python3 bench/analyze_kdump/run.py [--build DIR] [--cli KSTUCK] [--boot]
  --boot runs the kdump cycles first (else it uses the suite's kept dumps in
  BUILD/vm-out/kdump-<kernel>/).
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import timing as bench_timing  # noqa: E402
from tests.vm import kdump, rig  # noqa: E402

HERE = Path(__file__).resolve().parent
FORMATS = ("kdump", "flat", "elf")
TIMEOUT = 600


def timed(cmd, stdin=""):
    return bench_timing.timed(cmd, stdin, TIMEOUT)


def first_error(text):
    for line in text.splitlines():
        if re.search(r"(error|do not match|cannot|invalid|not found|unknown|fail)", line, re.I):
            return line.strip()[:200]
    return ""


def truth_ints(truth, *keys):
    return [int(truth.get(k, -1)) for k in keys]


def run_kstuck(cli, vmlinux, moddir, dump, truth):
    spin_cpu, x_cpu, x_pid, w_pid = truth_ints(truth, "irqoff_spinner.cpu", "xcall_waiter.cpu", "xcall_waiter.pid",
                                               "mutex_waiter.pid")
    base = ["--vmlinux", vmlinux, "--module-dir", moddir, "--json"]
    out, err, wall, rss, rc = timed([cli, "analyze", dump, *base])
    facts, note = [False] * 3, first_error(err)
    try:
        rep = json.loads(out)
        cpus = {c["cpu"]: c for c in rep.get("cpus", [])}
        fn = lambda c: [f.get("function") or f.get("symbol", "") for f in cpus.get(c, {}).get("stack", {}).get("frames", [])]  # noqa: E731
        facts[0] = "kstuck_scenario_irqoff_spin" in fn(spin_cpu)
        facts[1] = cpus.get(x_cpu, {}).get("pid") == x_pid and "smp_call_function_single" in fn(x_cpu)
        out2, err2, wall2, rss2, _ = timed([cli, "tasks", dump, *base])
        tasks = {t["pid"]: t for t in json.loads(out2).get("tasks", [])} if out2.strip().startswith("{") else {}
        wst = [f.get("function") or f.get("symbol", "") for f in tasks.get(w_pid, {}).get("stack", {}).get("frames", [])]
        facts[2] = any(f.startswith("__mutex_lock") or f == "mutex_lock" for f in wst)
        # One analyze + one tasks run answer what one crash or drgn session answers.
        wall, rss = wall + wall2, max(rss, rss2)
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError) as e:
        note = note or f"{type(e).__name__}: {e}"
    return {"wall_s": wall, "rss_mb": round(rss), "exit": rc, "facts": facts, "note": note}


def run_crash(vmlinux, dump, truth):
    spin_cpu, x_cpu, x_pid, w_pid = truth_ints(truth, "irqoff_spinner.cpu", "xcall_waiter.cpu", "xcall_waiter.pid",
                                               "mutex_waiter.pid")
    with tempfile.NamedTemporaryFile("w", suffix=".crash") as cmds:
        cmds.write(f"bt -a\nbt {w_pid}\nquit\n")
        cmds.flush()
        out, err, wall, rss, rc = timed(["crash", "-s", vmlinux, dump, "-i", cmds.name])
    text = out + err
    # One block per task: bt -a gives those on CPUs, "bt PID" the waiter (if crash finds it).
    blocks = [(int(m.group(1)), int(m.group(2)), m.group(0)) for m in
              re.finditer(r"^PID: +(\d+) +TASK: \S+ +CPU: (\d+) .*?(?=^PID: |\Z)", text, re.M | re.S)]
    on_cpu = lambda c: next(((p, b) for p, cpu, b in blocks if cpu == c), (0, ""))  # noqa: E731
    facts = ["kstuck_scenario_irqoff_spin" in on_cpu(spin_cpu)[1],
             on_cpu(x_cpu)[0] == x_pid and "smp_call_function_single" in on_cpu(x_cpu)[1],
             any(p == w_pid and "__mutex_lock" in b for p, _, b in blocks)]
    lines = [line.strip() for line in text.splitlines()]
    note = (next((x for x in lines if "do not match" in x), "") or next((x for x in lines if x.startswith("bt:")), "")
            or first_error(text))
    if rc != 0 and not note:
        # crash can give up silently (seen on 6.12: exit 1, no message); its debug
        # output names the reason in a last "crash: ..." line.
        dbg, dbg_err, *_ = timed(["crash", "-d1", "-s", vmlinux, dump, "-i", "/dev/null"])
        note = next((x.strip() for x in reversed((dbg + dbg_err).splitlines()) if x.startswith("crash:")),
                    "exit 1 without a message")
    return {"wall_s": wall, "rss_mb": round(rss), "exit": rc, "facts": facts, "note": note}


def run_drgn(vmlinux, moddir, dump, truth):
    spin_cpu, x_cpu, x_pid, w_pid = truth_ints(truth, "irqoff_spinner.cpu", "xcall_waiter.cpu", "xcall_waiter.pid",
                                               "mutex_waiter.pid")
    mods = sorted(Path(moddir).glob("*.ko"))
    out, err, wall, rss, rc = timed(["/usr/bin/python3", HERE / "drgn_probe.py", dump, vmlinux, *mods], f"{w_pid}\n")
    facts, note = [False] * 3, first_error(err)
    try:
        rep = json.loads(out)
        cpus = {int(k): v for k, v in rep["cpus"].items()}
        facts[0] = "kstuck_scenario_irqoff_spin" in cpus.get(spin_cpu, {}).get("stack", [])
        facts[1] = cpus.get(x_cpu, {}).get("pid") == x_pid and "smp_call_function_single" in cpus.get(x_cpu, {}).get("stack", [])
        w = rep["tasks"].get(str(w_pid), {})
        facts[2] = any(str(f).startswith("__mutex_lock") for f in w.get("stack", []))
        problems = rep["errors"] + [f"cpu {c}: {v.get('error') or v['stack'][0]}" for c, v in sorted(cpus.items())
                                    if v.get("error") or str(v.get("stack", [""])[0]).startswith("ERROR")]
        problems += [f"task {w_pid}: {w['error']}"] if "error" in w else []
        note = "; ".join(problems)[:300]
    except (json.JSONDecodeError, KeyError, IndexError) as e:
        note = note or f"{type(e).__name__}: {e}"
    return {"wall_s": wall, "rss_mb": round(rss), "exit": rc, "facts": facts, "note": note}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(rig.BUILD))
    ap.add_argument("--cli", help="kstuck binary (default BUILD/release/cli/kstuck)")
    ap.add_argument("--boot", action="store_true", help="run fresh kdump cycles first")
    ap.add_argument("--tools", default="kstuck,crash,drgn")
    args = ap.parse_args()
    build = Path(args.build)
    cli = Path(args.cli) if args.cli else build / "release" / "cli" / "kstuck"
    kernels = [rig.fetch_kernel(), kdump.fetch_debian_kernel("trixie")]
    rows = []
    for kernel in kernels:
        label = ".".join(kernel.kver.split(".")[:2]).split("-")[0]
        cycle = build / "vm-out" / f"kdump-{label}"
        if args.boot:
            art = kdump.prepare(kernel, build)
            r = kdump.kdump_cycle(art, cycle, formats=FORMATS)
            (cycle / "truth.json").write_text(json.dumps(r.truth, indent=1, sort_keys=True))
        if not (cycle / "truth.json").exists():
            print(f"{label}: no kept kdump cycle in {cycle} (run the kdump suite or pass --boot)")
            continue
        truth = json.loads((cycle / "truth.json").read_text())
        moddir = build / "scenarios" / kernel.kver
        # Every tool reads the 350-590 MB vmlinux: warm the page cache once so that the
        # first tool measured does not pay for the others.
        with open(kernel.vmlinux, "rb") as f:
            while f.read(1 << 24):
                pass
        for fmt in FORMATS:
            dump = cycle / f"vmcore.{fmt}"
            if not dump.exists():
                continue
            for tool in args.tools.split(","):
                if tool == "kstuck":
                    res = run_kstuck(cli, kernel.vmlinux, moddir, dump, truth)
                elif tool == "crash":
                    res = run_crash(kernel.vmlinux, dump, truth)
                else:
                    res = run_drgn(kernel.vmlinux, moddir, dump, truth)
                row = {"kernel": kernel.kver, "format": fmt, "bytes": dump.stat().st_size, "tool": tool, **res}
                rows.append(row)
                print(f"{label:5} {fmt:6} {tool:7} {res['wall_s']:6.1f}s {res['rss_mb']:5} MB "
                      f"facts {sum(res['facts'])}/3 {res['facts']} {res['note']}", flush=True)
    out = build / "bench" / "analyze_kdump.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"results: {out}")
    # Ratios: kstuck against each reference tool where both ran on the same file.
    for kernel in sorted({r["kernel"] for r in rows}):
        for fmt in FORMATS:
            cell = {r["tool"]: r for r in rows if r["kernel"] == kernel and r["format"] == fmt}
            k = cell.get("kstuck")
            for ref in ("crash", "drgn"):
                if k and ref in cell and not any(cell[ref]["facts"]):
                    print(f"{kernel} {fmt}: {ref} shows none of the facts: {cell[ref]['note'][:160]}")
                elif k and ref in cell and k["wall_s"] > 0:
                    print(f"{kernel} {fmt}: {ref}/kstuck time x{cell[ref]['wall_s'] / k['wall_s']:.1f}, "
                          f"facts {sum(k['facts'])}/3 vs {sum(cell[ref]['facts'])}/3")


if __name__ == "__main__":
    main()
