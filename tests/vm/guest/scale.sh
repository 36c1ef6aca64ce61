# SPDX-License-Identifier: GPL-2.0
# The scale guest (bench/analyze_scale): thousands of threads asleep in futex waits
# (futex_park), nothing hung; then the host takes a QMP dump of it. The thread count is
# kstuck.scale_threads= on the kernel command line (default 10000).
. /tests/lib.sh

n=$(sed -n 's/.*kstuck\.scale_threads=\([0-9]*\).*/\1/p' /proc/cmdline)
n=${n:-10000}
# Room for n threads whatever the defaults: pids, tasks, and two mappings per thread stack.
echo 4194304 >/proc/sys/kernel/pid_max
[ "$(cat /proc/sys/kernel/threads-max)" -gt $((n + 1000)) ] || echo $((n + 1000)) >/proc/sys/kernel/threads-max
echo 262144 >/proc/sys/vm/max_map_count
ulimit -u unlimited 2>/dev/null
t0=$(cut -d' ' -f1 /proc/uptime)
/bin/futex_park "$n" >/tmp/park.log 2>&1 &
i=0
while ! grep -q '^KSTUCK-SCALE:' /tmp/park.log && [ $i -lt 1200 ]; do
	sleep 1
	i=$((i + 1))
done
cat /tmp/park.log
t1=$(cut -d' ' -f1 /proc/uptime)
threads=$(ls -d /proc/[0-9]*/task/[0-9]* | wc -l)
# PF_KTHREAD (0x200000) in the flags, the 7th field after the ") " that closes comm.
kthreads=$(cat /proc/[0-9]*/stat 2>/dev/null | sed 's/.*) //' | awk 'int($7 / 2097152) % 2 { n++ } END { print n + 0 }')
cpus=$(grep -c ^processor /proc/cpuinfo)
echo "KSTUCK-SCALE-TASKS: tasks=$threads kthreads=$kthreads cpus=$cpus parked_in=${t0}..${t1}s"
echo "KSTUCK-SCALE-MEM: $(grep -E '^(MemTotal|MemFree|KernelStack|Slab):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
reply=$(REQUEST_TIMEOUT=900 request dump scale)
if [ "$reply" = "ok" ]; then pass host-dump-taken; else fail host-dump-taken "reply=$reply"; fi
