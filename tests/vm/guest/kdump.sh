# SPDX-License-Identifier: GPL-2.0
# Kdump suite, first kernel: loads kstuck.ko and the capture kernel (kexec -p), starts
# the scenario, optionally lets the host take a QEMU dump of the live state, then
# panics (sysrq c, or the hung-task detector) so the capture kernel writes real dumps.
# Driven by kstuck.panic=, kstuck.module= (a scenario module), kstuck.scenarios=, kstuck.nmi=, kstuck.live_nmi=, kstuck.qemu_dump=, kstuck.formats=.
. /tests/lib.sh

arg() { sed -n "s/.*kstuck\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
panic=$(arg panic)
scenarios=$(arg scenarios)
formats=$(arg formats)

if grep -q "Crash kernel" /proc/iomem; then
	pass crashkernel-reserved "$(grep 'Crash kernel' /proc/iomem | head -1 | tr -s ' ')"
else
	fail crashkernel-reserved "no Crash kernel range in /proc/iomem"
fi
check kstuck-insmod insmod /lib/kstuck/kstuck.ko
check kexec-load kexec -p /boot/bzImage --initrd=/boot/capture.cpio \
	--append="console=ttyS0 irqpoll nr_cpus=1 reset_devices no_timer_check rdinit=/init panic=-1 kstuck.capture=1 kstuck.formats=${formats:-kdump,flat}"
if [ "$(cat /sys/kernel/kexec_crash_loaded 2>/dev/null)" = 1 ]; then
	pass kexec-crash-loaded
else
	fail kexec-crash-loaded "kexec_crash_loaded=$(cat /sys/kernel/kexec_crash_loaded 2>&1)"
fi

module=$(arg module)
case "${module:=kstuck_scenario}" in
kstuck_scenario)
	# The spinner must still spin when the panic comes: give it far more than a cycle takes.
	params="scenarios=${scenarios:-7} spin_seconds=600"
	truths=""
	[ $((${scenarios:-7} & 4)) -eq 0 ] || truths="xcall_waiter"
	[ $((${scenarios:-7} & 1)) -eq 0 ] || truths="$truths mutex_waiter"
	;;
kstuck_scenario_abba) params=""; truths="abba_first abba_second" ;;
kstuck_scenario_spinstatic | kstuck_scenario_spinmember) params=""; truths="spinstatic_holder spinstatic_waiter" ;;
kstuck_scenario_mixed) params=""; truths="mixed_holder mixed_spinner" ;;
kstuck_scenario_rwsem) params=""; truths="rw_writer rw_reader rw_writer2" ;;
kstuck_scenario_rwstale) params=""; truths="rwstale_holder rwstale_reader rwstale_writer" ;;
kstuck_scenario_starve)
	r=$(arg remote_wake)
	params="remote_wake=${r:-0}"
	truths="starve_owner starve_spinner starve_waker starve_waiter"
	;;
none) truths="" ;;
*) params=""; truths=""; fail scenario-known "no such scenario module: $module" ;;
esac
if [ "$module" = none ]; then
	pass scenario-insmod "none: a healthy idle guest"
elif out=$(insmod "/lib/kstuck/$module.ko" $params 2>&1); then
	# Let the module's own console lines drain first: they would split ours.
	usleep 300000
	pass scenario-insmod
else
	fail scenario-insmod "$out"
fi
[ "$module" = none ] || echo 1 >"/sys/module/$module/parameters/start"
ok=1
for role in $truths; do
	wait_truth "$role pid" 20 || ok=0
done
if [ $ok = 1 ]; then pass scenario-started; else fail scenario-started "$(dmesg | grep KSTUCK-TRUTH | tr '\n' ' ')"; fi
sleep 1

if [ "$(arg nmi)" = 1 ]; then
	# An external NMI (QEMU inject-nmi, like a BMC button): kstuck.ko snapshots every
	# CPU's stack into its history, which the dumps below then carry.
	reply=$(request nmi)
	sleep 1
	if [ "$reply" = "ok" ]; then pass nmi-injected; else fail nmi-injected "reply=$reply"; fi
fi

if [ "$(arg live_nmi)" = 1 ]; then
	# A live `kstuck nmi capture` with the CPUs wedged (the matrix suite checks the JSON).
	cp /proc/kallsyms /tmp/kallsyms
	kstuck nmi capture --json --kallsyms /tmp/kallsyms >/tmp/live.json 2>&1
	echo "KSTUCK-NMI-JSON-BEGIN live"
	cat /tmp/live.json
	echo "KSTUCK-NMI-JSON-END live"
fi

if [ "$(arg qemu_dump)" = 1 ]; then
	reply=$(request dump kdump)
	if [ "$reply" = "ok" ]; then pass host-dump-taken; else fail host-dump-taken "reply=$reply"; fi
fi

case "$panic" in
hung)
	echo 5 >/proc/sys/kernel/hung_task_timeout_secs
	echo "KSTUCK-PANIC: hung-task timeout=5"
	sleep 120
	fail hung-task-panic "no panic 120 s after hung_task_timeout_secs=5"
	;;
*)
	echo "KSTUCK-PANIC: sysrq-c"
	# The panic stops the UART before it drains: give our last lines time to leave.
	sleep 1
	echo c >/proc/sysrq-trigger
	fail sysrq-panic "still alive after sysrq c"
	;;
esac
