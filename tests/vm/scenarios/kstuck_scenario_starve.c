// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a mutex owner that is runnable but never runs, because its CPU spins with
 * interrupts off. The hang analysis must follow waiter -> mutex -> owner -> CPU and
 * call the CPU the root cause. Never load it outside the QEMU test guest.
 *
 * Writing 1 to "start" sets it going, all on starve_cpu except the waiter:
 *  - the owner kthread takes kstuck_starve_mutex and sleeps (TASK_UNINTERRUPTIBLE);
 *  - the spinner kthread, once the owner is off the runqueue, disables interrupts,
 *    wakes the owner itself and spins for spin_seconds. The wakeup is local, so the
 *    owner is queued on starve_cpu's runqueue at once (state R, on_rq), but nothing
 *    can switch to it: no tick, no reschedule IPI, and the spinner never schedules.
 *    (A timer wakeup would never fire on the wedged CPU, and a remote one might take
 *    the wake-list IPI path and leave the owner off the runqueue.)
 *  - the waiter kthread on waiter_cpu blocks in mutex_lock() on the same mutex.
 * Prints "KSTUCK-TRUTH: starve_owner ...", "starve_waiter ..." and "starve_spinner ..."
 * lines.
 *
 * With remote_wake=1 the owner's wakeup never lands instead: the waiter, from
 * waiter_cpu, sends idle starve_cpu an async xcall whose function spins with interrupts
 * off (the spinner kthread stays asleep), then wakes the owner. starve_cpu runs nothing
 * (nr_running 0), so ttwu_queue_cond() takes the wake-list path: a TTWU entry on
 * starve_cpu's call_single_queue and an IPI it never takes. The owner stays off every
 * runqueue (TASK_WAKING). Adds a "starve_waker ..." truth line.
 */
#define pr_fmt(fmt) "KSTUCK-TRUTH: "  fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include "kstuck_scenario_actors.h"
#include "kstuck_scenario_compat.h"
#include "kstuck_scenario_quiet.h"
#include <linux/timekeeping.h>

static unsigned int starve_cpu = 3;
module_param(starve_cpu, uint, 0444);
static unsigned int waiter_cpu = 2;
module_param(waiter_cpu, uint, 0444);
static unsigned int spin_seconds = 600;
module_param(spin_seconds, uint, 0444);
static bool remote_wake;
module_param(remote_wake, bool, 0444);

static DEFINE_MUTEX(kstuck_starve_mutex);
static DECLARE_COMPLETION(starve_go);
static atomic_t owner_holds = ATOMIC_INIT(0);
static atomic_t stop_all = ATOMIC_INIT(0);
static atomic_t ipi_spinning = ATOMIC_INIT(0);
static call_single_data_t starve_spin_csd;
static struct task_struct *owner_task, *spinner_task, *waiter_task;

static int starve_wait_go(void)
{
	while (!kthread_should_stop()) {
		if (wait_for_completion_interruptible_timeout(&starve_go, HZ) > 0)
			return 0;
	}
	return -EINTR;
}

/* Holds the mutex across a sleep that only the spinner ends (bounded in case it never does). */
static noinline void kstuck_starve_hold(void)
{
	mutex_lock(&kstuck_starve_mutex);
	pr_info("starve_owner pid=%d comm=%s cpu=%d func=kstuck_starve_hold mutex=%px\n",
		current->pid, current->comm, raw_smp_processor_id(), &kstuck_starve_mutex);
	atomic_set(&owner_holds, 1);
	schedule_timeout_uninterruptible((long)(spin_seconds + 60) * HZ);
	mutex_unlock(&kstuck_starve_mutex);
}

static int kstuck_starve_owner(void *unused)
{
	if (starve_wait_go())
		return 0;
	kstuck_starve_hold();
	pr_info("starve_owner done\n");
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

/* Interrupts off for spin_seconds: the owner it wakes stays queued behind it. */
static noinline void kstuck_starve_spin(void)
{
	u64 end = ktime_get_mono_fast_ns() + (u64)spin_seconds * NSEC_PER_SEC;
	unsigned long flags;

	local_irq_save(flags);
	kstuck_scenario_drop_lazy_mm();
	wake_up_process(owner_task);
	while (ktime_get_mono_fast_ns() < end && !atomic_read(&stop_all))
		cpu_relax();
	local_irq_restore(flags);
}

/* remote_wake: runs as an xcall on idle starve_cpu, in hardirq context (IRQs off). */
static void kstuck_starve_ipi_spin(void *unused)
{
	u64 end = ktime_get_mono_fast_ns() + (u64)spin_seconds * NSEC_PER_SEC;

	kstuck_scenario_drop_lazy_mm();
	atomic_set(&ipi_spinning, 1);
	while (ktime_get_mono_fast_ns() < end && !atomic_read(&stop_all))
		cpu_relax();
}

/* Sleeps without a timer: a timed wakeup would make starve_cpu busy at the wrong moment. */
static void starve_sleep_until_stopped(void)
{
	set_current_state(TASK_INTERRUPTIBLE);
	while (!kthread_should_stop()) {
		schedule();
		set_current_state(TASK_INTERRUPTIBLE);
	}
	__set_current_state(TASK_RUNNING);
}

static int kstuck_starve_spinner(void *unused)
{
	int i;

	if (starve_wait_go())
		return 0;
	if (remote_wake) {
		starve_sleep_until_stopped();
		return 0;
	}
	/*
	 * The owner runs on this CPU too: wait until it holds the mutex and has left the
	 * runqueue.
	 */
	for (i = 0; i < 2000 && !(atomic_read(&owner_holds) && !READ_ONCE(owner_task->on_rq)); i++)
		msleep(5);
	if (i == 2000) {
		printk(KERN_WARNING "kstuck starve: owner never went to sleep\n");
		return 0;
	}
	pr_info("starve_spinner pid=%d comm=%s cpu=%d func=kstuck_starve_spin seconds=%u\n",
		current->pid, current->comm, raw_smp_processor_id(), spin_seconds);
	kstuck_starve_spin();
	pr_info("starve_spinner done\n");
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

static noinline void kstuck_starve_contend(void)
{
	mutex_lock(&kstuck_starve_mutex);
	mutex_unlock(&kstuck_starve_mutex);
}

static int kstuck_starve_waiter(void *unused)
{
	int i;

	if (starve_wait_go())
		return 0;
	for (i = 0; i < 2000 && !atomic_read(&owner_holds); i++)
		msleep(5);
	if (remote_wake) {
		for (i = 0; i < 2000 && READ_ONCE(owner_task->on_rq); i++)
			msleep(5);
		msleep(100);	/* let starve_cpu settle into its idle loop */
		INIT_CSD(&starve_spin_csd, kstuck_starve_ipi_spin, NULL);
		smp_call_function_single_async(starve_cpu, &starve_spin_csd);
		for (i = 0; i < 2000 && !atomic_read(&ipi_spinning); i++)
			msleep(5);
		pr_info("starve_spinner pid=0 comm=swapper/%u cpu=%u func=kstuck_starve_ipi_spin seconds=%u\n",
			starve_cpu, starve_cpu, spin_seconds);
		wake_up_process(owner_task);
		pr_info("starve_waker pid=%d cpu=%d owner_pid=%d owner_cpu=%d owner_on_rq=%d\n",
			current->pid, raw_smp_processor_id(), owner_task->pid, task_cpu(owner_task),
			READ_ONCE(owner_task->on_rq));
	}
	pr_info("starve_waiter pid=%d comm=%s cpu=%d func=kstuck_starve_contend mutex=%px\n",
		current->pid, current->comm, raw_smp_processor_id(), &kstuck_starve_mutex);
	kstuck_starve_contend();
	pr_info("starve_waiter done\n");
	while (!kthread_should_stop())
		msleep_interruptible(100);
	return 0;
}

static int param_set_start(const char *val, const struct kernel_param *kp)
{
	kstuck_scenario_wait_init_freed();
	complete_all(&starve_go);
	return 0;
}

static const struct kernel_param_ops start_ops = {
	.set = param_set_start,
};
module_param_cb(start, &start_ops, NULL, 0200);

static void starve_stop_all(void)
{
	/*
	 * Ends the spin; stopping the owner wakes it, so it unlocks before the waiter is
	 * stopped.
	 */
	atomic_set(&stop_all, 1);
	kstuck_scenario_stop(&spinner_task);
	kstuck_scenario_stop(&owner_task);
	kstuck_scenario_stop(&waiter_task);
}

static int __init kstuck_scenario_starve_init(void)
{
	kstuck_scenario_note_init_memory();

	if (starve_cpu >= nr_cpu_ids || !cpu_online(starve_cpu) || waiter_cpu >= nr_cpu_ids ||
	    !cpu_online(waiter_cpu) || starve_cpu == waiter_cpu)
		return -EINVAL;
	/* The spinner reads owner_task: create the owner first. */
	owner_task = kstuck_scenario_spawn(kstuck_starve_owner, "kstuck_sowner/%u", starve_cpu);
	if (IS_ERR(owner_task))
		return PTR_ERR(owner_task);
	spinner_task = kstuck_scenario_spawn(kstuck_starve_spinner, "kstuck_sspin/%u", starve_cpu);
	waiter_task = kstuck_scenario_spawn(kstuck_starve_waiter, "kstuck_swait/%u", waiter_cpu);
	if (IS_ERR(spinner_task) || IS_ERR(waiter_task)) {
		starve_stop_all();
		return -ENOMEM;
	}
	return 0;
}

static void __exit kstuck_scenario_starve_exit(void)
{
	starve_stop_all();
}

module_init(kstuck_scenario_starve_init);
module_exit(kstuck_scenario_starve_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION(
	"kstuck test scenario: mutex owner runnable behind an IRQs-off CPU (QEMU guest only)");
