#!/bin/sh
# run-validate-many.sh BUILDDIR [bench-validate-many options] -- the
# `validate -A` benchmark of `make bench` (and of `make bench-validate`).
#
# Its files go to a scratch directory on tmpfs (/dev/shm, or
# BENCH_SCRATCH), as run-bench.sh's do: making thousands of files on a
# loaded disk measures the disk.  Nothing it makes is held by a process;
# the directory is removed at the end.
set -eu

builddir=${1:?usage: run-validate-many.sh BUILDDIR [options]}
shift
if [ -n "${BENCH_SCRATCH:-}" ]; then
	scratch=$(mktemp -d "$BENCH_SCRATCH/wapi-bench-vm.XXXXXX")
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
	scratch=$(mktemp -d /dev/shm/wapi-bench-vm.XXXXXX)
else
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/wapi-bench-vm.XXXXXX")
fi
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

unset WAPI_SHARED_DIR WAPI_SHARED_HOSTNAME MONO_SHARED_DIR \
    MONO_SHARED_HOSTNAME 2>/dev/null || :
"$builddir/tests/bench/bench-validate-many" \
    -c "$builddir/src/wapictl/wapictl" -t "$scratch" "$@"
