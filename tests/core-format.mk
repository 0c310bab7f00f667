# C tests of the state file format and its validation
# (src/core/format.c validate.c hash.h), and mkstate, which makes fixtures.
core_format_tests = tests/core/t-format tests/core/t-validate \
	tests/core/t-validate-tables
check_PROGRAMS += $(core_format_tests) tests/mkstate
TESTS += $(core_format_tests)

tests_core_t_format_SOURCES = tests/core/t-format.c tests/core/tfmt.h
tests_core_t_format_LDADD = src/core/libwapicore.la $(BSD_LIBS)
tests_core_t_validate_SOURCES = tests/core/t-validate.c tests/core/tfmt.h
tests_core_t_validate_LDADD = src/core/libwapicore.la $(BSD_LIBS)
tests_core_t_validate_tables_SOURCES = tests/core/t-validate-tables.c \
	tests/core/tfmt.h
tests_core_t_validate_tables_LDADD = src/core/libwapicore.la $(BSD_LIBS)
tests_mkstate_SOURCES = tests/mkstate.c tests/core/tfmt.h
tests_mkstate_LDADD = src/core/libwapicore.la $(BSD_LIBS)
