// SPDX-License-Identifier: GPL-2.0
/* kstuck.ko entry points: brings the parts up in order and down in reverse. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/init.h>

#include "kmod/kstuck.h"
#include "kmod/kstuck_trace.h"
#include "kmod/kstuck_watchdog.h"
#include "nmi_dump/nmi_dump.h"

static int __init kstuck_init(void)
{
	int ret;

	ret = nmi_dump_init();
	if (ret)
		return ret;
	ret = kstuck_watchdog_init();
	if (ret) {
		nmi_dump_exit();
		return ret;
	}
	ret = kstuck_trace_init();
	if (ret) {
		kstuck_watchdog_exit();
		nmi_dump_exit();
		return ret;
	}
	ret = kstuck_dev_init();
	if (ret) {
		kstuck_trace_exit();
		kstuck_watchdog_exit();
		nmi_dump_exit();
		return ret;
	}
	pr_info("loaded, version %s\n", KSTUCK_MODULE_VERSION);
	return 0;
}

static void __exit kstuck_exit(void)
{
	kstuck_dev_exit();
	kstuck_trace_exit();
	kstuck_watchdog_exit();
	nmi_dump_exit();
	pr_info("unloaded\n");
}

module_init(kstuck_init);
module_exit(kstuck_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("kstuck developers");
MODULE_DESCRIPTION("kstuck: NMI all-CPU stack capture and probe tracing for stuck machines");
MODULE_VERSION(KSTUCK_MODULE_VERSION);
