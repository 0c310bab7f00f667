#!/usr/bin/env bats
# wapictl: global options, usage errors (exit 2 with a hint), directory
# access (exit 4), --help and --version of every command.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() { wapictl_teardown; }

@test "--help and -h print the synopsis and every command, exit 0" {
	run "$WAPICTL" --help
	assert_success
	assert_output --partial "usage: wapictl [-d DIR] [-H HOST | -A] [-J] [-q] COMMAND"
	for c in status handles validate lock clean stop; do
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
	run "$WAPICTL" status --help
	for col in PATH HOST ABI VERDICT REASON HELPER HELPER-ALIVE CLIENTS HANDLES SIZE AGE HEARTBEAT LOCK; do
		assert_output --partial "  $col "
	done
}

@test "bad usage exits 2 with a hint" {
	local args
	while IFS= read -r args; do
		run -2 $args
		assert_output --partial "Try 'wapictl --help'"
	done <<-EOF
	$WAPICTL
	$WAPICTL nosuchcommand
	$WAPICTL -Z status
	$WAPICTL -d
	$WAPICTL -H bad/host status
	$WAPICTL -H .hidden status
	$WAPICTL -H h1 -A status
	$WAPICTL status -Z
	$WAPICTL status extra
	$WAPICTL status -o NOSUCHCOLUMN
	$WAPICTL status -o ,
	$WAPICTL handles -t nosuchtype
	$WAPICTL handles -o BOGUS
	$WAPICTL handles extra
	$WAPICTL validate -Z
	$WAPICTL lock
	$WAPICTL lock -w
	$WAPICTL lock -w abc true
	$WAPICTL lock -w -1 true
	$WAPICTL lock -H other true
	$WAPICTL clean --older-than 5x
	$WAPICTL clean --older-than
	$WAPICTL clean --force-host
	$WAPICTL clean extra
	$WAPICTL stop -w never
	$WAPICTL stop extra
	$WAPICTL -A stop
	EOF
}

@test "lock and stop refuse another host (-H) with exit 2" {
	run -2 "$WAPICTL" -H elsewhere lock true
	assert_output --partial "Try 'wapictl --help'"
	run -2 "$WAPICTL" -H elsewhere stop
}

@test "an invalid WAPI_SHARED_HOSTNAME is refused with the reason" {
	WAPI_SHARED_HOSTNAME='bad host' run -2 "$WAPICTL" status
	assert_output --partial "WAPI_SHARED_HOSTNAME"
}

@test "status on a missing directory shows nothing and exits 0" {
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
