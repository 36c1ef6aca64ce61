// SPDX-License-Identifier: GPL-2.0
/*
 * futex_park N: creates N threads that each sleep in a FUTEX_WAIT nobody wakes, checks
 * in /proc/self/task that they all sleep (state S), prints
 * "KSTUCK-SCALE: threads=N parked=M" and a KSTUCK-TEST line, then sleeps itself (pause)
 * until killed. The scale guest (scale.sh) makes a dump of thousands of tasks with it:
 * many tasks, none hung (a futex wait is no kernel lock).
 *
 * Per thread: a 16 KiB user stack (PTHREAD_STACK_MIN; the thread only calls futex)
 * with glibc's guard page, a 16 KiB kernel stack and a task_struct: about 40 KiB of
 * guest memory, 400 MiB for 10,000 threads. Each stack is two mappings (stack and
 * guard), well under vm.max_map_count (65530) at 10,000 threads.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tests/vm/guest/guest_report.h"

static atomic_int gate;   /* never changes: every waiter sleeps until the dump */
static atomic_int parked; /* threads that reached their futex wait */

static void *park(void *arg)
{
	(void)arg;
	atomic_fetch_add(&parked, 1);
	for (;;)
		syscall(SYS_futex, &gate, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	return NULL;
}

/* The threads of this process (the main one excepted) whose state is S. */
static long sleeping_threads(void)
{
	char path[64], buf[256];
	struct dirent *d;
	long n = 0;
	pid_t self = getpid();
	DIR *dir = opendir("/proc/self/task");

	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		FILE *f;
		char *p;

		int tid = atoi(d->d_name);

		if (tid <= 0 || tid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
		f = fopen(path, "r");
		if (!f)
			continue;
		/* "tid (comm) S ...": the state follows the last ')'. */
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ' && p[2] == 'S')
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	pthread_attr_t attr;
	long want, made = 0, sleeping = 0;
	int err = 0, i;

	if (argc != 2 || (want = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: futex_park N\n");
		return 2;
	}
	setrlimit(RLIMIT_NPROC, &unlimited);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (; made < want; made++) {
		pthread_t t;

		err = pthread_create(&t, &attr, park, NULL);
		if (err) {
			fprintf(stderr, "futex_park: thread %ld: %s\n", made, strerror(err));
			break;
		}
	}
	/* Bounded waits: every thread counted itself, then every one sleeps (S). */
	for (i = 0; i < 600 && atomic_load(&parked) < made; i++)
		sleep_ms(100);
	for (i = 0; i < 30; i++) {
		sleeping = sleeping_threads();
		if (sleeping >= made)
			break;
		sleep_ms(1000);
	}
	printf("KSTUCK-SCALE: threads=%ld parked=%ld sleeping=%ld\n", made, (long)atomic_load(&parked), sleeping);
	report("scale-threads-parked", made == want && sleeping == made, "%ld of %ld threads asleep in futex_wait",
	       sleeping, want);
	fflush(stdout);
	for (;;)
		pause();
}
