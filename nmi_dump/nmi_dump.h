/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interface of the NMI collector (nmi_dump/) to the rest of kstuck.ko. */
#ifndef KSTUCK_NMI_DUMP_H
#define KSTUCK_NMI_DUMP_H

#include <linux/types.h>

struct pt_regs;

/* The longest an NMI- or panic-path capture busy-waits for other CPUs, ms. */
#define KSTUCK_NMI_DUMP_ATOMIC_MAX_MS	1000

/* What one capture achieved. */
struct nmi_dump_result {
	u64 seq;		/* snapshot sequence number */
	u32 nr_requested;	/* CPUs asked */
	u32 nr_answered;	/* CPUs that answered in time */
	u64 duration_ns;	/* first NMI sent to last answer (or the bound) */
	u32 wait_ms;		/* in, nmi_dump_capture_atomic(): how long to wait for it */
};

int nmi_dump_init(void);
void nmi_dump_exit(void);

/*
 * Captures every online CPU into a new snapshot from process context (sleeps while
 * waiting, serialized with other process-context captures). trigger is an
 * NMI_DUMP_TRIGGER_*; stalled_cpu/stall_ns describe a watchdog stall (else ~0u/0).
 */
int nmi_dump_capture_sync(u32 trigger, u32 timeout_ms, u32 stalled_cpu, u64 stall_ns,
			  struct nmi_dump_result *res);

/*
 * Atomic-context capture (external NMI, the watchdog's hrtimer): records this CPU from
 * regs, sends NMIs to the other online CPUs and returns at once; the last CPU to answer
 * completes the snapshot, or whoever next finds it past timeout_ms expires it. With res,
 * it then busy-waits up to res->wait_ms for the outcome (never from NMI context).
 * Returns -EBUSY if another capture is in flight.
 */
int nmi_dump_capture_atomic(u32 trigger, struct pt_regs *regs, u32 timeout_ms,
			    u32 stalled_cpu, u64 stall_ns, struct nmi_dump_result *res);

/*
 * Panic capture (panic notifier): ends a capture in flight (its CPUs were stopped),
 * records this CPU's own stack and NMIs every other CPU the kernel stopped, busy-waiting
 * at most timeout_ms for them. Those CPUs are marked NMI_DUMP_CPU_STOPPED.
 */
void nmi_dump_capture_panic(u32 timeout_ms);

/* Counters of external/unknown NMIs in the buffer header (NMI-safe). */
enum nmi_dump_unknown_event {
	NMI_DUMP_UNKNOWN_SEEN,
	NMI_DUMP_UNKNOWN_CAPTURED,
	NMI_DUMP_UNKNOWN_RATELIMITED,
	NMI_DUMP_UNKNOWN_BUSY,
};
void nmi_dump_count_unknown(enum nmi_dump_unknown_event event);

/*
 * Copies the whole history buffer, consistently (no capture began or ended meanwhile),
 * without blocking captures; -ENOSPC (and *size) when len is too small.
 */
int nmi_dump_copy_to_user(void __user *dst, u64 len, u64 *size);

/* Triggers that live outside the core: external NMI and panic. */
int nmi_dump_triggers_init(void);
void nmi_dump_triggers_exit(void);

/* KSTUCK_IOC_NMI_* handlers; cmd is already known to be one of them. */
long nmi_dump_ioctl(unsigned int cmd, void __user *uarg);

#endif /* KSTUCK_NMI_DUMP_H */
