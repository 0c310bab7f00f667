/*
 * Names: host checks, state/temporary/legacy name parsing, object name UTF-8
 * checks and the name hash.
 */
#include <errno.h>
#include <string.h>

#include "core.h"
#include "tcheck.h"

static void	test_hosts(void);
static void	test_state_names(void);
static void	test_temp_names(void);
static void	test_legacy(void);
static void	test_utf8(void);
static void	test_hash(void);

static void
test_hosts(void)
{
	char h64[65], h65[66];

	memset(h64, 'a', 64);
	h64[64] = '\0';
	memset(h65, 'b', 65);
	h65[65] = '\0';
	t_ok(wcore_host_check("build7.example.org") == NULL, "FQDN host ok");
	t_ok(wcore_host_check("a") == NULL, "one-character host ok");
	t_ok(wcore_host_check("My_Host-1.x") == NULL, "mixed case, _ and -");
	t_ok(wcore_host_check(h64) == NULL, "64-character host ok");
	t_ok(wcore_host_check(h65) != NULL, "65-character host rejected");
	t_ok(wcore_host_check("") != NULL, "empty host rejected");
	t_ok(wcore_host_check(NULL) != NULL, "NULL host rejected");
	t_ok(wcore_host_check("a/b") != NULL, "host with '/' rejected");
	t_ok(wcore_host_check("..") != NULL, "host '..' rejected");
	t_ok(wcore_host_check(".hidden") != NULL, "leading dot rejected");
	t_ok(wcore_host_check("h\xc3\xa9te") != NULL, "non-ASCII rejected");
	t_ok(wcore_host_check("a b") != NULL, "space rejected");
	t_ok(wcore_host_check("a\nb") != NULL, "newline rejected");
	t_ok(wcore_abi_check("x86_64") == NULL, "x86_64 is a tag");
	t_ok(wcore_abi_check(WAPI_ABI) == NULL, "this build's tag is known");
	t_ok(wcore_abi_check("vax") != NULL, "vax is not a tag");
	t_ok(wcore_abi_check("") != NULL, "empty tag rejected");
}

static void
test_state_names(void)
{
	struct wcore_name n;
	char buf[300], h65[66];
	size_t i;

	for (i = 0; wcore_abi_tags[i] != NULL; i++) {
		t_ok(wcore_state_name(buf, sizeof(buf), "build7.example.org",
		    wcore_abi_tags[i]) == 0, "state name for %s",
		    wcore_abi_tags[i]);
		wcore_name_parse(buf, &n);
		t_ok(n.kind == WCORE_NAME_STATE &&
		    strcmp(n.host, "build7.example.org") == 0 &&
		    strcmp(n.abi, wcore_abi_tags[i]) == 0,
		    "parse %s: host and abi", buf);
	}
	t_ok(i >= 10, "at least ten ABI tags (%zu)", i);

	wcore_name_parse("h.x86_64.state", &n);
	t_ok(n.kind == WCORE_NAME_STATE && strcmp(n.host, "h") == 0,
	    "short host");
	wcore_name_parse("a-b_c.ppc64le.state", &n);
	T_STREQ(n.abi, "ppc64le", "abi ppc64le");

	wcore_name_parse("h.vax.state", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "unknown abi is not ours");
	wcore_name_parse(".x86_64.state", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "empty host is not ours");
	wcore_name_parse("x86_64.state", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "no host part is not ours");
	wcore_name_parse("h.x86_64.state.bak", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "trailing suffix is not ours");
	wcore_name_parse("h\xc3\xa9.x86_64.state", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "non-ASCII host is not ours");
	wcore_name_parse("h x.x86_64.state", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "host with space is not ours");
	memset(h65, 'c', 65);
	h65[65] = '\0';
	snprintf(buf, sizeof(buf), "%s.x86_64.state", h65);
	wcore_name_parse(buf, &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "65-character host is not ours");
	wcore_name_parse("", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "empty name");
	wcore_name_parse("notes.txt", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "unrelated file");

	T_INTEQ(wcore_state_name(buf, sizeof(buf), "a/b", "x86_64"), EINVAL,
	    "state name refuses host with '/'");
	T_INTEQ(wcore_state_name(buf, sizeof(buf), "..", "x86_64"), EINVAL,
	    "state name refuses '..'");
	T_INTEQ(wcore_state_name(buf, sizeof(buf), "", "x86_64"), EINVAL,
	    "state name refuses empty host");
	T_INTEQ(wcore_state_name(buf, sizeof(buf), h65, "x86_64"), EINVAL,
	    "state name refuses 65 characters");
	T_INTEQ(wcore_state_name(buf, sizeof(buf), "h", "vax"), EINVAL,
	    "state name refuses unknown abi");
	T_INTEQ(wcore_state_name(buf, 10, "host", "x86_64"), ENAMETOOLONG,
	    "state name: small buffer");
	T_INTEQ(wcore_state_name(buf, sizeof(buf), "h", "x86_64"), 0,
	    "state name h");
	T_STREQ(buf, "h.x86_64.state", "state name text");
}

static void
test_temp_names(void)
{
	struct wcore_name n;
	char buf[300];

	T_INTEQ(wcore_temp_template(buf, sizeof(buf), "build7.example.org",
	    "aarch64"), 0, "temp template");
	T_STREQ(buf, ".build7.example.org.aarch64.state.XXXXXX",
	    "temp template text");
	wcore_name_parse(buf, &n);
	t_ok(n.kind == WCORE_NAME_TEMP &&
	    strcmp(n.host, "build7.example.org") == 0 &&
	    strcmp(n.abi, "aarch64") == 0, "template itself parses as TEMP");
	wcore_name_parse(".h.x86_64.state.aB3xY9", &n);
	t_ok(n.kind == WCORE_NAME_TEMP && strcmp(n.host, "h") == 0,
	    "mkostemp-style temporary");
	wcore_name_parse(".h.x86_64.state.aB3x", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "4-character suffix is not ours");
	wcore_name_parse(".h.x86_64.state.aB3xY9Z", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "7-character suffix is not ours");
	wcore_name_parse(".h.x86_64.state.aB-xY9", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "'-' in suffix is not ours");
	wcore_name_parse("..h.x86_64.state.aB3xY9", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "host with leading dot in temp");
	wcore_name_parse(".h.vax.state.aB3xY9", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "unknown abi in temp");
	wcore_name_parse(".x86_64.state.aB3xY9", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "no host in temp");
	wcore_name_parse(".state.aB3xY9", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "bare .state temp");
	T_INTEQ(wcore_temp_template(buf, sizeof(buf), ".h", "x86_64"), EINVAL,
	    "temp template refuses leading dot");
}

static void
test_legacy(void)
{
	struct wcore_name n;

	wcore_name_parse("shared_data-build7-Linux-x86_64-344-12-0", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_DATA &&
	    strcmp(n.host, "build7") == 0 &&
	    strcmp(n.sysname, "Linux") == 0 &&
	    strcmp(n.machine, "x86_64") == 0 && n.recsize == 344 &&
	    n.version == 12 && n.segment == 0, "Mono 2008+ data file");
	wcore_name_parse("shared_data-my-dashed-host.example.org-Linux-i686-"
	    "328-11-0", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_DATA &&
	    strcmp(n.host, "my-dashed-host.example.org") == 0 &&
	    strcmp(n.machine, "i686") == 0 && n.recsize == 328 &&
	    n.version == 11, "dashed host parsed from the right");
	wcore_name_parse("shared_fileshare-build7-Linux-x86_64-40-12-0", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_SHARE &&
	    strcmp(n.host, "build7") == 0 && n.recsize == 40 &&
	    n.version == 12, "Mono fileshare file");
	wcore_name_parse("shared_fileshare-a-b-Darwin-Power_Macintosh-40-10-0",
	    &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_SHARE && strcmp(n.host, "a-b") == 0 &&
	    strcmp(n.sysname, "Darwin") == 0 &&
	    strcmp(n.machine, "Power_Macintosh") == 0,
	    "fileshare, dashed host, '_' machine");
	wcore_name_parse("shared_data-10", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_DATA && n.version == 10 &&
	    n.host[0] == '\0', "2002 shared_data-<V>");
	T_INTEQ(n.era, WCORE_MONO_2002, "2002 era");
	T_INTEQ(wcore_mono_key_offset(&n), -1, "2002: no semaphore key");
	wcore_name_parse("shared_data-1-0", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_DATA && n.era == WCORE_MONO_2003 &&
	    n.host[0] == '\0' && n.version == 1 && n.segment == 0,
	    "2003 shared_data-<V>-<seg>, no host");
	wcore_name_parse("shared_scratch-1-2", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_SCRATCH && n.era == WCORE_MONO_2003 &&
	    n.segment == 2, "2003 shared_scratch-<V>-<seg>");
	wcore_name_parse("shared_data-build7-3-0", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_DATA && n.era == WCORE_MONO_2004 &&
	    strcmp(n.host, "build7") == 0 && n.version == 3 &&
	    n.segment == 0 && n.recsize == 0, "2004 shared_data-<host>-<V>-<seg>");
	wcore_name_parse("shared_data-old-host-1-2-2", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_DATA &&
	    strcmp(n.host, "old-host-1") == 0 && n.version == 2 &&
	    n.segment == 2, "2004 name with dashed, numbered host");
	wcore_name_parse("shared_scratch-a-b-c-3-1", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_SCRATCH && n.era == WCORE_MONO_2004 &&
	    strcmp(n.host, "a-b-c") == 0 && n.segment == 1,
	    "2004 scratch with dashed host");
	wcore_name_parse("shared_data-build7-7-0", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_DATA && n.era == WCORE_MONO_2005 &&
	    n.version == 7 && wcore_mono_key_offset(&n) == 8 &&
	    !wcore_mono_attach_count(&n), "2005 V7: key at offset 8");
	wcore_name_parse("shared_fileshare-build7-7-0", &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_SHARE && n.era == WCORE_MONO_2005 &&
	    strcmp(n.host, "build7") == 0, "2005 shared_fileshare-<host>-<V>-0");
	wcore_name_parse("shared_data-build7-5-0", &n);
	T_INTEQ(wcore_mono_key_offset(&n), -1, "2005 V5: no key yet");
	wcore_name_parse("shared_data-build7-Linux-x86_64-328-12-0", &n);
	t_ok(n.era == WCORE_MONO_2005_10 && wcore_mono_key_offset(&n) == 4 &&
	    wcore_mono_attach_count(&n), "V12: key at offset 4, attach count");
	{
		struct wcore_name m;

		wcore_name_parse("shared_fileshare-build7-Linux-x86_64-40-12-0",
		    &m);
		t_ok(wcore_mono_same_state(&n, &m) &&
		    wcore_mono_state_hash(&n) == wcore_mono_state_hash(&m),
		    "data and fileshare of one V12 state");
		wcore_name_parse("shared_fileshare-build8-Linux-x86_64-40-12-0",
		    &m);
		t_ok(!wcore_mono_same_state(&n, &m), "another host's state");
	}
	wcore_name_parse("mono-shared-1000-shared_data-b7-Linux-x86_64-328-12-0",
	    &n);
	t_ok(n.kind == WCORE_NAME_LEGACY_DATA && n.era == WCORE_MONO_2009_SHM &&
	    n.shm && n.shm_uid == 1000 && strcmp(n.host, "b7") == 0 &&
	    wcore_mono_key_offset(&n) == 4, "/dev/shm form");
	wcore_name_parse("mono-shared-x-shared_data-b7-Linux-x86_64-328-12-0",
	    &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "/dev/shm form without a uid");
	wcore_name_parse("shared_data-build7-10-0", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "<host>-<V>-<seg> of no era (V10)");

	wcore_name_parse("shared_data-", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "shared_data- alone");
	wcore_name_parse("shared_data-host", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "shared_data-<host> without numbers");
	wcore_name_parse("shared_data-build7-Linux-x86_64-344-12-x", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "non-numeric segment");
	wcore_name_parse("shared_data--12-0", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "empty host");
	wcore_name_parse("shared_fileshare-build7-12-0", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "fileshare has only the long form");
	wcore_name_parse("shared_data-h-99999999999999999999-0", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "overflowing version");
	wcore_name_parse("shared_datax-h-12-0", &n);
	T_INTEQ(n.kind, WCORE_NAME_OTHER, "other prefix");
}

static void
test_utf8(void)
{
	char long261[262], long260[261];

	memset(long261, 'x', 261);
	long261[261] = '\0';
	memset(long260, 'y', 260);
	long260[260] = '\0';
	t_ok(wcore_object_name_check("Global\\MyEvent", WAPI_NAME_MAX) == NULL,
	    "ASCII name");
	t_ok(wcore_object_name_check("caf\xc3\xa9", WAPI_NAME_MAX) == NULL,
	    "2-byte UTF-8");
	t_ok(wcore_object_name_check("\xe2\x82\xac\xe6\x97\xa5", WAPI_NAME_MAX)
	    == NULL, "3-byte UTF-8");
	t_ok(wcore_object_name_check("\xf0\x9f\x98\x80", WAPI_NAME_MAX) == NULL,
	    "4-byte UTF-8 (emoji)");
	t_ok(wcore_object_name_check("\xf4\x8f\xbf\xbf", WAPI_NAME_MAX) == NULL,
	    "U+10FFFF");
	t_ok(wcore_object_name_check("\xed\x9f\xbf", WAPI_NAME_MAX) == NULL,
	    "U+D7FF (just below surrogates)");
	t_ok(wcore_object_name_check(long260, WAPI_NAME_MAX) == NULL,
	    "260 bytes");
	t_ok(wcore_object_name_check(long261, WAPI_NAME_MAX) != NULL,
	    "261 bytes rejected");
	t_ok(wcore_object_name_check("", WAPI_NAME_MAX) != NULL,
	    "empty rejected");
	t_ok(wcore_object_name_check("\xc0\xaf", WAPI_NAME_MAX) != NULL,
	    "overlong '/' (C0 AF) rejected");
	t_ok(wcore_object_name_check("\xe0\x80\xaf", WAPI_NAME_MAX) != NULL,
	    "3-byte overlong rejected");
	t_ok(wcore_object_name_check("\xf0\x80\x80\xaf", WAPI_NAME_MAX) != NULL,
	    "4-byte overlong rejected");
	t_ok(wcore_object_name_check("\xed\xa0\x80", WAPI_NAME_MAX) != NULL,
	    "surrogate U+D800 rejected");
	t_ok(wcore_object_name_check("\xed\xbf\xbf", WAPI_NAME_MAX) != NULL,
	    "surrogate U+DFFF rejected");
	t_ok(wcore_object_name_check("\xf4\x90\x80\x80", WAPI_NAME_MAX) != NULL,
	    "U+110000 rejected");
	t_ok(wcore_object_name_check("\xf5\x80\x80\x80", WAPI_NAME_MAX) != NULL,
	    "F5 lead byte rejected");
	t_ok(wcore_object_name_check("ab\xe2\x82", WAPI_NAME_MAX) != NULL,
	    "truncated 3-byte sequence at end rejected");
	t_ok(wcore_object_name_check("\xe2\x82x", WAPI_NAME_MAX) != NULL,
	    "3-byte sequence cut by ASCII rejected");
	t_ok(wcore_object_name_check("\xc3", WAPI_NAME_MAX) != NULL,
	    "lone lead byte rejected");
	t_ok(wcore_object_name_check("a\x80z", WAPI_NAME_MAX) != NULL,
	    "stray continuation byte rejected");
	t_ok(wcore_object_name_check("\xff", WAPI_NAME_MAX) != NULL,
	    "FF rejected");
	t_ok(wcore_object_name_check("abcd", 3) != NULL,
	    "maxlen is honoured");
}

static void
test_hash(void)
{
	/* FNV-1a 32 reference values. */
	T_INTEQ(wcore_name_hash("a", 1), 0xe40c292cu, "FNV-1a of \"a\"");
	T_INTEQ(wcore_name_hash("foobar", 6), 0xbf9cf968u,
	    "FNV-1a of \"foobar\"");
	t_ok(wcore_name_hash("", 0) != 0, "empty name hash is not 0");
	t_ok(wcore_name_hash("ab", 1) == wcore_name_hash("a", 1),
	    "only len bytes are hashed");
}

int
main(void)
{
	test_hosts();
	test_state_names();
	test_temp_names();
	test_legacy();
	test_utf8();
	test_hash();
	return t_done();
}
