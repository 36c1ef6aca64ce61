# SPDX-License-Identifier: GPL-2.0
# Helpers for guest test scripts: the KSTUCK-TEST line protocol and host requests.

# pass NAME [DETAIL...] / fail NAME [DETAIL...]
pass() { n=$1; shift; echo "KSTUCK-TEST: $n PASS $*"; }
fail() { n=$1; shift; echo "KSTUCK-TEST: $n FAIL $*"; }

# check NAME CMD...: PASS when CMD exits 0, FAIL with its output otherwise.
check() {
	n=$1; shift
	if out=$("$@" 2>&1); then pass "$n"; else fail "$n" "rc=$? $(echo "$out" | tail -3 | tr '\n' ' ')"; fi
}

# expect_in NAME FILE REGEX: PASS when the file has a line matching REGEX.
expect_in() {
	if grep -qE "$3" "$2"; then pass "$1"; else fail "$1" "no /$3/ in $2: $(tail -5 "$2" | tr '\n' ' ')"; fi
}

# The control serial port stays open for the whole script: opening the UART resets its
# FIFO, and a reply that arrived while request() was still opening it lost its first
# bytes ("k" for "ok"; the host answers as soon as a QMP dump resumes the guest).
# (A failed redirection on exec would end the script: try it in a subshell first.)
if (exec 9</dev/ttyS1) 2>/dev/null; then exec 9</dev/ttyS1; fi

# request WORDS...: asks the host to do something (e.g. "dump NAME") and waits, bounded,
# for its one-line reply on the control serial port. Prints the reply. The request goes
# out as a kernel record (see Guest.next_request in tests/vm/rig.py for why).
request() {
	echo "KSTUCK-REQUEST: $*" >/dev/kmsg
	reply=""
	read -t "${REQUEST_TIMEOUT:-300}" reply <&9
	echo "KSTUCK-REPLY: $reply" >&2
	echo "$reply"
}

# truth KEY: the value a scenario printed as "KSTUCK-TRUTH: ... KEY=value".
truth() { dmesg | sed -n "s/.*KSTUCK-TRUTH: .*$1=\([^ ]*\).*/\1/p" | tail -1; }

# wait_truth PATTERN [SECONDS]: waits until the kernel log has a KSTUCK-TRUTH line matching.
wait_truth() {
	i=0
	while [ $i -lt $((${2:-10} * 10)) ]; do
		dmesg | grep -q "KSTUCK-TRUTH: .*$1" && return 0
		usleep 100000
		i=$((i + 1))
	done
	return 1
}

# start_scenario TESTNAME: sets kstuck_scenario.ko going and waits (bounded) until its
# xcall waiter and mutex waiter have reported; prints TESTNAME PASS or FAIL.
start_scenario() {
	echo 1 >/sys/module/kstuck_scenario/parameters/start
	if wait_truth "xcall_waiter pid" 20 && wait_truth "mutex_waiter pid" 10; then
		pass "$1"
	else
		fail "$1" "$(dmesg | grep KSTUCK-TRUTH | tr '\n' ' ')"
	fi
}
