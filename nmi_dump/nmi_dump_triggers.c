// SPDX-License-Identifier: GPL-2.0
/*
 * Captures nobody asked for from user space: an external ("unknown") NMI and panic.
 *
 * External NMI (BMC button, QEMU inject-nmi): it reaches one CPU (CPU 0 by default)
 * and no NMI_LOCAL handler claims it, so the kernel offers it to NMI_UNKNOWN
 * handlers. Ours records that CPU from the NMI's registers, sends NMI IPIs to all
 * other online CPUs and returns at once: each CPU records itself from its own NMI and
 * the last one completes the snapshot (nmi_dump_core.c), so nothing waits in NMI
 * context. At most one external NMI per unknown_nmi_interval_ms is captured; the
 * others are only counted (the buffer header's unknown_* counters), so an NMI storm
 * (a flapping BMC, a misbehaving device) costs a few microseconds per NMI and never
 * floods the history, whose slot 0 keeps the first hang snapshot anyway. The handler
 * returns NMI_DONE on purpose: unknown_nmi_error() runs its policy only when no handler
 * claimed the NMI, so "Uhhuh. NMI received for unknown reason" is still logged and
 * kernel.unknown_nmi_panic / panic_on_unrecovered_nmi still panic (and so reach kdump,
 * with our snapshot already in memory). Set unknown_nmi_claim=1 to return NMI_HANDLED
 * instead: quiet, but that policy is then bypassed.
 *
 * Panic: a panic notifier (highest priority) records the panicking CPU's own stack
 * and asks the others with a short bound. Ordering in panic() (6.1):
 *  - by default __crash_kexec() runs BEFORE the notifiers: with kdump loaded our
 *    notifier never runs, and the vmcore holds the snapshots taken earlier (the
 *    watchdog captures first, then panics, for exactly this reason);
 *  - the other CPUs are stopped before the notifiers either way (smp_send_stop(),
 *    or with crash_kexec_post_notifiers the NMI shootdown), and stop_this_cpu() takes
 *    each out of the online mask (not the active one): the snapshot asks every active
 *    CPU and marks the others NMI_DUMP_CPU_STOPPED, never OFFLINE. CPUs halted by the
 *    stop IPI answer with their stop stack; CPUs halted inside an NMI (the shootdown)
 *    cannot answer and time out. A capture that was in flight is ended first: its
 *    initiator may be one of the stopped CPUs.
 *    With crash_kexec_post_notifiers=1 the notifier runs and kdump follows, so the
 *    panic snapshot is in the vmcore.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": nmi: " fmt

#include <linux/atomic.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/notifier.h>
#if __has_include(<linux/panic_notifier.h>)
#include <linux/panic_notifier.h>	/* split out of kernel.h in v5.14 */
#endif
#include <linux/timekeeping.h>
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
		 "how long an external-NMI capture waits for the other CPUs' records before a "
		 "later capture may end it (ms, max 1000; nothing waits in NMI context)");
static unsigned int unknown_nmi_interval_ms = 1000;
module_param(unknown_nmi_interval_ms, uint, 0644);
MODULE_PARM_DESC(unknown_nmi_interval_ms,
		 "capture at most one external/unknown NMI per this many ms; the others are "
		 "counted (default 1000)");
static bool panic_capture = true;
module_param(panic_capture, bool, 0644);
MODULE_PARM_DESC(panic_capture, "capture at panic from a panic notifier (default 1)");
static unsigned int panic_timeout_ms = 100;
module_param(panic_timeout_ms, uint, 0644);
MODULE_PARM_DESC(panic_timeout_ms, "bound of the wait for other CPUs at panic (ms, max 1000)");

static bool nmi_dump_unknown_registered, nmi_dump_panic_registered;
static atomic64_t nmi_dump_unknown_last_ns = ATOMIC64_INIT(0);

/* Whether an external NMI now may be captured: at most one per interval, any CPU. */
static notrace bool nmi_dump_unknown_allowed(void)
{
	u64 now = ktime_get_mono_fast_ns();
	u64 interval = (u64)READ_ONCE(unknown_nmi_interval_ms) * NSEC_PER_MSEC;
	s64 last = atomic64_read(&nmi_dump_unknown_last_ns);

	if (last && now - (u64)last < interval)
		return false;
	return atomic64_cmpxchg(&nmi_dump_unknown_last_ns, last, now) == last;
}
NOKPROBE_SYMBOL(nmi_dump_unknown_allowed);

static notrace int nmi_dump_unknown_handler(unsigned int type, struct pt_regs *regs)
{
	nmi_dump_count_unknown(NMI_DUMP_UNKNOWN_SEEN);
	if (!READ_ONCE(unknown_nmi_capture))
		goto out;
	if (!nmi_dump_unknown_allowed()) {
		nmi_dump_count_unknown(NMI_DUMP_UNKNOWN_RATELIMITED);
		goto out;
	}
	if (nmi_dump_capture_atomic(NMI_DUMP_TRIGGER_UNKNOWN_NMI, regs,
				    READ_ONCE(unknown_nmi_timeout_ms), ~0u, 0, NULL) == 0)
		nmi_dump_count_unknown(NMI_DUMP_UNKNOWN_CAPTURED);
	else
		nmi_dump_count_unknown(NMI_DUMP_UNKNOWN_BUSY);
out:
	return READ_ONCE(unknown_nmi_claim) ? NMI_HANDLED : NMI_DONE;
}
NOKPROBE_SYMBOL(nmi_dump_unknown_handler);

static int nmi_dump_panic_notify(struct notifier_block *nb, unsigned long event, void *msg)
{
	if (READ_ONCE(panic_capture))
		nmi_dump_capture_panic(READ_ONCE(panic_timeout_ms));
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
