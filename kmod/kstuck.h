/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces between the parts of kstuck.ko. */
#ifndef KSTUCK_KMOD_H
#define KSTUCK_KMOD_H

#include <linux/fs.h>

#define KSTUCK_MODULE_VERSION	"0.1.0"

int kstuck_dev_init(void);
void kstuck_dev_exit(void);

#endif /* KSTUCK_KMOD_H */
