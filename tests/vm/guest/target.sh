# SPDX-License-Identifier: GPL-2.0
# Target suite: the stuck scenario runs, the host dumps it (kdump-zlib, ELF) and reads
# the dumps with kstuck dumpinfo; we print the addresses it must find.
. /tests/lib.sh

check kstuck-insmod insmod /lib/kstuck/kstuck.ko
# The host derives the expected KASLR offset from the running kernel's _stext.
echo "KSTUCK-INFO: stext=$(grep ' [Tt] _stext$' /proc/kallsyms | cut -d' ' -f1)"
check scenario-insmod insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=150
# Where the module's .text sits: CPU 3's RIP must fall into its spin function.
echo "KSTUCK-INFO: scenario_text=$(cat /sys/module/kstuck_scenario/sections/.text)"
start_scenario scenario-started
sleep 1
reply=$(request dump target)
if [ "$reply" = "ok" ]; then pass host-dumps-taken; else fail host-dumps-taken "reply=$reply"; fi
