#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kstuck.ko and the scenario modules on any kernel in the cache: builds both with W=1
(counting the compiler's warnings), then runs VM suites (default: foundation, nmi) on
that kernel with those modules, and keeps the foundation suite's QMP dump and console
as <cache>/dev/foundation-<kver>.vmcore / .console.log for the dump readers' work.

usage: tests/vm/kmod_check.py [--build DIR] [--build-only] [--suites a,b] [--cli KSTUCK] KVER...
  KVER: a folder name under <cache>/kernel/ (scripts/fetch-kernel put it there).
  --cli: the kstuck binary for the guest (default: the release build of this tree).
Prints one line per check and a closing 'N passed, N failed'.
"""
import argparse
import re
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.vm import rig, run as vm_run  # noqa: E402
from tests.vm.rig import RigError, TestResult  # noqa: E402

# A compiler or modpost complaint; kbuild's own notices ("pahole version differs") are
# not about any code. Complaints located in the kernel's headers come from building with
# an older compiler than the kernel's (gcc-12 for sid's gcc-15 kernel: 'counted_by
# attribute directive ignored') and are counted apart from those in our sources.
WARNING = re.compile(r"^(?:(\S+\.[ch]):\d+:\d+: warning:.*|WARNING: modpost:.*)$", re.M)


def kernel_headers(kernel):
    """The kbuild tree for M= builds: fetched into the cache, or the host's own."""
    cached = sorted((kernel.cache / "headers" / "src").glob(f"linux-headers-{kernel.kver}"))
    if cached:
        return cached[0]
    return Path(f"/usr/src/linux-headers-{kernel.kver}")


def build(kernel, src, out, sources):
    """Copies sources into out and builds them with W=1; returns the warnings about our
    sources and, apart, the distinct ones about the kernel's headers."""
    out.mkdir(parents=True, exist_ok=True)
    for name in sources:
        p = src / name
        if p.is_dir():
            shutil.copytree(p, out / name, dirs_exist_ok=True)
        else:
            shutil.copy2(p, out / name)
    args_file = kernel.cache / "kbuild-args"
    extra = args_file.read_text().split() if args_file.exists() else []
    cmd = ["make", "-C", str(kernel_headers(kernel)), f"M={out}", *extra, "W=1", "modules"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    (out / "build.log").write_text(p.stdout)
    if p.returncode:
        tail = " | ".join(p.stdout.strip().splitlines()[-8:])
        raise RigError(f"module build in {out} failed (exit {p.returncode}): {tail}")
    ours, headers = [], set()
    for m in WARNING.finditer(p.stdout):
        path = m.group(1)
        if path and path.startswith(str(kernel.cache)):
            headers.add(m.group(0).split(": warning: ", 1)[-1])
        else:
            ours.append(m.group(0))
    return ours, sorted(headers)


def warning_result(name, ours, headers):
    detail = f"{len(ours)} warnings" + (f": {ours[:3]}" if ours else "")
    if headers:
        detail += f"; in the kernel's headers (older compiler than the kernel's): {headers[:2]}"
    return TestResult(name, not ours, detail)


class KmodContext(vm_run.Context):
    """What a suite needs (see tests/vm/run.py Context), for a given cached kernel and
    the modules built here."""

    def __init__(self, build_dir, kver, results):
        self.build = Path(build_dir).resolve()
        cache = rig.CACHE / "kernel" / kver
        if not (cache / ".complete").exists():
            raise RigError(f"{cache} is not a complete fetch (scripts/fetch-kernel)")
        self.kernel = rig.Kernel(kver, cache)
        self.out = self.build / "vm-out" / kver
        self.out.mkdir(parents=True, exist_ok=True)
        mod_dir = self.build / kver
        results.append(warning_result("kstuck-ko-builds-w1",
                                      *build(self.kernel, rig.ROOT, mod_dir / "kmod", ["Kbuild", "kmod", "nmi_dump"])))
        self.kstuck_ko = mod_dir / "kmod" / "kstuck.ko"
        scen = rig.ROOT / "tests" / "vm" / "scenarios"
        sources = [p.name for p in scen.iterdir() if p.name == "Kbuild" or p.suffix in (".c", ".h")]
        results.append(warning_result("scenarios-build-w1",
                                      *build(self.kernel, scen, mod_dir / "scenarios", sources)))
        self.scenarios = sorted((mod_dir / "scenarios").glob("*.ko"))

    append = ""

    def boot(self, suite, **kw):
        if self.append:
            kw["append"] = f"{kw.get('append', '')} {self.append}".strip()
        return super().boot(suite, **kw)

    def prepare_guest(self, cli=None):
        self.kstuck_cli = Path(cli) if cli else rig.build_userspace(self.build)
        self.guest_tools = rig.build_guest_tools(self.build)
        self.initramfs = rig.build_initramfs(
            self.out / "initramfs.cpio", self.kernel,
            modules=[self.kstuck_ko, *self.scenarios],
            binaries=[self.kstuck_cli, *self.guest_tools])


def keep_dev_dump(kver):
    """The foundation suite keeps its dump by major.minor for the unit tests; here every
    kernel (cloud and rt of one version) keeps its own, by full release."""
    def keep(ctx, dump, console):
        dev = rig.CACHE / "dev"
        dev.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dump, dev / f"foundation-{kver}.vmcore")
        (dev / f"foundation-{kver}.console.log").write_text(console)
        print(f"kmod: kept {dev}/foundation-{kver}.vmcore", flush=True)
    return keep


def check_kernel(args, kver):
    results = []
    t = time.monotonic()
    try:
        ctx = KmodContext(args.build, kver, results)
    except RigError as e:
        return results + [TestResult("build", False, str(e))]
    if args.build_only:
        return results
    ctx.prepare_guest(args.cli)
    ctx.append = args.append
    print(f"kmod: {kver}: modules and initramfs ready in {time.monotonic() - t:.1f}s", flush=True)
    for name in args.suites.split(","):
        t = time.monotonic()
        try:
            module = __import__(f"tests.vm.suites.{name}", fromlist=["run"])
            if name == "foundation":
                module.keep_dev_dump = keep_dev_dump(kver)
            suite_results = module.run(ctx) or [TestResult("suite-produced-results", False, "no checks ran")]
        except RigError as e:
            suite_results = [TestResult("suite", False, str(e))]
        except Exception:  # a bug in a suite is a failure, not a crash of the runner
            suite_results = [TestResult("suite", False, traceback.format_exc())]
        results += [TestResult(f"{name}/{r.name}", r.passed, r.detail) for r in suite_results]
        print(f"kmod: {kver}: suite {name} took {time.monotonic() - t:.1f}s", flush=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kvers", nargs="+")
    ap.add_argument("--build", default=str(rig.BUILD))
    ap.add_argument("--suites", default="foundation,nmi")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--cli", help="kstuck binary for the guest instead of building one")
    ap.add_argument("--append", default="", help="more guest kernel command line")
    args = ap.parse_args()
    passed = failed = 0
    for kver in args.kvers:
        for r in check_kernel(args, kver):
            print(f"{'PASS' if r.passed else 'FAIL'} kmod/{kver}/{r.name} {r.detail}".rstrip(), flush=True)
            passed += r.passed
            failed += not r.passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
