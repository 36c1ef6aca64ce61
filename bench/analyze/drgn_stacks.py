# SPDX-License-Identifier: GPL-2.0
"""drgn's side of bench/analyze: every CPU's and every task's stack of one dump, the
same work `kstuck analyze` does (run under Debian's python3 with python3-drgn).

usage: python3 drgn_stacks.py VMCORE VMLINUX   (prints counts and errors as JSON)
"""
import json
import sys

import drgn
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.pid import for_each_task


def stack(prog, task):
    try:
        return [f.name or hex(f.pc) for f in prog.stack_trace(task)]
    except Exception as e:  # drgn raises plain Exception for unwinding trouble
        return [f"ERROR {type(e).__name__}: {e}"]


def main():
    vmcore, vmlinux = sys.argv[1:3]
    prog = drgn.Program()
    prog.set_core_dump(vmcore)
    try:
        prog.load_debug_info([vmlinux])
    except drgn.MissingDebugInfoError:
        pass  # modules' debug info: not given, as for kstuck
    out = {"cpus": {}, "tasks": 0, "task_errors": 0, "frames": 0, "first_error": None, "idle_tasks": 0}
    idle = set()
    for cpu in for_each_online_cpu(prog):
        rq = per_cpu(prog["runqueues"], cpu)
        t = rq.curr
        s = stack(prog, t)
        out["cpus"][cpu] = {"pid": t.pid.value_(), "stack": s[:8]}
        idle.add(rq.idle.value_())
    for t in for_each_task(prog):
        idle.discard(t.value_())
        s = stack(prog, t)
        out["tasks"] += 1
        out["frames"] += len(s)
        if s and s[0].startswith("ERROR"):
            out["task_errors"] += 1
            out["first_error"] = out["first_error"] or s[0][:200]
        print(t.pid.value_(), t.comm.string_().decode(), " <- ".join(s), file=sys.stderr)
    # The CPUs' idle tasks (pid 0) that for_each_task, a walk of the pid IDR, never
    # visits; kstuck lists them as tasks: counted here, not unwound.
    out["idle_tasks"] = len(idle)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
