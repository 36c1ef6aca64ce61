#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kstuck finds the vmlinux by build-id through debuginfod when file:line is wanted and
no --vmlinux is given. Starts Debian's debuginfod on 127.0.0.1 serving the kernel
cache's directory of the dev dump's kernel (the vmlinux extracted from its -dbg
package), then runs `kstuck analyze DUMP --lines` with DEBUGINFOD_URLS pointing at it
and a fresh DEBUGINFOD_CACHE_PATH:
  1. vmlinux frames get file:line, and the downloaded file is in the cache;
  2. a second run with the server stopped still gets file:line (from the cache);
  3. without DEBUGINFOD_URLS and no debuginfo, the problems say what would supply it.

usage: tests/debuginfod_check.py KSTUCK DUMP KERNEL_DIR   (exit 0 pass, 1 fail, 77 skip)
"""
import json
import os
import urllib.request
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def analyze(cli, dump, env):
    t = time.monotonic()
    p = subprocess.run([cli, "analyze", dump, "--lines", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env, timeout=1200)
    try:
        rep = json.loads(p.stdout)
    except json.JSONDecodeError:
        return None, f"exit {p.returncode}: {p.stderr[-300:]}", time.monotonic() - t
    return rep, "", time.monotonic() - t


def sources(rep):
    found = []
    for c in rep.get("cpus", []):
        for f in (c.get("stack") or {}).get("frames", []):
            if f.get("source") and not f.get("module"):
                found.append(f["source"])
    return found


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    cli, dump, kdir = sys.argv[1:]
    if not shutil.which("debuginfod"):
        print("SKIP: no debuginfod (Debian package debuginfod)")
        return 77
    if not Path(dump).exists() or not (Path(kdir) / "vmlinux").exists():
        print(f"SKIP: no dev dump {dump} or vmlinux in {kdir}")
        return 77
    ok = True
    with tempfile.TemporaryDirectory(prefix="kstuck-debuginfod-") as tmp:
        tmp = Path(tmp)
        serve = tmp / "serve"
        serve.mkdir()
        os.symlink(Path(kdir).resolve() / "vmlinux", serve / "vmlinux")
        port = free_port()
        log = open(tmp / "debuginfod.log", "w")
        # -F: ELF/DWARF files under the directory; -L: follow symlinks; -d: its own index.
        server = subprocess.Popen(["debuginfod", "-p", str(port), "-d", str(tmp / "db.sqlite"), "-F", "-L",
                                   "--disable-source-scan", "-t", "0", "-g", "0", str(serve)], stdout=log, stderr=subprocess.STDOUT)
        try:
            env = dict(os.environ, DEBUGINFOD_URLS=f"http://127.0.0.1:{port}",
                       DEBUGINFOD_CACHE_PATH=str(tmp / "cache"), DEBUGINFOD_TIMEOUT="600")
            # The server scans in the background: wait until it knows the vmlinux.
            deadline = time.monotonic() + 600
            indexed = False
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    m = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
                    if any(line.startswith("scanned_files_total") and not line.rstrip().endswith(" 0")
                           for line in m.splitlines()):
                        indexed = True
                        break
                except OSError:
                    pass
                time.sleep(2)
            if not indexed:
                print(f"FAIL server-indexed: debuginfod did not scan {serve} ({(tmp / 'debuginfod.log').read_text()[-300:]})")
                return 1
            rep, err, took = analyze(cli, dump, env)
            lines = sources(rep) if rep else []
            cached = [p for p in (tmp / "cache").rglob("debuginfo")] if (tmp / "cache").exists() else []
            good = bool(rep) and bool(lines) and bool(cached)
            ok &= good
            print(f"{'PASS' if good else 'FAIL'} debuginfod-download: {len(lines)} vmlinux CPU frames with file:line "
                  f"(e.g. {lines[:2]}), cache {[str(c.relative_to(tmp)) for c in cached]}, {took:.1f}s {err}")
        finally:
            server.terminate()
            server.wait(timeout=30)
        rep, err, took = analyze(cli, dump, env)
        lines = sources(rep) if rep else []
        good = bool(lines)
        ok &= good
        print(f"{'PASS' if good else 'FAIL'} debuginfod-cache: server stopped, {len(lines)} frames with file:line "
              f"in {took:.1f}s {err}")
        bare = {k: v for k, v in os.environ.items() if not k.startswith("DEBUGINFOD")}
        bare["DEBUGINFOD_CACHE_PATH"] = str(tmp / "empty-cache")
        rep, err, took = analyze(cli, dump, bare)
        probs = [p for p in (rep or {}).get("problems", []) if p.startswith("--lines:")]
        good = bool(rep) and not sources(rep) and bool(probs) and "-dbg" in probs[0] and "DEBUGINFOD_URLS" in probs[0]
        ok &= good
        print(f"{'PASS' if good else 'FAIL'} no-debuginfo-message: {probs[:1]} {err}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
