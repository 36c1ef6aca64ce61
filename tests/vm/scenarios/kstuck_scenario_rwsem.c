// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a deadlock between an rwsem and a mutex, with a second rwsem waiter, for
 * kstuck's rwsem owner/waiter reading and wait-for graph inside the QEMU guest. Never
 * load it outside the test guest.
 *
 * kstuck_rww takes kstuck_rw_sem for writing, then asks for kstuck_rw_mutex;
 * kstuck_rwr takes the mutex, then asks for the rwsem for reading. Completions make
 * sure each holds its first lock before either asks for its second. Once the reader
 * sleeps on the rwsem, kstuck_rww2 asks for it for writing too, so the wait list has
 * the reader first and the second writer after it. Writing 1 to "start" sets them
 * going. Before blocking, each prints its ground truth:
 *   KSTUCK-TRUTH: rw_writer pid=.. comm=.. rwsem=<addr> mutex=<addr>
 *   KSTUCK-TRUTH: rw_reader pid=.. comm=.. rwsem=<addr> mutex=<addr>
 *   KSTUCK-TRUTH: rw_writer2 pid=.. comm=.. rwsem=<addr>
 * Like the ABBA scenario, once started the module can never be unloaded.
 */
#define pr_fmt(fmt) "KSTUCK-TRUTH: "  fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include "kstuck_scenario_actors.h"

static DECLARE_RWSEM(kstuck_rw_sem);
static DEFINE_MUTEX(kstuck_rw_mutex);
static DECLARE_COMPLETION(rw_go);
static DECLARE_COMPLETION(rw_writer_holds);
static DECLARE_COMPLETION(rw_reader_holds);
static DECLARE_COMPLETION(rw_reader_asks);

/* False when stopped before the start. Interruptible: an unstarted actor is no hung task. */
static bool rw_wait_go(void)
{
	while (!kthread_should_stop()) {
		if (wait_for_completion_interruptible_timeout(&rw_go, HZ) > 0)
			return true;
	}
	return false;
}

static noinline int kstuck_rw_writer(void *unused)
{
	if (!rw_wait_go())
		return 0;
	down_write(&kstuck_rw_sem);
	complete(&rw_writer_holds);
	wait_for_completion(&rw_reader_holds);
	pr_info("rw_writer pid=%d comm=%s rwsem=%px mutex=%px\n", current->pid, current->comm,
		&kstuck_rw_sem, &kstuck_rw_mutex);
	mutex_lock(&kstuck_rw_mutex);
	/* Not reached: the reader holds the mutex and waits for the rwsem. */
	mutex_unlock(&kstuck_rw_mutex);
	up_write(&kstuck_rw_sem);
	return 0;
}

static noinline int kstuck_rw_reader(void *unused)
{
	if (!rw_wait_go())
		return 0;
	mutex_lock(&kstuck_rw_mutex);
	complete(&rw_reader_holds);
	wait_for_completion(&rw_writer_holds);
	pr_info("rw_reader pid=%d comm=%s rwsem=%px mutex=%px\n", current->pid, current->comm,
		&kstuck_rw_sem, &kstuck_rw_mutex);
	complete(&rw_reader_asks);
	down_read(&kstuck_rw_sem);
	/* Not reached. */
	up_read(&kstuck_rw_sem);
	mutex_unlock(&kstuck_rw_mutex);
	return 0;
}

static noinline int kstuck_rw_writer2(void *unused)
{
	if (!rw_wait_go())
		return 0;
	wait_for_completion(&rw_reader_asks);
	/* Queue behind the reader: let it reach the rwsem's wait list first. */
	msleep(500);
	pr_info("rw_writer2 pid=%d comm=%s rwsem=%px\n", current->pid, current->comm, &kstuck_rw_sem);
	down_write(&kstuck_rw_sem);
	/* Not reached. */
	up_write(&kstuck_rw_sem);
	return 0;
}

static int rw_set_start(const char *val, const struct kernel_param *kp)
{
	complete_all(&rw_go);
	return 0;
}

static const struct kernel_param_ops rw_start_ops = {
	.set = rw_set_start,
};
module_param_cb(start, &rw_start_ops, NULL, 0200);

static int __init kstuck_rwsem_init(void)
{
	int (*const fns[3])(void *) = { kstuck_rw_writer, kstuck_rw_reader, kstuck_rw_writer2 };
	static const char *const names[3] = { "kstuck_rww", "kstuck_rwr", "kstuck_rww2" };
	static struct task_struct *actors[3];
	int i, err;

	for (i = 0; i < 3; i++) {
		actors[i] = kstuck_scenario_spawn(fns[i], names[i], -1);
		if (IS_ERR(actors[i])) {
			err = PTR_ERR(actors[i]);
			/* Not started yet: each one stopped returns from rw_wait_go(). */
			while (i-- > 0)
				kstuck_scenario_stop(&actors[i]);
			return err;
		}
	}
	return 0;
}

module_init(kstuck_rwsem_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kstuck test scenario: rwsem/mutex deadlock with a second rwsem waiter (QEMU guest only)");
