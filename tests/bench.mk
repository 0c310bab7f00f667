# Benchmarks (issue 9): built with the tests so that they never rot, run
# only by `make bench` (never by `make check`).  `make bench BENCH_FLAGS=-q`
# is a quick smoke run; BENCH_FLAGS='-s fd,spawn' picks sections.
bench_programs = tests/bench/wapi-bench tests/bench/bench-empty \
	tests/bench/bench-attach
check_PROGRAMS += $(bench_programs)
EXTRA_DIST += tests/bench/run-bench.sh
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
CLEANFILES += bench-results.tsv bench-results.json

bench: $(bench_programs) src/helper/wapi-helper src/wapictl/wapictl
	$(SHELL) $(top_srcdir)/tests/bench/run-bench.sh '$(abs_top_builddir)' \
	    $(BENCH_FLAGS)
.PHONY: bench
