/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test-only. The kernel API differences the scenario modules meet between Debian's
 * kernels (5.10 to 7.3, cloud and PREEMPT_RT), each decided by a feature test: a macro
 * of the kernel's own headers, or a KSTUCK_SCENARIO_HAVE_* flag that this directory's
 * Kbuild sets from the headers being built against. Never by a version number.
 *
 * PREEMPT_RT: spinlock_t sleeps there (it is an rt_mutex). A scenario that needs a CPU
 * to really spin, or to hold a lock with interrupts off, uses raw_spinlock_t, which is
 * the same qspinlock as spinlock_t on every other kernel.
 */
#ifndef KSTUCK_SCENARIO_COMPAT_H
#define KSTUCK_SCENARIO_COMPAT_H

#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <asm/mmu.h>

/*
 * A kthread bound to cpu, named by namefmt with one %u for the cpu: what
 * kthread_create_on_cpu() does, which 5.10 does not export, less its per-CPU-kthread
 * mark (for smpboot's hotplug parking, which these threads never use).
 */
static inline struct task_struct *kstuck_scenario_kthread_on_cpu(int (*fn)(void *), void *data,
								  unsigned int cpu,
								  const char *namefmt)
{
	struct task_struct *t = kthread_create(fn, data, namefmt, cpu);

	if (!IS_ERR(t))
		kthread_bind(t, cpu);
	return t;
}

/* leave_mm() lost its cpu argument (it always was this CPU) between 6.1 and 6.12. */
static inline void kstuck_scenario_leave_mm(void)
{
#ifdef KSTUCK_SCENARIO_HAVE_LEAVE_MM_VOID
	leave_mm();
#else
	leave_mm(smp_processor_id());
#endif
}

/* INIT_CSD() came in v5.11; before, a zeroed csd only needs its func and info. */
#ifndef INIT_CSD
#define INIT_CSD(_csd, _func, _info)		\
	do {					\
		memset(_csd, 0, sizeof(*(_csd)));	\
		(_csd)->func = (_func);		\
		(_csd)->info = (_info);		\
	} while (0)
#endif

#endif /* KSTUCK_SCENARIO_COMPAT_H */
