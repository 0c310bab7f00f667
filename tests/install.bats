#!/usr/bin/env bats
bats_require_minimum_version 1.5.0
# make install from the build directory into a staging root (DESTDIR) and
# into another prefix (make install prefix=DIR): the programs, the library,
# the manuals, the completions and the systemd user units land where
# README.md says, the service runs the installed wapictl, systemd-analyze
# verify accepts the units, the installed programs run.  Also the usage of
# wapi-helper and wapi-demo.

setup_file() {
	: "${top_srcdir:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
	: "${top_builddir:=$top_srcdir}"
	export top_srcdir top_builddir
	[ -f "$top_builddir/Makefile" ] || return 0
	# One staged install for the whole file; the make of `make check`
	# must not lend its jobserver to this one.
	export STAGE=$BATS_FILE_TMPDIR/root
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s \
	    -C "$top_builddir" install DESTDIR="$STAGE" \
	    >"$BATS_FILE_TMPDIR/install.log" 2>&1 ||
	    echo failed >"$BATS_FILE_TMPDIR/install.failed"
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	[ -f "$top_builddir/Makefile" ] ||
	    skip "no Makefile in $top_builddir: run from a configured build"
	[ ! -e "$BATS_FILE_TMPDIR/install.failed" ] ||
	    fail "make install DESTDIR failed: $(cat "$BATS_FILE_TMPDIR/install.log")"
}

# The value of a make variable of the build, expanded.
makevar() {
	printf 'print-var:\n\t@echo $(%s)\n' "$1" |
	    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s \
	    --no-print-directory -C "$top_builddir" -f Makefile -f - print-var
}

@test "make install puts every part where README.md says" {
	local bindir libdir libexecdir mandir bashcompdir datadir
	bindir=$(makevar bindir)
	libdir=$(makevar libdir)
	libexecdir=$(makevar libexecdir)
	mandir=$(makevar mandir)
	datadir=$(makevar datadir)
	bashcompdir=$(makevar bashcompdir)
	[ -n "$bindir" ] && [ -n "$datadir" ] && [ -n "$bashcompdir" ]
	local f
	for f in "$bindir/wapictl" "$bindir/wapi-demo" \
	    "$libexecdir/wapi-helper"; do
		[ -x "$STAGE$f" ] || fail "not installed: $f"
	done
	for f in "$libdir/libwapi.so.0" "$libdir/pkgconfig/libwapi.pc" \
	    "$mandir/man1/wapictl.1" "$mandir/man3/libwapi.3" \
	    "$mandir/man5/wapi-state.5" "$mandir/man8/wapi-helper.8" \
	    "$bashcompdir/wapictl" "$datadir/zsh/site-functions/_wapictl" \
	    "$datadir/fish/vendor_completions.d/wapictl.fish"; do
		[ -f "$STAGE$f" ] || fail "not installed: $f"
	done
	# The bash file is the completion itself, under the command's name.
	cmp "$top_srcdir/completions/wapictl.bash" "$STAGE$bashcompdir/wapictl"
}

@test "the installed wapictl runs, and wapi-demo finds libwapi by its run path" {
	local bindir libdir
	bindir=$(makevar bindir)
	libdir=$(makevar libdir)
	run "$STAGE$bindir/wapictl" --version
	assert_success
	assert_output --partial "$(makevar PACKAGE_VERSION)"
	# The library starts the helper from the installed libexecdir.
	grep -qaF "$(makevar libexecdir)" "$STAGE$libdir/libwapi.so.0"
	command -v readelf >/dev/null || skip "readelf is not installed"
	run readelf -d "$STAGE$bindir/wapi-demo"
	assert_success
	assert_output --partial 'libwapi.so.0'
	# libtool writes no run path for a directory that the dynamic linker
	# searches anyway (its sys_lib_dlsearch_path_spec: /usr/lib,
	# /usr/local/lib on Debian), and must write one for any other.
	local search
	search=$(sed -n 's/^sys_lib_dlsearch_path_spec="\(.*\)"$/\1/p' \
	    "$top_builddir/libtool")
	[ -n "$search" ]
	if [[ " $search " == *" $libdir "* ]]; then
		echo "# $libdir is searched by the dynamic linker: no run path" >&3
		refute_output --regexp '\((RUNPATH|RPATH)\)'
	else
		assert_output --regexp "\((RUNPATH|RPATH)\).*\[([^]]*:)?$libdir(:[^]]*)?\]"
	fi
	# Staged, the library is not in the run path yet; where it goes is.
	run env LD_LIBRARY_PATH="$STAGE$libdir" "$STAGE$bindir/wapi-demo" --help
	assert_success
	assert_line 'usage: wapi-demo'
}

@test "the installed service runs the installed wapictl -q clean" {
	local dir bindir
	dir=$(makevar systemduserunitdir)
	[ -n "$dir" ] || skip "configured --without-systemduserunitdir"
	bindir=$(makevar bindir)
	[ -f "$STAGE$dir/wapi-clean.service" ]
	run grep -x "ExecStart=.*" "$STAGE$dir/wapi-clean.service"
	assert_output "ExecStart=$bindir/wapictl -q clean"
	run grep -c '@bindir@' "$STAGE$dir/wapi-clean.service"
	assert_output 0
	cmp "$top_srcdir/contrib/wapi-clean.timer" "$STAGE$dir/wapi-clean.timer"
}

@test "make install prefix=DIR writes DIR into the service" {
	local p=$BATS_TEST_TMPDIR/p
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s \
	    -C "$top_builddir" install prefix="$p" \
	    systemduserunitdir="$p/lib/systemd/user"
	# Put the build's own service back, whatever happened.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s \
	    -C "$top_builddir" contrib/wapi-clean.service
	assert_success
	[ -x "$p/bin/wapictl" ]
	run grep -x "ExecStart=.*" "$p/lib/systemd/user/wapi-clean.service"
	assert_output "ExecStart=$p/bin/wapictl -q clean"
	run grep -x "ExecStart=.*" "$top_builddir/contrib/wapi-clean.service"
	assert_output "ExecStart=$(makevar bindir)/wapictl -q clean"
}

# systemd-analyze verify --user on copies of the staged units whose
# ExecStart names the staged wapictl (the installed path with the staging
# root in front), with the staged manuals for Documentation=.
verify_units() {
	local dir=$1 bindir=$2 d=$BATS_TEST_TMPDIR/units
	mkdir -p "$d" "$BATS_TEST_TMPDIR/run"
	chmod 700 "$BATS_TEST_TMPDIR/run"
	sed "s|^ExecStart=$bindir/|ExecStart=$STAGE$bindir/|" \
	    "$STAGE$dir/wapi-clean.service" >"$d/wapi-clean.service"
	cp "$STAGE$dir/wapi-clean.timer" "$d/"
	XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/run \
	    MANPATH=$STAGE$(makevar mandir) \
	    systemd-analyze verify --user "$d/wapi-clean.service" \
	    "$d/wapi-clean.timer"
}

@test "systemd-analyze verify accepts the installed units" {
	command -v systemd-analyze >/dev/null ||
	    skip "systemd-analyze is not installed (Debian package systemd)"
	local dir bindir
	dir=$(makevar systemduserunitdir)
	[ -n "$dir" ] || skip "configured --without-systemduserunitdir"
	bindir=$(makevar bindir)
	run verify_units "$dir" "$bindir"
	assert_success
	assert_output ''
	# It does check: a service whose program is missing is refused.
	mv "$STAGE$bindir/wapictl" "$STAGE$bindir/wapictl.away"
	run verify_units "$dir" "$bindir"
	mv "$STAGE$bindir/wapictl.away" "$STAGE$bindir/wapictl"
	assert_failure
	assert_output --partial 'wapictl'
}

@test "wapi-helper -h and --help print the usage and exit 0" {
	local opt
	for opt in -h --help; do
		run --separate-stderr "$WAPI_HELPER" "$opt"
		assert_success
		assert_line --index 0 'usage: wapi-helper STATE-FILE [DEV:INO]'
		assert_output --partial 'wapi-helper(8)'
		[ -z "$stderr" ]
	done
}

@test "wapi-helper refuses an unknown option with exit 2 and a usage hint" {
	run --separate-stderr "$WAPI_HELPER" --bogus
	assert_failure 2
	[ -z "$output" ]
	[[ $stderr == *'unknown option --bogus'* ]]
	[[ $stderr == *'usage: wapi-helper STATE-FILE'*'--help'* ]]
	run --separate-stderr "$WAPI_HELPER"
	assert_failure 2
	[[ $stderr == *'usage: wapi-helper'* ]]
	# A path with a slash is a state file, even if it begins with a dash.
	run --separate-stderr "$WAPI_HELPER" -x/.wapi/nothing
	assert_failure 2
	[[ $stderr == *'-x/.wapi/nothing: not a state file name'* ]]
}

@test "wapi-demo -h and --help print the usage and exit 0" {
	local demo=$top_builddir/src/demo/wapi-demo opt
	[ -x "$demo" ] || skip "src/demo/wapi-demo is not built"
	for opt in -h --help; do
		run --separate-stderr "$demo" "$opt"
		assert_success
		assert_line --index 0 'usage: wapi-demo'
		assert_output --partial 'wapictl status'
	done
}

@test "wapi-demo refuses an option or an argument with exit 2" {
	local demo=$top_builddir/src/demo/wapi-demo
	[ -x "$demo" ] || skip "src/demo/wapi-demo is not built"
	run --separate-stderr "$demo" --bogus
	assert_failure 2
	[ -z "$output" ]
	[[ $stderr == *'--bogus: unknown option'*'usage: wapi-demo'*'--help'* ]]
	run --separate-stderr "$demo" extra
	assert_failure 2
	[[ $stderr == *'extra: no arguments taken'* ]]
}
