# SPDX-License-Identifier: GPL-2.0
# Live suite (issue 16): `kstuck hang|analyze|tasks|bt|xcall|mutex --live` on the running
# guest, in one boot: without kstuck.ko, an idle guest, 60 s of hang --live during the
# trace torture, the foundation scenario (stopped by rmmod afterwards), then the mixed
# cycle (a real deadlock: the last thing this guest does). After each live report the
# host takes a QMP dump, which the host analyzes and compares (tests/vm/suites/live.py).
. /tests/lib.sh
# khugepaged collapses pages with the mm's mmap_lock held and then IPIs every CPU
# (collapse_huge_page -> smp_call_function): with a CPU wedged IRQs-off on purpose it
# waits forever, and so does every process whose mm it holds, kstuck among them (seen
# in bench/live). Transparent huge pages are not what this script tests: off.
echo never >/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
echo never >/sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null

TORTURE_SECONDS=$(sed -n 's/.*kstuck\.live_torture=\([0-9]*\).*/\1/p' /proc/cmdline)
TORTURE_SECONDS=${TORTURE_SECONDS:-60}

uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# live_report NAME: runs `kstuck hang --live --json`, times it in guest time (centiseconds
# of /proc/uptime), prints the JSON between markers for the host and asks for a dump.
live_report() {
	name=$1
	t0=$(uptime_cs)
	kstuck hang --live --json >/tmp/$name.json 2>/tmp/$name.err
	rc=$?
	t1=$(uptime_cs)
	echo "KSTUCK-LIVE-TIME: $name hang-live-cs=$((t1 - t0)) rc=$rc"
	case $rc in
	0|3) pass "$name-hang-live-runs" "rc=$rc $((t1 - t0))0 ms $(grep -o '"verdict": "[A-Z]*"' /tmp/$name.json | head -1)" ;;
	*) fail "$name-hang-live-runs" "rc=$rc $(tail -3 /tmp/$name.err | tr '\n' ' ')" ;;
	esac
	echo "KSTUCK-LIVE-BEGIN $name"
	cat /tmp/$name.json
	echo "KSTUCK-LIVE-END $name"
	reply=$(request dump "$name")
	if [ "$reply" = "ok" ]; then pass "$name-dump-taken"; else fail "$name-dump-taken" "reply=$reply"; fi
}

# --- without kstuck.ko: running CPUs unknown, the rest works ---
out=$(kstuck hang --live --json 2>&1); rc=$?
case "$out" in
*'"source": "live"'*'kstuck.ko is not loaded'*)
	if [ $rc -eq 0 ] || [ $rc -eq 3 ]; then pass nomod-hang-live "rc=$rc $(echo "$out" | grep -o '"verdict": "[A-Z]*"' | head -1)"
	else fail nomod-hang-live "rc=$rc"; fi ;;
*) fail nomod-hang-live "rc=$rc $(echo "$out" | tail -5 | tr '\n' ' ')" ;;
esac
out=$(kstuck tasks --live 2>&1); rc=$?
n=$(echo "$out" | grep -c 'kworker')
if [ $rc -eq 0 ] && [ "$n" -gt 0 ]; then pass nomod-tasks-live "$n kworker lines"; else fail nomod-tasks-live "rc=$rc $(echo "$out" | tail -3 | tr '\n' ' ')"; fi
out=$(kstuck bt --live 1 2>&1); rc=$?
case "$out" in
*"pid 1 "*"state S"*) [ $rc -eq 0 ] && pass nomod-bt-sleeping-task "$(echo "$out" | sed -n 2,4p | tr '\n' ' ')" || fail nomod-bt-sleeping-task "rc=$rc" ;;
*) fail nomod-bt-sleeping-task "rc=$rc $(echo "$out" | head -5 | tr '\n' ' ')" ;;
esac
out=$(kstuck bt --live --cpu 0 2>&1); rc=$?
case "$out" in
*"registers unknown"*"kstuck.ko is not loaded"*) pass nomod-bt-cpu-unknown "$(echo "$out" | sed -n 2p)" ;;
*) fail nomod-bt-cpu-unknown "rc=$rc $(echo "$out" | head -4 | tr '\n' ' ')" ;;
esac

check kstuck-insmod insmod /lib/kstuck/kstuck.ko

# --- every --live command on the idle guest ---
for c in "analyze" "tasks" "xcall" "mutex" "bt --cpu 1" "bt 1"; do
	n=$(echo "$c" | tr ' ' '_')
	kstuck $c --live --json >/tmp/cmd.json 2>/tmp/cmd.err; rc=$?
	if { [ $rc -eq 0 ] || [ $rc -eq 3 ]; } && grep -q '"source": "live"' /tmp/cmd.json && grep -q '"capture_seq": [0-9]' /tmp/cmd.json; then
		pass "live-$n-json" "rc=$rc $(wc -c </tmp/cmd.json) bytes"
	else
		fail "live-$n-json" "rc=$rc $(head -c 300 /tmp/cmd.json | tr '\n' ' ') $(tail -2 /tmp/cmd.err | tr '\n' ' ')"
	fi
done
out=$(kstuck bt --live --cpu 1 2>&1)
case "$out" in
*"source: live"*"NMI capture"*"CPU 1: "*) pass live-bt-cpu-text "$(echo "$out" | sed -n 2,4p | tr '\n' ' ')" ;;
*) fail live-bt-cpu-text "$(echo "$out" | head -5 | tr '\n' ' ')" ;;
esac
out=$(kstuck hang --live 2>&1); rc=$?
case "$out" in
*"source: live (NMI captures"*"verdict: NONE"*) pass live-hang-text "rc=$rc $(echo "$out" | head -2 | tr '\n' ' ')" ;;
*) fail live-hang-text "rc=$rc $(echo "$out" | head -5 | tr '\n' ' ')" ;;
esac

# --- an idle guest: no verdict ---
sleep 2
live_report live_idle

# --- hang --live in a loop for 60 s while the trace torture runs ---
echo "KSTUCK-LIVE-TORTURE-BEGIN"
rm -f /tmp/stop
loop() {	# loop NAME CMD...: runs CMD until /tmp/stop; counts runs, exit codes, unclear errors
	name=$1; shift
	runs=0; fails=0; unclear=0; codes=""
	while [ ! -e /tmp/stop ]; do
		"$@" >/dev/null 2>/tmp/$name.lasterr
		rc=$?
		case $rc in
		0|3) ;;
		1) fails=$((fails + 1))
		   # A clear error is one line naming the command and what failed.
		   if ! grep -q "^kstuck .*: " /tmp/$name.lasterr; then unclear=$((unclear + 1)); cp /tmp/$name.lasterr /tmp/$name.unclear; fi ;;
		*) fails=$((fails + 1)); unclear=$((unclear + 1)); cp /tmp/$name.lasterr /tmp/$name.unclear ;;
		esac
		case " $codes " in *" $rc "*) ;; *) codes="$codes $rc" ;; esac
		runs=$((runs + 1))
	done
	echo "$runs $fails $unclear$codes" >/tmp/$name.result
}
start=$(date +%s)
loop trace kstuck trace 'fbt:[a-m]*' --duration 1 --count -q &
l1=$!
loop nmi kstuck nmi capture -q &
l2=$!
loop live kstuck hang --live --json &
l3=$!
while [ $(($(date +%s) - start)) -lt "$TORTURE_SECONDS" ]; do sleep 5; done
touch /tmp/stop
wait $l1 $l2 $l3
elapsed=$(($(date +%s) - start))
set -- $(cat /tmp/live.result 2>/dev/null || echo "0 -1 -1")
runs=$1; fails=$2; unclear=$3; shift 3
if [ "$runs" -gt 0 ] && [ "$unclear" -eq 0 ]; then
	pass torture-hang-live-loop "$runs runs in ${elapsed}s, $fails clear errors, exit codes:$*"
else
	fail torture-hang-live-loop "runs=$runs fails=$fails unclear=$unclear codes:$* $(tail -3 /tmp/live.unclear 2>/dev/null | tr '\n' ' ')"
fi
for name in trace nmi; do
	set -- $(cat /tmp/$name.result 2>/dev/null || echo "0 -1 -1")
	if [ "$1" -gt 0 ] && [ "$2" -eq 0 ]; then pass "torture-$name-loop" "$1 runs, 0 failures"
	else fail "torture-$name-loop" "runs=$1 fails=$2 $(tail -2 /tmp/$name.lasterr | tr '\n' ' ')"; fi
done
echo "KSTUCK-LIVE-TORTURE-END"

# --- the foundation scenario: CPU 3 spins IRQs-off, CPU 2 waits on an xcall to it,
# a task sleeps on a mutex held by another ---
check scenario-insmod insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=600 hold_seconds=600
start_scenario scenario-started
sleep 1
live_report live_foundation
# The bench's other side: an NMI capture in guest time (the host times the dump and the
# analysis of it).
t0=$(uptime_cs)
kstuck nmi capture -q >/tmp/cap.out 2>&1
t1=$(uptime_cs)
echo "KSTUCK-LIVE-TIME: live_foundation nmi-capture-cs=$((t1 - t0)) $(cat /tmp/cap.out | tr '\n' ' ')"
# rmmod stops the spinner (its module exit stops every actor): the machine recovers.
check scenario-rmmod rmmod kstuck_scenario
sleep 2
out=$(kstuck hang --live --json 2>&1)
case "$out" in
*'"verdict": "NONE"'*) pass recovered-after-scenario "NONE after rmmod" ;;
*) fail recovered-after-scenario "$(echo "$out" | grep -o '"verdict": "[A-Z]*"' | head -1) $(echo "$out" | grep -o '"reason": "[^"]*"' | head -1)" ;;
esac

# --- the mixed cycle: a real deadlock of CPU 2 (spinlock held, IRQs off, in an xcall
# to CPU 3) and CPU 3 (spinning on that lock, IRQs off); never recovers ---
hang_params=""
check mixed-insmod insmod /lib/kstuck/kstuck_scenario_mixed.ko
echo 1 >/sys/module/kstuck_scenario_mixed/parameters/start
if wait_truth "mixed_holder pid" 20 && wait_truth "mixed_spinner pid" 20; then pass mixed-started
else fail mixed-started "$(dmesg | grep KSTUCK-TRUTH | tr '\n' ' ')"; fi
sleep 1
live_report live_mixed
