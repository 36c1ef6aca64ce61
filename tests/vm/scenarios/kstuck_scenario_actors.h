/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test-only. Starting and stopping a scenario's actor kthreads: each holds a reference
 * so the module can stop it whatever state it ended in.
 */
#ifndef KSTUCK_SCENARIO_ACTORS_H
#define KSTUCK_SCENARIO_ACTORS_H

#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/sched/task.h>

#include "kstuck_scenario_compat.h"

/* An actor on cpu (name may hold one %u for it), or anywhere when cpu < 0. */
static inline struct task_struct *kstuck_scenario_spawn(int (*fn)(void *), const char *name, int cpu)
{
	struct task_struct *t;

	if (cpu >= 0)
		t = kstuck_scenario_kthread_on_cpu(fn, NULL, cpu, name);
	else
		t = kthread_create(fn, NULL, "%s", name);
	if (IS_ERR(t))
		return t;
	get_task_struct(t);
	wake_up_process(t);
	return t;
}

static inline void kstuck_scenario_stop(struct task_struct **t)
{
	if (!IS_ERR_OR_NULL(*t)) {
		kthread_stop(*t);
		put_task_struct(*t);
	}
	*t = NULL;
}

#endif
