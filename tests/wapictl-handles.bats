#!/usr/bin/env bats
# wapictl handles: the handle table of a real client, numbers as clients
# use them, -t, -o, -r, -n, JSON.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() { wapictl_teardown; }

@test "a live client's events, mutex and semaphore, with owner and state" {
	start_client -e ev-a -m mx-a -s se-a -u 2
	run -0 "$WAPICTL" handles
	assert_line --index 0 --regexp '^ *HANDLE +TYPE +REFS +SIGNALLED +OWNER +NAME +DETAILS'
	assert_line --regexp "^ +[0-9]+ +event +1 +no +ev-a +manual-reset"
	assert_line --regexp "^ +[0-9]+ +mutex +1 +no +$CLIENT_PID +mx-a +owned by pid $CLIENT_PID"
	assert_line --regexp "^ +[0-9]+ +semaphore +1 +yes +se-a +count 1 of 10"
	assert_equal "$(grep -c ' auto-reset' <<< "$output")" 2
}

@test "JSON: documented keys, numbers and booleans typed" {
	start_client -e ev-a -m mx-a -s se-a
	run -0 --separate-stderr "$WAPICTL" -J handles -o HANDLE,SLOT,GEN,TYPE,REFS,NAME,SIGNALLED,OWNER,WAITERS,CHANGED,DETAILS,HOST,PATH
	local json=$output
	run "$JQ" -e --arg p "$STATE" '.handles | length == 3 and (.[0] | keys == (["handle","slot","gen","type","refs","name","signalled","owner","waiters","changed","details","host","path"] | sort)) and (.[0].handle | type) == "number" and (.[2].signalled == true) and (.[0].signalled == false) and .[0].path == $p' <<< "$output"
	assert_success
	run "$JQ" -e --argjson pid "$CLIENT_PID" '.handles[] | select(.type == "mutex") | .owner == $pid' <<< "$json"
	assert_success
}

@test "-t filters by type, several with commas; -o -r -n" {
	start_client -e ev-a -m mx-a -s se-a -u 1
	run -0 "$WAPICTL" handles -t mutex -o TYPE,NAME -n -r
	assert_output "mutex mx-a"
	run -0 "$WAPICTL" handles --type event,semaphore -o TYPE -n -r
	assert_equal "${#lines[@]}" 3
	run -0 "$WAPICTL" handles -t process -n
	assert_output ""
}

@test "the number shown is the one clients use: index+1 | generation << 21" {
	mkdir -m 700 "$D"
	"$MKSTATE" -p "$STATE"
	"$PATCH" "$STATE" gen 0 5
	"$PATCH" "$STATE" gen 1 2049	# 0x801: only 11 bits go in the number
	run -0 --separate-stderr "$WAPICTL" -J handles -o HANDLE,SLOT,GEN
	run "$JQ" -e '.handles[0] == {"handle": (1 + 5 * 2097152), "slot": 0, "gen": 5} and .handles[1] == {"handle": (2 + 1 * 2097152), "slot": 1, "gen": 2049}' <<< "$output"
	assert_success
}

@test "an orphaned file is listed without locking; a corrupt one is refused" {
	make_orphan
	run -0 "$WAPICTL" handles -o NAME -n
	assert_output --partial "orphan-ev"
	truncate -s 3000 "$STATE"
	run -1 "$WAPICTL" handles
	assert_output --partial "corrupt"
	assert_output --partial "wapictl validate"
}

@test "the table listed is the one in the segment (a whole file's own)" {
	make_orphan
	local tables slot
	tables=$(live_header_of "$STATE")
	run -0 --separate-stderr "$WAPICTL" -J handles -o SLOT,NAME
	slot=$("$JQ" -r '.handles[] | select(.name == "orphan-ev") | .slot' <<< "$output")
	[ -n "$slot" ]
	"$PATCH" "$tables" gen "$slot" 5
	run -0 --separate-stderr "$WAPICTL" -J handles -o HANDLE,SLOT,GEN,NAME
	run "$JQ" -e --argjson s "$slot" '[.handles[] | select(.name == "orphan-ev")] == [{"handle": ($s + 1 + 5 * 2097152), "slot": $s, "gen": 5, "name": "orphan-ev"}]' <<< "$output"
	assert_success
}

@test "an anchor whose segment is gone: said with the reason and what to do, exit 4" {
	need_segments
	start_client -e ev-a
	local seg
	seg=$(seg_of "$STATE")
	rm "$seg"
	run -4 --separate-stderr "$WAPICTL" handles
	assert_output ""
	assert_equal "$stderr" "wapictl: ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: its handles cannot be listed: held by the helper and 1 client; its segment $seg is gone: new processes join it through its helper while one runs, else use private handles until all have left; 'wapictl status -v' shows who holds it"
	crash_all "$STATE"
	run -4 --separate-stderr "$WAPICTL" handles
	assert_output ""
	assert_equal "$stderr" "wapictl: ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: its handles cannot be listed: its segment $seg is gone and nobody holds the state (orphaned): nothing of its tables is left; 'wapictl clean' removes this file"
	# The other files are listed all the same.
	WAPI_SHARED_HOSTNAME=other start_client -e other-ev
	run -4 --separate-stderr "$WAPICTL" -A handles -o NAME -n
	assert_output "other-ev"
}

@test "an anchor whose segment is another file: refused, never followed" {
	need_segments
	make_orphan
	local seg
	seg=$(seg_of "$STATE")
	seg_to_symlink "$seg"
	run -4 --separate-stderr "$WAPICTL" handles
	assert_output ""
	assert_regex "$stderr" "its handles cannot be listed: its segment $seg: .*symbolic link; run 'wapictl validate' for details\$"
}

@test "another host's anchor: listed from its segment when here, else said to be on that host" {
	need_segments
	WAPI_SHARED_HOSTNAME=there start_client -e there-ev
	local st="$D/there.$ABI.state" seg
	seg=$(seg_of "$st")
	run -0 "$WAPICTL" -H there handles -o NAME -n
	assert_output "there-ev"
	crash_all "$st"
	rm "$seg"
	run -4 --separate-stderr "$WAPICTL" -H there handles
	assert_output ""
	assert_equal "$stderr" "wapictl: ~/home/.wapi/there.$ABI.state: its handles cannot be listed here: an anchor of host there, its tables are in $seg on that host"
}

@test "with the table lock held elsewhere it says so and shows a snapshot" {
	start_client -e ev-a
	hold_lock
	run -0 "$WAPICTL" handles -o NAME
	assert_output --partial "table lock busy"
	assert_output --partial "ev-a"
	run -0 "$WAPICTL" -q handles
	assert_output ""
}

@test "-A lists every host's handles with a HOST column" {
	start_client -e here
	WAPI_SHARED_HOSTNAME=there start_client -e there
	run -0 "$WAPICTL" -A handles -o +NAME -r -n
	assert_line --regexp "^$WAPI_SHARED_HOSTNAME .* here\$"
	assert_line --regexp '^there .* there$'
	run -0 "$WAPICTL" -H there handles -o NAME -n
	assert_output "there"
}

@test "no state file: nothing listed, exit 0" {
	run -0 "$WAPICTL" handles
	assert_output ""
	run -0 --separate-stderr "$WAPICTL" -J handles
	run "$JQ" -e '.handles == []' <<< "$output"
	assert_success
}
