#!/usr/bin/env bats
# wapictl stop: asks the helper to leave through its socket, waits for its
# lock byte, --kill after -w SECONDS; exit 3 when it would not leave.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() {
	[ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED" 2> /dev/null
	wapictl_teardown
}

helper_alive() {
	[ "$("$WAPICTL" -J status -o HELPER-ALIVE 2> /dev/null | "$JQ" -r '.status[0]."helper-state" // "none"')" = "$1" ]
}

@test "the helper of a live client is asked to leave and does, exit 0" {
	start_client -e ev
	local helper=$HELPER_PID
	[ -n "$helper" ]
	run -0 "$WAPICTL" stop
	assert_output --partial "asked helper pid $helper; it left"
	pid_gone "$helper"
	run -0 "$WAPICTL" stop
	assert_output --regexp "no helper running"
}

@test "-q: nothing printed when it worked" {
	start_client -e ev
	run -0 "$WAPICTL" -q stop -w 10
	assert_output ""
}

@test "no state file, or no helper: nothing to do, exit 0" {
	run -0 "$WAPICTL" stop
	assert_output --partial "no helper running"
	make_orphan
	run -0 "$WAPICTL" stop
	assert_output --partial "no helper running"
	[ -e "$STATE" ]
}

@test "a helper that does not leave in time: exit 3 with the next step; --kill kills it" {
	start_client -e ev
	local helper=$HELPER_PID
	kill -STOP "$helper"
	STOPPED=$helper
	run -3 "$WAPICTL" stop -w 1
	assert_output --partial "helper pid $helper still running after 1 s; run 'wapictl stop --kill'"
	! pid_gone "$helper"
	run -0 "$WAPICTL" stop -w 1 --kill
	assert_output --partial "killed helper pid $helper"
	wait_until pid_gone "$helper"
	# the client still runs, without its helper: a finding
	run -1 "$WAPICTL" status -o HELPER-ALIVE -n
	assert_output --partial "no"
	assert_output --partial "still run without it"
}

@test "an unreachable helper (another network namespace) gets SIGTERM at its verified pid" {
	unshare --net true 2> /dev/null || skip "no network namespaces here"
	start_client -e ev
	local helper=$HELPER_PID
	# Abstract sockets belong to a network namespace: from a new one the
	# helper's name does not exist, so stop falls back to the signal.
	run -0 unshare --net "$WAPICTL" stop -w 10
	assert_output --partial "sent SIGTERM to helper pid $helper; it left"
	wait_until pid_gone "$helper"
}
