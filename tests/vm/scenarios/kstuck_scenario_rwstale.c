// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: an rwsem whose owner field names a reader that has already released it,
 * while a writer waits behind the reader that really holds it. Never load it outside
 * the QEMU test guest.
 *
 * The locks live in a heap object, the way driver code keeps them:
 *   struct kstuck_rwstale_dev { struct rw_semaphore sem; struct mutex gate; ... }
 *
 *   kstuck_rwsh (holder)  down_read(&dev->sem) first and keeps it, asleep on a
 *                          completion nobody completes.
 *   kstuck_rwsr (reader)  down_read(&dev->sem) second: on a rwsem with readers in it the
 *                          fast path writes current | RWSEM_READER_OWNED into sem->owner
 *                          (rwsem_set_reader_owned()), so the owner now names it. Then
 *                          up_read(), which leaves owner alone (only
 *                          CONFIG_DEBUG_RWSEMS clears it). Then it asks for dev->gate.
 *   kstuck_rwsw (writer)  takes dev->gate, and once the reader has released the rwsem,
 *                          down_write(&dev->sem): it queues behind the holder's read lock.
 *
 * The truth is a chain, not a cycle: reader -> gate -> writer -> sem -> holder (who sleeps
 * forever holding it). Believing sem->owner would draw reader -> gate -> writer -> sem ->
 * reader, a deadlock that does not exist. Writing 1 to "start" sets the actors going.
 * Before blocking, each prints its ground truth:
 *   KSTUCK-TRUTH: rwstale_holder pid=.. comm=.. rwsem=<addr>
 *   KSTUCK-TRUTH: rwstale_reader pid=.. comm=.. rwsem=<addr> mutex=<addr>
 *   KSTUCK-TRUTH: rwstale_writer pid=.. comm=.. rwsem=<addr> mutex=<addr>
 * Once started the module can never be unloaded.
 */
#define pr_fmt(fmt) "KSTUCK-TRUTH: "  fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include "kstuck_scenario_actors.h"

struct kstuck_rwstale_dev {
	struct rw_semaphore sem;
	struct mutex gate;
	struct completion go;
	struct completion holder_reads;
	struct completion reader_released;
	struct completion writer_gated;
	struct completion never;
};

static struct kstuck_rwstale_dev *rwstale_dev;

/* False when stopped before the start. Interruptible: an unstarted actor is no hung task. */
static bool rwstale_wait_go(struct kstuck_rwstale_dev *dev)
{
	while (!kthread_should_stop()) {
		if (wait_for_completion_interruptible_timeout(&dev->go, HZ) > 0)
			return true;
	}
	return false;
}

static noinline int kstuck_rwstale_holder(void *data)
{
	struct kstuck_rwstale_dev *dev = data;

	if (!rwstale_wait_go(dev))
		return 0;
	down_read(&dev->sem);
	pr_info("rwstale_holder pid=%d comm=%s rwsem=%px\n", current->pid, current->comm, &dev->sem);
	complete(&dev->holder_reads);
	/* Holds the read lock for good: nobody completes it. */
	wait_for_completion(&dev->never);
	up_read(&dev->sem);
	return 0;
}

static noinline int kstuck_rwstale_reader(void *data)
{
	struct kstuck_rwstale_dev *dev = data;

	if (!rwstale_wait_go(dev))
		return 0;
	wait_for_completion(&dev->holder_reads);
	down_read(&dev->sem);
	up_read(&dev->sem);
	complete(&dev->reader_released);
	wait_for_completion(&dev->writer_gated);
	pr_info("rwstale_reader pid=%d comm=%s rwsem=%px mutex=%px\n", current->pid, current->comm,
		&dev->sem, &dev->gate);
	mutex_lock(&dev->gate);
	/* Not reached: the writer holds the gate and waits behind the holder. */
	mutex_unlock(&dev->gate);
	return 0;
}

static noinline int kstuck_rwstale_writer(void *data)
{
	struct kstuck_rwstale_dev *dev = data;

	if (!rwstale_wait_go(dev))
		return 0;
	mutex_lock(&dev->gate);
	wait_for_completion(&dev->reader_released);
	complete(&dev->writer_gated);
	pr_info("rwstale_writer pid=%d comm=%s rwsem=%px mutex=%px\n", current->pid, current->comm,
		&dev->sem, &dev->gate);
	down_write(&dev->sem);
	/* Not reached. */
	up_write(&dev->sem);
	mutex_unlock(&dev->gate);
	return 0;
}

static int rwstale_set_start(const char *val, const struct kernel_param *kp)
{
	if (rwstale_dev)
		complete_all(&rwstale_dev->go);
	return 0;
}

static const struct kernel_param_ops rwstale_start_ops = {
	.set = rwstale_set_start,
};
module_param_cb(start, &rwstale_start_ops, NULL, 0200);

static int __init kstuck_rwstale_init(void)
{
	int (*const fns[3])(void *) = { kstuck_rwstale_holder, kstuck_rwstale_reader,
					kstuck_rwstale_writer };
	static const char *const names[3] = { "kstuck_rwsh", "kstuck_rwsr", "kstuck_rwsw" };
	static struct task_struct *actors[3];
	struct kstuck_rwstale_dev *dev;
	int i, err;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	init_rwsem(&dev->sem);
	mutex_init(&dev->gate);
	init_completion(&dev->go);
	init_completion(&dev->holder_reads);
	init_completion(&dev->reader_released);
	init_completion(&dev->writer_gated);
	init_completion(&dev->never);

	for (i = 0; i < 3; i++) {
		actors[i] = kthread_create(fns[i], dev, "%s", names[i]);
		if (IS_ERR(actors[i])) {
			err = PTR_ERR(actors[i]);
			goto out_stop_actors;
		}
		get_task_struct(actors[i]);
		wake_up_process(actors[i]);
	}
	rwstale_dev = dev;
	return 0;

out_stop_actors:
	/* Not started yet: each one stopped returns from rwstale_wait_go(). */
	while (i-- > 0)
		kstuck_scenario_stop(&actors[i]);
	kfree(dev);
	return err;
}

module_init(kstuck_rwstale_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kstuck test scenario: a stale rwsem reader owner (QEMU guest only)");
