// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: an ABBA mutex deadlock between two kthreads, for kstuck's wait-for
 * graph to find inside the QEMU guest. Never load it outside the test guest.
 *
 * kstuck_abba1 takes kstuck_abba_mutex_a then kstuck_abba_mutex_b; kstuck_abba2 takes
 * B then A. Two completions make sure each holds its first mutex before either asks
 * for its second, so the deadlock is certain, not a race. Writing 1 to "start" sets
 * them going; before blocking, each prints its ground truth:
 *   KSTUCK-TRUTH: abba_first pid=.. comm=.. holds=<addr> holds_sym=.. waits=<addr> waits_sym=..
 *   KSTUCK-TRUTH: abba_second ...
 *
 * A real deadlock never resolves: once started, the module cannot be unloaded (it has
 * no exit function, so the module core marks it permanent). Before start, nothing
 * is held and the threads only wait for the go signal.
 */
#define pr_fmt(fmt) "KSTUCK-TRUTH: "  fmt

#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>

static DEFINE_MUTEX(kstuck_abba_mutex_a);
static DEFINE_MUTEX(kstuck_abba_mutex_b);
static DECLARE_COMPLETION(abba_go);
static DECLARE_COMPLETION(abba_first_holds);
static DECLARE_COMPLETION(abba_second_holds);

struct abba_role {
	const char *role;
	struct mutex *first, *second;
	const char *first_sym, *second_sym;
	struct completion *mine, *other;
};

static const struct abba_role abba_roles[2] = {
	{ "abba_first", &kstuck_abba_mutex_a, &kstuck_abba_mutex_b,
	  "kstuck_abba_mutex_a", "kstuck_abba_mutex_b", &abba_first_holds, &abba_second_holds },
	{ "abba_second", &kstuck_abba_mutex_b, &kstuck_abba_mutex_a,
	  "kstuck_abba_mutex_b", "kstuck_abba_mutex_a", &abba_second_holds, &abba_first_holds },
};

/* Takes one mutex, waits until the peer holds the other one, then asks for it. */
static noinline int kstuck_abba_thread(void *data)
{
	const struct abba_role *r = data;

	/* Interruptible: an idle, not-yet-started thread is no hung task. */
	while (wait_for_completion_interruptible(&abba_go))
		;
	mutex_lock(r->first);
	complete(r->mine);
	wait_for_completion(r->other);
	pr_info("%s pid=%d comm=%s holds=%px holds_sym=%s waits=%px waits_sym=%s\n",
		r->role, current->pid, current->comm, r->first, r->first_sym,
		r->second, r->second_sym);
	mutex_lock(r->second);
	/* Not reached: the peer waits for r->first, which we hold. */
	mutex_unlock(r->second);
	mutex_unlock(r->first);
	return 0;
}

static int abba_set_start(const char *val, const struct kernel_param *kp)
{
	complete_all(&abba_go);
	return 0;
}

static const struct kernel_param_ops abba_start_ops = {
	.set = abba_set_start,
};
module_param_cb(start, &abba_start_ops, NULL, 0200);

static int __init kstuck_abba_init(void)
{
	struct task_struct *t1, *t2;

	/* Created stopped: on failure, kthread_stop() ends a thread that never ran. */
	t1 = kthread_create(kstuck_abba_thread, (void *)&abba_roles[0], "kstuck_abba1");
	if (IS_ERR(t1))
		return PTR_ERR(t1);
	t2 = kthread_create(kstuck_abba_thread, (void *)&abba_roles[1], "kstuck_abba2");
	if (IS_ERR(t2)) {
		kthread_stop(t1);
		return PTR_ERR(t2);
	}
	wake_up_process(t1);
	wake_up_process(t2);
	pr_info("abba_loaded mutex_a=%px mutex_b=%px\n", &kstuck_abba_mutex_a, &kstuck_abba_mutex_b);
	return 0;
}

module_init(kstuck_abba_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kstuck test scenario: ABBA mutex deadlock (QEMU guest only)");
