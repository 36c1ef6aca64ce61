// SPDX-License-Identifier: GPL-2.0
/* Trace sessions: the START ioctl, the session file (read/poll/stop) and teardown. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hardirq.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/tracepoint.h>
#include <linux/uaccess.h>

#include "kmod/kstuck_compat.h"
#include "kmod/kstuck_trace.h"

#define KSTUCK_RING_DEFAULT	4096
#define KSTUCK_RING_MIN		64
#define KSTUCK_RING_MAX		65536
#define KSTUCK_WAKE_PERIOD	(HZ / 20)

static atomic_t kstuck_sessions = ATOMIC_INIT(0);
static atomic_t kstuck_session_ids = ATOMIC_INIT(0);
static bool kstuck_syscalls_available;

notrace void kstuck_trace_emit(struct kstuck_trace_session *s, u16 kind, u64 addr, u64 arg)
{
	struct task_struct *tsk = current;
	struct kstuck_trace_event *ev;
	unsigned long pos;

	if (s->tgid_filter && s->tgid_filter != tsk->tgid)
		return;
	ev = kstuck_ring_reserve(s->rings, &pos);
	if (!ev)
		return;
	ev->timestamp_ns = ktime_get_mono_fast_ns();
	ev->addr = addr;
	ev->arg = arg;
	ev->pid = tsk->pid;
	ev->tgid = tsk->tgid;
	ev->cpu = raw_smp_processor_id();
	ev->kind = kind;
	ev->context = (in_nmi() ? KSTUCK_CTX_NMI : 0) | (in_hardirq() ? KSTUCK_CTX_HARDIRQ : 0) |
		      (in_serving_softirq() ? KSTUCK_CTX_SOFTIRQ : 0);
	/* A racy copy (a rename may tear it) beats get_task_comm's lock in NMI. */
	memcpy(ev->comm, tsk->comm, sizeof(ev->comm));
	ev->reserved = 0;
	kstuck_ring_commit(s->rings, pos);
}

static void kstuck_wake_timer_fn(struct timer_list *t)
{
	struct kstuck_trace_session *s = timer_container_of(s, t, wake_timer);

	if (kstuck_rings_pending(s->rings))
		wake_up_interruptible(&s->wait);
	if (atomic_read(&s->state) == KSTUCK_SESSION_RUNNING)
		mod_timer(&s->wake_timer, jiffies + KSTUCK_WAKE_PERIOD);
}

/*
 * Unregisters every probe once. A concurrent caller waits for the first to finish:
 * interruptible when it comes from an ioctl (-EINTR; the first stop goes on), not from the
 * file's release, which must not free the session under the first.
 */
static int kstuck_session_stop(struct kstuck_trace_session *s, bool interruptible)
{
	u64 t0;

	if (atomic_cmpxchg(&s->state, KSTUCK_SESSION_RUNNING, KSTUCK_SESSION_STOPPING) !=
	    KSTUCK_SESSION_RUNNING) {
		if (!interruptible) {
			wait_event(s->wait, atomic_read(&s->state) == KSTUCK_SESSION_STOPPED);
			return 0;
		}
		if (wait_event_interruptible(s->wait,
					     atomic_read(&s->state) == KSTUCK_SESSION_STOPPED))
			return -EINTR;
		return 0;
	}
	t0 = ktime_get_ns();
	kstuck_syscall_unregister(s);
	kstuck_fbt_unregister(s);
	s->teardown_ns = ktime_get_ns() - t0;
	if (s->syscalls)
		kstuck_syscall_sessions_update(s->sys_mask, -1);
	atomic_set(&s->state, KSTUCK_SESSION_STOPPED);
	wake_up_all(&s->wait);
	return 0;
}

static void kstuck_session_free(struct kstuck_trace_session *s)
{
	kstuck_rings_free(s->rings);
	kfree(s);
	atomic_dec(&kstuck_sessions);
}

static int kstuck_session_release(struct inode *inode, struct file *file)
{
	struct kstuck_trace_session *s = file->private_data;

	kstuck_session_stop(s, false);
	timer_delete_sync(&s->wake_timer);	/* not re-armed once stopped */
	kstuck_session_free(s);
	return 0;
}

static ssize_t kstuck_session_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	struct kstuck_trace_session *s = file->private_data;
	ssize_t n;

	if (len < sizeof(struct kstuck_trace_event))
		return -EINVAL;
	if (mutex_lock_interruptible(&s->read_lock))
		return -ERESTARTSYS;
	for (;;) {
		bool stopped = atomic_read(&s->state) == KSTUCK_SESSION_STOPPED;

		n = kstuck_rings_read(s->rings, buf, len);
		/* After a stop, an empty read means every event was delivered: EOF. */
		if (n || stopped)
			break;
		if (file->f_flags & O_NONBLOCK) {
			n = -EAGAIN;
			break;
		}
		if (wait_event_interruptible(s->wait, kstuck_rings_pending(s->rings) ||
					     atomic_read(&s->state) == KSTUCK_SESSION_STOPPED)) {
			n = -ERESTARTSYS;
			break;
		}
	}
	mutex_unlock(&s->read_lock);
	return n;
}

static __poll_t kstuck_session_poll(struct file *file, poll_table *pt)
{
	struct kstuck_trace_session *s = file->private_data;

	poll_wait(file, &s->wait, pt);
	if (kstuck_rings_pending(s->rings))
		return EPOLLIN | EPOLLRDNORM;
	if (atomic_read(&s->state) == KSTUCK_SESSION_STOPPED)
		return EPOLLIN | EPOLLHUP;
	return 0;
}

/* The caller's stats struct is big enough (checked before anything is done for it). */
static long kstuck_session_stats_arg_ok(void __user *arg)
{
	u32 size;

	if (get_user(size, (u32 __user *)arg))
		return -EFAULT;
	return size < sizeof(struct kstuck_trace_stats) ? -EINVAL : 0;
}

static long kstuck_session_stats(struct kstuck_trace_session *s, void __user *arg)
{
	struct kstuck_trace_stats st;
	long ret = kstuck_session_stats_arg_ok(arg);

	if (ret)
		return ret;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	st.stopped = atomic_read(&s->state) == KSTUCK_SESSION_STOPPED;
	kstuck_rings_counts(s->rings, &st.events, &st.lost);
	st.enable_ns = s->enable_ns;
	st.teardown_ns = st.stopped ? s->teardown_ns : 0;
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long kstuck_session_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kstuck_trace_session *s = file->private_data;
	long ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	switch (cmd) {
	case KSTUCK_IOC_TRACE_STOP:
		/* A bad argument is refused before the session is torn down. */
		ret = kstuck_session_stats_arg_ok((void __user *)arg);
		if (!ret)
			ret = kstuck_session_stop(s, true);
		if (ret)
			return ret;
		return kstuck_session_stats(s, (void __user *)arg);
	case KSTUCK_IOC_TRACE_STATS:
		return kstuck_session_stats(s, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kstuck_session_fops = {
	.owner = THIS_MODULE,	/* an open session pins the module */
	.read = kstuck_session_read,
	.poll = kstuck_session_poll,
	.unlocked_ioctl = kstuck_session_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = kstuck_session_release,
	.llseek = noop_llseek,
};

/* One spec item: "fbt:GLOB" or "syscall:GLOB". */
static int kstuck_session_add_item(struct kstuck_trace_session *s, char *item)
{
	int n;

	if (!strncmp(item, "fbt:", 4))
		return kstuck_fbt_add(s, item + 4);
	if (!strncmp(item, "syscall:", 8)) {
		if (strlen(item + 8) >= KSTUCK_TRACE_GLOB_MAX || !kstuck_fbt_glob_valid(item + 8))
			return -EINVAL;
		if (!kstuck_syscalls_available)
			return -EOPNOTSUPP;
		n = kstuck_syscall_match(item + 8, s->sys_mask);
		if (n == 0)
			return -ENOENT;
		s->syscalls = bitmap_weight(s->sys_mask, KSTUCK_NR_SYSCALLS);
		return 0;
	}
	return -EINVAL;
}

static int kstuck_session_parse(struct kstuck_trace_session *s, char *specs, size_t len)
{
	char *p = specs, *end = specs + len;
	int ret;

	while (p < end) {
		char *item = p;

		while (p < end && *p && *p != '\n')
			p++;
		*p++ = '\0';
		if (!*item)
			continue;
		if (strlen(item) >= KSTUCK_TRACE_GLOB_MAX + 8)
			return -EINVAL;
		ret = kstuck_session_add_item(s, item);
		if (ret)
			return ret;
	}
	return 0;
}

long kstuck_trace_ioctl_start(void __user *arg)
{
	struct kstuck_trace_start req;
	struct kstuck_trace_session *s;
	struct file *file;
	char *specs;
	long ret;
	u64 t0;
	int fd;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.size < sizeof(req) || req.flags & ~KSTUCK_TRACE_F_SYSCALL_EXIT)
		return -EINVAL;
	if (!req.specs_len || req.specs_len > KSTUCK_TRACE_SPEC_MAX)
		return -EINVAL;
	if (!req.ring_events)
		req.ring_events = KSTUCK_RING_DEFAULT;
	if (!is_power_of_2(req.ring_events) || req.ring_events < KSTUCK_RING_MIN ||
	    req.ring_events > KSTUCK_RING_MAX || req.tgid_filter < 0)
		return -EINVAL;
	if (atomic_inc_return(&kstuck_sessions) > KSTUCK_TRACE_MAX_SESSIONS) {
		atomic_dec(&kstuck_sessions);
		return -EBUSY;
	}

	ret = -ENOMEM;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		goto out_count;
	s->id = atomic_inc_return(&kstuck_session_ids);
	s->flags = req.flags;
	s->tgid_filter = req.tgid_filter;
	atomic_set(&s->state, KSTUCK_SESSION_RUNNING);
	mutex_init(&s->read_lock);
	init_waitqueue_head(&s->wait);
	timer_setup(&s->wake_timer, kstuck_wake_timer_fn, 0);
	s->rings = kstuck_rings_alloc(req.ring_events);
	if (!s->rings)
		goto out_free_session;

	specs = memdup_user_nul(u64_to_user_ptr(req.specs), req.specs_len);
	if (IS_ERR(specs)) {
		ret = PTR_ERR(specs);
		goto out_free_rings;
	}
	ret = kstuck_session_parse(s, specs, req.specs_len);
	kfree(specs);
	if (ret)
		goto out_free_filter;
	if (!s->fbt_items && !s->syscalls) {
		ret = -ENOENT;
		goto out_free_filter;
	}

	t0 = ktime_get_ns();
	if (s->syscalls) {
		ret = kstuck_syscall_register(s);
		if (ret)
			goto out_free_filter;
	}
	/* Never register an fbt ops with an empty filter: that would trace everything. */
	if (s->fbt_items) {
		ret = kstuck_fbt_register(s);
		if (ret)
			goto out_unregister;
	}
	s->enable_ns = ktime_get_ns() - t0;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_unregister;
	}
	file = anon_inode_getfile("[kstuck-trace]", &kstuck_session_fops, s, O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		put_unused_fd(fd);
		goto out_unregister;
	}
	if (s->syscalls)
		kstuck_syscall_sessions_update(s->sys_mask, 1);
	mod_timer(&s->wake_timer, jiffies + KSTUCK_WAKE_PERIOD);

	req.session_id = s->id;
	req.fbt_items = s->fbt_items;
	req.fbt_skipped = s->fbt_skipped;
	req.fbt_functions = s->fbt_functions;
	req.syscalls = s->syscalls;
	req.enable_ns = s->enable_ns;
	if (copy_to_user(arg, &req, sizeof(req))) {
		/* The file owns the session now: its release tears it down. */
		fput(file);
		put_unused_fd(fd);
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;

out_unregister:
	kstuck_syscall_unregister(s);
	kstuck_fbt_unregister(s);
	goto out_free_rings;
out_free_filter:
	kstuck_ftrace_free_filter(&s->fbt_ops);
out_free_rings:
	kstuck_rings_free(s->rings);
out_free_session:
	kfree(s);
out_count:
	atomic_dec(&kstuck_sessions);
	return ret;
}

int kstuck_trace_init(void)
{
	int ret;

	kstuck_syscalls_available = kstuck_syscall_init() == 0;
	ret = kstuck_trace_list_init();
	if (ret)
		return ret;
	return 0;
}

void kstuck_trace_exit(void)
{
	/* Session files pin the module, so none can be left; say so loudly if one is. */
	WARN_ON(atomic_read(&kstuck_sessions));
	tracepoint_synchronize_unregister();
	kstuck_trace_list_exit();
}
