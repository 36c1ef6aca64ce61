# SPDX-License-Identifier: GPL-2.0
"""A differential check of kstuck against a tool this project did not write: drgn
(Debian's python3-drgn 0.0.22). On a dump, both tools name every task's stack and every
online CPU's stack frame by frame (function names), each CPU's current task and saved
registers, and the owner and waiters of every mutex and rwsem `kstuck mutex` reports.
Any difference fails, unless a narrow entry of tests/vm/drgn_known_defects.py (the ONE
list of drgn's known defects, each with its reason) explains it.

    from tests.vm import drgn_diff
    results += drgn_diff.compare(ctx, dump, vmlinux, module_dir, label="hang_abba")

returns [TestResult("drgn-diff-<label>", ...)], and writes the full comparison beside
the dump (<dump>.drgn-diff.json). Re-run on a kept dump:

    python3 -m tests.vm.drgn_diff DUMP VMLINUX [--module-dir D] [--cli KSTUCK]

Harness fixes (not defects): drgn cannot read makedumpfile's flattened format (QEMU 7.2
always writes it), so such a dump is converted with `makedumpfile -R`; QEMU's kdump
header has an empty utsname, which libkdumpfile needs to know the architecture, so the
converted copy gets sysname/release/machine filled; drgn 0.0.22 matches register notes
to tasks by pid (QEMU's carry pid = vCPU + 1), so tests/vm/drgn_view.py unwinds each CPU
from its own registers (per-CPU crash_notes, else the note at the CPU's index).
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.vm import dump_check  # noqa: E402
from tests.vm.rig import TestResult  # noqa: E402
from tests.vm import drgn_known_defects  # noqa: E402
from tests.vm import dump_only  # noqa: E402
from tests.vm.vmlinux_text import VmlinuxText  # noqa: E402

# The referee is Debian's newest drgn: sid's python3-drgn 0.3.0 with its python3.14,
# fetched into the cache by scripts/fetch-drgn and run through sid's own loader. Debian
# 12's 0.0.22 cannot unwind through the ORC of 6.3+ kernels nor load 6.4+ modules (every
# user task of 6.12 and 7.x went uncompared), and Debian 13's 0.0.31 refuses 7.x's ORC
# ("unrecognized .orc_header"). KSTUCK_DRGN_PYTHON picks another interpreter
# (/usr/bin/python3 for Debian 12's own python3-drgn).
DRGN_SUITE = "sid"
FETCH_DRGN = Path(__file__).resolve().parents[2] / "scripts" / "fetch-drgn"
_drgn_python = None


def drgn_python():
    """The interpreter that runs drgn_view.py (fetched once per process)."""
    global _drgn_python
    if _drgn_python is None:
        _drgn_python = os.environ.get("KSTUCK_DRGN_PYTHON")
    if _drgn_python is None:
        p, err = _run([str(FETCH_DRGN), DRGN_SUITE], timeout=1800)
        if p is None or p.returncode != 0:
            raise RuntimeError(f"scripts/fetch-drgn {DRGN_SUITE} failed: {err}")
        _drgn_python = p.stdout.decode().strip().splitlines()[-1]
    return _drgn_python
VIEW = Path(__file__).resolve().parent / "drgn_view.py"
UTS_SYSNAME = 12  # new_utsname in disk_dump_header: 6 fields of 65 bytes after signature[8], version


class Env:
    """What the known-defect entries may test: the dump and the kernel's type facts."""

    def __init__(self, container, qemu, release, facts, drgn="", kstuck_problems=(), vmlinux=None,
                 kernel_offset=None):
        self.drgn = drgn                # drgn's version ("0.3.0")
        self.vmlinux = VmlinuxText(vmlinux) if vmlinux else None  # the kernel's build output
        self.kernel_offset = kernel_offset  # KASLR: runtime minus link-time text address (VMCOREINFO)
        # kstuck's own report says the dump lacks pages (makedumpfile excluded them)
        self.kstuck_excluded = any("page excluded from dump" in str(p) for p in kstuck_problems)
        self.container = container      # "kdump", "flattened-kdump", "elf"
        self.qemu = qemu                # written by QEMU's dump-guest-memory (empty utsname in the header)
        self.release = release
        self.facts = facts              # from drgn_view: struct members drgn's readers depend on

    def has_member(self, struct_name, member):
        return member in self.facts.get(struct_name, [])

    def as_json(self):
        return {k: (str(v.path) if isinstance(v, VmlinuxText) else v) for k, v in vars(self).items()}

    def orc_kind(self, pc):
        """The kind of the vmlinux ORC entry covering the runtime address pc
        (vmlinux_text.orc_kind), or None."""
        if not self.vmlinux or self.kernel_offset is None or not self.facts.get("struct orc_entry"):
            return None
        try:
            return self.vmlinux.orc_kind(pc - self.kernel_offset, self.facts["struct orc_entry"])
        except (OSError, ValueError, struct.error):
            return None

    def direct_call_target(self, return_address):
        """The runtime target of the direct call the vmlinux has right before the runtime
        address return_address, or None."""
        if not self.vmlinux or self.kernel_offset is None:
            return None
        try:
            target = self.vmlinux.direct_call_target(return_address - self.kernel_offset)
        except (OSError, ValueError, struct.error):
            return None
        return None if target is None else target + self.kernel_offset


def kernel_offset(info):
    """The KASLR offset of the dump's kernel: VMCOREINFO's KERNELOFFSET, or None."""
    try:
        return int(info.vmcoreinfo["KERNELOFFSET"], 16)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _run(cmd, timeout=600, stdin=None):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"{Path(cmd[0]).name} timed out after {timeout}s"
    return p, p.stderr.decode(errors="replace").strip()[-400:]


def _elf_has_kernel_vaddrs(path):
    """Whether any PT_LOAD of an ELF dump carries a kernel virtual address."""
    with open(path, "rb") as f:
        eh = f.read(64)
        phoff, = struct.unpack_from("<Q", eh, 32)
        phentsize, phnum = struct.unpack_from("<HH", eh, 54)
        f.seek(phoff)
        ph = f.read(phentsize * min(phnum, 1 << 16))
    for i in range(len(ph) // max(phentsize, 56)):
        ptype, _fl, _off, vaddr = struct.unpack_from("<IIQQ", ph, i * phentsize)
        if ptype == 1 and vaddr >= 0xffff800000000000:
            return True
    return False


def readable_by_drgn(dump, info, tmp):
    """(path drgn can open, what was done). Flattened -> makedumpfile -R; an empty
    utsname (QEMU) -> filled in the copy from VMCOREINFO's OSRELEASE."""
    dump = Path(dump)
    done = []
    path = dump
    if info.fmt == "flattened-kdump":
        path = Path(tmp) / "unflat.kdump"
        mdf = shutil.which("makedumpfile") or "/usr/sbin/makedumpfile"
        with open(dump, "rb") as f:
            p, err = _run([mdf, "-R", str(path)], stdin=f)
        if p is None or p.returncode != 0 or not path.exists():
            raise RuntimeError(f"makedumpfile -R failed: {err}")
        done.append("makedumpfile -R")
    if info.fmt != "elf" and not info.release:
        if path == dump:
            path = Path(tmp) / "utsname.kdump"
            shutil.copyfile(dump, path)
        # libkdumpfile 0.5.1 takes the architecture from utsname only when every field
        # looks filled in (sysname alone was not enough).
        release = info.vmcoreinfo.get("OSRELEASE", "").encode()[:64]
        with open(path, "r+b") as f:
            for i, val in enumerate((b"Linux", b"(none)", release, b"(unknown)", b"x86_64", b"(none)")):
                f.seek(UTS_SYSNAME + i * 65)
                f.write(val.ljust(65, b"\0"))
        done.append("utsname filled")
    return path, done


def kstuck_json(cli, command, dump, vmlinux, module_dir):
    cmd = [str(cli), command, str(dump), "--vmlinux", str(vmlinux), "--json"]
    if module_dir and command != "mutex":
        cmd += ["--module-dir", str(module_dir)]
    p, err = _run(cmd, timeout=600)
    if p is None:
        raise RuntimeError(err)
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"kstuck {command}: exit {p.returncode}: {err}")


def module_files(module_dir):
    """The .ko files drgn should load: the scenario modules in module_dir and kstuck.ko
    built beside them (build/scenarios/KVER -> build/kmod/KVER/kstuck.ko)."""
    if not module_dir:
        return []
    module_dir = Path(module_dir)
    kos = sorted(module_dir.glob("*.ko"))
    kstuck_ko = module_dir.parent.parent / "kmod" / module_dir.name / "kstuck.ko"
    if kstuck_ko.exists():
        kos.append(kstuck_ko)
    return kos


def frame_names(analyze):
    """Every function name kstuck put in a stack of its analyze report."""
    names = set()
    stacks = [c.get("stack") for c in analyze.get("cpus", [])] + [g.get("stack") for g in analyze.get("groups", [])]
    for stack in stacks:
        names.update(f.get("function") for f in (stack or {}).get("frames", []) if f.get("function"))
    return sorted(names)


def lock_specs(mutexes):
    """(kind, address, rt_mutex_base or None) of every lock kstuck mutex reported."""
    return [(lk.get("kind"), lk.get("address"), lk.get("rt_mutex_base") if lk.get("rt") else None)
            for lk in mutexes.get("locks", [])]


def drgn_json(dump, vmlinux, kos, locks, names_file=None):
    cmd = [drgn_python(), str(VIEW), str(dump), str(vmlinux)]
    if names_file:
        cmd += ["--names", str(names_file)]
    for k in kos:
        cmd += ["--ko", str(k)]
    for kind, addr, rt_base in locks:
        cmd += ["--lock", f"{kind}:{addr}" + (f":{rt_base}" if rt_base else "")]
    p, err = _run(cmd, timeout=900)
    if p is None:
        raise RuntimeError(err)
    try:
        out = json.loads(p.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"drgn_view: exit {p.returncode}: {err}")
    if "fatal" in out:
        raise RuntimeError("drgn_view: " + out["fatal"].strip().splitlines()[-1])
    return out


def _fn(name):
    return name or None


def kstuck_frames(stack):
    return [{"pc": f.get("ip"), "function": _fn(f.get("function")), "module": f.get("module") or "",
             "offset": _offset(f.get("symbol"))}
            for f in (stack or {}).get("frames", [])]


def _names(frames):
    return [f.get("function") or "?" for f in frames]


def _same_function(k, d, symbols):
    """Frames that name the same code: the same name, or the same pc where kstuck's
    symbol (kallsyms' nearest symbol, as the kernel's %pB prints it) starts inside drgn's
    (the ELF symbol with a size that contains the pc): an alias at the same address
    (secondary_startup_64_no_verify / secondary_startup_64) or an inner label
    (entry_SYSCALL_64_after_hwframe inside entry_SYSCALL_64)."""
    if (k.get("function") or "?") == (d.get("function") or "?"):
        return True
    if not k.get("function") or not d.get("start") or _h(k.get("pc")) != _h(d.get("pc")):
        return False
    off, named = k.get("offset"), symbols.get(k["function"])
    if off is None or not named:
        return False
    # kstuck's name is a symbol drgn knows, at the address kstuck's offset implies.
    k_start, d_start = _h(k["pc"]) - off, _h(d["start"])
    return _h(named[0]) == k_start and d_start <= k_start < d_start + max(d.get("size") or 0, 1)


def _offset(symbol):
    """The offset of 'func+0x1c/0x80 [mod]', or None."""
    try:
        return int(symbol.split("+", 1)[1].split("/", 1)[0], 16)
    except (AttributeError, IndexError, ValueError):
        return None


def stack_diff(kind, key, k_frames, d_frames, d_error=None, symbols=None, d_stop=None):
    """A difference record of two stacks, or None when they name the same functions."""
    kn, dn = _names(k_frames), _names(d_frames)
    symbols = symbols or {}
    if len(kn) == len(dn) and all(_same_function(k, d, symbols) for k, d in zip(k_frames, d_frames)):
        return None
    first = next((i for i, (a, b) in enumerate(zip(k_frames, d_frames)) if not _same_function(a, b, symbols)),
                 min(len(kn), len(dn)))
    return {"what": kind, "key": key, "first": first, "kstuck": kn, "drgn": dn,
            "kstuck_pcs": [f.get("pc") for f in k_frames], "drgn_pcs": [f.get("pc") for f in d_frames],
            "kstuck_modules": [f.get("module", "") for f in k_frames],
            "kstuck_offsets": [f.get("offset") for f in k_frames],
            "drgn_error": d_error, "drgn_stop": d_stop, "same_prefix": first >= len(dn)}


def _h(v):
    return int(str(v), 16) if v not in (None, "") else None


def diff_views(analyze, mutexes, dv):
    """All differences between kstuck's and drgn's views, plus counts of what was compared."""
    diffs = []
    counts = {"cpus": 0, "tasks": 0, "frames": 0, "locks": 0}
    groups = analyze.get("groups", [])
    # CPUs: current task, saved registers, stack.
    d_cpus = {c["cpu"]: c for c in dv.get("cpus", [])}
    k_cpus = {c.get("cpu"): c for c in analyze.get("cpus", [])}
    if sorted(d_cpus) != sorted(k_cpus):
        diffs.append({"what": "cpu-set", "key": "online", "kstuck": sorted(k_cpus), "drgn": sorted(d_cpus)})
    for cpu in sorted(set(d_cpus) & set(k_cpus)):
        k, d = k_cpus[cpu], d_cpus[cpu]
        counts["cpus"] += 1
        if k.get("pid") != d.get("pid") or _h(k.get("task")) != _h(d.get("task")):
            diffs.append({"what": "cpu-current", "key": cpu, "kstuck": [k.get("pid"), k.get("task")],
                          "drgn": [d.get("pid"), d.get("task")]})
        if d.get("registers_from"):
            for reg in ("rip", "rsp"):
                if _h(k.get(reg)) != _h(d.get(reg)):
                    diffs.append({"what": "cpu-registers", "key": cpu, "register": reg,
                                  "kstuck": k.get(reg), "drgn": d.get(reg), "drgn_source": d["registers_from"],
                                  "has_registers": k.get("has_registers")})
        kf = kstuck_frames(k.get("stack"))
        counts["frames"] += len(kf)
        s = stack_diff("cpu-stack", cpu, kf, d.get("frames", []), d.get("error"), dv.get("symbols"), d.get("stop"))
        if s:
            s["drgn_registers_from"] = d.get("registers_from")
            diffs.append(s)
    # Tasks, by task_struct address (the per-CPU idle tasks all have pid 0).
    d_tasks = {_h(t["task"]): t for t in dv.get("tasks", [])}
    k_tasks = {_h(t.get("address")): t for t in analyze.get("tasks", [])}
    only_k = sorted(set(k_tasks) - set(d_tasks))
    only_d = sorted(set(d_tasks) - set(k_tasks))
    if only_k or only_d:
        diffs.append({"what": "task-set", "key": "tasks",
                      "kstuck": [(k_tasks[a].get("pid"), k_tasks[a].get("comm")) for a in only_k],
                      "drgn": [(d_tasks[a].get("pid"), d_tasks[a].get("comm")) for a in only_d]})
    for addr in sorted(set(d_tasks) & set(k_tasks)):
        k, d = k_tasks[addr], d_tasks[addr]
        counts["tasks"] += 1
        g = k.get("group")
        stack = groups[g].get("stack") if isinstance(g, int) and 0 <= g < len(groups) else None
        kf = kstuck_frames(stack)
        counts["frames"] += len(kf)
        s = stack_diff("task-stack", f"{d.get('pid')} {d.get('comm')}", kf, d.get("frames", []), d.get("error"),
                       dv.get("symbols"), d.get("stop"))
        if s:
            s["current_on"] = d.get("current_on")
            s["state"] = k.get("state")
            diffs.append(s)
    # Mutex and rwsem owners and waiters.
    d_locks = {(l["kind"], _h(l["address"])): l for l in dv.get("locks", [])}
    for kl in mutexes.get("locks", []):
        key = (kl.get("kind"), _h(kl.get("address")))
        d = d_locks.get(key)
        counts["locks"] += 1
        name = f"{key[0]} {kl.get('address')} {kl.get('symbol', '')}".strip()
        if d is None or "error" in d:
            diffs.append({"what": "lock-unread", "key": name, "kstuck": kl.get("owner"),
                          "drgn": d and d.get("error")})
            continue
        k_owner = _h((kl.get("owner") or {}).get("task")) or 0
        d_owner = _h(d.get("owner")) or 0
        if d.get("rt") and key[0] in ("rwsem", "rwlock"):
            # PREEMPT_RT rwsem/rwlock: the rt_mutex is held by a writer (or a reader
            # getting in); readers own nothing. kstuck's owner, when it names one, must be
            # the rt_mutex's.
            if k_owner and k_owner != d_owner:
                diffs.append({"what": "lock-owner", "key": name, "kstuck": hex(k_owner), "drgn": d.get("owner")})
        elif key[0] == "rwsem" and d.get("reader_owned"):
            # A reader-owned rwsem's owner field is only a hint (the last reader, maybe
            # gone): kstuck must flag it as such, or report no owner.
            if k_owner not in (0, d_owner) or (k_owner and not kl.get("owner_is_reader_hint")):
                diffs.append({"what": "lock-owner", "key": name,
                              "kstuck": [hex(k_owner), kl.get("owner_is_reader_hint")],
                              "drgn": [d.get("owner"), "reader-owned"]})
        elif k_owner != d_owner:
            diffs.append({"what": "lock-owner", "key": name, "kstuck": hex(k_owner), "drgn": d.get("owner")})
        k_waiters = [w.get("pid") for w in kl.get("waiters", [])]
        if k_waiters != d.get("waiters"):
            diffs.append({"what": "lock-waiters", "key": name, "kstuck": k_waiters, "drgn": d.get("waiters")})
    return diffs, counts


def _short(d):
    """One line of a difference for the test detail."""
    if d["what"] in ("cpu-stack", "task-stack"):
        i = d["first"]
        return (f"{d['what']} {d['key']}: #{i} kstuck={d['kstuck'][i:i + 3]} drgn={d['drgn'][i:i + 3]}"
                f"{' drgn error: ' + d['drgn_error'] if d.get('drgn_error') else ''}"
                f"{' drgn stopped: ' + d['drgn_stop'] if d.get('drgn_stop') else ''}")
    return f"{d['what']} {d['key']}: kstuck={d['kstuck']} drgn={d['drgn']}"


def compare(ctx, dump, vmlinux, module_dir=None, label=None, cli=None):
    """Compares kstuck with drgn on one dump; returns [TestResult('drgn-diff-LABEL')],
    plus tests/vm/dump_only.py's checks that kstuck says the same without the vmlinux.
    ctx gives the kstuck CLI (ctx.kstuck_cli) unless cli is passed."""
    both_ways = dump_only.compare(cli or ctx.kstuck_cli, dump, vmlinux, label=label or Path(dump).stem)
    return both_ways + _compare_with_drgn(ctx, dump, vmlinux, module_dir, label, cli)


def _compare_with_drgn(ctx, dump, vmlinux, module_dir=None, label=None, cli=None):
    dump = Path(dump)
    label = label or dump.stem
    name = f"drgn-diff-{label}"
    cli = cli or ctx.kstuck_cli
    t0 = time.monotonic()
    try:
        info = dump_check.read_dump(dump)
    except (dump_check.DumpFormatError, OSError) as e:
        return [TestResult(name, False, f"not a dump: {e}")]
    try:
        analyze = kstuck_json(cli, "analyze", dump, vmlinux, module_dir)
        mutexes = kstuck_json(cli, "mutex", dump, vmlinux, module_dir)
    except RuntimeError as e:
        return [TestResult(name, False, f"kstuck: {e}")]
    locks = lock_specs(mutexes)
    with tempfile.TemporaryDirectory(prefix="drgn-", dir=dump.parent) as tmp:
        try:
            path, fixes = readable_by_drgn(dump, info, tmp)
            names = Path(tmp) / "names.json"
            names.write_text(json.dumps(frame_names(analyze)))
            dv = drgn_json(path, vmlinux, module_files(module_dir), locks, names)
        except RuntimeError as e:
            unreadable = {"what": "dump-unreadable", "drgn_error": str(e),
                          "physical_only_elf": info.fmt == "elf" and not _elf_has_kernel_vaddrs(dump)}
            defect = drgn_known_defects.explain(unreadable, Env(info.fmt, False, "", {}), {})
            if defect:
                return [TestResult(name, True, f"not compared: drgn cannot read this dump, known drgn defect "
                                               f"{defect} ({e})")]
            return [TestResult(name, False, f"drgn: {e}")]
    env = Env(info.fmt, not info.release and info.fmt != "elf", dv.get("release", ""), dv.get("facts", {}),
              dv.get("drgn", ""), analyze.get("problems", []), vmlinux,
              kernel_offset(info))
    diffs, counts = diff_views(analyze, mutexes, dv)
    explained, unexplained = [], []
    for d in diffs:
        defect = drgn_known_defects.explain(d, env, dv)
        if defect:
            d["known_defect"] = defect
            explained.append(d)
        else:
            unexplained.append(d)
    report = {"dump": str(dump), "fixes": fixes, "counts": counts, "env": env.as_json(), "differences": unexplained,
              "known_defects": explained, "drgn_problems": dv.get("problems", [])}
    Path(f"{dump}.drgn-diff.json").write_text(json.dumps(report, indent=1))
    # A comparison that compared nothing proves nothing.
    empty = counts["cpus"] == 0 or counts["tasks"] == 0 or counts["frames"] == 0
    known = sorted({d["known_defect"] for d in explained})
    detail = (f"{counts['cpus']} CPUs, {counts['tasks']} tasks, {counts['frames']} kstuck frames, "
              f"{counts['locks']} locks compared in {time.monotonic() - t0:.0f}s"
              f"{' (' + ', '.join(fixes) + ')' if fixes else ''}; "
              f"{len(explained)} known drgn defects {known}; {len(unexplained)} differences")
    if unexplained:
        detail += ": " + " | ".join(_short(d) for d in unexplained[:4])
    if empty:
        detail += "; nothing compared"
    return [TestResult(name, not unexplained and not empty, detail)]


def selftest(dump, vmlinux, module_dir, cli):
    """Proves on a real dump that the comparison can fail: kstuck's answers, each altered
    in one way (a frame's name, a frame dropped, a CPU's current task, a register, a lock
    owner, a waiter, a task left out), must each give an unexplained difference."""
    import copy
    info = dump_check.read_dump(dump)
    analyze = kstuck_json(cli, "analyze", dump, vmlinux, module_dir)
    mutexes = kstuck_json(cli, "mutex", dump, vmlinux, module_dir)
    with tempfile.TemporaryDirectory(prefix="drgn-", dir=Path(dump).parent) as tmp:
        path, _ = readable_by_drgn(dump, info, tmp)
        names = Path(tmp) / "names.json"
        names.write_text(json.dumps(frame_names(analyze)))
        dv = drgn_json(path, vmlinux, module_files(module_dir),
                       lock_specs(mutexes), names)
    env = Env(info.fmt, not info.release and info.fmt != "elf", dv.get("release", ""), dv.get("facts", {}),
              dv.get("drgn", ""), analyze.get("problems", []), vmlinux,
              kernel_offset(info))

    def unexplained(a, m):
        return [json.dumps(d, sort_keys=True) for d in diff_views(a, m, dv)[0]
                if not drgn_known_defects.explain(d, env, dv)]

    base = set(unexplained(analyze, mutexes))
    # A CPU whose stack both tools already agree on, frame for frame.
    agreed = {c["cpu"] for c in dv["cpus"] if c.get("frames") and not c.get("stop") and not c.get("error")}
    cpu = next(c for c in analyze["cpus"]
               if c.get("cpu") in agreed and len((c.get("stack") or {}).get("frames", [])) > 2)
    cases = []

    def case(name, want, a=None, m=None):
        new = [json.loads(d)["what"] for d in unexplained(a or analyze, m or mutexes) if d not in base]
        cases.append((name, want in new, new))

    a = copy.deepcopy(analyze)
    next(c for c in a["cpus"] if c["cpu"] == cpu["cpu"])["stack"]["frames"][1]["function"] = "not_a_kernel_function"
    case("frame renamed", "cpu-stack", a)
    a = copy.deepcopy(analyze)
    next(c for c in a["cpus"] if c["cpu"] == cpu["cpu"])["stack"]["frames"].pop()
    case("frame dropped", "cpu-stack", a)
    a = copy.deepcopy(analyze)
    next(c for c in a["cpus"] if c["cpu"] == cpu["cpu"])["pid"] = 999999
    case("current task", "cpu-current", a)
    a = copy.deepcopy(analyze)
    next(c for c in a["cpus"] if c["cpu"] == cpu["cpu"])["rip"] = "0x1"
    case("register", "cpu-registers", a)
    a = copy.deepcopy(analyze)
    a["tasks"].pop()
    case("task left out", "task-set", a)
    if mutexes.get("locks"):
        m = copy.deepcopy(mutexes)
        m["locks"][0]["owner"] = {"task": "0x10"}
        case("lock owner", "lock-owner", None, m)
        m = copy.deepcopy(mutexes)
        m["locks"][0]["waiters"].append({"pid": 999999})
        case("lock waiter", "lock-waiters", None, m)
    return cases


def selftest_result(dump, vmlinux, module_dir, cli, label):
    """selftest() as one TestResult, for a suite."""
    try:
        cases = selftest(dump, vmlinux, module_dir, cli)
    except (RuntimeError, StopIteration, KeyError, IndexError) as e:
        return TestResult(f"drgn-diff-selftest-{label}", False, f"{type(e).__name__}: {e}")
    bad = [f"{n}: {got}" for n, ok, got in cases if not ok]
    return TestResult(f"drgn-diff-selftest-{label}", len(cases) >= 5 and not bad,
                      f"{len(cases)} altered kstuck answers, each must differ from drgn: "
                      + ("; ".join(bad) if bad else ", ".join(n for n, _, _ in cases)))


def main():
    ap = argparse.ArgumentParser(description="kstuck vs drgn on one dump")
    ap.add_argument("dump")
    ap.add_argument("vmlinux")
    ap.add_argument("--module-dir")
    ap.add_argument("--cli", default=str(Path(__file__).resolve().parents[2] / "build" / "release" / "cli" / "kstuck"))
    ap.add_argument("--label")
    ap.add_argument("--selftest", action="store_true", help="prove on this dump that a difference fails")
    a = ap.parse_args()
    if a.selftest:
        cases = selftest(a.dump, a.vmlinux, a.module_dir, a.cli)
        for name, ok, got in cases:
            print(f"{'PASS' if ok else 'FAIL'} selftest {name}: {got}")
        return 0 if cases and all(ok for _, ok, _ in cases) else 1
    results = compare(None, a.dump, a.vmlinux, a.module_dir, a.label, cli=a.cli)
    for r in results:
        print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}")
    print(f"full comparison: {a.dump}.drgn-diff.json")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
