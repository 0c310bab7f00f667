# Benchmarks (issue 9): built with the tests so that they never rot, run
# only by `make bench` (never by `make check`).  `make bench BENCH_FLAGS=-q`
# is a quick smoke run; BENCH_FLAGS='-s fd,spawn' picks sections.
bench_programs = tests/bench/wapi-bench tests/bench/bench-empty \
	tests/bench/bench-attach tests/bench/bench-validate-many
check_PROGRAMS += $(bench_programs)
EXTRA_DIST += tests/bench/run-bench.sh tests/bench/run-validate-many.sh
# -no-install: real executables, not libtool wrapper scripts, whose exec
# would be measured with them.
tests_bench_wapi_bench_SOURCES = tests/bench/bench.c
tests_bench_wapi_bench_LDADD = src/lib/libwapi.la src/core/libwapicore.la \
	$(BSD_LIBS)
tests_bench_wapi_bench_LDFLAGS = -no-install
tests_bench_bench_empty_SOURCES = tests/bench/empty.c
tests_bench_bench_attach_SOURCES = tests/bench/attach.c
tests_bench_bench_attach_LDADD = src/lib/libwapi.la
tests_bench_bench_attach_LDFLAGS = -no-install
tests_bench_bench_validate_many_SOURCES = tests/bench/validate-many.c
tests_bench_bench_validate_many_LDADD = src/core/libwapicore.la $(BSD_LIBS)
CLEANFILES += bench-results.tsv bench-results.json

bench: $(bench_programs) src/helper/wapi-helper src/wapictl/wapictl
	$(SHELL) $(top_srcdir)/tests/bench/run-bench.sh '$(abs_top_builddir)' \
	    $(BENCH_FLAGS)
	$(SHELL) $(top_srcdir)/tests/bench/run-validate-many.sh \
	    '$(abs_top_builddir)' $(BENCH_VALIDATE_FLAGS)

# validate -A over 3,000 files against status -A, alone (issue 19);
# BENCH_VALIDATE_FLAGS='-n 1000 -r 3' for a quick run.
bench-validate: tests/bench/bench-validate-many src/wapictl/wapictl
	$(SHELL) $(top_srcdir)/tests/bench/run-validate-many.sh \
	    '$(abs_top_builddir)' $(BENCH_VALIDATE_FLAGS)
.PHONY: bench bench-validate
