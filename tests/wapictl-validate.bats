#!/usr/bin/env bats
# wapictl validate: files held and not held, every problem located, -v,
# FILE arguments, JSON, -q, busy table lock.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() { wapictl_teardown; }

# The type byte of handle slot N becomes 99: one located problem or more.
break_slot() {
	"$PATCH" "$1" type "$2" 99
}

@test "a live file validates under its table lock: ok, exit 0" {
	start_client -e ev -m mx -s se -u 4
	run -0 "$WAPICTL" validate
	assert_output "~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: ok"
	run -0 "$WAPICTL" -q validate
	assert_output ""
}

@test "an orphaned file validates read-only: ok, and it is left unchanged" {
	make_orphan
	local before
	before=$(sha256sum < "$STATE")
	run -0 "$WAPICTL" validate
	assert_output --partial ": ok"
	assert_equal "$(sha256sum < "$STATE")" "$before"
}

@test "a truncated file: corrupt with the location, exit 1" {
	make_orphan
	truncate -s 100 "$STATE"
	run -1 "$WAPICTL" validate
	assert_output --partial ": corrupt: 1 problem"
	assert_output --regexp 'file @100: .*shorter than'
	truncate -s 8192 "$STATE"
	run -1 "$WAPICTL" validate
	assert_output --partial "corrupt"
}

@test "a bit flipped in the header: corrupt, checksum located" {
	make_orphan
	flip_byte "$STATE" 60
	run -1 "$WAPICTL" validate
	assert_output --partial "corrupt"
	assert_output --regexp 'header.* @[0-9]+: '
}

@test "a bit flipped in a table of a file nobody holds: the slot is named" {
	make_orphan
	break_slot "$STATE" 0
	run -1 "$WAPICTL" validate
	assert_output --partial "handles[0] @$(($(handle_offset "$STATE" 0) + 4)): type 99"
}

@test "a bit flipped in a table of a live file: found under the lock" {
	start_client -e ev -m mx
	# refs of slot 0 (offset 12 in its entry) no longer match the clients
	printf '\x07' | dd of="$STATE" bs=1 seek=$(($(handle_offset "$STATE" 0) + 12)) conv=notrunc status=none
	run -1 "$WAPICTL" validate
	assert_output --partial "handles[0] @$(($(handle_offset "$STATE" 0) + 12)): refs is 7"
	run -0 "$WAPICTL" status -o VERDICT -n
	refute_output --partial "corrupt"	# the header is fine: still live
	assert_output --partial "live"
}

@test "without -v the first 5 problems and a count; -v shows all" {
	mkdir -m 700 "$D"
	"$MKSTATE" -p "$STATE"
	for s in 0 1 2 3 4 5 6 7; do break_slot "$STATE" $s; done
	run -1 "$WAPICTL" validate
	assert_output --regexp 'corrupt: [0-9]+ problems'
	assert_output --regexp '\.\.\. and [0-9]+ more \(all of them with -v\)'
	assert_equal "$(grep -c '^  [a-z-]*\[' <<< "$output")" 5
	local total
	total=$(sed -n 's/.*corrupt: \([0-9]*\) problems/\1/p' <<< "$output")
	run -1 "$WAPICTL" validate -v
	refute_output --partial "more (all"
	assert_equal "$(grep -c '^  ' <<< "$output")" "$total"
}

@test "FILE arguments: any path, each checked; a missing one exits 4" {
	mkdir -m 700 "$BATS_TEST_TMPDIR/f"
	"$MKSTATE" -p "$BATS_TEST_TMPDIR/f/a.state"
	"$MKSTATE" -p "$BATS_TEST_TMPDIR/f/b.state"
	break_slot "$BATS_TEST_TMPDIR/f/b.state" 2
	run -0 "$WAPICTL" validate "$BATS_TEST_TMPDIR/f/a.state"
	run -1 "$WAPICTL" validate "$BATS_TEST_TMPDIR/f/a.state" "$BATS_TEST_TMPDIR/f/b.state"
	assert_output --partial "a.state: ok"
	assert_output --partial "b.state: corrupt"
	run -4 "$WAPICTL" validate "$BATS_TEST_TMPDIR/f/nonexistent"
	assert_output --partial "nonexistent"
	ln -s "$BATS_TEST_TMPDIR/f/a.state" "$BATS_TEST_TMPDIR/f/link.state"
	run -4 "$WAPICTL" validate "$BATS_TEST_TMPDIR/f/link.state"
	assert_output --partial "symbolic link"
}

@test "JSON: one row per problem with its location, documented keys" {
	mkdir -m 700 "$D"
	"$MKSTATE" -p "$STATE"
	break_slot "$STATE" 0
	run -1 --separate-stderr "$WAPICTL" -J validate
	run "$JQ" -e --arg p "$STATE" '.validate[0] | keys == (["path","result","problems","where","index","offset","problem"] | sort) and .path == $p and .result == "corrupt" and .where == "handles" and .index == 0 and (.offset|type) == "number" and (.problems|type) == "number"' <<< "$output"
	assert_success
	"$MKSTATE" -p "$STATE"
	run -0 --separate-stderr "$WAPICTL" -J validate
	run "$JQ" -e '.validate == [{"path": .validate[0].path, "result": "ok", "problems": 0, "where": null, "index": null, "offset": null, "problem": null}]' <<< "$output"
	assert_success
}

@test "a live file whose table lock stays held: busy, exit 3" {
	start_client -e ev
	hold_lock
	run -3 "$WAPICTL" validate
	assert_output --partial "table lock held by pid"
	assert_output --partial "try again later"
}

@test "a held file with a corrupt header is reported, not locked" {
	start_client -e ev
	flip_byte "$STATE" 60
	run -1 "$WAPICTL" validate
	assert_output --partial "corrupt"
}

@test "no state file: says so, exit 0; -q silent" {
	run -0 "$WAPICTL" validate
	assert_output --partial "no state file"
	run -0 "$WAPICTL" -q validate
	assert_output ""
}

@test "a file truncated and grown again while validate reads it: never a crash" {
	make_orphan
	local f="$BATS_TEST_TMPDIR/v/shrinking.state" size i changed=0
	mkdir -m 0700 "$BATS_TEST_TMPDIR/v"
	cp --sparse=always "$STATE" "$f"
	chmod 0600 "$f"
	size=$(stat -c %s "$f")
	# The file shrinks under a reader and grows again, as when a client
	# re-initialises it, here without the lock bytes, as any program may;
	# the header stays, so that validate gets past it and reads on.
	spawn "$BATS_TEST_TMPDIR/shrinker" sh -c 'while :; do
		truncate -s 4096 "$0"; truncate -s "$1" "$0"; done' "$f" "$size" \
	    > /dev/null
	for i in $(seq 1 30); do
		run --separate-stderr timeout 60 "$WAPICTL" validate "$f"
		[ "$status" -lt 124 ] ||
		    fail "run $i: validate died or hung (exit $status): $stderr"
		if [[ "$stderr" == *"changed while being read"* ]]; then
			[ "$status" = 3 ] || fail "changed, but exit $status"
			changed=$((changed + 1))
		fi
	done
	echo "changed while being read: $changed of 30" >&3
}
