// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: builds real, bounded hangs inside the QEMU guest so kstuck has ground
 * truth to compare with. Never load it outside the test guest.
 *
 * Loading only creates the actors; writing 1 to the "start" parameter sets them
 * going (wedging a CPU while insmod is still running can stall insmod itself).
 * Every actor prints "KSTUCK-TRUTH: key=value ..." lines on the console.
 *
 * Scenarios (bit mask "scenarios"):
 *   1  mutex: an owner kthread holds kstuck_scenario_mutex and sleeps, a waiter blocks on it
 *   2  irqoff: a kthread on spin_cpu spins with interrupts disabled for spin_seconds
 *   4  xcall: a kthread on xcall_cpu calls smp_call_function_single(spin_cpu, wait=1)
 */
#define pr_fmt(fmt) "KSTUCK-TRUTH: "  fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/irqflags.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include "kstuck_scenario_actors.h"
#include "kstuck_scenario_quiet.h"
#include <linux/sched/task.h>
#include <linux/smp.h>

#define SCEN_MUTEX	1
#define SCEN_IRQOFF	2
#define SCEN_XCALL	4

static unsigned int scenarios = SCEN_MUTEX | SCEN_IRQOFF | SCEN_XCALL;
module_param(scenarios, uint, 0444);
MODULE_PARM_DESC(scenarios, "bit mask: 1 mutex, 2 irqoff spinner, 4 xcall waiter");
static unsigned int spin_cpu = 3;
module_param(spin_cpu, uint, 0444);
static unsigned int xcall_cpu = 2;
module_param(xcall_cpu, uint, 0444);
static unsigned int spin_seconds = 60;
module_param(spin_seconds, uint, 0444);
static unsigned int hold_seconds = 600;
module_param(hold_seconds, uint, 0444);

static DEFINE_MUTEX(kstuck_scenario_mutex);
static DECLARE_COMPLETION(scenario_go);
static DECLARE_COMPLETION(mutex_taken);
static atomic_t spinner_running = ATOMIC_INIT(0);
static atomic_t stop_all = ATOMIC_INIT(0);

static struct task_struct *owner_task, *waiter_task, *spinner_task, *xcall_task;

static int scenario_wait_go(void)
{
	while (!kthread_should_stop()) {
		if (wait_for_completion_interruptible_timeout(&scenario_go, HZ) > 0)
			return 0;
	}
	return -EINTR;
}

/* Holds the mutex and sleeps, so the waiter blocks behind a sleeping owner. */
static noinline int kstuck_scenario_mutex_owner(void *unused)
{
	unsigned long deadline;

	if (scenario_wait_go())
		return 0;
	mutex_lock(&kstuck_scenario_mutex);
	pr_info("mutex_owner pid=%d comm=%s mutex=%px\n", current->pid, current->comm,
		&kstuck_scenario_mutex);
	complete(&mutex_taken);
	deadline = jiffies + hold_seconds * HZ;
	while (time_before(jiffies, deadline) && !atomic_read(&stop_all))
		msleep_interruptible(100);
	mutex_unlock(&kstuck_scenario_mutex);
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

static noinline int kstuck_scenario_mutex_waiter(void *unused)
{
	if (scenario_wait_go())
		return 0;
	wait_for_completion(&mutex_taken);
	pr_info("mutex_waiter pid=%d comm=%s mutex=%px\n", current->pid, current->comm,
		&kstuck_scenario_mutex);
	mutex_lock(&kstuck_scenario_mutex);
	mutex_unlock(&kstuck_scenario_mutex);
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

/* Spins with interrupts off: only an NMI can see this CPU until the bound expires. */
static noinline void kstuck_scenario_irqoff_spin(void)
{
	u64 end = ktime_get_mono_fast_ns() + (u64)spin_seconds * NSEC_PER_SEC;
	unsigned long flags;

	local_irq_save(flags);
	kstuck_scenario_drop_lazy_mm();
	atomic_set(&spinner_running, 1);
	while (ktime_get_mono_fast_ns() < end && !atomic_read(&stop_all))
		cpu_relax();
	atomic_set(&spinner_running, 0);
	local_irq_restore(flags);
}

static int kstuck_scenario_spinner(void *unused)
{
	if (scenario_wait_go())
		return 0;
	pr_info("irqoff_spinner pid=%d comm=%s cpu=%d func=kstuck_scenario_irqoff_spin seconds=%u\n",
		current->pid, current->comm, raw_smp_processor_id(), spin_seconds);
	kstuck_scenario_irqoff_spin();
	pr_info("irqoff_spinner done\n");
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

static noinline void kstuck_scenario_xcall_func(void *info)
{
	/* Runs on spin_cpu once its interrupts are back on. */
}

static int kstuck_scenario_xcaller(void *unused)
{
	int i;

	if (scenario_wait_go())
		return 0;
	/* The call must find the target already spinning, or it would just run. */
	for (i = 0; i < 5000 && !atomic_read(&spinner_running); i++)
		usleep_range(1000, 2000);
	pr_info("xcall_waiter pid=%d comm=%s cpu=%d target_cpu=%u func=kstuck_scenario_xcall_func\n",
		current->pid, current->comm, raw_smp_processor_id(), spin_cpu);
	smp_call_function_single(spin_cpu, kstuck_scenario_xcall_func, NULL, 1);
	pr_info("xcall_waiter done\n");
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

static int param_set_start(const char *val, const struct kernel_param *kp)
{
	kstuck_scenario_wait_init_freed();
	complete_all(&scenario_go);
	return 0;
}

static const struct kernel_param_ops start_ops = {
	.set = param_set_start,
};
module_param_cb(start, &start_ops, NULL, 0200);

static void scenario_stop_all(void)
{
	atomic_set(&stop_all, 1);
	complete_all(&mutex_taken);
	kstuck_scenario_stop(&xcall_task);
	kstuck_scenario_stop(&spinner_task);
	kstuck_scenario_stop(&waiter_task);
	kstuck_scenario_stop(&owner_task);
}

static int __init kstuck_scenario_init(void)
{
	kstuck_scenario_note_init_memory();

	if (spin_cpu >= nr_cpu_ids || !cpu_online(spin_cpu) ||
	    xcall_cpu >= nr_cpu_ids || !cpu_online(xcall_cpu) || spin_cpu == xcall_cpu)
		return -EINVAL;
	if (scenarios & SCEN_MUTEX) {
		owner_task = kstuck_scenario_spawn(kstuck_scenario_mutex_owner, "kstuck_mowner", -1);
		waiter_task = kstuck_scenario_spawn(kstuck_scenario_mutex_waiter, "kstuck_mwaiter", -1);
	}
	if (scenarios & SCEN_IRQOFF)
		spinner_task = kstuck_scenario_spawn(kstuck_scenario_spinner, "kstuck_spin/%u", spin_cpu);
	if (scenarios & SCEN_XCALL)
		xcall_task = kstuck_scenario_spawn(kstuck_scenario_xcaller, "kstuck_xcall/%u", xcall_cpu);
	if (IS_ERR(owner_task) || IS_ERR(waiter_task) || IS_ERR(spinner_task) ||
	    IS_ERR(xcall_task)) {
		scenario_stop_all();
		return -ENOMEM;
	}
	pr_info("loaded scenarios=%u spin_cpu=%u xcall_cpu=%u\n", scenarios, spin_cpu, xcall_cpu);
	return 0;
}

static void __exit kstuck_scenario_exit(void)
{
	scenario_stop_all();
}

module_init(kstuck_scenario_init);
module_exit(kstuck_scenario_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kstuck test scenarios (QEMU guest only)");
