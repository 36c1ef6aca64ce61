# SPDX-License-Identifier: GPL-2.0
# Lockholder suite, the same deadlock with the spinlock a member of a kmalloc'ed struct
# (the lock argument is base + offset); the host dumps the guest.
. /tests/lib.sh
. /tests/hang_lib.sh
hang_run hang_spinmember kstuck_scenario_spinmember "spinstatic_holder pid" "spinstatic_waiter pid"
