# C tests of the sync objects (issue 4): events, mutexes, semaphores, names
# and waits.  t-sync runs the semantic tests with peers that are processes;
# t-sync-private is the same source built to run them in private mode
# (WAPI_DISABLE_SHM=1, peers are threads); t-sync-stress is processes x
# threads on one semaphore and one mutex, calm and with kills;
# t-sync-handoff hunts lost wakeups in the waiters-bit handoff of mutexes
# and semaphores (also with woken waiters killed).
sync_tests = tests/lib/t-sync tests/lib/t-sync-private tests/lib/t-sync-stress \
	tests/lib/t-sync-handoff
check_PROGRAMS += $(sync_tests)
TESTS += $(sync_tests)
EXTRA_DIST += tests/lib/tsync.h
tests_lib_t_sync_SOURCES = tests/lib/t-sync.c tests/lib/tsync.h tests/lib/tlib.h
tests_lib_t_sync_LDADD = $(LIBTEST_LDADD)
tests_lib_t_sync_private_SOURCES = $(tests_lib_t_sync_SOURCES)
tests_lib_t_sync_private_CPPFLAGS = $(AM_CPPFLAGS) -DTSYNC_PRIVATE=1
tests_lib_t_sync_private_LDADD = $(LIBTEST_LDADD)
tests_lib_t_sync_stress_SOURCES = tests/lib/t-sync-stress.c tests/lib/tsync.h \
	tests/lib/tlib.h
tests_lib_t_sync_stress_LDADD = $(LIBTEST_LDADD)
tests_lib_t_sync_handoff_SOURCES = tests/lib/t-sync-handoff.c tests/lib/tsync.h \
	tests/lib/tlib.h
tests_lib_t_sync_handoff_LDADD = $(LIBTEST_LDADD)
