// SPDX-License-Identifier: GPL-2.0
/*
 * The NMI collector's core: the preallocated snapshot history and the NMI_LOCAL
 * handler that saves each CPU's interrupted state into it, plus the two capture
 * paths (process context; atomic context for NMI and panic).
 *
 * Concurrency: one capture at a time owns the buffer (nmi_dump_busy, a lock-free
 * owner word, so NMI and panic paths can try it); process-context callers queue on
 * nmi_dump_mutex first so they never spin on each other. A CPU's "request" word
 * says whether an NMI on that CPU is ours:
 *   REQ_NONE    not ours (perf, another subsystem): NMI_DONE
 *   REQ_CAPTURE capture now, then NMI_HANDLED
 *   REQ_LATE    the initiator gave up on this CPU: swallow the late NMI (NMI_HANDLED)
 *               so it is not reported as an unknown NMI
 * nmi_dump_writers counts handlers between taking a request and finishing their
 * record, so an initiator never completes a slot a CPU still writes to.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": nmi: " fmt

#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/hardirq.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/apic.h>
#include <asm/irq_vectors.h>
#include <asm/nmi.h>
#include <asm/page.h>
#include <asm/pgtable.h>
#include <asm/ptrace.h>
#include <asm/unwind.h>

#include "kmod/kstuck_compat.h"
#include "nmi_dump/nmi_dump.h"
#include "nmi_dump/uapi/nmi_dump_record.h"

static unsigned int nmi_history = 16;
module_param(nmi_history, uint, 0444);
MODULE_PARM_DESC(nmi_history, "snapshots kept in the NMI history buffer (1-1024, default 16)");

enum { REQ_NONE = 0, REQ_CAPTURE = 1, REQ_LATE = 2 };

/* Found in a vmcore through the module's symbols: see nmi_dump_record.h. */
struct nmi_dump_buffer_header *nmi_dump_buffer;
u64 nmi_dump_buffer_size;

static DEFINE_PER_CPU(atomic_t, nmi_dump_request);
/* Per CPU, not on the 4 KiB NMI stack; NMI handlers never nest on one CPU. */
static DEFINE_PER_CPU(struct pt_regs, nmi_dump_resync_regs);
static atomic_t nmi_dump_busy = ATOMIC_INIT(-1);	/* owner CPU or -1 */
static atomic_t nmi_dump_writers = ATOMIC_INIT(0);
static atomic_t nmi_dump_answered = ATOMIC_INIT(0);
static struct nmi_dump_snapshot *nmi_dump_active;	/* slot being filled, or NULL */
static struct cpumask nmi_dump_ipi_mask;		/* owned by the busy owner */
static DEFINE_MUTEX(nmi_dump_mutex);
static bool nmi_dump_handler_registered;

static u32 nmi_dump_slot_size(u32 nr_cpus)
{
	return ALIGN(sizeof(struct nmi_dump_snapshot) + nr_cpus * sizeof(struct nmi_dump_cpu), 64);
}

static notrace struct nmi_dump_cpu *nmi_dump_cpu_rec(struct nmi_dump_snapshot *snap, u32 cpu)
{
	return (struct nmi_dump_cpu *)((char *)snap + sizeof(*snap)) + cpu;
}
NOKPROBE_SYMBOL(nmi_dump_cpu_rec);

/* Appends return addresses from the ORC unwinder to rec->frames[n...]; returns the new n. */
static notrace u32 nmi_dump_unwind(struct nmi_dump_cpu *rec, u32 n, u32 *flags,
				   struct task_struct *tsk, struct pt_regs *regs)
{
	struct unwind_state state;
	unsigned long addr;

	for (unwind_start(&state, tsk, regs, NULL); !unwind_done(&state);
	     unwind_next_frame(&state)) {
		addr = unwind_get_return_address(&state);
		if (!addr)
			break;
		if (n == NMI_DUMP_MAX_FRAMES) {
			*flags |= NMI_DUMP_STACK_TRUNCATED;
			break;
		}
		if (!regs && n == 0) {
			rec->regs[NMI_DUMP_REG_RIP] = addr;
			rec->regs[NMI_DUMP_REG_RSP] = state.sp;
		}
		rec->frames[n++] = addr;
	}
	if (unwind_error(&state))
		*flags |= NMI_DUMP_STACK_UNWIND_ERROR;
	return n;
}
NOKPROBE_SYMBOL(nmi_dump_unwind);

/*
 * Prepares this CPU's nmi_dump_resync_regs as if the function at regs->ip had just
 * returned to the word at regs->sp. False when that word is unreadable or cannot be
 * kernel or module text; the unwinder validates the rest through its ORC lookup.
 */
static notrace bool nmi_dump_resync(struct pt_regs *regs)
{
	struct pt_regs *fake = this_cpu_ptr(&nmi_dump_resync_regs);
	unsigned long ret;

	if (copy_from_kernel_nofault(&ret, (void *)regs->sp, sizeof(ret)))
		return false;
	if (ret < __START_KERNEL_map || ret >= MODULES_END)
		return false;
	*fake = *regs;
	fake->ip = ret;
	fake->sp = regs->sp + sizeof(ret);
	return true;
}
NOKPROBE_SYMBOL(nmi_dump_resync);

/* Saves the interrupted context of this CPU; NMI-safe (no locks, no allocation). */
static notrace void nmi_dump_fill(struct nmi_dump_cpu *rec, struct pt_regs *regs)
{
	struct task_struct *tsk = current;
	unsigned int pc = preempt_count();
	u32 ctx = 0, n = 0, flags = 0;

	rec->timestamp_ns = ktime_get_mono_fast_ns();
	if (regs && in_nmi())
		pc -= NMI_OFFSET + HARDIRQ_OFFSET;	/* undo our own nmi_enter() */
	if (pc & HARDIRQ_MASK)
		ctx |= NMI_DUMP_CTX_HARDIRQ;
	if (pc & SOFTIRQ_OFFSET)
		ctx |= NMI_DUMP_CTX_SOFTIRQ;
	if ((pc & SOFTIRQ_MASK) >= SOFTIRQ_DISABLE_OFFSET)
		ctx |= NMI_DUMP_CTX_BH_OFF;
	if (pc & NMI_MASK)
		ctx |= NMI_DUMP_CTX_NMI;
	if (is_idle_task(tsk))
		ctx |= NMI_DUMP_CTX_IDLE;
	rec->preempt_count = pc;
	rec->pid = tsk->pid;
	rec->tgid = tsk->tgid;
	memcpy(rec->comm, tsk->comm, sizeof(rec->comm));
	rec->comm[sizeof(rec->comm) - 1] = 0;
	rec->task_kaddr = (unsigned long)tsk;

	if (regs) {
		memcpy(rec->regs, regs, sizeof(rec->regs));
		if (user_mode(regs))
			ctx |= NMI_DUMP_CTX_USER;
		if (regs->flags & X86_EFLAGS_IF)
			ctx |= NMI_DUMP_CTX_IRQS_ON;
		if (!user_mode(regs))
			rec->frames[n++] = regs->ip;
	} else {
		memset(rec->regs, 0, sizeof(rec->regs));
		ctx |= NMI_DUMP_CTX_NO_REGS;
		if (!irqs_disabled())
			ctx |= NMI_DUMP_CTX_IRQS_ON;
	}

	if (!(ctx & NMI_DUMP_CTX_USER)) {
		n = nmi_dump_unwind(rec, n, &flags, tsk, regs);
		/*
		 * ORC marks retpoline thunks and entry code "end of stack"
		 * (UNWIND_HINT_EMPTY); TCG delivers NMIs at jump targets, so a spinner
		 * is often caught right at a thunk's first instruction. There the
		 * word at rsp is the caller's return address: go on from it.
		 */
		if (regs && n == 1 && nmi_dump_resync(regs)) {
			flags = NMI_DUMP_STACK_RESYNCED;
			rec->frames[n++] = this_cpu_ptr(&nmi_dump_resync_regs)->ip;
			n = nmi_dump_unwind(rec, n, &flags, tsk,
					    this_cpu_ptr(&nmi_dump_resync_regs));
		}
	}
	rec->nr_frames = n;
	rec->stack_flags = flags;
	rec->context = ctx;
}
NOKPROBE_SYMBOL(nmi_dump_fill);

static notrace void nmi_dump_answer(struct nmi_dump_snapshot *snap, struct pt_regs *regs, u32 extra)
{
	unsigned int cpu = smp_processor_id();
	struct nmi_dump_cpu *rec;

	if (!snap || cpu >= snap->nr_cpu_records)
		return;
	rec = nmi_dump_cpu_rec(snap, cpu);
	nmi_dump_fill(rec, regs);
	/* Readers trust the fields once ANSWERED is visible. */
	smp_wmb();
	WRITE_ONCE(rec->status, READ_ONCE(rec->status) | NMI_DUMP_CPU_ANSWERED | extra);
	atomic_inc(&nmi_dump_answered);
}
NOKPROBE_SYMBOL(nmi_dump_answer);

static notrace int nmi_dump_nmi_handler(unsigned int type, struct pt_regs *regs)
{
	atomic_t *req = this_cpu_ptr(&nmi_dump_request);
	int was;

	if (atomic_read(req) == REQ_NONE)
		return NMI_DONE;
	atomic_inc(&nmi_dump_writers);
	was = atomic_xchg(req, REQ_NONE);
	if (was == REQ_CAPTURE)
		nmi_dump_answer(READ_ONCE(nmi_dump_active), regs, 0);
	atomic_dec(&nmi_dump_writers);
	return was == REQ_NONE ? NMI_DONE : NMI_HANDLED;
}
NOKPROBE_SYMBOL(nmi_dump_nmi_handler);

/* Prepares the next slot and asks every online CPU but (optionally) this one. */
static notrace void nmi_dump_begin(u32 trigger, u32 timeout_ms, u32 stalled_cpu, u64 stall_ns,
				   bool include_self)
{
	struct nmi_dump_buffer_header *hdr = nmi_dump_buffer;
	unsigned int this_cpu = smp_processor_id();
	struct nmi_dump_snapshot *snap;
	struct nmi_dump_cpu *rec;
	u64 seq = hdr->write_seq;
	u32 cpu, requested = 0;

	snap = (void *)((char *)hdr + hdr->header_size + (seq % hdr->nr_slots) * hdr->slot_size);
	/* Mark the slot in progress before reusing it, so a dump never sees a mix. */
	WRITE_ONCE(snap->state, NMI_DUMP_STATE_CAPTURING);
	smp_wmb();
	WRITE_ONCE(hdr->write_seq, seq + 1);
	snap->rec.type = NMI_DUMP_REC_SNAPSHOT;
	snap->rec.size = sizeof(*snap);
	snap->seq = seq;
	snap->trigger = trigger;
	snap->initiator_cpu = this_cpu;
	snap->nr_cpu_records = hdr->nr_cpu_records;
	snap->nr_answered = 0;
	snap->start_ns = ktime_get_mono_fast_ns();
	snap->end_ns = 0;
	snap->realtime_ns = ktime_get_real_fast_ns();
	snap->timeout_ms = timeout_ms;
	snap->stalled_cpu = stalled_cpu;
	snap->stall_ns = stall_ns;
	cpumask_clear(&nmi_dump_ipi_mask);
	for (cpu = 0; cpu < hdr->nr_cpu_records; cpu++) {
		rec = nmi_dump_cpu_rec(snap, cpu);
		memset(rec, 0, sizeof(*rec));
		rec->rec.type = NMI_DUMP_REC_CPU;
		rec->rec.size = sizeof(*rec);
		rec->cpu = cpu;
		if (!cpu_online(cpu)) {
			rec->status = NMI_DUMP_CPU_OFFLINE;
			continue;
		}
		rec->status = NMI_DUMP_CPU_REQUESTED;
		requested++;
		if (cpu == this_cpu && !include_self)
			continue;
		cpumask_set_cpu(cpu, &nmi_dump_ipi_mask);
	}
	snap->nr_requested = requested;
	atomic_set(&nmi_dump_answered, 0);
	WRITE_ONCE(nmi_dump_active, snap);
	for_each_cpu(cpu, &nmi_dump_ipi_mask)
		atomic_set(per_cpu_ptr(&nmi_dump_request, cpu), REQ_CAPTURE);
	/* Requests and the slot must be visible before any NMI lands. */
	smp_mb();
	if (!cpumask_empty(&nmi_dump_ipi_mask))
		kstuck_send_nmi_ipi_mask(&nmi_dump_ipi_mask);
}
NOKPROBE_SYMBOL(nmi_dump_begin);

/* Gives up on silent CPUs, waits out writers, and completes the slot. */
static notrace void nmi_dump_finish(struct nmi_dump_result *res)
{
	struct nmi_dump_snapshot *snap = nmi_dump_active;
	struct nmi_dump_cpu *rec;
	u64 deadline;
	u32 cpu;

	for_each_cpu(cpu, &nmi_dump_ipi_mask) {
		if (atomic_cmpxchg(per_cpu_ptr(&nmi_dump_request, cpu), REQ_CAPTURE, REQ_LATE) ==
		    REQ_CAPTURE) {
			rec = nmi_dump_cpu_rec(snap, cpu);
			WRITE_ONCE(rec->status, READ_ONCE(rec->status) | NMI_DUMP_CPU_TIMED_OUT);
		}
	}
	/* A handler that took its request finishes within microseconds; bound it anyway. */
	deadline = ktime_get_mono_fast_ns() + 100 * NSEC_PER_MSEC;
	while (atomic_read(&nmi_dump_writers) && ktime_get_mono_fast_ns() < deadline)
		cpu_relax();
	snap->end_ns = ktime_get_mono_fast_ns();
	snap->nr_answered = atomic_read(&nmi_dump_answered);
	WRITE_ONCE(nmi_dump_active, NULL);
	smp_wmb();
	WRITE_ONCE(snap->state, NMI_DUMP_STATE_COMPLETE);
	if (res) {
		res->seq = snap->seq;
		res->nr_requested = snap->nr_requested;
		res->nr_answered = snap->nr_answered;
		res->duration_ns = snap->end_ns - snap->start_ns;
	}
}
NOKPROBE_SYMBOL(nmi_dump_finish);

static notrace bool nmi_dump_all_answered(void)
{
	return (u32)atomic_read(&nmi_dump_answered) >= READ_ONCE(nmi_dump_active)->nr_requested;
}
NOKPROBE_SYMBOL(nmi_dump_all_answered);

int nmi_dump_capture_sync(u32 trigger, u32 timeout_ms, u32 stalled_cpu, u64 stall_ns,
			  struct nmi_dump_result *res)
{
	u64 deadline, poll_until, now;
	int ret = 0;

	if (!nmi_dump_buffer)
		return -ENODEV;
	if (mutex_lock_interruptible(&nmi_dump_mutex))
		return -EINTR;
	/* An NMI- or panic-path capture may hold the buffer for at most its own bound. */
	deadline = ktime_get_mono_fast_ns() + 2ULL * KSTUCK_NMI_DUMP_ATOMIC_MAX_MS * NSEC_PER_MSEC;
	preempt_disable();
	while (atomic_cmpxchg(&nmi_dump_busy, -1, smp_processor_id()) != -1) {
		if (ktime_get_mono_fast_ns() > deadline) {
			ret = -EBUSY;
			break;
		}
		preempt_enable();
		usleep_range(100, 200);
		preempt_disable();
	}
	if (ret) {
		preempt_enable();
		goto out_unlock;
	}
	/* This CPU is NMI'd too: its record then shows the caller's stack like any other. */
	nmi_dump_begin(trigger, timeout_ms, stalled_cpu, stall_ns, true);
	preempt_enable();

	poll_until = READ_ONCE(nmi_dump_active)->start_ns + 20 * NSEC_PER_USEC;
	deadline = ktime_get_mono_fast_ns() + (u64)timeout_ms * NSEC_PER_MSEC;
	for (now = ktime_get_mono_fast_ns(); !nmi_dump_all_answered() && now < deadline;
	     now = ktime_get_mono_fast_ns()) {
		/*
		 * Bare-metal CPUs answer within microseconds: poll tightly that long, then
		 * sleep. Spinning longer steals the time of the CPUs we wait for wherever
		 * CPUs share hardware (a VM's vCPUs on fewer host CPUs, SMT siblings); in
		 * a 4-vCPU TCG guest on 2 host cores (bench/nmi), polling 2 ms took
		 * 1.8 ms a capture, polling 200 us 0.8-1.0 ms, polling 20 us 0.5 ms.
		 */
		if (now < poll_until)
			cpu_relax();
		else
			usleep_range(10, 20);
	}
	nmi_dump_finish(res);
	atomic_set(&nmi_dump_busy, -1);
out_unlock:
	mutex_unlock(&nmi_dump_mutex);
	return ret;
}

notrace int nmi_dump_capture_atomic(u32 trigger, struct pt_regs *regs, u32 timeout_ms,
				    struct nmi_dump_result *res)
{
	u64 deadline;

	if (!nmi_dump_buffer)
		return -ENODEV;
	if (timeout_ms > KSTUCK_NMI_DUMP_ATOMIC_MAX_MS)
		timeout_ms = KSTUCK_NMI_DUMP_ATOMIC_MAX_MS;
	if (atomic_cmpxchg(&nmi_dump_busy, -1, smp_processor_id()) != -1)
		return -EBUSY;
	nmi_dump_begin(trigger, timeout_ms, ~0u, 0, false);
	nmi_dump_answer(nmi_dump_active, regs, NMI_DUMP_CPU_SELF);
	deadline = ktime_get_mono_fast_ns() + (u64)timeout_ms * NSEC_PER_MSEC;
	while (!nmi_dump_all_answered() && ktime_get_mono_fast_ns() < deadline)
		cpu_relax();
	nmi_dump_finish(res);
	atomic_set(&nmi_dump_busy, -1);
	return 0;
}
NOKPROBE_SYMBOL(nmi_dump_capture_atomic);

notrace void nmi_dump_break_busy(void)
{
	atomic_set(&nmi_dump_writers, 0);
	atomic_set(&nmi_dump_busy, -1);
}
NOKPROBE_SYMBOL(nmi_dump_break_busy);

/* Copies the history to user space; serialized with process-context captures. */
int nmi_dump_copy_to_user(void __user *dst, u64 len, u64 *size)
{
	int ret = 0;

	*size = nmi_dump_buffer_size;
	if (len < nmi_dump_buffer_size)
		return -ENOSPC;
	if (mutex_lock_interruptible(&nmi_dump_mutex))
		return -EINTR;
	if (copy_to_user(dst, nmi_dump_buffer, nmi_dump_buffer_size))
		ret = -EFAULT;
	mutex_unlock(&nmi_dump_mutex);
	return ret;
}

int nmi_dump_init(void)
{
	struct nmi_dump_buffer_header *hdr;
	u32 nr_cpus = nr_cpu_ids, header_size, slot_size;
	int ret;

	BUILD_BUG_ON(sizeof(struct nmi_dump_buffer_header) != NMI_DUMP_BUFFER_HEADER_SIZE);
	BUILD_BUG_ON(sizeof(struct nmi_dump_snapshot) != NMI_DUMP_SNAPSHOT_SIZE);
	BUILD_BUG_ON(sizeof(struct nmi_dump_cpu) != NMI_DUMP_CPU_SIZE);
	BUILD_BUG_ON(sizeof(struct pt_regs) != NMI_DUMP_NR_REGS * sizeof(u64));
	BUILD_BUG_ON(offsetof(struct pt_regs, ip) != NMI_DUMP_REG_RIP * sizeof(u64));
	BUILD_BUG_ON(offsetof(struct pt_regs, ss) != NMI_DUMP_REG_SS * sizeof(u64));
	BUILD_BUG_ON(offsetof(struct nmi_dump_cpu, frames) % 8);
	BUILD_BUG_ON(sizeof(((struct task_struct *)0)->comm) != NMI_DUMP_COMM_LEN);

	if (nmi_history < 1 || nmi_history > 1024) {
		pr_err("nmi_history=%u out of range 1-1024\n", nmi_history);
		return -EINVAL;
	}
	header_size = ALIGN(sizeof(*hdr), 64);
	slot_size = nmi_dump_slot_size(nr_cpus);
	nmi_dump_buffer_size = header_size + (u64)nmi_history * slot_size;
	/* Preallocated and zeroed: a never-used slot reads as NMI_DUMP_REC_END. */
	hdr = vzalloc(nmi_dump_buffer_size);
	if (!hdr)
		return -ENOMEM;
	hdr->major = NMI_DUMP_FORMAT_MAJOR;
	hdr->minor = NMI_DUMP_FORMAT_MINOR;
	hdr->header_size = header_size;
	hdr->slot_size = slot_size;
	hdr->nr_slots = nmi_history;
	hdr->nr_cpu_records = nr_cpus;
	hdr->max_frames = NMI_DUMP_MAX_FRAMES;
	hdr->buffer_size = nmi_dump_buffer_size;
	hdr->self_kaddr = (unsigned long)hdr;
	hdr->load_realtime_ns = ktime_get_real_fast_ns();
	hdr->load_mono_ns = ktime_get_mono_fast_ns();
	smp_wmb();
	hdr->magic = NMI_DUMP_MAGIC;
	nmi_dump_buffer = hdr;

	ret = register_nmi_handler(NMI_LOCAL, nmi_dump_nmi_handler, 0, "kstuck_nmi");
	if (ret)
		goto out_free;
	nmi_dump_handler_registered = true;
	ret = nmi_dump_triggers_init();
	if (ret)
		goto out_unregister_nmi;
	pr_info("history of %u snapshots x %u CPUs, %llu bytes at %px\n", nmi_history, nr_cpus,
		nmi_dump_buffer_size, hdr);
	return 0;

out_unregister_nmi:
	unregister_nmi_handler(NMI_LOCAL, "kstuck_nmi");
	nmi_dump_handler_registered = false;
out_free:
	nmi_dump_buffer = NULL;
	vfree(hdr);
	return ret;
}

void nmi_dump_exit(void)
{
	unsigned int cpu;

	nmi_dump_triggers_exit();
	/* Late NMIs after this point find REQ_NONE; they are the kernel's to report. */
	for_each_possible_cpu(cpu)
		atomic_set(per_cpu_ptr(&nmi_dump_request, cpu), REQ_NONE);
	if (nmi_dump_handler_registered)
		/* Waits for running handlers. */
		unregister_nmi_handler(NMI_LOCAL, "kstuck_nmi");
	nmi_dump_handler_registered = false;
	vfree(nmi_dump_buffer);
	nmi_dump_buffer = NULL;
}
