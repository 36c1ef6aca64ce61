/* SPDX-License-Identifier: GPL-2.0 */
/* Per-CPU event rings of a trace session: preallocated, lock-free, nesting-safe. */
#ifndef KSTUCK_TRACE_RING_H
#define KSTUCK_TRACE_RING_H

#include <linux/types.h>
#include <asm/local.h>

#include "kmod/uapi/kstuck_ioctl.h"

struct kstuck_ring_slot {
	unsigned long seq;	/* position + 1 once the event is complete */
	struct kstuck_trace_event ev;
};

/*
 * One CPU's ring. Writers are the probes on that CPU (task, softirq, hardirq and NMI
 * may nest): they reserve a position with local_cmpxchg on head and publish the slot
 * by storing its seq last. The one reader (the session's read(), serialized) copies
 * slots whose seq says they are complete and then advances tail, which frees them.
 * A full ring drops the new event and counts it: old events are never overwritten
 * under the reader's feet.
 */
struct kstuck_ring {
	local_t head;		/* next position to reserve */
	local_t lost;		/* events dropped, ring full */
	unsigned long tail;	/* next position to read; written by the reader only */
	unsigned long mask;	/* slots - 1 */
	struct kstuck_ring_slot *slots;
};

struct kstuck_rings;

struct kstuck_rings *kstuck_rings_alloc(unsigned int events_per_cpu);
void kstuck_rings_free(struct kstuck_rings *rings);
/* Reserves a slot on this CPU; NULL (and counted as lost) when full. Preemption off. */
struct kstuck_trace_event *kstuck_ring_reserve(struct kstuck_rings *rings, unsigned long *pos);
void kstuck_ring_commit(struct kstuck_rings *rings, unsigned long pos);
/* Copies up to len bytes of whole events to user space; returns bytes or -EFAULT. */
ssize_t kstuck_rings_read(struct kstuck_rings *rings, char __user *buf, size_t len);
bool kstuck_rings_pending(struct kstuck_rings *rings);
void kstuck_rings_counts(struct kstuck_rings *rings, u64 *events, u64 *lost);

#endif /* KSTUCK_TRACE_RING_H */
