# SPDX-License-Identifier: GPL-2.0
# Trace suite: listings, input errors, exact syscall counts, live function events, and
# the seed's torture (trace enable/teardown loops racing listings and NMI captures).
. /tests/lib.sh

TORTURE_SECONDS=$(sed -n 's/.*kstuck\.torture=\([0-9]*\).*/\1/p' /proc/cmdline)
TORTURE_SECONDS=${TORTURE_SECONDS:-180}
OPENS=37

check kstuck-insmod insmod /lib/kstuck/kstuck.ko

# --- listings ---
kstuck list 'syscall:*' >/tmp/sys.txt 2>&1
n=$(grep -c '^syscall:' /tmp/sys.txt)
if [ "$n" -gt 300 ] && grep -qE '^syscall:openat +nr=257 ' /tmp/sys.txt; then
	pass list-syscalls "$n syscalls, $(grep -E '^syscall:openat ' /tmp/sys.txt)"
else
	fail list-syscalls "n=$n $(head -3 /tmp/sys.txt | tr '\n' ' ')"
fi
kstuck list 'fbt:[a-e]*' >/tmp/fbt.txt 2>&1
n=$(grep -c '^fbt:' /tmp/fbt.txt)
bad=$(grep -vcE '^fbt:[a-e]' /tmp/fbt.txt)
avail=$(grep -cE '^[a-e]' /sys/kernel/tracing/available_filter_functions)
if [ "$n" -gt 1000 ] && [ "$bad" -eq 0 ] && [ "$n" -eq "$avail" ]; then
	pass list-fbt-glob "$n functions, tracefs says $avail"
else
	fail list-fbt-glob "n=$n bad=$bad avail=$avail $(head -3 /tmp/fbt.txt | tr '\n' ' ')"
fi
out=$(kstuck list 'fbt:vfs_read' 2>&1)
if [ "$out" = "fbt:vfs_read" ]; then pass list-fbt-name; else fail list-fbt-name "$out"; fi

# --- input errors: each a clear message and exit 1 ---
expect_error() {
	name=$1; want=$2; shift 2
	out=$("$@" 2>&1); rc=$?
	case "$out" in
	*"$want"*) if [ $rc -eq 1 ]; then pass "$name" "$(echo "$out" | tail -1)"; else fail "$name" "rc=$rc $out"; fi ;;
	*) fail "$name" "rc=$rc $(echo "$out" | tail -2 | tr '\n' ' ')" ;;
	esac
}
expect_error error-glob-matches-nothing "no traceable probe matches" kstuck trace 'fbt:zz_no_such_fn*' --duration 1
expect_error error-syscall-matches-nothing "no traceable probe matches" kstuck trace 'syscall:nosuchcall' --duration 1
expect_error error-bad-glob "invalid probe" kstuck trace 'fbt:[a-m' --duration 1
expect_error error-ftrace-syntax-refused "invalid probe" kstuck trace 'fbt:!vfs_read' --duration 1
expect_error error-list-bad-glob "invalid glob" kstuck list 'fbt:vfs_read:mod'
out=$(/bin/trace_openat nocap 2>&1)
if [ $? -eq 0 ]; then pass error-non-root-refused "$out"; else fail error-non-root-refused "$out"; fi
out=$(kstuck trace 'fbt:vfs_read,fbt:no_such_function_xyz' --duration 1 2>&1)
rc=$?
case "$out" in
*"1 skipped"*) [ $rc -eq 0 ] && pass fbt-untraceable-skipped "$(echo "$out" | head -1)" || fail fbt-untraceable-skipped "rc=$rc" ;;
*) fail fbt-untraceable-skipped "rc=$rc $(echo "$out" | tr '\n' ' ')" ;;
esac

# Too many sessions: eight idle sessions are the limit, the ninth is refused.
pids=""
for i in 1 2 3 4 5 6 7 8; do
	kstuck trace 'syscall:getppid' -q --duration 60 >/dev/null 2>/tmp/s$i.err &
	pids="$pids $!"
done
sleep 3
expect_error error-too-many-sessions "too many trace sessions" kstuck trace 'syscall:getppid' --duration 1
out=$(kstuck list 'syscall:getppid' 2>&1)
case "$out" in *"tracing=8"*) pass list-shows-sessions "$out" ;; *) fail list-shows-sessions "$out" ;; esac
kill -INT $pids
rcs=""
for p in $pids; do wait $p; rcs="$rcs$?"; done
if [ "$rcs" = "00000000" ]; then pass ctrl-c-clean-exit "8 sessions stopped by SIGINT, all rc 0"; else fail ctrl-c-clean-exit "rcs=$rcs $(cat /tmp/s1.err)"; fi
out=$(kstuck list 'syscall:getppid' 2>&1)
case "$out" in *"tracing=0"*) pass list-after-teardown "$out" ;; *) fail list-after-teardown "$out" ;; esac

# An open session pins the module (its file's fops are the module's): rmmod is refused,
# and SIGKILL of the tracer tears the session down through the file's release.
kstuck trace 'syscall:getppid' -q --duration 60 >/dev/null 2>&1 &
victim=$!
sleep 2
if rmmod kstuck 2>/dev/null; then fail rmmod-refused-while-tracing; else pass rmmod-refused-while-tracing; fi
kill -9 $victim; wait $victim
out=$(kstuck list 'syscall:getppid' 2>&1)
case "$out" in *"tracing=0"*) pass sigkill-tears-down "$out" ;; *) fail sigkill-tears-down "$out" ;; esac

# --- exact syscall counts: a program makes $OPENS openat calls ---
rm -f /tmp/go
/bin/trace_openat openat $OPENS /tmp/go >/tmp/opener.out &
opener=$!
sleep 1
opid=$(sed -n 's/^pid //p' /tmp/opener.out)
kstuck trace 'syscall:openat' --count --exit --pid "$opid" --duration 8 >/tmp/count.out 2>/tmp/count.err &
tracer=$!
i=0
while ! grep -q enabled /tmp/count.err 2>/dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
touch /tmp/go
wait $opener; orc=$?
wait $tracer; trc=$?
got=$(awk '$1 == "syscall:openat" {print $2}' /tmp/count.out)
got_ret=$(awk '$1 == "syscall:openat:return" {print $2}' /tmp/count.out)
if [ $orc -eq 0 ] && [ $trc -eq 0 ] && [ "$got" = "$OPENS" ] && [ "$got_ret" = "$OPENS" ]; then
	pass syscall-openat-exact-count "pid $opid made $OPENS, traced enter=$got return=$got_ret"
else
	fail syscall-openat-exact-count "orc=$orc trc=$trc want=$OPENS got=$got ret=$got_ret $(cat /tmp/count.out /tmp/count.err | tr '\n' ' ')"
fi
# The same by comm in live mode: one printed line per call, nothing from other tasks.
rm -f /tmp/go
/bin/trace_openat openat $OPENS /tmp/go >/tmp/opener.out &
opener=$!
kstuck trace 'syscall:openat' --comm trace_openat --duration 8 >/tmp/live.out 2>/tmp/live.err &
tracer=$!
i=0
while ! grep -q enabled /tmp/live.err 2>/dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
touch /tmp/go
wait $opener
wait $tracer; trc=$?
got=$(grep -c ' trace_openat .* syscall:openat ' /tmp/live.out)
other=$(grep -vc ' trace_openat ' /tmp/live.out)
if [ $trc -eq 0 ] && [ "$got" = "$OPENS" ] && [ "$other" = 0 ]; then
	pass syscall-openat-live-by-comm "$got lines, e.g. $(head -1 /tmp/live.out)"
else
	fail syscall-openat-live-by-comm "trc=$trc got=$got other=$other $(head -3 /tmp/live.out | tr '\n' ' ') $(cat /tmp/live.err)"
fi

# --- function probes, live and counted ---
kstuck trace 'fbt:vfs_read' --duration 4 >/tmp/vfs.out 2>/tmp/vfs.err &
tracer=$!
i=0
while ! grep -q enabled /tmp/vfs.err 2>/dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
# dd, not cat: busybox cat copies with sendfile, which never calls vfs_read.
for i in 1 2 3; do dd if=/proc/version of=/dev/null bs=64 count=1 2>/dev/null; done
wait $tracer; trc=$?
if [ $trc -eq 0 ] && [ "$(grep -cE ' dd +[0-9]+ fbt:vfs_read from ksys_read\+0x' /tmp/vfs.out)" -ge 3 ]; then
	pass fbt-live-event "$(grep -E ' dd ' /tmp/vfs.out | head -1)"
else
	fail fbt-live-event "trc=$trc $(head -3 /tmp/vfs.out | tr '\n' ' ') $(cat /tmp/vfs.err)"
fi
kstuck trace 'fbt:[a-m]*' --count --duration 2 >/tmp/am.out 2>/tmp/am.err
rc=$?
probes=$(grep -c '^fbt:' /tmp/am.out)
badname=$(grep '^fbt:' /tmp/am.out | grep -vcE '^fbt:[a-m]')
if [ $rc -eq 0 ] && [ "$probes" -gt 50 ] && [ "$badname" -eq 0 ]; then
	pass fbt-am-count "$probes distinct functions hit; $(tail -1 /tmp/am.err)"
else
	fail fbt-am-count "rc=$rc probes=$probes badname=$badname $(grep '^fbt:' /tmp/am.out | grep -vE '^fbt:[a-m]' | head -3 | tr '\n' ' ') $(cat /tmp/am.err)"
fi
echo "KSTUCK-TRACE-AM: $(head -1 /tmp/am.err)"
echo "KSTUCK-TRACE-AM: $(tail -1 /tmp/am.err)"

# --- NMI context: a host NMI reaches printk, traced from inside the NMI ---
kstuck trace 'fbt:vprintk*,fbt:_printk' --duration 6 >/tmp/nmi.out 2>/tmp/nmi.err &
tracer=$!
i=0
while ! grep -q enabled /tmp/nmi.err 2>/dev/null && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
reply=$(request nmi)
wait $tracer; trc=$?
if [ $trc -eq 0 ] && grep -q '\[nmi\]' /tmp/nmi.out; then
	pass fbt-event-in-nmi "$(grep '\[nmi\]' /tmp/nmi.out | head -1)"
else
	fail fbt-event-in-nmi "reply=$reply trc=$trc $(tail -3 /tmp/nmi.out | tr '\n' ' ') $(cat /tmp/nmi.err)"
fi

# --- the torture ---
if kstuck nmi --help >/dev/null 2>&1; then third="kstuck nmi capture"; else third="kstuck version"; fi
echo "KSTUCK-TRACE-TORTURE: third loop is '$third'"
rm -f /tmp/stop
loop() {	# loop NAME CMD...: runs CMD until /tmp/stop, counting runs and failures
	name=$1; shift
	runs=0; fails=0
	while [ ! -e /tmp/stop ]; do
		if ! "$@" >/dev/null 2>/tmp/$name.lasterr; then
			fails=$((fails + 1))
			cp /tmp/$name.lasterr /tmp/$name.failerr
		fi
		runs=$((runs + 1))
	done
	echo "$runs $fails" >/tmp/$name.result
}
start=$(date +%s)
# kstuck.torture_mode=tracefs swaps the traced loop for the kernel's own function
# tracer on the same functions: the control that tells an emulator problem from ours.
tracefs_cycle() {
	echo '[a-m]*' >/sys/kernel/tracing/set_ftrace_filter && echo function >/sys/kernel/tracing/current_tracer &&
		sleep 1 && echo nop >/sys/kernel/tracing/current_tracer && echo >/sys/kernel/tracing/set_ftrace_filter
}
if grep -q 'kstuck.torture_mode=tracefs' /proc/cmdline; then
	loop trace tracefs_cycle &
else
	loop trace kstuck trace 'fbt:[a-m]*' --duration 1 --count -q &
fi
l1=$!
loop list kstuck list 'syscall:*' &
l2=$!
loop third $third &
l3=$!
while [ $(($(date +%s) - start)) -lt "$TORTURE_SECONDS" ]; do sleep 5; done
touch /tmp/stop
wait $l1 $l2 $l3
elapsed=$(($(date +%s) - start))
for name in trace list third; do
	set -- $(cat /tmp/$name.result 2>/dev/null || echo "0 -1")
	if [ "$1" -gt 0 ] && [ "$2" -eq 0 ]; then
		pass "torture-$name-loop" "$1 runs, 0 failures in ${elapsed}s"
	else
		fail "torture-$name-loop" "runs=$1 fails=$2 $(cat /tmp/$name.failerr 2>/dev/null | tail -2 | tr '\n' ' ')"
	fi
done
echo "KSTUCK-TRACE-TORTURE: elapsed=$elapsed"
check rmmod-after-torture rmmod kstuck
if grep -q '^kstuck ' /proc/modules; then fail module-gone-after-torture; else pass module-gone-after-torture; fi
