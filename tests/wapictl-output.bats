#!/usr/bin/env bats
# wapictl's output conventions: JSON numbers and booleans in every listing,
# the reason cut to an 80-column terminal (whole with -l and in a pipe),
# SIZE as the space allocated and APPARENT as the size.

load wapictl/helpers

setup() { wapictl_setup; }
teardown() { wapictl_teardown; }

# The columns a listing accepts, from its own help: "A,B,C".
all_columns() {
	"$WAPICTL" "$1" -h | sed -n '/^columns (-o):$/,$p' |
	    awk '$1 ~ /^[A-Z][A-Z-]*$/ { printf "%s%s", s, $1; s = "," }'
}

# No value of the JSON on stdin is a string that reads as a number, a
# "N/M" pair or yes/no (HELPER-STATE, the words of HELPER-ALIVE, aside).
no_words_for_numbers() {
	"$JQ" -e '[.[] | .[] | to_entries[] | select(.key != "helper-state")
	    | select(.value | type == "string")
	    | select(.value | test("^-?[0-9]+(/[0-9]+)?$|^(yes|no)$"))]
	    | if length == 0 then true else (tostring | halt_error) end'
}

@test "status -J: numbers are numbers, yes/no booleans, N/M two numbers" {
	start_client -e ev1 -m mx1 -s se1 -u 2
	local cols
	cols=$(all_columns status)
	[[ $cols == *CLIENTS-LIVE* && $cols == *APPARENT* ]]
	run -0 --separate-stderr "$WAPICTL" -J status -v -o "$cols"
	local json=$output
	run no_words_for_numbers <<<"$json"
	assert_success
	run "$JQ" -e '.status[0] | [.helper, ."clients-live",
	    ."clients-recorded", ."handles-used", ."handles-capacity", .size,
	    .apparent, .age, .heartbeat, .events, .mutexes, .semaphores,
	    .files, .pipes, .sockets, .processes] | map(type) | unique ==
	    ["number"]' <<<"$json"
	assert_success
	run "$JQ" -e --argjson pid "$CLIENT_PID" '.status[0] |
	    ."helper-alive" == true and ."helper-state" == "yes" and
	    ."clients-live" == 1 and ."clients-recorded" == 1 and
	    ."handles-used" >= 3 and ."handles-capacity" >= 16 and
	    (has("clients") | not) and (has("handles") | not)' <<<"$json"
	assert_success
	run "$JQ" -e --argjson pid "$CLIENT_PID" '.clients | map(select(.pid
	    == $pid)) | length == 1 and (.[0] | .alive == true and
	    ([.slot, .pid, .attached, .refs] | map(type) | unique ==
	    ["number"]))' <<<"$json"
	assert_success
	# Each key once, whatever -o names.
	local o
	for o in CLIENTS CLIENTS-LIVE,CLIENTS CLIENTS,CLIENTS-RECORDED \
	    CLIENTS,CLIENTS; do
		run -0 --separate-stderr "$WAPICTL" -J status -o "$o"
		run "$JQ" -e '.status[0] | keys_unsorted ==
		    ["clients-live", "clients-recorded"]' <<<"$output"
		assert_success
	done
	run -0 --separate-stderr "$WAPICTL" -J status -o HELPER-STATE,HELPER-ALIVE
	run "$JQ" -e '.status[0] | keys_unsorted == ["helper-state",
	    "helper-alive"]' <<<"$output"
	assert_success
	# People keep the "N/M" columns and the words.
	run -0 "$WAPICTL" status -n -o CLIENTS,HANDLES,HELPER-ALIVE
	assert_output --regexp '^ *1/1 +[0-9]+/[0-9]+ +yes$'
}

@test "status -J: a dead helper is false, an unknown one null" {
	start_client -e ev1
	crash_all "$STATE"
	run -1 --separate-stderr "$WAPICTL" -J status -o HELPER-ALIVE,CLIENTS
	run "$JQ" -e '.status[0] | ."helper-alive" == false and
	    (."helper-state" | test("^no$|^dead")) and ."clients-live" == 0
	    and ."clients-recorded" == 1' <<<"$output"
	assert_success
	# Another host's file: not known here.
	"$MKSTATE" -H elsewhere "$D/elsewhere.$ABI.state"
	run -0 --separate-stderr "$WAPICTL" -H elsewhere -J status
	run "$JQ" -e '.status[0] | .verdict == "foreign" and
	    ."helper-alive" == null and ."helper-state" == "unknown"' \
	    <<<"$output"
	assert_success
}

@test "handles, validate and clean -J: numbers and booleans typed" {
	start_client -e ev1 -m mx1 -s se1
	run -0 --separate-stderr "$WAPICTL" -J handles -o "$(all_columns handles)"
	local json=$output
	run no_words_for_numbers <<<"$json"
	assert_success
	run "$JQ" -e '.handles | length >= 3 and all(.[]; ([.handle, .slot,
	    .gen, .refs, .waiters] | map(type) | unique == ["number"]) and
	    (.signalled | type == "boolean"))' <<<"$json"
	assert_success
	run -0 --separate-stderr "$WAPICTL" -J validate "$STATE"
	json=$output
	run no_words_for_numbers <<<"$json"
	assert_success
	run "$JQ" -e '.validate[0] | .result == "ok" and .problems == 0' \
	    <<<"$json"
	assert_success
	# A file with problems: INDEX and OFFSET are numbers too.
	"$MKSTATE" -H "$WAPI_SHARED_HOSTNAME" "$BATS_TEST_TMPDIR/bad.state"
	flip_byte "$BATS_TEST_TMPDIR/bad.state" 200
	run -1 --separate-stderr "$WAPICTL" -J validate "$BATS_TEST_TMPDIR/bad.state"
	json=$output
	run no_words_for_numbers <<<"$json"
	assert_success
	run "$JQ" -e '.validate | length >= 1 and (.[0].problems | type ==
	    "number") and all(.[]; (.offset | type) as $t | $t == "number" or
	    $t == "null")' <<<"$json"
	assert_success
	crash_all "$STATE"
	run -0 --separate-stderr "$WAPICTL" -J clean -n
	json=$output
	run no_words_for_numbers <<<"$json"
	assert_success
	run "$JQ" -e '.clean | length >= 1' <<<"$json"
	assert_success
}

@test "SIZE is the space allocated to a file, APPARENT its size" {
	mkdir -m 700 "$D"
	# A whole state file: its tables are mostly holes.
	"$MKSTATE" -H "$WAPI_SHARED_HOSTNAME" "$STATE"
	local blocks unit bytes
	read -r blocks unit bytes < <(stat -c '%b %B %s' "$STATE")
	run -1 --separate-stderr "$WAPICTL" -J status -o PATH,SIZE,APPARENT
	run "$JQ" -e --argjson s $((blocks * unit)) --argjson a "$bytes" \
	    '.status[0] | .size == $s and .apparent == $a and .size < .apparent' \
	    <<<"$output"
	assert_success
	# For people, in units.
	run -1 --separate-stderr "$WAPICTL" status -n -o SIZE,APPARENT
	assert_output --regexp '^ *[0-9.]+[KMG]? +[0-9.]+[KMG]$'
}

# Run wapictl with the arguments given on a pseudo-terminal of 80 columns;
# its output, without the carriage returns, in $output.
on_terminal() {
	command -v script >/dev/null || skip "script (util-linux) is not installed"
	local cmd
	cmd=$(printf ' %q' "$WAPICTL" "$@")
	# Only standard output on the terminal: the findings go elsewhere.
	run script -qec "stty cols 80 rows 24; exec$cmd 2>/dev/null" /dev/null
	output=${output//$'\r'/}
	lines=()
	mapfile -t lines <<<"$output"
}

@test "an 80-column terminal: REASON cut to the width; -l and a pipe whole" {
	start_client -e ev1
	crash_all "$STATE"
	local reason
	reason=$("$WAPICTL" -J status 2>/dev/null | "$JQ" -r '.status[0].reason')
	[ ${#reason} -gt 40 ]
	on_terminal status
	[ "$status" -eq 1 ]
	local l row=
	for l in "${lines[@]}"; do
		[ ${#l} -le 80 ] || fail "longer than 80 columns: '$l'"
		[[ $l == *orphaned* ]] && row=$l
	done
	[ -n "$row" ]
	# Cut, not wrapped: the heading, the row (and the path when it is
	# longer than its column, on a line of its own), no more.
	[ ${#lines[@]} -le 3 ] || fail "more lines than rows: $output"
	# The row ends with the start of the reason, cut: not the whole.
	[[ $output != *"$reason"* ]]
	local n cut=0
	row=${row%"${row##*[! ]}"}
	for ((n = ${#reason} - 1; n >= 3; n--)); do
		[[ $row == *"${reason:0:n}" ]] && { cut=$n; break; }
	done
	[ "$cut" -ge 3 ] || fail "the row does not end with the reason: '$row'"
	# -l and --notruncate: the whole reason, however wide the line.
	on_terminal status -l
	[[ $output == *"$reason"* ]] || fail "no whole reason with -l: $output"
	on_terminal status --notruncate -o VERDICT,REASON
	[[ $output == *"$reason"* ]]
	# A pipe: the whole text, as before.
	run -1 --separate-stderr "$WAPICTL" status
	assert_output --partial "$reason"
}
