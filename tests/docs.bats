#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# The documentation and the shell completions against the code: mandoc lint
# of every page; every command, long option and column of src/wapictl/*.c
# in wapictl(1) and in the three completions; the bash completion run for
# real; the zsh and fish ones parsed and run when those shells exist; the
# offsets of wapi-state(5) compared with format.h by a compiled program; the
# recipes of wapi-state(5) run on a whole state file and on a real client's
# anchor and segment; libwapi(3) against wapi.h and the variables the code
# reads.

setup_file() {
	: "${top_srcdir:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
	: "${top_builddir:=$top_srcdir}"
	export top_srcdir top_builddir
	local d=$BATS_FILE_TMPDIR src=$top_srcdir/src/wapictl

	# Commands: the .name of each cmd-*.c entry.
	sed -n 's/^[[:space:]]*\.name[[:space:]]*=[[:space:]]*"\([a-z-]*\)".*/\1/p' \
	    "$src"/cmd-*.c | sort -u >"$d/commands"
	# Long options: every struct cmd_option row of every file (wapictl's
	# own in wapictl.c, the listings' in output.c, each command's), written
	# { "name", no_argument|required_argument, ... }.
	grep -ohE '\{[[:space:]]*"[a-z][a-z-]*",[[:space:]]*(no|required|optional)_argument' \
	    "$src"/*.c | sed -E 's/^\{[[:space:]]*"([^"]*)".*/\1/' |
	    sort -u >"$d/longopts"
	# Columns that -o accepts: the cmd_<name>_cols[] table of each command.
	local c
	for c in $(cat "$d/commands"); do
		awk -v t="cmd_${c//-/_}_cols[]" '
		    index($0, "struct out_column " t) { f = 1; next }
		    f && /^};/ { f = 0 }
		    f' "$src/cmd-$c.c" |
		    grep -oE '\{[[:space:]]*"[A-Z][A-Z-]*"' |
		    tr -d '{" \t' >"$d/columns.$c"
	done
	# Object types: the core's names, without "free".
	sed -n '/type_names\[WAPI_T_COUNT\]/,/^};/p' "$top_srcdir/src/core/format.c" |
	    grep -oE '"[a-z]+"' | tr -d '"' | grep -vx free >"$d/types"
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	man=$top_srcdir/man
	comp=$top_srcdir/completions
	lists=$BATS_FILE_TMPDIR
}

# Whatever a test started and made outside its own directory.
teardown() {
	local p
	for p in ${DOCS_PIDS:-}; do
		kill -9 "$p" 2>/dev/null || true
	done
	if [ -n "${DOCS_SEGDIR:-}" ]; then
		rm -rf "$DOCS_SEGDIR"
	fi
	return 0
}

# Words of a list file, one per line, must each satisfy a check.
each() {
	local file=$1 w missing=
	shift
	while read -r w; do
		[ -n "$w" ] || continue
		"$@" "$w" || missing="$missing $w"
	done <"$file"
	if [ -n "$missing" ]; then
		echo "missing:$missing" >&2
		return 1
	fi
}

# A whole word in a file; mdoc writes options as \-\-name, so a leading
# dash is allowed before it, a trailing one is not.
has_word() {
	local file=$1 w=$2
	sed 's/\\-/-/g; s/\\&//g' "$file" |
	    grep -qE -- "(^|[^A-Za-z0-9])$w([^A-Za-z0-9-]|\$)"
}

@test "the lists taken from the code are not empty" {
	run wc -l "$lists/commands" "$lists/longopts" "$lists/types" \
	    "$lists/columns.status" "$lists/columns.handles"
	assert_success
	run cat "$lists/commands"
	assert_line status
	assert_line clean
	run cat "$lists/longopts"
	assert_line older-than
	run cat "$lists/columns.status"
	assert_line HELPER-ALIVE
	run cat "$lists/types"
	assert_line semaphore
}

@test "mandoc -Tlint -Wstyle finds nothing in any page" {
	command -v mandoc >/dev/null || skip "mandoc is not installed"
	# Our pages cross-reference each other: let mandoc find them.
	local mp=$BATS_TEST_TMPDIR/manpath page sec out bad=
	for page in "$man"/*.[1-8]; do
		sec=${page##*.}
		mkdir -p "$mp/man$sec"
		ln -s "$page" "$mp/man$sec/"
	done
	for page in "$man"/wapictl.1 "$man"/libwapi.3 "$man"/wapi-state.5 \
	    "$man"/wapi-helper.8; do
		[ -f "$page" ] || { bad="$bad ${page##*/}(missing)"; continue; }
		out=$(MANPATH="$mp:$(manpath 2>/dev/null || echo /usr/share/man)" \
		    mandoc -Tlint -Wstyle "$page" 2>&1 |
		    grep -v 'outdated mandoc.db' || true)
		# A page of another package that this machine lacks is not
		# our fault; report it, but fail only on the rest.
		if grep -q 'referenced manual not found' <<<"$out"; then
			grep 'referenced manual not found' <<<"$out" |
			    grep -vE 'Xr (wapictl 1|libwapi 3|wapi-state 5|wapi-helper 8)' |
			    sed 's/^/# not installed here: /' >&3 || true
			grep 'referenced manual not found' <<<"$out" |
			    grep -E 'Xr (wapictl 1|libwapi 3|wapi-state 5|wapi-helper 8)' &&
			    bad="$bad ${page##*/}"
			out=$(grep -v 'referenced manual not found' <<<"$out" || true)
		fi
		if [ -n "$out" ]; then
			echo "$out" >&2
			bad="$bad ${page##*/}"
		fi
	done
	[ -z "$bad" ] || fail "mandoc complains about:$bad"
}

@test "groff formats every page without a warning" {
	command -v groff >/dev/null || skip "groff is not installed"
	# What man(1) shows at its usual width: -ww turns every warning on,
	# "can't break line" among them (a word wider than its column).
	local page out bad=
	for page in "$man"/*.[1-8]; do
		out=$(groff -mandoc -Tutf8 -ww -z "$page" 2>&1)
		if [ -n "$out" ]; then
			echo "$out" >&2
			bad="$bad ${page##*/}"
		fi
	done
	[ -z "$bad" ] || fail "groff warns about:$bad"
}

@test "every page is listed in man/local.mk" {
	local page
	for page in "$man"/*.[1-8]; do
		grep -q "man/${page##*/}" "$top_srcdir/man/local.mk" ||
		    fail "${page##*/} is not in dist_man_MANS"
	done
}

@test "wapictl(1) documents every command, long option and column" {
	local c
	each "$lists/commands" has_word "$man/wapictl.1"
	each "$lists/longopts" has_word "$man/wapictl.1"
	# -o takes the columns of status and handles in capitals; the other
	# commands' columns show up as JSON keys, in lower case.
	for c in $(cat "$lists/commands"); do
		case $c in
		status|handles)
			each "$lists/columns.$c" has_word "$man/wapictl.1" ;;
		*)
			tr 'A-Z' 'a-z' <"$lists/columns.$c" >"$BATS_TEST_TMPDIR/keys"
			each "$BATS_TEST_TMPDIR/keys" has_word "$man/wapictl.1" ;;
		esac
	done
	each "$lists/types" has_word "$man/wapictl.1"
}

@test "wapictl(1) has a synopsis line and a subsection for every command" {
	local c
	for c in $(cat "$lists/commands"); do
		sed -n '/^\.Sh SYNOPSIS/,/^\.Sh /p' "$man/wapictl.1" |
		    grep -qx "\.Cm $c" || fail "$c is not in the SYNOPSIS"
		grep -qx "\.Ss $c" "$man/wapictl.1" || fail "no subsection $c"
	done
}

@test "wapictl(1) documents every verdict and exit status" {
	local v
	for v in live orphaned stale-boot corrupt incompatible foreign \
	    temporary legacy unreadable; do
		grep -q "\"$v\"" "$top_srcdir/src/core/live.c" ||
		    fail "verdict $v is not in live.c any more"
		has_word "$man/wapictl.1" "$v" || fail "verdict $v"
	done
	for v in 0 1 2 3 4; do
		sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$man/wapictl.1" |
		    grep -qx "\.It $v" || fail "exit status $v"
	done
	grep -q 'WAPICTL_EXIT_ACCESS[[:space:]]*4' "$top_srcdir/src/wapictl/wapictl.h"
	# The regions that validate names in its problems.
	sed -n '/where_names\[\] = {/,/^};/p' "$top_srcdir/src/core/validate.c" |
	    grep -oE '"[a-z-]+"' | tr -d '"' >"$BATS_TEST_TMPDIR/where"
	[ -s "$BATS_TEST_TMPDIR/where" ]
	each "$BATS_TEST_TMPDIR/where" has_word "$man/wapictl.1"
}

@test "each completion has every command, long option, column and type" {
	local f c
	for f in wapictl.bash _wapictl wapictl.fish; do
		each "$lists/commands" has_word "$comp/$f" || fail "$f: commands"
		each "$lists/longopts" has_word "$comp/$f" || fail "$f: options"
		for c in status handles; do
			each "$lists/columns.$c" has_word "$comp/$f" ||
			    fail "$f: $c columns"
		done
		each "$lists/types" has_word "$comp/$f" || fail "$f: types"
	done
}

@test "the bash completion's lists are exactly the code's" {
	# Source it and compare the variables themselves with the code.
	run bash -c '
	    source "$1/wapictl.bash"
	    printf "%s\n" $_wapictl_commands | sort >"$2/b.commands"
	    printf "%s\n" $_wapictl_status_columns >"$2/b.status"
	    printf "%s\n" $_wapictl_handles_columns >"$2/b.handles"
	    printf "%s\n" $_wapictl_types >"$2/b.types"' _ "$comp" \
	    "$BATS_TEST_TMPDIR"
	assert_success
	diff -u "$lists/commands" "$BATS_TEST_TMPDIR/b.commands"
	diff -u "$lists/columns.status" "$BATS_TEST_TMPDIR/b.status"
	diff -u "$lists/columns.handles" "$BATS_TEST_TMPDIR/b.handles"
	diff -u "$lists/types" "$BATS_TEST_TMPDIR/b.types"
}

# Run the bash completion on a command line; the last word is the one
# being completed.  Prints COMPREPLY, one per line.
bash_complete() {
	bash --norc --noprofile -c '
	    source "$1"; shift
	    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
	    _wapictl
	    printf "%s\n" "${COMPREPLY[@]}"' _ "$comp/wapictl.bash" "$@"
}

@test "bash completes the commands" {
	run bash_complete wapictl ''
	assert_success
	for c in $(cat "$lists/commands"); do
		assert_line "$c"
	done
	run bash_complete wapictl st
	assert_output "$(printf 'status\nstop')"
	run bash_complete wapictl -q -d /tmp v
	assert_output validate
	run bash_complete wapictl --dir = /tmp -H somehost cl
	assert_output clean
	# help takes a command name
	run bash_complete wapictl help st
	assert_output "$(printf 'status\nstop')"
	run bash_complete wapictl -q help ''
	for c in $(cat "$lists/commands"); do
		assert_line "$c"
	done
}

@test "bash completes the options, globally and per command" {
	run bash_complete wapictl --a
	assert_output --all-hosts
	run bash_complete wapictl clean --
	assert_line --dry-run
	assert_line --older-than
	assert_line --force-host
	run bash_complete wapictl stop --k
	assert_output --kill
	run bash_complete wapictl status -
	assert_line -o
	assert_line --noheadings
	assert_line --verbose
	# wapictl's options after the command, with their arguments
	assert_line --json
	run bash_complete wapictl clean -n --qu
	assert_output --quiet
	mkdir "$BATS_TEST_TMPDIR/statedir-x"
	run bash_complete wapictl status -d "$BATS_TEST_TMPDIR/statedir-"
	assert_output "$BATS_TEST_TMPDIR/statedir-x"
	# ... but not after the command that lock runs
	run bash_complete wapictl lock -q ls --js
	assert_success
	[[ $output != *--json* ]]
}

@test "bash completes the columns of status -o" {
	run bash_complete wapictl status -o ''
	assert_success
	while read -r c; do assert_line "$c"; done <"$lists/columns.status"
	run bash_complete wapictl status -o HELPER-A
	assert_output HELPER-ALIVE
	run bash_complete wapictl status -o PATH,verd
	assert_output PATH,VERDICT
	run bash_complete wapictl status --output = +HEART
	assert_output +HEARTBEAT
	run bash_complete wapictl handles -o SIG
	assert_output SIGNALLED
}

@test "bash completes the types of handles -t" {
	run bash_complete wapictl handles -t ''
	assert_success
	while read -r t; do assert_line "$t"; done <"$lists/types"
	run bash_complete wapictl handles -t event,se
	assert_output event,semaphore
	run bash_complete wapictl handles --type = mu
	assert_output mutex
}

@test "bash completes -H with the hosts of the state files in the directory" {
	mkdir -p "$BATS_TEST_TMPDIR/w/.wapi"
	: >"$BATS_TEST_TMPDIR/w/.wapi/build7.example.org.x86_64.state"
	: >"$BATS_TEST_TMPDIR/w/.wapi/other.i386.state"
	: >"$BATS_TEST_TMPDIR/w/.wapi/shared_data-x-Linux-x86_64-328-12-0"
	WAPI_SHARED_DIR=$BATS_TEST_TMPDIR/w run bash_complete wapictl -H ''
	assert_output "$(printf 'build7.example.org\nother')"
	run bash_complete wapictl -d "$BATS_TEST_TMPDIR/w/.wapi" --host b
	assert_output build7.example.org
}

@test "bash completes the command that lock runs" {
	run bash_complete wapictl lock -w 5 -- ech
	assert_line echo
	run bash_complete wapictl -H h clean --older-than ''
	assert_line 7d
}

@test "bash completes nothing for the seconds of lock, then the command" {
	local line
	# The argument of -w, --wait, --timeout, with or without "=".
	for line in 'lock --timeout' 'lock --timeout =' 'lock -w' \
	    'lock --wait =' '-q lock -q --timeout'; do
		run bash_complete wapictl $line ''
		assert_success
		assert_output '' || fail "offered after 'wapictl $line'"
	done
	# Once given, the command to run comes next.
	run bash_complete wapictl lock --timeout = 5 ech
	assert_line echo
	run bash_complete wapictl lock --wait = 5 -- ech
	assert_line echo
	run bash_complete wapictl lock -w 5 ech
	assert_line echo
	run bash_complete wapictl lock --timeout = 5 --js
	assert_output --json
}

# Write $BATS_TEST_TMPDIR/zc.zsh, which drives an interactive zsh through a
# pseudo-terminal, as a person would: type, press TAB twice, read the
# listing.  Arguments: the completions directory, the line, a word to wait
# for (it polls; there is no timing assertion).  Skips without zsh/zpty.
zsh_driver() {
	zsh -fc 'zmodload zsh/zpty' 2>/dev/null || skip "no zsh/zpty module"
	cat >"$BATS_TEST_TMPDIR/zc.zsh" <<'EOF'
zmodload zsh/zpty
zpty z 'TERM=dumb zsh -f -i'
zpty -w z "PS1='%% '; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; LISTMAX=1000"
zpty -n -w z "$2"$'\t\t'
local out= chunk i
for i in {1..300}; do
  while zpty -rt z chunk 2>/dev/null; do out+=$chunk; done
  [[ $out == *$3* ]] && break
  sleep 0.1
done
zpty -d z
print -r -- "${out//$'\r'/}"
EOF
}

@test "the zsh completion parses and completes" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	run zsh -n "$comp/_wapictl"
	assert_success
	zsh_driver
	run zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$comp" 'wapictl st' 'stop'
	assert_output --partial 'status'
	assert_output --partial 'stop'
	run zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$comp" 'wapictl status -o HELPER-' 'HELPER-ALIVE'
	assert_output --partial 'HELPER-ALIVE'
	run zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$comp" 'wapictl handles --type=' 'semaphore'
	assert_output --partial 'semaphore'
	assert_output --partial 'process'
	run zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$comp" 'wapictl help va' 'validate'
	assert_output --partial 'wapictl help validate'
	run zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$comp" 'wapictl clean -q --fo' 'force-host'
	assert_output --partial 'wapictl clean -q --force-host'
}

@test "zsh completes the command that lock runs, and -o +COLUMNS" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	zsh_driver
	# The words after the command lock runs are that command's (zsh's
	# _normal); a file of the current directory shows up for sleep.
	mkdir "$BATS_TEST_TMPDIR/cwd"
	: >"$BATS_TEST_TMPDIR/cwd/wapi-zfile"
	run bash -c 'cd "$1" && zsh -f "$2" "$3" "$4" wapi-zfile' _ \
	    "$BATS_TEST_TMPDIR/cwd" "$BATS_TEST_TMPDIR/zc.zsh" "$comp" \
	    'wapictl lock -- sleep '
	refute_output --partial 'bad math expression'
	assert_output --partial 'wapi-zfile'
	run bash -c 'cd "$1" && zsh -f "$2" "$3" "$4" wapi-zfile' _ \
	    "$BATS_TEST_TMPDIR/cwd" "$BATS_TEST_TMPDIR/zc.zsh" "$comp" \
	    'wapictl lock -w 5 sleep '
	refute_output --partial 'bad math expression'
	assert_output --partial 'wapi-zfile'
	# A leading + adds to the default columns: the columns follow it.
	run zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$comp" 'wapictl status -o +' 'HEARTBEAT'
	assert_output --partial 'HELPER-ALIVE'
	assert_output --partial 'HEARTBEAT'
	run zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$comp" 'wapictl status -o +HELPER-A' '+HELPER-ALIVE'
	assert_output --partial 'wapictl status -o +HELPER-ALIVE'
	run zsh -f "$BATS_TEST_TMPDIR/zc.zsh" "$comp" 'wapictl handles --output=+SIG' 'SIGNALLED'
	assert_output --partial 'wapictl handles --output=+SIGNALLED'
}

@test "the fish completion parses and completes" {
	command -v fish >/dev/null || skip "fish is not installed"
	run fish -n "$comp/wapictl.fish"
	assert_success
	fish_complete() {
		fish --no-config -c "source '$comp/wapictl.fish'; complete -C '$1'" |
		    cut -f1
	}
	run fish_complete 'wapictl st'
	assert_line status
	assert_line stop
	run fish_complete 'wapictl status -o HELPER-A'
	assert_output HELPER-ALIVE
	run fish_complete 'wapictl handles -t event,se'
	assert_output event,semaphore
	run fish_complete 'wapictl clean --'
	assert_line --force-host
	assert_line --older-than
	run fish_complete 'wapictl stop --'
	assert_line --kill
	assert_line --wait
	# wapictl's options after the command; help takes a command name
	assert_line --json
	run fish_complete 'wapictl help st'
	assert_line status
	assert_line stop
	run fish_complete 'wapictl lock -q ech'
	assert_line echo
}

@test "completions.mk installs each completion where its shell looks" {
	local mk=$top_srcdir/completions.mk
	grep -q 'bashcompletiondir = $(bashcompdir)' "$mk"
	grep -q 'zshcompletiondir = $(datadir)/zsh/site-functions' "$mk"
	grep -q 'fishcompletiondir = $(datadir)/fish/vendor_completions.d' "$mk"
	grep -q 'completions/_wapictl' "$mk"
	grep -q 'completions/wapictl.fish' "$mk"
}

@test "the systemd units in contrib run wapictl -q clean, as wapictl(1) shows" {
	local svc=$top_srcdir/contrib/wapi-clean.service.in
	local tmr=$top_srcdir/contrib/wapi-clean.timer
	grep -qx 'ExecStart=@bindir@/wapictl -q clean' "$svc"
	grep -qx 'WantedBy=timers.target' "$tmr"
	# Every line the page quotes from the units is in them; the page
	# shows the service of an install in /usr/local.
	sed 's|@bindir@|/usr/local/bin|g' "$svc" >"$BATS_TEST_TMPDIR/svc"
	local line
	sed -n '/^\[Service\]$/,/^\.Ed$/p; /^\[Timer\]$/,/^\.Ed$/p' \
	    "$man/wapictl.1" | grep -v '^\.Ed$' | while read -r line; do
		[ -z "$line" ] && continue
		grep -qxF -- "$line" "$BATS_TEST_TMPDIR/svc" "$tmr" ||
		    { echo "not in contrib: $line" >&2; return 1; }
	done
	grep -qx 'ExecStart=/usr/local/bin/wapictl -q clean' "$man/wapictl.1"
	grep -q 'contrib/wapi-clean.service.in' "$top_srcdir/contrib/local.mk"
	grep -q '^include contrib/local.mk$' "$top_srcdir/Makefile.am"
}

@test "wapi-state(5) gives every field at the offset and size of format.h" {
	local cc=${CC:-cc}
	command -v "$cc" >/dev/null || skip "no C compiler to check offsets"
	local prog=$BATS_TEST_TMPDIR/offsets
	# Each table after a comment '.\" struct NAME' has rows
	# '.It OFFSET Ta SIZE Ta Va FIELD Ta ...'.
	awk '
	    /^\.\\" struct [a-z_]+$/ { s = $3; next }
	    /^\.El/ { s = "" }
	    s != "" && $1 == ".It" && $2 ~ /^[0-9]+$/ && $3 == "Ta" &&
	    $4 ~ /^[0-9]+$/ && $6 == "Va" {
		f = $7; sub(/\[.*/, "", f)
		printf "\tCHECK(%s, %s, %s, %s);\n", s, f, $2, $4
		n++
	    }
	    END { if (n < 60) exit 1 }
	' "$man/wapi-state.5" >"$prog.rows"
	{
		printf '#include <stddef.h>\n#include <stdio.h>\n'
		printf '#include "format.h"\n'
		printf 'static int bad;\n'
		printf '#define CHECK(s, f, o, z) do { '
		printf 'if (offsetof(struct s, f) != (o) || '
		printf 'sizeof(((struct s *)0)->f) != (z)) { '
		printf 'printf("%%s.%%s: page says %%d+%%d, format.h %%zu+%%zu\\n", '
		printf '#s, #f, o, z, offsetof(struct s, f), '
		printf 'sizeof(((struct s *)0)->f)); bad = 1; } } while (0)\n'
		printf 'int main(void) {\n'
		cat "$prog.rows"
		printf '\treturn bad;\n}\n'
	} >"$prog.c"
	run "$cc" -std=gnu11 -I"$top_srcdir/src/core" -o "$prog" "$prog.c"
	assert_success
	run "$prog"
	assert_success
	# Every member of the header is in the page.
	local m
	for m in $(sed -n '/^struct wapi_header {/,/^};/p' \
	    "$top_srcdir/src/core/format.h" |
	    grep -oE '^[[:space:]]+(char|u?int[0-9]+_t|uint8_t)[[:space:]]+[a-z_0-9]+' |
	    awk '{ print $2 }'); do
		grep -q "Va $m Ta" "$man/wapi-state.5" || fail "header field $m"
	done
}

# The literal block of wapi-state(5) after the paragraph that begins with
# $1, with mdoc escapes undone.
page_block() {
	sed -n "/^$1/,/^\\.Ed\$/p" "$man/wapi-state.5" |
	    sed '1,/^\.Bd -literal/d; /^\.Ed$/d; s/\\e/\\/g'
}

# Run the page's recipes on the state file $1 (the page's f), whose tables
# are in $2 (its t): the block that finds the files, without its own f=
# line, then each recipe.
run_recipes() {
	local f=$1 t=$2 d=$BATS_TEST_TMPDIR
	page_block 'Find the file that holds the tables' | grep -v '^f=' >"$d/find.sh"
	grep -q 'skip=1280' "$d/find.sh"
	{ cat "$d/find.sh"; page_block 'Patch an immutable field'; } >"$d/patch.sh"
	grep -q 'seek=128' "$d/patch.sh"
	{ cat "$d/find.sh"; page_block 'Patch a mutable field'; } >"$d/patch2.sh"
	# The files the page finds are the ones expected.
	run env f="$f" bash -e -c "$(cat "$d/find.sh")"'; printf "%s\n" "$t"'
	assert_success
	assert_output "$t"
	run env PATH="$(dirname "$WAPICTL"):$PATH" f="$f" bash -e "$d/patch.sh"
	assert_output --partial stale-boot
	run --separate-stderr "$WAPICTL" status -o VERDICT -n
	assert_output stale-boot
	run "$WAPICTL" validate "$f"
	assert_success
	# The mutable-field recipe: clear helper_flags, no checksum needed.
	printf '\001' | dd of="$t" bs=1 seek=516 count=1 conv=notrunc status=none
	run env f="$f" bash -e "$d/patch2.sh"
	assert_success
	run od -A n -t u4 -j 516 -N 4 "$t"
	assert_output --regexp '^ +0$'
	run "$WAPICTL" validate "$f"
	assert_success
	# Reading fields as the page shows: the handle capacity at 176 + 16.
	run od -A n -t u4 -j 192 -N 4 "$t"
	assert_output --regexp '^ +[0-9]+$'
	[ "${output// /}" -ge 16 ]
}

@test "the patch recipes of wapi-state(5) work on a real state file" {
	local mkstate=$top_builddir/tests/mkstate
	local tclient=$top_builddir/tests/lib/wapi-tclient
	[ -x "$mkstate" ] || skip "tests/mkstate is not built"
	[ -x "${WAPICTL:-}" ] || skip "WAPICTL is not set"
	local dir=$BATS_TEST_TMPDIR/w host=docs-test
	mkdir -m 700 "$dir" "$dir/.wapi"
	export WAPI_SHARED_DIR=$dir WAPI_SHARED_HOSTNAME=$host
	local abi
	case $(uname -m) in
	x86_64) abi=x86_64 ;;
	i?86) abi=i386 ;;
	aarch64|arm64) abi=aarch64 ;;
	*) skip "ABI tag of $(uname -m) not guessed here" ;;
	esac
	local f=$dir/.wapi/$host.$abi.state
	# A whole file: the tables are in the state file.
	run "$mkstate" -H "$host" "$f"
	assert_success
	run --separate-stderr "$WAPICTL" status -o VERDICT -n
	assert_output orphaned
	run_recipes "$f" "$f"

	# An anchor and its segment, as a client makes them; the client and
	# its helper are killed, as in a crash.
	[ -x "$tclient" ] || skip "tests/lib/wapi-tclient is not built"
	[ -x "${WAPI_HELPER:-}" ] || skip "WAPI_HELPER is not set"
	DOCS_SEGDIR=$(mktemp -d /dev/shm/wapi-docs.XXXXXX 2>/dev/null) ||
	    skip "no directory of ours on /dev/shm"
	case $(stat -f -c %T "$DOCS_SEGDIR") in
	tmpfs|ramfs) ;;
	*) skip "/dev/shm is not a memory file system" ;;
	esac
	export WAPI_SEGMENT_DIR=$DOCS_SEGDIR WAPI_HELPER_LINGER=0
	rm -f "$f"
	"$tclient" -e docs-ev -w 300 >"$BATS_TEST_TMPDIR/client" 2>&1 </dev/null 3>&- &
	DOCS_PIDS=$!
	local i helper
	for i in $(seq 300); do
		grep -q '^ready' "$BATS_TEST_TMPDIR/client" && break
		sleep 0.1
	done
	run cat "$BATS_TEST_TMPDIR/client"
	assert_output --regexp "^ready [0-9]+ $f\$"
	# The helper published its pid to the anchor before it listened.
	helper=$(od -A n -t d4 -j 512 -N 4 "$f" | tr -d ' ')
	[ "$helper" -gt 0 ]
	DOCS_PIDS="$DOCS_PIDS $helper"
	kill -STOP $DOCS_PIDS
	kill -9 $DOCS_PIDS
	wait "${DOCS_PIDS%% *}" 2>/dev/null || true
	for i in $(seq 300); do
		[ "$("$WAPICTL" status -o VERDICT -n 2>/dev/null)" = orphaned ] &&
		    break
		sleep 0.1
	done
	local s
	s=$(find "$DOCS_SEGDIR" -name "wapi-$(id -u)-$host.$abi-*")
	[ -f "$s" ]
	[ "$(stat -c %s "$f")" -eq 4096 ]
	run od -A n -t u4 -j 384 -N 4 "$f"
	assert_output --regexp '^ +1$'
	run od -A n -t u4 -j 384 -N 4 "$s"
	assert_output --regexp '^ +2$'
	run_recipes "$f" "$s"
	# Both files changed alike: the same bytes 0 to 375, a sound segment.
	cmp -n 376 "$f" "$s"
	run "$WAPICTL" validate "$s"
	assert_success
	# The next client re-initialises the left-over state: the old segment
	# goes, a new one with another state id comes.
	run "$tclient" -w 0
	assert_output --regexp "^ready [0-9]+ $f\$"
	[ ! -e "$s" ]
	# Its helper removes both files when it leaves.
	for i in $(seq 300); do
		[ -e "$f" ] || break
		sleep 0.1
	done
	[ ! -e "$f" ]
}

@test "the example of libwapi(3) builds, and two processes share its event" {
	local cc=${CC:-cc} lib=$top_builddir/src/lib/.libs
	command -v "$cc" >/dev/null || skip "no C compiler"
	[ -e "$lib/libwapi.so" ] || skip "libwapi.so is not built"
	# A sanitizer build of the library needs its runtime loaded first.
	if readelf -d "$lib/libwapi.so" 2>/dev/null | grep -q 'asan\|ubsan'; then
		skip "libwapi is built with a sanitizer"
	fi
	local ex=$BATS_TEST_TMPDIR/event
	sed -n '/^One process creates a named manual-reset event/,/^\.Ed$/p' \
	    "$man/libwapi.3" |
	    sed '1,/^\.Bd -literal/d; /^\.Ed$/d; s/\\e/\\/g' >"$ex.c"
	run "$cc" -std=gnu11 -Wall -Wextra -Werror -I"$top_srcdir/src" \
	    -o "$ex" "$ex.c" -L"$lib" -lwapi -Wl,-rpath,"$lib"
	assert_success
	mkdir -m 700 "$BATS_TEST_TMPDIR/w"
	export WAPI_SHARED_DIR=$BATS_TEST_TMPDIR/w WAPI_SHARED_HOSTNAME=docs-ex
	export WAPI_HELPER_LINGER=0
	"$ex" >"$BATS_TEST_TMPDIR/waiter.out" 2>&1 3>&- &
	local waiter=$! i
	# The setter may start before the event exists: try again until the
	# waiter has made it (no timing is asserted).
	for i in $(seq 300); do
		"$ex" set 2>/dev/null 3>&- && break
		kill -0 "$waiter" 2>/dev/null || break
		sleep 0.1
	done
	local rc=0
	wait "$waiter" || rc=$?
	[ "$rc" -eq 0 ] ||
	    fail "the waiter exited $rc: $(cat "$BATS_TEST_TMPDIR/waiter.out")"
	run cat "$BATS_TEST_TMPDIR/waiter.out"
	assert_output ''
}

@test "pkg-config --static --libs libwapi is all a static link of it needs" {
	local cc=${CC:-cc} lib=$top_builddir/src/lib/.libs libs
	command -v "$cc" >/dev/null || skip "no C compiler"
	command -v pkg-config >/dev/null || skip "no pkg-config"
	[ -e "$lib/libwapi.a" ] || skip "libwapi.a is not built"
	if nm "$lib/libwapi.a" 2>/dev/null | grep -q '__asan\|__ubsan'; then
		skip "libwapi is built with a sanitizer"
	fi
	libs=$(PKG_CONFIG_PATH=$top_builddir/src/lib pkg-config --static \
	    --libs libwapi)
	[[ " $libs " == *" -lbsd "* ]]
	printf '%s\n' '#include <wapi.h>' 'int main(void) {' \
	    '	wapi_handle_t h;' \
	    '	return wapi_event_create(NULL, 0, 1, &h) != 0 ||' \
	    '	    wapi_wait(h, 0) != WAPI_WAIT_OBJECT_0;' '}' \
	    >"$BATS_TEST_TMPDIR/s.c"
	# libwapi.a itself, then exactly what pkg-config adds after -lwapi
	run "$cc" -I"$top_srcdir/src" -o "$BATS_TEST_TMPDIR/s" \
	    "$BATS_TEST_TMPDIR/s.c" "$lib/libwapi.a" ${libs#*-lwapi}
	assert_success
	WAPI_DISABLE_SHM=1 "$BATS_TEST_TMPDIR/s"
}

@test "libwapi(3) has every call and constant of wapi.h, and the variables" {
	local h=$top_srcdir/src/wapi.h w src
	grep -oE '\bwapi_[a-z_]+\(' "$h" | tr -d '(' | sort -u >"$BATS_TEST_TMPDIR/calls"
	[ -s "$BATS_TEST_TMPDIR/calls" ]
	while read -r w; do
		grep -qE "^\.(Fn|Fo) $w( |\$)" "$man/libwapi.3" ||
		    fail "$w has no synopsis in libwapi(3)"
		grep -qE "^\.Nm $w( ,)?\$" "$man/libwapi.3" ||
		    fail "$w is not in the NAME of libwapi(3)"
	done <"$BATS_TEST_TMPDIR/calls"
	grep -oE '\bWAPI_[A-Z0-9_]+' "$h" | sort -u |
	    grep -vx 'WAPI_H' | grep -v '_$' >"$BATS_TEST_TMPDIR/consts"
	each "$BATS_TEST_TMPDIR/consts" has_word "$man/libwapi.3"
	# The variables: every name the core, the library and the helper
	# read, a quoted WAPI_* or MONO_* string (getenv, or a table of
	# names) or a getenv("NAME"); and these, whatever the code says.
	src=$top_srcdir/src
	{
		printf '%s\n' WAPI_SHARED_DIR MONO_SHARED_DIR WAPI_SHARED_HOSTNAME \
		    MONO_SHARED_HOSTNAME WAPI_DISABLE_SHM MONO_DISABLE_SHM \
		    WAPI_MAX_HANDLES WAPI_HELPER WAPI_HELPER_LINGER \
		    WAPI_HELPER_TIMEOUT_MS WAPI_PROCESS_HANDLE
		grep -ohE '"(WAPI|MONO)_[A-Z_]+"|getenv\("[A-Z_]+"\)' \
		    "$src"/core/*.[ch] "$src"/lib/*.[ch] "$src"/helper/*.[ch] |
		    sed -E 's/^getenv\(//; s/\)$//' | tr -d '"'
	} | sort -u >"$BATS_TEST_TMPDIR/vars"
	grep -qx WAPI_SEGMENT_DIR "$BATS_TEST_TMPDIR/vars"
	grep -qx XDG_RUNTIME_DIR "$BATS_TEST_TMPDIR/vars"
	while read -r w; do
		sed -n '/^\.Sh ENVIRONMENT/,/^\.Sh /p' "$man/libwapi.3" |
		    grep -q "^\.It Ev $w\( ,\|\$\)\|, Ev $w\( ,\|\$\)" ||
		    fail "$w is not under ENVIRONMENT in libwapi(3)"
	done <"$BATS_TEST_TMPDIR/vars"
	grep -q '^\.It Ev WAPI_HELPER_LINGER$' "$man/wapi-helper.8"
}

# The table of JSON keys of wapictl(1) for one array ($1: status, clients,
# handles, validate, clean), "key type" lines, sorted.
man_json_keys() {
	awk -v t="$1" '
	    /^\.\\" json [a-z]+$/ { s = $3; next }
	    /^\.El/ { s = "" }
	    s == t && $1 == ".It" && $2 == "Li" && $4 == "Ta" { print $3, $5 }
	' "$man/wapictl.1" | sort
}

@test "wapictl(1) lists every JSON key the commands emit, with its type" {
	local tclient=$top_builddir/tests/lib/wapi-tclient
	[ -x "${WAPICTL:-}" ] || skip "WAPICTL is not set"
	[ -x "$tclient" ] || skip "tests/lib/wapi-tclient is not built"
	[ -x "${WAPI_HELPER:-}" ] || skip "WAPI_HELPER is not set"
	local d=$BATS_TEST_TMPDIR host=docs-json c cols JQ=${JQ:-jq}
	export LC_ALL=C
	mkdir -m 700 "$d/w"
	export WAPI_SHARED_DIR=$d/w WAPI_SHARED_HOSTNAME=$host
	export WAPI_HELPER_LINGER=0
	DOCS_SEGDIR=$(mktemp -d /dev/shm/wapi-docs.XXXXXX 2>/dev/null) ||
	    DOCS_SEGDIR=
	export WAPI_SEGMENT_DIR=${DOCS_SEGDIR:-none}
	# A live client with a handle of several types.
	"$tclient" -e docs-ev -m docs-mx -s docs-se -w 300 >"$d/client" 2>&1 \
	    </dev/null 3>&- &
	DOCS_PIDS=$!
	local i
	for i in $(seq 300); do
		grep -q '^ready' "$d/client" && break
		sleep 0.1
	done
	run cat "$d/client"
	assert_output --regexp '^ready [0-9]+ '
	local f=${output##* } helper
	helper=$("$WAPICTL" -J status | "$JQ" -r '.status[0].helper // empty')
	[ -n "$helper" ] && DOCS_PIDS="$DOCS_PIDS $helper"
	# Every column of status and handles, the second table of status -v,
	# validate of a sound file and clean -n (nothing removed).
	cols=$(paste -sd, "$lists/columns.status")
	"$WAPICTL" -J status -v -o "$cols" >"$d/status.json"
	"$WAPICTL" -J status -v >"$d/clients.json"
	cols=$(paste -sd, "$lists/columns.handles")
	"$WAPICTL" -J handles -o "$cols" >"$d/handles.json"
	"$WAPICTL" -J validate "$f" >"$d/validate.json"
	"$WAPICTL" -J clean -n >"$d/clean.json"
	for c in status clients handles validate clean; do
		# Each key with the type of its values that are not null
		# ("null" when all are).
		"$JQ" -r --arg c "$c" '[.[$c][] | to_entries[]] | group_by(.key)[]
		    | [.[0].key, ([.[].value | type] - ["null"] | unique |
		    if length == 0 then "null" else join("|") end)] | join(" ")' \
		    "$d/$c.json" | sort >"$d/code.$c"
		[ -s "$d/code.$c" ] || fail "no row of $c to take keys from"
		man_json_keys "$c" >"$d/man.$c"
		# The keys alike; a type the code shows is the page's.
		diff -u <(cut -d' ' -f1 "$d/man.$c") \
		    <(cut -d' ' -f1 "$d/code.$c") ||
		    fail "$c: the keys of wapictl(1) (-) and of the code (+)"
		join "$d/man.$c" "$d/code.$c" |
		    awk '$3 != "null" && $2 != $3 { print; bad = 1 }
		    END { exit bad }' ||
		    fail "$c: a key of another type than wapictl(1) says"
	done
	kill -9 $DOCS_PIDS
	wait "${DOCS_PIDS%% *}" 2>/dev/null || true
}
