# Fuzzing and hostile input (issue 8).  `make fuzz [FUZZ_SECONDS=60]`
# builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined; Debian package
# libclang-rt-14-dev), seeds them (tests/fuzz/seeds.c) and runs each for
# FUZZ_SECONDS; it fails when a target finds something.  t-fuzz-replay runs
# the seeds and every input kept in tests/fuzz/regress/ through the same
# entry points in `make check`, with the ordinary compiler.
fuzz_entry_sources = tests/fuzz/fuzz.h tests/fuzz/entry-state.c \
	tests/fuzz/entry-names.c tests/fuzz/entry-proto.c \
	tests/fuzz/entry-mono.c tests/fuzz/seeds.c
check_PROGRAMS += tests/fuzz/t-fuzz-replay
TESTS += tests/fuzz/t-fuzz-replay
tests_fuzz_t_fuzz_replay_SOURCES = tests/fuzz/t-fuzz-replay.c \
	$(fuzz_entry_sources)
tests_fuzz_t_fuzz_replay_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests
tests_fuzz_t_fuzz_replay_LDADD = src/core/libwapicore.la $(BSD_LIBS)
EXTRA_DIST += tests/fuzz/fuzz-state.c tests/fuzz/fuzz-names.c \
	tests/fuzz/fuzz-proto.c tests/fuzz/fuzz-mono.c tests/fuzz/seedgen.c \
	tests/fuzz/regress

# The hostile-input suite: hostile state directories, files, host names,
# environments and socket peers through wapictl and a real client.
TESTS += tests/hostile.bats
EXTRA_DIST += tests/hostile.bats tests/hostile/lib.bash \
	tests/hostile/statepatch tests/hostile/peer tests/hostile/holdlock \
	tests/hostile/squatter
# A getrandom(2) that gives a chosen first token (tests/hostile/firsttoken.c),
# preloaded into a client and its helper.
check_LTLIBRARIES += tests/hostile/firsttoken.la
tests_hostile_firsttoken_la_SOURCES = tests/hostile/firsttoken.c
tests_hostile_firsttoken_la_LDFLAGS = -module -avoid-version -shared \
	-rpath $(abs_builddir)/tests/hostile

FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer
FUZZ_DIR = tests/fuzz/run
FUZZ_MAXLEN_state = 131072
FUZZ_MAXLEN_names = 1024
FUZZ_MAXLEN_proto = 16384
FUZZ_MAXLEN_mono = 200000
FUZZ_TARGETS = state names proto mono

# The core's .c files are compiled into each target (no libtool objects:
# those are built by the ordinary compiler without coverage).
fuzz:
	@set -e; \
	srcs=; \
	for f in $(src_core_libwapicore_la_SOURCES); do \
		case $$f in *.c) srcs="$$srcs $(top_srcdir)/$$f" ;; esac; \
	done; \
	fl="$(FUZZ_CFLAGS) -I$(top_srcdir)/src -I$(top_srcdir)/src/core \
	    -I$(top_srcdir)/tests -I$(top_srcdir)/tests/fuzz $(BSD_CFLAGS) -pthread"; \
	ent="$(top_srcdir)/tests/fuzz/entry-state.c \
	    $(top_srcdir)/tests/fuzz/entry-names.c \
	    $(top_srcdir)/tests/fuzz/entry-proto.c \
	    $(top_srcdir)/tests/fuzz/entry-mono.c"; \
	d=$(FUZZ_DIR); mkdir -p $$d; \
	echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' \
	    > $$d/probe.c; \
	if ! $(FUZZ_CC) -fsanitize=fuzzer -o $$d/probe $$d/probe.c \
	    > $$d/probe.log 2>&1; then \
		echo "fuzz: SKIP: $(FUZZ_CC) cannot build a libFuzzer target" \
		    "(Debian: apt-get install clang libclang-rt-14-dev):"; \
		sed 's/^/fuzz:   /' $$d/probe.log | head -n 5; \
		exit 0; \
	fi; \
	for t in $(FUZZ_TARGETS); do \
		echo "  FUZZCC   $$d/fuzz-$$t"; \
		$(FUZZ_CC) $(DEFS) $$fl -fsanitize=fuzzer $(FUZZ_SAN) -o $$d/fuzz-$$t \
		    $(top_srcdir)/tests/fuzz/fuzz-$$t.c $$ent $$srcs $(BSD_LIBS); \
	done; \
	echo "  FUZZCC   $$d/seedgen"; \
	$(FUZZ_CC) $(DEFS) $$fl $(FUZZ_SAN) -o $$d/seedgen \
	    $(top_srcdir)/tests/fuzz/seedgen.c \
	    $(top_srcdir)/tests/fuzz/seeds.c $$ent $$srcs $(BSD_LIBS); \
	rm -rf $$d/seeds; $$d/seedgen $$d/seeds; \
	found=0; \
	for t in $(FUZZ_TARGETS); do \
		c=$$d/corpus-$$t; rm -rf $$d/findings-$$t; \
		mkdir -p $$c $$d/findings-$$t; \
		cp $$d/seeds/$$t/* $$c/; \
		if ls $(top_srcdir)/tests/fuzz/regress/$$t/* >/dev/null 2>&1; then \
			cp $(top_srcdir)/tests/fuzz/regress/$$t/* $$c/; fi; \
		case $$t in state) ml=$(FUZZ_MAXLEN_state) ;; \
		    proto) ml=$(FUZZ_MAXLEN_proto) ;; \
		    mono) ml=$(FUZZ_MAXLEN_mono) ;; \
		    *) ml=$(FUZZ_MAXLEN_names) ;; esac; \
		echo "fuzz: fuzz-$$t for $(FUZZ_SECONDS) s (corpus $$c, log $$d/fuzz-$$t.log)"; \
		rc=0; \
		UBSAN_OPTIONS=print_stacktrace=1 $$d/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) \
		    -max_len=$$ml -print_final_stats=1 -timeout=20 \
		    -artifact_prefix=$$d/findings-$$t/ $$c > $$d/fuzz-$$t.log 2>&1 || rc=$$?; \
		execs=`sed -n 's/^stat::number_of_executed_units: *//p' $$d/fuzz-$$t.log`; \
		cov=`grep -E '^#[0-9]+.*(DONE|pulse|NEW)' $$d/fuzz-$$t.log | tail -n 1 | \
		    sed -n 's/.*cov: \([0-9]*\).*/\1/p'`; \
		n=`ls $$d/findings-$$t | wc -l`; \
		echo "fuzz: fuzz-$$t: $${execs:-?} executions, coverage $${cov:-?}, exit $$rc, $$n finding(s)"; \
		if [ $$rc != 0 ] || [ $$n != 0 ]; then \
			found=1; \
			grep -E 'ERROR|fuzz finding|SUMMARY|runtime error' $$d/fuzz-$$t.log | head -n 5 | \
			    sed 's/^/fuzz:   /'; \
			for f in $$d/findings-$$t/*; do \
				[ -e "$$f" ] || continue; known=; \
				for r in $(top_srcdir)/tests/fuzz/regress/$$t/*; do \
					[ -f "$$r" ] && cmp -s "$$f" "$$r" && known=$$r; \
				done; \
				if [ -n "$$known" ]; then \
					echo "fuzz:   known, still failing: $$known"; \
				else \
					echo "fuzz:   new: keep it: cp $$f $(top_srcdir)/tests/fuzz/regress/$$t/NAME"; \
				fi; \
			done; \
		fi; \
	done; \
	exit $$found

# `make clean-fuzz` removes the corpora and findings of past runs.
clean-fuzz:
	rm -rf $(FUZZ_DIR)
.PHONY: fuzz clean-fuzz
