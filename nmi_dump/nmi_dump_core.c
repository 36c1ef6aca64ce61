// SPDX-License-Identifier: GPL-2.0
/*
 * The NMI collector's core: the preallocated snapshot history and the NMI_LOCAL
 * handler that saves each CPU's interrupted state into it, plus the three capture
 * paths (process context; external NMI; panic).
 *
 * Concurrency: one capture at a time owns the buffer (nmi_dump_busy). No capture needs
 * its initiator to end it: nmi_dump_pending counts the records still to come plus the
 * initiator's own hold, and whoever drops it to zero completes the slot and frees the
 * buffer: the initiator, the last CPU to answer (in its NMI handler), or whoever
 * expires the capture once its deadline passed (a later capture, the read ioctl, the
 * panic path). So nothing waits in NMI context, and a panic can end a capture whose
 * initiator it stopped. Process-context callers queue on nmi_dump_mutex first.
 *
 * Per CPU:
 *   nmi_dump_request  REQ_CAPTURE while a capture wants this CPU's record; taken by the
 *                     CPU's NMI handler (it answers) or by an expirer (timed out)
 *   nmi_dump_owed     NMIs kstuck sent this CPU that have not arrived: one arriving
 *                     after its capture ended is swallowed (NMI_HANDLED) rather than
 *                     reported as unknown. Owed NMIs expire NMI_DUMP_OWED_GRACE_NS after
 *                     their capture's deadline (x86 merges NMIs that arrive while one is
 *                     being handled), so a lost one never hides a real external NMI
 *                     from the kernel's unknown-NMI policy.
 *
 * History policy: with nmi_pin_first (and nmi_history >= 2), slot 0 keeps the first
 * snapshot an external NMI, the watchdog or a panic took (the hang's first sign) for
 * as long as the module is loaded; every other snapshot rotates through slots 1..n-1.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": nmi: " fmt

#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/hardirq.h>
#include <linux/irq_work.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
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
static bool nmi_pin_first = true;
module_param(nmi_pin_first, bool, 0444);
MODULE_PARM_DESC(nmi_pin_first,
		 "keep the first external-NMI, watchdog or panic snapshot in slot 0 for good "
		 "(default 1; needs nmi_history >= 2)");

enum { REQ_NONE = 0, REQ_CAPTURE = 1 };
/* How long after its capture's deadline an NMI kstuck sent may still arrive. */
#define NMI_DUMP_OWED_GRACE_NS	(1000 * NSEC_PER_MSEC)

/* Found in a vmcore through the module's symbols: see nmi_dump_record.h. */
struct nmi_dump_buffer_header *nmi_dump_buffer;
u64 nmi_dump_buffer_size;

static DEFINE_PER_CPU(atomic_t, nmi_dump_request);
static DEFINE_PER_CPU(atomic_t, nmi_dump_owed);
static DEFINE_PER_CPU(u64, nmi_dump_owed_until);
/* Per CPU, not on the 4 KiB NMI stack; NMI handlers never nest on one CPU. */
static DEFINE_PER_CPU(struct pt_regs, nmi_dump_resync_regs);
static atomic_t nmi_dump_busy = ATOMIC_INIT(0);		/* 1: a capture owns the buffer */
static atomic_t nmi_dump_pending = ATOMIC_INIT(0);	/* records to come + initiator's hold */
static atomic_t nmi_dump_answered = ATOMIC_INIT(0);
static atomic_t nmi_dump_generation = ATOMIC_INIT(0);	/* +1 at each begin and completion */
static struct nmi_dump_snapshot *nmi_dump_active;	/* slot being filled, or NULL */
static u64 nmi_dump_deadline_ns;			/* of the capture in flight */
static struct cpumask nmi_dump_ipi_mask;		/* owned by the capture in flight */
static u64 nmi_dump_rotation;				/* snapshots put in rotating slots */
static atomic64_t nmi_dump_unknown_counts[4];		/* enum nmi_dump_unknown_event */
static DEFINE_MUTEX(nmi_dump_mutex);
static bool nmi_dump_handler_registered;
/*
 * An on-demand capture sleeps until its last answer. The NMI that completes it cannot
 * wake a task, but it can queue an irq_work on its own CPU, which runs as soon as that
 * CPU takes interrupts again. A CPU spinning with IRQs off would never run it: such a
 * last answerer NMIs the waiter's CPU instead (a kick), whose handler queues it there.
 */
static bool nmi_dump_sync_waiting;
static unsigned int nmi_dump_waiter_cpu;
static DEFINE_PER_CPU(atomic_t, nmi_dump_kick);
static DECLARE_WAIT_QUEUE_HEAD(nmi_dump_waitq);
static struct irq_work nmi_dump_wake_work;

static void nmi_dump_wake_waiter(struct irq_work *work)
{
	wake_up(&nmi_dump_waitq);
}

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

/* A retpoline thunk is 32 bytes: its inner call returns at most that far below ip. */
#define NMI_DUMP_THUNK_BYTES	32

/*
 * Prepares this CPU's nmi_dump_resync_regs as if the function at regs->ip had just
 * returned to the word at regs->sp. Past a retpoline thunk's own inner call
 * ("call .Ldo_rop; ... .Ldo_rop: mov %reg, (%rsp)"), a jump target where TCG delivers
 * NMIs too, that word returns into the thunk a few bytes below ip, and the caller's
 * return address is the next word. False when the word is unreadable or cannot be
 * kernel or module text; the unwinder validates the rest through its ORC lookup.
 */
static notrace bool nmi_dump_resync(struct pt_regs *regs)
{
	struct pt_regs *fake = this_cpu_ptr(&nmi_dump_resync_regs);
	unsigned long sp = regs->sp, ret;

	if (copy_from_kernel_nofault(&ret, (void *)sp, sizeof(ret)))
		return false;
	if (ret <= regs->ip && regs->ip - ret < NMI_DUMP_THUNK_BYTES) {
		sp += sizeof(ret);
		if (copy_from_kernel_nofault(&ret, (void *)sp, sizeof(ret)))
			return false;
	}
	if (ret < __START_KERNEL_map || ret >= MODULES_END)
		return false;
	*fake = *regs;
	fake->ip = ret;
	fake->sp = sp + sizeof(ret);
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
	else if (regs && in_hardirq())
		pc -= HARDIRQ_OFFSET;	/* the watchdog's timer interrupt, with its regs */
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
		 * (UNWIND_HINT_EMPTY; 6.4+: undefined); TCG delivers NMIs at jump
		 * targets, so a spinner is often caught in a thunk, at its first
		 * instruction or past its inner call: go on from the caller's return
		 * address (nmi_dump_resync).
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

static notrace struct nmi_dump_snapshot *nmi_dump_slot(u32 index)
{
	struct nmi_dump_buffer_header *hdr = nmi_dump_buffer;

	return (void *)((char *)hdr + hdr->header_size + (u64)index * hdr->slot_size);
}
NOKPROBE_SYMBOL(nmi_dump_slot);

/* The slot of the next snapshot (called by the buffer's owner). */
static notrace u32 nmi_dump_pick_slot(u32 trigger)
{
	struct nmi_dump_buffer_header *hdr = nmi_dump_buffer;

	if (hdr->pinned_slots && trigger != NMI_DUMP_TRIGGER_ON_DEMAND &&
	    READ_ONCE(nmi_dump_slot(0)->state) == NMI_DUMP_STATE_EMPTY)
		return 0;
	return hdr->pinned_slots + nmi_dump_rotation++ % (hdr->nr_slots - hdr->pinned_slots);
}
NOKPROBE_SYMBOL(nmi_dump_pick_slot);

static notrace void nmi_dump_answer(struct nmi_dump_snapshot *snap, struct pt_regs *regs, u32 extra)
{
	unsigned int cpu = smp_processor_id();
	struct nmi_dump_cpu *rec;

	if (cpu >= snap->nr_cpu_records)
		return;
	rec = nmi_dump_cpu_rec(snap, cpu);
	nmi_dump_fill(rec, regs);
	/* Readers trust the fields once ANSWERED is visible. */
	smp_wmb();
	WRITE_ONCE(rec->status, READ_ONCE(rec->status) | NMI_DUMP_CPU_ANSWERED | extra);
	atomic_inc(&nmi_dump_answered);
}
NOKPROBE_SYMBOL(nmi_dump_answer);

/* NMIs the waiting capture's CPU, whose handler wakes the waiter (nmi_dump_nmi_handler). */
static notrace void nmi_dump_kick_waiter(void)
{
	unsigned int cpu = READ_ONCE(nmi_dump_waiter_cpu);

	if (cpu == smp_processor_id() || !cpu_online(cpu))
		return;
	/* Owed like a capture's NMI, so the handler claims it even when it comes late. */
	WRITE_ONCE(per_cpu(nmi_dump_owed_until, cpu),
		   ktime_get_mono_fast_ns() + NMI_DUMP_OWED_GRACE_NS);
	atomic_inc(per_cpu_ptr(&nmi_dump_owed, cpu));
	atomic_set(per_cpu_ptr(&nmi_dump_kick, cpu), 1);
	smp_mb();
	kstuck_send_nmi_ipi_mask(cpumask_of(cpu));
}
NOKPROBE_SYMBOL(nmi_dump_kick_waiter);

/*
 * Ends the capture in flight: run once, by whoever dropped nmi_dump_pending to zero.
 * can_wake: this context (or the one an NMI interrupted) takes interrupts when it
 * resumes, so an irq_work queued here runs at once; otherwise (a CPU spinning with IRQs
 * off) the waiter's CPU is kicked, and the waiter's own bounded sleep covers the rest.
 */
static notrace void nmi_dump_complete(bool can_wake)
{
	struct nmi_dump_snapshot *snap = READ_ONCE(nmi_dump_active);

	if (snap) {
		snap->end_ns = ktime_get_mono_fast_ns();
		snap->nr_answered = atomic_read(&nmi_dump_answered);
		smp_wmb();
		WRITE_ONCE(snap->state, NMI_DUMP_STATE_COMPLETE);
	}
	WRITE_ONCE(nmi_dump_active, NULL);
	atomic_inc(&nmi_dump_generation);
	/* Before the buffer is free: the next capture may not reuse the kick's CPU state. */
	if (READ_ONCE(nmi_dump_sync_waiting)) {
		if (can_wake)
			irq_work_queue(&nmi_dump_wake_work);
		else
			nmi_dump_kick_waiter();
	}
	/* The slot is complete before the buffer is free. */
	smp_mb__before_atomic();
	atomic_set(&nmi_dump_busy, 0);
}
NOKPROBE_SYMBOL(nmi_dump_complete);

static notrace void nmi_dump_put_from(bool can_wake)
{
	if (atomic_dec_and_test(&nmi_dump_pending))
		nmi_dump_complete(can_wake);
}
NOKPROBE_SYMBOL(nmi_dump_put_from);

/* Outside NMI context an irq_work runs once this CPU takes interrupts again. */
static notrace void nmi_dump_put(void)
{
	nmi_dump_put_from(!in_nmi());
}
NOKPROBE_SYMBOL(nmi_dump_put);

/*
 * Gives up on the CPUs that have not answered the capture in flight, once its deadline
 * passed (or at once with force). Any context; never waits: a CPU that already took its
 * request finishes its record and completes the capture if it is the last.
 */
static notrace void nmi_dump_expire(bool force)
{
	struct nmi_dump_snapshot *snap = READ_ONCE(nmi_dump_active);
	struct nmi_dump_cpu *rec;
	u32 cpu;

	if (!snap)
		return;
	if (!force && ktime_get_mono_fast_ns() < READ_ONCE(nmi_dump_deadline_ns))
		return;
	/* A hold, so the capture cannot complete (and its mask be reused) under us. */
	if (!atomic_inc_not_zero(&nmi_dump_pending))
		return;
	if (READ_ONCE(nmi_dump_active) == snap) {
		for_each_cpu(cpu, &nmi_dump_ipi_mask) {
			if (atomic_cmpxchg(per_cpu_ptr(&nmi_dump_request, cpu), REQ_CAPTURE,
					   REQ_NONE) != REQ_CAPTURE)
				continue;
			rec = nmi_dump_cpu_rec(snap, cpu);
			WRITE_ONCE(rec->status, READ_ONCE(rec->status) | NMI_DUMP_CPU_TIMED_OUT);
			atomic_dec(&nmi_dump_pending);	/* never the last: we hold one */
		}
	}
	nmi_dump_put();
}
NOKPROBE_SYMBOL(nmi_dump_expire);

static notrace int nmi_dump_nmi_handler(unsigned int type, struct pt_regs *regs)
{
	atomic_t *req = this_cpu_ptr(&nmi_dump_request);
	atomic_t *owed = this_cpu_ptr(&nmi_dump_owed);
	struct nmi_dump_snapshot *snap;
	bool ours = false;

	if (!atomic_read(owed) && atomic_read(req) == REQ_NONE)
		return NMI_DONE;
	if (atomic_read(owed)) {
		if (ktime_get_mono_fast_ns() <= READ_ONCE(*this_cpu_ptr(&nmi_dump_owed_until)))
			ours = atomic_dec_if_positive(owed) >= 0;
		else
			atomic_set(owed, 0);	/* merged into another NMI: never coming */
	}
	if (atomic_cmpxchg(req, REQ_CAPTURE, REQ_NONE) == REQ_CAPTURE) {
		snap = READ_ONCE(nmi_dump_active);
		if (snap)
			nmi_dump_answer(snap, regs, 0);
		nmi_dump_put_from(regs->flags & X86_EFLAGS_IF);
		ours = true;
	}
	/* A kick (nmi_dump_kick_waiter): claimed as owed above; wake the waiter from here. */
	if (atomic_xchg(this_cpu_ptr(&nmi_dump_kick), 0) && (regs->flags & X86_EFLAGS_IF))
		irq_work_queue(&nmi_dump_wake_work);
	return ours ? NMI_HANDLED : NMI_DONE;
}
NOKPROBE_SYMBOL(nmi_dump_nmi_handler);

/*
 * Prepares the next slot, publishes it and NMIs the CPUs asked (all but this one unless
 * include_self). Called by the buffer's owner with preemption off; the capture holds
 * one reference for the caller, dropped with nmi_dump_put().
 */
static notrace struct nmi_dump_snapshot *nmi_dump_begin(u32 trigger, u32 timeout_ms,
							u32 stalled_cpu, u64 stall_ns,
							bool include_self)
{
	struct nmi_dump_buffer_header *hdr = nmi_dump_buffer;
	unsigned int this_cpu = smp_processor_id();
	bool panic = trigger == NMI_DUMP_TRIGGER_PANIC;
	struct nmi_dump_snapshot *snap;
	struct nmi_dump_cpu *rec;
	u64 seq = hdr->write_seq, now, owed_until;
	u32 cpu, requested = 0;

	snap = nmi_dump_slot(nmi_dump_pick_slot(trigger));
	/* Mark the slot in progress before reusing it, so a dump never sees a mix. */
	WRITE_ONCE(snap->state, NMI_DUMP_STATE_CAPTURING);
	atomic_inc(&nmi_dump_generation);
	smp_wmb();
	WRITE_ONCE(hdr->write_seq, seq + 1);
	now = ktime_get_mono_fast_ns();
	snap->rec.type = NMI_DUMP_REC_SNAPSHOT;
	snap->rec.size = sizeof(*snap);
	snap->seq = seq;
	snap->trigger = trigger;
	snap->initiator_cpu = this_cpu;
	snap->nr_cpu_records = hdr->nr_cpu_records;
	snap->nr_answered = 0;
	snap->start_ns = now;
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
		/*
		 * At panic the kernel stopped the other CPUs before the notifiers ran:
		 * stop_this_cpu() took them out of the online mask, not the active one.
		 */
		if (!cpu_online(cpu) && !(panic && cpu_active(cpu))) {
			rec->status = NMI_DUMP_CPU_OFFLINE;
			continue;
		}
		rec->status = NMI_DUMP_CPU_REQUESTED;
		if (panic && cpu != this_cpu)
			rec->status |= NMI_DUMP_CPU_STOPPED;
		requested++;
		if (cpu == this_cpu && !include_self)
			continue;
		cpumask_set_cpu(cpu, &nmi_dump_ipi_mask);
	}
	snap->nr_requested = requested;
	atomic_set(&nmi_dump_answered, 0);
	atomic_set(&nmi_dump_pending, 1 + cpumask_weight(&nmi_dump_ipi_mask));
	WRITE_ONCE(nmi_dump_deadline_ns, now + (u64)timeout_ms * NSEC_PER_MSEC);
	owed_until = now + (u64)timeout_ms * NSEC_PER_MSEC + NMI_DUMP_OWED_GRACE_NS;
	/* The slot and its counts before anyone can take a request. */
	smp_wmb();
	WRITE_ONCE(nmi_dump_active, snap);
	for_each_cpu(cpu, &nmi_dump_ipi_mask) {
		WRITE_ONCE(per_cpu(nmi_dump_owed_until, cpu), owed_until);
		atomic_inc(per_cpu_ptr(&nmi_dump_owed, cpu));
		atomic_set(per_cpu_ptr(&nmi_dump_request, cpu), REQ_CAPTURE);
	}
	/* Requests and the slot must be visible before any NMI lands. */
	smp_mb();
	if (!cpumask_empty(&nmi_dump_ipi_mask))
		kstuck_send_nmi_ipi_mask(&nmi_dump_ipi_mask);
	return snap;
}
NOKPROBE_SYMBOL(nmi_dump_begin);

/* Whether the capture of snapshot seq in snap has ended (or its slot moved on). */
static notrace bool nmi_dump_ended(struct nmi_dump_snapshot *snap, u64 seq)
{
	return READ_ONCE(snap->state) == NMI_DUMP_STATE_COMPLETE || READ_ONCE(snap->seq) != seq;
}
NOKPROBE_SYMBOL(nmi_dump_ended);

int nmi_dump_capture_sync(u32 trigger, u32 timeout_ms, u32 stalled_cpu, u64 stall_ns,
			  struct nmi_dump_result *res)
{
	struct nmi_dump_snapshot *snap;
	u64 deadline, poll_until, now, seq;
	int ret = 0;

	if (!nmi_dump_buffer)
		return -ENODEV;
	if (mutex_lock_interruptible(&nmi_dump_mutex))
		return -EINTR;
	/* An external-NMI capture in flight ends when its CPUs answer or its bound expires. */
	deadline = ktime_get_mono_fast_ns() + 2ULL * KSTUCK_NMI_DUMP_ATOMIC_MAX_MS * NSEC_PER_MSEC;
	while (atomic_cmpxchg(&nmi_dump_busy, 0, 1) != 0) {
		nmi_dump_expire(false);
		if (ktime_get_mono_fast_ns() > deadline) {
			ret = -EBUSY;
			goto out_unlock;
		}
		usleep_range(100, 200);
	}
	WRITE_ONCE(nmi_dump_sync_waiting, true);
	preempt_disable();
	WRITE_ONCE(nmi_dump_waiter_cpu, smp_processor_id());
	/* This CPU is NMI'd too: its record then shows the caller's stack like any other. */
	snap = nmi_dump_begin(trigger, timeout_ms, stalled_cpu, stall_ns, true);
	seq = snap->seq;
	poll_until = snap->start_ns + 20 * NSEC_PER_USEC;
	nmi_dump_put();		/* the initiator writes no record of its own */
	preempt_enable();

	deadline = ktime_get_mono_fast_ns() + (u64)timeout_ms * NSEC_PER_MSEC;
	for (now = ktime_get_mono_fast_ns(); !nmi_dump_ended(snap, seq) && now < deadline;
	     now = ktime_get_mono_fast_ns()) {
		/*
		 * Bare-metal CPUs answer within microseconds: poll tightly that long, then
		 * sleep. Spinning longer steals the time of the CPUs we wait for wherever
		 * CPUs share hardware (a VM's vCPUs on fewer host CPUs, SMT siblings); in
		 * a 4-vCPU TCG guest on 2 host cores (bench/nmi), polling 2 ms took
		 * 1.8 ms a capture. The last answer wakes the sleep (nmi_dump_complete);
		 * the 200 us bound covers a last answer from a CPU with IRQs off.
		 */
		if (now < poll_until)
			cpu_relax();
		else
			wait_event_hrtimeout(nmi_dump_waitq, nmi_dump_ended(snap, seq),
					     ns_to_ktime(min_t(u64, deadline - now,
							       200 * NSEC_PER_USEC)));
	}
	if (!nmi_dump_ended(snap, seq)) {
		nmi_dump_expire(true);
		/* A CPU that took its request finishes within microseconds; bound it anyway. */
		deadline = ktime_get_mono_fast_ns() + 100 * NSEC_PER_MSEC;
		while (!nmi_dump_ended(snap, seq) && ktime_get_mono_fast_ns() < deadline)
			usleep_range(10, 20);
	}
	WRITE_ONCE(nmi_dump_sync_waiting, false);
	if (res) {
		res->seq = seq;
		res->nr_requested = READ_ONCE(snap->nr_requested);
		res->nr_answered = READ_ONCE(snap->nr_answered);
		res->duration_ns = READ_ONCE(snap->end_ns) ?
			READ_ONCE(snap->end_ns) - READ_ONCE(snap->start_ns) : 0;
	}
out_unlock:
	mutex_unlock(&nmi_dump_mutex);
	return ret;
}

notrace int nmi_dump_capture_atomic(u32 trigger, struct pt_regs *regs, u32 timeout_ms,
				    u32 stalled_cpu, u64 stall_ns, struct nmi_dump_result *res)
{
	struct nmi_dump_snapshot *snap;
	u64 deadline, seq;

	if (!nmi_dump_buffer)
		return -ENODEV;
	if (timeout_ms > KSTUCK_NMI_DUMP_ATOMIC_MAX_MS)
		timeout_ms = KSTUCK_NMI_DUMP_ATOMIC_MAX_MS;
	if (atomic_cmpxchg(&nmi_dump_busy, 0, 1) != 0) {
		nmi_dump_expire(false);
		if (atomic_cmpxchg(&nmi_dump_busy, 0, 1) != 0)
			return -EBUSY;
	}
	snap = nmi_dump_begin(trigger, timeout_ms, stalled_cpu, stall_ns, false);
	seq = snap->seq;
	nmi_dump_answer(snap, regs, NMI_DUMP_CPU_SELF);
	nmi_dump_put();
	if (!res)
		return 0;
	/* The caller wants the outcome: it may wait up to wait_ms (never from NMI context). */
	deadline = ktime_get_mono_fast_ns() + (u64)res->wait_ms * NSEC_PER_MSEC;
	while (!nmi_dump_ended(snap, seq) && ktime_get_mono_fast_ns() < deadline)
		cpu_relax();
	res->seq = seq;
	res->nr_requested = READ_ONCE(snap->nr_requested);
	res->nr_answered = nmi_dump_ended(snap, seq) && READ_ONCE(snap->seq) == seq ?
			   READ_ONCE(snap->nr_answered) : atomic_read(&nmi_dump_answered);
	return 0;
}
NOKPROBE_SYMBOL(nmi_dump_capture_atomic);

notrace void nmi_dump_capture_panic(u32 timeout_ms)
{
	struct nmi_dump_snapshot *snap;
	u64 deadline, seq;

	if (!nmi_dump_buffer)
		return;
	if (timeout_ms > KSTUCK_NMI_DUMP_ATOMIC_MAX_MS)
		timeout_ms = KSTUCK_NMI_DUMP_ATOMIC_MAX_MS;
	/*
	 * A capture in flight will get no more answers (its CPUs are stopped, maybe its
	 * initiator too): end it now. A CPU still writing its record finishes within
	 * microseconds. Still owned after the bound, its owner was stopped between taking
	 * the buffer and publishing the slot: it runs no more, so take the buffer over.
	 */
	deadline = ktime_get_mono_fast_ns() + 100 * NSEC_PER_MSEC;
	while (atomic_cmpxchg(&nmi_dump_busy, 0, 1) != 0) {
		nmi_dump_expire(true);
		if (ktime_get_mono_fast_ns() > deadline) {
			WRITE_ONCE(nmi_dump_active, NULL);
			break;
		}
		cpu_relax();
	}
	snap = nmi_dump_begin(NMI_DUMP_TRIGGER_PANIC, timeout_ms, ~0u, 0, false);
	seq = snap->seq;
	nmi_dump_answer(snap, NULL, NMI_DUMP_CPU_SELF);
	nmi_dump_put();
	deadline = ktime_get_mono_fast_ns() + (u64)timeout_ms * NSEC_PER_MSEC;
	while (!nmi_dump_ended(snap, seq) && ktime_get_mono_fast_ns() < deadline)
		cpu_relax();
	nmi_dump_expire(true);
	deadline = ktime_get_mono_fast_ns() + 10 * NSEC_PER_MSEC;
	while (!nmi_dump_ended(snap, seq) && ktime_get_mono_fast_ns() < deadline)
		cpu_relax();
}
NOKPROBE_SYMBOL(nmi_dump_capture_panic);

notrace void nmi_dump_count_unknown(enum nmi_dump_unknown_event event)
{
	struct nmi_dump_buffer_header *hdr = READ_ONCE(nmi_dump_buffer);
	s64 n = atomic64_inc_return(&nmi_dump_unknown_counts[event]);

	if (!hdr)
		return;
	/* A mirror for readers of the buffer and of a vmcore. */
	switch (event) {
	case NMI_DUMP_UNKNOWN_SEEN:
		WRITE_ONCE(hdr->unknown_nmis, n);
		break;
	case NMI_DUMP_UNKNOWN_CAPTURED:
		WRITE_ONCE(hdr->unknown_captured, n);
		break;
	case NMI_DUMP_UNKNOWN_RATELIMITED:
		WRITE_ONCE(hdr->unknown_ratelimited, n);
		break;
	case NMI_DUMP_UNKNOWN_BUSY:
		WRITE_ONCE(hdr->unknown_busy, n);
		break;
	}
}
NOKPROBE_SYMBOL(nmi_dump_count_unknown);

/*
 * Copies the history to user space. The copy is taken into a bounce buffer while no
 * capture begins or ends (a generation count, retried a few times; a slot still being
 * written after that is copied as it is and says CAPTURING), then copied out with no
 * lock held: a slow or faulting user buffer never delays a watchdog capture.
 */
int nmi_dump_copy_to_user(void __user *dst, u64 len, u64 *size)
{
	void *copy;
	int tries, gen, ret = 0;

	*size = nmi_dump_buffer_size;
	if (len < nmi_dump_buffer_size)
		return -ENOSPC;
	copy = kvmalloc(nmi_dump_buffer_size, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	for (tries = 0; tries < 20; tries++) {
		nmi_dump_expire(false);
		gen = atomic_read(&nmi_dump_generation);
		smp_rmb();
		if (!atomic_read(&nmi_dump_busy)) {
			memcpy(copy, nmi_dump_buffer, nmi_dump_buffer_size);
			smp_rmb();
			if (atomic_read(&nmi_dump_generation) == gen)
				break;
		}
		usleep_range(200, 400);
	}
	if (tries == 20)
		memcpy(copy, nmi_dump_buffer, nmi_dump_buffer_size);
	if (copy_to_user(dst, copy, nmi_dump_buffer_size))
		ret = -EFAULT;
	kvfree(copy);
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
	init_irq_work(&nmi_dump_wake_work, nmi_dump_wake_waiter);
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
	hdr->pinned_slots = nmi_pin_first && nmi_history >= 2;
	smp_wmb();
	hdr->magic = NMI_DUMP_MAGIC;
	nmi_dump_buffer = hdr;

	/*
	 * Run the record path once now, from process context: under a binary translator
	 * (QEMU TCG) its first run pays the translation of the unwinder, which would
	 * otherwise land in the first NMI (176 ms measured on a loaded host).
	 */
	preempt_disable();
	nmi_dump_fill(nmi_dump_cpu_rec(nmi_dump_slot(0), 0), NULL);
	memset(nmi_dump_cpu_rec(nmi_dump_slot(0), 0), 0, sizeof(struct nmi_dump_cpu));
	preempt_enable();

	ret = register_nmi_handler(NMI_LOCAL, nmi_dump_nmi_handler, 0, "kstuck_nmi");
	if (ret)
		goto out_free;
	nmi_dump_handler_registered = true;
	ret = nmi_dump_triggers_init();
	if (ret)
		goto out_unregister_nmi;
	/* No address in the log: %px would print a kernel pointer (the dump has it). */
	pr_info("history of %u snapshots x %u CPUs, %llu bytes%s\n", nmi_history, nr_cpus,
		nmi_dump_buffer_size, hdr->pinned_slots ? ", slot 0 keeps the first hang snapshot" : "");
	return 0;

out_unregister_nmi:
	unregister_nmi_handler(NMI_LOCAL, "kstuck_nmi");
	nmi_dump_handler_registered = false;
out_free:
	nmi_dump_buffer = NULL;
	vfree(hdr);
	return ret;
}

/*
 * Whether an NMI kstuck sent may still be on its way somewhere. Once the handler is
 * unregistered, such an NMI would reach the kernel as an unknown NMI (and panic it
 * with unknown_nmi_panic).
 */
static bool nmi_dump_nmis_owed(unsigned int *cpu_out)
{
	u64 now = ktime_get_mono_fast_ns();
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		if (atomic_read(per_cpu_ptr(&nmi_dump_owed, cpu)) &&
		    now <= READ_ONCE(per_cpu(nmi_dump_owed_until, cpu))) {
			*cpu_out = cpu;
			return true;
		}
	}
	return false;
}

void nmi_dump_exit(void)
{
	unsigned int cpu = 0;
	u64 deadline;

	nmi_dump_triggers_exit();
	if (nmi_dump_buffer) {
		/* No capture starts any more (the device and the triggers are gone). */
		mutex_lock(&nmi_dump_mutex);
		deadline = ktime_get_mono_fast_ns() +
			   (2ULL * KSTUCK_NMI_DUMP_ATOMIC_MAX_MS) * NSEC_PER_MSEC + NMI_DUMP_OWED_GRACE_NS;
		while ((atomic_read(&nmi_dump_busy) || nmi_dump_nmis_owed(&cpu)) &&
		       ktime_get_mono_fast_ns() < deadline) {
			nmi_dump_expire(false);
			msleep(5);
		}
		if (atomic_read(&nmi_dump_busy) || nmi_dump_nmis_owed(&cpu))
			pr_warn("unloading with an NMI still owed to CPU %u: the kernel may report it as unknown\n",
				cpu);
		mutex_unlock(&nmi_dump_mutex);
	}
	for_each_possible_cpu(cpu)
		atomic_set(per_cpu_ptr(&nmi_dump_request, cpu), REQ_NONE);
	if (nmi_dump_handler_registered)
		/* Waits for running handlers. */
		unregister_nmi_handler(NMI_LOCAL, "kstuck_nmi");
	nmi_dump_handler_registered = false;
	/* Queued only where it runs at once (nmi_dump_complete): this wait is short. */
	irq_work_sync(&nmi_dump_wake_work);
	vfree(nmi_dump_buffer);
	nmi_dump_buffer = NULL;
}
