#!/usr/bin/env bats
# wapictl status: every verdict produced for real, the columns, JSON, -v.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() { wapictl_teardown; }

@test "a live client: verdict live, helper alive, one client, exit 0" {
	start_client -e ev1 -m mx1 -s se1
	[ "$CLIENT_PATH" = "$STATE" ]
	run -0 "$WAPICTL" status
	assert_line --partial "$STATE"
	assert_output --partial "live"
	run -0 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -e --arg p "$STATE" '.status[0] | .path == $p and .verdict == "live" and ."helper-alive" == true and ."helper-state" == "yes" and (.helper | type) == "number" and ."clients-live" == 1 and ."clients-recorded" == 1' <<< "$output"
	assert_success
}

@test "JSON has the documented keys, numbers typed as numbers" {
	start_client -e ev1
	run -0 --separate-stderr "$WAPICTL" -J status -o PATH,HOST,ABI,VERDICT,REASON,HELPER,HELPER-ALIVE,CLIENTS,HANDLES,SIZE,AGE,HEARTBEAT,LOCK,BOOT
	run "$JQ" -e '.status[0] | keys == (["path","host","abi","verdict","reason","helper","helper-alive","helper-state","clients-live","clients-recorded","handles-used","handles-capacity","size","age","heartbeat","lock","boot"] | sort)' <<< "$output"
	assert_success
	run -0 --separate-stderr "$WAPICTL" -J status -o PATH,HOST,ABI,VERDICT,REASON,HELPER,HELPER-ALIVE,CLIENTS,HANDLES,SIZE,AGE,HEARTBEAT,LOCK
	run "$JQ" -e --arg h "$WAPI_SHARED_HOSTNAME" --arg a "$ABI" '.status[0] | (.size|type) == "number" and (.age|type) == "number" and (.heartbeat|type) == "number" and .lock == null and .host == $h and .abi == $a' <<< "$output"
	assert_success
}

@test "default columns, -o, -o +COLUMN, -r and -n" {
	start_client
	run -0 "$WAPICTL" status
	assert_line --index 0 --regexp '^PATH +VERDICT +HELPER +HELPER-ALIVE +CLIENTS +HANDLES +AGE +HEARTBEAT +LOCK +REASON'
	run -0 "$WAPICTL" status -o VERDICT,CLIENTS -n
	assert_output --regexp '^live +1/1$'
	run -0 "$WAPICTL" status -o verdict -r
	assert_equal "${lines[0]}" "VERDICT"
	assert_equal "${lines[1]}" "live"
	run -0 "$WAPICTL" status --output +BOOT -n -r
	assert_output --partial "$(cat /proc/sys/kernel/random/boot_id)"
	run -0 "$WAPICTL" status --raw --noheadings -o PATH
	assert_output "$STATE"
}

@test "-v adds counts by type and the client slots" {
	start_client -e ev1 -e ev2 -m mx1 -s se1 -u 3
	run -0 "$WAPICTL" status -v
	assert_output --partial "EVENTS"
	assert_output --regexp "SLOT +PID +ALIVE"
	run -0 --separate-stderr "$WAPICTL" -J status -v
	run "$JQ" -e --argjson pid "$CLIENT_PID" 'keys_unsorted == ["status","clients"] and .status[0].events == 5 and .status[0].mutexes == 1 and .status[0].semaphores == 1 and (.clients | map(select(.pid == $pid and .alive == true)) | length) == 1' <<< "$output"
	assert_success
}

@test "after kill -9 of everything: orphaned, helper pid named dead, exit 1" {
	make_orphan
	run -1 "$WAPICTL" status
	assert_output --partial "orphaned"
	assert_output --partial "wapictl: ~/home/.wapi/$WAPI_SHARED_HOSTNAME.$ABI.state: orphaned"
	assert_output --partial "run 'wapictl clean'"
	run -1 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -e --argjson h "$HELPER_PID" '.status[0] | .verdict == "orphaned" and .helper == $h and ."helper-alive" == false and (."helper-state" == "no" or ."helper-state" == "dead(pid reused)") and ."clients-live" == 0 and ."clients-recorded" == 1' <<< "$output"
	assert_success
}

@test "a recorded helper pid that now names another process: dead(pid reused)" {
	make_orphan
	sleep 1000 3>&- &
	remember_pid $!
	# the helper fields of the live header (an anchor's segment)
	"$PATCH" "$(live_header_of "$STATE")" helper $! 1
	run -1 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -e '.status[0]."helper-alive" == false and .status[0]."helper-state" == "dead(pid reused)"' <<< "$output"
	assert_success
	run -1 "$WAPICTL" status -o REASON -n
	assert_output --partial "pid reused"
}

@test "another boot id: stale-boot, exit 1" {
	make_orphan
	"$PATCH" "$STATE" boot 00000000-1111-2222-3333-444444444444
	# a reboot empties the memory file system: its segment is gone too
	local seg
	seg=$(seg_of "$STATE")
	[ -z "$seg" ] || rm "$seg"
	run -1 "$WAPICTL" status -o VERDICT,REASON -n
	assert_output --partial "stale-boot"
	assert_output --partial "00000000"
}

@test "truncated and bit-flipped files: corrupt, exit 1, not held and held" {
	make_orphan
	cp "$STATE" "$D/$WAPI_SHARED_HOSTNAME.i386.state.bak"
	truncate -s 2000 "$STATE"
	run -1 "$WAPICTL" status -o VERDICT,REASON -n
	assert_output --partial "corrupt"
	assert_output --partial "run 'wapictl validate'"
	# a flipped byte in the checksummed header of a file a client holds
	rm -f "$STATE" "$D"/*.bak
	start_client -e e1
	flip_byte "$STATE" 20
	run -1 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -e '.status[0].verdict == "corrupt" and (.status[0].reason | test("held"))' <<< "$output"
	assert_success
}

@test "another host's file written by a process with another host name: foreign" {
	WAPI_SHARED_HOSTNAME=elsewhere start_client -e far
	local other="$D/elsewhere.$ABI.state"
	[ "$CLIENT_PATH" = "$other" ]
	# held: live, whoever's it is
	run -0 --separate-stderr "$WAPICTL" -H elsewhere -J status -o +HOST
	run "$JQ" -e '.status[0].verdict == "live" and .status[0].host == "elsewhere"' <<< "$output"
	assert_success
	# not shown for this host, shown with -A and -H
	run -0 "$WAPICTL" status -n
	assert_output ""
	crash_all "$other"
	run -0 --separate-stderr "$WAPICTL" -A -J status -o +HELPER-ALIVE
	run "$JQ" -e '.status[0].verdict == "foreign" and .status[0]."helper-alive" == null and .status[0]."helper-state" == "unknown"' <<< "$output"
	assert_success
	run -0 "$WAPICTL" -A status
	assert_line --index 0 --regexp '^HOST +PATH'
}

@test "another host's client in its own UTS and PID namespaces: foreign" {
	unshare --uts --pid --fork --mount-proc true 2> /dev/null ||
	    skip "unshare of UTS and PID namespaces not allowed here"
	local out="$BATS_TEST_TMPDIR/ns.out" nspid
	# The host name comes from gethostname() inside the namespace; the
	# client is the namespace's init, so killing it kills its helper too.
	nspid=$(spawn "$out" unshare --uts --pid --fork --mount-proc \
	    --kill-child sh -c \
	    'hostname nsbox && WAPI_SHARED_HOSTNAME= exec "$0" -e ns' "$TCLIENT")
	wait_until grep -q '^ready' "$out"
	run -0 --separate-stderr "$WAPICTL" -A -J status -o +HELPER-ALIVE
	run "$JQ" -e '.status[] | select(.host == "nsbox") | .verdict == "live"' <<< "$output"
	assert_success
	# its pids mean nothing here: "unknown", never "dead"
	run "$JQ" -e '.status[] | select(.host == "nsbox") | ."helper-alive" == null and ."helper-state" == "unknown"' <<< "$output"
	kill -9 "$nspid"
	wait_until verdict_is "$D/nsbox.$ABI.state" foreign
	run -0 --separate-stderr "$WAPICTL" -H nsbox -J status
	run "$JQ" -e '.status[0].verdict == "foreign"' <<< "$output"
	assert_success
}

@test "temporaries and legacy Mono files are listed with their verdicts" {
	mkdir -m 700 "$D"
	: > "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.Ab12Cd"
	chmod 600 "$D/.$WAPI_SHARED_HOSTNAME.$ABI.state.Ab12Cd"
	"$LEGACY" v7 exit "$D" "$WAPI_SHARED_HOSTNAME" > /dev/null
	run -0 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -e '[.status[].verdict] | sort == ["legacy","legacy","temporary"]' <<< "$output"
	assert_success
	run -0 "$WAPICTL" status -o REASON -n
	assert_output --partial "not in use"
}

@test "the table lock holder is shown in LOCK" {
	start_client
	hold_lock
	run -0 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -e --argjson p "$LOCKPID" '.status[0].lock == $p' <<< "$output"
	assert_success
	kill "$LOCKPID"
	wait_until pid_gone "$LOCKPID"
	run -0 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -e '.status[0].lock == null' <<< "$output"
	assert_success
}

@test "-q prints nothing when all is well, only the findings otherwise" {
	start_client
	run -0 "$WAPICTL" -q status
	assert_output ""
	crash_all "$STATE"
	run -1 "$WAPICTL" -q status
	assert_output --partial "orphaned"
	refute_output --partial "VERDICT"
}

@test "another format version: incompatible, reported but not a finding" {
	make_orphan
	"$PATCH" "$STATE" version 99
	run -0 "$WAPICTL" status -o VERDICT,REASON -n
	assert_output --partial "incompatible"
	run -1 "$WAPICTL" validate "$STATE"
	assert_output --partial "incompatible"
}

@test "a file open to group or others: unreadable, exit 4, with the reason" {
	make_orphan
	chmod 644 "$STATE"
	run -4 "$WAPICTL" status -o VERDICT,REASON -n
	assert_output --partial "unreadable"
	assert_output --partial "accessible by group or others"
}

@test "a helper that stopped beating is shown as not answering: exit 1, with the next step" {
	start_client -e ev
	kill -STOP "$HELPER_PID"
	# the heartbeat of the live header (an anchor's segment)
	"$PATCH" "$(live_header_of "$STATE")" heartbeat 60
	run -1 --separate-stderr "$WAPICTL" -J status -o VERDICT,HELPER-ALIVE,REASON
	kill -CONT "$HELPER_PID"
	run "$JQ" -e '.status[0] | .verdict == "live" and ."helper-alive" == true and ."helper-state" == "not-answering" and (.reason | test("helper pid [0-9]+ not answering: last heartbeat 6[0-9] s ago"))' <<< "$output"
	assert_success
	assert_equal "$(grep -c "is not answering (last heartbeat" <<< "$stderr")" 1
	grep -q "'wapictl stop --kill' ends it" <<< "$stderr"
	# once it runs again, its next heartbeat (every 2 s) says so
	wait_until "$WAPICTL" -q status
	run -0 "$WAPICTL" status -n -o HELPER-ALIVE
	assert_output "yes"
}
