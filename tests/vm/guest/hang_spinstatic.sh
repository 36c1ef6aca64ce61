# SPDX-License-Identifier: GPL-2.0
# Lockholder suite, static spinlock: CPU 2 holds a static spinlock (spin_lock, IRQs on)
# and waits for an xcall to CPU 3, which spins on it in spin_lock_irqsave; the host dumps
# the guest.
. /tests/lib.sh
. /tests/hang_lib.sh
hang_run hang_spinstatic kstuck_scenario_spinstatic "spinstatic_holder pid" "spinstatic_waiter pid"
