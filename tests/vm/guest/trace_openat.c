// SPDX-License-Identifier: GPL-2.0
// Guest helper for the trace suite: makes exactly N openat calls on a signal, or checks
// that a caller without CAP_SYS_ADMIN is refused by the trace ioctls.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kmod/uapi/kstuck_ioctl.h"

// "openat N GOFILE": waits (bounded, without openat) for GOFILE, then opens N times.
static int do_openat(int n, const char *go)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int i, waited;

	printf("pid %d\n", getpid());
	fflush(stdout);
	for (waited = 0; access(go, F_OK) != 0; waited++) {
		if (waited > 3000)	/* 60 s */
			return 3;
		nanosleep(&ts, NULL);
	}
	for (i = 0; i < n; i++) {
		int fd = openat(AT_FDCWD, "/proc/version", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return 4;
		close(fd);
	}
	printf("opened %d\n", n);
	return 0;
}

// "nocap": opens /dev/kstuck as root, drops to nobody, expects EPERM from trace ioctls.
static int do_nocap(void)
{
	const char spec[] = "syscall:openat";
	struct kstuck_trace_start start;
	struct kstuck_trace_list list;
	char buf[256];
	int fd, rs, rl, es, el;

	fd = open(KSTUCK_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 5;
	if (setgid(65534) || setuid(65534))
		return 6;
	memset(&start, 0, sizeof(start));
	start.size = sizeof(start);
	start.specs = (uintptr_t)spec;
	start.specs_len = sizeof(spec);
	rs = ioctl(fd, KSTUCK_IOC_TRACE_START, &start);
	es = errno;
	memset(&list, 0, sizeof(list));
	list.size = sizeof(list);
	list.kind = KSTUCK_PROBE_SYSCALL_ENTER;
	list.glob = (uintptr_t)"*";
	list.buf = (uintptr_t)buf;
	list.buf_len = sizeof(buf);
	rl = ioctl(fd, KSTUCK_IOC_TRACE_LIST, &list);
	el = errno;
	printf("start rc=%d errno=%s list rc=%d errno=%s\n", rs, strerror(es), rl, strerror(el));
	return rs == -1 && es == EPERM && rl == -1 && el == EPERM ? 0 : 7;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "openat"))
		return do_openat(atoi(argv[2]), argv[3]);
	if (argc == 2 && !strcmp(argv[1], "nocap"))
		return do_nocap();
	fprintf(stderr, "usage: trace_openat openat N GOFILE | trace_openat nocap\n");
	return 2;
}
