# make install from the build directory into temporary directories (the
# units, their ExecStart, systemd-analyze verify, the run path), and the
# usage of wapi-helper and wapi-demo.
TESTS += tests/install.bats
EXTRA_DIST += tests/install.bats
