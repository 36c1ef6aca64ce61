// SPDX-License-Identifier: GPL-2.0
/*
 * lazy_mm_exit CPU AWAY_MASK SECONDS: runs on CPU, moves to the CPUs of AWAY_MASK
 * (hex), sleeps SECONDS, exits. CPU keeps this process's mm loaded as its lazy TLB mm
 * (the last user mm it ran) under whatever kernel thread runs there next; the exit
 * then frees the page tables and flushes every CPU in the mm's cpumask, lazy ones
 * included. A test wedges CPU meanwhile and checks the exit did not wait for it.
 * No exec in between: an exec would drop the mm early.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pin(const cpu_set_t *set)
{
	if (sched_setaffinity(0, sizeof(*set), set)) {
		perror("lazy_mm_exit: sched_setaffinity");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	cpu_set_t set;
	unsigned long away;
	volatile char *page;
	int cpu;

	if (argc != 4) {
		fprintf(stderr, "usage: lazy_mm_exit CPU AWAY_MASK SECONDS\n");
		return 2;
	}
	cpu = atoi(argv[1]);
	away = strtoul(argv[2], NULL, 16);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pin(&set))
		return 1;
	/* Touch memory on CPU so the mm has page tables worth freeing at exit. */
	page = malloc(1 << 20);
	if (!page)
		return 1;
	memset((char *)page, 1, 1 << 20);
	if (sched_getcpu() != cpu) {
		fprintf(stderr, "lazy_mm_exit: not on CPU %d\n", cpu);
		return 1;
	}
	CPU_ZERO(&set);
	for (int i = 0; i < 64; i++)
		if (away & (1UL << i))
			CPU_SET(i, &set);
	if (pin(&set))
		return 1;
	sleep(atoi(argv[3]));
	return 0;
}
