// SPDX-License-Identifier: GPL-2.0
/* Function-entry probes: one ftrace_ops per session, filtered by globs and names. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/ftrace.h>
#include <linux/ktime.h>
#include <linux/preempt.h>
#include <linux/string.h>

#include "kmod/kstuck_compat.h"
#include "kmod/kstuck_trace.h"

/*
 * ftrace's filter language gives meaning to '!' (negation), ':' (module and commands)
 * and white space; a probe glob is a plain glob_match() pattern, so those are refused.
 */
bool kstuck_fbt_glob_valid(const char *glob)
{
	bool in_class = false;
	const char *p;

	if (!*glob)
		return false;
	for (p = glob; *p; p++) {
		char c = *p;

		if (in_class) {
			if (c == ']' && p[-1] != '[' && !(p[-1] == '!' && p[-2] == '['))
				in_class = false;
			else if (!isalnum(c) && !strchr("_.-!^]", c))
				return false;
			continue;
		}
		if (c == '[')
			in_class = true;
		else if (c == ']' || (!isalnum(c) && !strchr("_.*?", c)))
			return false;
	}
	return !in_class;
}

static bool kstuck_is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/*
 * Adds one item to the session's filter. ftrace refuses names it cannot trace
 * (notrace, not patchable, not there): those are skipped and counted. A glob that
 * matches nothing is an error of the caller's, not a skip.
 */
int kstuck_fbt_add(struct kstuck_trace_session *s, const char *glob)
{
	char buf[KSTUCK_TRACE_GLOB_MAX];
	int ret;

	if (strlen(glob) >= sizeof(buf) || !kstuck_fbt_glob_valid(glob))
		return -EINVAL;
	/* ftrace_set_filter parses (and may modify) its buffer. */
	strscpy(buf, glob, sizeof(buf));
	ret = ftrace_set_filter(&s->fbt_ops, buf, strlen(buf), 0);
	if (ret == -EINVAL || ret == -ENOENT) {
		if (kstuck_is_glob(glob))
			return -ENOENT;
		s->fbt_skipped++;
		return 0;
	}
	if (ret)
		return ret;
	s->fbt_items++;
	s->fbt_functions += kstuck_is_glob(glob) ? kstuck_fbt_snapshot_count(glob) : 1;
	return 0;
}

/*
 * Runs at the entry of every traced function, in any context including NMI and with
 * RCU possibly not watching: no locks, no allocation, nothing traceable.
 */
static notrace void kstuck_fbt_callback(unsigned long ip, unsigned long parent_ip,
					 struct ftrace_ops *op, struct kstuck_ftrace_regs *fregs)
{
	struct kstuck_trace_session *s = container_of(op, struct kstuck_trace_session, fbt_ops);
	int bit;

	bit = kstuck_ftrace_recursion_trylock(ip, parent_ip);
	if (bit < 0)
		return;
	/* The ring is per CPU: stay on this one from reserve to commit. */
	preempt_disable_notrace();
	kstuck_trace_emit(s, KSTUCK_PROBE_FBT, ip, parent_ip);
	preempt_enable_notrace();
	kstuck_ftrace_recursion_unlock(bit);
}

int kstuck_fbt_register(struct kstuck_trace_session *s)
{
	int ret;

	s->fbt_ops.func = kstuck_fbt_callback;
	/*
	 * One ops for every function of the session: ftrace patches all call sites in
	 * batches, so enabling and tearing down cost a few IPIs, not a few per function.
	 */
	ret = register_ftrace_function(&s->fbt_ops);
	if (ret)
		return ret;
	s->fbt_registered = true;
	return 0;
}

void kstuck_fbt_unregister(struct kstuck_trace_session *s)
{
	if (s->fbt_registered) {
		/* Returns after every CPU left the callback (ftrace waits for RCU tasks). */
		unregister_ftrace_function(&s->fbt_ops);
		s->fbt_registered = false;
	}
	kstuck_ftrace_free_filter(&s->fbt_ops);
}
