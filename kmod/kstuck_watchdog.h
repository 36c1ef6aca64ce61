/* SPDX-License-Identifier: GPL-2.0 */
/* Interface of kstuck's stall watchdog (kmod/kstuck_watchdog.c) to the rest of kstuck.ko. */
#ifndef KSTUCK_WATCHDOG_H
#define KSTUCK_WATCHDOG_H

int kstuck_watchdog_init(void);
void kstuck_watchdog_exit(void);
/* KSTUCK_IOC_WATCHDOG_SET/_GET; cmd is already known to be one of them. */
long kstuck_watchdog_ioctl(unsigned int cmd, void __user *uarg);

#endif /* KSTUCK_WATCHDOG_H */
