# SPDX-License-Identifier: GPL-2.0
"""Target: kstuck dumpinfo reads QEMU's kdump-zlib (flattened) and ELF dumps of the
stuck scenario, with KASLR and with nokaslr, and finds what the guest says is there."""
import re
import socket
import subprocess
import time

from tests.vm import drgn_diff
from tests.vm.rig import TestResult

VMLINUX_STEXT = 0xffffffff81000000  # x86-64 link address of _stext (no KASLR)


def _info(g, key):
    m = re.search(rf"^KSTUCK-INFO: {key}=(\S*)", g.user_text(), re.M)
    return m.group(1) if m else ""


def _ko_symbol(ko, name):
    """(value, size) of a function in a .ko's .text (section-relative)."""
    out = subprocess.run(["nm", "-S", "--defined-only", str(ko)], stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == name and parts[2] in "tT":
            return int(parts[0], 16), int(parts[1], 16)
    return None


def _dumpinfo(ctx, dump, *extra):
    t = time.monotonic()
    p = subprocess.run([str(ctx.kstuck_cli), "dumpinfo", str(dump), "--vmlinux", str(ctx.kernel.vmlinux), *extra],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return p.returncode, p.stdout, time.monotonic() - t


def _check_dump(ctx, tag, dump, want_format, kaslr, truth, text_base):
    """Runs dumpinfo on one dump and compares it with what the guest told us."""
    res = []
    rc, out, secs = _dumpinfo(ctx, dump, "--stack-scan")
    (ctx.out / f"target-{tag}.dumpinfo.txt").write_text(out)
    first = out.strip().splitlines()[:1]
    res.append(TestResult(f"{tag}-opens", rc == 0, f"{secs:.2f}s {dump.stat().st_size} bytes; "
                          + (first[0] if rc == 0 and first else out[-300:])))
    if rc != 0:
        return res
    field = dict(re.findall(r"^(\w[\w -]*?):\s+(.*)$", out, re.M))
    res.append(TestResult(f"{tag}-format", field.get("format", "").startswith(want_format), field.get("format", "")))
    res.append(TestResult(f"{tag}-release", field.get("release") == ctx.kernel.kver,
                          f"{field.get('release')} vs {ctx.kernel.kver}"))
    res.append(TestResult(f"{tag}-build-id", "(matches vmlinux)" in field.get("build-id", ""), field.get("build-id", "")))
    got_kaslr = int(field.get("kaslr", "-1"), 16) if field.get("kaslr", "").startswith("0x") else -1
    res.append(TestResult(f"{tag}-kaslr-offset", kaslr is not None and got_kaslr == kaslr,
                          f"dump 0x{got_kaslr:x} guest {'?' if kaslr is None else hex(kaslr)}"))
    cpus = {int(m.group(1)): m for m in re.finditer(
        r"^cpu (\d+): note pid (-?\d+) rip 0x([0-9a-f]+) rsp 0x([0-9a-f]+) (.*)$", out, re.M)}
    res.append(TestResult(f"{tag}-four-cpus", sorted(cpus) == [0, 1, 2, 3]
                          and all(int(m.group(2)) == c + 1 for c, m in cpus.items()),
                          f"cpus {sorted(cpus)} note pids {[m.group(2) for m in cpus.values()]}"))
    tasks = {int(m.group(1)): (m.group(2), m.group(3)) for m in re.finditer(
        r"^cpu (\d+) task: pid (\d+) comm (\S+)", out, re.M)}
    stacks = {int(m.group(1)): m.group(2).split() for m in re.finditer(r"^cpu (\d+) stack:(.*)$", out, re.M)}
    for role in ("xcall_waiter", "irqoff_spinner"):
        cpu = int(truth.get(f"{role}.cpu", "-1"))
        want = (truth.get(f"{role}.pid"), truth.get(f"{role}.comm"))
        res.append(TestResult(f"{tag}-{role}-is-current-on-cpu{cpu}", tasks.get(cpu) == want,
                              f"dump {tasks.get(cpu)} truth {want}"))
    # The xcall CPU sits in smp_call_function_single, or in an interrupt taken there (its
    # interrupted RIP then lies on the task stack).
    xcpu = int(truth.get("xcall_waiter.cpu", "2"))
    xm = cpus.get(xcpu)
    at = xm.group(5) if xm else ""
    on_stack = any(w.startswith("smp_call_function_single+") for w in stacks.get(xcpu, []))
    res.append(TestResult(f"{tag}-xcall-cpu-in-smp_call_function_single",
                          at.startswith("smp_call_function_single+") or on_stack,
                          f"rip at {at}; on task stack: {on_stack}"))
    # The spinner's RIP is in its spin function or in the clocksource read it polls
    # (ktime_get_mono_fast_ns -> read_hpet under TCG), whose return address into the
    # spin function is then on the stack.
    scpu = int(truth.get("irqoff_spinner.cpu", "3"))
    sm = cpus.get(scpu)
    sym = _ko_symbol(next(k for k in ctx.scenarios if k.name == "kstuck_scenario.ko"),
                     truth.get("irqoff_spinner.func", "kstuck_scenario_irqoff_spin"))
    ok, detail = False, "no cpu or symbol"
    if sm and sym and text_base:
        inside = lambda a: sym[0] <= a - text_base < sym[0] + sym[1]  # noqa: E731
        rip = int(sm.group(3), 16)
        ret = [w for w in stacks.get(scpu, []) if w.startswith("0x") and inside(int(w, 16))]
        ok = inside(rip) or bool(ret)
        detail = (f"rip 0x{rip:x} ({sm.group(5)}), return addresses into the spin function on the stack: "
                  f"{ret[:3]}; {truth.get('irqoff_spinner.func')} is .text+0x{sym[0]:x}/0x{sym[1]:x} "
                  f"at 0x{text_base:x}")
    res.append(TestResult(f"{tag}-spinner-rip-in-spin-function", ok, detail))
    return res


def _boot(ctx, name, append, formats):
    results, dumps = [], {}
    with ctx.boot("target", append=append) as g:
        # Connect the control port now: connecting just before the reply lost its first
        # byte once ("reply=k").
        g.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        g.ctl.connect(str(g.ctl_path))
        words = g.next_request(240)
        if words[:1] == ["dump"]:
            for fmt in formats:
                t = time.monotonic()
                dumps[fmt] = (g.dump(ctx.out / f"{name}.{fmt}.vmcore", fmt=fmt), time.monotonic() - t)
            g.reply("ok")
        else:
            g.reply("unexpected")
        g.wait_for(r"^KSTUCK-DONE", 60, user=True)
        results += [TestResult(f"{name}-guest-{r.name}", r.passed, r.detail) for r in g.results()]
        truth = g.truth()
        stext = _info(g, "stext")
        text = _info(g, "scenario_text")
    kaslr = int(stext, 16) - VMLINUX_STEXT if stext else None
    text_base = int(text, 16) if text else None
    for fmt, (dump, secs) in dumps.items():
        tag = f"{name}-{fmt}"
        want = "elf" if fmt == "elf" else "flattened diskdump"
        results += _check_dump(ctx, tag, dump, want, kaslr, truth, text_base)
        results[-1].detail += f" (QMP dump {secs:.1f}s)"
        results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, ctx.scenarios[0].parent, label=tag)
        if fmt == "elf":
            dump.unlink(missing_ok=True)  # 1 GiB: keep only the small dumps
    return results


def run(ctx):
    results = _boot(ctx, "kaslr", "", ["kdump-zlib", "elf"])
    results += _boot(ctx, "nokaslr", "nokaslr", ["kdump-zlib"])
    return results
