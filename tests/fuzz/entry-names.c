/*
 * Fuzz entry point for names (src/core/names.c): the bytes, NUL-terminated,
 * as a directory entry (wcore_name_parse), a host name, an ABI tag and an
 * object name.  Besides "no crash" it checks each answer against a rule
 * written here independently: a parsed state or temporary name must round
 * trip through wcore_state_name/wcore_temp_template, the host check must
 * agree with the host name rule of wapi-state(5), and the UTF-8 check with
 * a decoder that works on code points rather than byte ranges.  A parsed
 * segment name (wcore_seg_name_parse) must round trip through
 * wcore_seg_name, but for leading zeros of its uid.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fuzz.h"

static bool
host_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 1 || n > WAPI_HOST_MAX || s[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-", s[i]) == NULL)
			return false;
	return true;
}

/* RFC 3629 by decoding: shortest form, no surrogates, <= U+10FFFF. */
static bool
utf8_ok(const unsigned char *s, size_t n)
{
	static const uint32_t minimum[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t cp;
	size_t i = 0, k, len;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07;
		} else
			return false;
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < minimum[len] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void
terminated(const char *field, size_t size, const char *what)
{
	if (memchr(field, '\0', size) == NULL)
		fuzz_fail("wcore_name_parse left %s unterminated", what);
}

static void
check_parse(const char *s)
{
	struct wcore_name nm;
	char *buf;
	size_t n = strlen(s);
	int e;

	wcore_name_parse(s, &nm);
	terminated(nm.host, sizeof(nm.host), "host");
	terminated(nm.abi, sizeof(nm.abi), "abi");
	terminated(nm.sysname, sizeof(nm.sysname), "sysname");
	terminated(nm.machine, sizeof(nm.machine), "machine");
	if (nm.kind != WCORE_NAME_STATE && nm.kind != WCORE_NAME_TEMP)
		return;
	if (!host_ok(nm.host) || wcore_abi_check(nm.abi) != NULL)
		fuzz_fail("\"%s\" parsed with host \"%s\" abi \"%s\"", s,
		    nm.host, nm.abi);
	if ((buf = malloc(n + 1)) == NULL)
		fuzz_fail("out of memory");
	/* Exactly n + 1 bytes: the round trip must fit, and one less not. */
	if (nm.kind == WCORE_NAME_STATE) {
		e = wcore_state_name(buf, n + 1, nm.host, nm.abi);
		if (e != 0 || strcmp(buf, s) != 0)
			fuzz_fail("state name \"%s\" does not round trip", s);
		if (wcore_state_name(buf, n, nm.host, nm.abi) != ENAMETOOLONG)
			fuzz_fail("state name \"%s\" fits in %zu bytes", s, n);
	} else {
		e = wcore_temp_template(buf, n + 1, nm.host, nm.abi);
		if (e != 0 || n < 6 || strncmp(buf, s, n - 6) != 0 ||
		    strcmp(buf + n - 6, "XXXXXX") != 0)
			fuzz_fail("temporary \"%s\" does not round trip", s);
	}
	free(buf);
}

/* A segment's file name: wapi-<uid>-<host>.<abi>-<16 hex digits>. */
static void
check_seg_parse(const char *s)
{
	char host[WAPI_HOST_MAX + 1], abi[16], host2[WAPI_HOST_MAX + 1];
	char abi2[16], buf[WAPI_PEER_MAX];
	uint64_t id, id2;
	uid_t uid, uid2;
	const char *p = s + sizeof(WCORE_SEG_PREFIX) - 1;

	memset(host, 0x55, sizeof(host));
	memset(abi, 0x55, sizeof(abi));
	if (!wcore_seg_name_parse(s, &uid, host, abi, &id))
		return;
	terminated(host, sizeof(host), "a segment's host");
	terminated(abi, sizeof(abi), "a segment's abi");
	if (!host_ok(host) || wcore_abi_check(abi) != NULL)
		fuzz_fail("segment \"%s\" parsed with host \"%s\" abi \"%s\"",
		    s, host, abi);
	if (wcore_seg_name(buf, sizeof(buf), uid, host, abi, id) != 0)
		fuzz_fail("segment \"%s\": its name cannot be made again", s);
	if (!wcore_seg_name_parse(buf, &uid2, host2, abi2, &id2) ||
	    uid2 != uid || id2 != id || strcmp(host2, host) != 0 ||
	    strcmp(abi2, abi) != 0)
		fuzz_fail("segment \"%s\" made again as \"%s\" parses "
		    "otherwise", s, buf);
	if (*p != '0' && strcmp(buf, s) != 0)
		fuzz_fail("segment \"%s\" does not round trip (\"%s\")", s,
		    buf);
}

void
fuzz_names_one(const uint8_t *data, size_t len)
{
	const char *why, *const *t;
	char *s;
	size_t n;
	bool known;

	if ((s = malloc(len + 1)) == NULL)
		fuzz_fail("out of memory");
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	n = strlen(s);

	check_parse(s);
	check_seg_parse(s);

	why = wcore_host_check(s);
	if ((why == NULL) != host_ok(s))
		fuzz_fail("host check of \"%.80s\" says %s", s,
		    why ? why : "fine");

	for (known = false, t = wcore_abi_tags; *t != NULL; t++)
		if (strcmp(*t, s) == 0)
			known = true;
	if ((wcore_abi_check(s) == NULL) != known)
		fuzz_fail("ABI check of \"%.80s\" is wrong", s);

	why = wcore_object_name_check(s, WAPI_NAME_MAX);
	if ((why == NULL) != (n > 0 && n <= WAPI_NAME_MAX &&
	    utf8_ok((const unsigned char *)s, n)))
		fuzz_fail("object name check of \"%.80s\" (%zu bytes) says %s",
		    s, n, why ? why : "fine");
	/* A limit inside the string: never reads past it or past the NUL. */
	why = wcore_object_name_check(s, n / 2);
	if (why == NULL && n > 0)
		fuzz_fail("a %zu-byte name passes a limit of %zu", n, n / 2);
	if (n > 0 && wcore_name_hash(s, n) == 0)
		fuzz_fail("name hash 0");
	free(s);
}
