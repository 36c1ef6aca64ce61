# SPDX-License-Identifier: GPL-2.0
# Sourced by scripts/fetch-*: a private apt configuration for one Debian suite under
# $KSTUCK_CACHE/apt-SUITE (sources, lists, status, archives). The host's apt sources and
# dpkg status are never read or written; the host's Debian archive keyring verifies it.
#
#   private_apt SUITE     sets: apt_dir pool dists security foreign, papt_get, papt_cache
#                         (takes the suite's lock on fd 8 and refreshes lists older than a day)
# foreign=1: the suite's glibc is newer than Debian 12's (its binaries run through its own loader).

private_apt_die() { echo "${0##*/}: $*" >&2; exit 1; }

private_apt() {
	local suite=$1
	local root=${KSTUCK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kstuck}
	pool=$root/debs
	apt_dir=$root/apt-$suite
	case "$suite" in
	bullseye) dists="bullseye bullseye-updates"; security=bullseye-security; foreign=0 ;;
	bookworm) dists="bookworm bookworm-updates"; security=bookworm-security; foreign=0 ;;
	bookworm-backports) dists="bookworm bookworm-updates bookworm-backports"; security=bookworm-security; foreign=0 ;;
	trixie) dists="trixie trixie-updates"; security=trixie-security; foreign=1 ;;
	trixie-backports) dists="trixie trixie-updates trixie-backports"; security=trixie-security; foreign=1 ;;
	sid) dists="sid"; security=""; foreign=1 ;;
	*) private_apt_die "unknown suite '$suite' (known: bullseye bookworm bookworm-backports trixie trixie-backports sid)" ;;
	esac
	mkdir -p "$apt_dir"/{lists/partial,archives/partial,sources.list.d,preferences.d} "$pool"
	local keyring=/usr/share/keyrings/debian-archive-keyring.gpg d
	{
		for d in $dists; do
			echo "deb [signed-by=$keyring] http://deb.debian.org/debian $d main"
		done
		[ -z "$security" ] || [ -n "${KSTUCK_FETCH_NO_SECURITY:-}" ] ||
			echo "deb [signed-by=$keyring] http://deb.debian.org/debian-security $security main"
	} >"$apt_dir/sources.list"
	touch "$apt_dir/status"
	# One fetch per suite at a time: the others wait here.
	exec 8>"$apt_dir/lock"
	flock -w 3600 8 || private_apt_die "another fetch of $suite held $apt_dir/lock for an hour"
	apt_opts=(
		-o "Dir::Etc::SourceList=$apt_dir/sources.list"
		-o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
		-o "Dir::Etc::Preferences=$apt_dir/preferences"
		-o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
		-o "Dir::State::Lists=$apt_dir/lists"
		-o "Dir::State::status=$apt_dir/status"
		-o "Dir::Cache=$apt_dir"
		-o "Dir::Cache::archives=$apt_dir/archives"
		-o "APT::Architecture=amd64"
		-o "APT::Architectures::=amd64"
		-o "APT::Default-Release=${dists##* }"
		-o "Acquire::Languages=none"
		# The archive this machine reaches may serve Release files past their Valid-Until.
		-o "Acquire::Check-Valid-Until=false"
		-o "Debug::NoLocking=1"
	)
	if [ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
		papt_get update >"$apt_dir/update.log" 2>&1 ||
			private_apt_die "apt-get update ($suite) failed: $(grep -E '^(E|W):' "$apt_dir/update.log" | head -1)"
	fi
}
papt_get() { apt-get -q "${apt_opts[@]}" "$@"; }
papt_cache() { apt-cache "${apt_opts[@]}" "$@"; }
