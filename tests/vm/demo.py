#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The demo: boot the Debian cloud kernel in QEMU, wedge it (a CPU spinning with IRQs
off, a task waiting on an xcall to it, a mutex owner and waiter), take a vmcore of the
stuck machine — by default a real kdump (kexec capture kernel + makedumpfile -c -d 31,
what customers send), with --qemu-dump a QMP dump-guest-memory of the live guest — and
print what kstuck finds in it."""
import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.vm import kdump, rig  # noqa: E402
from tests.vm.run import Context  # noqa: E402


def qemu_dump(ctx):
    """Fast path: the live guest dumped through QMP; kstuck nmi capture runs live first."""
    with ctx.boot("demo") as g:
        vmcore = g.serve_until_dump(ctx.out / "demo.vmcore")
        if not vmcore:
            raise rig.RigError("the demo guest did not ask for a dump")
        live = rig.printed_block(g.user_text(), "KSTUCK-LIVE-BEGIN", "KSTUCK-LIVE-END") or ""
        return vmcore, g.truth(), live, [ctx.kstuck_ko.parent, ctx.scenarios[0].parent]


def real_kdump(ctx):
    """Default: sysrq-c panic, the capture kernel writes makedumpfile -c -d 31."""
    art = kdump.prepare(ctx.kernel, ctx.build, binaries=[ctx.kstuck_cli, *ctx.guest_tools])
    res = kdump.kdump_cycle(art, ctx.out / "demo-kdump", panic="sysrq", scenarios=7, qemu_dump=False,
                            formats=("kdump",), nmi=True, suite="kdump")
    if "kdump" not in res.dumps:
        raise rig.RigError(f"the capture kernel wrote no dump: {res.capture}")
    return res.dumps["kdump"], res.truth, "", [art.kstuck_ko.parent, art.scenarios[0].parent]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qemu-dump", action="store_true", help="dump the live guest through QMP (fast path)")
    args = ap.parse_args()
    t0 = time.monotonic()
    try:
        ctx = Context(rig.BUILD)
        vmcore, truth, live, module_dirs = qemu_dump(ctx) if args.qemu_dump else real_kdump(ctx)
    except rig.RigError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    how = "QMP dump-guest-memory" if args.qemu_dump else "in-guest kdump, makedumpfile -c -d 31"
    print(f"== guest {ctx.kernel.kver}: vmcore {vmcore} ({vmcore.stat().st_size >> 20} MiB, {how}) "
          f"in {time.monotonic() - t0:.0f}s")
    print("== ground truth printed by the scenario module:")
    for k, v in sorted(truth.items()):
        print(f"   {k} = {v}")
    if live:
        print("== live, in the guest while it was stuck: kstuck nmi capture")
        print(live.rstrip())
    common = ["--vmlinux", str(ctx.kernel.vmlinux)]
    for d in module_dirs:
        common += ["--module-dir", str(d)]
    rc = 0
    for cmd in (["hang", str(vmcore)], ["analyze", str(vmcore)]):
        print(f"\n== kstuck {' '.join(cmd)} --vmlinux ... --module-dir ...", flush=True)
        rc |= subprocess.run([str(ctx.kstuck_cli), *cmd, *common]).returncode
    return rc


if __name__ == "__main__":
    sys.exit(main())
