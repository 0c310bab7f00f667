# Reliability (issue 8): the crash torture and the clean race.  The CI-sized
# runs are in TESTS; `make torture` runs the full ones (TORTURE_KILLS kills,
# CLEAN_RACE_LIVES client lives).
torture_tests = tests/torture/t-torture tests/torture/t-clean-race
check_PROGRAMS += $(torture_tests)
TESTS += $(torture_tests)
tests_torture_t_torture_SOURCES = tests/torture/torture.c tests/lib/tlib.h
tests_torture_t_torture_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_torture_t_torture_LDADD = src/lib/libwapi.la src/core/libwapicore.la \
	$(BSD_LIBS)
tests_torture_t_clean_race_SOURCES = tests/torture/clean-race.c \
	tests/lib/tlib.h
tests_torture_t_clean_race_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/lib
tests_torture_t_clean_race_LDADD = src/lib/libwapi.la \
	src/core/libwapicore.la $(BSD_LIBS)

TORTURE_KILLS = 1000
CLEAN_RACE_LIVES = 3000
torture: $(torture_tests) src/wapictl/wapictl src/helper/wapi-helper
	@$(AM_TESTS_ENVIRONMENT) \
	TORTURE_KILLS=$(TORTURE_KILLS) $(builddir)/tests/torture/t-torture && \
	CLEAN_RACE_LIVES=$(CLEAN_RACE_LIVES) \
	    $(builddir)/tests/torture/t-clean-race
.PHONY: torture
