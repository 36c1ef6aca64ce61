# SPDX-License-Identifier: GPL-2.0
# bench/nmi's guest script: with CPU 3 spinning IRQs-off and CPU 2 stuck in an xcall,
# time kstuck's all-CPU capture against sysrq-l (console at full verbosity).
. /tests/lib.sh

insmod /lib/kstuck/kstuck.ko || fail bench-insmod
insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=120 scenarios=6 || fail bench-scenario
echo 1 >/sys/module/kstuck_scenario/parameters/start
wait_truth "xcall_waiter pid" 15 || fail bench-scenario-started
sleep 1
echo 8 >/proc/sys/kernel/printk
/bin/nmi_bench "${BENCH_ROUNDS:-50}" "${BENCH_SYSRQ_ROUNDS:-10}"
echo 4 >/proc/sys/kernel/printk
