# Documentation and completions: mandoc lint, every wapictl option and
# command documented and completed, bash completion exercised for real.
TESTS += tests/docs.bats
EXTRA_DIST += tests/docs.bats
