// SPDX-License-Identifier: GPL-2.0
/*
 * kstuck's stall watchdog: captures all CPUs once when a CPU stops taking interrupts.
 *
 * The perf hard-lockup detector needs a PMU, which VMs often lack, so each watched
 * CPU beats a pinned hrtimer heartbeat (hardirq context: it stops exactly when the
 * CPU runs with interrupts off). Each heartbeat also looks at the next watched CPU's
 * (a buddy ring, like the kernel's buddy hard-lockup detector), and the CPU that sees
 * its buddy silent confirms it at a later beat and captures all CPUs itself, from its
 * timer interrupt: the capture path never waits in NMI context and needs no process
 * context, so neither a checker thread whose timer sits on the wedged CPU nor a work
 * item queued behind a task spinning with preemption off (an xcall waiter) can miss it.
 * With --panic the capturing CPU waits (bounded) for every record, then panics.
 * A stall is captured once; a CPU is eligible again after its heartbeat resumed.
 *
 * Not stalls:
 *  - a CPU going offline: its heartbeat is stopped by the hotplug teardown before it
 *    leaves (an hrtimer would migrate and the CPU look silent); a CPU coming online
 *    starts beating from the hotplug startup, on itself;
 *  - a VM its host paused (QMP stop, SIGSTOP, live migration): every heartbeat is late
 *    at once. A heartbeat late by a threshold (at least KSTUCK_WD_PAUSE_MIN_MS) marks its
 *    CPU; when all watched CPUs but one (at least two) were marked within one threshold,
 *    the machine did not run: kstuck_wd_resume_ns moves, and silences count from one
 *    threshold after it (the host may take that long to run every vCPU again). One late
 *    CPU alone (a busy host's vCPU) moves nothing, so it never hides a stall elsewhere;
 *  - a vCPU the host did not run for a while (steal): a silence is confirmed at a beat
 *    half the threshold (at least KSTUCK_WD_CONFIRM_MIN_MS) after it was first seen; a
 *    CPU that beat meanwhile, or whose silence a pause explained meanwhile, is skipped
 *    (counted; a silence that goes on is seen again).
 * Heartbeats of the CPUs online at start are started by per-CPU work items, never by
 * IPIs: a CPU that is already wedged keeps its work pending (cancelable at stop) and,
 * having never beaten, is reported as stalled after the threshold.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": watchdog: " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#if __has_include(<linux/panic.h>)
#include <linux/panic.h>	/* split out of kernel.h in v5.14 */
#endif
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/stddef.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <asm/irq_regs.h>

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

struct kstuck_wd_cpu {
	struct hrtimer timer;		/* the heartbeat, pinned to cpu */
	struct work_struct start_work;	/* starts the heartbeat on cpu (watchdog start) */
	u64 beat_ns;			/* last heartbeat, CLOCK_MONOTONIC */
	u64 late_ns;			/* last heartbeat that came a threshold late */
	u64 suspect_ns;			/* when its buddy first saw this silence, or 0 */
	u64 suspect_beat_ns;		/* beat_ns at that moment */
	unsigned int cpu;
	bool reported;			/* this silence was captured */
};

static DEFINE_PER_CPU(struct kstuck_wd_cpu, kstuck_wd);

static DEFINE_MUTEX(kstuck_wd_mutex);	/* serializes start/stop and config */
static struct cpumask kstuck_wd_cpus;	/* CPUs whose heartbeat is watched */
static int kstuck_wd_hp_state = -1;
static bool kstuck_wd_running;
static u32 kstuck_wd_threshold_ms = 1000;
static u32 kstuck_wd_flags;
static u64 kstuck_wd_resume_ns;		/* the machine ran again after a pause */
static u64 kstuck_wd_fired, kstuck_wd_last_seq, kstuck_wd_skipped;
static u32 kstuck_wd_last_cpu = ~0u;

/*
 * The least time a silence is watched before it counts as a stall: a host may leave a
 * vCPU unscheduled that long (up to 528 ms seen in a 4-vCPU TCG guest on a host running
 * 20 runnable threads per core), which is steal, not a stall.
 */
#define KSTUCK_WD_CONFIRM_MIN_MS	600
/*
 * The least lateness of a heartbeat that counts towards a whole-machine pause (QMP stop,
 * SIGSTOP, migration downtime): a busy host made all vCPUs of a TCG guest 100-500 ms late
 * together every second or so, and taking that for pauses kept restarting the silence of
 * a wedged CPU.
 */
#define KSTUCK_WD_PAUSE_MIN_MS		500

/* Beats often enough that a healthy CPU is never near the threshold. */
static u32 kstuck_wd_period_ms(void)
{
	return clamp_t(u32, READ_ONCE(kstuck_wd_threshold_ms) / 4, 10, 1000);
}

static u64 kstuck_wd_threshold_ns(void)
{
	return (u64)READ_ONCE(kstuck_wd_threshold_ms) * NSEC_PER_MSEC;
}

/* Since when cpu's heartbeat counts as silent: pauses of the whole machine excluded. */
static u64 kstuck_wd_silence_start(unsigned int cpu)
{
	return max(READ_ONCE(per_cpu(kstuck_wd, cpu).beat_ns),
		   READ_ONCE(kstuck_wd_resume_ns) + kstuck_wd_threshold_ns());
}

/* A late heartbeat at now: if nearly every CPU's was late too, the whole machine paused. */
static void kstuck_wd_note_late(struct kstuck_wd_cpu *wd, u64 now, u64 threshold)
{
	unsigned int cpu, late = 0, watched = 0;

	WRITE_ONCE(wd->late_ns, now);
	for_each_cpu(cpu, &kstuck_wd_cpus) {
		watched++;
		if (now - READ_ONCE(per_cpu(kstuck_wd, cpu).late_ns) < threshold)
			late++;
	}
	if (late >= max(2U, watched - 1))
		WRITE_ONCE(kstuck_wd_resume_ns, now);
}

static u64 kstuck_wd_silent(unsigned int cpu, u64 now)
{
	u64 since = kstuck_wd_silence_start(cpu);

	return now > since ? now - since : 0;
}

/* Captures all CPUs for a stall of cpu, from this CPU's timer interrupt. */
static void kstuck_wd_capture(unsigned int cpu, u64 silent)
{
	struct nmi_dump_result res = {};
	bool panic_after = READ_ONCE(kstuck_wd_flags) & KSTUCK_WATCHDOG_PANIC;
	int ret;

	/* Before a panic every record is worth the wait; otherwise a short bound. */
	res.wait_ms = panic_after ? KSTUCK_NMI_DUMP_ATOMIC_MAX_MS : 100;
	ret = nmi_dump_capture_atomic(NMI_DUMP_TRIGGER_WATCHDOG, get_irq_regs(),
				      KSTUCK_NMI_DUMP_ATOMIC_MAX_MS, cpu, silent, &res);
	if (ret) {
		pr_warn_ratelimited("CPU %u silent for %llu ms, capture failed: %d\n", cpu,
				    div_u64(silent, NSEC_PER_MSEC), ret);
		return;
	}
	WRITE_ONCE(kstuck_wd_fired, kstuck_wd_fired + 1);
	WRITE_ONCE(kstuck_wd_last_seq, res.seq);
	WRITE_ONCE(kstuck_wd_last_cpu, cpu);
	pr_warn("CPU %u silent for %llu ms (threshold %u ms): snapshot %llu, %u/%u CPUs answered\n",
		cpu, div_u64(silent, NSEC_PER_MSEC), READ_ONCE(kstuck_wd_threshold_ms), res.seq,
		res.nr_answered, res.nr_requested);
	if (panic_after)
		panic("kstuck watchdog: CPU %u stalled for %llu ms (snapshot %llu)", cpu,
		      div_u64(silent, NSEC_PER_MSEC), res.seq);
}

/*
 * This CPU's heartbeat looks at its buddy's: a silence of a threshold is suspected, and
 * confirmed at a beat half a threshold (at least 100 ms) later if the buddy has not
 * beaten since and no pause explains it. Only this CPU checks this buddy.
 */
static void kstuck_wd_check_buddy(unsigned int buddy, u64 now, u64 threshold)
{
	struct kstuck_wd_cpu *bw = per_cpu_ptr(&kstuck_wd, buddy);
	u64 silent = kstuck_wd_silent(buddy, now), confirm;

	if (silent < threshold) {
		if (READ_ONCE(bw->suspect_ns)) {
			WRITE_ONCE(kstuck_wd_skipped, kstuck_wd_skipped + 1);
			pr_info_ratelimited("CPU %u was silent for %llu ms, then %s: not a stall\n",
					    buddy, div_u64(now - bw->suspect_beat_ns, NSEC_PER_MSEC),
					    READ_ONCE(bw->beat_ns) != bw->suspect_beat_ns ?
					    "ran again" : "the whole machine was found paused");
			WRITE_ONCE(bw->suspect_ns, 0);
		}
		WRITE_ONCE(bw->reported, false);
		return;
	}
	if (READ_ONCE(bw->reported))
		return;
	if (!READ_ONCE(bw->suspect_ns)) {
		bw->suspect_beat_ns = READ_ONCE(bw->beat_ns);
		WRITE_ONCE(bw->suspect_ns, now);
		return;
	}
	confirm = max_t(u64, threshold / 2, KSTUCK_WD_CONFIRM_MIN_MS * NSEC_PER_MSEC);
	if (now - READ_ONCE(bw->suspect_ns) < confirm)
		return;
	WRITE_ONCE(bw->reported, true);
	WRITE_ONCE(bw->suspect_ns, 0);
	kstuck_wd_capture(buddy, silent);
}

static enum hrtimer_restart kstuck_wd_beat(struct hrtimer *timer)
{
	struct kstuck_wd_cpu *wd = container_of(timer, struct kstuck_wd_cpu, timer);
	u64 now = ktime_get_mono_fast_ns(), threshold = kstuck_wd_threshold_ns();
	s64 late = ktime_to_ns(ktime_sub(hrtimer_cb_get_time(timer), hrtimer_get_expires(timer)));
	unsigned int buddy;

	/* Stopping, or a timer that left its CPU: never beat for another CPU. */
	if (!READ_ONCE(kstuck_wd_running) || wd->cpu != smp_processor_id())
		return HRTIMER_NORESTART;
	/* Late by a threshold and a pause's worth, though this CPU was not the stalled one. */
	if (late >= (s64)max_t(u64, threshold, KSTUCK_WD_PAUSE_MIN_MS * NSEC_PER_MSEC) &&
	    !READ_ONCE(wd->reported))
		kstuck_wd_note_late(wd, now, threshold);
	WRITE_ONCE(wd->beat_ns, now);
	buddy = cpumask_next(wd->cpu, &kstuck_wd_cpus);
	if (buddy >= nr_cpu_ids)
		buddy = cpumask_first(&kstuck_wd_cpus);
	if (buddy < nr_cpu_ids && buddy != wd->cpu)
		kstuck_wd_check_buddy(buddy, now, threshold);
	hrtimer_forward_now(timer, ms_to_ktime(kstuck_wd_period_ms()));
	return HRTIMER_RESTART;
}

static void kstuck_wd_start_heartbeat(struct kstuck_wd_cpu *wd)
{
	WRITE_ONCE(wd->beat_ns, ktime_get_mono_fast_ns());
	hrtimer_start(&wd->timer, ms_to_ktime(kstuck_wd_period_ms()), HRTIMER_MODE_REL_PINNED_HARD);
}

static void kstuck_wd_start_fn(struct work_struct *work)
{
	struct kstuck_wd_cpu *wd = container_of(work, struct kstuck_wd_cpu, start_work);

	/* A bound work item runs on its CPU unless that CPU left; then the hotplug did it. */
	if (!READ_ONCE(kstuck_wd_running) || wd->cpu != raw_smp_processor_id())
		return;
	kstuck_wd_start_heartbeat(wd);
}

/* CPU hotplug, on the CPU coming up (under the hotplug lock: start/stop excluded). */
static int kstuck_wd_cpu_online(unsigned int cpu)
{
	struct kstuck_wd_cpu *wd = per_cpu_ptr(&kstuck_wd, cpu);

	if (!kstuck_wd_running)
		return 0;
	WRITE_ONCE(wd->reported, false);
	WRITE_ONCE(wd->suspect_ns, 0);
	kstuck_wd_start_heartbeat(wd);
	cpumask_set_cpu(cpu, &kstuck_wd_cpus);
	return 0;
}

/* CPU hotplug, on the CPU going down, before it leaves: no longer watched. */
static int kstuck_wd_cpu_offline(unsigned int cpu)
{
	struct kstuck_wd_cpu *wd = per_cpu_ptr(&kstuck_wd, cpu);

	if (!kstuck_wd_running)
		return 0;
	cpumask_clear_cpu(cpu, &kstuck_wd_cpus);
	cancel_work_sync(&wd->start_work);
	hrtimer_cancel(&wd->timer);
	return 0;
}

/* Called with kstuck_wd_mutex held. */
static void kstuck_wd_stop(void)
{
	int cpu;

	if (!kstuck_wd_running)
		return;
	cpus_read_lock();
	WRITE_ONCE(kstuck_wd_running, false);
	for_each_cpu(cpu, &kstuck_wd_cpus) {
		/* A start still queued on a wedged CPU is dropped, not waited for. */
		cancel_work_sync(per_cpu_ptr(&kstuck_wd.start_work, cpu));
		hrtimer_cancel(per_cpu_ptr(&kstuck_wd.timer, cpu));
	}
	cpumask_clear(&kstuck_wd_cpus);
	cpus_read_unlock();
	pr_info("stopped\n");
}

/* Called with kstuck_wd_mutex held. */
static int kstuck_wd_start(void)
{
	u64 now = ktime_get_mono_fast_ns();
	struct kstuck_wd_cpu *wd;
	int cpu;

	if (kstuck_wd_running)
		return 0;
	cpus_read_lock();
	cpumask_copy(&kstuck_wd_cpus, cpu_online_mask);
	for_each_cpu(cpu, &kstuck_wd_cpus) {
		wd = per_cpu_ptr(&kstuck_wd, cpu);
		WRITE_ONCE(wd->beat_ns, now);
		WRITE_ONCE(wd->late_ns, 0);
		WRITE_ONCE(wd->suspect_ns, 0);
		WRITE_ONCE(wd->reported, false);
	}
	WRITE_ONCE(kstuck_wd_resume_ns, 0);
	WRITE_ONCE(kstuck_wd_running, true);
	for_each_cpu(cpu, &kstuck_wd_cpus)
		queue_work_on(cpu, system_highpri_wq, per_cpu_ptr(&kstuck_wd.start_work, cpu));
	cpus_read_unlock();
	pr_info("watching %u CPUs, threshold %u ms%s\n", cpumask_weight(&kstuck_wd_cpus),
		kstuck_wd_threshold_ms,
		(kstuck_wd_flags & KSTUCK_WATCHDOG_PANIC) ? ", panic after capture" : "");
	return 0;
}

/* Reads a size-prefixed struct of ksize bytes; *usize gets the caller's size. */
static int kstuck_wd_get_struct(void *dst, size_t ksize, void __user *uarg, u32 *usize)
{
	int ret;

	if (get_user(*usize, (u32 __user *)uarg))
		return -EFAULT;
	if (*usize < sizeof(u32) || *usize > PAGE_SIZE)
		return -EINVAL;
	ret = copy_struct_from_user(dst, ksize, uarg, *usize);
	return ret == -E2BIG ? -EINVAL : ret;
}

static long kstuck_wd_ioctl_set(void __user *uarg)
{
	struct kstuck_watchdog_config c;
	u32 usize;
	int ret;

	ret = kstuck_wd_get_struct(&c, sizeof(c), uarg, &usize);
	if (ret)
		return ret;
	if (usize < offsetofend(struct kstuck_watchdog_config, flags) || c.reserved ||
	    c.enabled > 1 || (c.flags & ~KSTUCK_WATCHDOG_PANIC))
		return -EINVAL;
	if (c.threshold_ms < KSTUCK_WATCHDOG_THRESHOLD_MIN_MS ||
	    c.threshold_ms > KSTUCK_WATCHDOG_THRESHOLD_MAX_MS)
		return -EINVAL;
	mutex_lock(&kstuck_wd_mutex);
	/* Restart so heartbeats and checks use the new period. */
	kstuck_wd_stop();
	WRITE_ONCE(kstuck_wd_threshold_ms, c.threshold_ms);
	WRITE_ONCE(kstuck_wd_flags, c.flags);
	if (c.enabled)
		ret = kstuck_wd_start();
	mutex_unlock(&kstuck_wd_mutex);
	return ret;
}

static long kstuck_wd_ioctl_get(void __user *uarg)
{
	struct kstuck_watchdog_config c;
	u32 usize;

	/* Only the size is read: an old caller's struct is answered in its size. */
	if (get_user(usize, (u32 __user *)uarg))
		return -EFAULT;
	if (usize < offsetofend(struct kstuck_watchdog_config, flags) || usize > PAGE_SIZE)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	c.size = min_t(u32, usize, sizeof(c));
	mutex_lock(&kstuck_wd_mutex);
	c.enabled = kstuck_wd_running;
	c.threshold_ms = kstuck_wd_threshold_ms;
	c.flags = kstuck_wd_flags;
	c.fired = READ_ONCE(kstuck_wd_fired);
	c.last_seq = READ_ONCE(kstuck_wd_last_seq);
	c.last_cpu = READ_ONCE(kstuck_wd_last_cpu);
	c.skipped = READ_ONCE(kstuck_wd_skipped);
	mutex_unlock(&kstuck_wd_mutex);
	if (copy_to_user(uarg, &c, min_t(u32, usize, sizeof(c))))
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
	struct kstuck_wd_cpu *wd;
	int cpu, ret = 0;

	if (watchdog_ms && (watchdog_ms < KSTUCK_WATCHDOG_THRESHOLD_MIN_MS ||
			    watchdog_ms > KSTUCK_WATCHDOG_THRESHOLD_MAX_MS))
		return -EINVAL;
	for_each_possible_cpu(cpu) {
		wd = per_cpu_ptr(&kstuck_wd, cpu);
		wd->cpu = cpu;
		kstuck_hrtimer_setup(&wd->timer, kstuck_wd_beat, CLOCK_MONOTONIC,
				     HRTIMER_MODE_REL_HARD);
		INIT_WORK(&wd->start_work, kstuck_wd_start_fn);
	}
	/* Without calls: the CPUs online now are started by kstuck_wd_start(). */
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, "kstuck/watchdog:online",
					kstuck_wd_cpu_online, kstuck_wd_cpu_offline);
	if (ret < 0)
		return ret;
	kstuck_wd_hp_state = ret;
	if (!watchdog_ms)
		return 0;
	mutex_lock(&kstuck_wd_mutex);
	kstuck_wd_threshold_ms = watchdog_ms;
	kstuck_wd_flags = watchdog_panic ? KSTUCK_WATCHDOG_PANIC : 0;
	ret = kstuck_wd_start();
	mutex_unlock(&kstuck_wd_mutex);
	if (ret) {
		cpuhp_remove_state_nocalls(kstuck_wd_hp_state);
		kstuck_wd_hp_state = -1;
	}
	return ret;
}

void kstuck_watchdog_exit(void)
{
	mutex_lock(&kstuck_wd_mutex);
	kstuck_wd_stop();
	mutex_unlock(&kstuck_wd_mutex);
	if (kstuck_wd_hp_state >= 0)
		cpuhp_remove_state_nocalls(kstuck_wd_hp_state);
	kstuck_wd_hp_state = -1;
}
