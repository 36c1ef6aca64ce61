// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: the seed's mixed deadlock, for kstuck's wait-for graph to find inside the
 * QEMU guest. Never load it outside the test guest.
 *
 * On holder_cpu (2), kstuck_mixed_holder takes kstuck_mixed_lock with interrupts off
 * and calls smp_call_function_single(spinner_cpu, kstuck_mixed_xcall_func, wait=1);
 * on spinner_cpu (3), kstuck_mixed_spinner disables interrupts and spins on the same
 * lock. The spinner never takes the IPI, so the holder never stops waiting for it and
 * never releases the lock: a cycle through one xcall and one spinlock. The guest
 * cannot recover; the host dumps it and kills it.
 *
 * smp_call_function_single() with interrupts off trips its WARN_ON_ONCE once: that
 * is the bug this scenario reproduces, as the seed's machine did.
 *
 * Writing 1 to "start" sets both going. Ground truth, printed just before each side
 * blocks:
 *   KSTUCK-TRUTH: mixed_holder pid=.. comm=.. cpu=2 target_cpu=3 lock=<addr>
 *                 lock_sym=kstuck_mixed_lock func=kstuck_mixed_xcall_func irqs=off
 *   KSTUCK-TRUTH: mixed_spinner pid=.. comm=.. cpu=3 lock=<addr> lock_sym=.. irqs=off
 */
#define pr_fmt(fmt) "KSTUCK-TRUTH: "  fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include "kstuck_scenario_quiet.h"

static unsigned int holder_cpu = 2;
module_param(holder_cpu, uint, 0444);
static unsigned int spinner_cpu = 3;
module_param(spinner_cpu, uint, 0444);

/* raw: on PREEMPT_RT a spinlock_t sleeps, and this deadlock needs a real spin. */
static DEFINE_RAW_SPINLOCK(kstuck_mixed_lock);
static DECLARE_COMPLETION(mixed_go);
static atomic_t holder_has_lock = ATOMIC_INIT(0);
static atomic_t spinner_spinning = ATOMIC_INIT(0);

static noinline void kstuck_mixed_xcall_func(void *info)
{
	/* Would run on spinner_cpu if its interrupts ever came back on. */
}

static void mixed_wait_go(void)
{
	/* Interruptible: an idle, not-yet-started thread is no hung task. */
	while (wait_for_completion_interruptible(&mixed_go))
		;
}

/*
 * Takes the lock through a pointer, as real code does: the pointer then lives in a
 * callee-saved register (and the stack slots callees save it to) across the xcall,
 * which is the evidence a dump reader has for who holds a qspinlock.
 */
static noinline void kstuck_mixed_hold_and_call(raw_spinlock_t *lock)
{
	unsigned long flags;
	int i;

	/* Keeps the compiler from folding the pointer back into a constant. */
	OPTIMIZER_HIDE_VAR(lock);
	raw_spin_lock_irqsave(lock, flags);
	kstuck_scenario_drop_lazy_mm();
	atomic_set(&holder_has_lock, 1);
	/* Bounded: the spinner is pinned to an idle isolated CPU and comes at once. */
	for (i = 0; i < 5000 && !atomic_read(&spinner_spinning); i++)
		udelay(1000);
	/* Give the spinner time to leave the fast path and settle in the slowpath. */
	mdelay(20);
	pr_info("mixed_holder pid=%d comm=%s cpu=%d target_cpu=%u lock=%px lock_sym=kstuck_mixed_lock func=kstuck_mixed_xcall_func irqs=off\n",
		current->pid, current->comm, raw_smp_processor_id(), spinner_cpu, lock);
	smp_call_function_single(spinner_cpu, kstuck_mixed_xcall_func, NULL, 1);
	raw_spin_unlock_irqrestore(lock, flags);
}

static int kstuck_mixed_holder(void *unused)
{
	mixed_wait_go();
	kstuck_mixed_hold_and_call(&kstuck_mixed_lock);
	return 0;
}

static noinline void kstuck_mixed_spin_on(raw_spinlock_t *lock)
{
	unsigned long flags;

	OPTIMIZER_HIDE_VAR(lock);
	local_irq_save(flags);
	kstuck_scenario_drop_lazy_mm();
	pr_info("mixed_spinner pid=%d comm=%s cpu=%d lock=%px lock_sym=kstuck_mixed_lock irqs=off\n",
		current->pid, current->comm, raw_smp_processor_id(), lock);
	atomic_set(&spinner_spinning, 1);
	raw_spin_lock(lock);
	raw_spin_unlock(lock);
	local_irq_restore(flags);
}

static int kstuck_mixed_spinner(void *unused)
{
	int i;

	mixed_wait_go();
	/* Spin only once the holder has the lock, so the spinner cannot win the race. */
	for (i = 0; i < 5000 && !atomic_read(&holder_has_lock); i++)
		usleep_range(1000, 2000);
	kstuck_mixed_spin_on(&kstuck_mixed_lock);
	return 0;
}

static int mixed_set_start(const char *val, const struct kernel_param *kp)
{
	kstuck_scenario_wait_init_freed();
	complete_all(&mixed_go);
	return 0;
}

static const struct kernel_param_ops mixed_start_ops = {
	.set = mixed_set_start,
};
module_param_cb(start, &mixed_start_ops, NULL, 0200);

static int __init kstuck_mixed_init(void)
{
	struct task_struct *h, *s;

	kstuck_scenario_note_init_memory();

	if (holder_cpu >= nr_cpu_ids || !cpu_online(holder_cpu) ||
	    spinner_cpu >= nr_cpu_ids || !cpu_online(spinner_cpu) || holder_cpu == spinner_cpu)
		return -EINVAL;
	/* Created stopped: on failure, kthread_stop() ends a thread that never ran. */
	h = kstuck_scenario_kthread_on_cpu(kstuck_mixed_holder, NULL, holder_cpu,
					    "kstuck_mixh/%u");
	if (IS_ERR(h))
		return PTR_ERR(h);
	s = kstuck_scenario_kthread_on_cpu(kstuck_mixed_spinner, NULL, spinner_cpu,
					    "kstuck_mixs/%u");
	if (IS_ERR(s)) {
		kthread_stop(h);
		return PTR_ERR(s);
	}
	wake_up_process(h);
	wake_up_process(s);
	pr_info("mixed_loaded lock=%px holder_cpu=%u spinner_cpu=%u\n", &kstuck_mixed_lock,
		holder_cpu, spinner_cpu);
	return 0;
}

/* No exit function: once started, the deadlock is permanent, and so is the module. */
module_init(kstuck_mixed_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kstuck test scenario: xcall wait vs. spinlock deadlock (QEMU guest only)");
