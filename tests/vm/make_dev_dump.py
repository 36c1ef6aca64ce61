#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boots a fetched kernel idle (busybox initramfs, qemu_fw_cfg for VMCOREINFO, nothing
of kstuck's loaded) and keeps a QMP kdump-zlib dump and its console as
$KSTUCK_CACHE/dev/idle-<kver>.vmcore and .console.log: fixtures for debugging kstuck's
readers on every kernel Debian ships.

usage: python3 tests/vm/make_dev_dump.py [--build DIR] SUITE:FLAVOUR...
"""
import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.vm import rig, vmcore_check  # noqa: E402
from tests.vm.rig import RigError  # noqa: E402


def idle_dump(spec, build):
    """Fetches the kernel, boots it idle, dumps it; returns (vmcore path, detail)."""
    t0 = time.monotonic()
    kernel = rig.fetch_kernel(spec)
    out = Path(build).resolve() / "dev-dump" / kernel.kver
    initramfs = rig.build_initramfs(out / "initramfs.cpio", kernel)
    dev = rig.CACHE / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    name = f"idle-{kernel.kver}"
    with rig.booted(lambda: rig.Guest(kernel, initramfs, out / "guest", "idle")) as g:
        booted = time.monotonic() - t0
        dump = g.serve_until_dump(out / "idle.vmcore")
        if dump is None:
            raise RigError(f"{spec}: the guest asked for no dump; console tail:\n{g.tail()}")
        g.wait_for(r"^KSTUCK-DONE", 60, user=True)
        console = g.text()
    if "KSTUCK-WARN: qemu_fw_cfg did not load" in console:
        raise RigError(f"{spec}: qemu_fw_cfg did not load: the dump has no VMCOREINFO")
    fmt, info = vmcore_check.describe(dump)
    want = f"OSRELEASE={kernel.kver}".encode()
    if not info.startswith(want):
        raise RigError(f"{spec}: {dump} has no VMCOREINFO for {kernel.kver} (format {fmt}, {info[:40]!r})")
    shutil.copyfile(dump, dev / f"{name}.vmcore")
    (dev / f"{name}.console.log").write_text(console)
    return dev / f"{name}.vmcore", (f"{kernel.kver}: {fmt}, {dump.stat().st_size >> 20} MiB, booted in "
                                    f"{booted:.0f}s, {time.monotonic() - t0:.0f}s in all")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kernels", nargs="+", metavar="SUITE:FLAVOUR")
    ap.add_argument("--build", default=str(rig.BUILD))
    args = ap.parse_args()
    bad = 0
    for spec in args.kernels:
        try:
            path, detail = idle_dump(spec, args.build)
            print(f"{path}  ({detail})", flush=True)
        except RigError as e:
            bad += 1
            print(f"make_dev_dump: {spec}: {e}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
