// SPDX-License-Identifier: GPL-2.0
/*
 * kstuck's stall watchdog: captures all CPUs once when a CPU stops taking interrupts.
 *
 * The perf hard-lockup detector needs a PMU, which VMs often lack, so each watched
 * CPU beats a pinned hrtimer heartbeat (hardirq context: it stops exactly when the
 * CPU runs with interrupts off) and an unbound checker kthread, running on any
 * healthy CPU, compares every heartbeat with the threshold. A stall is captured
 * once; a CPU is eligible again after its heartbeat resumed. The heartbeats are
 * started by per-CPU work items, never by IPIs: a CPU that is already wedged keeps
 * its work pending (cancelable at stop) and, having never beaten, is reported as
 * stalled after the threshold. CPUs that come online later are not watched.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": watchdog: " fmt

#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#if __has_include(<linux/panic.h>)
#include <linux/panic.h>	/* split out of kernel.h in v5.14 */
#endif
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "kmod/kstuck_compat.h"
#include "kmod/kstuck_watchdog.h"
#include "nmi_dump/nmi_dump.h"
#include "nmi_dump/uapi/nmi_dump_ioctl.h"

static unsigned int watchdog_ms;
module_param(watchdog_ms, uint, 0444);
MODULE_PARM_DESC(watchdog_ms, "start the stall watchdog at load with this threshold (ms; 0 = off)");
static bool watchdog_panic;
module_param(watchdog_panic, bool, 0444);
MODULE_PARM_DESC(watchdog_panic,
		 "panic after a stall capture, so kdump gets the machine (default 0)");

static DEFINE_PER_CPU(struct hrtimer, kstuck_wd_timer);
static DEFINE_PER_CPU(struct work_struct, kstuck_wd_start_work);
static DEFINE_PER_CPU(u64, kstuck_wd_beat_ns);
static DEFINE_PER_CPU(bool, kstuck_wd_reported);

static DEFINE_MUTEX(kstuck_wd_mutex);	/* serializes start/stop and config */
static struct cpumask kstuck_wd_cpus;	/* CPUs whose heartbeat is watched */
static struct task_struct *kstuck_wd_thread;
static bool kstuck_wd_running;
static u32 kstuck_wd_threshold_ms = 1000;
static u32 kstuck_wd_flags;
static u64 kstuck_wd_fired, kstuck_wd_last_seq;
static u32 kstuck_wd_last_cpu = ~0u;

/* Beats often enough that a healthy CPU is never near the threshold. */
static u32 kstuck_wd_period_ms(void)
{
	return clamp_t(u32, kstuck_wd_threshold_ms / 4, 10, 1000);
}

static enum hrtimer_restart kstuck_wd_beat(struct hrtimer *timer)
{
	__this_cpu_write(kstuck_wd_beat_ns, ktime_get_mono_fast_ns());
	if (!READ_ONCE(kstuck_wd_running))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(timer, ms_to_ktime(kstuck_wd_period_ms()));
	return HRTIMER_RESTART;
}

static void kstuck_wd_start_fn(struct work_struct *work)
{
	struct hrtimer *timer = this_cpu_ptr(&kstuck_wd_timer);

	if (!READ_ONCE(kstuck_wd_running))
		return;
	__this_cpu_write(kstuck_wd_beat_ns, ktime_get_mono_fast_ns());
	hrtimer_start(timer, ms_to_ktime(kstuck_wd_period_ms()), HRTIMER_MODE_REL_PINNED_HARD);
}

static void kstuck_wd_check(void)
{
	u64 now = ktime_get_mono_fast_ns(), threshold = (u64)kstuck_wd_threshold_ms * NSEC_PER_MSEC;
	u64 silent, worst = 0;
	struct nmi_dump_result res = {};
	int cpu, stalled = -1, ret;

	for_each_cpu(cpu, &kstuck_wd_cpus) {
		silent = now - READ_ONCE(per_cpu(kstuck_wd_beat_ns, cpu));
		if (silent < threshold) {
			per_cpu(kstuck_wd_reported, cpu) = false;
			continue;
		}
		if (per_cpu(kstuck_wd_reported, cpu))
			continue;
		/* One capture covers every CPU that stalled since the last check. */
		per_cpu(kstuck_wd_reported, cpu) = true;
		if (silent > worst) {
			worst = silent;
			stalled = cpu;
		}
	}
	if (stalled < 0)
		return;
	ret = nmi_dump_capture_sync(NMI_DUMP_TRIGGER_WATCHDOG, KSTUCK_NMI_TIMEOUT_DEFAULT_MS,
				    stalled, worst, &res);
	if (ret) {
		pr_warn("CPU %d silent for %llu ms, capture failed: %d\n", stalled,
			div_u64(worst, NSEC_PER_MSEC), ret);
		return;
	}
	WRITE_ONCE(kstuck_wd_fired, kstuck_wd_fired + 1);
	WRITE_ONCE(kstuck_wd_last_seq, res.seq);
	WRITE_ONCE(kstuck_wd_last_cpu, stalled);
	pr_warn("CPU %d silent for %llu ms (threshold %u ms): snapshot %llu, %u/%u CPUs answered\n",
		stalled, div_u64(worst, NSEC_PER_MSEC), kstuck_wd_threshold_ms, res.seq,
		res.nr_answered, res.nr_requested);
	if (READ_ONCE(kstuck_wd_flags) & KSTUCK_WATCHDOG_PANIC)
		panic("kstuck watchdog: CPU %d stalled for %llu ms (snapshot %llu)", stalled,
		      div_u64(worst, NSEC_PER_MSEC), res.seq);
}

static int kstuck_wd_thread_fn(void *unused)
{
	while (!kthread_should_stop()) {
		schedule_timeout_interruptible(msecs_to_jiffies(kstuck_wd_period_ms()));
		if (kthread_should_stop())
			break;
		kstuck_wd_check();
	}
	return 0;
}

/* Called with kstuck_wd_mutex held. */
static void kstuck_wd_stop(void)
{
	int cpu;

	if (!kstuck_wd_running)
		return;
	WRITE_ONCE(kstuck_wd_running, false);
	if (kstuck_wd_thread)
		kthread_stop(kstuck_wd_thread);
	kstuck_wd_thread = NULL;
	for_each_cpu(cpu, &kstuck_wd_cpus) {
		/* A start still queued on a wedged CPU is dropped, not waited for. */
		cancel_work_sync(per_cpu_ptr(&kstuck_wd_start_work, cpu));
		hrtimer_cancel(per_cpu_ptr(&kstuck_wd_timer, cpu));
	}
	cpumask_clear(&kstuck_wd_cpus);
	pr_info("stopped\n");
}

/* Called with kstuck_wd_mutex held. */
static int kstuck_wd_start(void)
{
	u64 now = ktime_get_mono_fast_ns();
	struct task_struct *t;
	int cpu;

	if (kstuck_wd_running)
		return 0;
	cpus_read_lock();
	cpumask_copy(&kstuck_wd_cpus, cpu_online_mask);
	cpus_read_unlock();
	for_each_cpu(cpu, &kstuck_wd_cpus) {
		per_cpu(kstuck_wd_beat_ns, cpu) = now;
		per_cpu(kstuck_wd_reported, cpu) = false;
		kstuck_hrtimer_setup(per_cpu_ptr(&kstuck_wd_timer, cpu), kstuck_wd_beat,
				     CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
		INIT_WORK(per_cpu_ptr(&kstuck_wd_start_work, cpu), kstuck_wd_start_fn);
	}
	WRITE_ONCE(kstuck_wd_running, true);
	for_each_cpu(cpu, &kstuck_wd_cpus)
		queue_work_on(cpu, system_highpri_wq, per_cpu_ptr(&kstuck_wd_start_work, cpu));
	t = kthread_run(kstuck_wd_thread_fn, NULL, "kstuck_wdog");
	if (IS_ERR(t)) {
		kstuck_wd_stop();
		return PTR_ERR(t);
	}
	kstuck_wd_thread = t;
	pr_info("watching %u CPUs, threshold %u ms%s\n", cpumask_weight(&kstuck_wd_cpus),
		kstuck_wd_threshold_ms,
		(kstuck_wd_flags & KSTUCK_WATCHDOG_PANIC) ? ", panic after capture" : "");
	return 0;
}

static long kstuck_wd_ioctl_set(void __user *uarg)
{
	struct kstuck_watchdog_config c;
	int ret = 0;

	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	if (c.size != sizeof(c) || c.reserved || c.enabled > 1 ||
	    (c.flags & ~KSTUCK_WATCHDOG_PANIC))
		return -EINVAL;
	if (c.threshold_ms < KSTUCK_WATCHDOG_THRESHOLD_MIN_MS ||
	    c.threshold_ms > KSTUCK_WATCHDOG_THRESHOLD_MAX_MS)
		return -EINVAL;
	mutex_lock(&kstuck_wd_mutex);
	/* Restart so heartbeats and checker use the new period. */
	kstuck_wd_stop();
	kstuck_wd_threshold_ms = c.threshold_ms;
	WRITE_ONCE(kstuck_wd_flags, c.flags);
	if (c.enabled)
		ret = kstuck_wd_start();
	mutex_unlock(&kstuck_wd_mutex);
	return ret;
}

static long kstuck_wd_ioctl_get(void __user *uarg)
{
	struct kstuck_watchdog_config c;

	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	mutex_lock(&kstuck_wd_mutex);
	c.enabled = kstuck_wd_running;
	c.threshold_ms = kstuck_wd_threshold_ms;
	c.flags = kstuck_wd_flags;
	c.fired = READ_ONCE(kstuck_wd_fired);
	c.last_seq = READ_ONCE(kstuck_wd_last_seq);
	c.last_cpu = READ_ONCE(kstuck_wd_last_cpu);
	mutex_unlock(&kstuck_wd_mutex);
	if (copy_to_user(uarg, &c, sizeof(c)))
		return -EFAULT;
	return 0;
}

long kstuck_watchdog_ioctl(unsigned int cmd, void __user *uarg)
{
	switch (cmd) {
	case KSTUCK_IOC_WATCHDOG_SET:
		return kstuck_wd_ioctl_set(uarg);
	case KSTUCK_IOC_WATCHDOG_GET:
		return kstuck_wd_ioctl_get(uarg);
	default:
		return -ENOTTY;
	}
}

int kstuck_watchdog_init(void)
{
	int ret = 0;

	if (!watchdog_ms)
		return 0;
	if (watchdog_ms < KSTUCK_WATCHDOG_THRESHOLD_MIN_MS ||
	    watchdog_ms > KSTUCK_WATCHDOG_THRESHOLD_MAX_MS)
		return -EINVAL;
	mutex_lock(&kstuck_wd_mutex);
	kstuck_wd_threshold_ms = watchdog_ms;
	kstuck_wd_flags = watchdog_panic ? KSTUCK_WATCHDOG_PANIC : 0;
	ret = kstuck_wd_start();
	mutex_unlock(&kstuck_wd_mutex);
	return ret;
}

void kstuck_watchdog_exit(void)
{
	mutex_lock(&kstuck_wd_mutex);
	kstuck_wd_stop();
	mutex_unlock(&kstuck_wd_mutex);
}
