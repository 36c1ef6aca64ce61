# SPDX-License-Identifier: GPL-2.0
# Foundation suite: kstuck.ko loads, answers its version ioctl, refuses bad callers,
# unloads cleanly; then the stuck-CPU scenario runs and the host takes a vmcore.
. /tests/lib.sh

check kstuck-insmod insmod /lib/kstuck/kstuck.ko
if [ -c /dev/kstuck ]; then pass dev-exists; else fail dev-exists "no /dev/kstuck"; fi
/bin/kstuck_ioctl_probe
out=$(kstuck version 2>&1)
case "$out" in
*"kstuck.ko 0."*"on "[0-9]*) pass cli-version-in-guest "$(echo "$out" | tail -1)" ;;
*) fail cli-version-in-guest "$out" ;;
esac
check kstuck-rmmod rmmod kstuck
if [ -e /dev/kstuck ]; then fail dev-gone-after-unload; else pass dev-gone-after-unload; fi
if grep -q '^kstuck ' /proc/modules; then fail module-gone-after-unload; else pass module-gone-after-unload; fi
check kstuck-reload insmod /lib/kstuck/kstuck.ko

# The stuck machine: CPU 3 spins with IRQs off, CPU 2 waits on an xcall to it,
# and a task sleeps on a mutex held by another.
check scenario-insmod insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=600
start_scenario scenario-started
sleep 1
reply=$(request dump foundation)
if [ "$reply" = "ok" ]; then pass host-dump-taken; else fail host-dump-taken "reply=$reply"; fi
# The dump is the unit tests' fixture of a stuck machine: it must show the wedge.
if dmesg | grep -q "KSTUCK-TRUTH: irqoff_spinner done"; then
	fail dump-taken-while-wedged "the spinner had already stopped"
else
	pass dump-taken-while-wedged
fi
