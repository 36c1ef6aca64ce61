/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The NMI-capture and stall-watchdog ioctls of /dev/kstuck (numbers 0x10-0x2f of
 * kmod/uapi/kstuck_ioctl.h's range). Every call needs CAP_SYS_ADMIN; every struct
 * starts with its own size so it may grow at its end: the module accepts an older
 * (smaller) struct, and a newer (larger) one whose extra bytes are zero, and answers in
 * the caller's size; unknown flags and non-zero reserved fields give -EINVAL.
 */
#ifndef NMI_DUMP_UAPI_IOCTL_H
#define NMI_DUMP_UAPI_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include "kmod/uapi/kstuck_ioctl.h"
#include "nmi_dump/uapi/nmi_dump_record.h"

/* Bounds of the wait for all CPUs to answer, milliseconds. */
#define KSTUCK_NMI_TIMEOUT_DEFAULT_MS	1000
#define KSTUCK_NMI_TIMEOUT_MAX_MS	10000

/*
 * KSTUCK_IOC_NMI_CAPTURE: NMI every online CPU, wait (bounded) until each has saved
 * its state into a new snapshot of the history, and say how it went. -EBUSY never
 * happens: a second caller waits for the first (serialized by a mutex).
 */
struct kstuck_nmi_capture {
	__u32 size;		/* in: sizeof(struct kstuck_nmi_capture) */
	__u32 timeout_ms;	/* in: bound of the wait; 0 = default, max KSTUCK_NMI_TIMEOUT_MAX_MS */
	__u32 flags;		/* in: must be 0 */
	__u32 reserved;		/* in: must be 0 */
	__u64 seq;		/* out: sequence number of the new snapshot */
	__u32 nr_requested;	/* out: CPUs asked */
	__u32 nr_answered;	/* out: CPUs that answered in time */
	__u64 duration_ns;	/* out: from the first NMI sent to the last CPU answering, ns */
};

/*
 * KSTUCK_IOC_NMI_READ: copy the whole history buffer (struct nmi_dump_buffer_header
 * and its slots, the format of nmi_dump_record.h) to user memory. If len is smaller
 * than the buffer, nothing is copied, buffer_size tells the size and the call fails
 * with -ENOSPC.
 */
struct kstuck_nmi_read {
	__u32 size;		/* in: sizeof(struct kstuck_nmi_read) */
	__u32 flags;		/* in: must be 0 */
	__u64 buf;		/* in: user address to copy to */
	__u64 len;		/* in: bytes available at buf */
	__u64 buffer_size;	/* out: bytes of the history buffer (copied, or needed) */
};

/* Watchdog bounds, milliseconds. */
#define KSTUCK_WATCHDOG_THRESHOLD_MIN_MS	100
#define KSTUCK_WATCHDOG_THRESHOLD_MAX_MS	600000

#define KSTUCK_WATCHDOG_PANIC	(1u << 0)	/* panic after the capture (for kdump) */

/*
 * KSTUCK_IOC_WATCHDOG_SET / _GET: the stall watchdog. Each online CPU beats a per-CPU
 * hrtimer heartbeat and checks the next watched CPU's; the CPU that sees a heartbeat
 * silent for threshold_ms has all CPUs captured once per stall. CPUs coming online are
 * watched, CPUs going offline are not. A silence that ends within threshold_ms / 2
 * (at least 600 ms) of being seen (a vCPU the host did not run), or that every
 * heartbeat shares (the host paused the whole VM), is not a stall: it is counted in
 * skipped. A stall is thus captured threshold_ms + max(threshold_ms / 2, 600 ms) after
 * it began, give or take a heartbeat period.
 */
struct kstuck_watchdog_config {
	__u32 size;		/* in: sizeof(struct kstuck_watchdog_config) */
	__u32 enabled;		/* in/out: 1 running, 0 stopped */
	__u32 threshold_ms;	/* in/out: silence that counts as a stall */
	__u32 flags;		/* in/out: KSTUCK_WATCHDOG_* */
	__u64 fired;		/* out: stalls captured since load */
	__u64 last_seq;		/* out: snapshot sequence of the last stall capture (if fired) */
	__u32 last_cpu;		/* out: CPU of the last stall (if fired) */
	__u32 reserved;		/* in: must be 0 */
	__u64 skipped;		/* out: silences not captured (paused VM, vCPU not run), since load */
};

#define KSTUCK_IOC_NMI_CAPTURE	_IOWR(KSTUCK_IOCTL_TYPE, 0x10, struct kstuck_nmi_capture)
#define KSTUCK_IOC_NMI_READ	_IOWR(KSTUCK_IOCTL_TYPE, 0x11, struct kstuck_nmi_read)
#define KSTUCK_IOC_WATCHDOG_SET	_IOW(KSTUCK_IOCTL_TYPE, 0x18, struct kstuck_watchdog_config)
#define KSTUCK_IOC_WATCHDOG_GET	_IOR(KSTUCK_IOCTL_TYPE, 0x19, struct kstuck_watchdog_config)

#endif /* NMI_DUMP_UAPI_IOCTL_H */
