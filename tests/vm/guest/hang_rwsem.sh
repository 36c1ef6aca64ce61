# SPDX-License-Identifier: GPL-2.0
# Hang suite, an rwsem in a deadlock: a writer holds the rwsem and waits for a mutex whose
# owner waits to read the rwsem, and a second writer queues behind; the host dumps the guest.
. /tests/lib.sh
. /tests/hang_lib.sh
hang_run hang_rwsem kstuck_scenario_rwsem "rw_writer pid" "rw_reader pid" "rw_writer2 pid"
