/* SPDX-License-Identifier: GPL-2.0 */
/* The KSTUCK-TEST line protocol for the static guest helpers in tests/vm/guest/. */
#ifndef KSTUCK_GUEST_REPORT_H
#define KSTUCK_GUEST_REPORT_H

#include <stdio.h>

static int guest_failures;

/* Prints "KSTUCK-TEST: NAME PASS|FAIL DETAIL"; DETAIL is fmt with two long arguments. */
static void report(const char *name, int ok, const char *fmt, long a, long b)
{
	printf("KSTUCK-TEST: %s %s ", name, ok ? "PASS" : "FAIL");
	printf(fmt, a, b);
	printf("\n");
	fflush(stdout);
	if (!ok)
		guest_failures++;
}

#endif /* KSTUCK_GUEST_REPORT_H */
