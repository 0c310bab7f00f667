# Tests: C tests for the core and the library, bats suites for the tools.
# Each area keeps its own fragment.
include tests/core-names.mk
include tests/core-mono.mk
include tests/core-format.mk
include tests/lib.mk
include tests/sync.mk
include tests/process.mk
include tests/wapictl.mk
include tests/docs.mk
include tests/install.mk
include tests/fuzz.mk
include tests/torture.mk
include tests/bench.mk
