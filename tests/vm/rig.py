# SPDX-License-Identifier: GPL-2.0
"""The QEMU guest rig: fetch the Debian kernel, build kstuck.ko and the scenario
modules against it, pack an initramfs, boot it under TCG, talk to it (serial console
line protocol + a control serial port + QMP) and take vmcores of it.

Every wait is bounded; a guest that hangs is killed by its PID and reported with the
tail of its console.
"""
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("KSTUCK_BUILD", ROOT / "build"))
# Downloads are shared by every build folder and every clone (CI starts from a fresh
# clone): they only depend on the kernel version. scripts/fetch-kernel* use the same.
CACHE = Path(os.environ.get("KSTUCK_CACHE") or
             Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kstuck")


# Where a CPU waits for its smp_call_function_single(wait=1): 7.x's
# smp_call_function_single tail-calls __smp_call_function_single, which waits.
XCALL_WAIT_FUNCTIONS = ("smp_call_function_single", "__smp_call_function_single")


def in_xcall_wait(functions):
    """Whether a stack (function names) waits in smp_call_function_single, any version."""
    return any(f in XCALL_WAIT_FUNCTIONS for f in functions)


class RigError(Exception):
    """A one-line reason the rig could not do its job."""


def run(cmd, cwd=None, env=None, timeout=900, what=None):
    """Runs a command; on failure raises RigError with the last lines of its output."""
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    except subprocess.TimeoutExpired:
        raise RigError(f"{what or cmd[0]}: timed out after {timeout}s")
    if p.returncode != 0:
        tail = " | ".join(p.stdout.strip().splitlines()[-6:])
        raise RigError(f"{what or cmd[0]} failed (exit {p.returncode}): {tail}")
    return p.stdout


@dataclass
class Kernel:
    kver: str
    cache: Path

    @property
    def bzimage(self):
        return self.cache / "bzImage"

    @property
    def vmlinux(self):
        return self.cache / "vmlinux"

    @property
    def headers(self):
        """The M= build's KDIR: Debian's headers unpacked under the cache by
        scripts/fetch-kernel (never installed on the host)."""
        return self.cache / "headers" / "src" / f"linux-headers-{self.kver}"

    @property
    def kbuild_args(self):
        """Extra make arguments for M= builds against this kernel (scripts/fetch-kernel's
        kbuild-args: the compiler, features the host's gcc-12 lacks switched off)."""
        f = self.cache / "kbuild-args"
        return f.read_text().split() if f.exists() else []

    def module(self, name):
        for suffix in (".ko", ".ko.xz"):
            p = self.cache / "modules" / (name + suffix)
            if p.exists():
                return p
        raise RigError(f"guest module {name} missing from {self.cache}/modules")


# The suites and flavours scripts/fetch-kernel knows; "bookworm:cloud" is the default kernel.
SUITES = ("bullseye", "bookworm", "bookworm-backports", "trixie", "trixie-backports", "sid")
FLAVOURS = ("cloud", "rt")
DEFAULT_KERNEL = "bookworm:cloud"


def parse_kernel_spec(spec):
    """'SUITE[:FLAVOUR]' -> (suite, flavour); raises RigError naming what is unknown."""
    suite, _, flavour = spec.partition(":")
    flavour = flavour or "cloud"
    if suite not in SUITES or flavour not in FLAVOURS:
        raise RigError(f"unknown kernel '{spec}' (SUITE:FLAVOUR, SUITE in {' '.join(SUITES)}, "
                       f"FLAVOUR in {' '.join(FLAVOURS)})")
    return suite, flavour


def fetch_kernel(spec=DEFAULT_KERNEL):
    """A Debian kernel 'SUITE[:FLAVOUR]' (default bookworm's cloud kernel), fetched (or
    re-used from the cache) by scripts/fetch-kernel."""
    suite, flavour = parse_kernel_spec(spec)
    env = dict(os.environ, KSTUCK_CACHE=str(CACHE))
    out = run([str(ROOT / "scripts" / "fetch-kernel"), suite, flavour], env=env, what="fetch-kernel",
              timeout=3600)
    cache = Path(out.strip().splitlines()[-1])
    return Kernel((cache / "kver").read_text().strip(), cache)


def build_kmod(kernel, src_dir, out_dir, extra_args=()):
    """Builds the modules of a Kbuild tree in a private copy (so parallel builds of
    the same sources never share object files). Returns the out dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Copy only sources; keep objects from the last build for an incremental make.
    run(["cp", "-a", "--no-preserve=ownership", "-u", "-t", str(out_dir)] +
        [str(p) for p in Path(src_dir).iterdir()
         if p.name in ("Kbuild", "kmod", "nmi_dump") or p.suffix in (".c", ".h") or p.name == "Kbuild"],
        what="copy module sources")
    run(["make", "-C", str(kernel.headers), f"M={out_dir}", "W=1", "modules", *kernel.kbuild_args, *extra_args],
        what=f"module build in {out_dir}", timeout=600)
    return out_dir


def build_kstuck_ko(kernel, build=BUILD):
    return build_kmod(kernel, ROOT, Path(build) / "kmod" / kernel.kver) / "kstuck.ko"


def build_scenarios(kernel, build=BUILD):
    d = build_kmod(kernel, ROOT / "tests" / "vm" / "scenarios", Path(build) / "scenarios" / kernel.kver)
    return sorted(d.glob("*.ko"))


def build_userspace(build=BUILD):
    """The release build of the kstuck CLI that runs inside the guest."""
    bdir = Path(build) / "release"
    if not (bdir / "build.ninja").exists():
        run(["cmake", "-S", str(ROOT), "-B", str(bdir), "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DKSTUCK_WERROR=ON"],
            what="cmake (release)")
    run(["ninja", "-C", str(bdir), "kstuck"], what="ninja (release kstuck)", timeout=1800)
    return bdir / "cli" / "kstuck"


def build_guest_tools(build=BUILD):
    """Static C helpers of tests/vm/guest/*.c (ioctl probes and the like)."""
    out = Path(build) / "guest-tools"
    out.mkdir(parents=True, exist_ok=True)
    tools = []
    for src in sorted((ROOT / "tests" / "vm" / "guest").glob("*.c")):
        exe = out / src.stem
        newest = max(p.stat().st_mtime for p in [src, *(ROOT / "tests" / "vm" / "guest").glob("*.h")])
        if not exe.exists() or exe.stat().st_mtime < newest:
            run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{ROOT}", "-o", str(exe), str(src),
                 "-lpthread"], what=f"gcc {src.name}")
        tools.append(exe)
    return tools


def _library_closure(binary):
    """The shared libraries a dynamic binary loads, by path (from ldd)."""
    out = subprocess.run(["ldd", str(binary)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+)", line)
        if m and Path(m.group(1)).exists():
            libs.append(Path(m.group(1)))
    return libs


def build_initramfs(out, kernel, modules=(), binaries=(), files=None, extra_guest_modules=()):
    """Packs busybox, /init, tests/vm/guest/*.sh, modules (into /lib/kstuck/) and
    binaries (into /bin, with their shared libraries) into a newc cpio."""
    out = Path(out)
    stage = out.with_suffix(".d")
    shutil.rmtree(stage, ignore_errors=True)
    for d in ("bin", "sbin", "usr/bin", "proc", "sys", "dev", "tmp", "lib/kstuck", "tests", "etc", "root", "mnt"):
        (stage / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2("/bin/busybox", stage / "bin" / "busybox")
    shutil.copy2(ROOT / "tests" / "vm" / "guest" / "init", stage / "init")
    (stage / "init").chmod(0o755)
    for sh in (ROOT / "tests" / "vm" / "guest").glob("*.sh"):
        shutil.copy2(sh, stage / "tests" / sh.name)
    (stage / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    (stage / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    for name in ("qemu_fw_cfg", *extra_guest_modules):
        shutil.copy2(kernel.module(name), stage / "lib" / "kstuck")
    for m in modules:
        shutil.copy2(m, stage / "lib" / "kstuck" / Path(m).name)
    for b in binaries:
        b = Path(b)
        shutil.copy2(b, stage / "bin" / b.name)
        for lib in _library_closure(b):
            dest = stage / str(lib).lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                shutil.copy2(lib, dest)
    for guest_path, host_path in (files or {}).items():
        dest = stage / guest_path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(host_path, dest)
    names = subprocess.run(["find", "."], cwd=stage, stdout=subprocess.PIPE, text=True, check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=stage, input=names.encode(), stdout=f,
                       check=True)
    return out


class QmpClient:
    """A minimal QMP client: one command at a time, events skipped."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RigError(f"QMP socket {path} did not come up in {timeout}s")
                time.sleep(0.1)
        self.buf = b""
        self._read_message(timeout)  # greeting
        self.execute("qmp_capabilities")

    def _read_message(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RigError("QMP: no answer in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise RigError("QMP: no answer in time")
            if not chunk:
                raise RigError("QMP: connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, command, timeout=60, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(max(0.1, deadline - time.monotonic()))
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RigError(f"QMP {command}: {reply['error'].get('desc')}")

    def close(self):
        self.sock.close()


# A kernel console line ("[    3.691441] ...\n") that the UART emitted in the middle of a
# line user space was writing: "KSTUCK-TEST: sce[    3.69] KSTUCK-TRUTH: ...\nnario-insmod PASS".
_KERNEL_LINE_INSIDE = re.compile(r"(?<=[^\s|])\[\s*\d+\.\d+\] [^\n]*\n")


def deinterleave(text, rounds=20):
    """Takes kernel console lines out of the user lines they split (bounded rounds: each
    round removes the innermost layer)."""
    for _ in range(rounds):
        joined = _KERNEL_LINE_INSIDE.sub("", text)
        if joined == text:
            break
        text = joined
    return text


_KERNEL_LINE = re.compile(r"\[\s*\d+\.\d+\] [^\n]*\n")


def printed_block(user_text, begin, end):
    """The lines a guest script printed between the lines begin and end (JSON, base64),
    read from user_text (Guest.user_text()), or None. Every kernel line inside is taken
    out: whole ones and those the UART emitted in the middle of the block's lines (a
    kernel record is never cut itself); such blocks never hold "[ 1.2] " themselves,
    unlike test details that quote the kernel log."""
    m = re.search(rf"^{re.escape(begin)}\n(.*?)^{re.escape(end)}$", user_text, re.M | re.S)
    return _KERNEL_LINE.sub("", m.group(1)) if m else None


# The console check (issue 14): kernel complaints that fail any suite whose guest printed
# them, unless the suite causes them on purpose. Each line is put in at most one class.
CONSOLE_CLASSES = (
    # kstuck.ko's own NMI handlers never wait for other CPUs (issue 14): one that ran
    # 250 ms or more fails the suites in NMI_TIMING_STRICT. Shorter ones, and any in the
    # other suites, are a TCG vCPU thread left unscheduled by a loaded host: 2.6-176 ms
    # and once 2547 ms (the guest's other CPUs went on meanwhile) were measured with
    # nothing to wait for, on a 2-core host at load 23. The same holds for the scenario
    # modules' handlers below 1 s (kstuck_scenario_safety's unarmed check: 2.2 ms at load 2),
    # and for the kernel's own backtrace handler, which every NMI reaches first and which
    # only tests a cpumask when no backtrace was asked for (4.2 ms in the trace suite's
    # host NMI, CI at load 2).
    ("took-too-long-kstuck", re.compile(r"NMI handler \(\S+ \[kstuck\]\) took too long to run: "
                                        r"(?:[2-9]\d\d|\d{4,})\.")),
    ("took-too-long-tcg", re.compile(r"NMI handler \(\S+ \[kstuck\]\) took too long to run|"
                                     r"NMI handler \(\S+ \[kstuck_scenario\w*\]\) took too long to run: \d{1,3}\.|"
                                     r"NMI handler \(nmi_cpu_backtrace_handler\) took too long to run: \d{1,3}\.")),
    # The kernel printing an RCU stall's or sysrq-l's NMI backtraces to a TCG console.
    ("took-too-long-backtrace", re.compile(r"NMI handler \(nmi_cpu_backtrace_handler\) took too long")),
    ("took-too-long", re.compile(r"NMI handler \(.*\) took too long to run")),
    ("soft-lockup", re.compile(r"BUG: soft lockup|watchdog: BUG: soft lockup")),
    ("hard-lockup", re.compile(r"[Hh]ard LOCKUP")),
    ("rcu-stall", re.compile(r"rcu: INFO: .*detected stalls|rcu_.* self-detected stall|detected stalls on CPUs")),
    ("hung-task", re.compile(r"INFO: task .* blocked for more than \d+ seconds")),
    # The mixed-cycle scenario calls smp_call_function_single() with IRQs off on purpose.
    # Up to 7.1: "WARNING: CPU: 2 PID: 146 at kernel/smp.c:716 smp_call_function_single+...";
    # 7.2 puts the file first: "WARNING: kernel/smp.c:716 at __smp_call_function_single+...".
    ("warning-xcall-irqs-off", re.compile(r"WARNING: (?:.* at )?kernel/smp\.c:\d+ (?:at )?(__)?smp_call_function_single")),
    ("warning", re.compile(r"WARNING:")),
    ("bug", re.compile(r"BUG:")),
    ("oops", re.compile(r"Oops|general protection fault")),
    # %px (and %lx of a pointer) in kstuck.ko's own lines: 16 hex digits of a kernel address.
    ("kernel-address", re.compile(r"\bkstuck: .*\b(?:0x)?ffff[0-9a-f]{12}\b")),
)

# What a guest script causes on purpose, by script name (fnmatch pattern): the wedge
# scenarios hold CPUs for minutes (soft lockups, RCU stalls, blocked tasks), and the
# nmi suites' sysrq-l bench and wedges make the kernel's own NMI handlers run long.
_WEDGED = {"soft-lockup", "rcu-stall", "hung-task", "took-too-long-backtrace", "warning-xcall-irqs-off"}
CONSOLE_ALLOW = {
    "*": {"took-too-long-tcg"},
    "hang_*": _WEDGED, "nmi": _WEDGED, "nmi_panic": _WEDGED, "nmi_bench": _WEDGED, "kmod_nmi": _WEDGED,
    "kdump": _WEDGED, "witness_kdump": _WEDGED, "analyze*": _WEDGED, "crashext": _WEDGED, "demo": _WEDGED,
    "foundation": _WEDGED, "target": _WEDGED,
    "kmod_safety_kdump": {"took-too-long"},  # kstuck_scenario_safety's NMI block (8 s in an NMI)
}


CAPTURE_KERNEL_ALLOW = {"soft-lockup", "rcu-stall", "hung-task"}
# The guest scripts whose kstuck NMI handler durations are checked (see CONSOLE_CLASSES).
NMI_TIMING_STRICT = ("kmod_safety", "kmod_safety_kdump")


def console_findings(text, script, extra_allow=()):
    """[(class, line)] of the console lines that fail the guest script, allowances applied."""
    import fnmatch
    allow = set(extra_allow)
    if script not in NMI_TIMING_STRICT:
        allow.add("took-too-long-kstuck")
    for pattern, classes in CONSOLE_ALLOW.items():
        if fnmatch.fnmatch(script, pattern):
            allow |= classes
    found = []
    kernels = 0
    for line in text.splitlines():
        # A kdump capture kernel (kexec'd after a panic) booting on a busy TCG host can be
        # slow enough for lockup and stall reports: those are the host's, not kstuck's.
        if "Linux version " in line:
            kernels += 1
        for cls, rx in CONSOLE_CLASSES:
            if rx.search(line):
                if cls not in allow and not (kernels > 1 and cls in CAPTURE_KERNEL_ALLOW):
                    found.append((cls, line.strip()))
                break
    return found


# Findings of every guest that ended since the last take_console_findings(): tests/vm/run.py
# turns them into a failed "console-clean" check of the suite that booted the guest.
_CONSOLE_FINDINGS = []


def take_console_findings():
    out = list(_CONSOLE_FINDINGS)
    _CONSOLE_FINDINGS.clear()
    return out


# A kernel that dies in its own boot, before the guest's init said KSTUCK-BOOTED and
# before any kstuck or scenario module was loaded. Seen once in CI: 7.2 under
# multi-threaded TCG took an "Oops: int3" in sched_clock_cpu right after "sched_clock:
# Marking stable" patched a static key (the stale-int3 class of Guest.accel). One whole
# tests/run here lost three of its ~20 matrix boots this way (7.2 once, 7.3's foundation
# boot twice in a row: int3 in enqueue_timer, then in enqueue_task_fair), hence three boots.
BOOT_ATTEMPTS = 3
_BOOT_DEATH = re.compile(r"^.*(?:Oops: |Kernel panic - not syncing|BUG: ).*$", re.M)
# QEMU itself killed by a signal in the same window: seen once in CI, QEMU 7.2's TCG took
# SIGSEGV while 5.10 enumerated PCI, long before anything of kstuck ran in the guest.


def _boot_death(g):
    """Why a guest that never said KSTUCK-BOOTED died on its own, or None when it is
    not a death the rig may boot again (alive, timed out, or a kstuck module in it)."""
    if g.alive() or "KSTUCK-" in g.user_text() or re.search(r"Modules linked in:.*\bkstuck", g.text()):
        return None
    if g.proc.returncode < 0:
        return f"QEMU killed by signal {-g.proc.returncode}{g.qemu_last_words()}"
    death = _BOOT_DEATH.search(g.text())
    return death.group(0).strip() if death else None


@contextlib.contextmanager
def booted(make_guest, timeout=120):
    """Enters make_guest() and waits for its KSTUCK-BOOTED line. A guest whose kernel
    died in its own boot is booted again, up to BOOT_ATTEMPTS boots in all: each dead
    boot's console is kept beside the workdir (NAME-bootN-console.log), its findings are
    left out of console-clean, and the returned guest's boot_retry says what happened
    (None when the first boot came up). The last boot's death is reported as it is."""
    notes = []
    for attempt in range(1, BOOT_ATTEMPTS + 1):
        g = make_guest()
        g.__enter__()
        try:
            g.wait_for(r"^KSTUCK-BOOTED:", timeout, user=True)
        except RigError:
            death = _boot_death(g) if attempt < BOOT_ATTEMPTS else None
            if death:
                kept = g.workdir.with_name(f"{g.workdir.name}-boot{attempt}-console.log")
                shutil.copyfile(g.console, kept)
                g.console_checked = True  # a dead boot is reported here, not as a finding
                g.kill()
                notes.append(f"boot {attempt} died before KSTUCK-BOOTED ({death}; {kept.name})")
                print(f"vm: {g.suite}: {notes[-1]}; booting again", flush=True)
                continue
            g.kill()
            raise
        g.boot_retry = "; ".join(notes) or None
        try:
            yield g
        finally:
            g.kill()
        return


@dataclass
class TestResult:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Guest:
    """A running QEMU guest. Use as a context manager: it is always killed on exit."""
    kernel: Kernel
    initramfs: Path
    workdir: Path
    suite: str
    smp: int = 4
    memory_mb: int = 1024
    append: str = ""
    drives: list = field(default_factory=list)
    isolcpus: str = "2,3"  # "" isolates none
    # "tcg,thread=single" for suites that patch kernel text in loops: QEMU 7.2's
    # multi-threaded TCG was seen executing stale int3s after text_poke (trace suite).
    accel: str = "tcg"
    # Console classes (CONSOLE_CLASSES) this boot causes on purpose, beyond CONSOLE_ALLOW.
    console_allow: tuple = ()

    def __enter__(self):
        self.workdir = Path(self.workdir)
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        self.console = self.workdir / "console.log"
        self.qmp_path = self.workdir / "qmp.sock"
        self.ctl_path = self.workdir / "ctl.sock"
        # Device interrupts stay off the CPUs scenarios wedge: on PREEMPT_RT their handlers
        # are threads, and one woken on a CPU spinning with preemption off (the xcall
        # waiter) never runs (6.12 rt never read the control port's reply to "dump").
        isolated = {int(c) for c in self.isolcpus.split(",") if c.strip().isdigit()}
        housekeeping = ",".join(str(c) for c in range(self.smp) if c not in isolated)
        irqaffinity = f"irqaffinity={housekeeping} " if isolated and housekeeping else ""
        # no_timer_check: on a loaded host TCG can miss the boot's IO-APIC timer check
        # window, and the kernel panics "IO-APIC + timer doesn't work" at 0.05 s (seen
        # with 7 sessions on 2 cores); virtual machines skip that check.
        isolcpus = f"isolcpus={self.isolcpus} " if isolated else ""
        cmdline = (f"console=ttyS0 rdinit=/init panic=-1 no_timer_check {isolcpus}{irqaffinity}"
                   f"kstuck.suite={self.suite} {self.append}").strip()
        cmd = ["qemu-system-x86_64", "-machine", "q35", "-accel", self.accel, "-smp", str(self.smp),
               "-m", str(self.memory_mb), "-kernel", str(self.kernel.bzimage), "-initrd", str(self.initramfs),
               "-append", cmdline, "-display", "none", "-monitor", "none", "-no-reboot",
               "-serial", f"file:{self.console}",
               "-chardev", f"socket,id=ctl,path={self.ctl_path},server=on,wait=off", "-serial", "chardev:ctl",
               "-device", "vmcoreinfo", "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        for d in self.drives:
            cmd += ["-drive", d]
        self.qemu_log = open(self.workdir / "qemu.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.qemu_log, stderr=subprocess.STDOUT)
        self.started = time.monotonic()
        self.qmp = None
        self.ctl = None
        self.request_pos = 0
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def kill(self):
        if not getattr(self, "console_checked", False):
            self.console_checked = True
            for cls, line in console_findings(self.text(), self.suite, self.console_allow):
                _CONSOLE_FINDINGS.append((self.suite, cls, line))
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        if self.ctl:
            self.ctl.close()
            self.ctl = None
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.qemu_log.close()

    def alive(self):
        return self.proc.poll() is None

    def qemu_last_words(self):
        """'; qemu: LAST LINE' of QEMU's own output, or nothing."""
        qemu = (self.workdir / "qemu.log").read_text(errors="replace").strip()
        return f"; qemu: {qemu.splitlines()[-1]}" if qemu else ""

    def text(self):
        try:
            return self.console.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines=25):
        return "\n".join(self.text().splitlines()[-lines:])

    def user_text(self):
        """The console with the kernel lines cut into user space's lines taken out: for
        reading what the guest's scripts printed."""
        return deinterleave(self.text())

    def wait_for(self, pattern, timeout, start=0, user=False):
        """Waits until the console (from offset start) matches pattern; returns the match.
        user=True matches the script's lines in user_text(). Raises RigError with the
        console tail when the guest dies or time runs out."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.user_text() if user else self.text(), start)
            if m:
                return m
            if not self.alive():
                raise RigError(f"guest exited (status {self.proc.returncode}) before /{pattern}/"
                               f"{self.qemu_last_words()}; console tail:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RigError(f"guest did not print /{pattern}/ within {timeout}s; console tail:\n{self.tail()}")
            time.sleep(0.2)

    def connect_qmp(self):
        if not self.qmp:
            self.qmp = QmpClient(self.qmp_path)
        return self.qmp

    def connect_ctl(self):
        """Connects the control serial port; done before the guest's request is awaited,
        since a connection made right before the reply once lost the reply's first byte."""
        deadline = time.monotonic() + 30
        while not self.ctl:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(self.ctl_path))
                self.ctl = sock
            except OSError:
                # QEMU creates the socket a moment after it starts.
                sock.close()
                if not self.alive():
                    raise RigError(f"guest exited (status {self.proc.returncode}) before its control socket "
                                   f"came up{self.qemu_last_words()}; console tail:\n{self.tail()}")
                if time.monotonic() > deadline:
                    raise RigError(f"control socket {self.ctl_path} did not come up; console tail:\n{self.tail()}")
                time.sleep(0.1)
        return self.ctl

    def reply(self, line):
        """Answers the guest's pending request() on the control serial port."""
        self.connect_ctl().sendall(line.encode() + b"\n")

    def next_request(self, timeout):
        """Waits for the guest's next request; returns its words. The guest writes it to
        /dev/kmsg: a kernel record reaches the console whole (a user line can be cut by
        kernel messages there, an RCU stall report say), and the console needs no
        interrupts, which the wedged CPUs may be the ones to take (the control port's
        transmit does)."""
        self.connect_ctl()
        m = self.wait_for(r"KSTUCK-REQUEST: (.*)$", timeout, self.request_pos)
        self.request_pos = m.end()
        return m.group(1).strip().split()

    def dump(self, path, fmt="kdump-zlib", timeout=300):
        """Takes a vmcore of the running guest with QMP dump-guest-memory."""
        path = Path(path)
        path.unlink(missing_ok=True)
        self.connect_qmp().execute("dump-guest-memory", timeout=timeout, paging=False,
                                   protocol=f"file:{path}", format=fmt)
        if not path.exists() or path.stat().st_size == 0:
            raise RigError(f"dump-guest-memory wrote nothing to {path}")
        return path

    def serve_until_dump(self, dump_path, timeout=240, limit=4):
        """Serves the guest's requests: "nmi" (QMP inject-nmi) until it asks for "dump",
        which is taken to dump_path. Returns the dump's path, or None when the guest asked
        for something else."""
        for _ in range(limit):
            words = self.next_request(timeout)
            if words[:1] == ["nmi"]:
                self.inject_nmi()
                self.reply("ok")
            elif words[:1] == ["dump"]:
                path = self.dump(dump_path)
                self.reply("ok")
                return path
            else:
                self.reply("unexpected")
                return None
        return None

    def inject_nmi(self):
        self.connect_qmp().execute("inject-nmi")

    def wait_exit(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RigError(f"guest still running after {timeout}s; console tail:\n{self.tail()}")

    def results(self):
        """The KSTUCK-TEST lines the guest printed, in order."""
        out = []
        for m in re.finditer(r"KSTUCK-TEST: (\S+) (PASS|FAIL) ?(.*)$", self.user_text(), re.M):
            out.append(TestResult(m.group(1), m.group(2) == "PASS", m.group(3).strip()))
        return out

    def truth(self):
        """key=value pairs of the scenario's KSTUCK-TRUTH lines, role-prefixed:
        'mutex_owner pid=5' becomes {'mutex_owner.pid': '5'}."""
        facts = {}
        for m in re.finditer(r"KSTUCK-TRUTH: (\S+) (.*)$", self.text(), re.M):
            role = m.group(1)
            for kv in m.group(2).split():
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    facts[f"{role}.{k}"] = v
        return facts

    def console_problems(self):
        """Kernel complaints that fail any test: oops, BUG, WARN, soft lockup, panic."""
        rx = re.compile(r"(Oops|BUG:|WARNING:|soft lockup|Kernel panic|general protection|RIP: .*kstuck)")
        return [line for line in self.text().splitlines() if rx.search(line)]
