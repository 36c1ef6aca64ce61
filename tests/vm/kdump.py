# SPDX-License-Identifier: GPL-2.0
"""Real in-guest kdump for the rig: the dumps customers send (makedumpfile -c -d 31,
its flattened -F stream, ELF), written by a capture kernel onto a virtio ext4 image and
read back on the host with debugfs (no root mount). Builds for any fetched kernel.

One cycle: boot with crashkernel=256M -> load kstuck.ko, `kexec -p` the capture kernel
-> start the scenario (its KSTUCK-TRUTH lines are printed before the panic) ->
optionally a QEMU dump of the same live state -> panic (sysrq c or the hung-task
detector) -> the capture kernel's /init (tests/vm/guest/capture-init) runs makedumpfile
and powers off -> the host extracts the files.
"""
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.vm import rig
from tests.vm.rig import RigError

# virtio and ext4 modules in load order; a kernel that builds one in simply lacks its
# file (Debian 13's 6.12 cloud has only virtio_blk as a module; the rt flavours have ext4
# and its helpers as modules, and the capture kernel has no modprobe to find crc32c).
CAPTURE_MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
                   "virtio_blk", "crc16", "crc32c_generic", "mbcache", "jbd2", "ext4")
# What the capture kernel writes, by file name on the disk image.
FORMATS = {
    "kdump": "vmcore.kdump",   # makedumpfile -c -d 31
    "flat": "vmcore.flat",     # makedumpfile -F -c -d 31 (Debian kdump-tools' default)
    "elf": "vmcore.elf",       # makedumpfile -E -d 31
}


# Every fetched kernel now keeps its headers (and, for newer suites, its Debian
# userland) in its cache folder: the old name stays for the suites that use it.
DebianKernel = rig.Kernel


def fetch_debian_kernel(dist="trixie", flavour="cloud"):
    """Another Debian release's kernel (cached by version under rig.CACHE)."""
    return rig.fetch_kernel(f"{dist}:{flavour}")


def build_modules(kernel, build=rig.BUILD):
    """kstuck.ko and the scenario modules for any kernel (its cached headers and
    kbuild-args). Returns (kstuck_ko, [scenario .ko])."""
    return rig.build_kstuck_ko(kernel, build), rig.build_scenarios(kernel, build)


def _debian_userland(kernel):
    """(loader, library path) of the kernel's own Debian userland, or None for the host's."""
    u = kernel.cache / "userland"
    if not (u / "ld.so.path").exists():
        return None
    return Path((u / "ld.so.path").read_text().strip()), (u / "library.path").read_text().strip()


def _foreign_closure(loader, libpath, binary):
    """Libraries of a binary linked against another Debian release, resolved by that
    release's own loader (the host's ldd would refuse its newer glibc)."""
    out = rig.run([str(loader), "--library-path", libpath, "--list", str(binary)], what="ld.so --list")
    libs = []
    for line in out.splitlines():
        m = re.search(r"=> (/\S+)", line)
        if m:
            libs.append(Path(m.group(1)))
        elif "not found" in line:
            raise RigError(f"{binary}: {line.strip()}")
    return libs


def build_capture_initramfs(out, kernel):
    """The capture kernel's initramfs: busybox, capture-init as /init, the virtio
    modules the kernel has as modules, and makedumpfile with its libraries (Debian 12's
    for 6.1; the kernel's own Debian release's, e.g. 1.7.6 for 6.12)."""
    mods = [m for m in CAPTURE_MODULES if (kernel.cache / "modules" / f"{m}.ko").exists()]
    files = {"/init": rig.ROOT / "tests" / "vm" / "guest" / "capture-init"}
    binaries = []
    foreign = _debian_userland(kernel)
    if foreign:
        loader, libpath = foreign
        mdf = kernel.cache / "userland" / "usr" / "bin" / "makedumpfile"
        files["/bin/makedumpfile"] = mdf
        # The guest has no other glibc: the foreign one goes to the standard paths.
        files["/lib64/ld-linux-x86-64.so.2"] = loader
        for lib in _foreign_closure(loader, libpath, mdf):
            files[f"/lib/x86_64-linux-gnu/{lib.name}"] = lib
    else:
        binaries.append(Path(shutil.which("makedumpfile") or "/usr/bin/makedumpfile"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    modlist = out.with_suffix(".modules")
    modlist.write_text(" ".join(mods) + "\n")
    files["/lib/kstuck/capture-modules"] = modlist
    return rig.build_initramfs(out, kernel, binaries=binaries, files=files, extra_guest_modules=mods)


def build_kdump_initramfs(out, kernel, modules, binaries, capture_initramfs):
    """The first kernel's initramfs: the rig's usual one plus Debian's kexec (with its
    libxen libraries), the capture kernel's bzImage and its initramfs under /boot."""
    kexec = Path(shutil.which("kexec") or "/usr/sbin/kexec")
    return rig.build_initramfs(out, kernel, modules=modules, binaries=[*binaries, kexec],
                               files={"/boot/bzImage": kernel.bzimage, "/boot/capture.cpio": capture_initramfs})


def makedumpfile_command(kernel=None):
    """The host's makedumpfile (Debian 12's 1.7.2: zlib, lzo), or the one of a kernel
    fetched with its own Debian userland (Debian 13's 1.7.6 also writes zstd)."""
    foreign = _debian_userland(kernel) if kernel is not None else None
    if foreign:
        loader, libpath = foreign
        return [str(loader), "--library-path", libpath, str(kernel.cache / "userland" / "usr" / "bin" / "makedumpfile")]
    return [shutil.which("makedumpfile") or "/usr/sbin/makedumpfile"]


def recompress(elf_dump, out, option, tool):
    """Rewrites a captured ELF vmcore as a kdump-compressed one (makedumpfile OPTION
    -d 31): the compressions the guest's own capture does not write."""
    out = Path(out)
    out.unlink(missing_ok=True)
    rig.run([*tool, option, "-d", "31", str(elf_dump), str(out)], what=f"makedumpfile {option}", timeout=300)
    return out


@dataclass
class KdumpArtifacts:
    """Everything a kdump cycle needs for one kernel (see prepare())."""
    kernel: rig.Kernel
    kstuck_ko: Path
    scenarios: list
    initramfs: Path
    capture_initramfs: Path


def prepare(kernel, build, binaries=()):
    """Builds modules, the capture initramfs and the kdump-capable initramfs for a
    kernel, under build/kdump/<kver>/. binaries (e.g. the kstuck CLI, guest tools) go
    into the first kernel's /bin with their libraries."""
    out = Path(build) / "kdump" / kernel.kver
    out.mkdir(parents=True, exist_ok=True)
    ko, scen = build_modules(kernel, build)
    capture = build_capture_initramfs(out / "capture.cpio", kernel)
    initramfs = build_kdump_initramfs(out / "initramfs.cpio", kernel, [ko, *scen], list(binaries), capture)
    return KdumpArtifacts(kernel, ko, scen, initramfs, capture)


def make_disk(path, size_mb=1536):
    """A sparse ext4 image for the capture kernel (mkfs on a file, no mount)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
    rig.run(["mkfs.ext4", "-q", "-F", "-L", "kdump", "-E", "lazy_itable_init=0,lazy_journal_init=0", str(path)],
            what="mkfs.ext4")
    return path


def extract(disk, name, dest):
    """Copies one file out of the ext4 image with debugfs; None when it is not there."""
    dest = Path(dest)
    dest.unlink(missing_ok=True)
    subprocess.run(["debugfs", "-R", f"dump -p /{name} {dest}", str(disk)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)
    return dest if dest.exists() and dest.stat().st_size > 0 else None


@dataclass
class KdumpResult:
    """What one kdump cycle produced. dumps maps a FORMATS key (and "qemu" when a QEMU
    dump was taken) to its host path; missing formats are absent."""
    kver: str
    dumps: dict
    console: str
    truth: dict
    tests: list                       # KSTUCK-TEST lines of the first kernel (rig.TestResult)
    capture: dict = field(default_factory=dict)   # format -> "rc=0 bytes=N secs=S" from the capture kernel
    seconds: dict = field(default_factory=dict)   # phase -> host seconds


def kdump_cycle(art, workdir, panic="sysrq", scenarios=7, qemu_dump=True, formats=("kdump", "flat"),
                nmi=False, suite="kdump", timeout=420, module="kstuck_scenario", append_extra=""):
    """Runs one kdump cycle on art.kernel and returns a KdumpResult.

    panic: "sysrq" (echo c > /proc/sysrq-trigger with the whole scenario live) or
    "hung" (hung_task_panic=1, 5 s timeout; the mutex waiter trips it).
    scenarios: kstuck_scenario's bit mask (1 mutex, 2 irqoff spinner, 4 xcall).
    module: the scenario module (kstuck_scenario, kstuck_scenario_abba, kstuck_scenario_mixed).
    append_extra: more first-kernel command line (e.g. crash_kexec_post_notifiers).
    qemu_dump: also take a QMP kdump-zlib dump of the same live state just before the panic.
    formats: which of FORMATS the capture kernel writes (elf is ~1 write of the used RAM).
    nmi: inject an external NMI first, so kstuck.ko's NMI snapshot is in every dump.
    """
    workdir = Path(workdir)
    t0 = time.monotonic()
    seconds = {}
    disk = make_disk(workdir.parent / f"{workdir.name}-disk.img")
    append = (f"crashkernel=256M kstuck.panic={panic} kstuck.scenarios={scenarios} kstuck.nmi={int(bool(nmi))} "
              f"kstuck.qemu_dump={int(bool(qemu_dump))} kstuck.formats={','.join(formats)} kstuck.module={module}")
    if panic == "hung":
        append += " hung_task_panic=1"
    if append_extra:
        append += " " + append_extra
    dumps = {}
    def guest():
        return rig.Guest(art.kernel, art.initramfs, workdir, suite, append=append,
                         drives=[f"file={disk},format=raw,if=virtio,cache=unsafe"])
    with rig.booted(guest) as g:
        seconds["boot"] = round(time.monotonic() - t0, 1)
        if g.boot_retry:
            seconds["boot_retry"] = g.boot_retry
        deadline = time.monotonic() + timeout
        if nmi:
            words = g.next_request(240)
            if words[:1] == ["nmi"]:
                g.inject_nmi()
                g.reply("ok")
            else:
                g.reply("unexpected")
        if qemu_dump:
            words = g.next_request(240)
            if words[:1] == ["dump"]:
                t = time.monotonic()
                dumps["qemu"] = g.dump(workdir / "vmcore.qemu")
                seconds["qemu_dump"] = round(time.monotonic() - t, 1)
                g.reply("ok")
            else:
                g.reply("unexpected")
        # Wait for the capture kernel itself: the first kernel's last console lines can
        # be lost when the panic stops its UART mid-transmission.
        t = time.monotonic()
        g.wait_for(r"^KSTUCK-CAPTURE: start", max(10, deadline - time.monotonic()), user=True)
        seconds["to_capture"] = round(time.monotonic() - t, 1)
        g.wait_for(r"^KSTUCK-CAPTURE: done", max(10, deadline - time.monotonic()), user=True)
        g.wait_exit(60)
        console = g.text()
        tests = g.results()
        truth = g.truth()
    t = time.monotonic()
    for fmt in formats:
        p = extract(disk, FORMATS[fmt], workdir / FORMATS[fmt])
        if p:
            dumps[fmt] = p
    disk.unlink(missing_ok=True)
    seconds["extract"] = round(time.monotonic() - t, 1)
    seconds["total"] = round(time.monotonic() - t0, 1)
    capture = {m.group(1): m.group(2).strip()
               for m in re.finditer(r"^KSTUCK-CAPTURE: format (\S+) (.*)$", rig.deinterleave(console), re.M)}
    return KdumpResult(art.kernel.kver, dumps, console, truth, tests, capture, seconds)
