# SPDX-License-Identifier: GPL-2.0
# Live suite, second boot (lockdown=confidentiality on the command line): the kernel
# refuses /proc/kcore even to root, and `kstuck hang --live` must say so, clearly, and
# exit 1 (it never reads kernel memory through kstuck.ko instead).
. /tests/lib.sh
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mode=$(cat /sys/kernel/security/lockdown 2>&1)
case "$mode" in
*"[confidentiality]"*) pass lockdown-active "$mode" ;;
*) fail lockdown-active "lockdown: $mode" ;;
esac
out=$(kstuck hang --live 2>&1); rc=$?
case "$out" in
*"kstuck hang --live: /proc/kcore: Operation not permitted: the kernel is locked down (confidentiality mode)"*)
	if [ $rc -eq 1 ]; then pass lockdown-clear-message "$(echo "$out" | head -1 | cut -c1-160)"
	else fail lockdown-clear-message "rc=$rc"; fi ;;
*) fail lockdown-clear-message "rc=$rc $(echo "$out" | head -3 | tr '\n' ' ')" ;;
esac
n=$(echo "$out" | wc -l)
if [ "$n" -eq 1 ]; then pass lockdown-one-line; else fail lockdown-one-line "$n lines"; fi
