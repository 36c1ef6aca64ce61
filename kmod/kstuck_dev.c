// SPDX-License-Identifier: GPL-2.0
/* /dev/kstuck: the control device; checks privileges and dispatches ioctls. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>

#include "kmod/kstuck.h"
#include "kmod/kstuck_trace.h"
#include "kmod/kstuck_watchdog.h"
#include "nmi_dump/nmi_dump.h"
#include "nmi_dump/uapi/nmi_dump_ioctl.h"
#include "kmod/uapi/kstuck_ioctl.h"

static long kstuck_ioctl_version(void __user *arg)
{
	struct kstuck_version v;

	memset(&v, 0, sizeof(v));
	v.abi_major = KSTUCK_ABI_MAJOR;
	v.abi_minor = KSTUCK_ABI_MINOR;
	v.record_major = NMI_DUMP_FORMAT_MAJOR;
	v.record_minor = NMI_DUMP_FORMAT_MINOR;
	strscpy(v.module_version, KSTUCK_MODULE_VERSION, sizeof(v.module_version));
	strscpy(v.kernel_release, utsname()->release, sizeof(v.kernel_release));
	if (copy_to_user(arg, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

/* An ioctl number without its size field. */
#define KSTUCK_IOC_UNSIZED(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

static long kstuck_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	/* The device is 0600, but a root process may have dropped its capabilities. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (_IOC_TYPE(cmd) != KSTUCK_IOCTL_TYPE)
		return -ENOTTY;

	switch (cmd) {
	case KSTUCK_IOC_VERSION:
		return kstuck_ioctl_version(uarg);
	case KSTUCK_IOC_TRACE_START:
		return kstuck_trace_ioctl_start(uarg);
	case KSTUCK_IOC_TRACE_LIST:
		return kstuck_trace_ioctl_list(uarg);
	case KSTUCK_IOC_TRACE_FUNCS:
		return kstuck_trace_ioctl_funcs(uarg);
	}
	/*
	 * An ioctl number carries the size of the caller's struct, and the NMI and watchdog
	 * structs grow: an older (smaller) or newer (larger) one is dispatched on the rest of
	 * the number, and the handler reads the size the struct itself starts with
	 * (copy_struct_from_user()).
	 */
	switch (KSTUCK_IOC_UNSIZED(cmd)) {
	case KSTUCK_IOC_UNSIZED(KSTUCK_IOC_NMI_CAPTURE):
		return nmi_dump_ioctl(KSTUCK_IOC_NMI_CAPTURE, uarg);
	case KSTUCK_IOC_UNSIZED(KSTUCK_IOC_NMI_READ):
		return nmi_dump_ioctl(KSTUCK_IOC_NMI_READ, uarg);
	case KSTUCK_IOC_UNSIZED(KSTUCK_IOC_WATCHDOG_SET):
		return kstuck_watchdog_ioctl(KSTUCK_IOC_WATCHDOG_SET, uarg);
	case KSTUCK_IOC_UNSIZED(KSTUCK_IOC_WATCHDOG_GET):
		return kstuck_watchdog_ioctl(KSTUCK_IOC_WATCHDOG_GET, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations kstuck_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = kstuck_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice kstuck_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kstuck",
	.fops = &kstuck_fops,
	.mode = 0600,
};

int kstuck_dev_init(void)
{
	return misc_register(&kstuck_miscdev);
}

void kstuck_dev_exit(void)
{
	misc_deregister(&kstuck_miscdev);
}
