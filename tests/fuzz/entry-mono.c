/*
 * Fuzz entry point for Mono's V12 data files (src/core/mono.c): the first
 * byte picks the record size (even: 328, the LP64 layout; odd: 312, the
 * ILP32 one), the rest is the file image.  The image is copied into a
 * buffer of exactly its length (under ASan the redzone starts at its end;
 * in a plain build it ends where a PROT_NONE page begins), so a read past
 * the length the decoder was given is a crash, not a quiet success.
 *
 * Every record the count admits is decoded, and one index past the end
 * (which must be refused).  Each answer is checked against the bytes as
 * read here, at offsets written here from Mono's struct _WapiHandleShared
 * and not taken from the decoder: the header fields, the named objects'
 * fields, the process's, and the text fields (NUL-ended inside their
 * arrays, a prefix of the record's bytes, at most 260 / 256 bytes).
 *
 * The same bytes, NUL-terminated, are also given to wcore_mono_name_parse.
 */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "fuzz.h"


/* The data file and the record, independently of mono.c. */
#define M_HEAD		8	/* int32 collection_count, int32 sem_key */
#define M_LP64		328
#define M_ILP32		312
#define M_MAX		4096
#define M_TYPE		0
#define M_STAMP		4
#define M_REFS		8
#define M_SIGNALLED	12
#define M_NAME		16	/* char name[MAX_PATH + 1] */
#define M_NAME_FIELD	261
#define M_NAME_LIMIT	260
#define M_MUTEX_PID	280
#define M_MUTEX_TID64	288	/* pthread_t, 8 bytes */
#define M_MUTEX_REC64	296
#define M_MUTEX_TID32	284	/* pthread_t, 4 bytes */
#define M_MUTEX_REC32	288
#define M_SEM_VAL	280
#define M_SEM_MAX	284
#define M_EV_MANUAL	280
#define M_EV_SET	284
#define M_PROC_ID	16
#define M_PROC_EXIT	20
#define M_PROC_NAME64	48
#define M_PROC_NAME32	44
#define M_PROC_FIELD	256
#define M_PROC_LIMIT	256

enum { T_PROCESS = 9, T_NMUTEX = 11, T_NSEM = 12, T_NEVENT = 13 };

static uint32_t
rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t
rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * A decoded text field: NUL-ended inside its array of cap bytes, at most
 * limit bytes, a prefix of the field's size bytes, and all of them up to
 * the field's own NUL when that comes within the limit.
 */
static void
text_check(const char *got, size_t cap, const unsigned char *field,
    size_t size, size_t limit, size_t i, const char *what)
{
	const unsigned char *nul;
	size_t n, own;

	if (memchr(got, '\0', cap) == NULL)
		fuzz_fail("record %zu: %s not NUL-ended inside its %zu bytes",
		    i, what, cap);
	n = strlen(got);
	if (n > limit)
		fuzz_fail("record %zu: %s of %zu bytes (at most %zu)", i, what,
		    n, limit);
	if (memcmp(got, field, n) != 0)
		fuzz_fail("record %zu: %s is not the record's bytes", i, what);
	nul = memchr(field, '\0', size);
	own = nul != NULL ? (size_t)(nul - field) : size;
	if (own <= limit && n != own)
		fuzz_fail("record %zu: %s of %zu bytes, the record's has %zu",
		    i, what, n, own);
}

static void
record_check(const unsigned char *img, size_t recsize, size_t i,
    const struct wcore_mono_handle *h)
{
	const unsigned char *r = img + M_HEAD + i * recsize;
	bool lp64 = recsize == M_LP64;
	uint32_t type = rd32(r + M_TYPE);
	const char *tn;

	if (h->type != type || h->timestamp != rd32(r + M_STAMP) ||
	    h->refs != rd32(r + M_REFS) ||
	    h->signalled != (rd32(r + M_SIGNALLED) != 0))
		fuzz_fail("record %zu: header fields differ from the bytes", i);
	if ((tn = wcore_mono_type_name(type)) == NULL || tn[0] == '\0' ||
	    ((type < WCORE_MONO_H_COUNT) == (strcmp(tn, "unknown") == 0)))
		fuzz_fail("record %zu: type %u named \"%s\"", i, type,
		    tn ? tn : "(null)");

	if (type == T_NMUTEX || type == T_NSEM || type == T_NEVENT)
		text_check(h->name, sizeof(h->name), r + M_NAME, M_NAME_FIELD,
		    M_NAME_LIMIT, i, "name");
	else if (memchr(h->name, '\0', sizeof(h->name)) == NULL ||
	    h->name[0] != '\0')
		fuzz_fail("record %zu: type %u has a name", i, type);
	if (type == T_PROCESS)
		text_check(h->proc_name, sizeof(h->proc_name),
		    r + (lp64 ? M_PROC_NAME64 : M_PROC_NAME32), M_PROC_FIELD,
		    M_PROC_LIMIT, i, "proc_name");
	else if (memchr(h->proc_name, '\0', sizeof(h->proc_name)) == NULL ||
	    h->proc_name[0] != '\0')
		fuzz_fail("record %zu: type %u has a proc_name", i, type);

	switch (type) {
	case T_NMUTEX:
		if (h->pid != (int32_t)rd32(r + M_MUTEX_PID))
			fuzz_fail("record %zu: mutex pid %d, the bytes say %d",
			    i, (int)h->pid, (int)(int32_t)rd32(r + M_MUTEX_PID));
		if (lp64 ? h->tid != rd64(r + M_MUTEX_TID64) ||
		    h->count != rd32(r + M_MUTEX_REC64) :
		    h->tid != rd32(r + M_MUTEX_TID32) ||
		    h->count != rd32(r + M_MUTEX_REC32))
			fuzz_fail("record %zu: mutex owner thread or recursion "
			    "differs from the bytes", i);
		break;
	case T_NSEM:
		if (h->count != rd32(r + M_SEM_VAL) ||
		    h->max != (int32_t)rd32(r + M_SEM_MAX))
			fuzz_fail("record %zu: semaphore differs from the bytes",
			    i);
		break;
	case T_NEVENT:
		if (h->manual != (rd32(r + M_EV_MANUAL) != 0) ||
		    h->count != rd32(r + M_EV_SET))
			fuzz_fail("record %zu: event differs from the bytes", i);
		break;
	case T_PROCESS:
		if (h->pid != (int32_t)rd32(r + M_PROC_ID) ||
		    h->count != rd32(r + M_PROC_EXIT))
			fuzz_fail("record %zu: process differs from the bytes", i);
		break;
	default:
		break;
	}
}

static void
records(const unsigned char *img, size_t len, size_t recsize)
{
	struct wcore_mono_handle h;
	size_t count, i;

	count = wcore_mono_v12_count(len, recsize);
	if (count > M_MAX)
		fuzz_fail("%zu records counted (at most %d)", count, M_MAX);
	if (count > 0 && (len < M_HEAD ||
	    count > (len - M_HEAD) / recsize))
		fuzz_fail("%zu records of %zu bytes counted in %zu bytes",
		    count, recsize, len);
	/* and none left out: another whole record does not fit */
	if (count < M_MAX && len >= M_HEAD &&
	    (len - M_HEAD) / recsize > count)
		fuzz_fail("%zu records counted in %zu bytes of %zu-byte ones",
		    count, len, recsize);
	for (i = 0; i < count; i++) {
		if (!wcore_mono_v12_record(img, len, recsize, i, &h))
			fuzz_fail("record %zu of %zu refused", i, count);
		record_check(img, recsize, i, &h);
	}
	if (wcore_mono_v12_record(img, len, recsize, count, &h))
		fuzz_fail("record %zu of %zu decoded (past the end)", count,
		    count);
	if (wcore_mono_v12_record(img, len, recsize, (size_t)-1, &h))
		fuzz_fail("record SIZE_MAX decoded");
	/* a record size of no V12 layout: nothing */
	if (wcore_mono_v12_count(len, recsize - 1) != 0 ||
	    wcore_mono_v12_count(len, 100) != 0 ||
	    wcore_mono_v12_record(img, len, 100, 0, &h))
		fuzz_fail("records of an unknown size counted");
}

static void
name_check(const uint8_t *data, size_t len)
{
	struct wcore_name nm;
	size_t rs;
	char *s;

	if ((s = malloc(len + 1)) == NULL)
		fuzz_fail("out of memory");
	if (len > 0)
		memcpy(s, data, len);
	s[len] = '\0';
	memset(&nm, 0, sizeof(nm));
	if (wcore_mono_name_parse(s, &nm)) {
		if (nm.kind != WCORE_NAME_LEGACY_DATA &&
		    nm.kind != WCORE_NAME_LEGACY_SHARE &&
		    nm.kind != WCORE_NAME_LEGACY_SCRATCH)
			fuzz_fail("\"%.80s\" parsed as kind %d", s, (int)nm.kind);
		if (nm.era == WCORE_MONO_NONE ||
		    (unsigned)nm.era >= WCORE_MONO_ERA_COUNT)
			fuzz_fail("\"%.80s\" parsed with era %d", s,
			    (int)nm.era);
		if (memchr(nm.host, '\0', sizeof(nm.host)) == NULL ||
		    memchr(nm.sysname, '\0', sizeof(nm.sysname)) == NULL ||
		    memchr(nm.machine, '\0', sizeof(nm.machine)) == NULL)
			fuzz_fail("\"%.80s\" parsed with a field unterminated",
			    s);
		if (nm.shm != (strncmp(s, "mono-shared-", 12) == 0))
			fuzz_fail("\"%.80s\": shm is %d", s, (int)nm.shm);
		rs = wcore_mono_v12_recsize(&nm);
		if (rs != 0 && ((rs != M_LP64 && rs != M_ILP32) ||
		    nm.kind != WCORE_NAME_LEGACY_DATA || nm.version != 12 ||
		    nm.recsize != rs))
			fuzz_fail("\"%.80s\": V12 record size %zu", s, rs);
		(void)wcore_mono_state_hash(&nm);
		(void)wcore_mono_key_offset(&nm);
	}
	free(s);
}

void
fuzz_mono_one(const uint8_t *data, size_t len)
{
	struct fuzz_buf b;
	size_t recsize;

	name_check(data, len);
	if (len == 0)
		return;
	recsize = (data[0] & 1) == FUZZ_MONO_ILP32 ? M_ILP32 : M_LP64;
	b = fuzz_buf_new(data + 1, len - 1, true);
	records(b.p, len - 1, recsize);
	fuzz_buf_free(&b);
}
