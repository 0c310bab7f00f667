#!/bin/sh
# run-bench.sh BUILDDIR [wapi-bench options] -- what `make bench` runs.
#
# Runs tests/bench/wapi-bench against a private state directory (mktemp -d
# under TMPDIR, where a home directory would be) and host name, with the
# helper of this build.  The state files that only wapictl reads, and the
# 1,048,576-handle file, go to a scratch directory on tmpfs (/dev/shm, or
# BENCH_SCRATCH): making 10,000 files on a loaded disk takes minutes and
# measures the disk, not wapictl.  Every helper the run started is stopped
# before both directories are removed.  The disk section counts the bytes
# written to the block device of the state directory: TMPDIR must be on a
# disk for it (on tmpfs its rows say "n/a").  Results:
# BUILDDIR/bench-results.tsv and BUILDDIR/bench-results.json.
set -eu

builddir=${1:?usage: run-bench.sh BUILDDIR [wapi-bench options]}
shift
bench=$builddir/tests/bench
wapictl=$builddir/src/wapictl/wapictl
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wapi-bench.XXXXXX")
if [ -n "${BENCH_SCRATCH:-}" ]; then
	scratch=$(mktemp -d "$BENCH_SCRATCH/wapi-bench.XXXXXX")
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
	scratch=$(mktemp -d /dev/shm/wapi-bench.XXXXXX)
else
	scratch=$tmp/scratch
	mkdir "$scratch"
fi

# Stop the helper of every state file in directory $1 (wapictl stop asks,
# then kills), for the host that file names.
stop_helpers() {
	for f in "$1"/*.state; do
		[ -e "$f" ] || continue
		host=${f##*/}
		host=${host%.state}
		host=${host%.*}
		WAPI_SHARED_HOSTNAME=$host "$wapictl" -d "$1" -q stop -w 3 \
		    --kill >/dev/null 2>&1 || :
	done
}
finish() {
	stop_helpers "$tmp/.wapi"
	stop_helpers "$scratch/v1m/.wapi"
	# The disk section's configurations, each in a directory of its own
	# (it stops their helpers itself; this is for a run cut short).
	for d in "$tmp"/*/.wapi; do
		stop_helpers "$d"
	done
	rm -rf "$tmp" "$scratch"
}
trap finish EXIT
trap 'exit 130' INT TERM

unset WAPI_DISABLE_SHM MONO_DISABLE_SHM MONO_SHARED_DIR \
    MONO_SHARED_HOSTNAME WAPI_MAX_HANDLES 2>/dev/null || :
# These two are left as they are, so that a whole run can be made with the
# tables in the file (WAPI_SEGMENT_DIR=none) to compare; the disk section
# sets them itself for each of its configurations.
for v in WAPI_SEGMENT_DIR WAPI_HUGEPAGES; do
	eval "val=\${$v-}"
	if [ -n "$val" ]; then
		echo "run-bench.sh: note: $v=$val for the sections other" \
		    "than disk" >&2
	fi
done
WAPI_SHARED_DIR=$tmp
WAPI_SHARED_HOSTNAME=bench-main
WAPI_HELPER=$builddir/src/helper/wapi-helper
WAPI_HELPER_LINGER=1
export WAPI_SHARED_DIR WAPI_SHARED_HOSTNAME WAPI_HELPER WAPI_HELPER_LINGER

case " $(sed -n 's/^CFLAGS = //p' "$builddir/Makefile" 2>/dev/null) " in
*sanitize*|*" -O0 "*)
	echo "run-bench.sh: warning: this build has sanitizers or -O0;" \
	    "the figures mean little" >&2 ;;
esac

"$bench/wapi-bench" -e "$bench/bench-empty" -a "$bench/bench-attach" \
    -c "$wapictl" -t "$scratch" -o "$builddir/bench-results" "$@"
