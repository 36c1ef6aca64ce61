# SPDX-License-Identifier: GPL-2.0
# kstuck.ko safety, the panic path (its own boot, a real kdump): a panic while a capture
# is in flight (CPU 3 held inside an NMI, so it cannot answer). With
# crash_kexec_post_notifiers the panic notifier runs before kdump: it must end the
# capture in flight, take a panic snapshot of the stopped CPUs, and let kdump complete.
. /tests/lib.sh

P=/sys/module/kstuck_scenario_safety/parameters
check kstuck-insmod insmod /lib/kstuck/kstuck.ko panic_timeout_ms=200
check safety-scenario-insmod insmod /lib/kstuck/kstuck_scenario_safety.ko
check kexec-load kexec -p /boot/bzImage --initrd=/boot/capture.cpio \
	--append="console=ttyS0 irqpoll nr_cpus=1 reset_devices no_timer_check rdinit=/init panic=-1 kstuck.capture=1 kstuck.formats=kdump"
if [ "$(cat /sys/kernel/kexec_crash_loaded 2>/dev/null)" = 1 ]; then
	pass kexec-crash-loaded
else
	fail kexec-crash-loaded "kexec_crash_loaded=$(cat /sys/kernel/kexec_crash_loaded 2>&1)"
fi
echo 30000 >$P/nmi_block_ms
echo 3 >$P/nmi_block
# The capture asks every CPU; CPU 3 spins 30 s in the NMI before kstuck's handler sees it.
kstuck nmi capture --timeout 10000 --quiet >/tmp/cap.txt 2>&1 &
# The CLI may take seconds to start under TCG: wait (bounded) for CPU 3 to be held.
i=0
while [ $i -lt 200 ] && [ "$(cat $P/nmi_blocking)" != 1 ]; do
	usleep 100000
	i=$((i + 1))
done
if [ "$(cat $P/nmi_blocking)" = 1 ]; then
	pass safety-cpu3-held-in-nmi
else
	fail safety-cpu3-held-in-nmi "nmi_blocking=$(cat $P/nmi_blocking)"
fi
echo "KSTUCK-PANIC: sysrq-c with a capture in flight"
sleep 1
echo c >/proc/sysrq-trigger
fail sysrq-panic "still alive after sysrq c"
