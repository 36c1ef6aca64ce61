# SPDX-License-Identifier: GPL-2.0
# bench/live's guest: the foundation scenario (CPU 3 spinning IRQs-off, CPU 2 in an xcall
# to it, a mutex waiter), then ROUNDS timed `kstuck hang --live` and `kstuck nmi capture`
# runs in guest time, then a dump request (the host times the QMP dump and the analysis).
. /tests/lib.sh
# khugepaged collapses pages with the mm's mmap_lock held and then IPIs every CPU
# (collapse_huge_page -> smp_call_function): with a CPU wedged IRQs-off on purpose it
# waits forever, and so does every process whose mm it holds, kstuck among them (seen
# in bench/live). Transparent huge pages are not what this script tests: off.
echo never >/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
echo never >/sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null
ROUNDS=$(sed -n 's/.*kstuck\.live_rounds=\([0-9]*\).*/\1/p' /proc/cmdline)
ROUNDS=${ROUNDS:-5}
uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

check kstuck-insmod insmod /lib/kstuck/kstuck.ko
check scenario-insmod insmod /lib/kstuck/kstuck_scenario.ko spin_seconds=600 hold_seconds=600
start_scenario scenario-started
sleep 1
i=0
while [ $i -lt "$ROUNDS" ]; do
	i=$((i + 1))
	t0=$(uptime_cs)
	kstuck hang --live --json >/tmp/live.json 2>/tmp/live.err
	rc=$?
	t1=$(uptime_cs)
	t2=$(uptime_cs)
	kstuck nmi capture -q >/tmp/cap.out 2>&1
	t3=$(uptime_cs)
	echo "KSTUCK-LIVE-BENCH-ROUND: round=$i rc=$rc live_ms=$(((t1 - t0) * 10)) capture_ms=$(((t3 - t2) * 10)) $(grep -o '"verdict": "[A-Z]*"' /tmp/live.json | head -1 | tr -d '" ' | tr : =) $(grep -o '"signature": "[0-9a-f]*"' /tmp/live.json | head -1 | tr -d '" ' | tr : =) $(grep -o '"root_cause": "[^"]*"' /tmp/live.json | head -1 | tr -d '" ' | sed 's/:/=/') $(tr -d ' \n' </tmp/live.json | grep -o '"timing_ms":{[^}]*}')"
done
# What reading /proc/kallsyms alone costs (the symbol source kstuck falls back to).
t0=$(uptime_cs); n=$(wc -l </proc/kallsyms); t1=$(uptime_cs)
echo "KSTUCK-LIVE-BENCH-KALLSYMS: lines=$n ms=$(((t1 - t0) * 10))"
# The text report (README's live example), between markers for the host.
echo "KSTUCK-LIVE-TEXT-BEGIN"
kstuck hang --live 2>&1
echo "KSTUCK-LIVE-TEXT-END"
grep -o '"signature": "[0-9a-f]*"' /tmp/live.json | head -1 | sed 's/^/KSTUCK-LIVE-BENCH-SIG: /'
reply=$(request dump live_bench)
if [ "$reply" = "ok" ]; then pass live_bench-dump-taken; else fail live_bench-dump-taken "reply=$reply"; fi
