#!/usr/bin/env bats
# wapictl waits: real processes (tests/lib/wapi-twait) asleep in waits,
# their rows, the chains between them, a two-process deadlock (exit 1) and
# what a kill leaves.

load wapictl/helpers

setup() {
	wapictl_setup
	TWAIT="$top_builddir/tests/lib/wapi-twait"
	GO="$BATS_TEST_TMPDIR/go"
}
teardown() { wapictl_teardown; }

# twait NAME STEP...: wapi-twait in the background, its output in
# $BATS_TEST_TMPDIR/NAME.out; waits until it said ready; its pid in NAME.
twait() {
	local name=$1 out="$BATS_TEST_TMPDIR/$1.out" pid
	shift
	pid=$(spawn "$out" "$TWAIT" "$@")
	wait_until grep -q '^ready' "$out" || { cat "$out.err" >&2; return 1; }
	printf -v "$name" '%s' "$pid"
}

# The number of threads `wapictl waits' shows asleep.
sleepers() {
	"$WAPICTL" -J waits 2>/dev/null | "$JQ" '.waits | length'
}
sleepers_are() {
	[ "$(sleepers)" = "$1" ]
}

@test "a two-process deadlock is a cycle, exit 1; B killed, A gets m2 abandoned" {
	twait A own=m1 mutex=m2 ready gate="$GO" wait=m2
	twait B own=m2 mutex=m1 ready wait=m1
	touch "$GO"
	wait_until sleepers_are 2
	run -1 "$WAPICTL" waits
	assert_line --index 0 --regexp '^ +PID +TID +WAIT +SINCE +OBJECTS +OWNERS'
	assert_line --regexp "^ +$A +$A +one +[0-9]+s +mutex [0-9]+ 'm2' +pid $B tid $B, owned for [0-9]+s$"
	assert_line --regexp "^ +$B +$B +one +[0-9]+s +mutex [0-9]+ 'm1' +pid $A tid $A, owned for [0-9]+s$"
	assert_line "cycle of 2 threads (a deadlock), ~/home/.wapi/${STATE##*/}:"
	assert_line --regexp "^  pid $A tid $A waits for mutex [0-9]+ 'm2' held by pid $B tid $B, owned for [0-9]+s, asleep:$"
	assert_line --regexp "^  pid $B tid $B waits for mutex [0-9]+ 'm1' held by pid $A tid $A, owned for [0-9]+s, the first: none of them can go on$"
	run -1 "$WAPICTL" waits -o PID,STATE -n -r
	assert_line "$A deadlocked"
	assert_line "$B deadlocked"
	# -q: nothing said, the status still tells.
	run -1 "$WAPICTL" -q waits
	assert_output ""
	kill -9 "$B"
	wait_until grep -q '^wait' "$BATS_TEST_TMPDIR/A.out"
	run grep '^wait' "$BATS_TEST_TMPDIR/A.out"
	assert_output "wait abandoned 0"
	wait_until sleepers_are 0
	run -0 "$WAPICTL" waits
	refute_output --partial cycle
	run -0 "$WAPICTL" validate
}

@test "a chain of three processes without a cycle: exit 0, the last owner runs" {
	twait C own=m3 ready pause
	twait B own=m2 mutex=m3 ready wait=m3
	twait A own=m1 mutex=m2 ready wait=m2
	wait_until sleepers_are 2
	run -0 "$WAPICTL" waits -o PID,STATE,OWNERS -n
	assert_line --regexp "^ *$A +waiting +pid $B tid $B, owned for [0-9]+s$"
	assert_line --regexp "^ *$B +waiting +pid $C tid $C, owned for [0-9]+s, not in a wait$"
	run -0 "$WAPICTL" waits
	assert_line "chain of 2 threads, ~/home/.wapi/${STATE##*/}:"
	assert_line --regexp "^  pid $A tid $A waits for mutex [0-9]+ 'm2' held by pid $B tid $B, owned for [0-9]+s, asleep:$"
	assert_line --regexp "^  pid $B tid $B waits for mutex [0-9]+ 'm3' held by pid $C tid $C, owned for [0-9]+s, not in a wait$"
	refute_output --partial cycle
	# C gone: its mutex is abandoned, B gets it, then A.
	kill -9 "$C"
	wait_until sleepers_are 0
	run grep '^wait' "$BATS_TEST_TMPDIR/B.out"
	assert_output "wait abandoned 0"
}

@test "a wait for all of several objects: every object and why none has an owner" {
	twait O own=mx ready pause
	twait W event=e1 sem=s1 mutex=mx ready timed=600000 waitall=e1,s1,mx
	wait_until sleepers_are 1
	run -0 --separate-stderr "$WAPICTL" -J waits -o PID,WAIT,COUNT,TIMEOUT,OBJECTS,OWNERS
	run "$JQ" -e --argjson w "$W" --argjson o "$O" '.waits | length == 1 and .[0].pid == $w and .[0].wait == "all" and .[0].count == 3 and .[0].timeout == 600000 and (.[0].objects | test("^event [0-9]+ .e1., semaphore [0-9]+ .s1., mutex [0-9]+ .mx.$")) and (.[0].owners | test("^no owner: waits for a signal; no owner: waits for a signal; pid \($o) tid \($o), owned for [0-9]+s, not in a wait$"))' <<< "$output"
	assert_success
	# The chain goes through the object that someone holds.
	run -0 "$WAPICTL" waits
	assert_line --regexp "^  pid $W tid $W waits for all of mutex [0-9]+ 'mx' held by pid $O tid $O, owned for [0-9]+s, not in a wait$"
}

@test "a waiter killed in its wait leaves no record once its slot is reclaimed" {
	twait W event=e1 ready wait=e1
	wait_until sleepers_are 1
	kill -9 "$W"
	# The helper reclaims the dead client's slot, and its records with it.
	wait_until sleepers_are 0
	run -0 "$WAPICTL" waits -n
	assert_output ""
	run -0 "$WAPICTL" validate
}

@test "JSON: the rows and the chains, with their documented keys" {
	twait A own=m1 mutex=m2 ready gate="$GO" wait=m2
	twait B own=m2 mutex=m1 ready wait=m1
	touch "$GO"
	wait_until sleepers_are 2
	run -1 --separate-stderr "$WAPICTL" -J waits -o PID,TID,WAIT,SINCE,TIMEOUT,COUNT,OBJECTS,OWNERS,STATE,HOST,PATH
	local json=$output
	run "$JQ" -e '(.waits[0] | keys) == (["pid","tid","wait","since","timeout","count","objects","owners","state","host","path"] | sort) and (.waits[0].pid | type) == "number" and .waits[0].timeout == null and .waits[0].state == "deadlocked"' <<< "$json"
	assert_success
	run "$JQ" -e --arg p "$STATE" '.chains | length == 1 and (.[0] | keys) == (["kind","threads","chain","path"] | sort) and .[0].kind == "cycle" and .[0].threads == 2 and .[0].path == $p' <<< "$json"
	assert_success
	# The same keys and types as the tables of wapictl(1).
	local t
	for t in waits chains; do
		run diff <(awk -v t="$t" '
		    /^\.\\" json [a-z]+$/ { s = $3; next }
		    /^\.El/ { s = "" }
		    s == t && $1 == ".It" && $2 == "Li" { print $3, $5 }
		    ' "$top_srcdir/man/wapictl.1" | sort) \
		    <("$JQ" -r --arg t "$t" '[.[$t][] | to_entries[]] |
		    group_by(.key)[] | [.[0].key, ([.[].value | type] -
		    ["null"] | unique | if length == 0 then "number" else
		    join("|") end)] | join(" ")' <<< "$json" | sort)
		assert_success
	done
}

@test "no waits: an empty table, exit 0" {
	start_client -m mx
	run -0 "$WAPICTL" waits -n
	assert_output ""
	run -0 "$WAPICTL" -J waits
	run "$JQ" -e '.waits == [] and .chains == []' <<< "$output"
	assert_success
}

# wapictl handles, what issue 21 added to it: who holds what.

@test "handles: HOLDERS with counts, OWNED, -p/--holder and --name" {
	twait O own=mx event=e1 ready pause
	twait P event=e1 sem=s1 mutex=mx mutex=mx ready pause
	run -0 "$WAPICTL" handles -o NAME,HOLDERS,OWNED -n
	local lo=$O hi=$P
	[ "$O" -lt "$P" ] || { lo=$P; hi=$O; }
	assert_line --regexp "^mx +$lo:[12],$hi:[12] +[0-9]+s$"
	assert_line --regexp "^e1 +$lo:1,$hi:1 *$"
	assert_line --regexp "^s1 +$P:1 *$"
	# P opened mx twice: two references.
	run -0 --separate-stderr "$WAPICTL" -J handles -o NAME,HOLDERS,OWNED -t mutex
	run "$JQ" -e --arg h "$P:2" '.handles[0].name == "mx" and (.handles[0].holders | split(",") | index($h) != null) and (.handles[0].owned | type) == "number"' <<< "$output"
	assert_success
	run -0 "$WAPICTL" handles -p "$O" -o NAME -n
	assert_equal "$(sort <<< "$output" | tr '\n' ' ')" "e1 mx "
	run -0 "$WAPICTL" handles --holder "$P" --name 's*' -o NAME -n
	assert_output "s1"
	run -0 "$WAPICTL" handles --name 'nothing*' -n
	assert_output ""
	run -2 "$WAPICTL" handles -p nope
	assert_line --index 0 --partial "-p nope: a process id is invalid"
}
