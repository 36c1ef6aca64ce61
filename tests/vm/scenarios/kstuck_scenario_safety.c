// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: the short, precise wedges the kmod_safety suite needs to check that
 * kstuck.ko is safe on a production kernel. Never load it elsewhere.
 *
 *   wedge=CPU       spin on CPU with interrupts off for wedge_ms (a kthread bound to it)
 *   nmi_block=CPU   the next NMI that CPU takes spins nmi_block_ms inside the NMI
 *                   handler (registered first, so kstuck's handler waits behind it):
 *                   NMIs sent to that CPU meanwhile stay pending, as on a CPU stuck in
 *                   an NMI
 * Each prints a KSTUCK-TRUTH line when it starts and ends.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/irqflags.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>
#include <asm/nmi.h>

static unsigned int wedge_ms = 500;
module_param(wedge_ms, uint, 0644);
MODULE_PARM_DESC(wedge_ms, "how long a wedge spins with interrupts off (ms)");
static unsigned int nmi_block_ms = 3000;
module_param(nmi_block_ms, uint, 0644);
MODULE_PARM_DESC(nmi_block_ms, "how long the blocked CPU spins inside its next NMI (ms)");

static atomic_t safety_nmi_block_cpu = ATOMIC_INIT(-1);
static int nmi_blocking;	/* 1 while a CPU spins inside its NMI */
module_param(nmi_blocking, int, 0444);
MODULE_PARM_DESC(nmi_blocking, "1 while the blocked CPU spins inside its NMI");
static atomic_t safety_wedges_running = ATOMIC_INIT(0);

static int safety_wedge_fn(void *data)
{
	unsigned int ms = READ_ONCE(wedge_ms);
	unsigned long flags;
	u64 end;

	pr_info("KSTUCK-TRUTH: safety_wedge cpu=%d ms=%u pid=%d start\n", smp_processor_id(), ms,
		current->pid);
	/* By the clock: mdelay()'s calibrated loop ran 4-8x long under a busy TCG host. */
	local_irq_save(flags);
	end = ktime_get_mono_fast_ns() + (u64)ms * NSEC_PER_MSEC;
	while (ktime_get_mono_fast_ns() < end)
		cpu_relax();
	local_irq_restore(flags);
	pr_info("KSTUCK-TRUTH: safety_wedge cpu=%d done\n", smp_processor_id());
	atomic_dec(&safety_wedges_running);
	return 0;
}

static int safety_wedge_set(const char *val, const struct kernel_param *kp)
{
	struct task_struct *t;
	unsigned int cpu;
	int ret = kstrtouint(val, 0, &cpu);

	if (ret)
		return ret;
	if (cpu >= nr_cpu_ids || !cpu_online(cpu))
		return -EINVAL;
	t = kthread_create(safety_wedge_fn, NULL, "kstuck_wedge/%u", cpu);
	if (IS_ERR(t))
		return PTR_ERR(t);
	kthread_bind(t, cpu);
	atomic_inc(&safety_wedges_running);
	wake_up_process(t);
	return 0;
}

static const struct kernel_param_ops safety_wedge_ops = { .set = safety_wedge_set };
module_param_cb(wedge, &safety_wedge_ops, NULL, 0200);

static int safety_nmi(unsigned int type, struct pt_regs *regs)
{
	unsigned int ms = READ_ONCE(nmi_block_ms);
	int cpu = smp_processor_id();
	u64 end;

	if (atomic_read(&safety_nmi_block_cpu) != cpu ||
	    atomic_cmpxchg(&safety_nmi_block_cpu, cpu, -1) != cpu)
		return NMI_DONE;
	WRITE_ONCE(nmi_blocking, 1);
	end = ktime_get_mono_fast_ns() + (u64)ms * NSEC_PER_MSEC;
	while (ktime_get_mono_fast_ns() < end)
		cpu_relax();
	WRITE_ONCE(nmi_blocking, 0);
	return NMI_DONE;	/* not ours: the handlers after this one see the NMI too */
}

static int safety_nmi_block_set(const char *val, const struct kernel_param *kp)
{
	unsigned int cpu;
	int ret = kstrtouint(val, 0, &cpu);

	if (ret)
		return ret;
	if (cpu >= nr_cpu_ids || !cpu_online(cpu))
		return -EINVAL;
	atomic_set(&safety_nmi_block_cpu, cpu);
	pr_info("KSTUCK-TRUTH: safety_nmi_block cpu=%u ms=%u armed\n", cpu, READ_ONCE(nmi_block_ms));
	return 0;
}

static const struct kernel_param_ops safety_nmi_block_ops = { .set = safety_nmi_block_set };
module_param_cb(nmi_block, &safety_nmi_block_ops, NULL, 0200);

static int __init safety_init(void)
{
	return register_nmi_handler(NMI_LOCAL, safety_nmi, NMI_FLAG_FIRST, "kstuck_safety");
}

static void __exit safety_exit(void)
{
	unregister_nmi_handler(NMI_LOCAL, "kstuck_safety");
	/* A wedge still spinning runs module text: wait for it (bounded by its wedge_ms). */
	while (atomic_read(&safety_wedges_running))
		msleep(10);
}

module_init(safety_init);
module_exit(safety_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kstuck test-only wedges for the kmod_safety VM suite");
