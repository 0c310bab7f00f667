/*
 * firsttoken.so, preloaded into a client and so into the helper it starts:
 * the first 16-byte getrandom(2) of the process returns the bytes of
 * $WAPI_TEST_FIRST_TOKEN (32 hex digits), every other call the real
 * thing.  The hostile suite binds the helper's socket name for that token
 * beforehand, so the helper meets a taken name and must draw again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

ssize_t getrandom(void *, size_t, unsigned int);

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The token of $WAPI_TEST_FIRST_TOKEN into out: 0, or -1 when unset or bad. */
static int
first_token(unsigned char out[16])
{
	const char *v = getenv("WAPI_TEST_FIRST_TOKEN");
	int i, hi, lo;

	if (v == NULL || strlen(v) != 32)
		return -1;
	for (i = 0; i < 16; i++) {
		if ((hi = hexval(v[2 * i])) < 0 || (lo = hexval(v[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
	static int used;
	ssize_t (*real)(void *, size_t, unsigned int);

	if (len == 16 && !__atomic_exchange_n(&used, 1, __ATOMIC_SEQ_CST) &&
	    first_token(buf) == 0)
		return 16;
	real = (ssize_t (*)(void *, size_t, unsigned int))dlsym(RTLD_NEXT,
	    "getrandom");
	return real(buf, len, flags);
}
