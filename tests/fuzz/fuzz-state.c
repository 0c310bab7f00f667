/* libFuzzer target: state file images (see entry-state.c). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_state_one(data, len);
	return 0;
}
