// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a CPU holds a spinlock with interrupts off while another CPU spins on it,
 * so the NMI collector is checked against the classic "lock holder with IRQs off"
 * hang. Never load it outside the QEMU test guest.
 *
 * Writing 1 to "start" sets it going: a kthread on holder_cpu takes the raw spinlock
 * kstuck_scenario_lock with raw_spin_lock_irqsave() and keeps it for hold_seconds
 * (inside kstuck_scenario_spinlock_hold()); a kthread on waiter_cpu then calls
 * raw_spin_lock() on it (interrupts on) and spins in the qspinlock slow path.
 * Prints "KSTUCK-TRUTH: spinlock_holder ..." and "spinlock_waiter ..." lines.
 */
#define pr_fmt(fmt) "KSTUCK-TRUTH: "  fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/spinlock.h>
#include "kstuck_scenario_actors.h"
#include "kstuck_scenario_quiet.h"
#include <linux/timekeeping.h>

static unsigned int holder_cpu = 3;
module_param(holder_cpu, uint, 0444);
static unsigned int waiter_cpu = 2;
module_param(waiter_cpu, uint, 0444);
static unsigned int hold_seconds = 10;
module_param(hold_seconds, uint, 0444);

/* raw: on PREEMPT_RT a spinlock_t sleeps, and this scenario needs a real spin. */
static DEFINE_RAW_SPINLOCK(kstuck_scenario_lock);
static DECLARE_COMPLETION(spinlock_go);
static atomic_t lock_held = ATOMIC_INIT(0);
static atomic_t stop_all = ATOMIC_INIT(0);
static struct task_struct *holder_task, *waiter_task;

static int spinlock_wait_go(void)
{
	while (!kthread_should_stop()) {
		if (wait_for_completion_interruptible_timeout(&spinlock_go, HZ) > 0)
			return 0;
	}
	return -EINTR;
}

/* Holds the lock with interrupts off: only an NMI sees this CPU meanwhile. */
static noinline void kstuck_scenario_spinlock_hold(void)
{
	u64 end = ktime_get_mono_fast_ns() + (u64)hold_seconds * NSEC_PER_SEC;
	unsigned long flags;

	raw_spin_lock_irqsave(&kstuck_scenario_lock, flags);
	kstuck_scenario_drop_lazy_mm();
	atomic_set(&lock_held, 1);
	while (ktime_get_mono_fast_ns() < end && !atomic_read(&stop_all))
		cpu_relax();
	atomic_set(&lock_held, 0);
	raw_spin_unlock_irqrestore(&kstuck_scenario_lock, flags);
}

static int kstuck_scenario_spinlock_holder(void *unused)
{
	if (spinlock_wait_go())
		return 0;
	pr_info("spinlock_holder pid=%d comm=%s cpu=%d func=kstuck_scenario_spinlock_hold lock=%px seconds=%u\n",
		current->pid, current->comm, raw_smp_processor_id(), &kstuck_scenario_lock,
		hold_seconds);
	kstuck_scenario_spinlock_hold();
	pr_info("spinlock_holder done\n");
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

static noinline void kstuck_scenario_spinlock_contend(void)
{
	raw_spin_lock(&kstuck_scenario_lock);
	raw_spin_unlock(&kstuck_scenario_lock);
}

static int kstuck_scenario_spinlock_waiter(void *unused)
{
	int i;

	if (spinlock_wait_go())
		return 0;
	for (i = 0; i < 5000 && !atomic_read(&lock_held); i++)
		usleep_range(1000, 2000);
	pr_info("spinlock_waiter pid=%d comm=%s cpu=%d func=kstuck_scenario_spinlock_contend lock=%px\n",
		current->pid, current->comm, raw_smp_processor_id(), &kstuck_scenario_lock);
	kstuck_scenario_spinlock_contend();
	pr_info("spinlock_waiter done\n");
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

static int param_set_start(const char *val, const struct kernel_param *kp)
{
	kstuck_scenario_wait_init_freed();
	complete_all(&spinlock_go);
	return 0;
}

static const struct kernel_param_ops start_ops = {
	.set = param_set_start,
};
module_param_cb(start, &start_ops, NULL, 0200);

static int __init kstuck_scenario_spinlock_init(void)
{
	kstuck_scenario_note_init_memory();

	if (holder_cpu >= nr_cpu_ids || !cpu_online(holder_cpu) || waiter_cpu >= nr_cpu_ids ||
	    !cpu_online(waiter_cpu) || holder_cpu == waiter_cpu)
		return -EINVAL;
	holder_task = kstuck_scenario_spawn(kstuck_scenario_spinlock_holder, "kstuck_lockhold/%u",
					    holder_cpu);
	waiter_task = kstuck_scenario_spawn(kstuck_scenario_spinlock_waiter, "kstuck_lockwait/%u",
					    waiter_cpu);
	if (IS_ERR(holder_task) || IS_ERR(waiter_task)) {
		atomic_set(&stop_all, 1);
		kstuck_scenario_stop(&waiter_task);
		kstuck_scenario_stop(&holder_task);
		return -ENOMEM;
	}
	return 0;
}

static void __exit kstuck_scenario_spinlock_exit(void)
{
	atomic_set(&stop_all, 1);
	kstuck_scenario_stop(&waiter_task);
	kstuck_scenario_stop(&holder_task);
}

module_init(kstuck_scenario_spinlock_init);
module_exit(kstuck_scenario_spinlock_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kstuck test scenario: spinlock held with IRQs off (QEMU guest only)");
