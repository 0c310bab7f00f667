# wapictl: bats suites (real clients from tests/lib/wapi-tclient, fixtures
# from tests/mkstate and the two small programs below).
wapictl_bats = \
	tests/wapictl-usage.bats tests/wapictl-status.bats \
	tests/wapictl-handles.bats tests/wapictl-validate.bats \
	tests/wapictl-lock.bats tests/wapictl-clean.bats \
	tests/wapictl-stop.bats tests/wapictl-mono.bats \
	tests/wapictl-segment.bats tests/wapictl-waits.bats
TESTS += $(wapictl_bats)
EXTRA_DIST += $(wapictl_bats) tests/wapictl/helpers.bash
check_PROGRAMS += tests/wapictl/patchstate tests/wapictl/mono-legacy
tests_wapictl_patchstate_SOURCES = tests/wapictl/patchstate.c
tests_wapictl_patchstate_LDADD = src/core/libwapicore.la $(BSD_LIBS)
tests_wapictl_mono_legacy_SOURCES = tests/wapictl/mono-legacy.c
tests_wapictl_mono_legacy_LDADD = $(BSD_LIBS)
