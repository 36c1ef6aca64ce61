#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""drgn's view of a vmcore, as JSON on stdout: every task's and every CPU's stack
(function names, innermost first), each CPU's current task and registers, and the
owner and waiters of the mutexes and rwsems it is asked about.

Run by tests/vm/drgn_diff.py with Debian's /usr/bin/python3 (python3-drgn 0.0.22 is
not visible to other interpreters); kstuck's answers are compared there. Nothing here
uses kstuck's code: this is the other side of a differential check.

    drgn_view.py DUMP VMLINUX [--ko FILE ...] [--lock KIND:ADDRESS ...]

DUMP must be a container drgn reads (kdump-compressed or ELF; the caller converts
makedumpfile's flattened format). Registers of a CPU come from the per-CPU
`crash_notes` the crashed kernel filled (identity, not note order), else, when the dump
has one register note per possible CPU (QEMU writes one per vCPU), from the note at the
CPU's index. Each CPU and its current task are unwound from those registers through a
`struct pt_regs` object, never through drgn's own note-to-task matching (drgn 0.0.22
matches notes to tasks by pid, and QEMU's notes carry pid = vCPU + 1).
The CPUs are the online ones, plus those a panic stopped (present, still in
`__cpu_active_mask`, not online) that have a note of their own as above (`state`:
`stopped`), as kstuck lists them.
"""
import argparse
import json
import struct
import sys
import traceback

import drgn
from drgn import Object
from drgn.helpers.linux.cpumask import for_each_cpu, for_each_online_cpu, for_each_possible_cpu, for_each_present_cpu
from drgn.helpers.linux.list import list_for_each_entry
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.rbtree import rbtree_inorder_for_each_entry

# The note parser is dump_check's (stdlib only), so this script run by /usr/bin/python3 shares it.
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parents[2]))
from tests.vm.dump_check import elf_notes  # noqa: E402

NT_PRSTATUS = 1
PRSTATUS_PID = 32
PRSTATUS_REGS = 112
PT_REGS_WORDS = 21          # struct pt_regs = the first 21 longs of user_regs_struct
USER_REGS = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
             "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss")
MAX_FRAMES = 128
MAX_WAITERS = 4096


def _prstatus(desc):
    """(pid, pt_regs bytes) of an NT_PRSTATUS descriptor, or None when it is too short."""
    if len(desc) < PRSTATUS_REGS + PT_REGS_WORDS * 8:
        return None
    return struct.unpack_from("<i", desc, PRSTATUS_PID)[0], desc[PRSTATUS_REGS:PRSTATUS_REGS + PT_REGS_WORDS * 8]


def file_notes(path):
    """The dump file's NT_PRSTATUS notes in file order: [(pid, regs bytes)]."""
    out = []
    with open(path, "rb") as f:
        head = f.read(64)
        blobs = []
        if head.startswith(b"\x7fELF"):
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            ph = f.read(phentsize * min(phnum, 4096))
            for i in range(len(ph) // max(phentsize, 1)):
                ptype, _fl, off, _va, _pa, filesz = struct.unpack_from("<IIQQQQ", ph, i * phentsize)
                if ptype == 4 and filesz < 1 << 24:
                    f.seek(off)
                    blobs.append(f.read(filesz))
        elif head.startswith(b"KDUMP   "):
            f.seek(0)
            hdr = f.read(4096)
            block_size = struct.unpack_from("<i", hdr, 428)[0]
            if 0 < block_size <= 1 << 20:
                f.seek(block_size)
                sub = f.read(128)
                if len(sub) >= 64:
                    off_note, size_note = struct.unpack_from("<qQ", sub, 48)
                    if 0 < size_note < 1 << 24 and off_note > 0:
                        f.seek(off_note)
                        blobs.append(f.read(size_note))
    for blob in blobs:
        for name, ntype, desc in elf_notes(blob):
            if name == b"CORE" and ntype == NT_PRSTATUS:
                p = _prstatus(desc)
                if p:
                    out.append(p)
    return out


def crash_note(prog, cpu):
    """(pid, regs bytes) from the crashed kernel's per-CPU crash_notes, or None."""
    try:
        notes = prog["crash_notes"]
    except KeyError:
        return None
    try:
        # A per-CPU pointer plus the CPU's offset wraps modulo 2^64 (seen on 7.3).
        addr = (notes.value_() + prog["__per_cpu_offset"][cpu].value_()) & ((1 << 64) - 1)
        blob = prog.read(addr, 512)
    except (drgn.FaultError, LookupError, ValueError, OverflowError):
        return None
    for name, ntype, desc in elf_notes(blob):
        if name == b"CORE" and ntype == NT_PRSTATUS:
            return _prstatus(desc)
        return None
    return None


def stopped_cpus(prog, online):
    """CPUs another one stopped without unplugging them (panic's smp_send_stop(): stop_this_cpu()
    clears only the online bit): present and still in __cpu_active_mask, not online."""
    try:
        active = set(for_each_cpu(prog["__cpu_active_mask"]))
    except (KeyError, drgn.FaultError):
        return []
    return [cpu for cpu in for_each_present_cpu(prog) if cpu in active and cpu not in online]


def fault(e):
    """A drgn FaultError as {message, address}: what a page the dump lacks looks like."""
    return {"message": str(e), "address": hex(e.address) if getattr(e, "address", None) is not None else None}


def task_list(prog, problems):
    """Every task by init_task's process list and each process's thread list, as crash
    walks them: drgn's for_each_task goes through the pid IDR, whose nodes a dump may lack
    (makedumpfile -d 31 drops some live slab pages of 7.x kernels). Faults end one list."""
    out = {}
    init = prog["init_task"]
    try:
        for p in list_for_each_entry("struct task_struct", init.tasks.address_of_(), "tasks"):
            out[p.value_()] = p
            try:
                for t in list_for_each_entry("struct task_struct", p.signal.thread_head.address_of_(),
                                             "thread_node"):
                    out[t.value_()] = t
            except drgn.FaultError as e:
                problems.append(f"threads of task {hex(p.value_())}: {fault(e)}")
            if len(out) > 1 << 20:
                break
    except drgn.FaultError as e:
        problems.append(f"process list stopped after {len(out)} tasks: {fault(e)}")
    return out


def drgn_log(problems):
    """drgn's own warnings (e.g. 'ignoring module: could not read memory ... Excluded
    page') go to problems[]: they explain what drgn could not name."""
    import logging

    class Keep(logging.Handler):
        def emit(self, record):
            problems.append("drgn: " + record.getMessage())
    logging.getLogger("drgn").addHandler(Keep(level=logging.WARNING))


def frames_of(trace):
    """One entry per physical frame (inline frames share their caller's pc): the ELF
    symbol's name, as kstuck names a frame. Returns (frames, why drgn stopped early or
    None): drgn 0.0.22 can end a trace with a frame whose pc it does not know."""
    out = []
    for frame in trace:
        try:
            frame.pc
        except LookupError as e:
            return out, f"{e} (after {len(out)} frames)"
        if frame.is_inline:
            continue
        try:
            sym = frame.symbol()
            name, start, size = sym.name, hex(sym.address), sym.size
        except LookupError:
            name, start, size = None, None, None
        out.append({"pc": hex(frame.pc), "function": name, "start": start, "size": size,
                    "interrupted": frame.interrupted})
        if len(out) >= MAX_FRAMES:
            break
        if frame.pc < 1 << 63:
            # The user pc in the pt_regs at the stack's top: newer drgn goes on unwinding
            # user space; kstuck's stacks, like the kernel's own backtraces, end here.
            break
    return out, None


def unwind(prog, what):
    try:
        frames, stop = frames_of(prog.stack_trace(what))
        return {"frames": frames, "stop": stop} if stop else {"frames": frames}
    except Exception as e:  # drgn raises ValueError, FaultError, LookupError ... per task
        return {"frames": [], "error": f"{type(e).__name__}: {e}"}


def restart_at_entry(prog, c, vals, pt_regs_size):
    """A CPU stopped on the first instruction of a function that has no unwind data (a
    retpoline thunk, __x86_indirect_thunk_array): drgn ends the trace after that frame.
    At a function's first instruction the return address is the word at rsp, so the
    rest is unwound by drgn from (ip = [rsp], sp = rsp + 8), as kstuck does."""
    frames = c.get("frames", [])
    if len(frames) != 1 or c.get("error") or c.get("stop") or frames[0].get("start") != frames[0].get("pc"):
        return
    rsp = vals[19]
    try:
        ret = int.from_bytes(prog.read(rsp, 8), "little")
    except (drgn.FaultError, ValueError, OverflowError):
        return
    regs = dict(zip(("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
                     "di", "orig_ax", "ip", "cs", "flags", "sp", "ss"), vals))
    regs.update(ip=ret, sp=rsp + 8)
    more = unwind(prog, Object(prog, "struct pt_regs", value=regs))
    c["frames"] = frames + more["frames"]
    c["restart"] = "from the return address at rsp (pc on a function's first instruction, no unwind data)"
    for k in ("error", "stop"):
        if k in more:
            c[k] = more[k]


# x86-64's THREAD_SIZE without KASAN (Debian's kernels), the same assumption as kstuck's
# kThreadSize: no type tells it (union thread_union is in neither BTF nor DWARF there).
THREAD_SIZE = 16384


def arch_current(prog, cpu):
    """The arch's `current` of a CPU: current_task (<= 6.1, >= 6.15) or
    pcpu_hot.current_task (6.2-6.14), decided by which symbol the kernel has; None if neither."""
    for name, member in (("current_task", None), ("pcpu_hot", "current_task")):
        try:
            v = per_cpu(prog[name], cpu)
            return (v.member_(member) if member else v).value_()
        except (KeyError, LookupError, drgn.FaultError):
            continue
    return None


def register_owner(prog, cpu, curr, rsp):
    """The task whose stack a CPU's saved rsp is on, of rq->curr and the arch's current (they
    differ only inside a context switch: rsp moves to the next task's stack in __switch_to_asm,
    before __switch_to() sets current_task). rq->curr when rsp is on neither (an IRQ stack)."""
    cur = arch_current(prog, cpu)
    for task in (curr, cur):
        if not task:
            continue
        try:
            base = Object(prog, "struct task_struct", address=task).stack.value_()
        except drgn.FaultError:
            continue
        if base <= rsp < base + THREAD_SIZE:
            return task
    return curr


def switch_frame_regs(prog, task):
    """A struct pt_regs holding what a task that is not running saved when it switched
    out (thread.sp -> struct inactive_task_frame), as drgn itself starts such a task.
    Used where drgn 0.0.22 would instead take a register note whose pid equals the
    task's (QEMU's notes carry pid = vCPU + 1; kdump's idle CPUs' notes pid 0), and for
    the task of a CPU inside a context switch whose stack the registers are not on
    (drgn takes a task with on_cpu set as running on its CPU's registers)."""
    sp = task.thread.sp.value_()
    frame = Object(prog, "struct inactive_task_frame", address=sp)
    regs = {"ip": frame.ret_addr.value_(), "sp": sp + drgn.sizeof(frame.type_), "bp": frame.bp.value_()}
    for r in ("bx", "r12", "r13", "r14", "r15"):
        if any(m.name == r for m in frame.type_.members):
            regs[r] = frame.member_(r).value_()
    return Object(prog, "struct pt_regs", value=regs)


def rt_lock_view(prog, out, base_address):
    """PREEMPT_RT: every sleeping lock is an rt_mutex_base underneath. Its owner word
    (bit 0 is RT_MUTEX_HAS_WAITERS) and its waiters in tree order (leftmost first)."""
    base = Object(prog, "struct rt_mutex_base", address=base_address)
    word = base.owner.value_() & ((1 << 64) - 1)
    out["owner_word"] = hex(word)
    out["owner"] = hex(word & ~1)
    wtype = prog.type("struct rt_mutex_waiter")
    # Newer kernels nest the waiter's tree node in struct rt_waiter_node (tree.entry);
    # older ones have tree_entry: decided from the type, as kstuck does.
    member = "tree.entry" if any(m.name == "tree" for m in wtype.members) else "tree_entry"
    waiters = []
    for w in rbtree_inorder_for_each_entry(wtype, base.waiters.rb_root.address_of_(), member):
        waiters.append(w.task.pid.value_())
        if len(waiters) >= MAX_WAITERS:
            break
    out["waiters"] = waiters
    owner = word & ~1
    if owner:
        out["owner_pid"] = Object(prog, "struct task_struct", address=owner).pid.value_()
    return out


def wait_ring(prog, lock, wtype):
    """Pids of a mutex's or rwsem's waiters in queue order, decided by drgn's type of the
    lock: a `wait_list` head, or (Linux 7.1, 25500ba7e77c "locking/mutex: Remove the
    list_head from struct mutex" and the rwsem change of that series) `first_waiter`, a
    pointer into a ring of waiters linked through their `list` with no head."""
    members = {m.name for m in lock.type_.members if m.name}
    waiters = []
    if "wait_list" in members:
        for w in list_for_each_entry(wtype, lock.wait_list.address_of_(), "list"):
            waiters.append(w.task.pid.value_())
            if len(waiters) >= MAX_WAITERS:
                break
        return waiters
    first = lock.first_waiter.value_()
    w = first
    while w:
        waiter = Object(prog, wtype, address=w)
        waiters.append(waiter.task.pid.value_())
        w = drgn.container_of(waiter.list.next, wtype, "list").value_()
        if w == first or len(waiters) >= MAX_WAITERS:
            break
    return waiters


def lock_view(prog, kind, address, rt_base=None):
    """Owner word and wait list of a mutex or rwsem read with drgn's types."""
    out = {"kind": kind, "address": hex(address)}
    if rt_base is not None:
        out["rt"] = True
        try:
            return rt_lock_view(prog, out, rt_base)
        except Exception as e:
            out["error"] = f"{type(e).__name__}: {e}"
            return out
    typ = "struct mutex" if kind == "mutex" else "struct rw_semaphore"
    wtype = "struct mutex_waiter" if kind == "mutex" else "struct rwsem_waiter"
    try:
        lock = Object(prog, typ, address=address)
        word = lock.owner.counter.value_() & ((1 << 64) - 1)
        # Mutex: the low 3 bits are MUTEX_FLAGS; rwsem: RWSEM_OWNER_FLAGS_MASK (reader-owned,
        # non-spinnable) are the low bits too, 7 covers both on every kernel since 5.3.
        out["owner_word"] = hex(word)
        out["owner"] = hex(word & ~7)
        if kind == "rwsem":
            out["reader_owned"] = bool(word & 1)
            out["count"] = hex(lock.count.counter.value_() & ((1 << 64) - 1))
        owner = word & ~7
        if owner:
            try:
                out["owner_pid"] = Object(prog, "struct task_struct", address=owner).pid.value_()
            except drgn.FaultError:
                out["owner_pid"] = None
        out["waiters"] = wait_ring(prog, lock, wtype)
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    return out


def type_facts(prog):
    """Members of the structs drgn 0.0.22's own readers depend on (its ORC decoder, its
    module list walk): what the known-defect list tests, never a version number."""
    facts = {}
    for name in ("struct orc_entry", "struct module", "struct module_layout"):
        try:
            facts[name] = [m.name for m in prog.type(name).members if m.name]
        except LookupError:
            facts[name] = []
    return facts


def resolve(prog, names):
    """drgn's address and size of each name (kstuck's frame names): lets the comparison
    tell an inner label or alias kstuck printed from a different function."""
    out = {}
    for n in names:
        try:
            sym = prog.symbol(n)
            out[n] = [hex(sym.address), sym.size]
        except (LookupError, ValueError):
            pass
    return out


def view(dump, vmlinux, kos, locks, names=()):
    problems = []
    drgn_log(problems)
    prog = drgn.program_from_core_dump(dump)
    try:
        prog.load_debug_info([vmlinux, *kos])
    except drgn.MissingDebugInfoError as e:
        problems.append(f"debug info: {e}")
    pt_regs_size = drgn.sizeof(prog.type("struct pt_regs"))
    online = list(for_each_online_cpu(prog))
    possible = list(for_each_possible_cpu(prog))
    notes = file_notes(dump)
    cpus = []
    current = {}
    switched_out = set()  # inside a context switch, the task of the two the registers are not on
    for cpu, state in [(cpu, "online") for cpu in online] + [(cpu, "stopped") for cpu in stopped_cpus(prog, online)]:
        c = {"cpu": cpu}
        rq = per_cpu(prog["runqueues"], cpu)
        try:
            curr = rq.curr
            c["task"] = hex(curr.value_())
            c["pid"] = curr.pid.value_()
            c["comm"] = curr.comm.string_().decode(errors="replace")
        except drgn.FaultError as e:
            if state == "online":
                c.update(frames=[], unreadable=fault(e))
                cpus.append(c)
            continue
        note = crash_note(prog, cpu)
        if note:
            c["registers_from"] = "crash_notes"
        elif len(notes) == len(possible) and cpu < len(notes):
            note = notes[cpu]
            c["registers_from"] = f"file note {cpu}"
        if state == "stopped":
            # Listed only with a note of its own: its crash_notes naming its rq->curr's pid,
            # or QEMU's note of its vCPU (cpu_active_mask said it was not unplugged).
            if not note or (c["registers_from"] == "crash_notes" and note[0] != c["pid"]):
                continue
            c["state"] = "stopped"
        if note:
            pid, regs = note
            c["note_pid"] = pid
            vals = struct.unpack_from(f"<{PT_REGS_WORDS}Q", regs)
            c["rip"], c["rsp"], c["eflags"] = hex(vals[16]), hex(vals[19]), hex(vals[18])
            c.update(unwind(prog, Object.from_bytes_(prog, "struct pt_regs", regs[:pt_regs_size])))
            restart_at_entry(prog, c, vals, pt_regs_size)
            owner = register_owner(prog, cpu, curr.value_(), vals[19])
            if owner != curr.value_():
                c["registers_owner"] = hex(owner)
            current[owner] = cpu
            switched_out.update({curr.value_(), arch_current(prog, cpu) or 0} - {owner, 0})
        else:
            c["registers_from"] = None
            c["frames"] = []
            c["error"] = f"no registers: no crash_notes entry, {len(notes)} file notes for {len(possible)} CPUs"
        cpus.append(c)
    tasks = {}
    try:
        for t in for_each_task(prog):
            tasks[t.value_()] = t
    except drgn.FaultError as e:
        problems.append(f"for_each_task stopped after {len(tasks)} tasks: {fault(e)}")
        tasks.update(task_list(prog, problems))
    for cpu in possible:
        try:
            idle = per_cpu(prog["runqueues"], cpu).idle
            if idle.value_():
                tasks.setdefault(idle.value_(), idle)
        except drgn.FaultError as e:
            problems.append(f"CPU {cpu}'s idle task: {fault(e)}")
    by_cpu = {c["cpu"]: c for c in cpus}
    note_pids = {p for p, _ in notes}
    task_out = []
    for addr, t in tasks.items():
        try:
            e = {"task": hex(addr), "pid": t.pid.value_(), "comm": t.comm.string_().decode(errors="replace")}
        except drgn.FaultError as err:
            task_out.append({"task": hex(addr), "frames": [], "unreadable": fault(err)})
            continue
        if addr in current:
            c = by_cpu[current[addr]]
            e["current_on"] = current[addr]
            for k in ("frames", "error", "stop"):
                if k in c:
                    e[k] = c[k]
        elif e["pid"] in note_pids or addr in switched_out:
            e["start"] = "switch frame"
            try:
                e.update(unwind(prog, switch_frame_regs(prog, t)))
            except drgn.FaultError as err:
                e.update({"frames": [], "error": f"FaultError: {err}"})
        else:
            e["start"] = "drgn"
            e.update(unwind(prog, t))
        task_out.append(e)
    lock_out = [lock_view(prog, kind, addr, rt) for kind, addr, rt in locks]
    return {"facts": type_facts(prog), "symbols": resolve(prog, names), "drgn": drgn.__version__,
            "release": prog["UTS_RELEASE"].string_().decode(),
            "online_cpus": online, "possible_cpus": possible, "file_notes": [p for p, _ in notes],
            "cpus": cpus, "tasks": task_out, "locks": lock_out, "problems": problems}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("vmlinux")
    ap.add_argument("--ko", action="append", default=[])
    ap.add_argument("--lock", action="append", default=[],
                    help="KIND:ADDRESS (mutex or rwsem) or KIND:ADDRESS:RT_MUTEX_BASE (PREEMPT_RT)")
    ap.add_argument("--names", help="file with a JSON list of function names to look up")
    a = ap.parse_args()
    locks = []
    for spec in a.lock:
        kind, addr, *rt = spec.split(":")
        locks.append((kind, int(addr, 16), int(rt[0], 16) if rt else None))
    try:
        names = json.load(open(a.names)) if a.names else []
        out = view(a.dump, a.vmlinux, a.ko, locks, names)
    except Exception:
        print(json.dumps({"fatal": traceback.format_exc()}))
        return 1
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
