# SPDX-License-Identifier: GPL-2.0
"""Foundation: module load/ioctl/unload in the guest, and a vmcore of the live scenario."""
import shutil

from tests.vm import drgn_diff, rig, vmcore_check
from tests.vm.rig import TestResult


def keep_dev_dump(ctx, dump, console):
    """The dump and its console become the unit tests' real-dump fixture
    (tests/unit/kdump_target_test.cpp reads <rig.CACHE>/dev/foundation-<major.minor>.*)."""
    dev = rig.CACHE / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    name = "foundation-" + ".".join(ctx.kernel.kver.split(".")[:2])
    shutil.copyfile(dump, dev / f"{name}.vmcore")
    (dev / f"{name}.console.log").write_text(console)


def run(ctx):
    results = []
    with ctx.boot("foundation") as g:
        dump = g.serve_until_dump(ctx.out / "foundation.vmcore")
        g.wait_for(r"^KSTUCK-DONE", 60, user=True)
        results += g.results()
        truth = g.truth()
        console = g.text()
    if dump:
        fmt, info = vmcore_check.describe(dump)
        results.append(TestResult("vmcore-is-kdump-compressed", fmt in ("kdump", "flattened-kdump"),
                                  f"format={fmt} size={dump.stat().st_size}"))
        release = f"OSRELEASE={ctx.kernel.kver}".encode()
        results.append(TestResult("vmcore-has-vmcoreinfo", info.startswith(release),
                                  info[:40].decode(errors="replace").replace("\n", " ")))
        results.append(TestResult("scenario-truth-printed",
                                  all(k in truth for k in ("irqoff_spinner.cpu", "xcall_waiter.pid",
                                                           "mutex_owner.pid", "mutex_waiter.mutex")),
                                  " ".join(f"{k}={v}" for k, v in sorted(truth.items()))[:300]))
        if all(r.passed for r in results):
            keep_dev_dump(ctx, dump, console)
        results += drgn_diff.compare(ctx, dump, ctx.kernel.vmlinux, ctx.scenarios[0].parent, label="foundation")
    return results
