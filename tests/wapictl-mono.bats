#!/usr/bin/env bats
# Mono's leftovers, made as Mono's io-layer made them (tests/wapictl/
# mono-legacy: its files, its SysV set by ftok and IPC_EXCL, the attach
# count taken with SEM_UNDO): a live state is kept, a crashed one removed
# whole with its set, never a set that is not the state's, and every era's
# names are recognised, in ~/.wapi and in the shared-memory directory.

load wapictl/helpers

setup() {
	wapictl_setup
	mkdir -m 700 "$D"
	mkdir -m 1777 "$WAPICTL_MONO_SHM_DIR"
}
teardown() { wapictl_teardown; }

# The directory an era's files go to.
era_dir() {
	case $1 in
	*shm) echo "$WAPICTL_MONO_SHM_DIR" ;;
	*) echo "$D" ;;
	esac
}

# mono_start ERA hold|exit [HOST]: a Mono process of that era; MONO_PID and
# MONO_KEY (0x00000000 when the era has no set).  A holder stays until
# killed (kill -9: a crash) or sent SIGTERM (Mono's exit cleanup).
mono_start() {
	local out="$BATS_TEST_TMPDIR/mono.$RANDOM$RANDOM"
	spawn "$out" "$LEGACY" "$1" "$2" "$(era_dir "$1")" \
	    "${3:-$WAPI_SHARED_HOSTNAME}" > /dev/null
	wait_until grep -q '^ready' "$out" || {
		cat "$out.err" >&2
		return 1
	}
	read -r _ MONO_PID MONO_KEY < "$out"
	remember_pid "$MONO_PID"
}

# The files of a state, as the generator names them, for the listing.
state_files() {
	ls "$(era_dir "$1")"
}

set_exists() {
	"$LEGACY" exists "$1"
}

# The REASON of every file status lists, one a line.
reasons() {
	"$WAPICTL" -J status | "$JQ" -r '.status[].reason'
}

# live kept, crash removed whole with the set, a second clean finds nothing
lifecycle() {
	local era=$1 dir files
	dir=$(era_dir "$era")
	mono_start "$era" hold
	files=$(ls "$dir")
	[ "$(wc -w <<< "$files")" = 2 ]
	set_exists "$MONO_KEY"

	run -0 reasons
	assert_output --partial "semaphore set key $MONO_KEY"
	assert_output --partial "in use: mapped by pid $MONO_PID"
	run -0 "$WAPICTL" clean -n
	assert_output --partial "would remove 0 files, kept 2"
	run -0 "$WAPICTL" clean
	assert_output --partial "removed 0 files, kept 2"
	[ "$(ls "$dir")" = "$files" ]
	set_exists "$MONO_KEY"

	kill -9 "$MONO_PID"
	wait_until pid_gone "$MONO_PID"
	run -0 "$WAPICTL" clean -n
	assert_output --partial "not in use; its semaphore set would be removed too"
	assert_output --partial "would remove 2 files, kept 0"
	[ "$(ls "$dir")" = "$files" ]
	set_exists "$MONO_KEY"
	run -0 "$WAPICTL" clean
	assert_output --partial "semaphore set key $MONO_KEY removed"
	assert_output --partial "removed 2 files, kept 0"
	[ -z "$(ls "$dir")" ]
	run set_exists "$MONO_KEY"
	assert_failure
	run -0 "$WAPICTL" clean
	assert_output "~/home/.wapi: nothing to clean"
}

@test "Mono 2.0 (V12) in ~/.wapi: live kept, crashed removed whole with its set, then nothing" {
	lifecycle v12
}

@test "Mono 2.4.3+ (V12) in the shared-memory directory: live kept, crashed removed whole with its set" {
	lifecycle v12shm
	run -0 "$WAPICTL" status -n -o PATH
	assert_output ""
}

@test "Mono 1.1.9 (V7, key at offset 8): live kept, crashed removed whole with its set" {
	lifecycle v7
}

@test "Mono 1.1.8 (V6), 1.2 (V11), 1.1.14 (V10, count from 1): live kept, crashed removed whole" {
	lifecycle v6
	lifecycle v11
	lifecycle v10
}

@test "V12 and V10: the attach count says in use, and after a crash the kernel's undo says not" {
	local era
	for era in v12 v10; do
		mono_start "$era" hold
		run -0 reasons
		assert_output --partial "attach count 1; in use"
		kill -9 "$MONO_PID"
		wait_until pid_gone "$MONO_PID"
		run -0 reasons
		assert_output --partial "attach count 0; not in use"
		run -0 "$WAPICTL" clean
		[ -z "$(ls "$D")" ]
	done
}

@test "a clean exit: from V10 Mono removed all itself, before it left everything for clean" {
	mono_start v12 exit
	[ -z "$(ls "$D")" ]
	run set_exists "$MONO_KEY"
	assert_failure
	run -0 "$WAPICTL" clean
	assert_output "~/home/.wapi: nothing to clean"

	mono_start v7 exit
	[ -n "$(ls "$D")" ]
	set_exists "$MONO_KEY"
	run -0 "$WAPICTL" clean
	assert_output --partial "semaphore set key $MONO_KEY removed"
	[ -z "$(ls "$D")" ]
}

@test "two Mono processes share one state: kept until both are gone" {
	local first
	mono_start v12 hold
	first=$MONO_PID
	mono_start v12 hold
	run -0 reasons
	assert_output --partial "attach count 2"
	kill -9 "$first"
	wait_until pid_gone "$first"
	run -0 "$WAPICTL" clean
	assert_output --partial "removed 0 files, kept 2"
	kill -TERM "$MONO_PID"
	wait_until pid_gone "$MONO_PID"
	# the last one out removed all, as Mono did
	[ -z "$(ls "$D")" ]
}

# put_int32 FILE OFFSET VALUE: write VALUE as a native (little-endian) int32.
put_int32() {
	local v=$(($3 & 0xffffffff)) i s=
	for i in 0 8 16 24; do
		s="$s$(printf '\\%03o' $(((v >> i) & 0xff)))"
	done
	printf "$s" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

@test "V7: a set whose key is at offset 4 (a counter there) is someone else's and survives" {
	local data other
	mono_start v7 hold
	data="$D/shared_data-$WAPI_SHARED_HOSTNAME-7-0"
	other=$((0x5e000000 + RANDOM))
	"$LEGACY" plant "$other" > /dev/null
	put_int32 "$data" 4 "$other"
	run "$LEGACY" keyat "$data" 4
	assert_output "$(printf '0x%08x' "$other")"
	kill -9 "$MONO_PID"
	wait_until pid_gone "$MONO_PID"
	run -0 "$WAPICTL" clean
	assert_output --partial "semaphore set key $MONO_KEY removed"
	refute_output --partial "$(printf '0x%08x' "$other")"
	[ -z "$(ls "$D")" ]
	set_exists "$other"
	run set_exists "$MONO_KEY"
	assert_failure
}

@test "daemon-era files hold text where a key would be: no set is ever touched" {
	local data bytes key
	mono_start v3 exit
	data="$D/shared_data-$WAPI_SHARED_HOSTNAME-3-0"
	[ -e "$D/shared_scratch-$WAPI_SHARED_HOSTNAME-3-0" ]
	# "\0mono-handle-daemon-": offset 4 reads "o-ha", offset 8 "ndle"
	for o in 4 8; do
		key=$("$LEGACY" keyat "$data" "$o")
		"$LEGACY" plant "$key" > /dev/null
	done
	run -0 "$WAPICTL" clean -n
	assert_output --partial "Mono before 1.1.7 (V3, 2004 names) data file; with shared_scratch-$WAPI_SHARED_HOSTNAME-3-0; no semaphore set at this version; not in use"
	refute_output --partial "semaphore set key"
	run -0 "$WAPICTL" clean
	assert_output --partial "removed 2 files, kept 0"
	# both planted sets are still there
	run cat "$SEMKEYS"
	[ "${#lines[@]}" = 2 ]
	for key in "${lines[@]}"; do
		set_exists "$key"
	done
}

@test "a set at the stored key that does not look like Mono's is never removed, and clean -n says why" {
	local shape
	for shape in "3 0600" "8 0644"; do
		mono_start v12 hold
		kill -9 "$MONO_PID"
		wait_until pid_gone "$MONO_PID"
		# the set went away and someone else's took its key
		"$LEGACY" rm "$MONO_KEY"
		"$LEGACY" plant "$MONO_KEY" $shape > /dev/null
		run -0 "$WAPICTL" clean -n
		assert_output --partial "semaphore set key $MONO_KEY id"
		assert_output --partial "is not Mono's (${shape% *} semaphores, uid $(id -u), mode ${shape#* }; Mono's has 8, the file's owner, 0600): kept"
		run -0 "$WAPICTL" clean
		assert_output --partial "removed 2 files, kept 0"
		refute_output --partial "semaphore set key $MONO_KEY removed"
		set_exists "$MONO_KEY"
		"$LEGACY" rm "$MONO_KEY"
	done
}

@test "a live holder that /proc does not show (wapictl in another PID namespace) is kept" {
	unshare --pid --fork --mount-proc true 2>/dev/null ||
	    skip "unshare --pid --fork --mount-proc is not allowed here"
	local v12 v7
	mono_start v12 hold
	v12=$MONO_PID
	mono_start v7 hold
	v7=$MONO_PID
	run -1 unshare --pid --fork --mount-proc "$WAPICTL" clean
	# V12: the attach count crosses namespaces; V7: unsure counts as in use
	assert_output --partial "attach count 1; in use: attach count 1"
	assert_output --partial "unsure whether in use: wapictl runs in a PID namespace other than the initial one"
	assert_output --partial "removed 0 files, kept 4"
	[ "$(ls "$D" | wc -l)" = 4 ]
	kill -9 "$v12" "$v7"
	wait_until pid_gone "$v12"
	wait_until pid_gone "$v7"
	# the count proves the V12 state dead even from there; V7 stays unsure
	run -1 unshare --pid --fork --mount-proc "$WAPICTL" clean
	assert_output --partial "removed 2 files, kept 2"
	[ "$(ls "$D" | wc -l)" = 2 ]
	run -0 "$WAPICTL" clean
	assert_output --partial "removed 2 files, kept 0"
	[ -z "$(ls "$D")" ]
}

@test "every era's names are reported as legacy with the era and version" {
	local era
	for era in v0 v1 v3 v5 v6 v7 v10 v11 v12 v12shm; do
		mono_start "$era" hold
	done
	run -0 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -r '.status[] | "\(.verdict) \(.reason)"' <<< "$output"
	refute_output --partial "unknown"
	for want in "(V0, 2002 names) data file" \
	    "(V1, 2003 names) data file; with shared_scratch-1-0" \
	    "(V1, 2003 names) scratch file; with shared_data-1-0" \
	    "(V3, 2004 names) data file" "(V3, 2004 names) scratch file" \
	    "(V5, 2005 names) data file" "(V5, 2005 names) fileshare file" \
	    "(V6, 2005 names) data file" "(V7, 2005 names) fileshare file" \
	    "(V10, 2005-10 names) data file" "(V11, 2005-10 names) data file" \
	    "(V12, 2005-10 names) data file" \
	    "(V12, 2009-shm names) fileshare file"; do
		assert_output --partial "legacy Mono "
		assert_output --partial "$want"
	done
	run -0 --separate-stderr "$WAPICTL" -J status
	run "$JQ" -e '(.status | length == 19) and
	    ([.status[] | select(.verdict != "legacy")] == [])' <<< "$output"
	assert_success
}

@test "another host's Mono files are kept: its processes are not visible here" {
	mono_start v12 hold farhost
	kill -9 "$MONO_PID"
	wait_until pid_gone "$MONO_PID"
	run -0 "$WAPICTL" clean
	assert_output "~/home/.wapi: nothing to clean"
	run -0 "$WAPICTL" -A clean
	assert_output --partial "of host farhost, whose processes and semaphore sets are not visible here; removed only with --force-host --older-than"
	refute_output --partial "semaphore set key"
	[ "$(ls "$D" | wc -l)" = 2 ]
	set_exists "$MONO_KEY"
	# a link among its files keeps it even then
	local share
	share=$(ls "$D" | grep fileshare)
	mv "$D/$share" "$BATS_TEST_TMPDIR/real"
	ln -s "$BATS_TEST_TMPDIR/real" "$D/$share"
	run -1 "$WAPICTL" -A clean --force-host --older-than 0
	assert_output --partial "is a symbolic link (not followed): never removed"
	assert_output --partial "removed 0 files, kept 2"
	rm "$D/$share"
	mv "$BATS_TEST_TMPDIR/real" "$D/$share"
	run -0 "$WAPICTL" -A clean --force-host --older-than 0
	assert_output --partial "removed 2 files, kept 0"
	# its key named a set of that host's kernel: the one here stays
	set_exists "$MONO_KEY"
}

@test "handles decodes a V12 data file's records as mono --wapi=hps did" {
	mono_start v12 hold
	run -0 "$WAPICTL" handles -r -n -o HANDLE,TYPE,REFS,SIGNALLED,OWNER,NAME
	assert_line "1 mutex 2 no $MONO_PID build-lock"
	assert_line "2 event 1 yes  ready-ev"
	assert_line "3 semaphore 3 yes  slots"
	assert_line "5 process 1 no  "
	run -0 "$WAPICTL" handles -o DETAILS -n
	assert_output --partial "Mono N.Mutex: owned by pid $MONO_PID thread 4242, recursion 1"
	assert_output --partial "Mono N.Event: manual-reset, set count 0"
	assert_output --partial "Mono N.Sem: count 2 of 4"
	assert_output --partial "Mono Process: pid $MONO_PID, still active, exit code 259, 'mono-service.exe'"
	run -0 --separate-stderr "$WAPICTL" -J handles -t mutex
	run "$JQ" -e --argjson p "$MONO_PID" '.handles == [.handles[0]] and .handles[0].owner == $p and .handles[0].name == "build-lock"' <<< "$output"
	assert_success
	# the shared-memory form too; nothing was written to either file
	mono_start v12shm hold
	run -0 "$WAPICTL" handles -r -n -o PATH,NAME -t event
	assert_line --partial "/shm/mono-shared-$(id -u)-shared_data-"
}

@test "handles says which Mono layouts it does not decode" {
	mono_start v7 hold
	run -0 --separate-stderr "$WAPICTL" handles
	assert_equal "$stderr" "wapictl: ~/home/.wapi/shared_data-$WAPI_SHARED_HOSTNAME-7-0: the handle records of Mono V7 (2005 names, record size 0) are not decoded: only V12's (328 or 312 bytes) are"
}

@test "a state whose file is not a plain file of ours is never touched" {
	mono_start v12 hold
	kill -9 "$MONO_PID"
	wait_until pid_gone "$MONO_PID"
	local share
	share=$(ls "$D" | grep fileshare)
	mv "$D/$share" "$BATS_TEST_TMPDIR/real"
	ln -s "$BATS_TEST_TMPDIR/real" "$D/$share"
	run -1 "$WAPICTL" clean
	assert_output --partial "but $share is a symbolic link (not followed): never removed"
	[ "$(ls "$D" | wc -l)" = 2 ]
	set_exists "$MONO_KEY"
}

@test "validate names a Mono file for what it is instead of calling it corrupt" {
	mono_start v12 hold
	local data
	data=$(ls "$D" | grep shared_data)
	run -0 "$WAPICTL" validate "$D/$data"
	assert_output "~/home/.wapi/$data: legacy: a file of Mono 2.0 or later (V12, 2005-10 names), not a wapi state file: not validated; 'wapictl status' says whether it is in use, 'wapictl handles' lists its records"
	run -0 --separate-stderr "$WAPICTL" -J validate "$D/$data"
	run "$JQ" -e '.validate[0].result == "legacy"' <<< "$output"
	assert_success
}
