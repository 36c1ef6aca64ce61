// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-side safety checks of the NMI ioctls: privileges (non-root, root without
 * CAP_SYS_ADMIN), argument validation, the read protocol, and concurrent captures
 * being serialized. Prints KSTUCK-TEST lines; exit status = number of failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/vm/guest/guest_report.h"

#include "nmi_dump/uapi/nmi_dump_ioctl.h"

static int dev;


static int capture(int fd, struct kstuck_nmi_capture *c)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	return ioctl(fd, KSTUCK_IOC_NMI_CAPTURE, c) ? errno : 0;
}

/* Runs fn in a child: uid 65534, or root with CAP_SYS_ADMIN dropped. */
static int in_child(int nobody, int (*fn)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		if (nobody) {
			if (setgid(65534) || setuid(65534))
				_exit(100);
		} else {
			struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
			struct __user_cap_data_struct d[2];

			if (syscall(SYS_capget, &h, d))
				_exit(101);
			d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
			d[CAP_SYS_ADMIN / 32].permitted &= ~(1u << (CAP_SYS_ADMIN % 32));
			if (syscall(SYS_capset, &h, d))
				_exit(102);
		}
		_exit(fn());
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int child_capture(void)
{
	struct kstuck_nmi_capture c;

	return capture(dev, &c);
}

static int child_watchdog(void)
{
	struct kstuck_watchdog_config w;

	memset(&w, 0, sizeof(w));
	w.size = sizeof(w);
	return ioctl(dev, KSTUCK_IOC_WATCHDOG_GET, &w) ? errno : 0;
}

#define THREADS 4
#define PER_THREAD 10
static unsigned long long seqs[THREADS * PER_THREAD];
static int thread_errors;

static void *capture_thread(void *arg)
{
	long t = (long)arg;
	struct kstuck_nmi_capture c;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		if (capture(dev, &c) || c.nr_answered != c.nr_requested)
			__atomic_add_fetch(&thread_errors, 1, __ATOMIC_RELAXED);
		seqs[t * PER_THREAD + i] = c.seq;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	struct kstuck_nmi_capture c;
	struct kstuck_nmi_read r;
	struct kstuck_watchdog_config w;
	pthread_t th[THREADS];
	unsigned long long magic;
	char *buf;
	int rc, i, dups = 0;
	long t;

	dev = open(KSTUCK_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (dev < 0) {
		report("nmi-dev-open", 0, "errno=%ld%ld", errno, 0);
		return 1;
	}
	rc = capture(dev, &c);
	report("nmi-capture-ioctl", rc == 0 && c.nr_requested == online && c.nr_answered == online,
	       "rc=%ld answered=%ld", rc, rc ? -1 : (long)c.nr_answered);

	/* Smaller than its input fields (an older, smaller struct is fine: issue 14). */
	memset(&c, 0, sizeof(c));
	c.size = 4;
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &c) ? errno : 0;
	report("nmi-capture-bad-size-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.flags = 1;
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &c) ? errno : 0;
	report("nmi-capture-bad-flags-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.reserved = 7;
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &c) ? errno : 0;
	report("nmi-capture-reserved-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.timeout_ms = KSTUCK_NMI_TIMEOUT_MAX_MS + 1;
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &c) ? errno : 0;
	report("nmi-capture-timeout-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, (void *)16) ? errno : 0;
	report("nmi-capture-bad-pointer-efault", rc == EFAULT, "errno=%ld%ld", rc, 0);

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	rc = ioctl(dev, KSTUCK_IOC_NMI_READ, &r) ? errno : 0;
	report("nmi-read-size-enospc", rc == ENOSPC && r.buffer_size > 0, "errno=%ld size=%ld", rc,
	       (long)r.buffer_size);
	buf = malloc(r.buffer_size);
	r.buf = (unsigned long)buf;
	r.len = r.buffer_size;
	rc = ioctl(dev, KSTUCK_IOC_NMI_READ, &r) ? errno : 0;
	memcpy(&magic, buf, sizeof(magic));
	report("nmi-read-magic", rc == 0 && magic == NMI_DUMP_MAGIC, "errno=%ld magic_ok=%ld", rc,
	       (long)(magic == NMI_DUMP_MAGIC));
	r.buf = 16;
	rc = ioctl(dev, KSTUCK_IOC_NMI_READ, &r) ? errno : 0;
	report("nmi-read-bad-buffer-efault", rc == EFAULT, "errno=%ld%ld", rc, 0);
	r.buf = (unsigned long)buf;
	r.flags = 2;
	rc = ioctl(dev, KSTUCK_IOC_NMI_READ, &r) ? errno : 0;
	report("nmi-read-bad-flags-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	free(buf);

	memset(&w, 0, sizeof(w));
	w.size = sizeof(w);
	w.enabled = 1;
	w.threshold_ms = KSTUCK_WATCHDOG_THRESHOLD_MIN_MS - 1;
	rc = ioctl(dev, KSTUCK_IOC_WATCHDOG_SET, &w) ? errno : 0;
	report("watchdog-threshold-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	w.threshold_ms = 1000;
	w.enabled = 2;
	rc = ioctl(dev, KSTUCK_IOC_WATCHDOG_SET, &w) ? errno : 0;
	report("watchdog-enabled-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	w.enabled = 0;
	w.flags = 0x80;
	rc = ioctl(dev, KSTUCK_IOC_WATCHDOG_SET, &w) ? errno : 0;
	report("watchdog-flags-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);

	rc = in_child(1, child_capture);
	report("nmi-capture-nonroot-eperm", rc == EPERM, "child=%ld expected=%ld", rc, EPERM);
	rc = in_child(0, child_capture);
	report("nmi-capture-no-cap-sys-admin-eperm", rc == EPERM, "child=%ld expected=%ld", rc, EPERM);
	rc = in_child(0, child_watchdog);
	report("watchdog-no-cap-sys-admin-eperm", rc == EPERM, "child=%ld expected=%ld", rc, EPERM);

	for (t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, capture_thread, (void *)t);
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	qsort(seqs, THREADS * PER_THREAD, sizeof(seqs[0]), cmp_u64);
	for (i = 1; i < THREADS * PER_THREAD; i++)
		dups += seqs[i] == seqs[i - 1];
	report("nmi-concurrent-captures-serialized", thread_errors == 0 && dups == 0,
	       "errors=%ld duplicate_seqs=%ld", thread_errors, dups);
	close(dev);
	return guest_failures;
}
