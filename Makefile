# SPDX-License-Identifier: GPL-2.0
# Convenience wrapper: builds kstuck.ko against the guest kernel's headers.
# Never insmod the result on this machine: it runs only inside the QEMU guest.
KVER ?= $(shell cat build/cache/kernel/current 2>/dev/null)
KDIR ?= /usr/src/linux-headers-$(KVER)

all:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
