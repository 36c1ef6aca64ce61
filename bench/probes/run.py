#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench/probes runner: boots one guest with kstuck.ko and probes.sh, which measures
enable/teardown cross-calls and time for kstuck's one-ftrace_ops session and for one
kprobe per function (sampled), and prints the ratios.

Usage: python3 bench/probes/run.py [--build DIR] [--sample N]
"""
import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.vm import rig  # noqa: E402
from tests.vm.run import Context  # noqa: E402
from tests.vm.suites.trace import ACCEL  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(rig.BUILD))
    ap.add_argument("--sample", type=int, default=300, help="functions to kprobe one by one")
    # Multi-threaded TCG hangs on patched call sites (QEMU 7.2; see tests/vm/suites/trace.py):
    # seen twice here with --accel tcg, a soft lockup at folio_unlock's patched call.
    ap.add_argument("--accel", default=ACCEL, help=f"QEMU -accel (default {ACCEL})")
    args = ap.parse_args()

    ctx = Context(args.build)
    here = Path(__file__).resolve().parent
    clock = ctx.build / "bench" / "nsclock"
    clock.parent.mkdir(parents=True, exist_ok=True)
    rig.run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(clock), str(here / "nsclock.c")],
            what="gcc nsclock.c")
    initramfs = rig.build_initramfs(ctx.build / "bench" / "initramfs.cpio", ctx.kernel,
                                    modules=[ctx.kstuck_ko], binaries=[ctx.kstuck_cli, clock],
                                    files={"/tests/probes_bench.sh": here / "probes.sh"})
    with rig.Guest(ctx.kernel, initramfs, ctx.out / "probes_bench", "probes_bench",
                   append=f"kstuck.sample={args.sample}", accel=args.accel) as g:
        g.wait_for(r"^KSTUCK-BOOTED:", 120, user=True)
        g.wait_for(r"^KSTUCK-DONE", 3600, user=True)
        text = g.user_text()
        problems = g.console_problems()
    for m in re.finditer(r"^(BENCH: .*|SAMPLE: .*|KSTUCK-TEST: .*)$", text, re.M):
        print(m.group(1), flush=True)
    if problems:
        print("console problems: " + " | ".join(problems[:5]))
    failed = [m for m in re.finditer(r"^KSTUCK-TEST: \S+ FAIL", text, re.M)]
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
