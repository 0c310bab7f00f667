/* libFuzzer target: Mono V12 data files and names (see entry-mono.c). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_mono_one(data, len);
	return 0;
}
