// SPDX-License-Identifier: GPL-2.0
/* Published snapshots of what can be probed (functions, syscalls) and the list ioctl. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/glob.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmod/kstuck_trace.h"

/* The 64-bit table of the kernel these headers belong to: "sys_openat" etc. */
static const char *const kstuck_syscall_syms[] = {
#define __SYSCALL(nr, sym) [nr] = #sym,
/*
 * 6.11+ tables mark exit/exit_group (commit 9142be9e6443 "x86/syscall: Mark
 * exit[_group] syscall handlers __noreturn").
 */
#define __SYSCALL_NORETURN(nr, sym) __SYSCALL(nr, sym)
/*
 * Tables before v5.12 name each entry's ABI: common and 64-bit entries are the
 * 64-bit table, x32 ones (512 and up) are not.
 */
#define __SYSCALL_COMMON(nr, sym) __SYSCALL(nr, sym)
#define __SYSCALL_64(nr, sym) __SYSCALL(nr, sym)
#define __SYSCALL_X32(nr, sym)
#include <asm/syscalls_64.h>
#undef __SYSCALL_X32
#undef __SYSCALL_64
#undef __SYSCALL_COMMON
#undef __SYSCALL_NORETURN
#undef __SYSCALL
};

/* Syscall names without their "sys_" prefix; NULL for holes and sys_ni_syscall. */
static const char *kstuck_syscall_name(unsigned int nr)
{
	const char *sym;

	if (nr >= ARRAY_SIZE(kstuck_syscall_syms))
		return NULL;
	sym = kstuck_syscall_syms[nr];
	if (!sym || !strcmp(sym, "sys_ni_syscall"))
		return NULL;
	return strncmp(sym, "sys_", 4) ? sym : sym + 4;
}

/*
 * A listing: text lines "name ...\n". Readers find it under RCU and hold it with a
 * reference while they copy to user space (which may sleep); a publisher swaps the
 * pointer and drops its reference, the last one frees it after a grace period.
 */
struct kstuck_snap {
	struct kref ref;
	struct rcu_head rcu;
	u32 generation;
	u32 total;
	size_t len;
	char text[];
};

static struct kstuck_snap __rcu *kstuck_fbt_snap;
static struct kstuck_snap __rcu *kstuck_sys_snap;
/* Serializes publishers only; never held across probe (un)registration. */
static DEFINE_MUTEX(kstuck_publish_lock);
static atomic_t kstuck_sys_sessions[KSTUCK_NR_SYSCALLS];
static u32 kstuck_generation;

static struct kstuck_snap *kstuck_snap_alloc(size_t len)
{
	struct kstuck_snap *snap = kvzalloc(sizeof(*snap) + len + 1, GFP_KERNEL);

	if (snap)
		kref_init(&snap->ref);
	return snap;
}

static void kstuck_snap_release(struct kref *ref)
{
	struct kstuck_snap *snap = container_of(ref, struct kstuck_snap, ref);

	kvfree_rcu(snap, rcu);
}

static struct kstuck_snap *kstuck_snap_get(struct kstuck_snap __rcu **slot)
{
	struct kstuck_snap *snap;

	rcu_read_lock();
	do {
		snap = rcu_dereference(*slot);
	} while (snap && !kref_get_unless_zero(&snap->ref));
	rcu_read_unlock();
	return snap;
}

/* Installs a new snapshot; the caller holds kstuck_publish_lock. */
static void kstuck_snap_publish(struct kstuck_snap __rcu **slot, struct kstuck_snap *snap)
{
	struct kstuck_snap *old;

	snap->generation = ++kstuck_generation;
	old = rcu_replace_pointer(*slot, snap, lockdep_is_held(&kstuck_publish_lock));
	if (old)
		kref_put(&old->ref, kstuck_snap_release);
}

static int kstuck_sys_snap_build(void)
{
	const size_t line_max = 64;
	struct kstuck_snap *snap;
	unsigned int nr;
	size_t len = 0;

	snap = kstuck_snap_alloc(KSTUCK_NR_SYSCALLS * line_max);
	if (!snap)
		return -ENOMEM;
	for (nr = 0; nr < ARRAY_SIZE(kstuck_syscall_syms); nr++) {
		const char *name = kstuck_syscall_name(nr);

		if (!name)
			continue;
		len += scnprintf(snap->text + len, line_max, "%s %u %d\n", name, nr,
				 atomic_read(&kstuck_sys_sessions[nr]));
		snap->total++;
	}
	snap->len = len;
	kstuck_snap_publish(&kstuck_sys_snap, snap);
	return 0;
}

int kstuck_syscall_match(const char *glob, unsigned long *mask)
{
	unsigned int nr;
	int n = 0;

	for (nr = 0; nr < ARRAY_SIZE(kstuck_syscall_syms); nr++) {
		const char *name = kstuck_syscall_name(nr);

		if (name && glob_match(glob, name)) {
			set_bit(nr, mask);
			n++;
		}
	}
	return n;
}

void kstuck_syscall_sessions_update(const unsigned long *mask, int delta)
{
	unsigned int nr;

	mutex_lock(&kstuck_publish_lock);
	for_each_set_bit(nr, mask, KSTUCK_NR_SYSCALLS)
		atomic_add(delta, &kstuck_sys_sessions[nr]);
	/* On failure the old listing stays: its session counts are stale, nothing else. */
	if (kstuck_sys_snap_build())
		pr_warn_ratelimited("syscall listing not refreshed (no memory)\n");
	mutex_unlock(&kstuck_publish_lock);
}

/*
 * The functions ftrace can trace, as user space read them from tracefs: a module can
 * neither read that seq_file (kernel_read needs read_iter) nor walk ftrace's records.
 * Only listings and the functions count of a session use it; probes never do.
 */
long kstuck_trace_ioctl_funcs(void __user *arg)
{
	struct kstuck_trace_funcs req;
	struct kstuck_snap *snap;
	size_t i;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.size < sizeof(req) || !req.text_len || req.text_len > KSTUCK_TRACE_FUNCS_MAX)
		return -EINVAL;
	snap = kstuck_snap_alloc(req.text_len);
	if (!snap)
		return -ENOMEM;
	if (copy_from_user(snap->text, u64_to_user_ptr(req.text), req.text_len)) {
		kvfree(snap);
		return -EFAULT;
	}
	snap->len = req.text_len;
	for (i = 0; i < snap->len; i++) {
		/* A NUL would end names early in glob_match: make it a line break. */
		if (!snap->text[i])
			snap->text[i] = '\n';
		snap->total += snap->text[i] == '\n';
	}
	req.lines = snap->total;
	mutex_lock(&kstuck_publish_lock);
	kstuck_snap_publish(&kstuck_fbt_snap, snap);
	mutex_unlock(&kstuck_publish_lock);
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

/* The name of a listing line: up to the first space or the end of the line. */
static size_t kstuck_line_name(const char *line, size_t left, char *name, size_t name_size)
{
	size_t n = 0;

	while (n < left && line[n] != ' ' && line[n] != '\n')
		n++;
	if (n >= name_size)
		return 0;
	memcpy(name, line, n);
	name[n] = '\0';
	return n;
}

u32 kstuck_fbt_snapshot_count(const char *glob)
{
	struct kstuck_snap *snap = kstuck_snap_get(&kstuck_fbt_snap);
	char name[KSYM_NAME_LEN];
	size_t off = 0;
	u32 n = 0;

	if (!snap)
		return 0;
	while (off < snap->len) {
		const char *line = snap->text + off;
		const char *nl = memchr(line, '\n', snap->len - off);
		size_t line_len = nl ? nl - line + 1 : snap->len - off;

		if (kstuck_line_name(line, line_len, name, sizeof(name)) && glob_match(glob, name))
			n++;
		off += line_len;
		cond_resched();
	}
	kref_put(&snap->ref, kstuck_snap_release);
	return n;
}

long kstuck_trace_ioctl_list(void __user *arg)
{
	struct kstuck_trace_list req;
	char glob[KSTUCK_TRACE_GLOB_MAX];
	char name[KSYM_NAME_LEN];
	struct kstuck_snap *snap;
	char __user *out;
	size_t off = 0, needed = 0;
	long ret = 0;
	u32 count = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.size < sizeof(req))
		return -EINVAL;
	if (strncpy_from_user(glob, u64_to_user_ptr(req.glob), sizeof(glob)) < 0)
		return -EFAULT;
	if (strnlen(glob, sizeof(glob)) == sizeof(glob) || !kstuck_fbt_glob_valid(glob))
		return -EINVAL;
	if (req.kind == KSTUCK_PROBE_FBT)
		snap = kstuck_snap_get(&kstuck_fbt_snap);
	else if (req.kind == KSTUCK_PROBE_SYSCALL_ENTER)
		snap = kstuck_snap_get(&kstuck_sys_snap);
	else
		return -EINVAL;
	if (!snap)
		return -ENODATA;	/* no function list published yet */

	out = u64_to_user_ptr(req.buf);
	while (off < snap->len) {
		const char *line = snap->text + off;
		const char *nl = memchr(line, '\n', snap->len - off);
		size_t line_len = nl ? nl - line + 1 : snap->len - off;

		if (kstuck_line_name(line, line_len, name, sizeof(name)) && glob_match(glob, name)) {
			if (needed + line_len <= req.buf_len && !ret &&
			    copy_to_user(out + needed, line, line_len))
				ret = -EFAULT;
			needed += line_len;
			count++;
		}
		off += line_len;
		cond_resched();
	}
	req.count = count;
	req.bytes_needed = min_t(size_t, needed, U32_MAX);
	req.generation = snap->generation;
	req.total = snap->total;
	kref_put(&snap->ref, kstuck_snap_release);
	if (ret)
		return ret;
	if (copy_to_user(arg, &req, sizeof(req)))
		return -EFAULT;
	return needed > req.buf_len ? -ENOSPC : 0;
}

int kstuck_trace_list_init(void)
{
	int ret;

	BUILD_BUG_ON(ARRAY_SIZE(kstuck_syscall_syms) > KSTUCK_NR_SYSCALLS);
	mutex_lock(&kstuck_publish_lock);
	ret = kstuck_sys_snap_build();
	mutex_unlock(&kstuck_publish_lock);
	return ret;
}

void kstuck_trace_list_exit(void)
{
	struct kstuck_snap *snap;

	mutex_lock(&kstuck_publish_lock);
	snap = rcu_replace_pointer(kstuck_fbt_snap, NULL, true);
	if (snap)
		kref_put(&snap->ref, kstuck_snap_release);
	snap = rcu_replace_pointer(kstuck_sys_snap, NULL, true);
	if (snap)
		kref_put(&snap->ref, kstuck_snap_release);
	mutex_unlock(&kstuck_publish_lock);
	/* kvfree_rcu callbacks are the kernel's, but wait so nothing of ours is pending. */
	rcu_barrier();
}
