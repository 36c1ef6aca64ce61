# SPDX-License-Identifier: GPL-2.0
# Locks suite, a stale rwsem owner: a reader took and released the rwsem (its owner field
# still names it), another reader holds it, a writer waits behind, and the stale reader
# waits for a mutex the writer holds; the host dumps the guest.
. /tests/lib.sh
. /tests/hang_lib.sh
hang_run hang_rwstale kstuck_scenario_rwstale "rwstale_holder pid" "rwstale_reader pid" "rwstale_writer pid"
