# Helpers of tests/hostile.bats: a sentinel tree outside the state
# directory that must come out of every case unchanged, bounded runs of the
# tools and of a real client with their expected exit and message, and the
# hostile files themselves (built from real orphans and tests/mkstate).

HOSTILE="$top_srcdir/tests/hostile"
PATCHF="$HOSTILE/statepatch"

hostile_setup() {
	wapictl_setup
	OUT="$BATS_TEST_TMPDIR/outside"
	LOGD="$BATS_TEST_TMPDIR/log"
	mkdir -p "$OUT/dir" "$LOGD"
	echo "precious data" > "$OUT/victim.txt"
	echo "more" > "$OUT/dir/file"
	SNAP_ROOTS=("$OUT" "$WAPI_SHARED_DIR")
}

hostile_teardown() {
	wapictl_teardown
	# Leftovers of the root-only cases must not stop the cleanup.
	chown -R "$(id -u)" "$BATS_TEST_TMPDIR" 2>/dev/null || true
	chmod -R u+rwX "$BATS_TEST_TMPDIR" 2>/dev/null || true
}

# The abstract name the helper of the state file listens on, as its clients
# compute it: the owner's uid and the token in the header (wapi-state(5)).
helper_sock_name() {
	python3 -c 'import os, sys
with open(sys.argv[1], "rb") as f:
    f.seek(600)
    token = f.read(16)
print("wapi-%d-%s" % (os.geteuid(), token.hex()))' "$STATE"
}

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root: $1"
}

# Everything outside the state directory: each entry's type, mode, owner,
# size, mtime, link count and link target, and each regular file's sha256.
outside_snapshot() {
	find "${SNAP_ROOTS[@]}" -path "$D" -prune -o \
	    -printf '%p %y %m %U %s %T@ %n %l\n' | LC_ALL=C sort
	find "${SNAP_ROOTS[@]}" -path "$D" -prune -o -type f -print0 |
	    LC_ALL=C sort -z | xargs -0 -r sha256sum
}

# The state directory itself (for clean -n, which must change nothing).
statedir_snapshot() {
	[ -e "$D" ] || [ -L "$D" ] || return 0
	find "$D" -printf '%p %y %m %U %s %T@ %n %l\n' | LC_ALL=C sort
	find "$D" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
}

snap_before() {
	outside_snapshot > "$LOGD/outside.before"
}

assert_outside_unchanged() {
	outside_snapshot > "$LOGD/outside.after"
	if ! diff -u "$LOGD/outside.before" "$LOGD/outside.after" >&2; then
		fail "something outside the state directory changed (above)"
	fi
}

# One row of the report table (HOSTILE_TABLE=FILE collects them).
record() {
	local excerpt
	excerpt=$(printf '%s %s' "$3" "$4" | tr '\n' ' ' | sed 's/  */ /g' |
	    cut -c1-150)
	printf '%s|%s|%s|%s\n' "$BATS_TEST_DESCRIPTION" "$1" "$2" "$excerpt" \
	    >> "${HOSTILE_TABLE:-/dev/null}"
}

# tool EXIT REGEX ARGS...: run `wapictl ARGS` (a hang fails after 20 s, a
# crash fails), expect exit status EXIT and REGEX (ERE) in what it printed.
tool() {
	local want=$1 re=$2
	shift 2
	run --separate-stderr timeout 20 "$WAPICTL" "$@"
	record "wapictl $*" "$status" "$stderr" "$output"
	[ "$status" != 124 ] || fail "wapictl $* hung (killed after 20 s)"
	[ "$status" -lt 125 ] ||
	    fail "wapictl $* crashed (exit $status): $stderr"
	if [ "$status" != "$want" ]; then
		fail "wapictl $*: exit $status, expected $want; printed: $output $stderr"
	fi
	if ! [[ "$output"$'\n'"$stderr" =~ $re ]]; then
		fail "wapictl $*: expected /$re/ in: $output $stderr"
	fi
}

# clean_dry EXIT REGEX: `clean -n` as tool(), and it changed nothing.
clean_dry() {
	statedir_snapshot > "$LOGD/state.before"
	tool "$@" clean -n
	statedir_snapshot > "$LOGD/state.after"
	diff -u "$LOGD/state.before" "$LOGD/state.after" >&2 ||
	    fail "clean -n changed the state directory"
}

# A real client that says "ready PID PATH|private" and exits.
run_client() {
	run --separate-stderr timeout 20 "$TCLIENT" -w 0
	record "client" "$status" "$stderr" "$output"
	[ "$status" != 124 ] || fail "the client hung (killed after 20 s)"
	[ "$status" = 0 ] || fail "the client failed (exit $status): $stderr"
}

# client_private REGEX [FILE]: the client falls back to private handles
# with one line on stderr naming FILE (default: the state file), giving
# the reason (REGEX) and pointing at wapictl(1).
client_private() {
	local re=$1 file=${2:-$STATE}
	run_client
	[[ "$output" =~ ^ready\ [0-9]+\ private$ ]] ||
	    fail "expected a private client, got: $output"
	[ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ] ||
	    fail "expected one line on stderr, got: $stderr"
	# The file in full, or as ~/... when it lies under HOME.
	[[ "$stderr" == "wapi: cannot attach $file: "* ||
	    "$stderr" == "wapi: cannot attach ~${file#"$HOME"}: "* ]] ||
	    fail "the message does not name $file: $stderr"
	[[ "$stderr" =~ $re ]] || fail "expected /$re/ in: $stderr"
	[[ "$stderr" == *"; using process-private handles (see wapictl(1))" ]] ||
	    fail "the message does not end with the fallback and wapictl(1): $stderr"
}

# client_recovers: nobody holds the file, so the client re-initialises it
# and attaches, silently.
client_recovers() {
	run_client
	[[ "$output" =~ ^ready\ [0-9]+\ (.*)$ ]] ||
	    fail "no ready line: $output"
	[ "${BASH_REMATCH[1]}" = "$STATE" ] ||
	    fail "expected to attach $STATE, got: $output $stderr"
	[ -z "$stderr" ] || fail "unexpected message: $stderr"
}

# A state file with objects left by a real client and its helper, both
# killed with -9: the orphan every hostile file is cut from.
real_orphan() {
	make_orphan
	cp --sparse=always "$STATE" "$BATS_TEST_TMPDIR/orphan.state"
	ORPHAN="$BATS_TEST_TMPDIR/orphan.state"
}

# The same as a whole file (WAPI_SEGMENT_DIR=none for the client that makes
# it): the cases about the tables and the file's length lie in the file
# itself, not in a 4 KiB anchor (wapictl-segment.bats has the anchor's).
real_orphan_file() {
	WAPI_SEGMENT_DIR=none real_orphan
}

# patched EDIT...: the state file = the real orphan with EDITs applied.
patched() {
	real_orphan
	"$PATCHF" "$STATE" "$@"
}

# hold BYTE r|w: a process holding that lock byte of the state file.
hold() {
	local out="$BATS_TEST_TMPDIR/hold.$RANDOM"
	spawn "$out" "$HOSTILE/holdlock" "$STATE" "$1" "$2" > /dev/null
	wait_until grep -q '^held' "$out"
}

# The corrupt-file contract in one call: status and validate report it
# as corrupt (exit 1) with REASON (status: the first problem; validate:
# VREASON, default REASON), clean -n would remove it, and a client
# re-initialises it because nobody holds it.
corrupt_unheld() {
	local reason=$1 vreason=${2:-$1}
	snap_before
	tool 1 "corrupt \\(.*$reason.*\\); run 'wapictl validate' for details" status
	tool 1 "corrupt: [0-9]+ problems?.*$vreason" validate
	clean_dry 0 "would-remove [^ ]*$WAPI_SHARED_HOSTNAME\\.[a-z0-9_]+\\.state: corrupt: .*$reason"
	client_recovers
	assert_outside_unchanged
}

# A table problem behind a sound header: status sees an orphan (it reads
# only the header), validate locates the problem, the client recovers.
tables_unheld() {
	local problem=$1
	snap_before
	tool 1 "orphaned \(no process holds it.*\); run 'wapictl clean'" status
	tool 1 "corrupt: [0-9]+ problems?.*$problem" validate
	clean_dry 0 "would-remove .*: orphaned"
	client_recovers
	assert_outside_unchanged
}

# A file refused before it is read (link, type, owner, mode): every tool
# says why and what to do, nothing follows or removes it, the client goes
# private.  CLEAN_EXIT: the exit of clean -n.
refused_file() {
	local reason=$1 clean_exit=${2:-1}
	snap_before
	tool 4 "unreadable .*$reason.*cannot read: .*$reason; check it with ls -l" status
	tool 4 "$WAPI_SHARED_HOSTNAME\.[a-z0-9_]+\.state: .*$reason" validate
	clean_dry "$clean_exit" "would-keep [^ ]*\.state: unreadable: .*$reason.*never followed nor removed"
	client_private "$reason"
	assert_outside_unchanged
}

# A refused state directory.
refused_dir() {
	local reason=$1
	snap_before
	tool 4 "cannot use the state directory: $D $reason; fix its owner and mode \(0700\) or use -d" status
	tool 4 "$D $reason" validate
	clean_dry 4 "$D $reason"
	client_private "$D $reason"
	assert_outside_unchanged
}

# A host name that must be refused, never made into a path.
refused_host() {
	local re=$1
	snap_before
	statedir_snapshot > "$LOGD/host.before"
	tool 2 "WAPI_SHARED_HOSTNAME \".*\" $re.*set WAPI_SHARED_HOSTNAME or use -H" status
	tool 2 "WAPI_SHARED_HOSTNAME \".*\" $re" validate
	tool 2 "WAPI_SHARED_HOSTNAME \".*\" $re" clean -n
	client_private "WAPI_SHARED_HOSTNAME \".*\" $re" "$D"
	statedir_snapshot > "$LOGD/host.after"
	diff -u "$LOGD/host.before" "$LOGD/host.after" >&2 ||
	    fail "a file appeared in the state directory"
	assert_outside_unchanged
}
