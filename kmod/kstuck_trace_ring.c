// SPDX-License-Identifier: GPL-2.0
/* Per-CPU event rings of a trace session: preallocated, lock-free, nesting-safe. */
#include <linux/cpumask.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmod/kstuck_trace_ring.h"

struct kstuck_rings {
	struct kstuck_ring __percpu *pcpu;
};

struct kstuck_rings *kstuck_rings_alloc(unsigned int events_per_cpu)
{
	struct kstuck_rings *rings;
	int cpu;

	rings = kzalloc(sizeof(*rings), GFP_KERNEL);
	if (!rings)
		return NULL;
	rings->pcpu = alloc_percpu(struct kstuck_ring);
	if (!rings->pcpu)
		goto out_free_rings;
	for_each_possible_cpu(cpu) {
		struct kstuck_ring *r = per_cpu_ptr(rings->pcpu, cpu);

		local_set(&r->head, 0);
		local_set(&r->lost, 0);
		r->tail = 0;
		r->mask = events_per_cpu - 1;
		r->slots = kvcalloc(events_per_cpu, sizeof(*r->slots), GFP_KERNEL);
		if (!r->slots)
			goto out_free_slots;
	}
	return rings;

out_free_slots:
	kstuck_rings_free(rings);
	return NULL;
out_free_rings:
	kfree(rings);
	return NULL;
}

void kstuck_rings_free(struct kstuck_rings *rings)
{
	int cpu;

	if (!rings)
		return;
	for_each_possible_cpu(cpu)
		kvfree(per_cpu_ptr(rings->pcpu, cpu)->slots);
	free_percpu(rings->pcpu);
	kfree(rings);
}

/*
 * Called from probes, maybe in NMI: no locks, no tracing of ourselves. A nested writer
 * (an interrupt or NMI on top of a writer) simply reserves the next position; the
 * reader waits for the outer writer's commit before it reads past it.
 */
notrace struct kstuck_trace_event *kstuck_ring_reserve(struct kstuck_rings *rings, unsigned long *pos)
{
	struct kstuck_ring *r = this_cpu_ptr(rings->pcpu);
	unsigned long head;

	for (;;) {
		head = local_read(&r->head);
		/* Acquire: the reader finished copying a slot before it moved tail past it. */
		if (head - smp_load_acquire(&r->tail) > r->mask) {
			local_inc(&r->lost);
			return NULL;
		}
		if ((unsigned long)local_cmpxchg(&r->head, head, head + 1) == head)
			break;
	}
	*pos = head;
	return &r->slots[head & r->mask].ev;
}

notrace void kstuck_ring_commit(struct kstuck_rings *rings, unsigned long pos)
{
	struct kstuck_ring *r = this_cpu_ptr(rings->pcpu);

	/* Release: the event's bytes are visible before its seq says it is complete. */
	smp_store_release(&r->slots[pos & r->mask].seq, pos + 1);
}

ssize_t kstuck_rings_read(struct kstuck_rings *rings, char __user *buf, size_t len)
{
	const size_t esz = sizeof(struct kstuck_trace_event);
	size_t done = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct kstuck_ring *r = per_cpu_ptr(rings->pcpu, cpu);

		while (len - done >= esz) {
			unsigned long t = r->tail;
			struct kstuck_ring_slot *s = &r->slots[t & r->mask];

			if (smp_load_acquire(&s->seq) != t + 1)
				break;
			/* The slot stays ours until tail moves: writers never pass tail. */
			if (copy_to_user(buf + done, &s->ev, esz))
				return done ? done : -EFAULT;
			smp_store_release(&r->tail, t + 1);
			done += esz;
		}
	}
	return done;
}

bool kstuck_rings_pending(struct kstuck_rings *rings)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct kstuck_ring *r = per_cpu_ptr(rings->pcpu, cpu);
		unsigned long t = READ_ONCE(r->tail);

		if (smp_load_acquire(&r->slots[t & r->mask].seq) == t + 1)
			return true;
	}
	return false;
}

void kstuck_rings_counts(struct kstuck_rings *rings, u64 *events, u64 *lost)
{
	int cpu;

	*events = 0;
	*lost = 0;
	for_each_possible_cpu(cpu) {
		struct kstuck_ring *r = per_cpu_ptr(rings->pcpu, cpu);

		*events += (unsigned long)local_read(&r->head);
		*lost += (unsigned long)local_read(&r->lost);
	}
}
