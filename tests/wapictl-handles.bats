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
