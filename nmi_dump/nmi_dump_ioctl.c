// SPDX-License-Identifier: GPL-2.0
/* The NMI ioctls of /dev/kstuck: argument checks, then the capture core. */
#define pr_fmt(fmt) KBUILD_MODNAME ": nmi: " fmt

#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/uaccess.h>

#include "nmi_dump/nmi_dump.h"
#include "nmi_dump/uapi/nmi_dump_ioctl.h"

static long nmi_dump_ioctl_capture(void __user *uarg)
{
	struct kstuck_nmi_capture c;
	struct nmi_dump_result res = {};
	int ret;

	if (copy_from_user(&c, uarg, sizeof(c)))
		return -EFAULT;
	if (c.size != sizeof(c) || c.flags || c.reserved || c.timeout_ms > KSTUCK_NMI_TIMEOUT_MAX_MS)
		return -EINVAL;
	ret = nmi_dump_capture_sync(NMI_DUMP_TRIGGER_ON_DEMAND,
				    c.timeout_ms ? c.timeout_ms : KSTUCK_NMI_TIMEOUT_DEFAULT_MS, ~0u, 0, &res);
	if (ret)
		return ret;
	c.seq = res.seq;
	c.nr_requested = res.nr_requested;
	c.nr_answered = res.nr_answered;
	c.duration_ns = res.duration_ns;
	if (copy_to_user(uarg, &c, sizeof(c)))
		return -EFAULT;
	return 0;
}

static long nmi_dump_ioctl_read(void __user *uarg)
{
	struct kstuck_nmi_read r;
	u64 size = 0;
	int ret;

	if (copy_from_user(&r, uarg, sizeof(r)))
		return -EFAULT;
	if (r.size != sizeof(r) || r.flags)
		return -EINVAL;
	ret = nmi_dump_copy_to_user(u64_to_user_ptr(r.buf), r.len, &size);
	r.buffer_size = size;
	/* The size is the answer to a too-small buffer, so it goes back on -ENOSPC too. */
	if ((ret == 0 || ret == -ENOSPC) && copy_to_user(uarg, &r, sizeof(r)))
		return -EFAULT;
	return ret;
}

long nmi_dump_ioctl(unsigned int cmd, void __user *uarg)
{
	switch (cmd) {
	case KSTUCK_IOC_NMI_CAPTURE:
		return nmi_dump_ioctl_capture(uarg);
	case KSTUCK_IOC_NMI_READ:
		return nmi_dump_ioctl_read(uarg);
	default:
		return -ENOTTY;
	}
}
