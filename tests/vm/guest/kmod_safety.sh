# SPDX-License-Identifier: GPL-2.0
# kstuck.ko is safe on a production kernel (issue 14), one boot: CPU hotplug under the
# watchdog, a wedge on every CPU in turn, a host pause (QMP stop/cont and SIGSTOP of
# QEMU), an external-NMI storm, the ioctl size/read/stop checks, and unload.
. /tests/lib.sh

P=/sys/module/kstuck_scenario_safety/parameters
echo never >/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null

wd() { kstuck nmi watchdog 2>&1; }
fired() { wd | sed -n 's/.*fired \([0-9]*\).*/\1/p'; }
skipped() { wd | sed -n 's/.*skipped \([0-9]*\).*/\1/p'; }
last_cpu() { wd | sed -n 's/.*last: CPU \([0-9]*\),.*/\1/p'; }
last_seq() { wd | sed -n 's/.*snapshot \([0-9]*\)).*/\1/p'; }
wedges_done() { dmesg | grep -c "KSTUCK-TRUTH: safety_wedge cpu=.* done"; }

# wedge CPU MS: spins CPU with IRQs off for MS ms and waits (bounded) until it is over.
wedge() {
	before=$(wedges_done)
	echo "$2" >$P/wedge_ms
	echo "$1" >$P/wedge
	i=0
	while [ $i -lt 300 ] && [ "$(wedges_done)" -le "$before" ]; do
		usleep 100000
		i=$((i + 1))
	done
	# The watchdog's confirmation and capture come right after the wedge ends.
	sleep 2
}

check safety-insmod insmod /lib/kstuck/kstuck.ko nmi_history=4
check safety-scenario-insmod insmod /lib/kstuck/kstuck_scenario_safety.ko
dmesg | grep "kstuck: " | head -5

# kstuck.safety_skip=hotplug on the command line skips steps 1-2, =watchdog steps 1-4 (to
# see what the later steps do with a module whose watchdog panics the guest there).
skip=$(sed -n 's/.*kstuck\.safety_skip=\([^ ]*\).*/\1/p' /proc/cmdline)

# 1. CPUs go offline and come back while the watchdog runs at its smallest threshold with
# --panic: no capture, no panic (an offline CPU's heartbeat used to migrate and go silent).
if [ "$skip" != hotplug ] && [ "$skip" != watchdog ]; then
kstuck nmi watchdog --enable 100 --panic >/dev/null
sleep 1
f0=$(fired)
n=0
for round in 1 2 3; do
	for c in 1 2 3; do
		echo 0 >/sys/devices/system/cpu/cpu$c/online && n=$((n + 1))
		usleep 300000
		echo 1 >/sys/devices/system/cpu/cpu$c/online
		usleep 300000
	done
done
sleep 1
f1=$(fired)
if [ -n "$f1" ] && [ "$f1" = "$f0" ] && [ $n = 9 ] && [ "$(cat /sys/devices/system/cpu/online)" = "0-3" ]; then
	pass safety-hotplug-no-false-stall "$n offline/online cycles at 100 ms --panic; $(wd)"
else
	fail safety-hotplug-no-false-stall "cycles=$n fired $f0 -> $f1 online=$(cat /sys/devices/system/cpu/online)"
fi

# 2. A CPU that came back online is watched again: wedge it.
kstuck nmi watchdog --enable 100 >/dev/null
sleep 1
echo 0 >/sys/devices/system/cpu/cpu1/online
usleep 300000
echo 1 >/sys/devices/system/cpu/cpu1/online
sleep 1
f0=$(fired)
wedge 1 2500
f1=$(fired)
if [ -n "$f1" ] && [ "$f1" -gt "$f0" ] && [ "$(last_cpu)" = 1 ]; then
	pass safety-hotplug-rewatched-cpu-caught "$(wd)"
else
	fail safety-hotplug-rewatched-cpu-caught "fired $f0 -> $f1; $(wd)"
fi
# The first watchdog snapshot of this boot (the first hang snapshot: slot 0 keeps it).
[ "${f1:-0}" -gt 0 ] && first_seq=$(last_seq)
fi

if [ "$skip" != watchdog ]; then
# 3. The check runs on whichever CPU sees the stall: a wedge of any CPU is caught. The
# old checker thread's timer sat on the CPU it last ran on: wedge that one first.
kstuck nmi watchdog --enable 200 >/dev/null
sleep 1
cpus="0 1 2 3"
pid=$(ps | awk '/\[kstuck_wdog\]/ { print $1; exit }')
if [ -n "$pid" ]; then
	c=$(awk '{ print $39 }' /proc/$pid/stat)
	echo "KSTUCK-INFO: kstuck_wdog (pid $pid) last ran on CPU $c"
	cpus="$c $cpus"
fi
caught=""
missed=""
for c in $cpus; do
	f0=$(fired)
	wedge "$c" 2500
	f1=$(fired)
	if [ -z "$first_seq" ] && [ "${f1:-0}" -gt 0 ]; then first_seq=$(last_seq); fi
	if [ -n "$f1" ] && [ "$f1" -gt "$f0" ] && [ "$(last_cpu)" = "$c" ]; then
		caught="$caught $c"
	else
		missed="$missed $c"
	fi
done
echo "KSTUCK-INFO: first hang snapshot $first_seq"
if [ -z "$missed" ]; then
	pass safety-checker-catches-every-cpu "wedged:$caught; $(wd)"
else
	fail safety-checker-catches-every-cpu "missed:$missed caught:$caught; $(wd)"
fi

# 4. The host pauses the whole VM for 3 s (QMP stop/cont; then SIGSTOP/SIGCONT of QEMU,
# under which the guest's clock runs on): no capture, no panic at 100 ms --panic.
kstuck nmi watchdog --enable 100 --panic >/dev/null
sleep 1
f0=$(fired)
reply=$(request pause 3)
sleep 2
f1=$(fired)
if [ "$reply" = ok ] && [ -n "$f1" ] && [ "$f1" = "$f0" ]; then
	pass safety-host-pause-qmp-stop-no-capture "$(wd)"
else
	fail safety-host-pause-qmp-stop-no-capture "reply=$reply fired $f0 -> $f1"
fi
reply=$(request sigstop 3)
sleep 2
f2=$(fired)
if [ "$reply" = ok ] && [ -n "$f2" ] && [ "$f2" = "$f0" ]; then
	pass safety-host-pause-sigstop-no-capture "$(wd)"
else
	fail safety-host-pause-sigstop-no-capture "reply=$reply fired $f0 -> $f2"
fi
kstuck nmi watchdog --disable >/dev/null
else
	# A first hang snapshot for the storm step: one wedge under the watchdog, no panic.
	kstuck nmi watchdog --enable 1000 >/dev/null
	sleep 1
	wedge 3 3000
	first_seq=$(last_seq)
	echo "KSTUCK-INFO: first hang snapshot $first_seq"
	kstuck nmi watchdog --disable >/dev/null
fi

# 5. An external-NMI storm: 200 inject-nmi in 10 s. The guest lives, captures are
# rate-limited and counted, and slot 0 still holds the first hang snapshot.
reply=$(request storm 200 10)
sleep 3
echo "KSTUCK-SAFETY-JSON-BEGIN storm"
kstuck nmi show --all --json 2>&1
echo "KSTUCK-SAFETY-JSON-END storm"
if [ "$reply" = ok ]; then pass safety-storm-survived "$(kstuck nmi show --summary-only | tail -1)"; else fail safety-storm-survived "reply=$reply"; fi

# 6. The ioctls.
/bin/kmod_safety_probe sizes
/bin/kmod_safety_probe read
/bin/kmod_safety_probe stop

# 7. Unload leaves nothing.
rmmod kstuck_scenario_safety
if rmmod kstuck && ! grep -q '^kstuck ' /proc/modules && [ ! -e /dev/kstuck ]; then
	pass safety-unload
else
	fail safety-unload "$(grep kstuck /proc/modules)"
fi
