#!/usr/bin/env bats
# The audit trail: what clean removes and what stop kills goes to syslog(3)
# (LOG_USER, ident wapictl, one line each), unless --no-syslog; and clean
# -q, for cron, prints only news.  The real syslog(3) of the C library is
# heard through tests/wapictl/devlog.so, preloaded into wapictl, which
# sends its connect to /dev/log to a datagram socket that tests/wapictl/
# logsink binds and writes to $LOG, one datagram a line.

load wapictl/helpers

setup() {
	wapictl_setup
	DEVLOG_SO=$top_builddir/tests/wapictl/.libs/devlog.so
	[ -f "$DEVLOG_SO" ] || fail "$DEVLOG_SO is missing (built by make check)"
	# A socket's name must be short: not under BATS_TEST_TMPDIR.
	SOCKDIR=$(mktemp -d /tmp/wapi-log.XXXXXX)
	SOCK=$SOCKDIR/log
	LOG=$BATS_TEST_TMPDIR/syslog
	: > "$LOG"
	# Not remembered for crash_all (make_orphan): killed by the teardown.
	SINK_PID=$(sh -c '"$@" > /dev/null 2> "$0" < /dev/null & echo $!' \
	    "$BATS_TEST_TMPDIR/sink.err" "$top_builddir/tests/wapictl/logsink" \
	    "$SOCK" "$LOG" 300 3>&-)
	wait_until [ -S "$SOCK" ] ||
	    fail "logsink did not bind $SOCK: $(cat "$BATS_TEST_TMPDIR/sink.err")"
}

teardown() {
	[ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2> /dev/null
	wapictl_teardown
	rm -rf "$SOCKDIR"
}

# logged ARGS...: wapictl with its syslog going to the sink.  A sanitizer
# build wants its runtime first; the preload's order does not matter.
logged() {
	WAPI_TEST_DEVLOG=$SOCK LD_PRELOAD=$DEVLOG_SO \
	    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    "$WAPICTL" "$@"
}

# run_logged STATUS ARGS...: run logged, its stderr apart; skip where the
# preload cannot redirect (another architecture, no seccomp).
run_logged() {
	local want=$1
	shift
	run "-$want" --separate-stderr logged "$@"
	if [[ $stderr == *"devlog.so: unsupported"* ]]; then
		skip "${stderr#*devlog.so: }"
	fi
}

# wait_lines N: until the sink has written N lines; then exactly N.
wait_lines() {
	wait_until [ "$(wc -l < "$LOG")" -ge "$1" ] ||
	    fail "$(wc -l < "$LOG") lines logged, not $1: $(cat "$LOG")"
	sleep 0.2
	[ "$(wc -l < "$LOG")" -eq "$1" ] ||
	    fail "$(wc -l < "$LOG") lines logged, not $1: $(cat "$LOG")"
}

# The head of a line: priority 13 (user.notice) or 12 (user.warning), a
# time stamp, the ident wapictl and its pid.
NOTICE='^<13>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} wapictl\[[0-9]+\]: '

@test "clean removing an orphaned file logs one line: user.notice, ident wapictl, path, verdict, reason, uid" {
	make_orphan
	local seg
	seg=$(seg_of "$STATE")
	run_logged 0 clean
	assert_output --partial "removed ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
	if [ -n "$seg" ]; then
		wait_lines 2
		run grep -E "${NOTICE}clean: removed $seg; verdict orphaned; reason: segment of the anchor $STATE, removed: no process holds it" "$LOG"
		assert_success
	else
		wait_lines 1
	fi
	run grep -cE "${NOTICE}clean: removed $STATE; verdict orphaned; reason: no process holds it.*; uid $(id -u)\$" "$LOG"
	assert_output 1
	[ ! -e "$STATE" ]
}

@test "clean -n and clean --no-syslog log nothing; the clean after them does" {
	make_orphan
	run_logged 0 clean -n
	assert_output --partial "would-remove"
	run_logged 0 clean --no-syslog -n
	[ -e "$STATE" ]
	run_logged 0 clean --no-syslog
	assert_output --partial "removed ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
	[ ! -e "$STATE" ]
	# The sink hears a clean that logs: it would have heard those.
	mkdir -p "$D"
	"$MKSTATE" "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.OLD111"
	touch -d '2 minutes ago' "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.OLD111"
	run_logged 0 clean
	wait_lines 1
	run grep -cE "${NOTICE}clean: removed $D/.$WAPI_SHARED_HOSTNAME.$ABI.state.OLD111; verdict temporary; reason: creation temporary modified 2m[0-9]*s? ago; uid $(id -u)\$" "$LOG"
	assert_output 1
}

@test "a removal that fails: user.warning with the error, exit 4" {
	[ "$(id -u)" != 0 ] || skip "root removes from a read-only directory"
	make_orphan
	chmod 0500 "$D"
	run_logged 4 clean
	chmod 0700 "$D"
	[[ $stderr == *"cannot remove: Permission denied"* ]]
	[ -e "$STATE" ]
	wait_lines 1
	run grep -cE "^<12>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} wapictl\[[0-9]+\]: clean: could not remove $STATE: Permission denied; verdict orphaned; reason: no process holds it.*; uid $(id -u)\$" "$LOG"
	assert_output 1
}

@test "an orphaned segment and an old temporary: a line each" {
	need_segments
	make_orphan
	local seg
	seg=$(seg_of "$STATE")
	rm "$STATE"
	touch -d '2 minutes ago' "$seg"
	"$MKSTATE" "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.OLD222"
	touch -d '3 minutes ago' "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.OLD222"
	run_logged 0 clean
	assert_output --partial "removed 2 files, kept 0"
	wait_lines 2
	run grep -E "${NOTICE}clean: removed $seg; verdict orphaned; reason: no process holds it; its anchor ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state is gone" "$LOG"
	assert_success
	run grep -E "${NOTICE}clean: removed $D/.$WAPI_SHARED_HOSTNAME.$ABI.state.OLD222; verdict temporary; reason: creation temporary modified 3m" "$LOG"
	assert_success
}

@test "a crashed Mono state: its files and its semaphore set, a line each" {
	mkdir -m 700 "$D"
	local out="$BATS_TEST_TMPDIR/mono" pid key id
	spawn "$out" "$LEGACY" v12 hold "$D" "$WAPI_SHARED_HOSTNAME" > /dev/null
	wait_until grep -q '^ready' "$out" || fail "$(cat "$out.err")"
	read -r _ pid key < "$out"
	remember_pid "$pid"
	kill -9 "$pid"
	wait_until pid_gone "$pid"
	id=$(ipcs -s | awk -v k="$key" '$1 == k { print $2 }')
	[ -n "$id" ] || fail "no set of key $key in ipcs -s"
	run_logged 0 clean
	assert_output --partial "semaphore set key $key removed"
	wait_lines 3
	run grep -cE "${NOTICE}clean: removed $D/shared_(data|fileshare)-$WAPI_SHARED_HOSTNAME-[^;]+; verdict legacy; " "$LOG"
	assert_output 2
	run grep -cE "${NOTICE}clean: removed semaphore set key $key id $id; verdict legacy; reason: .*not in use" "$LOG"
	assert_output 1
}

@test "stop --kill logs the pid it killed; --no-syslog does not" {
	start_client -e ev
	local helper=$HELPER_PID
	kill -STOP "$helper"
	run_logged 0 stop -w 1 --kill
	assert_output --partial "killed helper pid $helper"
	wait_until pid_gone "$helper"
	wait_lines 1
	run grep -cE "${NOTICE}stop: sent SIGKILL to helper pid $helper of $STATE; reason: --kill, and it had not left 1 s after the request to leave; uid $(id -u)\$" "$LOG"
	assert_output 1

	start_client -e ev2
	helper=$HELPER_PID
	kill -STOP "$helper"
	run_logged 0 stop -w 1 --kill --no-syslog
	assert_output --partial "killed helper pid $helper"
	wait_until pid_gone "$helper"
	sleep 0.3
	wait_lines 1
}

@test "no syslog listening, and no /dev/log: clean works and says the same" {
	make_orphan
	rm -rf "$SOCKDIR"
	run_logged 0 clean
	assert_output --partial "removed ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
	assert_equal "$stderr" ""
	[ ! -e "$STATE" ]
	if [ ! -e /dev/log ]; then
		make_orphan
		run -0 --separate-stderr "$WAPICTL" clean
		assert_output --partial "removed ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
		assert_equal "$stderr" ""
		[ ! -e "$STATE" ]
	fi
}

@test "clean -q, for cron: silent without news; what was removed and the summary on stdout, what needs a person on stderr" {
	# nothing: no word, unless -v
	run -0 --separate-stderr "$WAPICTL" -q clean --no-syslog
	assert_output ""
	assert_equal "$stderr" ""
	run -0 "$WAPICTL" -q clean -v --no-syslog
	assert_output "~/home/.wapi: nothing to clean"
	# a live file only: no word
	start_client -e ev
	run -0 --separate-stderr "$WAPICTL" -q clean --no-syslog
	assert_output ""
	assert_equal "$stderr" ""
	crash_all "$STATE"
	# -n removes nothing: no news
	run -0 --separate-stderr "$WAPICTL" -q clean -n --no-syslog
	assert_output ""
	# a removal: its line and the summary
	run -0 --separate-stderr "$WAPICTL" -q clean --no-syslog
	assert_line --index 0 --partial "removed ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned: no process holds it"
	assert_line --index 1 "~/home/.wapi: removed 1 file, kept 0"
	assert_equal "$stderr" ""
	# kept for a person: on stderr only, and the summary with -v
	start_client -e ev3
	flip_byte "$STATE" 60
	run -1 --separate-stderr "$WAPICTL" -q clean --no-syslog
	assert_output ""
	[[ $stderr == *"kept ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: corrupt"* ]]
	run -1 --separate-stderr "$WAPICTL" -q clean -v --no-syslog
	assert_output --regexp '^~/home/\.wapi: removed 0 files, kept [12]$'
	[[ $stderr == *"kept ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: corrupt"* ]]
}

@test "clean -q on a terminal still says there is nothing to clean" {
	command -v script > /dev/null || skip "no script(1) to give a terminal"
	run -0 script -qec "'$WAPICTL' -q clean --no-syslog" /dev/null
	assert_output --partial "~/home/.wapi: nothing to clean"
}
