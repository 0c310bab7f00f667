#!/usr/bin/env bats
# wapictl under valgrind memcheck on real and damaged state files: zero
# errors and no definite leak (issue 8).  Skipped under the sanitizer build,
# where valgrind cannot run.

load wapictl/helpers

setup() {
	wapictl_setup
	command -v valgrind > /dev/null || skip "valgrind is not installed"
	if nm "$WAPICTL" 2> /dev/null | grep -q __asan_init; then
		skip "wapictl is built with AddressSanitizer"
	fi
	VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
}

teardown() {
	wapictl_teardown
}

# memcheck CMD...: run wapictl under valgrind; fail on any memcheck error
# (exit 99), whatever wapictl's own exit status.
memcheck() {
	run $VG "$WAPICTL" "$@"
	if [ "$status" -eq 99 ]; then
		echo "$output" >&2
		return 1
	fi
	return 0
}

@test "memcheck: every command on a live file" {
	start_client -e vg.ev -m vg.mx -s vg.sem -u 3
	memcheck status
	memcheck status -v
	memcheck -J status -v
	memcheck status -v -J -o +SIZE,BOOT
	memcheck handles
	memcheck -J handles -t mutex,event
	memcheck validate -v
	memcheck clean -n
	memcheck lock -w 5 -- true
}

@test "memcheck: orphaned, corrupt, truncated and foreign files, clean" {
	make_orphan
	memcheck status
	memcheck validate -v
	memcheck handles
	cp "$STATE" "$D/other-host.$ABI.state"
	flip_byte "$D/other-host.$ABI.state" 200
	truncate -s 100 "$STATE"
	memcheck -A status -v
	memcheck -A validate -v
	memcheck -A -J validate
	memcheck clean -n
	memcheck clean --force-host --older-than 0s
	memcheck -A status
}

@test "memcheck: usage errors and a missing directory" {
	memcheck -d "$BATS_TEST_TMPDIR/nowhere" status
	memcheck status --no-such-option
	memcheck lock
	memcheck --help
	memcheck help status
	memcheck help nosuchcommand
	memcheck status -J --no-such-option
	memcheck clean -q -n -o PATH
	memcheck -q stop -w 100000
}
