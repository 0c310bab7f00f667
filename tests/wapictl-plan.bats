#!/usr/bin/env bats
# One decision, said and done: what status says 'wapictl clean' does with
# each entry, what clean -n says it would do and what clean then does are
# the same, for every kind of entry the suites make.  Also the contracts
# around it: --force-host needs -A or -H, a directory given with -d must
# be there, names wapi does not make are listed and never removed, and a
# file kept for a person says the next step.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() { wapictl_teardown; }

# plan_of JSON: "PATH<TAB>remove|keep" lines, sorted, from status -J
# (its REASON) or clean -J (its ACTION).
status_plan() {
	"$JQ" -r --arg w "'wapictl clean' removes it" '.status[] |
	    "\(.path)\t\(if (.reason | endswith($w)) then "remove" else "keep" end)"' |
	    LC_ALL=C sort
}
clean_plan() {
	"$JQ" -r '.clean[] |
	    "\(.path)\t\(if .action == "would-remove" or .action == "removed" then "remove" else "keep" end)"' |
	    LC_ALL=C sort
}

# agree: status -A, clean -A -n and clean -A agree on every entry, and
# the files are as clean says (gone when removed, there when kept).  The
# plan is left in $PLAN for the caller's own checks.
agree() {
	local st dry real path act
	st=$("$WAPICTL" -A -J status -o PATH,VERDICT,REASON 2> /dev/null) || true
	dry=$("$WAPICTL" -A -J clean -n 2> /dev/null) || true
	status_plan <<< "$st" > "$BATS_TEST_TMPDIR/plan.status"
	clean_plan <<< "$dry" > "$BATS_TEST_TMPDIR/plan.dry"
	[ -s "$BATS_TEST_TMPDIR/plan.status" ] || fail "status listed nothing"
	diff "$BATS_TEST_TMPDIR/plan.status" "$BATS_TEST_TMPDIR/plan.dry" ||
	    fail "status and clean -n disagree: $st $dry"
	real=$("$WAPICTL" -A -J clean 2> /dev/null) || true
	clean_plan <<< "$real" > "$BATS_TEST_TMPDIR/plan.real"
	diff "$BATS_TEST_TMPDIR/plan.dry" "$BATS_TEST_TMPDIR/plan.real" ||
	    fail "clean -n and clean disagree: $dry $real"
	while IFS=$'\t' read -r path act; do
		if [ "$act" = remove ]; then
			[ ! -e "$path" ] && [ ! -L "$path" ] ||
			    fail "$path: said removed, still there"
		else
			[ -e "$path" ] || [ -L "$path" ] ||
			    fail "$path: said kept, gone"
		fi
	done < "$BATS_TEST_TMPDIR/plan.real"
	PLAN=$(cat "$BATS_TEST_TMPDIR/plan.real")
	STATUS_JSON=$st
}

# planned PATH ACTION: agree's plan for PATH is ACTION.
planned() {
	grep -qxF "$1	$2" <<< "$PLAN" || fail "$1 is not planned $2: $PLAN"
}

# The entries that live side by side with this host's state file: another
# host's crashed state, temporaries (fresh, old, old with mode 0644), a
# state name of another ABI, a stray file, a Mono state nobody uses.
side_entries() {
	local h=$WAPI_SHARED_HOSTNAME
	"$MKSTATE" "$D/.$h.$ABI.state.NEW123"
	"$MKSTATE" "$D/.$h.$ABI.state.OLD123"
	touch -d '2 minutes ago' "$D/.$h.$ABI.state.OLD123"
	"$MKSTATE" "$D/.$h.$ABI.state.RWR644"
	chmod 644 "$D/.$h.$ABI.state.RWR644"
	touch -d '2 minutes ago' "$D/.$h.$ABI.state.RWR644"
	printf 'not ours' > "$D/vm.i686.state"
	chmod 600 "$D/vm.i686.state"
	printf 'junk' > "$D/randomjunk"
	"$LEGACY" v7 exit "$D" "$h" > /dev/null
	touch -d '2 days ago' "$D"/shared_*
}

@test "status, clean -n and clean agree on every kind of entry" {
	local h=$WAPI_SHARED_HOSTNAME seg

	# live, with everything that may sit beside it
	WAPI_SHARED_HOSTNAME=far start_client -e far
	crash_all "$D/far.$ABI.state"
	start_client -e ev
	side_entries
	agree
	planned "$STATE" keep
	planned "$D/far.$ABI.state" keep
	planned "$D/.$h.$ABI.state.NEW123" keep
	planned "$D/.$h.$ABI.state.OLD123" remove
	planned "$D/.$h.$ABI.state.RWR644" keep
	planned "$D/vm.i686.state" keep
	planned "$D/randomjunk" keep
	[ "$(grep -c '/shared_.*	remove$' <<< "$PLAN")" = 2 ] ||
	    fail "the Mono files are not removed: $PLAN"
	run "$JQ" -e --arg p "$D/vm.i686.state" --arg r "$D/randomjunk" \
	    '[.status[] | select(.path == $p or .path == $r) | .verdict] == ["unknown", "incompatible"] or
	     [.status[] | select(.path == $p or .path == $r) | .verdict] == ["incompatible", "unknown"]' <<< "$STATUS_JSON"
	assert_success
	# fresh now, it would cross the minute during a later round
	rm "$D/.$h.$ABI.state.NEW123"
	crash_all "$STATE"

	# orphaned (its segment goes with it)
	seg=$(seg_of "$STATE")
	agree
	planned "$STATE" remove
	[ -z "$seg" ] || [ ! -e "$seg" ]

	# stale-boot
	make_orphan
	"$PATCH" "$STATE" boot 00000000-1111-2222-3333-444444444444
	seg=$(seg_of "$STATE")
	[ -z "$seg" ] || rm "$seg"
	agree
	planned "$STATE" remove

	# corrupt, nobody holds it; its segment, young, stays
	make_orphan
	truncate -s 2000 "$STATE"
	agree
	planned "$STATE" remove

	# corrupt, held by a client (the segment the truncated anchor left,
	# made old first: no round sees it cross the grace)
	[ -z "$SEGDIR" ] ||
	    find "$SEGDIR" -type f -exec touch -d '2 minutes ago' {} +
	start_client -e held
	flip_byte "$STATE" 20
	agree
	planned "$STATE" keep
}

@test "segments: young and old ones whose anchor is gone agree too" {
	need_segments
	local seg
	make_orphan
	seg=$(seg_of "$STATE")
	rm "$STATE"
	agree
	planned "$seg" keep
	touch -d '2 minutes ago' "$seg"
	agree
	planned "$seg" remove
}

@test "--force-host needs -A or -H: exit 2 with the reason" {
	mkdir -m 700 "$D"
	run -2 "$WAPICTL" clean --force-host --older-than 1d
	assert_output --partial "--force-host needs -A or -H HOST"
	run -2 "$WAPICTL" -H "$WAPI_SHARED_HOSTNAME" clean --force-host --older-than 1d
	assert_output --partial "--force-host needs -A or -H HOST"
	run -2 "$WAPICTL" -A clean --force-host
	assert_output --partial "needs --older-than"
	run -0 "$WAPICTL" -A clean --force-host --older-than 1d
	run -0 "$WAPICTL" -H far clean --force-host --older-than 1d
}

@test "a directory given with -d must be there: exit 4 with the reason; the default may be missing" {
	run -4 --separate-stderr "$WAPICTL" -d "$BATS_TEST_TMPDIR/nonexistent" status
	assert_output ""
	[[ $stderr == *"~/nonexistent: no such directory (given with -d)"* ]] ||
	    fail "$stderr"
	for c in clean handles stop; do
		run -4 "$WAPICTL" -d "$BATS_TEST_TMPDIR/nonexistent" "$c"
		assert_output --partial "no such directory (given with -d)"
	done
	run -4 "$WAPICTL" -q -d "$BATS_TEST_TMPDIR/nonexistent" clean
	assert_output --partial "nonexistent"
	# a file, not a directory
	: > "$BATS_TEST_TMPDIR/afile"
	run -4 "$WAPICTL" -d "$BATS_TEST_TMPDIR/afile" status
	assert_output --partial "cannot use the directory given with -d"
	assert_output --partial "afile"
	if [ "$(id -u)" -ne 0 ]; then
		mkdir -m 000 "$BATS_TEST_TMPDIR/closed"
		run -4 "$WAPICTL" -d "$BATS_TEST_TMPDIR/closed" status
		assert_output --partial "closed"
		chmod 700 "$BATS_TEST_TMPDIR/closed"
	fi
	# WAPI_SHARED_DIR names the default: missing, nothing to show
	[ ! -e "$D" ]
	run -0 "$WAPICTL" status
	assert_output ""
}

@test "names wapi does not make: listed as incompatible or unknown, never removed" {
	mkdir -m 700 "$D"
	printf 'x' > "$D/vm.i686.state"
	chmod 600 "$D/vm.i686.state"
	printf 'x' > "$D/randomjunk"
	touch -d '30 days ago' "$D/vm.i686.state" "$D/randomjunk"
	run -0 "$WAPICTL" -A status -o PATH,HOST,ABI,VERDICT -r -n
	assert_line "$D/randomjunk   unknown"
	assert_line "$D/vm.i686.state vm i686 incompatible"
	# this host's view lists the stray file, not another host's name
	run -0 "$WAPICTL" status -o PATH,VERDICT -r -n
	assert_output "$D/randomjunk unknown"
	run -0 "$WAPICTL" -H vm status -o PATH,VERDICT -r -n
	assert_output "$D/vm.i686.state incompatible"
	run -0 --separate-stderr "$WAPICTL" -A -J clean -n
	run "$JQ" -e '[.clean[] | .action] == ["would-keep", "would-keep"] and
	    (.clean[] | select(.verdict == "unknown") | .reason | contains("never removed"))' <<< "$output"
	assert_success
	run -0 "$WAPICTL" -A clean --force-host --older-than 0
	assert_output --partial "kept ~/home/.wapi/randomjunk: unknown: not a name wapi gives its files; not a file of wapi's: never removed"
	assert_output --partial "kept ~/home/.wapi/vm.i686.state: incompatible: the name of a state file of ABI i686"
	[ -e "$D/vm.i686.state" ]
	[ -e "$D/randomjunk" ]
}

@test "a file kept for a person says the next step" {
	make_orphan
	chmod 644 "$STATE"
	run -1 "$WAPICTL" clean
	assert_output --partial "accessible by group or others (mode 0644)"
	assert_output --partial "chmod 600 ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state if a program of yours uses it"
	[ -e "$STATE" ]
	run -4 --separate-stderr "$WAPICTL" status
	[[ $stderr == *"chmod 600 ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state"* ]] ||
	    fail "$stderr"
	run "$JQ" -e '.status[0].reason | contains("wapictl clean'"'"' keeps it: never followed nor removed; check it with ls -l; chmod 600")' \
	    <<< "$("$WAPICTL" -J status 2> /dev/null)"
	assert_success
	rm "$STATE"
	# an old temporary of mode 0644: status said clean removes it, and
	# clean kept it; now both say kept, and why, and what to do
	local tmp="$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.RWR644"
	"$MKSTATE" "$tmp"
	chmod 644 "$tmp"
	touch -d '2 minutes ago' "$tmp"
	run -1 --separate-stderr "$WAPICTL" status -o PATH,REASON -r -n
	refute_output --partial "removes it"
	[[ $stderr == *"chmod 600 ~/home/.wapi/.$WAPI_SHARED_HOSTNAME.$ABI.state.RWR644"* ]] ||
	    fail "$stderr"
	run -1 "$WAPICTL" clean
	assert_output --partial "kept ~/home/.wapi/.$WAPI_SHARED_HOSTNAME.$ABI.state.RWR644: temporary"
	[ -e "$tmp" ]
	# a symbolic link: see where it points, remove the link by hand
	rm -f "$STATE" "$tmp"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$STATE"
	run -1 "$WAPICTL" clean
	assert_output --partial "remove the link by hand"
	[ -L "$STATE" ]
}
