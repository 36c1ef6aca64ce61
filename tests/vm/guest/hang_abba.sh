# SPDX-License-Identifier: GPL-2.0
# Hang suite, ABBA: two kthreads deadlock on two mutexes; the host dumps the guest.
. /tests/lib.sh
. /tests/hang_lib.sh
hang_run hang_abba kstuck_scenario_abba "abba_first pid" "abba_second pid"
