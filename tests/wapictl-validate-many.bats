#!/usr/bin/env bats
# wapictl validate over many files (issue 19): validate -A finds exactly
# the damaged files among 200 sound ones, damage in the sparse parts of a
# file (a free client's references, the share table) included; the
# progress line appears on a terminal (a pty made by script(1)), never in
# a pipe, with stderr elsewhere, with -J or with -q.

load wapictl/helpers

setup() {
	wapictl_setup
	N=200
}
teardown() { wapictl_teardown; }

# make_many: $N unheld whole state files of hosts vm-000 ... (as after a
# crash), named as their hosts' files.
make_many() {
	local i
	mkdir -p "$D"
	for i in $(seq -f %03g 0 $((N - 1))); do
		"$MKSTATE" -H "vm-$i" "$D/vm-$i.$ABI.state" || return 1
	done
}

# many_file I: the state file of host vm-I.
many_file() {
	echo "$D/vm-$1.$ABI.state"
}

# put_byte FILE OFFSET VALUE: one byte written (a hole there becomes data).
put_byte() {
	printf "$(printf '\\%03o' "$3")" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# region_off FILE R: the file offset of region R (regions[R].offset, the
# 8 bytes at 176 + 24 R).
region_off() {
	od -An -tu8 -j $((176 + 24 * $2)) -N8 "$1" | tr -d ' '
}

# plant: four files damaged four ways, their names in $BAD (sorted).
plant() {
	local f off
	# A free client's reference block, in the middle of a hole: 128 KiB
	# blocks of 8-byte entries, client 700, half-way into its block.
	f=$(many_file 017)
	off=$(region_off "$f" 4)
	put_byte "$f" $((off + 700 * 131072 + 65536)) 7
	# A share entry with opens set, that the header does not count.
	f=$(many_file 150)
	off=$(region_off "$f" 5)
	put_byte "$f" $((off + 5000 * 48 + 16)) 1
	# A truncated file, and one with a bad magic.
	truncate -s 100 "$(many_file 101)"
	flip_byte "$(many_file 188)" 0
	BAD=$(printf '%s\n' "$(many_file 017)" "$(many_file 101)" \
	    "$(many_file 150)" "$(many_file 188)" | sort)
}

@test "validate -A over 200 files: exactly the 4 damaged ones, located" {
	make_many
	plant
	run -1 "$WAPICTL" -A validate
	assert_equal "$(grep -c ': ok$' <<< "$output")" $((N - 4))
	assert_equal "$(grep -c ': corrupt: ' <<< "$output")" 4
	assert_output --partial "vm-017.$ABI.state: corrupt: 1 problem"
	assert_output --partial "free client 700 has references"
	assert_output --partial "vm-150.$ABI.state: corrupt:"
	assert_output --partial "shares_used is 0 but the table holds 1 entries"
	assert_output --regexp "vm-101\.$ABI\.state: corrupt: 1 problem"
	assert_output --partial "vm-188.$ABI.state: corrupt:"
	# The same in JSON: the paths of the rows that are not ok.
	run -1 "$WAPICTL" -A -J validate
	assert_equal "$("$JQ" -r '.validate[] | select(.result != "ok") | .path' \
	    <<< "$output" | sort -u)" "$BAD"
	assert_equal "$("$JQ" -r '.validate[] | select(.result == "ok") | .path' \
	    <<< "$output" | sort -u | wc -l)" $((N - 4))
	# -q: the damaged files alone.
	run -1 "$WAPICTL" -A -q validate
	refute_output --partial ": ok"
	assert_equal "$(grep -c ': corrupt: ' <<< "$output")" 4
}

@test "validate -A over 200 sound files: all ok, exit 0, files unchanged" {
	make_many
	local before
	# Size, blocks, modification and change times (135 MB each, sparse:
	# not read through).
	before=$(stat -c '%n %s %b %y %z' "$D"/*.state)
	run -0 "$WAPICTL" -A validate
	assert_equal "$(grep -c ': ok$' <<< "$output")" "$N"
	assert_equal "$(stat -c '%n %s %b %y %z' "$D"/*.state)" "$before"
}

# on_pty CMD: CMD run by sh on a pseudo-terminal (script(1)); $output is
# what the terminal received, stdout and stderr.
on_pty() {
	command -v script > /dev/null ||
	    skip "script(1) (util-linux, bsdutils) is not installed"
	run script -qec "$1" /dev/null
}

@test "progress on a terminal: drawn, rewritten with CR, erased before results and at the end" {
	make_many
	on_pty "'$WAPICTL' -A validate"
	assert_success
	assert_output --partial "validating 0/$N files..."
	# Erased before each result: CR, spaces, CR, then the line.
	assert_output --regexp $'files\\.\\.\\.\r +\r[^\r\n]*\\.state: ok'
	assert_equal "$(grep -c ': ok' <<< "$output")" "$N"
	# Nothing is left of it at the end: the last thing said is a result.
	[[ "$output" =~ \.state:\ ok$'\r'?$ ]] ||
	    fail "the output does not end with a result"
}

@test "no progress in a pipe, with stderr elsewhere, with -J or -q" {
	make_many
	run -0 "$WAPICTL" -A validate
	refute_output --partial "validating"
	local err="$BATS_TEST_TMPDIR/err"
	on_pty "'$WAPICTL' -A validate 2> '$err'"
	assert_success
	refute_output --partial "validating"
	refute [ -s "$err" ]
	on_pty "'$WAPICTL' -A -J validate"
	assert_success
	refute_output --partial "validating"
	on_pty "'$WAPICTL' -A -q validate"
	assert_success
	assert_output ""
	# One file is no "long work": no line for it.
	on_pty "'$WAPICTL' validate '$(many_file 003)'"
	assert_success
	refute_output --partial "validating"
}
