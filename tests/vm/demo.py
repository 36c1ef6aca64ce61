#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The demo: boot the Debian cloud kernel in QEMU, wedge it (a CPU spinning with IRQs
off, a task waiting on an xcall to it, a mutex owner and waiter), take a vmcore of
the stuck guest, and print what kstuck finds in it."""
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.vm import rig, vmcore_check  # noqa: E402
from tests.vm.run import Context  # noqa: E402


def main():
    t0 = time.monotonic()
    try:
        ctx = Context(rig.BUILD)
        with ctx.boot("demo") as g:
            g.wait_for(r"^KSTUCK-BOOTED:", 120)
            words = g.next_request(240)
            if words[:1] != ["dump"]:
                raise rig.RigError(f"unexpected guest request {words}")
            vmcore = g.dump(ctx.out / "demo.vmcore")
            g.reply("ok")
            truth = g.truth()
            live = [l for l in g.text().splitlines() if l.startswith("KSTUCK-LIVE:")]
    except rig.RigError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    fmt, info = vmcore_check.describe(vmcore)
    print(f"== guest {ctx.kernel.kver}: vmcore {vmcore} ({vmcore.stat().st_size >> 20} MiB, {fmt}) "
          f"in {time.monotonic() - t0:.0f}s")
    print("== ground truth printed by the scenario module:")
    for k, v in sorted(truth.items()):
        print(f"   {k} = {v}")
    for line in live:
        print(line[len("KSTUCK-LIVE:"):])
    analyze = [str(ctx.kstuck_cli), "analyze", str(vmcore), "--vmlinux", str(ctx.kernel.vmlinux),
               "--module-dir", str(ctx.kstuck_ko.parent), "--module-dir", str(ctx.scenarios[0].parent)]
    print("== " + " ".join(analyze[1:]))
    return subprocess.run(analyze).returncode


if __name__ == "__main__":
    sys.exit(main())
