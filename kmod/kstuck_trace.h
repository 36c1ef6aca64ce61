/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces of kstuck's probe tracing: sessions, probes, listings. */
#ifndef KSTUCK_TRACE_H
#define KSTUCK_TRACE_H

#include <linux/ftrace.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/timer.h>

#include "kmod/kstuck_trace_ring.h"

/* Room for the 64-bit syscall table (the build checks the real one fits). */
#define KSTUCK_NR_SYSCALLS	512

enum kstuck_session_state {
	KSTUCK_SESSION_RUNNING,
	KSTUCK_SESSION_STOPPING,
	KSTUCK_SESSION_STOPPED,
};

struct kstuck_trace_session {
	u32 id;
	u32 flags;
	pid_t tgid_filter;
	atomic_t state;			/* enum kstuck_session_state */
	struct kstuck_rings *rings;
	struct mutex read_lock;		/* one reader of the rings at a time */
	wait_queue_head_t wait;
	struct timer_list wake_timer;	/* probes cannot wake readers (NMI): a timer does */

	bool fbt_registered;
	struct ftrace_ops fbt_ops;
	u32 fbt_items, fbt_skipped, fbt_functions;

	bool sys_registered;
	u32 syscalls;
	DECLARE_BITMAP(sys_mask, KSTUCK_NR_SYSCALLS);

	u64 enable_ns, teardown_ns;
};

/* kstuck_trace_fbt.c */
int kstuck_fbt_add(struct kstuck_trace_session *s, const char *glob);
int kstuck_fbt_register(struct kstuck_trace_session *s);
void kstuck_fbt_unregister(struct kstuck_trace_session *s);
bool kstuck_fbt_glob_valid(const char *glob);

/* kstuck_trace_syscall.c */
int kstuck_syscall_init(void);
int kstuck_syscall_register(struct kstuck_trace_session *s);
void kstuck_syscall_unregister(struct kstuck_trace_session *s);

/* kstuck_trace_list.c: published snapshots of what can be probed */
int kstuck_trace_list_init(void);
void kstuck_trace_list_exit(void);
int kstuck_syscall_match(const char *glob, unsigned long *mask);
void kstuck_syscall_sessions_update(const unsigned long *mask, int delta);
u32 kstuck_fbt_snapshot_count(const char *glob);
long kstuck_trace_ioctl_list(void __user *arg);
long kstuck_trace_ioctl_funcs(void __user *arg);

/* kstuck_trace.c: sessions */
int kstuck_trace_init(void);
void kstuck_trace_exit(void);
long kstuck_trace_ioctl_start(void __user *arg);
/* Fills an event's common fields; notrace, any context. */
void kstuck_trace_emit(struct kstuck_trace_session *s, u16 kind, u64 addr, u64 arg);

#endif /* KSTUCK_TRACE_H */
