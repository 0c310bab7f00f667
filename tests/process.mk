# Process handles (issue 6): spawn, wait, terminate, open by pid, in shared
# and private mode.
check_PROGRAMS += tests/lib/t-process
tests_lib_t_process_SOURCES = tests/lib/t-process.c tests/lib/tlib.h
tests_lib_t_process_LDADD = $(LIBTEST_LDADD)
TESTS += tests/lib/t-process
