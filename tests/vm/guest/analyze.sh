# SPDX-License-Identifier: GPL-2.0
# Analyze suite: kstuck.ko loaded, the stuck scenario running (IRQs-off spinner on CPU 3,
# an xcall waiter on CPU 2, a mutex owner and waiter), an external NMI so kstuck.ko
# snapshots every CPU, then the host dumps the guest and runs `kstuck analyze` on it.
# The same script runs under a nokaslr boot as suite analyze_nokaslr.
. /tests/lib.sh
name=${ANALYZE_NAME:-analyze}

check "$name-kstuck-insmod" insmod /lib/kstuck/kstuck.ko
check "$name-scenario-insmod" insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=300 hold_seconds=300
start_scenario "$name-scenario-started"
# Let the actors settle where they block (schedule(), the csd wait).
sleep 1
reply=$(request nmi)
sleep 1
if [ "$reply" = "ok" ]; then pass "$name-nmi-injected"; else fail "$name-nmi-injected" "reply=$reply"; fi
reply=$(request dump "$name")
if [ "$reply" = "ok" ]; then pass "$name-dump-taken"; else fail "$name-dump-taken" "reply=$reply"; fi
