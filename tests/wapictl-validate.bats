#!/usr/bin/env bats
# wapictl validate: files held and not held, every problem located, -v,
# FILE arguments, JSON, -q, busy table lock.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() {
	# A test that made the segment directory a link puts it back.
	if [ -n "${SEGDIR:-}" ] && [ -L "$SEGDIR" ]; then
		rm -f "$SEGDIR"
		mv "$SEGDIR.real" "$SEGDIR"
	fi
	wapictl_teardown
}

# The type byte of handle slot N becomes 99: one located problem or more.
break_slot() {
	"$PATCH" "$1" type "$2" 99
}

# How validate names a segment: "SEGMENT (segment of ~/ANCHOR)".
seg_shown() {
	echo "$1 (segment of ~${2#"$HOME"})"
}

# Pair tests need a memory file system for the segments.
@test "a live file validates under its table lock: ok, exit 0" {
	start_client -e ev -m mx -s se -u 4
	run -0 "$WAPICTL" validate
	assert_line --index 0 "~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: ok"
	if [ -n "$SEGDIR" ]; then
		# The anchor's header, then its segment's tables.
		assert_line --index 1 "$(seg_shown "$(seg_of "$STATE")" "$STATE"): ok"
		assert_equal "${#lines[@]}" 2
	else
		assert_equal "${#lines[@]}" 1
	fi
	run -0 "$WAPICTL" -q validate
	assert_output ""
}

@test "an orphaned file validates read-only: ok, and it is left unchanged" {
	make_orphan
	local before tables
	tables=$(live_header_of "$STATE")
	before=$(sha256sum < "$STATE")$(sha256sum < "$tables")
	run -0 "$WAPICTL" validate
	assert_output --partial ": ok"
	refute_output --partial "problem"
	assert_equal "$(sha256sum < "$STATE")$(sha256sum < "$tables")" "$before"
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

@test "a truncated segment: corrupt, located in the segment, exit 1" {
	need_segments
	make_orphan
	local seg
	seg=$(seg_of "$STATE")
	truncate -s 8192 "$seg"
	run -1 "$WAPICTL" validate
	assert_line --index 0 --partial "$WAPI_SHARED_HOSTNAME.$ABI.state: ok"
	assert_line --index 1 --partial "$(seg_shown "$seg" "$STATE"): corrupt: "
	assert_line --index 2 --regexp '^  file @40: file is 8192 bytes but its header says [0-9]+$'
}

@test "a bit flipped in the header: corrupt, checksum located" {
	make_orphan
	flip_byte "$STATE" 60
	run -1 "$WAPICTL" validate
	assert_output --partial "corrupt"
	assert_output --regexp 'header.* @[0-9]+: '
}

@test "a bit flipped in the segment's header: corrupt, located in the segment" {
	need_segments
	make_orphan
	local seg
	seg=$(seg_of "$STATE")
	flip_byte "$seg" 60
	run -1 "$WAPICTL" validate
	assert_line --index 0 "~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: ok"
	assert_line --index 1 --partial "$(seg_shown "$seg" "$STATE"): corrupt: "
	assert_line --regexp '^  header @368: checksum '
	assert_line --regexp '^  header @56: host name "[^"]*\\x[0-9a-f]{2}[^"]*": '
}

@test "a bit flipped in a table of a file nobody holds: the slot is named" {
	make_orphan
	local tables
	tables=$(live_header_of "$STATE")
	break_slot "$tables" 0
	run -1 "$WAPICTL" validate
	assert_output --partial "handles[0] @$(($(handle_offset "$tables" 0) + 4)): type 99"
}

@test "a bit flipped in a table of a live file: found under the lock" {
	start_client -e ev -m mx
	local tables
	tables=$(live_header_of "$STATE")
	# refs of slot 0 (offset 12 in its entry) no longer match the clients
	printf '\x07' | dd of="$tables" bs=1 seek=$(($(handle_offset "$tables" 0) + 12)) conv=notrunc status=none
	run -1 "$WAPICTL" validate
	assert_output --partial "handles[0] @$(($(handle_offset "$tables" 0) + 12)): refs is 7"
	run -0 "$WAPICTL" status -o VERDICT -n
	refute_output --partial "corrupt"	# the header is fine: still live
	assert_output --partial "live"
}

@test "a live pair: a bit flipped in the segment's tables, found under its lock, in the segment's row" {
	need_segments
	start_client -e ev -m mx
	local seg off
	seg=$(seg_of "$STATE")
	off=$(($(handle_offset "$seg" 0) + 12))
	printf '\x07' | dd of="$seg" bs=1 seek=$off conv=notrunc status=none
	run -1 "$WAPICTL" validate
	assert_line --index 0 "~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: ok"
	assert_line --index 1 --partial "$(seg_shown "$seg" "$STATE"): corrupt: "
	assert_line --partial "  handles[0] @$off: refs is 7"
	# JSON: the anchor's row, then the segment's rows, each with its path.
	run -1 --separate-stderr "$WAPICTL" -J validate
	run "$JQ" -e --arg a "$STATE" --arg s "$seg" --argjson off "$off" '.validate[0] == {"path": $a, "result": "ok", "problems": 0, "where": null, "index": null, "offset": null, "problem": null} and ([.validate[1:][] | .path == $s and .result == "corrupt"] | all) and ([.validate[1:][] | select(.where == "handles" and .index == 0 and .offset == $off)] | length == 1)' <<< "$output"
	assert_success
	# Under the segment's table lock: held elsewhere, validate is busy.
	hold_lock
	run -3 "$WAPICTL" validate
	assert_output --partial "$(seg_shown "$seg" "$STATE"): table lock held by pid"
}

@test "an anchor whose segment is gone: held, a finding with the reason; unheld, what clean acts on" {
	need_segments
	start_client -e ev
	local seg
	seg=$(seg_of "$STATE")
	rm "$seg"
	run -1 "$WAPICTL" validate
	assert_line --index 0 "~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: incomplete: 1 problem"
	assert_line --index 1 --partial "  header @1280: its segment $seg is gone, while the state is held (by the helper and 1 client): they go on with it"
	assert_equal "${#lines[@]}" 2
	run -1 --separate-stderr "$WAPICTL" -J validate
	run "$JQ" -e --arg a "$STATE" --arg s "$seg" '.validate | length == 1 and .[0].path == $a and .[0].result == "incomplete" and .[0].problems == 1 and .[0].where == "header" and .[0].index == null and .[0].offset == 1280 and (.[0].problem | startswith("its segment " + $s + " is gone"))' <<< "$output"
	assert_success
	crash_all "$STATE"
	run -1 "$WAPICTL" validate
	assert_line --index 0 "~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: incomplete: 1 problem"
	assert_line --index 1 --partial "  header @1280: its segment $seg is gone, and nobody holds the state (orphaned): nothing of its tables is left; 'wapictl clean' removes this file"
}

@test "an anchor whose segment or its directory is a symbolic link: never followed" {
	need_segments
	make_orphan
	local seg
	seg=$(seg_of "$STATE")
	seg_to_symlink "$seg"
	run -1 "$WAPICTL" validate
	assert_line --index 0 "~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: incomplete: 1 problem"
	assert_line --index 1 --partial "  header @1280: its segment $seg: "
	assert_line --index 1 --partial "is a symbolic link, and nobody holds the state (orphaned): 'wapictl clean' removes this file"
	refute_output --partial "elsewhere"
	refute_output --partial "ok"
	rm "$seg"
	mv "$SEGDIR/elsewhere" "$seg"
	run -0 "$WAPICTL" validate
	# The directory a link to the real one: not followed either.
	mv "$SEGDIR" "$SEGDIR.real"
	ln -s "$SEGDIR.real" "$SEGDIR"
	run -1 "$WAPICTL" validate
	assert_line --index 1 --partial "  header @1280: its segment's directory $SEGDIR: "
	refute_output --partial "ok"
	rm "$SEGDIR"
	mv "$SEGDIR.real" "$SEGDIR"
}

@test "another host's anchor: its segment checked when here, else said to be on that host" {
	need_segments
	WAPI_SHARED_HOSTNAME=there start_client -e there
	local st="$D/there.$ABI.state" seg
	seg=$(seg_of "$st")
	run -0 "$WAPICTL" -A validate
	assert_line "~/home/.wapi/there.$ABI.state: ok"
	assert_line "$(seg_shown "$seg" "$st"): ok"
	crash_all "$st"
	rm "$seg"
	run -0 "$WAPICTL" -H there validate
	assert_output "~/home/.wapi/there.$ABI.state: ok (an anchor of host there: its tables are in $seg on that host, not checked here)"
}

@test "a segment named on the command line: validated alone, naming its anchor" {
	need_segments
	start_client -e ev -m mx
	local seg
	seg=$(seg_of "$STATE")
	run -0 "$WAPICTL" validate "$seg"
	assert_output "$(seg_shown "$seg" "$STATE"): ok"
	# Held: copied under its own table lock.
	hold_lock
	run -3 "$WAPICTL" validate "$seg"
	assert_output --partial "$(seg_shown "$seg" "$STATE"): table lock held by pid"
	crash_all "$STATE"
	break_slot "$seg" 0
	run -1 "$WAPICTL" validate "$seg"
	assert_line --index 0 --partial "$(seg_shown "$seg" "$STATE"): corrupt: "
	assert_output --partial "  handles[0] @$(($(handle_offset "$seg" 0) + 4)): type 99"
	# The anchor named: the pair, the problem in the segment's row.
	run -1 "$WAPICTL" validate "$STATE"
	assert_line --index 0 "~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: ok"
	assert_line --index 1 --partial "$(seg_shown "$seg" "$STATE"): corrupt: "
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
	local f="$BATS_TEST_TMPDIR/v/shrinking.state" tables size i changed=0
	mkdir -m 0700 "$BATS_TEST_TMPDIR/v"
	# The tables: a segment, or a whole file.  A copy validated alone,
	# then (a pair) the segment in place, through its anchor: 15 runs
	# each.
	tables=$(live_header_of "$STATE")
	cp --sparse=always "$tables" "$f"
	chmod 0600 "$f"
	size=$(stat -c %s "$f")
	for target in "$f" "$STATE"; do
		[ "$target" = "$STATE" ] && f=$tables
		[ "$f" = "$STATE" ] && break	# a whole file: copied already
		# The file shrinks under a reader and grows again, as when a
		# client re-initialises it, here without the lock bytes, as any
		# program may; the header stays, so that validate gets past it
		# and reads on.
		local shrinker
		shrinker=$(spawn "$BATS_TEST_TMPDIR/shrinker" sh -c 'while :; do
			truncate -s 4096 "$0"; truncate -s "$1" "$0"; done' "$f" "$size")
		for i in $(seq 1 15); do
			run --separate-stderr timeout 60 "$WAPICTL" validate "$target"
			[ "$status" -lt 124 ] ||
			    fail "$target, run $i: validate died or hung (exit $status): $stderr"
			if [[ "$stderr" == *"changed while being read"* ]]; then
				[ "$status" = 3 ] || fail "changed, but exit $status"
				changed=$((changed + 1))
			fi
		done
		kill "$shrinker"
		echo "$target: changed while being read: $changed of 15" >&3
		changed=0
	done
}
