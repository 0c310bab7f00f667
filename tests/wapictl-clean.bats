#!/usr/bin/env bats
# wapictl clean: removes only orphaned, stale-boot, unheld corrupt state,
# old temporaries and unused legacy files (wapictl-mono.bats); never through a link, never a
# swapped file, never a live file; explains each decision.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() {
	[ -n "${LOOPSTOP:-}" ] && touch "$LOOPSTOP"
	wapictl_teardown
}

@test "an orphaned file (kill -9 of everything) is removed; a second run finds nothing" {
	make_orphan
	run -0 "$WAPICTL" clean
	assert_line --partial "removed ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
	assert_output --partial "removed 1 file, kept 0"
	[ ! -e "$STATE" ]
	run -0 "$WAPICTL" clean
	assert_output "~/home/.wapi: nothing to clean"
	run -0 "$WAPICTL" -q clean
	assert_output ""
}

@test "-n says what it would do and why, and changes nothing" {
	make_orphan
	local before
	before=$(stat -c '%i %Y %s' "$STATE")
	run -0 "$WAPICTL" clean -n
	assert_output --partial "would-remove ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned: no process holds it"
	assert_output --partial "would remove 1 file, kept 0"
	assert_equal "$(stat -c '%i %Y %s' "$STATE")" "$before"
	run -0 "$WAPICTL" clean --dry-run
	[ -e "$STATE" ]
}

@test "a live file is kept, with the reason, exit 0" {
	start_client -e ev
	run -0 "$WAPICTL" clean
	assert_output --partial "kept ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: live: held by"
	[ -e "$STATE" ]
	run -0 "$WAPICTL" clean -n
	assert_output --partial "would-keep"
	run -0 "$WAPICTL" -q clean
	assert_output ""
}

@test "a stale-boot file is removed" {
	make_orphan
	"$PATCH" "$STATE" boot 00000000-1111-2222-3333-444444444444
	# a reboot empties the memory file system: its segment is gone too
	local seg
	seg=$(seg_of "$STATE")
	[ -z "$seg" ] || rm "$seg"
	run -0 "$WAPICTL" clean
	assert_output --partial ": stale-boot: created in boot 00000000"
	[ ! -e "$STATE" ]
}

@test "a corrupt file nobody holds is removed" {
	make_orphan
	truncate -s 1000 "$STATE"
	run -0 "$WAPICTL" clean
	assert_output --partial "removed"
	assert_output --partial "corrupt"
	[ ! -e "$STATE" ]
}

@test "a corrupt file a process holds is kept: exit 1, said on stderr even with -q" {
	start_client -e ev
	flip_byte "$STATE" 60
	run -1 --separate-stderr "$WAPICTL" -q clean
	assert_output ""
	[[ $stderr == *"kept ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: corrupt"* ]]
	[[ $stderr == *"held by"* ]]
	[ -e "$STATE" ]
}

@test "another host's file: kept unless --force-host and a heartbeat older than --older-than" {
	WAPI_SHARED_HOSTNAME=far start_client -e far
	local far="$D/far.$ABI.state"
	# held by its processes: live, kept even with --force-host
	run -0 "$WAPICTL" -A clean --force-host --older-than 0
	assert_output --partial "kept"
	crash_all "$far"
	run -0 "$WAPICTL" -A clean
	assert_output --partial "another host's file is removed only with --force-host --older-than"
	[ -e "$far" ]
	run -0 "$WAPICTL" -H far clean
	[ -e "$far" ]
	"$PATCH" "$far" heartbeat 172800
	run -0 "$WAPICTL" -A clean --force-host --older-than 7d
	assert_output --partial "not older than 7d"
	[ -e "$far" ]
	run -0 "$WAPICTL" -A clean --force-host --older-than 1d
	assert_output --partial "removed"
	[ ! -e "$far" ]
}

@test "--older-than keeps a recently active orphan (exit 1), removes an old one" {
	# the heartbeat is the live header's (an anchor's segment)
	make_orphan
	"$PATCH" "$(live_header_of "$STATE")" heartbeat 30
	run -1 "$WAPICTL" clean --older-than 1h
	assert_output --partial "not older than 1h"
	[ -e "$STATE" ]
	"$PATCH" "$(live_header_of "$STATE")" heartbeat 7200
	run -0 "$WAPICTL" clean --older-than 90m
	[ ! -e "$STATE" ]
	make_orphan
	"$PATCH" "$(live_header_of "$STATE")" heartbeat 100
	run -0 "$WAPICTL" clean --older-than 90
	[ ! -e "$STATE" ]
}

@test "temporaries older than a minute are removed, fresh ones kept" {
	mkdir -m 700 "$D"
	local old="$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.OLD123" new="$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.NEW123"
	"$MKSTATE" "$old"
	"$MKSTATE" "$new"
	touch -d '2 minutes ago' "$old"
	run -0 "$WAPICTL" clean
	assert_output --partial "removed ~/home/.wapi/.$WAPI_SHARED_HOSTNAME.$ABI.state.OLD123: temporary"
	assert_output --partial "kept ~/home/.wapi/.$WAPI_SHARED_HOSTNAME.$ABI.state.NEW123: temporary: creation temporary modified"
	[ ! -e "$old" ]
	[ -e "$new" ]
	run -0 "$WAPICTL" clean --older-than 1h
	[ -e "$new" ]
}

@test "a temporary left as a second name of a live file: only the name goes" {
	start_client -e ev
	local tmp="$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.LINKED"
	ln "$STATE" "$tmp"
	touch -h -d '2 minutes ago' "$tmp"
	touch "$STATE"	# same inode: keep the age check honest
	touch -d '2 minutes ago' "$tmp"
	run -0 "$WAPICTL" clean
	assert_output --partial "second name of"
	[ ! -e "$tmp" ]
	[ -e "$STATE" ]
	run -0 "$WAPICTL" status -o VERDICT -n
	assert_output "live"
}

@test "a symbolic link in the directory is never followed nor removed through" {
	mkdir -m 700 "$D" "$BATS_TEST_TMPDIR/outside"
	local target="$BATS_TEST_TMPDIR/outside/victim.state"
	"$MKSTATE" "$target"	# an orphan: removable if it were followed
	ln -s "$target" "$STATE"
	ln -s "$target" "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.SYMLNK"
	touch -h -d '2 minutes ago' "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.SYMLNK"
	ln -s "$target" "$D/shared_data-$WAPI_SHARED_HOSTNAME-Linux-x86_64-328-12-0"
	run -1 "$WAPICTL" clean
	assert_output --partial "symbolic link"
	[ -e "$target" ]
	[ -L "$STATE" ]
	[ -L "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.SYMLNK" ]
	[ -L "$D/shared_data-$WAPI_SHARED_HOSTNAME-Linux-x86_64-328-12-0" ]
	run -0 "$WAPICTL" validate "$target"
}

@test "a file swapped between the check and the removal is not removed" {
	make_orphan
	local fifo="$BATS_TEST_TMPDIR/pause" other="$BATS_TEST_TMPDIR/home/.wapi/other.tmp"
	mkfifo "$fifo"
	"$MKSTATE" "$other"
	local ino
	ino=$(stat -c %i "$other")
	WAPICTL_TEST_PAUSE_FIFO="$fifo" spawn "$BATS_TEST_TMPDIR/clean.out" "$WAPICTL" clean > /dev/null
	# Opening the FIFO waits for clean to reach its pause; closing it
	# (when sh exits) lets clean go on, after the swap.
	timeout 60 sh -c 'exec 5> "$0"; mv "$1" "$2"' "$fifo" "$other" "$STATE"
	wait_until grep -q 'removed .* file' "$BATS_TEST_TMPDIR/clean.out"
	run cat "$BATS_TEST_TMPDIR/clean.out"
	assert_output --partial "replaced by another file while being checked; not removed"
	assert_output --partial "removed 0 files"
	assert_equal "$(stat -c %i "$STATE")" "$ino"
}

@test "clean looping while clients start and stop never removes a live file" {
	LOOPSTOP="$BATS_TEST_TMPDIR/stop"
	spawn "$BATS_TEST_TMPDIR/loop.out" sh -c \
	    'while [ ! -e "$1" ]; do "$0" -q clean || echo "clean exited $?"; done' "$WAPICTL" "$LOOPSTOP" > /dev/null
	spawn "$BATS_TEST_TMPDIR/churn.out" sh -c \
	    'while [ ! -e "$1" ]; do "$0" -w 0 > /dev/null 2>&1; done' "$TCLIENT" "$LOOPSTOP" > /dev/null
	local i p
	for i in $(seq 1 10); do
		start_client -e "loop$i"
		assert_equal "$CLIENT_PATH" "$STATE"
		local seg mapped
		seg=$(seg_of "$STATE")
		for p in "$CLIENT_PID" "$HELPER_PID"; do
			[ -n "$p" ] || continue
			if [ -n "$seg" ]; then
				# the tables it maps are the segment the file under
				# the name names, and the anchor it holds open is
				# still the file under the name
				mapped=$(awk -v s="$seg" '$6 == s { print $5; exit }' "/proc/$p/maps")
				assert_equal "$mapped" "$(stat -c %i "$seg")"
				stat -L -c '%d:%i' "/proc/$p/fd/"* 2> /dev/null |
				    grep -qx "$(stat -c '%d:%i' "$STATE")"
			else
				# the inode it maps is still the file under the name
				# (the mapping may show the creation temporary's name)
				mapped=$(awk '$6 ~ /\/\.wapi\// { print $5; exit }' "/proc/$p/maps")
				assert_equal "$mapped" "$(stat -c %i "$STATE")"
			fi
		done
		run -0 "$WAPICTL" status -o VERDICT -n
		assert_output "live"
		kill -TERM "$CLIENT_PID"
		wait_until pid_gone "$CLIENT_PID"
	done
	touch "$LOOPSTOP"
	# every clean of the loop succeeded and said nothing
	run cat "$BATS_TEST_TMPDIR/loop.out" "$BATS_TEST_TMPDIR/loop.out.err"
	assert_output ""
}

@test "JSON: one row per file with path, verdict, action and reason" {
	make_orphan
	run -0 --separate-stderr "$WAPICTL" -J clean -n
	run "$JQ" -e --arg p "$STATE" '.clean == [{"path": $p, "verdict": "orphaned", "action": "would-remove", "reason": .clean[0].reason}] and (.clean[0].reason | length > 0)' <<< "$output"
	assert_success
	run -0 --separate-stderr "$WAPICTL" -J clean
	run "$JQ" -e '.clean[0].action == "removed"' <<< "$output"
	assert_success
}

@test "an incompatible file nobody holds is kept for its own build: exit 1" {
	make_orphan
	"$PATCH" "$STATE" version 99
	run -1 "$WAPICTL" clean
	assert_output --partial "incompatible"
	assert_output --partial "left for the build of wapi that made it"
	[ -e "$STATE" ]
}

@test "a Mono file name with an escape sequence and a newline: printed escaped, no forged line" {
	mkdir -m 0700 "$D"
	local name
	name=$(printf 'shared_data-host\n\033[31mX-5-0')
	printf 'x' > "$D/$name"
	chmod 0600 "$D/$name"
	touch -d '2 days ago' "$D/$name"
	run --separate-stderr "$WAPICTL" -A clean -n
	[ "$status" -lt 124 ] || fail "clean died: $status"
	[[ "$output$stderr" != *$'\033'* ]] ||
	    fail "a raw ESC reached the terminal: $output $stderr"
	[[ "$output" == *'shared_data-host\x0a\x1b[31mX-5-0'* ]] ||
	    fail "the name is not shown escaped: $output"
	# Every line is a line of clean's, none begins with the name's tail.
	! printf '%s\n%s\n' "$output" "$stderr" | grep -q '^\[31mX'
	[ -e "$D/$name" ]
}
