#!/usr/bin/env bats
# wapictl: global options (before or after the command), usage errors
# (exit 2 with a hint that names the command), directory access (exit 4),
# --help, -h and `help COMMAND' of every command, whatever the environment.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() { wapictl_teardown; }

@test "--help and -h print the synopsis and every command, exit 0" {
	run "$WAPICTL" --help
	assert_success
	assert_output --partial "usage: wapictl [-d DIR] [-H HOST | -A] [-J] [-q] COMMAND"
	for c in status handles validate lock clean stop help; do
		assert_output --partial "  $c "
	done
	run "$WAPICTL" -h
	assert_success
}

@test "-V and --version print the version" {
	run "$WAPICTL" -V
	assert_success
	assert_output --regexp '^wapictl \(wapi\) [0-9]'
	run "$WAPICTL" --version
	assert_success
}

@test "every command has --help and -h, exit 0, with its synopsis" {
	for c in status handles validate lock clean stop; do
		run "$WAPICTL" "$c" --help
		assert_success
		assert_output --partial "wapictl [-d DIR] [-H HOST | -A] [-J] [-q] $c"
		run "$WAPICTL" "$c" -h
		assert_success
	done
	run -0 "$WAPICTL" help -h
	assert_output --partial "usage: wapictl help [COMMAND]"
	run "$WAPICTL" status --help
	for col in PATH HOST ABI VERDICT REASON HELPER HELPER-ALIVE CLIENTS HANDLES SIZE AGE HEARTBEAT LOCK; do
		assert_output --partial "  $col "
	done
}

@test "bad usage exits 2 with a hint" {
	local args
	# Before a command is known, the hint is wapictl's.
	while IFS= read -r args; do
		run -2 $args
		assert_output --partial "Try 'wapictl --help'"
	done <<-EOF
	$WAPICTL
	$WAPICTL nosuchcommand
	$WAPICTL -Z status
	$WAPICTL -d
	$WAPICTL help nosuchcommand
	EOF
	# After, it names the command: "status: bad/host" means the error of
	# `wapictl -H bad/host status' is told with status's usage.
	local cmd
	while IFS=: read -r cmd args; do
		run -2 $WAPICTL $args
		assert_output --partial "Try 'wapictl $cmd --help'"
		assert_output --partial "usage: wapictl $cmd "
	done <<-EOF
	status:-H bad/host status
	status:-H .hidden status
	status:-H h1 -A status
	status:status -H h1 -A
	status:status -Z
	status:status extra
	status:status -o NOSUCHCOLUMN
	status:status -o ,
	handles:handles -t nosuchtype
	handles:handles -o BOGUS
	handles:handles extra
	validate:validate -Z
	lock:lock
	lock:lock -w
	lock:lock -w abc true
	lock:lock -w -1 true
	lock:lock -H other true
	clean:clean --older-than 5x
	clean:clean --older-than
	clean:clean --force-host
	clean:clean extra
	stop:stop -w never
	stop:stop extra
	stop:-A stop
	stop:stop -A
	help:help status extra
	EOF
}

@test "the usage hint names the command, after the message and its synopsis" {
	run -2 --separate-stderr "$WAPICTL" status --bogus
	assert_output ""
	assert_equal "${stderr_lines[0]}" "wapictl status: unrecognized option '--bogus'"
	assert_equal "${stderr_lines[1]}" "usage: wapictl status [-o COLUMNS] [-r] [-n] [-l] [-v]"
	assert_equal "${stderr_lines[2]}" "Try 'wapictl status --help' for more information."
	run -2 --separate-stderr "$WAPICTL" -q clean --older-than 5x
	assert_equal "${stderr_lines[0]}" "wapictl: clean: --older-than 5x: not a duration (90s, 30m, 12h, 7d, or seconds)"
	assert_equal "${stderr_lines[2]}" "Try 'wapictl clean --help' for more information."
	run -2 --separate-stderr "$WAPICTL" status -d ''
	assert_equal "${stderr_lines[0]}" "wapictl: status: -d: empty directory name"
	assert_equal "${stderr_lines[2]}" "Try 'wapictl status --help' for more information."
	run -2 --separate-stderr "$WAPICTL" -q nosuchcommand --help
	assert_equal "${stderr_lines[0]}" "wapictl: unknown command 'nosuchcommand'"
	assert_equal "${stderr_lines[1]}" "Try 'wapictl --help' for more information."
}

@test "wapictl's options may follow the command, mixed with its own" {
	mkdir -m 700 "$D"
	"$MKSTATE" "$STATE"
	"$MKSTATE" -H farhost "$D/farhost.$ABI.state"
	# -J after the command, as in lsipc
	run -1 --separate-stderr "$WAPICTL" status -J -o PATH,VERDICT
	run "$JQ" -e --arg p "$STATE" '.status == [{"path": $p, "verdict": "orphaned"}]' <<< "$output"
	assert_success
	# -q, -H, -A, -d, long or short, before and after the command's own
	run -0 "$WAPICTL" status -n --host farhost -o HOST -q
	assert_output ""
	run -1 --separate-stderr "$WAPICTL" status -o HOST --all-hosts -n -r
	assert_output "$(printf 'farhost\n%s' "$WAPI_SHARED_HOSTNAME")"
	mkdir -m 700 "$BATS_TEST_TMPDIR/other"
	run -0 "$WAPICTL" status -n -d "$BATS_TEST_TMPDIR/other"
	assert_output ""
	run -0 --separate-stderr "$WAPICTL" handles -J -d "$BATS_TEST_TMPDIR/other"
	run "$JQ" -e '.handles == []' <<< "$output"
	assert_success
	# clean -q -n: quiet and dry, nothing removed
	run -0 "$WAPICTL" clean -n -q
	assert_output ""
	run -0 --separate-stderr "$WAPICTL" clean -q -n
	assert_output ""
	[ -e "$STATE" ]
	run -0 --separate-stderr "$WAPICTL" validate -J "$STATE" -q
	assert_output ""
	# -V and -h after the command too
	run -0 "$WAPICTL" status -V
	assert_output --regexp '^wapictl \(wapi\) [0-9]'
}

@test "lock: wapictl's options before its COMMAND, COMMAND's after it" {
	start_client -e ev
	run -0 --separate-stderr "$WAPICTL" lock -q -w 5 echo -q -w 1 -n
	assert_output "-q -w 1 -n"
	run -0 --separate-stderr "$WAPICTL" lock --json -- echo -J
	assert_output "-J"
	run -2 "$WAPICTL" lock -A true
	assert_output --partial "Try 'wapictl lock --help'"
}

@test "help COMMAND prints what COMMAND --help prints; help alone, wapictl's" {
	local c help
	for c in status handles validate lock clean stop help; do
		run -0 "$WAPICTL" "$c" --help
		help=$output
		run -0 "$WAPICTL" help "$c"
		assert_output "$help"
		run -0 "$WAPICTL" -q help -J "$c"
		assert_output "$help"
	done
	run -0 "$WAPICTL" --help
	help=$output
	run -0 "$WAPICTL" help
	assert_output "$help"
	run -0 "$WAPICTL" help --help
	assert_output --partial "usage: wapictl help [COMMAND]"
}

@test "COMMAND --help needs neither HOME nor a valid host name" {
	local c
	for c in status handles validate lock clean stop help; do
		run -0 env -u HOME -u WAPI_SHARED_DIR -u MONO_SHARED_DIR \
		    "$WAPICTL" "$c" --help
		assert_output --partial "usage: wapictl "
		run -0 env -u HOME -u WAPI_SHARED_DIR -u MONO_SHARED_DIR \
		    "$WAPICTL" -h "$c"
		run -0 env -u HOME -u WAPI_SHARED_DIR -u MONO_SHARED_DIR \
		    "$WAPICTL" help "$c"
		WAPI_SHARED_HOSTNAME='bad host' run -0 "$WAPICTL" "$c" -h
	done
	# Without -h, the command needs them: exit 4 and 2.
	run -4 env -u HOME -u WAPI_SHARED_DIR -u MONO_SHARED_DIR \
	    "$WAPICTL" status
	assert_output --partial "HOME"
	WAPI_SHARED_HOSTNAME='bad host' run -2 "$WAPICTL" status
}

@test "lock and stop refuse another host (-H) with exit 2" {
	run -2 "$WAPICTL" -H elsewhere lock true
	assert_output --partial "Try 'wapictl lock --help'"
	run -2 "$WAPICTL" -H elsewhere stop
	run -2 "$WAPICTL" stop --host elsewhere
	assert_output --partial "Try 'wapictl stop --help'"
}

@test "an invalid WAPI_SHARED_HOSTNAME is refused with the reason" {
	WAPI_SHARED_HOSTNAME='bad host' run -2 "$WAPICTL" status
	assert_output --partial "WAPI_SHARED_HOSTNAME"
}

@test "a missing default directory shows nothing and exits 0; a missing -d DIR exits 4" {
	run -0 "$WAPICTL" status
	assert_output ""
	run -0 "$WAPICTL" -J status
	run "$JQ" -e '.status == []' <<< "$output"
	assert_success
	run -0 "$WAPICTL" clean
	run -0 "$WAPICTL" -q clean
	assert_output ""
	run -0 "$WAPICTL" handles
	run -0 "$WAPICTL" stop
	# the same directory named with -d: it must be there
	for c in status clean handles stop; do
		run -4 "$WAPICTL" -d "$D" "$c"
		assert_output --partial "~/home/.wapi: no such directory (given with -d)"
	done
}

@test "an unreadable directory exits 4 with the reason" {
	mkdir -m 700 "$D"
	"$MKSTATE" "$STATE"
	if [ "$(id -u)" -ne 0 ]; then
		chmod 000 "$D"
		run -4 "$WAPICTL" status
		assert_output --partial "$D"
		chmod 700 "$D"
	elif command -v setpriv > /dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2> /dev/null; then
		# root reads anything: be an unprivileged user whose directory
		# it is, mode 000.
		chown -R 65534:65534 "$BATS_TEST_TMPDIR"
		chmod 000 "$D"
		# The build tree may sit where nobody cannot reach (/root):
		# a copy of wapictl that anyone may run.
		local bin
		bin=$(mktemp -d /tmp/wapictl-bin.XXXXXX)
		chmod 755 "$bin"
		cp "$WAPICTL" "$bin/wapictl"
		chmod 755 "$bin/wapictl"
		run setpriv --reuid=65534 --regid=65534 --clear-groups \
		    env WAPI_SHARED_DIR="$WAPI_SHARED_DIR" "$bin/wapictl" status
		assert_equal "$status" 4
		assert_output --partial "Permission denied"
		for c in handles validate clean; do
			run setpriv --reuid=65534 --regid=65534 --clear-groups \
			    env WAPI_SHARED_DIR="$WAPI_SHARED_DIR" "$bin/wapictl" "$c"
			assert_equal "$status" 4
		done
		rm -rf "$bin"
		chmod 700 "$D"
		chown -R 0:0 "$BATS_TEST_TMPDIR"
	else
		skip "running as root without setpriv"
	fi
}

@test "an insecure directory (group/other writable) exits 4 with the reason" {
	mkdir -m 700 "$D"
	chmod 777 "$D"
	run -4 "$WAPICTL" status
	assert_output --partial "writable by group or others"
	run -4 "$WAPICTL" clean
	run -4 "$WAPICTL" -q clean
	assert_output --partial "writable"
	chmod 700 "$D"
}

@test "a directory that is a symbolic link exits 4 and is not followed" {
	mkdir -m 700 "$BATS_TEST_TMPDIR/real"
	"$MKSTATE" "$BATS_TEST_TMPDIR/real/$WAPI_SHARED_HOSTNAME.$ABI.state"
	ln -s "$BATS_TEST_TMPDIR/real" "$D"
	run -4 "$WAPICTL" status
	assert_output --partial "symbolic link"
	run -4 "$WAPICTL" clean
	[ -e "$BATS_TEST_TMPDIR/real/$WAPI_SHARED_HOSTNAME.$ABI.state" ]
}

@test "-d names the state directory, overriding WAPI_SHARED_DIR" {
	mkdir -m 700 "$BATS_TEST_TMPDIR/other"
	"$MKSTATE" "$BATS_TEST_TMPDIR/other/$WAPI_SHARED_HOSTNAME.$ABI.state"
	run -1 "$WAPICTL" -d "$BATS_TEST_TMPDIR/other" status -o PATH -n -r
	assert_output --partial "$BATS_TEST_TMPDIR/other/$WAPI_SHARED_HOSTNAME.$ABI.state"
	run -1 "$WAPICTL" --dir "$BATS_TEST_TMPDIR/other" status
}

@test "MONO_SHARED_DIR is used when WAPI_SHARED_DIR is not set" {
	mkdir -p "$BATS_TEST_TMPDIR/mono/.wapi"
	chmod 700 "$BATS_TEST_TMPDIR/mono/.wapi"
	"$MKSTATE" "$BATS_TEST_TMPDIR/mono/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state"
	WAPI_SHARED_DIR= MONO_SHARED_DIR="$BATS_TEST_TMPDIR/mono" run -1 "$WAPICTL" status -n -o PATH
	assert_output --partial "/mono/.wapi/"
}

@test "long global options: --host, --all-hosts, --json, --quiet" {
	mkdir -m 700 "$D"
	"$MKSTATE" -H farhost "$D/farhost.$ABI.state"
	run -0 --separate-stderr "$WAPICTL" --host farhost --json status -o HOST,VERDICT
	run "$JQ" -e '.status == [{"host": "farhost", "verdict": "foreign"}]' <<< "$output"
	assert_success
	run -0 --separate-stderr "$WAPICTL" --all-hosts --json status -o HOST
	run "$JQ" -e '.status == [{"host": "farhost"}]' <<< "$output"
	assert_success
	run -0 "$WAPICTL" --quiet --all-hosts status
	assert_output ""
}
