// SPDX-License-Identifier: GPL-2.0
/*
 * bench/nmi's guest half: wall-clock latency of an all-CPU stack capture through
 * kstuck (capture ioctl + reading the history back) against the kernel's own
 * "echo l > /proc/sysrq-trigger", in the same guest, with the console at full
 * verbosity so printk's cost is paid as on a real serial console. Counts what each
 * delivered: CPUs in the snapshot, "NMI backtrace for cpu" records in /dev/kmsg.
 * Prints one "KSTUCK-BENCH:" line; usage: nmi_bench [ROUNDS_KSTUCK [ROUNDS_SYSRQ]].
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "nmi_dump/uapi/nmi_dump_ioctl.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Counts new "NMI backtrace for cpu" records; *lost gets records the ring dropped. */
static int count_backtraces(int kmsg, int *lost)
{
	char rec[8192];
	int n = 0;
	ssize_t len;

	for (;;) {
		len = read(kmsg, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE) {
			(*lost)++;
			continue;
		}
		if (len <= 0)
			break;
		rec[len] = 0;
		if (strstr(rec, "NMI backtrace for cpu"))
			n++;
	}
	return n;
}

#define BENCH_MAX_CPUS	16
static double cpu_ms[BENCH_MAX_CPUS][256];
static unsigned int nr_cpu_recs;

/* Per CPU: how long after the request its record was written, for snapshot seq. */
static void record_cpu_latencies(const char *buf, __u64 seq, int round)
{
	const struct nmi_dump_buffer_header *h = (const void *)buf;
	const struct nmi_dump_snapshot *snap;
	const struct nmi_dump_cpu *rec;
	unsigned int cpu;

	snap = (const void *)(buf + h->header_size + (seq % h->nr_slots) * h->slot_size);
	rec = (const void *)(snap + 1);
	nr_cpu_recs = h->nr_cpu_records < BENCH_MAX_CPUS ? h->nr_cpu_records : BENCH_MAX_CPUS;
	for (cpu = 0; cpu < nr_cpu_recs; cpu++)
		cpu_ms[cpu][round] = (rec[cpu].status & NMI_DUMP_CPU_ANSWERED) ?
			(rec[cpu].timestamp_ns - snap->start_ns) / 1e6 : -1;
}

int main(int argc, char **argv)
{
	int rounds_k = argc > 1 ? atoi(argv[1]) : 20, rounds_s = argc > 2 ? atoi(argv[2]) : 5;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	double tk[256], tc[256], tr[256], tn[256], ts[64], t0, t1, k_ms, s_ms;
	struct kstuck_nmi_capture c;
	struct kstuck_nmi_read r;
	int dev, kmsg, trig, i, k_min_cpus = 1 << 30, s_min_bt = 1 << 30, lost = 0, bt;
	char *buf;

	if (rounds_k < 1 || rounds_k > 256 || rounds_s < 1 || rounds_s > 64)
		return 2;
	dev = open(KSTUCK_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (dev < 0 || kmsg < 0) {
		perror("open");
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	ioctl(dev, KSTUCK_IOC_NMI_READ, &r);
	buf = malloc(r.buffer_size);
	for (i = 0; i < rounds_k; i++) {
		t0 = now_ms();
		memset(&c, 0, sizeof(c));
		c.size = sizeof(c);
		if (ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &c))
			return 1;
		t1 = now_ms();
		r.buf = (unsigned long)buf;
		r.len = r.buffer_size;
		if (ioctl(dev, KSTUCK_IOC_NMI_READ, &r))
			return 1;
		tk[i] = now_ms() - t0;
		tc[i] = t1 - t0;
		tr[i] = tk[i] - tc[i];
		tn[i] = c.duration_ns / 1e6;
		record_cpu_latencies(buf, c.seq, i);
		if ((int)c.nr_answered < k_min_cpus)
			k_min_cpus = c.nr_answered;
	}
	for (i = 0; i < rounds_s; i++) {
		lseek(kmsg, 0, SEEK_END);
		trig = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
		if (trig < 0)
			return 1;
		t0 = now_ms();
		if (write(trig, "l", 1) != 1)
			return 1;
		ts[i] = now_ms() - t0;
		close(trig);
		usleep(200000);	/* let late backtraces reach the log before counting */
		bt = count_backtraces(kmsg, &lost);
		if (bt < s_min_bt)
			s_min_bt = bt;
	}
	k_ms = median(tk, rounds_k);
	printf("KSTUCK-BENCH-CPUS:");
	for (i = 0; i < (int)nr_cpu_recs; i++)
		printf(" cpu%d_ms=%.3f", i, median(cpu_ms[i], rounds_k));
	printf("\n");
	s_ms = median(ts, rounds_s);
	printf("KSTUCK-BENCH: kstuck_ms=%.3f sysrq_ms=%.3f ratio=%.1f kstuck_cpus=%d/%ld sysrq_backtraces=%d/%ld "
	       "kmsg_lost=%d rounds=%d/%d capture_ioctl_ms=%.3f read_ioctl_ms=%.3f in_kernel_ms=%.3f\n", k_ms, s_ms,
	       s_ms / k_ms, k_min_cpus, online, s_min_bt, online, lost, rounds_k, rounds_s, median(tc, rounds_k),
	       median(tr, rounds_k), median(tn, rounds_k));
	return 0;
}
