# SPDX-License-Identifier: GPL-2.0
# Hang suite, mixed cycle: CPU 2 holds a spinlock with IRQs off and waits for an xcall
# to CPU 3, which spins IRQs-off on that lock; the host dumps the guest.
. /tests/lib.sh
. /tests/hang_lib.sh
hang_run hang_mixed kstuck_scenario_mixed "mixed_holder pid" "mixed_spinner pid"
