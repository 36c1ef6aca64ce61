# SPDX-License-Identifier: GPL-2.0
# A healthy idle guest (no kstuck.ko, no scenario): settles, then asks the host for a
# QMP dump (tests/vm/make_dev_dump.py keeps it as a reader's development fixture).
. /tests/lib.sh

sleep 3
reply=$(request dump idle)
if [ "$reply" = "ok" ]; then pass host-dump-taken; else fail host-dump-taken "reply=$reply"; fi
