#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Drives completion/kstuck the way bash does on TAB: the function `complete -p kstuck`
# names is called with COMP_WORDS/COMP_CWORD/COMP_LINE/COMP_POINT set and its three
# arguments, and COMPREPLY is checked.
# usage: completion_test.sh KSTUCK_BINARY COMPLETION_FILE
set -u
kstuck=$1
completion=$2
# shellcheck source=/dev/null
source "$completion" || { echo "cannot source $completion"; exit 1; }

spec=$(complete -p kstuck 2>/dev/null) || { echo "FAIL: complete -p kstuck: no completion registered"; exit 1; }
func=$(sed -E 's/.*-F ([^ ]+).*/\1/' <<<"$spec")

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/mods" "$dir/mods2"
touch "$dir/vmcore" "$dir/vmlinux-6.1" "$dir/m-file" "$dir/my dump"

passed=0
failed=0
# complete LINE: the words of LINE ("" last word when LINE ends in a blank); the binary
# is COMP_WORDS[0], as when it is typed by path.
complete_line() {
	local line="$kstuck $1"
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	local prev=""
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	"$func" kstuck "${COMP_WORDS[COMP_CWORD]}" "$prev"
	printf '%s\n' "${COMPREPLY[@]}" | sort
}
# expect NAME LINE WANTED...: the sorted reply equals the WANTED words.
expect() {
	local name=$1 line=$2
	shift 2
	local got want
	got=$(complete_line "$line")
	want=$( ( (($# > 0)) && printf '%s\n' "$@") | sort)
	if [[ "$got" == "$want" ]]; then
		passed=$((passed + 1))
		echo "PASS $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name: '$line' gave [$(tr '\n' ' ' <<<"$got")] wanted [$(tr '\n' ' ' <<<"$want")]"
	fi
}

# As bash splits "--vmlinux=PATH" at the '=' (COMP_WORDBREAKS): three words.
expect_words() {
	local name=$1 want=$2
	shift 2
	COMP_WORDS=("$kstuck" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	"$func" kstuck "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	if [[ "${COMPREPLY[*]}" == "$want" ]]; then
		passed=$((passed + 1))
		echo "PASS $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name: [${COMP_WORDS[*]}] gave [${COMPREPLY[*]}] wanted [$want]"
	fi
}

# The commands are the binary's own list.
mapfile -t commands < <("$kstuck" --help | sed -n '/^commands:/,/^$/{s/^  \([a-z][a-z0-9-]*\) .*/\1/p}')
[[ ${#commands[@]} -ge 10 ]] || { echo "FAIL: kstuck --help lists ${#commands[@]} commands"; exit 1; }
expect commands "" "${commands[@]}"
expect command-prefix "h" hang help
expect global-options "--v" --version
hang_live=""
"$kstuck" help hang --live 2>/dev/null | grep -q -- '--capture-timeout' && hang_live=--live
expect hang-options "hang --" --vmlinux --module-dir --force --json --dot --starved-after --help $hang_live
expect hang-option-prefix "hang $dir/vmcore --vm" --vmlinux
expect dump-path "hang $dir/vm" "$dir/vmcore" "$dir/vmlinux-6.1"
expect dump-path-with-blank "analyze $dir/my" "$dir/my dump"
expect vmlinux-path "hang $dir/vmcore --vmlinux $dir/vml" "$dir/vmlinux-6.1"
expect vmlinux-first "xcall --vmlinux $dir/vmlinux-6.1 $dir/vmc" "$dir/vmcore"
expect no-second-dump "tasks $dir/vmcore --vmlinux $dir/vmlinux-6.1 " 
expect module-dir-dirs-only "analyze $dir/vmcore --module-dir $dir/m" "$dir/mods" "$dir/mods2"
expect number-value "hang $dir/vmcore --starved-after " 
expect nmi-subcommands "nmi " capture show save watchdog
expect nmi-capture-options "nmi capture --" --timeout --count --quiet --save --json --summary-only --registers --kallsyms --vmlinux --help
expect nmi-show-vmcore "nmi show --vmcore $dir/vmc" "$dir/vmcore"
expect nmi-show-vmlinux "nmi show --vmcore $dir/vmcore --vmlinux $dir/vmlinux" "$dir/vmlinux-6.1"
expect nmi-save-file "nmi save $dir/vmc" "$dir/vmcore"
expect help-commands "help n" nmi
expect help-nmi "help nmi c" capture
expect trace-probes "trace " fbt: syscall:
expect trace-options "trace --c" --count --comm
expect bt-options "bt --" --cpu --vmlinux --module-dir --force --json --lines --help $hang_live

# The live forms, when the binary has them (kstuck help hang --live).
if "$kstuck" help hang --live 2>/dev/null | grep -q -- '--capture-timeout'; then
	expect hang-live-option "hang --li" --live
	expect hang-live-options "hang --live --c" --capture-timeout
	expect live-no-dump-path "hang --live $dir/vm"
	expect analyze-live-options "analyze --live --" --capture-timeout --help --json --live --log-lines
fi
expect_words vmlinux-equals "$dir/vmlinux-6.1" hang "$dir/vmcore" --vmlinux = "$dir/vml"
expect_words vmlinux-equals-empty-dir "$dir/vmcore" hang --vmlinux = "$dir/vmc"

echo "completion: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
