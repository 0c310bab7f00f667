# wapictl: bats suites (real clients from tests/lib/wapi-tclient, fixtures
# from tests/mkstate and the two small programs below).
wapictl_bats = \
	tests/wapictl-usage.bats tests/wapictl-status.bats \
	tests/wapictl-handles.bats tests/wapictl-validate.bats \
	tests/wapictl-lock.bats tests/wapictl-clean.bats \
	tests/wapictl-stop.bats tests/wapictl-mono.bats \
	tests/wapictl-segment.bats tests/wapictl-validate-many.bats \
	tests/wapictl-audit.bats tests/wapictl-output.bats \
	tests/wapictl-plan.bats \
	tests/wapictl-waits.bats
TESTS += $(wapictl_bats)
EXTRA_DIST += $(wapictl_bats) tests/wapictl/helpers.bash
check_PROGRAMS += tests/wapictl/patchstate tests/wapictl/mono-legacy
tests_wapictl_patchstate_SOURCES = tests/wapictl/patchstate.c
tests_wapictl_patchstate_LDADD = src/core/libwapicore.la $(BSD_LIBS)
tests_wapictl_mono_legacy_SOURCES = tests/wapictl/mono-legacy.c
tests_wapictl_mono_legacy_LDADD = $(BSD_LIBS)
# The audit trail: a datagram socket standing in for syslogd, and a
# preload that sends syslog(3)'s connect to /dev/log there.
check_PROGRAMS += tests/wapictl/logsink
tests_wapictl_logsink_SOURCES = tests/wapictl/logsink.c
tests_wapictl_logsink_LDADD = $(BSD_LIBS)
check_LTLIBRARIES += tests/wapictl/devlog.la
tests_wapictl_devlog_la_SOURCES = tests/wapictl/devlog.c
tests_wapictl_devlog_la_LDFLAGS = -module -avoid-version -shared \
	-rpath $(abs_builddir)/tests/wapictl
