# SPDX-License-Identifier: GPL-2.0
# Hang suite, control: a healthy idle guest; the host dumps it and expects no verdict.
. /tests/lib.sh
sleep 2
reply=$(request dump hang_idle)
if [ "$reply" = "ok" ]; then pass hang_idle-dump-taken; else fail hang_idle-dump-taken "reply=$reply"; fi
