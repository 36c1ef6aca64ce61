/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kstuck control ABI: the ioctls of /dev/kstuck, shared by kstuck.ko and user space.
 *
 * Every control call needs CAP_SYS_ADMIN. Structures only grow at their end; the
 * caller passes its size where a structure may grow, so old binaries keep working.
 * Ioctl numbers are grouped: 0x00-0x0f core, 0x10-0x2f NMI capture, 0x30-0x4f tracing.
 */
#ifndef KSTUCK_UAPI_IOCTL_H
#define KSTUCK_UAPI_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KSTUCK_DEVICE_PATH	"/dev/kstuck"
#define KSTUCK_IOCTL_TYPE	0xB5

/* ABI of this header; a minor bump only adds ioctls or appends fields. */
#define KSTUCK_ABI_MAJOR	1
#define KSTUCK_ABI_MINOR	0

/* KSTUCK_IOC_VERSION: what the loaded module speaks. */
struct kstuck_version {
	__u32 abi_major;	/* KSTUCK_ABI_MAJOR of the module */
	__u32 abi_minor;	/* KSTUCK_ABI_MINOR of the module */
	__u32 record_major;	/* NMI_DUMP_FORMAT_MAJOR of its records */
	__u32 record_minor;	/* NMI_DUMP_FORMAT_MINOR of its records */
	char module_version[32];	/* MODULE_VERSION string, NUL-terminated */
	char kernel_release[65];	/* utsname()->release of the running kernel */
	__u8 reserved[7];	/* zero */
};

#define KSTUCK_IOC_VERSION	_IOR(KSTUCK_IOCTL_TYPE, 0x00, struct kstuck_version)

/* Tracing sessions and listings, 0x30-0x4f. */
#include "kstuck_trace.h"

#endif /* KSTUCK_UAPI_IOCTL_H */
