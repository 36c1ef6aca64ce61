// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-side check of /dev/kstuck's control ABI: the version ioctl answers, and bad
 * callers and bad ioctl numbers are refused. Prints KSTUCK-TEST lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/vm/guest/guest_report.h"

#include "kmod/uapi/kstuck_ioctl.h"



/* Runs fn in a child that has become uid 65534 (dropping every capability). */
static int as_nobody(int (*fn)(int fd), int fd)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(100);
		_exit(fn(fd));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int nobody_open(int unused)
{
	int fd = open(KSTUCK_DEVICE_PATH, O_RDONLY);

	(void)unused;
	return fd < 0 ? errno : 0;
}

static int nobody_ioctl(int fd)
{
	struct kstuck_version v;

	return ioctl(fd, KSTUCK_IOC_VERSION, &v) < 0 ? errno : 0;
}

int main(void)
{
	struct kstuck_version v;
	struct utsname uts;
	struct stat st;
	int fd, rc, err;

	rc = stat(KSTUCK_DEVICE_PATH, &st);
	report("dev-mode-0600", rc == 0 && (st.st_mode & 0777) == 0600 && S_ISCHR(st.st_mode),
	       "mode=%lo rc=%ld", rc == 0 ? (long)(st.st_mode & 0777) : -1L, rc);

	fd = open(KSTUCK_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		report("dev-open", 0, "errno=%ld%ld", errno, 0);
		return 1;
	}
	memset(&v, 0xff, sizeof(v));
	rc = ioctl(fd, KSTUCK_IOC_VERSION, &v);
	report("version-ioctl", rc == 0 && v.abi_major == KSTUCK_ABI_MAJOR && v.abi_minor != 0xffffffffu &&
	       memchr(v.kernel_release, 0, sizeof(v.kernel_release)) && uname(&uts) == 0 &&
	       strcmp(v.kernel_release, uts.release) == 0,
	       "abi_major=%ld abi_minor=%ld", (long)v.abi_major, (long)v.abi_minor);
	printf("KSTUCK-INFO: module_version=%.32s kernel_release=%.65s record=%u.%u\n",
	       v.module_version, v.kernel_release, v.record_major, v.record_minor);

	rc = ioctl(fd, _IOR(KSTUCK_IOCTL_TYPE, 0x7f, struct kstuck_version), &v);
	err = errno;
	report("bad-ioctl-number-enotty", rc == -1 && err == ENOTTY, "rc=%ld errno=%ld", rc, err);

	rc = ioctl(fd, _IOR('T', 0x00, int), &v);
	err = errno;
	report("foreign-ioctl-type-enotty", rc == -1 && err == ENOTTY, "rc=%ld errno=%ld", rc, err);

	rc = ioctl(fd, KSTUCK_IOC_VERSION, (void *)16);
	err = errno;
	report("version-bad-pointer-efault", rc == -1 && err == EFAULT, "rc=%ld errno=%ld", rc, err);

	rc = as_nobody(nobody_open, -1);
	report("nonroot-open-eacces", rc == EACCES, "child=%ld expected=%ld", rc, EACCES);

	rc = as_nobody(nobody_ioctl, fd);
	report("nonroot-ioctl-eperm", rc == EPERM, "child=%ld expected=%ld", rc, EPERM);

	close(fd);
	return guest_failures ? 1 : 0;
}
