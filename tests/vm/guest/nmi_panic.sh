# SPDX-License-Identifier: GPL-2.0
# NMI collector, panic path (its own boot): the stall watchdog with panic-after-capture
# fires on the IRQs-off spinner and panics; the host then dumps the halted guest. Its
# 2 s threshold keeps the spinner's measured stall clear of hang's 1 s evidence bar.
. /tests/lib.sh

check nmi-panic-insmod insmod /lib/kstuck/kstuck.ko watchdog_ms=2000 watchdog_panic=1
check nmi-panic-scenario-insmod insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=60 scenarios=2
echo "KSTUCK-INFO: starting the spinner; the watchdog must panic the guest"
echo 1 >/sys/module/kstuck_scenario/parameters/start
sleep 30
fail nmi-panic-happened "still alive 30 s after the spinner started"
