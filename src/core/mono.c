/*
 * The files of Mono's io-layer (2002-2015): one table of its eras, the
 * name shapes of each, where the key of its SysV semaphore set lies, and
 * which files make one Mono state.  wapictl's status, clean and validate
 * all read Mono files through this file and nothing else.  Pure string
 * work on untrusted names; nothing here opens a file.
 *
 * Mono's versions (_WAPI_HANDLE_VERSION) by era, read from its history:
 *   V0      2002-10  shared_data-<V>                       helper daemon
 *   V1      2003-06  shared_data-<V>-<seg>, shared_scratch-<V>-<seg>
 *   V1-V3   2004-01  shared_{data,scratch}-<host>-<V>-<seg>
 *   V4-V7   2005-01  shared_{data,fileshare}-<host>-<V>-0  daemon-less;
 *                    from V6 the set's key_t at offset 8
 *   V8-V12  2005-10  shared_{data,fileshare}-<host>-<sysname>-<machine>-
 *                    <S>-<V>-0, the key at offset 4; from V10 semaphore 7
 *                    counts attached processes (SEM_UNDO)
 *   V12     2009-01  the same names under /dev/shm as
 *                    mono-shared-<uid>-<name> (shm_open, Linux)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define MONO_SHM_PREFIX	"mono-shared-"

const struct wcore_mono_era_info wcore_mono_eras[WCORE_MONO_ERA_COUNT] = {
	[WCORE_MONO_NONE] = { "-", "-", WCORE_NAME_OTHER, false },
	[WCORE_MONO_2002] = { "2002", "helper daemon, one file",
	    WCORE_NAME_OTHER, false },
	[WCORE_MONO_2003] = { "2003", "helper daemon, no host in the name",
	    WCORE_NAME_LEGACY_SCRATCH, false },
	[WCORE_MONO_2004] = { "2004", "helper daemon, one file per host",
	    WCORE_NAME_LEGACY_SCRATCH, true },
	[WCORE_MONO_2005] = { "2005", "daemon-less, shared memory",
	    WCORE_NAME_LEGACY_SHARE, true },
	[WCORE_MONO_2005_10] = { "2005-10", "daemon-less, ABI in the name",
	    WCORE_NAME_LEGACY_SHARE, true },
	[WCORE_MONO_2009_SHM] = { "2009-shm", "daemon-less, in /dev/shm",
	    WCORE_NAME_LEGACY_SHARE, true },
};

static bool	mono_number(const char *, size_t, unsigned long *);
static bool	mono_has_letter(const char *, size_t);
static bool	mono_rsplit(const char *, size_t, size_t *, const char **,
		    size_t *);
static void	mono_copy(char *, size_t, const char *, size_t);
static bool	mono_parse_rest(const char *, enum wcore_name_kind,
		    struct wcore_name *);

/* A decimal field of a name: digits only, no overflow.  false: not one. */
static bool
mono_number(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 18)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
mono_has_letter(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))
			return true;
	return false;
}

/* The last '-'-separated field of s[0, len); *rest is what precedes it.
 * false when s holds no '-'. */
static bool
mono_rsplit(const char *s, size_t len, size_t *rest, const char **field,
    size_t *flen)
{
	const char *dash;

	dash = memrchr(s, '-', len);
	if (dash == NULL)
		return false;
	*field = dash + 1;
	*flen = len - (size_t)(dash + 1 - s);
	*rest = (size_t)(dash - s);
	return true;
}

static void
mono_copy(char *dst, size_t cap, const char *s, size_t len)
{
	memcpy(dst, s, len < cap ? len : cap - 1);
	dst[len < cap ? len : cap - 1] = '\0';
}

/*
 * The part after "shared_data-" (_fileshare-, _scratch-).  Mono's host
 * names may hold '-', so fixed fields come off the right; the version
 * decides between the shapes that look alike (<host>-<V>-<seg>: V1-V3 the
 * daemon's, V4-V7 the daemon-less one's).  true when recognised.
 */
static bool
mono_parse_rest(const char *s, enum wcore_name_kind kind,
    struct wcore_name *out)
{
	const char *f[5];
	size_t fl[5], len, rest, r2;
	unsigned long seg, ver, rec;
	int i;

	len = strlen(s);
	if (kind == WCORE_NAME_LEGACY_DATA && mono_number(s, len, &ver)) {
		out->era = WCORE_MONO_2002;
		out->version = ver;
		return true;
	}
	rest = len;
	for (i = 0; i < 5; i++)
		if (!mono_rsplit(s, rest, &rest, &f[i], &fl[i]))
			break;
	if (i == 0 || !mono_number(f[0], fl[0], &seg))
		return false;

	/* <host>-<sysname>-<machine>-<S>-<V>-0 */
	if (i == 5 && kind != WCORE_NAME_LEGACY_SCRATCH && rest > 0 &&
	    rest < sizeof(out->host) &&
	    mono_number(f[1], fl[1], &ver) && ver >= 8 &&
	    mono_number(f[2], fl[2], &rec) &&
	    fl[3] > 0 && fl[3] < sizeof(out->machine) &&
	    mono_has_letter(f[3], fl[3]) &&
	    fl[4] > 0 && fl[4] < sizeof(out->sysname) &&
	    mono_has_letter(f[4], fl[4])) {
		out->era = WCORE_MONO_2005_10;
		mono_copy(out->host, sizeof(out->host), s, rest);
		mono_copy(out->machine, sizeof(out->machine), f[3], fl[3]);
		mono_copy(out->sysname, sizeof(out->sysname), f[4], fl[4]);
		out->recsize = rec;
		out->version = ver;
		out->segment = seg;
		return true;
	}
	if (i == 1) {
		/* <V>-<seg>: the version is what is left */
		f[1] = s;
		fl[1] = rest;
	}
	if (!mono_number(f[1], fl[1], &ver))
		return false;
	r2 = i == 1 ? 0 : (size_t)(f[1] - 1 - s);
	/* <V>-<seg>: 2003, no host */
	if (r2 == 0 && ver >= 1 && ver <= 3) {
		if (kind == WCORE_NAME_LEGACY_SHARE)
			return false;
		out->era = WCORE_MONO_2003;
		out->version = ver;
		out->segment = seg;
		return true;
	}
	if (r2 == 0 || r2 >= sizeof(out->host))
		return false;
	/* <host>-<V>-<seg> */
	if (ver >= 1 && ver <= 3 && kind != WCORE_NAME_LEGACY_SHARE)
		out->era = WCORE_MONO_2004;
	else if (ver >= 4 && ver <= 7 && seg == 0 &&
	    kind != WCORE_NAME_LEGACY_SCRATCH)
		out->era = WCORE_MONO_2005;
	else
		return false;
	mono_copy(out->host, sizeof(out->host), s, r2);
	out->version = ver;
	out->segment = seg;
	return true;
}

bool
wcore_mono_name_parse(const char *fname, struct wcore_name *out)
{
	static const struct {
		const char *prefix;
		enum wcore_name_kind kind;
	} roles[] = {
		{ "shared_data-", WCORE_NAME_LEGACY_DATA },
		{ "shared_fileshare-", WCORE_NAME_LEGACY_SHARE },
		{ "shared_scratch-", WCORE_NAME_LEGACY_SCRATCH },
	};
	const char *s = fname, *dash;
	unsigned long uid = 0;
	size_t i, plen;
	bool shm = false;

	/* mono-shared-<uid>-shared_...: the /dev/shm form (V12) */
	if (strncmp(s, MONO_SHM_PREFIX, sizeof(MONO_SHM_PREFIX) - 1) == 0) {
		s += sizeof(MONO_SHM_PREFIX) - 1;
		if ((dash = strchr(s, '-')) == NULL ||
		    !mono_number(s, (size_t)(dash - s), &uid) ||
		    uid > UINT32_MAX)
			return false;
		s = dash + 1;
		shm = true;
	}
	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		plen = strlen(roles[i].prefix);
		if (strncmp(s, roles[i].prefix, plen) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		if (!mono_parse_rest(s + plen, roles[i].kind, out) ||
		    (shm && (out->era != WCORE_MONO_2005_10 ||
		    out->version < 12))) {
			memset(out, 0, sizeof(*out));
			return false;
		}
		out->kind = roles[i].kind;
		if (shm) {
			out->era = WCORE_MONO_2009_SHM;
			out->shm = true;
			out->shm_uid = (uid_t)uid;
		}
		return true;
	}
	return false;
}

int
wcore_mono_key_offset(const struct wcore_name *n)
{
	if (n->kind != WCORE_NAME_LEGACY_DATA)
		return -1;
	if (n->era == WCORE_MONO_2005 && n->version >= 6)
		return 8;	/* after signal_count, collection_count */
	if (n->era == WCORE_MONO_2005_10 || n->era == WCORE_MONO_2009_SHM)
		return 4;	/* after collection_count */
	return -1;
}

int
wcore_mono_attach_base(const struct wcore_name *n)
{
	/* V10 started semaphore 7 at 1, V11 on at 0. */
	return n->version == 10 ? 1 : 0;
}

bool
wcore_mono_attach_count(const struct wcore_name *n)
{
	return (n->era == WCORE_MONO_2005_10 || n->era == WCORE_MONO_2009_SHM)
	    && n->version >= 10;
}

const char *
wcore_mono_release(unsigned long version)
{
	static const char *const rel[] = {
		[0] = "before 1.1.7", [1] = "before 1.1.7",
		[2] = "before 1.1.7", [3] = "before 1.1.7",
		[4] = "before 1.1.7", [5] = "1.1.7", [6] = "1.1.8",
		[7] = "1.1.9", [8] = "1.1.10-1.1.12", [9] = "1.1.13",
		[10] = "1.1.14-1.1.18", [11] = "1.2", [12] = "2.0 or later",
	};

	return version < sizeof(rel) / sizeof(rel[0]) ? rel[version] : "?";
}

/*
 * Whether two files are parts of one Mono state: same place and era, and
 * the same fields but the role's own ones (the record size of a data and
 * a fileshare file differ; a scratch file shares its data file's segment).
 */
bool
wcore_mono_same_state(const struct wcore_name *a, const struct wcore_name *b)
{
	if (a->era != b->era || a->era == WCORE_MONO_NONE ||
	    a->shm != b->shm || (a->shm && a->shm_uid != b->shm_uid) ||
	    a->version != b->version || a->segment != b->segment ||
	    strcmp(a->host, b->host) != 0)
		return false;
	return strcmp(a->sysname, b->sysname) == 0 &&
	    strcmp(a->machine, b->machine) == 0;
}

uint32_t
wcore_mono_state_hash(const struct wcore_name *n)
{
	char buf[512];
	int len;

	len = snprintf(buf, sizeof(buf), "%d|%d|%u|%lu|%lu|%s|%s|%s",
	    (int)n->era, (int)n->shm, (unsigned)n->shm_uid, n->version,
	    n->segment, n->host, n->sysname, n->machine);
	if (len < 0)
		return 1;
	return wcore_name_hash(buf, (size_t)len < sizeof(buf) ? (size_t)len :
	    sizeof(buf) - 1);
}

/*
 * V12's record (wapi-private.h's struct _WapiHandleShared): type,
 * timestamp, handle_refs, signalled, then a union at 16 of the process,
 * the named mutex, semaphore and event.  The named ones begin with the
 * name (MAX_PATH + 1 bytes, then padding to 264); only the width of a
 * pointer, pthread_t and size_t differs between the two ABIs.
 */
#define MONO_V12_HEAD	8	/* collection_count, sem_key */
#define MONO_U		16	/* the union */
#define MONO_NAMED_END	(MONO_U + 264)

size_t
wcore_mono_v12_recsize(const struct wcore_name *n)
{
	if (n->kind != WCORE_NAME_LEGACY_DATA || n->version != 12 ||
	    (n->era != WCORE_MONO_2005_10 && n->era != WCORE_MONO_2009_SHM))
		return 0;
	return n->recsize == 328 || n->recsize == 312 ? n->recsize : 0;
}

size_t
wcore_mono_v12_count(size_t len, size_t recsize)
{
	size_t n;

	if ((recsize != 328 && recsize != 312) || len < MONO_V12_HEAD)
		return 0;
	n = (len - MONO_V12_HEAD) / recsize;
	return n < WCORE_MONO_V12_MAX ? n : WCORE_MONO_V12_MAX;
}

static uint32_t
mono_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* A text field: at most size bytes, NUL-ended in out (size + 1 bytes). */
static void
mono_text(char *out, const unsigned char *p, size_t size)
{
	size_t n = strnlen((const char *)p, size);

	memcpy(out, p, n);
	out[n] = '\0';
}

bool
wcore_mono_v12_record(const void *buf, size_t len, size_t recsize, size_t i,
    struct wcore_mono_handle *out)
{
	const unsigned char *r;
	bool lp64 = recsize == 328;
	uint64_t tid;

	memset(out, 0, sizeof(*out));
	if (i >= wcore_mono_v12_count(len, recsize))
		return false;
	r = (const unsigned char *)buf + MONO_V12_HEAD + i * recsize;
	out->type = mono_u32(r);
	out->timestamp = mono_u32(r + 4);
	out->refs = mono_u32(r + 8);
	out->signalled = mono_u32(r + 12) != 0;
	switch (out->type) {
	case WCORE_MONO_H_NAMEDMUTEX:
		mono_text(out->name, r + MONO_U, WCORE_MONO_NAME_MAX);
		out->pid = (int32_t)mono_u32(r + MONO_NAMED_END);
		if (lp64) {
			memcpy(&tid, r + MONO_NAMED_END + 8, sizeof(tid));
			out->tid = tid;
			out->count = mono_u32(r + MONO_NAMED_END + 16);
		} else {
			out->tid = mono_u32(r + MONO_NAMED_END + 4);
			out->count = mono_u32(r + MONO_NAMED_END + 8);
		}
		break;
	case WCORE_MONO_H_NAMEDSEM:
		mono_text(out->name, r + MONO_U, WCORE_MONO_NAME_MAX);
		out->count = mono_u32(r + MONO_NAMED_END);
		out->max = (int32_t)mono_u32(r + MONO_NAMED_END + 4);
		break;
	case WCORE_MONO_H_NAMEDEVENT:
		mono_text(out->name, r + MONO_U, WCORE_MONO_NAME_MAX);
		out->manual = mono_u32(r + MONO_NAMED_END) != 0;
		out->count = mono_u32(r + MONO_NAMED_END + 4);
		break;
	case WCORE_MONO_H_PROCESS:
		/* id, exitstatus, main_thread, two FILETIMEs, proc_name */
		out->pid = (int32_t)mono_u32(r + MONO_U);
		out->count = mono_u32(r + MONO_U + 4);
		mono_text(out->proc_name, r + MONO_U + (lp64 ? 32 : 28),
		    WCORE_MONO_PROC_NAME);
		break;
	default:
		break;
	}
	return true;
}

const char *
wcore_mono_type_name(uint32_t type)
{
	static const char *const names[WCORE_MONO_H_COUNT] = {
		"Unused", "File", "Console", "Thread", "Sem", "Mutex", "Event",
		"Socket", "Find", "Process", "Pipe", "N.Mutex", "N.Sem",
		"N.Event",
	};

	return type < WCORE_MONO_H_COUNT ? names[type] : "unknown";
}

unsigned
wcore_mono_type_wapi(uint32_t type)
{
	switch (type) {
	case WCORE_MONO_H_SEM:
	case WCORE_MONO_H_NAMEDSEM:
		return WAPI_T_SEMAPHORE;
	case WCORE_MONO_H_MUTEX:
	case WCORE_MONO_H_NAMEDMUTEX:
		return WAPI_T_MUTEX;
	case WCORE_MONO_H_EVENT:
	case WCORE_MONO_H_NAMEDEVENT:
		return WAPI_T_EVENT;
	case WCORE_MONO_H_FILE:
		return WAPI_T_FILE;
	case WCORE_MONO_H_SOCKET:
		return WAPI_T_SOCKET;
	case WCORE_MONO_H_PIPE:
		return WAPI_T_PIPE;
	case WCORE_MONO_H_PROCESS:
		return WAPI_T_PROCESS;
	default:
		return WAPI_T_FREE;
	}
}
