#!/usr/bin/env bats
# Hostile input (issue 8): state directories, state files, host names and
# environments that an attacker, a crash or a confused admin could leave.
# Every case goes through wapictl status, validate and clean -n (bounded:
# a hang or a crash fails), and through a real client (tests/lib/
# wapi-tclient), which must either fall back to private handles with one
# clear line naming the file, or recover a file nobody holds.  Each case
# also checks that nothing outside the state directory changed: a sentinel
# tree ($OUT) and the directory around ~/.wapi are compared before/after.
# HOSTILE_TABLE=FILE collects one "case|tool|exit|message" row per run.

load wapictl/helpers
load hostile/lib

setup() {
	hostile_setup
}

teardown() {
	hostile_teardown
}

# ------------------------------------------------------ the state directory

@test "~/.wapi is a symlink to a directory outside: refused, never followed" {
	mkdir -m 0700 "$OUT/real"
	"$MKSTATE" -p "$OUT/real/$WAPI_SHARED_HOSTNAME.$ABI.state"
	ln -s "$OUT/real" "$D"
	refused_dir "is a symbolic link"
	[ -L "$D" ]
}

@test "~/.wapi is owned by another user: refused" {
	need_root "to chown the directory to nobody"
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$STATE"
	chown nobody "$D"
	refused_dir "is owned by uid [0-9]+, not $(id -u)"
	[ -f "$STATE" ]
}

@test "~/.wapi has mode 0777: refused and left as it is" {
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$STATE"
	chmod 0777 "$D"
	refused_dir "is writable by group or others \(mode 0777\)"
	[ "$(stat -c %a "$D")" = 777 ]
	[ -f "$STATE" ]
}

# ------------------------------------------------- the state file's inode

@test "state file is a symlink to a file outside: not followed, not removed through" {
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$OUT/victim.state"
	chmod 0600 "$OUT/victim.state"
	ln -s "$OUT/victim.state" "$STATE"
	refused_file "$WAPI_SHARED_HOSTNAME\.$ABI\.state is a symbolic link"
	tool 1 "kept .*unreadable: .*symbolic link; never followed nor removed" clean
	assert_outside_unchanged
	[ -f "$OUT/victim.state" ]
}

@test "state file is a FIFO: nothing hangs" {
	mkdir -m 0700 "$D"
	mkfifo -m 0600 "$STATE"
	refused_file "is not a regular file \(a FIFO\)"
	[ -p "$STATE" ]
}

@test "state file is a directory: refused" {
	mkdir -m 0700 "$D" "$STATE"
	touch "$STATE/inside"
	refused_file "is not a regular file \(a directory\)"
	[ -f "$STATE/inside" ]
}

@test "state file is a hard link to a file outside: never re-initialised through" {
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$OUT/victim.state"
	chmod 0600 "$OUT/victim.state"
	ln "$OUT/victim.state" "$STATE"
	refused_file "has 2 links \(a hard link elsewhere could alias it\)"
	tool 1 "kept .*unreadable: .*2 links" clean
	assert_outside_unchanged
}

@test "state file is owned by another user: refused" {
	need_root "to chown the file to nobody"
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$STATE"
	chown nobody "$STATE"
	refused_file "is owned by uid [0-9]+, not $(id -u)"
	[ "$(stat -c %U "$STATE")" = nobody ]
}

@test "state file has mode 0666: refused, and clean exits as for other refusals" {
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$STATE"
	chmod 0666 "$STATE"
	# clean: 1, "something left that clean had to keep", like a symlink,
	# a FIFO, a directory, a hard link or another owner.
	refused_file "is accessible by group or others \(mode 0666\)" 1
	[ "$(stat -c %a "$STATE")" = 666 ]
}

@test "validate tells what to do next about a file it refuses" {
	mkdir -m 0700 "$D"
	mkfifo -m 0600 "$STATE"
	# status and clean say "check it with ls -l, remove it by hand";
	# validate, which a person runs to learn more, should too.
	tool 4 "is not a regular file \(a FIFO\).*(ls -l|by hand|remove)" validate
}

# ------------------------------------------------------------- truncation

@test "state file truncated to 0 bytes: corrupt, recovered by the next client" {
	real_orphan
	truncate -s 0 "$STATE"
	corrupt_unheld "file is 0 bytes, shorter than (its|the) 4096-byte header"
}

@test "state file truncated to half a header: corrupt, recovered" {
	real_orphan
	truncate -s 2048 "$STATE"
	corrupt_unheld "file is 2048 bytes, shorter than (its|the) 4096-byte header"
}

@test "state file one byte short: corrupt, recovered" {
	real_orphan_file
	truncate -s $(($(stat -c %s "$STATE") - 1)) "$STATE"
	corrupt_unheld "file is [0-9]+ bytes but its header says [0-9]+"
}

# ------------------------------------------------------- header fields lie

@test "header: a region offset past the end of the file" {
	patched region.0.offset=0x10000000000 checksum
	corrupt_unheld "handles region \[1099511627776, \+[0-9]+\) ends past the end of the file"
}

@test "header: overlapping regions" {
	real_orphan
	"$PATCHF" "$STATE" region.1.offset="$("$PATCHF" "$STATE" get region.0.offset)" checksum
	corrupt_unheld "name index region overlaps the handles region"
}

@test "header: a capacity of 2^32-1" {
	patched region.0.capacity=0xffffffff checksum
	corrupt_unheld "handles region size [0-9]+ does not match 4294967295 entries" \
	    "handle capacity 4294967295 is outside \[16, 2097151\]"
}

@test "header: a region whose end overflows 64 bits" {
	patched region.4.offset=0xfffffffffffff000 checksum
	corrupt_unheld "client refs region \[18446744073709547520, \+[0-9]+\) ends past the end of the file"
}

@test "header: clients x refs per client that wraps to 0 in 32 bits" {
	# 1024 clients * 4194304 = 2^32: a 32-bit product would be 0 and
	# agree with a capacity and size of 0.
	patched refs_per_client=0x400000 region.4.capacity=0 region.4.size=0 checksum
	corrupt_unheld "refs_per_client 4194304 is outside \[1, 1048576\]" \
	    "client refs capacity 0 is not 1024 clients \* 4194304 refs"
}

@test "header lies while a process holds the file: kept, client goes private" {
	patched region.0.offset=0x10000000000 checksum
	hold 1 r
	snap_before
	tool 1 "corrupt \(.*ends past the end of the file.*held by an attached process: in use, do not remove\)" status
	tool 1 "corrupt: 1 problem.*ends past the end of the file" validate
	clean_dry 1 "would-keep [^ ]*\.state: corrupt: .*(in use|held)"
	client_private "corrupt: .*ends past the end of the file.*in use by another process"
	tool 1 "kept [^ ]*\.state: corrupt" clean
	[ -f "$STATE" ]
	assert_outside_unchanged
}

# ------------------------------------------------------ names and tables

@test "an unterminated object name" {
	real_orphan_file
	s=$("$PATCHF" "$STATE" find-name orphan-ev)
	"$PATCHF" "$STATE" "name.$s=$(printf 'A%.0s' $(seq 1 261))"
	tables_unheld "names\[$s\] @[0-9]+: name is not NUL-terminated"
}

@test "invalid UTF-8 in an object name" {
	real_orphan_file
	s=$("$PATCHF" "$STATE" find-name orphan-ev)
	"$PATCHF" "$STATE" "name.$s=orphan-\xc0\xaf\x00"
	tables_unheld "names\[$s\] @[0-9]+: name: is not valid UTF-8 \(overlong encoding\)"
}

@test "a name index entry pointing at a free slot" {
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$STATE"	# slots 3 and 6 are free (tests/core/tfmt.h)
	pos=$("$PATCHF" "$STATE" find-nameidx 0)
	"$PATCHF" "$STATE" "nameidx.$pos.handle=4"
	tables_unheld "name-index\[$pos\] @[0-9]+: entry points at slot 3, which is free"
}

@test "a cyclic free list" {
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$STATE"	# free list: slot 3 -> slot 6
	[ "$("$PATCHF" "$STATE" get handle_free_head)" = 4 ]
	"$PATCHF" "$STATE" handle.6.next_free=4
	tables_unheld "free-list\[6\] @[0-9]+: free list cycles back to slot 3"
}

@test "a free list whose back link is wrong" {
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$STATE"	# free list: slot 3 -> slot 6
	[ "$("$PATCHF" "$STATE" get handle.6.prev_free)" = 4 ]
	"$PATCHF" "$STATE" handle.6.prev_free=0
	tables_unheld "free-list\[6\] @[0-9]+: free list back link of slot 6 is 0, not 4"
}

# -------------------------------------------------- host names and HOME

@test "host name with '/': refused, never a path" {
	mkdir -m 0700 "$D"
	export WAPI_SHARED_HOSTNAME="a/b"
	refused_host "contains a character other than"
}

@test "host name '..': refused" {
	mkdir -m 0700 "$D"
	export WAPI_SHARED_HOSTNAME=".."
	refused_host "starts with '\.'"
}

@test "host name of 200 characters: refused" {
	mkdir -m 0700 "$D"
	WAPI_SHARED_HOSTNAME=$(printf 'h%.0s' $(seq 1 200))
	export WAPI_SHARED_HOSTNAME
	refused_host "is longer than 64 characters"
}

@test "HOME unset, host name with '/': every usage still answers, nothing created" {
	export WAPI_SHARED_HOSTNAME="a/b"
	snap_before
	unset HOME WAPI_SHARED_DIR
	local c
	for c in status handles validate lock clean stop help; do
		tool 0 "usage: wapictl .*$c" "$c" --help
		tool 0 "usage: wapictl .*$c" help "$c"
		tool 0 "usage: wapictl .*$c" -q "$c" -h
	done
	tool 0 "usage: wapictl .*COMMAND" help
	# The commands themselves need both: said, with the exit status.
	tool 4 "HOME is set" status
	tool 2 "Try 'wapictl status --help'" status --bogus
	[ ! -e "$D" ]
	assert_outside_unchanged
}

# A 4,000-character HOME under $BATS_TEST_TMPDIR/deep (components of 249).
long_home() {
	local p="$BATS_TEST_TMPDIR/deep" seg
	seg=$(printf 'd%.0s' $(seq 1 249))
	while [ ${#p} -lt 4000 ]; do p="$p/$seg"; done
	p=${p:0:4000}
	p=${p%/}
	unset WAPI_SHARED_DIR MONO_SHARED_DIR
	export HOME="$p"
	D="$HOME/.wapi"
	STATE="$D/$WAPI_SHARED_HOSTNAME.$ABI.state"
}

@test "HOME of 4,000 characters that does not exist: clear fallback, nothing created" {
	long_home
	[ ${#HOME} -ge 3990 ]
	SNAP_ROOTS=("$OUT")
	snap_before
	tool 0 "" status
	tool 0 "nothing to clean" clean -n
	client_private "does not exist|No such file"
	[ ! -e "$BATS_TEST_TMPDIR/deep" ]
	assert_outside_unchanged
}

@test "HOME of 4,000 characters that exists: works" {
	long_home
	mkdir -p "$HOME"
	SNAP_ROOTS=("$OUT")
	snap_before
	tool 0 "" status
	client_recovers
	tool 0 "" validate
	# HOME holds the state directory and nothing else.
	[ "$(ls -A "$HOME")" = .wapi ]
	assert_outside_unchanged
}

# -------------------------------------------------- the helper's socket

@test "another uid connecting to the helper's socket is turned away" {
	need_root "to connect as nobody (setpriv)"
	command -v setpriv > /dev/null || skip "setpriv (util-linux) is missing"
	start_client -e sock-ev
	local name
	name=$(helper_sock_name)
	# The name is right: the owner gets through.
	run timeout 20 python3 "$HOSTILE/peer" --connect-only "$name"
	assert_output "connected"
	snap_before
	# /usr/bin/python3: another user may not reach a python of root's;
	# nor the source tree (it may sit under /root): a copy of the peer.
	local bin
	bin=$(mktemp -d /tmp/hostile-peer.XXXXXX)
	chmod 755 "$bin"
	cp "$HOSTILE/peer" "$bin/peer"
	chmod 755 "$bin/peer"
	run timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
	    /usr/bin/python3 "$bin/peer" "$name"
	rm -rf "$bin"
	record "peer as uid 65534" "$status" "" "$output"
	[ "$status" = 0 ] || fail "peer failed (exit $status): $output"
	[[ "$output" =~ ^(closed|refused.*|reply\ [0-9]+\ -?[1-9][0-9]*)$ ]] ||
	    fail "the helper served another uid: $output"
	# It keeps serving its own user.
	run_client
	[[ "$output" =~ ^ready\ [0-9]+\ (.*)$ ]]
	[ "${BASH_REMATCH[1]}" = "$STATE" ] ||
	    fail "a client could not attach after the intrusion: $output $stderr"
	tool 0 "live +[0-9]+ +yes" status
	assert_outside_unchanged
}

@test "another uid squatting every helper socket name it can learn: clients stay shared" {
	need_root "to run the squatter as nobody (setpriv)"
	command -v setpriv > /dev/null || skip "setpriv (util-linux) is missing"
	command -v nsenter > /dev/null || skip "nsenter (util-linux) is missing"
	unshare --net true 2> /dev/null || skip "no network namespaces here"
	# A network namespace of the test's own: abstract names live in one,
	# so the squatter sees the helpers of this test and nobody else's.
	local ns bin sq guess name n
	ns=$(spawn "$BATS_TEST_TMPDIR/netns" unshare --net sleep 100000)
	wait_until test "$(readlink "/proc/$ns/ns/net")" != \
	    "$(readlink /proc/self/ns/net)"
	printf '#!/bin/sh\nexec nsenter -t %d -n %s "$@"\n' "$ns" "$TCLIENT" \
	    > "$BATS_TEST_TMPDIR/tclient-ns"
	chmod 755 "$BATS_TEST_TMPDIR/tclient-ns"
	TCLIENT="$BATS_TEST_TMPDIR/tclient-ns"
	start_client -e squat-ev
	[ -n "$HELPER_PID" ]
	# What one who can stat the file computes from its device and inode
	# (they come back when a file is recovered in place): handed over.
	guess=$(python3 -c 'import os, sys
s = os.stat(sys.argv[1])
print("wapi-%d-%x-%x" % (os.geteuid(), s.st_dev, s.st_ino))' "$STATE")
	# The squatter runs as nobody: a copy it can read (see above).
	bin=$(mktemp -d /tmp/hostile-squatter.XXXXXX)
	chmod 755 "$bin"
	cp "$HOSTILE/squatter" "$bin/squatter"
	chmod 755 "$bin/squatter"
	sq="$BATS_TEST_TMPDIR/squatter.out"
	spawn "$sq" nsenter -t "$ns" -n setpriv --reuid=65534 --regid=65534 \
	    --clear-groups /usr/bin/python3 "$bin/squatter" "$guess" > /dev/null
	# It has read the live helper's name in /proc/net/unix...
	wait_until grep -q '^busy ' "$sq" || fail "no name seen: $(cat "$sq.err")"
	# ...and takes it the moment the helper dies (the client, stopped, is
	# not there to start the next helper first).
	kill -STOP "$CLIENT_PID"
	kill -9 "$HELPER_PID"
	wait_until pid_gone "$HELPER_PID"
	for name in $(awk '$1 == "busy" { print $2 }' "$sq"); do
		wait_until grep -qx "bound $name" "$sq" ||
		    fail "the squatter did not get $name: $(cat "$sq.err")"
	done
	kill -CONT "$CLIENT_PID"
	rm -rf "$bin"
	# New clients find a new helper, shared and without a word.
	for n in 1 2 3; do
		client_recovers
	done
	HELPER_PID=$(helper_of "$STATE")
	[ -n "$HELPER_PID" ] || fail "no helper recorded"
	remember_pid "$HELPER_PID"
	tool 0 "live +$HELPER_PID +yes" status
	grep -q '^bound ' "$sq" || fail "the squatter never bound a name"
}

@test "the helper's first token names a socket already taken: it draws another" {
	local so=$top_builddir/tests/hostile/.libs/firsttoken.so token taken
	[ -f "$so" ] || fail "$so is missing (built by make check)"
	token=$(python3 -c 'import os; print(os.urandom(16).hex())')
	taken="wapi-$(id -u)-$token"
	# Someone holds the name the first token gives, and never accepts.
	spawn "$BATS_TEST_TMPDIR/taken" python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind("\0" + sys.argv[1])
s.listen(0)
print("bound", flush=True)
time.sleep(100000)' "$taken" > /dev/null
	wait_until grep -q '^bound' "$BATS_TEST_TMPDIR/taken"
	# A sanitizer build wants its runtime first; the preload only adds a
	# getrandom(2), so the order does not matter here.
	WAPI_TEST_FIRST_TOKEN=$token LD_PRELOAD=$so \
	    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    start_client -e first-ev
	[ "$CLIENT_PATH" = "$STATE" ] || fail "not shared: $CLIENT_PATH"
	[ -n "$HELPER_PID" ] || fail "no helper recorded"
	[ "$(helper_sock_name)" != "$taken" ] ||
	    fail "the header names the taken socket"
	[[ "$(helper_sock_name)" =~ ^wapi-[0-9]+-[0-9a-f]{32}$ ]] &&
	    [[ "$(helper_sock_name)" != *-00000000000000000000000000000000 ]] ||
	    fail "no token in the header: $(helper_sock_name)"
	tool 0 "live +$HELPER_PID +yes" status
}

@test "garbage on the helper's socket from its own user: it keeps serving" {
	start_client -e garbage-ev
	[ -n "$HELPER_PID" ]
	local name msg z24 z28
	name=$(helper_sock_name)
	z24=$(printf '0%.0s' $(seq 1 48))
	z28=$(printf '0%.0s' $(seq 1 56))
	snap_before
	# struct wcore_msg, little-endian: type len slot pid handle value
	# error reserved.  A short packet; a HELLO whose payload length is
	# 4 GiB; an unknown type; a HELLO for client slot 2^32-1; a FETCH of
	# handle 0xffffffff; a SPAWN announcing a payload it does not carry.
	for msg in 010203 "01000000ffffffff$z24" "e7030000$z28" \
	    "0100000000000000ffffffff${z24:0:40}" \
	    "06000000000000000000000000000000ffffffff${z24:0:24}" \
	    "0700000008000000${z24}"; do
		run timeout 20 python3 "$HOSTILE/peer" --send "$msg" "$name"
		record "peer --send ${msg:0:16}..." "$status" "" "$output"
		[ "$status" != 124 ] || fail "peer hung on $msg"
		kill -0 "$HELPER_PID" || fail "the helper died on $msg"
	done
	run_client
	[[ "$output" =~ ^ready\ [0-9]+\ (.*)$ ]]
	[ "${BASH_REMATCH[1]}" = "$STATE" ] ||
	    fail "a client could not attach after the garbage: $output $stderr"
	tool 0 "live +$HELPER_PID +yes" status
	assert_outside_unchanged
}

# ------------------------------------------- tables larger than any file

# corrupt_unheld without the snapshots of the state directory, which would
# read every byte of a huge sparse file: each tool within tool()'s 20 s.
big_corrupt() {
	tool 1 "corrupt \\(.*$1.*\\); run 'wapictl validate' for details" status
	tool 1 "corrupt: [0-9]+ problems?.*$1" validate
	tool 0 "would-remove [^ ]*\\.state: corrupt: .*$1" clean -n
	[ -f "$STATE" ]
	client_recovers
}

@test "header: a 2^31-entry share table in a sparse file is refused at once" {
	real_orphan_file
	# A header that is consistent in every other way: the region's size
	# matches its capacity, the file is as long as the header says (a
	# sparse hole of 96 GiB).  Checking such a table took a minute.
	local off size wsize
	off=$("$PATCHF" "$STATE" get region.5.offset)
	size=$((0x80000000 * 48))
	# The wait records (region 6) follow the shares: moved past them.
	wsize=$("$PATCHF" "$STATE" get region.6.size)
	"$PATCHF" "$STATE" region.5.capacity=0x80000000 region.5.size=$size \
	    region.6.offset=$((off + size)) \
	    file_size=$((off + size + wsize)) checksum
	truncate -s $((off + size + wsize)) "$STATE"
	big_corrupt "shares capacity 2147483648 is above the largest a file may have \(65536\)"
}

@test "header: a client reference table above the largest a file may have" {
	real_orphan_file
	# 2048 clients of 65536 references: each within its own bound, the
	# product (2^27 entries, 1 GiB) above what any file may hold.
	local off size
	off=$(($("$PATCHF" "$STATE" get region.3.offset) + 131072))
	size=$((0x8000000 * 8))
	"$PATCHF" "$STATE" region.3.capacity=2048 region.3.size=131072 \
	    refs_per_client=65536 region.4.capacity=0x8000000 \
	    region.4.size=$size region.4.offset=$off \
	    region.5.offset=$((off + size)) \
	    region.6.offset=$((off + size + $("$PATCHF" "$STATE" get region.5.size))) \
	    file_size=$((off + size + $("$PATCHF" "$STATE" get region.5.size) +
	    $("$PATCHF" "$STATE" get region.6.size))) \
	    checksum
	truncate -s "$("$PATCHF" "$STATE" get file_size)" "$STATE"
	big_corrupt "client refs capacity 134217728 is above the largest a file may have \(16777216\)"
}

# ------------------------------------------------------- the table lock

# 64 bytes of 0xff over the robust mutex at offset 1024.
smash_table_lock() {
	printf '\377%.0s' $(seq 1 64) |
	    dd of="$STATE" bs=1 seek=1024 conv=notrunc status=none
}

@test "table lock overwritten with 0xff in a file nobody holds: corrupt, recovered" {
	real_orphan
	smash_table_lock
	corrupt_unheld "table lock .*(kind|type) "
}

@test "table lock overwritten with 0xff in a held file: refused, no client aborts" {
	real_orphan
	smash_table_lock
	hold 1 r
	snap_before
	tool 1 "corrupt \(.*table lock .*held by an attached process: in use, do not remove\)" status
	tool 1 "corrupt: [0-9]+ problems?.*table lock" validate
	client_private "corrupt: .*table lock .*in use by another process"
	run --separate-stderr timeout 20 "$WAPICTL" handles
	[ "$status" -lt 124 ] || fail "wapictl handles: exit $status: $stderr"
	[ -f "$STATE" ]
	assert_outside_unchanged
}

@test "a free list that loops on itself in a held file: validate reports the loop" {
	mkdir -m 0700 "$D"
	"$MKSTATE" -p "$STATE"	# free list: slot 3 -> slot 6
	[ "$("$PATCHF" "$STATE" get handle_free_tail)" = 7 ]
	"$PATCHF" "$STATE" handle.6.next_free=7
	hold 1 r
	snap_before
	tool 1 "corrupt: 1 problem.*free-list\[6\] @[0-9]+: free list cycles back to slot 6" validate
	assert_outside_unchanged
}

# ------------------------------------------------ times that cannot be

@test "created = INT64_MIN: status shows an age, never a negative one" {
	patched created=-9223372036854775808 checksum
	tool 1 "orphaned" status
	run --separate-stderr "$WAPICTL" -J status -o PATH,AGE
	printf '%s' "$output" | "$JQ" -e '.status[0].age >= 0' > /dev/null ||
	    fail "negative age for created = INT64_MIN: $output"
	tool 1 "orphaned +[0-9a-z]+ +[^ ]+ +[0-9]+/[0-9]+ +[0-9]+/[0-9]+ +[0-9]+d[0-9]+h " status
}

@test "created and heartbeat a day in the future: said so, and clean still removes the orphan" {
	patched created=$(($(date +%s) + 86400)) checksum
	"$PATCH" "$STATE" heartbeat 0
	"$PATCHF" "$STATE" helper_heartbeat=$(($(date +%s) + 86400))
	run --separate-stderr "$WAPICTL" status -o PATH,AGE,HEARTBEAT
	[[ "$output" == *"in the future"*"in the future"* ]] ||
	    fail "expected both times in the future: $output"
	# A time in the future must not keep an orphan young for ever.
	tool 0 "removed [^ ]*\.state: orphaned: .*in the future.*age unknown" \
	    clean --older-than 1h
	[ ! -e "$STATE" ]
}

# ---------------------------------------------- a state directory too long

@test "WAPI_SHARED_DIR of 5,000 characters: the message names it, the reason and what to do" {
	local long
	long="$BATS_TEST_TMPDIR/$(printf 'd%.0s' $(seq 1 5000))"
	export WAPI_SHARED_DIR="$long"
	run_client
	[[ "$output" =~ ^ready\ [0-9]+\ private$ ]] || fail "not private: $output"
	[[ "$stderr" != "wapi: cannot attach : "* ]] ||
	    fail "the message names no directory: $stderr"
	# The directory, cut visibly in the middle, then the reason and the
	# next step.
	[[ "$stderr" == "wapi: cannot attach ${BATS_TEST_TMPDIR:0:20}"*"...ddd"*"/.wapi: "* ]] ||
	    fail "the directory is not named: $stderr"
	[[ "$stderr" =~ WAPI_SHARED_DIR\ is\ too\ long.*name\ is\ too\ long.*set\ WAPI_SHARED_DIR\ to\ a\ shorter ]] ||
	    fail "no reason or next step: $stderr"
	[ "${#stderr}" -lt 600 ] || fail "the message is ${#stderr} bytes long"
	tool 4 "WAPI_SHARED_DIR is too long \(5[0-9]{3} bytes.*set WAPI_SHARED_DIR to a shorter directory" status
	unset WAPI_SHARED_DIR
	tool 2 "-d: directory name too long \(5[0-9]{3} bytes, at most [0-9]+\); name a shorter one" -d "$long" status
}
