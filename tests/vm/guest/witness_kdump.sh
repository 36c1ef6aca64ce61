# SPDX-License-Identifier: GPL-2.0
# Witness suite, first kernel (tests/vm/suites/witness.py through tests/vm/kdump.py's
# kdump_cycle): loads the capture kernel, sets up the case named by kstuck.witness=,
# lets the host take a QEMU dump of the live state, then panics with sysrq c from CPU 0
# so the capture kernel writes a real kdump.
#   idle     a healthy guest; two shell loops on CPUs 0 and 1 wake each other through
#            a pipe, so wakeups are in flight (maybe queued on the panicking CPU) when
#            CPU 0 panics: the panicking CPU is a witness, kstuck hang must say NONE.
#   offline  CPU 1 is taken offline first (kdump then has no register note for it),
#            then kstuck_scenario (IRQs-off spinner on CPU 3, xcall waiter on CPU 2,
#            mutex owner and waiter) starts: every CPU's registers and current task
#            must still be right.
. /tests/lib.sh
# Lines go out as kernel records: once CPU 1 is offline its interrupts move, maybe onto
# the CPU that spins with IRQs off, and the UART's transmit interrupt never comes (the
# lines written after that were lost); a kernel record is printed by the writer itself.
pass() { n=$1; shift; echo "KSTUCK-TEST: $n PASS $*" >/dev/kmsg; }
fail() { n=$1; shift; echo "KSTUCK-TEST: $n FAIL $*" >/dev/kmsg; }

arg() { sed -n "s/.*kstuck\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
witness=$(arg witness)
formats=$(arg formats)

if grep -q "Crash kernel" /proc/iomem; then
	pass crashkernel-reserved
else
	fail crashkernel-reserved "no Crash kernel range in /proc/iomem"
fi
check kexec-load kexec -p /boot/bzImage --initrd=/boot/capture.cpio \
	--append="console=ttyS0 irqpoll nr_cpus=1 reset_devices no_timer_check rdinit=/init panic=-1 kstuck.capture=1 kstuck.formats=${formats:-kdump}"
if [ "$(cat /sys/kernel/kexec_crash_loaded 2>/dev/null)" = 1 ]; then
	pass kexec-crash-loaded
else
	fail kexec-crash-loaded "kexec_crash_loaded=$(cat /sys/kernel/kexec_crash_loaded 2>&1)"
fi

case "$witness" in
idle)
	# Ping-pong through a pipe between CPU 1 and CPU 0: every line is a cross-CPU wakeup.
	taskset -c 1 sh -c 'while :; do echo x; usleep 2000; done' | taskset -c 0 sh -c 'while read l; do :; done' &
	sleep 2
	pass witness-started "idle, pipe ping-pong CPU 1 -> CPU 0"
	;;
offline)
	echo 0 >/sys/devices/system/cpu/cpu1/online
	if [ "$(cat /sys/devices/system/cpu/cpu1/online)" = 0 ]; then
		pass cpu1-offline "online=$(cat /sys/devices/system/cpu/online)"
	else
		fail cpu1-offline "online=$(cat /sys/devices/system/cpu/online)"
	fi
	check scenario-insmod insmod /lib/kstuck/kstuck_scenario.ko scenarios=7 spin_seconds=600
	usleep 300000
	echo 1 >/sys/module/kstuck_scenario/parameters/start
	if wait_truth "xcall_waiter pid" 20 && wait_truth "mutex_waiter pid" 10 && wait_truth "irqoff_spinner pid" 10; then
		pass witness-started "offline cpu1, kstuck_scenario running"
	else
		fail witness-started "$(dmesg | grep KSTUCK-TRUTH | tr '\n' ' ')"
	fi
	sleep 1
	;;
*)
	fail witness-known "no such witness case: $witness"
	;;
esac

if [ "$(arg qemu_dump)" = 1 ]; then
	reply=$(request dump witness)
	if [ "$reply" = "ok" ]; then pass host-dump-taken; else fail host-dump-taken "reply=$reply"; fi
fi

echo "KSTUCK-PANIC: sysrq-c" >/dev/kmsg
# The shell that writes the sysrq is the panicking task.
taskset -c 0 sh -c 'echo "KSTUCK-TRUTH: panicker cpu=0 pid=$$" >/dev/kmsg; sleep 1; echo c >/proc/sysrq-trigger'
fail sysrq-panic "still alive after sysrq c"
