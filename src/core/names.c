/*
 * Names: host names, ABI tags, state file and temporary names, the legacy
 * Mono names wapictl recognises, and object names (UTF-8).  Everything here
 * is pure string work on untrusted input: directory entries and environment
 * variables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define STATE_SUFFIX	".state"
#define TEMP_XLEN	6	/* mkostemp's XXXXXX */

const char *const wcore_abi_tags[] = {
	"x86_64", "x32", "i386", "aarch64", "arm", "riscv64", "ppc64le",
	"ppc64", "s390x", "loongarch64", "mips64", NULL
};

static int	names_is_host_char(int);
static int	names_is_alnum(int);
static bool	names_split_host_abi(const char *, size_t, struct wcore_name *);

static int
names_is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
names_is_host_char(int c)
{
	return names_is_alnum(c) || c == '.' || c == '_' || c == '-';
}

const char *
wcore_host_check(const char *host)
{
	size_t i;

	if (host == NULL || host[0] == '\0')
		return "is empty";
	for (i = 0; host[i] != '\0'; i++) {
		if (i >= WAPI_HOST_MAX)
			return "is longer than 64 characters";
		if (!names_is_host_char((unsigned char)host[i]))
			return "contains a character other than "
			    "A-Z a-z 0-9 '.' '_' '-'";
	}
	if (host[0] == '.')
		return "starts with '.'";
	return NULL;
}

const char *
wcore_abi_check(const char *abi)
{
	size_t i;

	if (abi == NULL || abi[0] == '\0')
		return "is empty";
	for (i = 0; wcore_abi_tags[i] != NULL; i++)
		if (strcmp(abi, wcore_abi_tags[i]) == 0)
			return NULL;
	return "is not a known ABI tag";
}

/* "<host>.<abi>" of length len: split at the last dot, validate both;
 * false when it is not that. */
static bool
names_split_host_abi(const char *s, size_t len, struct wcore_name *out)
{
	const char *dot;
	size_t hlen, alen;

	dot = memrchr(s, '.', len);
	if (dot == NULL)
		return false;
	hlen = (size_t)(dot - s);
	alen = len - hlen - 1;
	if (hlen == 0 || hlen >= sizeof(out->host) || alen == 0 ||
	    alen >= sizeof(out->abi))
		return false;
	memcpy(out->host, s, hlen);
	out->host[hlen] = '\0';
	memcpy(out->abi, dot + 1, alen);
	out->abi[alen] = '\0';
	if (wcore_host_check(out->host) != NULL ||
	    wcore_abi_check(out->abi) != NULL)
		return false;
	return true;
}

void
wcore_name_parse(const char *fname, struct wcore_name *out)
{
	const size_t slen = sizeof(STATE_SUFFIX) - 1;
	size_t len, i;

	memset(out, 0, sizeof(*out));
	out->kind = WCORE_NAME_OTHER;
	if (fname == NULL)
		return;
	len = strnlen(fname, 256);
	if (len == 0 || len >= 256)
		return;

	/* .<host>.<abi>.state.XXXXXX */
	if (fname[0] == '.') {
		if (len < 1 + slen + 1 + TEMP_XLEN)
			return;
		for (i = len - TEMP_XLEN; i < len; i++)
			if (!names_is_alnum((unsigned char)fname[i]))
				return;
		if (fname[len - TEMP_XLEN - 1] != '.' ||
		    memcmp(fname + len - TEMP_XLEN - 1 - slen, STATE_SUFFIX,
		    slen) != 0)
			return;
		if (!names_split_host_abi(fname + 1,
		    len - 1 - slen - 1 - TEMP_XLEN, out)) {
			memset(out, 0, sizeof(*out));
			return;
		}
		out->kind = WCORE_NAME_TEMP;
		return;
	}

	/* <host>.<abi>.state */
	if (len > slen && strcmp(fname + len - slen, STATE_SUFFIX) == 0) {
		if (!names_split_host_abi(fname, len - slen, out)) {
			memset(out, 0, sizeof(*out));
			return;
		}
		out->kind = WCORE_NAME_STATE;
		return;
	}

	if (!wcore_mono_name_parse(fname, out)) {
		memset(out, 0, sizeof(*out));
		out->kind = WCORE_NAME_OTHER;
	}
}

int
wcore_state_name(char *buf, size_t len, const char *host, const char *abi)
{
	int n;

	if (wcore_host_check(host) != NULL || wcore_abi_check(abi) != NULL)
		return EINVAL;
	n = snprintf(buf, len, "%s.%s" STATE_SUFFIX, host, abi);
	if (n < 0 || (size_t)n >= len)
		return ENAMETOOLONG;
	return 0;
}

int
wcore_temp_template(char *buf, size_t len, const char *host, const char *abi)
{
	int n;

	if (wcore_host_check(host) != NULL || wcore_abi_check(abi) != NULL)
		return EINVAL;
	n = snprintf(buf, len, ".%s.%s" STATE_SUFFIX ".XXXXXX", host, abi);
	if (n < 0 || (size_t)n >= len)
		return ENAMETOOLONG;
	return 0;
}

/*
 * Strict UTF-8 (RFC 3629): shortest form only, no surrogates, nothing above
 * U+10FFFF.  Two names that differ only in encoding would otherwise name two
 * objects that look the same to every tool that prints them.
 */
const char *
wcore_object_name_check(const char *name, size_t maxlen)
{
	size_t len;

	if (name == NULL || name[0] == '\0')
		return "is empty";
	len = strnlen(name, maxlen + 1);
	if (len > maxlen)
		return "is too long";
	return wcore_utf8_check(name, len);
}

const char *
wcore_utf8_check(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t i, n, k;
	unsigned char c, lo, hi;

	for (i = 0; i < len; i += n) {
		c = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (c < 0x80) {
			n = 1;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf)
			n = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;	/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else if (c == 0xc0 || c == 0xc1)
			return "is not valid UTF-8 (overlong encoding)";
		else if (c >= 0x80 && c <= 0xbf)
			return "is not valid UTF-8 (stray continuation byte)";
		else
			return "is not valid UTF-8 (invalid lead byte)";
		if (len - i < n)
			return "is not valid UTF-8 (truncated sequence)";
		if (s[i + 1] < lo || s[i + 1] > hi) {
			if (s[i + 1] < 0x80 || s[i + 1] > 0xbf)
				return "is not valid UTF-8 (truncated sequence)";
			if (c == 0xed)
				return "is not valid UTF-8 (surrogate)";
			if (c == 0xf4)
				return "is not valid UTF-8 (above U+10FFFF)";
			return "is not valid UTF-8 (overlong encoding)";
		}
		for (k = 2; k < n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return "is not valid UTF-8 (truncated sequence)";
	}
	return NULL;
}

/* FNV-1a, 32 bits; 0 is kept free so that a zero hash means "no name". */
uint32_t
wcore_name_hash(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= 16777619u;
	}
	return h == 0 ? 1 : h;
}
