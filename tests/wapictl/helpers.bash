# Common setup of the wapictl suites: an isolated state directory and host
# name per test, real clients started through wapi-tclient, and a teardown
# that leaves no process behind (clients, helpers, mappers, lock holders).

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

: "${WAPICTL:?run through make check}"
: "${top_builddir:?run through make check}"
JQ=${JQ:-jq}

wapictl_setup() {
	export WAPI_SHARED_DIR="$BATS_TEST_TMPDIR/home"
	mkdir -p "$WAPI_SHARED_DIR"
	export WAPI_SHARED_HOSTNAME="t-$$-${BATS_TEST_NUMBER}"
	export WAPI_HELPER_LINGER=0
	unset MONO_SHARED_DIR MONO_SHARED_HOSTNAME WAPI_DISABLE_SHM
	unset MONO_DISABLE_SHM WAPI_MAX_HANDLES
	export HOME="$BATS_TEST_TMPDIR"	# messages show ~/... paths
	D="$WAPI_SHARED_DIR/.wapi"
	# Segments: a directory of the test's own on the memory file system
	# (the tables stay in the state files where there is none).
	SEGDIR=$(mktemp -d /dev/shm/wapi-bats.XXXXXX 2>/dev/null) || SEGDIR=
	if [ -n "$SEGDIR" ]; then
		export WAPI_SEGMENT_DIR="$SEGDIR"
	else
		export WAPI_SEGMENT_DIR=none
	fi
	# Mono's /dev/shm files: the test's own directory, never the real one.
	export WAPICTL_MONO_SHM_DIR="$BATS_TEST_TMPDIR/shm"
	TCLIENT="$top_builddir/tests/lib/wapi-tclient"
	MKSTATE="$top_builddir/tests/mkstate"
	PATCH="$top_builddir/tests/wapictl/patchstate"
	LEGACY="$top_builddir/tests/wapictl/mono-legacy"
	case $(uname -m) in
	i?86) ABI=i386 ;;
	armv*) ABI=arm ;;
	*) ABI=$(uname -m) ;;
	esac
	STATE="$D/$WAPI_SHARED_HOSTNAME.$ABI.state"
	PIDFILE="$BATS_TEST_TMPDIR/pids"
	: > "$PIDFILE"
	CRASHED=0	# lines of PIDFILE that crash_all has killed already
	# Every SysV set the Mono generator makes, for the teardown.
	export MONO_LEGACY_KEYS="$BATS_TEST_TMPDIR/semkeys"
	SEMKEYS=$MONO_LEGACY_KEYS
	: > "$SEMKEYS"
}

# Kill what the test started: recorded pids (clients, helpers, other
# processes), then any helper still holding a file of this test.
wapictl_teardown() {
	local p
	"$WAPICTL" stop --kill -w 2 >/dev/null 2>&1 || true
	while read -r p; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done < "$PIDFILE"
	while read -r p; do
		[ -n "$p" ] && "$LEGACY" rm "$p" 2>/dev/null
	done < "$SEMKEYS"
	# Helpers of other host names used by the test.
	for p in $(helper_pids_in "$D"); do
		kill -9 "$p" 2>/dev/null
	done
	[ -n "${SEGDIR:-}" ] && rm -rf "$SEGDIR"
	return 0
}

# Live helpers (pid and start time verified) of the state files of a directory.
helper_pids_in() {
	"$WAPICTL" -d "$1" -A -J status -o HELPER,HELPER-ALIVE 2>/dev/null |
	    "$JQ" -r '.status[] | select(."helper-alive" == true) | .helper // empty' 2>/dev/null
}

remember_pid() {
	echo "$1" >> "$PIDFILE"
}

# wait_until CMD...: poll (bounded, not a timing assertion).
wait_until() {
	local i
	for i in $(seq 1 300); do
		"$@" && return 0
		sleep 0.1
	done
	echo "gave up waiting for: $*" >&2
	return 1
}

# spawn OUT CMD...: start CMD detached from this shell's jobs (no "Killed"
# noise, no descriptor of the test runner kept open), stdout to OUT, stderr
# to OUT.err; prints its pid, which is remembered for the teardown.
spawn() {
	local out=$1 pid
	shift
	pid=$(sh -c '"$@" > "$0" 2> "$0.err" < /dev/null & echo $!' "$out" "$@" 3>&-)
	remember_pid "$pid"
	echo "$pid"
}

# start_client [tclient options]: CLIENT_PID and CLIENT_PATH of a live
# client, CLIENT_OUT its output (CLIENT_OUT.err what it said on stderr);
# it and its helper are remembered for the teardown.
start_client() {
	local out="$BATS_TEST_TMPDIR/client.$RANDOM$RANDOM"
	CLIENT_OUT=$out
	spawn "$out" "$TCLIENT" "$@" > /dev/null
	wait_until grep -q '^ready' "$out" || {
		cat "$out.err" >&2
		return 1
	}
	read -r _ CLIENT_PID CLIENT_PATH < "$out"
	remember_pid "$CLIENT_PID"
	HELPER_PID=$(helper_of "$CLIENT_PATH")
	[ -n "$HELPER_PID" ] && remember_pid "$HELPER_PID"
	return 0
}

# The helper pid recorded in a state file (empty when none).
helper_of() {
	"$WAPICTL" -d "$(dirname "$1")" -A -J status -o PATH,HELPER 2>/dev/null |
	    "$JQ" -r --arg p "$1" '.status[] | select(.path == $p) | .helper // empty'
}

# Kill -9 everything holding STATE: the crash a clean must recover from.
# Everything is stopped first, then killed: a helper that saw its last
# client die would remove the file, which is not what a crash leaves.
# Only what was remembered since the last crash is killed: the processes of
# an earlier crash are gone (reaped at once where init reaps promptly, and
# their pids free for reuse by anyone), and one that left by itself is no
# error.
crash_all() {
	local p pids
	pids="$(helper_pids_in "$D") $(tail -n +$((CRASHED + 1)) "$PIDFILE")"
	CRASHED=$(wc -l < "$PIDFILE")
	for p in $pids; do
		kill -STOP "$p" 2> /dev/null || true
	done
	for p in $pids; do
		kill -9 "$p" 2> /dev/null || true
	done
	wait_until verdict_is "$1" orphaned stale-boot foreign corrupt
}

# verdict_is FILE VERDICT...: the file's verdict is one of them.
verdict_is() {
	local f=$1 v
	shift
	v=$("$WAPICTL" -d "$(dirname "$f")" -A -J status -o PATH,VERDICT 2>/dev/null |
	    "$JQ" -r --arg p "$f" '.status[] | select(.path == $p) | .verdict')
	for want in "$@"; do
		[ "$v" = "$want" ] && return 0
	done
	return 1
}

# An orphaned state file made by a real client killed with -9.
make_orphan() {
	start_client -e "orphan-ev" -m "orphan-mx" "$@"
	crash_all "$STATE"
}

# Flip one byte of FILE at OFFSET.
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 0xff)))" |
	    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# seg_of FILE: the segment an anchor names (its header's peer, the 256
# bytes at 1280, when its placement at 384 is 1, an anchor); nothing for a
# whole file (WAPI_SEGMENT_DIR=none, or no memory file system).
seg_of() {
	[ "$(od -An -tu4 -j 384 -N4 "$1" | tr -d ' ')" = 1 ] || return 0
	head -c 1536 "$1" | tail -c 256 | tr -d '\0'
	echo
}

# need_segments: skip a case about anchor and segment where the test has no
# memory file system for segments (SEGDIR empty: whole files only).
need_segments() {
	[ -n "$SEGDIR" ] || skip "no memory file system: whole files only"
}

# seg_to_symlink SEG: the segment moved to $SEGDIR/elsewhere, a symbolic
# link to it left at its name (what wapictl must never follow).
seg_to_symlink() {
	mv "$1" "$SEGDIR/elsewhere"
	ln -s "$SEGDIR/elsewhere" "$1"
}

# live_header_of FILE: the file whose header is the live one (counters,
# helper pid and heartbeat, table lock): an anchor's segment, else FILE.
live_header_of() {
	local s
	s=$(seg_of "$1")
	echo "${s:-$1}"
}

# Offset of handle slot N's type byte (the table's offset from the header).
handle_offset() {
	local off
	# regions[0].offset is the 8 bytes at 176.
	off=$(od -An -tu8 -j 176 -N8 "$1" | tr -d ' ')
	echo $((off + 64 * $2))
}

# hold_lock: a `wapictl lock` holding the table lock until killed; LOCKPID
# is wapictl, its command (a sleep) is remembered for the teardown too.
hold_lock() {
	local out="$BATS_TEST_TMPDIR/lock.$RANDOM$RANDOM"
	LOCKPID=$(spawn "$out" "$WAPICTL" lock -- sh -c 'echo held $$; exec sleep 1000')
	wait_until grep -q held "$out" || return 1
	remember_pid "$(awk '{ print $2 }' "$out")"
}

# pid_gone PID: not running (a zombie counts as gone: in a container nobody
# may reap the double-forked helper).
pid_gone() {
	local s
	s=$(awk '{ print $3 }' "/proc/$1/stat" 2> /dev/null) || return 0
	[ -z "$s" ] || [ "$s" = Z ] || [ "$s" = X ]
}
