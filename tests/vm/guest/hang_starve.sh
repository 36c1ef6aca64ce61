# SPDX-License-Identifier: GPL-2.0
# Hang suite, a task that never runs: the owner of a mutex is runnable on CPU 3, which
# spins with IRQs off; a kthread on CPU 2 waits for the mutex; the host dumps the guest.
. /tests/lib.sh
. /tests/hang_lib.sh
hang_run hang_starve kstuck_scenario_starve "starve_owner pid" "starve_waiter pid" "starve_spinner pid"
