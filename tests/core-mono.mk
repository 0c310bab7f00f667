# C tests of the core's Mono V12 handle record decoder (src/core/mono.c).
check_PROGRAMS += tests/core/t-mono
TESTS += tests/core/t-mono

tests_core_t_mono_SOURCES = tests/core/t-mono.c tests/core/tcheck.h
tests_core_t_mono_LDADD = src/core/libwapicore.la $(BSD_LIBS)
