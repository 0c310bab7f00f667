#!/usr/bin/env bats
# wapictl lock: runs COMMAND holding the table lock, returns its status,
# -w bounds the wait (exit 3), a killed holder is recovered from.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() {
	[ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED" 2> /dev/null
	wapictl_teardown
}

# The helper sweeps every 2 s, taking the table lock: caught waiting for it
# when its holder is killed, it would repair the lock before the locker
# under test.  Stopped, it cannot: the locker sees the death.
pause_helper() {
	[ -n "$HELPER_PID" ] || return 0
	STOPPED=$HELPER_PID
	kill -STOP "$STOPPED"
}
resume_helper() {
	[ -n "${STOPPED:-}" ] && kill -CONT "$STOPPED"
	STOPPED=
}

@test "runs COMMAND with its arguments and returns its exit status" {
	start_client -e ev
	run -0 "$WAPICTL" lock echo hello world
	assert_output "hello world"
	run -7 "$WAPICTL" lock -- sh -c 'exit 7'
	run -0 "$WAPICTL" lock -w 5 -- true
	run -1 "$WAPICTL" lock false
}

@test "a command killed by signal N gives 128+N, like a shell" {
	start_client -e ev
	run -143 "$WAPICTL" lock -- sh -c 'kill -TERM $$'
	run -137 "$WAPICTL" lock -- sh -c 'kill -KILL $$'
}

@test "a command that cannot be run gives 127 (not found) or 126" {
	start_client -e ev
	run -127 "$WAPICTL" lock -- /nonexistent/command
	assert_output --partial "/nonexistent/command"
	touch "$BATS_TEST_TMPDIR/noexec"
	chmod 644 "$BATS_TEST_TMPDIR/noexec"
	run -126 "$WAPICTL" lock -- "$BATS_TEST_TMPDIR/noexec"
}

@test "the command runs while the lock is held: the holder is wapictl" {
	start_client -e ev
	run -0 "$WAPICTL" lock -- sh -c '"$0" -J status -o LOCK' "$WAPICTL"
	local me
	me=$("$JQ" -r '.status[0].lock' <<< "$output")
	[ "$me" != null ]
	[ -n "$me" ]
	# released afterwards
	run -0 --separate-stderr "$WAPICTL" -J status -o LOCK
	run "$JQ" -e '.status[0].lock == null' <<< "$output"
	assert_success
}

@test "-w bounds the wait: busy, exit 3, the holder named" {
	start_client -e ev
	hold_lock
	run -3 "$WAPICTL" lock -w 1 true
	assert_output --partial "table lock held by pid $LOCKPID"
	run -3 "$WAPICTL" lock -w 0 true
	run -3 "$WAPICTL" -q lock -w 0 true
	assert_output --partial "not obtained"
}

@test "a holder killed with -9 does not block: the lock is recovered" {
	start_client -e ev -m mx
	hold_lock
	pause_helper
	kill -9 "$LOCKPID"
	run -0 "$WAPICTL" lock -w 5 true
	assert_output --partial "previous holder of the table lock died"
	resume_helper
	run -0 "$WAPICTL" validate
	# the client still works with its state: status live, lock free
	run -0 --separate-stderr "$WAPICTL" -J status -o VERDICT,LOCK
	run "$JQ" -e '.status[0] == {"verdict": "live", "lock": null}' <<< "$output"
	assert_success
}

@test "kill -9 of wapictl lock kills COMMAND with it: it never runs without the lock" {
	start_client -e ev
	local out="$BATS_TEST_TMPDIR/lock.out" cmd
	LOCKPID=$(spawn "$out" "$WAPICTL" lock -- sh -c 'echo held $$; exec sleep 1000')
	wait_until grep -q held "$out"
	cmd=$(awk '{ print $2 }' "$out")
	remember_pid "$cmd"
	kill -0 "$cmd"
	pause_helper
	kill -9 "$LOCKPID"
	wait_until pid_gone "$cmd"
	# the next locker repairs and gets it at once
	run -0 "$WAPICTL" lock -w 5 true
	assert_output --partial "previous holder of the table lock died"
	resume_helper
}

@test "options after COMMAND belong to COMMAND" {
	start_client -e ev
	run -0 "$WAPICTL" lock echo -w 1 -n
	assert_output "-w 1 -n"
}

@test "no state file: nothing to lock, exit 4" {
	mkdir -m 700 "$D"
	run -4 "$WAPICTL" lock true
	assert_output --partial "no state file"
	rmdir "$D"
	run -4 "$WAPICTL" lock true
}

@test "a corrupt state file is not locked" {
	make_orphan
	truncate -s 2000 "$STATE"
	run -1 "$WAPICTL" lock true
	assert_output --partial "corrupt"
}

@test "status does not show a dead holder as holding the lock" {
	start_client -e ev
	hold_lock
	pause_helper
	kill -9 "$LOCKPID"
	wait_until pid_gone "$LOCKPID"
	run -0 --separate-stderr "$WAPICTL" -J status -o LOCK,REASON
	run "$JQ" -e --arg p "$LOCKPID" '.status[0].lock == null and (.status[0].reason | contains("table lock left by dead pid " + $p))' <<< "$output"
	assert_success
}

@test "SIGTERM to wapictl lock goes to COMMAND; the lock is released" {
	start_client -e ev
	hold_lock
	kill -TERM "$LOCKPID"
	wait_until pid_gone "$LOCKPID"
	run -0 --separate-stderr "$WAPICTL" -J status -o LOCK,REASON
	run "$JQ" -e '.status[0].lock == null and (.status[0].reason | contains("dead") | not)' <<< "$output"
	assert_success
	run -0 "$WAPICTL" lock -w 0 true
	refute_output --partial "died"
}

@test "a client that needs the table meanwhile waits until COMMAND ends" {
	start_client -e first
	hold_lock
	local out="$BATS_TEST_TMPDIR/second.out"
	spawn "$out" "$TCLIENT" -e second > /dev/null
	# Not ready while the lock is held (a slow machine only makes it
	# later, never earlier: this cannot pass by luck).
	sleep 1
	run grep -c '^ready' "$out"
	assert_output 0
	kill -TERM "$LOCKPID"
	wait_until grep -q '^ready' "$out"
	run -0 "$WAPICTL" handles -o NAME -n
	assert_line "second"
}
