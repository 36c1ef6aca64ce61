# SPDX-License-Identifier: GPL-2.0
"""The rig reports bad things instead of hiding them: an unresolvable kernel package,
a missing header tree, a guest that never boots each give a one-line reason."""
import os
import subprocess
import time
from pathlib import Path

from tests.vm import rig
from tests.vm.rig import RigError, TestResult


def _fetch_with_bad_meta():
    env = dict(os.environ, KSTUCK_KERNEL_META="linux-image-kstuck-does-not-exist",
               KSTUCK_CACHE=str(rig.CACHE))
    p = subprocess.run([str(rig.ROOT / "scripts" / "fetch-kernel")], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    lines = p.stderr.strip().splitlines()
    ok = p.returncode != 0 and len(lines) == 1 and lines[0].startswith("fetch-kernel: cannot resolve")
    return TestResult("fetch-kernel-bad-package-one-line-error", ok, f"rc={p.returncode} stderr={lines}")


def _build_without_headers(ctx):
    fake = rig.Kernel("0.0.0-kstuck-missing", ctx.kernel.cache)
    try:
        rig.build_kmod(fake, rig.ROOT / "tests" / "vm" / "scenarios", ctx.build / "rig-errors" / "kmod")
    except RigError as e:
        return TestResult("module-build-missing-headers-error", "module build" in str(e), str(e)[:160])
    return TestResult("module-build-missing-headers-error", False, "build succeeded without headers")


def _guest_never_boots(ctx):
    junk = ctx.build / "rig-errors" / "not-a-kernel"
    junk.parent.mkdir(parents=True, exist_ok=True)
    junk.write_bytes(b"\0" * 4096)
    kernel = rig.Kernel(ctx.kernel.kver, junk.parent)
    (junk.parent / "bzImage").write_bytes(junk.read_bytes())
    t = time.monotonic()
    try:
        with rig.Guest(kernel, ctx.initramfs, ctx.out / "rig-errors", "none") as g:
            g.wait_for(r"^KSTUCK-BOOTED:", 15, user=True)
            pid = g.proc.pid
    except RigError as e:
        took = time.monotonic() - t
        return TestResult("guest-never-boots-reported", took < 30 and ("did not print" in str(e) or
                          "exited" in str(e)), f"after {took:.1f}s: {str(e).splitlines()[0]}")
    return TestResult("guest-never-boots-reported", False, f"a junk kernel booted (pid {pid})")


def run(ctx):
    return [_fetch_with_bad_meta(), _build_without_headers(ctx), _guest_never_boots(ctx)]
