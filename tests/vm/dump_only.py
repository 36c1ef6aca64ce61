# SPDX-License-Identifier: GPL-2.0
"""Analysis with the dump alone must say what analysis with the vmlinux says. On one
dump, `kstuck hang --json` and `kstuck analyze --json` run twice -- with --vmlinux and
without it (symbols from the dump's kallsyms, types from its in-memory BTF) -- and the
two JSON documents must be identical after the differences the two sources are allowed:

  - file:line ("source" keys): the dump carries no DWARF;
  - the size after a symbol's offset ("func+0x1c/0x80"): kallsyms has no sizes, so
    without the vmlinux a symbol reaches to the next one, as the kernel's own %pS
    prints it, where the vmlinux gives the ELF size (which leaves out alignment padding);
  - system.source's "build-id" and "symbols", which say which source was used;
  - which of several aliases at one address names a frame: kallsyms names the first in
    its table, as the kernel's own %pS does, the vmlinux the sized function (5.10's
    asm_call_irq_on_stack vs asm_call_on_stack). Allowed only for a frame whose "ip" is
    the same both ways and whose two names have the same address in the vmlinux (nm).

Verdict, signature, every frame's function and offset, tasks, locks and edges must be
equal. Called by drgn_diff.compare, so every suite that makes dumps runs it:

    from tests.vm import dump_only
    results += dump_only.compare(cli, dump, vmlinux, label="hang_abba")

Re-run on a kept dump:  python3 -m tests.vm.dump_only DUMP VMLINUX [--cli KSTUCK]
"""
import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.vm.rig import TestResult  # noqa: E402

_SIZE = re.compile(r"(\+0x[0-9a-f]+)/0x[0-9a-f]+")


def _normalize(value, path=""):
    """The JSON with the allowed differences taken out (see the module's docstring)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "source" and isinstance(v, str):
                continue  # a frame's file:line
            if path == ".system.source" and k in ("build-id", "symbols"):
                continue
            out[k] = _normalize(v, f"{path}.{k}")
        return out
    if isinstance(value, list):
        return [_normalize(v, path) for v in value]
    if isinstance(value, str):
        return _SIZE.sub(r"\1", value)
    return value


_NM = {}


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _vmlinux_addresses(vmlinux):
    """name -> set of addresses of the vmlinux's symbols (nm), cached per file."""
    key = str(vmlinux)
    if key not in _NM:
        table = {}
        try:
            out = subprocess.run(["nm", key], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 timeout=300).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3:
                table.setdefault(parts[2], set()).add(parts[0])
        _NM[key] = table
    return _NM[key]


def _alias_pairs(a, b, vmlinux, pairs=None):
    """{dump-only name: vmlinux name} for frames at the same ip named by two aliases, and
    for bare function names (hang's stacks carry no ip) that the vmlinux puts at one
    address."""
    pairs = {} if pairs is None else pairs
    if (isinstance(a, str) and isinstance(b, str) and a != b and _IDENT.match(a) and _IDENT.match(b)):
        names = _vmlinux_addresses(vmlinux)
        if names.get(a) and names.get(a) & names.get(b, set()):
            pairs[b] = a
    elif isinstance(a, dict) and isinstance(b, dict):
        fa, fb = a.get("function"), b.get("function")
        if (isinstance(fa, str) and isinstance(fb, str) and fa != fb and a.get("ip") is not None
                and a.get("ip") == b.get("ip")):
            names = _vmlinux_addresses(vmlinux)
            if names.get(fa) and names.get(fa) & names.get(fb, set()):
                pairs[fb] = fa
        for k in set(a) & set(b):
            _alias_pairs(a[k], b[k], vmlinux, pairs)
    elif isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b):
            _alias_pairs(x, y, vmlinux, pairs)
    return pairs


def _rename(value, pairs):
    """value with every alias in pairs replaced by the vmlinux's name (whole words)."""
    if not pairs:
        return value
    if isinstance(value, dict):
        return {k: _rename(v, pairs) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, pairs) for v in value]
    if isinstance(value, str):
        return re.sub(r"\b(" + "|".join(map(re.escape, pairs)) + r")\b", lambda m: pairs[m.group(1)], value)
    return value


def _first_difference(a, b, path=""):
    """The JSON path of the first difference and both values there, or None."""
    if type(a) is not type(b):
        return path or ".", a, b
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}", a.get(k, "<absent>"), b.get(k, "<absent>")
            d = _first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            return f"{path}.length", len(a), len(b)
        return None
    return None if a == b else (path or ".", a, b)


def _lacks_kallsyms(dump):
    """Whether the dump's VMCOREINFO lists no kallsyms tables (read by tests/vm/dump_check,
    not by kstuck)."""
    from tests.vm import dump_check
    try:
        return "SYMBOL(kallsyms_names)" not in dump_check.read_dump(dump).vmcoreinfo
    except (dump_check.DumpFormatError, OSError):
        return False


def _kstuck(cli, command, dump, vmlinux):
    cmd = [str(cli), command, str(dump), "--json"] + (["--vmlinux", str(vmlinux)] if vmlinux else [])
    t = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)
    elapsed = time.monotonic() - t
    try:
        return json.loads(p.stdout), elapsed, ""
    except json.JSONDecodeError:
        return None, elapsed, f"exit {p.returncode}: {p.stderr.strip()[-300:]}"


def _frames(doc):
    n = 0
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in ("frames", "stack") and isinstance(v, list):
                n += len(v)
            else:
                n += _frames(v)
    elif isinstance(doc, list):
        n += sum(_frames(v) for v in doc)
    return n


def compare(cli, dump, vmlinux, label=None):
    """[TestResult('dump-only-<command>-<label>')] for hang and analyze on one dump."""
    dump = Path(dump)
    label = label or dump.stem
    results = []
    for command in ("hang", "analyze"):
        name = f"dump-only-{command}-{label}"
        with_v, t_with, err_with = _kstuck(cli, command, dump, vmlinux)
        without, t_without, err_without = _kstuck(cli, command, dump, None)
        if with_v is None or without is None:
            # Kernels before 6.0 write no kallsyms tables into VMCOREINFO: kstuck finds them
            # by scanning the kernel image (kallsyms_scan.cpp), so those dumps compare too.
            scanned = " (no SYMBOL(kallsyms_names) in VMCOREINFO: found by a scan)" if _lacks_kallsyms(dump) else ""
            results.append(TestResult(name, False, f"with --vmlinux: {err_with or 'ok'}; "
                                                   f"without{scanned}: {err_without or 'ok'}"))
            continue
        a, b = _normalize(with_v), _normalize(without)
        aliases = _alias_pairs(a, b, vmlinux)
        b = _rename(b, aliases)
        d = _first_difference(a, b)
        extra = ""
        if command == "hang":
            extra = (f"verdict {with_v.get('verdict')} / {without.get('verdict')}, "
                     f"signature {with_v.get('signature')} / {without.get('signature')}, ")
        scanned = ", kallsyms found by a scan (no SYMBOL(kallsyms_names) in VMCOREINFO)" if _lacks_kallsyms(dump) else ""
        detail = (f"{extra}{_frames(with_v)} frames; {t_with:.1f}s with --vmlinux, {t_without:.1f}s without{scanned}")
        if aliases:
            detail += "; aliases named the kernel's way: " + ", ".join(f"{k} (vmlinux: {v})" for k, v in sorted(aliases.items()))
        if d:
            path, x, y = d
            detail += f"; first difference at {path}: vmlinux {json.dumps(x)[:160]} dump-only {json.dumps(y)[:160]}"
        results.append(TestResult(name, d is None and _frames(with_v) > 0, detail))
    return results


def release_of(cli, dump):
    """OSRELEASE as `kstuck dumpinfo` (without a vmlinux) reads it, or ''."""
    p = subprocess.run([str(cli), "dumpinfo", str(dump), "--no-lines"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True, timeout=300)
    m = re.search(r"^release: +(\S+)", p.stdout, re.M)
    return m.group(1) if m else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump", nargs="?")
    ap.add_argument("vmlinux", nargs="?")
    ap.add_argument("--scan", nargs="+", metavar="DIR",
                    help="every dump under DIRs, each with the kernel cache's vmlinux of its release")
    ap.add_argument("--cli", default=str(Path(__file__).resolve().parents[2] / "build" / "release" / "cli" / "kstuck"))
    args = ap.parse_args()
    pairs = []
    if args.scan:
        from tests.vm.rig import CACHE
        for d in args.scan:
            for dump in sorted(Path(d).rglob("*")):
                if not dump.is_file() or dump.suffix in (".json", ".log", ".txt", ".cpio", ".img") or \
                        dump.stat().st_size < (1 << 20) or not ("vmcore" in dump.name or dump.suffix == ".kdump"):
                    continue
                rel = release_of(args.cli, dump)
                vmlinux = CACHE / "kernel" / rel / "vmlinux"
                if rel and vmlinux.exists():
                    pairs.append((dump, vmlinux))
                else:
                    print(f"SKIP {dump}: release '{rel}', no {vmlinux}")
    elif args.dump and args.vmlinux:
        pairs.append((Path(args.dump), Path(args.vmlinux)))
    else:
        ap.error("DUMP VMLINUX or --scan DIR...")
    ok, n = True, 0
    for dump, vmlinux in pairs:
        for r in compare(args.cli, dump, vmlinux, label=str(dump)):
            print(f"{'PASS' if r.passed else 'FAIL'} {r.name} {r.detail}", flush=True)
            ok &= r.passed
            n += 1
    print(f"{n} comparisons on {len(pairs)} dumps: {'all identical' if ok else 'DIFFERENCES'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
