# SPDX-License-Identifier: GPL-2.0
# Convenience wrapper: builds kstuck.ko against the guest kernel's headers.
# Never insmod the result on this machine: it runs only inside the QEMU guest.
KVER ?= $(shell uname -r)
KDIR ?= /usr/src/linux-headers-$(KVER)

all:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# Not kbuild's M= clean: it deletes every *.ko and *.o under this tree, the guest
# modules cached in build/ among them.
clean:
	rm -f kstuck.ko kstuck.o kstuck.mod kstuck.mod.c kstuck.mod.o Module.symvers modules.order
	rm -f kmod/*.o nmi_dump/*.o .*.cmd kmod/.*.cmd nmi_dump/.*.cmd
