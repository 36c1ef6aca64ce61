# SPDX-License-Identifier: GPL-2.0
# Demo guest (the --qemu-dump path): load kstuck.ko, wedge the machine (IRQs-off CPU 3,
# xcall waiter on CPU 2, mutex owner and waiter), capture every CPU through NMIs live,
# then ask the host for a vmcore of the stuck machine.
. /tests/lib.sh
insmod /lib/kstuck/kstuck.ko || fail demo-insmod
insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=60 || fail demo-scenario
echo 1 >/sys/module/kstuck_scenario/parameters/start
wait_truth "xcall_waiter pid" 15 || fail demo-scenario-started
wait_truth "mutex_waiter pid" 5
sleep 1
echo "KSTUCK-LIVE-BEGIN"
kstuck nmi capture 2>&1
echo "KSTUCK-LIVE-END"
request dump demo >/dev/null
