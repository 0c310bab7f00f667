/*
 * Mono V12 handle records (src/core/mono.c): images of a data file built
 * here byte by byte for both record sizes (328 bytes LP64, 312 ILP32), at
 * the offsets of Mono's struct _WapiHandleShared, and every decoded field
 * checked; unknown types, unterminated names, truncated files, a record
 * size of no layout, the record count's bound, and the record size a file
 * name says.
 */
#include <sys/mman.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core.h"
#include "tcheck.h"

#define HEAD		8	/* int32 collection_count, int32 sem_key */
#define LP64		328
#define ILP32		312
#define NREC		7

static void	put32(unsigned char *, size_t, uint32_t);
static void	put64(unsigned char *, size_t, uint64_t);
static void	put_head(unsigned char *, uint32_t, uint32_t, uint32_t,
		    uint32_t);
static unsigned char *image(size_t, size_t *);
static void	test_image(size_t);
static void	test_long_names(size_t);
static void	test_guard(size_t);
static void	test_sizes(void);
static void	test_recsize(void);
static void	test_type_names(void);

static const char long_proc[] = "/opt/mono/lib/mono/4.5/xsp4.exe";
static const uint64_t tid64 = 0x00007f3a1c2d4700ULL;
static const uint32_t tid32 = 0xb7211b40u;

static void
put32(unsigned char *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void
put64(unsigned char *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void
put_head(unsigned char *r, uint32_t type, uint32_t stamp, uint32_t refs,
    uint32_t signalled)
{
	put32(r, 0, type);
	put32(r, 4, stamp);
	put32(r, 8, refs);
	put32(r, 12, signalled);
}

/*
 * A data file of NREC records: a named mutex, semaphore and event, a
 * process, an unused slot, a type 99 and a thread.  Each record but the
 * unused one is first filled with 0xa5, so that only the bytes at the
 * right offsets can give the right answers.
 */
static unsigned char *
image(size_t recsize, size_t *len)
{
	bool lp64 = recsize == LP64;
	unsigned char *img, *r;
	size_t i;

	*len = HEAD + NREC * recsize;
	if ((img = calloc(1, *len)) == NULL) {
		perror("calloc");
		exit(99);
	}
	put32(img, 0, 5);		/* collection_count */
	put32(img, 4, 0x4d0051a2);	/* sem_key */
	for (i = 0; i < NREC; i++)
		if (i != 4)
			memset(img + HEAD + i * recsize, 0xa5, recsize);

	r = img + HEAD;
	put_head(r, 11, 1231000000, 2, 0);		/* named mutex */
	memcpy(r + 16, "Global\\build-lock", 18);
	put32(r, 280, (uint32_t)4242);
	if (lp64) {
		put64(r, 288, tid64);
		put32(r, 296, 3);
	} else {
		put32(r, 284, tid32);
		put32(r, 288, 3);
	}

	r += recsize;
	put_head(r, 12, 1231000001, 1, 1);		/* named semaphore */
	memcpy(r + 16, "s\xc3\xa9maphore", 11);
	put32(r, 280, 2);
	put32(r, 284, (uint32_t)INT32_MAX);

	r += recsize;
	put_head(r, 13, 1231000002, 3, 1);		/* named event */
	memcpy(r + 16, "", 1);				/* unnamed */
	put32(r, 280, 1);
	put32(r, 284, 7);

	r += recsize;
	put_head(r, 9, 1231000003, 1, 0);		/* process */
	put32(r, 16, (uint32_t)-5);			/* a negative id */
	put32(r, 20, 259);				/* STILL_ACTIVE */
	memcpy(r + (lp64 ? 48 : 44), long_proc, sizeof(long_proc));

	r += recsize;					/* unused: zeros */

	r += recsize;
	put_head(r, 99, 1231000005, 4, 1);		/* unknown type */

	r += recsize;
	put_head(r, 3, 1231000006, 1, 0);		/* thread */
	return img;
}

static void
test_image(size_t recsize)
{
	const char *abi = recsize == LP64 ? "LP64" : "ILP32";
	struct wcore_mono_handle h;
	unsigned char *img;
	size_t len;

	img = image(recsize, &len);
	T_INTEQ(wcore_mono_v12_count(len, recsize), NREC, "%s: %d records",
	    abi, NREC);

	t_ok(wcore_mono_v12_record(img, len, recsize, 0, &h), "%s: record 0",
	    abi);
	T_INTEQ(h.type, WCORE_MONO_H_NAMEDMUTEX, "%s: named mutex type", abi);
	T_INTEQ(h.timestamp, 1231000000, "%s: mutex timestamp", abi);
	T_INTEQ(h.refs, 2, "%s: mutex refs", abi);
	T_INTEQ(h.signalled, false, "%s: mutex not signalled", abi);
	T_STREQ(h.name, "Global\\build-lock", "%s: mutex name", abi);
	T_INTEQ(h.pid, 4242, "%s: mutex owner pid", abi);
	T_INTEQ(h.tid, recsize == LP64 ? tid64 : tid32,
	    "%s: mutex owner thread", abi);
	T_INTEQ(h.count, 3, "%s: mutex recursion", abi);
	T_INTEQ(h.max, 0, "%s: mutex has no maximum", abi);
	T_INTEQ(h.manual, false, "%s: mutex is not manual", abi);
	T_STREQ(h.proc_name, "", "%s: mutex has no proc_name", abi);

	t_ok(wcore_mono_v12_record(img, len, recsize, 1, &h), "%s: record 1",
	    abi);
	T_INTEQ(h.type, WCORE_MONO_H_NAMEDSEM, "%s: named semaphore type", abi);
	T_INTEQ(h.timestamp, 1231000001, "%s: semaphore timestamp", abi);
	T_INTEQ(h.refs, 1, "%s: semaphore refs", abi);
	T_INTEQ(h.signalled, true, "%s: semaphore signalled", abi);
	T_STREQ(h.name, "s\xc3\xa9maphore", "%s: semaphore name (UTF-8)", abi);
	T_INTEQ(h.count, 2, "%s: semaphore value", abi);
	T_INTEQ(h.max, INT32_MAX, "%s: semaphore maximum", abi);
	T_INTEQ(h.pid, 0, "%s: semaphore has no pid", abi);
	T_INTEQ(h.tid, 0, "%s: semaphore has no thread", abi);

	t_ok(wcore_mono_v12_record(img, len, recsize, 2, &h), "%s: record 2",
	    abi);
	T_INTEQ(h.type, WCORE_MONO_H_NAMEDEVENT, "%s: named event type", abi);
	T_INTEQ(h.timestamp, 1231000002, "%s: event timestamp", abi);
	T_INTEQ(h.refs, 3, "%s: event refs", abi);
	T_INTEQ(h.signalled, true, "%s: event signalled", abi);
	T_STREQ(h.name, "", "%s: event with an empty name", abi);
	T_INTEQ(h.manual, true, "%s: event manual", abi);
	T_INTEQ(h.count, 7, "%s: event set count", abi);

	t_ok(wcore_mono_v12_record(img, len, recsize, 3, &h), "%s: record 3",
	    abi);
	T_INTEQ(h.type, WCORE_MONO_H_PROCESS, "%s: process type", abi);
	T_INTEQ(h.timestamp, 1231000003, "%s: process timestamp", abi);
	T_INTEQ(h.refs, 1, "%s: process refs", abi);
	T_INTEQ(h.pid, -5, "%s: process id, signed", abi);
	T_INTEQ(h.count, 259, "%s: process exit status", abi);
	T_STREQ(h.proc_name, long_proc, "%s: process name", abi);
	T_STREQ(h.name, "", "%s: process has no name", abi);

	t_ok(wcore_mono_v12_record(img, len, recsize, 4, &h), "%s: record 4",
	    abi);
	t_ok(h.type == WCORE_MONO_H_UNUSED && h.timestamp == 0 &&
	    h.refs == 0 && !h.signalled && h.name[0] == '\0' &&
	    h.proc_name[0] == '\0' && h.pid == 0 && h.tid == 0 &&
	    h.count == 0 && h.max == 0 && !h.manual,
	    "%s: an unused slot decodes to zeros", abi);

	t_ok(wcore_mono_v12_record(img, len, recsize, 5, &h), "%s: record 5",
	    abi);
	t_ok(h.type == 99 && h.timestamp == 1231000005 && h.refs == 4 &&
	    h.signalled, "%s: type 99: its head", abi);
	t_ok(h.name[0] == '\0' && h.proc_name[0] == '\0' && h.pid == 0 &&
	    h.tid == 0 && h.count == 0 && h.max == 0 && !h.manual,
	    "%s: type 99: nothing else read", abi);
	T_STREQ(wcore_mono_type_name(h.type), "unknown", "%s: type 99 name",
	    abi);

	t_ok(wcore_mono_v12_record(img, len, recsize, 6, &h), "%s: record 6",
	    abi);
	t_ok(h.type == WCORE_MONO_H_THREAD && h.name[0] == '\0' &&
	    h.proc_name[0] == '\0' && h.pid == 0 && h.count == 0,
	    "%s: a thread: its head only", abi);

	t_ok(!wcore_mono_v12_record(img, len, recsize, NREC, &h),
	    "%s: record %d (past the end) refused", abi, NREC);
	t_ok(!wcore_mono_v12_record(img, len, recsize, (size_t)-1, &h),
	    "%s: record SIZE_MAX refused", abi);
	t_ok(!wcore_mono_v12_record(img, len - 1, recsize, NREC - 1, &h),
	    "%s: a record cut by one byte refused", abi);
	t_ok(wcore_mono_v12_record(img, len - 1, recsize, NREC - 2, &h) &&
	    h.refs == 4, "%s: the one before it still read", abi);
	free(img);
}

/*
 * Text fields that fill their whole field: the name's 261 bytes (MAX_PATH
 * + 1) and proc_name's 256, with no NUL in them and none after them in
 * the record.  The decoded name must be NUL-ended inside its array of
 * WCORE_MONO_NAME_MAX + 1 bytes: at most 260 bytes of the name.
 */
static void
test_long_names(size_t recsize)
{
	const char *abi = recsize == LP64 ? "LP64" : "ILP32";
	struct wcore_mono_handle h;
	unsigned char *img, *r;
	size_t len, n;
	uint32_t types[3] = { 11, 12, 13 };
	int k;

	len = HEAD + 4 * recsize;
	if ((img = malloc(len)) == NULL) {
		perror("malloc");
		exit(99);
	}
	memset(img, 'N', len);
	put32(img, 0, 4);
	put32(img, 4, 1);
	for (k = 0; k < 3; k++) {
		r = img + HEAD + (size_t)k * recsize;
		put_head(r, types[k], 1, 1, 0);
		memset(r + 16, 'a' + k, 261);
		t_ok(wcore_mono_v12_record(img, len, recsize, (size_t)k, &h),
		    "%s: type %u with a 261-byte name read", abi, types[k]);
		t_ok(memchr(h.name, '\0', sizeof(h.name)) != NULL,
		    "%s: type %u: the name is NUL-ended inside its %zu bytes",
		    abi, types[k], sizeof(h.name));
		n = strnlen(h.name, sizeof(h.name));
		t_ok(n <= WCORE_MONO_NAME_MAX,
		    "%s: type %u: name of %zu bytes, at most %d", abi,
		    types[k], n, WCORE_MONO_NAME_MAX);
		t_ok(n >= WCORE_MONO_NAME_MAX &&
		    strspn(h.name, k == 0 ? "a" : k == 1 ? "b" : "c") >= n,
		    "%s: type %u: all of it is the name's bytes", abi, types[k]);
	}
	r = img + HEAD + 3 * recsize;
	put_head(r, 9, 1, 1, 0);
	memset(r + (recsize == LP64 ? 48 : 44), 'p', 256);
	t_ok(wcore_mono_v12_record(img, len, recsize, 3, &h),
	    "%s: process with a 256-byte name read", abi);
	T_INTEQ(strnlen(h.proc_name, sizeof(h.proc_name)), WCORE_MONO_PROC_NAME,
	    "%s: all 256 bytes of proc_name, NUL-ended", abi);
	t_ok(strspn(h.proc_name, "p") == WCORE_MONO_PROC_NAME,
	    "%s: proc_name is the record's bytes", abi);
	free(img);
}

/*
 * The last record of each type ends where a PROT_NONE page begins, every
 * byte of it non-zero: the decoder reads inside the record or crashes (in
 * a child, so that the crash is a failed check).
 */
static void
test_guard(size_t recsize)
{
	static const uint32_t types[] = { 0, 3, 9, 11, 12, 13, 99 };
	const char *abi = recsize == LP64 ? "LP64" : "ILP32";
	struct wcore_mono_handle h;
	long pg = sysconf(_SC_PAGESIZE);
	size_t len = HEAD + 2 * recsize, body, k;
	unsigned char *map, *img;
	pid_t pid;
	int status;

	body = (len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	map = mmap(NULL, body + (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED || mprotect(map + body, (size_t)pg,
	    PROT_NONE) != 0) {
		perror("mmap");
		exit(99);
	}
	img = map + body - len;
	for (k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		memset(img, 0x5a, len);
		put32(img + HEAD + recsize, 0, types[k]);
		fflush(stdout);
		if ((pid = fork()) < 0) {
			perror("fork");
			exit(99);
		}
		if (pid == 0) {
			bool ok = wcore_mono_v12_record(img, len, recsize, 1,
			    &h) && h.type == types[k];

			_exit(ok ? 0 : 1);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		t_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "%s: type %u as the last record reads inside it", abi,
		    types[k]);
		if (WIFSIGNALED(status))
			printf("#   killed by signal %d\n", WTERMSIG(status));
	}
	munmap(map, body + (size_t)pg);
}

static void
test_sizes(void)
{
	struct wcore_mono_handle h;
	unsigned char *big;
	size_t blen = HEAD + (size_t)(WCORE_MONO_V12_MAX + 1) * LP64;

	T_INTEQ(wcore_mono_v12_count(0, LP64), 0, "0 bytes: no record");
	T_INTEQ(wcore_mono_v12_count(7, LP64), 0, "7 bytes: no record");
	T_INTEQ(wcore_mono_v12_count(8, LP64), 0, "the head alone: no record");
	T_INTEQ(wcore_mono_v12_count(8 + 327, LP64), 0,
	    "one byte short of a record: none");
	T_INTEQ(wcore_mono_v12_count(8 + 328, LP64), 1, "one LP64 record");
	T_INTEQ(wcore_mono_v12_count(8 + 311, ILP32), 0,
	    "one byte short of an ILP32 record: none");
	T_INTEQ(wcore_mono_v12_count(8 + 312, ILP32), 1, "one ILP32 record");
	T_INTEQ(wcore_mono_v12_count(8 + 2 * 328 - 1, LP64), 1,
	    "a record and a part: one");
	T_INTEQ(wcore_mono_v12_count(8 + 10 * 328, 100), 0,
	    "record size 100: none");
	T_INTEQ(wcore_mono_v12_count(8 + 10 * 328, 0), 0,
	    "record size 0: none");
	T_INTEQ(wcore_mono_v12_count(8 + 10 * 344, 344), 0,
	    "record size 344 (no V12 layout here): none");
	T_INTEQ(wcore_mono_v12_count((size_t)-1, LP64), WCORE_MONO_V12_MAX,
	    "SIZE_MAX bytes: the bound");

	if ((big = calloc(1, blen)) == NULL) {
		perror("calloc");
		exit(99);
	}
	T_INTEQ(wcore_mono_v12_count(blen, LP64), WCORE_MONO_V12_MAX,
	    "%d records in the file: %d counted", WCORE_MONO_V12_MAX + 1,
	    WCORE_MONO_V12_MAX);
	put32(big + HEAD + (size_t)(WCORE_MONO_V12_MAX - 1) * LP64, 0, 9);
	t_ok(wcore_mono_v12_record(big, blen, LP64, WCORE_MONO_V12_MAX - 1,
	    &h) && h.type == 9, "record %d read", WCORE_MONO_V12_MAX - 1);
	t_ok(!wcore_mono_v12_record(big, blen, LP64, WCORE_MONO_V12_MAX, &h),
	    "record %d (past the bound) refused", WCORE_MONO_V12_MAX);
	t_ok(!wcore_mono_v12_record(big, blen, 100, 0, &h),
	    "record size 100: record 0 refused");
	t_ok(!wcore_mono_v12_record(big, 0, LP64, 0, &h),
	    "0 bytes: record 0 refused");
	t_ok(!wcore_mono_v12_record(big, 7, LP64, 0, &h),
	    "7 bytes: record 0 refused");
	t_ok(!wcore_mono_v12_record(big, 8 + 327, LP64, 0, &h),
	    "8 + 327 bytes: record 0 refused");
	t_ok(wcore_mono_v12_record(big, 8 + 328, LP64, 0, &h),
	    "8 + 328 bytes: record 0 read");
	t_ok(!wcore_mono_v12_record(big, 8 + 311, ILP32, 0, &h),
	    "8 + 311 bytes: ILP32 record 0 refused");
	t_ok(wcore_mono_v12_record(big, 8 + 312, ILP32, 0, &h),
	    "8 + 312 bytes: ILP32 record 0 read");
	free(big);
}

static void
test_recsize(void)
{
	static const struct {
		const char *name;
		size_t want;
	} cases[] = {
		{ "shared_data-h-Linux-x86_64-328-12-0", 328 },
		{ "shared_data-h-Linux-i686-312-12-0", 312 },
		{ "shared_data-my-host-Linux-x86_64-328-12-0", 328 },
		{ "mono-shared-1000-shared_data-h-Linux-i686-312-12-0", 312 },
		{ "mono-shared-1000-shared_data-h-Linux-x86_64-328-12-0", 328 },
		{ "shared_data-h-Linux-x86_64-320-11-0", 0 },
		{ "shared_data-h-Linux-x86_64-328-11-0", 0 },
		{ "shared_data-h-Linux-x86_64-344-12-0", 0 },
		{ "shared_data-h-Linux-x86_64-0-12-0", 0 },
		{ "shared_fileshare-h-Linux-x86_64-328-12-0", 0 },
		{ "shared_fileshare-h-Linux-x86_64-24-12-0", 0 },
		{ "mono-shared-1000-shared_fileshare-h-Linux-i686-312-12-0", 0 },
		{ "shared_data-h-7-0", 0 },
		{ "shared_data-12", 0 },
	};
	struct wcore_name n;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&n, 0, sizeof(n));
		t_ok(wcore_mono_name_parse(cases[i].name, &n), "parse %s",
		    cases[i].name);
		T_INTEQ(wcore_mono_v12_recsize(&n), cases[i].want,
		    "%s: record size %zu", cases[i].name, cases[i].want);
	}
	/* the same through the directory-entry parser */
	wcore_name_parse("mono-shared-1000-shared_data-h-Linux-i686-312-12-0",
	    &n);
	T_INTEQ(wcore_mono_v12_recsize(&n), 312,
	    "wcore_name_parse of the /dev/shm form: 312");
	wcore_name_parse("h.x86_64.state", &n);
	T_INTEQ(wcore_mono_v12_recsize(&n), 0, "a state file of ours: 0");
	/* a V12 data name with the size stripped by hand */
	memset(&n, 0, sizeof(n));
	n.kind = WCORE_NAME_LEGACY_DATA;
	n.era = WCORE_MONO_2005_10;
	n.version = 12;
	n.recsize = 312;
	T_INTEQ(wcore_mono_v12_recsize(&n), 312, "2005-10 era, V12, 312");
	n.era = WCORE_MONO_2005;
	T_INTEQ(wcore_mono_v12_recsize(&n), 0, "2005 era: no V12 records");
}

static void
test_type_names(void)
{
	T_STREQ(wcore_mono_type_name(0), "Unused", "type 0");
	T_STREQ(wcore_mono_type_name(9), "Process", "type 9");
	T_STREQ(wcore_mono_type_name(11), "N.Mutex", "type 11");
	T_STREQ(wcore_mono_type_name(12), "N.Sem", "type 12");
	T_STREQ(wcore_mono_type_name(13), "N.Event", "type 13");
	T_STREQ(wcore_mono_type_name(14), "unknown", "type 14");
	T_STREQ(wcore_mono_type_name(UINT32_MAX), "unknown", "type UINT32_MAX");
}

int
main(void)
{
	test_image(LP64);
	test_image(ILP32);
	test_long_names(LP64);
	test_long_names(ILP32);
	test_guard(LP64);
	test_guard(ILP32);
	test_sizes();
	test_recsize();
	test_type_names();
	return t_done();
}
