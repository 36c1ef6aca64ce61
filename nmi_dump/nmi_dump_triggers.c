// SPDX-License-Identifier: GPL-2.0
/*
 * Captures nobody asked for from user space: an external ("unknown") NMI and panic.
 *
 * External NMI (BMC button, QEMU inject-nmi): it reaches one CPU (CPU 0 by default)
 * and no NMI_LOCAL handler claims it, so the kernel offers it to NMI_UNKNOWN
 * handlers. Ours records that CPU from the NMI's registers and forwards NMI IPIs to
 * all other online CPUs with a bounded busy-wait. It then returns NMI_DONE on
 * purpose: unknown_nmi_error() runs its policy only when no handler claimed the
 * NMI, so "Uhhuh. NMI received for unknown reason" is still logged and
 * kernel.unknown_nmi_panic / panic_on_unrecovered_nmi still panic (and so reach
 * kdump, with our snapshot already in memory). Set unknown_nmi_claim=1 to return
 * NMI_HANDLED instead: quiet, but that policy is then bypassed.
 *
 * Panic: a panic notifier (highest priority) records the panicking CPU's own stack
 * and asks the others with a short bound. Ordering in panic() (6.1):
 *  - by default __crash_kexec() runs BEFORE the notifiers: with kdump loaded our
 *    notifier never runs, and the vmcore holds the snapshots taken earlier (the
 *    watchdog captures first, then panics, for exactly this reason);
 *  - the other CPUs are stopped before the notifiers either way (smp_send_stop(),
 *    or with crash_kexec_post_notifiers the NMI shootdown): CPUs halted inside an
 *    NMI cannot answer, CPUs halted by the stop IPI answer with their stop stack.
 *    With crash_kexec_post_notifiers=1 the notifier runs and kdump follows, so the
 *    panic snapshot (the panicking CPU at least) is in the vmcore.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": nmi: " fmt

#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/notifier.h>
#if __has_include(<linux/panic_notifier.h>)
#include <linux/panic_notifier.h>	/* split out of kernel.h in v5.14 */
#endif
#include <asm/nmi.h>

#include "nmi_dump/nmi_dump.h"
#include "nmi_dump/uapi/nmi_dump_record.h"

static bool unknown_nmi_capture = true;
module_param(unknown_nmi_capture, bool, 0644);
MODULE_PARM_DESC(unknown_nmi_capture, "capture all CPUs on an external/unknown NMI (default 1)");
static bool unknown_nmi_claim;
module_param(unknown_nmi_claim, bool, 0644);
MODULE_PARM_DESC(unknown_nmi_claim,
		 "claim external NMIs (NMI_HANDLED): silences the kernel and bypasses "
		 "unknown_nmi_panic (default 0)");
static unsigned int unknown_nmi_timeout_ms = 500;
module_param(unknown_nmi_timeout_ms, uint, 0644);
MODULE_PARM_DESC(unknown_nmi_timeout_ms,
		 "bound of the wait for other CPUs in NMI context (ms, max 1000)");
static bool panic_capture = true;
module_param(panic_capture, bool, 0644);
MODULE_PARM_DESC(panic_capture, "capture at panic from a panic notifier (default 1)");
static unsigned int panic_timeout_ms = 100;
module_param(panic_timeout_ms, uint, 0644);
MODULE_PARM_DESC(panic_timeout_ms, "bound of the wait for other CPUs at panic (ms, max 1000)");

static bool nmi_dump_unknown_registered, nmi_dump_panic_registered;

static notrace int nmi_dump_unknown_handler(unsigned int type, struct pt_regs *regs)
{
	if (READ_ONCE(unknown_nmi_capture))
		nmi_dump_capture_atomic(NMI_DUMP_TRIGGER_UNKNOWN_NMI, regs,
					READ_ONCE(unknown_nmi_timeout_ms), NULL);
	return READ_ONCE(unknown_nmi_claim) ? NMI_HANDLED : NMI_DONE;
}
NOKPROBE_SYMBOL(nmi_dump_unknown_handler);

static int nmi_dump_panic_notify(struct notifier_block *nb, unsigned long event, void *msg)
{
	if (!READ_ONCE(panic_capture))
		return NOTIFY_DONE;
	/* The other CPUs are stopped by now: a capture they owned will never finish. */
	if (nmi_dump_capture_atomic(NMI_DUMP_TRIGGER_PANIC, NULL, READ_ONCE(panic_timeout_ms),
				    NULL) == -EBUSY) {
		nmi_dump_break_busy();
		nmi_dump_capture_atomic(NMI_DUMP_TRIGGER_PANIC, NULL, READ_ONCE(panic_timeout_ms),
					NULL);
	}
	return NOTIFY_DONE;
}

static struct notifier_block nmi_dump_panic_nb = {
	.notifier_call = nmi_dump_panic_notify,
	.priority = INT_MAX,	/* before notifiers that may hang or reboot */
};

int nmi_dump_triggers_init(void)
{
	int ret;

	ret = register_nmi_handler(NMI_UNKNOWN, nmi_dump_unknown_handler, 0, "kstuck_unknown");
	if (ret)
		return ret;
	nmi_dump_unknown_registered = true;
	atomic_notifier_chain_register(&panic_notifier_list, &nmi_dump_panic_nb);
	nmi_dump_panic_registered = true;
	return 0;
}

void nmi_dump_triggers_exit(void)
{
	if (nmi_dump_panic_registered)
		atomic_notifier_chain_unregister(&panic_notifier_list, &nmi_dump_panic_nb);
	nmi_dump_panic_registered = false;
	if (nmi_dump_unknown_registered)
		unregister_nmi_handler(NMI_UNKNOWN, "kstuck_unknown");
	nmi_dump_unknown_registered = false;
}
