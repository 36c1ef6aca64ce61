#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Makes bench/analyze_scale's dump: boots the default kernel with 16 vCPUs and 4 GiB,
busybox initramfs, qemu_fw_cfg (VMCOREINFO) and nothing of kstuck's; the guest script
scale.sh starts futex_park (tests/vm/guest/futex_park.c: N threads asleep in futex
waits, N=10000 by default) and asks for a QMP kdump-zlib dump, kept with its console as
$KSTUCK_CACHE/dev/scale-<kver>.vmcore and .console.log (outside the clone: later runs
and other clones reuse it).

usage: bench/analyze_scale/make_dump.py [--build DIR] [--threads N] [--smp N] [--memory MB]
                                        [--accel ACCEL] [--boot-only] [--force]
--accel: QEMU's -accel (default "tcg,thread=single", which booted faster here than
"tcg", one host thread per vCPU). --boot-only stops after the guest has booted (to time the accelerators).
Prints the dump's path and how long each step took.
"""
import argparse
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.vm import rig, vmcore_check  # noqa: E402
from tests.vm.rig import RigError  # noqa: E402

THREADS, SMP, MEMORY_MB = 10000, 16, 4096
# Booting 16 vCPUs to /init on the 2-core host (2026-12-07, load 2-4, 3-4 boots each):
# single-threaded TCG 5.2-5.4 s, one host thread per vCPU (MTTCG) 7.3-8.1 s.
ACCEL = "tcg,thread=single"


def scale_dump_path(kver):
    return rig.CACHE / "dev" / f"scale-{kver}.vmcore"


def make(build=rig.BUILD, threads=THREADS, smp=SMP, memory_mb=MEMORY_MB, accel=ACCEL, boot_only=False, force=False,
         spec=rig.DEFAULT_KERNEL, log=print):
    """Returns the cached scale dump of spec's kernel, making it when missing (or force)."""
    t0 = time.monotonic()
    kernel = rig.fetch_kernel(spec)
    dest = scale_dump_path(kernel.kver)
    if dest.exists() and not force and not boot_only:
        return dest
    out = Path(build).resolve() / "scale-dump" / kernel.kver
    tools = {p.name: p for p in rig.build_guest_tools(build)}
    initramfs = rig.build_initramfs(out / "initramfs.cpio", kernel, binaries=[tools["futex_park"]])
    log(f"make_dump: kernel {kernel.kver}, {smp} vCPUs, {memory_mb} MiB, -accel {accel}, {threads} threads")
    with rig.Guest(kernel, initramfs, out / "guest", "scale", smp=smp, memory_mb=memory_mb, isolcpus="",
                   accel=accel, append=f"kstuck.scale_threads={threads}") as g:
        t = time.monotonic()
        booted = g.wait_for(r"^KSTUCK-BOOTED: .*$", 600, user=True)
        boot_s = time.monotonic() - t
        log(f"make_dump: booted in {boot_s:.1f}s ({booted.group(0)})")
        if boot_only:
            return None
        t = time.monotonic()
        words = g.next_request(1800)
        park_s = time.monotonic() - t
        text = g.user_text()
        for pattern in (r"^KSTUCK-SCALE: .*$", r"^KSTUCK-TEST: scale-threads-parked .*$",
                        r"^KSTUCK-SCALE-TASKS: .*$", r"^KSTUCK-SCALE-MEM: .*$"):
            m = re.search(pattern, text, re.M)
            log(f"make_dump:   {m.group(0).strip() if m else '(no ' + pattern + ')'}")
        log(f"make_dump: threads parked and request {words} after {park_s:.1f}s")
        if words[:1] != ["dump"]:
            g.reply("unexpected")
            raise RigError(f"the scale guest asked for {words}, not a dump; console tail:\n{g.tail()}")
        t = time.monotonic()
        dump = g.dump(out / "scale.vmcore", timeout=1800)
        dump_s = time.monotonic() - t
        g.reply("ok")
        log(f"make_dump: QMP dump-guest-memory (kdump-zlib) {dump_s:.1f}s, {dump.stat().st_size / 1e6:.0f} MB")
        try:
            g.wait_for(r"^KSTUCK-DONE", 120, user=True)
        except RigError as e:
            log(f"make_dump: (the guest did not finish: {str(e).splitlines()[0]})")
        console = g.text()
        fails = [r for r in g.results() if not r.passed]
    for suite, cls, line in rig.take_console_findings():
        log(f"make_dump: console {cls}: {line[:160]}")
    if fails:
        raise RigError("; ".join(f"{r.name}: {r.detail}" for r in fails))
    if "KSTUCK-WARN: qemu_fw_cfg did not load" in console:
        raise RigError("qemu_fw_cfg did not load: the dump has no VMCOREINFO")
    fmt, info = vmcore_check.describe(dump)
    if not info.startswith(f"OSRELEASE={kernel.kver}".encode()):
        raise RigError(f"{dump} has no VMCOREINFO for {kernel.kver} (format {fmt}, {info[:40]!r})")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dump, dest.with_suffix(".tmp"))
    dest.with_suffix(".tmp").rename(dest)
    dest.with_suffix(".console.log").write_text(console)
    log(f"make_dump: {dest} ({fmt}, {dest.stat().st_size / 1e6:.0f} MB); {time.monotonic() - t0:.0f}s in all")
    return dest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(rig.BUILD))
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument("--smp", type=int, default=SMP)
    ap.add_argument("--memory", type=int, default=MEMORY_MB, metavar="MB")
    ap.add_argument("--accel", default=ACCEL)
    ap.add_argument("--boot-only", action="store_true")
    ap.add_argument("--force", action="store_true", help="make it again even if the cache has one")
    args = ap.parse_args()
    try:
        path = make(args.build, args.threads, args.smp, args.memory, args.accel, args.boot_only, args.force,
                    log=lambda s: print(s, flush=True))
    except RigError as e:
        print(f"make_dump: {e}", flush=True)
        return 1
    if path:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
