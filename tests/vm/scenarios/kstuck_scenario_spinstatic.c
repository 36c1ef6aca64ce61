// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a spinlock deadlock written the way kernel code is, for kstuck to find the
 * holder of a lock whose address no register or stack slot keeps. Never load it outside
 * the test guest.
 *
 * On holder_cpu (2), kstuck_spinstatic_holder takes the lock with spin_lock() (interrupts
 * stay on) and calls smp_call_function_single(waiter_cpu, ..., wait=1); on waiter_cpu (3),
 * kstuck_spinstatic_waiter spins in spin_lock_irqsave() on the same lock. The waiter never
 * takes the IPI, the holder never stops waiting for it and never unlocks: both CPUs are
 * wedged for good. The guest cannot recover; the host dumps it and kills it.
 *
 * The lock is a static DEFINE_SPINLOCK, used by name: its address is an immediate or a
 * RIP-relative operand at every use, as in real code. Built as
 * kstuck_scenario_spinmember (KSTUCK_SPIN_MEMBER, see kstuck_scenario_spinmember.c), the
 * lock is a member of a kmalloc'ed struct reached through a pointer argument: the lock
 * argument is base + offset.
 *
 * Writing 1 to "start" sets both going. Ground truth, printed just before each side
 * blocks:
 *   KSTUCK-TRUTH: spinstatic_holder pid=.. comm=.. cpu=2 target_cpu=3 lock=<addr>
 *                 lock_sym=<name> kind=static|member func=kstuck_spinstatic_func
 *   KSTUCK-TRUTH: spinstatic_waiter pid=.. comm=.. cpu=3 lock=<addr> irqs=off
 */
#define pr_fmt(fmt) "KSTUCK-TRUTH: "  fmt

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include "kstuck_scenario_quiet.h"

static unsigned int holder_cpu = 2;
module_param(holder_cpu, uint, 0444);
static unsigned int waiter_cpu = 3;
module_param(waiter_cpu, uint, 0444);

#ifdef KSTUCK_SPIN_MEMBER
#define KSTUCK_SPIN_KIND "member"
/* The lock sits past other members: its address is the object's plus an offset. */
struct kstuck_spin_obj {
	unsigned long hits;
	unsigned long pad[4];
	spinlock_t lock;
	unsigned long calls;
};
static struct kstuck_spin_obj *kstuck_spin_obj;
#else
#define KSTUCK_SPIN_KIND "static"
static DEFINE_SPINLOCK(kstuck_static_lock);
#endif

static DECLARE_COMPLETION(spinstatic_go);
static atomic_t holder_has_lock = ATOMIC_INIT(0);
static atomic_t waiter_spinning = ATOMIC_INIT(0);

static noinline void kstuck_spinstatic_func(void *info)
{
	/* Would run on waiter_cpu if its interrupts ever came back on. */
}

static void spinstatic_wait_go(void)
{
	/* Interruptible: an idle, not-yet-started thread is no hung task. */
	while (wait_for_completion_interruptible(&spinstatic_go))
		;
}

/* Bounded: the other side is pinned to an idle isolated CPU and comes at once. */
static void spinstatic_wait_for(atomic_t *flag)
{
	int i;

	for (i = 0; i < 5000 && !atomic_read(flag); i++)
		udelay(1000);
}

#ifdef KSTUCK_SPIN_MEMBER
static noinline void kstuck_spinstatic_hold(struct kstuck_spin_obj *obj)
{
	spin_lock(&obj->lock);
	obj->hits++;
	atomic_set(&holder_has_lock, 1);
	spinstatic_wait_for(&waiter_spinning);
	/* Give the waiter time to turn interrupts off and settle in the slowpath. */
	mdelay(20);
	pr_info("spinstatic_holder pid=%d comm=%s cpu=%d target_cpu=%u lock=%px lock_sym=kstuck_spin_obj kind=%s func=kstuck_spinstatic_func\n",
		current->pid, current->comm, raw_smp_processor_id(), waiter_cpu, &obj->lock,
		KSTUCK_SPIN_KIND);
	smp_call_function_single(waiter_cpu, kstuck_spinstatic_func, NULL, 1);
	obj->calls++;
	spin_unlock(&obj->lock);
}

static noinline void kstuck_spinstatic_wait(struct kstuck_spin_obj *obj)
{
	unsigned long flags;

	spinstatic_wait_for(&holder_has_lock);
	local_irq_disable();
	kstuck_scenario_drop_lazy_mm();
	local_irq_enable();
	pr_info("spinstatic_waiter pid=%d comm=%s cpu=%d lock=%px irqs=off\n",
		current->pid, current->comm, raw_smp_processor_id(), &obj->lock);
	atomic_set(&waiter_spinning, 1);
	spin_lock_irqsave(&obj->lock, flags);
	obj->hits++;
	spin_unlock_irqrestore(&obj->lock, flags);
}

static int kstuck_spinstatic_holder(void *unused)
{
	spinstatic_wait_go();
	kstuck_spinstatic_hold(kstuck_spin_obj);
	return 0;
}

static int kstuck_spinstatic_waiter(void *unused)
{
	spinstatic_wait_go();
	kstuck_spinstatic_wait(kstuck_spin_obj);
	return 0;
}
#else
static noinline void kstuck_spinstatic_hold(void)
{
	spin_lock(&kstuck_static_lock);
	atomic_set(&holder_has_lock, 1);
	spinstatic_wait_for(&waiter_spinning);
	/* Give the waiter time to turn interrupts off and settle in the slowpath. */
	mdelay(20);
	pr_info("spinstatic_holder pid=%d comm=%s cpu=%d target_cpu=%u lock=%px lock_sym=kstuck_static_lock kind=%s func=kstuck_spinstatic_func\n",
		current->pid, current->comm, raw_smp_processor_id(), waiter_cpu,
		&kstuck_static_lock, KSTUCK_SPIN_KIND);
	smp_call_function_single(waiter_cpu, kstuck_spinstatic_func, NULL, 1);
	spin_unlock(&kstuck_static_lock);
}

static noinline void kstuck_spinstatic_wait(void)
{
	unsigned long flags;

	spinstatic_wait_for(&holder_has_lock);
	local_irq_disable();
	kstuck_scenario_drop_lazy_mm();
	local_irq_enable();
	pr_info("spinstatic_waiter pid=%d comm=%s cpu=%d lock=%px irqs=off\n",
		current->pid, current->comm, raw_smp_processor_id(), &kstuck_static_lock);
	atomic_set(&waiter_spinning, 1);
	spin_lock_irqsave(&kstuck_static_lock, flags);
	spin_unlock_irqrestore(&kstuck_static_lock, flags);
}

static int kstuck_spinstatic_holder(void *unused)
{
	spinstatic_wait_go();
	kstuck_spinstatic_hold();
	return 0;
}

static int kstuck_spinstatic_waiter(void *unused)
{
	spinstatic_wait_go();
	kstuck_spinstatic_wait();
	return 0;
}
#endif

static int spinstatic_set_start(const char *val, const struct kernel_param *kp)
{
	kstuck_scenario_wait_init_freed();
	complete_all(&spinstatic_go);
	return 0;
}

static const struct kernel_param_ops spinstatic_start_ops = {
	.set = spinstatic_set_start,
};
module_param_cb(start, &spinstatic_start_ops, NULL, 0200);

static int __init kstuck_spinstatic_init(void)
{
	struct task_struct *h, *w;

	kstuck_scenario_note_init_memory();
	/* On PREEMPT_RT a spinlock_t sleeps: no spinning deadlock to build. */
	if (IS_ENABLED(CONFIG_PREEMPT_RT))
		return -EOPNOTSUPP;
	if (holder_cpu >= nr_cpu_ids || !cpu_online(holder_cpu) ||
	    waiter_cpu >= nr_cpu_ids || !cpu_online(waiter_cpu) || holder_cpu == waiter_cpu)
		return -EINVAL;
#ifdef KSTUCK_SPIN_MEMBER
	kstuck_spin_obj = kzalloc(sizeof(*kstuck_spin_obj), GFP_KERNEL);
	if (!kstuck_spin_obj)
		return -ENOMEM;
	spin_lock_init(&kstuck_spin_obj->lock);
#endif
	/* Created stopped: on failure, kthread_stop() ends a thread that never ran. */
	h = kstuck_scenario_kthread_on_cpu(kstuck_spinstatic_holder, NULL, holder_cpu,
					    "kstuck_sth/%u");
	if (IS_ERR(h))
		goto out_free;
	w = kstuck_scenario_kthread_on_cpu(kstuck_spinstatic_waiter, NULL, waiter_cpu,
					    "kstuck_stw/%u");
	if (IS_ERR(w)) {
		kthread_stop(h);
		h = w;
		goto out_free;
	}
	wake_up_process(h);
	wake_up_process(w);
	pr_info("spinstatic_loaded kind=%s holder_cpu=%u waiter_cpu=%u\n", KSTUCK_SPIN_KIND,
		holder_cpu, waiter_cpu);
	return 0;

out_free:
#ifdef KSTUCK_SPIN_MEMBER
	kfree(kstuck_spin_obj);
#endif
	return PTR_ERR(h);
}

/* No exit function: once started, the deadlock is permanent, and so is the module. */
module_init(kstuck_spinstatic_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kstuck test scenario: static/member spinlock vs. xcall deadlock (QEMU guest only)");
