# SPDX-License-Identifier: GPL-2.0
# Shared steps of the hang suite's guest scripts: start a scenario, wait for its ground
# truth, ask the host for a dump. A wedged guest never gets further; the host kills it.

# hang_run NAME MODULE TRUTH_PATTERN... : loads /lib/kstuck/MODULE.ko (params from
# $HANG_PARAMS), starts it, waits for every TRUTH_PATTERN, then requests "dump NAME".
hang_run() {
	name=$1; module=$2; shift 2
	check "$name-insmod" insmod "/lib/kstuck/$module.ko" $HANG_PARAMS
	echo 1 >"/sys/module/$module/parameters/start"
	ok=1
	for p in "$@"; do
		wait_truth "$p" 20 || ok=0
	done
	if [ $ok = 1 ]; then
		pass "$name-started"
	else
		fail "$name-started" "$(dmesg | grep KSTUCK-TRUTH | tr '\n' ' ')"
	fi
	# Let the actors settle where they block (schedule(), the slowpath, the csd wait).
	sleep 1
	reply=$(request dump "$name")
	if [ "$reply" = "ok" ]; then pass "$name-dump-taken"; else fail "$name-dump-taken" "reply=$reply"; fi
}
