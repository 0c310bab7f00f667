/*
 * Tests of src/core/format.c: layouts, WAPI_MAX_HANDLES, creating,
 * re-initialising and mapping state files, the robust table lock, and the
 * round trip init -> map -> validate at the default and at 1,048,576
 * handles (the latter also proving that validation never touches the
 * handle and name pages above the high-water mark).
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tfmt.h"

static char dir[256];

static const char *
tpath(const char *name)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static size_t
validate_count(const void *map, size_t len, int dump)
{
	struct wcore_report r;
	size_t n;

	memset(&r, 0, sizeof(r));
	r.limit = 20;
	n = wcore_validate(map, len, &r);
	if (n != 0 && dump)
		tf_dump(&r, 5);
	wcore_report_free(&r);
	return n;
}

static void
test_types(void)
{
	int i, ok = 1;

	for (i = 0; i < WAPI_T_COUNT; i++)
		if (wcore_type_parse(wcore_type_name((unsigned)i)) != i)
			ok = 0;
	tf_ok(ok, "type names parse back to their numbers");
	tf_ok(strcmp(wcore_type_name(WAPI_T_SEMAPHORE), "semaphore") == 0 &&
	    strcmp(wcore_type_name(WAPI_T_FREE), "free") == 0 &&
	    strcmp(wcore_type_name(WAPI_T_PROCESS), "process") == 0,
	    "type names are the documented words");
	tf_ok(strcmp(wcore_type_name(WAPI_T_COUNT), "?") == 0 &&
	    strcmp(wcore_type_name(255), "?") == 0, "unknown type is \"?\"");
	tf_ok(wcore_type_parse("Event") == -1 && wcore_type_parse("") == -1 &&
	    wcore_type_parse("events") == -1 && wcore_type_parse(NULL) == -1,
	    "type parse rejects near misses");
}

static void
test_layout(void)
{
	struct wcore_layout l;
	int i, ok;

	tf_ok(wcore_layout(WAPI_DEFAULT_HANDLES, WAPI_DEFAULT_CLIENTS,
	    WAPI_DEFAULT_CLIENT_REFS, WAPI_DEFAULT_SHARES, &l) == 0,
	    "default layout computes");
	ok = l.regions[0].offset == WAPI_HEADER_SIZE;
	for (i = 0; i < WAPI_R_COUNT; i++) {
		if (l.regions[i].offset % 4096 != 0 ||
		    l.regions[i].size % 4096 != 0 ||
		    l.regions[i].size < (uint64_t)l.regions[i].capacity *
		    l.regions[i].entry_size ||
		    l.regions[i].size >= (uint64_t)l.regions[i].capacity *
		    l.regions[i].entry_size + 4096)
			ok = 0;
		if (i > 0 && l.regions[i].offset != l.regions[i - 1].offset +
		    l.regions[i - 1].size)
			ok = 0;
	}
	ok = ok && l.file_size == l.regions[WAPI_R_COUNT - 1].offset +
	    l.regions[WAPI_R_COUNT - 1].size;
	tf_ok(ok, "regions follow the header in order, 4 KiB aligned");
	tf_ok(l.handles == 65536 && l.nameidx == 131072 &&
	    l.regions[WAPI_R_NAMES].capacity == 65536 && l.clients == 1024 &&
	    l.regions[WAPI_R_CREFS].capacity == 1024u * 16384u &&
	    l.shares == 16384 && l.regions[WAPI_R_SHARES].capacity == 16384,
	    "default capacities");
	tf_ok(l.regions[WAPI_R_HANDLES].entry_size == 64 &&
	    l.regions[WAPI_R_NAMEIDX].entry_size == 8 &&
	    l.regions[WAPI_R_NAMES].entry_size == 264 &&
	    l.regions[WAPI_R_CLIENTS].entry_size == 64 &&
	    l.regions[WAPI_R_CREFS].entry_size == 8 &&
	    l.regions[WAPI_R_SHARES].entry_size == 48, "entry sizes");

	tf_ok(wcore_layout(1000, 4, 16, 100, &l) == 0 && l.nameidx == 2048 &&
	    l.shares == 128, "name index is a power of two >= 2 * handles; "
	    "shares round up");
	tf_ok(wcore_layout(WAPI_MIN_HANDLES, 1, 1, 1, &l) == 0,
	    "smallest capacities accepted");
	tf_ok(wcore_layout(WAPI_MAX_HANDLES_LIMIT, WAPI_MAX_CLIENTS,
	    WAPI_MAX_CREFS / WAPI_MAX_CLIENTS, WAPI_MAX_SHARES, &l) == 0 &&
	    l.nameidx == WAPI_MAX_NAMEIDX &&
	    l.regions[WAPI_R_CREFS].capacity == WAPI_MAX_CREFS &&
	    l.shares == WAPI_MAX_SHARES, "largest capacities accepted");
	tf_ok(wcore_layout(64, WAPI_MAX_CLIENTS, WAPI_MAX_CLIENT_REFS, 16,
	    &l) == EINVAL && wcore_layout(64, 4, 16, WAPI_MAX_SHARES + 1,
	    &l) == EINVAL, "more client refs or shares than a file may have "
	    "refused");
	tf_ok(wcore_layout(WAPI_MIN_HANDLES - 1, 4, 16, 16, &l) == EINVAL &&
	    wcore_layout(0, 4, 16, 16, &l) == EINVAL,
	    "too few handles rejected");
	tf_ok(wcore_layout(WAPI_MAX_HANDLES_LIMIT + 1, 4, 16, 16, &l) ==
	    EINVAL && wcore_layout(UINT32_MAX, 4, 16, 16, &l) == EINVAL,
	    "too many handles (up to 2^32-1) rejected");
	tf_ok(wcore_layout(64, 0, 16, 16, &l) == EINVAL &&
	    wcore_layout(64, WAPI_MAX_CLIENTS + 1, 16, 16, &l) == EINVAL &&
	    wcore_layout(64, UINT32_MAX, 16, 16, &l) == EINVAL,
	    "client capacity outside [1, WAPI_MAX_CLIENTS] rejected");
	tf_ok(wcore_layout(64, 4, 0, 16, &l) == EINVAL &&
	    wcore_layout(64, 4, WAPI_MAX_CLIENT_REFS + 1, 16, &l) == EINVAL &&
	    wcore_layout(64, 4, UINT32_MAX, 16, &l) == EINVAL,
	    "refs_per_client 0 or above 2^20 rejected");
	tf_ok(wcore_layout(64, 4, 16, 0, &l) == EINVAL &&
	    wcore_layout(64, 4, 16, WAPI_MAX_SHARES + 1, &l) == EINVAL &&
	    wcore_layout(64, 4, 16, UINT32_MAX, &l) == EINVAL,
	    "shares 0 or beyond 2^31 rejected");
}

static void
test_layout_default(void)
{
	struct wcore_layout l;
	char why[256];
	int e;

	unsetenv("WAPI_MAX_HANDLES");
	tf_ok(wcore_layout_default(&l, why, sizeof(why)) == 0 &&
	    l.handles == WAPI_DEFAULT_HANDLES && l.clients ==
	    WAPI_DEFAULT_CLIENTS && l.refs_per_client ==
	    WAPI_DEFAULT_CLIENT_REFS && l.shares == WAPI_DEFAULT_SHARES,
	    "no WAPI_MAX_HANDLES: defaults");
	setenv("WAPI_MAX_HANDLES", "", 1);
	tf_ok(wcore_layout_default(&l, why, sizeof(why)) == 0 &&
	    l.handles == WAPI_DEFAULT_HANDLES, "empty WAPI_MAX_HANDLES: "
	    "defaults");
	setenv("WAPI_MAX_HANDLES", "1048576", 1);
	tf_ok(wcore_layout_default(&l, why, sizeof(why)) == 0 &&
	    l.handles == 1048576 && l.nameidx == 2097152,
	    "WAPI_MAX_HANDLES=1048576");
	why[0] = '\0';
	setenv("WAPI_MAX_HANDLES", "12abc", 1);
	e = wcore_layout_default(&l, why, sizeof(why));
	tf_ok(e == EINVAL && strstr(why, "WAPI_MAX_HANDLES=12abc") != NULL &&
	    strstr(why, "invalid") != NULL, "WAPI_MAX_HANDLES=12abc: %s", why);
	setenv("WAPI_MAX_HANDLES", "8", 1);
	e = wcore_layout_default(&l, why, sizeof(why));
	tf_ok(e == EINVAL && strstr(why, "too small") != NULL,
	    "WAPI_MAX_HANDLES=8: %s", why);
	setenv("WAPI_MAX_HANDLES", "4294967297", 1);
	e = wcore_layout_default(&l, why, sizeof(why));
	tf_ok(e == EINVAL && strstr(why, "too large") != NULL,
	    "WAPI_MAX_HANDLES=4294967297: %s", why);
	setenv("WAPI_MAX_HANDLES", "-1", 1);
	tf_ok(wcore_layout_default(&l, why, sizeof(why)) == EINVAL,
	    "WAPI_MAX_HANDLES=-1 rejected");
	unsetenv("WAPI_MAX_HANDLES");
}

static void
test_checksum(void)
{
	struct wapi_header *h;
	uint64_t a;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		abort();
	memcpy(h->magic, WAPI_MAGIC, 8);
	a = wcore_checksum(h);
	tf_ok(a == wcore_checksum(h), "checksum is deterministic");
	h->helper_pid = 42;
	h->handle_hwm = 7;
	h->checksum = 1;
	tf_ok(a == wcore_checksum(h), "mutable fields and the checksum "
	    "itself are not covered");
	h->boot_id[3] = 'x';
	tf_ok(a != wcore_checksum(h), "an immutable byte changes it");
	memset(h, 0, sizeof(*h));
	/* FNV-1a 64 of 368 zero bytes, computed independently. */
	a = 0xcbf29ce484222325ull;
	for (int i = 0; i < 368; i++)
		a *= 0x100000001b3ull;
	tf_ok(wcore_checksum(h) == a, "checksum is FNV-1a 64 over [0, 368)");
	free(h);
}

static void
test_roundtrip_default(void)
{
	struct wcore_layout l;
	struct wapi_header *h;
	struct stat st;
	char why[256], boot[40];
	size_t len;
	void *map;
	int fd, e;

	wcore_layout(WAPI_DEFAULT_HANDLES, WAPI_DEFAULT_CLIENTS,
	    WAPI_DEFAULT_CLIENT_REFS, WAPI_DEFAULT_SHARES, &l);
	fd = open(tpath("default.state"), O_RDWR | O_CREAT | O_EXCL, 0600);
	tf_ok(fd >= 0 && (e = wcore_init(fd, &l, "t-format.host")) == 0,
	    "wcore_init default layout");
	/* fstat before tf_ok: its arguments are evaluated in no set order. */
	memset(&st, 0, sizeof(st));
	e = fd >= 0 ? fstat(fd, &st) : -1;
	tf_ok(e == 0 && (uint64_t)st.st_size == l.file_size &&
	    (uint64_t)st.st_blocks * 512 < l.file_size / 16,
	    "file has the layout's size and is sparse (%lld of %llu bytes "
	    "allocated)", (long long)st.st_blocks * 512,
	    (unsigned long long)l.file_size);
	e = wcore_map(fd, false, &map, &len, why, sizeof(why));
	tf_ok(e == 0 && len == l.file_size, "wcore_map read-only");
	if (e != 0) {
		printf("#   %s\n", why);
		close(fd);
		return;
	}
	h = map;
	memset(boot, 0, sizeof(boot));
	wcore_boot_id(boot);
	tf_ok(memcmp(h->magic, WAPI_MAGIC, 8) == 0 && h->version ==
	    WAPI_FORMAT_VERSION && h->header_size == WAPI_HEADER_SIZE &&
	    strcmp(h->abi, WAPI_ABI) == 0 && h->bom == WAPI_BOM &&
	    h->creator_uid == geteuid() && h->file_size == l.file_size &&
	    strcmp(h->host, "t-format.host") == 0 &&
	    strcmp(h->boot_id, boot) == 0 && strlen(h->boot_id) == 36 &&
	    h->refs_per_client == l.refs_per_client &&
	    h->region_count == WAPI_R_COUNT && h->init_count == 1 &&
	    h->handle_hwm == 0 && h->handle_free_head == 0 &&
	    h->checksum == wcore_checksum(h) &&
	    memcmp(h->regions, l.regions, sizeof(l.regions)) == 0,
	    "header fields written");
	tf_ok(h->created > 1700000000 && h->created <= (int64_t)time(NULL),
	    "creation time recorded");
	{
		static const uint8_t none[WAPI_HELPER_TOKEN_LEN];

		tf_ok(h->helper_pid == 0 && memcmp(h->helper_token, none,
		    sizeof(none)) == 0, "no helper recorded, no socket token");
	}
	tf_ok(validate_count(map, len, 1) == 0,
	    "fresh default file validates clean");
	munmap(map, len);
	close(fd);
}

/* A child takes the table lock and dies holding it. */
static void
test_robust_lock(void)
{
	struct wcore_layout l;
	struct wapi_header *h;
	size_t len;
	void *map;
	pid_t pid;
	int st, e;

	wcore_layout(64, 4, 16, 16, &l);
	if (tf_create(tpath("lock.state"), &l, "t-format.host", &map, &len)) {
		tf_ok(0, "create lock.state");
		return;
	}
	h = map;
	pid = fork();
	if (pid == 0) {
		if (pthread_mutex_lock(&h->table_lock.m) != 0)
			_exit(2);
		_exit(0);
	}
	tf_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "child took the table lock and exited");
	e = pthread_mutex_lock(&h->table_lock.m);
	tf_ok(e == EOWNERDEAD, "table lock is robust: EOWNERDEAD after the "
	    "holder died (got %d)", e);
	if (e == EOWNERDEAD)
		pthread_mutex_consistent(&h->table_lock.m);
	if (e == 0 || e == EOWNERDEAD)
		pthread_mutex_unlock(&h->table_lock.m);

	pid = fork();
	if (pid == 0)
		_exit(pthread_mutex_trylock(&h->table_lock.m) == 0 ? 0 : 1);
	tf_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "table lock is shared with another process");
	munmap(map, len);
}

/* Populated, then re-initialised in place: clean and empty again. */
static void
test_reinit(void)
{
	struct wcore_layout l;
	struct wapi_header *h;
	char why[256];
	size_t len;
	void *map;
	int fd;

	wcore_layout(64, 4, 16, 16, &l);
	if (tf_create(tpath("reinit.state"), &l, "t-format.host", &map,
	    &len)) {
		tf_ok(0, "create reinit.state");
		return;
	}
	tf_populate(map, getpid());
	tf_ok(validate_count(map, len, 1) == 0, "populated file validates "
	    "clean");
	munmap(map, len);

	fd = open(tpath("reinit.state"), O_RDWR);
	tf_ok(fd >= 0 && ftruncate(fd, 0) == 0 &&
	    ftruncate(fd, (off_t)l.file_size) == 0, "truncate to 0 and back");
	map = mmap(NULL, l.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	tf_ok(map != MAP_FAILED && wcore_init_map(map, &l, "t-format.host")
	    == 0, "wcore_init_map on the truncated file");
	h = map;
	tf_ok(h->handle_hwm == 0 && h->clients_used == 0 &&
	    h->init_count == 1 && validate_count(map, len, 1) == 0,
	    "re-initialised file is empty and clean");
	tf_populate(map, getpid());
	munmap(map, l.file_size);

	/* wcore_init on a file with contents starts from nothing. */
	tf_ok(wcore_init(fd, &l, "other.host") == 0 &&
	    wcore_map(fd, false, &map, &len, why, sizeof(why)) == 0,
	    "wcore_init over a populated file");
	h = map;
	tf_ok(h->handle_hwm == 0 && strcmp(h->host, "other.host") == 0 &&
	    validate_count(map, len, 1) == 0, "and it is empty and clean");
	munmap(map, len);
	close(fd);
}

static void
test_init_rejects(void)
{
	struct wcore_layout l;
	void *buf;

	wcore_layout(64, 4, 16, 16, &l);
	buf = aligned_alloc(4096, l.file_size);
	if (buf == NULL)
		abort();
	memset(buf, 0, l.file_size);
	tf_ok(wcore_init_map(buf, &l, "bad/host") == EINVAL &&
	    wcore_init_map(buf, &l, "") == EINVAL &&
	    wcore_init_map(buf, &l, ".dot") == EINVAL,
	    "wcore_init_map refuses invalid host names");
	tf_ok(wcore_init_map(buf, &l, "ok-host") == 0 &&
	    validate_count(buf, l.file_size, 1) == 0,
	    "wcore_init_map on a zeroed buffer validates clean");
	tf_ok(wcore_init_map(buf, &l, "ok-host") == 0 &&
	    ((struct wapi_header *)buf)->init_count == 2,
	    "init_count counts initialisations of the same bytes");
	free(buf);
}

static void
test_map_rejects(void)
{
	struct wcore_layout l;
	char why[256];
	size_t len;
	void *map;
	int fd, e, st;
	pid_t pid;

	wcore_layout(64, 4, 16, 16, &l);
	if (tf_create(tpath("short.state"), &l, "t-format.host", &map,
	    &len)) {
		tf_ok(0, "create short.state");
		return;
	}
	munmap(map, len);
	fd = open(tpath("short.state"), O_RDWR);

	/* Read-only really is read-only. */
	e = wcore_map(fd, false, &map, &len, why, sizeof(why));
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		((volatile char *)map)[600] = 1;
		_exit(0);
	}
	tf_ok(e == 0 && pid > 0 && waitpid(pid, &st, 0) == pid &&
	    WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	    "read-only mapping cannot be written");
	if (e == 0)
		munmap(map, len);

	tf_ok(ftruncate(fd, (off_t)l.file_size - 1) == 0 &&
	    wcore_map(fd, false, &map, &len, why, sizeof(why)) == EINVAL &&
	    map == NULL && strstr(why, "@40") != NULL,
	    "one byte short: %s", why);
	tf_ok(ftruncate(fd, 2048) == 0 &&
	    wcore_map(fd, false, &map, &len, why, sizeof(why)) == EINVAL &&
	    strstr(why, "shorter than the") != NULL,
	    "half a header: %s", why);
	tf_ok(ftruncate(fd, 0) == 0 &&
	    wcore_map(fd, true, &map, &len, why, sizeof(why)) == EINVAL &&
	    strstr(why, "0 bytes") != NULL, "empty file: %s", why);
	tf_ok(ftruncate(fd, (off_t)l.file_size) == 0 &&
	    wcore_map(fd, true, &map, &len, why, sizeof(why)) == EINVAL &&
	    strstr(why, "magic") != NULL, "zeroed file: %s", why);
	close(fd);
}

/* 1,048,576 handles: clean when empty; then with a few handles and the
 * pages above the high-water mark made inaccessible, still clean. */
static void
test_million(void)
{
	struct wcore_layout l;
	struct timespec t0;
	struct wapi_header *h;
	uint64_t from, end;
	double ms;
	size_t len, n;
	void *map;
	int ok;

	tf_ok(wcore_layout(1048576, WAPI_DEFAULT_CLIENTS,
	    WAPI_DEFAULT_CLIENT_REFS, WAPI_DEFAULT_SHARES, &l) == 0,
	    "layout for 1,048,576 handles");
	if (tf_create(tpath("million.state"), &l, "t-format.host", &map,
	    &len)) {
		tf_ok(0, "create million.state");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = validate_count(map, len, 1);
	ms = ms_since(&t0);
	tf_ok(n == 0, "1,048,576-handle file validates clean");
	printf("# validate, 1,048,576 handles, hwm 0, first pass: %.1f ms\n",
	    ms);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = validate_count(map, len, 1);
	printf("# validate, 1,048,576 handles, hwm 0, second pass: %.1f ms\n",
	    ms_since(&t0));

	tf_populate(map, getpid());
	h = map;
	ok = 1;
	/* Everything from the page after the last used entry is off limits. */
	from = (h->regions[WAPI_R_HANDLES].offset + (uint64_t)h->handle_hwm *
	    64 + 4095) & ~4095ull;
	end = h->regions[WAPI_R_HANDLES].offset + h->regions[WAPI_R_HANDLES].size;
	if (mprotect((char *)map + from, end - from, PROT_NONE) != 0)
		ok = 0;
	from = (h->regions[WAPI_R_NAMES].offset + (uint64_t)h->handle_hwm *
	    264 + 4095) & ~4095ull;
	end = h->regions[WAPI_R_NAMES].offset + h->regions[WAPI_R_NAMES].size;
	if (mprotect((char *)map + from, end - from, PROT_NONE) != 0)
		ok = 0;
	tf_ok(ok, "handle and name pages above hwm made inaccessible");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = validate_count(map, len, 1);
	ms = ms_since(&t0);
	tf_ok(n == 0, "populated 1,048,576-handle file validates clean "
	    "without touching pages above hwm");
	printf("# validate, 1,048,576 handles, hwm %u: %.1f ms\n",
	    h->handle_hwm, ms);
	munmap(map, len);
	unlink(tpath("million.state"));
}

static void
cleanup(void)
{
	static const char *const files[] = { "default.state", "lock.state",
	    "reinit.state", "short.state", "million.state" };
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(tpath(files[i]));
	rmdir(dir);
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/t-format.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	test_types();
	test_layout();
	test_layout_default();
	test_checksum();
	test_roundtrip_default();
	test_robust_lock();
	test_reinit();
	test_init_rejects();
	test_map_rejects();
	test_million();
	return tf_done();
}
