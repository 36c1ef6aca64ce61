// SPDX-License-Identifier: GPL-2.0
/*
 * The NMI ioctls of /dev/kstuck: argument checks, then the capture core. Each struct
 * starts with its size and may grow: copy_struct_from_user() takes a smaller (older)
 * one zero-extended and a larger (newer) one if its extra bytes are zero; the answer
 * goes back in the caller's size.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": nmi: " fmt

#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/stddef.h>
#include <linux/uaccess.h>

#include "nmi_dump/nmi_dump.h"
#include "nmi_dump/uapi/nmi_dump_ioctl.h"

/* Reads a size-prefixed struct of ksize bytes; *usize gets the caller's size. */
static int nmi_dump_get_struct(void *dst, size_t ksize, void __user *uarg, u32 *usize)
{
	int ret;

	if (get_user(*usize, (u32 __user *)uarg))
		return -EFAULT;
	/* Up to the fields this module reads; a page at most. */
	if (*usize < sizeof(u32) * 2 || *usize > PAGE_SIZE)
		return -EINVAL;
	ret = copy_struct_from_user(dst, ksize, uarg, *usize);
	return ret == -E2BIG ? -EINVAL : ret;
}

static long nmi_dump_ioctl_capture(void __user *uarg)
{
	struct kstuck_nmi_capture c;
	struct nmi_dump_result res = {};
	u32 usize;
	int ret;

	ret = nmi_dump_get_struct(&c, sizeof(c), uarg, &usize);
	if (ret)
		return ret;
	if (usize < offsetofend(struct kstuck_nmi_capture, reserved) || c.flags || c.reserved ||
	    c.timeout_ms > KSTUCK_NMI_TIMEOUT_MAX_MS)
		return -EINVAL;
	ret = nmi_dump_capture_sync(NMI_DUMP_TRIGGER_ON_DEMAND,
				    c.timeout_ms ? c.timeout_ms : KSTUCK_NMI_TIMEOUT_DEFAULT_MS, ~0u, 0, &res);
	if (ret)
		return ret;
	c.size = min_t(u32, usize, sizeof(c));
	c.seq = res.seq;
	c.nr_requested = res.nr_requested;
	c.nr_answered = res.nr_answered;
	c.duration_ns = res.duration_ns;
	if (copy_to_user(uarg, &c, min_t(u32, usize, sizeof(c))))
		return -EFAULT;
	return 0;
}

static long nmi_dump_ioctl_read(void __user *uarg)
{
	struct kstuck_nmi_read r;
	u64 size = 0;
	u32 usize;
	int ret;

	ret = nmi_dump_get_struct(&r, sizeof(r), uarg, &usize);
	if (ret)
		return ret;
	if (usize < offsetofend(struct kstuck_nmi_read, len) || r.flags)
		return -EINVAL;
	ret = nmi_dump_copy_to_user(u64_to_user_ptr(r.buf), r.len, &size);
	r.size = min_t(u32, usize, sizeof(r));
	r.buffer_size = size;
	/* The size is the answer to a too-small buffer, so it goes back on -ENOSPC too. */
	if ((ret == 0 || ret == -ENOSPC) && copy_to_user(uarg, &r, min_t(u32, usize, sizeof(r))))
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
