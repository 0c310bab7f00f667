# Reliability (issue 8): the crash torture and the clean race.  TESTS runs
# the CI-sized versions; `make torture` the full ones:
#   make torture TORTURE_KILLS=1000 CLEAN_RACE_LIVES=5000
# The r-* programs reproduce bugs the torture found, all fixed since: they
# stay as regression tests.
torture_tests = tests/torture/t-torture tests/torture/t-clean-race \
	tests/torture/r-slot-stall tests/torture/r-hello-reset \
	tests/torture/r-create-race tests/torture/r-repair-kill \
	tests/torture/r-spawn-kill
check_PROGRAMS += $(torture_tests)
TESTS += $(torture_tests)

TORTURE_LDADD = src/lib/libwapi.la src/core/libwapicore.la $(BSD_LIBS)
TORTURE_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_torture_t_torture_SOURCES = tests/torture/torture.c tests/lib/tlib.h
tests_torture_t_torture_CPPFLAGS = $(TORTURE_CPPFLAGS)
tests_torture_t_torture_LDADD = $(TORTURE_LDADD)
tests_torture_t_clean_race_SOURCES = tests/torture/clean-race.c \
	tests/lib/tlib.h
tests_torture_t_clean_race_CPPFLAGS = $(TORTURE_CPPFLAGS)
tests_torture_t_clean_race_LDADD = $(TORTURE_LDADD)
tests_torture_r_hello_reset_SOURCES = tests/torture/r-hello-reset.c \
	tests/lib/tlib.h
tests_torture_r_hello_reset_CPPFLAGS = $(TORTURE_CPPFLAGS)
tests_torture_r_hello_reset_LDADD = $(TORTURE_LDADD)
tests_torture_r_slot_stall_SOURCES = tests/torture/r-slot-stall.c \
	tests/lib/tlib.h
tests_torture_r_slot_stall_CPPFLAGS = $(TORTURE_CPPFLAGS)
tests_torture_r_slot_stall_LDADD = $(TORTURE_LDADD)
tests_torture_r_create_race_SOURCES = tests/torture/r-create-race.c \
	tests/lib/tlib.h
tests_torture_r_create_race_CPPFLAGS = $(TORTURE_CPPFLAGS)
tests_torture_r_create_race_LDADD = $(TORTURE_LDADD)
tests_torture_r_repair_kill_SOURCES = tests/torture/r-repair-kill.c \
	tests/lib/tlib.h
tests_torture_r_repair_kill_CPPFLAGS = $(TORTURE_CPPFLAGS)
tests_torture_r_repair_kill_LDADD = $(TORTURE_LDADD)

tests_torture_r_spawn_kill_SOURCES = tests/torture/r-spawn-kill.c \
	tests/lib/tlib.h
tests_torture_r_spawn_kill_CPPFLAGS = $(TORTURE_CPPFLAGS)
tests_torture_r_spawn_kill_LDADD = $(TORTURE_LDADD)
# Preloaded into the helper by r-spawn-kill: it dies before it answers.
check_LTLIBRARIES += tests/torture/spawn-reply-kill.la
tests_torture_spawn_reply_kill_la_SOURCES = tests/torture/spawn-reply-kill.c
tests_torture_spawn_reply_kill_la_CPPFLAGS = $(AM_CPPFLAGS)
tests_torture_spawn_reply_kill_la_LDFLAGS = -module -avoid-version -shared \
	-rpath /nowhere

TORTURE_KILLS = 1000
CLEAN_RACE_LIVES = 5000
torture: tests/torture/t-torture tests/torture/t-clean-race \
	src/wapictl/wapictl src/helper/wapi-helper
	@$(AM_TESTS_ENVIRONMENT) \
	TORTURE_KILLS=$(TORTURE_KILLS) $(abs_builddir)/tests/torture/t-torture \
	    >tests/torture/torture-full.log 2>&1; \
	rc=$$?; grep -E '^not ok|^# summary' tests/torture/torture-full.log; \
	test $$rc = 0 || { echo "failed: see tests/torture/torture-full.log"; \
	    exit 1; }
	@$(AM_TESTS_ENVIRONMENT) \
	CLEAN_RACE_LIVES=$(CLEAN_RACE_LIVES) \
	    $(abs_builddir)/tests/torture/t-clean-race \
	    >tests/torture/clean-race-full.log 2>&1; \
	rc=$$?; grep -E '^not ok|^# summary' tests/torture/clean-race-full.log; \
	test $$rc = 0 || { echo "failed: see tests/torture/clean-race-full.log"; \
	    exit 1; }
CLEANFILES += tests/torture/torture-full.log tests/torture/clean-race-full.log
.PHONY: torture
