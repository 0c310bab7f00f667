#!/usr/bin/env bats
# wapictl status and clean with the tables in a segment (wapi-state(5),
# "Anchor and segment"): real clients, real segments in the test's own
# segment directory ($SEGDIR).  Each case gets its documented verdict, no
# live data is lost, nothing is followed through a link, another user's
# files are never touched.

load wapictl/helpers

setup() {
	wapictl_setup
	[ -n "$SEGDIR" ] || skip "no memory file system for segments here"
}
teardown() {
	[ -n "${DISKDIR:-}" ] && rm -rf "$DISKDIR"
	wapictl_teardown
}

# The segment of the state file, which must be an anchor.
anchor_seg() {
	SEG=$(seg_of "$STATE")
	[ -n "$SEG" ] || fail "$STATE is no anchor"
	[[ $SEG == "$SEGDIR"/wapi-* ]] || fail "its segment $SEG is not in $SEGDIR"
}

# A 32-bit field of a header, at a byte offset.
u32_at() {
	od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '
}

@test "a reboot empties the segment directory: orphaned, stale-boot once another boot, then the next client starts afresh without a word" {
	make_orphan
	anchor_seg
	local old=$SEG
	rm "$SEG"
	run -1 --separate-stderr "$WAPICTL" -J status -o PATH,VERDICT,PLACE,SEGMENT,REASON
	run "$JQ" -e --arg p "$STATE" --arg s "$old" '.status | length == 1 and .[0].path == $p and .[0].verdict == "orphaned" and .[0].place == "segment" and .[0].segment == $s and (.[0].reason | contains("its segment " + $s + " is gone"))' <<< "$output"
	assert_success
	# ... and made in another boot: stale-boot
	"$PATCH" "$STATE" boot 00000000-1111-2222-3333-444444444444
	run -1 "$WAPICTL" status -o VERDICT,REASON -n
	assert_output --partial "stale-boot"
	assert_output --partial "created in boot 00000000"
	# the next client re-initialises it in place, with a new segment
	start_client -e after
	assert_equal "$CLIENT_PATH" "$STATE"
	run cat "$CLIENT_OUT.err"
	assert_output ""
	anchor_seg
	[ "$SEG" != "$old" ]
	[ -f "$SEG" ]
	[ ! -e "$old" ]
	run -0 --separate-stderr "$WAPICTL" -J status -o VERDICT,PLACE,SEGMENT,SEG-SIZE,SEG-RSS,CLIENTS
	run "$JQ" -e --arg s "$SEG" '.status | length == 1 and .[0].verdict == "live" and .[0].place == "segment" and .[0].segment == $s and .[0]."seg-size" > 4096 and .[0]."seg-rss" > 0 and .[0]."clients-live" == 1 and .[0]."clients-recorded" == 1' <<< "$output"
	assert_success
	[ "$(stat -c %s "$STATE")" = 4096 ]
}

@test "a segment whose anchor is gone: temporary while it may be one being made, then orphaned and removed" {
	make_orphan
	anchor_seg
	rm "$STATE"
	# young: a temporary (as when a creator is killed before its anchor
	# is in place), not a finding
	run -0 --separate-stderr "$WAPICTL" -J status -o PATH,VERDICT,PLACE,SEGMENT,REASON,HANDLES,SEG-SIZE
	run "$JQ" -e --arg s "$SEG" '.status | length == 1 and .[0].path == $s and .[0].verdict == "temporary" and .[0].place == "segment" and .[0].segment == $s and .[0]."handles-used" == 2 and .[0]."handles-capacity" == 65536 and .[0]."seg-size" > 4096 and (.[0].reason | test("its anchor ~/home/[.]wapi/.* is gone; made less than 60 s ago"))' <<< "$output"
	assert_success
	run -0 "$WAPICTL" clean
	assert_output --partial "kept $SEG: temporary: no process holds it; its anchor ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state is gone; made less than 60 s ago"
	assert_output --partial "may be one being made, kept until it is 60 s old"
	assert_output --partial "removed 0 files, kept 1"
	[ -f "$SEG" ]
	# older than the grace: a finding, and clean removes it
	touch -d '2 minutes ago' "$SEG"
	run -1 --separate-stderr "$WAPICTL" status -o PATH,VERDICT -n
	assert_output --regexp "^$SEG +orphaned$"
	[[ $stderr == *"$SEG: orphaned segment (no process holds it; its anchor"*"run 'wapictl clean'"* ]]
	run -0 "$WAPICTL" clean -n
	assert_output --partial "would-remove $SEG: orphaned"
	[ -f "$SEG" ]
	run -0 --separate-stderr "$WAPICTL" -J clean
	run "$JQ" -e --arg s "$SEG" '.clean == [{"path": $s, "verdict": "orphaned", "action": "removed", "reason": .clean[0].reason}]' <<< "$output"
	assert_success
	[ ! -e "$SEG" ]
	run -0 "$WAPICTL" clean
	assert_output "~/home/.wapi: nothing to clean"
	run -0 "$WAPICTL" status -n
	assert_output ""
}

@test "a segment whose anchor now belongs to another segment: orphaned, removed; the live one untouched" {
	make_orphan
	anchor_seg
	local old=$SEG
	touch -d '2 minutes ago' "$old"
	# another state made under the same name (its own segment)
	mv "$STATE" "$BATS_TEST_TMPDIR/old-anchor"
	start_client -e new-ev
	anchor_seg
	[ "$SEG" != "$old" ]
	run -1 --separate-stderr "$WAPICTL" -J status -o PATH,VERDICT,REASON
	run "$JQ" -e --arg s "$old" --arg p "$STATE" '.status | length == 2 and .[0].path == $p and .[0].verdict == "live" and .[1].path == $s and .[1].verdict == "orphaned" and (.[1].reason | contains("belongs to another segment"))' <<< "$output"
	assert_success
	run -0 "$WAPICTL" clean
	assert_output --partial "removed $old: orphaned"
	assert_output --partial "kept ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: live"
	[ ! -e "$old" ]
	[ -f "$SEG" ]
	run -0 "$WAPICTL" status -o VERDICT -n
	assert_output "live"
}

@test "an anchor whose segment is gone (a crash, then the segment removed): orphaned; clean removes the anchor" {
	make_orphan
	anchor_seg
	rm "$SEG"
	run -1 --separate-stderr "$WAPICTL" status -o VERDICT,REASON -n
	assert_output --partial "orphaned"
	assert_output --partial "its segment $SEG is gone"
	run -0 "$WAPICTL" clean
	assert_output --partial "removed ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
	assert_output --partial "removed 1 file, kept 0"
	[ ! -e "$STATE" ]
	run -0 "$WAPICTL" clean
	assert_output "~/home/.wapi: nothing to clean"
}

@test "clean removes an orphaned anchor and its segment together; -n says so" {
	make_orphan
	anchor_seg
	run -0 "$WAPICTL" clean -n
	assert_output --partial "would-remove ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
	assert_output --partial "its segment $SEG would be removed too"
	[ -f "$SEG" ]
	run -0 "$WAPICTL" clean
	assert_output --partial "its segment $SEG removed too"
	[ ! -e "$STATE" ]
	[ ! -e "$SEG" ]
}

@test "a copy of an anchor elsewhere names the same segment: cleaning the copy keeps the live segment" {
	start_client -e ev
	anchor_seg
	local other="$BATS_TEST_TMPDIR/other/.wapi"
	mkdir -p -m 700 "$BATS_TEST_TMPDIR/other" "$other"
	cp "$STATE" "$other/$WAPI_SHARED_HOSTNAME.$ABI.state"
	chmod 600 "$other/$WAPI_SHARED_HOSTNAME.$ABI.state"
	run -0 "$WAPICTL" -d "$other" clean
	assert_output --partial "removed ~/other/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
	assert_output --partial "its segment $SEG names another anchor: kept"
	[ ! -e "$other/$WAPI_SHARED_HOSTNAME.$ABI.state" ]
	[ -f "$SEG" ]
	run -0 "$WAPICTL" status -o VERDICT,PLACE -n
	assert_output --regexp '^live +segment$'
}

@test "the segment removed under live clients: live, a new client rejoins the same tables through the helper, clean removes nothing" {
	start_client -e shared-ev
	local first=$CLIENT_PID helper=$HELPER_PID
	anchor_seg
	rm "$SEG"
	run -0 --separate-stderr "$WAPICTL" -J status -o VERDICT,PLACE,SEGMENT,REASON
	run "$JQ" -e --arg s "$SEG" '.status | length == 1 and .[0].verdict == "live" and .[0].place == "segment" and .[0].segment == $s and (.[0].reason | contains("its segment " + $s + " is gone: new processes join it through its helper"))' <<< "$output"
	assert_success
	# a new client opens the first one's event and makes one of its own
	start_client -e shared-ev -e second-ev
	assert_equal "$CLIENT_PATH" "$STATE"
	run cat "$CLIENT_OUT.err"
	assert_output ""
	# both are in the tables the helper and the first client map
	local fd tables=
	for fd in /proc/"$helper"/fd/*; do
		[ "$(readlink "$fd")" = "$SEG (deleted)" ] && tables=$fd
	done
	[ -n "$tables" ] || fail "the helper holds no descriptor of $SEG"
	# handles_used (552): shared-ev once, second-ev; clients_used (560)
	assert_equal "$(u32_at "$tables" 552)" 2
	assert_equal "$(u32_at "$tables" 560)" 2
	grep -q "^[0-9a-f-]* .* $SEG (deleted)$" "/proc/$first/maps"
	grep -q "^[0-9a-f-]* .* $SEG (deleted)$" "/proc/$CLIENT_PID/maps"
	run -0 --separate-stderr "$WAPICTL" -J status -o VERDICT,CLIENTS
	run "$JQ" -e '.status | length == 1 and .[0].verdict == "live" and .[0]."clients-live" == 2' <<< "$output"
	assert_success
	# nothing is removed: not the anchor, and no segment is made again
	run -0 "$WAPICTL" clean
	assert_output --partial "kept ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: live"
	assert_output --partial "removed 0 files, kept 1"
	[ -f "$STATE" ]
	run ls -A "$SEGDIR"
	assert_output ""
}

@test "a segment still held but named by no anchor: live, kept" {
	start_client -e ev
	anchor_seg
	mv "$STATE" "$BATS_TEST_TMPDIR/moved-anchor"
	run -0 --separate-stderr "$WAPICTL" -J status -o PATH,VERDICT,REASON
	run "$JQ" -e --arg s "$SEG" '.status | length == 1 and .[0].path == $s and .[0].verdict == "live" and (.[0].reason | test("^held by [0-9]+ process(es)?, but no anchor names it: its anchor .* is gone$"))' <<< "$output"
	assert_success
	touch -d '2 minutes ago' "$SEG"
	run -0 "$WAPICTL" clean
	assert_output --partial "kept $SEG: live: held by"
	[ -f "$SEG" ]
}

@test "a segment directory on a disk file system: the client works with its tables in the file, status says why" {
	DISKDIR="$BATS_TEST_TMPDIR/segdisk"
	case $(stat -f -c %T "$BATS_TEST_TMPDIR") in
	tmpfs|ramfs) DISKDIR="$top_builddir/tests/segdisk.$$.$BATS_TEST_NUMBER" ;;
	esac
	mkdir -m 700 "$DISKDIR"
	case $(stat -f -c %T "$DISKDIR") in
	tmpfs|ramfs) skip "no disk file system to try here" ;;
	esac
	export WAPI_SEGMENT_DIR=$DISKDIR
	start_client -e ev
	assert_equal "$CLIENT_PATH" "$STATE"
	run cat "$CLIENT_OUT.err"
	assert_output ""
	[ "$(stat -c %s "$STATE")" -gt 4096 ]
	[ -z "$(seg_of "$STATE")" ]
	run ls -A "$DISKDIR"
	assert_output ""
	run -0 --separate-stderr "$WAPICTL" -J status -o VERDICT,PLACE,SEGMENT,SEG-RSS,REASON
	run "$JQ" -e --arg d "$DISKDIR" '.status | length == 1 and .[0].verdict == "live" and .[0].place == "file" and .[0].segment == null and .[0]."seg-rss" == null and (.[0].reason | endswith("its tables are in the file: WAPI_SEGMENT_DIR: " + $d + " is not a memory file system (tmpfs)"))' <<< "$output"
	assert_success
	# WAPI_SEGMENT_DIR=none is a choice: said, no finding
	WAPI_SEGMENT_DIR=none run -0 "$WAPICTL" status -o PLACE,REASON -n
	assert_output --regexp '^file +held by .*; its tables are in the file: WAPI_SEGMENT_DIR=none$'
	# the client still works: another one shares its event
	start_client -e ev
	run -0 "$WAPICTL" status -o CLIENTS,HANDLES -n
	assert_output --regexp '^ *2/2 +1/65536$'
}

@test "a symbolic link named as a segment is never followed nor removed through; its target is untouched" {
	make_orphan
	anchor_seg
	# a real orphaned segment, moved out of the directory: removable if
	# it were reached through the link
	rm "$STATE"
	mkdir "$BATS_TEST_TMPDIR/outside"
	local victim="$BATS_TEST_TMPDIR/outside/victim" sum
	mv "$SEG" "$victim"
	touch -d '2 minutes ago' "$victim"
	sum=$(cksum < "$victim")
	ln -s "$victim" "$SEG"
	touch -h -d '2 minutes ago' "$SEG"
	run -4 --separate-stderr "$WAPICTL" -J status -o PATH,VERDICT,PLACE,REASON
	run "$JQ" -e --arg s "$SEG" '.status == [{"path": $s, "verdict": "unreadable", "place": "-", "reason": .status[0].reason}] and (.status[0].reason | contains("symbolic link"))' <<< "$output"
	assert_success
	run -1 "$WAPICTL" clean
	assert_output --partial "kept $SEG: unreadable"
	assert_output --partial "is a symbolic link; never followed nor removed"
	run -1 "$WAPICTL" clean --older-than 0
	[ -L "$SEG" ]
	[ -f "$victim" ]
	assert_equal "$(cksum < "$victim")" "$sum"
	# an anchor path that is a link: the segment whose header names it is
	# kept, since nothing can tell whether that anchor is its own
	rm "$SEG"
	mv "$victim" "$SEG"
	ln -s "$BATS_TEST_TMPDIR/outside/nothing" "$STATE"
	run -1 "$WAPICTL" clean
	assert_output --partial "kept $SEG: unreadable: its anchor ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state cannot be looked at"
	[ -f "$SEG" ]
	[ -L "$STATE" ]
}

@test "another user's segment is shown with -A only and never removed, not even with --force-host" {
	local uid other mine
	uid=$(id -u)
	other=$((uid == 65534 ? 65533 : 65534))
	# a file named for another uid, and, as root, one named for us but
	# owned by another user
	other="$SEGDIR/wapi-$other-$WAPI_SHARED_HOSTNAME.$ABI-00000000000000aa"
	printf 'not ours' > "$other"
	touch -d '2 days ago' "$other"
	mine=
	if [ "$uid" = 0 ]; then
		mine="$SEGDIR/wapi-0-$WAPI_SHARED_HOSTNAME.$ABI-00000000000000bb"
		printf 'not ours either' > "$mine"
		chown 65534 "$other" "$mine"
		touch -d '2 days ago' "$mine"
	fi
	run -0 "$WAPICTL" status -n
	assert_output ""
	run -0 "$WAPICTL" clean
	assert_output "~/home/.wapi: nothing to clean"
	run -0 --separate-stderr "$WAPICTL" -A -J status -o PATH,VERDICT,REASON
	run "$JQ" -e --arg o "$other" '.status | map(select(.path == $o and .verdict == "foreign" and (.reason | test("^another user.s segment .*: never touched$")))) | length == 1' <<< "$output"
	assert_success
	run -0 "$WAPICTL" -A clean --force-host --older-than 0
	assert_output --partial "kept $other: foreign: another user's segment"
	[ -f "$other" ]
	assert_equal "$(cat "$other")" "not ours"
	if [ -n "$mine" ]; then
		assert_output --partial "kept $mine: foreign: another user's segment (uid 0 in its name, owned by uid 65534)"
		[ -f "$mine" ]
		assert_equal "$(stat -c %u "$mine")" 65534
	fi
}
