# SPDX-License-Identifier: GPL-2.0
# Hang suite, xcall: CPU 3 spins with IRQs off, a kthread on CPU 2 waits in
# smp_call_function_single(3, wait=1); the host dumps the guest while both are stuck.
. /tests/lib.sh
. /tests/hang_lib.sh
HANG_PARAMS="scenarios=6 spin_seconds=300"
hang_run hang_xcall kstuck_scenario "irqoff_spinner pid" "xcall_waiter pid"
