#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The damaged-dump suite: kstuck (the ASan+UBSan build) on hundreds of deterministic
variants of the real dumps the VM suites leave, each run with a timeout.

Every variant is one damage of one real dump (or one special input), run through
`kstuck hang --json` and `kstuck analyze --json`. A run passes when it
  - neither crashes (a signal, an ASan/UBSan report) nor hangs (the timeout),
  - fails with a message on stderr (exit 1), or
  - gives a report that is either equal to the undamaged dump's or says why not
    (exit 3 and a non-empty problems[]/warnings[], or partial: true).
A report that differs from the undamaged one with nothing saying why is a SILENT LOSS.

The variants (seeded by the dump's name and size: the same dump gives the same variants):
  truncate   the file cut at its structural boundaries (header, sub-header, bitmaps,
             descriptors, data) and at fractions of its page data
  bitflip    one bit flipped at a position in the first 64 KiB (headers, notes, VMCOREINFO,
             the page bitmaps)
  bitmap     one bit flipped in the bitmap of dumped pages (page frame -> descriptor)
  notes      a CPU register note's type, size, RIP or RSP made garbage; VMCOREINFO bytes
             made invalid or its KERNELOFFSET wrong
  desc       page descriptors of pages kstuck reads given garbage (size above the block size,
             offset past the end of the file, unknown flags, uncompressed with a wrong size)
  zlib       bytes inside the compressed data of pages kstuck reads overwritten
  zero       64 KiB runs of page data that kstuck reads zeroed
  special    empty file, directory, FIFO, /dev/zero, a vmlinux of another kernel (with and
             without --force), a truncated vmlinux, a FIFO as vmlinux

usage: tests/damaged/run.py --kstuck BUILD/asan/cli/kstuck [--dump VMCORE --vmlinux V]...
Prints one line per failing run, counts per class and "N passed, N failed".
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CACHE = Path(os.environ.get("KSTUCK_CACHE") or
             Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kstuck")
COMMANDS = (("hang", "--json"), ("analyze", "--json"))
PAGE_DESC = 24  # struct page_desc {u64 offset; u32 size; u32 flags; u64 page_flags}
NT_PRSTATUS = 1
PRSTATUS_REG = 112  # offsetof(struct elf_prstatus, pr_reg) on x86-64
REG_RIP, REG_RSP = 16, 19


# ---- the dump's structure -------------------------------------------------------------

def unflatten(src, dst):
    """makedumpfile's flattened stream (-F, QEMU's kdump) into the plain file."""
    with open(src, "rb") as f, open(dst, "wb") as out:
        head = f.read(4096)
        if not head.startswith(b"makedumpfile"):
            raise ValueError(f"{src}: not a flattened dump")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            off, size = struct.unpack(">qq", rec)
            if off < 0:
                break
            out.seek(off)
            out.write(f.read(size))


class Kdump:
    """A plain kdump-compressed file's layout (makedumpfile diskdump_mod.h, x86-64)."""

    def __init__(self, path):
        self.path = path
        self.size = path.stat().st_size
        with open(path, "rb") as f:
            h = f.read(4096)
            if h[:8] != b"KDUMP   ":
                raise ValueError(f"{path}: not a kdump-compressed dump")
            self.bs, self.sub_blocks, self.bitmap_blocks = struct.unpack_from("<iiI", h, 428)
            f.seek(self.bs)
            sub = f.read(104)
            self.vmcoreinfo = struct.unpack_from("<QQ", sub, 32)
            self.notes = struct.unpack_from("<QQ", sub, 48)
            self.bitmap_off = (1 + self.sub_blocks) * self.bs
            half = self.bitmap_blocks * self.bs // 2
            f.seek(self.bitmap_off + half)
            dumped = sum(bin(b).count("1") for b in f.read(half))
            self.desc_off = self.bitmap_off + self.bitmap_blocks * self.bs
            self.ndesc = dumped
            f.seek(self.desc_off)
            raw = f.read(dumped * PAGE_DESC)
            self.descs = [struct.unpack_from("<QIIQ", raw, i * PAGE_DESC) + (self.desc_off + i * PAGE_DESC,)
                          for i in range(len(raw) // PAGE_DESC)]
            self.data_off = min((d[0] for d in self.descs), default=self.size)
            f.seek(self.notes[0])
            self.note_bytes = f.read(self.notes[1])

    def prstatus_notes(self):
        """(file offset of the note header, file offset of its desc) of each NT_PRSTATUS."""
        out, pos, b = [], 0, self.note_bytes
        while pos + 12 <= len(b):
            namesz, descsz, ntype = struct.unpack_from("<III", b, pos)
            desc = pos + 12 + ((namesz + 3) & ~3)
            if ntype == NT_PRSTATUS and descsz >= PRSTATUS_REG + 27 * 8:
                out.append((self.notes[0] + pos, self.notes[0] + desc))
            pos = desc + ((descsz + 3) & ~3)
        return out


def read_pages(kstuck, dump, vmlinux, kd):
    """The page descriptors whose data kstuck reads (from an strace of pread64 on the
    undamaged dump): damage there is damage kstuck must notice."""
    with tempfile.NamedTemporaryFile(suffix=".strace") as log:
        subprocess.run(["strace", "-f", "-e", "trace=pread64", "-o", log.name, str(kstuck), "hang",
                        str(dump), "--vmlinux", str(vmlinux), "--json"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900,
                       env=sanitizer_env())
        ranges = []
        pat = re.compile(r"pread64\((\d+), .*, (\d+), (\d+)\) = (\d+)")
        for line in Path(log.name).read_text(errors="replace").splitlines():
            m = pat.search(line)
            if m:
                off, n = int(m.group(3)), int(m.group(4))
                if off >= kd.data_off and n > 0:
                    ranges.append((off, off + n))
    ranges.sort()
    hit = []
    j = 0
    for d in sorted(kd.descs, key=lambda d: d[0]):
        while j < len(ranges) and ranges[j][1] <= d[0]:
            j += 1
        if j < len(ranges) and ranges[j][0] < d[0] + d[1] and d[1] > 0:
            hit.append(d)
    # Shared zero pages: many descriptors point at one copy; keep one of each.
    seen, unique = set(), []
    for d in hit:
        if d[0] not in seen:
            seen.add(d[0])
            unique.append(d)
    return unique


# ---- variants ----------------------------------------------------------------------

class Variant:
    def __init__(self, cls, name, build=None, path=None, vmlinux=None, extra=()):
        self.cls, self.name = cls, name
        self.build = build      # (base path, out path) -> writes the damaged file
        self.path = path        # a fixed input instead of a built one
        self.vmlinux = vmlinux  # overrides the dump's vmlinux
        self.extra = tuple(extra)


def copy_with(patches, truncate=None):
    """A builder: the base file with byte patches [(offset, bytes)] applied, cut at truncate."""
    def build(base, out):
        with open(base, "rb") as src, open(out, "wb") as dst:
            if truncate is None:
                shutil.copyfileobj(src, dst, 1 << 22)
            else:
                left = truncate
                while left > 0:
                    chunk = src.read(min(left, 1 << 22))
                    if not chunk:
                        break
                    dst.write(chunk)
                    left -= len(chunk)
        if patches:
            with open(out, "r+b") as dst:
                size = os.fstat(dst.fileno()).st_size
                for off, data in patches:
                    if 0 <= off < size:
                        dst.seek(off)
                        dst.write(data[:size - off])
    return build


def flip(base_bytes_at, off, bit):
    return (off, bytes([base_bytes_at(off) ^ (1 << bit)]))


def dump_variants(label, kd, pages, rng):
    v = []
    base = kd.path
    with open(base, "rb") as f:
        head = f.read(1 << 16)

    def byte_at(off):
        return head[off] if off < len(head) else 0

    # Truncations at the structural boundaries and through the page data.
    cuts = {"header-64": 64, "header-464": 464, "header-block-1": kd.bs - 1, "subheader": kd.bs,
            "subheader-mid": kd.bs + 52, "bitmap1-start": kd.bitmap_off,
            "bitmap-mid": kd.bitmap_off + kd.bitmap_blocks * kd.bs // 2 + 8,
            "descs-start": kd.desc_off, "descs-one": kd.desc_off + PAGE_DESC + 5,
            "descs-mid": kd.desc_off + kd.ndesc * PAGE_DESC // 2,
            "descs-end": kd.desc_off + kd.ndesc * PAGE_DESC, "last-byte": kd.size - 1}
    if kd.notes[1]:
        cuts["notes-mid"] = kd.notes[0] + kd.notes[1] // 2
    for pct in (1, 5, 10, 25, 50, 75, 90, 99):
        cuts[f"data-{pct}pct"] = kd.data_off + (kd.size - kd.data_off) * pct // 100
    for name, at in sorted(cuts.items(), key=lambda x: x[1]):
        v.append(Variant("truncate", f"{label}/truncate-{name}@{at}", copy_with([], truncate=at)))

    # One bit flipped in the first 64 KiB: headers, sub-header, notes, VMCOREINFO, bitmaps.
    limit = min(len(head), kd.size)
    for i in range(40):
        off, bit = rng.randrange(limit), rng.randrange(8)
        v.append(Variant("bitflip", f"{label}/bitflip-{off:#x}.{bit}", copy_with([flip(byte_at, off, bit)])))

    # One bit flipped in the bitmap of dumped pages (its second half): every page from that
    # frame on would map to its neighbour's descriptor.
    bitmap2 = kd.bitmap_off + kd.bitmap_blocks * kd.bs // 2
    for i in range(12):
        off, bit = bitmap2 + rng.randrange(kd.bitmap_blocks * kd.bs // 2), rng.randrange(8)
        with open(base, "rb") as f:
            f.seek(off)
            b = f.read(1)[0]
        v.append(Variant("bitmap", f"{label}/bitmap-{off:#x}.{bit}", copy_with([(off, bytes([b ^ (1 << bit)]))])))

    # CPU register notes and VMCOREINFO.
    notes = kd.prstatus_notes()
    for k, (hdr, desc) in enumerate(notes[:3]):
        v.append(Variant("notes", f"{label}/note{k}-type", copy_with([(hdr + 8, struct.pack("<I", 0x4242))])))
        v.append(Variant("notes", f"{label}/note{k}-descsz", copy_with([(hdr + 4, struct.pack("<I", 0x7fff0000))])))
        v.append(Variant("notes", f"{label}/note{k}-rip", copy_with([(desc + PRSTATUS_REG + 8 * REG_RIP,
                                                                     struct.pack("<Q", 0x4141414141414141))])))
        v.append(Variant("notes", f"{label}/note{k}-rsp", copy_with([(desc + PRSTATUS_REG + 8 * REG_RSP,
                                                                     struct.pack("<Q", 0xffff888000000000 + 8 * k))])))
    vi_off, vi_size = kd.vmcoreinfo
    if vi_size:
        with open(base, "rb") as f:
            f.seek(vi_off)
            vi = f.read(vi_size)
        ko = vi.find(b"KERNELOFFSET=")
        if ko >= 0:
            v.append(Variant("notes", f"{label}/vmcoreinfo-kerneloffset",
                             copy_with([(vi_off + ko + len(b"KERNELOFFSET="), b"1")])))
        rel = vi.find(b"OSRELEASE=")
        if rel >= 0:
            v.append(Variant("notes", f"{label}/vmcoreinfo-utf8",
                             copy_with([(vi_off + rel + len(b"OSRELEASE="), b"\xff\xfe\x1b[2J")])))
        v.append(Variant("notes", f"{label}/vmcoreinfo-zeroed", copy_with([(vi_off, bytes(vi_size))])))
        v.append(Variant("notes", f"{label}/vmcoreinfo-offset", copy_with([(kd.bs + 32, struct.pack("<Q", kd.size + 4096))])))

    # Page descriptors of pages kstuck reads, given garbage.
    picks = rng.sample(pages, min(len(pages), 24)) if pages else []
    kinds = [("size-above-block", lambda d: struct.pack("<QII", d[0], kd.bs * 4, d[2] or 1)),
             ("size-huge", lambda d: struct.pack("<QII", d[0], 0xfffffff0, d[2] or 1)),
             ("offset-past-eof", lambda d: struct.pack("<QII", kd.size + 8192, d[1], d[2])),
             ("offset-huge", lambda d: struct.pack("<QII", 1 << 62, d[1], d[2])),
             ("flags-unknown", lambda d: struct.pack("<QII", d[0], d[1], 0x40)),
             ("uncompressed-wrong-size", lambda d: struct.pack("<QII", d[0], d[1] if d[1] != kd.bs else 100, 0))]
    for i, d in enumerate(picks):
        name, make = kinds[i % len(kinds)]
        v.append(Variant("desc", f"{label}/desc-{name}@{d[4]:#x}", copy_with([(d[4], make(d))])))

    # The compressed data of pages kstuck reads, overwritten.
    picks = rng.sample(pages, min(len(pages), 20)) if pages else []
    for d in picks:
        at = d[0] + rng.randrange(max(1, d[1]))
        n = max(1, min(16, d[0] + d[1] - at))
        v.append(Variant("zlib", f"{label}/zlib@{at:#x}+{n}", copy_with([(at, bytes(rng.randrange(256) for _ in range(n)))])))

    # 64 KiB of page data zeroed where kstuck reads.
    picks = rng.sample(pages, min(len(pages), 8)) if pages else []
    for d in picks:
        at = d[0] & ~0xfff
        v.append(Variant("zero", f"{label}/zero64k@{at:#x}", copy_with([(at, bytes(1 << 16))])))
    return v


def special_variants(work, vmlinux, dump, other_vmlinux):
    v = []
    empty = work / "empty.vmcore"
    empty.write_bytes(b"")
    v.append(Variant("special", "empty-file", path=empty))
    d = work / "a-directory"
    d.mkdir(exist_ok=True)
    v.append(Variant("special", "directory", path=d))
    fifo = work / "fifo.vmcore"
    if not fifo.exists():
        os.mkfifo(fifo)
    v.append(Variant("special", "fifo", path=fifo))
    v.append(Variant("special", "dev-zero", path=Path("/dev/zero")))
    v.append(Variant("special", "dev-null", path=Path("/dev/null")))
    v.append(Variant("special", "vmlinux-fifo", path=dump, vmlinux=fifo))
    v.append(Variant("special", "vmlinux-not-elf", path=dump, vmlinux=dump))
    for mb in (1, 64):
        cut = work / f"vmlinux-{mb}M"
        if not cut.exists():
            with open(vmlinux, "rb") as src, open(cut, "wb") as dst:
                dst.write(src.read(mb << 20))
        v.append(Variant("special", f"vmlinux-truncated-{mb}M", path=dump, vmlinux=cut))
        v.append(Variant("special", f"vmlinux-truncated-{mb}M-force", path=dump, vmlinux=cut, extra=("--force",)))
    if other_vmlinux:
        v.append(Variant("special", "vmlinux-wrong", path=dump, vmlinux=other_vmlinux))
        v.append(Variant("special", "vmlinux-wrong-force", path=dump, vmlinux=other_vmlinux, extra=("--force",)))
    return v


# ---- running and judging -------------------------------------------------------------

def sanitizer_env():
    env = dict(os.environ)
    # A distinct exit code and no recovery: a sanitizer report is never taken for exit 1.
    env["ASAN_OPTIONS"] = "exitcode=86:detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
    env["UBSAN_OPTIONS"] = "exitcode=87:halt_on_error=1:print_stacktrace=1"
    supp = Path(__file__).resolve().parents[1] / "lsan.supp"
    env["LSAN_OPTIONS"] = f"suppressions={supp}:exitcode=88"
    env.pop("TMPDIR", None)
    return env


def normalize(doc):
    """A report without what differs between two files of the same dump (its path)."""
    text = json.dumps(doc, sort_keys=True)
    # A flattened variant is compared with the plain undamaged file: the format differs.
    text = re.sub(r'"format": "[^"]*"', '"format": ""', text)
    return re.sub(r'"dump": "[^"]*"', '"dump": ""', text)


def says_why(cmd, doc, rc, base):
    """Whether the damaged report says it is not whole: exit 3, or something in
    warnings[]/problems[] (or partial: true) that the undamaged report did not have."""
    if rc == 3:
        return True
    key = "warnings" if cmd == "hang" else "problems"
    if set(map(str, doc.get(key) or [])) - set(map(str, base.get(key) or [])):
        return True
    return cmd == "hang" and doc.get("partial") is True and base.get("partial") is not True


def judge(cmd, rc, out, err, baseline, timed_out):
    """(outcome, detail): outcome in crash, hang, error, partial, same, silent, bad-exit."""
    if timed_out:
        return "hang", "timed out"
    if rc < 0 or rc in (86, 87, 88) or "AddressSanitizer" in err or "runtime error:" in err or \
            "LeakSanitizer" in err or "terminate called" in err:
        sig = f"signal {-rc}" if rc < 0 else f"exit {rc}"
        lines = [ln for ln in err.splitlines() if "ERROR" in ln or "runtime error" in ln or "terminate" in ln]
        return "crash", f"{sig}: {(lines or err.splitlines()[-1:] or [''])[0][:200]}"
    if rc == 1 or rc == 2:
        msg = err.strip()
        return ("error", msg.splitlines()[0][:160]) if msg else ("bad-exit", f"exit {rc} with nothing on stderr")
    if rc not in (0, 3):
        return "bad-exit", f"exit {rc}"
    try:
        doc = json.loads(out)
    except ValueError as e:
        return "bad-exit", f"exit {rc} but stdout is not JSON: {e}"
    if baseline is not None and normalize(doc) == baseline[0]:
        return "same", ""
    if says_why(cmd, doc, rc, baseline[1] if baseline else {}):
        return "partial", ""
    return "silent", f"exit {rc}, report differs from the undamaged dump's, nothing says why"


def run_one(kstuck, cmd, args, dump, vmlinux, extra, timeout):
    argv = [str(kstuck), cmd, str(dump), "--vmlinux", str(vmlinux), *args, *extra]
    t = time.monotonic()
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           env=sanitizer_env(), stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), False, \
            time.monotonic() - t
    except subprocess.TimeoutExpired:
        return -1, "", "", True, timeout


def find_inputs(explicit):
    if explicit:
        return explicit
    vmlinux = sorted(CACHE.glob("kernel/6.1.*-cloud-amd64/vmlinux"))
    if not vmlinux:
        return []
    out = []
    qmp = CACHE / "dev" / "foundation-6.1.vmcore"
    if qmp.exists():
        out.append(("qmp", qmp, vmlinux[-1]))
    # The kdump suite's real makedumpfile -d 31 dump of the default kernel, if any.
    for p in sorted((CACHE / "dev").glob("kdump-d31-*.vmcore")):
        if "6.1." in p.name or re.search(r"kdump-d31-[a-z]+\.vmcore$", p.name):
            out.append(("kdump", p, vmlinux[-1]))
            break
    # Without the kdump suite's dump: the hang suite's ABBA deadlock (a DEADLOCK verdict to
    # lose), when this build ran it. Two dumps keep the suite within 5 minutes on 2 cores.
    build = Path(os.environ.get("KSTUCK_BUILD") or Path(__file__).resolve().parents[2] / "build")
    abba = build / "vm-out" / "hang_abba.vmcore"
    if len(out) < 2 and abba.exists():
        out.append(("abba", abba, vmlinux[-1]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kstuck", required=True, help="the ASan+UBSan kstuck binary")
    ap.add_argument("--dump", action="append", default=[])
    ap.add_argument("--vmlinux", action="append", default=[])
    ap.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=240, help="seconds per run")
    ap.add_argument("--only", default=None, help="run only variants whose name contains this")
    ap.add_argument("--per-dump", type=int, default=0, help="variants per dump (0: all)")
    args = ap.parse_args()
    t0 = time.monotonic()
    if len(args.dump) != len(args.vmlinux):
        ap.error("give one --vmlinux per --dump")
    inputs = find_inputs([(Path(d).stem, Path(d), Path(v)) for d, v in zip(args.dump, args.vmlinux)])
    if not inputs:
        print("damaged: no real dump in the cache (run the foundation VM suite first)")
        print("0 passed, 1 failed")
        return 1
    if not shutil.which("strace"):
        print("damaged: strace is missing (scripts/setup installs it)")
        print("0 passed, 1 failed")
        return 1
    kstuck = Path(args.kstuck).resolve()
    work = Path(args.work or tempfile.mkdtemp(prefix="kstuck-damaged-", dir=os.environ.get("TMPDIR", "/var/tmp")))
    work.mkdir(parents=True, exist_ok=True)

    variants, bases = [], {}
    for label, dump, vmlinux in inputs:
        plain = work / f"{label}.plain.vmcore"
        with open(dump, "rb") as f:
            flattened = f.read(12) == b"makedumpfile"
        if flattened:
            unflatten(dump, plain)
        else:
            shutil.copyfile(dump, plain)
        kd = Kdump(plain)
        pages = read_pages(kstuck, plain, vmlinux, kd)
        seed = int(hashlib.sha256(f"{label}:{kd.size}".encode()).hexdigest()[:16], 16)
        vs = dump_variants(label, kd, pages, random.Random(seed))
        if args.per_dump:
            vs = vs[:args.per_dump]
        for x in vs:
            x.vmlinux = vmlinux
        bases[label] = (plain, vmlinux)
        print(f"damaged: {label}: {dump} ({kd.size >> 20} MiB plain, {kd.ndesc} pages, "
              f"{len(pages)} of them read by hang), {len(vs)} variants", flush=True)
        variants += [(label, x) for x in vs]
        if flattened:
            # The flattened stream itself, cut and bit-flipped (what a half-copied -F file is).
            rng = random.Random(seed ^ 1)
            size = dump.stat().st_size
            for pct in (0.2, 30, 60, 95):
                at = int(size * pct / 100)
                x = Variant("truncate", f"{label}/flattened-truncate-{at}", copy_with([], truncate=at), vmlinux=vmlinux)
                x.base = dump
                variants.append((label, x))
            for i in range(6):
                off = 4096 + rng.randrange(1 << 16)
                with open(dump, "rb") as f:
                    f.seek(off)
                    b = f.read(1)[0]
                x = Variant("bitflip", f"{label}/flattened-bitflip-{off:#x}", copy_with([(off, bytes([b ^ 0x80]))]),
                            vmlinux=vmlinux)
                x.base = dump
                variants.append((label, x))
    first_label, (first_dump, first_vmlinux) = next(iter(bases.items()))
    others = [p for p in sorted(CACHE.glob("kernel/*/vmlinux")) if p != first_vmlinux]
    for x in special_variants(work, first_vmlinux, first_dump, others[0] if others else None):
        x.vmlinux = x.vmlinux or first_vmlinux
        variants.append((first_label, x))
    if args.only:
        variants = [(lb, x) for lb, x in variants if args.only in x.name]

    # The undamaged reports every variant is compared with.
    baselines = {}
    for label, (plain, vmlinux) in bases.items():
        for cmd, *rest in COMMANDS:
            rc, out, err, to, secs = run_one(kstuck, cmd, rest, plain, vmlinux, (), args.timeout)
            try:
                doc = json.loads(out)
                baselines[(label, cmd)] = (normalize(doc), doc)
            except ValueError:
                print(f"damaged: the undamaged {label} dump gives no JSON for {cmd} (exit {rc}): {err[-300:]}")
                print("0 passed, 1 failed")
                return 1
            print(f"damaged: baseline {label} {cmd}: exit {rc} in {secs:.1f}s", flush=True)

    counts = {}
    failures = []
    lock = threading.Lock()
    slowest = [0.0]

    def one(item):
        label, x = item
        tmp = None
        try:
            if x.build:
                tmp = work / (hashlib.sha1(x.name.encode()).hexdigest()[:16] + ".vmcore")
                x.build(getattr(x, "base", None) or bases[label][0], tmp)
                dump = tmp
            else:
                dump = x.path
            results = []
            for cmd, *rest in COMMANDS:
                rc, out, err, to, secs = run_one(kstuck, cmd, rest, dump, x.vmlinux, x.extra, args.timeout)
                outcome, detail = judge(cmd, rc, out, err, baselines.get((label, cmd)), to)
                results.append((cmd, outcome, detail, secs))
            return x, results
        finally:
            if tmp and tmp.exists():
                tmp.unlink()

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for n, (x, results) in enumerate(pool.map(one, variants), 1):
            if n % 100 == 0:
                print(f"damaged: {n}/{len(variants)} variants in {time.monotonic() - t0:.0f}s", flush=True)
            with lock:
                c = counts.setdefault(x.cls, {})
                for cmd, outcome, detail, secs in results:
                    slowest[0] = max(slowest[0], secs)
                    c[outcome] = c.get(outcome, 0) + 1
                    if outcome in ("crash", "hang", "silent", "bad-exit"):
                        failures.append(f"FAIL damaged/{x.name} {cmd}: {outcome}: {detail}")
                        print(failures[-1], flush=True)

    shutil.rmtree(work, ignore_errors=True)
    total = sum(sum(c.values()) for c in counts.values())
    bad = len(failures)
    print(f"damaged: {len(variants)} variants, {total} runs in {time.monotonic() - t0:.0f}s "
          f"(slowest run {slowest[0]:.1f}s)")
    names = ("same", "partial", "error", "crash", "hang", "silent", "bad-exit")
    for cls in sorted(counts):
        c = counts[cls]
        print(f"  {cls:9s} " + "  ".join(f"{n} {c.get(n, 0)}" for n in names))
    allc = {n: sum(c.get(n, 0) for c in counts.values()) for n in names}
    print(f"damaged: {allc['crash']} crashes, {allc['hang']} hangs, {allc['silent']} silent losses, "
          f"{allc['bad-exit']} bad exits")
    print(f"{total - bad} passed, {bad} failed")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
