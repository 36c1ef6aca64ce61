# SPDX-License-Identifier: GPL-2.0
# kstuck.ko on this kernel, short (tests/vm/kmod_check.py): load it, wedge CPU 3 with
# IRQs off while CPU 2 waits on an xcall to it, and take an NMI capture of all CPUs.
. /tests/lib.sh

# cpu_block FILE N: the lines of CPU N's stack in a "kstuck nmi" text report.
cpu_block() { awk -v n="$2" '$1 == "CPU" && $2 == n { p = 1; print; next } p && /^$/ { exit } p { print }' "$1"; }

# khugepaged's TLB flushes towards a wedged CPU would stall CPU 1 (and every task
# scheduled there) for the whole wedge: no transparent huge pages in this guest.
echo never >/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
echo never >/sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null

check kmod-nmi-insmod insmod /lib/kstuck/kstuck.ko
kstuck nmi capture >/tmp/idle.txt 2>&1
expect_in kmod-nmi-idle-capture /tmp/idle.txt "4/4 CPUs answered"
check kmod-nmi-scenario-insmod insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=600
start_scenario kmod-nmi-scenario-started
sleep 1
kstuck nmi capture >/tmp/cap.txt 2>&1
cat /tmp/cap.txt
# 7.x: smp_call_function_single() tail-calls __smp_call_function_single().
if grep -q "4/4 CPUs answered" /tmp/cap.txt &&
	cpu_block /tmp/cap.txt 3 | head -1 | grep -q "irqs-off" &&
	cpu_block /tmp/cap.txt 3 | grep -q "kstuck_scenario_irqoff_spin+0x.*\[kstuck_scenario\]" &&
	cpu_block /tmp/cap.txt 2 | grep -qE " (__)?smp_call_function_single\+0x" &&
	cpu_block /tmp/cap.txt 2 | grep -q "kstuck_scenario_xcaller+0x"; then
	pass kmod-nmi-capture-wedged "$(head -1 /tmp/cap.txt)"
else
	fail kmod-nmi-capture-wedged "$(tr '\n' '|' </tmp/cap.txt | cut -c1-1500)"
fi
