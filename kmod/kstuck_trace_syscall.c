// SPDX-License-Identifier: GPL-2.0
/* Syscall probes: the sys_enter/sys_exit tracepoints, filtered by a per-session mask. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/tracepoint.h>
#include <asm/syscall.h>

#include "kmod/kstuck_compat.h"
#include "kmod/kstuck_trace.h"

static struct tracepoint *kstuck_tp_enter;
static struct tracepoint *kstuck_tp_exit;

static void kstuck_find_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sys_enter"))
		kstuck_tp_enter = tp;
	else if (!strcmp(tp->name, "sys_exit"))
		kstuck_tp_exit = tp;
}

int kstuck_syscall_init(void)
{
	/* The syscall tracepoints are not exported symbols; the kernel's list has them. */
	for_each_kernel_tracepoint(kstuck_find_tp, NULL);
	if (!kstuck_tp_enter || !kstuck_tp_exit) {
		pr_warn("sys_enter/sys_exit tracepoints not found: no syscall probes\n");
		return -ENOENT;
	}
	return 0;
}

static notrace bool kstuck_syscall_wanted(struct kstuck_trace_session *s, long nr)
{
	/* 32-bit and x32 callers number their syscalls differently: not in our table. */
	if (in_compat_syscall() || nr < 0 || nr >= KSTUCK_NR_SYSCALLS)
		return false;
	if (!test_bit(nr, s->sys_mask))
		return false;
	return !s->tgid_filter || s->tgid_filter == current->tgid;
}

/*
 * Syscall probes run in the syscall's task context. Up to 6.12 the tracepoint calls
 * them with preemption off; newer kernels call them preemptible (7.3: under SRCU-fast),
 * so each probe keeps itself on its CPU, from the ring reserve to the commit.
 */
static notrace void kstuck_sys_enter_probe(void *data, struct pt_regs *regs, long id)
{
	struct kstuck_trace_session *s = data;

	kstuck_guard_preempt_notrace();
	if (kstuck_syscall_wanted(s, id))
		kstuck_trace_emit(s, KSTUCK_PROBE_SYSCALL_ENTER, id, regs->di);
}

static notrace void kstuck_sys_exit_probe(void *data, struct pt_regs *regs, long ret)
{
	struct kstuck_trace_session *s = data;
	long nr = syscall_get_nr(current, regs);

	kstuck_guard_preempt_notrace();
	if (kstuck_syscall_wanted(s, nr))
		kstuck_trace_emit(s, KSTUCK_PROBE_SYSCALL_EXIT, nr, ret);
}

int kstuck_syscall_register(struct kstuck_trace_session *s)
{
	int ret;

	if (!kstuck_tp_enter)
		return -EOPNOTSUPP;
	ret = tracepoint_probe_register(kstuck_tp_enter, kstuck_sys_enter_probe, s);
	if (ret)
		return ret;
	if (s->flags & KSTUCK_TRACE_F_SYSCALL_EXIT) {
		ret = tracepoint_probe_register(kstuck_tp_exit, kstuck_sys_exit_probe, s);
		if (ret) {
			tracepoint_probe_unregister(kstuck_tp_enter, kstuck_sys_enter_probe, s);
			tracepoint_synchronize_unregister();
			return ret;
		}
	}
	s->sys_registered = true;
	return 0;
}

void kstuck_syscall_unregister(struct kstuck_trace_session *s)
{
	if (!s->sys_registered)
		return;
	tracepoint_probe_unregister(kstuck_tp_enter, kstuck_sys_enter_probe, s);
	if (s->flags & KSTUCK_TRACE_F_SYSCALL_EXIT)
		tracepoint_probe_unregister(kstuck_tp_exit, kstuck_sys_exit_probe, s);
	/* No probe may still be running on the session when its memory goes. */
	tracepoint_synchronize_unregister();
	s->sys_registered = false;
}
