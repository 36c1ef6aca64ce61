# SPDX-License-Identifier: GPL-2.0
"""Crash extension: the real `crash` (Debian's 8.0.2) opens a QEMU dump of the stuck
scenario, loads kstuck.so with `extend`, and each `kstuck ... -j` must print the JSON
the kstuck CLI prints for the same dump; a read fault inside a command must leave
crash working; `help kstuck` must show the help page.

Run the host side alone on a kept dump with
`python3 -m tests.vm.suites.crashext --check BUILD [VMCORE]`.
"""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.vm import drgn_diff, rig
from tests.vm.rig import RigError, TestResult

# (check name, extension command, CLI arguments after the dump options are added).
# {cpu} is expanded for each CPU; a JSON list from the extension is compared item by item.
FAULT_ADDRESS = "0xdead000000000000"
SYMBOLS = ["jiffies", "runqueues", "init_task", "__per_cpu_offset", "csd_data", "call_single_queue"]
MEMBERS = ["task_struct", "task_struct:__state", "task_struct:thread.sp", "task_struct:comm", "task_struct:comm[3]",
           "task_struct:parent", "task_struct:tasks", "task_struct:stack", "task_struct:on_cpu",
           "task_struct:thread_info.cpu", "task_struct:se.exec_start", "task_struct:sched_info.last_arrival",
           "pid:numbers[0].nr", "pid:numbers[1].ns", "pid:tasks[2]", "mutex:owner.counter", "mutex:wait_list",
           "mutex_waiter:task", "__call_single_data:node.u_flags", "__call_single_data:func", "irq_work:node",
           "rq:curr", "module:name", "module:core_layout.base", "call_function_data:csd", "llist_head:first",
           # bitfields: crash's datatype_info has no bit positions, gdb's ptype /o does
           "task_struct:sched_reset_on_fork", "task_struct:in_iowait", "task_struct:dl.dl_overrun"]


def build_extension(build):
    """kstuck.so in the release build the rig already configured for the CLI, installed
    by `cmake --install` into a DESTDIR: returns the installed extension directory."""
    bdir = Path(build) / "release"
    # cmake --install installs everything the build defines: the man page too when scdoc
    # was found, so its target is built here as well.
    targets = ["kstuck_crash", "kstuck"]
    known = subprocess.run(["ninja", "-C", str(bdir), "-t", "targets", "all"], capture_output=True, text=True).stdout
    if any(line.startswith("kstuck_man:") for line in known.splitlines()):
        targets.append("kstuck_man")
    rig.run(["ninja", "-C", str(bdir), *targets], what="ninja (kstuck_crash)", timeout=1800)
    dest = Path(build) / "crashext-install"
    rig.run(["cmake", "--install", str(bdir)], env=dict(os.environ, DESTDIR=str(dest)), what="cmake --install")
    ext_dir = dest / "usr" / "lib" / "crash" / "extensions"
    if not (ext_dir / "kstuck.so").exists():
        raise RigError(f"cmake --install did not put kstuck.so into {ext_dir}")
    return ext_dir


def run_crash(vmlinux, dump, commands, workdir, timeout=900, ext_dir=None):
    """Runs crash non-interactively on a dump: each (tag, command) writes its output to
    workdir/tag.out through crash's own redirection. Returns (seconds, crash's stdout)."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = []
    for tag, cmd in commands:
        out = workdir / f"{tag}.out"
        out.unlink(missing_ok=True)
        lines.append(f"{cmd} > {out}" if tag else cmd)
    lines.append("q")
    script = workdir / "crash.cmds"
    script.write_text("\n".join(lines) + "\n")
    t = time.monotonic()
    try:
        # CRASH_EXTENSIONS: where `extend NAME.so` looks besides /usr/lib/crash/extensions.
        env = dict(os.environ, CRASH_EXTENSIONS=str(ext_dir)) if ext_dir else None
        p = subprocess.run(["crash", "-s", str(vmlinux), str(dump), "-i", str(script)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise RigError(f"crash did not finish within {timeout}s")
    (workdir / "crash.stdout").write_text(p.stdout)
    return time.monotonic() - t, p.stdout


def read_out(workdir, tag):
    p = workdir / f"{tag}.out"
    return p.read_text(errors="replace") if p.exists() else ""


def cli(ctx_cli, args, timeout=300):
    p = subprocess.run([str(ctx_cli), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


# Fields that legitimately differ between the CLI and the extension (input names, timing).
VOLATILE_KEYS = {"dump", "vmcore", "input", "path", "elapsed_ms", "elapsed", "duration_ms", "source", "format"}


def normalise(value):
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def first_difference(a, b, path="$"):
    """Where two JSON values differ first, as 'path: a != b' (short)."""
    if type(a) is not type(b):
        return f"{path}: {str(a)[:80]} != {str(b)[:80]}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'extension' if k in a else 'CLI'}"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {str(a)[:80]} != {str(b)[:80]}"


def compare_json(name, ext_text, cli_text, cli_err=""):
    """One check: both sides parse as JSON and agree once volatile keys are dropped."""
    try:
        ext = json.loads(ext_text)
    except json.JSONDecodeError:
        return TestResult(name, False, f"extension printed no JSON: {ext_text.strip()[:300]}")
    try:
        ref = json.loads(cli_text)
    except json.JSONDecodeError:
        return TestResult(name, False, f"CLI printed no JSON: {cli_err.strip()[-300:]} {cli_text[:200]}")
    d = first_difference(normalise(ext), normalise(ref))
    if d:
        return TestResult(name, False, f"differs at {d}")
    same = "byte-identical" if ext_text.strip() == cli_text.strip() else "identical once volatile keys are dropped"
    return TestResult(name, True, f"{len(ext_text)} bytes of JSON, {same}")


def _json(workdir, tag):
    try:
        return json.loads(read_out(workdir, tag))
    except json.JSONDecodeError:
        return None


def truth_checks(workdir, truth):
    """What the scenario printed (KSTUCK-TRUTH) must be what the extension reports."""
    res = []
    if not truth:
        return res
    mutex = int(truth.get("mutex_waiter.mutex", "0"), 16)
    owner, waiter = int(truth.get("mutex_owner.pid", -1)), int(truth.get("mutex_waiter.pid", -1))
    m = _json(workdir, "mutex_addr") or {}
    locks = [lk for lk in m.get("locks", []) if int(lk.get("address", "0"), 16) == mutex]
    ok = bool(locks) and (locks[0].get("owner") or {}).get("pid") == owner and \
        waiter in [w.get("pid") for w in locks[0].get("waiters", [])]
    res.append(TestResult("mutex-matches-truth", ok, f"want mutex {mutex:#x} owner {owner} waiter {waiter}; got "
                          + json.dumps(locks)[:240]))
    spin_cpu, xpid = int(truth.get("irqoff_spinner.cpu", 3)), int(truth.get("xcall_waiter.pid", -1))
    x = _json(workdir, "xcall_cpu") or {}
    hits = [e for e in x.get("xcalls", []) if e.get("target_cpu") == spin_cpu and e.get("waiter") == xpid]
    res.append(TestResult("xcall-matches-truth", bool(hits) and all(e.get("locked") for e in hits),
                          f"want an xcall to CPU {spin_cpu} waited for by pid {xpid}; got "
                          + json.dumps(x.get("xcalls", []))[:240]))
    bt = _json(workdir, "bt_all") or []
    funcs = {i: [f.get("function") for f in (s.get("stack") or {}).get("frames", [])] for i, s in enumerate(bt)
             if isinstance(s, dict)}
    xcpu = int(truth.get("xcall_waiter.cpu", 2))
    res.append(TestResult("bt-matches-truth", "kstuck_scenario_irqoff_spin" in funcs.get(spin_cpu, [])
                          and rig.in_xcall_wait(funcs.get(xcpu, [])),
                          f"cpu {spin_cpu}: {funcs.get(spin_cpu, [])[:3]} cpu {xcpu}: {funcs.get(xcpu, [])[:3]}"))
    h = _json(workdir, "hang") or {}
    res.append(TestResult("hang-verdict-stuck", h.get("verdict") == "STUCK", f"verdict={h.get('verdict')}"))
    n = _json(workdir, "nmi") or {}
    snaps = n.get("snapshots", [])
    res.append(TestResult("nmi-snapshot-in-dump", bool(snaps), f"{len(snaps)} snapshots; "
                          + json.dumps(snaps[-1] if snaps else n)[:200]))
    return res


def check_dump(ctx_cli, ext_dir, vmlinux, dump, workdir, truth=None):
    """The host side: crash + kstuck.so on the dump, the CLI on the same dump, compared."""
    results = []
    truth = truth or {}
    spin_cpu = truth.get("irqoff_spinner.cpu", "3")
    mutex = truth.get("mutex_waiter.mutex", "")
    dopts = ["--vmlinux", str(vmlinux)]
    commands = [
        # By name, as a support engineer types it: found through the install directory.
        ("extend", "extend kstuck.so"),
        ("help", "help kstuck"),
        ("target", "kstuck target"),
        ("symbols", "kstuck target symbol " + " ".join(SYMBOLS)),
        ("members", "kstuck target member " + " ".join(MEMBERS)),
        ("hang", "kstuck hang -j"),
        ("hang_starved", "kstuck hang -j -s 0.25"),
        ("hang_bad_seconds", "kstuck hang -s zero"),
        ("xcall", "kstuck xcall -j"),
        ("xcall_cpu", f"kstuck xcall -c {spin_cpu} -j"),
        ("mutex", "kstuck mutex -j"),
        ("mutex_addr", f"kstuck mutex {mutex or 'ffffffffffffffff'} -j"),
        ("nmi", "kstuck nmi -a -j"),
        ("bt_all", "kstuck bt -a -j"),
        # A read fault in the middle of commands, then proof that crash still works.
        ("fault_read", f"kstuck target read {FAULT_ADDRESS}"),
        ("fault_mutex", f"kstuck mutex {FAULT_ADDRESS}"),
        ("after_sym", "sym jiffies"),
        ("after_kstuck", "kstuck target symbol jiffies"),
        ("after_bad_option", "kstuck xcall -z"),
        ("after_last", "sym init_task"),
    ]
    secs, stdout = run_crash(vmlinux, dump, commands, workdir, ext_dir=ext_dir)
    results.append(TestResult("crash-ran", bool(stdout.strip()) or bool(read_out(workdir, "extend")),
                              f"{secs:.1f}s for {len(commands)} commands"))
    ext_text = read_out(workdir, "extend")
    ext_loaded = f"{ext_dir}/kstuck.so: shared object loaded" in ext_text
    results.append(TestResult("extend-finds-installed-kstuck-so", ext_loaded, ext_text.strip()[:200]))
    if not ext_loaded:
        return results

    helptext = read_out(workdir, "help")
    results.append(TestResult("help-kstuck-page", bool(re.search(r"^NAME\s*\n\s*kstuck - ", helptext, re.M))
                              and "SYNOPSIS" in helptext and all(w in helptext for w in
                                                                 ("hang", "xcall", "mutex", "nmi", "bt", "-j")),
                              helptext.strip().splitlines()[1].strip() if helptext.count("\n") > 1 else helptext[:200]))

    # The Target over crash against the CLI's KdumpTarget on the same dump.
    rc, ref, err = cli(ctx_cli, ["dumpinfo", str(dump), *dopts, "--no-lines",
                                 *sum((["--symbol", s] for s in SYMBOLS), []),
                                 *sum((["--member", m] for m in MEMBERS), [])])
    ext_target = read_out(workdir, "target") + read_out(workdir, "symbols") + read_out(workdir, "members")
    for kind, rx in (("cpu-registers", r"^cpu \d+: note pid .*$"), ("symbols", r"^symbol .*$"),
                     ("members", r"^(member|sizeof).*$")):
        a = re.findall(rx, ext_target, re.M)
        b = re.findall(rx, ref, re.M)
        diff = [f"ext '{x}' cli '{y}'" for x, y in zip(a, b) if x != y]
        results.append(TestResult(f"target-{kind}-match-cli", rc == 0 and len(a) == len(b) and a and not diff,
                                  f"{len(a)} lines identical" if not diff and len(a) == len(b)
                                  else f"{len(a)} vs {len(b)} lines; {'; '.join(diff[:3])} {err.strip()[-200:]}"))

    # The analyses: same JSON as the CLI.
    pairs = [
        ("hang-json-matches-cli", "hang", ["hang", str(dump), *dopts, "--json"]),
        ("hang-starved-after-json-matches-cli", "hang_starved", ["hang", str(dump), *dopts, "--json",
                                                                 "--starved-after", "0.25"]),
        ("xcall-json-matches-cli", "xcall", ["xcall", str(dump), *dopts, "--json"]),
        ("xcall-cpu-json-matches-cli", "xcall_cpu", ["xcall", str(dump), *dopts, "--cpu", spin_cpu, "--json"]),
        ("mutex-json-matches-cli", "mutex", ["mutex", str(dump), *dopts, "--json"]),
        ("mutex-address-json-matches-cli", "mutex_addr", ["mutex", str(dump), mutex or "ffffffffffffffff", *dopts,
                                                          "--json"]),
        ("nmi-json-matches-cli", "nmi", ["nmi", "show", "--all", "--vmcore", str(dump), *dopts, "--json"]),
    ]
    for name, tag, args in pairs:
        rc, out, err = cli(ctx_cli, args)
        results.append(compare_json(name, read_out(workdir, tag), out, err))
    # bt -a: a JSON list with one stack per CPU, each the CLI's "bt --cpu N --json".
    bt_text = read_out(workdir, "bt_all")
    try:
        stacks = json.loads(bt_text)
    except json.JSONDecodeError:
        stacks = None
    if not isinstance(stacks, list) or not stacks:
        results.append(TestResult("bt-all-json-matches-cli", False, f"extension printed no JSON list: {bt_text[:300]}"))
    else:
        bad = []
        for cpu, item in enumerate(stacks):
            rc, out, err = cli(ctx_cli, ["bt", str(dump), *dopts, "--cpu", str(cpu), "--json"])
            r = compare_json(f"cpu{cpu}", json.dumps(item), out, err)
            if not r.passed:
                bad.append(f"cpu {cpu}: {r.detail}")
        results.append(TestResult("bt-all-json-matches-cli", not bad,
                                  "; ".join(bad)[:400] if bad else f"{len(stacks)} CPU stacks identical"))

    # The extension's answers against the scenario's ground truth (not only against the CLI).
    results += truth_checks(workdir, truth)

    # Faults: an error line, never a dead session.
    fr = read_out(workdir, "fault_read")
    results.append(TestResult("fault-read-reports-error", f"cannot read 8 bytes at {FAULT_ADDRESS}" in fr,
                              fr.strip()[:200]))
    # The same error as the CLI's for the same wild address.
    fm = read_out(workdir, "fault_mutex").strip()
    rc, _, err = cli(ctx_cli, ["mutex", str(dump), FAULT_ADDRESS, *dopts, "--json"])
    # The Targets word a read fault their own way; where it happened and the address agree.
    where = f"kstuck mutex: mutex {FAULT_ADDRESS}: mutex.owner.counter: "
    suffix = f"(address {FAULT_ADDRESS})"
    results.append(TestResult("fault-mutex-reports-cli-error", rc == 1 and all(
        t.startswith(where) and t.endswith(suffix) for t in (fm, err.strip())),
        f"ext '{fm[:160]}' cli '{err.strip()[:160]}'"))
    sym = read_out(workdir, "after_sym")
    want = re.search(r"^symbol jiffies = (0x[0-9a-f]+)$", ref, re.M)
    results.append(TestResult("crash-works-after-fault", bool(re.search(r"^[0-9a-f]{16} \(\w\) jiffies$", sym, re.M))
                              and bool(want) and int(sym.split()[0], 16) == int(want.group(1), 16),
                              sym.strip()[:120]))
    ak = read_out(workdir, "after_kstuck")
    results.append(TestResult("kstuck-works-after-fault", bool(want) and ak.strip() == want.group(0), ak.strip()[:120]))
    hs = _json(workdir, "hang_starved") or {}
    results.append(TestResult("hang-s-sets-the-threshold", hs.get("starved_after_ns") == 250_000_000
                              and (_json(workdir, "hang") or {}).get("starved_after_ns") == 20_000_000_000,
                              f"-s 0.25: {hs.get('starved_after_ns')}"))
    bs = read_out(workdir, "hang_bad_seconds")
    results.append(TestResult("hang-bad-seconds-is-a-usage-error", "-s needs seconds in (0, 86400], got 'zero'" in bs
                              and "usage: kstuck hang" in bs, bs.strip()[:160]))
    bo = read_out(workdir, "after_bad_option")
    results.append(TestResult("bad-option-is-a-usage-error", "unknown option -z" in bo and "usage" in bo,
                              bo.strip()[:160]))
    last = read_out(workdir, "after_last")
    results.append(TestResult("crash-works-to-the-end", "init_task" in last, last.strip()[:120]))
    return results


def run(ctx):
    results = []
    ext_dir = build_extension(ctx.build)
    guest_results, truth, dump = ctx.boot_and_dump("crashext")
    results += guest_results
    if not dump:
        results.append(TestResult("dump-taken", False, "the guest never asked for a dump"))
        return results
    results += check_dump(ctx.kstuck_cli, ext_dir, ctx.kernel.vmlinux, dump, ctx.out / "crashext", truth)
    results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, ctx.scenarios[0].parent if ctx.scenarios else None,
                                 label="crashext")
    return results


def main():
    """--check BUILD [VMCORE]: the host side alone, on a kept dump."""
    if len(sys.argv) < 3 or sys.argv[1] != "--check":
        print(__doc__)
        return 2
    build = Path(sys.argv[2])
    dump = Path(sys.argv[3]) if len(sys.argv) > 3 else build / "vm-out" / "crashext.vmcore"
    kernel = rig.fetch_kernel()
    ext_dir = build_extension(build)
    # The ground truth the scenario printed in the kept run (saved by Context.boot_and_dump).
    kept = build / "vm-out" / "crashext.truth.json"
    truth = json.loads(kept.read_text()) if kept.exists() else {}
    results = check_dump(build / "release" / "cli" / "kstuck", ext_dir, kernel.vmlinux, dump, build / "vm-out" / "crashext",
                         truth)
    for r in results:
        print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}".rstrip())
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
