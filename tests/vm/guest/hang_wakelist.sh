# SPDX-License-Identifier: GPL-2.0
# Hang suite, a wakeup that never lands: CPU 2 wakes the owner of a mutex on CPU 3 while
# CPU 3 spins with IRQs off, so the wakeup waits as a TTWU entry on CPU 3's queue; a
# kthread on CPU 2 then waits for the mutex; the host dumps the guest.
. /tests/lib.sh
. /tests/hang_lib.sh
HANG_PARAMS="remote_wake=1"
hang_run hang_wakelist kstuck_scenario_starve "starve_owner pid" "starve_spinner pid" "starve_waker pid" \
	"starve_waiter pid"
