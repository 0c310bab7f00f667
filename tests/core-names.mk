# C tests of the core's names, directory, liveness and protocol code
# (src/core/names.c dir.c live.c proto.c).
core_names_tests = tests/core/t-names tests/core/t-dir tests/core/t-live \
	tests/core/t-proto
check_PROGRAMS += $(core_names_tests)
TESTS += $(core_names_tests)

tests_core_t_names_SOURCES = tests/core/t-names.c tests/core/tcheck.h
tests_core_t_names_LDADD = src/core/libwapicore.la $(BSD_LIBS)
tests_core_t_dir_SOURCES = tests/core/t-dir.c tests/core/tcheck.h
tests_core_t_dir_LDADD = src/core/libwapicore.la $(BSD_LIBS)
tests_core_t_live_SOURCES = tests/core/t-live.c tests/core/tcheck.h
tests_core_t_live_LDADD = src/core/libwapicore.la $(BSD_LIBS)
tests_core_t_proto_SOURCES = tests/core/t-proto.c tests/core/tcheck.h
tests_core_t_proto_LDADD = src/core/libwapicore.la $(BSD_LIBS)
