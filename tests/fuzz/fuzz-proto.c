/* libFuzzer target: what the helper reads from a socket (entry-proto.c). */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	fuzz_proto_one(data, len);
	return 0;
}
