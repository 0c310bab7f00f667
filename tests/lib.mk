# C tests of libwapi: real processes, real kills.
LIBTEST_LDADD = src/lib/libwapi.la src/core/libwapicore.la $(BSD_LIBS)
check_PROGRAMS += tests/lib/wapi-tclient tests/lib/t-attach
EXTRA_DIST += tests/lib/tlib.h
tests_lib_wapi_tclient_SOURCES = tests/lib/wapi-tclient.c
tests_lib_wapi_tclient_LDADD = src/lib/libwapi.la $(BSD_LIBS)
tests_lib_t_attach_SOURCES = tests/lib/t-attach.c tests/lib/tlib.h
tests_lib_t_attach_LDADD = $(LIBTEST_LDADD)
TESTS += tests/lib/t-attach
check_PROGRAMS += tests/lib/t-fd
tests_lib_t_fd_SOURCES = tests/lib/t-fd.c tests/lib/tlib.h
tests_lib_t_fd_LDADD = $(LIBTEST_LDADD)
TESTS += tests/lib/t-fd

# wapictl under valgrind memcheck (a bats suite of its own).
TESTS += tests/valgrind.bats
EXTRA_DIST += tests/valgrind.bats
# A number just works: first use adopts it, close never does, a gone number
# stays gone (t-adopt); wapi-tuse is the user it execs, and its uses are
# built into t-adopt too for its forked children.
check_PROGRAMS += tests/lib/wapi-tuse tests/lib/t-adopt
tests_lib_wapi_tuse_SOURCES = tests/lib/wapi-tuse.c
tests_lib_wapi_tuse_LDADD = src/lib/libwapi.la $(BSD_LIBS)
tests_lib_t_adopt_SOURCES = tests/lib/t-adopt.c tests/lib/wapi-tuse.c \
	tests/lib/tlib.h
tests_lib_t_adopt_CPPFLAGS = $(AM_CPPFLAGS) -DTUSE_NO_MAIN=1
tests_lib_t_adopt_LDADD = $(LIBTEST_LDADD)
TESTS += tests/lib/t-adopt

# A same-user writer changes fields of a live file: no spin, no slot given
# twice, no helper crash.
check_PROGRAMS += tests/lib/t-tamper
tests_lib_t_tamper_SOURCES = tests/lib/t-tamper.c tests/lib/tlib.h
tests_lib_t_tamper_LDADD = $(LIBTEST_LDADD)
TESTS += tests/lib/t-tamper

# Wait records and `wapictl waits' (issue 21): wapi-twait holds and waits
# for named objects as the bats suite asks; t-waits forks its own.
check_PROGRAMS += tests/lib/wapi-twait tests/lib/t-waits
tests_lib_wapi_twait_SOURCES = tests/lib/wapi-twait.c
tests_lib_wapi_twait_LDADD = src/lib/libwapi.la $(BSD_LIBS)
tests_lib_t_waits_SOURCES = tests/lib/t-waits.c tests/lib/tlib.h
tests_lib_t_waits_LDADD = $(LIBTEST_LDADD)
TESTS += tests/lib/t-waits
