/* libFuzzer target: names (see entry-names.c). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_names_one(data, len);
	return 0;
}
