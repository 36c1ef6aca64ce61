# SPDX-License-Identifier: GPL-2.0
# Crash extension suite: the stuck scenario (mutex waiter, IRQs-off spinner on CPU 3,
# xcall waiter on CPU 2) with kstuck.ko loaded; the host injects an NMI so kstuck.ko
# snapshots every CPU, then dumps the guest and runs crash + kstuck.so on the dump.
. /tests/lib.sh

check crashext-kstuck-insmod insmod /lib/kstuck/kstuck.ko
check crashext-scenario-insmod insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=300 hold_seconds=300
start_scenario crashext-scenario-started
sleep 1
reply=$(request nmi crashext)
if [ "$reply" = "ok" ]; then pass crashext-nmi-injected; else fail crashext-nmi-injected "reply=$reply"; fi
sleep 1
reply=$(request dump crashext)
if [ "$reply" = "ok" ]; then pass crashext-dump-taken; else fail crashext-dump-taken "reply=$reply"; fi
