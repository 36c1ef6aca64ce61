# SPDX-License-Identifier: GPL-2.0
# Demo guest: load kstuck.ko, wedge the machine (IRQs-off CPU 3, xcall waiter on CPU 2,
# mutex owner and waiter), then ask the host for a vmcore of the stuck machine.
. /tests/lib.sh
insmod /lib/kstuck/kstuck.ko || fail demo-insmod
kstuck version
insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=60 || fail demo-scenario
echo 1 >/sys/module/kstuck_scenario/parameters/start
wait_truth "xcall_waiter pid" 15 || fail demo-scenario-started
wait_truth "mutex_waiter pid" 5
sleep 1
[ -x /tests/demo-live.sh ] && sh /tests/demo-live.sh
request dump demo >/dev/null
