/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel API differences kstuck.ko meets between Debian's kernels (5.10 to 7.3,
 * cloud and PREEMPT_RT), each decided by a feature test: a macro the kernel's own
 * headers define, or a KSTUCK_HAVE_* flag the top-level Kbuild sets by looking for the
 * declaration in the headers being built against. Never by LINUX_VERSION_CODE: stable
 * branches backport APIs (Debian's 6.1.y has timer_delete_sync()), so a version lies.
 */
#ifndef KSTUCK_COMPAT_H
#define KSTUCK_COMPAT_H

#include <linux/compiler.h>
#include <linux/ftrace.h>
#include <linux/hardirq.h>
#include <linux/hrtimer.h>
#include <linux/preempt.h>
#include <linux/timer.h>
#include <asm/apic.h>
#include <asm/irq_vectors.h>

/* in_hardirq() came in v5.11 (in_irq() before, since removed); both are macros. */
#ifndef in_hardirq
#define in_hardirq()	in_irq()
#endif

/*
 * Since Linux commit 41cb08555c41 ("treewide, timers: Rename from_timer() to
 * timer_container_of()") (in v6.16) only the new name exists; both are macros.
 */
#ifndef timer_container_of
#define timer_container_of(var, callback_timer, field)	from_timer(var, callback_timer, field)
#endif

/*
 * Since Linux commit 9b13df3fb64e ("timers: Rename del_timer_sync() to
 * timer_delete_sync()") (in v6.2, and in 6.1.y); the old name was removed later.
 */
#ifndef KSTUCK_HAVE_TIMER_DELETE_SYNC
#define timer_delete_sync(timer)	del_timer_sync(timer)
#endif

/*
 * Since Linux commit 908a1d775422 ("hrtimers: Introduce hrtimer_setup() to replace
 * hrtimer_init()") (in v6.13) a timer's function is set with its clock and mode;
 * hrtimer_init() was removed later.
 */
static inline void kstuck_hrtimer_setup(struct hrtimer *timer,
					enum hrtimer_restart (*function)(struct hrtimer *),
					clockid_t clock_id, enum hrtimer_mode mode)
{
#ifdef KSTUCK_HAVE_HRTIMER_SETUP
	hrtimer_setup(timer, function, clock_id, mode);
#else
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
#endif
}

/*
 * The last argument of an ftrace_ops callback: struct pt_regs before Linux commit
 * d19ad0775dcd ("ftrace: Have the callbacks receive a struct ftrace_regs instead of
 * pt_regs") (in v5.11). kstuck never reads it. Used as "struct kstuck_ftrace_regs".
 */
#ifdef KSTUCK_HAVE_FTRACE_REGS
#define kstuck_ftrace_regs	ftrace_regs
#else
#define kstuck_ftrace_regs	pt_regs
#endif

/*
 * Recursion protection of an ftrace_ops callback. Since v5.11 (include/linux/
 * trace_recursion.h, "ftrace: Reverse what the RECURSION flag means in the
 * ftrace_ops") a callback registered without FTRACE_OPS_FL_RECURSION tests for
 * recursion itself; before, ftrace wrapped every callback registered without
 * FTRACE_OPS_FL_RECURSION_SAFE in a test of its own. kstuck sets neither flag.
 */
#if __has_include(<linux/trace_recursion.h>)
#include <linux/trace_recursion.h>

static __always_inline int kstuck_ftrace_recursion_trylock(unsigned long ip,
							    unsigned long parent_ip)
{
	return ftrace_test_recursion_trylock(ip, parent_ip);
}

static __always_inline void kstuck_ftrace_recursion_unlock(int bit)
{
	ftrace_test_recursion_unlock(bit);
}
#else
static __always_inline int kstuck_ftrace_recursion_trylock(unsigned long ip,
							    unsigned long parent_ip)
{
	return 0;
}

static __always_inline void kstuck_ftrace_recursion_unlock(int bit)
{
}
#endif

/*
 * Frees the filter of an ftrace_ops that is not registered (an empty filter would
 * trace every function). ftrace_free_filter() is exported since "ftrace: Export
 * ftrace_free_filter() to modules" (early 2023; in Debian's 6.1.y, not in 5.10);
 * before, resetting the filter to nothing frees its hash the same way: an empty hash
 * is replaced by the shared EMPTY_HASH and the old one freed.
 */
static inline void kstuck_ftrace_free_filter(struct ftrace_ops *ops)
{
#ifdef KSTUCK_HAVE_EXPORT_FTRACE_FREE_FILTER
	ftrace_free_filter(ops);
#else
	ftrace_set_filter(ops, NULL, 0, 1);
#endif
}

/*
 * Preemption off until the end of the enclosing scope, for probes whose caller may
 * leave it on: since Linux commit a363d27cdbc2 ("tracing: Allow system call
 * tracepoints to handle page faults") (not in 6.12) the syscall tracepoints call their
 * probes preemptible, and since "tracing: Guard __DECLARE_TRACE() use of
 * __DO_TRACE_CALL() with SRCU-fast" (in 7.3) every tracepoint does. guard(preempt_notrace)
 * where cleanup.h provides it (6.5+, the guards are defined by preempt.h); the same
 * cleanup attribute by hand on older kernels. One use per scope.
 */
#ifdef DEFINE_LOCK_GUARD_0
#define kstuck_guard_preempt_notrace()	guard(preempt_notrace)()
#else
static __always_inline void kstuck_preempt_enable_notrace_cleanup(int *unused)
{
	preempt_enable_notrace();
}

#define kstuck_guard_preempt_notrace()						\
	int __maybe_unused kstuck_preempt_guard					\
	__attribute__((__cleanup__(kstuck_preempt_enable_notrace_cleanup))) =	\
		({ preempt_disable_notrace(); 0; })
#endif

/*
 * Sends an NMI to the CPUs in mask. Since v6.6 ("x86/apic: Provide static call
 * infrastructure for APIC callbacks", which also defines DECLARE_APIC_CALL) the IPI
 * callbacks are exported static calls behind __apic_send_IPI_mask(); before, only
 * through the exported apic pointer.
 */
static __always_inline void kstuck_send_nmi_ipi_mask(const struct cpumask *mask)
{
#ifdef DECLARE_APIC_CALL
	__apic_send_IPI_mask(mask, NMI_VECTOR);
#else
	apic->send_IPI_mask(mask, NMI_VECTOR);
#endif
}

#endif /* KSTUCK_COMPAT_H */
