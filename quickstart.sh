#!/bin/sh
# Quick start on Debian 12 (as root, or with the packages already there):
#   ./quickstart.sh         install what is missing, build, install into
#                           ./_install, run the demo, then `wapictl status`
#   ./quickstart.sh check   install what is missing, build, run every test
set -eu
cd "$(dirname "$0")"
top=$(pwd)
mode=${1:-demo}

# Build: a C toolchain, autotools, libbsd, libsmartcols.
pkgs="build-essential autoconf automake libtool pkg-config libbsd-dev
libsmartcols-dev"
# Tests (README.md says why each is there): bats with its helpers, jq for
# wapictl's JSON, mandoc to lint the manuals and groff to format them,
# systemd for systemd-analyze verify of the installed units, zsh and fish to
# run the completions, python3 for the hostile-input peers, clang and its
# runtime for the libFuzzer targets, valgrind for memcheck of wapictl,
# bsdutils for script(1), the pseudo-terminal of the terminal tests.
[ "$mode" = check ] && pkgs="$pkgs bats bats-support bats-assert jq mandoc
groff-base systemd zsh fish python3 clang libclang-rt-14-dev valgrind
bsdutils"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "quickstart: these Debian packages are missing:$missing" >&2
		echo "quickstart: run as root, or: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo "quickstart: installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
fi

[ -x configure ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q --enable-werror --prefix="$top/_install"
make -s -j2

case $mode in
demo)
	make -s install >/dev/null
	"$top/_install/bin/wapi-demo"
	echo
	echo "$ wapictl status -v"
	"$top/_install/bin/wapictl" status -v || true
	;;
check)
	rc=0
	make -s -j2 check || rc=$?
	# One closing line for CI: "N passed, N failed".
	if [ -f test-suite.log ]; then
		awk '/^# (PASS|FAIL|SKIP|ERROR|XFAIL|XPASS):/ { n[$2] = $3 }
		    END { printf "%d passed, %d failed, %d skipped\n",
		    n["PASS:"] + n["XFAIL:"], n["FAIL:"] + n["ERROR:"] + n["XPASS:"],
		    n["SKIP:"] }' test-suite.log
	fi
	[ $rc = 0 ] || { cat test-suite.log | tail -n 80; exit $rc; }
	;;
*)
	echo "usage: ./quickstart.sh [check]" >&2
	exit 2
	;;
esac
