// SPDX-License-Identifier: GPL-2.0
/*
 * The kmod_safety suite's ioctl checks (static, runs in the guest):
 *   sizes     the NMI and watchdog ioctls take older (smaller) and newer (larger, zero
 *             tail) structs, refuse a non-zero tail and a size below their fields
 *   read      history reads while captures run: every complete slot is consistent
 *   stop      TRACE_STOP with a too-small stats struct fails before any teardown;
 *             a second stopper of the same session can be interrupted by a signal
 * usage: kmod_safety_probe sizes|read|stop
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kmod/uapi/kstuck_ioctl.h"
#include "nmi_dump/uapi/nmi_dump_ioctl.h"
#include "nmi_dump/uapi/nmi_dump_record.h"
#include "tests/vm/guest/guest_report.h"

static int dev;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sizes(void)
{
	struct {
		struct kstuck_nmi_capture c;
		unsigned char tail[8];
	} big;
	struct {
		struct kstuck_watchdog_config w;
		unsigned char tail[8];
	} wbig;
	struct kstuck_nmi_capture c;
	int rc;

	memset(&big, 0, sizeof(big));
	big.c.size = sizeof(big);
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &big) ? errno : 0;
	report("safety-ioctl-capture-larger-struct", rc == 0 && big.c.nr_answered == big.c.nr_requested &&
	       big.c.size == sizeof(big.c), "errno=%ld answered=%ld", rc, (long)big.c.nr_answered);
	memset(&big, 0, sizeof(big));
	big.c.size = sizeof(big);
	big.tail[3] = 1;
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &big) ? errno : 0;
	report("safety-ioctl-capture-nonzero-tail-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	memset(&c, 0, sizeof(c));
	c.size = 16;	/* the input fields only: an older, smaller caller */
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &c) ? errno : 0;
	report("safety-ioctl-capture-smaller-struct", rc == 0 && c.seq == 0 && c.size == 16,
	       "errno=%ld size=%ld", rc, (long)c.size);
	memset(&c, 0, sizeof(c));
	c.size = 4;
	rc = ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &c) ? errno : 0;
	report("safety-ioctl-capture-tiny-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	memset(&wbig, 0, sizeof(wbig));
	wbig.w.size = sizeof(wbig);
	rc = ioctl(dev, KSTUCK_IOC_WATCHDOG_GET, &wbig) ? errno : 0;
	report("safety-ioctl-watchdog-get-larger-struct", rc == 0 && wbig.w.size == sizeof(wbig.w),
	       "errno=%ld size=%ld", rc, (long)wbig.w.size);
	memset(&wbig, 0, sizeof(wbig));
	/* The 1.0 struct, with the ioctl number a 1.0 binary sends (its size is in it). */
	wbig.w.size = offsetof(struct kstuck_watchdog_config, skipped);
	wbig.w.skipped = 0x5555;
	rc = ioctl(dev, _IOR(KSTUCK_IOCTL_TYPE, 0x19, char[offsetof(struct kstuck_watchdog_config, skipped)]),
		   &wbig) ? errno : 0;
	report("safety-ioctl-watchdog-get-older-struct", rc == 0 && wbig.w.skipped == 0x5555 &&
	       wbig.w.threshold_ms >= KSTUCK_WATCHDOG_THRESHOLD_MIN_MS,
	       "errno=%ld threshold=%ld", rc, (long)wbig.w.threshold_ms);
	memset(&wbig, 0, sizeof(wbig));
	wbig.w.size = sizeof(wbig);
	wbig.w.threshold_ms = 1000;
	wbig.tail[0] = 9;
	rc = ioctl(dev, KSTUCK_IOC_WATCHDOG_SET, &wbig) ? errno : 0;
	report("safety-ioctl-watchdog-set-nonzero-tail-einval", rc == EINVAL, "errno=%ld%ld", rc, 0);
	return 0;
}

static volatile int capturing = 1;

static void *capture_loop(void *arg)
{
	struct kstuck_nmi_capture c;
	long *n = arg;

	while (capturing) {
		memset(&c, 0, sizeof(c));
		c.size = sizeof(c);
		if (ioctl(dev, KSTUCK_IOC_NMI_CAPTURE, &c) == 0)
			__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Complete slots whose answered count disagrees with their records. */
static long torn_slots(const char *buf, long *complete)
{
	const struct nmi_dump_buffer_header *h = (const void *)buf;
	long bad = 0;
	unsigned int i, cpu, answered;

	for (i = 0; i < h->nr_slots; i++) {
		const struct nmi_dump_snapshot *s = (const void *)(buf + h->header_size + (size_t)i * h->slot_size);
		const struct nmi_dump_cpu *r = (const void *)(s + 1);

		if (s->state != NMI_DUMP_STATE_COMPLETE)
			continue;
		(*complete)++;
		for (answered = 0, cpu = 0; cpu < s->nr_cpu_records; cpu++)
			answered += !!(r[cpu].status & NMI_DUMP_CPU_ANSWERED);
		if (answered != s->nr_answered || s->end_ns < s->start_ns)
			bad++;
	}
	return bad;
}

static int reads(void)
{
	struct kstuck_nmi_read r;
	pthread_t th;
	long captures = 0, bad = 0, complete = 0, i, max_ms = 0, t, t0;
	char *buf;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	ioctl(dev, KSTUCK_IOC_NMI_READ, &r);
	buf = malloc(r.buffer_size);
	if (!buf)
		return 1;
	pthread_create(&th, NULL, capture_loop, &captures);
	/* Read while captures run: at least 200 reads and 20 captures (bounded: 60 s). */
	t0 = now_ms();
	for (i = 0; (i < 200 || __atomic_load_n(&captures, __ATOMIC_RELAXED) < 20) &&
		    now_ms() - t0 < 60000; i++) {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.buf = (unsigned long)buf;
		r.len = r.buffer_size ? r.buffer_size : 1 << 20;
		t = now_ms();
		if (ioctl(dev, KSTUCK_IOC_NMI_READ, &r)) {
			bad++;
			continue;
		}
		t = now_ms() - t;
		if (t > max_ms)
			max_ms = t;
		bad += torn_slots(buf, &complete);
	}
	capturing = 0;
	pthread_join(th, NULL);
	report("safety-read-during-captures-consistent", bad == 0 && captures >= 20 && complete > 0,
	       "torn_or_failed=%ld captures=%ld", bad, captures);
	printf("KSTUCK-INFO: %ld reads, %ld complete slots checked\n", i, complete);
	report("safety-read-during-captures-latency", max_ms < 2000, "max_read_ms=%ld reads=%ld", max_ms, i);
	free(buf);
	return 0;
}

static int session;
static long stop_done_ms, second_rc, second_ms;

static int start_session(const char *spec)
{
	struct kstuck_trace_start s;

	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.specs = (unsigned long)spec;
	s.specs_len = strlen(spec);
	return ioctl(dev, KSTUCK_IOC_TRACE_START, &s);
}

static void *first_stopper(void *arg)
{
	struct kstuck_trace_stats st;

	(void)arg;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	ioctl(session, KSTUCK_IOC_TRACE_STOP, &st);
	stop_done_ms = now_ms();
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void *second_stopper(void *arg)
{
	struct kstuck_trace_stats st;
	long t0;

	(void)arg;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	t0 = now_ms();
	second_rc = ioctl(session, KSTUCK_IOC_TRACE_STOP, &st) ? errno : 0;
	second_ms = now_ms() - t0;
	return NULL;
}

static int stops(void)
{
	struct kstuck_trace_stats st;
	struct sigaction sa;
	pthread_t a, b;
	long t0;
	int rc;

	/* A stats struct too small for the answer: refused, the session still runs. */
	session = start_session("syscall:getpid");
	if (session < 0) {
		report("safety-trace-stop-bad-size-keeps-session", 0, "start errno=%ld%ld", errno, 0);
		return 1;
	}
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st) - 8;
	rc = ioctl(session, KSTUCK_IOC_TRACE_STOP, &st) ? errno : 0;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	ioctl(session, KSTUCK_IOC_TRACE_STATS, &st);
	report("safety-trace-stop-bad-size-keeps-session", rc == EINVAL && st.stopped == 0,
	       "errno=%ld stopped=%ld", rc, (long)st.stopped);
	close(session);

	/* A slow teardown (thousands of functions); a second STOP, interrupted by a signal. */
	session = start_session("fbt:[a-m]*");
	if (session < 0) {
		report("safety-trace-second-stop-interruptible", 0, "start errno=%ld%ld", errno, 0);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: the ioctl returns EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	t0 = now_ms();
	pthread_create(&a, NULL, first_stopper, NULL);
	usleep(20000);
	pthread_create(&b, NULL, second_stopper, NULL);
	usleep(100000);
	pthread_kill(b, SIGUSR1);
	pthread_join(b, NULL);
	pthread_join(a, NULL);
	/* Interrupted while the first stop still ran: it returned before the teardown ended. */
	report("safety-trace-second-stop-interruptible",
	       second_rc == EINTR && t0 + 20 + second_ms < stop_done_ms,
	       "second: errno=%ld after %ld ms", second_rc, second_ms);
	printf("KSTUCK-INFO: first stop took %ld ms\n", stop_done_ms - t0);
	close(session);
	return 0;
}

int main(int argc, char **argv)
{
	dev = open(KSTUCK_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (dev < 0 || argc < 2) {
		report("safety-probe-start", 0, "errno=%ld argc=%ld", errno, argc);
		return 1;
	}
	if (!strcmp(argv[1], "sizes"))
		sizes();
	else if (!strcmp(argv[1], "read"))
		reads();
	else if (!strcmp(argv[1], "stop"))
		stops();
	return guest_failures ? 1 : 0;
}
