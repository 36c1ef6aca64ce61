/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kstuck tracing ABI: probe sessions, their event records and probe listings.
 *
 * A session is started on /dev/kstuck with KSTUCK_IOC_TRACE_START, which returns a
 * new file descriptor. read() on it yields whole struct kstuck_trace_event records
 * (poll() says when some are ready); KSTUCK_IOC_TRACE_STOP on it tears the probes
 * down; close() tears down whatever is left. Structures only grow at their end; the
 * caller puts its sizeof() in .size.
 */
#ifndef KSTUCK_UAPI_TRACE_H
#define KSTUCK_UAPI_TRACE_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KSTUCK_TRACE_MAX_SESSIONS	8	/* concurrent sessions per machine */
#define KSTUCK_TRACE_SPEC_MAX		65536	/* bytes of probe specs per session */
#define KSTUCK_TRACE_GLOB_MAX		128	/* bytes of one glob, with its NUL */

/* Probe kinds (kstuck_trace_event.kind, kstuck_trace_list.kind). */
#define KSTUCK_PROBE_FBT		1	/* function entry, by ftrace */
#define KSTUCK_PROBE_SYSCALL_ENTER	2	/* sys_enter tracepoint */
#define KSTUCK_PROBE_SYSCALL_EXIT	3	/* sys_exit tracepoint */

/* Context an event was taken in (kstuck_trace_event.context, bits). */
#define KSTUCK_CTX_SOFTIRQ	0x1
#define KSTUCK_CTX_HARDIRQ	0x2
#define KSTUCK_CTX_NMI		0x4

/* One event, as read() returns them: 64 bytes, naturally aligned. */
struct kstuck_trace_event {
	__u64 timestamp_ns;	/* CLOCK_MONOTONIC (ktime_get_mono_fast_ns), ns */
	__u64 addr;		/* FBT: the function's address; SYSCALL_*: syscall number */
	__u64 arg;		/* FBT: the caller's return address; ENTER: first argument;
				 * EXIT: return value (two's complement) */
	__u32 pid;		/* thread id (task pid), 0 for the idle task */
	__u32 tgid;		/* process id */
	__u16 cpu;		/* CPU the event was taken on */
	__u16 kind;		/* KSTUCK_PROBE_* */
	__u32 context;		/* KSTUCK_CTX_* bits; 0 = task context */
	char comm[16];		/* the task's comm, NUL-padded (not always terminated) */
	__u64 reserved;		/* zero */
};

/* Session flags (kstuck_trace_start.flags). */
#define KSTUCK_TRACE_F_SYSCALL_EXIT	0x1	/* also record syscall returns */

/*
 * KSTUCK_IOC_TRACE_START on /dev/kstuck: returns a session fd (O_CLOEXEC).
 * specs: items separated by NUL or '\n', each "fbt:GLOB" or "syscall:GLOB". An fbt item
 * that matches no traceable function is skipped and counted; an fbt item with glob
 * characters that matches nothing, or a session that ends up with no probe at all,
 * fails with ENOENT. A malformed glob fails with EINVAL; too many sessions with EBUSY.
 */
struct kstuck_trace_start {
	__u32 size;		/* in: sizeof(struct kstuck_trace_start) */
	__u32 flags;		/* in: KSTUCK_TRACE_F_* */
	__u64 specs;		/* in: user pointer to the specs text */
	__u32 specs_len;	/* in: its length in bytes (<= KSTUCK_TRACE_SPEC_MAX) */
	__u32 ring_events;	/* in: events per CPU ring, power of two, 0 = 4096 */
	__s32 tgid_filter;	/* in: only this process (0 = every process) */
	__u32 session_id;	/* out: id of the session, unique while loaded */
	__u32 fbt_items;	/* out: fbt items accepted by ftrace */
	__u32 fbt_skipped;	/* out: fbt items ftrace refused (no such traceable function) */
	__u32 fbt_functions;	/* out: functions matched by the accepted items, per the
				 * module's function snapshot (0 when it has none) */
	__u32 syscalls;		/* out: syscalls traced */
	__u64 enable_ns;	/* out: time to register every probe, ns */
};

/* KSTUCK_IOC_TRACE_STOP / _STATS on a session fd. */
struct kstuck_trace_stats {
	__u32 size;		/* in: sizeof(struct kstuck_trace_stats) */
	__u32 stopped;		/* out: 1 once the probes are torn down */
	__u64 events;		/* out: events written to the rings */
	__u64 lost;		/* out: events dropped because a ring was full */
	__u64 enable_ns;	/* out: time to register the probes, ns */
	__u64 teardown_ns;	/* out: time to unregister them and wait for callers, ns */
};

/*
 * KSTUCK_IOC_TRACE_LIST on /dev/kstuck: copies the names of available probes that match
 * a glob, one per line, from a published snapshot: a listing never waits for a session
 * being enabled or torn down. FBT lines are "name" or "name [module]" (the list given
 * with KSTUCK_IOC_TRACE_FUNCS); SYSCALL lines are
 * "name nr sessions" where sessions counts the sessions tracing it right now.
 * When buf_len is too small it fails with ENOSPC and sets bytes_needed.
 */
struct kstuck_trace_list {
	__u32 size;		/* in: sizeof(struct kstuck_trace_list) */
	__u32 kind;		/* in: KSTUCK_PROBE_FBT or KSTUCK_PROBE_SYSCALL_ENTER */
	__u64 glob;		/* in: user pointer to a NUL-terminated glob */
	__u64 buf;		/* in: user pointer to the output buffer */
	__u32 buf_len;		/* in: its size */
	__u32 count;		/* out: lines matched */
	__u32 bytes_needed;	/* out: bytes of the whole listing */
	__u32 generation;	/* out: snapshot generation (changes on republish) */
	__u32 total;		/* out: entries in the snapshot */
	__u32 reserved;		/* zero */
};

/*
 * KSTUCK_IOC_TRACE_FUNCS on /dev/kstuck: publishes the function list that fbt listings
 * serve, as the text of tracefs's available_filter_functions ("name" or "name [module]"
 * per line). A module cannot read that seq_file itself (kernel_read needs read_iter)
 * nor walk ftrace's records (not exported), so the CLI hands it over once per load;
 * until then KSTUCK_IOC_TRACE_LIST with KSTUCK_PROBE_FBT fails with ENODATA.
 */
struct kstuck_trace_funcs {
	__u32 size;		/* in: sizeof(struct kstuck_trace_funcs) */
	__u32 lines;		/* out: functions in the published list */
	__u64 text;		/* in: user pointer to the text */
	__u64 text_len;		/* in: its length (<= KSTUCK_TRACE_FUNCS_MAX) */
};

#define KSTUCK_TRACE_FUNCS_MAX	(32 << 20)

#define KSTUCK_IOC_TRACE_START	_IOWR(KSTUCK_IOCTL_TYPE, 0x30, struct kstuck_trace_start)
#define KSTUCK_IOC_TRACE_STOP	_IOWR(KSTUCK_IOCTL_TYPE, 0x31, struct kstuck_trace_stats)
#define KSTUCK_IOC_TRACE_STATS	_IOWR(KSTUCK_IOCTL_TYPE, 0x32, struct kstuck_trace_stats)
#define KSTUCK_IOC_TRACE_LIST	_IOWR(KSTUCK_IOCTL_TYPE, 0x33, struct kstuck_trace_list)
#define KSTUCK_IOC_TRACE_FUNCS	_IOWR(KSTUCK_IOCTL_TYPE, 0x34, struct kstuck_trace_funcs)

#endif /* KSTUCK_UAPI_TRACE_H */
