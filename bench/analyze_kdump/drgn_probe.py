# SPDX-License-Identifier: GPL-2.0
"""drgn's side of bench/analyze_kdump (runs under Debian's /usr/bin/python3 where
python3-drgn lives): opens one dump, prints JSON with each CPU's current task and
stack and the stacks of the pids given on stdin, keeping every error message verbatim.

usage: drgn_probe.py VMCORE VMLINUX [MODULE.ko...] <<< "PID PID"
"""
import json
import sys

import drgn
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.pid import find_task


def frames(prog, thread):
    try:
        return [f.name or hex(f.pc) for f in prog.stack_trace(thread)]
    except Exception as e:  # drgn raises plain Exception for ORC trouble
        return [f"ERROR {type(e).__name__}: {e}"]


def main():
    vmcore, vmlinux, *mods = sys.argv[1:]
    out = {"errors": [], "cpus": {}, "tasks": {}}
    prog = drgn.Program()
    try:
        prog.set_core_dump(vmcore)
    except Exception as e:
        out["errors"].append(f"open: {type(e).__name__}: {e}")
        print(json.dumps(out))
        return
    try:
        prog.load_debug_info([vmlinux, *mods])
    except drgn.MissingDebugInfoError as e:
        out["errors"].append(f"load_debug_info: {' '.join(str(e).split())[:300]}")
    for cpu in range(prog["nr_cpu_ids"].value_()):
        try:
            t = per_cpu(prog["runqueues"], cpu).curr
            out["cpus"][cpu] = {"pid": t.pid.value_(), "comm": t.comm.string_().decode(), "stack": frames(prog, t)}
        except Exception as e:
            out["cpus"][cpu] = {"error": f"{type(e).__name__}: {e}"}
    for pid in map(int, sys.stdin.read().split()):
        try:
            t = find_task(prog, pid)
            if not t:
                out["tasks"][pid] = {"error": "find_task: not found"}
                continue
            out["tasks"][pid] = {"comm": t.comm.string_().decode(), "stack": frames(prog, t)}
        except Exception as e:
            out["tasks"][pid] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
