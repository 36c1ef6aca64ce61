# SPDX-License-Identifier: GPL-2.0
# bench/probes, guest side: enable and tear down probes on every function matching [a-m]*
# with kstuck (one ftrace_ops) and on a sample with one kprobe per function (tracefs
# kprobe_events, the kernel's per-probe path); counts cross-CPU calls (CAL + TLB rows
# of /proc/interrupts) and wall time of each phase, and prints the ratios.
. /tests/lib.sh

T=/sys/kernel/tracing
SAMPLE=$(sed -n 's/.*kstuck\.sample=\([0-9]*\).*/\1/p' /proc/cmdline)
SAMPLE=${SAMPLE:-300}

ipis() {	# CAL + TLB interrupts summed over all CPUs
	awk '$1 == "CAL:" || $1 == "TLB:" { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s }' /proc/interrupts
}
now_ms() { awk -v ns="$(nsclock)" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
wait_line() {	# wait_line FILE REGEX: bounded wait for a line
	i=0
	while ! grep -q "$2" "$1" && [ $i -lt 600 ]; do usleep 50000; i=$((i + 1)); done
}

check bench-insmod insmod /lib/kstuck/kstuck.ko

# The background rate of cross-calls, to judge the noise in the numbers below.
i0=$(ipis); t0=$(now_ms); sleep 5; i1=$(ipis); t1=$(now_ms)
idle=$(awk -v a="$i0" -v b="$i1" -v t="$t0" -v u="$t1" 'BEGIN { printf "%.1f", (b - a) / ((u - t) / 1000) }')
echo "BENCH: idle cross-calls per second: $idle"

# --- kstuck: one session, every [a-m]* function ---
K_TD_ALL=""
for run in 1 2 3; do
	i0=$(ipis)
	kstuck trace 'fbt:[a-m]*' --count --duration 2 >/dev/null 2>/tmp/k.err &
	k=$!
	wait_line /tmp/k.err 'enabled in'
	i1=$(ipis); t1=$(now_ms)
	wait $k; rc=$?
	i2=$(ipis); t2=$(now_ms)
	funcs=$(sed -n 's/.*(\([0-9]*\) functions).*/\1/p' /tmp/k.err)
	en_ms=$(sed -n 's/.*enabled in \([0-9.]*\) ms.*/\1/p' /tmp/k.err)
	td_ms=$(sed -n 's/.*teardown \([0-9.]*\) ms.*/\1/p' /tmp/k.err)
	en_ipi=$((i1 - i0))
	# The traced window (2 s) sits between enable and teardown: take its idle share out.
	td_ipi=$(awk -v d="$((i2 - i1))" -v r="$idle" 'BEGIN { x = d - 2 * r; if (x < 0) x = 0; printf "%d", x }')
	echo "BENCH: kstuck run=$run rc=$rc functions=$funcs enable_ms=$en_ms enable_ipis=$en_ipi teardown_ms=$td_ms teardown_ipis=$td_ipi raw_window_ipis=$((i2 - i1))"
	[ $rc -eq 0 ] || fail bench-kstuck-run "$(cat /tmp/k.err)"
	K_TD_ALL="$K_TD_ALL $td_ms"
done
K_TD_MEDIAN=$(echo $K_TD_ALL | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
K_FUNCS=$funcs; K_EN_MS=$en_ms; K_EN_IPI=$en_ipi; K_TD_MS=$td_ms; K_TD_IPI=$td_ipi

# --- the kernel's own function tracer on the same filter: what ftrace's patching costs
# here with no kstuck code involved (the floor any ftrace-based teardown can reach) ---
echo '[a-m]*' >$T/set_ftrace_filter
echo function >$T/current_tracer
sleep 2
i0=$(ipis); t0=$(now_ms)
echo nop >$T/current_tracer
i1=$(ipis); t1=$(now_ms)
echo >$T/set_ftrace_filter
F_TD_MS=$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.1f", b - a }'); F_TD_IPI=$((i1 - i0))
echo "BENCH: function tracer teardown (echo nop >current_tracer, filter [a-m]*) teardown_ms=$F_TD_MS teardown_ipis=$F_TD_IPI"
echo "BENCH: RATIO teardown time kstuck(median of 3: $K_TD_MEDIAN ms)/function-tracer = $(awk -v k=$K_TD_MEDIAN -v f=$F_TD_MS 'BEGIN { printf "%.2f", k / (f > 0 ? f : 1) }')x"

# --- one kprobe per function, on an evenly spread sample of the same functions ---
grep -E '^[a-m][A-Za-z0-9_]*$' $T/available_filter_functions | sort -u >/tmp/am.txt
total=$(wc -l </tmp/am.txt)
step=$((total / SAMPLE)); [ $step -ge 1 ] || step=1
awk -v s=$step -v n=$SAMPLE 'NR % s == 0 && c < n { print; c++ }' /tmp/am.txt >/tmp/sample.txt
echo >$T/kprobe_events
i=0; defined=0
while read -r fn; do
	i=$((i + 1))
	if echo "p:kbench/p$i $fn" >>$T/kprobe_events 2>/dev/null; then defined=$((defined + 1)); fi
done </tmp/sample.txt
i0=$(ipis); t0=$(now_ms)
echo 1 >$T/events/kbench/enable
i1=$(ipis); t1=$(now_ms)
enabled=$(grep -c '^' $T/enabled_functions 2>/dev/null)
sleep 2
i2=$(ipis); t2=$(now_ms)
echo 0 >$T/events/kbench/enable
i3=$(ipis); t3=$(now_ms)
echo >$T/kprobe_events
i4=$(ipis); t4=$(now_ms)
left=$(grep -c kbench $T/kprobe_events)
P_EN_IPI=$((i1 - i0)); P_DIS_IPI=$((i3 - i2)); P_UNREG_IPI=$((i4 - i3))
P_EN_MS=$(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.1f", b - a }')
P_DIS_MS=$(awk -v a=$t2 -v b=$t3 'BEGIN { printf "%.1f", b - a }')
P_UNREG_MS=$(awk -v a=$t3 -v b=$t4 'BEGIN { printf "%.1f", b - a }')
echo "BENCH: kprobe sample=$defined of $total [a-m]* functions enable_ms=$P_EN_MS enable_ipis=$P_EN_IPI disable_ms=$P_DIS_MS disable_ipis=$P_DIS_IPI unregister_ms=$P_UNREG_MS unregister_ipis=$P_UNREG_IPI sites_enabled=$enabled left=$left"

awk -v n=$defined -v f=$K_FUNCS -v ken=$K_EN_IPI -v ktd=$K_TD_IPI -v kenms=$K_EN_MS -v ktdms=$K_TD_MS \
    -v pen=$P_EN_IPI -v ptd=$((P_DIS_IPI + P_UNREG_IPI)) -v penms=$P_EN_MS \
    -v ptdms=$(awk -v a=$P_DIS_MS -v b=$P_UNREG_MS 'BEGIN { print a + b }') 'BEGIN {
	printf "BENCH: kprobe per probe (measured on %d): enable %.2f IPIs %.2f ms, teardown %.2f IPIs %.2f ms\n", n, pen / n, penms / n, ptd / n, ptdms / n
	xen = pen / n * f; xtd = ptd / n * f; xenms = penms / n * f; xtdms = ptdms / n * f
	printf "BENCH: kprobe EXTRAPOLATED to %d functions: enable %d IPIs %.1f s, teardown %d IPIs %.1f s\n", f, xen, xenms / 1000, xtd, xtdms / 1000
	printf "BENCH: kstuck measured on %d functions: enable %d IPIs %.1f ms, teardown %d IPIs %.1f ms\n", f, ken, kenms, ktd, ktdms
	printf "BENCH: RATIO teardown IPIs kprobe(extrapolated)/kstuck = %.0fx\n", xtd / (ktd > 0 ? ktd : 1)
	printf "BENCH: RATIO teardown time kprobe(extrapolated)/kstuck = %.0fx\n", xtdms / (ktdms > 0 ? ktdms : 1)
	printf "BENCH: RATIO enable IPIs kprobe(extrapolated)/kstuck = %.0fx\n", xen / (ken > 0 ? ken : 1)
	printf "BENCH: RATIO enable time kprobe(extrapolated)/kstuck = %.0fx\n", xenms / (kenms > 0 ? kenms : 1)
	printf "BENCH: RATIO teardown IPIs per probe kprobe/kstuck = %.0fx\n", (ptd / n) / ((ktd > 0 ? ktd : 1) / f)
}'
if awk -v t=$K_TD_MS 'BEGIN { exit !(t < 1000) }'; then
	pass bench-kstuck-teardown-under-1s "teardown of $K_FUNCS functions in $K_TD_MS ms"
else
	fail bench-kstuck-teardown-under-1s "teardown of $K_FUNCS functions in $K_TD_MS ms"
fi
# Sample output for the documentation.
kstuck list 'fbt:vfs_rea*' 2>&1 | sed 's/^/SAMPLE: /'
kstuck list 'syscall:open*' 2>&1 | sed 's/^/SAMPLE: /'
kstuck trace 'fbt:vfs_*' --count --duration 2 2>&1 | head -12 | sed 's/^/SAMPLE: /'
kstuck trace 'syscall:openat' --duration 3 2>&1 | head -8 | sed 's/^/SAMPLE: /' &
sleep 1; dd if=/proc/version of=/dev/null bs=64 count=1 2>/dev/null; cat /proc/cmdline >/dev/null; wait
check bench-rmmod rmmod kstuck
