/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test-only. What a scenario does so that the only hang in the guest is the one it
 * builds. A CPU wedged with interrupts off also stalls every CPU that sends it a
 * synchronous IPI, and two such IPIs come from the scenario's own setup:
 *
 *  - The module's init memory is freed after insmod returns, by a kworker
 *    (do_free_init: synchronize_rcu(), then vfree with VM_FLUSH_RESET_PERMS), which
 *    flushes the kernel TLB on every CPU and waits, preemption off. Started before
 *    that, a wedge holds the kworker's CPU for its whole length. So "start" first
 *    waits (bounded) for the init memory to be unmapped, then purges lazily freed
 *    vmap areas itself. What it watches is a marker in the init rodata: up to 6.3 the
 *    init sections are one allocation; since 6.4 do_free_init() frees init text, data,
 *    then rodata, and on 7.x the init text goes back to the execmem ROX cache and
 *    stays mapped, so only the rodata's unmapping says the kworker is done.
 *  - The crng's first readiness flips a static key (6.x), and patching the code
 *    behind it IPIs every CPU and waits. In a TCG guest that can come minutes after
 *    boot (6.12 rt: 160 s, during the nmi suite's wedge). So "start" first waits for
 *    the crng (the wait generates entropy, 5.4+), long before any CPU is wedged.
 *  - x86 lazy TLB: a kthread runs on the last user mm its CPU ran, and that CPU stays
 *    in the mm's cpumask. When the process exits, the page-table free flushes lazy
 *    CPUs too. So a wedging actor switches to init_mm first, with interrupts off, and
 *    takes its CPU out of that mm's cpumask: up to 6.12 the switch did it, 7.x trims
 *    the cpumask lazily, with a flush IPI to every CPU still in it.
 */
#ifndef KSTUCK_SCENARIO_QUIET_H
#define KSTUCK_SCENARIO_QUIET_H

#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/mm_types.h>
#include <linux/sched.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/smp.h>
#include <linux/vmalloc.h>
#include <asm/mmu.h>

#include "kstuck_scenario_compat.h"

static const int kstuck_scenario_init_marker __initconst = 1;
static const void *kstuck_scenario_init_base;

/* Called from the module's init function, while its init memory is mapped. */
static __always_inline void kstuck_scenario_note_init_memory(void)
{
	kstuck_scenario_init_base = &kstuck_scenario_init_marker;
}

/* Called from "start" (process context), before any actor wedges a CPU. */
static inline void kstuck_scenario_wait_init_freed(void)
{
	int i;

	if (wait_for_random_bytes())
		printk(KERN_WARNING "kstuck scenario: the wait for the crng was interrupted\n");
	for (i = 0; i < 200 && kstuck_scenario_init_base &&
	     vmalloc_to_page(kstuck_scenario_init_base); i++)
		msleep(50);
	if (i == 200)
		/* Not pr_warn: the scenarios' pr_fmt marks ground-truth lines. */
		printk(KERN_WARNING "kstuck scenario: init memory still mapped after 10 s\n");
	/* The kworker flushes right after unmapping: let it finish, then purge the rest. */
	msleep(100);
	vm_unmap_aliases();
}

/* Called by a wedging actor with interrupts off. */
static inline void kstuck_scenario_drop_lazy_mm(void)
{
	/* A kthread's active_mm is the user mm it borrowed lazily, if any. */
	struct mm_struct *lazy = current->active_mm;

	kstuck_scenario_leave_mm();
	/*
	 * This CPU's TLB no longer holds that mm (CR3 is init_mm's now, and reloading the
	 * mm later compares its tlb_gen), so no flush of it has to reach this CPU.
	 */
	if (lazy)
		cpumask_clear_cpu(smp_processor_id(), mm_cpumask(lazy));
}

#endif
